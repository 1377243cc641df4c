//! Where secret values come from: a [`Backend`]. The local JSON file is here; Secrets Manager is
//! the `redline-secrets-aws` crate, reached through a [`Reach`] that only the functions which read
//! secrets link.

use super::SecretsError;
use crate::config::{Secret, SecretValue, SecretsConfig};
use futures_util::future::BoxFuture;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;

/// Every requested id's AWSCURRENT value, or the first failure.
pub type Fetched = Result<HashMap<String, SecretValue>, SecretsError>;

pub trait Backend: Send + Sync {
    /// `aws` or `file`, for logs and the health report.
    fn kind(&self) -> &'static str;
    fn fetch<'a>(&'a self, ids: &'a [String]) -> BoxFuture<'a, Fetched>;
}

/// How a function reaches Secrets Manager, chosen when it is built: `Aws` carries the connector
/// of `redline-secrets-aws`; `LocalOnly` functions link no AWS SDK.
#[derive(Clone, Copy)]
pub enum Reach {
    LocalOnly,
    Aws(fn(&SecretsConfig) -> BoxFuture<'static, Box<dyn Backend>>),
}

impl Reach {
    /// A local file when `secrets.local_file` is set, else Secrets Manager (when linked).
    pub async fn backend(self, config: &SecretsConfig) -> Box<dyn Backend> {
        match (config.local_file.as_deref(), self) {
            (Some(path), _) if !path.is_empty() => Box::new(LocalFile(PathBuf::from(path))),
            (_, Reach::Aws(connect)) => connect(config).await,
            (_, Reach::LocalOnly) => Box::new(NotLinked),
        }
    }
}

/// `{"<secret id>": <JSON value or string>, ...}`; read on every fetch, so editing the file is a
/// local rotation.
pub struct LocalFile(pub PathBuf);

impl Backend for LocalFile {
    fn kind(&self) -> &'static str {
        "file"
    }

    fn fetch<'a>(&'a self, ids: &'a [String]) -> BoxFuture<'a, Fetched> {
        Box::pin(fetch_file(&self.0, ids))
    }
}

async fn fetch_file(path: &PathBuf, ids: &[String]) -> Fetched {
    let local_error = |cause: String| SecretsError::LocalFile {
        path: path.display().to_string(),
        cause,
    };
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(|e| local_error(e.to_string()))?;
    let document: HashMap<String, Value> = serde_json::from_str(&text)
        .map_err(|_| local_error("must be a JSON object of secret id to value".into()))?;
    ids.iter()
        .map(|id| {
            let entry = document.get(id).ok_or_else(|| SecretsError::NotFound {
                secret_id: id.clone(),
            })?;
            let text = match entry {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            let value = SecretValue {
                text: Secret::new(text),
                version: "local".into(),
            };
            Ok((id.clone(), value))
        })
        .collect()
}

/// What a function built without Secrets Manager answers for a reference.
struct NotLinked;

impl Backend for NotLinked {
    fn kind(&self) -> &'static str {
        "none"
    }

    fn fetch<'a>(&'a self, ids: &'a [String]) -> BoxFuture<'a, Fetched> {
        Box::pin(async move {
            Err(SecretsError::NotLinked {
                secret_ids: ids.join(", "),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn settings(local_file: Option<&str>) -> SecretsConfig {
        SecretsConfig {
            ttl: Duration::from_secs(300),
            grace: Duration::from_secs(3600),
            refetch_interval: Duration::from_secs(30),
            timeout: Duration::from_secs(2),
            local_file: local_file.map(str::to_string),
        }
    }

    #[tokio::test]
    async fn a_function_without_secrets_manager_refuses_a_reference_naming_it() {
        let backend = Reach::LocalOnly.backend(&settings(None)).await;
        let ids = vec!["arn:aws:secretsmanager:us-east-1:1:secret:db".to_string()];
        let error = backend.fetch(&ids).await.unwrap_err();
        assert!(matches!(error, SecretsError::NotLinked { .. }), "{error}");
        assert!(error.to_string().contains(&ids[0]), "{error}");
    }

    #[tokio::test]
    async fn a_local_file_serves_even_a_function_without_secrets_manager() {
        let path =
            std::env::temp_dir().join(format!("redline-secrets-{}.json", std::process::id()));
        std::fs::write(&path, r#"{"db": {"password": "p"}, "plain": "text"}"#).unwrap();
        let backend = Reach::LocalOnly
            .backend(&settings(Some(path.to_str().unwrap())))
            .await;
        assert_eq!(backend.kind(), "file");
        let values = backend.fetch(&["db".into(), "plain".into()]).await.unwrap();
        assert_eq!(values["db"].text.expose(), r#"{"password":"p"}"#);
        assert_eq!(values["plain"].text.expose(), "text");
        let missing = backend.fetch(&["nope".into()]).await.unwrap_err();
        assert!(
            matches!(missing, SecretsError::NotFound { .. }),
            "{missing}"
        );
        std::fs::remove_file(path).unwrap();
    }
}
