//! What the runner does with its instances' stdout and stderr, line by line, as Lambda's log
//! pipeline would: Lambda's log-level filter first, then an EMF document is folded into the
//! metrics (and appended to `--emf-log`) instead of being printed, and every other line is
//! passed through to the runner's stdout, unchanged, in one write.

use crate::log_filter::LogFilter;
use crate::metrics::Metrics;
use serde_json::{Map, Value};
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{mpsc, oneshot};

/// A line longer than this is passed on in pieces (Lambda itself cuts lines at 256 KiB).
const MAX_LINE: usize = 1024 * 1024;

/// How long the runner waits for an instance's output to be read after it answered.
const DRAIN_LIMIT: Duration = Duration::from_secs(1);

/// Writes `line` and a newline to the runner's stdout in one write, so that lines of different
/// instances never mix.
pub fn echo(line: &[u8]) {
    let mut buffer = Vec::with_capacity(line.len() + 1);
    buffer.extend_from_slice(line);
    buffer.push(b'\n');
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(&buffer);
    let _ = stdout.flush();
}

/// A message of the runner itself, on stderr in one write.
pub fn say(message: &str) {
    let _ = std::io::stderr().write_all(format!("redline-local: {message}\n").as_bytes());
}

/// `--emf-log FILE`: every folded document, one a line, appended.
pub struct EmfLog(Mutex<File>);

impl EmfLog {
    pub fn open(path: &Path) -> Result<Self, String> {
        File::options()
            .create(true)
            .append(true)
            .open(path)
            .map(|file| EmfLog(Mutex::new(file)))
            .map_err(|e| format!("cannot open the EMF log {}: {e}", path.display()))
    }

    fn append(&self, line: &[u8]) {
        let mut buffer = line.to_vec();
        buffer.push(b'\n');
        let _ = self.0.lock().expect("not poisoned").write_all(&buffer);
    }
}

/// Where one function's lines go.
pub struct Lines {
    pub function: String,
    pub filter: LogFilter,
    pub metrics: Arc<Metrics>,
    pub emf_log: Option<Arc<EmfLog>>,
}

/// What became of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// Below the application log level: dropped, as Lambda drops it.
    Filtered,
    /// An EMF document, folded into the metrics (and the EMF log).
    Folded,
    /// A line with `_aws.CloudWatchMetrics` that is not valid EMF: printed, with the reason.
    Rejected(String),
    /// Any other line: printed.
    Printed,
}

impl Lines {
    /// One line of output (without its newline): routed, then printed when it is to be.
    pub fn handle(&self, line: &[u8]) {
        match self.route(line) {
            Handled::Filtered | Handled::Folded => {}
            Handled::Rejected(reason) => {
                say(&format!(
                    "{}: an EMF document was not folded ({reason}); it is printed as is",
                    self.function
                ));
                echo(line);
            }
            Handled::Printed => echo(line),
        }
    }

    /// Where a line goes; folds it when it is an EMF document.
    pub fn route(&self, line: &[u8]) -> Handled {
        let object = parse_object(line);
        if !self.filter.keeps(object.as_ref()) {
            self.metrics.line_filtered(&self.function);
            return Handled::Filtered;
        }
        let Some(document) = object.filter(crate::emf::is_document) else {
            return Handled::Printed;
        };
        match self.metrics.fold(&self.function, &document) {
            Ok(()) => {
                if let Some(log) = &self.emf_log {
                    log.append(line);
                }
                Handled::Folded
            }
            Err(reason) => Handled::Rejected(reason),
        }
    }
}

fn parse_object(line: &[u8]) -> Option<Map<String, Value>> {
    let first = line.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' {
        return None;
    }
    match serde_json::from_slice(line) {
        Ok(Value::Object(object)) => Some(object),
        _ => None,
    }
}

/// An instance's two output streams being read; [`Capture::drain`] waits until what the
/// instance has written so far has been handled.
pub struct Capture {
    streams: Vec<mpsc::Sender<oneshot::Sender<()>>>,
}

