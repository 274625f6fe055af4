//! One validation for every input (issue 16): hand-edited DynamoDB items
//! refused by table, SpecName and attribute while the good workloads run;
//! import writes only what validate accepts; the original README's example
//! migrates; tag values match literally; the loader cannot be hung.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use serde_json::{Value, json};

use crate::support::emulator::{Emulator, REGION};
use crate::support::run;

const VPC: &str = "vpc-0123abcd";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn attr(v: &Value) -> AttributeValue {
    match v {
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Object(m) => {
            AttributeValue::M(m.iter().map(|(k, v)| (k.clone(), attr(v))).collect())
        }
        other => panic!("unsupported: {other}"),
    }
}

/// Writes an item as a user would with the console or the CLI.
fn put(emu: &Emulator, table: &str, item: &Value) {
    let item: HashMap<String, AttributeValue> = item
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), attr(v)))
        .collect();
    rt().block_on(async {
        aws_sdk_dynamodb::Client::new(&emu.sdk_config().await)
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    });
}

/// The original tool's two tables, created by hand (as its README tells users).
fn create_tables(emu: &Emulator) {
    rt().block_on(async {
        let db = aws_sdk_dynamodb::Client::new(&emu.sdk_config().await);
        for (table, keys) in [
            ("WorkloadSpecification", vec!["SpecName"]),
            ("TierSpecification", vec!["SpecName", "TierTagValue"]),
        ] {
            let mut req = db
                .create_table()
                .table_name(table)
                .billing_mode(BillingMode::PayPerRequest);
            for (i, k) in keys.iter().enumerate() {
                req = req
                    .attribute_definitions(
                        AttributeDefinition::builder()
                            .attribute_name(*k)
                            .attribute_type(ScalarAttributeType::S)
                            .build()
                            .unwrap(),
                    )
                    .key_schema(
                        KeySchemaElement::builder()
                            .attribute_name(*k)
                            .key_type(if i == 0 {
                                KeyType::Hash
                            } else {
                                KeyType::Range
                            })
                            .build()
                            .unwrap(),
                    );
            }
            req.send().await.unwrap();
        }
    });
}

fn workload_item(name: &str, tag_value: &str) -> Value {
    json!({
        "SpecName": name, "WorkloadRegion": REGION,
        "WorkloadFilterTagName": "App", "WorkloadFilterTagValue": tag_value,
        "TierFilterTagName": "Role", "VPC_ID": VPC, "DisableAllSchedulingActions": "0",
    })
}

fn tier_item(name: &str, stop: Value) -> Value {
    json!({"SpecName": name, "TierTagValue": "web", "TierStop": stop,
           "TierStart": {"TierSequence": "0", "TierSynchronization": "False"}})
}

fn ok_stop() -> Value {
    json!({"TierSequence": "0", "TierSynchronization": "False", "InterTierOrchestrationDelay": "0",
           "TierStopOverrideFilename": "/tmp/keep", "TierStopOverrideOperatingSystem": "Linux"})
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

/// Seeds one running web instance with a Linux guest per tag value; returns their ids.
fn seed(emu: &Emulator, tag_values: &[&str]) -> Vec<String> {
    let workloads: Vec<Value> = tag_values
        .iter()
        .map(|v| {
            json!({"workloadTag": {"key": "App", "value": v}, "tierTagKey": "Role",
            "tiers": [{"name": "web", "count": 1, "instanceType": "t3.micro", "state": "running",
                       "guest": {"os": "linux", "files": [], "latencyMs": 20}}]})
        })
        .collect();
    let seeded = emu.seed(json!({"region": REGION, "vpc": VPC, "workloads": workloads}));
    seeded["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            w["tiers"][0]["instanceIds"][0]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn named_in(emu: &Emulator, filter: &str) -> Vec<String> {
    emu.calls(filter)
        .iter()
        .filter(|c| c["status"] == 200)
        .flat_map(|c| c["instanceIds"].as_array().cloned().unwrap_or_default())
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn state(emu: &Emulator, id: &str) -> String {
    rt().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&emu.sdk_config().await);
        let out = ec2
            .describe_instances()
            .instance_ids(id)
            .send()
            .await
            .unwrap();
        out.reservations()[0].instances()[0]
            .state()
            .unwrap()
            .name()
            .unwrap()
            .as_str()
            .to_string()
    })
}

