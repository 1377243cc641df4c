//! Resolving CloudFormation values locally: `!Ref` of parameters and pseudo parameters, `!Sub`,
//! `!Join`, `!Select`, `!Split`, and `!If` on the template's conditions (`!Equals`, `!Not`, `!And`,
//! `!Or`, `!Condition`). Anything AWS computes at deploy time (`!GetAtt`, `!Ref` of a
//! resource, `!ImportValue`) cannot be known here: it says so, naming the expression, for the
//! caller to supply (the runner's env-vars file).

use crate::model::scalar_string;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;

/// An intrinsic function in either form, `!Sub x` or `{"Fn::Sub": x}`: its long name (`Ref`,
/// `Condition`, or `Fn::<Name>`, as CloudFormation and SAM write it) and its argument, as written
/// (a short-form `!GetAtt R.A` keeps its dotted string). A map of one such key is an intrinsic
/// function, as SAM decides; anything else is `None`.
pub fn intrinsic(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let name = match name {
                "Ref" | "Condition" => name.to_string(),
                other => format!("Fn::{other}"),
            };
            Some((name, &tagged.value))
        }
        Value::Mapping(map) if map.len() == 1 => {
            let (key, argument) = map.iter().next()?;
            let key = key.as_str()?;
            (key == "Ref" || key == "Condition" || key.starts_with("Fn::"))
                .then(|| (key.to_string(), argument))
        }
        _ => None,
    }
}

/// Why a value could not be resolved: names the expression to put in the env-vars file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unresolved(pub String);

pub struct Resolver {
    /// Template parameters: `--parameter-overrides`, else their defaults.
    pub parameters: BTreeMap<String, Option<String>>,
    /// The template's `Conditions`, by name.
    pub conditions: BTreeMap<String, Value>,
    pub region: String,
    pub account_id: String,
    pub stack_name: String,
}

impl Resolver {
    pub fn resolve(&self, value: &Value) -> Result<String, Unresolved> {
        if let Some((name, argument)) = intrinsic(value) {
            return self.function(name.trim_start_matches("Fn::"), argument);
        }
        match value {
            Value::Sequence(items) => Ok(items
                .iter()
                .map(|item| self.resolve(item))
                .collect::<Result<Vec<_>, _>>()?
                .join(",")),
            other => scalar_string(other)
                .ok_or_else(|| Unresolved(format!("unsupported value {other:?}"))),
        }
    }

    fn function(&self, name: &str, argument: &Value) -> Result<String, Unresolved> {
        match name {
            "Ref" => self.reference(argument.as_str().unwrap_or_default()),
            "Sub" => self.substitute(argument),
            "Join" => {
                let items = argument
                    .as_sequence()
                    .ok_or_else(|| Unresolved("!Join needs a list".into()))?;
                let separator = items.first().and_then(Value::as_str).unwrap_or_default();
                let parts = self.list(items.get(1).unwrap_or(&Value::Null))?;
                Ok(parts.join(separator))
            }
            "Select" => {
                let items = argument
                    .as_sequence()
                    .ok_or_else(|| Unresolved("!Select needs a list".into()))?;
                let index: usize = items
                    .first()
                    .and_then(scalar_string)
                    .and_then(|i| i.parse().ok())
                    .ok_or_else(|| Unresolved("!Select needs an index".into()))?;
                let list = self.list(items.get(1).unwrap_or(&Value::Null))?;
                list.get(index)
                    .cloned()
                    .ok_or_else(|| Unresolved(format!("!Select index {index} out of range")))
            }
            "If" => {
                let items = argument
                    .as_sequence()
                    .filter(|items| items.len() == 3)
                    .ok_or_else(|| Unresolved("!If needs [condition, then, else]".into()))?;
                let name = items[0].as_str().unwrap_or_default();
                let branch = if self.condition(name)? {
                    &items[1]
                } else {
                    &items[2]
                };
                self.resolve(branch)
            }
            other => Err(Unresolved(format!("!{other} {}", describe(argument)))),
        }
    }

    /// Whether a named condition of the template holds for these parameters. A condition that
    /// depends on itself is an error, as CloudFormation's circular dependency is, not endless
    /// recursion.
    pub fn condition(&self, name: &str) -> Result<bool, Unresolved> {
        let condition = self
            .conditions
            .get(name)
            .ok_or_else(|| Unresolved(format!("!If {name} (no such condition)")))?;
        let _visit = Visiting::enter(name)?;
        self.holds(condition)
    }