impl Capture {
    pub fn start(
        stdout: impl AsyncRead + Unpin + Send + 'static,
        stderr: impl AsyncRead + Unpin + Send + 'static,
        lines: Arc<Lines>,
    ) -> Self {
        let mut streams = Vec::new();
        for stream in [
            Box::new(stdout) as Box<dyn AsyncRead + Unpin + Send>,
            Box::new(stderr),
        ] {
            let (sender, requests) = mpsc::channel(1);
            tokio::spawn(pump(stream, lines.clone(), requests));
            streams.push(sender);
        }
        Capture { streams }
    }

    /// Returns once every line the instance wrote before this call has been handled (bounded:
    /// an instance that never stops writing is not waited for).
    pub async fn drain(&self) {
        let all = async {
            for stream in &self.streams {
                let (done, handled) = oneshot::channel();
                if stream.send(done).await.is_ok() {
                    let _ = handled.await;
                }
            }
        };
        let _ = tokio::time::timeout(DRAIN_LIMIT, all).await;
    }
}

/// Reads one stream to its end, line by line; on a drain request, handles everything readable
/// now before answering.
async fn pump(
    stream: Box<dyn AsyncRead + Unpin + Send>,
    lines: Arc<Lines>,
    mut drains: mpsc::Receiver<oneshot::Sender<()>>,
) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        tokio::select! {
            biased;
            read = read_line(&mut reader, &mut line) => {
                if !take(read, &mut line, &lines) {
                    return;
                }
            }
            Some(done) = drains.recv() => {
                loop {
                    let read = poll_once(pin!(read_line(&mut reader, &mut line)));
                    match read {
                        None => break,
                        Some(read) => {
                            if !take(read, &mut line, &lines) {
                                let _ = done.send(());
                                return;
                            }
                        }
                    }
                }
                let _ = done.send(());
            }
        }
    }
}

/// Reads up to a newline, or [`MAX_LINE`] bytes; `Ok(0)` at the end of the stream. Cancel-safe:
/// what was read stays in `line`.
async fn read_line<R: AsyncBufReadExt + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
) -> std::io::Result<usize> {
    let mut read = 0;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(read);
        }
        let room = MAX_LINE.saturating_sub(line.len()).max(1);
        let (used, complete) = match available.iter().take(room).position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => {
                let used = available.len().min(room);
                (used, line.len() + used >= MAX_LINE)
            }
        };
        line.extend_from_slice(&available[..used]);
        reader.consume(used);
        read += used;
        if complete {
            return Ok(read);
        }
    }
}

/// Handles the line read (complete, or the stream's last, unterminated one); `false` at the end
/// of the stream.
fn take(read: std::io::Result<usize>, line: &mut Vec<u8>, lines: &Lines) -> bool {
    if !line.is_empty() {
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        lines.handle(text);
        line.clear();
    }
    matches!(read, Ok(n) if n > 0)
}