/// Every kind of bad hand edit the issue lists, each in its own workload,
/// with the attribute the error must name and a word of the reason.
fn bad_workloads() -> Vec<(String, Value, Value, &'static str, &'static str)> {
    let stop = |k: &str, v: Value| with(ok_stop(), k, v);
    let name = |n: &str| n.to_string();
    let file = "TierStopOverrideFilename";
    vec![
        (
            name("Relative"),
            workload_item("Relative", "relative"),
            tier_item("Relative", stop(file, json!("tmp/keep"))),
            "TierStop.TierStopOverrideFilename",
            "absolute",
        ),
        (
            name("SsmRef"),
            workload_item("SsmRef", "ssmref"),
            tier_item("SsmRef", stop(file, json!("/tmp/{{ssm:secret}}"))),
            "TierStop.TierStopOverrideFilename",
            "`{`",
        ),
        (
            name("DotDot"),
            workload_item("DotDot", "dotdot"),
            tier_item("DotDot", stop(file, json!("/tmp/../etc/keep"))),
            "TierStop.TierStopOverrideFilename",
            "`..`",
        ),
        (
            name("Unc"),
            workload_item("Unc", "unc"),
            tier_item(
                "Unc",
                with(
                    stop(file, json!("\\\\evil\\share\\keep")),
                    "TierStopOverrideOperatingSystem",
                    json!("Windows"),
                ),
            ),
            "TierStop.TierStopOverrideFilename",
            "UNC",
        ),
        (
            name("Negative"),
            workload_item("Negative", "negative"),
            tier_item("Negative", stop("InterTierOrchestrationDelay", json!("-5"))),
            "TierStop.InterTierOrchestrationDelay",
            "non-negative",
        ),
        (
            name("Huge"),
            workload_item("Huge", "huge"),
            tier_item(
                "Huge",
                stop("InterTierOrchestrationDelay", json!("4294967295")),
            ),
            "TierStop.InterTierOrchestrationDelay",
            "maximum",
        ),
        (
            name("Zero"),
            workload_item("Zero", "zero"),
            tier_item("Zero", stop("TierSequence", json!("zero"))),
            "TierStop.TierSequence",
            "\"zero\"",
        ),
        (
            name("../x"),
            workload_item("../x", "dotdotx"),
            tier_item("../x", ok_stop()),
            "SpecName",
            "workload name",
        ),
        (
            name("BoolKill"),
            with(
                workload_item("BoolKill", "boolkill"),
                "DisableAllSchedulingActions",
                json!(true),
            ),
            tier_item("BoolKill", ok_stop()),
            "DisableAllSchedulingActions",
            "BOOL",
        ),
        (
            name("TextKill"),
            with(
                workload_item("TextKill", "textkill"),
                "DisableAllSchedulingActions",
                json!("true"),
            ),
            tier_item("TextKill", ok_stop()),
            "DisableAllSchedulingActions",
            "\"true\"",
        ),
    ]
}

