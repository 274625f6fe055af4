//! `tierctl sync` and `tierctl import` against the emulator's DynamoDB.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};

use crate::support::emulator::Emulator;
use crate::support::{repo_root, run};

const ORIGINAL: &str = "tests/fixtures/original";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn dynamo(emu: &Emulator) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&emu.sdk_config().await)
}

/// Every item of a table, as plain JSON (strings and maps), sorted by key.
pub(crate) fn scan(emu: &Emulator, table: &str) -> Vec<Value> {
    rt().block_on(async {
        let db = dynamo(emu).await;
        let out = db.scan().table_name(table).send().await.unwrap();
        let mut items: Vec<Value> = out
            .items()
            .iter()
            .map(tierctl::store::item::item_to_json)
            .collect();
        items.sort_by_key(|v| v.to_string());
        items
    })
}

pub(crate) fn put_json(emu: &Emulator, table: &str, item: &Value) {
    fn attr(v: &Value) -> AttributeValue {
        match v {
            Value::String(s) => AttributeValue::S(s.clone()),
            Value::Object(m) => {
                AttributeValue::M(m.iter().map(|(k, v)| (k.clone(), attr(v))).collect())
            }
            other => panic!("fixture values are strings or maps: {other}"),
        }
    }
    let item: HashMap<String, AttributeValue> = item
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), attr(v)))
        .collect();
    rt().block_on(async {
        dynamo(emu)
            .await
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    });
}

fn fixture(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(repo_root().join(ORIGINAL).join(name)).unwrap())
        .unwrap()
}

fn without_marker(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("ManagedBy");
    v
}

fn dynamodb_writes(emu: &Emulator) -> usize {
    emu.calls("service=dynamodb")
        .iter()
        .filter(|c| {
            let a = c["action"].as_str().unwrap_or_default();
            [
                "PutItem",
                "UpdateItem",
                "DeleteItem",
                "BatchWriteItem",
                "TransactWriteItems",
                "CreateTable",
            ]
            .contains(&a)
        })
        .count()
}

#[test]
fn sync_creates_tables_and_items_in_the_original_format() {
    let emu = Emulator::start();
    let (code, out, err) = run(emu.tierctl().args(["--specs", ORIGINAL, "sync"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("+ BotoTestCase1 create"), "{out}");
    assert!(out.contains("Applied: 1 workload (2 item writes)"), "{out}");
    let workloads = scan(&emu, "WorkloadSpecification");
    let tiers = scan(&emu, "TierSpecification");
    assert_eq!(workloads.len(), 1);
    assert_eq!(
        without_marker(workloads[0].clone()),
        fixture("workload.json")
    );
    assert_eq!(workloads[0]["ManagedBy"], "tierctl");
    assert_eq!(without_marker(tiers[0].clone()), fixture("tier-linux.json"));
    let created: Vec<_> = emu.calls("service=dynamodb&action=CreateTable");
    assert_eq!(created.len(), 2);
    assert_eq!(created[0]["params"]["BillingMode"], "PAY_PER_REQUEST");

    // Right after: nothing to do, and not a single write call.
    emu.clear_calls();
    let (code, out, _) = run(emu.tierctl().args(["--specs", ORIGINAL, "sync"]));
    assert_eq!(code, 0);
    assert!(out.contains("= BotoTestCase1 unchanged"), "{out}");
    assert!(out.contains("No changes"), "{out}");
    assert_eq!(dynamodb_writes(&emu), 0, "{:?}", emu.counts());
}

#[test]
fn check_reports_drift_with_exit_2_and_writes_nothing() {
    let emu = Emulator::start();
    let (code, out, _) = run(emu.tierctl().args(["sync", "--check"]));
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("table WorkloadSpecification does not exist yet"),
        "{out}"
    );
    assert!(out.contains("+ BotoTestCase1 create"), "{out}");
    assert!(
        out.contains("TierSpecification BotoTestCase1/Role_App (create)"),
        "{out}"
    );
    assert!(out.contains("+TierStop:"), "{out}");
    assert_eq!(dynamodb_writes(&emu), 0);

    let (code, out, _) = run(emu.tierctl().args(["sync", "--check", "-o", "json"]));
    assert_eq!(code, 2);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["drift"], true);
    assert_eq!(doc["workloads"][0]["action"], "create");

    let (code, _, err) = run(emu.tierctl().arg("sync"));
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = run(emu.tierctl().args(["sync", "--check"]));
    assert_eq!(code, 0, "{out}");
}

