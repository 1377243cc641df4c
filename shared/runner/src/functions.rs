//! A function as Lambda keeps it: `$LATEST` (the `--bin-dir` binary, or the code
//! `UpdateFunctionCode` last gave it), immutable numbered versions (each a snapshot of the code
//! when it was published, with its own instances and its number as `AWS_LAMBDA_FUNCTION_VERSION`)
//! and aliases (a name for a version, with an optional extra version and its weight, which takes
//! that share of the alias's invocations, each drawn on its own). At start
//! every function publishes version 1 and gets a `live` alias pointing at it, as `sam deploy`
//! leaves a function with `AutoPublishAlias: live`; the HTTP API invokes `live`, as API Gateway
//! does. Refusals are outcomes here; `lambda_api` alone turns them into Lambda's errors.

use crate::code::{self, CodeStore, Snapshot};
use crate::metrics::Metrics;
use crate::output::EmfLog;
use crate::pool::{FunctionConfig, FunctionPool};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

pub const LATEST: &str = "$LATEST";
/// The alias the template's `AutoPublishAlias` names and the HTTP API invokes.
pub const LIVE: &str = "live";

/// Why a request about a function was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// Lambda's `ResourceNotFoundException`.
    NotFound(String),
    /// `InvalidParameterValueException`.
    Invalid(String),
    /// `PreconditionFailedException`: a stale `RevisionId`.
    Precondition(String),
}

/// The code a version (or `$LATEST`) runs.
#[derive(Debug, Clone)]
enum Code {
    /// The `--bin-dir` binary, as it is now (`$LATEST` before any `UpdateFunctionCode`).
    BinDir(PathBuf),
    Snapshot(Arc<Snapshot>),
}

struct Published {
    pool: Arc<FunctionPool>,
    code: Arc<Snapshot>,
    modified_ms: u64,
    description: String,
    revision_id: String,
}

/// An alias: its version and the extra version taking a share of its traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct Alias {
    pub name: String,
    pub version: String,
    pub weights: BTreeMap<String, f64>,
    pub description: String,
    pub revision_id: String,
}

impl Alias {
    /// The version that takes an invocation, given a draw uniform in [0, 1): the additional
    /// version when the draw falls under its weight, else the alias's own. As in Lambda, each
    /// invocation is drawn on its own (no stickiness).
    pub fn pick(&self, draw: f64) -> &str {
        let mut floor = 0.0;
        for (version, weight) in &self.weights {
            floor += weight;
            if draw < floor {
                return version;
            }
        }
        &self.version
    }
}

/// What `UpdateAlias` asks to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct AliasUpdate {
    pub version: Option<String>,
    pub weights: Option<BTreeMap<String, f64>>,
    pub description: Option<String>,
    pub revision_id: Option<String>,
}

/// A version (or `$LATEST`) as `FunctionConfiguration` shows it.
#[derive(Debug, Clone)]
pub struct VersionView {
    pub version: String,
    pub code_size: u64,
    pub code_sha256: String,
    pub modified_ms: u64,
    pub description: String,
    pub revision_id: String,
}

/// Where an invocation goes.
pub struct Target {
    pub pool: Arc<FunctionPool>,
    /// The version that runs it (`X-Amz-Executed-Version`).
    pub version: String,
    /// The ARN the caller invoked, with its qualifier when it gave one.
    pub invoked_arn: String,
}

struct State {
    latest: Arc<FunctionPool>,
    latest_code: Code,
    latest_modified_ms: u64,
    latest_revision: String,
    versions: BTreeMap<u64, Published>,
    next_version: u64,
    aliases: BTreeMap<String, Alias>,
}

pub struct Function {
    /// The template's function, as `$LATEST` runs it.
    pub template: FunctionConfig,
    metrics: Arc<Metrics>,
    emf_log: Option<Arc<EmfLog>>,
    store: Arc<CodeStore>,
    state: Mutex<State>,
}

impl Function {
    /// `$LATEST` on the `--bin-dir` binary, then version 1 (a snapshot of it) and `live` → 1.
    pub fn start(
        template: FunctionConfig,
        metrics: Arc<Metrics>,
        emf_log: Option<Arc<EmfLog>>,
        store: Arc<CodeStore>,
    ) -> Result<Arc<Function>, String> {
        let latest = Arc::new(FunctionPool::new(
            template.clone(),
            metrics.clone(),
            emf_log.clone(),
        ));
        let function = Arc::new(Function {
            state: Mutex::new(State {
                latest,
                latest_code: Code::BinDir(template.binary.clone()),
                latest_modified_ms: crate::ids::now_ms(),
                latest_revision: crate::ids::uuid(),
                versions: BTreeMap::new(),
                next_version: 1,
                aliases: BTreeMap::new(),
            }),
            template,
            metrics,
            emf_log,
            store,
        });
        function
            .publish_now(None, None)
            .map_err(|r| format!("{}: {r:?}", function.template.logical_id))?;
        function.state().aliases.insert(
            LIVE.into(),
            Alias {
                name: LIVE.into(),
                version: "1".into(),
                weights: BTreeMap::new(),
                description: String::new(),
                revision_id: crate::ids::uuid(),
            },
        );
        Ok(function)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("not poisoned")
    }

