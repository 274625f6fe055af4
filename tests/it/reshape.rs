//! Start-time reshaping against the emulator: scaling profiles and the type
//! compatibility checks that keep a tier from being left stopped.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use crate::support::emulator::{Emulator, REGION};
use crate::support::run;

const SHAPE: &str = r#"name: Shape
region: us-west-2
scaleInstanceDelaySeconds: 1
selector:
  workloadTag: { key: App, value: shape }
  tierTagKey: Role
  vpcId: vpc-0123abcd
tiers:
  - name: web
    stop: { sequence: 1 }
    start: { sequence: 1, delaySeconds: 0 }
    scaling: { performant: c5.large }
  - name: app
    stop: { sequence: 0 }
    start: { sequence: 0, delaySeconds: 0 }
    scaling: { performant: c5.large }
  - name: arm
    stop: { sequence: 0 }
    start: { sequence: 0, delaySeconds: 0 }
    scaling: { performant: m6g.large }
  - name: noena
    stop: { sequence: 0 }
    start: { sequence: 0, delaySeconds: 0 }
    scaling: { performant: c5.xlarge }
  - name: spot
    stop: { sequence: 0 }
    start: { sequence: 0, delaySeconds: 0 }
    scaling: { performant: c5.large }
  - name: ebs
    stop: { sequence: 0 }
    start: { sequence: 0, delaySeconds: 0 }
    scaling: { performant: t2.large }
  - name: db
    stop: { sequence: 0 }
    start: { sequence: 0, delaySeconds: 0 }
"#;

fn fleet(emu: &Emulator) -> BTreeMap<String, Vec<String>> {
    let tier = |name: &str, count: u32, ty: &str, extra: Value| {
        let mut t = json!({"name": name, "count": count, "instanceType": ty, "state": "stopped"});
        t.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        t
    };
    let seeded = emu.seed(
        json!({"region": REGION, "vpc": "vpc-0123abcd", "workloads": [{
        "workloadTag": {"key": "App", "value": "shape"}, "tierTagKey": "Role",
        "tiers": [
            tier("web", 3, "t2.nano", json!({})),
            tier("app", 2, "c5.large", json!({})),
            tier("arm", 1, "t3.micro", json!({})),
            tier("noena", 1, "t2.micro", json!({"enaSupport": false})),
            tier("spot", 1, "t3.micro", json!({"lifecycle": "spot"})),
            tier("ebs", 1, "m5.large", json!({"ebsOptimized": true})),
            tier("db", 1, "t3.small", json!({})),
        ]}]}),
    );
    let mut out = BTreeMap::new();
    for t in seeded["workloads"][0]["tiers"].as_array().unwrap() {
        out.insert(
            t["name"].as_str().unwrap().to_string(),
            t["instanceIds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect(),
        );
    }
    out
}

fn types_and_states(emu: &Emulator) -> BTreeMap<String, (String, String)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&emu.sdk_config().await);
        let out = ec2.describe_instances().send().await.unwrap();
        out.reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(|i| {
                (
                    i.instance_id().unwrap().to_string(),
                    (
                        i.instance_type().unwrap().as_str().to_string(),
                        i.state().unwrap().name().unwrap().as_str().to_string(),
                    ),
                )
            })
            .collect()
    })
}

