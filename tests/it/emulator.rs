//! The emulator itself, driven through the real AWS SDK clients: what the
//! rest of the suite relies on.

use std::time::{Duration, Instant};

use aws_sdk_ec2::types::InstanceStateName;
use serde_json::json;
use tierctl::guest::{self, Decision};
use tierctl::spec::GuestOs;

use crate::support::emulator::{Emulator, REGION};

/// Seeds one workload tier and returns its instance ids.
fn seed_tier(emu: &Emulator, count: u32, state: &str, guest: serde_json::Value) -> Vec<String> {
    let answer = emu.seed(json!({
        "region": REGION,
        "vpc": true,
        "workloads": [{
            "workloadTag": {"key": "Environment", "value": "ENV001"},
            "tierTagKey": "Role",
            "tiers": [{"name": "Role_Web", "count": count, "instanceType": "t2.nano", "state": state, "guest": guest}]
        }]
    }));
    answer["workloads"][0]["tiers"][0]["instanceIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

async fn state_of(ec2: &aws_sdk_ec2::Client, id: &str) -> InstanceStateName {
    let out = ec2
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .unwrap();
    out.reservations()[0].instances()[0]
        .state()
        .unwrap()
        .name()
        .unwrap()
        .clone()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn stop_goes_through_stopping_to_stopped() {
    let emu = Emulator::start();
    // Long enough that a loaded machine still calls StartInstances while stopping.
    emu.transitions(2000, 400);
    let ids = seed_tier(&emu, 1, "running", json!({}));
    rt().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&emu.sdk_config().await);
        let out = ec2
            .stop_instances()
            .instance_ids(&ids[0])
            .send()
            .await
            .unwrap();
        let change = &out.stopping_instances()[0];
        assert_eq!(
            change.current_state().unwrap().name(),
            Some(&InstanceStateName::Stopping)
        );
        assert_eq!(
            change.previous_state().unwrap().name(),
            Some(&InstanceStateName::Running)
        );
        assert_eq!(state_of(&ec2, &ids[0]).await, InstanceStateName::Stopping);

        // Starting a stopping instance fails, as on AWS.
        let err = ec2
            .start_instances()
            .instance_ids(&ids[0])
            .send()
            .await
            .unwrap_err();
        let code = aws_sdk_ec2::error::ProvideErrorMetadata::code(&err).map(str::to_string);
        assert_eq!(code.as_deref(), Some("IncorrectInstanceState"));

        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if state_of(&ec2, &ids[0]).await == InstanceStateName::Stopped {
                break;
            }
            assert!(Instant::now() < deadline, "never reached stopped");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let out = ec2
            .start_instances()
            .instance_ids(&ids[0])
            .send()
            .await
            .unwrap();
        assert_eq!(
            out.starting_instances()[0].current_state().unwrap().name(),
            Some(&InstanceStateName::Pending)
        );
    });
}

