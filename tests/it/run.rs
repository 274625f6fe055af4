//! `tierctl run` against the emulator: order, waits, overrides, locks,
//! failures, dry runs, interruption.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::emulator::{Emulator, REGION};
use crate::support::run;

const SHOP: &str = r#"# yaml-language-server: $schema=../schema/workload.schema.json
name: Shop
region: us-west-2
selector:
  workloadTag: { key: App, value: shop }
  tierTagKey: Role
  vpcId: vpc-0123abcd
tiers:
  - name: web
    stop: { sequence: 0, delaySeconds: 1, override: { file: /tmp/keep, os: linux } }
    start: { sequence: 2, delaySeconds: 0 }
  - name: app
    stop: { sequence: 1, synchronous: true, delaySeconds: 1 }
    start: { sequence: 1, synchronous: true, delaySeconds: 1 }
  - name: db
    stop: { sequence: 2, synchronous: true, delaySeconds: 0 }
    start: { sequence: 0, synchronous: true, delaySeconds: 1 }
"#;

pub(crate) struct Shop {
    pub(crate) emu: Emulator,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) web: Vec<String>,
    pub(crate) app: Vec<String>,
    pub(crate) db: Vec<String>,
}

impl Shop {
    /// The Shop workload: web (3, the first keeps /tmp/keep), app (`apps`), db (1), all `state`.
    pub(crate) fn new(apps: u32, state: &str) -> Shop {
        let emu = Emulator::start();
        // What `sync` creates: the override check runs tierctl's document.
        emu.create_override_document(REGION);
        emu.transitions(500, 500);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Shop.yaml"), SHOP).unwrap();
        let tier = |name: &str, count: u32| json!({"name": name, "count": count, "instanceType": "t3.micro", "state": state, "guest": {"latencyMs": 100}});
        let seeded = emu.seed(json!({
            "region": REGION, "vpc": "vpc-0123abcd",
            "workloads": [{"workloadTag": {"key": "App", "value": "shop"}, "tierTagKey": "Role",
                "tiers": [tier("web", 3), tier("app", apps), tier("db", 1)]}]
        }));
        let ids = |n: usize| -> Vec<String> {
            seeded["workloads"][0]["tiers"][n]["instanceIds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect()
        };
        let (web, app, db) = (ids(0), ids(1), ids(2));
        emu.admin(
            "PUT",
            &format!("guests/{}", web[0]),
            Some(json!({"os": "linux", "files": ["/tmp/keep"], "latencyMs": 100})),
        );
        Shop {
            emu,
            dir,
            web,
            app,
            db,
        }
    }

    pub(crate) fn specs(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }

    pub(crate) fn tierctl(&self, args: &[&str]) -> (i32, String, String) {
        let mut cmd = self.emu.tierctl_in(Path::new(self.specs()));
        cmd.args(["--specs", self.specs()]).args(args);
        run(&mut cmd)
    }

    pub(crate) fn states(&self) -> std::collections::BTreeMap<String, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let ec2 = aws_sdk_ec2::Client::new(&self.emu.sdk_config().await);
            let out = ec2.describe_instances().send().await.unwrap();
            out.reservations()
                .iter()
                .flat_map(|r| r.instances())
                .map(|i| {
                    (
                        i.instance_id().unwrap().to_string(),
                        i.state().unwrap().name().unwrap().as_str().to_string(),
                    )
                })
                .collect()
        })
    }

    /// Calls of `action` in the call log: (time, instance ids).
    pub(crate) fn calls(&self, action: &str) -> Vec<(f64, Vec<String>)> {
        self.emu
            .calls(&format!("service=ec2&action={action}"))
            .iter()
            .filter(|c| c["status"] == 200)
            .map(|c| {
                let ids = c["instanceIds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect();
                (c["time"].as_f64().unwrap(), ids)
            })
            .collect()
    }
}

fn first_call_naming(calls: &[(f64, Vec<String>)], ids: &[String]) -> f64 {
    calls
        .iter()
        .find(|(_, c)| c.iter().any(|i| ids.contains(i)))
        .map(|(t, _)| *t)
        .expect("a call names the tier")
}

