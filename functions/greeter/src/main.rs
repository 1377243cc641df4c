//! The `greeter` function: starts once, then serves the `greeter` routes of the API.

use redline_core::http::App;
use redline_core::startup::start;
use redline_greeter::Greeter;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let greeter = start(Greeter::open).await?;
    App::new(greeter).serve().await
}