    /// Whether a condition expression (a `Conditions` entry, or a rule's `Assert`) holds.
    pub fn holds(&self, condition: &Value) -> Result<bool, Unresolved> {
        let Some((name, argument)) = intrinsic(condition) else {
            return Err(Unresolved(format!("condition {}", describe(condition))));
        };
        let name = name.trim_start_matches("Fn::");
        let items = argument.as_sequence();
        let all = || items.into_iter().flatten();
        match name {
            "Condition" => self.condition(argument.as_str().unwrap_or_default()),
            "Equals" => {
                let operands: Vec<String> = all()
                    .map(|item| self.resolve(item))
                    .collect::<Result<_, _>>()?;
                Ok(operands.len() == 2 && operands[0] == operands[1])
            }
            "Not" => Ok(!self.holds(all().next().unwrap_or(&Value::Null))?),
            "And" => all().try_fold(true, |acc, item| Ok(acc && self.holds(item)?)),
            "Or" => all().try_fold(false, |acc, item| Ok(acc || self.holds(item)?)),
            other => Err(Unresolved(format!("condition !{other}"))),
        }
    }

    /// A list value: a YAML sequence, or a resolved comma-delimited string.
    pub fn list(&self, value: &Value) -> Result<Vec<String>, Unresolved> {
        match value {
            Value::Sequence(items) => items.iter().map(|item| self.resolve(item)).collect(),
            other => Ok(self
                .resolve(other)?
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()),
        }
    }

    fn reference(&self, name: &str) -> Result<String, Unresolved> {
        match name {
            "AWS::Region" => Ok(self.region.clone()),
            "AWS::AccountId" => Ok(self.account_id.clone()),
            "AWS::StackName" => Ok(self.stack_name.clone()),
            "AWS::Partition" => Ok("aws".into()),
            "AWS::URLSuffix" => Ok("amazonaws.com".into()),
            "AWS::NoValue" => Ok(String::new()),
            _ => match self.parameters.get(name) {
                Some(Some(value)) => Ok(value.clone()),
                Some(None) => Err(Unresolved(format!(
                    "!Ref {name} (a parameter with no default)"
                ))),
                None => Err(Unresolved(format!("!Ref {name} (a resource AWS creates)"))),
            },
        }
    }

