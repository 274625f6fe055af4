//! Notifications to humans: what a run did that someone should look at,
//! as one message per workload and run. Pure: no I/O (publishing is
//! `aws::sns`, the wiring `cli::run`).
//!
//! A workload needs a message when an instance was bypassed (override file
//! present), held back, failed or not attempted, or when an [`Event`]
//! happened to it (kill switch, lock held by another run, SSM output bucket
//! in another region). Everything of one workload goes into one message,
//! grouped by status then tier, so 40 held-back instances make one message,
//! not 40. A workload with nothing to look at gets no message.
//!
//! SNS limits (see the AWS facts guide): the subject is ASCII, under 100
//! characters, without line breaks; the message at most 256 KB in bytes.

use std::collections::BTreeMap;

use crate::aws::{AwsErrorKind, classify};
use crate::execute::{Outcome, RunReport, Status, WorkloadReport};

/// Longest subject: SNS wants fewer than 100 characters.
pub const MAX_SUBJECT_CHARS: usize = 99;
/// Largest message in bytes: SNS allows 256 KB (262,144 bytes); a margin
/// stays free for the transport's own envelope.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024 - 4 * 1024;
/// Longest detail shown for one instance, in characters.
const MAX_DETAIL_CHARS: usize = 600;

/// Something that happened to a workload, besides instance outcomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The kill switch is on: nothing was done.
    KillSwitch,
    /// The workload's lock was not taken: not run.
    Locked {
        /// Another run holds it (else: the lock table failed).
        held: bool,
        /// Why, as the lock refusal says it.
        why: String,
    },
    /// The SSM output bucket is not in the workload's region: SSM cannot
    /// write command output there.
    BucketRegion {
        /// The bucket.
        bucket: String,
        /// Where it is.
        bucket_region: String,
        /// Where the workload is.
        workload_region: String,
    },
}

impl Event {
    fn short(&self) -> &'static str {
        match self {
            Event::KillSwitch => "kill switch on, nothing done",
            Event::Locked { held: true, .. } => "not run, locked by another run",
            Event::Locked { held: false, .. } => "not run, lock not taken",
            Event::BucketRegion { .. } => "SSM output bucket in another region",
        }
    }

    fn text(&self) -> String {
        match self {
            Event::KillSwitch => {
                "The kill switch is on (`disabled: true`, DisableAllSchedulingActions = \"1\"): \
nothing was done for this workload."
                    .into()
            }
            Event::Locked { why, .. } => format!("Not run: {why}."),
            Event::BucketRegion {
                bucket,
                bucket_region,
                workload_region,
            } => format!(
                "The SSM output bucket {bucket} is in {bucket_region}, but the workload is in {workload_region}: \
SSM cannot write command output there. The override checks are not affected (tierctl never reads that output), \
but the audit copy is lost. Move the bucket or change ssm.outputBucket."
            ),
        }
    }
}

/// One message to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The workload it is about.
    pub workload: String,
    /// ASCII, under 100 characters, one line.
    pub subject: String,
    /// Plain text, at most [`MAX_MESSAGE_BYTES`].
    pub message: String,
}

/// The statuses that need a human, in the order they are listed.
const ATTENTION: [(Status, &str, &str); 4] = [
    (
        Status::Bypassed,
        "Bypassed",
        "the owner's override file is present; kept running on purpose",
    ),
    (
        Status::HeldBack,
        "Held back",
        "not acted on for safety; look at the reason",
    ),
    (
        Status::Failed,
        "Failed",
        "an AWS call failed or the instance did not reach its state",
    ),
    (
        Status::NotAttempted,
        "Not attempted",
        "not tried after a halt or an interruption",
    ),
];

/// The notifications of a run: at most one per workload, in report order.
///
/// `events` are keyed by workload name; `names` maps instance ids to their
/// `Name` tag, where known.
pub fn notifications(
    report: &RunReport,
    events: &BTreeMap<String, Vec<Event>>,
    names: &BTreeMap<String, String>,
) -> Vec<Notification> {
    report
        .workloads
        .iter()
        .filter_map(|w| {
            let evs = events.get(&w.name).map(Vec::as_slice).unwrap_or_default();
            workload_notification(report, w, evs, names, MAX_MESSAGE_BYTES)
        })
        .collect()
}

fn is_throttled(o: &Outcome) -> bool {
    o.status == Status::Failed
        && o.error_code
            .as_deref()
            .is_some_and(|c| classify(c) == AwsErrorKind::Throttled)
}

