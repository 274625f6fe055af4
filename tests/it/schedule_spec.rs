//! Schedules in the spec: what `validate` says about them (file:line:col,
//! field names) and what `plan` shows (next stop and start in the workload's
//! time zone and in UTC, across a daylight saving time change), from a fixed
//! "now" (`TIERCTL_NOW`).

use std::path::Path;

use serde_json::Value;

use crate::support::{run, tierctl_in};

const HEADER: &str = r#"region: eu-central-1
selector:
  workloadTag: { key: Environment, value: ENV001 }
  tierTagKey: Role
  vpcId: vpc-0123abcd
"#;

const TIERS: &str = r#"tiers:
  - name: Web
    stop: { sequence: 0, override: { file: /tmp/StopOverride, os: linux } }
    start: { sequence: 1 }
    scaling: { performant: m5.large }
"#;

fn workload(dir: &Path, name: &str, schedule: &str) {
    let specs = dir.join("workloads");
    std::fs::create_dir_all(&specs).unwrap();
    std::fs::write(
        specs.join(format!("{name}.yaml")),
        format!("name: {name}\n{HEADER}{schedule}{TIERS}"),
    )
    .unwrap();
}

/// Berlin and New York office hours, and a workload without a schedule.
fn fleet() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    workload(
        dir.path(),
        "Berlin",
        "schedule:\n  timezone: Europe/Berlin\n  stop: { cron: \"0 19 ? * MON-FRI *\" }\n  start: { cron: \"0 7 ? * MON-FRI *\", profile: performant }\n",
    );
    workload(
        dir.path(),
        "NewYork",
        "schedule:\n  timezone: America/New_York\n  stop: { cron: \"30 18 ? * MON-FRI *\" }\n  start: { cron: \"0 8 ? * MON-FRI *\" }\n",
    );
    workload(dir.path(), "Plain", "");
    dir
}

fn plan(dir: &Path, now: &str, args: &[&str]) -> (i32, String, String) {
    run(tierctl_in(dir).env("TIERCTL_NOW", now).args(args))
}

