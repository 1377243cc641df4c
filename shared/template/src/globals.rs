//! SAM's `Globals` rule: how a `Globals.<Section>` entry reaches each `AWS::Serverless::<Section>`
//! resource, as SAM's translator applies it before anything else (its Globals plugin). The one
//! rule for the runner, the tests, the ops command and the CDK parity check; it is checked
//! against SAM's own transform of `template.yaml` (tests/tests/infra/template/translator.rs).
//!
//! Starting from the resource's `Properties` and the section's values:
//! - a map on both sides merges key by key, recursively; the resource's keys come after the
//!   global ones, a key both have is merged by these same rules;
//! - a list on both sides is the global list followed by the resource's, duplicates kept;
//! - anything else (a scalar, an intrinsic function such as `!Ref` or `!If`, which CloudFormation
//!   resolves to a scalar, or two values of different kinds) is the resource's value;
//! - except where SAM names a property's own strategy: `Function.Architectures` (and a capacity
//!   provider's `InstanceRequirements.Architectures`) is replaced, not concatenated; a capacity
//!   provider's `ManagedResourceTags` keeps only the keys the resource declares;
//! - the resource attribute `IgnoreGlobals` (`"*"`, or a list of global properties) leaves out
//!   all or some of the section.
//!
//! SAM also refuses a `Globals` property it does not support (`FunctionName`, `Role`, `Events`,
//! ...): `sam validate` and cfn-lint say so; this module applies whatever it is given.

use crate::intrinsics::intrinsic;
use crate::model::{scalar_string, TemplateError};
use serde_yaml_ng::{Mapping, Value};

const SERVERLESS: &str = "AWS::Serverless::";

/// A property SAM merges its own way, instead of the default for its kind of value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    /// The resource's value, whole.
    Replace,
    /// Only the keys the resource declares, each merged with the global value (a map only,
    /// and only when the resource's map is not empty).
    PruneAndMerge,
}

/// SAM's per-property strategies: (section, path inside `Properties`, strategy).
const STRATEGIES: [(&str, &str, Strategy); 3] = [
    ("Function", "Architectures", Strategy::Replace),
    (
        "CapacityProvider",
        "InstanceRequirements.Architectures",
        Strategy::Replace,
    ),
    (
        "CapacityProvider",
        "ManagedResourceTags",
        Strategy::PruneAndMerge,
    ),
];

/// The template's `Globals` section, by section name (`Function`, `HttpApi`, `Api`, ...).
#[derive(Debug, Clone, Default)]
pub struct Globals {
    sections: Mapping,
}

impl Globals {
    /// The `Globals` of a whole template document (none is an empty section list).
    pub fn of(root: &Value) -> Result<Self, TemplateError> {
        match root.get("Globals") {
            None | Some(Value::Null) => Ok(Globals::default()),
            Some(Value::Mapping(sections)) => {
                for (name, section) in sections {
                    if !section.is_mapping() {
                        return Err(TemplateError::Invalid(format!(
                            "Globals.{} must be a map",
                            key_text(name)
                        )));
                    }
                }
                Ok(Globals {
                    sections: sections.clone(),
                })
            }
            Some(_) => Err(TemplateError::Invalid("Globals must be a map".into())),
        }
    }

    /// The global values for resources of this type (`AWS::Serverless::Function`), if any.
    pub fn section(&self, resource_type: &str) -> Option<&Mapping> {
        let name = resource_type.strip_prefix(SERVERLESS)?;
        self.sections.get(name).and_then(Value::as_mapping)
    }

    /// A resource's `Properties` as SAM translates them: its section of `Globals` merged in
    /// (a resource of a type without a section, or not a SAM type, is returned as it is).
    pub fn apply(&self, logical_id: &str, resource: &Value) -> Result<Value, TemplateError> {
        let own = match resource.get("Properties") {
            None | Some(Value::Null) => Value::Mapping(Mapping::new()),
            Some(own) => own.clone(),
        };
        let resource_type = resource.get("Type").and_then(Value::as_str).unwrap_or("");
        let Some(section) = self.section(resource_type) else {
            return Ok(own);
        };
        let mut global = section.clone();
        match resource.get("IgnoreGlobals") {
            None | Some(Value::Null) => {}
            Some(Value::String(all)) if all == "*" => return Ok(own),
            Some(Value::Sequence(names)) => {
                for name in names {
                    if global.remove(name).is_none() {
                        return Err(TemplateError::Invalid(format!(
                            "{logical_id}: IgnoreGlobals names {}, which Globals does not set",
                            key_text(name)
                        )));
                    }
                }
            }
            Some(_) => {
                return Err(TemplateError::Invalid(format!(
                    "{logical_id}: IgnoreGlobals must be \"*\" or a list of properties"
                )))
            }
        }
        let name = &resource_type[SERVERLESS.len()..];
        Ok(merge(name, &Value::Mapping(global), &own))
    }
}

