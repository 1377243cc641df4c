//! The template's rollback alarms, read once: every entry of a function's
//! `DeploymentPreference.Alarms`, each the `AWS::CloudWatch::Alarm` its `!Ref` names, as a
//! [`Definition`]. Dimension values resolve with the runner's stack (`!Ref AuthFunction` is the
//! function's name, `!Sub "${AuthFunction}:live"` too), except `!GetAtt <Fn>.Version.Version`,
//! which stays a slot for the version being evaluated. What the runner cannot evaluate is kept
//! with the reason ([`Definition::problem`]): an alarm is never dropped.

use super::datapoints::Interest;
use super::expression::{self, Expr};
use redline_template::{intrinsic, scalar_string, Resolver, Template};
use serde_yaml_ng::Value;
use std::collections::{BTreeMap, BTreeSet};

/// A dimension's value: known now, or the version the evaluation is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DimensionValue {
    Fixed(String),
    /// `!GetAtt <LogicalId>.Version.Version`.
    VersionOf(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stat {
    Sum,
    Average,
    Maximum,
    Minimum,
    SampleCount,
    /// `pNN`: the percentile, 0 to 100.
    Percentile(f64),
}

impl Stat {
    pub fn parse(text: &str) -> Result<Stat, String> {
        Ok(match text {
            "Sum" => Stat::Sum,
            "Average" => Stat::Average,
            "Maximum" => Stat::Maximum,
            "Minimum" => Stat::Minimum,
            "SampleCount" => Stat::SampleCount,
            other => match other.strip_prefix('p').and_then(|p| p.parse::<f64>().ok()) {
                Some(p) if (0.0..=100.0).contains(&p) => Stat::Percentile(p),
                _ => return Err(format!("the statistic {other} is not supported locally")),
            },
        })
    }
}

/// One metric and the statistic taken of it per period.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricStat {
    pub namespace: String,
    pub metric: String,
    pub dimensions: Vec<(String, DimensionValue)>,
    pub stat: Stat,
    /// As written (`Sum`, `p99`), for `DescribeAlarms`.
    pub stat_text: String,
    pub period_s: u64,
}

/// An entry of a metric-math alarm's `Metrics`.
#[derive(Debug, Clone, PartialEq)]
pub struct MathEntry {
    pub id: String,
    pub label: Option<String>,
    pub return_data: bool,
    pub kind: EntryKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EntryKind {
    Metric(MetricStat),
    /// The text, and its parse when the runner can evaluate it.
    Expression(String, Option<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Single(MetricStat),
    Math(Vec<MathEntry>),
    /// Neither a metric nor metric math could be read.
    Unreadable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    GreaterThanOrEqualToThreshold,
    GreaterThanThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
}

impl Comparison {
    pub fn parse(text: &str) -> Option<Comparison> {
        Some(match text {
            "GreaterThanOrEqualToThreshold" => Comparison::GreaterThanOrEqualToThreshold,
            "GreaterThanThreshold" => Comparison::GreaterThanThreshold,
            "LessThanThreshold" => Comparison::LessThanThreshold,
            "LessThanOrEqualToThreshold" => Comparison::LessThanOrEqualToThreshold,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::GreaterThanOrEqualToThreshold => "GreaterThanOrEqualToThreshold",
            Comparison::GreaterThanThreshold => "GreaterThanThreshold",
            Comparison::LessThanThreshold => "LessThanThreshold",
            Comparison::LessThanOrEqualToThreshold => "LessThanOrEqualToThreshold",
        }
    }

    /// What the reasons say: "greater than the threshold".
    pub fn words(self) -> &'static str {
        match self {
            Comparison::GreaterThanOrEqualToThreshold => "greater than or equal to",
            Comparison::GreaterThanThreshold => "greater than",
            Comparison::LessThanThreshold => "less than",
            Comparison::LessThanOrEqualToThreshold => "less than or equal to",
        }
    }

    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::GreaterThanOrEqualToThreshold => value >= threshold,
            Comparison::GreaterThanThreshold => value > threshold,
            Comparison::LessThanThreshold => value < threshold,
            Comparison::LessThanOrEqualToThreshold => value <= threshold,
        }
    }
}

