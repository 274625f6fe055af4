//! `tierctl plan`: snapshots over saved observed state, and end to end
//! against the emulator's fleet.

use serde_json::Value;

use crate::support::emulator::Emulator;
use crate::support::{repo_root, run, tierctl};

const RUNNING: &str = "tests/fixtures/observed/running.json";
const STOPPED: &str = "tests/fixtures/observed/stopped.json";

#[test]
fn text_plan_of_the_examples() {
    let (code, out, err) =
        run(tierctl().args(["plan", "stop", "--all", "--offline", "--observed", RUNNING]));
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!("plan_stop_text", out);
}

#[test]
fn json_plan_is_versioned_and_stable() {
    let args = [
        "-o",
        "json",
        "plan",
        "start",
        "BotoTestCase1",
        "--profile",
        "performant",
        "--offline",
        "--observed",
        STOPPED,
    ];
    let (code, out, err) = run(tierctl().args(args));
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["plan"]["version"], 1);
    assert_eq!(doc["config"], Value::Null, "offline: no config diff");
    insta::assert_snapshot!("plan_start_profile_json", out);
    // Same input, byte-identical output.
    let (_, again, _) = run(tierctl().args(args));
    assert_eq!(out, again);
}

#[test]
fn markdown_plan_for_pull_requests_and_step_summary() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    let (code, out, err) = run(tierctl().env("GITHUB_STEP_SUMMARY", &summary).args([
        "-o",
        "markdown",
        "plan",
        "stop",
        "--all",
        "--offline",
        "--observed",
        RUNNING,
    ]));
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!("plan_stop_markdown", out);
    let written = std::fs::read_to_string(&summary).unwrap();
    assert!(written.contains("### tierctl plan: stop"), "{written}");
    assert!(written.contains("<details>"), "{written}");
}

#[test]
fn offline_plan_without_observed_state() {
    let (code, out, err) =
        run(tierctl().args(["plan", "start", "--all", "--offline", "--detailed-exitcode"]));
    assert_eq!(code, 2, "offline plans have actions: {err}");
    assert!(
        out.contains("start every instance tagged Role=Role_DB"),
        "{out}"
    );
    assert!(
        out.contains("Plan: start: offline, instances not observed"),
        "{out}"
    );
}

#[test]
fn selection_errors_are_clear() {
    let (code, _, err) = run(tierctl().args(["plan", "stop", "--offline"]));
    assert_eq!(code, 1);
    assert!(
        err.contains("name the workloads to stop or use --all"),
        "{err}"
    );
    let (code, _, err) = run(tierctl().args(["plan", "stop", "Nope", "--offline"]));
    assert_eq!(code, 1);
    assert!(
        err.contains("unknown workload `Nope` (known: BotoTestCase1, WinReporting)"),
        "{err}"
    );
    let (code, _, err) = run(tierctl().args([
        "plan",
        "start",
        "BotoTestCase1",
        "--profile",
        "perfomant",
        "--offline",
    ]));
    assert_eq!(code, 1);
    assert!(
        err.contains("no tier has scaling profile `perfomant` (known: default, performant)"),
        "{err}"
    );
    let (code, _, err) = run(tierctl().args([
        "plan",
        "stop",
        "--all",
        "--offline",
        "--observed",
        "tests/fixtures/original/workload.json",
    ]));
    assert_eq!(code, 1);
    assert!(err.contains("not an observed-state file"), "{err}");
}

/// Seeds the demo fleet (tests/demo/fleet.json) into the emulator.
pub fn seed_demo_fleet(emu: &Emulator) {
    let fleet: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("tests/demo/fleet.json")).unwrap(),
    )
    .unwrap();
    for body in fleet {
        emu.seed(body);
    }
}

