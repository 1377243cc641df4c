//! CloudFormation's side of a custom resource, for the migrate tests: a response bucket in the
//! moto emulator's S3, pre-signed PUT URLs made by botocore (CloudFormation's ResponseURLs are
//! pre-signed S3 URLs too), requests in the shape CloudFormation sends, and each response read
//! back from the bucket exactly as CloudFormation would read it.

use crate::runner::{bin_dir, env_file, repo_root, workspace_bin, Runner};
use crate::secrets_stack::database_references;
use crate::servers::{app_role_of, random_u64, unique_token, MotoServer};
use serde_json::{json, Map, Value};
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
#[derive(Clone)]
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

pub const PHYSICAL_ID: &str = "redline-migrations";

/// moto (the database secret and the response bucket) and the runner serving migrate.
pub struct MigrateRig {
    /// Kept for the rig's life: the secret and the bucket live in it.
    _moto: MotoServer,
    pub bucket: ResponseBucket,
    pub runner: Runner,
    http: reqwest::Client,
}

/// An RDS-shaped secret for a login on a database.
pub fn login(host: &str, port: u16, dbname: &str, username: &str, password: &str) -> Value {
    json!({"engine": "postgres", "host": host, "port": port, "dbname": dbname,
           "username": username, "password": password})
}

impl MigrateRig {
    /// migrate with its login in a moto secret holding `database`; `settings` are more
    /// variables of the function (a broken setting, a reference to a missing secret).
    pub async fn start(database: &Value, settings: Value) -> MigrateRig {
        let moto = MotoServer::start();
        let secret = moto
            .create_secret(
                &format!("redline/db-{:08x}", random_u64() as u32),
                &database.to_string(),
            )
            .await;
        let bucket = ResponseBucket::create(&moto);
        let mut vars: Map<String, Value> = moto
            .env()
            .into_iter()
            .map(|(name, value)| (name, Value::String(value)))
            .collect();
        vars.insert("REDLINE_ENV".into(), "test".into());
        vars.insert("REDLINE__DATABASE__SSLMODE".into(), "disable".into());
        vars.extend(database_references(&secret));
        let dbname = database["dbname"].as_str().unwrap_or_default();
        vars.insert(
            "REDLINE__DATABASE__APP_USER".into(),
            Value::String(app_role_of(dbname)),
        );
        vars.extend(settings.as_object().cloned().unwrap_or_default());
        let env = env_file(&json!({ "MigrateFunction": vars }));
        let bins = bin_dir(&[("migrate", workspace_bin("migrate"))]);
        let template = repo_root().join("tests/fixtures/migrate/template.yaml");
        let runner = Runner::start(&template, &[env], &bins, &[]);
        MigrateRig {
            _moto: moto,
            bucket,
            runner,
            http: reqwest::Client::new(),
        }
    }

    /// An invoke through Lambda's invoke API: the function-error header and the answer.
    pub async fn invoke(&self, event: &Value) -> (Option<String>, Value) {
        let response = self
            .http
            .post(
                self.runner
                    .invoke_url("/2015-03-31/functions/MigrateFunction/invocations"),
            )
            .json(event)
            .send()
            .await
            .expect("the invoke API answers");
        assert_eq!(response.status(), 200, "invoke API status");
        let error = response
            .headers()
            .get("x-amz-function-error")
            .map(|v| v.to_str().unwrap().to_string());
        (error, response.json().await.expect("a JSON answer"))
    }

    pub fn request(
        &self,
        request_type: &str,
        migrate_version: &str,
        signature: Signature,
    ) -> Request {
        Request::new(&self.bucket, request_type, migrate_version, signature)
    }

    /// Sends a request as CloudFormation does and gives what CloudFormation reads at its
    /// `ResponseURL`. The invocation itself succeeds whatever the answer says.
    pub async fn answer(&self, request: &Request) -> Value {
        let (error, answer) = self.invoke(&request.event).await;
        assert_eq!(
            error,
            None,
            "a delivered answer is no invocation error: {answer}\n{}",
            self.runner.log_text()
        );
        let stored = self
            .bucket
            .read(&request.key)
            .unwrap_or_else(|| panic!("nothing at the ResponseURL\n{}", self.runner.log_text()));
        // Nothing was sent as a content type (the URL was signed without one), and the body is
        // whole.
        assert_eq!(stored.content_type, "binary/octet-stream", "{stored:?}");
        assert_eq!(stored.content_length, stored.body.len() as u64);
        assert_eq!(
            answer, stored.response,
            "the invocation returns what it PUT"
        );
        let response = stored.response;
        assert_eq!(response["PhysicalResourceId"], PHYSICAL_ID, "{response}");
        assert_eq!(response["StackId"], STACK_ID);
        assert_eq!(response["RequestId"], request.request_id());
        assert_eq!(response["LogicalResourceId"], LOGICAL_ID);
        response
    }

    pub fn emf_of(&self, request_type: &str) -> Vec<Value> {
        self.runner
            .emf_documents()
            .into_iter()
            .filter(|d| d["requestType"] == request_type)
            .collect()
    }
}
