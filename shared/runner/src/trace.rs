//! The X-Ray trace header of an invocation, as API Gateway and Lambda pass it: a sampled
//! `Root=1-<8 hex: epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=1` to the function's
//! `Lambda-Runtime-Trace-Id`, keeping the Root of an incoming `X-Amzn-Trace-Id`, as API Gateway
//! does, and `Root=...` in the event's `x-amzn-trace-id` header.

use crate::ids;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    root: String,
    parent: String,
}

impl Trace {
    /// A new trace, or one continuing the Root of an incoming `X-Amzn-Trace-Id` when it has a
    /// valid one.
    pub fn continuing(incoming: Option<&str>) -> Self {
        let root = incoming
            .and_then(|header| {
                header
                    .split(';')
                    .find_map(|part| part.trim().strip_prefix("Root="))
            })
            .filter(|root| valid_root(root))
            .map(str::to_string)
            .unwrap_or_else(|| format!("1-{:08x}-{}", ids::now_ms() / 1000, ids::hex(24)));
        Trace {
            root,
            parent: ids::hex(16),
        }
    }

    pub fn root(&self) -> &str {
        &self.root
    }

    /// `Lambda-Runtime-Trace-Id` (and the function's `_X_AMZN_TRACE_ID`).
    pub fn runtime_header(&self) -> String {
        format!("Root={};Parent={};Sampled=1", self.root, self.parent)
    }

    /// The `x-amzn-trace-id` header API Gateway puts in the event.
    pub fn event_header(&self) -> String {
        format!("Root={}", self.root)
    }
}

/// `1-` then 8 hex digits, `-`, 24 hex digits.
fn valid_root(root: &str) -> bool {
    let hex =
        |part: &str, len: usize| part.len() == len && part.bytes().all(|b| b.is_ascii_hexdigit());
    let mut parts = root.split('-');
    parts.next() == Some("1")
        && parts.next().is_some_and(|time| hex(time, 8))
        && parts.next().is_some_and(|id| hex(id, 24))
        && parts.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shaped(header: &str) -> bool {
        let parts: Vec<&str> = header.split(';').collect();
        parts.len() == 3
            && parts[0].strip_prefix("Root=").is_some_and(valid_root)
            && parts[1]
                .strip_prefix("Parent=")
                .is_some_and(|p| p.len() == 16 && p.bytes().all(|b| b.is_ascii_hexdigit()))
            && parts[2] == "Sampled=1"
    }

    #[test]
    fn a_new_trace_is_sampled_and_shaped() {
        let trace = Trace::continuing(None);
        assert!(
            shaped(&trace.runtime_header()),
            "{}",
            trace.runtime_header()
        );
        let seconds = u64::from_str_radix(&trace.root()[2..10], 16).unwrap();
        assert!(seconds.abs_diff(ids::now_ms() / 1000) < 5);
        assert_eq!(trace.event_header(), format!("Root={}", trace.root()));
        assert_ne!(Trace::continuing(None), trace);
    }

    #[test]
    fn an_incoming_root_is_kept_and_a_bad_one_replaced() {
        let root = "1-5759e988-bd862e3fe1be46a994272793";
        let trace = Trace::continuing(Some(&format!("Self=1-x;Root={root};Sampled=0")));
        assert_eq!(trace.root(), root);
        assert!(shaped(&trace.runtime_header()));
        for bad in [
            "Root=2-5759e988-bd862e3fe1be46a994272793",
            "Root=1-zz",
            "Sampled=1",
            "",
        ] {
            assert_ne!(Trace::continuing(Some(bad)).root(), root, "{bad}");
            assert!(
                shaped(&Trace::continuing(Some(bad)).runtime_header()),
                "{bad}"
            );
        }
    }
}