    pub fn name(&self) -> &str {
        &self.template.name
    }

    /// The unqualified ARN.
    pub fn arn(&self) -> String {
        self.template.arn()
    }

    fn pool(&self, version: String, binary: PathBuf) -> Arc<FunctionPool> {
        let config = FunctionConfig {
            binary,
            version,
            ..self.template.clone()
        };
        Arc::new(FunctionPool::new(
            config,
            self.metrics.clone(),
            self.emf_log.clone(),
        ))
    }

    fn not_found(&self, qualifier: &str) -> Refusal {
        Refusal::NotFound(format!("Function not found: {}:{qualifier}", self.arn()))
    }

    /// `PublishVersion`: snapshots `$LATEST`'s code as the next version. As in Lambda, code
    /// identical to the last version's publishes nothing and answers that version. Blocking
    /// (copies and hashes a binary): call it off the async threads.
    pub fn publish_now(
        &self,
        description: Option<String>,
        expected_sha256: Option<String>,
    ) -> Result<VersionView, Refusal> {
        let latest_code = self.state().latest_code.clone();
        let snapshot = match latest_code {
            Code::BinDir(path) => self.store.snapshot(&path).map_err(Refusal::Invalid)?,
            Code::Snapshot(snapshot) => snapshot,
        };
        if let Some(expected) = &expected_sha256 {
            if *expected != snapshot.sha256() {
                return Err(Refusal::Invalid(format!(
                    "CodeSHA256 ({expected}) is different from current CodeSHA256 in $LATEST ({}). Please try again with the CodeSHA256 in $LATEST.",
                    snapshot.sha256()
                )));
            }
        }
        let last = {
            let state = self.state();
            state
                .versions
                .last_key_value()
                .map(|(n, p)| (*n, p.code.clone()))
        };
        if let Some((number, code)) = last {
            if Arc::ptr_eq(&code, &snapshot) || code.sha256() == snapshot.sha256() {
                return self.view(&number.to_string());
            }
        }
        let mut state = self.state();
        // Another publish may have won the race: its code's hash is known by now.
        if let Some((number, last)) = state.versions.last_key_value() {
            if Arc::ptr_eq(&last.code, &snapshot) || last.code.sha256() == snapshot.sha256() {
                let number = *number;
                drop(state);
                return self.view(&number.to_string());
            }
        }
        let number = state.next_version;
        state.next_version += 1;
        let pool = self.pool(number.to_string(), snapshot.path.clone());
        state.versions.insert(
            number,
            Published {
                pool,
                code: snapshot,
                modified_ms: crate::ids::now_ms(),
                description: description.unwrap_or_default(),
                revision_id: crate::ids::uuid(),
            },
        );
        drop(state);
        self.view(&number.to_string())
    }

    /// `UpdateFunctionCode`: `$LATEST` runs `snapshot` from now on (new instances).
    pub fn update_code(&self, snapshot: Arc<Snapshot>) -> Result<VersionView, Refusal> {
        let pool = self.pool(LATEST.into(), snapshot.path.clone());
        let old = {
            let mut state = self.state();
            state.latest_code = Code::Snapshot(snapshot);
            state.latest_modified_ms = crate::ids::now_ms();
            state.latest_revision = crate::ids::uuid();
            std::mem::replace(&mut state.latest, pool)
        };
        old.shutdown();
        self.view(LATEST)
    }

    /// One version as the API shows it. Blocking when it hashes the `--bin-dir` binary.
    pub fn view(&self, version: &str) -> Result<VersionView, Refusal> {
        let (code, modified_ms, description, revision_id) = {
            let state = self.state();
            if version == LATEST {
                (
                    state.latest_code.clone(),
                    state.latest_modified_ms,
                    String::new(),
                    state.latest_revision.clone(),
                )
            } else {
                let published = version
                    .parse::<u64>()
                    .ok()
                    .and_then(|n| state.versions.get(&n))
                    .ok_or_else(|| self.not_found(version))?;
                (
                    Code::Snapshot(published.code.clone()),
                    published.modified_ms,
                    published.description.clone(),
                    published.revision_id.clone(),
                )
            }
        };
        let (code_size, code_sha256) = match &code {
            Code::Snapshot(snapshot) => (snapshot.size, snapshot.sha256()),
            Code::BinDir(path) => (
                std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
                code::sha256_of(path),
            ),
        };
        Ok(VersionView {
            version: version.to_string(),
            code_size,
            code_sha256,
            modified_ms,
            description,
            revision_id,
        })
    }

