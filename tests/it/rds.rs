//! RDS DB instances and Aurora DB clusters as tier members, against the
//! emulator's RDS realism (transitions, AWS's refusals, AutomaticRestartTime).

use std::path::Path;

use serde_json::{Value, json};

use crate::support::emulator::{Emulator, REGION};
use crate::support::run;

/// A web tier of EC2 instances and a db tier of RDS and Aurora.
const SHOP: &str = r#"name: Shop
region: us-west-2
selector:
  workloadTag: { key: App, value: shop }
  tierTagKey: Role
tiers:
  - name: web
    stop: { sequence: 0 }
    start: { sequence: 1, delaySeconds: 0 }
  - name: db
    members: [rds]
    stop: { sequence: 1, synchronous: true }
    start: { sequence: 0, delaySeconds: 0, synchronous: true, waitHealthy: true, healthTimeoutSeconds: 3 }
"#;

struct Fixture {
    emu: Emulator,
    dir: tempfile::TempDir,
    web: Vec<String>,
}

fn db_tags(extra: &[(&str, &str)]) -> Value {
    let mut tags = serde_json::Map::new();
    tags.insert("App".into(), json!("shop"));
    tags.insert("Role".into(), json!("db"));
    for (k, v) in extra {
        tags.insert((*k).into(), json!(v));
    }
    Value::Object(tags)
}

fn fixture(spec: &str, databases: Value) -> Fixture {
    let emu = Emulator::start();
    emu.transitions(100, 100);
    emu.admin(
        "POST",
        "rds/config",
        Some(json!({"stopDelayMs": 400, "startDelayMs": 400})),
    );
    let seeded = emu.seed(json!({"region": REGION, "workloads": [{
        "workloadTag": {"key": "App", "value": "shop"}, "tierTagKey": "Role",
        "tiers": [{"name": "web", "count": 1, "state": "running"}]}]}));
    let web = seeded["workloads"][0]["tiers"][0]["instanceIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    emu.admin(
        "POST",
        "rds/seed",
        Some(json!({"region": REGION, "databases": databases})),
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Shop.yaml"), spec).unwrap();
    Fixture { emu, dir, web }
}

/// An RDS instance, an Aurora cluster of two, a source with its read replica,
/// one kept running by its tag and one whose tag says something odd.
fn shop() -> Fixture {
    fixture(
        SHOP,
        json!([
            {"id": "orders", "tags": db_tags(&[])},
            {"kind": "cluster", "id": "sales", "members": ["sales-1", "sales-2"], "tags": db_tags(&[])},
            {"id": "reports", "tags": db_tags(&[])},
            {"id": "reports-ro", "replicaOf": "reports", "tags": db_tags(&[])},
            {"id": "audit", "tags": db_tags(&[("tierctl:keep-running", "true")])},
            {"id": "ledger", "tags": db_tags(&[("tierctl:keep-running", "maybe")])},
        ]),
    )
}

impl Fixture {
    fn tierctl(&self, args: &[&str]) -> (i32, String, String) {
        let specs = self.dir.path().to_str().unwrap();
        run(self
            .emu
            .tierctl_in(Path::new(specs))
            .args(["--specs", specs])
            .args(args))
    }

    /// The identifiers the successful calls of `action` named.
    fn named(&self, action: &str, param: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .emu
            .calls(&format!("service=rds&action={action}"))
            .iter()
            .filter(|c| c["status"] == 200)
            .map(|c| c["params"][param].as_str().unwrap_or_default().to_string())
            .collect();
        out.sort();
        out
    }

    fn first_time(&self, service: &str, action: &str) -> f64 {
        self.emu
            .calls(&format!("service={service}&action={action}"))
            .iter()
            .filter(|c| c["status"] == 200)
            .map(|c| c["time"].as_f64().unwrap())
            .fold(f64::INFINITY, f64::min)
    }

    fn last_time(&self, service: &str, action: &str) -> f64 {
        self.emu
            .calls(&format!("service={service}&action={action}"))
            .iter()
            .filter(|c| c["status"] == 200)
            .map(|c| c["time"].as_f64().unwrap())
            .fold(0.0, f64::max)
    }
}

fn outcome<'a>(run: &'a Value, tier: &str, id: &str) -> &'a Value {
    run["report"]["workloads"][0]["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["tier"] == tier && o["instance"] == id)
        .unwrap_or_else(|| panic!("no outcome for {id} in {tier}: {run:#}"))
}

