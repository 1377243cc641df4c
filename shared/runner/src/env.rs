//! A function's process environment: the template's variables, resolved, under the env-vars
//! files (the shape of `sam local --env-vars`), plus what Lambda itself sets.

use redline_template::{FunctionSpec, Resolver};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// `{"Parameters": {"VAR": "value"}, "AuthFunction": {"VAR": "value"}}`: `Parameters` applies
/// to every function, a function's own section wins. A `null` value unsets the variable (so the
/// configuration files' own value applies). Later files override earlier ones.
#[derive(Debug, Clone, Default)]
pub struct EnvVarsFile {
    sections: BTreeMap<String, BTreeMap<String, Option<String>>>,
}

impl EnvVarsFile {
    pub fn load(paths: &[impl AsRef<Path>]) -> Result<Self, String> {
        let mut merged = EnvVarsFile::default();
        for path in paths {
            let path = path.as_ref();
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read env-vars file {}: {e}", path.display()))?;
            merged
                .merge(&text)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(merged)
    }

    pub fn merge(&mut self, text: &str) -> Result<(), String> {
        let root: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let sections = root
            .as_object()
            .ok_or("must be a JSON object of sections")?;
        for (section, vars) in sections {
            let vars = vars
                .as_object()
                .ok_or_else(|| format!("section {section} must be an object"))?;
            let target = self.sections.entry(section.clone()).or_default();
            for (name, value) in vars {
                let value = match value {
                    Value::Null => None,
                    Value::String(s) => Some(s.clone()),
                    Value::Bool(_) | Value::Number(_) => Some(value.to_string()),
                    _ => {
                        return Err(format!(
                            "{section}.{name} must be a string, number, boolean or null"
                        ))
                    }
                };
                target.insert(name.clone(), value);
            }
        }
        Ok(())
    }

    /// The override for `name` in `function`, if any: `Some(None)` means "unset".
    fn lookup(&self, function: &str, name: &str) -> Option<Option<String>> {
        self.sections
            .get(function)
            .and_then(|vars| vars.get(name))
            .or_else(|| {
                self.sections
                    .get("Parameters")
                    .and_then(|vars| vars.get(name))
            })
            .cloned()
    }

    /// Variables the files add that the template does not declare.
    fn extra(&self, function: &str) -> BTreeMap<String, Option<String>> {
        let mut out = self.sections.get("Parameters").cloned().unwrap_or_default();
        if let Some(own) = self.sections.get(function) {
            out.extend(own.clone());
        }
        out
    }
}

/// The template's variables resolved and overridden; stops at the first variable that is left
/// unresolved, naming it and the expression.
pub fn function_environment(
    spec: &FunctionSpec,
    resolver: &Resolver,
    files: &EnvVarsFile,
) -> Result<BTreeMap<String, String>, String> {
    let mut env = BTreeMap::new();
    for (name, value) in &spec.environment {
        match files.lookup(&spec.logical_id, name) {
            Some(Some(value)) => {
                env.insert(name.clone(), value);
            }
            Some(None) => {}
            None => {
                let value = resolver.resolve(value).map_err(|unresolved| {
                    format!(
                        "{}: environment variable {name} is unresolved ({unresolved}); \
                         set it in the env-vars file under \"{}\" or \"Parameters\"",
                        spec.logical_id, spec.logical_id
                    )
                })?;
                env.insert(name.clone(), value);
            }
        }
    }
    for (name, value) in files.extra(&spec.logical_id) {
        if spec.environment.contains_key(&name) {
            continue;
        }
        if let Some(value) = value {
            env.insert(name, value);
        }
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_yaml_ng::Value as Yaml;

    fn spec() -> FunctionSpec {
        let mut environment = BTreeMap::new();
        environment.insert("REDLINE_ENV".to_string(), Yaml::String("prod".into()));
        environment.insert(
            "DB_HOST".to_string(),
            serde_yaml_ng::from_str("!Ref DatabaseHost").unwrap(),
        );
        environment.insert(
            "KEYS".to_string(),
            serde_yaml_ng::from_str("!Ref SigningKeys").unwrap(),
        );
        FunctionSpec {
            logical_id: "AuthFunction".into(),
            properties: Yaml::Mapping(Default::default()),
            name: Yaml::String("auth".into()),
            binary: "auth".into(),
            memory_mb: 128,
            timeout_s: 3,
            environment,
            reserved_concurrency: None,
        }
    }

    fn resolver() -> Resolver {
        let mut parameters = BTreeMap::new();
        parameters.insert("DatabaseHost".to_string(), Some("db.internal".to_string()));
        parameters.insert("SigningKeys".to_string(), None);
        Resolver {
            parameters,
            conditions: BTreeMap::new(),
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            stack_name: "redline".into(),
        }
    }

    #[test]
    fn an_unresolved_variable_is_named() {
        let error =
            function_environment(&spec(), &resolver(), &EnvVarsFile::default()).unwrap_err();
        assert!(
            error.contains("KEYS")
                && error.contains("SigningKeys")
                && error.contains("AuthFunction"),
            "{error}"
        );
    }

    #[test]
    fn files_override_unset_and_add() {
        let mut files = EnvVarsFile::default();
        files
            .merge(r#"{"Parameters": {"REDLINE_ENV": "dev", "KEYS": null, "EXTRA": "1"}, "AuthFunction": {"REDLINE_ENV": "test"}}"#)
            .unwrap();
        let env = function_environment(&spec(), &resolver(), &files).unwrap();
        assert_eq!(env["REDLINE_ENV"], "test", "the function's section wins");
        assert_eq!(env["DB_HOST"], "db.internal");
        assert!(!env.contains_key("KEYS"), "null unsets");
        assert_eq!(env["EXTRA"], "1");
        files
            .merge(r#"{"Parameters": {"DB_HOST": "postgres"}}"#)
            .unwrap();
        let env = function_environment(&spec(), &resolver(), &files).unwrap();
        assert_eq!(env["DB_HOST"], "postgres", "a later file wins");
    }
}
