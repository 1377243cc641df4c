//! Which function needs what: the one table of the facts that the template, its tests, the
//! docs and the CDK twin would otherwise each restate. Every function of the template has a row:
//! what it connects to, which secret-backed configuration values it reads (and so which secrets
//! its role may read), and its environment as the template writes it. `needs.json` at the
//! repository root is this table exported (`cargo run -p redline-core --example export-needs`);
//! a test keeps it current.

use crate::area::Area;
use serde::Serialize;
use serde_json::Value;
use std::borrow::Cow;

/// A configuration value that comes from a secret of the stack in AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretKey {
    /// `database.*` of migrate: the schema owner's login, an RDS-shaped secret (host, port,
    /// dbname, username, password).
    DatabaseOwner,
    /// `database.*` of the API functions: the application role's login, RDS-shaped too.
    DatabaseApp,
    /// `database.app_user` and `database.app_password` of migrate: the application role it
    /// creates when missing (the same secret as [`SecretKey::DatabaseApp`]).
    DatabaseAppRole,
    /// `redis.url`: the operator's secret when its ARN is given, else a parameter.
    RedisUrl,
    /// `auth.tokens.signing_keys`: the private key set; `auth`'s alone.
    SigningKeys,
    /// `auth.tokens.verification_keys`: the public JWK Set.
    VerificationKeys,
    /// `crypto.data_keys`: the personal-data encryption keys.
    DataKeys,
    /// `crypto.blind_index_key`: the e-mail and phone lookup key.
    BlindIndexKey,
    /// `smoke.secret`: what the traffic hooks' smoke account is derived from (auth and the hooks).
    SmokeAccount,
}

/// A secret-backed value that a function which does not read it has dropped from its
/// configuration (so it neither fetches it nor needs the grant): the JSON pointer, and what
/// stands in for it (null where the typed key is optional; an empty URL for Redis).
const DROPPABLE: &[(SecretKey, &str, Option<&str>)] = &[
    (SecretKey::SigningKeys, "/auth/tokens/signing_keys", None),
    (
        SecretKey::VerificationKeys,
        "/auth/tokens/verification_keys",
        None,
    ),
    (SecretKey::DataKeys, "/crypto/data_keys", None),
    (SecretKey::BlindIndexKey, "/crypto/blind_index_key", None),
    (SecretKey::RedisUrl, "/redis/url", Some("")),
    (SecretKey::SmokeAccount, "/smoke/secret", None),
];

impl SecretKey {
    /// The stack's secret that holds the value: a secret resource's logical id, or (for an
    /// operator's secret) the parameter naming its ARN.
    pub fn secret(self) -> &'static str {
        match self {
            SecretKey::DatabaseOwner => "DatabaseSecret",
            SecretKey::DatabaseApp | SecretKey::DatabaseAppRole => "DatabaseAppSecret",
            SecretKey::RedisUrl => "RedisUrlSecretArn",
            SecretKey::SigningKeys => "SigningKeysSecret",
            SecretKey::VerificationKeys => "VerificationKeysSecret",
            SecretKey::DataKeys => "DataKeysSecret",
            SecretKey::BlindIndexKey => "BlindIndexKeySecret",
            SecretKey::SmokeAccount => "SmokeAccountSecret",
        }
    }

    /// The template condition under which the secret exists (an operator's secret is optional).
    pub fn condition(self) -> Option<&'static str> {
        match self {
            SecretKey::RedisUrl => Some("HasRedisUrlSecret"),
            _ => None,
        }
    }

    /// The environment variables that carry it, as the template writes them.
    pub fn variables(self) -> Vec<(&'static str, String)> {
        let whole = |secret: &str| format!("!Sub secretsmanager:${{{secret}}}");
        let key = |key: &str| format!("!Sub secretsmanager:${{{}}}#{key}", self.secret());
        let login = || {
            vec![
                ("DB_HOST", key("host")),
                ("DB_PORT", key("port")),
                ("DB_NAME", key("dbname")),
                ("DB_USER", key("username")),
                ("DB_PASSWORD", key("password")),
            ]
        };
        match self {
            SecretKey::DatabaseOwner | SecretKey::DatabaseApp => login(),
            SecretKey::DatabaseAppRole => vec![
                ("DB_APP_USER", key("username")),
                ("DB_APP_PASSWORD", key("password")),
            ],
            SecretKey::RedisUrl => vec![(
                "REDIS_URL",
                "!If [HasRedisUrlSecret, !Sub secretsmanager:${RedisUrlSecretArn}#url, !Ref RedisUrl]"
                    .into(),
            )],
            SecretKey::SigningKeys => vec![(
                "REDLINE__AUTH__TOKENS__SIGNING_KEYS",
                whole("SigningKeysSecret"),
            )],
            SecretKey::VerificationKeys => vec![(
                "REDLINE__AUTH__TOKENS__VERIFICATION_KEYS",
                whole("VerificationKeysSecret"),
            )],
            SecretKey::DataKeys => vec![("REDLINE__CRYPTO__DATA_KEYS", whole("DataKeysSecret"))],
            SecretKey::BlindIndexKey => vec![(
                "REDLINE__CRYPTO__BLIND_INDEX_KEY",
                whole("BlindIndexKeySecret"),
            )],
            SecretKey::SmokeAccount => {
                vec![("REDLINE__SMOKE__SECRET", whole("SmokeAccountSecret"))]
            }
        }
    }
}

