//! CloudFormation's side of a custom resource, for the migrate tests: a response bucket in the
//! moto emulator's S3, pre-signed PUT URLs made by botocore (CloudFormation's ResponseURLs are
//! pre-signed S3 URLs too), requests in the shape CloudFormation sends, and each response read
//! back from the bucket exactly as CloudFormation would read it.

use crate::runner::repo_root;
use crate::servers::{unique_token, MotoServer};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;

pub const STACK_ID: &str =
    "arn:aws:cloudformation:us-east-1:123456789012:stack/redline/5b9a0a40-6f1e-11ef-8c3e-0a1b2c3d4e5f";
pub const LOGICAL_ID: &str = "Migrations";
pub const SERVICE_TOKEN: &str = "arn:aws:lambda:us-east-1:123456789012:function:redline-migrate";

/// How botocore signs a URL: SigV2 query authentication (`AWSAccessKeyId`, `Signature`,
/// `Expires`: CloudFormation's classic ResponseURL) or SigV4 (`X-Amz-Signature`).
#[derive(Clone, Copy, Debug)]
pub enum Signature {
    V2,
    V4,
}

/// A bucket that receives responses.
pub struct ResponseBucket {
    endpoint: String,
    name: String,
}

/// A response as stored: the body CloudFormation parses, and what S3 recorded of the PUT.
#[derive(Debug)]
pub struct Stored {
    pub response: Value,
    pub body: String,
    /// What S3 recorded as the object's type: `binary/octet-stream` when the PUT had none.
    pub content_type: String,
    pub content_length: u64,
}

/// The venv's python (scripts/install-tools.sh installs boto3 with moto), else python3.
fn python() -> PathBuf {
    let local = repo_root().join(".local/venv/bin/python");
    if local.is_file() {
        local
    } else {
        PathBuf::from("python3")
    }
}

impl ResponseBucket {
    pub fn create(moto: &MotoServer) -> ResponseBucket {
        let bucket = ResponseBucket {
            endpoint: moto.endpoint(),
            name: format!("cfn-responses-{}", unique_token().replace('_', "-")),
        };
        bucket.script(&["create", &bucket.name]);
        bucket
    }

    fn script(&self, args: &[&str]) -> String {
        let output = Command::new(python())
            .arg(repo_root().join("tests/fixtures/migrate/response_bucket.py"))
            .arg(&self.endpoint)
            .args(args)
            .output()
            .expect("python runs");
        assert!(
            output.status.success(),
            "response_bucket.py {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    }

    /// A pre-signed PUT URL for `key`, as CloudFormation puts in a request's `ResponseURL`.
    pub fn presign(&self, key: &str, signature: Signature) -> String {
        let version = match signature {
            Signature::V2 => "s3",
            Signature::V4 => "s3v4",
        };
        self.script(&["presign", &self.name, version, key])
    }

    /// What was PUT at `key`, if anything.
    pub fn read(&self, key: &str) -> Option<Stored> {
        let stored: Value = serde_json::from_str(&self.script(&["read", &self.name, key])).unwrap();
        if stored.is_null() {
            return None;
        }
        let body = stored["body"].as_str().unwrap().to_string();
        Some(Stored {
            response: serde_json::from_str(&body)
                .unwrap_or_else(|e| panic!("the response is not JSON ({e}): {body}")),
            body,
            content_type: stored["contentType"].as_str().unwrap().to_string(),
            content_length: stored["contentLength"].as_u64().unwrap(),
        })
    }
}

/// One custom-resource request and where its response goes.
pub struct Request {
    pub event: Value,
    /// The object key of the response, `<stack id>|<logical id>|<request id>` as CloudFormation
    /// names them (botocore percent-encodes it into the URL).
    pub key: String,
}

impl Request {
    /// A request of `request_type` (`Create`, `Update`, `Delete`) with a fresh request id,
    /// answered into `bucket`.
    pub fn new(
        bucket: &ResponseBucket,
        request_type: &str,
        migrate_version: &str,
        signature: Signature,
    ) -> Request {
        let request_id = format!("req-{}", unique_token());
        let key = format!("{STACK_ID}|{LOGICAL_ID}|{request_id}");
        let properties = json!({
            "ServiceToken": SERVICE_TOKEN,
            "ServiceTimeout": "600",
            "MigrateVersion": migrate_version,
        });
        let mut event = json!({
            "RequestType": request_type,
            "ServiceToken": SERVICE_TOKEN,
            "ResponseURL": bucket.presign(&key, signature),
            "StackId": STACK_ID,
            "RequestId": request_id,
            "LogicalResourceId": LOGICAL_ID,
            "ResourceType": "Custom::Migrations",
            "ResourceProperties": properties,
        });
        if request_type != "Create" {
            event["PhysicalResourceId"] = json!("redline-migrations");
        }
        if request_type == "Update" {
            event["OldResourceProperties"] = json!({
                "ServiceToken": SERVICE_TOKEN,
                "ServiceTimeout": "600",
                "MigrateVersion": "0",
            });
        }
        Request { event, key }
    }

    pub fn request_id(&self) -> &str {
        self.event["RequestId"].as_str().unwrap()
    }
}
