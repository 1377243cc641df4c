//! The PUT of a custom resource's response to CloudFormation's pre-signed `ResponseURL` (S3:
//! HTTPS in AWS, HTTP against an emulator), on the AWS SDK's own HTTP client (hyper with rustls),
//! so the function links no second TLS stack. Retried a bounded number of times on what may pass
//! (no connection, a timeout, a 5xx or 429); an S3 refusal (403: expired or wrongly signed) is
//! final at once. The URL is a credential until it expires: it is never logged.

use aws_smithy_async::rt::sleep::TokioSleep;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_http_client::Connector;
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorSettings};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use std::time::Duration;

const ATTEMPTS: u32 = 5;
/// Doubles after each failed attempt: 0.25 s, 0.5 s, 1 s, 2 s (under 4 s of waiting in all).
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a response was not delivered: a class, never the URL or a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undelivered {
    pub attempts: u32,
    pub last: String,
}

/// Built once at cold start, borrowed by every event.
#[derive(Debug)]
pub struct Callback {
    connector: Connector,
    attempts: u32,
    first_backoff: Duration,
}

impl Callback {
    pub fn new() -> Self {
        Self::with_retries(ATTEMPTS, FIRST_BACKOFF)
    }

    pub fn with_retries(attempts: u32, first_backoff: Duration) -> Self {
        let settings = HttpConnectorSettings::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .build();
        let connector = Connector::builder()
            .connector_settings(settings)
            .sleep_impl(TokioSleep::new())
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
            .build();
        Callback {
            connector,
            attempts: attempts.max(1),
            first_backoff,
        }
    }

    /// PUTs `body` to `url`; gives the number of attempts it took.
    pub async fn put(&self, url: &str, body: &str) -> Result<u32, Undelivered> {
        let mut backoff = self.first_backoff;
        let mut last = String::new();
        for attempt in 1..=self.attempts {
            let request = request(url, body).map_err(|_| Undelivered {
                attempts: 0,
                last: "the ResponseURL is not a valid URL".into(),
            })?;
            let retry = match self.connector.call(request).await {
                Ok(response) if response.status().is_success() => return Ok(attempt),
                Ok(response) => {
                    let status = response.status().as_u16();
                    last = format!("HTTP {status}");
                    status >= 500 || status == 429
                }
                Err(error) => {
                    last = if error.is_timeout() {
                        "timed out".into()
                    } else if error.is_io() {
                        "no connection".into()
                    } else {
                        "the HTTP client failed".into()
                    };
                    true
                }
            };
            tracing::warn!(
                attempt,
                outcome = last.as_str(),
                retry,
                "response PUT failed"
            );
            if !retry {
                return Err(Undelivered {
                    attempts: attempt,
                    last,
                });
            }
            if attempt < self.attempts {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
        Err(Undelivered {
            attempts: self.attempts,
            last,
        })
    }
}

/// The PUT CloudFormation expects: the URL exactly as given (its query is the signature), an
/// empty content type (the URL was signed without one; S3 checks it for a SigV2 signature) and
/// the length of the body.
fn request(url: &str, body: &str) -> Result<HttpRequest, Box<dyn std::error::Error>> {
    let mut request = HttpRequest::new(SdkBody::from(body.to_string()));
    request.set_method("PUT")?;
    request.set_uri(url)?;
    let headers = request.headers_mut();
    headers.insert("content-type", "");
    headers.insert("content-length", body.len().to_string());
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// A stand-in for S3 answering each connection with the next status; gives every request
    /// it read (head and body), in order.
    fn stand_in(statuses: Vec<u16>) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/bucket/arn%3Aaws%3Acloudformation%7CMigrations%7Cr1?Signature=a%2Bb%3D&Expires=9",
            listener.local_addr().unwrap()
        );
        let server = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for status in statuses {
                let (mut stream, _) = listener.accept().unwrap();
                let mut text = Vec::new();
                let mut buffer = [0u8; 4096];
                // Read the head, then the body its content-length announces.
                loop {
                    let read = stream.read(&mut buffer).unwrap();
                    text.extend_from_slice(&buffer[..read]);
                    let head_end = text.windows(4).position(|w| w == b"\r\n\r\n");
                    if let Some(end) = head_end {
                        let head = String::from_utf8_lossy(&text[..end]).to_lowercase();
                        let length: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length: "))
                            .map_or(0, |v| v.trim().parse().unwrap());
                        if text.len() >= end + 4 + length {
                            break;
                        }
                    }
                    if read == 0 {
                        break;
                    }
                }
                seen.push(String::from_utf8_lossy(&text).to_string());
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                stream.write_all(reply.as_bytes()).unwrap();
            }
            seen
        });
        (url, server)
    }

    #[tokio::test]
    async fn the_put_has_an_empty_content_type_a_length_and_the_url_as_given() {
        let (url, server) = stand_in(vec![200]);
        let attempts = Callback::new().put(&url, r#"{"Status":"SUCCESS"}"#).await;
        assert_eq!(attempts, Ok(1));
        let seen = server.join().unwrap();
        let request = &seen[0];
        assert!(
            request.starts_with(
                "PUT /bucket/arn%3Aaws%3Acloudformation%7CMigrations%7Cr1?Signature=a%2Bb%3D&Expires=9 HTTP/1.1\r\n"
            ),
            "{request}"
        );
        let lower = request.to_lowercase();
        assert!(lower.contains("\r\ncontent-type: \r\n"), "{request}");
        assert!(lower.contains("\r\ncontent-length: 20\r\n"), "{request}");
        assert!(
            request.ends_with("\r\n\r\n{\"Status\":\"SUCCESS\"}"),
            "{request}"
        );
    }

    #[tokio::test]
    async fn a_passing_failure_is_retried_and_a_refusal_is_not() {
        let (url, server) = stand_in(vec![503, 500, 200]);
        let callback = Callback::with_retries(4, Duration::from_millis(1));
        assert_eq!(callback.put(&url, "{}").await, Ok(3));
        assert_eq!(server.join().unwrap().len(), 3);

        let (url, server) = stand_in(vec![403]);
        assert_eq!(
            callback.put(&url, "{}").await,
            Err(Undelivered {
                attempts: 1,
                last: "HTTP 403".into()
            })
        );
        assert_eq!(server.join().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn attempts_are_bounded() {
        let (url, server) = stand_in(vec![503, 503, 503]);
        let callback = Callback::with_retries(3, Duration::from_millis(1));
        assert_eq!(
            callback.put(&url, "{}").await,
            Err(Undelivered {
                attempts: 3,
                last: "HTTP 503".into()
            })
        );
        assert_eq!(server.join().unwrap().len(), 3);

        // Nothing listens: no connection, retried, bounded.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let outcome = callback
            .put(&format!("http://127.0.0.1:{port}/k"), "{}")
            .await;
        assert_eq!(
            outcome,
            Err(Undelivered {
                attempts: 3,
                last: "no connection".into()
            })
        );
        let outcome = callback.put("not a url", "{}").await;
        assert_eq!(outcome.unwrap_err().attempts, 0);
    }
}