    /// `$LATEST` and every version, in order (`ListVersionsByFunction`). Blocking, as `view`.
    pub fn views(&self) -> Vec<VersionView> {
        let numbers: Vec<u64> = self.state().versions.keys().copied().collect();
        std::iter::once(LATEST.to_string())
            .chain(numbers.iter().map(u64::to_string))
            .filter_map(|version| self.view(&version).ok())
            .collect()
    }

    /// The published version numbers.
    pub fn version_numbers(&self) -> Vec<u64> {
        self.state().versions.keys().copied().collect()
    }

    fn has_version(state: &State, version: &str) -> bool {
        version == LATEST
            || version
                .parse::<u64>()
                .is_ok_and(|n| state.versions.contains_key(&n))
    }

    /// The pool a qualifier (none, `$LATEST`, a version number or an alias) invokes.
    pub fn resolve(&self, qualifier: Option<&str>) -> Result<Target, Refusal> {
        let state = self.state();
        let Some(qualifier) = qualifier else {
            return Ok(Target {
                pool: state.latest.clone(),
                version: LATEST.into(),
                invoked_arn: self.arn(),
            });
        };
        let invoked_arn = format!("{}:{qualifier}", self.arn());
        let version = match state.aliases.get(qualifier) {
            Some(alias) => alias.pick(crate::ids::unit()).to_string(),
            None => qualifier.to_string(),
        };
        let pool = if version == LATEST {
            state.latest.clone()
        } else {
            let published = version
                .parse::<u64>()
                .ok()
                .and_then(|n| state.versions.get(&n))
                .ok_or_else(|| self.not_found(qualifier))?;
            published.pool.clone()
        };
        Ok(Target {
            pool,
            version,
            invoked_arn,
        })
    }

    pub fn alias(&self, name: &str) -> Result<Alias, Refusal> {
        self.state()
            .aliases
            .get(name)
            .cloned()
            .ok_or_else(|| Refusal::NotFound(format!("Alias not found: {}:{name}", self.arn())))
    }

    /// `UpdateAlias`, with Lambda's checks: the versions exist, one extra version at most, its
    /// weight strictly between 0 and 1, not the alias's own version, and no weights on
    /// `$LATEST`.
    pub fn update_alias(&self, name: &str, update: AliasUpdate) -> Result<Alias, Refusal> {
        let mut state = self.state();
        let current =
            state.aliases.get(name).cloned().ok_or_else(|| {
                Refusal::NotFound(format!("Alias not found: {}:{name}", self.arn()))
            })?;
        if let Some(expected) = &update.revision_id {
            if *expected != current.revision_id {
                return Err(Refusal::Precondition(
                    "The Revision Id provided does not match the latest Revision Id. Call the GetAlias API to retrieve the latest Revision Id".into(),
                ));
            }
        }
        let version = update.version.unwrap_or(current.version.clone());
        if !Self::has_version(&state, &version) {
            return Err(self.not_found(&version));
        }
        let weights = update.weights.unwrap_or(current.weights.clone());
        if weights.len() > 1 {
            return Err(Refusal::Invalid(
                "Number of items in AdditionalVersionWeights cannot be greater than 1".into(),
            ));
        }
        for (extra, weight) in &weights {
            if !(*weight > 0.0 && *weight < 1.0) {
                return Err(Refusal::Invalid(format!(
                    "Invalid weight {weight} for version {extra}: a weight is greater than 0 and less than 1"
                )));
            }
            if extra.parse::<u64>().is_err() || !Self::has_version(&state, extra) {
                return Err(self.not_found(extra));
            }
            if *extra == version {
                return Err(Refusal::Invalid(format!(
                    "Version {extra} cannot be both the alias's version and its additional version"
                )));
            }
            if version == LATEST {
                return Err(Refusal::Invalid(
                    "$LATEST is not supported for an alias pointing to more than 1 version".into(),
                ));
            }
        }
        let alias = Alias {
            name: name.to_string(),
            version,
            weights,
            description: update.description.unwrap_or(current.description),
            revision_id: crate::ids::uuid(),
        };
        state.aliases.insert(name.to_string(), alias.clone());
        Ok(alias)
    }

