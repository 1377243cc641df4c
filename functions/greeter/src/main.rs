//! The `greeter` function: builds its state once, then serves the `greeter` routes of the API.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let app = redline_core::bootstrap(redline_core::Area::Greeter).await?;
    app.serve().await
}
