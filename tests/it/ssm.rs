//! The override-file check over SSM, against the emulator, through the real
//! SDK client: `tierctl::aws::ssm::Ssm::check_overrides`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tierctl::aws::ssm::{OverrideRequest, Ssm};
use tierctl::guest::{self, Decision};
use tierctl::spec::GuestOs;

use crate::support::emulator::{Emulator, REGION};

/// Seeds one workload with one tier per `(count, guest)` and returns each
/// tier's instance ids, in order.
fn seed_tiers(emu: &Emulator, tiers: &[(u32, Value)]) -> Vec<Vec<String>> {
    let tiers: Vec<Value> = tiers
        .iter()
        .enumerate()
        .map(|(n, (count, guest))| {
            json!({"name": format!("Role_{n}"), "count": count, "instanceType": "t2.nano",
                   "state": "running", "guest": guest})
        })
        .collect();
    emu.create_override_document(REGION);
    let answer = emu.seed(json!({
        "region": REGION,
        "vpc": true,
        "workloads": [{
            "workloadTag": {"key": "Environment", "value": "ENV001"},
            "tierTagKey": "Role",
            "tiers": tiers,
        }]
    }));
    answer["workloads"][0]["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            t["instanceIds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

fn request(os: GuestOs, file: &str, timeout: Duration) -> OverrideRequest {
    OverrideRequest {
        os,
        file: file.into(),
        timeout,
        output_bucket: None,
        output_prefix: None,
    }
}

/// Runs one check and returns its outcomes and how long it took.
fn check(
    emu: &Emulator,
    req: &OverrideRequest,
    ids: &[String],
) -> (BTreeMap<String, Decision>, Duration) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let ssm = Ssm::new(&emu.sdk_config().await, REGION);
            let started = Instant::now();
            let outcomes = ssm
                .check_overrides(req, ids)
                .await
                .into_iter()
                .map(|(id, reply)| (id, guest::decide(&reply)))
                .collect();
            (outcomes, started.elapsed())
        })
}

fn reason(outcome: &Decision) -> &str {
    match outcome {
        Decision::Unsure(reason) => reason,
        other => panic!("expected Unchecked, got {other:?}"),
    }
}

