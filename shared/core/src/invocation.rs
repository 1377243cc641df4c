//! What the logs and metrics know about the invocation in progress: its ids and the domain and
//! dependency tallies its handler adds to. Task-local, so concurrent invocations (Lambda's
//! multi-concurrency mode, tests) never mix, and code outside an invocation sees nothing.

use crate::metrics::Tally;
use std::cell::RefCell;
use std::future::Future;

/// One invocation's context.
#[derive(Debug, Default)]
pub struct Invocation {
    /// Lambda's request id.
    pub request_id: String,
    /// The X-Ray root (`1-5759e988-bd862e3fe1be46a994272793`), when the invocation has one.
    pub trace_id: Option<String>,
    pub tally: RefCell<Tally>,
}

impl Invocation {
    pub fn new(request_id: String, trace_header: Option<&str>) -> Self {
        Invocation {
            request_id,
            trace_id: trace_header.and_then(xray_root).map(str::to_string),
            tally: RefCell::default(),
        }
    }

    /// An event function's invocation, from what the Lambda runtime handed it.
    pub fn of_event(context: &lambda_runtime::Context) -> Self {
        Invocation::new(context.request_id.clone(), context.xray_trace_id.as_deref())
    }
}

tokio::task_local! {
    static CURRENT: Invocation;
}

/// Runs `work` as the invocation `invocation`; gives its output and the finished context.
pub async fn scope<F: Future>(invocation: Invocation, work: F) -> (F::Output, Invocation) {
    let mut scoped = std::pin::pin!(CURRENT.scope(invocation, work));
    let output = scoped.as_mut().await;
    let invocation = scoped.as_mut().take_value().unwrap_or_default();
    (output, invocation)
}

/// Calls `f` with the invocation in progress, if any.
pub fn with<R>(f: impl FnOnce(&Invocation) -> R) -> Option<R> {
    CURRENT.try_with(f).ok()
}

/// The `Root` of an X-Ray trace header (`Root=1-…;Parent=…;Sampled=1`), or the header itself when
/// it is already a bare root.
pub fn xray_root(header: &str) -> Option<&str> {
    let root = header
        .split(';')
        .find_map(|part| part.trim().strip_prefix("Root="))
        .unwrap_or(header.trim());
    (root.starts_with("1-") && root.len() <= 64 && !root.contains([';', '='])).then_some(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trace_id_is_the_xray_root() {
        let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        assert_eq!(
            xray_root(header),
            Some("1-5759e988-bd862e3fe1be46a994272793")
        );
        assert_eq!(
            xray_root("1-5759e988-bd862e3fe1be46a994272793"),
            Some("1-5759e988-bd862e3fe1be46a994272793")
        );
        assert_eq!(xray_root("Parent=53995c3f42cd8ad8"), None);
        assert_eq!(xray_root(""), None);
    }

    #[tokio::test]
    async fn the_context_is_seen_inside_the_scope_only() {
        assert!(with(|_| ()).is_none());
        let (seen, back) = scope(Invocation::new("r-1".into(), None), async {
            with(|i| i.request_id.clone())
        })
        .await;
        assert_eq!(seen.as_deref(), Some("r-1"));
        assert_eq!(back.request_id, "r-1");
    }
}
