//! Secrets: generated values, least-privilege reads, rotation.

use super::*;

#[test]
fn every_secret_is_generated_and_none_is_written_in_the_template() {
    let template = template();
    let expected: BTreeSet<String> = SECRETS.iter().map(|s| s.to_string()).collect();
    assert_eq!(secret_resources(&template), expected, "the stack's secrets");

    // AWS's character classes for GenerateSecretString.
    const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    let alphabet = |generate: &Value| -> BTreeSet<char> {
        let flag = |key: &str| generate[key].as_bool().unwrap_or(false);
        let mut chars: BTreeSet<char> = BTreeSet::new();
        if !flag("ExcludeNumbers") {
            chars.extend('0'..='9');
        }
        if !flag("ExcludeLowercase") {
            chars.extend('a'..='z');
        }
        if !flag("ExcludeUppercase") {
            chars.extend('A'..='Z');
        }
        if !flag("ExcludePunctuation") {
            chars.extend(PUNCTUATION.chars());
        }
        if flag("IncludeSpace") {
            chars.insert(' ');
        }
        for c in generate["ExcludeCharacters"]
            .as_str()
            .unwrap_or_default()
            .chars()
        {
            chars.remove(&c);
        }
        chars
    };
    let hex: BTreeSet<char> = ('0'..='9').chain('a'..='f').collect();
    // A template with its ${Parameter}s filled in must be a JSON object.
    let template_json = |id: &str, value: &Value| -> serde_json::Map<String, serde_json::Value> {
        let text = sub_text(value)
            .or_else(|| value.as_str())
            .unwrap_or_else(|| panic!("{id}: SecretStringTemplate is {value:?}"));
        let mut filled = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            filled.push_str(&rest[..start]);
            let (name, after) = rest[start + 2..].split_once('}').expect("closed ${");
            let parameter = &template["Parameters"][name];
            assert!(!parameter.is_null(), "{id}: ${{{name}}} is not a parameter");
            filled.push_str(if parameter["Type"].as_str() == Some("Number") {
                "5432"
            } else {
                "x"
            });
            rest = after;
        }
        filled.push_str(rest);
        serde_json::from_str(&filled)
            .unwrap_or_else(|e| panic!("{id}: SecretStringTemplate is not JSON ({e}): {filled}"))
    };

    for id in SECRETS {
        let resource = &resources(&template)[id];
        let props = &resource["Properties"];
        assert!(
            props.get("SecretString").is_none(),
            "{id}: a literal SecretString is a secret in the template"
        );
        let generate = &props["GenerateSecretString"];
        assert!(
            generate.is_mapping(),
            "{id}: the value must be generated (GenerateSecretString)"
        );
        let key = generate["GenerateStringKey"].as_str();
        let length = generate["PasswordLength"].as_u64();
        match id {
            "DatabaseSecret" => {
                assert_database_password(id, key, length, alphabet(generate));
                let (condition, with_master, without) =
                    if_branches(&generate["SecretStringTemplate"])
                        .expect("DatabaseSecret's template is !If [HasDatabaseMasterSecret, ...]");
                assert_eq!(condition, "HasDatabaseMasterSecret");
                let rds_shape = BTreeSet::from(["dbname", "engine", "host", "port", "username"]);
                let without = template_json(id, without);
                assert_eq!(
                    without.keys().map(String::as_str).collect::<BTreeSet<_>>(),
                    rds_shape,
                    "{id}: the RDS secret shape"
                );
                assert_eq!(without["engine"], "postgres");
                assert!(without["port"].is_number(), "{id}: port is a number");
                let with_master = template_json(id, with_master);
                let mut keys = rds_shape.clone();
                keys.insert("masterarn");
                assert_eq!(
                    with_master
                        .keys()
                        .map(String::as_str)
                        .collect::<BTreeSet<_>>(),
                    keys,
                    "{id}: the RDS shape plus masterarn"
                );
                let mut refs = BTreeSet::new();
                referenced_names(&generate["SecretStringTemplate"], &mut refs);
                assert_eq!(
                    refs,
                    [
                        "DatabaseHost",
                        "DatabaseMasterSecretArn",
                        "DatabaseName",
                        "DatabasePort",
                        "DatabaseUser"
                    ]
                    .map(String::from)
                    .into(),
                    "{id}: its template's parameters"
                );
                let mut condition_refs = BTreeSet::new();
                referenced_names(
                    &template["Conditions"]["HasDatabaseMasterSecret"],
                    &mut condition_refs,
                );
                assert_eq!(
                    condition_refs,
                    BTreeSet::from(["DatabaseMasterSecretArn".to_string()])
                );
                assert_eq!(
                    template["Parameters"]["DatabaseMasterSecretArn"]["Default"].as_str(),
                    Some(""),
                    "alternating users are optional"
                );
            }
            "DatabaseAppSecret" => {
                assert_database_password(id, key, length, alphabet(generate));
                // Alternating users, with the owner's login as master.
                let text = sub_text(&generate["SecretStringTemplate"])
                    .expect("DatabaseAppSecret's template is a !Sub");
                assert!(
                    text.contains(r#""masterarn":"${DatabaseSecret}""#),
                    "{id}: masterarn is the owner's secret: {text}"
                );
                let mut refs = BTreeSet::new();
                referenced_names(&generate["SecretStringTemplate"], &mut refs);
                assert_eq!(
                    refs,
                    [
                        "DatabaseAppUser",
                        "DatabaseHost",
                        "DatabaseName",
                        "DatabasePort",
                        "DatabaseSecret"
                    ]
                    .map(String::from)
                    .into(),
                    "{id}: its template's parameters and the owner's secret"
                );
            }
            "SigningKeysSecret" | "VerificationKeysSecret" => {
                // A placeholder: the rotation function writes the real key sets.
                assert_eq!(key, Some("bootstrap"), "{id} GenerateStringKey");
                let shape = template_json(id, &generate["SecretStringTemplate"]);
                assert_eq!(
                    serde_json::Value::Object(shape),
                    serde_json::json!({"keys": []}),
                    "{id} template"
                );
            }
            "DataKeysSecret" => {
                assert_eq!(key, Some("1"), "{id}: version 1 is the generated key");
                assert_eq!(length, Some(64), "{id}: 64 hex characters, 256 bits");
                assert_eq!(alphabet(generate), hex, "{id}: hex only");
                let shape = template_json(id, &generate["SecretStringTemplate"]);
                assert_eq!(
                    serde_json::Value::Object(shape),
                    serde_json::json!({"current": 1}),
                    "{id} template"
                );
            }
            "BlindIndexKeySecret" => {
                assert!(
                    generate.get("SecretStringTemplate").is_none() && key.is_none(),
                    "{id} is a plain string"
                );
                assert_eq!(length, Some(64), "{id}: 64 hex characters, 256 bits");
                assert_eq!(alphabet(generate), hex, "{id}: hex only");
            }
            "SmokeAccountSecret" => {
                // redline_crypto::smoke derives the login and the signing key from the string.
                assert!(
                    generate.get("SecretStringTemplate").is_none() && key.is_none(),
                    "{id} is a plain string"
                );
                assert_eq!(length, Some(48), "{id} PasswordLength");
                assert_eq!(
                    alphabet(generate),
                    ('0'..='9')
                        .chain('a'..='z')
                        .chain('A'..='Z')
                        .collect::<BTreeSet<_>>(),
                    "{id}: letters and digits"
                );
            }
            other => panic!("unknown secret {other}"),
        }
        // Losing these loses every sealed field or every lookup: the stack never deletes them.
        if matches!(id, "DataKeysSecret" | "BlindIndexKeySecret") {
            for policy in ["DeletionPolicy", "UpdateReplacePolicy"] {
                assert_eq!(resource[policy].as_str(), Some("Retain"), "{id} {policy}");
            }
        }
    }
}

