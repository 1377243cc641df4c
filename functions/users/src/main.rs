//! The `users` function: starts once, then serves the `users` routes of the API.

use redline_core::http::App;
use redline_core::startup::start;
use redline_users::Users;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let users = start(|layered| Users::open(layered, redline_secrets_aws::REACH)).await?;
    App::new(users).serve().await
}
