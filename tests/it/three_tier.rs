//! Issue 19's done-when scenario against the emulator: an ASG web tier, an
//! EC2 app tier and an RDS db tier stop web -> app -> db and start
//! db -> app -> web, each start wave behind its health gate; a health
//! timeout halts the run before the next wave, names the member and notifies.

use std::path::Path;

use serde_json::{Value, json};

use crate::support::emulator::{Emulator, REGION};
use crate::support::run;

const SHOP: &str = r#"name: Shop
region: us-west-2
notify:
  snsTopic: TierAlerts
selector:
  workloadTag: { key: App, value: shop }
  tierTagKey: Role
tiers:
  - name: web
    members: [asg]
    stop: { sequence: 0, delaySeconds: 0, synchronous: true }
    start: { sequence: 2, delaySeconds: 0, waitHealthy: true, healthTimeoutSeconds: 10 }
  - name: app
    stop: { sequence: 1, delaySeconds: 0, synchronous: true }
    start: { sequence: 1, delaySeconds: 0, waitHealthy: true, healthTimeoutSeconds: 10 }
  - name: db
    members: [rds]
    stop: { sequence: 2, delaySeconds: 0, synchronous: true }
    start: { sequence: 0, delaySeconds: 0, waitHealthy: true, healthTimeoutSeconds: 3 }
"#;

struct Fixture {
    emu: Emulator,
    dir: tempfile::TempDir,
    app: Vec<String>,
    rt: tokio::runtime::Runtime,
}