/// What statements allow, however they are grouped: (condition, action, resource) triples.
type Allowed = BTreeSet<(Option<String>, String, String)>;

fn allowed(condition: Option<&str>, actions: &[&str], on: &[&str]) -> Allowed {
    let mut out = Allowed::new();
    for action in actions {
        for resource in on {
            out.insert((
                condition.map(str::to_string),
                action.to_string(),
                resource.to_string(),
            ));
        }
    }
    out
}

fn table_allows(grants: &[redline_core::needs::Grant]) -> Allowed {
    grants
        .iter()
        .flat_map(|g| allowed(g.condition, g.actions, &g.resources))
        .collect()
}

fn statement_allows(
    condition: &Option<String>,
    actions: &BTreeSet<String>,
    on: &BTreeSet<String>,
) -> Allowed {
    let actions: Vec<&str> = actions.iter().map(String::as_str).collect();
    let on: Vec<&str> = on.iter().map(String::as_str).collect();
    allowed(condition.as_deref(), &actions, &on)
}

#[test]
fn each_role_allows_exactly_its_rows_grants() {
    let template = template();
    for id in FUNCTIONS.iter().copied() {
        let role_id = role_of(&template, id);
        let mut actual = Allowed::new();
        for (condition, statement) in role_statements(&template, &role_id) {
            let (actions, on) = grants(&role_id, &statement);
            actual.extend(statement_allows(&condition, &actions, &on));
        }
        assert_eq!(
            actual,
            table_allows(&Needs::of(id).unwrap().grants()),
            "{role_id}: (condition, action, resource) as its grants in shared/core/src/needs.rs"
        );
    }
}

