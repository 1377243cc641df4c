//! The `health` function: starts once, then serves the `health` routes and the `$default` route.

use redline_core::http::App;
use redline_core::startup::start;
use redline_health::Health;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let health = start(|layered| Health::open(layered, redline_secrets_aws::REACH)).await?;
    App::new(health).serve().await
}