fn fixture() -> Fixture {
    let emu = Emulator::start();
    emu.transitions(1000, 1000);
    emu.admin(
        "POST",
        "rds/config",
        Some(json!({"stopDelayMs": 1000, "startDelayMs": 1000})),
    );
    emu.admin("POST", "asg", Some(json!({"inServiceMs": 1000})));
    let seeded = emu.seed(json!({"region": REGION, "workloads": [{
        "workloadTag": {"key": "App", "value": "shop"}, "tierTagKey": "Role",
        "tiers": [{"name": "app", "count": 2, "state": "running"}]}]}));
    let app = seeded["workloads"][0]["tiers"][0]["instanceIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    emu.admin(
        "POST",
        "rds/seed",
        Some(json!({"region": REGION, "databases": [
            {"id": "orders", "tags": {"App": "shop", "Role": "db"}}]})),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Shop.yaml"), SHOP).unwrap();
    let f = Fixture { emu, dir, app, rt };
    f.create_group("shop-web", 2);
    f.create_topic();
    f
}

impl Fixture {
    fn create_group(&self, name: &str, desired: i32) {
        use aws_sdk_autoscaling::types::Tag;
        self.rt.block_on(async {
            let asg = aws_sdk_autoscaling::Client::new(&self.emu.sdk_config().await);
            asg.create_launch_configuration()
                .launch_configuration_name(format!("{name}-lc"))
                .image_id("ami-12c6146b")
                .instance_type("t3.micro")
                .send()
                .await
                .unwrap();
            let tag = |k: &str, v: &str| {
                Tag::builder()
                    .key(k)
                    .value(v)
                    .propagate_at_launch(true)
                    .resource_id(name)
                    .resource_type("auto-scaling-group")
                    .build()
            };
            asg.create_auto_scaling_group()
                .auto_scaling_group_name(name)
                .launch_configuration_name(format!("{name}-lc"))
                .min_size(1)
                .max_size(4)
                .desired_capacity(desired)
                .availability_zones(format!("{REGION}a"))
                .tags(tag("App", "shop"))
                .tags(tag("Role", "web"))
                .send()
                .await
                .unwrap();
        });
    }

    fn create_topic(&self) {
        self.rt.block_on(async {
            let sns = aws_sdk_sns::Client::new(&self.emu.sdk_config().await);
            sns.create_topic().name("TierAlerts").send().await.unwrap();
        });
    }

    fn tierctl(&self, args: &[&str]) -> (i32, String, String) {
        let specs = self.dir.path().to_str().unwrap();
        run(self
            .emu
            .tierctl_in(Path::new(specs))
            .args(["--specs", specs])
            .args(args))
    }

    /// Times of the successful calls of `service:action`, in order.
    fn times(&self, service: &str, action: &str) -> Vec<f64> {
        self.emu
            .calls(&format!("service={service}&action={action}"))
            .iter()
            .filter(|c| c["status"] == 200)
            .map(|c| c["time"].as_f64().unwrap())
            .collect()
    }

    fn first(&self, service: &str, action: &str) -> f64 {
        let t = self.times(service, action);
        assert!(
            !t.is_empty(),
            "no {service}:{action}: {}",
            self.emu.counts()
        );
        t.into_iter().fold(f64::INFINITY, f64::min)
    }

    fn last(&self, service: &str, action: &str) -> f64 {
        self.times(service, action).into_iter().fold(0.0, f64::max)
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
fn three_tiers_stop_web_app_db_and_start_db_app_web_behind_health_gates_and_a_timeout_halts() {
    let f = fixture();

    // plan stop: the three waves in order, each waiting.
    let (code, plan, err) = f.tierctl(&["plan", "stop", "Shop"]);
    assert_eq!(code, 0, "{err}");
    let web = plan.find("group shop-web").expect(&plan);
    let app = plan.find(f.app[0].as_str()).expect(&plan);
    let db = plan.find("DB instance orders").expect(&plan);
    assert!(web < app && app < db, "stop order web, app, db:\n{plan}");
    assert!(
        plan.contains("wait until the groups have no instances left: shop-web"),
        "{plan}"
    );
    for want in [
        "wait until the 2 instances are stopped",
        "stop 1 database in 1 call: DB instance orders",
        "wait until it is stopped",
    ] {
        assert!(plan.contains(want), "missing `{want}`:\n{plan}");
    }

    // run stop: web -> app -> db, each wave after the earlier one finished.
    f.emu.clear_calls();
    let (code, out, err) = f.tierctl(&["-o", "json", "run", "stop", "Shop"]);
    assert_eq!(code, 0, "{out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(outcome(&report, "web", "shop-web")["status"], "stopped");
    assert_eq!(outcome(&report, "app", &f.app[0])["status"], "stopped");
    assert_eq!(outcome(&report, "db", "orders")["status"], "stopped");
    let scaled_in = f.last("autoscaling", "UpdateAutoScalingGroup");
    let stop_app = f.first("ec2", "StopInstances");
    let stop_db = f.first("rds", "StopDBInstance");
    assert!(scaled_in < stop_app, "web before app");
    assert!(
        stop_db - f.last("ec2", "StopInstances") >= 0.9,
        "db waited for app's 1 s stop: {stop_app} {stop_db}"
    );
    assert!(
        f.last("rds", "DescribeDBInstances") - stop_db >= 0.9,
        "the db tier waited for `stopped`"
    );
    assert!(f.emu.calls("service=sns&action=Publish").is_empty());

    // plan start: db, app, web, each with its gate.
    let (code, plan, err) = f.tierctl(&["plan", "start", "Shop"]);
    assert_eq!(code, 0, "{err}");
    for want in [
        "health gate: wait until DB instance orders available (at most 3s)",
        "pass EC2 status checks (at most 10s)",
        "health gate: InService = desired",
        "restore the recorded sizes min=1,max=4,desired=2",
    ] {
        assert!(plan.contains(want), "missing `{want}`:\n{plan}");
    }
    let db = plan.find("DB instance orders").unwrap();
    let app = plan.find(f.app[0].as_str()).unwrap();
    let web = plan.find("group shop-web").unwrap();
    assert!(db < app && app < web, "start order db, app, web:\n{plan}");

    // run start: StartDBInstance, then (after `available`) StartInstances,
    // then (after the status checks) the group's restore.
    f.emu.clear_calls();
    let (code, out, err) = f.tierctl(&["-o", "json", "run", "start", "Shop"]);
    assert_eq!(code, 0, "{out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(outcome(&report, "db", "orders")["status"], "started");
    assert_eq!(outcome(&report, "app", &f.app[1])["status"], "started");
    assert_eq!(outcome(&report, "web", "shop-web")["status"], "started");
    let start_db = f.first("rds", "StartDBInstance");
    let start_app = f.first("ec2", "StartInstances");
    let start_web = f.first("autoscaling", "UpdateAutoScalingGroup");
    assert!(
        start_app - start_db >= 0.9,
        "app started after the db was available: {start_db} {start_app}"
    );
    assert!(start_app > f.last("rds", "DescribeDBInstances"));
    assert!(
        start_web - start_app >= 0.9,
        "web restored after app passed its gate: {start_app} {start_web}"
    );
    let status_checks = f.times("ec2", "DescribeInstanceStatus");
    assert!(
        !status_checks.is_empty(),
        "the app gate asked for status checks"
    );
    assert!(
        status_checks
            .iter()
            .any(|t| start_app < *t && *t < start_web),
        "app's status checks passed before the web wave: {status_checks:?}"
    );
    assert!(
        f.last("autoscaling", "DescribeAutoScalingGroups") - start_web >= 0.9,
        "the web gate waited for InService"
    );

    // A health timeout: stop again, keep the db `starting` past its 3 s gate.
    let (code, out, err) = f.tierctl(&["run", "stop", "Shop"]);
    assert_eq!(code, 0, "{out}{err}");
    f.emu.admin(
        "POST",
        "rds/databases/orders/transition",
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
    let orders = outcome(&report, "db", "orders");
    assert_eq!(orders["status"], "failed");
    assert_eq!(orders["member"], "rds");
    assert!(
        orders["detail"]
            .as_str()
            .unwrap()
            .contains("health gate: not available within 3s (status starting)"),
        "{orders}"
    );
    for id in &f.app {
        assert_eq!(outcome(&report, "app", id)["status"], "notAttempted");
    }
    assert_eq!(
        outcome(&report, "web", "shop-web")["status"],
        "notAttempted"
    );
    assert!(f.emu.calls("service=ec2&action=StartInstances").is_empty());
    assert!(
        f.emu
            .calls("service=autoscaling&action=UpdateAutoScalingGroup")
            .is_empty()
    );
    let publishes: Vec<Value> = f
        .emu
        .calls("service=sns&action=Publish")
        .into_iter()
        .filter(|c| c["status"] == 200)
        .collect();
    assert_eq!(publishes.len(), 1, "{publishes:?}");
    let message = publishes[0]["params"]["Message"].as_str().unwrap();
    assert!(
        message.contains("orders") && message.contains("not available within 3s"),
        "{message}"
    );
}
