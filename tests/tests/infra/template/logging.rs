//! The functions' logs as SAM's translator deploys them: JSON at INFO for the application and the
//! system (EMF documents and REPORT lines get through Lambda's filter), the memory metric filters
//! on the REPORT lines, the Logs Insights saved queries and their log groups, and the optional
//! log pipeline (subscription filters and the role CloudWatch Logs assumes, only when
//! `LogDestinationArn` is set).

use super::*;
use serde_json::{json, Value as Json};

/// Each function's logical id, its log group and the `function` value its lines carry.
fn log_groups() -> Vec<(&'static str, String, &'static str)> {
    NEEDS
        .iter()
        .map(|needs| {
            let group = format!("{}LogGroup", needs.logical_id.trim_end_matches("Function"));
            (needs.logical_id, group, needs.name)
        })
        .collect()
}

#[test]
fn every_function_logs_json_with_application_and_system_levels_pinned_to_info() {
    let cfn = deployed();
    for (id, group, _) in log_groups() {
        let logging = &cfn["Resources"][id]["Properties"]["LoggingConfig"];
        assert_eq!(
            *logging,
            json!({
                "LogFormat": "JSON",
                // Above INFO, Lambda drops every EMF document (no level: INFO) and the REPORT
                // lines the memory filters read.
                "ApplicationLogLevel": "INFO",
                "SystemLogLevel": "INFO",
                "LogGroup": {"Ref": group},
            }),
            "{id}: LoggingConfig after SAM merged Globals into the function's own"
        );
        let retention = &cfn["Resources"][group.as_str()]["Properties"]["RetentionInDays"];
        assert_eq!(*retention, json!({"Ref": "LogRetentionDays"}), "{group}");
    }
    // No other log group, so no group without the retention parameter.
    let groups: BTreeSet<&str> = of_type(cfn, "AWS::Logs::LogGroup").into_keys().collect();
    let expected: BTreeSet<String> = log_groups().into_iter().map(|(_, g, _)| g).collect();
    assert_eq!(
        groups,
        expected.iter().map(String::as_str).collect(),
        "log groups"
    );
}