fn workload_notification(
    report: &RunReport,
    w: &WorkloadReport,
    events: &[Event],
    names: &BTreeMap<String, String>,
    max_bytes: usize,
) -> Option<Notification> {
    let count = |s: Status| w.outcomes.iter().filter(|o| o.status == s).count();
    let needs = ATTENTION.iter().any(|(s, _, _)| count(*s) > 0);
    if !needs && events.is_empty() {
        return None;
    }
    let throttled: Vec<&Outcome> = w.outcomes.iter().filter(|o| is_throttled(o)).collect();

    // Subject: workload, action and outcome.
    let mut parts: Vec<String> = events.iter().map(|e| e.short().to_string()).collect();
    for (s, label, _) in ATTENTION {
        let n = count(s);
        if n > 0 {
            parts.push(format!("{n} {}", label.to_ascii_lowercase()));
        }
    }
    if !throttled.is_empty() {
        parts.push(format!("{} throttled", throttled.len()));
    }
    let action = report.action.as_str();
    let dry = if report.dry_run { " (dry run)" } else { "" };
    let outcome = parts.join(", ");
    let subject = subject(&format!("tierctl {action}{dry}"), &w.name, &outcome);

    // Message.
    let mut lines: Vec<Line> = Vec::new();
    let mut head = |t: String| lines.push(Line::head(t));
    head(format!(
        "tierctl {action}{dry} of workload {}: {outcome}.",
        w.name
    ));
    let mut totals: BTreeMap<Status, usize> = BTreeMap::new();
    for o in &w.outcomes {
        *totals.entry(o.status).or_default() += 1;
    }
    if !totals.is_empty() {
        let all: Vec<String> = totals
            .iter()
            .map(|(s, n)| format!("{n} {}", s.words()))
            .collect();
        head(format!(
            "Instances: {} in all: {}.",
            w.outcomes.len(),
            all.join(", ")
        ));
    }
    let mut notes: Vec<String> = events.iter().map(Event::text).collect();
    if !throttled.is_empty() {
        let mut codes: Vec<&str> = throttled
            .iter()
            .filter_map(|o| o.error_code.as_deref())
            .collect();
        codes.sort_unstable();
        codes.dedup();
        notes.push(format!(
            "AWS kept throttling the calls for {} instance(s) after every retry ({}); they are listed under Failed. \
Run again later, or lower --concurrency.",
            throttled.len(),
            codes.join(", ")
        ));
    }
    if w.halted {
        notes.push(
            "Later waves were halted because a tier did not fully reach its state (--continue-on-error goes on)."
                .into(),
        );
    }
    if report.interrupted {
        notes.push("The run was interrupted by the operator.".into());
    }
    if !notes.is_empty() {
        lines.push(Line::head(String::new()));
        lines.push(Line::head("Events:".into()));
        lines.extend(notes.into_iter().map(|n| Line::head(format!("- {n}"))));
    }
    // Tiers in the report's order (the order they first appear).
    let mut tiers: Vec<&str> = Vec::new();
    for o in &w.outcomes {
        if !tiers.contains(&o.tier.as_str()) {
            tiers.push(&o.tier);
        }
    }
    for (status, label, meaning) in ATTENTION {
        let of: Vec<&Outcome> = w.outcomes.iter().filter(|o| o.status == status).collect();
        if of.is_empty() {
            continue;
        }
        lines.push(Line::head(String::new()));
        lines.push(Line::head(format!("{label} ({}): {meaning}", of.len())));
        for (tier, members) in by_tier(&tiers, &of) {
            lines.push(Line::head(format!("  tier {tier} ({}):", members.len())));
            for o in members {
                lines.push(Line::instance(instance_line(o, names)));
            }
        }
    }
    lines.push(Line::head(String::new()));
    lines.push(Line::head(format!(
        "Sent by tierctl run {action}; the run's report (stdout, -o json) has every instance's outcome."
    )));
    Some(Notification {
        workload: w.name.clone(),
        subject,
        message: cap(&lines, max_bytes),
    })
}

/// Groups outcomes by tier, in the given tier order.
fn by_tier<'a>(tiers: &[&'a str], outcomes: &[&'a Outcome]) -> Vec<(&'a str, Vec<&'a Outcome>)> {
    tiers
        .iter()
        .map(|t| {
            let of: Vec<&Outcome> = outcomes.iter().copied().filter(|o| o.tier == *t).collect();
            (*t, of)
        })
        .filter(|(_, of)| !of.is_empty())
        .collect()
}