/// Every instance id any logged call of `filter` named.
fn named_in_calls(emu: &Emulator, filter: &str) -> Vec<String> {
    emu.calls(filter)
        .iter()
        .flat_map(|c| c["instanceIds"].as_array().cloned().unwrap_or_default())
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn all(tiers: &[Vec<String>]) -> Vec<String> {
    tiers.concat()
}

#[test]
fn linux_guests_with_and_without_the_file() {
    let emu = Emulator::start();
    let tiers = seed_tiers(
        &emu,
        &[
            (
                2,
                json!({"os": "linux", "files": ["/tmp/StopOverride"], "latencyMs": 50}),
            ),
            (
                2,
                json!({"os": "linux", "files": ["/tmp/other"], "latencyMs": 50}),
            ),
        ],
    );
    let req = request(GuestOs::Linux, "/tmp/StopOverride", Duration::from_secs(10));
    let (out, took) = check(&emu, &req, &all(&tiers));
    eprintln!("linux check of 4 instances: {took:?}");
    assert_eq!(out.len(), 4);
    for id in &tiers[0] {
        assert_eq!(out[id], Decision::Present, "{id}");
    }
    for id in &tiers[1] {
        assert_eq!(out[id], Decision::Absent, "{id}");
    }

    // What went over the wire: one command, the documented parameters.
    let sends = emu.calls("service=ssm&action=SendCommand");
    assert_eq!(sends.len(), 1, "{sends:?}");
    let params = &sends[0]["params"];
    assert_eq!(params["DocumentName"], "tierctl-OverrideCheck");
    assert_eq!(
        params["Parameters"],
        json!({"path": ["/tmp/StopOverride"]}),
        "the path is the only parameter"
    );
    assert_eq!(params["TimeoutSeconds"], 30);
    assert_eq!(params["Comment"], "tierctl override check");
    assert!(params.get("OutputS3BucketName").is_none());
    assert!(
        emu.calls("service=ssm&action=GetCommandInvocation")
            .is_empty()
    );
    assert!(emu.calls("service=s3").is_empty());
}

#[test]
fn windows_guests_with_and_without_the_file() {
    let emu = Emulator::start();
    let tiers = seed_tiers(
        &emu,
        &[
            (
                1,
                json!({"os": "windows", "files": ["C:\\ignore.txt"], "latencyMs": 50}),
            ),
            (1, json!({"os": "windows", "files": [], "latencyMs": 50})),
            (1, json!({"os": "linux", "files": [], "latencyMs": 50})),
        ],
    );
    let req = request(GuestOs::Windows, "C:\\ignore.txt", Duration::from_secs(10));
    let (out, took) = check(&emu, &req, &all(&tiers));
    eprintln!("windows check of 3 instances: {took:?}");
    assert_eq!(out[&tiers[0][0]], Decision::Present);
    assert_eq!(out[&tiers[1][0]], Decision::Absent);
    // A Linux guest in a Windows tier is not asked at all.
    assert_eq!(
        reason(&out[&tiers[2][0]]),
        "SSM reports platform Linux, but the override check is for Windows"
    );
    assert!(!named_in_calls(&emu, "service=ssm&action=SendCommand").contains(&tiers[2][0]));
    let sends = emu.calls("service=ssm&action=SendCommand");
    assert_eq!(sends[0]["params"]["DocumentName"], "tierctl-OverrideCheck");
}

#[test]
fn offline_and_unregistered_agents_are_never_sent_the_command() {
    let emu = Emulator::start();
    let tiers = seed_tiers(
        &emu,
        &[
            (1, json!({"agent": "offline"})),
            (1, json!({"agent": "unregistered"})),
            (1, json!({"agent": "online", "latencyMs": 50})),
        ],
    );
    let (offline, unregistered, online) = (&tiers[0][0], &tiers[1][0], &tiers[2][0]);
    let req = request(GuestOs::Linux, "/tmp/StopOverride", Duration::from_secs(10));
    let (out, took) = check(&emu, &req, &all(&tiers));
    eprintln!("offline/unregistered/online check: {took:?}");
    assert_eq!(
        reason(&out[offline]),
        "SSM agent not online (ConnectionLost)"
    );
    assert_eq!(
        reason(&out[unregistered]),
        "not managed by SSM: no agent registered for this instance"
    );
    assert_eq!(out[online], Decision::Absent);
    let sent_to = named_in_calls(&emu, "service=ssm&action=SendCommand");
    assert_eq!(sent_to, std::slice::from_ref(online));
    // The agent lookup was one filtered call naming all three.
    let described = emu.calls("service=ssm&action=DescribeInstanceInformation");
    assert_eq!(described.len(), 1, "{described:?}");
    assert_eq!(described[0]["params"]["MaxResults"], 50);
}

#[test]
fn a_failing_command_is_unchecked() {
    let emu = Emulator::start();
    let tiers = seed_tiers(
        &emu,
        &[
            (1, json!({"agent": "fail", "latencyMs": 50})),
            (1, json!({"latencyMs": 50})),
        ],
    );
    let req = request(GuestOs::Linux, "/tmp/StopOverride", Duration::from_secs(10));
    let (out, took) = check(&emu, &req, &all(&tiers));
    eprintln!("failing command check: {took:?}");
    let why = reason(&out[&tiers[0][0]]);
    assert!(why.starts_with("Failed"), "{why}");
    assert!(
        why.contains("failed to run commands: exit status 1"),
        "{why}"
    );
    // One failing guest does not take the rest of its batch down.
    assert_eq!(out[&tiers[1][0]], Decision::Absent);
    let sends = emu.calls("service=ssm&action=SendCommand");
    assert_eq!(sends[0]["params"]["MaxErrors"], "100%");
}

#[test]
fn a_hung_command_is_unchecked_at_the_deadline_and_cancelled() {
    let emu = Emulator::start();
    let tiers = seed_tiers(
        &emu,
        &[(1, json!({"agent": "hang"})), (1, json!({"latencyMs": 50}))],
    );
    let req = request(GuestOs::Linux, "/tmp/StopOverride", Duration::from_secs(2));
    let (out, took) = check(&emu, &req, &all(&tiers));
    eprintln!("hung command, 2 s timeout: answered in {took:?}");
    let why = reason(&out[&tiers[0][0]]);
    assert!(
        why.starts_with("no answer within 2s") || why.starts_with("TimedOut"),
        "{why}"
    );
    assert_eq!(out[&tiers[1][0]], Decision::Absent);
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    if why.starts_with("no answer") {
        assert_eq!(
            named_in_calls(&emu, "service=ssm&action=CancelCommand"),
            [tiers[0][0].clone()]
        );
    }
}

#[test]
fn a_mixed_tier_of_120_is_checked_in_three_commands_within_latency_plus_2s() {
    let emu = Emulator::start();
    let latency = 500;
    let tiers = seed_tiers(
        &emu,
        &[
            (85, json!({"files": [], "latencyMs": latency})),
            (
                20,
                json!({"files": ["/tmp/StopOverride"], "latencyMs": latency}),
            ),
            (15, json!({"agent": "offline", "latencyMs": latency})),
        ],
    );
    let ids = all(&tiers);
    assert_eq!(ids.len(), 120);
    emu.clear_calls();
    let req = request(GuestOs::Linux, "/tmp/StopOverride", Duration::from_secs(30));
    let (out, took) = check(&emu, &req, &ids);
    eprintln!("120 instances (latency {latency} ms): checked in {took:?}");
    eprintln!("calls: {}", emu.counts());

    assert_eq!(out.len(), 120);
    for id in &tiers[0] {
        assert_eq!(out[id], Decision::Absent, "{id}");
    }
    for id in &tiers[1] {
        assert_eq!(out[id], Decision::Present, "{id}");
    }
    for id in &tiers[2] {
        assert_eq!(reason(&out[id]), "SSM agent not online (ConnectionLost)");
    }
    let sends = emu.calls("service=ssm&action=SendCommand");
    assert!(sends.len() <= 3, "{} SendCommand calls", sends.len());
    for send in &sends {
        assert!(send["instanceIds"].as_array().unwrap().len() <= 50);
    }
    let sent_to = named_in_calls(&emu, "service=ssm&action=SendCommand");
    assert_eq!(sent_to.len(), 105);
    assert!(tiers[2].iter().all(|id| !sent_to.contains(id)));
    let described = emu.calls("service=ssm&action=DescribeInstanceInformation");
    assert_eq!(described.len(), 3, "{described:?}");
    assert!(
        took < Duration::from_millis(latency) + Duration::from_secs(2),
        "{took:?}"
    );
}

#[test]
fn an_agent_lost_after_the_lookup_is_held_back_and_the_batch_retried() {
    let emu = Emulator::start();
    let tiers = seed_tiers(&emu, &[(3, json!({"latencyMs": 50}))]);
    let ids = &tiers[0];
    // AWS rejects the whole call, naming the instance, as when an agent
    // drops off between DescribeInstanceInformation and SendCommand.
    emu.fault(
        json!({"service": "ssm", "action": "SendCommand", "error": "InvalidInstanceId",
                     "instanceIds": [ids[1]], "times": 1}),
    );
    let req = request(GuestOs::Linux, "/tmp/StopOverride", Duration::from_secs(10));
    let (out, took) = check(&emu, &req, ids);
    eprintln!("InvalidInstanceId retry: {took:?}");
    let why = reason(&out[&ids[1]]);
    assert!(
        why.starts_with("ssm:SendCommand: InvalidInstanceId: Instances [["),
        "{why}"
    );
    assert_eq!(out[&ids[0]], Decision::Absent);
    assert_eq!(out[&ids[2]], Decision::Absent);
    let sends = emu.calls("service=ssm&action=SendCommand");
    assert_eq!(sends.len(), 2, "{sends:?}");
    assert!(
        !sends[1]["instanceIds"]
            .as_array()
            .unwrap()
            .contains(&json!(ids[1]))
    );
}

#[test]
fn any_call_error_holds_back_every_affected_instance() {
    let emu = Emulator::start();
    let tiers = seed_tiers(&emu, &[(2, json!({"latencyMs": 50}))]);
    let ids = &tiers[0];
    let req = request(GuestOs::Linux, "/tmp/StopOverride", Duration::from_secs(10));

    emu.fault(json!({"service": "ssm", "action": "SendCommand", "error": "AccessDeniedException", "times": -1}));
    let (out, _) = check(&emu, &req, ids);
    for id in ids {
        let why = reason(&out[id]);
        assert!(
            why.starts_with("ssm:SendCommand: AccessDeniedException: "),
            "{why}"
        );
    }
    emu.admin("DELETE", "faults", None);

    emu.fault(json!({"service": "ssm", "action": "ListCommandInvocations", "error": "AccessDeniedException", "times": -1}));
    let (out, took) = check(
        &emu,
        &request(GuestOs::Linux, "/tmp/StopOverride", Duration::from_secs(1)),
        ids,
    );
    eprintln!("polls failing until a 1 s deadline: {took:?}");
    for id in ids {
        let why = reason(&out[id]);
        assert!(why.starts_with("no answer within 1s"), "{why}");
        assert!(why.contains("AccessDeniedException"), "{why}");
    }
    emu.admin("DELETE", "faults", None);

    emu.fault(json!({"service": "ssm", "action": "DescribeInstanceInformation", "error": "AccessDeniedException", "times": -1}));
    let (out, _) = check(&emu, &req, ids);
    for id in ids {
        let why = reason(&out[id]);
        assert!(
            why.starts_with("ssm:DescribeInstanceInformation: AccessDeniedException"),
            "{why}"
        );
    }
}

#[test]
fn paths_validation_rejects_are_only_data_to_the_check() {
    let emu = Emulator::start();
    let linux_bad = [
        "/tmp/x'; echo TIERCTL_OVERRIDE=absent; '",
        "/tmp/x; rm -rf /",
        "/tmp/$(id)",
        "/tmp/`id`",
        "/tmp/a'b",
        "/tmp/a\"b",
        "/tmp/a|b",
        "/tmp/‘x’",
    ];
    let windows_bad = [
        "C:\\x'; 'TIERCTL_OVERRIDE=absent'; '",
        "C:\\a’b",
        "C:\\$(Remove-Item C:\\)",
    ];
    // Each guest has exactly the files with these names. The document's
    // allowedPattern refuses every one of them (SSM answers
    // InvalidParameters): never Absent.
    let tiers = seed_tiers(
        &emu,
        &[
            (
                1,
                json!({"os": "linux", "files": linux_bad, "latencyMs": 20}),
            ),
            (
                1,
                json!({"os": "windows", "files": windows_bad, "latencyMs": 20}),
            ),
        ],
    );
    let cases = linux_bad
        .iter()
        .map(|p| (GuestOs::Linux, *p, &tiers[0]))
        .chain(
            windows_bad
                .iter()
                .map(|p| (GuestOs::Windows, *p, &tiers[1])),
        );
    for (os, path, ids) in cases {
        let os_name = if os == GuestOs::Linux {
            "linux"
        } else {
            "windows"
        };
        assert!(
            tierctl::validate::override_path_problem(path, Some(os_name)).is_some(),
            "validation accepts {path:?}"
        );
        let (out, _) = check(&emu, &request(os, path, Duration::from_secs(10)), ids);
        let why = reason(&out[&ids[0]]);
        assert!(why.contains("InvalidParameters"), "{path:?}: {why}");
    }
    // A newline splits the command line: the check cannot run, so no answer.
    let (out, _) = check(
        &emu,
        &request(GuestOs::Linux, "/tmp/a\nb", Duration::from_secs(10)),
        &tiers[0],
    );
    assert_ne!(out[&tiers[0][0]], Decision::Absent);
    assert!(matches!(out[&tiers[0][0]], Decision::Unsure(_)));
}

#[test]
fn output_goes_to_s3_for_audit_only() {
    let emu = Emulator::start();
    let tiers = seed_tiers(&emu, &[(1, json!({"latencyMs": 50}))]);
    let mut req = request(GuestOs::Linux, "/tmp/StopOverride", Duration::from_secs(10));
    req.output_bucket = Some("audit-bucket".into());
    req.output_prefix = Some("tierctl/checks".into());
    let (out, _) = check(&emu, &req, &tiers[0]);
    // No bucket exists: the upload fails quietly and the answer still counts.
    assert_eq!(out[&tiers[0][0]], Decision::Absent);
    let sends = emu.calls("service=ssm&action=SendCommand");
    assert_eq!(sends[0]["params"]["OutputS3BucketName"], "audit-bucket");
    assert_eq!(sends[0]["params"]["OutputS3KeyPrefix"], "tierctl/checks");
    assert!(emu.calls("service=s3").is_empty());
}

#[test]
fn no_ids_means_no_calls() {
    let emu = Emulator::start();
    let req = request(GuestOs::Linux, "/tmp/StopOverride", Duration::from_secs(10));
    let (out, _) = check(&emu, &req, &[]);
    assert!(out.is_empty());
    assert!(emu.calls("service=ssm").is_empty());
}

#[test]
fn every_guest_file_state_gives_its_decision() {
    let emu = Emulator::start();
    let states = [
        "present",
        "unreadable",
        "dangling",
        "loop",
        "io-error",
        "not-a-directory",
    ];
    let file = |os: &str, state: &str| {
        let path = if os == "linux" {
            "/srv/app/StopOverride"
        } else {
            "C:\\Ops\\StopOverride.txt"
        };
        json!({"os": os, "latencyMs": 20, "files": [{"path": path, "state": state}]})
    };
    let mut tiers: Vec<(u32, Value)> = Vec::new();
    for os in ["linux", "windows"] {
        for state in states {
            tiers.push((1, file(os, state)));
        }
        tiers.push((1, json!({"os": os, "latencyMs": 20, "files": []})));
        tiers.push((1, json!({"os": os, "latencyMs": 20, "agent": "garbled"})));
    }
    let ids = seed_tiers(&emu, &tiers);
    let n = states.len() + 2;
    let linux: Vec<String> = ids[..n].iter().map(|t| t[0].clone()).collect();
    let windows: Vec<String> = ids[n..].iter().map(|t| t[0].clone()).collect();
    let (out, _) = check(
        &emu,
        &request(
            GuestOs::Linux,
            "/srv/app/StopOverride",
            Duration::from_secs(10),
        ),
        &linux,
    );
    let want_linux = [
        Some(Decision::Present),
        None, // unreadable parent: Permission denied
        None, // dangling link
        None, // loop
        None, // I/O error
        None, // not a directory
        Some(Decision::Absent),
        None, // garbled output
    ];
    for (i, want) in want_linux.iter().enumerate() {
        let got = &out[&linux[i]];
        match want {
            Some(d) => assert_eq!(got, d, "linux case {i}"),
            None => assert!(
                matches!(got, Decision::Unsure(_)),
                "linux case {i}: {got:?}"
            ),
        }
    }
    assert!(reason(&out[&linux[1]]).contains("Permission denied"));
    assert!(reason(&out[&linux[2]]).contains("dangling symbolic link"));
    assert!(reason(&out[&linux[4]]).contains("Input/output error"));
    assert!(reason(&out[&linux[7]]).starts_with("unreadable output"));
    let (out, _) = check(
        &emu,
        &request(
            GuestOs::Windows,
            "C:\\Ops\\StopOverride.txt",
            Duration::from_secs(10),
        ),
        &windows,
    );
    let want_windows = [
        Some(Decision::Present),
        None,                    // access denied
        Some(Decision::Present), // the link itself exists: kept running
        None,
        None, // unreachable share
        None,
        Some(Decision::Absent),
        None,
    ];
    for (i, want) in want_windows.iter().enumerate() {
        let got = &out[&windows[i]];
        match want {
            Some(d) => assert_eq!(got, d, "windows case {i}"),
            None => assert!(
                matches!(got, Decision::Unsure(_)),
                "windows case {i}: {got:?}"
            ),
        }
    }
    assert!(reason(&out[&windows[1]]).contains("UnauthorizedAccessException"));
}

#[test]
fn without_the_document_nothing_is_absent() {
    let emu = Emulator::start();
    let tiers = seed_tiers(&emu, &[(1, json!({"latencyMs": 20}))]);
    let delete = || async {
        let sdk = emu.sdk_config().await;
        aws_sdk_ssm::Client::new(&sdk)
            .delete_document()
            .name("tierctl-OverrideCheck")
            .send()
            .await
            .unwrap();
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(delete());
    let req = request(GuestOs::Linux, "/tmp/StopOverride", Duration::from_secs(10));
    let (out, _) = check(&emu, &req, &tiers[0]);
    let why = reason(&out[&tiers[0][0]]);
    assert!(why.contains("InvalidDocument"), "{why}");
}