/// `TreatMissingData`, as CloudWatch defines each (its default is `missing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreatMissing {
    NotBreaching,
    Breaching,
    Ignore,
    Missing,
}

impl TreatMissing {
    pub fn parse(text: &str) -> Option<TreatMissing> {
        Some(match text {
            "notBreaching" => TreatMissing::NotBreaching,
            "breaching" => TreatMissing::Breaching,
            "ignore" => TreatMissing::Ignore,
            "missing" => TreatMissing::Missing,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TreatMissing::NotBreaching => "notBreaching",
            TreatMissing::Breaching => "breaching",
            TreatMissing::Ignore => "ignore",
            TreatMissing::Missing => "missing",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub name: String,
    pub logical_id: String,
    /// The function whose `DeploymentPreference.Alarms` names it.
    pub function: String,
    pub description: Option<String>,
    pub source: Source,
    pub period_s: u64,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: u32,
    pub comparison: Comparison,
    pub threshold: f64,
    pub treat_missing: TreatMissing,
    /// Why the runner cannot evaluate it; `None` when it can.
    pub problem: Option<String>,
}

/// The metrics the runner has: its Lambda stand-ins, and whatever EMF metric redline's
/// functions emit (the catalogue), in any namespace that is not AWS's (`metrics.namespace` is
/// configuration).
fn known_metric(namespace: &str, metric: &str) -> Result<(), String> {
    if namespace == "AWS/Lambda" {
        return match metric {
            "Errors" | "Invocations" => Ok(()),
            other => Err(format!(
                "the runner does not produce AWS/Lambda {other} (only Errors and Invocations)"
            )),
        };
    }
    if namespace.starts_with("AWS/") {
        return Err(format!("the runner has no {namespace} metrics"));
    }
    let emitted = redline_core::metrics::catalogue::Metric::ALL
        .iter()
        .any(|m| m.name() == metric);
    if emitted {
        Ok(())
    } else {
        Err(format!(
            "{namespace} {metric} is not a metric redline's functions emit"
        ))
    }
}

/// Reads one alarm resource; `problem` collects the first reason it cannot be evaluated.
struct Reader<'a> {
    resolver: &'a Resolver,
    functions: &'a BTreeSet<String>,
    problem: Option<String>,
}

impl Reader<'_> {
    fn fail(&mut self, reason: impl Into<String>) {
        if self.problem.is_none() {
            self.problem = Some(reason.into());
        }
    }

    fn text(&mut self, value: Option<&Value>, what: &str) -> Option<String> {
        let value = value?;
        match self.resolver.resolve(value) {
            Ok(text) => Some(text),
            Err(e) => {
                self.fail(format!("{what} does not resolve ({e})"));
                None
            }
        }
    }

    fn number(&mut self, value: Option<&Value>, what: &str) -> Option<f64> {
        let text = self.text(value, what)?;
        match text.parse() {
            Ok(n) => Some(n),
            Err(_) => {
                self.fail(format!("{what} {text} is not a number"));
                None
            }
        }
    }

    fn dimension(&mut self, value: &Value) -> Option<DimensionValue> {
        if let Some((name, argument)) = intrinsic(value) {
            if name == "Fn::GetAtt" {
                let (resource, attribute) = match argument {
                    Value::String(dotted) => dotted
                        .split_once('.')
                        .map(|(r, a)| (r.to_string(), a.to_string()))
                        .unwrap_or_default(),
                    Value::Sequence(items) => (
                        items.first().and_then(scalar_string).unwrap_or_default(),
                        items.get(1).and_then(scalar_string).unwrap_or_default(),
                    ),
                    _ => Default::default(),
                };
                if attribute == "Version.Version" && self.functions.contains(&resource) {
                    return Some(DimensionValue::VersionOf(resource));
                }
                self.fail(format!(
                    "the dimension value !GetAtt {resource}.{attribute} is not known locally"
                ));
                return None;
            }
        }
        self.text(Some(value), "a dimension value")
            .map(DimensionValue::Fixed)
    }

    fn metric_stat(
        &mut self,
        metric: Option<&Value>,
        stat: Option<String>,
        period: Option<&Value>,
    ) -> Option<MetricStat> {
        let metric = metric?;
        let namespace = self.text(metric.get("Namespace"), "Namespace")?;
        let name = self.text(metric.get("MetricName"), "MetricName")?;
        if let Err(reason) = known_metric(&namespace, &name) {
            self.fail(reason);
        }
        let mut dimensions = Vec::new();
        for dimension in metric
            .get("Dimensions")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            let key = self.text(dimension.get("Name"), "a dimension name")?;
            let value = self.dimension(dimension.get("Value").unwrap_or(&Value::Null))?;
            dimensions.push((key, value));
        }
        let Some(stat_text) = stat else {
            self.fail("no Statistic, ExtendedStatistic or Stat");
            return None;
        };
        let stat = match Stat::parse(&stat_text) {
            Ok(stat) => stat,
            Err(reason) => {
                self.fail(reason);
                Stat::Sum
            }
        };
        let period_s = self.number(period, "Period").unwrap_or(60.0);
        if period_s < 60.0 || period_s % 60.0 != 0.0 {
            self.fail(format!(
                "a Period of {period_s} s is not a whole number of minutes"
            ));
        }
        Some(MetricStat {
            namespace,
            metric: name,
            dimensions,
            stat,
            stat_text,
            period_s: period_s as u64,
        })
    }