fn instance_line(o: &Outcome, names: &BTreeMap<String, String>) -> String {
    let mut line = format!("    {}", crate::report::member_label(o));
    if let Some(n) = names.get(&o.instance).filter(|n| !n.is_empty()) {
        line.push_str(&format!(" ({})", one_line(n, 128)));
    }
    if let Some(d) = &o.detail {
        line.push_str(": ");
        line.push_str(&one_line(d, MAX_DETAIL_CHARS));
    }
    if let Some(c) = &o.error_code
        && !o.detail.as_deref().unwrap_or_default().contains(c.as_str())
    {
        line.push_str(&format!(" [{c}]"));
    }
    line
}

/// Text on one line, at most `max` characters (cut with `...`).
fn one_line(s: &str, max: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if crate::text::is_unsafe(c) { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max.saturating_sub(3)).collect();
    cut.push_str("...");
    cut
}

/// A message line; instance lines are what the cap counts as "more".
struct Line {
    text: String,
    instance: bool,
}

impl Line {
    fn head(text: String) -> Line {
        Line {
            text,
            instance: false,
        }
    }
    fn instance(text: String) -> Line {
        Line {
            text,
            instance: true,
        }
    }
}

/// Joins the lines, keeping the result within `max_bytes`: when they do not
/// fit, the message ends with a "… N more" line.
fn cap(lines: &[Line], max_bytes: usize) -> String {
    let total: usize = lines.iter().map(|l| l.text.len() + 1).sum();
    if total <= max_bytes {
        let mut out = String::with_capacity(total);
        for l in lines {
            out.push_str(&l.text);
            out.push('\n');
        }
        return out;
    }
    // Room for the closing line (its number has at most 20 digits).
    let reserve = 160;
    let budget = max_bytes.saturating_sub(reserve);
    let mut out = String::new();
    let mut kept = 0;
    for l in lines {
        if out.len() + l.text.len() + 1 > budget {
            break;
        }
        out.push_str(&l.text);
        out.push('\n');
        kept += 1;
    }
    let more = lines[kept..].iter().filter(|l| l.instance).count();
    out.push_str(&format!(
        "… {more} more instance(s) not listed: the message reached the SNS size limit. \
The run's report has every one.\n"
    ));
    out
}

/// A subject SNS accepts: `{prefix} {workload}: {outcome}`, ASCII only
/// (anything else becomes `?`), no line breaks, under 100 characters. A long
/// workload name is shortened first, so the outcome stays readable.
pub fn subject(prefix: &str, workload: &str, outcome: &str) -> String {
    let (prefix, name, outcome) = (ascii(prefix), ascii(workload), ascii(outcome));
    let fixed = prefix.len() + 1 + 2 + outcome.len();
    let room = MAX_SUBJECT_CHARS.saturating_sub(fixed).max(16);
    let name = if name.len() > room {
        shorten(&name, room)
    } else {
        name
    };
    shorten(&format!("{prefix} {name}: {outcome}"), MAX_SUBJECT_CHARS)
}

/// Printable ASCII: control characters become spaces, anything else `?`.
fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ' '..='~' => c,
            c if c.is_control() => ' ',
            _ => '?',
        })
        .collect()
}

