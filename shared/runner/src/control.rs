//! Port 3001, loopback only: Lambda's API ([`crate::lambda_api`], REST-JSON under
//! `/2015-03-31/functions/`), CodeDeploy's ([`crate::codedeploy`], awsJson1.1 on `POST /`
//! with `X-Amz-Target`), CloudWatch's ([`crate::cloudwatch`], RPC v2 CBOR under `/service/`)
//! and the runner's `/metrics`. The port binds 127.0.0.1, and every call
//! that runs or changes code is also checked against the peer's address, since a container may
//! forward the port: others get `AccessDeniedException` (403).

use crate::cloudwatch::{self, CloudWatch};
use crate::codedeploy::{self, CodeDeploy};
use crate::http::{HttpRequest, HttpResponse};
use crate::lambda_api::{self, LambdaApi, LambdaError};
use crate::metrics::Metrics;
use std::net::IpAddr;
use std::sync::Arc;

pub struct Control {
    pub lambda: LambdaApi,
    pub codedeploy: Arc<CodeDeploy>,
    pub cloudwatch: CloudWatch,
    metrics: Arc<Metrics>,
}

/// Whether a peer address is a loopback one (`127.0.0.0/8`, `::1`, or IPv4 loopback mapped
/// into IPv6). Anything unparsable is not.
pub fn is_loopback(address: &str) -> bool {
    address
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

impl Control {
    pub fn new(
        lambda: LambdaApi,
        codedeploy: Arc<CodeDeploy>,
        cloudwatch: CloudWatch,
        metrics: Arc<Metrics>,
    ) -> Self {
        Control {
            lambda,
            codedeploy,
            cloudwatch,
            metrics,
        }
    }

    pub async fn handle(&self, request: HttpRequest) -> HttpResponse {
        if request.path == "/metrics" {
            return crate::scrape::metrics(&self.metrics, &request);
        }
        let local = is_loopback(&request.source_ip);
        if let Some(operation) = codedeploy::operation(&request) {
            if codedeploy::changes(&operation) && !local {
                return codedeploy::error(codedeploy::DeployError {
                    kind: "AccessDeniedException",
                    message: "The local runner answers calls that change anything only from loopback addresses.".into(),
                });
            }
            return self
                .codedeploy
                .serve(&operation, &request.headers, &request.body);
        }
        // Read-only: any peer may ask (DescribeAlarms is the only operation served).
        if let Some(operation) = cloudwatch::operation(&request) {
            return self.cloudwatch.serve(&operation, &request);
        }
        if let Some(call) = lambda_api::route(&request.method, &request.path) {
            if call.operation.changes() && !local {
                return lambda_api::error(LambdaError::access_denied());
            }
            return self.lambda.serve(call, request).await;
        }
        HttpResponse::json(404, r#"{"message":"Not Found"}"#)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_peers_are_local() {
        for address in ["127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1"] {
            assert!(is_loopback(address), "{address}");
        }
        for address in [
            "192.0.2.2",
            "10.0.0.1",
            "::ffff:10.0.0.1",
            "fd00::2",
            "",
            "localhost",
        ] {
            assert!(!is_loopback(address), "{address}");
        }
    }
}