/// Sends the override check tierctl uses and waits for its output.
async fn run_check(
    ssm: &aws_sdk_ssm::Client,
    id: &str,
    _os: GuestOs,
    path: &str,
) -> (String, String) {
    let sent = match ssm
        .send_command()
        .document_name(guest::DOCUMENT)
        .instance_ids(id)
        .parameters(guest::PARAMETER, vec![path.to_string()])
        .send()
        .await
    {
        Ok(sent) => sent,
        Err(e) => {
            let code = aws_sdk_ssm::error::ProvideErrorMetadata::code(&e).unwrap_or_default();
            return ("Refused".into(), code.to_string());
        }
    };
    let command_id = sent.command().unwrap().command_id().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = ssm
            .list_command_invocations()
            .command_id(&command_id)
            .details(true)
            .send()
            .await
            .unwrap();
        let inv = &out.command_invocations()[0];
        let status = inv.status().unwrap().as_str().to_string();
        if status != "InProgress" && status != "Pending" {
            let output = inv.command_plugins()[0]
                .output()
                .unwrap_or_default()
                .to_string();
            return (status, output);
        }
        assert!(Instant::now() < deadline, "check never finished");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn linux_and_windows_guests_answer_the_override_check() {
    let emu = Emulator::start();
    let with = seed_tier(
        &emu,
        1,
        "running",
        json!({"os": "linux", "files": ["/tmp/StopOverride"], "latencyMs": 50}),
    );
    let without = seed_tier(
        &emu,
        1,
        "running",
        json!({"os": "linux", "files": [], "latencyMs": 50}),
    );
    let win = seed_tier(
        &emu,
        1,
        "running",
        json!({"os": "windows", "files": ["C:\\ignore.txt"], "latencyMs": 50}),
    );
    emu.create_override_document(crate::support::emulator::REGION);
    rt().block_on(async {
        let ssm = aws_sdk_ssm::Client::new(&emu.sdk_config().await);
        let (status, out) = run_check(&ssm, &with[0], GuestOs::Linux, "/tmp/StopOverride").await;
        assert_eq!(
            (status.as_str(), guest::parse_output(&out)),
            ("Success", Some(Decision::Present))
        );
        let (status, out) = run_check(&ssm, &without[0], GuestOs::Linux, "/tmp/StopOverride").await;
        assert_eq!(
            (status.as_str(), guest::parse_output(&out)),
            ("Success", Some(Decision::Absent))
        );
        let (status, out) = run_check(&ssm, &win[0], GuestOs::Windows, "C:\\ignore.txt").await;
        assert_eq!(
            (status.as_str(), guest::parse_output(&out)),
            ("Success", Some(Decision::Present))
        );
        let (status, out) = run_check(&ssm, &win[0], GuestOs::Windows, "C:\\other.txt").await;
        assert_eq!(
            (status.as_str(), guest::parse_output(&out)),
            ("Success", Some(Decision::Absent))
        );
        // The document's allowedPattern refuses anything but an absolute
        // plain path, as AWS does (InvalidParameters): nothing runs.
        for bad in [
            "/tmp/x'; echo TIERCTL_OVERRIDE=absent; '",
            "/tmp/$(reboot)",
            "/tmp/../etc/shadow",
            "relative/path",
            "/tmp/{{ path }}",
            "C:\\x'; 'TIERCTL_OVERRIDE=absent'",
        ] {
            let (status, out) = run_check(&ssm, &without[0], GuestOs::Linux, bad).await;
            assert_eq!(
                (status.as_str(), out.as_str()),
                ("Refused", "InvalidParameters"),
                "{bad}"
            );
        }
        for good in [
            "/tmp/Stop Override",
            "/home/u/.override",
            "C:\\ignore.txt",
            "\\\\srv\\share\\x",
        ] {
            let (status, _) = run_check(&ssm, &without[0], GuestOs::Linux, good).await;
            assert_eq!(status, "Success", "{good}");
        }
    });
}

#[test]
fn offline_agent_rejects_the_command_as_aws_does() {
    let emu = Emulator::start();
    let ids = seed_tier(&emu, 1, "running", json!({"agent": "offline"}));
    rt().block_on(async {
        let ssm = aws_sdk_ssm::Client::new(&emu.sdk_config().await);
        let info = ssm.describe_instance_information().send().await.unwrap();
        let me = info
            .instance_information_list()
            .iter()
            .find(|i| i.instance_id() == Some(ids[0].as_str()))
            .unwrap();
        assert_eq!(me.ping_status().unwrap().as_str(), "ConnectionLost");
        let err = ssm
            .send_command()
            .document_name("AWS-RunShellScript")
            .instance_ids(&ids[0])
            .parameters("commands", vec!["echo x".to_string()])
            .send()
            .await
            .unwrap_err();
        let code = aws_sdk_ssm::error::ProvideErrorMetadata::code(&err).map(str::to_string);
        assert_eq!(code.as_deref(), Some("InvalidInstanceId"));
    });
}

#[test]
fn throttling_is_retried_by_the_sdk_and_logged() {
    let emu = Emulator::start();
    let ids = seed_tier(&emu, 2, "running", json!({}));
    emu.clear_calls();
    emu.fault(json!({"service": "ec2", "action": "StopInstances", "error": "RequestLimitExceeded", "times": 3}));
    rt().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&emu.sdk_config().await);
        ec2.stop_instances()
            .set_instance_ids(Some(ids.clone()))
            .send()
            .await
            .unwrap();
    });
    let calls = emu.calls("service=ec2&action=StopInstances");
    assert_eq!(calls.len(), 4, "{calls:?}");
    let attempts: Vec<_> = calls
        .iter()
        .map(|c| c["attempt"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts, [1, 2, 3, 4]);
    assert_eq!(calls[3]["status"], 200);
    assert_eq!(calls[0]["error"], "RequestLimitExceeded");
    let mut logged: Vec<String> = calls[3]["instanceIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    logged.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(logged, want);
    assert_eq!(emu.counts()["ec2:StopInstances"], 4);
}

#[test]
fn seeding_a_thousand_instances_is_quick() {
    let emu = Emulator::start();
    let started = Instant::now();
    let ids = seed_tier(&emu, 1000, "running", json!({}));
    let took = started.elapsed();
    assert_eq!(ids.len(), 1000);
    eprintln!("seeded 1,000 instances in {took:?}");
    assert!(took < Duration::from_secs(10), "seeding took {took:?}");
}

#[test]
fn emulator_process_ends_with_its_handle() {
    let emu = Emulator::start();
    let endpoint = emu.endpoint.clone();
    drop(emu);
    let addr = endpoint.trim_start_matches("http://");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "emulator still listening after drop"
    );
}
