//! The `health` function: builds its state once, then serves the `health` routes of the API.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let app = redline_core::bootstrap(redline_core::Area::Health).await?;
    app.serve().await
}