fn poll_once<F: std::future::Future>(future: std::pin::Pin<&mut F>) -> Option<F::Output> {
    match future.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redline_template::{LogFormat, LogLevel, Logging};
    use tokio::io::AsyncWriteExt;

    const EMF: &str = r#"{"_aws":{"Timestamp":1764090000000,"CloudWatchMetrics":[{"Namespace":"Redline","Dimensions":[["Service","Function"],["Service","Function","Route"]],"Metrics":[{"Name":"Requests","Unit":"Count"},{"Name":"Latency","Unit":"Milliseconds"}]}]},"Service":"redline","Function":"auth","Route":"/api/v1/auth/login","Requests":1,"Latency":3.2,"requestId":"r"}"#;
    const DEBUG: &str =
        r#"{"timestamp":"2026-11-25T19:00:00.000Z","level":"DEBUG","message":"details"}"#;
    const INFO: &str = r#"{"timestamp":"2026-11-25T19:00:00.000Z","level":"INFO","message":"request","requestId":"r"}"#;

    fn lines(level: Option<LogLevel>, emf_log: Option<Arc<EmfLog>>) -> Lines {
        let logging = Logging {
            format: if level.is_some() {
                LogFormat::Json
            } else {
                LogFormat::Text
            },
            application_level: level,
            ..Logging::default()
        };
        Lines {
            function: "AuthFunction".into(),
            filter: LogFilter::of(&logging),
            metrics: Arc::new(Metrics::default()),
            emf_log,
        }
    }

    fn temp_file(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("redline-runner-{name}-{}", crate::ids::uuid()))
    }

    #[test]
    fn emf_is_folded_and_logged_other_lines_printed_at_info() {
        let path = temp_file("emf.log");
        let lines = lines(
            Some(LogLevel::Info),
            Some(Arc::new(EmfLog::open(&path).unwrap())),
        );
        assert_eq!(lines.route(EMF.as_bytes()), Handled::Folded);
        assert_eq!(lines.route(INFO.as_bytes()), Handled::Printed);
        assert_eq!(lines.route(b"thread 'main' panicked"), Handled::Printed);
        assert_eq!(lines.route(DEBUG.as_bytes()), Handled::Filtered);
        let bad = EMF.replace(r#""Requests":1"#, r#""Requests":"one""#);
        assert!(
            matches!(lines.route(bad.as_bytes()), Handled::Rejected(reason) if reason.contains("Requests"))
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{EMF}\n"));
        let text = lines.metrics.render();
        assert!(text.contains("redline_requests_total{function=\"auth\",route=\"/api/v1/auth/login\",service=\"redline\"} 1\n"), "{text}");
        assert!(
            text.contains("redline_local_log_lines_filtered_total{function=\"AuthFunction\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("redline_local_emf_rejected_total{function=\"AuthFunction\"} 1\n"),
            "{text}"
        );
        let _ = std::fs::remove_file(path);
    }

    /// Why the template pins ApplicationLogLevel to INFO: above it, Lambda drops EMF lines.
    #[test]
    fn metrics_survive_info_and_are_dropped_at_warn() {
        let info = lines(Some(LogLevel::Info), None);
        assert_eq!(info.route(EMF.as_bytes()), Handled::Folded);
        let warn = lines(Some(LogLevel::Warn), None);
        assert_eq!(warn.route(EMF.as_bytes()), Handled::Filtered);
        assert!(!warn.metrics.render().contains("redline_requests_total"));
        let text = lines(None, None);
        assert_eq!(
            text.route(DEBUG.as_bytes()),
            Handled::Printed,
            "Text format filters nothing"
        );
        assert_eq!(text.route(EMF.as_bytes()), Handled::Folded);
    }

    #[tokio::test]
    async fn drain_returns_once_written_lines_are_handled() {
        let lines = Arc::new(lines(Some(LogLevel::Info), None));
        let (mut stdout, stdout_end) = tokio::io::duplex(64);
        let (mut stderr, stderr_end) = tokio::io::duplex(64);
        let capture = Capture::start(stdout_end, stderr_end, lines.clone());
        let documents = |n: u32| {
            format!("redline_local_emf_documents_total{{function=\"AuthFunction\"}} {n}\n")
        };
        // A document written in pieces, smaller than the pipe, on both streams.
        for _ in 0..3 {
            stdout
                .write_all(format!("{EMF}\n").as_bytes())
                .await
                .unwrap();
        }
        stderr.write_all(EMF.as_bytes()).await.unwrap();
        stderr.write_all(b"\n").await.unwrap();
        capture.drain().await;
        let text = lines.metrics.render();
        assert!(text.contains(&documents(4)), "{text}");
        // The last line of a stream needs no newline.
        stdout.write_all(EMF.as_bytes()).await.unwrap();
        drop(stdout);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(lines.metrics.render().contains(&documents(5)));
    }

    #[tokio::test]
    async fn an_endless_line_is_cut() {
        let (mut writer, reader) = tokio::io::duplex(4096);
        let mut reader = BufReader::new(reader);
        tokio::spawn(async move {
            let chunk = vec![b'x'; 4096];
            for _ in 0..(MAX_LINE / 4096 + 2) {
                if writer.write_all(&chunk).await.is_err() {
                    return;
                }
            }
        });
        let mut line = Vec::new();
        read_line(&mut reader, &mut line).await.unwrap();
        assert_eq!(line.len(), MAX_LINE);
    }
}
