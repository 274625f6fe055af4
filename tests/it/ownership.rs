//! `sync` when others write the same tables: hand edits between read and
//! write, other repositories' workloads, failures of one workload.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::emulator::Emulator;
use crate::support::run;
use crate::sync::{copy_examples, put_json, scan};

fn item(emu: &Emulator, table: &str, name: &str) -> serde_json::Value {
    scan(emu, table)
        .into_iter()
        .find(|w| w["SpecName"] == name)
        .unwrap_or_else(|| panic!("{name} in {table}"))
}

fn markers(emu: &Emulator) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = ["WorkloadSpecification", "TierSpecification"]
        .iter()
        .flat_map(|t| scan(emu, t))
        .map(|i| {
            (
                i["SpecName"].as_str().unwrap().to_string(),
                i["ManagedBy"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[test]
fn a_kill_switch_set_by_hand_during_sync_is_kept_and_the_other_workloads_are_written() {
    let emu = Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    copy_examples(dir.path());
    let specs = dir.path().to_str().unwrap().to_string();
    let (code, _, err) = run(emu.tierctl().args(["--specs", &specs, "sync"]));
    assert_eq!(code, 0, "{err}");
    // As the original's users wrote items: without the kill switch attribute.
    let mut original = item(&emu, "WorkloadSpecification", "BotoTestCase1");
    original
        .as_object_mut()
        .unwrap()
        .remove("DisableAllSchedulingActions");
    put_json(&emu, "WorkloadSpecification", &original);
    for (f, topic) in [
        ("BotoTestCase1.yaml", "SchedulerTesting"),
        ("WinReporting.yaml", "reporting-scheduler"),
    ] {
        let file = dir.path().join(f);
        let text = std::fs::read_to_string(&file).unwrap();
        let from = format!("snsTopic: {topic}");
        assert!(text.contains(&from), "{f}");
        std::fs::write(&file, text.replacen(&from, "snsTopic: NightOps", 1)).unwrap();
    }

    emu.admin(
        "POST",
        "slow",
        Some(json!({"service": "dynamodb", "action": "TransactWriteItems", "latencyMs": 3000})),
    );
    emu.clear_calls();
    let mut cmd = emu.tierctl();
    cmd.args(["--specs", &specs, "sync"]);
    let sync = std::thread::spawn(move || run(&mut cmd));
    let deadline = Instant::now() + Duration::from_secs(20);
    while emu.calls("service=dynamodb&action=Scan").len() < 2 {
        assert!(Instant::now() < deadline, "sync never read the tables");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    // The console edit: the kill switch, an attribute the item did not have.
    let mut edited = item(&emu, "WorkloadSpecification", "BotoTestCase1");
    assert!(edited.get("DisableAllSchedulingActions").is_none());
    edited["DisableAllSchedulingActions"] = json!("1");
    put_json(&emu, "WorkloadSpecification", &edited);

    let (code, out, err) = sync.join().unwrap();
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("BotoTestCase1 changed since sync read it") && err.contains("run sync again"),
        "{err}"
    );
    assert!(err.contains("1 workload not written"), "{err}");
    let boto = item(&emu, "WorkloadSpecification", "BotoTestCase1");
    assert_eq!(
        boto["DisableAllSchedulingActions"], "1",
        "the kill switch survives"
    );
    assert_ne!(boto["SNSTopicName"], "NightOps");
    let win = item(&emu, "WorkloadSpecification", "WinReporting");
    assert_eq!(
        win["SNSTopicName"], "NightOps",
        "the other workload was written"
    );
}

#[test]
fn repositories_never_write_or_prune_each_others_workloads() {
    let emu = Emulator::start();
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    copy_examples(a.path());
    std::fs::rename(
        a.path().join("WinReporting.yaml"),
        b.path().join("WinReporting.yaml"),
    )
    .unwrap();
    let (sa, sb) = (a.path().to_str().unwrap(), b.path().to_str().unwrap());
    let (code, _, err) =
        run(emu
            .tierctl()
            .args(["--specs", sa, "--repo-id", "github.com/acme/a", "sync"]));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(emu
        .tierctl()
        .env("TIERCTL_REPO_ID", "github.com/acme/b")
        .args(["--specs", sb, "sync", "-o", "json"]));
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    crate::support::assert_conforms("sync-output", &doc);
    assert_eq!(doc["managedBy"], "tierctl:github.com/acme/b");
    for (name, marker) in markers(&emu) {
        let want = if name == "WinReporting" { "b" } else { "a" };
        assert_eq!(marker, format!("tierctl:github.com/acme/{want}"), "{name}");
    }

    // A's prune leaves B's workload alone, and says why.
    let (code, out, err) = run(emu.tierctl().args([
        "--specs",
        sa,
        "--repo-id",
        "github.com/acme/a",
        "sync",
        "--prune",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(
            "not pruned: it belongs to another repository (ManagedBy = tierctl:github.com/acme/b)"
        ),
        "{out}"
    );
    assert!(
        scan(&emu, "TierSpecification")
            .iter()
            .any(|t| t["SpecName"] == "WinReporting")
    );

    // B declaring A's workload writes nothing of it; B's own change still lands.
    std::fs::copy(
        a.path().join("BotoTestCase1.yaml"),
        b.path().join("BotoTestCase1.yaml"),
    )
    .unwrap();
    let win = b.path().join("WinReporting.yaml");
    let text = std::fs::read_to_string(&win).unwrap();
    std::fs::write(
        &win,
        text.replacen("name: ReportServer", "name: ReportServer2", 1),
    )
    .unwrap();
    let before = scan(&emu, "WorkloadSpecification");
    let (code, out, err) =
        run(emu
            .tierctl()
            .args(["--specs", sb, "--repo-id", "github.com/acme/b", "sync"]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("! BotoTestCase1 owned by another repository"),
        "{out}"
    );
    assert!(
        err.contains(
            "workload BotoTestCase1 belongs to another repository (tierctl:github.com/acme/a)"
        ),
        "{err}"
    );
    assert_eq!(
        item(&emu, "WorkloadSpecification", "BotoTestCase1"),
        before
            .iter()
            .find(|w| w["SpecName"] == "BotoTestCase1")
            .unwrap()
            .clone()
    );
    assert!(
        scan(&emu, "TierSpecification")
            .iter()
            .any(|t| t["SpecName"] == "WinReporting" && t["TierTagValue"] == "ReportServer2")
    );
    let (code, _, _) = run(emu.tierctl().args([
        "--specs",
        sb,
        "--repo-id",
        "github.com/acme/b",
        "sync",
        "--check",
    ]));
    assert_eq!(code, 2, "a foreign workload is drift");
}

#[test]
fn plain_tierctl_items_are_adopted_and_the_git_remote_names_the_repository() {
    let emu = Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    copy_examples(dir.path());
    let specs = dir.path().to_str().unwrap();
    // No repository id anywhere: the plain marker of earlier versions.
    let (code, _, err) = run(emu.tierctl().args(["--specs", specs, "sync"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("no repository id"), "{err}");
    assert!(markers(&emu).iter().all(|(_, m)| m == "tierctl"));

    let git = |args: &[&str]| {
        let st = std::process::Command::new("git")
            .arg("-C")
            .arg(dir.path())
            .args(args)
            .output()
            .unwrap();
        assert!(st.status.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["remote", "add", "origin", "git@github.com:acme/fleet.git"]);
    let (code, out, _) = run(emu.tierctl().args(["--specs", specs, "sync", "--check"]));
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("adopted by this repository"), "{out}");
    let (code, _, err) = run(emu.tierctl().args(["--specs", specs, "sync"]));
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("no repository id"), "{err}");
    assert!(
        markers(&emu)
            .iter()
            .all(|(_, m)| m == "tierctl:github.com/acme/fleet"),
        "{:?}",
        markers(&emu)
    );
    let (code, _, _) = run(emu.tierctl().args(["--specs", specs, "sync", "--check"]));
    assert_eq!(code, 0, "adopted: in sync");
}

#[test]
fn a_throttled_first_sync_still_writes_everything_with_progress_lines() {
    // A provisioned table at 1 WCU answers many writes with
    // ProvisionedThroughputExceededException: slower, never lost.
    let emu = Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    crate::sync::many_workloads(dir.path(), 30, 2);
    let specs = dir.path().to_str().unwrap();
    emu.fault(
        json!({"service": "dynamodb", "action": "TransactWriteItems",
        "error": "ProvisionedThroughputExceededException", "every": 3}),
    );
    let (code, out, err) = run(emu.tierctl().args([
        "--specs",
        specs,
        "sync",
        "--provisioned",
        "--concurrency",
        "4",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("sync: 30/30 workloads written"), "{err}");
    assert_eq!(scan(&emu, "WorkloadSpecification").len(), 30);
    assert_eq!(scan(&emu, "TierSpecification").len(), 60);
    let throttled = emu
        .calls("service=dynamodb&action=TransactWriteItems")
        .iter()
        .filter(|c| {
            c["error"]
                .as_str()
                .is_some_and(|e| e.contains("Throughput"))
        })
        .count();
    assert!(throttled >= 5, "writes were throttled: {throttled}");
    let (code, _, _) = run(emu.tierctl().args(["--specs", specs, "sync", "--check"]));
    assert_eq!(code, 0, "in sync after the throttled writes");
}

#[test]
fn a_concurrent_first_sync_writes_the_same_items_as_a_serial_one() {
    let dir = tempfile::tempdir().unwrap();
    crate::sync::many_workloads(dir.path(), 40, 4);
    let specs = dir.path().to_str().unwrap();
    let tables = |concurrency: &str| {
        let emu = Emulator::start();
        let (code, out, err) = run(emu.tierctl().args([
            "--specs",
            specs,
            "--repo-id",
            "github.com/acme/fleet",
            "sync",
            "--concurrency",
            concurrency,
        ]));
        assert_eq!(code, 0, "{out}{err}");
        (
            scan(&emu, "WorkloadSpecification"),
            scan(&emu, "TierSpecification"),
        )
    };
    let serial = tables("1");
    assert_eq!(serial.0.len(), 40);
    assert_eq!(serial.1.len(), 160);
    assert_eq!(
        tables("16"),
        serial,
        "the same items, whatever the concurrency"
    );
}
