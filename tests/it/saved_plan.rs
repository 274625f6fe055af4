//! Saved plans: `plan --out` writes exactly what `run --plan` executes, and a
//! plan the fleet or the specs outgrew is refused ("stale plan", exit 4)
//! before any state-changing call.

use std::time::Duration;

use serde_json::Value;

use crate::run::Shop;

fn read_plan(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The batches of the plan's stop steps, in plan order.
fn planned_batches(saved: &Value) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for w in saved["plan"]["workloads"].as_array().unwrap() {
        for wave in w["waves"].as_array().unwrap() {
            for t in wave["tiers"].as_array().unwrap() {
                for s in t["steps"].as_array().unwrap() {
                    if s["step"] == "stop" || s["step"] == "start" {
                        for b in s["batches"].as_array().unwrap() {
                            out.push(
                                b.as_array()
                                    .unwrap()
                                    .iter()
                                    .map(|v| v.as_str().unwrap().to_string())
                                    .collect(),
                            );
                        }
                    }
                }
            }
        }
    }
    out
}

#[test]
fn a_saved_plan_runs_exactly_its_batches_and_a_replan_is_a_no_op() {
    let shop = Shop::new(5, "running");
    let file = shop.dir.path().join("stop.plan.json");
    let (code, out, err) = shop.tierctl(&[
        "plan",
        "stop",
        "Shop",
        "--batch-size",
        "2",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("Saved the plan to"), "{err}");
    let saved = read_plan(&file);
    assert_eq!(saved["format"], "tierctl-plan");
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["intent"]["batchSize"], 2);
    assert_eq!(saved["specs"][0]["name"], "Shop");
    assert_eq!(saved["specs"][0]["sha256"].as_str().unwrap().len(), 64);
    assert!(saved["observed"]["workloads"]["Shop"]["instances"].is_array());

    crate::support::assert_conforms("plan", &saved);
    shop.emu.clear_calls();
    let (code, out, err) = shop.tierctl(&["-o", "json", "run", "--plan", file.to_str().unwrap()]);
    assert_eq!(code, 3, "the override keeps one web instance: {out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    crate::support::assert_conforms("run-output", &report);
    assert_eq!(
        report["plan"], saved["plan"],
        "the plan executed is the plan saved"
    );
    assert_eq!(report["exitCode"], 3);
    // Every StopInstances call is one of the plan's batches (the web batch
    // minus the instance its override file kept), in plan order per tier.
    let mut expected = planned_batches(&saved);
    for b in &mut expected {
        b.retain(|i| i != &shop.web[0]);
    }
    expected.retain(|b| !b.is_empty());
    let sent: Vec<Vec<String>> = shop
        .calls("StopInstances")
        .into_iter()
        .map(|(_, ids)| ids)
        .collect();
    let mut sorted_sent = sent.clone();
    sorted_sent.sort();
    let mut sorted_expected = expected.clone();
    sorted_expected.sort();
    assert_eq!(
        sorted_sent, sorted_expected,
        "calls {sent:?}, plan {expected:?}"
    );
    assert!(sent.iter().all(|b| b.len() <= 2), "{sent:?}");

    // Start everything again, then a plan of the same start has nothing to do.
    std::thread::sleep(Duration::from_millis(700));
    let (code, out, err) = shop.tierctl(&["run", "start", "Shop"]);
    assert_eq!(code, 0, "{out}{err}");
    std::thread::sleep(Duration::from_millis(700));
    let (code, _, err) = shop.tierctl(&["sync"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = shop.tierctl(&["plan", "start", "Shop", "--detailed-exitcode"]);
    assert_eq!(code, 0, "re-planning after a run is a no-op: {out}{err}");
}

#[test]
fn a_plan_is_stale_once_an_instance_changed_state() {
    let shop = Shop::new(2, "running");
    let file = shop.dir.path().join("stop.plan.json");
    let (code, _, err) = shop.tierctl(&["plan", "stop", "Shop", "--out", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");

    // Someone stops an app instance by hand after the review.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&shop.emu.sdk_config().await);
        ec2.stop_instances()
            .instance_ids(&shop.app[0])
            .send()
            .await
            .unwrap();
    });
    shop.emu.clear_calls();
    let (code, out, err) = shop.tierctl(&["run", "--plan", file.to_str().unwrap()]);
    assert_eq!(code, 4, "stale plan: {out}{err}");
    assert!(err.contains("stale plan: the fleet changed"), "{err}");
    assert!(
        err.contains(&format!("instance {}: state running -> stopp", shop.app[0])),
        "{err}"
    );
    assert!(
        shop.calls("StopInstances").is_empty(),
        "nothing was stopped"
    );
    assert!(
        shop.emu.calls("service=ssm&action=SendCommand").is_empty(),
        "no override check either"
    );
}

#[test]
fn a_plan_is_stale_once_its_spec_changed() {
    let shop = Shop::new(1, "running");
    let file = shop.dir.path().join("stop.plan.json");
    let (code, _, err) = shop.tierctl(&["plan", "stop", "Shop", "--out", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let spec = shop.dir.path().join("Shop.yaml");
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(
        &spec,
        text.replace("delaySeconds: 1, override", "delaySeconds: 7, override"),
    )
    .unwrap();
    shop.emu.clear_calls();
    let (code, out, err) = shop.tierctl(&["run", "--plan", file.to_str().unwrap()]);
    assert_eq!(code, 4, "{out}{err}");
    assert!(err.contains("stale plan: the specs changed"), "{err}");
    assert!(err.contains("workload Shop: spec changed in"), "{err}");
    assert!(shop.calls("StopInstances").is_empty());

    // A comment is not a change: the typed spec is what is digested.
    std::fs::write(&spec, format!("{text}# reviewed\n")).unwrap();
    let (code, _, err) = shop.tierctl(&["plan", "stop", "Shop", "--out", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    std::fs::write(&spec, text).unwrap();
    let (code, out, err) = shop.tierctl(&["run", "--dry-run", "--plan", file.to_str().unwrap()]);
    assert_eq!(code, 3, "{out}{err}");
}

#[test]
fn an_edited_or_foreign_plan_file_is_refused() {
    let shop = Shop::new(2, "running");
    let file = shop.dir.path().join("stop.plan.json");
    let (code, _, err) = shop.tierctl(&["plan", "stop", "Shop", "--out", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");

    // One more instance slipped into a batch: not what tierctl planned.
    let mut saved = read_plan(&file);
    let steps = &mut saved["plan"]["workloads"][0]["waves"][0]["tiers"][0]["steps"];
    for s in steps.as_array_mut().unwrap() {
        if s["step"] == "stop" {
            s["batches"][0]
                .as_array_mut()
                .unwrap()
                .push(Value::String(shop.db[0].clone()));
        }
    }
    std::fs::write(&file, serde_json::to_string(&saved).unwrap()).unwrap();
    shop.emu.clear_calls();
    let (code, out, err) = shop.tierctl(&["run", "--plan", file.to_str().unwrap()]);
    assert_eq!(code, 4, "{out}{err}");
    assert!(err.contains("the file was edited"), "{err}");
    assert!(shop.calls("StopInstances").is_empty());

    std::fs::write(&file, r#"{"version": 1}"#).unwrap();
    let (code, _, err) = shop.tierctl(&["run", "--plan", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("not a tierctl saved plan"), "{err}");

    // The plan says what to do: no action or workloads beside it.
    let (code, _, err) = shop.tierctl(&["run", "stop", "--plan", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot be used with"), "{err}");
}
