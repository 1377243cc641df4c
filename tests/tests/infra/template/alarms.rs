//! The alarms of operations.md's table, as SAM's translator hands them to CloudFormation: each
//! alarm's metric (namespace, name, dimensions), statistic, period, threshold, comparison,
//! evaluation, missing-data rule and actions, asserted from the table below; the rollback alarms'
//! scope (the version being deployed, never the alias); the SLO composites; and the dashboard.

use super::*;
use redline_core::metrics::catalogue::{self, Metric};
use serde_json::{json, Value as Json};

/// `service.name` and `metrics.namespace` by default: the `Service` dimension and the EMF
/// namespace every alarm on the functions' own metrics names.
const SERVICE: &str = "redline";
const NAMESPACE: &str = "Redline";

/// One CloudWatch metric as an alarm reads it.
#[derive(Debug)]
struct Stat {
    namespace: &'static str,
    name: &'static str,
    /// `(Name, Value)`, each value as the translated template writes it.
    dimensions: Vec<(&'static str, Json)>,
    /// `Sum`, `Maximum`, or a percentile (`p99`: an extended statistic).
    stat: &'static str,
    period: u64,
}

#[derive(Debug)]
enum Rule {
    /// The alarm's own metric against the threshold.
    Metric(Stat),
    /// A metric-math expression (the `ReturnData` one) over the metrics by id.
    Math {
        expression: Json,
        metrics: Vec<(String, Stat)>,
    },
}

#[derive(Debug)]
struct Alarm {
    id: String,
    /// `AlarmName`'s `!Sub` text.
    name: String,
    rule: Rule,
    comparison: &'static str,
    threshold: f64,
    periods: u64,
    datapoints: u64,
    /// A stack alarm: ALARM and OK go to `AlarmTopicArn` when it is set. Rollback alarms and the
    /// SLO windows under the composites notify no one.
    notifies: bool,
}

/// An API function (or any function, for `all`): logical id, the prefix of its alarms' ids
/// (`Auth`), its `Function` dimension (its name in the stack: the area for an API function) and
/// its `MemorySize`.
struct Function {
    id: &'static str,
    prefix: &'static str,
    dimension: &'static str,
    memory_mb: u64,
}

fn functions(api_only: bool) -> Vec<Function> {
    let model = redline_template::Template::load(&root().join("template.yaml"))
        .expect("template.yaml reads");
    NEEDS
        .iter()
        .filter(|needs| !api_only || needs.area.is_some())
        .map(|needs| Function {
            id: needs.logical_id,
            prefix: needs.logical_id.trim_end_matches("Function"),
            dimension: needs.name,
            memory_mb: model
                .function(needs.logical_id)
                .expect("in the model")
                .memory_mb,
        })
        .collect()
}

/// The `AWS::Lambda::Version` SAM publishes for a function (`<Fn>.Version`): what the alias
/// points at, so the version a deployment moves traffic to.
fn version_resource(cfn: &Json, function: &str) -> String {
    let versions: Vec<&String> = cfn["Resources"]
        .as_object()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| {
            r["Type"] == "AWS::Lambda::Version"
                && r["Properties"]["FunctionName"] == json!({"Ref": function})
        })
        .map(|(id, _)| id)
        .collect();
    assert_eq!(versions.len(), 1, "{function}: one published version");
    let version = versions[0].clone();
    let alias = &cfn["Resources"][format!("{function}Aliaslive")]["Properties"];
    assert_eq!(
        alias["FunctionVersion"],
        json!({"Fn::GetAtt": [version, "Version"]}),
        "{function}: the live alias moves to this version"
    );
    version
}