/// One function of the template.
#[derive(Debug, Clone, Serialize)]
pub struct Needs {
    /// The template's logical id.
    pub logical_id: &'static str,
    /// The workspace binary (`functions/<binary>`).
    pub binary: &'static str,
    /// Its name in the stack: `FunctionName` is [`Needs::function_name`], the log group
    /// `/aws/lambda/<FunctionName>`, and its alarms and memory metric say `<name>`.
    pub name: &'static str,
    /// The API area it serves, for HTTP functions.
    #[serde(serialize_with = "area_name")]
    pub area: Option<Area>,
    /// The CodeDeploy lifecycle event it serves, for a traffic hook.
    pub hook: Option<Hook>,
    /// The alias SAM publishes a version under (`AutoPublishAlias`): `live` for the API
    /// functions, which CodeDeploy shifts, and for migrate, whose version the migrations custom
    /// resource names; none for functions invoked unqualified (rotation by Secrets Manager, the
    /// hooks by CodeDeploy).
    pub alias: Option<&'static str>,
    pub database: bool,
    pub redis: bool,
    /// Secret-backed configuration it reads; its role reads exactly these secrets.
    pub secrets: &'static [SecretKey],
    /// Variables beyond its secrets', as the template writes them.
    pub variables: &'static [(&'static str, &'static str)],
    /// IAM grants beyond reading its own secrets (the rotation function writes the secrets it
    /// rotates; the hooks talk to CodeDeploy and invoke the API functions).
    pub extra_grants: &'static [Grant],
}

/// The CodeDeploy lifecycle event a traffic hook function serves (`REDLINE_HOOK_PHASE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Hook {
    /// Before the alias moves: the new version, invoked directly.
    PreTraffic,
    /// After the alias moved: through `live`.
    PostTraffic,
}

impl Hook {
    pub fn phase(self) -> &'static str {
        match self {
            Hook::PreTraffic => "PreTraffic",
            Hook::PostTraffic => "PostTraffic",
        }
    }
}

/// What a traffic hook's `FunctionName` starts with: the role SAM creates for CodeDeploy may
/// invoke only functions named so (its managed policy `AWSCodeDeployRoleForLambda`).
pub const HOOK_PREFIX: &str = "CodeDeployHook_";

/// One IAM statement of a function's role: actions on resources (secret logical ids or
/// parameters naming an ARN by `!Ref`, a `!Sub` as `!Sub <text>`, or `*`), under a template
/// condition or always.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub actions: &'static [&'static str],
    pub resources: Cow<'static, [&'static str]>,
    pub condition: Option<&'static str>,
}

const ROTATE: &[&str] = &[
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
];
const PUBLISH: &[&str] = &[
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
];
const READ: &[&str] = &["secretsmanager:GetSecretValue"];
const BATCH: &[&str] = &["secretsmanager:BatchGetSecretValue"];

