//! TLS for PostgreSQL through the system OpenSSL (`postgres-native-tls`), built lazily.
//!
//! Building an OpenSSL context costs about 42 ms, so it happens on the first TLS handshake, not
//! at cold start: with `sslmode: disable` it never happens. The CA bundle is read and parsed at
//! start-up all the same, so a bad `database.ca_file` is a start-up error naming the key.

use native_tls::{Certificate, TlsConnector};
use redline_core::config::{ConfigError, DatabaseConfig, SslMode};
use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};

type BoxError = Box<dyn Error + Send + Sync>;

struct Settings {
    mode: SslMode,
    /// Trust anchors from `database.ca_file`; the system roots when empty.
    roots: Vec<Certificate>,
}

/// `disable`: never used. `require`: encrypted, certificate not checked (as libpq).
/// `verify-full`: chain to the configured CA bundle (only it, as libpq's `sslrootcert`), or to
/// the system roots when none is configured, and host name checked.
#[derive(Clone)]
pub struct LazyTls {
    settings: Arc<Settings>,
    built: Arc<OnceLock<Result<TlsConnector, String>>>,
}

pub fn connector(config: &DatabaseConfig) -> Result<LazyTls, ConfigError> {
    let mut roots = Vec::new();
    if let (SslMode::VerifyFull, Some(path)) = (config.sslmode, &config.ca_file) {
        let pem = std::fs::read(path).map_err(|e| {
            ConfigError::key("database.ca_file", format!("cannot read {path}: {e}"))
        })?;
        let certificates = split_pem_bundle(&pem);
        if certificates.is_empty() {
            return Err(ConfigError::key(
                "database.ca_file",
                format!("{path} holds no PEM certificate"),
            ));
        }
        for certificate in certificates {
            roots.push(Certificate::from_pem(certificate.as_bytes()).map_err(|e| {
                ConfigError::key(
                    "database.ca_file",
                    format!("bad certificate in {path}: {e}"),
                )
            })?);
        }
    }
    Ok(LazyTls {
        settings: Arc::new(Settings {
            mode: config.sslmode,
            roots,
        }),
        built: Arc::new(OnceLock::new()),
    })
}

impl LazyTls {
    fn connector(&self) -> Result<TlsConnector, BoxError> {
        let built = self.built.get_or_init(|| {
            let settings = &self.settings;
            let mut builder = TlsConnector::builder();
            match settings.mode {
                SslMode::Disable | SslMode::Require => {
                    builder
                        .disable_built_in_roots(true)
                        .danger_accept_invalid_certs(true)
                        .danger_accept_invalid_hostnames(true);
                }
                SslMode::VerifyFull => {
                    builder.disable_built_in_roots(!settings.roots.is_empty());
                    for root in &settings.roots {
                        builder.add_root_certificate(root.clone());
                    }
                }
            }
            builder.build().map_err(|e| e.to_string())
        });
        built.clone().map_err(Into::into)
    }
}

impl<S> MakeTlsConnect<S> for LazyTls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = postgres_native_tls::TlsStream<S>;
    type TlsConnect = LazyConnect;
    type Error = std::convert::Infallible;

    fn make_tls_connect(&mut self, domain: &str) -> Result<LazyConnect, Self::Error> {
        Ok(LazyConnect {
            tls: self.clone(),
            domain: domain.to_string(),
        })
    }
}

/// One handshake to `domain`; builds the shared connector the first time.
pub struct LazyConnect {
    tls: LazyTls,
    domain: String,
}

impl<S> TlsConnect<S> for LazyConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = postgres_native_tls::TlsStream<S>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Stream, BoxError>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let connector = self.tls.connector()?;
            postgres_native_tls::TlsConnector::new(connector, &self.domain)
                .connect(stream)
                .await
                .map_err(Into::into)
        })
    }
}

/// A CA bundle (such as RDS's) holds many certificates; native-tls takes one at a time.
pub(crate) fn split_pem_bundle(pem: &[u8]) -> Vec<String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let text = String::from_utf8_lossy(pem);
    let mut certificates = Vec::new();
    let mut rest = text.as_ref();
    while let Some(start) = rest.find(BEGIN) {
        let Some(end) = rest[start..].find(END) else {
            break;
        };
        let stop = start + end + END.len();
        certificates.push(rest[start..stop].to_string());
        rest = &rest[stop..];
    }
    certificates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_a_bundle_into_certificates() {
        let bundle = "junk\n-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n\
                      -----BEGIN CERTIFICATE-----\nBBB\n-----END CERTIFICATE-----\n";
        let parts = split_pem_bundle(bundle.as_bytes());
        assert_eq!(parts.len(), 2);
        assert!(parts[1].contains("BBB"));
        assert!(split_pem_bundle(b"nothing").is_empty());
    }
}
