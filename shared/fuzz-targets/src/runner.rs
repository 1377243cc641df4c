//! The runner's reading of its inputs: a template (YAML with CloudFormation's short forms,
//! `Globals`, `Conditions`, intrinsics) and an env-vars file (the JSON `sam local --env-vars`
//! takes), then what the runner derives from them at start-up: each function's environment,
//! name and logging, the conditions, the deployment groups and the rollback alarms. Input: the
//! template, a NUL, then the env-vars file.

use crate::split_nul;
use redline_runner::alarms::definition::rollback_alarms;
use redline_runner::codedeploy::groups::DeploymentGroups;
use redline_runner::env::{function_environment, EnvVarsFile};
use redline_template::{Resolver, Template};
use serde_yaml_ng::Value;
use std::collections::BTreeMap;

pub fn fuzz(data: &[u8]) {
    let (template, env_vars) = split_nul(data);
    let mut files = EnvVarsFile::default();
    if let Some(text) = env_vars {
        if let Err(error) = files.merge(&String::from_utf8_lossy(text)) {
            assert!(!error.is_empty());
        }
    }
    let Ok(text) = std::str::from_utf8(template) else {
        return;
    };
    let Ok(root) = serde_yaml_ng::from_str::<Value>(text) else {
        return;
    };
    let template = match Template::from_document(&root) {
        Ok(template) => template,
        Err(error) => {
            assert!(!error.to_string().is_empty());
            return;
        }
    };
    for route in &template.routes {
        assert!(
            template.function(&route.function).is_some(),
            "a route names a function of the template"
        );
    }
    let resolver = Resolver {
        parameters: template.parameters.clone(),
        conditions: template.conditions.clone(),
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        stack_name: "redline-local".into(),
    };
    for name in template.conditions.keys() {
        let _ = resolver.condition(name);
    }
    let mut names = BTreeMap::new();
    for spec in &template.functions {
        let _ = function_environment(spec, &resolver, &files);
        let _ = spec.logging().resolve(&resolver);
        let name = resolver
            .resolve(&spec.name)
            .unwrap_or_else(|_| spec.logical_id.clone());
        names.insert(spec.logical_id.clone(), name);
    }
    let _ = DeploymentGroups::from_template(&root, &template, &resolver);
    let _ = rollback_alarms(&root, &template, &resolver, &names);
}
