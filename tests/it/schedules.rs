//! `sync` of workload schedules to EventBridge Scheduler, end to end against
//! the emulator: one schedule per workload and action in the group
//! `tierctl`, in the workload's time zone; idempotent; updates, deletes and
//! prunes only this repository's schedules; refused before any write when
//! no runner is configured; the DynamoDB items are the same with or without
//! a schedule.

use std::path::Path;

use serde_json::Value;

use crate::support::emulator::Emulator;
use crate::support::{assert_conforms, run};
use crate::sync::{copy_examples, scan};

const RUNNER: &str = "arn:aws:lambda:us-west-2:123456789012:function:tierctl-runner";
const ROLE: &str = "arn:aws:iam::123456789012:role/tierctl-scheduler";
const REPO: &str = "github.com/acme/fleet";

const BERLIN: &str = "schedule:
  timezone: Europe/Berlin
  stop: { cron: \"0 19 ? * MON-FRI *\" }
  start: { cron: \"0 7 ? * MON-FRI *\", profile: performant }
";

const WRITES: [&str; 4] = [
    "CreateScheduleGroup",
    "CreateSchedule",
    "UpdateSchedule",
    "DeleteSchedule",
];

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Adds (or replaces) the schedule block of `file` with `block` ("" removes
/// it), just before the top-level `tiers:`.
fn set_schedule(file: &Path, block: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    let text = match text.find("\nschedule:\n") {
        Some(start) => {
            let end = text[start + 1..]
                .find("\ntiers:")
                .map(|e| start + 1 + e + 1)
                .expect("the schedule block comes before tiers");
            format!("{}{}", &text[..=start], &text[end..])
        }
        None => text,
    };
    let at = text.find("\ntiers:").expect("the spec has tiers") + 1;
    std::fs::write(file, format!("{}{block}{}", &text[..at], &text[at..])).unwrap();
}

fn sync(emu: &Emulator, specs: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut cmd = emu.tierctl();
    cmd.env("TIERCTL_RUNNER_ARN", RUNNER)
        .env("TIERCTL_SCHEDULER_ROLE_ARN", ROLE)
        .args([
            "--specs",
            specs.to_str().unwrap(),
            "--repo-id",
            REPO,
            "sync",
        ])
        .args(extra);
    run(&mut cmd)
}

fn scheduler_writes(emu: &Emulator) -> usize {
    WRITES
        .iter()
        .map(|a| emu.calls(&format!("service=scheduler&action={a}")).len())
        .sum()
}

fn schedules(emu: &Emulator) -> Vec<aws_sdk_scheduler::operation::get_schedule::GetScheduleOutput> {
    rt().block_on(async {
        let s = aws_sdk_scheduler::Client::new(&emu.sdk_config().await);
        let list = s
            .list_schedules()
            .group_name("tierctl")
            .send()
            .await
            .unwrap();
        let mut out = Vec::new();
        for sum in list.schedules() {
            out.push(
                s.get_schedule()
                    .group_name("tierctl")
                    .name(sum.name().unwrap())
                    .send()
                    .await
                    .unwrap(),
            );
        }
        out.sort_by(|a, b| a.name().cmp(&b.name()));
        out
    })
}

fn names(emu: &Emulator) -> Vec<String> {
    schedules(emu)
        .iter()
        .map(|s| s.name().unwrap().to_string())
        .collect()
}

fn setup(emu: &Emulator) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_examples(dir.path());
    set_schedule(&dir.path().join("BotoTestCase1.yaml"), BERLIN);
    let _ = emu;
    dir
}

#[test]
fn a_berlin_schedule_syncs_in_its_time_zone_and_a_second_sync_writes_nothing() {
    let emu = Emulator::start();
    let dir = setup(&emu);
    // --check first: drift, nothing written.
    let (code, out, err) = sync(&emu, dir.path(), &["--check"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        out.contains("schedule group tierctl does not exist yet"),
        "{out}"
    );
    assert!(
        out.contains("+ schedule BotoTestCase1-stop (stop of BotoTestCase1) create"),
        "{out}"
    );
    assert_eq!(scheduler_writes(&emu), 0);

    let (code, out, err) = sync(&emu, dir.path(), &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("Schedules: 2 written; created schedule group tierctl."),
        "{out}"
    );
    let got = schedules(&emu);
    assert_eq!(names(&emu), ["BotoTestCase1-start", "BotoTestCase1-stop"]);
    let start = &got[0];
    assert_eq!(start.schedule_expression(), Some("cron(0 7 ? * MON-FRI *)"));
    assert_eq!(start.schedule_expression_timezone(), Some("Europe/Berlin"));
    assert_eq!(start.flexible_time_window().unwrap().mode().as_str(), "OFF");
    assert_eq!(start.state().unwrap().as_str(), "ENABLED");
    assert!(
        start
            .description()
            .unwrap()
            .starts_with(&format!("tierctl:{REPO} ")),
        "{:?}",
        start.description()
    );
    let target = start.target().unwrap();
    assert_eq!((target.arn(), target.role_arn()), (RUNNER, ROLE));
    let retry = target.retry_policy().unwrap();
    assert_eq!(retry.maximum_event_age_in_seconds(), Some(3600));
    assert_eq!(
        retry.maximum_retry_attempts(),
        Some(tierctl::store::schedules::MAX_RETRY_ATTEMPTS)
    );
    let input: tierctl::runner::event::RunnerEvent =
        serde_json::from_str(target.input().unwrap()).unwrap();
    assert_eq!(
        input,
        tierctl::runner::event::RunnerEvent::scheduled(
            tierctl::plan::Action::Start,
            "BotoTestCase1",
            Some("performant"),
            3600
        )
    );
    let create = emu.calls("service=scheduler&action=CreateScheduleGroup");
    assert_eq!(create[0]["params"]["Tags"][0]["Key"], "ManagedBy");
    assert_eq!(
        create[0]["params"]["Tags"][0]["Value"],
        format!("tierctl:{REPO}")
    );

    emu.clear_calls();
    let (code, out, err) = sync(&emu, dir.path(), &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(scheduler_writes(&emu), 0, "{:?}", emu.counts());
    assert_eq!(
        emu.calls("service=dynamodb&action=TransactWriteItems")
            .len(),
        0,
        "{out}"
    );
    assert!(
        out.contains("No schedule changes: EventBridge Scheduler matches the YAML."),
        "{out}"
    );
    let (code, out, err) = sync(&emu, dir.path(), &["--check", "-o", "markdown"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("### EventBridge Scheduler (us-west-2, group `tierctl`)")
            && out.contains("| 0 | 0 | 0 | 2 |"),
        "{out}"
    );
    let (code, out, err) = sync(&emu, dir.path(), &["--check", "-o", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_conforms("sync-output", &doc);
    assert_eq!(doc["drift"], false);
    assert_eq!(doc["schedules"]["writes"], 0);
    assert_eq!(doc["schedules"]["schedules"][1]["change"], "unchanged");
}

#[test]
fn a_changed_cron_is_one_update_and_a_removed_schedule_is_deleted() {
    let emu = Emulator::start();
    let dir = setup(&emu);
    let (code, _, err) = sync(&emu, dir.path(), &[]);
    assert_eq!(code, 0, "{err}");
    let file = dir.path().join("BotoTestCase1.yaml");
    set_schedule(&file, &BERLIN.replace("0 19 ?", "30 20 ?"));
    emu.clear_calls();
    let (code, out, _) = sync(&emu, dir.path(), &["--check", "-o", "json"]);
    assert_eq!(code, 2, "{out}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_conforms("sync-output", &doc);
    assert_eq!(doc["drift"], true);
    assert_eq!(doc["schedules"]["writes"], 1);
    assert_eq!(scheduler_writes(&emu), 0);

    let (code, out, err) = sync(&emu, dir.path(), &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("~ schedule BotoTestCase1-stop (stop of BotoTestCase1) update"),
        "{out}"
    );
    assert!(
        out.contains("+ScheduleExpression: cron(30 20 ? * MON-FRI *)"),
        "{out}"
    );
    assert_eq!(scheduler_writes(&emu), 1, "{:?}", emu.counts());
    let update = emu.calls("service=scheduler&action=UpdateSchedule");
    assert_eq!(update[0]["params"]["Name"], "BotoTestCase1-stop");
    assert_eq!(
        schedules(&emu)[1].schedule_expression(),
        Some("cron(30 20 ? * MON-FRI *)")
    );

    // Only the start removed: one delete.
    set_schedule(
        &file,
        "schedule:\n  timezone: Europe/Berlin\n  stop: { cron: \"30 20 ? * MON-FRI *\" }\n",
    );
    emu.clear_calls();
    let (code, out, err) = sync(&emu, dir.path(), &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        emu.calls("service=scheduler&action=DeleteSchedule").len(),
        1
    );
    assert_eq!(names(&emu), ["BotoTestCase1-stop"]);

    // The whole schedule removed (no --prune): deleted.
    set_schedule(&file, "");
    emu.clear_calls();
    let (code, out, err) = sync(&emu, dir.path(), &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("- schedule BotoTestCase1-stop (stop of BotoTestCase1) delete"),
        "{out}"
    );
    assert_eq!(scheduler_writes(&emu), 1, "{:?}", emu.counts());
    assert!(names(&emu).is_empty());
}

#[test]
fn prune_deletes_only_this_repositorys_schedules() {
    let emu = Emulator::start();
    // Another repository's workload with a schedule.
    let theirs = tempfile::tempdir().unwrap();
    std::fs::copy(
        crate::support::repo_root().join("workloads/WinReporting.yaml"),
        theirs.path().join("WinReporting.yaml"),
    )
    .unwrap();
    set_schedule(
        &theirs.path().join("WinReporting.yaml"),
        BERLIN.replace(", profile: performant", "").as_str(),
    );
    let mut cmd = emu.tierctl();
    cmd.env("TIERCTL_RUNNER_ARN", RUNNER)
        .env("TIERCTL_SCHEDULER_ROLE_ARN", ROLE)
        .args([
            "--specs",
            theirs.path().to_str().unwrap(),
            "--repo-id",
            "github.com/acme/other",
            "sync",
        ]);
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, 0, "{out}{err}");

    // Ours: BotoTestCase1 only, with a schedule; then its spec is deleted.
    let ours = tempfile::tempdir().unwrap();
    std::fs::copy(
        crate::support::repo_root().join("workloads/BotoTestCase1.yaml"),
        ours.path().join("BotoTestCase1.yaml"),
    )
    .unwrap();
    set_schedule(&ours.path().join("BotoTestCase1.yaml"), BERLIN);
    let (code, out, err) = sync(&emu, ours.path(), &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(names(&emu).len(), 4);
    // A schedule made by hand in the group.
    let mut t = schedules(&emu)[0].target().unwrap().clone();
    t.input = Some("{}".into());
    rt().block_on(async {
        let s = aws_sdk_scheduler::Client::new(&emu.sdk_config().await);
        s.create_schedule()
            .group_name("tierctl")
            .name("by-hand")
            .schedule_expression("rate(1 day)")
            .flexible_time_window(
                aws_sdk_scheduler::types::FlexibleTimeWindow::builder()
                    .mode(aws_sdk_scheduler::types::FlexibleTimeWindowMode::Off)
                    .build()
                    .unwrap(),
            )
            .target(t)
            .send()
            .await
            .unwrap();
    });
    // BotoTestCase1's spec is deleted; another workload (no schedule) stays.
    let spec = std::fs::read_to_string(ours.path().join("BotoTestCase1.yaml")).unwrap();
    std::fs::remove_file(ours.path().join("BotoTestCase1.yaml")).unwrap();
    std::fs::write(
        ours.path().join("Keep.yaml"),
        spec.replacen("name: BotoTestCase1", "name: Keep", 1)
            .replacen(BERLIN, "", 1),
    )
    .unwrap();
    let (code, out, err) = sync(&emu, ours.path(), &["--check"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        out.contains("! schedule BotoTestCase1-stop (stop of BotoTestCase1) orphan"),
        "{out}"
    );
    assert!(
        out.contains("another repository's (tierctl:github.com/acme/other)"),
        "{out}"
    );
    assert!(out.contains("! schedule by-hand other"), "{out}");
    // Without --prune the orphans stay.
    emu.clear_calls();
    let (code, out, err) = sync(&emu, ours.path(), &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        emu.calls("service=scheduler&action=DeleteSchedule").len(),
        0
    );

    emu.clear_calls();
    let (code, out, err) = sync(&emu, ours.path(), &["--prune"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("- schedule BotoTestCase1-stop (stop of BotoTestCase1) delete"),
        "{out}{err}"
    );
    assert_eq!(
        emu.calls("service=scheduler&action=DeleteSchedule").len(),
        2
    );
    assert_eq!(
        names(&emu),
        ["WinReporting-start", "WinReporting-stop", "by-hand"]
    );
}

#[test]
fn a_schedule_without_runner_is_refused_before_anything_is_written() {
    let emu = Emulator::start();
    let dir = setup(&emu);
    let mut cmd = emu.tierctl();
    cmd.env_remove("TIERCTL_RUNNER_ARN")
        .env("TIERCTL_SCHEDULER_ROLE_ARN", ROLE)
        .args([
            "--specs",
            dir.path().to_str().unwrap(),
            "--repo-id",
            REPO,
            "sync",
        ]);
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("workload BotoTestCase1 has a schedule, but --runner-arn is not set (or TIERCTL_RUNNER_ARN)"),
        "{err}"
    );
    assert!(err.contains("nothing was written"), "{err}");
    assert!(emu.calls("").is_empty(), "{:?}", emu.counts());
    // A runner that is no function ARN: refused the same way.
    let mut cmd = emu.tierctl();
    cmd.env("TIERCTL_RUNNER_ARN", "tierctl-runner")
        .env("TIERCTL_SCHEDULER_ROLE_ARN", ROLE)
        .args(["--specs", dir.path().to_str().unwrap(), "sync"]);
    let (code, _, err) = run(&mut cmd);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("--runner-arn \"tierctl-runner\" is not an ARN"),
        "{err}"
    );
    assert!(emu.calls("").is_empty(), "{:?}", emu.counts());
}

#[test]
fn the_items_are_the_same_with_and_without_a_schedule() {
    let emu = Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    copy_examples(dir.path());
    // Without runner settings and without schedules: Scheduler is never called.
    let (code, _, err) = run(emu.tierctl().args([
        "--specs",
        dir.path().to_str().unwrap(),
        "--repo-id",
        REPO,
        "sync",
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(emu.calls("service=scheduler").is_empty());
    let before: Vec<Value> = ["WorkloadSpecification", "TierSpecification"]
        .iter()
        .flat_map(|t| scan(&emu, t))
        .collect();
    set_schedule(&dir.path().join("BotoTestCase1.yaml"), BERLIN);
    emu.clear_calls();
    let (code, out, err) = sync(&emu, dir.path(), &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        emu.calls("service=dynamodb&action=TransactWriteItems")
            .len(),
        0
    );
    assert_eq!(
        emu.calls("service=scheduler&action=CreateSchedule").len(),
        2
    );
    let after: Vec<Value> = ["WorkloadSpecification", "TierSpecification"]
        .iter()
        .flat_map(|t| scan(&emu, t))
        .collect();
    assert_eq!(before, after);
    assert!(
        !after
            .iter()
            .any(|i| i.to_string().contains("Europe/Berlin"))
    );
}

/// The policy `iam-policy --for PART` prints for the specs in `dir`.
fn policy(dir: &Path, part: &str) -> Value {
    let (code, out, err) = run(crate::support::tierctl().args([
        "--specs",
        dir.to_str().unwrap(),
        "--dynamodb-region",
        "us-west-2",
        "iam-policy",
        "--account",
        "123456789012",
        "--for",
        part,
    ]));
    assert_eq!(code, 0, "{out}{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_conforms("iam-policy-output", &doc);
    doc
}

fn allowed(policy: &Value) -> Vec<(String, Vec<String>)> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["Sid"].as_str().unwrap().to_string(),
                s["Action"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

fn allows(policy: &Value, action: &str) -> bool {
    allowed(policy)
        .iter()
        .any(|(_, a)| a.iter().any(|x| x == action))
}

#[test]
fn the_policy_allows_every_scheduler_call_of_sync_and_check() {
    let emu = Emulator::start();
    let dir = setup(&emu);
    let (code, out, err) = sync(&emu, dir.path(), &["--check"]);
    assert_eq!(code, 2, "{out}{err}");
    let read = policy(dir.path(), "plan");
    for c in emu.calls("service=scheduler") {
        let a = format!("scheduler:{}", c["action"].as_str().unwrap());
        assert!(allows(&read, &a), "--for plan lacks {a}: {read:#}");
    }
    emu.clear_calls();
    set_schedule(&dir.path().join("BotoTestCase1.yaml"), BERLIN);
    let (code, out, err) = sync(&emu, dir.path(), &[]);
    assert_eq!(code, 0, "{out}{err}");
    let write = policy(dir.path(), "sync");
    let called = emu.calls("service=scheduler");
    assert!(called.len() >= 4, "{called:?}");
    for c in &called {
        let a = format!("scheduler:{}", c["action"].as_str().unwrap());
        assert!(allows(&write, &a), "--for sync lacks {a}: {write:#}");
    }
    // Creating and updating schedules passes the scheduler role.
    assert!(allows(&write, "iam:PassRole"));
    let text = write.to_string();
    assert!(
        text.contains("arn:aws:scheduler:us-west-2:123456789012:schedule/tierctl/*"),
        "{text}"
    );
    // Without schedules, not one Scheduler action (the EC2-only policy is unchanged).
    let plain = tempfile::tempdir().unwrap();
    copy_examples(plain.path());
    let ec2_only = policy(plain.path(), "all").to_string();
    assert!(
        !ec2_only.contains("scheduler:") && !ec2_only.contains("iam:PassRole"),
        "{ec2_only}"
    );

    // The roles' policies are typed documents too.
    for args in [
        vec!["--role", "runner"],
        vec!["--role", "scheduler"],
        vec!["--role", "runner", "--trust"],
        vec!["--role", "scheduler", "--trust"],
    ] {
        let (code, out, err) = run(crate::support::tierctl()
            .args([
                "--specs",
                dir.path().to_str().unwrap(),
                "iam-policy",
                "--account",
                "123456789012",
            ])
            .args(&args));
        assert_eq!(code, 0, "{args:?}: {out}{err}");
        assert_conforms("iam-policy-output", &serde_json::from_str(&out).unwrap());
    }
    let (code, _, err) = run(crate::support::tierctl().args([
        "--specs",
        dir.path().to_str().unwrap(),
        "iam-policy",
        "--role",
        "scheduler",
        "--trust",
    ]));
    assert_eq!(code, 1);
    assert!(err.contains("needs --account"), "{err}");
}

#[test]
fn scheduler_errors_name_the_call_and_the_schedule_and_the_rest_is_written() {
    let emu = Emulator::start();
    let dir = setup(&emu);
    for (code, call) in [
        ("AccessDeniedException", "CreateSchedule"),
        ("ValidationException", "CreateSchedule"),
    ] {
        emu.fault(
            serde_json::json!({"service": "scheduler", "action": call, "error": code, "times": 1}),
        );
        emu.clear_calls();
        let (exit, out, err) = sync(&emu, dir.path(), &[]);
        assert_eq!(exit, 1, "{out}{err}");
        assert!(
            err.contains("error: schedule not written: BotoTestCase1-st")
                && err.contains(&format!("scheduler:{call}: BotoTestCase1-st"))
                && err.contains(code),
            "{err}"
        );
        if code == "AccessDeniedException" {
            assert!(
                err.contains("not allowed to call scheduler:CreateSchedule"),
                "{err}"
            );
        }
        // The other schedule was written; the next sync creates the missing one.
        let (exit, out, err) = sync(&emu, dir.path(), &[]);
        assert_eq!(exit, 0, "{out}{err}");
        assert_eq!(names(&emu).len(), 2);
        rt().block_on(async {
            let s = aws_sdk_scheduler::Client::new(&emu.sdk_config().await);
            for n in ["BotoTestCase1-stop", "BotoTestCase1-start"] {
                s.delete_schedule()
                    .group_name("tierctl")
                    .name(n)
                    .send()
                    .await
                    .unwrap();
            }
        });
    }
    // A conflict (a concurrent sync created it first) and a throttled read.
    emu.fault(serde_json::json!({"service": "scheduler", "action": "CreateSchedule", "error": "ConflictException", "status": 409, "times": 1}));
    emu.fault(serde_json::json!({"service": "scheduler", "action": "GetScheduleGroup", "error": "ThrottlingException", "times": 2}));
    emu.clear_calls();
    let (exit, out, err) = sync(&emu, dir.path(), &[]);
    assert_eq!(exit, 1, "{out}{err}");
    assert!(
        err.contains("scheduler:CreateSchedule: BotoTestCase1-st")
            && err.contains("ConflictException"),
        "{err}"
    );
    assert_eq!(
        emu.calls("service=scheduler&action=GetScheduleGroup").len(),
        3
    );
    // Listing that fails stops before any write, naming the call.
    emu.fault(serde_json::json!({"service": "scheduler", "action": "ListSchedules", "error": "AccessDeniedException", "times": 1}));
    emu.clear_calls();
    let (exit, out, err) = sync(&emu, dir.path(), &[]);
    assert_eq!(exit, 1, "{out}{err}");
    assert!(
        err.contains("scheduler:ListSchedules: tierctl: AccessDeniedException"),
        "{err}"
    );
    assert_eq!(scheduler_writes(&emu), 0);
}