pub(crate) fn copy_examples(dir: &Path) {
    for f in ["BotoTestCase1.yaml", "WinReporting.yaml"] {
        std::fs::copy(repo_root().join("workloads").join(f), dir.join(f)).unwrap();
    }
}

#[test]
fn editing_one_tier_writes_exactly_that_item() {
    let emu = Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    copy_examples(dir.path());
    let specs = dir.path().to_str().unwrap();
    let (code, _, err) = run(emu.tierctl().args(["--specs", specs, "sync"]));
    assert_eq!(code, 0, "{err}");
    let file = dir.path().join("BotoTestCase1.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replacen(
            "delaySeconds: 10\n    scaling:\n      default: t3.small",
            "delaySeconds: 45\n    scaling:\n      default: t3.small",
            1,
        ),
    )
    .unwrap();

    emu.clear_calls();
    let (code, out, err) = run(emu.tierctl().args(["--specs", specs, "sync"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("~ BotoTestCase1 update (1 tier changed)"),
        "{out}"
    );
    assert!(
        out.contains("TierSpecification BotoTestCase1/Role_DB (update)")
            && out.contains("-  InterTierOrchestrationDelay: '10'")
            && out.contains("+  InterTierOrchestrationDelay: '45'"),
        "{out}"
    );
    assert!(out.contains("= WinReporting unchanged"), "{out}");
    let tx = emu.calls("service=dynamodb&action=TransactWriteItems");
    assert_eq!(tx.len(), 1, "{tx:?}");
    let items = tx[0]["params"]["TransactItems"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["Put"]["Item"]["TierTagValue"]["S"], "Role_DB");
}

#[test]
fn concurrent_hand_edit_is_detected_and_not_lost() {
    let emu = Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    copy_examples(dir.path());
    let specs = dir.path().to_str().unwrap().to_string();
    let (code, _, err) = run(emu.tierctl().args(["--specs", &specs, "sync"]));
    assert_eq!(code, 0, "{err}");
    let file = dir.path().join("BotoTestCase1.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replacen("snsTopic: SchedulerTesting", "snsTopic: NightOps", 1),
    )
    .unwrap();

    // Hold the write back long enough for someone else to edit the item after sync read it.
    emu.clear_calls();
    emu.admin(
        "POST",
        "slow",
        Some(json!({"service": "dynamodb", "action": "TransactWriteItems", "latencyMs": 3000})),
    );
    let mut cmd = emu.tierctl();
    cmd.args(["--specs", &specs, "sync"]);
    let sync = std::thread::spawn(move || run(&mut cmd));
    let deadline = Instant::now() + Duration::from_secs(20);
    while emu.calls("service=dynamodb&action=Scan").len() < 2 {
        assert!(Instant::now() < deadline, "sync never read the tables");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut edited = scan(&emu, "WorkloadSpecification")
        .into_iter()
        .find(|w| w["SpecName"] == "BotoTestCase1")
        .unwrap();
    edited["SNSTopicName"] = json!("HandEdited");
    put_json(&emu, "WorkloadSpecification", &edited);

    let (code, out, err) = sync.join().unwrap();
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("WorkloadSpecification BotoTestCase1 changed since sync read it"),
        "{err}"
    );
    let now = scan(&emu, "WorkloadSpecification");
    let boto = now
        .iter()
        .find(|w| w["SpecName"] == "BotoTestCase1")
        .unwrap();
    assert_eq!(boto["SNSTopicName"], "HandEdited", "the hand edit survives");
}

#[test]
fn prune_removes_only_owned_orphans() {
    let emu = Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    copy_examples(dir.path());
    let specs = dir.path().to_str().unwrap();
    let (code, _, err) = run(emu.tierctl().args(["--specs", specs, "sync"]));
    assert_eq!(code, 0, "{err}");
    // An orphan that tierctl wrote, and one written by hand (the original tool's way).
    std::fs::remove_file(dir.path().join("WinReporting.yaml")).unwrap();
    let mut by_hand = fixture("workload.json");
    by_hand["SpecName"] = json!("HandMade");
    put_json(&emu, "WorkloadSpecification", &by_hand);

    let (code, out, _) = run(emu.tierctl().args(["--specs", specs, "sync"]));
    assert_eq!(code, 0);
    assert!(out.contains("! HandMade only in DynamoDB"), "{out}");
    assert!(out.contains("! WinReporting only in DynamoDB"), "{out}");
    assert_eq!(
        scan(&emu, "WorkloadSpecification").len(),
        3,
        "no --prune: nothing removed"
    );

    let (code, out, err) = run(emu.tierctl().args(["--specs", specs, "sync", "--prune"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("- WinReporting prune"), "{out}");
    assert!(
        out.contains("not pruned: it was not written by tierctl"),
        "{out}"
    );
    let names: Vec<String> = scan(&emu, "WorkloadSpecification")
        .iter()
        .map(|w| w["SpecName"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(
        names.contains(&"HandMade".to_string()) && names.contains(&"BotoTestCase1".to_string()),
        "{names:?}"
    );
    assert!(
        scan(&emu, "TierSpecification")
            .iter()
            .all(|t| t["SpecName"] != "WinReporting")
    );

    let (code, _, err) = run(emu
        .tierctl()
        .args(["--specs", specs, "sync", "--prune", specs]));
    assert_eq!(code, 1);
    assert!(
        err.contains("--prune needs the whole specs folder"),
        "{err}"
    );
}

#[test]
fn import_of_original_items_round_trips() {
    let emu = Emulator::start();
    // The original's tables, written by hand.
    let (code, _, err) = run(emu.tierctl().args(["sync", "workloads/WinReporting.yaml"]));
    assert_eq!(code, 0, "{err}");
    put_json(&emu, "WorkloadSpecification", &fixture("workload.json"));
    let mut tier = fixture("tier-linux.json");
    tier["Owner"] = json!("team-a");
    put_json(&emu, "TierSpecification", &tier);

    let out_dir = tempfile::tempdir().unwrap();
    let out_path = out_dir.path().to_str().unwrap();
    let (code, out, err) = run(emu.tierctl().args(["import", "--all", "--out", out_path]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("attribute `Owner` is not part of the format"),
        "{out}"
    );
    let imported = std::fs::read_to_string(out_dir.path().join("BotoTestCase1.yaml")).unwrap();
    assert!(
        imported.starts_with("# yaml-language-server: $schema="),
        "{imported}"
    );
    assert!(imported.contains("file: /tmp/StopOverride"), "{imported}");

    // The imported specs are valid and syncing them back writes nothing.
    let (code, out, _) = run(emu.tierctl().args(["--specs", out_path, "validate"]));
    assert_eq!(code, 0, "{out}");
    emu.clear_calls();
    let (code, out, err) = run(emu.tierctl().args(["--specs", out_path, "sync"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("No changes"), "{out}");
    assert_eq!(dynamodb_writes(&emu), 0);

    // Importing again finds the files identical; a differing file is not overwritten.
    let (code, out, _) =
        run(emu
            .tierctl()
            .args(["import", "-w", "BotoTestCase1", "--out", out_path]));
    assert_eq!(code, 0);
    assert!(out.contains("= BotoTestCase1"), "{out}");
    std::fs::write(out_dir.path().join("BotoTestCase1.yaml"), "# mine\n").unwrap();
    let (code, out, _) =
        run(emu
            .tierctl()
            .args(["import", "-w", "BotoTestCase1", "--out", out_path]));
    assert_eq!(code, 1);
    assert!(out.contains("exists and differs; use --force"), "{out}");
}

pub(crate) fn many_workloads(dir: &Path, count: usize, tiers: usize) {
    for w in 0..count {
        let mut text = format!(
            "name: wl{w:03}\nregion: us-west-2\nselector:\n  workloadTag: {{ key: App, value: app{w} }}\n  tierTagKey: Tier\n  vpcId: vpc-0123abcd\ntiers:\n"
        );
        for t in 0..tiers {
            text.push_str(&format!(
                "  - name: tier{t}\n    stop: {{ sequence: {t}, override: {{ file: /tmp/keep, os: linux }} }}\n    start: {{ sequence: {} }}\n",
                tiers - t
            ));
        }
        std::fs::write(dir.join(format!("wl{w:03}.yaml")), text).unwrap();
    }
}

#[test]
fn unchanged_sync_of_200_workloads_takes_few_calls() {
    let emu = Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    many_workloads(dir.path(), 200, 5);
    let specs = dir.path().to_str().unwrap();
    let (code, _, err) = run(emu.tierctl().args(["--specs", specs, "sync"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(scan(&emu, "TierSpecification").len(), 1000);
    emu.clear_calls();
    let started = Instant::now();
    let (code, out, _) = run(emu.tierctl().args(["--specs", specs, "sync"]));
    let took = started.elapsed();
    assert_eq!(code, 0);
    assert!(out.contains("200 unchanged"), "{out}");
    let calls = emu.calls("service=dynamodb");
    eprintln!(
        "unchanged sync of 200 workloads x 5 tiers: {} DynamoDB calls, {took:?}",
        calls.len()
    );
    assert!(calls.len() < 50, "{} calls", calls.len());
    assert_eq!(dynamodb_writes(&emu), 0);
}

#[test]
fn invalid_specs_touch_nothing() {
    let emu = Emulator::start();
    let (code, _, err) = run(emu
        .tierctl()
        .args(["--specs", "tests/fixtures/invalid", "sync"]));
    assert_eq!(code, 1);
    assert!(
        err.contains("invalid workload specs: nothing was done"),
        "{err}"
    );
    assert!(emu.calls("").is_empty(), "no AWS call at all");
}

#[test]
fn aws_errors_are_clear_and_change_nothing() {
    let emu = Emulator::start();
    // Access denied on the read.
    emu.fault(json!({"service": "dynamodb", "action": "DescribeTable", "error": "AccessDeniedException", "times": -1,
        "message": "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: dynamodb:DescribeTable"}));
    let (code, _, err) = run(emu.tierctl().arg("sync"));
    assert_eq!(code, 1);
    assert!(
        err.contains("dynamodb:DescribeTable: AccessDeniedException"),
        "{err}"
    );
    assert!(
        err.contains("not allowed to call dynamodb:DescribeTable"),
        "{err}"
    );
    emu.admin("DELETE", "faults", None);

    // Throttling that never clears: retried, then one clear message.
    emu.fault(json!({"service": "dynamodb", "action": "DescribeTable", "error": "ProvisionedThroughputExceededException", "times": -1}));
    let (code, _, err) = run(emu.tierctl().arg("sync").env("AWS_MAX_ATTEMPTS", "3"));
    assert_eq!(code, 1);
    assert!(
        err.contains("ProvisionedThroughputExceededException"),
        "{err}"
    );
    assert!(
        emu.calls("service=dynamodb&action=DescribeTable").len() >= 3,
        "retried"
    );
    emu.admin("DELETE", "faults", None);
    assert_eq!(dynamodb_writes(&emu), 0);

    // A table with another key schema.
    rt().block_on(async {
        let db = dynamo(&emu).await;
        db.create_table()
            .table_name("WorkloadSpecification")
            .key_schema(
                aws_sdk_dynamodb::types::KeySchemaElement::builder()
                    .attribute_name("Id")
                    .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .attribute_definitions(
                aws_sdk_dynamodb::types::AttributeDefinition::builder()
                    .attribute_name("Id")
                    .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
            .send()
            .await
            .unwrap();
    });
    emu.clear_calls();
    let (code, _, err) = run(emu.tierctl().arg("sync"));
    assert_eq!(code, 1);
    assert!(err.contains("table WorkloadSpecification has partition key `Id`, but tierctl expects partition key `SpecName`"), "{err}");
    assert_eq!(dynamodb_writes(&emu), 0);

    // No region anywhere.
    let (code, _, err) = run(emu.tierctl().arg("sync").env_remove("AWS_REGION"));
    assert_eq!(code, 1);
    assert!(err.contains("no AWS region"), "{err}");

    // Nothing listening.
    let (code, _, err) = run(emu
        .tierctl()
        .arg("sync")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_MAX_ATTEMPTS", "2"));
    assert_eq!(code, 1);
    assert!(err.contains("no answer from AWS"), "{err}");
}