    fn math(&mut self, entries: &[Value]) -> Vec<MathEntry> {
        let mut out = Vec::new();
        for entry in entries {
            let id = self.text(entry.get("Id"), "Id").unwrap_or_default();
            let label = self.text(entry.get("Label"), "Label");
            let return_data = self
                .text(entry.get("ReturnData"), "ReturnData")
                .is_none_or(|r| r == "true");
            let kind = if let Some(stat) = entry.get("MetricStat") {
                let text = self.text(stat.get("Stat"), "Stat");
                match self.metric_stat(stat.get("Metric"), text, stat.get("Period")) {
                    Some(metric) => EntryKind::Metric(metric),
                    None => continue,
                }
            } else if let Some(text) = self.text(entry.get("Expression"), "Expression") {
                let parsed = expression::parse(&text)
                    .map_err(|e| self.fail(format!("the expression {text}: {e}")))
                    .ok();
                EntryKind::Expression(text, parsed)
            } else {
                self.fail(format!(
                    "the entry {id} has neither MetricStat nor Expression"
                ));
                continue;
            };
            out.push(MathEntry {
                id,
                label,
                return_data,
                kind,
            });
        }
        self.check_math(&out);
        out
    }

    /// One expression returns data, on metrics of one period, naming only ids that exist.
    fn check_math(&mut self, entries: &[MathEntry]) {
        let returned: Vec<&MathEntry> = entries.iter().filter(|e| e.return_data).collect();
        let [returned] = returned.as_slice() else {
            return self.fail("a metric-math alarm returns exactly one time series");
        };
        let EntryKind::Expression(_, Some(expr)) = &returned.kind else {
            return self.fail("the entry returning data is not an expression the runner reads");
        };
        let ids: BTreeSet<&str> = entries
            .iter()
            .filter(|e| matches!(e.kind, EntryKind::Metric(_)))
            .map(|e| e.id.as_str())
            .collect();
        for id in expr.ids() {
            if !ids.contains(id.as_str()) {
                self.fail(format!(
                    "the expression reads {id}, which is no metric of the alarm"
                ));
            }
        }
        let periods: BTreeSet<u64> = entries
            .iter()
            .filter_map(|e| match &e.kind {
                EntryKind::Metric(m) => Some(m.period_s),
                _ => None,
            })
            .collect();
        if periods.len() > 1 {
            self.fail("the metrics of a metric-math alarm have one period");
        }
    }
}