    pub fn shutdown(&self) {
        let state = self.state();
        state.latest.shutdown();
        for published in state.versions.values() {
            published.pool.shutdown();
        }
    }
}

/// Every function, found by logical id (as `sam local` names them), by function name, or by
/// ARN; a name may carry a qualifier (`name:live`, `arn:...:function:name:3`).
pub struct Functions {
    by_key: HashMap<String, Arc<Function>>,
    pub all: Vec<Arc<Function>>,
}

/// A function reference split into the function and its qualifier.
#[derive(Debug, PartialEq, Eq)]
pub struct Reference<'a> {
    pub name: &'a str,
    pub qualifier: Option<&'a str>,
}

impl<'a> Reference<'a> {
    pub fn parse(text: &'a str) -> Reference<'a> {
        let rest = match text.strip_prefix("arn:") {
            // arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
            Some(_) => text.splitn(7, ':').nth(6).unwrap_or(""),
            None => text,
        };
        match rest.split_once(':') {
            Some((name, qualifier)) => Reference {
                name,
                qualifier: Some(qualifier),
            },
            None => Reference {
                name: rest,
                qualifier: None,
            },
        }
    }
}

impl Functions {
    pub fn new(all: Vec<Arc<Function>>) -> Functions {
        let mut by_key = HashMap::new();
        for function in &all {
            by_key.insert(function.template.logical_id.clone(), function.clone());
            by_key.insert(function.template.name.clone(), function.clone());
        }
        Functions { by_key, all }
    }

    /// The function a name, ARN or logical id names (its qualifier ignored).
    pub fn get(&self, reference: &str) -> Option<&Arc<Function>> {
        self.by_key.get(Reference::parse(reference).name)
    }

    pub fn by_logical_id(&self, logical_id: &str) -> Option<&Arc<Function>> {
        self.all
            .iter()
            .find(|f| f.template.logical_id == logical_id)
    }

    pub fn shutdown(&self) {
        for function in &self.all {
            function.shutdown();
        }
    }
}

/// For other modules' unit tests: a function whose binary is a scratch file (never run), with
/// version 1 of `versions[0]` behind `live` and one more version per further content.
#[cfg(test)]
pub(crate) fn scratch_function(logical_id: &str, versions: &[&[u8]]) -> Arc<Function> {
    let token = crate::ids::hex(8);
    let binary = std::env::temp_dir().join(format!("redline-bin-{token}"));
    std::fs::write(&binary, versions[0]).unwrap();
    let dir = std::env::temp_dir().join(format!("redline-fn-{token}"));
    let store = Arc::new(CodeStore::new(Some(&dir), &[]).unwrap());
    let config = FunctionConfig {
        logical_id: logical_id.into(),
        name: format!("redline-local-{}", logical_id.to_ascii_lowercase()),
        binary: binary.clone(),
        version: LATEST.into(),
        memory_mb: 128,
        timeout: std::time::Duration::from_secs(3),
        environment: BTreeMap::new(),
        max_instances: 1,
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        logging: redline_template::Logging::default(),
    };
    let function = Function::start(config, Arc::new(Metrics::default()), None, store).unwrap();
    for content in &versions[1..] {
        std::fs::write(&binary, content).unwrap();
        function.publish_now(None, None).unwrap();
    }
    function
}

#[cfg(test)]
mod tests {
    use super::*;
    use redline_template::Logging;
    use std::time::Duration;

    fn function(binary: &std::path::Path) -> Arc<Function> {
        let dir = std::env::temp_dir().join(format!("redline-fn-{}", crate::ids::hex(8)));
        let store = Arc::new(CodeStore::new(Some(&dir), &[]).unwrap());
        let config = FunctionConfig {
            logical_id: "HealthFunction".into(),
            name: "redline-local-health".into(),
            binary: binary.to_path_buf(),
            version: LATEST.into(),
            memory_mb: 128,
            timeout: Duration::from_secs(3),
            environment: BTreeMap::new(),
            max_instances: 1,
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            logging: Logging::default(),
        };
        Function::start(config, Arc::new(Metrics::default()), None, store).unwrap()
    }

    fn scratch_binary(content: &[u8]) -> PathBuf {
        let path = std::env::temp_dir().join(format!("redline-bin-{}", crate::ids::hex(8)));
        std::fs::write(&path, content).unwrap();
        path
    }

