//! Lambda's log-level filter, as it applies to a function's output in JSON log format: a line
//! that is a JSON object with a valid `level` and a valid RFC 3339 `timestamp` has that level;
//! any other line (plain text, EMF documents, JSON without both fields) counts as INFO. A line
//! is kept when its level is at least `ApplicationLogLevel`. In Text format nothing is filtered.

use redline_template::{LogLevel, Logging};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogFilter {
    /// `None`: Text format, every line is kept.
    minimum: Option<LogLevel>,
}

impl LogFilter {
    pub fn of(logging: &Logging) -> Self {
        LogFilter {
            minimum: logging.application_level,
        }
    }

    /// Whether Lambda would keep a line, given its JSON object when it is one.
    pub fn keeps(&self, object: Option<&Map<String, Value>>) -> bool {
        match self.minimum {
            None => true,
            Some(minimum) => level_of(object) >= minimum,
        }
    }
}

/// The level Lambda gives a line.
pub fn level_of(object: Option<&Map<String, Value>>) -> LogLevel {
    let field = |name: &str| object.and_then(|o| o.get(name)).and_then(Value::as_str);
    match (field("level").and_then(LogLevel::parse), field("timestamp")) {
        (Some(level), Some(timestamp)) if is_rfc3339(timestamp) => level,
        _ => LogLevel::Info,
    }
}

/// `2024-11-02T16:51:31.587199Z`, `2024-11-02t16:51:31+02:00`, `2024-11-02 16:51:31Z`: an RFC 3339
/// date-time (its section 5.6, with the space its note allows), fields in range.
pub fn is_rfc3339(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |from: usize, to: usize| -> Option<u32> {
        let part = bytes.get(from..to)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let at = |i: usize, expected: &[u8]| bytes.get(i).is_some_and(|b| expected.contains(b));
    let (Some(year), Some(month), Some(day)) = (digits(0, 4), digits(5, 7), digits(8, 10)) else {
        return false;
    };
    let (Some(hour), Some(minute), Some(second)) = (digits(11, 13), digits(14, 16), digits(17, 19))
    else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return false,
    };
    if !(at(4, b"-") && at(7, b"-") && at(10, b"Tt ") && at(13, b":") && at(16, b":")) {
        return false;
    }
    if day == 0 || day > days || hour > 23 || minute > 59 || second > 60 {
        return false;
    }
    let mut i = 19;
    if at(i, b".") {
        i += 1;
        let start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match bytes.get(i) {
        Some(b'Z' | b'z') => i + 1 == bytes.len(),
        Some(b'+' | b'-') => {
            i + 6 == bytes.len()
                && at(i + 3, b":")
                && digits(i + 1, i + 3).is_some_and(|h| h <= 23)
                && digits(i + 4, i + 6).is_some_and(|m| m <= 59)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn timestamps_follow_rfc3339() {
        for good in [
            "2024-11-02T16:51:31.587199Z",
            "2024-11-02T16:51:31Z",
            "2024-02-29t00:00:00+02:00",
            "2024-11-02 16:51:31.5-05:30",
            "2016-12-31T23:59:60Z",
        ] {
            assert!(is_rfc3339(good), "{good}");
        }
        for bad in [
            "2024-11-02",
            "2024-11-02T16:51:31",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-11-02T24:00:00Z",
            "2024-11-02T16:51:31.Z",
            "2024-11-02T16:51:31+0200",
            "1730566291587",
            "2024-11-02T16:51:31Zjunk",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }

    #[test]
    fn a_line_has_its_level_only_with_a_valid_timestamp() {
        let at = |level: &str, timestamp: Value| {
            level_of(Some(&object(
                json!({"level": level, "timestamp": timestamp}),
            )))
        };
        assert_eq!(at("debug", json!("2024-11-02T16:51:31Z")), LogLevel::Debug);
        assert_eq!(at("WARN", json!("2024-11-02T16:51:31Z")), LogLevel::Warn);
        assert_eq!(at("DEBUG", json!(1730566291587u64)), LogLevel::Info);
        assert_eq!(at("DEBUG", json!("yesterday")), LogLevel::Info);
        assert_eq!(at("VERBOSE", json!("2024-11-02T16:51:31Z")), LogLevel::Info);
        assert_eq!(
            level_of(Some(&object(json!({"level": "ERROR"})))),
            LogLevel::Info
        );
        assert_eq!(level_of(None), LogLevel::Info);
    }

    #[test]
    fn json_format_filters_below_the_application_level_and_text_keeps_all() {
        let debug = object(json!({"level": "DEBUG", "timestamp": "2024-11-02T16:51:31Z"}));
        let error = object(json!({"level": "ERROR", "timestamp": "2024-11-02T16:51:31Z"}));
        let emf = object(json!({"_aws": {"CloudWatchMetrics": []}}));
        let filter = |level: Option<LogLevel>| LogFilter { minimum: level };
        let info = filter(Some(LogLevel::Info));
        assert!(!info.keeps(Some(&debug)));
        assert!(info.keeps(Some(&error)) && info.keeps(Some(&emf)) && info.keeps(None));
        let warn = filter(Some(LogLevel::Warn));
        assert!(
            !warn.keeps(Some(&emf)) && !warn.keeps(None),
            "EMF and text count as INFO"
        );
        assert!(warn.keeps(Some(&error)));
        let text = filter(None);
        assert!(text.keeps(Some(&debug)) && text.keeps(None));
    }

    /// The operations contract: the template's `ApplicationLogLevel` must keep INFO lines, or
    /// Lambda drops every EMF document and no metric reaches CloudWatch.
    #[test]
    fn the_templates_log_levels_keep_emf_documents() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
        let template = redline_template::Template::load(&root).unwrap();
        let resolver = redline_template::Resolver {
            parameters: template.parameters.clone(),
            conditions: template.conditions.clone(),
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            stack_name: "redline".into(),
        };
        let emf = object(json!({"_aws": {"Timestamp": 1u64, "CloudWatchMetrics": []}}));
        assert!(!template.functions.is_empty());
        for function in &template.functions {
            let logging = function.logging().resolve(&resolver).unwrap();
            assert!(
                LogFilter::of(&logging).keeps(Some(&emf)),
                "{}: {logging:?} drops EMF documents",
                function.logical_id
            );
        }
    }
}