/// Reads one `AWS::CloudWatch::Alarm` resource's properties.
fn read(
    name: String,
    logical_id: &str,
    function: &str,
    properties: &Value,
    resolver: &Resolver,
    functions: &BTreeSet<String>,
) -> Definition {
    let mut reader = Reader {
        resolver,
        functions,
        problem: None,
    };
    let p = |key: &str| properties.get(key);
    if p("ThresholdMetricId").is_some() {
        reader.fail("anomaly-detection alarms (ThresholdMetricId) are not evaluated locally");
    }
    let source = if let Some(entries) = p("Metrics").and_then(Value::as_sequence) {
        Source::Math(reader.math(entries))
    } else {
        let stat = reader
            .text(p("Statistic"), "Statistic")
            .or_else(|| reader.text(p("ExtendedStatistic"), "ExtendedStatistic"));
        match reader.metric_stat(Some(properties), stat, p("Period")) {
            Some(metric) => Source::Single(metric),
            None => Source::Unreadable,
        }
    };
    let period_s = match &source {
        Source::Single(metric) => metric.period_s,
        Source::Math(entries) => entries
            .iter()
            .find_map(|e| match &e.kind {
                EntryKind::Metric(m) => Some(m.period_s),
                _ => None,
            })
            .unwrap_or(60),
        Source::Unreadable => 60,
    };
    if source == Source::Unreadable {
        reader.fail("the alarm names neither a metric nor metric math");
    }
    let evaluation_periods = reader
        .number(p("EvaluationPeriods"), "EvaluationPeriods")
        .unwrap_or(1.0)
        .max(1.0) as u32;
    let datapoints_to_alarm = reader
        .number(p("DatapointsToAlarm"), "DatapointsToAlarm")
        .map(|n| n as u32)
        .unwrap_or(evaluation_periods);
    if datapoints_to_alarm == 0 || datapoints_to_alarm > evaluation_periods {
        reader.fail("DatapointsToAlarm is between 1 and EvaluationPeriods");
    }
    let operator = reader
        .text(p("ComparisonOperator"), "ComparisonOperator")
        .unwrap_or_default();
    let comparison = Comparison::parse(&operator).unwrap_or_else(|| {
        reader.fail(format!(
            "the comparison {operator:?} is not evaluated locally"
        ));
        Comparison::GreaterThanThreshold
    });
    let threshold = reader
        .number(p("Threshold"), "Threshold")
        .unwrap_or_else(|| {
            reader.fail("no Threshold");
            0.0
        });
    let missing = reader
        .text(p("TreatMissingData"), "TreatMissingData")
        .unwrap_or_else(|| "missing".into());
    let treat_missing = TreatMissing::parse(&missing).unwrap_or_else(|| {
        reader.fail(format!(
            "TreatMissingData {missing} is not one of CloudWatch's"
        ));
        TreatMissing::Missing
    });
    Definition {
        description: reader.text(p("AlarmDescription"), "AlarmDescription"),
        name,
        logical_id: logical_id.into(),
        function: function.into(),
        source,
        period_s,
        evaluation_periods,
        datapoints_to_alarm,
        comparison,
        threshold,
        treat_missing,
        problem: reader.problem,
    }
}

