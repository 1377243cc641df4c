//! CloudFormation's custom-resource protocol, as migrate answers it: the request CloudFormation
//! sends (an event with a `ResponseURL`), what each request type does, and the response it
//! waits for at that URL. Create and Update run the migrations (a re-delivered request finds them
//! applied and succeeds again); Delete does nothing, whatever the configuration, so that a stack
//! can always roll back or be deleted. The physical id never changes, so an Update never
//! replaces the resource.

use crate::error::Failure;
use redline_stores::db::MigrationReport;
use redline_stores::migrator::Migrator;
use serde::Serialize;
use serde_json::{json, Value};

/// The resource's physical id, the same in every response.
pub const PHYSICAL_ID: &str = "redline-migrations";
/// CloudFormation refuses a response over 4096 bytes; a reason stays well below.
const MAX_REASON: usize = 1024;

/// The fields of the event migrate uses. Anything missing reads as empty, so a malformed request
/// still gets an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub request_type: String,
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    /// `ResourceProperties.MigrateVersion`: it changes with every migrate build, so that each
    /// deploy sends an Update. Only logged.
    pub migrate_version: String,
}

impl Request {
    /// The event as a custom-resource request: one that carries a `ResponseURL`.
    pub fn of(event: &Value) -> Option<Request> {
        let text = |key: &str| event[key].as_str().unwrap_or_default().to_string();
        let response_url = event["ResponseURL"].as_str()?.to_string();
        let version = &event["ResourceProperties"]["MigrateVersion"];
        Some(Request {
            request_type: text("RequestType"),
            response_url,
            stack_id: text("StackId"),
            request_id: text("RequestId"),
            logical_resource_id: text("LogicalResourceId"),
            migrate_version: version
                .as_str()
                .map_or_else(|| version.to_string(), str::to_string),
        })
    }

    /// Runs what the request type asks for: the migrations' report, none for a Delete.
    pub async fn run(
        &self,
        migrator: Result<&Migrator, Failure>,
    ) -> Result<Option<MigrationReport>, Failure> {
        match self.request_type.as_str() {
            "Delete" => Ok(None),
            "Create" | "Update" => Ok(Some(migrator?.run().await?)),
            other => Err(Failure::UnknownRequest(other.to_string())),
        }
    }

    /// The response to this request, for an outcome; `log_stream` tells where the details of a
    /// failure are.
    pub fn response(
        &self,
        outcome: &Result<Option<MigrationReport>, Failure>,
        log_stream: &str,
    ) -> Response<'_> {
        let (status, reason, data) = match outcome {
            Ok(None) => ("SUCCESS", "nothing to do for Delete".to_string(), None),
            Ok(Some(report)) => {
                let latest = report
                    .applied
                    .iter()
                    .chain(&report.already_applied)
                    .max()
                    .copied()
                    .unwrap_or(0);
                let applied = report.applied.len();
                (
                    "SUCCESS",
                    format!("migrations applied: {applied}; schema at version {latest}"),
                    Some(json!({
                        "Applied": applied.to_string(),
                        "SchemaVersion": latest.to_string(),
                    })),
                )
            }
            Err(failure) => (
                "FAILED",
                bounded(format!(
                    "{}. Details in log stream {log_stream}",
                    failure.reason()
                )),
                None,
            ),
        };
        Response {
            status,
            reason,
            physical_resource_id: PHYSICAL_ID,
            stack_id: &self.stack_id,
            request_id: &self.request_id,
            logical_resource_id: &self.logical_resource_id,
            data,
        }
    }
}

/// The body CloudFormation reads at the `ResponseURL`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response<'a> {
    pub status: &'static str,
    pub reason: String,
    pub physical_resource_id: &'static str,
    pub stack_id: &'a str,
    pub request_id: &'a str,
    pub logical_resource_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

fn bounded(mut text: String) -> String {
    if text.len() > MAX_REASON {
        let mut end = MAX_REASON;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use redline_stores::db::MigrateError;

    fn request(request_type: &str) -> Request {
        Request::of(&json!({
            "RequestType": request_type,
            "ResponseURL": "https://bucket.example/key?Signature=s",
            "StackId": "arn:aws:cloudformation:us-east-1:1:stack/redline/1",
            "RequestId": "r-1",
            "LogicalResourceId": "Migrations",
            "ResourceType": "Custom::Migrations",
            "ResourceProperties": {"ServiceToken": "arn:fn", "MigrateVersion": "7"},
        }))
        .unwrap()
    }

    #[test]
    fn only_an_event_with_a_response_url_is_a_custom_resource() {
        assert_eq!(Request::of(&json!({})), None);
        assert_eq!(Request::of(&json!({"RequestType": "Create"})), None);
        let create = request("Create");
        assert_eq!(create.request_type, "Create");
        assert_eq!(create.migrate_version, "7");
        assert_eq!(create.logical_resource_id, "Migrations");
        let bare = Request::of(
            &json!({"ResponseURL": "https://u", "ResourceProperties": {"MigrateVersion": 3}}),
        )
        .unwrap();
        assert_eq!(bare.migrate_version, "3");
        assert_eq!(bare.stack_id, "");
    }

    #[test]
    fn responses_echo_the_request_under_a_constant_physical_id() {
        let create = request("Create");
        let report = MigrationReport {
            applied: vec![2],
            already_applied: vec![1],
        };
        let success = serde_json::to_value(create.response(&Ok(Some(report)), "stream")).unwrap();
        assert_eq!(
            success,
            json!({
                "Status": "SUCCESS",
                "Reason": "migrations applied: 1; schema at version 2",
                "PhysicalResourceId": "redline-migrations",
                "StackId": "arn:aws:cloudformation:us-east-1:1:stack/redline/1",
                "RequestId": "r-1",
                "LogicalResourceId": "Migrations",
                "Data": {"Applied": "1", "SchemaVersion": "2"},
            })
        );
        let delete = request("Delete");
        let deleted = serde_json::to_value(delete.response(&Ok(None), "stream")).unwrap();
        assert_eq!(deleted["Status"], "SUCCESS");
        assert_eq!(deleted["PhysicalResourceId"], PHYSICAL_ID);
        assert_eq!(deleted.get("Data"), None);

        let failed = Err(Failure::Migrate(MigrateError::Changed {
            version: 1,
            name: "accounts",
        }));
        let failed =
            serde_json::to_value(create.response(&failed, "2026/01/01/[$LATEST]ab")).unwrap();
        assert_eq!(failed["Status"], "FAILED");
        assert_eq!(
            failed["Reason"],
            "Migrate.MigrationChanged: migration 1 (accounts) was changed after it was applied. \
             Details in log stream 2026/01/01/[$LATEST]ab"
        );
        assert_eq!(failed["PhysicalResourceId"], PHYSICAL_ID);
    }

    #[tokio::test]
    async fn delete_and_unknown_types_never_touch_the_database() {
        let held = || Err(Failure::UnknownRequest("held".into()));
        assert!(matches!(request("Delete").run(held()).await, Ok(None)));
        let unknown = request("Rollback").run(held()).await.unwrap_err();
        assert_eq!(unknown.error_type(), "CustomResource.UnknownRequestType");
        // Create with a held failure reports it.
        let create = request("Create").run(held()).await.unwrap_err();
        assert!(create.reason().contains("held"), "{create}");
        assert_eq!(bounded("é".repeat(MAX_REASON)).len(), MAX_REASON);
    }
}