fn emf(
    name: &'static str,
    dimensions: Vec<(&'static str, Json)>,
    stat: &'static str,
    period: u64,
) -> Stat {
    Stat {
        namespace: NAMESPACE,
        name,
        dimensions,
        stat,
        period,
    }
}

/// `[Service, Function]`, plus `Version` when given.
fn emf_dimensions(function: &Function, version: Option<&Json>) -> Vec<(&'static str, Json)> {
    let mut dimensions = vec![
        (catalogue::SERVICE, json!(SERVICE)),
        (catalogue::FUNCTION, json!(function.dimension)),
    ];
    dimensions.extend(version.map(|v| (catalogue::VERSION, v.clone())));
    dimensions
}

/// operations.md's alarm table, one row per alarm of the stack.
fn expected_alarms(cfn: &Json) -> Vec<Alarm> {
    let mut alarms = Vec::new();
    let sub = |text: String| text.replace("<stack>", "${AWS::StackName}");

    // Rollback: per API function, on the version being deployed.
    for f in functions(true) {
        let version = json!({"Fn::GetAtt": [version_resource(cfn, f.id), "Version"]});
        let area = f.dimension;
        alarms.push(Alarm {
            id: format!("{}RollbackServerErrorRateAlarm", f.prefix),
            name: sub(format!("<stack>-{area}-rollback-server-error-rate")),
            rule: Rule::Math {
                expression: json!("IF(requests >= 10, 100 * serverErrors / requests, 0)"),
                metrics: vec![
                    (
                        "requests".into(),
                        emf("Requests", emf_dimensions(&f, Some(&version)), "Sum", 60),
                    ),
                    (
                        "serverErrors".into(),
                        emf(
                            "ServerErrors",
                            emf_dimensions(&f, Some(&version)),
                            "Sum",
                            60,
                        ),
                    ),
                ],
            },
            comparison: "GreaterThanThreshold",
            threshold: 5.0,
            periods: 3,
            datapoints: 2,
            notifies: false,
        });
        alarms.push(Alarm {
            id: format!("{}RollbackLatencyAlarm", f.prefix),
            name: sub(format!("<stack>-{area}-rollback-latency-p99")),
            rule: Rule::Metric(emf(
                "Latency",
                emf_dimensions(&f, Some(&version)),
                "p99",
                60,
            )),
            comparison: "GreaterThanThreshold",
            threshold: 2000.0,
            periods: 3,
            datapoints: 3,
            notifies: false,
        });
        alarms.push(Alarm {
            id: format!("{}RollbackInvocationErrorsAlarm", f.prefix),
            name: sub(format!("<stack>-{area}-rollback-invocation-errors")),
            rule: Rule::Metric(Stat {
                namespace: "AWS/Lambda",
                name: "Errors",
                dimensions: vec![
                    ("FunctionName", json!({"Ref": f.id})),
                    (
                        "Resource",
                        json!({"Fn::Sub": format!("${{{}}}:live", f.id)}),
                    ),
                    ("ExecutedVersion", version.clone()),
                ],
                stat: "Sum",
                period: 60,
            }),
            comparison: "GreaterThanThreshold",
            threshold: 0.0,
            periods: 3,
            datapoints: 2,
            notifies: false,
        });
    }

    // Stack alarms, 5 minutes.
    let api = || vec![("ApiId", json!({"Ref": "HttpApi"}))];
    alarms.push(Alarm {
        id: "HttpApi5xxRateAlarm".into(),
        name: sub("<stack>-api-5xx-rate".into()),
        rule: Rule::Math {
            expression: json!("IF(requests > 0, 100 * errors / requests, 0)"),
            metrics: vec![
                (
                    "requests".into(),
                    Stat {
                        namespace: "AWS/ApiGateway",
                        name: "Count",
                        dimensions: api(),
                        stat: "Sum",
                        period: 300,
                    },
                ),
                (
                    "errors".into(),
                    Stat {
                        namespace: "AWS/ApiGateway",
                        name: "5xx",
                        dimensions: api(),
                        stat: "Sum",
                        period: 300,
                    },
                ),
            ],
        },
        comparison: "GreaterThanThreshold",
        threshold: 5.0,
        periods: 1,
        datapoints: 1,
        notifies: true,
    });
    for f in functions(true) {
        alarms.push(Alarm {
            id: format!("{}LatencyAlarm", f.prefix),
            name: sub(format!("<stack>-{}-latency-p99", f.dimension)),
            rule: Rule::Metric(emf("Latency", emf_dimensions(&f, None), "p99", 300)),
            comparison: "GreaterThanThreshold",
            threshold: 2000.0,
            periods: 1,
            datapoints: 1,
            notifies: true,
        });
    }
    for f in functions(false) {
        alarms.push(Alarm {
            id: format!("{}ThrottlesAlarm", f.prefix),
            name: sub(format!("<stack>-{}-throttles", f.dimension)),
            rule: Rule::Metric(Stat {
                namespace: "AWS/Lambda",
                name: "Throttles",
                dimensions: vec![("FunctionName", json!({"Ref": f.id}))],
                stat: "Sum",
                period: 300,
            }),
            comparison: "GreaterThanThreshold",
            threshold: 0.0,
            periods: 1,
            datapoints: 1,
            notifies: true,
        });
        alarms.push(Alarm {
            id: format!("{}MemoryAlarm", f.prefix),
            name: sub(format!("<stack>-{}-memory", f.dimension)),
            rule: Rule::Metric(emf(
                "MaxMemoryUsedMB",
                vec![(catalogue::FUNCTION, json!(f.dimension))],
                "Maximum",
                300,
            )),
            comparison: "GreaterThanThreshold",
            threshold: 0.8 * f.memory_mb as f64,
            periods: 1,
            datapoints: 1,
            notifies: true,
        });
    }

    // Availability SLO: burn rate over the API functions' [Service, Function] metrics, summed.
    let api_functions = functions(true);
    let sum = |letter: &str| {
        api_functions
            .iter()
            .map(|f| format!("FILL({letter}{}, 0)", f.prefix.to_ascii_lowercase()))
            .collect::<Vec<_>>()
            .join(" + ")
    };
    let burn = format!(
        "IF(({requests}) > 0, 100 * ({errors}) / ({requests}) / (100 - ${{AvailabilityTarget}}), 0)",
        requests = sum("r"),
        errors = sum("e"),
    );
    for (id, name, period, rate) in [
        ("SloFastBurn1hAlarm", "slo-burn-fast-1h", 3600, 14.4),
        ("SloFastBurn5mAlarm", "slo-burn-fast-5m", 300, 14.4),
        ("SloSlowBurn6hAlarm", "slo-burn-slow-6h", 21600, 6.0),
        ("SloSlowBurn30mAlarm", "slo-burn-slow-30m", 1800, 6.0),
    ] {
        let mut metrics = Vec::new();
        for f in &api_functions {
            let lower = f.prefix.to_ascii_lowercase();
            let per_function = emf_dimensions(f, None);
            metrics.push((
                format!("r{lower}"),
                emf("Requests", per_function.clone(), "Sum", period),
            ));
            metrics.push((
                format!("e{lower}"),
                emf("ServerErrors", per_function, "Sum", period),
            ));
        }
        alarms.push(Alarm {
            id: id.into(),
            name: sub(format!("<stack>-{name}")),
            rule: Rule::Math {
                expression: json!({"Fn::Sub": burn}),
                metrics,
            },
            comparison: "GreaterThanThreshold",
            threshold: rate,
            periods: 1,
            datapoints: 1,
            notifies: false,
        });
    }
    alarms
}

/// The SLO composites: each fires when its long and its short window both burn too fast.
const COMPOSITES: [(&str, &str, &str, &str); 2] = [
    (
        "SloFastBurnAlarm",
        "slo-fast-burn",
        "SloFastBurn1hAlarm",
        "SloFastBurn5mAlarm",
    ),
    (
        "SloSlowBurnAlarm",
        "slo-slow-burn",
        "SloSlowBurn6hAlarm",
        "SloSlowBurn30mAlarm",
    ),
];

fn topic_actions() -> Json {
    json!({"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]})
}

/// Records a difference between what the template deploys and what the table says.
fn differ(errors: &mut Vec<String>, what: &str, field: &str, actual: &Json, wanted: Json) {
    if *actual != wanted {
        errors.push(format!("{what} {field}: {actual} (expected {wanted})"));
    }
}

/// Checks one `Stat` against a `{Namespace, MetricName, Dimensions}` map and its statistic.
fn check_metric(
    what: &str,
    metric: &Json,
    stat_key: &Json,
    period: &Json,
    expected: &Stat,
    errors: &mut Vec<String>,
) {
    let mut check =
        |field: &str, actual: &Json, wanted: Json| differ(errors, what, field, actual, wanted);
    check("Namespace", &metric["Namespace"], json!(expected.namespace));
    check("MetricName", &metric["MetricName"], json!(expected.name));
    let mut actual: Vec<Json> = metric["Dimensions"].as_array().cloned().unwrap_or_default();
    actual.sort_by_key(|d| d["Name"].to_string());
    let mut wanted: Vec<Json> = expected
        .dimensions
        .iter()
        .map(|(name, value)| json!({"Name": name, "Value": value}))
        .collect();
    wanted.sort_by_key(|d| d["Name"].to_string());
    check("Dimensions", &json!(actual), json!(wanted));
    check("statistic", stat_key, json!(expected.stat));
    check("Period", period, json!(expected.period));
}

#[test]
fn every_alarm_is_the_operations_table_row_it_implements() {
    let cfn = deployed();
    let resources = cfn["Resources"].as_object().expect("Resources");
    let expected = expected_alarms(cfn);
    let mut errors = Vec::new();

    let deployed_ids: BTreeSet<&str> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .map(|(id, _)| id.as_str())
        .collect();
    let expected_ids: BTreeSet<&str> = expected.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(deployed_ids, expected_ids, "the stack's metric alarms");

    for alarm in &expected {
        let id = &alarm.id;
        let props = &resources[id]["Properties"];
        let errors = &mut errors;
        differ(
            errors,
            id,
            "AlarmName",
            &props["AlarmName"],
            json!({"Fn::Sub": alarm.name}),
        );
        differ(
            errors,
            id,
            "ComparisonOperator",
            &props["ComparisonOperator"],
            json!(alarm.comparison),
        );
        differ(
            errors,
            id,
            "EvaluationPeriods",
            &props["EvaluationPeriods"],
            json!(alarm.periods),
        );
        differ(
            errors,
            id,
            "DatapointsToAlarm",
            &props["DatapointsToAlarm"],
            json!(alarm.datapoints),
        );
        differ(
            errors,
            id,
            "TreatMissingData",
            &props["TreatMissingData"],
            json!("notBreaching"),
        );
        if props["Threshold"].as_f64() != Some(alarm.threshold) {
            errors.push(format!(
                "{id} Threshold: {} (expected {})",
                props["Threshold"], alarm.threshold
            ));
        }
        let (actions, ok) = if alarm.notifies {
            (topic_actions(), topic_actions())
        } else {
            (Json::Null, Json::Null)
        };
        differ(errors, id, "AlarmActions", &props["AlarmActions"], actions);
        differ(errors, id, "OKActions", &props["OKActions"], ok);
        differ(
            errors,
            id,
            "InsufficientDataActions",
            &props["InsufficientDataActions"],
            Json::Null,
        );

        match &alarm.rule {
            Rule::Metric(stat) => {
                let stat_key = if stat.stat.starts_with('p') {
                    differ(errors, id, "Statistic", &props["Statistic"], Json::Null);
                    &props["ExtendedStatistic"]
                } else {
                    differ(
                        errors,
                        id,
                        "ExtendedStatistic",
                        &props["ExtendedStatistic"],
                        Json::Null,
                    );
                    &props["Statistic"]
                };
                differ(errors, id, "Metrics", &props["Metrics"], Json::Null);
                check_metric(id, props, stat_key, &props["Period"], stat, errors);
            }
            Rule::Math {
                expression,
                metrics,
            } => {
                for single in [
                    "Namespace",
                    "MetricName",
                    "Dimensions",
                    "Statistic",
                    "ExtendedStatistic",
                    "Period",
                ] {
                    if !props[single].is_null() {
                        errors.push(format!("{id}: {single} beside Metrics"));
                    }
                }
                let queries = props["Metrics"].as_array().cloned().unwrap_or_default();
                let returned: Vec<&Json> = queries
                    .iter()
                    .filter(|q| q["ReturnData"] != json!(false))
                    .collect();
                if returned.len() != 1 || returned[0]["Expression"] != *expression {
                    errors.push(format!(
                        "{id}: the one returned query is {:?} (expected the expression {expression})",
                        returned.iter().map(|q| &q["Expression"]).collect::<Vec<_>>()
                    ));
                }
                let inputs: BTreeMap<&str, &Json> = queries
                    .iter()
                    .filter(|q| q["ReturnData"] == json!(false))
                    .filter_map(|q| Some((q["Id"].as_str()?, q)))
                    .collect();
                let wanted: BTreeSet<&str> = metrics.iter().map(|(id, _)| id.as_str()).collect();
                if inputs.keys().copied().collect::<BTreeSet<_>>() != wanted {
                    errors.push(format!(
                        "{id}: metric ids {:?} (expected {wanted:?})",
                        inputs.keys()
                    ));
                }
                for (metric_id, stat) in metrics {
                    let Some(query) = inputs.get(metric_id.as_str()) else {
                        continue;
                    };
                    let metric_stat = &query["MetricStat"];
                    check_metric(
                        &format!("{id}.{metric_id}"),
                        &metric_stat["Metric"],
                        &metric_stat["Stat"],
                        &metric_stat["Period"],
                        stat,
                        errors,
                    );
                }
            }
        }
    }
    assert!(
        errors.is_empty(),
        "alarms differ from operations.md:\n{}",
        errors.join("\n")
    );
}

#[test]
fn rollback_alarms_watch_only_the_version_being_deployed() {
    let cfn = deployed();
    let resources = cfn["Resources"].as_object().expect("Resources");
    for f in functions(true) {
        let version = version_resource(cfn, f.id);
        let rollback: Vec<(&String, &Json)> = resources
            .iter()
            .filter(|(id, r)| {
                r["Type"] == "AWS::CloudWatch::Alarm"
                    && id.starts_with(&format!("{}Rollback", f.prefix))
            })
            .collect();
        assert_eq!(rollback.len(), 3, "{}: rollback alarms", f.id);
        assert!(
            rollback.len() <= 10,
            "CodeDeploy takes at most 10 alarms per deployment group"
        );
        for (id, alarm) in rollback {
            let props = &alarm["Properties"];
            assert!(
                props["AlarmName"]["Fn::Sub"]
                    .as_str()
                    .is_some_and(|name| name.contains("-rollback-")),
                "{id}: rollback alarms are named <stack>-<area>-rollback-<what>"
            );
            // Every metric the alarm reads carries the deploying version, and nothing names the
            // alias as a whole (its own metrics would mix the old version's).
            let metrics: Vec<&Json> = match props["Metrics"].as_array() {
                Some(queries) => queries
                    .iter()
                    .filter_map(|q| q.get("MetricStat"))
                    .map(|s| &s["Metric"])
                    .collect(),
                None => vec![props],
            };
            for metric in metrics {
                let dimensions = metric["Dimensions"].as_array().expect("dimensions");
                let versions: Vec<&Json> = dimensions
                    .iter()
                    .filter(|d| d["Name"] == "Version" || d["Name"] == "ExecutedVersion")
                    .map(|d| &d["Value"])
                    .collect();
                assert_eq!(
                    versions,
                    [&json!({"Fn::GetAtt": [version, "Version"]})],
                    "{id}: the version dimension must be !GetAtt {}.Version.Version",
                    f.id
                );
            }
            let text = props.to_string();
            assert!(
                !text.contains(&format!("{}Alias", f.id)),
                "{id} names the alias"
            );
        }
    }
}

#[test]
fn slo_composites_fire_when_both_windows_burn_and_notify_the_topic() {
    let cfn = deployed();
    let resources = cfn["Resources"].as_object().expect("Resources");
    let composites: BTreeSet<&str> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::CompositeAlarm")
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(
        composites,
        COMPOSITES.iter().map(|c| c.0).collect(),
        "composite alarms"
    );
    for (id, name, long, short) in COMPOSITES {
        let props = &resources[id]["Properties"];
        assert_eq!(
            props["AlarmName"],
            json!({"Fn::Sub": format!("${{AWS::StackName}}-{name}")}),
            "{id}"
        );
        assert_eq!(
            props["AlarmRule"],
            json!({"Fn::Sub": format!("ALARM(\"${{{long}}}\") AND ALARM(\"${{{short}}}\")")}),
            "{id} AlarmRule"
        );
        assert_eq!(props["AlarmActions"], topic_actions(), "{id} AlarmActions");
        assert_eq!(props["OKActions"], topic_actions(), "{id} OKActions");
    }
    // The target: a percentage below 100, 99.9 unless the operator says otherwise.
    let target = &template()["Parameters"]["AvailabilityTarget"];
    assert_eq!(target["Type"].as_str(), Some("Number"));
    assert_eq!(target["Default"].as_f64(), Some(99.9));
    assert!(
        target["MaxValue"].as_f64().is_some_and(|max| max < 100.0),
        "a 100 % target has no budget"
    );
}

#[test]
fn alarm_topic_and_log_destination_are_optional_parameters() {
    let template = template();
    for (parameter, condition, arn) in [
        (
            "AlarmTopicArn",
            "HasAlarmTopic",
            "arn:aws:sns:us-east-1:123456789012:redline-alarms",
        ),
        (
            "LogDestinationArn",
            "HasLogDestination",
            "arn:aws:firehose:us-east-1:123456789012:deliverystream/redline-logs",
        ),
    ] {
        let p = &template["Parameters"][parameter];
        assert_eq!(p["Type"].as_str(), Some("String"), "{parameter}");
        assert_eq!(p["Default"].as_str(), Some(""), "{parameter} is optional");
        let model = redline_template::Template::load(&root().join("template.yaml")).unwrap();
        let resolver = |value: &str| Resolver {
            parameters: BTreeMap::from([(parameter.to_string(), Some(value.to_string()))]),
            conditions: model.conditions.clone(),
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            stack_name: "redline".into(),
        };
        assert_eq!(
            resolver("").condition(condition),
            Ok(false),
            "{condition} without {parameter}"
        );
        assert_eq!(
            resolver(arn).condition(condition),
            Ok(true),
            "{condition} with {parameter}"
        );
    }
}

#[test]
fn alarms_read_the_service_and_namespace_the_functions_write() {
    let config: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(root().join("configs/config.yaml")).expect("configs/config.yaml"),
    )
    .expect("YAML");
    assert_eq!(
        config["service"]["name"].as_str(),
        Some(SERVICE),
        "service.name"
    );
    if let Some(namespace) = config["metrics"]["namespace"].as_str() {
        assert_eq!(namespace, NAMESPACE, "metrics.namespace");
    }
    // Every EMF metric an alarm reads is in the catalogue (MaxMemoryUsedMB is the metric filter's).
    let names: BTreeSet<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
    for alarm in expected_alarms(deployed()) {
        let stats: Vec<&Stat> = match &alarm.rule {
            Rule::Metric(stat) => vec![stat],
            Rule::Math { metrics, .. } => metrics.iter().map(|(_, s)| s).collect(),
        };
        for stat in stats
            .into_iter()
            .filter(|s| s.namespace == NAMESPACE && s.name != "MaxMemoryUsedMB")
        {
            assert!(
                names.contains(stat.name),
                "{}: {} is not in the catalogue",
                alarm.id,
                stat.name
            );
            let keys: Vec<&str> = stat.dimensions.iter().map(|(k, _)| *k).collect();
            assert!(
                catalogue::HTTP_DIMENSIONS.contains(&keys.as_slice()),
                "{}: {keys:?} is not a dimension set the functions write",
                alarm.id
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The dashboard.

/// The dashboard body as JSON, each `${Name}` reference replaced by `ref:Name` (a number
/// parameter by a number), and the references.
fn dashboard(cfn: &Json) -> (Json, BTreeSet<String>) {
    let body = cfn["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
        .as_str()
        .expect("DashboardBody is a !Sub string");
    let mut references = BTreeSet::new();
    let mut text = String::new();
    let mut rest = body;
    while let Some(start) = rest.find("${") {
        text.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closed ${") + start;
        let name = &rest[start + 2..end];
        references.insert(name.to_string());
        if name == "AvailabilityTarget" {
            text.push_str("99.9");
        } else {
            text.push_str(&format!("ref:{name}"));
        }
        rest = &rest[end + 1..];
    }
    text.push_str(rest);
    let json =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("DashboardBody is not JSON: {e}"));
    (json, references)
}

#[test]
fn dashboard_shows_every_alarm_and_only_metrics_the_stack_has() {
    let cfn = deployed();
    let resources = cfn["Resources"].as_object().expect("Resources");
    let (body, references) = dashboard(cfn);
    let parameters = template()["Parameters"].as_mapping().unwrap().clone();
    for reference in &references {
        let target = reference.split('.').next().unwrap();
        assert!(
            target.starts_with("AWS::")
                || resources.contains_key(target)
                || parameters.contains_key(target),
            "the dashboard names {reference}, which the stack does not have"
        );
    }

    let widgets = body["widgets"].as_array().expect("widgets");
    let listed: BTreeSet<String> = widgets
        .iter()
        .filter(|w| w["type"] == "alarm")
        .flat_map(|w| {
            w["properties"]["alarms"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect();
    // Every alarm but the SLO windows, which their composites stand for.
    let windows: BTreeSet<&str> = COMPOSITES.iter().flat_map(|c| [c.2, c.3]).collect();
    let alarms: BTreeSet<String> = resources
        .iter()
        .filter(|(_, r)| {
            r["Type"] == "AWS::CloudWatch::Alarm" || r["Type"] == "AWS::CloudWatch::CompositeAlarm"
        })
        .map(|(id, _)| id.as_str())
        .filter(|id| !windows.contains(id))
        .map(|id| format!("ref:{id}.Arn"))
        .collect();
    assert_eq!(
        listed, alarms,
        "the alarm widget: every rollback, stack and composite alarm"
    );

    let names: BTreeSet<&str> = Metric::ALL
        .iter()
        .map(|m| m.name())
        .chain(["MaxMemoryUsedMB"])
        .collect();
    let areas: BTreeSet<&str> = functions(false).iter().map(|f| f.dimension).collect();
    let mut metric_count = 0;
    for widget in widgets.iter().filter(|w| w["type"] == "metric") {
        let title = widget["properties"]["title"].as_str().unwrap_or_default();
        let metrics = widget["properties"]["metrics"].as_array().expect("metrics");
        let ids: BTreeSet<&str> = metrics
            .iter()
            .filter_map(|m| m.as_array()?.last()?.get("id")?.as_str())
            .collect();
        for metric in metrics {
            if let Some(expression) = metric.get("expression").and_then(Json::as_str) {
                // Every id an expression uses is a metric of the widget.
                for token in expression.split(|c: char| !c.is_ascii_alphanumeric() && c != '_') {
                    let is_id = token.starts_with(|c: char| c.is_ascii_lowercase());
                    assert!(
                        !is_id || ids.contains(token),
                        "{title}: {token} in {expression}"
                    );
                }
                continue;
            }
            let parts = metric.as_array().expect("a metric is an array");
            let strings: Vec<&str> = parts.iter().filter_map(Json::as_str).collect();
            let (namespace, name, dims) = (strings[0], strings[1], &strings[2..]);
            metric_count += 1;
            match namespace {
                NAMESPACE => {
                    assert!(
                        names.contains(name),
                        "{title}: {name} is not a metric of the stack"
                    );
                    let keys: Vec<&str> = dims.iter().step_by(2).copied().collect();
                    let values: BTreeMap<&str, &str> =
                        dims.chunks(2).map(|kv| (kv[0], kv[1])).collect();
                    let set_ok = if name == "MaxMemoryUsedMB" {
                        keys == [catalogue::FUNCTION]
                    } else {
                        catalogue::HTTP_DIMENSIONS.contains(&keys.as_slice())
                            || catalogue::EVENT_DIMENSIONS.contains(&keys.as_slice())
                    };
                    assert!(
                        set_ok,
                        "{title}: {name} by {keys:?} is no dimension set the stack writes"
                    );
                    if let Some(service) = values.get("Service") {
                        assert_eq!(*service, SERVICE, "{title}");
                    }
                    assert!(
                        areas.contains(values["Function"]),
                        "{title}: Function {}",
                        values["Function"]
                    );
                }
                "AWS/Lambda" => {
                    let function = dims[1].trim_start_matches("ref:");
                    assert_eq!(dims[0], "FunctionName", "{title}");
                    assert!(FUNCTIONS.contains(&function), "{title}: {function}");
                }
                "AWS/ApiGateway" => assert_eq!(dims, ["ApiId", "ref:HttpApi"], "{title}"),
                other => panic!("{title}: namespace {other}"),
            }
        }
    }
    assert!(
        metric_count > 20,
        "the dashboard shows the metrics ({metric_count})"
    );
}
