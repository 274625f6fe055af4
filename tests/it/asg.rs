//! Auto Scaling groups as tier members, against the emulator: the stop
//! records the sizes and scales in to 0, a second stop keeps them, the
//! start restores them behind the health gate, warm-pool groups are
//! refused, group instances are never acted on alone, and a health timeout
//! halts the next wave.

use std::path::Path;
use std::time::Instant;

use serde_json::{Value, json};

use crate::support::emulator::{Emulator, REGION};
use crate::support::run;

/// `app` is a group tier (started first, behind the health gate), `web` EC2.
const SHOP: &str = r#"name: Shop
region: us-west-2
selector:
  workloadTag: { key: App, value: shop }
  tierTagKey: Role
tiers:
  - name: web
    stop: { sequence: 0, delaySeconds: 0 }
    start: { sequence: 1, delaySeconds: 0 }
  - name: app
    members: [asg]
    stop: { sequence: 1, synchronous: true }
    start: { sequence: 0, delaySeconds: 0, waitHealthy: true, healthTimeoutSeconds: 3 }
"#;

const SIZES_TAG: &str = "tierctl:stopped-sizes";

struct Fixture {
    emu: Emulator,
    dir: tempfile::TempDir,
    web: Vec<String>,
    rt: tokio::runtime::Runtime,
}

fn fixture() -> Fixture {
    let emu = Emulator::start();
    let seeded = emu.seed(json!({"region": REGION, "workloads": [{
        "workloadTag": {"key": "App", "value": "shop"}, "tierTagKey": "Role",
        "tiers": [{"name": "web", "count": 2, "state": "running"}]}]}));
    let web: Vec<String> = seeded["workloads"][0]["tiers"][0]["instanceIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Shop.yaml"), SHOP).unwrap();
    let f = Fixture { emu, dir, web, rt };
    f.create_group("shop-app", 2);
    f
}

impl Fixture {
    fn client(&self) -> aws_sdk_autoscaling::Client {
        let config = self.rt.block_on(self.emu.sdk_config());
        aws_sdk_autoscaling::Client::new(&config)
    }

    fn create_group(&self, name: &str, desired: i32) {
        use aws_sdk_autoscaling::types::Tag;
        let asg = self.client();
        self.rt.block_on(async {
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
                .tags(tag("Role", "app"))
                .send()
                .await
                .unwrap();
        });
    }