#[test]
fn each_role_reads_exactly_the_secrets_its_function_references() {
    let template = template();
    for id in FUNCTIONS.iter().copied() {
        let role_id = role_of(&template, id);
        let referenced = secret_references(&template, id);
        // What the function does beyond reading its secrets is its row's extra grants.
        let extra = table_allows(Needs::of(id).unwrap().extra_grants);
        let mut readable = BTreeSet::new();
        let mut batch = false;
        for (condition, statement) in role_statements(&template, &role_id) {
            let (actions, on) = grants(&role_id, &statement);
            if statement_allows(&condition, &actions, &on).is_subset(&extra) {
                continue;
            }
            if let Some(condition) = condition {
                // Only an operator's secret is granted conditionally: when its ARN is given.
                let (arn, _) = OPERATOR_SECRETS
                    .iter()
                    .find(|(_, when)| *when == condition)
                    .unwrap_or_else(|| panic!("{role_id}: a statement under {condition}"));
                assert_eq!(
                    (actions, on),
                    (
                        BTreeSet::from(["secretsmanager:GetSecretValue".to_string()]),
                        BTreeSet::from([arn.to_string()])
                    ),
                    "{role_id}: under {condition}, read {arn} alone"
                );
                readable.insert(arn.to_string());
                continue;
            }
            if actions.contains("secretsmanager:BatchGetSecretValue") {
                // AWS only grants it on "*"; it returns only the secrets GetSecretValue allows.
                assert_eq!(
                    actions.len(),
                    1,
                    "{role_id}: BatchGetSecretValue's statement is on *, keep it alone"
                );
                assert_eq!(on, BTreeSet::from(["*".to_string()]), "{role_id}");
                batch = true;
                continue;
            }
            assert_eq!(
                actions,
                BTreeSet::from(["secretsmanager:GetSecretValue".to_string()]),
                "{role_id}: functions only read secrets"
            );
            for target in &on {
                assert!(
                    secret_resources(&template).contains(target),
                    "{role_id}: GetSecretValue on {target}, not on one of the stack's secrets"
                );
            }
            readable.extend(on);
        }
        assert_eq!(
            readable, referenced,
            "{role_id}: GetSecretValue on exactly the secrets {id}'s environment references"
        );
        assert_eq!(
            batch,
            !referenced.is_empty(),
            "{role_id}: BatchGetSecretValue (the cold start's one call) iff it reads secrets"
        );
        if id == "GreeterFunction" {
            assert!(
                resources(&template)[role_id.as_str()]["Properties"]
                    .get("Policies")
                    .is_none(),
                "the greeter has no secret access"
            );
        }
    }
}

#[test]
fn the_rotation_function_writes_only_the_rotated_secrets() {
    let template = template();
    let role_id = role_of(&template, "RotateSecretFunction");
    let mut allowed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut conditional = Vec::new();
    for (condition, statement) in role_statements(&template, &role_id) {
        let (actions, on) = grants(&role_id, &statement);
        for action in &actions {
            assert!(
                action.starts_with("secretsmanager:") && !action.contains('*'),
                "{role_id}: {action}"
            );
        }
        assert!(!on.contains("*"), "{role_id}: {actions:?} on *");
        if let Some(condition) = condition {
            conditional.push((condition, actions, on));
            continue;
        }
        for target in on {
            allowed
                .entry(target)
                .or_default()
                .extend(actions.iter().cloned());
        }
    }
    // What it may do comes from the table of which function needs what.
    let table = Needs::of("RotateSecretFunction").unwrap().grants();
    let set =
        |items: &[&str]| -> BTreeSet<String> { items.iter().map(|s| s.to_string()).collect() };
    let mut expected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut expected_conditional = Vec::new();
    for grant in &table {
        match grant.condition {
            Some(condition) => expected_conditional.push((
                condition.to_string(),
                set(grant.actions),
                set(&grant.resources),
            )),
            None => {
                for resource in grant.resources.iter() {
                    expected
                        .entry(resource.to_string())
                        .or_default()
                        .extend(set(grant.actions));
                }
            }
        }
    }
    assert_eq!(
        allowed, expected,
        "{role_id}: the rotated secrets and the public key set; never the data or index keys"
    );
    assert_eq!(
        conditional, expected_conditional,
        "{role_id}: the master secret, read only when alternating users are configured"
    );
    assert_eq!(
        secret_references(&template, "RotateSecretFunction"),
        BTreeSet::new()
    );
}

