//! A template value as CloudFormation JSON: YAML's short forms written long (`!Ref X` as
//! `{"Ref": "X"}`, `!GetAtt R.A` as `{"Fn::GetAtt": ["R", "A"]}`, `!Sub s` as `{"Fn::Sub": s}`),
//! exactly as SAM's YAML reader and CloudFormation read them, so a value of this crate compares
//! with what SAM's transform or the CDK synthesises.

use crate::intrinsic;
use crate::model::scalar_string;
use serde_json::{Map, Number, Value as Json};
use serde_yaml_ng::Value;

/// The value in CloudFormation's JSON form.
pub fn to_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => number(n),
        Value::String(s) => Json::String(s.clone()),
        Value::Sequence(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Mapping(map) => Json::Object(
            map.iter()
                .map(|(k, v)| (scalar_string(k).unwrap_or_default(), to_json(v)))
                .collect(),
        ),
        Value::Tagged(_) => {
            let (name, argument) = intrinsic(value).expect("a tagged value is an intrinsic");
            let argument = match (name.as_str(), argument) {
                // The short form's `Resource.Attribute`, split at the first dot.
                ("Fn::GetAtt", Value::String(target)) => match target.split_once('.') {
                    Some((resource, attribute)) => Json::Array(vec![
                        Json::String(resource.into()),
                        Json::String(attribute.into()),
                    ]),
                    None => Json::Array(vec![Json::String(target.clone())]),
                },
                // A tagged scalar is read as text (`!Ref 5` names "5").
                (_, scalar @ (Value::Number(_) | Value::Bool(_) | Value::Null)) => {
                    Json::String(scalar_string(scalar).unwrap_or_default())
                }
                (_, other) => to_json(other),
            };
            Json::Object(Map::from_iter([(name, argument)]))
        }
    }
}

fn number(n: &serde_yaml_ng::Number) -> Json {
    if let Some(u) = n.as_u64() {
        Json::Number(u.into())
    } else if let Some(i) = n.as_i64() {
        Json::Number(i.into())
    } else {
        n.as_f64()
            .and_then(Number::from_f64)
            .map_or(Json::Null, Json::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn yaml(text: &str) -> Value {
        serde_yaml_ng::from_str(text).unwrap()
    }

    #[test]
    fn short_forms_are_written_long() {
        let value = yaml(
            "A: !Ref X\nB: !GetAtt Role.Arn\nC: !Sub '${AWS::StackName}-x'\nD: !If [C, 1, !Ref AWS::NoValue]\nE: !Condition C\nF: [1, 2.5, true, null]\nG: !GetAtt [Db, Endpoint.Address]",
        );
        assert_eq!(
            to_json(&value),
            json!({
                "A": {"Ref": "X"},
                "B": {"Fn::GetAtt": ["Role", "Arn"]},
                "C": {"Fn::Sub": "${AWS::StackName}-x"},
                "D": {"Fn::If": ["C", 1, {"Ref": "AWS::NoValue"}]},
                "E": {"Condition": "C"},
                "F": [1, 2.5, true, null],
                "G": {"Fn::GetAtt": ["Db", "Endpoint.Address"]},
            })
        );
        assert_eq!(
            to_json(&yaml("!GetAtt Db.Endpoint.Address")),
            json!({"Fn::GetAtt": ["Db", "Endpoint.Address"]})
        );
        assert_eq!(to_json(&yaml("{Ref: X}")), json!({"Ref": "X"}));
    }
}
