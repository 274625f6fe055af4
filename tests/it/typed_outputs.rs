//! `validate -o json` and `import -o json` conform to their committed
//! schemas (`schema/validate-output.schema.json`,
//! `schema/import-output.schema.json`), in every shape they take: valid,
//! invalid, strict; imported, identical, in the way, unknown.

use serde_json::Value;

use crate::run::Shop;
use crate::support::emulator::Emulator;
use crate::support::{assert_conforms, run, tierctl};

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn validate_json_conforms() {
    for (args, code, valid) in [
        (vec!["-o", "json", "validate"], 0, true),
        (
            vec![
                "-o",
                "json",
                "validate",
                "--strict",
                "tests/fixtures/invalid",
            ],
            1,
            false,
        ),
        (
            vec!["-o", "json", "validate", "tests/fixtures/invalid"],
            1,
            false,
        ),
        (vec!["-o", "json", "validate", "no/such/dir"], 1, false),
    ] {
        let (got, out, err) = run(tierctl().args(&args));
        assert_eq!(got, code, "{args:?}: {err}");
        let doc = json(&out);
        assert_conforms("validate-output", &doc);
        assert_eq!(doc["valid"], valid, "{args:?}");
        assert_eq!(doc["version"], 1);
        let diagnostics = doc["diagnostics"].as_array().unwrap();
        let errors = diagnostics
            .iter()
            .filter(|d| d["severity"] == "error")
            .count();
        assert_eq!(doc["errors"], errors, "{args:?}");
        assert_eq!(
            doc["warnings"],
            diagnostics.len() - errors,
            "{args:?}: every diagnostic is an error or a warning"
        );
    }
}

#[test]
fn import_json_conforms_in_every_shape() {
    let shop = Shop::new(1, "running");
    let (code, _, err) = shop.tierctl(&["sync"]);
    assert_eq!(code, 0, "{err}");
    let out_dir = shop.dir.path().join("imported");
    let out_arg = out_dir.to_str().unwrap().to_string();
    let import = |extra: &[&str]| {
        let mut args = vec!["-o", "json", "import", "--out", &out_arg];
        args.extend_from_slice(extra);
        let (code, out, err) = shop.tierctl(&args);
        let doc = json(&out);
        assert_conforms("import-output", &doc);
        (code, doc, err)
    };

    // Written, then found identical.
    let (code, doc, err) = import(&["--all"]);
    assert_eq!(code, 0, "{err}");
    let entry = &doc["workloads"][0];
    assert_eq!(entry["name"], "Shop");
    assert_eq!(entry["written"], true);
    assert!(entry["file"].as_str().unwrap().ends_with("Shop.yaml"));
    assert!(entry.get("error").is_none(), "{entry}");
    let (code, doc, _) = import(&["-w", "Shop"]);
    assert_eq!(code, 0);
    assert_eq!(doc["workloads"][0]["written"], false);

    // A differing file in the way: file, error and warnings; no `written`.
    std::fs::write(out_dir.join("Shop.yaml"), "# mine\n").unwrap();
    let (code, doc, _) = import(&["-w", "Shop"]);
    assert_eq!(code, 1);
    let entry = &doc["workloads"][0];
    assert!(
        entry["error"]
            .as_str()
            .unwrap()
            .contains("exists and differs; use --force"),
        "{entry}"
    );
    assert!(entry["file"].is_string() && entry["warnings"].is_array());
    assert!(entry.get("written").is_none(), "{entry}");
    assert_eq!(
        std::fs::read_to_string(out_dir.join("Shop.yaml")).unwrap(),
        "# mine\n"
    );

    // --force overwrites; an unknown name is an entry with name and error only.
    let (code, doc, _) = import(&["-w", "Shop", "-w", "Nope", "--force"]);
    assert_eq!(code, 1, "Nope is not in the table");
    assert_eq!(doc["workloads"][0]["written"], true);
    let nope = doc["workloads"][1].as_object().unwrap();
    let keys: Vec<&str> = nope.keys().map(String::as_str).collect();
    assert_eq!(keys, ["name", "error"], "{nope:?}");
    assert!(
        nope["error"]
            .as_str()
            .unwrap()
            .starts_with("no item with SpecName `Nope` in WorkloadSpecification")
    );
}

