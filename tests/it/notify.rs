//! Notifications against the emulator: one SNS message per workload and run,
//! with what needs a human; nothing for a clean run or a dry run; missing
//! topics and misplaced SSM output buckets are warnings, never failures.

use std::path::Path;

use serde_json::{Value, json};

use crate::support::emulator::{Emulator, REGION};
use crate::support::run;

const TOPIC: &str = "TierAlerts";

/// The `Big` workload: one tier `web` with an override file; `extra` goes
/// after the region line (kill switch, ssm, notify...).
fn spec(extra: &str) -> String {
    format!(
        r#"# yaml-language-server: $schema=../schema/workload.schema.json
name: Big
region: us-west-2
{extra}selector:
  workloadTag: {{ key: App, value: big }}
  tierTagKey: Role
  vpcId: vpc-0123abcd
tiers:
  - name: web
    stop: {{ sequence: 0, delaySeconds: 0, override: {{ file: /tmp/keep, os: linux }} }}
    start: {{ sequence: 0, delaySeconds: 0 }}
"#
    )
}

const NOTIFY: &str = "notify:\n  snsTopic: TierAlerts\n";

struct Fleet {
    emu: Emulator,
    dir: tempfile::TempDir,
    ids: Vec<String>,
}

impl Fleet {
    /// `count` running instances of tier `web`, guests online without the file.
    fn new(count: u32, extra: &str) -> Fleet {
        let emu = Emulator::start();
        // What `sync` creates: the override check runs tierctl's document.
        emu.create_override_document(REGION);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Big.yaml"), spec(extra)).unwrap();
        let seeded = emu.seed(json!({
            "region": REGION, "vpc": "vpc-0123abcd",
            "workloads": [{"workloadTag": {"key": "App", "value": "big"}, "tierTagKey": "Role",
                "tiers": [{"name": "web", "count": count, "instanceType": "t3.micro",
                           "guest": {"latencyMs": 100}}]}]
        }));
        let ids = seeded["workloads"][0]["tiers"][0]["instanceIds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        Fleet { emu, dir, ids }
    }

    fn keep(&self, n: usize) {
        self.emu.admin(
            "PUT",
            &format!("guests/{}", self.ids[n]),
            Some(json!({"os": "linux", "files": ["/tmp/keep"], "latencyMs": 100})),
        );
    }

    fn offline(&self, n: usize) {
        self.emu.admin(
            "PUT",
            &format!("guests/{}", self.ids[n]),
            Some(json!({"os": "linux", "agent": "offline"})),
        );
    }

    fn tierctl(&self, args: &[&str]) -> (i32, String, String) {
        let specs = self.dir.path().to_str().unwrap();
        let mut cmd = self.emu.tierctl_in(Path::new(specs));
        cmd.args(["--specs", specs]).args(args);
        run(&mut cmd)
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn create_topic(&self) -> String {
        Self::rt().block_on(async {
            let sns = aws_sdk_sns::Client::new(&self.emu.sdk_config().await);
            let out = sns.create_topic().name(TOPIC).send().await.unwrap();
            out.topic_arn().unwrap().to_string()
        })
    }

    fn create_bucket(&self, name: &str, region: &str) {
        Self::rt().block_on(async {
            let config = self.emu.sdk_config().await;
            let conf = aws_sdk_s3::config::Builder::from(&config)
                .region(aws_config::Region::new(region.to_string()))
                .force_path_style(true)
                .build();
            let s3 = aws_sdk_s3::Client::from_conf(conf);
            s3.create_bucket()
                .bucket(name)
                .create_bucket_configuration(
                    aws_sdk_s3::types::CreateBucketConfiguration::builder()
                        .location_constraint(region.into())
                        .build(),
                )
                .send()
                .await
                .unwrap();
        });
    }

    /// Successful `Publish` calls.
    fn publishes(&self) -> Vec<Value> {
        self.emu
            .calls("service=sns&action=Publish")
            .into_iter()
            .filter(|c| c["status"] == 200)
            .collect()
    }

    fn states(&self) -> std::collections::BTreeMap<String, String> {
        Self::rt().block_on(async {
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

    fn sns_calls(&self) -> usize {
        self.emu.calls("service=sns").len()
    }
}

#[test]
fn a_120_instance_tier_gives_one_message_naming_every_kept_instance() {
    let fleet = Fleet::new(120, NOTIFY);
    let arn = fleet.create_topic();
    let kept = [0, 17, 40, 63, 90, 119];
    let offline = [5, 50, 100, 110];
    kept.iter().for_each(|n| fleet.keep(*n));
    offline.iter().for_each(|n| fleet.offline(*n));
    fleet.emu.clear_calls();

    let (code, out, err) = fleet.tierctl(&["run", "stop", "Big"]);
    assert_eq!(code, 3, "bypassed and held back: {out}{err}");

    let counts = fleet.emu.counts();
    eprintln!("call counts: {counts}");
    let publishes = fleet.publishes();
    assert_eq!(
        publishes.len(),
        1,
        "one message per workload and run: {publishes:?}"
    );
    assert_eq!(counts["sns:ListTopics"], 1, "{counts}");
    assert!(counts["ssm:SendCommand"].as_u64().unwrap() <= 3, "{counts}");
    let states = fleet.states();
    for n in kept.iter().chain(&offline) {
        assert_eq!(states[&fleet.ids[*n]], "running", "instance {n} was kept");
    }
    assert!(counts.get("sns:CreateTopic").is_none(), "{counts}");
    let p = &publishes[0];
    assert_eq!(p["region"], REGION);
    assert_eq!(p["params"]["TopicArn"], arn.as_str());
    let subject = p["params"]["Subject"].as_str().unwrap();
    assert_eq!(subject, "tierctl stop Big: 6 bypassed, 4 held back");
    let message = p["params"]["Message"].as_str().unwrap();
    for n in kept {
        let id = &fleet.ids[n];
        assert!(
            message.contains(&format!("    {id} (web-")) && message.contains(&format!("{id} (")),
            "{id} in:\n{message}"
        );
    }
    let bypassed = message.find("Bypassed (6)").expect(message);
    let held = message.find("Held back (4)").expect(message);
    assert!(bypassed < held, "{message}");
    for n in kept {
        let at = message.find(fleet.ids[n].as_str()).unwrap();
        assert!(bypassed < at && at < held, "{message}");
        assert!(
            message[at..]
                .lines()
                .next()
                .unwrap()
                .ends_with("override file /tmp/keep is present")
        );
    }
    for n in offline {
        let at = message.find(fleet.ids[n].as_str()).expect(message);
        assert!(held < at, "{message}");
        assert!(
            message[at..]
                .lines()
                .next()
                .unwrap()
                .contains("override file could not be checked"),
            "{message}"
        );
    }
    assert!(
        message.contains("Instances: 120 in all: 110 stopped, 6 bypassed, 4 held back."),
        "{message}"
    );
}

#[test]
fn a_clean_run_publishes_nothing() {
    let fleet = Fleet::new(3, NOTIFY);
    fleet.create_topic();
    fleet.emu.clear_calls();
    let (code, out, err) = fleet.tierctl(&["run", "stop", "Big"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(fleet.sns_calls(), 0, "{}", fleet.emu.counts());
}

#[test]
fn a_missing_topic_is_a_warning_and_create_topic_creates_it() {
    let fleet = Fleet::new(3, NOTIFY);
    fleet.keep(1);
    let (code, out, err) = fleet.tierctl(&["run", "stop", "Big"]);
    assert_eq!(code, 3, "the run's outcome is the instances': {out}{err}");
    assert!(
        err.contains(
            "warning: workload Big: notification to SNS topic TierAlerts not sent: sns:ListTopics: \
topic TierAlerts does not exist in us-west-2 (create it, or pass --create-topic)"
        ),
        "{err}"
    );
    assert!(fleet.publishes().is_empty());

    fleet.emu.clear_calls();
    let (code, out, err) = fleet.tierctl(&["run", "stop", "Big", "--create-topic"]);
    assert_eq!(code, 3, "{out}{err}");
    let counts = fleet.emu.counts();
    eprintln!("call counts: {counts}");
    assert_eq!(counts["sns:CreateTopic"], 1, "{counts}");
    let publishes = fleet.publishes();
    assert_eq!(publishes.len(), 1, "{counts}");
    assert_eq!(
        publishes[0]["params"]["Subject"],
        "tierctl stop Big: 1 bypassed"
    );
    assert!(
        publishes[0]["params"]["Message"]
            .as_str()
            .unwrap()
            .contains(fleet.ids[1].as_str())
    );
}

#[test]
fn a_bucket_in_another_region_is_warned_about_on_stderr_and_in_the_message() {
    let fleet = Fleet::new(
        3,
        &format!("{NOTIFY}ssm:\n  outputBucket: tierctl-audit-eu\n  outputKeyPrefix: checks\n"),
    );
    fleet.create_topic();
    fleet.create_bucket("tierctl-audit-eu", "eu-west-1");
    fleet.emu.clear_calls();
    let (code, out, err) = fleet.tierctl(&["run", "stop", "Big"]);
    assert_eq!(code, 0, "the warning changes no outcome: {out}{err}");
    assert!(
        err.contains(
            "workload Big: SSM output bucket tierctl-audit-eu is in eu-west-1, not in the workload's region us-west-2"
        ),
        "{err}"
    );
    let counts = fleet.emu.counts();
    eprintln!("call counts: {counts}");
    assert_eq!(counts["s3:GetBucketLocation"], 1, "{counts}");
    let publishes = fleet.publishes();
    assert_eq!(publishes.len(), 1, "{counts}");
    assert_eq!(
        publishes[0]["params"]["Subject"],
        "tierctl stop Big: SSM output bucket in another region"
    );
    let message = publishes[0]["params"]["Message"].as_str().unwrap();
    assert!(
        message.contains("The SSM output bucket tierctl-audit-eu is in eu-west-1, but the workload is in us-west-2"),
        "{message}"
    );
}

#[test]
fn a_bucket_in_the_workload_region_is_not_mentioned() {
    let fleet = Fleet::new(2, &format!("{NOTIFY}ssm:\n  outputBucket: tierctl-audit\n"));
    fleet.create_topic();
    fleet.create_bucket("tierctl-audit", REGION);
    let (code, out, err) = fleet.tierctl(&["run", "stop", "Big"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!err.contains("tierctl-audit"), "{err}");
    assert!(fleet.publishes().is_empty());
}

#[test]
fn a_dry_run_publishes_nothing_and_prints_the_subject() {
    let fleet = Fleet::new(3, NOTIFY);
    fleet.create_topic();
    fleet.keep(0);
    fleet.emu.clear_calls();
    let (code, out, err) = fleet.tierctl(&["run", "stop", "Big", "--dry-run"]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        err.contains(
            "dry run: would publish to SNS topic TierAlerts (us-west-2): tierctl stop (dry run) Big: 1 bypassed"
        ),
        "{err}"
    );
    assert_eq!(fleet.sns_calls(), 0, "{}", fleet.emu.counts());
}

#[test]
fn the_kill_switch_sends_one_message_saying_so() {
    let fleet = Fleet::new(3, &format!("disabled: true\n{NOTIFY}"));
    fleet.create_topic();
    fleet.emu.clear_calls();
    let (code, out, err) = fleet.tierctl(&["run", "stop", "Big"]);
    assert_eq!(code, 0, "{out}{err}");
    let publishes = fleet.publishes();
    assert_eq!(publishes.len(), 1, "{}", fleet.emu.counts());
    assert_eq!(
        publishes[0]["params"]["Subject"],
        "tierctl stop Big: kill switch on, nothing done"
    );
    assert!(
        publishes[0]["params"]["Message"]
            .as_str()
            .unwrap()
            .contains("The kill switch is on"),
        "{publishes:?}"
    );
    assert!(
        fleet
            .emu
            .calls("service=ec2&action=StopInstances")
            .is_empty()
    );
}

#[test]
fn a_run_locked_out_by_another_sends_one_message_saying_so() {
    let fleet = Fleet::new(2, NOTIFY);
    fleet.create_topic();
    // A slow guest keeps the first run (and its lock) busy for 3 s.
    fleet.emu.admin(
        "PUT",
        &format!("guests/{}", fleet.ids[0]),
        Some(json!({"os": "linux", "latencyMs": 3000})),
    );
    let specs = fleet.dir.path().to_str().unwrap().to_string();
    let mut first = fleet.emu.tierctl_in(Path::new(&specs));
    first.args(["--specs", &specs, "run", "stop", "Big"]);
    let handle = std::thread::spawn(move || run(&mut first));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while fleet.emu.calls("service=ssm&action=SendCommand").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the first run never began its check"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (code, out, err) = fleet.tierctl(&["run", "stop", "Big"]);
    assert_eq!(code, 1, "{out}{err}");
    let publishes = fleet.publishes();
    assert_eq!(publishes.len(), 1, "{}", fleet.emu.counts());
    assert_eq!(
        publishes[0]["params"]["Subject"],
        "tierctl stop Big: not run, locked by another run"
    );
    let message = publishes[0]["params"]["Message"].as_str().unwrap();
    assert!(
        message.contains("Not run: another run holds its lock:"),
        "{message}"
    );
    let (code, out, err) = handle.join().unwrap();
    assert_eq!(code, 0, "the first run finishes cleanly: {out}{err}");
    assert_eq!(fleet.publishes().len(), 1, "and has nothing to say");
}