#[test]
fn memory_metric_filters_read_the_report_lines_of_each_function() {
    let cfn = deployed();
    let filters = of_type(cfn, "AWS::Logs::MetricFilter");
    let transformers = of_type(cfn, "AWS::Logs::Transformer");
    assert_eq!(
        filters.len(),
        log_groups().len(),
        "one memory filter per function"
    );
    assert_eq!(
        transformers.len(),
        log_groups().len(),
        "one transformer per function"
    );
    for (id, group, function) in log_groups() {
        let prefix = id.trim_end_matches("Function");
        let transformer_id = format!("{prefix}LogTransformer");
        // The REPORT line does not name its function; a filter's dimension comes only from the
        // event, so the transformer adds "function" where a line has none.
        let transformer = &transformers[transformer_id.as_str()]["Properties"];
        assert_eq!(
            transformer["LogGroupIdentifier"],
            json!({"Ref": group}),
            "{transformer_id}"
        );
        assert_eq!(
            transformer["TransformerConfig"],
            json!([
                {"ParseJSON": {}},
                {"AddKeys": {"Entries": [{"Key": "function", "Value": function, "OverwriteIfExists": false}]}}
            ]),
            "{transformer_id}"
        );

        let filter_id = format!("{prefix}MemoryMetricFilter");
        let filter = filters[filter_id.as_str()];
        assert_eq!(filter["DependsOn"], json!(transformer_id), "{filter_id}");
        let props = &filter["Properties"];
        assert_eq!(props["LogGroupName"], json!({"Ref": group}), "{filter_id}");
        assert_eq!(props["ApplyOnTransformedLogs"], json!(true), "{filter_id}");
        assert_eq!(
            props["FilterPattern"],
            json!(r#"{ $.type = "platform.report" && $.record.metrics.maxMemoryUsedMB > 0 }"#),
            "{filter_id}"
        );
        assert_eq!(
            props["MetricTransformations"],
            json!([{
                "MetricNamespace": "Redline",
                "MetricName": "MaxMemoryUsedMB",
                "MetricValue": "$.record.metrics.maxMemoryUsedMB",
                "Unit": "Megabytes",
                "Dimensions": [{"Key": "Function", "Value": "$.function"}],
            }]),
            "{filter_id}"
        );
    }
}

/// Fields a query may read: the functions' JSON log lines (operations.md, "Logs"), the platform's
/// REPORT lines, and CloudWatch's own.
const LOG_FIELDS: [&str; 22] = [
    "timestamp",
    "level",
    "message",
    "requestId",
    "apiRequestId",
    "traceId",
    "function",
    "version",
    "coldStart",
    "method",
    "route",
    "status",
    "reason",
    "latencyMs",
    "error",
    "type",
    "record.requestId",
    "record.metrics.maxMemoryUsedMB",
    "record.metrics.memorySizeMB",
    "record.metrics.initDurationMs",
    "@timestamp",
    "@message",
];

/// Words of the Logs Insights query language, not fields.
const QUERY_WORDS: [&str; 13] = [
    "fields", "filter", "stats", "sort", "limit", "by", "as", "and", "or", "not", "asc", "desc",
    "display",
];

/// The fields a query reads: identifiers outside string literals that are neither query words,
/// functions (followed by `(`), durations (`5m`) nor names the query gives with `as`.
fn fields_of(query: &str) -> BTreeSet<String> {
    let mut unquoted = String::new();
    let mut quote = None;
    for c in query.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                unquoted.push(' ');
            }
            None => unquoted.push(c),
        }
    }
    let tokens: Vec<(String, bool)> = {
        let mut tokens = Vec::new();
        let chars: Vec<char> = unquoted.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if chars[i].is_ascii_alphabetic() || chars[i] == '@' || chars[i] == '_' {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | '.' | '@'))
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let mut j = i;
                while j < chars.len() && chars[j] == ' ' {
                    j += 1;
                }
                tokens.push((word, chars.get(j) == Some(&'(')));
            } else if chars[i].is_ascii_digit() {
                while i < chars.len() && chars[i].is_ascii_alphanumeric() {
                    i += 1;
                }
            } else {
                i += 1;
            }
        }
        tokens
    };
    let aliases: BTreeSet<&str> = tokens
        .windows(2)
        .filter(|pair| pair[0].0 == "as")
        .map(|pair| pair[1].0.as_str())
        .collect();
    tokens
        .iter()
        .filter(|(word, call)| {
            !call && !QUERY_WORDS.contains(&word.as_str()) && !aliases.contains(word.as_str())
        })
        .map(|(word, _)| word.clone())
        .collect()
}

#[test]
fn query_field_parser_finds_fields_and_can_fail() {
    let fields = fields_of(
        r#"filter message = "request" and status >= 500 | stats count(*) as errors by route, bin(5m) | sort errors desc"#,
    );
    assert_eq!(
        fields,
        BTreeSet::from(["message".into(), "status".into(), "route".into()])
    );
    assert!(fields_of("fields latency_ms").contains("latency_ms"));
}

