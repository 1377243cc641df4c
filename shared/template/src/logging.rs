//! A function's `LoggingConfig` (with `Globals` applied): the log format, the application and
//! system log levels Lambda filters by, and the log group. [`LoggingSpec`] is what the template
//! says, intrinsic functions unresolved; [`LoggingSpec::resolve`] makes it a [`Logging`] for given
//! parameters, with Lambda's defaults for what the template leaves out.

use crate::intrinsics::Resolver;
use serde_yaml_ng::Value;

/// `LoggingConfig.LogFormat`: `Text` (Lambda's default) or `JSON`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// The value as Lambda's API and `AWS_LAMBDA_LOG_FORMAT` spell it.
    pub const fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "Text",
            LogFormat::Json => "JSON",
        }
    }

    /// The template's value; `None` for anything Lambda's API would refuse.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "Text" => Some(LogFormat::Text),
            "JSON" => Some(LogFormat::Json),
            _ => None,
        }
    }
}

/// Lambda's log levels, from the most detailed to the least: a filter at one level keeps that
/// level and every level after it. Application logs use all six; system logs DEBUG, INFO, WARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl LogLevel {
    pub const ALL: [LogLevel; 6] = [
        LogLevel::Trace,
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Warn,
        LogLevel::Error,
        LogLevel::Fatal,
    ];

    /// Upper case, as the template, `AWS_LAMBDA_LOG_LEVEL` and Lambda's JSON lines write it.
    pub const fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
            LogLevel::Fatal => "FATAL",
        }
    }

    /// A level in any letter case (`warn`, `WARN`); `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        LogLevel::ALL
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(text))
    }
}

/// `LoggingConfig` as the template writes it: each value may be an intrinsic function.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoggingSpec {
    pub log_format: Option<Value>,
    pub application_log_level: Option<Value>,
    pub system_log_level: Option<Value>,
    pub log_group: Option<Value>,
}

/// `LoggingConfig` resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logging {
    pub format: LogFormat,
    /// The level Lambda filters the function's own lines at: JSON format only, INFO when the
    /// template leaves it out (Lambda's default). `None` in Text format: nothing is filtered.
    pub application_level: Option<LogLevel>,
    /// The level of the platform's own lines (JSON format only, INFO by default).
    pub system_level: Option<LogLevel>,
    /// The log group, when the template names one this side can resolve (a `!Ref` of a log
    /// group resource is only known in AWS: `None`, the default `/aws/lambda/<name>` applies).
    pub log_group: Option<String>,
}

impl Default for Logging {
    /// What Lambda does for a function without `LoggingConfig`.
    fn default() -> Self {
        Logging {
            format: LogFormat::Text,
            application_level: None,
            system_level: None,
            log_group: None,
        }
    }
}

impl LoggingSpec {
    /// The `LoggingConfig` of a function's properties (absent: every value `None`).
    pub fn of(properties: &Value) -> Self {
        let config = properties.get("LoggingConfig");
        let value = |key: &str| config.and_then(|c| c.get(key)).cloned();
        LoggingSpec {
            log_format: value("LogFormat"),
            application_log_level: value("ApplicationLogLevel"),
            system_log_level: value("SystemLogLevel"),
            log_group: value("LogGroup"),
        }
    }

