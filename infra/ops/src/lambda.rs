//! The `live` alias and the published versions, through Lambda's `GetAlias`,
//! `ListVersionsByFunction` and `UpdateAlias`.

use crate::aws::{detail, failure};
use crate::error::OpsError;
use crate::names::ALIAS;
use aws_sdk_lambda::operation::get_alias::GetAliasError;
use aws_sdk_lambda::operation::update_alias::UpdateAliasError;
use aws_sdk_lambda::types::AliasRoutingConfiguration;
use aws_sdk_lambda::Client;
use serde_json::{json, Value};

/// Where `live` points: its version, and at most one additional version with its weight.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    pub version: String,
    pub additional: Option<(String, f64)>,
    /// Lambda's `RevisionId`: an update names it, so a change made meanwhile is refused.
    pub revision: Option<String>,
}

impl Live {
    /// The status document's `live` object.
    pub fn to_json(&self) -> Value {
        json!({
            "version": self.version,
            "additional_version": self.additional.as_ref().map(|(v, _)| v),
            "weight": self.additional.as_ref().map(|(_, w)| w),
        })
    }

    /// The share of traffic `version` takes, in percent.
    pub fn percentage_of(&self, version: &str) -> f64 {
        match &self.additional {
            Some((extra, weight)) if extra == version => weight * 100.0,
            Some((_, weight)) if self.version == version => (1.0 - weight) * 100.0,
            None if self.version == version => 100.0,
            _ => 0.0,
        }
    }

    /// `live → 2`, `live → 2, 10% → 3`.
    pub fn describe(&self) -> String {
        match &self.additional {
            Some((extra, weight)) => format!(
                "live → {}, {}% → {extra}",
                self.version,
                round(weight * 100.0)
            ),
            None => format!("live → {}", self.version),
        }
    }
}

/// A percentage without trailing noise (`10`, `12.5`).
pub fn round(percent: f64) -> f64 {
    (percent * 100.0).round() / 100.0
}

pub async fn live(client: &Client, function: &str) -> Result<Live, OpsError> {
    let alias = client
        .get_alias()
        .function_name(function)
        .name(ALIAS)
        .send()
        .await
        .map_err(|e| match e.as_service_error() {
            Some(GetAliasError::ResourceNotFoundException(_)) => OpsError::NoLiveAlias {
                function: function.to_string(),
                detail: detail(&e),
            },
            _ => failure("Lambda", "GetAlias", &e),
        })?;
    // moto keeps an emptied routing configuration as `{}`: no weight is no extra version.
    let additional = alias
        .routing_config()
        .and_then(AliasRoutingConfiguration::additional_version_weights)
        .and_then(|weights| weights.iter().next())
        .map(|(version, weight)| (version.clone(), *weight));
    Ok(Live {
        version: alias.function_version().unwrap_or_default().to_string(),
        additional,
        revision: alias.revision_id().map(str::to_string),
    })
}

/// The published version numbers, oldest first (`$LATEST` is not one: an alias cannot name it).
pub async fn versions(client: &Client, function: &str) -> Result<Vec<String>, OpsError> {
    let mut versions = Vec::new();
    let mut marker = None;
    loop {
        let page = client
            .list_versions_by_function()
            .function_name(function)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| failure("Lambda", "ListVersionsByFunction", &e))?;
        versions.extend(
            page.versions()
                .iter()
                .filter_map(|v| v.version())
                .filter(|v| *v != "$LATEST")
                .map(str::to_string),
        );
        marker = page.next_marker().map(str::to_string);
        if marker.is_none() {
            return Ok(versions);
        }
    }
}

/// Points `live` at `version`, with `extra` taking its weight or, without it, weights cleared.
/// The update names the revision read before, so a change made meanwhile is refused.
pub async fn point(
    client: &Client,
    function: &str,
    before: &Live,
    version: &str,
    extra: Option<(&str, f64)>,
) -> Result<Live, OpsError> {
    // An empty map clears the weights; leaving RoutingConfig out would keep them.
    let mut routing = AliasRoutingConfiguration::builder();
    if let Some((extra, weight)) = extra {
        routing = routing.additional_version_weights(extra, weight);
    } else {
        routing = routing.set_additional_version_weights(Some(Default::default()));
    }
    let updated = client
        .update_alias()
        .function_name(function)
        .name(ALIAS)
        .function_version(version)
        .routing_config(routing.build())
        .set_revision_id(before.revision.clone())
        .send()
        .await
        .map_err(|e| {
            let function = function.to_string();
            match e.as_service_error() {
                Some(UpdateAliasError::PreconditionFailedException(_)) => OpsError::AliasChanged {
                    function,
                    detail: detail(&e),
                },
                Some(
                    UpdateAliasError::InvalidParameterValueException(_)
                    | UpdateAliasError::ResourceNotFoundException(_),
                ) => OpsError::AliasRefused {
                    function,
                    detail: detail(&e),
                },
                Some(UpdateAliasError::ResourceConflictException(_)) => OpsError::AliasChanged {
                    function,
                    detail: detail(&e),
                },
                _ => failure("Lambda", "UpdateAlias", &e),
            }
        })?;
    let additional = updated
        .routing_config()
        .and_then(AliasRoutingConfiguration::additional_version_weights)
        .and_then(|weights| weights.iter().next())
        .map(|(version, weight)| (version.clone(), *weight));
    Ok(Live {
        version: updated.function_version().unwrap_or(version).to_string(),
        additional,
        revision: updated.revision_id().map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(version: &str, additional: Option<(&str, f64)>) -> Live {
        Live {
            version: version.into(),
            additional: additional.map(|(v, w)| (v.into(), w)),
            revision: None,
        }
    }

    #[test]
    fn percentages_and_descriptions() {
        let canary = live("2", Some(("3", 0.1)));
        assert_eq!(round(canary.percentage_of("3")), 10.0);
        assert_eq!(round(canary.percentage_of("2")), 90.0);
        assert_eq!(canary.percentage_of("4"), 0.0);
        assert_eq!(canary.describe(), "live → 2, 10% → 3");
        let plain = live("2", None);
        assert_eq!(plain.percentage_of("2"), 100.0);
        assert_eq!(plain.describe(), "live → 2");
        assert_eq!(
            canary.to_json(),
            json!({"version": "2", "additional_version": "3", "weight": 0.1})
        );
        assert_eq!(
            plain.to_json(),
            json!({"version": "2", "additional_version": null, "weight": null})
        );
    }
}