#[test]
fn a_db_tier_stops_and_starts_its_instance_and_cluster_through_the_cluster() {
    let f = shop();
    let (code, plan, err) = f.tierctl(&["plan", "stop", "Shop"]);
    assert_eq!(code, 0, "{err}");
    for want in [
        "stop 2 databases in 2 calls: DB instance orders, DB cluster sales (members sales-1, sales-2)",
        "wait until the 2 databases are stopped",
        "DB instance reports (available) held back: has read replicas (reports-ro): AWS refuses to stop an instance with read replicas",
        "DB instance reports-ro (available) held back: a read replica (of reports): AWS refuses to stop read replicas",
        "DB instance audit (available) kept running: tag tierctl:keep-running=true",
        "DB instance ledger (available) held back: tag tierctl:keep-running has the value `maybe`",
        "note: a stop now means AWS starts orders, sales again by itself on about ",
    ] {
        assert!(plan.contains(want), "missing `{want}`:\n{plan}");
    }
    assert!(
        !plan.contains("sales-1 ("),
        "members are not listed on their own:\n{plan}"
    );

    f.emu.clear_calls();
    let (code, out, err) = f.tierctl(&["-o", "json", "run", "stop", "Shop"]);
    assert_eq!(
        code, 3,
        "held back and kept running give exit 3:\n{out}{err}"
    );
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(outcome(&report, "db", "orders")["status"], "stopped");
    assert_eq!(outcome(&report, "db", "orders")["database"], "instance");
    assert_eq!(outcome(&report, "db", "sales")["status"], "stopped");
    assert_eq!(outcome(&report, "db", "sales")["database"], "cluster");
    assert_eq!(outcome(&report, "db", "audit")["status"], "bypassed");
    assert_eq!(outcome(&report, "db", "ledger")["status"], "heldBack");
    assert_eq!(outcome(&report, "db", "reports-ro")["status"], "heldBack");
    assert_eq!(outcome(&report, "web", &f.web[0])["status"], "stopped");
    // One call per DB; the cluster by StopDBCluster, never its members alone.
    assert_eq!(
        f.named("StopDBInstance", "DBInstanceIdentifier"),
        ["orders"]
    );
    assert_eq!(f.named("StopDBCluster", "DBClusterIdentifier"), ["sales"]);
    // Discovery: one tag query, describes filtered by identifier.
    assert_eq!(f.emu.calls("service=tagging&action=GetResources").len(), 1);
    // web (sequence 0) before db; the synchronous db tier waited for `stopped`.
    assert!(f.last_time("ec2", "StopInstances") < f.first_time("rds", "StopDBInstance"));
    let (code, plan, err) = f.tierctl(&["plan", "stop", "Shop"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        plan.contains(
            "DB instance orders (stopped): already stopped; AWS starts it again by itself on "
        ),
        "{plan}"
    );
    assert!(
        plan.contains(
            "DB cluster sales (stopped): already stopped; AWS starts it again by itself on "
        ),
        "{plan}"
    );

    // Seven days later AWS started the cluster again by itself: a stop is an ordinary stop.
    f.emu.admin(
        "POST",
        "rds/databases/sales/automatic-restart",
        Some(json!({"region": REGION})),
    );
    f.emu.clear_calls();
    let (code, out, err) = f.tierctl(&["-o", "json", "run", "stop", "Shop", "--tier", "db"]);
    assert_eq!(code, 3, "{out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(outcome(&report, "db", "sales")["status"], "stopped");
    assert_eq!(outcome(&report, "db", "orders")["status"], "unchanged");
    assert_eq!(f.named("StopDBCluster", "DBClusterIdentifier"), ["sales"]);
    assert!(f.named("StopDBInstance", "DBInstanceIdentifier").is_empty());

    let (code, plan, err) = f.tierctl(&["plan", "start", "Shop"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        plan.contains("note: DB instance orders is stopped; AWS starts it again by itself on "),
        "{plan}"
    );
    assert!(
        plan.contains("health gate: wait until DB instance orders, DB cluster sales (members sales-1, sales-2) available (at most 3s)"),
        "{plan}"
    );
    f.emu.clear_calls();
    let (code, out, err) = f.tierctl(&["-o", "json", "run", "start", "Shop"]);
    assert_eq!(code, 0, "{out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(outcome(&report, "db", "orders")["status"], "started");
    assert_eq!(outcome(&report, "db", "sales")["status"], "started");
    assert_eq!(
        f.named("StartDBInstance", "DBInstanceIdentifier"),
        ["orders"]
    );
    assert_eq!(f.named("StartDBCluster", "DBClusterIdentifier"), ["sales"]);
    // db (sequence 0) is available before web starts.
    assert!(f.last_time("rds", "DescribeDBInstances") < f.first_time("ec2", "StartInstances"));
    // Planning again: nothing to do.
    let (code, out, err) = f.tierctl(&["plan", "start", "Shop"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        !out.contains("start 1 database") && !out.contains("start 2 databases"),
        "re-planning after the run is a no-op:\n{out}"
    );
    assert!(
        out.contains("DB instance orders (available): already available"),
        "{out}"
    );
    assert!(
        out.contains("DB cluster sales (available): already available"),
        "{out}"
    );
}

#[test]
fn a_health_gate_timeout_on_available_stops_the_run_before_the_next_wave() {
    // The gate alone (not synchronous): the start waits for `available` only there.
    let gated = SHOP.replace(
        "delaySeconds: 0, synchronous: true, waitHealthy",
        "delaySeconds: 0, waitHealthy",
    );
    assert_ne!(gated, SHOP);
    let f = fixture(
        &gated,
        json!([
            {"id": "orders", "tags": db_tags(&[]), "status": "stopped"},
            {"kind": "cluster", "id": "sales", "members": ["sales-1"], "tags": db_tags(&[]), "status": "stopped"},
        ]),
    );
    // The EC2 web tier is stopped, the cluster takes far longer than the gate allows.
    let (code, _, err) = f.tierctl(&["run", "stop", "Shop", "--tier", "web"]);
    assert_eq!(code, 0, "{err}");
    f.emu.admin(
        "POST",
        "rds/databases/sales/transition",
        Some(json!({"startDelayMs": 60000})),
    );
    f.emu.clear_calls();
    let (code, out, err) = f.tierctl(&["-o", "json", "run", "start", "Shop"]);
    assert_eq!(code, 1, "{out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        report["report"]["workloads"][0]["halted"], true,
        "{report:#}"
    );
    let sales = outcome(&report, "db", "sales");
    assert_eq!(sales["status"], "failed");
    let detail = sales["detail"].as_str().unwrap();
    assert!(
        detail.contains("health gate: not available within 3s (status starting)"),
        "names the gate and the status it was in: {detail}"
    );
    assert_eq!(outcome(&report, "db", "orders")["status"], "started");
    assert_eq!(
        outcome(&report, "web", &f.web[0])["status"],
        "notAttempted",
        "the next wave is not started"
    );
    assert!(f.emu.calls("service=ec2&action=StartInstances").is_empty());
    // The text report names the member and its status.
    let (code, out, err) = f.tierctl(&["plan", "start", "Shop"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("DB cluster sales (starting): already starting"),
        "{out}"
    );
}

#[test]
fn a_dry_run_makes_no_rds_call_and_says_what_it_would_do() {
    let f = shop();
    f.emu.clear_calls();
    let (code, out, err) = f.tierctl(&["-o", "json", "run", "stop", "Shop", "--dry-run"]);
    assert_eq!(code, 3, "{out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let orders = outcome(&report, "db", "orders");
    assert_eq!(orders["status"], "wouldStop");
    assert!(
        orders["detail"]
            .as_str()
            .unwrap()
            .contains("RDS has no DryRun")
    );
    for action in [
        "StopDBInstance",
        "StopDBCluster",
        "StartDBInstance",
        "StartDBCluster",
    ] {
        assert!(
            f.emu
                .calls(&format!("service=rds&action={action}"))
                .is_empty(),
            "{action}"
        );
    }
}

#[test]
fn an_ec2_only_spec_makes_no_rds_call_and_plans_as_before() {
    let ec2_only = SHOP.replace("    members: [rds]\n", "");
    let f = fixture(&ec2_only, json!([{"id": "orders", "tags": db_tags(&[])}]));
    f.emu.clear_calls();
    let (code, out, err) = f.tierctl(&["-o", "json", "plan", "stop", "Shop"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("atabase"), "{out}");
    let (code, out, err) = f.tierctl(&["run", "stop", "Shop"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(f.emu.calls("service=rds").is_empty());
    assert!(f.emu.calls("service=tagging").is_empty());
    let (code, policy, err) = f.tierctl(&["iam-policy", "Shop"]);
    assert_eq!(code, 0, "{err}");
    assert!(!policy.contains("rds:"), "{policy}");
    assert!(!policy.contains("tag:GetResources"), "{policy}");
}

#[test]
fn the_iam_policy_of_an_rds_tier_is_scoped_by_the_workload_tag() {
    let f = fixture(SHOP, json!([]));
    let (code, policy, err) = f.tierctl(&["iam-policy", "Shop"]);
    assert_eq!(code, 0, "{err}");
    let policy: Value = serde_json::from_str(&policy).unwrap();
    let statements = policy["Statement"].as_array().unwrap();
    let find = |sid: &str| {
        statements
            .iter()
            .find(|s| s["Sid"].as_str().unwrap().starts_with(sid))
            .unwrap_or_else(|| panic!("no {sid}: {policy:#}"))
    };
    let change = find("RdsStopStart");
    assert_eq!(
        change["Action"],
        json!([
            "rds:StartDBCluster",
            "rds:StartDBInstance",
            "rds:StopDBCluster",
            "rds:StopDBInstance"
        ])
    );
    assert_eq!(
        change["Condition"]["StringEquals"]["aws:ResourceTag/App"],
        json!(["shop"])
    );
    assert_eq!(
        change["Resource"],
        json!([
            "arn:aws:rds:us-west-2:*:cluster:*",
            "arn:aws:rds:us-west-2:*:db:*"
        ])
    );
    assert_eq!(
        find("RdsDiscoverByTag")["Action"],
        json!(["tag:GetResources"])
    );
}
