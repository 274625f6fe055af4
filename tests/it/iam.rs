//! `tierctl iam-policy` against what tierctl really calls: the demo flow runs
//! against the emulator, and every AWS action in its call log must be allowed
//! by the generated policy (and by the `--for` part of the command that made it).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::plan::seed_demo_fleet;
use crate::support::emulator::Emulator;
use crate::support::{repo_root, run, tierctl};

/// Every IAM action the code can need (src/aws/), reached by the demo flow or not
/// (lease renewal after 30 s, cancelling unanswered checks, creating topics...).
/// Every IAM action the code can need: the catalogue of AWS calls.
fn code_actions() -> Vec<&'static str> {
    // The runner's self-invocation is its execution role's (see catalogue::command_actions).
    tierctl::aws::catalogue::command_actions()
        .into_iter()
        .collect()
}

/// The IAM actions that authorise one logged call.
///
/// `TransactWriteItems` is no IAM action: each entry is authorised as the
/// item-level action it performs.
fn iam_actions(call: &Value) -> Vec<String> {
    let service = call["service"].as_str().unwrap();
    let action = call["action"].as_str().unwrap();
    let prefix = match service {
        "elb" | "elbv2" => "elasticloadbalancing",
        "tagging" => "tag",
        other => other,
    };
    if (prefix, action) == ("dynamodb", "TransactWriteItems") {
        let items = call["params"]["TransactItems"]
            .as_array()
            .expect("TransactWriteItems has TransactItems");
        return items
            .iter()
            .flat_map(|item| item.as_object().unwrap().keys())
            .map(|kind| match kind.as_str() {
                "Put" => "dynamodb:PutItem".to_string(),
                "Update" => "dynamodb:UpdateItem".to_string(),
                "Delete" => "dynamodb:DeleteItem".to_string(),
                "ConditionCheck" => "dynamodb:ConditionCheckItem".to_string(),
                other => panic!("unknown transaction entry {other}"),
            })
            .collect();
    }
    vec![format!("{prefix}:{action}")]
}

/// The policy `tierctl iam-policy` prints for the specs in `dir`.
fn policy(dir: &Path, part: &str) -> Value {
    let (code, out, err) = run(tierctl().args([
        "--specs",
        dir.to_str().unwrap(),
        "--dynamodb-region",
        "us-west-2",
        "iam-policy",
        "--account",
        "123456789012",
        "--create-topic",
        "--for",
        part,
    ]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.ends_with("}\n"), "{out}");
    serde_json::from_str(&out).unwrap()
}

fn actions_of(policy: &Value) -> BTreeSet<String> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap().iter())
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// The example workloads with every delay 0 (the flow is the same, only
/// faster); with `every_feature`, their starts also wait for health.
fn copy_of_the_examples(dir: &Path, every_feature: bool) {
    let checked = tierctl::validate::check_paths(&[repo_root().join("workloads")]);
    assert_eq!(checked.errors(), 0);
    assert_eq!(checked.workloads.len(), 2);
    for (_, w) in &checked.workloads {
        let mut w = w.clone();
        w.scale_instance_delay_seconds = 0;
        for t in &mut w.tiers {
            // Every feature: the tiers also hold RDS DB instances and Aurora clusters.
            if every_feature && !t.holds(tierctl::spec::MemberKind::Rds) {
                t.members.push(tierctl::spec::MemberKind::Rds);
            }
            if let Some(s) = &mut t.stop {
                s.delay_seconds = 0;
            }
            if let Some(s) = &mut t.start {
                s.delay_seconds = 0;
                s.wait_healthy |= every_feature;
            }
            // Every feature: the tiers hold Auto Scaling groups too.
            if every_feature && !t.holds(tierctl::spec::MemberKind::Asg) {
                t.members.push(tierctl::spec::MemberKind::Asg);
            }
        }
        if every_feature {
            w.schedule = Some(tierctl::spec::Schedule {
                timezone: "Europe/Berlin".into(),
                stop: Some(tierctl::spec::ScheduledStop {
                    cron: "0 19 ? * MON-FRI *".into(),
                }),
                start: None,
            });
        }
        std::fs::write(
            dir.join(format!("{}.yaml", w.name)),
            tierctl::render::workload_yaml(&w),
        )
        .unwrap();
    }
}

