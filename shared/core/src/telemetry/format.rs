//! The line formatter: Lambda's JSON log format (`timestamp`, `level`, `message`, `requestId`,
//! flat fields) or, when `AWS_LAMBDA_LOG_FORMAT` is `Text`, one readable line. Every value goes
//! through the redaction policy here, so no call site can leak by forgetting. EMF documents
//! ([`EMF_TARGET`]) are written verbatim.

use super::redact::{self, Policy, REDACTED};
use crate::invocation;
use crate::metrics::emf::push_json_str;
use crate::metrics::EMF_TARGET;
use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::Write;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};

/// `AWS_LAMBDA_LOG_FORMAT`: JSON unless `Text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

impl LogFormat {
    pub fn from_env() -> Self {
        match std::env::var("AWS_LAMBDA_LOG_FORMAT") {
            Ok(value) if value.eq_ignore_ascii_case("text") => LogFormat::Text,
            _ => LogFormat::Json,
        }
    }
}

/// Writes each event as one line to `writer`.
pub struct LambdaFormat<W> {
    writer: W,
    format: LogFormat,
}

impl<W> LambdaFormat<W> {
    pub fn new(writer: W, format: LogFormat) -> Self {
        LambdaFormat { writer, format }
    }
}

thread_local! {
    static LINE: RefCell<String> = RefCell::new(String::with_capacity(1024));
}

impl<S, W> Layer<S> for LambdaFormat<W>
where
    S: Subscriber,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        LINE.with(|line| {
            let Ok(mut line) = line.try_borrow_mut() else {
                return; // an event raised while writing one: dropped rather than interleaved
            };
            line.clear();
            if event.metadata().target() == EMF_TARGET {
                event.record(&mut Verbatim(&mut line));
            } else {
                format_event(&mut line, event, self.format);
            }
            line.push('\n');
            let _ = self.writer.make_writer().write_all(line.as_bytes());
        });
    }
}

fn format_event(line: &mut String, event: &Event<'_>, format: LogFormat) {
    let level = level_name(*event.metadata().level());
    let timestamp = humantime::format_rfc3339_millis(std::time::SystemTime::now());
    let context = invocation::with(|i| (i.request_id.clone(), i.trace_id.clone()));
    match format {
        LogFormat::Json => {
            let _ = write!(
                line,
                "{{\"timestamp\":\"{timestamp}\",\"level\":\"{level}\""
            );
            let mut fields = Fields {
                line,
                format,
                seen_request_id: false,
                scratch: String::new(),
            };
            event.record(&mut fields);
            let seen = fields.seen_request_id;
            if let (Some((request_id, trace_id)), false) = (context, seen) {
                line.push_str(",\"requestId\":");
                push_json_str(line, &request_id);
                if let Some(trace_id) = trace_id {
                    line.push_str(",\"traceId\":");
                    push_json_str(line, &trace_id);
                }
            }
            line.push('}');
        }
        LogFormat::Text => {
            let request_id = context.map(|(id, _)| id).unwrap_or_else(|| "-".into());
            let _ = write!(line, "{timestamp} {level} {request_id}");
            event.record(&mut Fields {
                line,
                format,
                seen_request_id: true,
                scratch: String::new(),
            });
        }
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => "INFO",
        Level::WARN => "WARN",
        Level::ERROR => "ERROR",
    }
}

/// An EMF event's `document` field, as it is.
struct Verbatim<'a>(&'a mut String);

impl Visit for Verbatim<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "document" {
            self.0.push_str(value);
        }
    }
    fn record_debug(&mut self, _: &Field, _: &dyn fmt::Debug) {}
}

/// Writes each field under its policy: `,"name":value` (JSON) or ` name=value` (Text).
struct Fields<'a> {
    line: &'a mut String,
    format: LogFormat,
    seen_request_id: bool,
    scratch: String,
}