/// The env-vars files of the local runner (the shape of `sam local --env-vars`), merged in order:
/// function -> variable -> value (`None`: unset).
fn local_env_files(files: &[&str]) -> BTreeMap<String, BTreeMap<String, Option<String>>> {
    let mut merged: BTreeMap<String, BTreeMap<String, Option<String>>> = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(root().join(file)).expect(file);
        let sections: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        for (section, vars) in sections {
            let vars = vars.as_object().expect("sections are objects");
            for (name, value) in vars {
                merged
                    .entry(section.clone())
                    .or_default()
                    .insert(name.clone(), value.as_str().map(str::to_string));
            }
        }
    }
    merged
}

/// Locally no secret resource exists: every variable that refers to one is unset by the
/// env-vars files (the dev configuration's own secretsmanager: references, against
/// configs/secrets.dev.json or the compose stack's emulator, apply), or, for the rotation
/// function's target secret, given the local secret's id. Otherwise the runner would stop on the
/// unresolved !Ref (it resolves parameters, not resources).
#[test]
fn local_env_files_unset_every_variable_that_refers_to_a_secret() {
    let template = template();
    let secrets = secret_resources(&template);
    let local_secrets: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(root().join("configs/secrets.dev.json"))
            .expect("configs/secrets.dev.json"),
    )
    .expect("secrets.dev.json is a JSON object");
    for files in [
        vec!["configs/local-env.json"],
        vec!["configs/local-env.json", "configs/local-env.compose.json"],
    ] {
        let merged = local_env_files(&files);
        for id in FUNCTIONS.iter().copied() {
            for (name, value) in environment(&template, id) {
                let mut refs = BTreeSet::new();
                referenced_names(&value, &mut refs);
                if refs.is_disjoint(&secrets) {
                    continue;
                }
                let setting = merged
                    .get(id)
                    .and_then(|vars| vars.get(&name))
                    .or_else(|| merged.get("Parameters").and_then(|vars| vars.get(&name)))
                    .unwrap_or_else(|| {
                        panic!("{files:?}: {id} {name} refers to a secret and is not set")
                    });
                match (id, name.as_str()) {
                    ("RotateSecretFunction", "VERIFICATION_KEYS_SECRET") => {
                        let local = setting.as_deref().unwrap_or_default();
                        assert!(
                            local_secrets.contains_key(local),
                            "{files:?}: {id} {name} = {local:?}, not a secret of secrets.dev.json"
                        );
                    }
                    _ => assert_eq!(
                        setting, &None,
                        "{files:?}: {id} {name} must be null (unset), so the dev configuration's \
                         own value applies"
                    ),
                }
            }
        }
    }
}

/// `7d`, `24h` and the like from the configuration files, in seconds.
fn duration_seconds(text: &str) -> u64 {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap());
    let number: u64 = number.parse().expect("a number");
    number
        * match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            other => panic!("unit {other}"),
        }
}

