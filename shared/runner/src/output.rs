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

impl Lines {
    /// One line of output (without its newline).
    pub fn handle(&self, line: &[u8]) {
        let object = parse_object(line);
        if !self.filter.keeps(object.as_ref()) {
            self.metrics.line_filtered(&self.function);
            return;
        }
        if let Some(document) = object.filter(crate::emf::is_document) {
            match self.metrics.fold(&self.function, &document) {
                Ok(()) => {
                    if let Some(log) = &self.emf_log {
                        log.append(line);
                    }
                    return;
                }
                Err(reason) => say(&format!(
                    "{}: an EMF document was not folded ({reason}); it is printed as is",
                    self.function
                )),
            }
        }
        echo(line);
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
