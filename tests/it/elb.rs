//! Load balancers at start: classic re-registration and the ELBv2 health gate.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use serde_json::{Value, json};

use crate::support::emulator::{Emulator, REGION};
use crate::support::run;

const LB: &str = r#"name: Lb
region: us-west-2
selector:
  workloadTag: { key: App, value: lb }
  tierTagKey: Role
  vpcId: vpc-0123abcd
tiers:
  - name: web
    stop: { sequence: 0 }
    start: { sequence: 1, delaySeconds: 0 }
  - name: app
    stop: { sequence: 1 }
    start: { sequence: 0, delaySeconds: 0, waitHealthy: true, healthTimeoutSeconds: 4 }
"#;

struct Fixture {
    emu: Emulator,
    dir: tempfile::TempDir,
    ids: BTreeMap<String, Vec<String>>,
}

fn fixture() -> Fixture {
    let emu = Emulator::start();
    emu.transitions(300, 300);
    // Running while they join their load balancers (AWS requires it), then stopped.
    let tier = |name: &str| json!({"name": name, "count": 2, "instanceType": "t3.micro", "state": "running"});
    let seeded = emu.seed(json!({"region": REGION, "vpc": "vpc-0123abcd", "workloads": [{
        "workloadTag": {"key": "App", "value": "lb"}, "tierTagKey": "Role", "tiers": [tier("web"), tier("app")]}]}));
    let subnet = seeded["subnetId"].as_str().unwrap().to_string();
    let mut ids = BTreeMap::new();
    for t in seeded["workloads"][0]["tiers"].as_array().unwrap() {
        ids.insert(
            t["name"].as_str().unwrap().to_string(),
            t["instanceIds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect::<Vec<String>>(),
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let config = emu.sdk_config().await;
        let clb = aws_sdk_elasticloadbalancing::Client::new(&config);
        clb.create_load_balancer()
            .load_balancer_name("web-clb")
            .listeners(
                aws_sdk_elasticloadbalancing::types::Listener::builder()
                    .protocol("HTTP")
                    .load_balancer_port(80)
                    .instance_port(80)
                    .build()
                    .unwrap(),
            )
            .subnets(&subnet)
            .send()
            .await
            .unwrap();
        clb.register_instances_with_load_balancer()
            .load_balancer_name("web-clb")
            .set_instances(Some(
                ids["web"]
                    .iter()
                    .map(|i| {
                        aws_sdk_elasticloadbalancing::types::Instance::builder()
                            .instance_id(i)
                            .build()
                    })
                    .collect(),
            ))
            .send()
            .await
            .unwrap();
        let v2 = aws_sdk_elasticloadbalancingv2::Client::new(&config);
        let tg = v2
            .create_target_group()
            .name("app-tg")
            .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
            .port(80)
            .vpc_id("vpc-0123abcd")
            .target_type(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Instance)
            .send()
            .await
            .unwrap();
        let arn = tg.target_groups()[0]
            .target_group_arn()
            .unwrap()
            .to_string();
        v2.register_targets()
            .target_group_arn(&arn)
            .set_targets(Some(
                ids["app"]
                    .iter()
                    .map(|i| {
                        aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder()
                            .id(i)
                            .port(80)
                            .build()
                    })
                    .collect(),
            ))
            .send()
            .await
            .unwrap();
        let ec2 = aws_sdk_ec2::Client::new(&config);
        let all: Vec<String> = ids.values().flatten().cloned().collect();
        ec2.stop_instances()
            .set_instance_ids(Some(all))
            .send()
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Lb.yaml"), LB).unwrap();
    Fixture { emu, dir, ids }
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

    fn first(&self, action: &str, ids: &[String]) -> f64 {
        self.emu
            .calls(&format!("action={action}"))
            .iter()
            .filter(|c| c["status"] == 200)
            .find(|c| {
                let named = c.to_string();
                ids.iter().any(|i| named.contains(i.as_str()))
            })
            .map(|c| c["time"].as_f64().unwrap())
            .unwrap_or_else(|| panic!("no {action} naming {ids:?}"))
    }
}

#[test]
fn classic_load_balancers_are_reregistered_around_the_start_and_the_health_gate_waits() {
    let f = fixture();
    let (code, plan, err) = f.tierctl(&["plan", "start", "Lb"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        plan.contains("deregister from classic load balancers: web-clb"),
        "{plan}"
    );
    assert!(
        plan.contains("once running, register again with classic load balancers: web-clb"),
        "{plan}"
    );
    assert!(
        plan.contains("wait until 2 instances are healthy in app-tg"),
        "{plan}"
    );

    f.emu.clear_calls();
    // app's targets are unhealthy for the first 1.5 s of the run: the gate must wait.
    f.emu.admin(
        "POST",
        "target-health",
        Some(json!({"instanceIds": f.ids["app"], "state": "unhealthy", "forMs": 1500})),
    );
    let begin = Instant::now();
    let (code, out, err) = f.tierctl(&["-o", "json", "run", "start", "Lb"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        begin.elapsed().as_secs_f64() >= 1.5,
        "the health gate waited"
    );
    let web = &f.ids["web"];
    let app = &f.ids["app"];
    let dereg = f.first("DeregisterInstancesFromLoadBalancer", web);
    let start_web = f.first("StartInstances", web);
    let reg = f.first("RegisterInstancesWithLoadBalancer", web);
    let start_app = f.first("StartInstances", app);
    assert!(
        start_app < dereg && dereg < start_web && start_web < reg,
        "app, then deregister, start, register web"
    );
    assert!(reg - start_web >= 0.3, "registered only once running");
    let last_health = f
        .emu
        .calls("action=DescribeTargetHealth")
        .iter()
        .map(|c| c["time"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(
        start_web > last_health,
        "web (next wave) began after app was healthy"
    );
    let doc: Value = serde_json::from_str(&out).unwrap();
    let outcomes = doc["report"]["workloads"][0]["outcomes"]
        .as_array()
        .unwrap();
    let of = |id: &str| outcomes.iter().find(|o| o["instance"] == id).unwrap();
    assert_eq!(
        of(&web[0])["loadBalancers"],
        json!([
            "deregistered from classic web-clb",
            "registered with classic web-clb"
        ])
    );
    assert_eq!(
        of(&app[0])["loadBalancers"],
        json!(["healthy in its target groups"])
    );
}

#[test]
fn the_health_gate_times_out_and_halts_later_waves() {
    let f = fixture();
    f.emu.admin(
        "POST",
        "target-health",
        Some(json!({"instanceIds": [f.ids["app"][1]], "state": "unhealthy"})),
    );
    let (code, out, err) = f.tierctl(&["run", "start", "Lb"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(&format!(
            "{} failed: not healthy within 4s: unhealthy in app-tg (Target.FailedHealthChecks)",
            f.ids["app"][1]
        )),
        "{out}"
    );
    assert!(out.contains("later waves halted"), "{out}");
    assert!(
        f.emu
            .calls("action=StartInstances")
            .iter()
            .all(|c| !c.to_string().contains(f.ids["web"][0].as_str())),
        "web untouched"
    );
}

#[test]
fn the_health_gate_of_an_ec2_tier_waits_for_inservice_in_its_classic_load_balancers() {
    let f = fixture();
    let gated = LB.replace(
        "start: { sequence: 1, delaySeconds: 0 }",
        "start: { sequence: 1, delaySeconds: 0, waitHealthy: true, healthTimeoutSeconds: 20 }",
    );
    std::fs::write(f.dir.path().join("Lb.yaml"), gated).unwrap();
    let (code, plan, err) = f.tierctl(&["plan", "start", "Lb"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        plan.contains("InService in classic load balancers web-clb"),
        "{plan}"
    );
    f.emu.clear_calls();
    let (code, out, err) = f.tierctl(&["-o", "json", "run", "start", "Lb"]);
    assert_eq!(code, 0, "{out}{err}");
    let web = &f.ids["web"];
    let reg = f.first("RegisterInstancesWithLoadBalancer", web);
    let health: Vec<f64> = f
        .emu
        .calls("action=DescribeInstanceHealth")
        .iter()
        .filter(|c| c["status"] == 200)
        .map(|c| c["time"].as_f64().unwrap())
        .collect();
    assert!(
        !health.is_empty(),
        "the gate asked the classic load balancer"
    );
    assert!(
        health.iter().all(|t| *t >= reg),
        "asked once the instances were registered again"
    );
    let doc: Value = serde_json::from_str(&out).unwrap();
    let outcomes = doc["report"]["workloads"][0]["outcomes"]
        .as_array()
        .unwrap();
    let first = outcomes.iter().find(|o| o["instance"] == web[0]).unwrap();
    assert_eq!(first["status"], "started", "{first}");
    assert_eq!(
        first["loadBalancers"],
        json!([
            "deregistered from classic web-clb",
            "registered with classic web-clb",
            "InService in its classic load balancers"
        ])
    );
}
