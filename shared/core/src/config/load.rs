//! Reading the layers and resolving `${VAR:default}`.

use super::files::embedded_file;
use super::reference::{collect, Binding};
use super::{validate, Config, ConfigError, Environment, SecretsConfig};
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;

const ENV_PREFIX: &str = "REDLINE__";

/// Where the YAML layers come from.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// The files under `configs/` as they were when the binary was built.
    Embedded,
    /// `config.yaml` and `config.<env>.yaml` read from this directory at start-up.
    Dir(PathBuf),
    /// The two layers' texts, given whole (the fuzz target reads no file).
    Inline { base: String, env: String },
}

/// Set by Lambda (and by every emulator of it) for the runtime client: this process is a function.
const LAMBDA_RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";

/// The layered tree of this process's configuration: `REDLINE_ENV`, `REDLINE_CONFIG_DIR`,
/// `REDLINE__*`, with `${VAR}` expanded and `secretsmanager:` references still in place.
pub fn layered_from_env() -> Result<Layered, ConfigError> {
    let vars: HashMap<String, String> = std::env::vars().collect();
    let source = match vars.get("REDLINE_CONFIG_DIR") {
        Some(dir) if !dir.is_empty() => ConfigSource::Dir(PathBuf::from(dir)),
        _ => ConfigSource::Embedded,
    };
    layered(&source, &vars)
}

/// Loads this process's configuration when it holds no secret reference.
pub fn load() -> Result<Config, ConfigError> {
    layered_from_env()?.plain()
}

/// Loads from an explicit source and set of variables (tests pass their own); references are
/// refused (they need [`load_resolved`] or the function's secret store).
pub fn load_from(
    source: &ConfigSource,
    vars: &HashMap<String, String>,
) -> Result<Config, ConfigError> {
    layered(source, vars)?.plain()
}

/// The configuration tree before secret references are resolved, and how to resolve them.
#[derive(Debug, Clone)]
pub struct Layered {
    pub tree: Value,
    pub secrets: SecretsConfig,
}

impl Layered {
    /// Every `secretsmanager:` reference, with its configuration key.
    pub fn references(&self) -> Result<Vec<Binding>, ConfigError> {
        let bindings = collect(&self.tree)?;
        if let Some(binding) = bindings.iter().find(|b| b.key.starts_with("secrets.")) {
            return Err(ConfigError::key(
                &binding.key,
                "the secrets section cannot itself come from a secret",
            ));
        }
        Ok(bindings)
    }

    /// The typed configuration of a tree that references no secret.
    pub fn plain(&self) -> Result<Config, ConfigError> {
        if let Some(binding) = self.references()?.first() {
            return Err(ConfigError::key(
                &binding.key,
                "is a secretsmanager: reference, which this loader does not resolve",
            ));
        }
        typed(&self.tree)
    }
}

/// Reads the layers and expands `${VAR}`; secret references stay as they are.
pub fn layered(
    source: &ConfigSource,
    vars: &HashMap<String, String>,
) -> Result<Layered, ConfigError> {
    let env_name = match vars.get("REDLINE_ENV") {
        Some(name) => name.as_str(),
        // Inside Lambda a forgotten variable must not quietly start with development settings.
        None if vars.contains_key(LAMBDA_RUNTIME_API) => {
            return Err(ConfigError::Env {
                var: "REDLINE_ENV".into(),
                reason: "is required inside Lambda: one of dev, test, prod".into(),
            })
        }
        None => "dev",
    };
    let env = Environment::parse(env_name).ok_or_else(|| ConfigError::Env {
        var: "REDLINE_ENV".into(),
        reason: format!("`{env_name}` is not one of dev, test, prod"),
    })?;

    let mut builder = config::Config::builder();
    for name in [
        "config.yaml".to_string(),
        format!("config.{}.yaml", env.name()),
    ] {
        let text = read_layer(source, &name)?;
        refuse_index_keys(&name, &text)?;
        builder = builder.add_source(config::File::from_str(&text, config::FileFormat::Yaml));
    }
    for (var, value) in vars {
        if let Some(path) = var.strip_prefix(ENV_PREFIX) {
            if path.contains(['[', ']']) {
                return Err(ConfigError::Env {
                    var: var.clone(),
                    reason: "a configuration key has no `[` or `]`".into(),
                });
            }
            let key = path.to_ascii_lowercase().replace("__", ".");
            builder = builder
                .set_override(key, value.as_str())
                .map_err(|e| ConfigError::Env {
                    var: var.clone(),
                    reason: e.to_string(),
                })?;
        }
    }
    let layered = builder.build().map_err(|e| ConfigError::File {
        file: "configs".into(),
        reason: e.to_string(),
    })?;
    let mut tree: Value = layered
        .try_deserialize()
        .map_err(|e| ConfigError::key("(root)", e.to_string()))?;
    interpolate(&mut tree, "", vars)?;
    if let Value::Object(map) = &mut tree {
        map.insert("env".into(), Value::String(env.name().into()));
    }
    let secrets = lenient(&tree["secrets"])
        .and_then(|section| {
            section
                .try_deserialize::<SecretsConfig>()
                .map_err(describe_error)
        })
        .map_err(|e| match e {
            ConfigError::Key { key, reason } if !key.starts_with("secrets") => {
                ConfigError::key(format!("secrets.{key}"), reason)
            }
            other => other,
        })?;
    Ok(Layered { tree, secrets })
}

/// The typed, validated configuration of a resolved tree.
pub fn typed(tree: &Value) -> Result<Config, ConfigError> {
    let typed: Config = lenient(tree)?.try_deserialize().map_err(describe_error)?;
    validate::validate(&typed)?;
    Ok(typed)
}

