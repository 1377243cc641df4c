//! The `auth` function: builds its state once, then serves the `auth` routes of the API.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let app = redline_core::bootstrap(redline_core::Area::Auth).await?;
    app.serve().await
}