    /// (min, max, desired, instances, tags) of a group.
    fn group(&self, name: &str) -> (i32, i32, i32, Vec<String>, Vec<(String, String)>) {
        let asg = self.client();
        self.rt.block_on(async {
            let out = asg
                .describe_auto_scaling_groups()
                .auto_scaling_group_names(name)
                .send()
                .await
                .unwrap();
            let g = &out.auto_scaling_groups()[0];
            (
                g.min_size().unwrap(),
                g.max_size().unwrap(),
                g.desired_capacity().unwrap(),
                g.instances()
                    .iter()
                    .map(|i| i.instance_id().unwrap().to_string())
                    .collect(),
                g.tags()
                    .iter()
                    .map(|t| {
                        (
                            t.key().unwrap().to_string(),
                            t.value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect(),
            )
        })
    }

    fn sizes_tag(&self, name: &str) -> Option<String> {
        self.group(name)
            .4
            .into_iter()
            .find(|(k, _)| k == SIZES_TAG)
            .map(|(_, v)| v)
    }

    fn tierctl(&self, args: &[&str]) -> (i32, String, String) {
        let specs = self.dir.path().to_str().unwrap();
        run(self
            .emu
            .tierctl_in(Path::new(specs))
            .args(["--specs", specs])
            .args(args))
    }

    /// Waits (at most 20 s) until the web tier's EC2 instances are `stopped`:
    /// its stop is not synchronous, so `run stop` returns while they stop.
    fn wait_web_stopped(&self) {
        let config = self.rt.block_on(self.emu.sdk_config());
        let ec2 = aws_sdk_ec2::Client::new(&config);
        let deadline = Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let out = self
                .rt
                .block_on(
                    ec2.describe_instances()
                        .set_instance_ids(Some(self.web.clone()))
                        .send(),
                )
                .unwrap();
            let stopped = out
                .reservations()
                .iter()
                .flat_map(|r| r.instances())
                .all(|i| i.state().and_then(|s| s.name()).map(|n| n.as_str()) == Some("stopped"));
            if stopped {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "web instances not stopped within 20 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    fn ec2_acted_on(&self, ids: &[String]) -> bool {
        ["StopInstances", "StartInstances"].iter().any(|a| {
            self.emu
                .calls(&format!("action={a}"))
                .iter()
                .any(|c| ids.iter().any(|i| c.to_string().contains(i.as_str())))
        })
    }
}

fn outcomes(out: &str) -> Vec<Value> {
    let doc: Value = serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"));
    doc["report"]["workloads"][0]["outcomes"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn stop_records_the_sizes_and_scales_in_and_a_second_stop_keeps_them() {
    let f = fixture();
    let mut owned = f.group("shop-app").3;
    owned.sort();
    assert_eq!(owned.len(), 2);

    let (code, plan, err) = f.tierctl(&["plan", "stop", "Shop"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        plan.contains("group shop-app (min=1,max=4,desired=2): scale in to 0"),
        "{plan}"
    );
    assert!(
        plan.contains(
            "terminates its 2 instance(s), not stops them; instance store and local state are lost"
        ),
        "{plan}"
    );
    assert!(
        plan.contains(&format!("[owns {}]", owned.join(", "))),
        "{plan}"
    );
    assert!(plan.contains("1 Auto Scaling group to stop"), "{plan}");
    assert!(
        plan.contains("wait until the groups have no instances left: shop-app"),
        "{plan}"
    );

    // Dry run: Auto Scaling has no DryRun, so no call at all.
    let (code, out, err) = f.tierctl(&["-o", "json", "run", "stop", "Shop", "--dry-run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(f.emu.calls("action=UpdateAutoScalingGroup").is_empty());
    assert!(f.emu.calls("action=CreateOrUpdateTags").is_empty());
    let group = outcomes(&out)
        .into_iter()
        .find(|o| o["instance"] == "shop-app")
        .unwrap();
    assert_eq!(group["status"], "wouldStop", "{group}");
    assert_eq!(group["member"], "asg");
    assert!(group["detail"].as_str().unwrap().contains("no call made"));

    let (code, out, err) = f.tierctl(&["-o", "json", "run", "stop", "Shop"]);
    assert_eq!(code, 0, "{out}{err}");
    let (min, max, desired, instances, _) = f.group("shop-app");
    assert_eq!((min, max, desired), (0, 4, 0));
    assert!(instances.is_empty(), "scaled in: {instances:?}");
    assert_eq!(
        f.sizes_tag("shop-app").as_deref(),
        Some("min=1,max=4,desired=2")
    );
    let group = outcomes(&out)
        .into_iter()
        .find(|o| o["instance"] == "shop-app")
        .unwrap();
    assert_eq!(group["status"], "stopped", "{group}");
    // Tag first, then the scale-in; the group's instances never one by one.
    let tagged = f.emu.calls("action=CreateOrUpdateTags")[0]["time"]
        .as_f64()
        .unwrap();
    let scaled = f.emu.calls("action=UpdateAutoScalingGroup")[0]["time"]
        .as_f64()
        .unwrap();
    assert!(tagged < scaled);
    assert!(
        !f.ec2_acted_on(&owned),
        "group instances are not stopped alone"
    );
    assert!(f.ec2_acted_on(&f.web), "web's instances were stopped");

    // A second stop: a no-op for the group, the recorded sizes stay.
    f.emu.clear_calls();
    let (code, out, err) = f.tierctl(&["run", "stop", "Shop"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(f.emu.calls("action=UpdateAutoScalingGroup").is_empty());
    assert!(f.emu.calls("action=CreateOrUpdateTags").is_empty());
    assert_eq!(
        f.sizes_tag("shop-app").as_deref(),
        Some("min=1,max=4,desired=2")
    );
}

#[test]
fn start_restores_the_sizes_behind_the_health_gate_then_starts_the_next_wave() {
    let f = fixture();
    // The group is behind a classic load balancer: the gate checks InService there.
    let config = f.rt.block_on(f.emu.sdk_config());
    let clb = aws_sdk_elasticloadbalancing::Client::new(&config);
    let asg = f.client();
    f.rt.block_on(async {
        clb.create_load_balancer()
            .load_balancer_name("app-clb")
            .listeners(
                aws_sdk_elasticloadbalancing::types::Listener::builder()
                    .protocol("HTTP")
                    .load_balancer_port(80)
                    .instance_port(80)
                    .build()
                    .unwrap(),
            )
            .availability_zones(format!("{REGION}a"))
            .send()
            .await
            .unwrap();
        asg.attach_load_balancers()
            .auto_scaling_group_name("shop-app")
            .load_balancer_names("app-clb")
            .send()
            .await
            .unwrap();
    });
    let (code, out, err) = f.tierctl(&["run", "stop", "Shop"]);
    assert_eq!(code, 0, "{out}{err}");
    f.wait_web_stopped();
    f.emu
        .admin("POST", "asg", Some(json!({"inServiceMs": 800})));
    f.emu.clear_calls();

    let (code, plan, err) = f.tierctl(&["plan", "start", "Shop"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        plan.contains("restore the recorded sizes min=1,max=4,desired=2"),
        "{plan}"
    );
    assert!(plan.contains("health gate: InService = desired"), "{plan}");

    let begin = Instant::now();
    let (code, out, err) = f.tierctl(&["-o", "json", "run", "start", "Shop"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        begin.elapsed().as_secs_f64() >= 0.8,
        "the gate waited for InService"
    );
    // web (the next wave) started only after the group passed its gate.
    let last_describe = f
        .emu
        .calls("action=DescribeAutoScalingGroups")
        .iter()
        .map(|c| c["time"].as_f64().unwrap())
        .fold(0.0, f64::max);
    let start_web = f.emu.calls("action=StartInstances")[0]["time"]
        .as_f64()
        .unwrap();
    assert!(start_web > last_describe);
    let health = f.emu.calls("action=DescribeInstanceHealth");
    assert!(
        !health.is_empty(),
        "the gate asked the classic load balancer"
    );
    assert!(health.iter().all(|c| c["status"] == 200), "{health:?}");
    let (min, max, desired, instances, _) = f.group("shop-app");
    assert_eq!((min, max, desired), (1, 4, 2));
    assert_eq!(instances.len(), 2);
    assert_eq!(
        f.sizes_tag("shop-app"),
        None,
        "the tag is deleted after the restore"
    );
    let group = outcomes(&out)
        .into_iter()
        .find(|o| o["instance"] == "shop-app")
        .unwrap();
    assert_eq!(group["status"], "started", "{group}");

    // Planning again: nothing to do for the group.
    let (code, plan, err) = f.tierctl(&["plan", "start", "Shop"]);
    assert_eq!(code, 0, "{err}");
    assert!(plan.contains("already running (desired 2)"), "{plan}");
}

#[test]
fn a_health_timeout_halts_the_next_wave_with_a_clear_report() {
    let f = fixture();
    let (code, out, err) = f.tierctl(&["run", "stop", "Shop"]);
    assert_eq!(code, 0, "{out}{err}");
    f.emu.admin(
        "POST",
        "asg/hold",
        Some(json!({"groupName": "shop-app", "state": "Pending"})),
    );
    f.emu.clear_calls();
    let (code, out, err) = f.tierctl(&["run", "start", "Shop"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(
            "shop-app failed: not healthy within 3s: 0 of 2 instance(s) InService (2 Pending)"
        ),
        "{out}"
    );
    assert!(out.contains("later waves halted"), "{out}");
    assert!(
        f.emu.calls("action=StartInstances").is_empty(),
        "web untouched"
    );
}

#[test]
fn warm_pool_groups_and_groups_without_recorded_sizes_are_held() {
    let f = fixture();
    f.create_group("shop-warm", 1);
    let asg = f.client();
    f.rt.block_on(async {
        asg.put_warm_pool()
            .auto_scaling_group_name("shop-warm")
            .min_size(1)
            .send()
            .await
            .unwrap();
    });
    let (code, plan, err) = f.tierctl(&["plan", "stop", "Shop"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        plan.contains("group shop-warm (min=1,max=4,desired=1): has a warm pool"),
        "{plan}"
    );
    let (code, out, err) = f.tierctl(&["run", "stop", "Shop"]);
    assert_eq!(code, 3, "held back: {out}{err}");
    assert_eq!(
        f.group("shop-warm").2,
        1,
        "the warm-pool group is not touched"
    );
    assert_eq!(f.group("shop-app").2, 0);

    // A group at 0 that tierctl did not scale in: the start does not guess.
    f.create_group("shop-empty", 0);
    asg_set_min_zero(&f, "shop-empty");
    let (code, plan, err) = f.tierctl(&["plan", "start", "Shop"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        plan.contains("group shop-empty (min=0,max=4,desired=0): at 0 with no recorded sizes"),
        "{plan}"
    );
}

fn asg_set_min_zero(f: &Fixture, name: &str) {
    let asg = f.client();
    f.rt.block_on(async {
        asg.update_auto_scaling_group()
            .auto_scaling_group_name(name)
            .min_size(0)
            .desired_capacity(0)
            .send()
            .await
            .unwrap();
    });
}

#[test]
fn group_instances_in_an_ec2_tier_are_held_and_an_ec2_only_spec_reads_no_groups() {
    let f = fixture();
    let owned = f.group("shop-app").3;
    // The same fleet, but no tier holds `asg`: the group's instances carry
    // Role=app, yet are never acted on one by one.
    std::fs::write(
        f.dir.path().join("Shop.yaml"),
        SHOP.replace("    members: [asg]\n", ""),
    )
    .unwrap();
    f.emu.clear_calls();
    let (code, plan, err) = f.tierctl(&["plan", "stop", "Shop"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        plan.contains("belongs to Auto Scaling group shop-app (tag aws:autoscaling:groupName)"),
        "{plan}"
    );
    assert!(
        f.emu.calls("service=autoscaling").is_empty(),
        "no group read for an EC2-only spec"
    );
    let (code, out, err) = f.tierctl(&["run", "stop", "Shop"]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(!f.ec2_acted_on(&owned));
    assert_eq!(f.group("shop-app").2, 2, "the group is untouched");
}