/// A pass through `config` gives its lenient scalars: "5432" from a variable is a port.
fn lenient(tree: &Value) -> Result<config::Config, ConfigError> {
    config::Config::builder()
        .add_source(config::File::from_str(
            &tree.to_string(),
            config::FileFormat::Json,
        ))
        .build()
        .map_err(|e| ConfigError::key("(root)", e.to_string()))
}

fn read_layer(source: &ConfigSource, name: &str) -> Result<String, ConfigError> {
    match source {
        ConfigSource::Embedded => {
            embedded_file(name)
                .map(str::to_owned)
                .ok_or_else(|| ConfigError::File {
                    file: name.into(),
                    reason: "no such embedded configuration file".into(),
                })
        }
        ConfigSource::Dir(dir) => {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|e| ConfigError::File {
                file: path.display().to_string(),
                reason: e.to_string(),
            })
        }
        ConfigSource::Inline { base, env } => Ok(if name == "config.yaml" {
            base.clone()
        } else {
            env.clone()
        }),
    }
}

/// `config` reads `a[3]` in a key as an index into a list and grows the list to it, so a key
/// such as `a[444444444440]` aborts the process on allocation instead of failing. No key of ours
/// has brackets: a layer with one is refused, naming it.
fn refuse_index_keys(file: &str, text: &str) -> Result<(), ConfigError> {
    fn find(value: &serde_yaml_ng::Value) -> Option<String> {
        match value {
            serde_yaml_ng::Value::Mapping(map) => map.iter().find_map(|(key, child)| {
                let name = match key {
                    serde_yaml_ng::Value::String(name) => name.clone(),
                    other => serde_yaml_ng::to_string(other).unwrap_or_default(),
                };
                if name.contains(['[', ']']) {
                    Some(name)
                } else {
                    find(child)
                }
            }),
            serde_yaml_ng::Value::Sequence(items) => items.iter().find_map(find),
            serde_yaml_ng::Value::Tagged(tagged) => find(&tagged.value),
            _ => None,
        }
    }
    // What this parser cannot read, `config` reports in its own words.
    let Ok(root) = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text) else {
        return Ok(());
    };
    match find(&root) {
        Some(key) => Err(ConfigError::File {
            file: file.into(),
            reason: format!(
                "key `{}` has `[` or `]`, which no configuration key has",
                key.trim()
            ),
        }),
        None => Ok(()),
    }
}

/// `config` reports "missing field `x`" or "... for key `a.b`"; either way a key is named.
fn describe_error(error: config::ConfigError) -> ConfigError {
    let text = error.to_string();
    let key = text
        .split("for key `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap_or("(root)")
        .to_string();
    let reason = text.split(" for key `").next().unwrap_or(&text).to_string();
    ConfigError::key(key, reason)
}

/// Replaces `${VAR}` and `${VAR:default}` in every string value.
fn interpolate(
    value: &mut Value,
    key: &str,
    vars: &HashMap<String, String>,
) -> Result<(), ConfigError> {
    match value {
        Value::String(text) if text.contains("${") => {
            *text = expand(text, key, vars)?;
        }
        Value::Object(map) => {
            for (name, child) in map.iter_mut() {
                let child_key = if key.is_empty() {
                    name.clone()
                } else {
                    format!("{key}.{name}")
                };
                interpolate(child, &child_key, vars)?;
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter_mut().enumerate() {
                interpolate(child, &format!("{key}[{index}]"), vars)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn expand(text: &str, key: &str, vars: &HashMap<String, String>) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| ConfigError::key(key, "unterminated `${` placeholder"))?;
        let expression = &after[..end];
        let (name, default) = match expression.split_once(':') {
            Some((name, default)) => (name, Some(default)),
            None => (expression, None),
        };
        match (vars.get(name), default) {
            (Some(value), _) => out.push_str(value),
            (None, Some(default)) => out.push_str(default),
            (None, None) => {
                return Err(ConfigError::key(
                    key,
                    format!("environment variable {name} is not set and has no default"),
                ))
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn expands_placeholders_with_and_without_defaults() {
        let env = vars(&[("HOST", "db.internal")]);
        assert_eq!(
            expand("${HOST:localhost}:${PORT:5432}", "k", &env).unwrap(),
            "db.internal:5432"
        );
        assert_eq!(expand("${EMPTY:}", "k", &env).unwrap(), "");
        let error = expand("${MISSING}", "database.host", &env).unwrap_err();
        assert!(error.to_string().contains("database.host"));
        assert!(error.to_string().contains("MISSING"));
        assert!(expand("${BROKEN", "k", &env).is_err());
    }

    #[test]
    fn a_key_with_an_index_is_refused_not_an_abort() {
        // Found by the config fuzz target: `config` grew a list to this index and aborted.
        let source = ConfigSource::Inline {
            base: "00[0][0][444444444440][00]:\n".into(),
            env: String::new(),
        };
        let error = layered(&source, &HashMap::new()).unwrap_err().to_string();
        assert!(error.contains("444444444440"), "{error}");
        let nested = ConfigSource::Inline {
            base: "a:\n  - b[9]: 1\n".into(),
            env: String::new(),
        };
        assert!(layered(&nested, &HashMap::new()).is_err());
        let vars = vars(&[("REDLINE__RATE_LIMITS__LOGIN[99999999999]", "1")]);
        let error = layered(&ConfigSource::Embedded, &vars)
            .unwrap_err()
            .to_string();
        assert!(error.contains("REDLINE__RATE_LIMITS__LOGIN"), "{error}");
    }
}