#[test]
fn run_from_dynamodb_runs_the_good_workload_and_refuses_each_bad_one() {
    let emu = Emulator::start();
    emu.transitions(200, 200);
    // The good workload's override check runs tierctl's document (sync creates it).
    emu.create_override_document(crate::support::emulator::REGION);
    create_tables(&emu);
    let bad = bad_workloads();
    let mut tags = vec!["good"];
    let bad_tags: Vec<String> = bad
        .iter()
        .map(|(_, w, _, _, _)| w["WorkloadFilterTagValue"].as_str().unwrap().to_string())
        .collect();
    tags.extend(bad_tags.iter().map(String::as_str));
    let ids = seed(&emu, &tags);
    put(
        &emu,
        "WorkloadSpecification",
        &workload_item("Good", "good"),
    );
    put(&emu, "TierSpecification", &tier_item("Good", ok_stop()));
    for (_, w, t, _, _) in &bad {
        put(&emu, "WorkloadSpecification", w);
        put(&emu, "TierSpecification", t);
    }
    let dir = tempfile::tempdir().unwrap();
    emu.clear_calls();

    // plan: the same refusals, in text and JSON, exit 1.
    let (code, out, err) = run(emu
        .tierctl_in(dir.path())
        .args(["-o", "json", "plan", "stop", "--all", "--from", "dynamodb"]));
    assert_eq!(code, 1, "{out}{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let refused = doc["refused"].as_array().unwrap();
    for (name, _, _, attribute, _) in &bad {
        assert!(
            refused
                .iter()
                .any(|r| r["specName"] == name.as_str() && r["attribute"] == *attribute),
            "{name} {attribute}: {refused:?}"
        );
    }
    assert_eq!(doc["plan"]["workloads"].as_array().unwrap().len(), 1);

    emu.clear_calls();
    let (code, out, err) = run(emu
        .tierctl_in(dir.path())
        .args(["run", "stop", "--all", "--from", "dynamodb"]));
    assert_eq!(code, 1, "some workloads were refused: {out}{err}");
    for (name, _, tier, attribute, why) in &bad {
        let table_item = if attribute.starts_with("TierStop") {
            format!(
                "TierSpecification item SpecName `{name}`, TierTagValue `{}`: attribute `{attribute}`",
                tier["TierTagValue"].as_str().unwrap()
            )
        } else {
            format!("WorkloadSpecification item SpecName `{name}`")
        };
        let line = err
            .lines()
            .find(|l| l.contains(&table_item) && l.contains(attribute))
            .unwrap_or_else(|| panic!("no error names {table_item}: {err}"));
        assert!(line.contains(why), "{why}: {line}");
    }
    // The good one was stopped, after its override check.
    let stopped = named_in(&emu, "service=ec2&action=StopInstances");
    assert_eq!(stopped, vec![ids[0].clone()], "{stopped:?}");
    let checked = named_in(&emu, "service=ssm&action=SendCommand");
    assert_eq!(checked, vec![ids[0].clone()], "{checked:?}");
    // The bad ones: no SSM command, no EC2 change, still running.
    for id in &ids[1..] {
        assert!(
            !named_in(&emu, "service=ec2").contains(id),
            "{id} was named in an EC2 call"
        );
        assert_eq!(state(&emu, id), "running");
    }
    assert!(out.contains("skipped: invalid configuration"), "{out}");

    // Named, a refused workload is refused, not "unknown".
    let (code, out, err) = run(emu
        .tierctl_in(dir.path())
        .args(["plan", "stop", "Relative", "--from", "dynamodb"]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("SpecName `Relative`") && !err.contains("unknown workload"),
        "{err}"
    );

    // import: every bad workload reported, no file written for it; the good one written.
    let out_dir = dir.path().join("imported");
    emu.clear_calls();
    let (code, out, err) = run(emu.tierctl_in(dir.path()).args([
        "import",
        "--all",
        "--out",
        out_dir.to_str().unwrap(),
    ]));
    assert_eq!(code, 1, "{out}{err}");
    for (name, _, _, attribute, _) in &bad {
        assert!(
            out.lines().any(|l| l.starts_with(&format!("! {name}:"))
                && (l.contains(attribute) || name == "../x")),
            "{name}: {out}"
        );
    }
    let written: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(written, ["Good.yaml"]);
    assert!(!dir.path().join("x.yaml").exists());
    let (code, out, err) = run(emu
        .tierctl_in(dir.path())
        .args(["validate", out_dir.to_str().unwrap()]));
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn the_original_readme_example_migrates_end_to_end() {
    let emu = Emulator::start();
    create_tables(&emu);
    // The README's items as its user typed them; only the placeholder VPC id
    // `vpc-xyz` is replaced by the user's real VPC, as the README intends.
    let workload = json!({
      "DisableAllSchedulingActions": "0",
      "WorkloadFilterTagName": "Environment",
      "WorkloadFilterTagValue": "ENV001",
      "WorkloadRegion": "us-west-2",
      "SpecName": "BotoTestCase1",
      "SNSTopicName": "SchedulerTesting",
      "SSMS3BucketName": "myBucketName",
      "SSMS3KeyPrefixName": "ssmRemoteComandResults",
      "TierFilterTagName": "Role",
      "VPC_ID": "vpc-xyz"
    });
    let tier = json!({
      "SpecName": "BotoTestCase1",
      "TierStart": {"TierSequence": "2", "TierSynchronization": "False"},
      "TierStop": {
        "TierSequence": "0",
        "TierStopOverrideFilename": "/tmp/StopOverride",
        "TierStopOverrideOperatingSystem": "Linux",
        "TierSynchronization": "False",
        "InterTierOrchestrationDelay": "10"
      },
      "TierScaling": {"default": "t2.nano", "profileB": "t2.medium", "profileC": "t2.large", "profileD": "c4.large"},
      "TierTagValue": "Role_Web"
    });
    put(
        &emu,
        "WorkloadSpecification",
        &with(workload, "VPC_ID", json!(VPC)),
    );
    put(&emu, "TierSpecification", &tier);

    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("workloads");
    let specs_arg = specs.to_str().unwrap();
    let (code, out, err) = run(emu
        .tierctl_in(dir.path())
        .args(["--specs", specs_arg, "import", "--all"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("+ BotoTestCase1 ->"), "{out}");
    assert!(out.contains("legacy S3 bucket name"), "{out}");
    let (code, out, err) = run(emu.tierctl_in(dir.path()).args(["validate", specs_arg]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("legacy S3 bucket name"), "{out}");
    let (code, out, _) = run(emu
        .tierctl_in(dir.path())
        .args(["validate", "--strict", specs_arg]));
    assert_eq!(code, 1, "--strict refuses the legacy name: {out}");
    emu.clear_calls();
    let (code, out, err) = run(emu
        .tierctl_in(dir.path())
        .args(["--specs", specs_arg, "sync", "--check"]));
    // The items migrate as they are; what an original user still lacks is
    // tierctl's SSM document, which the first sync creates.
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        out.contains("0 to create, 0 to update, 0 to prune, 1 unchanged"),
        "{out}"
    );
    assert!(
        out.contains("SSM document tierctl-OverrideCheck in us-west-2: would be created"),
        "{out}"
    );
    let (code, out, err) = run(emu
        .tierctl_in(dir.path())
        .args(["--specs", specs_arg, "sync"]));
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(emu
        .tierctl_in(dir.path())
        .args(["--specs", specs_arg, "sync", "--check"]));
    assert_eq!(code, 0, "no drift: {out}{err}");
    // The tables are readable for a scheduled run as they are.
    let (code, out, err) = run(emu
        .tierctl_in(dir.path())
        .args(["plan", "stop", "--all", "--from", "dynamodb"]));
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn tag_values_with_wildcards_match_only_themselves() {
    let emu = Emulator::start();
    let ids = seed(&emu, &["*", "a?c", "abc", "axc", "other"]);
    let dir = tempfile::tempdir().unwrap();
    for (name, value) in [("Star", "*"), ("Question", "a?c")] {
        std::fs::write(
            dir.path().join(format!("{name}.yaml")),
            format!(
                "name: {name}\nregion: {REGION}\nselector:\n  workloadTag: {{ key: App, value: '{value}' }}\n  tierTagKey: Role\n  vpcId: {VPC}\ntiers:\n  - name: web\n    stop: {{ sequence: 0 }}\n    start: {{ sequence: 0 }}\n"
            ),
        )
        .unwrap();
    }
    let specs = dir.path().to_str().unwrap();
    for (name, want) in [("Star", &ids[0]), ("Question", &ids[1])] {
        let (code, out, err) = run(emu
            .tierctl_in(dir.path())
            .args(["--specs", specs, "-o", "json", "plan", "stop", name]));
        assert_eq!(code, 0, "{out}{err}");
        let found: Vec<&String> = ids.iter().filter(|id| out.contains(id.as_str())).collect();
        assert_eq!(found, vec![want], "{name}: {out}");
    }
    let filters: Vec<Value> = emu
        .calls("service=ec2&action=DescribeInstances")
        .iter()
        .map(|c| c["params"].clone())
        .collect();
    assert!(
        filters.iter().any(|p| p.to_string().contains(r#""\\*""#)),
        "the wildcard is sent escaped: {filters:?}"
    );
}

#[cfg(unix)]
#[test]
fn validate_does_not_hang_on_fifos_or_links_to_devices() {
    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("specs");
    std::fs::create_dir(&specs).unwrap();
    let fifo = specs.join("pipe.yaml");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    std::os::unix::fs::symlink("/dev/zero", specs.join("zero.yaml")).unwrap();
    let start = Instant::now();
    let (code, out, err) = run(crate::support::tierctl()
        .args(["validate", specs.to_str().unwrap()])
        .timeout(Duration::from_secs(20)));
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("symbolic link to /dev/zero, outside"), "{out}");
    std::fs::remove_file(specs.join("zero.yaml")).unwrap();
    let (code, out, err) = run(crate::support::tierctl()
        .args(["validate", specs.to_str().unwrap()])
        .timeout(Duration::from_secs(20)));
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("FIFO (named pipe), not a regular file"),
        "{out}"
    );
    assert!(start.elapsed() < Duration::from_secs(20));
    let _ = Path::new(&fifo);
}

#[test]
fn names_from_aws_cannot_break_out_of_terminal_or_markdown() {
    let emu = Emulator::start();
    // What EC2 stores (XML 1.0 text: newlines and bidi overrides, not ESC).
    let evil = "evil`name\n```\n# injected \u{202e}txt.exe";
    emu.seed(json!({"region": REGION, "vpc": VPC, "workloads": [{
        "workloadTag": {"key": "App", "value": "shop"}, "tierTagKey": "Role",
        "tiers": [
            {"name": "web", "count": 1, "instanceType": "t3.micro", "state": "running"},
            {"name": "stray", "count": 1, "instanceType": "t3.micro", "state": "running",
             "extraTags": {"Name": evil}}]}]}));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Shop.yaml"),
        format!("name: Shop\nregion: {REGION}\nselector:\n  workloadTag: {{ key: App, value: shop }}\n  tierTagKey: Role\n  vpcId: {VPC}\ntiers:\n  - name: web\n    stop: {{ sequence: 0 }}\n    start: {{ sequence: 0 }}\n"),
    )
    .unwrap();
    let specs = dir.path().to_str().unwrap();
    for format in ["text", "markdown"] {
        let (code, out, err) = run(emu
            .tierctl_in(dir.path())
            .args(["--specs", specs, "-o", format, "plan", "stop", "Shop"]));
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("evil"), "the name is shown: {out}");
        assert!(!out.contains('\u{202e}'), "{out:?}");
        assert!(!out.lines().any(|l| l.starts_with("# injected")), "{out}");
        if format == "markdown" {
            // Every fence opened is closed: the name did not add one.
            let fences = out.lines().filter(|l| l.starts_with("```")).count();
            assert_eq!(fences % 2, 0, "{out}");
        }
    }
}