/// The rotation function: rotates both database secrets (the owner's also being the application
/// secret's master) and the signing secret, publishes the public JWK Set, and reads the
/// operator's master secret only when alternating users of the owner are configured.
#[rustfmt::skip]
const ROTATION_GRANTS: &[Grant] = &[
    Grant { actions: ROTATE,  resources: Cow::Borrowed(&["DatabaseSecret", "DatabaseAppSecret"]), condition: None },
    Grant { actions: ROTATE,  resources: Cow::Borrowed(&["SigningKeysSecret"]),       condition: None },
    Grant { actions: PUBLISH, resources: Cow::Borrowed(&["VerificationKeysSecret"]),  condition: None },
    Grant { actions: READ,    resources: Cow::Borrowed(&["DatabaseMasterSecretArn"]), condition: Some("HasDatabaseMasterSecret") },
];

/// The stack's CodeDeploy deployment groups: those of the application SAM creates for the
/// functions' `DeploymentPreference`s.
pub const DEPLOYMENT_GROUPS: &str = "!Sub arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:deploymentgroup:${ServerlessDeploymentApplication}/*";

/// The traffic hooks: read what CodeDeploy is deploying and report on it, on the stack's
/// deployment groups (AWS's own Lambda hook tutorial scopes the report so); the deployment's
/// targets, which IAM cannot scope (no resource type for those two actions), on `*`; and invoke
/// the API functions' versions and aliases (`<arn>:*`, never the unqualified function).
#[rustfmt::skip]
const HOOK_GRANTS: &[Grant] = &[
    Grant { actions: &["codedeploy:GetDeployment", "codedeploy:PutLifecycleEventHookExecutionStatus"], resources: Cow::Borrowed(&[DEPLOYMENT_GROUPS]), condition: None },
    Grant { actions: &["codedeploy:GetDeploymentTarget", "codedeploy:ListDeploymentTargets"],          resources: Cow::Borrowed(&["*"]),               condition: None },
    Grant {
        actions: &["lambda:InvokeFunction"],
        resources: Cow::Borrowed(&["!Sub ${AuthFunction.Arn}:*", "!Sub ${UsersFunction.Arn}:*", "!Sub ${GreeterFunction.Arn}:*", "!Sub ${HealthFunction.Arn}:*"]),
        condition: None,
    },
];

fn area_name<S: serde::Serializer>(area: &Option<Area>, s: S) -> Result<S::Ok, S::Error> {
    match area {
        Some(area) => s.serialize_str(area.function_name()),
        None => s.serialize_none(),
    }
}

const ENV: (&str, &str) = ("REDLINE_ENV", "!Ref Environment");
const KEY_ROTATION: (&str, &str) = (
    "REDLINE__AUTH__TOKENS__KEY_ROTATION",
    "!Sub ${SigningKeyRotationDays}d",
);

use SecretKey::*;

/// Every function of `template.yaml`.
#[rustfmt::skip]
pub const FUNCTIONS: &[Needs] = &[
    Needs { logical_id: "AuthFunction",            binary: "auth",          name: "auth",          area: Some(Area::Auth),    hook: None,                    alias: Some("live"), database: true,  redis: true,  secrets: &[DatabaseApp, RedisUrl, SigningKeys, DataKeys, BlindIndexKey, SmokeAccount], variables: &[ENV, KEY_ROTATION], extra_grants: &[] },
    Needs { logical_id: "UsersFunction",           binary: "users",         name: "users",         area: Some(Area::Users),   hook: None,                    alias: Some("live"), database: true,  redis: true,  secrets: &[DatabaseApp, RedisUrl, VerificationKeys, DataKeys, BlindIndexKey],variables: &[ENV, KEY_ROTATION], extra_grants: &[] },
    Needs { logical_id: "GreeterFunction",         binary: "greeter",       name: "greeter",       area: Some(Area::Greeter), hook: None,                    alias: Some("live"), database: false, redis: false, secrets: &[],                                                                variables: &[ENV], extra_grants: &[] },
    Needs { logical_id: "HealthFunction",          binary: "health",        name: "health",        area: Some(Area::Health),  hook: None,                    alias: Some("live"), database: true,  redis: true,  secrets: &[DatabaseApp, RedisUrl],                                           variables: &[ENV], extra_grants: &[] },
    Needs { logical_id: "MigrateFunction",         binary: "migrate",       name: "migrate",       area: None,                hook: None,                    alias: Some("live"), database: true,  redis: false, secrets: &[DatabaseOwner, DatabaseAppRole],                                  variables: &[ENV], extra_grants: &[] },
    // The ARN of the secret it writes the public JWK Set to: an ARN, not a value it reads.
    Needs { logical_id: "RotateSecretFunction",    binary: "rotate-secret", name: "rotate-secret", area: None,                hook: None,                    alias: None,         database: false, redis: false, secrets: &[],                                                                variables: &[ENV, ("VERIFICATION_KEYS_SECRET", "!Ref VerificationKeysSecret")], extra_grants: ROTATION_GRANTS },
    Needs { logical_id: "PreTrafficHookFunction",  binary: "traffic-hook",  name: "pre-traffic",   area: None,                hook: Some(Hook::PreTraffic),  alias: None,         database: false, redis: false, secrets: &[SmokeAccount],                                                    variables: &[ENV], extra_grants: HOOK_GRANTS },
    Needs { logical_id: "PostTrafficHookFunction", binary: "traffic-hook",  name: "post-traffic",  area: None,                hook: Some(Hook::PostTraffic), alias: None,         database: false, redis: false, secrets: &[SmokeAccount],                                                    variables: &[ENV], extra_grants: HOOK_GRANTS },
];