/// The properties of the resource `logical_id` of a template document, `Globals` applied.
pub fn effective_properties(root: &Value, logical_id: &str) -> Result<Value, TemplateError> {
    let resource = root
        .get("Resources")
        .and_then(|resources| resources.get(logical_id))
        .ok_or_else(|| TemplateError::Invalid(format!("no resource {logical_id}")))?;
    Globals::of(root)?.apply(logical_id, resource)
}

/// SAM's rule for one section (`Function`): the global value under the resource's.
pub fn merge(section: &str, global: &Value, local: &Value) -> Value {
    merge_at(section, "", global, local)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Scalars and intrinsic functions.
    Primitive,
    Map,
    List,
}

fn kind(value: &Value) -> Kind {
    match value {
        Value::Mapping(_) if intrinsic(value).is_some() => Kind::Primitive,
        Value::Mapping(_) => Kind::Map,
        Value::Sequence(_) => Kind::List,
        // Tagged values are the short forms of intrinsic functions.
        _ => Kind::Primitive,
    }
}

fn strategy(section: &str, path: &str) -> Option<Strategy> {
    STRATEGIES
        .iter()
        .find(|(s, p, _)| *s == section && *p == path)
        .map(|(_, _, strategy)| *strategy)
}

fn merge_at(section: &str, path: &str, global: &Value, local: &Value) -> Value {
    match (kind(global), kind(local), global, local) {
        (Kind::Map, Kind::Map, Value::Mapping(g), Value::Mapping(l)) => {
            match strategy(section, path) {
                Some(Strategy::Replace) => local.clone(),
                Some(Strategy::PruneAndMerge) if !l.is_empty() => {
                    let mut out = Mapping::new();
                    for (key, value) in l {
                        let merged = match g.get(key) {
                            Some(base) => merge_at(section, &child(path, key), base, value),
                            None => value.clone(),
                        };
                        out.insert(key.clone(), merged);
                    }
                    Value::Mapping(out)
                }
                _ => {
                    let mut out = g.clone();
                    for (key, value) in l {
                        let merged = match g.get(key) {
                            Some(base) => merge_at(section, &child(path, key), base, value),
                            None => value.clone(),
                        };
                        out.insert(key.clone(), merged);
                    }
                    Value::Mapping(out)
                }
            }
        }
        (Kind::List, Kind::List, Value::Sequence(g), Value::Sequence(l)) => {
            match strategy(section, path) {
                Some(Strategy::Replace) => local.clone(),
                _ => Value::Sequence(g.iter().chain(l).cloned().collect()),
            }
        }
        _ => local.clone(),
    }
}

fn child(path: &str, key: &Value) -> String {
    let key = key_text(key);
    if path.is_empty() {
        key
    } else {
        format!("{path}.{key}")
    }
}