#[test]
fn plan_against_the_emulator_fleet() {
    let emu = Emulator::start();
    seed_demo_fleet(&emu);
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("observed.json");
    let (code, out, err) = run(emu.tierctl().args([
        "plan",
        "stop",
        "BotoTestCase1",
        "--save-observed",
        saved.to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "{out}{err}");
    // Config diff first (tables do not exist yet: everything to create), then the actions.
    assert!(
        out.contains("table WorkloadSpecification does not exist yet"),
        "{out}"
    );
    let plan_part = &out[out
        .find("stop BotoTestCase1 (us-west-2)")
        .expect("plan shown")..];
    let web = plan_part.find("Role_Web").unwrap();
    let app = plan_part.find("Role_App").unwrap();
    let db = plan_part.find("Role_DB").unwrap();
    assert!(
        web < app && app < db,
        "web, then app, then db:\n{plan_part}"
    );
    assert!(
        plan_part.contains("check override file /tmp/StopOverride (linux) on 3 instances"),
        "{plan_part}"
    );
    assert!(
        plan_part.contains("check override file /tmp/StopOverride (linux) on 2 instances"),
        "{plan_part}"
    );
    assert!(
        plan_part.contains("tier tag `Role` is `Role_Wbe`, which matches no tier"),
        "{plan_part}"
    );
    // One DescribeInstances pager per workload; no state change anywhere.
    let counts = emu.counts();
    assert_eq!(counts["ec2:DescribeInstances"], 1, "{counts}");
    assert!(counts.get("ec2:StopInstances").is_none());

    // Each instance exactly once in the JSON plan.
    let (_, json, _) = run(emu.tierctl().args([
        "-o",
        "json",
        "plan",
        "stop",
        "BotoTestCase1",
        "--observed",
        saved.to_str().unwrap(),
    ]));
    let doc: Value = serde_json::from_str(&json).unwrap();
    let mut ids: Vec<String> = Vec::new();
    for wave in doc["plan"]["workloads"][0]["waves"].as_array().unwrap() {
        for tier in wave["tiers"].as_array().unwrap() {
            for step in tier["steps"].as_array().unwrap() {
                if step["step"] == "stop" {
                    for b in step["batches"].as_array().unwrap() {
                        ids.extend(
                            b.as_array()
                                .unwrap()
                                .iter()
                                .map(|v| v.as_str().unwrap().to_string()),
                        );
                    }
                }
            }
        }
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(ids.len(), 6);
    assert_eq!(unique.len(), 6);

    // The saved observed state reproduces the plan offline.
    let (_, live, _) = run(emu.tierctl().args([
        "plan",
        "stop",
        "BotoTestCase1",
        "--observed",
        saved.to_str().unwrap(),
        "--offline",
    ]));
    let (_, offline, _) = run(tierctl().args([
        "plan",
        "stop",
        "BotoTestCase1",
        "--observed",
        saved.to_str().unwrap(),
        "--offline",
    ]));
    assert_eq!(live, offline);
}

#[test]
fn stopped_fleet_plans_no_ops_and_profiles_list_resizes() {
    let emu = Emulator::start();
    let mut fleet: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("tests/demo/fleet.json")).unwrap(),
    )
    .unwrap();
    for body in &mut fleet {
        for w in body["workloads"].as_array_mut().unwrap() {
            for t in w["tiers"].as_array_mut().unwrap() {
                t["state"] = "stopped".into();
            }
        }
        emu.seed(body.clone());
    }
    let (code, _, err) = run(emu.tierctl().arg("sync"));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) =
        run(emu
            .tierctl()
            .args(["plan", "stop", "BotoTestCase1", "--detailed-exitcode"]));
    assert_eq!(code, 0, "all no-ops: {out}{err}");
    assert!(
        out.contains("0 instances to stop, 0 override checks")
            || out.contains("0 instances to stop, 6 unchanged"),
        "{out}"
    );
    let (code, out, _) = run(emu.tierctl().args([
        "plan",
        "start",
        "BotoTestCase1",
        "--profile",
        "performant",
        "--detailed-exitcode",
    ]));
    assert_eq!(code, 2);
    assert!(
        out.contains("resize 3 instances:") && out.contains("t2.nano -> c5.large"),
        "{out}"
    );
    assert!(out.contains("t3.small -> r5.2xlarge"), "{out}");
    assert!(out.contains("t2.micro -> c5.xlarge"), "{out}");
}