#[test]
fn plan_text_shows_next_runs_across_spring_forward() {
    let dir = fleet();
    // Wednesday 10 March 2027: New York springs forward on the 14th, Berlin on the 28th.
    let (code, out, err) = plan(
        dir.path(),
        "2027-03-10T12:00:00Z",
        &["plan", "stop", "Berlin", "NewYork", "Plain", "--offline"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("next 2027-03-10 19:00 CET (+01:00) = 2027-03-10 18:00 UTC"),
        "{out}"
    );
    assert!(
        out.contains("stop   2027-03-29 19:00 CEST (+02:00) = 2027-03-29 17:00 UTC"),
        "{out}"
    );
    insta::assert_snapshot!("plan_spring_forward_text", out);
}

#[test]
fn plan_markdown_shows_next_runs_across_fall_back() {
    let dir = fleet();
    // Tuesday 20 October 2026: Berlin falls back on the 25th, New York on 1 November.
    let (code, out, err) = plan(
        dir.path(),
        "2026-10-20T12:00:00Z",
        &["-o", "markdown", "plan", "start", "--all", "--offline"],
    );
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!("plan_fall_back_markdown", out);
}

#[test]
fn plan_text_across_fall_back() {
    let dir = fleet();
    let (code, out, err) = plan(
        dir.path(),
        "2026-10-20T12:00:00Z",
        &["plan", "stop", "Berlin", "NewYork", "--offline"],
    );
    assert_eq!(code, 0, "{err}");
    let schedules = &out[out.find("Schedules").expect("a schedules section")..];
    insta::assert_snapshot!("plan_fall_back_text", schedules);
}

#[test]
fn plan_json_has_typed_schedules() {
    let dir = fleet();
    let args = ["-o", "json", "plan", "start", "Berlin", "--offline"];
    let (code, out, err) = plan(dir.path(), "2027-03-24T12:00:00Z", &args);
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let s = &doc["schedules"];
    assert_eq!(s["now"], "2027-03-24T12:00:00Z");
    let w = &s["workloads"][0];
    assert_eq!(w["workload"], "Berlin");
    assert_eq!(w["timezone"], "Europe/Berlin");
    assert_eq!(
        w["change"]["text"],
        "2027-03-28 02:00 CET (+01:00) becomes 03:00 CEST (+02:00)"
    );
    let stop = &w["actions"][0];
    assert_eq!(stop["action"], "stop");
    assert_eq!(stop["cron"], "0 19 ? * MON-FRI *");
    assert_eq!(stop["next"]["utc"], "2027-03-24T18:00:00Z");
    assert_eq!(stop["next"]["local"], "2027-03-24T19:00:00+01:00");
    assert_eq!(stop["afterChange"]["utc"], "2027-03-29T17:00:00Z");
    assert_eq!(stop["afterChange"]["local"], "2027-03-29T19:00:00+02:00");
    let start = &w["actions"][1];
    assert_eq!(start["profile"], "performant");
    assert_eq!(start["next"]["utc"], "2027-03-25T06:00:00Z");
    // Deterministic for one "now".
    let (_, again, _) = plan(dir.path(), "2027-03-24T12:00:00Z", &args);
    assert_eq!(out, again);
}

#[test]
fn a_workload_without_a_schedule_renders_as_before() {
    let dir = fleet();
    for format in ["text", "markdown", "json"] {
        let args = ["-o", format, "plan", "stop", "Plain", "--offline"];
        let (code, a, err) = plan(dir.path(), "2027-03-10T12:00:00Z", &args);
        assert_eq!(code, 0, "{err}");
        let (_, b, _) = plan(dir.path(), "2026-10-20T12:00:00Z", &args);
        assert_eq!(a, b, "no schedule: nothing depends on now");
        assert!(!a.contains("Schedules") && !a.contains("schedules"), "{a}");
    }
}

#[test]
fn bad_now_is_a_clear_error() {
    let dir = fleet();
    let (code, _, err) = plan(
        dir.path(),
        "yesterday",
        &["plan", "stop", "Berlin", "--offline"],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("TIERCTL_NOW=`yesterday` is not an RFC 3339 time"),
        "{err}"
    );
}

#[test]
fn validate_names_schedule_fields_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    workload(
        dir.path(),
        "Bad",
        "schedule:\n  timezone: Europe/Berlinn\n  stop: { cron: \"cron(0 19 ? * MON-FRI *)\" }\n  start: { cron: \"rate(1 day)\", profile: fast }\n",
    );
    workload(
        dir.path(),
        "Expired",
        "schedule:\n  timezone: UTC\n  stop: { cron: \"0 19 * * ? 2020\" }\n  start: { cron: \"0 7 ? * MON-FRI 60\" }\n",
    );
    let (code, out, err) = run(tierctl_in(dir.path()).args(["validate"]));
    assert_eq!(code, 1, "{err}");
    insta::assert_snapshot!("validate_schedule_errors", out);
}

#[test]
fn validate_warns_and_strict_refuses() {
    let dir = tempfile::tempdir().unwrap();
    workload(
        dir.path(),
        "Weekend",
        "schedule:\n  timezone: Europe/Berlin\n  stop: { cron: \"0 19 * * ? *\" }\n  start: { cron: \"0 7 ? * MON-FRI *\" }\n",
    );
    workload(
        dir.path(),
        "Clash",
        "schedule:\n  timezone: America/New_York\n  stop: { cron: \"0 7 ? * MON-FRI *\" }\n  start: { cron: \"0 7 ? * MON-FRI *\" }\n",
    );
    let (code, out, err) = run(tierctl_in(dir.path()).args(["validate"]));
    assert_eq!(code, 0, "warnings only: {err}");
    insta::assert_snapshot!("validate_schedule_warnings", out);
    let (code, out, _) = run(tierctl_in(dir.path()).args(["validate", "--strict"]));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("(a warning, an error with --strict)"), "{out}");
}
