//! TLS for PostgreSQL through the system OpenSSL (`postgres-native-tls`).

use crate::config::{ConfigError, DatabaseConfig, SslMode};
use native_tls::{Certificate, TlsConnector};
use postgres_native_tls::MakeTlsConnector;

/// `disable`: never used. `require`: encrypted, certificate not checked (as libpq).
/// `verify-full`: chain to the configured CA bundle (only it, as libpq's `sslrootcert`), or to
/// the system roots when none is configured, and host name checked.
///
/// Loading the system roots costs about 45 ms of cold start, so it happens only when they are
/// the trust anchors.
pub fn connector(config: &DatabaseConfig) -> Result<MakeTlsConnector, ConfigError> {
    let mut builder = TlsConnector::builder();
    let system_roots = config.sslmode == SslMode::VerifyFull && config.ca_file.is_none();
    builder.disable_built_in_roots(!system_roots);
    match config.sslmode {
        SslMode::Disable | SslMode::Require => {
            builder
                .danger_accept_invalid_certs(true)
                .danger_accept_invalid_hostnames(true);
        }
        SslMode::VerifyFull => {
            if let Some(path) = &config.ca_file {
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
                    let certificate =
                        Certificate::from_pem(certificate.as_bytes()).map_err(|e| {
                            ConfigError::key(
                                "database.ca_file",
                                format!("bad certificate in {path}: {e}"),
                            )
                        })?;
                    builder.add_root_certificate(certificate);
                }
            }
        }
    }
    let connector = builder
        .build()
        .map_err(|e| ConfigError::key("database.sslmode", e.to_string()))?;
    Ok(MakeTlsConnector::new(connector))
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