    fn substitute(&self, argument: &Value) -> Result<String, Unresolved> {
        let (text, vars) = match argument {
            Value::String(text) => (text.clone(), None),
            Value::Sequence(items) => (
                items
                    .first()
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                items.get(1).and_then(Value::as_mapping),
            ),
            other => return Err(Unresolved(format!("!Sub {}", describe(other)))),
        };
        let mut out = String::new();
        let mut rest = text.as_str();
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| Unresolved(format!("!Sub {text}: unterminated ${{")))?;
            let name = &after[..end];
            let local = vars.and_then(|v| v.get(name));
            let value = match local {
                Some(value) => self.resolve(value)?,
                None if name.contains('.') => {
                    return Err(Unresolved(format!(
                        "!Sub ${{{name}}} (an attribute AWS computes)"
                    )))
                }
                None => self.reference(name)?,
            };
            out.push_str(&value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

thread_local! {
    /// The conditions being evaluated on this thread, outermost first. Thread-local because
    /// every evaluation path (`resolve`, `holds`, `condition`) is public and callers build
    /// `Resolver` by its fields.
    static VISITING: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A condition on the evaluation stack until dropped.
struct Visiting;

impl Visiting {
    fn enter(name: &str) -> Result<Self, Unresolved> {
        VISITING.with_borrow_mut(|stack| {
            if stack.iter().any(|n| n == name) {
                return Err(Unresolved(format!(
                    "condition {name} depends on itself ({} -> {name})",
                    stack.join(" -> ")
                )));
            }
            stack.push(name.to_string());
            Ok(Visiting)
        })
    }
}

impl Drop for Visiting {
    fn drop(&mut self) {
        VISITING.with_borrow_mut(|stack| {
            stack.pop();
        });
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => serde_yaml_ng::to_string(other)
            .unwrap_or_default()
            .trim()
            .replace('\n', " "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver() -> Resolver {
        let mut parameters = BTreeMap::new();
        parameters.insert("Env".to_string(), Some("dev".to_string()));
        parameters.insert(
            "Origins".to_string(),
            Some("http://a, http://b".to_string()),
        );
        parameters.insert("Secret".to_string(), None);
        let conditions = [
            ("IsDev", "!Equals [!Ref Env, dev]"),
            ("HasOrigins", "!Not [!Equals [!Ref Origins, '']]"),
            ("Both", "!And [!Condition IsDev, {Condition: HasOrigins}]"),
            (
                "Either",
                "!Or [!Not [!Condition IsDev], {'Fn::Equals': [a, b]}]",
            ),
        ]
        .into_iter()
        .map(|(name, text)| (name.to_string(), yaml(text)))
        .collect();
        Resolver {
            parameters,
            conditions,
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            stack_name: "redline".into(),
        }
    }

    fn yaml(text: &str) -> Value {
        serde_yaml_ng::from_str(text).unwrap()
    }

    #[test]
    fn if_takes_the_branch_its_condition_gives() {
        let r = resolver();
        assert_eq!(r.resolve(&yaml("!If [IsDev, yes, no]")).unwrap(), "yes");
        assert_eq!(
            r.resolve(&yaml("!If [Both, !Sub '${Env}-x', no]")).unwrap(),
            "dev-x"
        );
        assert_eq!(
            r.resolve(&yaml("{'Fn::If': [Either, yes, !Ref Env]}"))
                .unwrap(),
            "dev"
        );
        assert!(r.condition("HasOrigins").unwrap());
        assert!(r
            .resolve(&yaml("!If [Missing, a, b]"))
            .unwrap_err()
            .0
            .contains("Missing"));
    }

    #[test]
    fn a_circular_condition_is_an_error() {
        let mut r = resolver();
        for (name, text) in [
            ("Loop", "!Condition Loop"),
            ("A", "!Not [!Condition B]"),
            ("B", "!Equals [!If [A, x, y], x]"),
        ] {
            r.conditions.insert(name.to_string(), yaml(text));
        }
        assert!(r.condition("Loop").unwrap_err().0.contains("Loop -> Loop"));
        let error = r.resolve(&yaml("!If [A, a, b]")).unwrap_err().0;
        assert!(error.contains("A -> B -> A"), "{error}");
        // A condition used twice side by side is not circular.
        assert!(r
            .holds(&yaml("!And [!Condition IsDev, !Condition IsDev]"))
            .unwrap());
    }

    #[test]
    fn resolves_refs_subs_and_lists() {
        let r = resolver();
        assert_eq!(r.resolve(&yaml("!Ref Env")).unwrap(), "dev");
        assert_eq!(r.resolve(&yaml("{Ref: Env}")).unwrap(), "dev");
        assert_eq!(
            r.resolve(&yaml("!Sub '${AWS::StackName}-auth'")).unwrap(),
            "redline-auth"
        );
        assert_eq!(
            r.resolve(&yaml("!Sub ['${X}-y', {X: !Ref Env}]")).unwrap(),
            "dev-y"
        );
        assert_eq!(
            r.resolve(&yaml("!Join ['-', [a, !Ref Env]]")).unwrap(),
            "a-dev"
        );
        assert_eq!(
            r.list(&yaml("!Ref Origins")).unwrap(),
            vec!["http://a", "http://b"]
        );
        assert_eq!(r.resolve(&yaml("42")).unwrap(), "42");
    }

    #[test]
    fn names_what_cannot_be_known_locally() {
        let r = resolver();
        assert!(r
            .resolve(&yaml("!Ref Secret"))
            .unwrap_err()
            .0
            .contains("Secret"));
        assert!(r
            .resolve(&yaml("!GetAtt Table.Arn"))
            .unwrap_err()
            .0
            .contains("GetAtt"));
        assert!(r
            .resolve(&yaml("!Ref MyBucket"))
            .unwrap_err()
            .0
            .contains("MyBucket"));
        assert!(r
            .resolve(&yaml("!Sub '${Db.Endpoint.Address}'"))
            .unwrap_err()
            .0
            .contains("Db.Endpoint"));
    }
}