impl Needs {
    pub fn of(logical_id: &str) -> Option<&'static Needs> {
        FUNCTIONS.iter().find(|n| n.logical_id == logical_id)
    }

    /// Drops from a configuration tree the secret-backed values this function never reads, so
    /// it fetches (and may be allowed) only its own, even when a shared layer references them all.
    pub fn drop_unneeded(&self, tree: &mut Value) {
        for (key, pointer, stand_in) in DROPPABLE {
            if self.secrets.contains(key) {
                continue;
            }
            if let Some(value) = tree.pointer_mut(pointer) {
                *value = stand_in.map_or(Value::Null, |s| Value::String(s.into()));
            }
        }
    }

    /// Its environment as the template writes it: variable → `!Ref`/`!Sub`/`!If` text, or a
    /// literal.
    pub fn environment(&self) -> Vec<(&'static str, String)> {
        let mut vars: Vec<(&'static str, String)> = self
            .variables
            .iter()
            .map(|(name, value)| (*name, value.to_string()))
            .collect();
        for key in self.secrets {
            vars.extend(key.variables());
        }
        if let Some(hook) = self.hook {
            vars.push(("REDLINE_HOOK_PHASE", hook.phase().to_string()));
        }
        vars.sort();
        vars
    }

    /// `FunctionName` as the template's `!Sub` writes it: `${AWS::StackName}-<name>`, after
    /// [`HOOK_PREFIX`] for a traffic hook.
    pub fn function_name(&self) -> String {
        let prefix = if self.hook.is_some() { HOOK_PREFIX } else { "" };
        format!("{prefix}${{AWS::StackName}}-{}", self.name)
    }

    /// Its role's secret grants: `GetSecretValue` on each secret it reads (an operator's under
    /// its condition), `BatchGetSecretValue` on `*` when it reads any (AWS grants that action on
    /// `*` only; it returns only what `GetSecretValue` allows), then its extra grants.
    pub fn grants(&self) -> Vec<Grant> {
        let mut grants = Vec::new();
        let unconditional: Vec<&'static str> = self
            .secrets
            .iter()
            .filter(|key| key.condition().is_none())
            .map(|key| key.secret())
            .collect();
        if !unconditional.is_empty() {
            grants.push(Grant {
                actions: READ,
                resources: Cow::Owned(unconditional),
                condition: None,
            });
        }
        for key in self.secrets.iter().filter(|key| key.condition().is_some()) {
            grants.push(Grant {
                actions: READ,
                resources: Cow::Owned(vec![key.secret()]),
                condition: key.condition(),
            });
        }
        if !self.secrets.is_empty() {
            grants.push(Grant {
                actions: BATCH,
                resources: Cow::Borrowed(&["*"]),
                condition: None,
            });
        }
        grants.extend(self.extra_grants.iter().cloned());
        grants
    }

    /// The table as the committed `needs.json`: each function with its environment resolved.
    pub fn export() -> Value {
        let functions: Vec<Value> = FUNCTIONS
            .iter()
            .map(|needs| {
                let mut row = serde_json::to_value(needs).unwrap_or(Value::Null);
                let secrets: Vec<Value> = needs
                    .secrets
                    .iter()
                    .map(|key| {
                        serde_json::json!({
                            "key": key,
                            "secret": key.secret(),
                            "condition": key.condition(),
                        })
                    })
                    .collect();
                row["secrets"] = Value::Array(secrets);
                row["environment"] = needs
                    .environment()
                    .into_iter()
                    .map(|(name, value)| (name.to_string(), Value::String(value)))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
                row["grants"] = serde_json::to_value(needs.grants()).unwrap_or(Value::Null);
                row["function_name"] = Value::String(needs.function_name());
                row.as_object_mut().map(|o| o.remove("variables"));
                row.as_object_mut().map(|o| o.remove("extra_grants"));
                row
            })
            .collect();
        serde_json::json!({ "functions": functions })
    }
}