    #[test]
    fn references_split_names_arns_and_qualifiers() {
        let cases = [
            ("redline-local-auth", "redline-local-auth", None),
            (
                "redline-local-auth:live",
                "redline-local-auth",
                Some("live"),
            ),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:redline-local-auth",
                "redline-local-auth",
                None,
            ),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:redline-local-auth:$LATEST",
                "redline-local-auth",
                Some("$LATEST"),
            ),
        ];
        for (text, name, qualifier) in cases {
            assert_eq!(
                Reference::parse(text),
                Reference { name, qualifier },
                "{text}"
            );
        }
    }

    #[test]
    fn start_publishes_version_1_behind_live_and_unchanged_code_publishes_nothing() {
        let binary = scratch_binary(b"one");
        let function = function(&binary);
        assert_eq!(function.version_numbers(), vec![1]);
        assert_eq!(function.alias(LIVE).unwrap().version, "1");
        let target = function.resolve(Some(LIVE)).unwrap();
        assert_eq!(target.version, "1");
        assert_eq!(target.pool.config.version, "1");
        assert!(target
            .invoked_arn
            .ends_with(":function:redline-local-health:live"));
        assert_ne!(
            target.pool.config.binary, binary,
            "a snapshot runs, not the source"
        );
        assert_eq!(function.publish_now(None, None).unwrap().version, "1");
        std::fs::write(&binary, b"two").unwrap();
        assert_eq!(function.publish_now(None, None).unwrap().version, "2");
        assert_eq!(
            function.resolve(Some("2")).unwrap().pool.config.version,
            "2"
        );
        assert_eq!(function.resolve(None).unwrap().version, LATEST);
        assert!(matches!(
            function.resolve(Some("3")),
            Err(Refusal::NotFound(_))
        ));
        let refused = function.publish_now(None, Some("not-the-hash".into()));
        assert!(matches!(refused, Err(Refusal::Invalid(_))), "{refused:?}");
    }

    #[test]
    fn alias_updates_are_checked_as_lambda_checks_them() {
        let binary = scratch_binary(b"one");
        let function = function(&binary);
        std::fs::write(&binary, b"two").unwrap();
        function.publish_now(None, None).unwrap();
        let weights = |pairs: &[(&str, f64)]| {
            Some(
                pairs
                    .iter()
                    .map(|(v, w)| (v.to_string(), *w))
                    .collect::<BTreeMap<_, _>>(),
            )
        };
        let update = |version: &str, w: Option<BTreeMap<String, f64>>| AliasUpdate {
            version: Some(version.into()),
            weights: w,
            ..AliasUpdate::default()
        };
        for (version, w) in [
            ("1", weights(&[("2", 0.0)])),
            ("1", weights(&[("2", 1.0)])),
            ("1", weights(&[("2", 1.5)])),
            ("1", weights(&[("1", 0.5)])),
            ("$LATEST", weights(&[("2", 0.5)])),
        ] {
            let refused = function.update_alias(LIVE, update(version, w.clone()));
            assert!(
                matches!(refused, Err(Refusal::Invalid(_))),
                "{version} {w:?}"
            );
        }
        for (version, w) in [("7", None), ("1", weights(&[("9", 0.5)]))] {
            let refused = function.update_alias(LIVE, update(version, w));
            assert!(matches!(refused, Err(Refusal::NotFound(_))), "{version}");
        }
        let before = function.alias(LIVE).unwrap();
        let alias = function
            .update_alias(LIVE, update("1", weights(&[("2", 0.25)])))
            .unwrap();
        assert_eq!(alias.weights, weights(&[("2", 0.25)]).unwrap());
        assert_ne!(alias.revision_id, before.revision_id);
        let stale = AliasUpdate {
            revision_id: Some(before.revision_id),
            ..AliasUpdate::default()
        };
        assert!(matches!(
            function.update_alias(LIVE, stale),
            Err(Refusal::Precondition(_))
        ));
        // The weights are applied: a draw under 0.25 goes to version 2.
        assert_eq!(
            (alias.pick(0.0), alias.pick(0.2499), alias.pick(0.25)),
            ("2", "2", "1")
        );
        let answered: Vec<String> = (0..400)
            .map(|_| function.resolve(Some(LIVE)).unwrap().version)
            .collect();
        let extra = answered.iter().filter(|v| *v == "2").count();
        // Binomial(400, 0.25): mean 100, standard deviation 8.7; 6 of them either side.
        assert!((48..=152).contains(&extra), "{extra} of 400 on version 2");
        assert!(answered.iter().all(|v| v == "1" || v == "2"));
        let cleared = function
            .update_alias(LIVE, update("2", weights(&[])))
            .unwrap();
        assert_eq!((cleared.version.as_str(), cleared.weights.len()), ("2", 0));
        assert!((0..50).all(|_| function.resolve(Some(LIVE)).unwrap().version == "2"));
    }
}