#[test]
fn start_with_a_profile_resizes_what_can_change_and_holds_back_the_rest() {
    let emu = Emulator::start();
    emu.transitions(0, 0);
    let ids = fleet(&emu);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Shape.yaml"), SHAPE).unwrap();
    let specs = dir.path().to_str().unwrap();
    // One resize fails at the API: that instance stays stopped at its old type.
    let broken = ids["web"][2].clone();
    emu.fault(json!({"service": "ec2", "action": "ModifyInstanceAttribute", "error": "InternalError", "status": 500, "times": -1, "instanceIds": [broken]}));

    let (code, plan, err) = run(emu.tierctl_in(Path::new(specs)).args([
        "--specs",
        specs,
        "plan",
        "start",
        "Shape",
        "--profile",
        "performant",
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(
        plan.contains("resize 3 instances:") && plan.contains("t2.nano -> c5.large"),
        "{plan}"
    );
    assert!(plan.contains("2 already c5.large: not resized"), "{plan}");
    assert!(
        plan.contains("c5.large runs x86_64")
            || plan.contains("m6g.large runs arm64, the instance is x86_64"),
        "{plan}"
    );
    assert!(
        plan.contains("c5.xlarge requires ENA enhanced networking"),
        "{plan}"
    );
    assert!(plan.contains("Spot Instances cannot change type"), "{plan}");
    assert!(
        plan.contains("no `performant` profile: started at its current type"),
        "{plan}"
    );
    assert!(plan.contains("EBS volumes become NVMe devices"), "{plan}");
    assert_eq!(
        plan.matches("wait 1s for the new types to settle").count(),
        2,
        "one delay per resizing tier (web, ebs): {plan}"
    );
    assert_eq!(
        emu.counts()["ec2:DescribeInstanceTypes"],
        1,
        "types read once per workload"
    );

    let (code, out, err) = run(emu.tierctl_in(Path::new(specs)).args([
        "--specs",
        specs,
        "-o",
        "json",
        "run",
        "start",
        "Shape",
        "--profile",
        "performant",
    ]));
    assert_eq!(code, 1, "a resize failed: {err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let outcomes = doc["report"]["workloads"][0]["outcomes"]
        .as_array()
        .unwrap();
    let status = |id: &str| {
        outcomes
            .iter()
            .find(|o| o["instance"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(status(&ids["web"][0])["status"], "started");
    assert_eq!(status(&ids["web"][0])["oldType"], "t2.nano");
    assert_eq!(status(&ids["web"][0])["newType"], "c5.large");
    assert_eq!(status(&broken)["status"], "failed");
    assert!(
        status(&broken)["detail"]
            .as_str()
            .unwrap()
            .contains("left stopped at t2.nano")
    );
    for held in [&ids["arm"][0], &ids["noena"][0], &ids["spot"][0]] {
        assert_eq!(status(held)["status"], "heldBack", "{held}");
    }
    assert_eq!(
        status(&ids["ebs"][0])["status"],
        "started",
        "EBS optimization was turned off before the change"
    );
    assert_eq!(status(&ids["db"][0])["status"], "started");

    let now = types_and_states(&emu);
    assert_eq!(now[&ids["web"][0]], ("c5.large".into(), "running".into()));
    assert_eq!(now[&broken], ("t2.nano".into(), "stopped".into()));
    assert_eq!(now[&ids["app"][0]], ("c5.large".into(), "running".into()));
    assert_eq!(now[&ids["arm"][0]], ("t3.micro".into(), "stopped".into()));
    assert_eq!(now[&ids["noena"][0]], ("t2.micro".into(), "stopped".into()));
    assert_eq!(now[&ids["ebs"][0]], ("t2.large".into(), "running".into()));
    assert_eq!(now[&ids["db"][0]], ("t3.small".into(), "running".into()));
}

#[test]
fn an_unknown_profile_fails_before_anything_is_done() {
    let emu = Emulator::start();
    fleet(&emu);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Shape.yaml"), SHAPE).unwrap();
    let specs = dir.path().to_str().unwrap();
    emu.clear_calls();
    let (code, _, err) = run(emu.tierctl_in(Path::new(specs)).args([
        "--specs",
        specs,
        "run",
        "start",
        "Shape",
        "--profile",
        "perfomant",
    ]));
    assert_eq!(code, 1);
    assert!(
        err.contains("no tier has scaling profile `perfomant` (known: performant)"),
        "{err}"
    );
    assert!(
        emu.calls("").is_empty(),
        "no AWS call at all: {:?}",
        emu.counts()
    );
}

#[test]
fn a_bad_type_change_fails_at_start_as_on_aws() {
    // What the compatibility checks prevent: the change is accepted, the start is not.
    let emu = Emulator::start();
    emu.transitions(0, 0);
    let ids = fleet(&emu);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&emu.sdk_config().await);
        let id = &ids["noena"][0];
        ec2.modify_instance_attribute()
            .instance_id(id)
            .instance_type(
                aws_sdk_ec2::types::AttributeValue::builder()
                    .value("c5.xlarge")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let err = ec2
            .start_instances()
            .instance_ids(id)
            .send()
            .await
            .unwrap_err();
        let code = aws_sdk_ec2::error::ProvideErrorMetadata::code(&err).map(str::to_string);
        assert_eq!(code.as_deref(), Some("InvalidParameterCombination"));
    });
}