#[test]
fn policy_covers_every_call_of_the_demo_flow() {
    let emu = Emulator::start();
    emu.transitions(100, 100);
    seed_demo_fleet(&emu);
    let specs = tempfile::tempdir().unwrap();
    copy_of_the_examples(specs.path(), false);
    let imported = tempfile::tempdir().unwrap();
    let dir = specs.path().to_str().unwrap();

    let full = policy(specs.path(), "all");
    assert_eq!(
        full,
        policy(&repo_root().join("workloads"), "all"),
        "delays do not change the policy"
    );
    let parts = [
        ("plan", policy(specs.path(), "plan")),
        ("sync", policy(specs.path(), "sync")),
        ("run", policy(specs.path(), "run")),
    ];

    // (command, the --for part it needs, accepted exit codes)
    let steps: &[(&[&str], &str, &[i32])] = &[
        (&["sync", "--check"], "plan", &[2]),
        (&["sync"], "sync", &[0]),
        (&["sync", "--check"], "plan", &[0]),
        (&["plan", "stop", "--all"], "plan", &[0]),
        (
            &["plan", "stop", "--all", "--from", "dynamodb"],
            "plan",
            &[0],
        ),
        (&["run", "stop", "--all", "--dry-run"], "run", &[0, 3]),
        (&["run", "stop", "BotoTestCase1"], "run", &[0, 3]),
        (
            &["run", "stop", "WinReporting", "--create-topic"],
            "run",
            &[0, 3],
        ),
        (
            &["plan", "start", "BotoTestCase1", "--profile", "performant"],
            "plan",
            &[0],
        ),
        (
            &[
                "run",
                "start",
                "BotoTestCase1",
                "-p",
                "performant",
                "--dry-run",
            ],
            "run",
            &[0, 3],
        ),
        (
            &[
                "run",
                "start",
                "BotoTestCase1",
                "-p",
                "performant",
                "--from",
                "dynamodb",
            ],
            "run",
            &[0, 3],
        ),
        (&["run", "start", "WinReporting"], "run", &[0, 3]),
        (
            &[
                "import",
                "--all",
                "--out",
                imported.path().to_str().unwrap(),
            ],
            "plan",
            &[0],
        ),
        (&["unlock", "BotoTestCase1", "WinReporting"], "run", &[0]),
    ];
    let mut called = BTreeSet::new();
    for (args, part, codes) in steps {
        emu.clear_calls();
        let mut cmd = emu.tierctl_in(specs.path());
        cmd.args(["--specs", dir]).args(*args);
        let (code, out, err) = run(&mut cmd);
        assert!(codes.contains(&code), "{args:?} exited {code}:\n{out}{err}");
        let calls = emu.calls("");
        assert!(
            !calls.is_empty() || args[0] == "unlock",
            "{args:?} made no call"
        );
        let allowed = actions_of(&parts.iter().find(|(p, _)| p == part).unwrap().1);
        for call in &calls {
            for action in iam_actions(call) {
                assert!(
                    allowed.contains(&action),
                    "`{}` calls {action}, which `iam-policy --for {part}` does not allow: {allowed:?}",
                    args.join(" ")
                );
                called.insert(action);
            }
        }
    }

    let allowed = actions_of(&full);
    let missing: Vec<&String> = called.iter().filter(|a| !allowed.contains(*a)).collect();
    assert!(missing.is_empty(), "called but not allowed: {missing:?}");
    // With every feature in use, the policy has every action the code can need, and no other.
    let every = tempfile::tempdir().unwrap();
    copy_of_the_examples(every.path(), true);
    let every = actions_of(&policy(every.path(), "all"));
    for a in &code_actions() {
        assert!(every.contains(*a), "{a} is not in the policy: {every:?}");
    }
    // What the flow must have reached, so the check above means something.
    for a in [
        "dynamodb:PutItem",
        "dynamodb:Scan",
        "ec2:StopInstances",
        "ec2:ModifyInstanceAttribute",
        "ssm:SendCommand",
        "ec2:DescribeInstanceTypes",
        "sns:ListTopics",
        "sns:CreateTopic",
        "sns:Publish",
        "s3:GetBucketLocation",
    ] {
        assert!(called.contains(a), "the flow never called {a}: {called:?}");
    }
    for a in allowed.iter().chain(&every) {
        assert!(a != "*" && !a.ends_with('*') && !a.contains('*'), "{a}");
    }
    // Nothing beyond what the code can call.
    let code: BTreeSet<String> = code_actions().iter().map(|a| a.to_string()).collect();
    let extra: Vec<&String> = every.difference(&code).collect();
    assert!(
        extra.is_empty(),
        "allowed but never called by the code: {extra:?}"
    );
}

#[test]
fn iam_policy_usage_errors() {
    let (code, _, err) = run(tierctl().args(["iam-policy", "NoSuchWorkload"]));
    assert_eq!(code, 1);
    assert!(err.contains("unknown workload `NoSuchWorkload`"), "{err}");
    let (code, _, err) = run(tierctl().args(["iam-policy", "--account", "12"]));
    assert_eq!(code, 1);
    assert!(err.contains("12-digit"), "{err}");
    let (code, out, _) = run(tierctl().args(["iam-policy", "--help"]));
    assert_eq!(code, 0);
    assert!(out.contains("instance profile"), "{out}");
    // One workload: only its region and tag.
    let (code, out, err) = run(tierctl().args(["iam-policy", "WinReporting", "--for", "run"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("reporting-prod") && !out.contains("ENV001"),
        "{out}"
    );
    assert!(!out.contains("ConfigTablesWrite"), "{out}");
}