#[test]
fn rotation_schedules_invoke_the_rotation_function_with_secrets_managers_permission() {
    let template = template();
    let permissions: Vec<(&str, &Value)> = resources(&template)
        .iter()
        .filter(|(_, r)| resource_type(r) == "AWS::Lambda::Permission")
        .map(|(id, r)| (id.as_str().unwrap_or_default(), r))
        .collect();
    assert_eq!(permissions.len(), 1, "one Lambda permission");
    let (permission_id, permission) = permissions[0];
    let props = &permission["Properties"];
    assert_eq!(props["Action"].as_str(), Some("lambda:InvokeFunction"));
    assert_eq!(
        props["Principal"].as_str(),
        Some("secretsmanager.amazonaws.com")
    );
    assert_eq!(
        get_att(&props["FunctionName"]).as_deref(),
        Some("RotateSecretFunction.Arn")
    );
    assert_eq!(
        ref_target(&props["SourceAccount"]),
        Some("AWS::AccountId"),
        "only this account's secrets may invoke it"
    );

    let schedules: BTreeMap<String, &Value> = resources(&template)
        .values()
        .filter(|r| resource_type(r) == "AWS::SecretsManager::RotationSchedule")
        .map(|r| {
            let secret = ref_target(&r["Properties"]["SecretId"])
                .expect("SecretId is !Ref of a secret")
                .to_string();
            (secret, r)
        })
        .collect();
    assert_eq!(
        schedules.keys().map(String::as_str).collect::<Vec<_>>(),
        ["DatabaseAppSecret", "DatabaseSecret", "SigningKeysSecret"],
        "rotated secrets (data keys by hand, blind index never, the JWKS by the signing rotation)"
    );
    for (secret, schedule) in &schedules {
        let props = &schedule["Properties"];
        assert_eq!(
            get_att(&props["RotationLambdaARN"]).as_deref(),
            Some("RotateSecretFunction.Arn"),
            "{secret}: rotated by RotateSecretFunction"
        );
        assert!(
            props.get("HostedRotationLambda").is_none(),
            "{secret}: our function, not a hosted one"
        );
        assert!(
            one_or_many(&schedule["DependsOn"]).contains(&permission_id.to_string()),
            "{secret}: the schedule must wait for the permission (the first rotation invokes)"
        );
        let (immediately, days) = match secret.as_str() {
            // The first rotation makes the first real signing key.
            "SigningKeysSecret" => (true, "SigningKeyRotationDays"),
            // The database knows no password from the secret until the operator sets it, so
            // the schedule is created only once the operator enables it.
            _ => {
                assert_eq!(
                    schedule["Condition"].as_str(),
                    Some("RotateDatabase"),
                    "{secret}: off until the DatabaseRotation parameter enables it"
                );
                assert_eq!(
                    template["Parameters"]["DatabaseRotation"]["Default"].as_str(),
                    Some("disabled")
                );
                (false, "DatabaseRotationDays")
            }
        };
        assert_eq!(
            props["RotateImmediatelyOnUpdate"].as_bool(),
            Some(immediately),
            "{secret} RotateImmediatelyOnUpdate"
        );
        assert_eq!(
            ref_target(&props["RotationRules"]["AutomaticallyAfterDays"]),
            Some(days),
            "{secret} interval"
        );
        assert_eq!(
            template["Parameters"][days]["Default"].as_u64(),
            Some(30),
            "{days}"
        );
    }

    // A token stays verifiable while its key is in the set: the current key and the previous one,
    // kept one interval. The interval must outlast the longest token plus the secret cache.
    let config: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(root().join("configs/config.yaml")).expect("config.yaml"),
    )
    .expect("config.yaml is YAML");
    let refresh_ttl = duration_seconds(
        config["auth"]["tokens"]["refresh_ttl"]
            .as_str()
            .expect("auth.tokens.refresh_ttl"),
    );
    let min_days = template["Parameters"]["SigningKeyRotationDays"]["MinValue"]
        .as_u64()
        .expect("SigningKeyRotationDays has a MinValue");
    assert_eq!(min_days, 8);
    assert!(
        min_days * 86_400 > refresh_ttl,
        "SigningKeyRotationDays may go below the refresh-token lifetime ({refresh_ttl} s)"
    );
}

/// A database login's generated password: 32 letters and digits (no punctuation to quote in a
/// connection string), under the key the rotation function reads.
fn assert_database_password(
    id: &str,
    key: Option<&str>,
    length: Option<u64>,
    alphabet: BTreeSet<char>,
) {
    assert_eq!(key, Some("password"), "{id} GenerateStringKey");
    assert_eq!(length, Some(32), "{id} PasswordLength");
    assert_eq!(
        alphabet,
        ('0'..='9')
            .chain('a'..='z')
            .chain('A'..='Z')
            .collect::<BTreeSet<_>>(),
        "{id}: letters and digits (no punctuation to quote in a connection string)"
    );
}