    /// The values for these parameters. A format or level that does not resolve, or is not one
    /// Lambda accepts, is an error naming it; levels are ignored in Text format, as Lambda
    /// ignores them (its API refuses them there).
    pub fn resolve(&self, resolver: &Resolver) -> Result<Logging, String> {
        let text = |key: &str, value: &Option<Value>| -> Result<Option<String>, String> {
            match value {
                None => Ok(None),
                Some(value) => resolver
                    .resolve(value)
                    .map(|text| (!text.is_empty()).then_some(text))
                    .map_err(|unresolved| {
                        format!("LoggingConfig.{key} is unresolved ({unresolved})")
                    }),
            }
        };
        let format = match text("LogFormat", &self.log_format)? {
            None => LogFormat::Text,
            Some(format) => LogFormat::parse(&format).ok_or_else(|| {
                format!("LoggingConfig.LogFormat is {format}; Lambda takes Text or JSON")
            })?,
        };
        let level = |key: &str, value: &Option<Value>| -> Result<LogLevel, String> {
            match text(key, value)? {
                None => Ok(LogLevel::Info),
                Some(level) => LogLevel::parse(&level)
                    .filter(|parsed| parsed.as_str() == level)
                    .ok_or_else(|| {
                        format!("LoggingConfig.{key} is {level}, not a Lambda log level")
                    }),
            }
        };
        let (application_level, system_level) = match format {
            LogFormat::Text => (None, None),
            LogFormat::Json => (
                Some(level("ApplicationLogLevel", &self.application_log_level)?),
                Some(level("SystemLogLevel", &self.system_log_level)?),
            ),
        };
        let log_group = match &self.log_group {
            None => None,
            Some(value) => resolver
                .resolve(value)
                .ok()
                .filter(|group| !group.is_empty()),
        };
        Ok(Logging {
            format,
            application_level,
            system_level,
            log_group,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Template;
    use std::collections::BTreeMap;

    fn resolver() -> Resolver {
        let mut parameters = BTreeMap::new();
        parameters.insert("Level".to_string(), Some("WARN".to_string()));
        Resolver {
            parameters,
            conditions: BTreeMap::new(),
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            stack_name: "redline".into(),
        }
    }

    fn logging(globals: &str, function: &str) -> Result<Logging, String> {
        let template = Template::parse(&format!(
            "Globals:\n  Function:\n    Runtime: provided.al2023\n{globals}\nResources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Handler: bootstrap\n{function}"
        ))
        .unwrap();
        template.functions[0].logging().resolve(&resolver())
    }

    #[test]
    fn no_logging_config_is_lambdas_text_format() {
        assert_eq!(logging("", "").unwrap(), Logging::default());
    }

    #[test]
    fn globals_and_the_function_merge_as_sam_merges_them() {
        let merged = logging(
            "    LoggingConfig: {LogFormat: JSON, ApplicationLogLevel: INFO, SystemLogLevel: INFO}",
            "      LoggingConfig: {LogGroup: !Sub '/custom/${AWS::StackName}', ApplicationLogLevel: !Ref Level}",
        )
        .unwrap();
        assert_eq!(
            merged,
            Logging {
                format: LogFormat::Json,
                application_level: Some(LogLevel::Warn),
                system_level: Some(LogLevel::Info),
                log_group: Some("/custom/redline".into()),
            }
        );
    }

    #[test]
    fn json_without_levels_filters_at_info_and_text_ignores_levels() {
        let json = logging("    LoggingConfig: {LogFormat: JSON}", "").unwrap();
        assert_eq!(json.application_level, Some(LogLevel::Info));
        assert_eq!(json.system_level, Some(LogLevel::Info));
        let text = logging(
            "    LoggingConfig: {LogFormat: Text, ApplicationLogLevel: DEBUG}",
            "",
        )
        .unwrap();
        assert_eq!(
            (text.format, text.application_level),
            (LogFormat::Text, None)
        );
    }

    #[test]
    fn a_resource_log_group_is_left_to_the_default_and_bad_values_are_named() {
        let group = logging("", "      LoggingConfig: {LogGroup: !Ref SomeLogGroup}").unwrap();
        assert_eq!(group.log_group, None);
        let format = logging("    LoggingConfig: {LogFormat: json}", "").unwrap_err();
        assert!(format.contains("LogFormat is json"), "{format}");
        let level = logging(
            "    LoggingConfig: {LogFormat: JSON, ApplicationLogLevel: warn}",
            "",
        )
        .unwrap_err();
        assert!(level.contains("ApplicationLogLevel is warn"), "{level}");
        let unresolved = logging(
            "    LoggingConfig: {LogFormat: JSON, SystemLogLevel: !Ref Missing}",
            "",
        )
        .unwrap_err();
        assert!(
            unresolved.contains("SystemLogLevel is unresolved"),
            "{unresolved}"
        );
    }

    #[test]
    fn levels_order_from_trace_to_fatal_in_any_case() {
        assert!(LogLevel::Trace < LogLevel::Debug && LogLevel::Error < LogLevel::Fatal);
        assert_eq!(LogLevel::parse("warn"), Some(LogLevel::Warn));
        assert_eq!(LogLevel::parse("WARNING"), None);
    }
}