impl Area {
    /// The row of this area's function.
    pub fn needs(self) -> &'static Needs {
        FUNCTIONS
            .iter()
            .find(|n| n.area == Some(self))
            .expect("every area has a function")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_needs_json_is_the_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../needs.json");
        let exported = serde_json::to_string_pretty(&Needs::export()).unwrap() + "\n";
        if std::env::var_os("REDLINE_BLESS").is_some() {
            std::fs::write(path, &exported).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == exported,
            "needs.json is stale: run `REDLINE_BLESS=1 cargo test -p redline-core needs` and commit it"
        );
    }

    #[test]
    fn a_function_drops_the_secret_backed_values_it_does_not_read() {
        let mut tree = serde_json::json!({
            "auth": {"tokens": {"signing_keys": "secretsmanager:s", "verification_keys": "secretsmanager:v"}},
            "crypto": {"data_keys": "secretsmanager:d", "blind_index_key": "secretsmanager:b"},
            "redis": {"url": "secretsmanager:r#url"},
        });
        Area::Users.needs().drop_unneeded(&mut tree);
        assert_eq!(tree["auth"]["tokens"]["signing_keys"], Value::Null);
        assert_eq!(
            tree["auth"]["tokens"]["verification_keys"],
            "secretsmanager:v"
        );
        assert_eq!(tree["redis"]["url"], "secretsmanager:r#url");
        Area::Greeter.needs().drop_unneeded(&mut tree);
        assert_eq!(tree["redis"]["url"], "");
        assert_eq!(tree["crypto"]["data_keys"], Value::Null);
    }

    #[test]
    fn the_hooks_are_one_binary_named_for_codedeploys_role_one_per_phase() {
        let hooks: Vec<&Needs> = FUNCTIONS.iter().filter(|n| n.hook.is_some()).collect();
        let phases: Vec<&str> = hooks.iter().map(|n| n.hook.unwrap().phase()).collect();
        assert_eq!(phases, ["PreTraffic", "PostTraffic"]);
        for hook in hooks {
            assert_eq!(hook.binary, "traffic-hook");
            assert!(hook.function_name().starts_with(HOOK_PREFIX), "{hook:?}");
            assert!(hook
                .environment()
                .contains(&("REDLINE_HOOK_PHASE", hook.hook.unwrap().phase().to_string())));
            assert_eq!((hook.area, hook.alias), (None, None), "{}", hook.logical_id);
        }
        assert_eq!(Area::Auth.needs().function_name(), "${AWS::StackName}-auth");
    }

    #[test]
    fn only_migrate_and_the_rotation_reach_the_owners_login() {
        for needs in FUNCTIONS {
            let reads_owner = needs
                .grants()
                .iter()
                .any(|grant| grant.resources.contains(&SecretKey::DatabaseOwner.secret()));
            let expected = matches!(needs.logical_id, "MigrateFunction" | "RotateSecretFunction");
            assert_eq!(reads_owner, expected, "{}", needs.logical_id);
        }
        for area in Area::ALL {
            let secrets = area.needs().secrets;
            assert!(!secrets.contains(&SecretKey::DatabaseOwner), "{area:?}");
            assert_eq!(
                secrets.contains(&SecretKey::DatabaseApp),
                area.needs().database
            );
        }
    }

    #[test]
    fn every_area_has_exactly_one_function() {
        for area in Area::ALL {
            let rows = FUNCTIONS.iter().filter(|n| n.area == Some(area)).count();
            assert_eq!(rows, 1, "{area:?}");
            assert_eq!(area.needs().binary, area.function_name());
        }
    }
}