impl Fields<'_> {
    fn key(&mut self, name: &str) {
        if name == "requestId" {
            self.seen_request_id = true;
        }
        match self.format {
            LogFormat::Json => {
                self.line.push(',');
                push_json_str(self.line, name);
                self.line.push(':');
            }
            LogFormat::Text if name == "message" => self.line.push(' '),
            LogFormat::Text => {
                self.line.push(' ');
                self.line.push_str(name);
                self.line.push('=');
            }
        }
    }

    fn text(&mut self, name: &str, value: &str) {
        self.key(name);
        self.scratch.clear();
        let written: &str = match redact::policy(name) {
            Policy::Safe => value,
            Policy::FreeText => {
                redact::scrub(value, &mut self.scratch);
                &self.scratch
            }
            Policy::Redacted => REDACTED,
        };
        match self.format {
            LogFormat::Json => push_json_str(self.line, written),
            LogFormat::Text => self.line.push_str(written),
        }
    }

    fn number(&mut self, name: &str, value: fmt::Arguments<'_>) {
        if redact::policy(name) == Policy::Safe {
            self.key(name);
            let _ = self.line.write_fmt(value);
        } else {
            self.text(name, REDACTED);
        }
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field.name(), value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let mut rendered = String::new();
        let _ = write!(rendered, "{value:?}");
        self.text(field.name(), &rendered);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        // The cause chain, each part scrubbed as free text or redacted by the field's policy.
        let mut chain = value.to_string();
        let mut source = value.source();
        while let Some(cause) = source {
            let _ = write!(chain, ": {cause}");
            source = cause.source();
        }
        self.text(field.name(), &chain);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.number(field.name(), format_args!("{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.number(field.name(), format_args!("{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.number(field.name(), format_args!("{value:.3}"));
        } else {
            self.number(field.name(), format_args!("null"));
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.number(field.name(), format_args!("{value}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invocation::{self, Invocation};
    use serde_json::Value;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The lines `log` wrote in `format`, inside an invocation with a trace.
    fn lines(format: LogFormat, log: impl FnOnce()) -> Vec<String> {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber =
            tracing_subscriber::registry().with(LambdaFormat::new(move || writer.clone(), format));
        let trace = Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1");
        tracing::subscriber::with_default(subscriber, || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            runtime.block_on(invocation::scope(
                Invocation::new("req-1".into(), trace),
                async { log() },
            ));
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn json_lines_are_lambdas_shape_with_flat_redacted_fields() {
        let lines = lines(LogFormat::Json, || {
            tracing::info!(
                route = "/x",
                status = 200u64,
                latencyMs = 1.5,
                password = "pw",
                "request"
            );
            tracing::info!(target: EMF_TARGET, document = "{\"_aws\":{}}");
        });
        let line: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "request");
        assert_eq!(line["route"], "/x");
        assert_eq!(line["status"], 200);
        assert_eq!(line["latencyMs"], 1.5);
        assert_eq!(line["password"], "[redacted]", "not on the allow-list");
        assert_eq!(line["requestId"], "req-1");
        assert_eq!(line["traceId"], "1-5759e988-bd862e3fe1be46a994272793");
        let timestamp = line["timestamp"].as_str().unwrap();
        assert!(humantime::parse_rfc3339(timestamp).is_ok(), "{timestamp}");
        assert!(
            timestamp.ends_with('Z') && timestamp.len() == 24,
            "{timestamp}"
        );
        assert_eq!(lines[1], "{\"_aws\":{}}", "EMF is written as it is");
    }

    #[test]
    fn text_lines_are_readable_and_redacted_alike() {
        let lines = lines(LogFormat::Text, || {
            tracing::warn!(route = "/x", username = "ada", "mail ada@example.com");
        });
        let line = &lines[0];
        assert!(
            line.ends_with(" WARN req-1 mail [redacted] route=/x username=[redacted]"),
            "{line}"
        );
    }
}