/// Every rollback alarm of the template, in the order the functions name them. `names` maps
/// each function's logical id to its function name.
pub fn rollback_alarms(
    root: &Value,
    template: &Template,
    resolver: &Resolver,
    names: &BTreeMap<String, String>,
) -> Vec<Definition> {
    // The stack's resolver, plus each function's logical id standing for its name, as
    // CloudFormation resolves `!Ref` of a function.
    let mut parameters = resolver.parameters.clone();
    for (logical_id, name) in names {
        parameters.insert(logical_id.clone(), Some(name.clone()));
    }
    let local = Resolver {
        parameters,
        conditions: resolver.conditions.clone(),
        region: resolver.region.clone(),
        account_id: resolver.account_id.clone(),
        stack_name: resolver.stack_name.clone(),
    };
    let functions: BTreeSet<String> = names.keys().cloned().collect();
    let resources = root.get("Resources");
    let mut out = Vec::new();
    for function in &template.functions {
        let alarms = function
            .properties
            .get("DeploymentPreference")
            .and_then(|p| p.get("Alarms"))
            .and_then(Value::as_sequence);
        for entry in alarms.into_iter().flatten() {
            let referenced = intrinsic(entry)
                .filter(|(name, _)| name == "Ref")
                .and_then(|(_, target)| target.as_str().map(str::to_string));
            let resource = referenced.as_deref().and_then(|id| {
                resources
                    .and_then(|r| r.get(id))
                    .filter(|r| {
                        r.get("Type").and_then(Value::as_str) == Some("AWS::CloudWatch::Alarm")
                    })
                    .map(|r| (id, r))
            });
            let Some((logical_id, resource)) = resource else {
                let name = local.resolve(entry).unwrap_or_else(|e| e.0);
                out.push(unreadable(
                    name,
                    &function.logical_id,
                    "it is not an AWS::CloudWatch::Alarm of the template",
                ));
                continue;
            };
            let properties = resource.get("Properties").cloned().unwrap_or(Value::Null);
            let name = match properties.get("AlarmName") {
                Some(name) => local.resolve(name).unwrap_or_else(|e| e.0),
                // CloudFormation's own name, without its random suffix.
                None => format!("{}-{logical_id}", local.stack_name),
            };
            out.push(read(
                name,
                logical_id,
                &function.logical_id,
                &properties,
                &local,
                &functions,
            ));
        }
    }
    out
}

fn unreadable(name: String, function: &str, reason: &str) -> Definition {
    Definition {
        name,
        logical_id: String::new(),
        function: function.into(),
        description: None,
        source: Source::Unreadable,
        period_s: 60,
        evaluation_periods: 1,
        datapoints_to_alarm: 1,
        comparison: Comparison::GreaterThanThreshold,
        threshold: 0.0,
        treat_missing: TreatMissing::Missing,
        problem: Some(reason.into()),
    }
}

impl Definition {
    /// Its metrics.
    pub fn metrics(&self) -> Vec<&MetricStat> {
        match &self.source {
            Source::Single(metric) => vec![metric],
            Source::Math(entries) => entries
                .iter()
                .filter_map(|e| match &e.kind {
                    EntryKind::Metric(m) => Some(m),
                    EntryKind::Expression(..) => None,
                })
                .collect(),
            Source::Unreadable => Vec::new(),
        }
    }

    /// The series it can read, for the datapoint store to keep.
    pub fn interests(&self) -> Vec<Interest> {
        self.metrics()
            .into_iter()
            .map(|m| {
                let mut dimension_names: Vec<String> =
                    m.dimensions.iter().map(|(n, _)| n.clone()).collect();
                dimension_names.sort();
                Interest {
                    namespace: m.namespace.clone(),
                    metric: m.metric.clone(),
                    dimension_names,
                }
            })
            .collect()
    }