#[test]
fn stop_then_start_follow_the_tier_order_and_waits() {
    let shop = Shop::new(2, "running");
    let (code, out, err) = shop.tierctl(&["run", "stop", "Shop"]);
    assert_eq!(
        code, 3,
        "one instance is bypassed by its override file: {out}{err}"
    );
    assert!(
        out.contains(&format!(
            "{} bypassed: override file /tmp/keep is present",
            shop.web[0]
        )),
        "{out}"
    );
    let stops = shop.calls("StopInstances");
    let (web, app, db) = (
        first_call_naming(&stops, &shop.web),
        first_call_naming(&stops, &shop.app),
        first_call_naming(&stops, &shop.db),
    );
    assert!(web < app && app < db, "web, app, db: {stops:?}");
    // db (after a synchronous app tier) began only after app had stopped (500 ms) and app's 1 s delay.
    assert!(db - app >= 1.5, "db began {:.2}s after app", db - app);
    let states = shop.states();
    assert_eq!(states[&shop.web[0]], "running");
    for id in shop.web[1..].iter().chain(&shop.app) {
        assert!(
            states[id] == "stopped" || states[id] == "stopping",
            "{id}: {}",
            states[id]
        );
    }
    assert_eq!(
        states[&shop.db[0]], "stopped",
        "the synchronous last tier was waited for"
    );

    // Idempotent: a second stop makes no stop call.
    std::thread::sleep(Duration::from_millis(600));
    shop.emu.clear_calls();
    let (code, out, _) = shop.tierctl(&["run", "stop", "Shop"]);
    assert_eq!(code, 3, "{out}");
    assert!(
        shop.calls("StopInstances").is_empty(),
        "{:?}",
        shop.calls("StopInstances")
    );

    shop.emu.clear_calls();
    let (code, out, err) = shop.tierctl(&["run", "start", "Shop"]);
    assert_eq!(code, 0, "{out}{err}");
    let starts = shop.calls("StartInstances");
    let (db, app, web) = (
        first_call_naming(&starts, &shop.db),
        first_call_naming(&starts, &shop.app),
        first_call_naming(&starts, &shop.web),
    );
    assert!(db < app && app < web, "db, app, web: {starts:?}");
    assert!(app - db >= 1.5, "app began {:.2}s after db", app - db);
    std::thread::sleep(Duration::from_millis(600));
    assert!(
        shop.states().values().all(|s| s == "running"),
        "{:?}",
        shop.states()
    );
}