fn key_text(key: &Value) -> String {
    scalar_string(key).unwrap_or_else(|| format!("{key:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_yaml_ng::from_str(text).unwrap()
    }

    fn function(globals: &str, resource: &str) -> Value {
        let root = yaml(&format!(
            "Globals:\n  Function:\n{}\nResources:\n  F:\n{}",
            indent(globals, 4),
            indent(resource, 4)
        ));
        effective_properties(&root, "F").unwrap()
    }

    fn indent(text: &str, by: usize) -> String {
        text.lines()
            .map(|line| format!("{}{line}", " ".repeat(by)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn maps_merge_recursively_and_the_resource_wins_scalars() {
        let merged = function(
            "Timeout: 10\nLoggingConfig: {LogFormat: JSON}\nEnvironment: {Variables: {A: g, B: g}}",
            "Type: AWS::Serverless::Function\nProperties:\n  Timeout: 30\n  LoggingConfig: {LogGroup: !Ref G}\n  Environment: {Variables: {B: l, C: l}}",
        );
        assert_eq!(
            merged,
            yaml("Timeout: 30\nLoggingConfig: {LogFormat: JSON, LogGroup: !Ref G}\nEnvironment: {Variables: {A: g, B: l, C: l}}")
        );
    }

    #[test]
    fn lists_concatenate_except_architectures() {
        let merged = function(
            "Layers: [a]\nArchitectures: [x86_64]",
            "Type: AWS::Serverless::Function\nProperties: {Layers: [b, a], Architectures: [arm64]}",
        );
        assert_eq!(merged, yaml("Layers: [a, b, a]\nArchitectures: [arm64]"));
    }

    #[test]
    fn intrinsics_and_mismatched_kinds_are_replaced() {
        let merged = function(
            "VpcConfig: {SubnetIds: [a], SecurityGroupIds: [b]}\nEnvironment: {Variables: {A: g}}\nCodeUri: .\nTags: {t: g}",
            "Type: AWS::Serverless::Function\nProperties:\n  VpcConfig: !If [InVpc, {SubnetIds: [c]}, !Ref AWS::NoValue]\n  Environment: {'Fn::If': [C, {Variables: {}}, {Variables: {}}]}\n  CodeUri: {Bucket: b, Key: k}\n  Tags: [x]",
        );
        assert!(matches!(merged["VpcConfig"], Value::Tagged(_)));
        assert_eq!(
            merged["Environment"],
            yaml("{'Fn::If': [C, {Variables: {}}, {Variables: {}}]}")
        );
        assert_eq!(merged["CodeUri"], yaml("{Bucket: b, Key: k}"));
        assert_eq!(merged["Tags"], yaml("[x]"));
    }

    #[test]
    fn global_keys_come_first_and_a_missing_properties_gets_every_global() {
        let merged = function(
            "Runtime: provided.al2023\nHandler: bootstrap",
            "Type: AWS::Serverless::Function",
        );
        assert_eq!(merged, yaml("Runtime: provided.al2023\nHandler: bootstrap"));
        let merged = function(
            "Runtime: provided.al2023\nHandler: bootstrap",
            "Type: AWS::Serverless::Function\nProperties: {MemorySize: 256, Handler: main}",
        );
        let keys: Vec<&str> = merged
            .as_mapping()
            .unwrap()
            .keys()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(keys, ["Runtime", "Handler", "MemorySize"]);
    }

    #[test]
    fn ignore_globals_leaves_out_all_or_the_named_properties() {
        let all = function(
            "Timeout: 10\nMemorySize: 256",
            "Type: AWS::Serverless::Function\nIgnoreGlobals: '*'\nProperties: {Handler: h}",
        );
        assert_eq!(all, yaml("Handler: h"));
        let some = function(
            "Timeout: 10\nMemorySize: 256",
            "Type: AWS::Serverless::Function\nIgnoreGlobals: [Timeout]\nProperties: {Handler: h}",
        );
        assert_eq!(some, yaml("MemorySize: 256\nHandler: h"));
        let root = yaml("Globals: {Function: {Timeout: 1}}\nResources: {F: {Type: AWS::Serverless::Function, IgnoreGlobals: [Layers]}}");
        assert!(effective_properties(&root, "F").is_err());
    }

    #[test]
    fn each_type_gets_its_own_section_only() {
        let root = yaml(
            "Globals: {Function: {Timeout: 1}, HttpApi: {FailOnWarnings: true}}\nResources:\n  A: {Type: AWS::Serverless::HttpApi}\n  B: {Type: AWS::Lambda::Function, Properties: {Handler: h}}",
        );
        assert_eq!(
            effective_properties(&root, "A").unwrap(),
            yaml("FailOnWarnings: true")
        );
        assert_eq!(
            effective_properties(&root, "B").unwrap(),
            yaml("Handler: h")
        );
    }

    #[test]
    fn managed_resource_tags_keep_only_the_resources_keys() {
        let global = yaml("{ManagedResourceTags: {a: {x: 1}, b: 2}}");
        let local = yaml("{ManagedResourceTags: {a: {y: 3}}}");
        assert_eq!(
            merge("CapacityProvider", &global, &local),
            yaml("{ManagedResourceTags: {a: {x: 1, y: 3}}}")
        );
        // Elsewhere the same maps merge whole.
        assert_eq!(
            merge("Function", &global, &local),
            yaml("{ManagedResourceTags: {a: {x: 1, y: 3}, b: 2}}")
        );
    }
}