    /// How far back an evaluation looks, in CloudWatch minutes: [`super::evaluate::RANGE`]
    /// times the evaluation periods.
    pub fn look_back_minutes(&self) -> u64 {
        self.period_s / 60 * u64::from(self.evaluation_periods) * super::evaluate::RANGE + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Resources:
  AuthFunction:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub "${AWS::StackName}-auth"
      DeploymentPreference:
        Type: AllAtOnce
        Alarms:
          - !Ref Rate
          - !Ref Errors
          - !Ref Band
          - literal-name
  Rate:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: !Sub "${AWS::StackName}-auth-rate"
      Metrics:
        - {Id: requests, ReturnData: false, MetricStat: {Period: 60, Stat: Sum, Metric: {Namespace: Redline, MetricName: Requests, Dimensions: [{Name: Version, Value: !GetAtt AuthFunction.Version.Version}]}}}
        - {Id: errors, ReturnData: false, MetricStat: {Period: 60, Stat: Sum, Metric: {Namespace: Redline, MetricName: ServerErrors, Dimensions: [{Name: Version, Value: !GetAtt AuthFunction.Version.Version}]}}}
        - {Id: rate, Expression: "IF(requests >= 10, 100 * errors / requests, 0)"}
      ComparisonOperator: GreaterThanThreshold
      Threshold: 5
      EvaluationPeriods: 3
      DatapointsToAlarm: 2
      TreatMissingData: notBreaching
  Errors:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/Lambda
      MetricName: Errors
      Dimensions:
        - {Name: FunctionName, Value: !Ref AuthFunction}
        - {Name: Resource, Value: !Sub "${AuthFunction}:live"}
      Statistic: Sum
      Period: 60
      ComparisonOperator: GreaterThanThreshold
      Threshold: 0
      EvaluationPeriods: 3
  Band:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: band
      Metrics:
        - {Id: m1, ReturnData: true, MetricStat: {Period: 60, Stat: Average, Metric: {Namespace: Redline, MetricName: Latency}}}
        - {Id: ad1, Expression: "ANOMALY_DETECTION_BAND(m1, 2)"}
      ThresholdMetricId: ad1
      ComparisonOperator: LessThanLowerOrGreaterThanUpperThreshold
      EvaluationPeriods: 1
"#;

    fn alarms() -> Vec<Definition> {
        let root: Value = serde_yaml_ng::from_str(TEMPLATE).unwrap();
        let template = Template::from_document(&root).unwrap();
        let resolver = Resolver {
            parameters: Default::default(),
            conditions: Default::default(),
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            stack_name: "redline-local".into(),
        };
        let names = [("AuthFunction".to_string(), "redline-local-auth".to_string())].into();
        rollback_alarms(&root, &template, &resolver, &names)
    }

    #[test]
    fn metric_math_and_single_metric_alarms_are_read_with_the_version_as_a_slot() {
        let alarms = alarms();
        assert_eq!(alarms.len(), 4, "none is dropped");
        let rate = &alarms[0];
        assert_eq!(
            (rate.name.as_str(), rate.problem.as_ref()),
            ("redline-local-auth-rate", None)
        );
        assert_eq!((rate.evaluation_periods, rate.datapoints_to_alarm), (3, 2));
        assert_eq!(rate.treat_missing, TreatMissing::NotBreaching);
        assert_eq!(
            rate.metrics()[0].dimensions,
            [(
                "Version".to_string(),
                DimensionValue::VersionOf("AuthFunction".into())
            )]
        );
        let errors = &alarms[1];
        assert_eq!(errors.name, "redline-local-Errors");
        assert_eq!(errors.problem, None);
        assert_eq!(
            errors.treat_missing,
            TreatMissing::Missing,
            "CloudWatch's default"
        );
        assert_eq!(
            errors.metrics()[0].dimensions,
            [
                (
                    "FunctionName".to_string(),
                    DimensionValue::Fixed("redline-local-auth".into())
                ),
                (
                    "Resource".to_string(),
                    DimensionValue::Fixed("redline-local-auth:live".into())
                ),
            ]
        );
    }

    #[test]
    fn what_cannot_be_evaluated_keeps_its_name_and_says_why() {
        let alarms = alarms();
        let band = &alarms[2];
        assert_eq!(band.name, "band");
        assert!(
            band.problem.as_ref().unwrap().contains("anomaly"),
            "{band:?}"
        );
        let literal = &alarms[3];
        assert_eq!(literal.name, "literal-name");
        assert!(literal.problem.is_some());
    }
}