#[test]
fn import_without_tables_writes_nothing() {
    let emu = Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (code, stdout, err) = run(emu.tierctl().args([
        "-o",
        "json",
        "import",
        "--all",
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(code, 1, "{stdout}{err}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(err.contains("WorkloadSpecification"), "{err}");
    assert!(
        !out.exists(),
        "no folder created when the tables are missing"
    );
}

/// The `Two` workload: `web` (override file checked on stop) then `db`.
fn two_tiers(extra: &str) -> String {
    format!(
        r#"# yaml-language-server: $schema=../schema/workload.schema.json
name: Two
region: us-west-2
{extra}notify:
  snsTopic: TierAlerts
selector:
  workloadTag: {{ key: App, value: two }}
  tierTagKey: Role
  vpcId: vpc-0123abcd
tiers:
  - name: web
    stop: {{ sequence: 0, delaySeconds: 0, override: {{ file: /tmp/keep, os: linux }} }}
    start: {{ sequence: 1, delaySeconds: 0 }}
  - name: db
    stop: {{ sequence: 1, synchronous: true, delaySeconds: 0 }}
    start: {{ sequence: 0, synchronous: true, delaySeconds: 0 }}
"#
    )
}

/// Runs `run stop Two --create-topic` on a fleet of 3 web (the first keeps
/// the override file, the second's agent is offline) and 1 db, and returns
/// the exit code and the one published message, ids redacted to `[web #0]`...
fn published_stop(extra: &str) -> (i32, String) {
    use crate::support::emulator::REGION;
    use serde_json::json;
    let emu = Emulator::start();
    // The override check runs tierctl's own document, which sync creates.
    emu.create_override_document(crate::support::emulator::REGION);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Two.yaml"), two_tiers(extra)).unwrap();
    let tier = |name: &str, count: u32| json!({"name": name, "count": count, "instanceType": "t3.micro", "guest": {"latencyMs": 50}});
    let seeded = emu.seed(json!({
        "region": REGION, "vpc": "vpc-0123abcd",
        "workloads": [{"workloadTag": {"key": "App", "value": "two"}, "tierTagKey": "Role",
            "tiers": [tier("web", 3), tier("db", 1)]}]
    }));
    let ids = |n: usize| -> Vec<String> {
        seeded["workloads"][0]["tiers"][n]["instanceIds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let (web, db) = (ids(0), ids(1));
    let guest = |id: &str, body: Value| emu.admin("PUT", &format!("guests/{id}"), Some(body));
    guest(
        &web[0],
        json!({"os": "linux", "files": ["/tmp/keep"], "latencyMs": 50}),
    );
    guest(&web[1], json!({"os": "linux", "agent": "offline"}));
    let specs = dir.path().to_str().unwrap();
    let (code, out, err) = run(emu.tierctl_in(dir.path()).args([
        "--specs",
        specs,
        "run",
        "stop",
        "Two",
        "--create-topic",
    ]));
    let publishes: Vec<Value> = emu
        .calls("service=sns&action=Publish")
        .into_iter()
        .filter(|c| c["status"] == 200)
        .collect();
    assert_eq!(publishes.len(), 1, "{out}{err}");
    let p = &publishes[0]["params"];
    let mut text = format!(
        "subject: {}\n---\n{}",
        p["Subject"].as_str().unwrap(),
        p["Message"].as_str().unwrap()
    );
    for (tier, list) in [("web", &web), ("db", &db)] {
        for (n, id) in list.iter().enumerate() {
            text = text.replace(id.as_str(), &format!("[{tier} #{n}]"));
        }
    }
    (code, text)
}

#[test]
fn published_notifications_snapshot() {
    let (code, text) = published_stop("");
    assert_eq!(code, 3, "bypassed and held back: {text}");
    insta::assert_snapshot!("notification_stop_bypassed_held_back", text);
    let (code, text) = published_stop("disabled: true\n");
    assert_eq!(code, 0, "{text}");
    insta::assert_snapshot!("notification_kill_switch", text);
}

#[test]
fn iam_policy_output_conforms_to_its_schema() {
    let (code, out, err) = crate::support::run(
        crate::support::tierctl()
            .args(["--specs", "workloads", "iam-policy", "--for", "all"])
            .current_dir(crate::support::repo_root()),
    );
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    crate::support::assert_conforms("iam-policy-output", &doc);
    assert_eq!(doc["Version"], "2012-10-17");
}