/// Cuts ASCII text to `max` bytes, ending with `...` when cut.
fn shorten(s: &str, max: usize) -> String {
    debug_assert!(s.is_ascii());
    if s.len() <= max {
        s.to_string()
    } else if max <= 3 {
        s[..max].to_string()
    } else {
        format!("{}...", &s[..max - 3])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Action;

    fn o(tier: &str, id: &str, status: Status, detail: &str) -> Outcome {
        Outcome {
            workload: "Shop".into(),
            tier: tier.into(),
            instance: id.into(),
            status,
            detail: (!detail.is_empty()).then(|| detail.to_string()),
            error_code: None,
            old_type: None,
            new_type: None,
            load_balancers: Vec::new(),
            database: None,
            at_ms: 0,
            member: None,
        }
    }

    fn report(name: &str, outcomes: Vec<Outcome>) -> RunReport {
        RunReport {
            action: Action::Stop,
            dry_run: false,
            interrupted: false,
            workloads: vec![WorkloadReport {
                name: name.into(),
                skipped: None,
                halted: false,
                outcomes,
                elapsed_ms: 0,
            }],
            elapsed_ms: 0,
        }
    }

    fn one(r: &RunReport, events: &[Event]) -> Option<Notification> {
        let mut ev = BTreeMap::new();
        if !events.is_empty() {
            ev.insert(r.workloads[0].name.clone(), events.to_vec());
        }
        let names = BTreeMap::from([("i-1".to_string(), "web-1".to_string())]);
        let mut all = notifications(r, &ev, &names);
        assert!(all.len() <= 1);
        all.pop()
    }

    #[test]
    fn a_clean_run_sends_nothing() {
        let r = report(
            "Shop",
            vec![
                o("web", "i-1", Status::Stopped, ""),
                o("db", "i-2", Status::Unchanged, "already stopped"),
            ],
        );
        assert_eq!(one(&r, &[]), None);
    }

    #[test]
    fn one_message_grouped_by_status_then_tier() {
        let mut outcomes = vec![
            o(
                "web",
                "i-1",
                Status::Bypassed,
                "override file /tmp/keep is present",
            ),
            o("web", "i-3", Status::Stopped, ""),
        ];
        for n in 0..40 {
            outcomes.push(o(
                "app",
                &format!("i-a{n:02}"),
                Status::HeldBack,
                "override file could not be checked: SSM agent not online",
            ));
        }
        outcomes.push(o("web", "i-2", Status::HeldBack, "pending"));
        let mut failed = o(
            "db",
            "i-9",
            Status::Failed,
            "stop failed: ec2:StopInstances: RequestLimitExceeded: Request limit exceeded.",
        );
        failed.error_code = Some("RequestLimitExceeded".into());
        outcomes.push(failed);
        let n = one(&report("Shop", outcomes), &[]).expect("a message");
        assert_eq!(
            n.subject,
            "tierctl stop Shop: 1 bypassed, 41 held back, 1 failed, 1 throttled"
        );
        let m = &n.message;
        let pos = |s: &str| m.find(s).unwrap_or_else(|| panic!("{s} in:\n{m}"));
        assert!(pos("Bypassed (1)") < pos("Held back (41)"));
        assert!(pos("Held back (41)") < pos("Failed (1)"));
        // Within a status, tiers in report order: web came first.
        assert!(pos("Held back (41)") < pos("  tier web (1):\n    i-2: pending"));
        assert!(pos("    i-2: pending") < pos("  tier app (40):"));
        assert!(m.contains("    i-1 (web-1): override file /tmp/keep is present\n"));
        for n in 0..40 {
            assert!(m.contains(&format!(
                "    i-a{n:02}: override file could not be checked"
            )));
        }
        assert!(m.contains("AWS kept throttling the calls for 1 instance(s) after every retry (RequestLimitExceeded)"));
        assert!(m.contains("Instances: 44 in all: 1 stopped, 1 bypassed, 41 held back, 1 failed."));
        assert!(!m.contains("i-3"), "stopped instances are only counted");
    }

    #[test]
    fn events_alone_make_a_message() {
        let r = report("Shop", vec![]);
        let n = one(&r, &[Event::KillSwitch]).expect("a message");
        assert_eq!(n.subject, "tierctl stop Shop: kill switch on, nothing done");
        assert!(n.message.contains("The kill switch is on"));
        let n = one(
            &r,
            &[Event::Locked {
                held: true,
                why: "another run holds its lock: bob@host (pid 7)".into(),
            }],
        )
        .unwrap();
        assert_eq!(
            n.subject,
            "tierctl stop Shop: not run, locked by another run"
        );
        assert!(
            n.message
                .contains("Not run: another run holds its lock: bob@host (pid 7).")
        );
        let r = report("Shop", vec![o("web", "i-1", Status::Stopped, "")]);
        let n = one(
            &r,
            &[Event::BucketRegion {
                bucket: "audit".into(),
                bucket_region: "eu-west-1".into(),
                workload_region: "us-west-2".into(),
            }],
        )
        .unwrap();
        assert_eq!(
            n.subject,
            "tierctl stop Shop: SSM output bucket in another region"
        );
        assert!(n.message.contains(
            "The SSM output bucket audit is in eu-west-1, but the workload is in us-west-2"
        ));
    }

    #[test]
    fn dry_runs_and_halts_say_so() {
        let mut r = report(
            "Shop",
            vec![o(
                "db",
                "i-5",
                Status::NotAttempted,
                "an earlier wave did not complete",
            )],
        );
        r.dry_run = true;
        r.workloads[0].halted = true;
        let n = one(&r, &[]).unwrap();
        assert_eq!(n.subject, "tierctl stop (dry run) Shop: 1 not attempted");
        assert!(n.message.contains("Later waves were halted"));
    }

    #[test]
    fn subjects_are_short_ascii_single_lines() {
        let long = "W".repeat(128);
        let s = subject("tierctl stop", &long, "2 bypassed, 1 held back");
        assert!(s.len() < 100, "{} chars", s.len());
        assert!(s.ends_with("...: 2 bypassed, 1 held back"), "{s}");
        assert!(s.starts_with("tierctl stop WWW"));

        let s = subject("tierctl start", "Zürich-日本\nnext", "1 failed");
        assert_eq!(s, "tierctl start Z?rich-?? next: 1 failed");
        assert!(s.is_ascii());

        let huge = "1 failed, ".repeat(30);
        let s = subject("tierctl stop", "Shop", &huge);
        assert!(s.len() < 100 && s.is_ascii() && s.ends_with("..."), "{s}");
        assert!(s.starts_with("tierctl stop Shop: 1 failed"));
        for s in [
            subject("tierctl stop", "", ""),
            subject("tierctl stop", &"é".repeat(300), &"ü".repeat(300)),
        ] {
            assert!(s.len() < 100 && s.is_ascii() && !s.contains('\n'), "{s}");
        }
    }

    #[test]
    fn long_messages_are_capped_with_a_count() {
        let outcomes: Vec<Outcome> = (0..5000)
            .map(|n| {
                o(
                    "app",
                    &format!("i-{n:017x}"),
                    Status::HeldBack,
                    &format!("override file could not be checked: {}", "x".repeat(60)),
                )
            })
            .collect();
        let r = report("Shop", outcomes);
        let w = &r.workloads[0];
        let n = workload_notification(&r, w, &[], &BTreeMap::new(), MAX_MESSAGE_BYTES).unwrap();
        assert!(n.message.len() <= MAX_MESSAGE_BYTES, "{}", n.message.len());
        assert!(n.message.len() < 256 * 1024);
        let listed = n.message.matches("    i-").count();
        let last = n.message.lines().last().unwrap();
        assert_eq!(
            last,
            format!(
                "… {} more instance(s) not listed: the message reached the SNS size limit. The run's report has every one.",
                5000 - listed
            )
        );
        assert!(listed > 1000, "{listed}");

        // A small cap, with multi-byte details: still within the bytes.
        let outcomes: Vec<Outcome> = (0..30)
            .map(|n| o("web", &format!("i-{n}"), Status::Bypassed, &"ü".repeat(50)))
            .collect();
        let r = report("Shop", outcomes);
        let n = workload_notification(&r, &r.workloads[0], &[], &BTreeMap::new(), 2000).unwrap();
        assert!(n.message.len() <= 2000, "{}", n.message.len());
        assert!(n.message.contains(" more instance(s) not listed"));
    }

    /// Subject and message as one snapshot text.
    fn shown(n: &Notification) -> String {
        format!(
            "workload: {}\nsubject: {}\n---\n{}",
            n.workload, n.subject, n.message
        )
    }

    fn failed(tier: &str, id: &str, detail: &str, code: &str) -> Outcome {
        let mut f = o(tier, id, Status::Failed, detail);
        f.error_code = Some(code.into());
        f
    }

    /// Snapshots of representative messages. The inputs are fixed (ids,
    /// `atMs` and elapsed times are constants), so nothing needs redacting;
    /// times are never part of a message.
    #[test]
    fn snapshot_bypassed_held_back_failed_not_attempted() {
        let mut r = report(
            "Shop",
            vec![
                o(
                    "web",
                    "i-1",
                    Status::Bypassed,
                    "override file /tmp/keep is present",
                ),
                o("web", "i-3", Status::Stopped, ""),
                o(
                    "web",
                    "i-4",
                    Status::HeldBack,
                    "override file could not be checked: SSM agent not online",
                ),
                o(
                    "app",
                    "i-5",
                    Status::HeldBack,
                    "state pending: not acted on",
                ),
                failed(
                    "app",
                    "i-6",
                    "stop failed: ec2:StopInstances: UnauthorizedOperation: You are not authorized",
                    "UnauthorizedOperation",
                ),
                failed(
                    "app",
                    "i-7",
                    "stop failed: ec2:StopInstances: RequestLimitExceeded: Request limit exceeded.",
                    "RequestLimitExceeded",
                ),
                o(
                    "db",
                    "i-8",
                    Status::NotAttempted,
                    "an earlier wave did not complete",
                ),
            ],
        );
        r.workloads[0].halted = true;
        let n = one(&r, &[]).expect("a message");
        insta::assert_snapshot!("stop_mixed", shown(&n));
    }

    /// DB instances and clusters: named as such, kept running by their tag,
    /// held back by AWS's refusals, failed at the health gate.
    #[test]
    fn databases_are_named_in_the_message() {
        let db = |id: &str, kind, status, detail: &str| Outcome {
            database: Some(kind),
            ..o("db", id, status, detail)
        };
        use crate::observe::DatabaseKind::{Cluster, Instance};
        let mut r = report(
            "Shop",
            vec![
                db(
                    "audit",
                    Instance,
                    Status::Bypassed,
                    "tag tierctl:keep-running=true: kept running",
                ),
                db(
                    "reports-ro",
                    Instance,
                    Status::HeldBack,
                    "a read replica (of reports): AWS refuses to stop read replicas; not stopped",
                ),
                db(
                    "sales",
                    Cluster,
                    Status::Failed,
                    "health gate: not available within 3s (status starting); later waves are not started",
                ),
                o(
                    "web",
                    "i-1",
                    Status::NotAttempted,
                    "an earlier wave did not complete",
                ),
            ],
        );
        r.action = Action::Start;
        r.workloads[0].halted = true;
        let text = shown(&one(&r, &[]).expect("a message"));
        for want in [
            "DB instance audit: tag tierctl:keep-running=true: kept running",
            "DB instance reports-ro: a read replica (of reports)",
            "DB cluster sales: health gate: not available within 3s (status starting)",
        ] {
            assert!(text.contains(want), "missing `{want}`:\n{text}");
        }
    }

    #[test]
    fn snapshot_kill_switch() {
        let r = report("Shop", vec![]);
        let n = one(&r, &[Event::KillSwitch]).expect("a message");
        insta::assert_snapshot!("kill_switch", shown(&n));
    }

    #[test]
    fn snapshot_interrupted_start_with_events() {
        let mut r = report(
            "Shop",
            vec![
                o("db", "i-8", Status::Started, ""),
                o(
                    "web",
                    "i-1",
                    Status::NotAttempted,
                    "the run was interrupted",
                ),
            ],
        );
        r.action = Action::Start;
        r.dry_run = true;
        r.interrupted = true;
        let events = [Event::BucketRegion {
            bucket: "audit".into(),
            bucket_region: "eu-west-1".into(),
            workload_region: "us-west-2".into(),
        }];
        let n = one(&r, &events).expect("a message");
        insta::assert_snapshot!("start_interrupted_events", shown(&n));
    }

    #[test]
    fn snapshot_locked() {
        let r = report("Shop", vec![]);
        let events = [Event::Locked {
            held: true,
            why: "another run holds its lock: bob@host (pid 7), since 12:00:00 UTC".into(),
        }];
        let n = one(&r, &events).expect("a message");
        insta::assert_snapshot!("locked", shown(&n));
    }

    #[test]
    fn details_stay_on_one_line_and_bounded() {
        let d = format!("line one\nline two {}", "z".repeat(2000));
        let r = report("Shop", vec![o("web", "i-1", Status::Failed, &d)]);
        let n = one(&r, &[]).unwrap();
        let line = n.message.lines().find(|l| l.contains("i-1")).unwrap();
        assert!(line.contains("line one line two"));
        assert!(line.chars().count() < MAX_DETAIL_CHARS + 40);
    }

    #[test]
    fn a_group_that_failed_its_health_gate_is_named_as_a_group() {
        let mut g = o(
            "web",
            "shop-web",
            Status::Failed,
            "not healthy within 3s: 0 of 2 instance(s) InService (2 Pending)",
        );
        g.member = Some(crate::spec::MemberKind::Asg);
        let r = report(
            "Shop",
            vec![g, o("app", "i-1", Status::NotAttempted, "halted")],
        );
        let n = one(&r, &[]).expect("a failure needs a human");
        assert!(
            n.message.contains(
                "group shop-web: not healthy within 3s: 0 of 2 instance(s) InService (2 Pending)"
            ),
            "{}",
            n.message
        );
    }
}