#[test]
fn two_runs_of_one_workload_do_not_overlap() {
    let shop = Shop::new(2, "running");
    shop.emu.transitions(3000, 3000);
    let mut first = shop.emu.tierctl_in(Path::new(shop.specs()));
    first.args(["--specs", shop.specs(), "run", "stop", "Shop"]);
    let handle = std::thread::spawn(move || run(&mut first));
    let deadline = Instant::now() + Duration::from_secs(20);
    while shop.emu.calls("service=dynamodb&action=PutItem").is_empty() {
        assert!(
            Instant::now() < deadline,
            "the first run never took its lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let (code, _, err) = shop.tierctl(&["run", "stop", "Shop"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("workload Shop: another run holds its lock:") && err.contains("(pid "),
        "{err}"
    );
    let (code, out, err) = handle.join().unwrap();
    assert_eq!(code, 3, "the first run finishes: {out}{err}");
    let (code, out, _) = shop.tierctl(&["unlock", "Shop"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Shop: not locked"),
        "released at the end: {out}"
    );
}

#[test]
fn capacity_errors_fail_only_their_instances_and_halt_later_waves() {
    let shop = Shop::new(4, "stopped");
    let bad = vec![shop.app[1].clone(), shop.app[2].clone()];
    shop.emu.fault(json!({"service": "ec2", "action": "StartInstances", "error": "InsufficientInstanceCapacity",
        "message": "We currently do not have sufficient t3.micro capacity in the Availability Zone you requested.",
        "times": -1, "instanceIds": bad}));
    let (code, out, err) = shop.tierctl(&["run", "start", "Shop"]);
    assert_eq!(code, 1, "{out}{err}");
    for id in &bad {
        assert!(
            out.contains(&format!(
                "{id} failed: start failed: ec2:StartInstances: InsufficientInstanceCapacity"
            )),
            "{id}: {out}"
        );
    }
    assert!(out.contains("later waves halted"), "{out}");
    std::thread::sleep(Duration::from_millis(600));
    let states = shop.states();
    assert_eq!(states[&shop.db[0]], "running");
    assert_eq!(
        states[&shop.app[0]], "running",
        "the rest of the batch was started"
    );
    assert_eq!(states[&shop.app[3]], "running");
    assert!(
        shop.web.iter().all(|id| states[id] == "stopped"),
        "the later wave is untouched"
    );
}

#[test]
fn throttling_is_absorbed() {
    let shop = Shop::new(2, "stopped");
    shop.emu.fault(json!({"service": "ec2", "action": "StartInstances", "error": "RequestLimitExceeded", "times": 3}));
    let (code, out, err) = shop.tierctl(&["run", "start", "Shop"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        shop.emu
            .calls("service=ec2&action=StartInstances")
            .iter()
            .any(|c| c["error"] == "RequestLimitExceeded")
    );
}

#[test]
fn dry_run_changes_nothing_and_checks_permissions() {
    let shop = Shop::new(2, "running");
    let (code, out, err) = shop.tierctl(&["run", "stop", "Shop", "--dry-run"]);
    assert_eq!(code, 3, "the override check still runs: {out}{err}");
    assert!(out.contains("would stop"), "{out}");
    for c in shop.emu.calls("service=ec2&action=StopInstances") {
        assert_eq!(c["params"]["DryRun"], "true", "{c}");
    }
    assert!(shop.states().values().all(|s| s == "running"));
    assert!(
        shop.emu.calls("service=dynamodb").is_empty(),
        "a dry run takes no lock"
    );
}

#[test]
fn scheduled_run_from_dynamodb_with_json_report() {
    let shop = Shop::new(2, "running");
    let (code, _, err) = shop.tierctl(&["sync"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) =
        shop.tierctl(&["-o", "json", "run", "stop", "--all", "--from", "dynamodb"]);
    assert_eq!(code, 3, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["exitCode"], 3);
    let outcomes = doc["report"]["workloads"][0]["outcomes"]
        .as_array()
        .unwrap();
    assert_eq!(outcomes.len(), 6, "every instance has an outcome");
    assert!(outcomes.iter().any(|o| o["status"] == "bypassed"));
    assert!(outcomes.iter().all(|o| o["atMs"].is_u64()));
}

#[test]
fn kill_switch_does_nothing_and_says_why() {
    let shop = Shop::new(2, "running");
    let file = shop.dir.path().join("Shop.yaml");
    std::fs::write(
        &file,
        SHOP.replace("region: us-west-2\n", "region: us-west-2\ndisabled: true\n"),
    )
    .unwrap();
    let (code, out, err) = shop.tierctl(&["run", "stop", "Shop"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("skipped: the kill switch is on"), "{out}");
    assert!(shop.calls("StopInstances").is_empty());
}

#[test]
fn interrupt_finishes_calls_releases_the_lock_and_reports() {
    let shop = Shop::new(2, "stopped");
    std::fs::write(
        shop.dir.path().join("Shop.yaml"),
        SHOP.replace(
            "start: { sequence: 0, synchronous: true, delaySeconds: 1 }",
            "start: { sequence: 0, synchronous: true, delaySeconds: 60 }",
        ),
    )
    .unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tierctl"));
    cmd.current_dir(shop.specs())
        .args(["--specs", shop.specs(), "run", "start", "Shop"])
        .env("NO_COLOR", "1")
        .envs(shop.emu.env())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while shop.calls("StartInstances").is_empty() {
        assert!(
            Instant::now() < deadline,
            "the run never started the db tier"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let begin = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        begin.elapsed() < Duration::from_secs(10),
        "the 60 s delay was cut short"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{stdout}");
    assert!(stdout.contains("(interrupted)"), "{stdout}");
    assert!(stdout.contains("not attempted"), "{stdout}");
    let (_, unlocked, _) = shop.tierctl(&["unlock", "Shop"]);
    assert!(
        unlocked.contains("not locked"),
        "the lock was released: {unlocked}"
    );
    assert_eq!(
        shop.states()[&shop.web[0]],
        "stopped",
        "later waves untouched"
    );

    // Run again: it finishes the job (db is already running, so no delay).
    let (code, out, err) = shop.tierctl(&["run", "start", "Shop"]);
    assert_eq!(code, 0, "{out}{err}");
    std::thread::sleep(Duration::from_millis(600));
    assert!(
        shop.states().values().all(|s| s == "running"),
        "{:?}",
        shop.states()
    );
}
