//! Runs that overlap, crash or are interrupted: the lease is a fence, a
//! signal ends a run cleanly, and an instance is never acted on by two
//! workloads at once. Real processes where the behaviour is about processes.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::run::Shop;

pub(crate) fn spawn(shop: &Shop, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tierctl"))
        .current_dir(shop.specs())
        .args(["--specs", shop.specs()])
        .args(args)
        .env("NO_COLOR", "1")
        .envs(shop.emu.env())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

pub(crate) fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

pub(crate) fn finish(child: Child) -> (i32, String, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_run_whose_lease_is_removed_stops_before_its_next_wave() {
    let shop = Shop::new(2, "running");
    // web (wave 1) stops, then waits 1 s; app (wave 2) is synchronous.
    shop.emu.transitions(2000, 2000);
    let child = spawn(&shop, &["-o", "json", "run", "stop", "Shop"]);
    wait_for("the web tier's stop", || {
        !shop.calls("StopInstances").is_empty()
    });

    // A live lease is refused without --force, and the holder is named.
    let (code, _, err) = shop.tierctl(&["unlock", "Shop"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("the lock is live, held by") && err.contains(", run "),
        "{err}"
    );
    let (code, out, err) = shop.tierctl(&["unlock", "--force", "Shop"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Shop: removed the live lock held by"), "{out}");

    let (code, out, err) = finish(child);
    assert_eq!(code, 1, "a run that lost its lease fails: {out}{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let outcomes = doc["report"]["workloads"][0]["outcomes"]
        .as_array()
        .unwrap();
    for id in shop.app.iter().chain(&shop.db) {
        let o = outcomes
            .iter()
            .find(|o| o["instance"] == id.as_str())
            .unwrap();
        assert_eq!(o["status"], "notAttempted", "{o}");
        assert!(o["detail"].as_str().unwrap().contains("lease"), "{o}");
    }
    let stopped: Vec<String> = shop
        .calls("StopInstances")
        .into_iter()
        .flat_map(|(_, ids)| ids)
        .collect();
    assert!(
        stopped.iter().all(|i| shop.web.contains(i)),
        "nothing after the lease was lost: {stopped:?}"
    );
}

#[test]
fn sigterm_mid_wave_writes_the_report_releases_the_lease_and_exits_143() {
    let shop = Shop::new(2, "running");
    std::fs::write(
        shop.dir.path().join("Shop.yaml"),
        std::fs::read_to_string(shop.dir.path().join("Shop.yaml"))
            .unwrap()
            .replace("delaySeconds: 1, override", "delaySeconds: 60, override"),
    )
    .unwrap();
    let child = spawn(&shop, &["run", "stop", "Shop"]);
    wait_for("the web tier's stop", || {
        !shop.calls("StopInstances").is_empty()
    });
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, "-TERM");
    let begin = Instant::now();
    let (code, out, err) = finish(child);
    assert!(
        begin.elapsed() < Duration::from_secs(10),
        "the 60 s delay was cut short"
    );
    assert_eq!(code, 143, "{out}{err}");
    assert!(err.contains("interrupted (SIGTERM)"), "{err}");
    assert!(out.contains("(interrupted)"), "{out}");
    assert!(out.contains("not attempted"), "{out}");
    let (_, unlocked, _) = shop.tierctl(&["unlock", "Shop"]);
    assert!(
        unlocked.contains("Shop: not locked"),
        "released: {unlocked}"
    );
    assert_eq!(
        shop.states()[&shop.db[0]],
        "running",
        "later waves untouched"
    );
}

#[test]
fn sigterm_while_observing_still_releases_and_reports() {
    let shop = Shop::new(1, "running");
    // Every DescribeInstances answers after 2 s: the signal lands while observing.
    shop.emu.admin(
        "POST",
        "slow",
        Some(
            serde_json::json!({"service": "ec2", "action": "DescribeInstances", "latencyMs": 2000}),
        ),
    );
    let child = spawn(&shop, &["run", "stop", "Shop"]);
    wait_for("the lease", || {
        !shop.emu.calls("service=dynamodb&action=PutItem").is_empty()
    });
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, "-TERM");
    let (code, out, err) = finish(child);
    assert_eq!(code, 143, "{out}{err}");
    assert!(out.contains("not attempted"), "{out}");
    assert!(
        shop.calls("StopInstances").is_empty(),
        "nothing was stopped"
    );
    let (_, unlocked, _) = shop.tierctl(&["unlock", "Shop"]);
    assert!(
        unlocked.contains("Shop: not locked"),
        "released: {unlocked}"
    );
}

const TEAM: &str = r#"name: Team
region: us-west-2
selector:
  workloadTag: { key: Team, value: core }
  tierTagKey: Role
  vpcId: vpc-0123abcd
tiers:
  - name: app
    stop: { sequence: 0, synchronous: true }
    start: { sequence: 0 }
"#;

/// Tags Shop's app instances with Team=core too: workload Team selects them.
fn overlap(shop: &Shop) {
    std::fs::write(shop.dir.path().join("Team.yaml"), TEAM).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&shop.emu.sdk_config().await);
        ec2.create_tags()
            .set_resources(Some(shop.app.clone()))
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("Team")
                    .value("core")
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
}

#[test]
fn one_instance_in_two_workloads_is_an_error_in_one_run_and_refused_across_runs() {
    let shop = Shop::new(2, "running");
    overlap(&shop);
    let (code, _, err) = shop.tierctl(&["plan", "stop", "Shop", "Team"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("is selected by both workload Shop and workload Team"),
        "{err}"
    );
    let (code, _, err) = shop.tierctl(&["run", "stop", "Shop", "Team"]);
    assert_eq!(code, 1, "{err}");
    assert!(shop.calls("StopInstances").is_empty());

    // Concurrent runs: Shop is mid-run when Team asks for the same instances.
    shop.emu.transitions(3000, 3000);
    let child = spawn(&shop, &["run", "stop", "Shop"]);
    wait_for("Shop's instance claim", || {
        !shop
            .emu
            .calls("service=dynamodb&action=UpdateItem")
            .is_empty()
    });
    let (code, out, err) = shop.tierctl(&["run", "stop", "Team"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("is also selected by workload Shop, which another run is acting on"),
        "{err}"
    );
    let (code, out, err) = finish(child);
    assert_eq!(code, 3, "{out}{err}");
    // Every app instance was stopped exactly once, by Shop's run.
    for id in &shop.app {
        let n = shop
            .calls("StopInstances")
            .iter()
            .filter(|(_, ids)| ids.contains(id))
            .count();
        assert_eq!(n, 1, "{id} stopped {n} times");
    }
}

#[test]
fn a_workload_named_twice_runs_once() {
    let shop = Shop::new(3, "stopped");
    let (code, out, err) = shop.tierctl(&["run", "start", "Shop", "Shop"]);
    assert_eq!(code, 0, "{out}{err}");
    let started: Vec<String> = shop
        .calls("StartInstances")
        .into_iter()
        .flat_map(|(_, ids)| ids)
        .collect();
    assert_eq!(started.len(), 7, "each instance started once: {started:?}");
    let _ = Path::new(shop.specs());
}