#[test]
fn saved_queries_answer_the_operators_questions_over_the_functions_log_groups() {
    let cfn = deployed();
    let queries = of_type(cfn, "AWS::Logs::QueryDefinition");
    let every: Vec<String> = log_groups().into_iter().map(|(_, g, _)| g).collect();
    let api: Vec<String> = log_groups()
        .into_iter()
        .filter(|(id, _, _)| Needs::of(id).is_some_and(|n| n.area.is_some()))
        .map(|(_, g, _)| g)
        .collect();
    let auth = vec!["AuthLogGroup".to_string()];
    // (id, name, log groups, what the query must contain)
    let expected: [(&str, &str, &Vec<String>, &[&str]); 5] = [
        (
            "RequestByIdQuery",
            "request-by-id",
            &every,
            &[
                r#"requestId = "REQUEST_ID""#,
                r#"apiRequestId = "REQUEST_ID""#,
            ],
        ),
        (
            "ErrorsByRouteQuery",
            "errors-by-route",
            &api,
            &[
                r#"message = "request""#,
                "status >= 500",
                "by function, route, reason",
            ],
        ),
        (
            "SlowestRequestsQuery",
            "slowest-requests",
            &api,
            &["sort latencyMs desc", "traceId"],
        ),
        (
            "LoginFailuresQuery",
            "login-failures",
            &auth,
            &[
                r#"route = "/api/v1/auth/login""#,
                "status >= 400",
                "by reason",
            ],
        ),
        (
            "MemoryAndColdStartsQuery",
            "memory-and-cold-starts",
            &every,
            &[
                r#"type = "platform.report""#,
                "record.metrics.maxMemoryUsedMB",
            ],
        ),
    ];
    assert_eq!(
        queries.keys().copied().collect::<BTreeSet<_>>(),
        expected.iter().map(|e| e.0).collect(),
        "saved queries"
    );
    for (id, name, groups, contains) in expected {
        let props = &queries[id]["Properties"];
        assert_eq!(
            props["Name"],
            json!({"Fn::Sub": format!("${{AWS::StackName}}/{name}")}),
            "{id}"
        );
        let refs: Vec<Json> = groups.iter().map(|g| json!({"Ref": g})).collect();
        assert_eq!(props["LogGroupNames"], json!(refs), "{id} log groups");
        let query = props["QueryString"].as_str().expect("QueryString");
        for part in contains {
            assert!(
                query.contains(part),
                "{id} does not contain {part}:\n{query}"
            );
        }
        let unknown: Vec<String> = fields_of(query)
            .into_iter()
            .filter(|f| !LOG_FIELDS.contains(&f.as_str()))
            .collect();
        assert!(
            unknown.is_empty(),
            "{id} reads fields no log line has: {unknown:?}"
        );
    }
}

#[test]
fn log_pipeline_subscribes_every_log_group_to_the_firehose_stream_only_when_set() {
    let cfn = deployed();
    let resources = cfn["Resources"].as_object().expect("Resources");
    let subscriptions = of_type(cfn, "AWS::Logs::SubscriptionFilter");
    assert_eq!(
        subscriptions.len(),
        log_groups().len(),
        "one subscription per log group"
    );
    for (id, group, _) in log_groups() {
        let sub_id = format!("{}LogSubscription", id.trim_end_matches("Function"));
        let subscription = subscriptions[sub_id.as_str()];
        assert_eq!(
            subscription["Condition"],
            json!("HasLogDestination"),
            "{sub_id}"
        );
        assert_eq!(
            subscription["Properties"],
            json!({
                "LogGroupName": {"Ref": group},
                "FilterPattern": "",
                "DestinationArn": {"Ref": "LogDestinationArn"},
                "RoleArn": {"Fn::GetAtt": ["LogDeliveryRole", "Arn"]},
            }),
            "{sub_id}"
        );
    }

    // The role: CloudWatch Logs of this account, writing to that one stream and nothing else.
    let role = &resources["LogDeliveryRole"];
    assert_eq!(role["Condition"], json!("HasLogDestination"));
    let props = role["Properties"].as_object().expect("role properties");
    assert_eq!(
        props.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        BTreeSet::from(["AssumeRolePolicyDocument", "Policies"]),
        "no managed policies, boundaries or paths"
    );
    assert_eq!(
        props["AssumeRolePolicyDocument"]["Statement"],
        json!([{
            "Effect": "Allow",
            "Principal": {"Service": "logs.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                "StringLike": {"aws:SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:*"}},
            },
        }]),
        "LogDeliveryRole trust"
    );
    let policies = props["Policies"].as_array().expect("policies");
    assert_eq!(policies.len(), 1);
    assert_eq!(
        policies[0]["PolicyDocument"]["Statement"],
        json!([{
            "Sid": "PutLogRecords",
            "Effect": "Allow",
            "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"],
            "Resource": {"Ref": "LogDestinationArn"},
        }]),
        "LogDeliveryRole grants"
    );

    // Whatever names the destination or the role exists only under the condition.
    for (id, resource) in resources {
        let text = resource.to_string();
        if text.contains("\"LogDestinationArn\"") || text.contains("\"LogDeliveryRole\"") {
            assert_eq!(
                resource["Condition"],
                json!("HasLogDestination"),
                "{id} outside the condition"
            );
        }
    }
    let parameter = &template()["Parameters"]["LogDestinationArn"];
    let pattern = parameter["AllowedPattern"]
        .as_str()
        .expect("an AllowedPattern");
    assert!(
        pattern.starts_with("^$|") && pattern.contains(":firehose:"),
        "{pattern}"
    );
}
