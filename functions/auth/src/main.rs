//! The `auth` function: starts once, then serves the `auth` routes of the API.

use redline_auth::Auth;
use redline_core::http::App;
use redline_core::startup::start;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let auth = start(|layered| Auth::open(layered, redline_secrets_aws::REACH)).await?;
    App::new(auth).serve().await
}
