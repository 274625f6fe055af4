//! The workloads' schedules in Amazon EventBridge Scheduler: what `sync`
//! wants there, and the difference to what is there. Pure: no I/O.
//!
//! - One schedule group, [`GROUP`], tagged `ManagedBy` with the owner that
//!   created it.
//! - One schedule per workload and action, named [`schedule_name`]
//!   (`<workload>-stop`, `<workload>-start`), `cron(<six fields>)` in the
//!   workload's time zone (`ScheduleExpressionTimezone`: AWS handles daylight
//!   saving time), flexible time window off, target the runner function with
//!   the [`RunnerEvent`] as input, a retry policy whose event age is the
//!   event's `maxAgeSeconds`, and the dead-letter queue when one is
//!   configured.
//! - A workload with `disabled: true` keeps its schedules, `DISABLED`: the
//!   schedule does not fire (no invocation to refuse), and enabling the
//!   workload in its spec enables them again on the next sync.
//! - Only groups take tags, so the owning repository is recorded as the first
//!   word of each schedule's `Description` (the same `tierctl:<repository>`
//!   marker as the items' `ManagedBy`). A schedule is this repository's when
//!   its marker is; sync never writes or deletes another repository's
//!   schedules or schedules without a tierctl marker (it reports them).
//! - A declared workload's schedules that its spec no longer asks for (its
//!   `schedule`, or one of `stop` / `start`, removed) are deleted with or
//!   without `--prune`; schedules of workloads that are in no spec any more
//!   are deleted only with `--prune`.

use std::collections::{BTreeMap, BTreeSet};

use owo_colors::OwoColorize;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::owner::{Owner, Ownership};
use crate::aws::scheduler::Definition;
use crate::plan::Action;
use crate::runner::event::{DEFAULT_MAX_AGE_SECONDS, RunnerEvent};
use crate::spec::Workload;

/// tierctl's schedule group.
pub const GROUP: &str = "tierctl";

/// The tag key on the group naming the owner that created it.
pub const GROUP_TAG_KEY: &str = "ManagedBy";

/// `MaximumRetryAttempts` of every schedule. Scheduler retries only when
/// Lambda does not accept the (asynchronous) invocation, e.g. when throttled;
/// the event's age (one hour) bounds the retries anyway, and a duplicate
/// event is harmless to the runner, so retrying generously is safe.
pub const MAX_RETRY_ATTEMPTS: i32 = 10;

/// Longest schedule name AWS accepts.
pub const MAX_NAME: usize = 64;

/// Where the schedules' invocations go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    /// The runner function's ARN (`--runner-arn`, `TIERCTL_RUNNER_ARN`).
    pub runner_arn: Option<String>,
    /// The role Scheduler assumes to invoke it (`--scheduler-role-arn`, `TIERCTL_SCHEDULER_ROLE_ARN`).
    pub role_arn: Option<String>,
    /// An SQS queue for events that could not be delivered (`--dead-letter-arn`, `TIERCTL_DEAD_LETTER_ARN`).
    pub dead_letter_arn: Option<String>,
}

impl Targets {
    /// Whether schedules are managed at all: some spec has a schedule, or a
    /// runner is configured (so that removing the last schedule still deletes it).
    pub fn managed(&self, workloads: &[&Workload]) -> bool {
        self.runner_arn.is_some() || workloads.iter().any(|w| w.schedule.is_some())
    }

    /// Checks that what the schedules need is configured: the runner and the
    /// role whenever some workload has a schedule, and ARNs that look like ARNs.
    pub fn check(&self, workloads: &[&Workload]) -> Result<(), ScheduleError> {
        let scheduled: Vec<String> = workloads
            .iter()
            .filter(|w| w.schedule.is_some())
            .map(|w| w.name.clone())
            .collect();
        for (flag, env, value, service, kind) in [
            (
                "--runner-arn",
                "TIERCTL_RUNNER_ARN",
                &self.runner_arn,
                "lambda",
                "function",
            ),
            (
                "--scheduler-role-arn",
                "TIERCTL_SCHEDULER_ROLE_ARN",
                &self.role_arn,
                "iam",
                "role",
            ),
            (
                "--dead-letter-arn",
                "TIERCTL_DEAD_LETTER_ARN",
                &self.dead_letter_arn,
                "sqs",
                "",
            ),
        ] {
            match value {
                None if !scheduled.is_empty() && !kind.is_empty() => {
                    return Err(ScheduleError::NotConfigured {
                        workloads: scheduled,
                        flag,
                        env,
                    });
                }
                None => {}
                Some(arn) => {
                    let parts: Vec<&str> = arn.splitn(6, ':').collect();
                    let ok = parts.len() == 6
                        && parts[0] == "arn"
                        && parts[2] == service
                        && !parts[5].is_empty()
                        && (kind.is_empty()
                            || parts[5].starts_with(&format!("{kind}:"))
                            || parts[5].starts_with(&format!("{kind}/")));
                    if !ok {
                        return Err(ScheduleError::BadArn {
                            flag,
                            value: arn.clone(),
                            want: match service {
                                "lambda" => {
                                    "arn:aws:lambda:REGION:ACCOUNT:function:NAME (the runner function)"
                                }
                                "iam" => "arn:aws:iam::ACCOUNT:role/NAME (Scheduler's role)",
                                _ => "arn:aws:sqs:REGION:ACCOUNT:NAME (an SQS queue)",
                            },
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

/// Why schedules cannot be synced; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// Some workload has a schedule, but no runner (or no role) is configured.
    #[error(
        "{} {} a schedule, but {flag} is not set (or {env}): deploy the runner (deploy/tierctl-runner.yaml) and pass its output; nothing was written",
        if workloads.len() == 1 { "workload" } else { "workloads" },
        if workloads.len() == 1 { format!("{} has", workloads[0]) } else { format!("{} have", workloads.join(", ")) }
    )]
    NotConfigured {
        /// The workloads with a schedule.
        workloads: Vec<String>,
        /// The missing flag.
        flag: &'static str,
        /// Its environment variable.
        env: &'static str,
    },
    /// An ARN of the wrong shape.
    #[error("{flag} {value:?} is not an ARN of the right kind: use {want}; nothing was written")]
    BadArn {
        /// The flag.
        flag: &'static str,
        /// What was given.
        value: String,
        /// What it should look like.
        want: &'static str,
    },
    /// Two schedules would get the same name.
    #[error(
        "the schedules of workloads {first} and {second} would both be named {name}: rename one of the workloads; nothing was written"
    )]
    NameClash {
        /// The name.
        name: String,
        /// One workload.
        first: String,
        /// The other.
        second: String,
    },
}

fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// The schedule name of `workload`'s `action`: `<workload>-<action>` when
/// that is a valid name (1-64 of `[0-9a-zA-Z-_.]`); otherwise the workload
/// name with other characters as `-`, shortened to fit, then `-` and the
/// first 8 hex digits of the workload name's SHA-256, then `-<action>`.
/// Deterministic, and distinct for distinct workloads.
pub fn schedule_name(workload: &str, action: Action) -> String {
    let suffix = format!("-{}", action.as_str());
    let plain = format!("{workload}{suffix}");
    if plain.len() <= MAX_NAME && plain.chars().all(name_char) {
        return plain;
    }
    let digest = Sha256::digest(workload.as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let room = MAX_NAME - suffix.len() - hash.len() - 1;
    let cleaned: String = workload
        .chars()
        .map(|c| if name_char(c) { c } else { '-' })
        .take(room)
        .collect();
    format!("{cleaned}-{hash}{suffix}")
}

/// The `Description` of a schedule: the owner's marker first, then what it is.
pub fn description(owner: &Owner, workload: &str, action: Action) -> String {
    let text = format!(
        "{} {} of workload {workload}, written by tierctl sync: edits are overwritten",
        owner.marker(),
        action.as_str()
    );
    text.chars().take(512).collect()
}

/// The owner marker a schedule's description names (its first word).
pub fn marker_of(description: Option<&str>) -> Option<&str> {
    let first = description?.split_whitespace().next()?;
    (first == super::item::OWNER_VALUE
        || first.starts_with(&format!("{}:", super::item::OWNER_VALUE)))
    .then_some(first)
}

/// One desired schedule: which workload and action it runs, and its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// The workload.
    pub workload: String,
    /// stop or start.
    pub action: Action,
    /// The schedule.
    pub definition: Definition,
}

/// The schedules `workloads` ask for, by name. `targets` must have passed
/// [`Targets::check`].
pub fn desired(
    workloads: &[&Workload],
    owner: &Owner,
    targets: &Targets,
) -> Result<BTreeMap<String, Desired>, ScheduleError> {
    let mut out: BTreeMap<String, Desired> = BTreeMap::new();
    for w in workloads {
        let Some(s) = &w.schedule else { continue };
        let entries = [
            s.stop
                .as_ref()
                .map(|x| (Action::Stop, x.cron.as_str(), None)),
            s.start
                .as_ref()
                .map(|x| (Action::Start, x.cron.as_str(), x.profile.as_deref())),
        ];
        for (action, cron, profile) in entries.into_iter().flatten() {
            let name = schedule_name(&w.name, action);
            let event = RunnerEvent::scheduled(action, &w.name, profile, DEFAULT_MAX_AGE_SECONDS);
            let definition = Definition {
                name: name.clone(),
                group: GROUP.to_string(),
                description: Some(description(owner, &w.name, action)),
                expression: format!(
                    "cron({})",
                    cron.split_whitespace().collect::<Vec<_>>().join(" ")
                ),
                timezone: Some(s.timezone.clone()),
                flexible_window: "OFF".into(),
                flexible_window_minutes: None,
                state: if w.disabled { "DISABLED" } else { "ENABLED" }.into(),
                target_arn: targets.runner_arn.clone().unwrap_or_default(),
                role_arn: targets.role_arn.clone().unwrap_or_default(),
                input: Some(serde_json::to_string(&event).expect("serialisable")),
                max_event_age_seconds: Some(
                    i32::try_from(event.max_age_seconds.unwrap_or(DEFAULT_MAX_AGE_SECONDS))
                        .unwrap_or(i32::MAX),
                ),
                max_retry_attempts: Some(MAX_RETRY_ATTEMPTS),
                dead_letter_arn: targets.dead_letter_arn.clone(),
                other_fields: Vec::new(),
            };
            if let Some(prev) = out.get(&name) {
                return Err(ScheduleError::NameClash {
                    name,
                    first: prev.workload.clone(),
                    second: w.name.clone(),
                });
            }
            out.insert(
                name,
                Desired {
                    workload: w.name.clone(),
                    action,
                    definition,
                },
            );
        }
    }
    Ok(out)
}

/// What happens to one schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Created.
    Create,
    /// Updated to the spec.
    Update,
    /// Deleted: its workload no longer asks for it, or pruned.
    Delete,
    /// As the spec says.
    Unchanged,
    /// This repository's, but its workload is in no spec: left alone (`--prune` deletes it).
    Orphan,
    /// The name a spec asks for is taken by a schedule of another
    /// repository or one tierctl did not make: not written.
    Foreign,
    /// Another repository's (or not tierctl's) and not asked for: left alone.
    Other,
}

impl Change {
    /// Whether sync writes.
    pub fn writes(self) -> bool {
        matches!(self, Change::Create | Change::Update | Change::Delete)
    }
}

/// One schedule of [`SchedulePlan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleChange {
    /// Schedule name.
    pub name: String,
    /// The workload it runs (from the spec, or the schedule's input).
    pub workload: Option<String>,
    /// The action it runs.
    pub action: Option<Action>,
    /// What happens.
    pub change: Change,
    /// As found.
    pub before: Option<Definition>,
    /// As written.
    pub after: Option<Definition>,
    /// Why, for people.
    pub note: Option<String>,
}

/// The schedules' difference: the group and every schedule, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulePlan {
    /// Scheduler's region (the configuration tables').
    pub region: String,
    /// Whether [`GROUP`] exists.
    pub group_exists: bool,
    /// Every schedule desired or found, by name.
    pub schedules: Vec<ScheduleChange>,
}

impl SchedulePlan {
    /// Whether the group is created.
    pub fn creates_group(&self) -> bool {
        !self.group_exists && self.schedules.iter().any(|s| s.change == Change::Create)
    }

    /// Schedules created, updated or deleted.
    pub fn writes(&self) -> usize {
        self.schedules.iter().filter(|s| s.change.writes()).count()
    }

    /// Whether anything differs: writes, the group, names taken by others.
    pub fn drift(&self) -> bool {
        self.creates_group()
            || self
                .schedules
                .iter()
                .any(|s| s.change.writes() || s.change == Change::Foreign)
    }

    /// Schedules with `change`.
    pub fn count(&self, change: Change) -> usize {
        self.schedules.iter().filter(|s| s.change == change).count()
    }
}

/// Which schedules the sync may delete.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The workloads of the specs read (a workload's schedules it no longer
    /// asks for are deleted).
    pub declared: &'a BTreeSet<&'a str>,
    /// The specs are the whole folder (otherwise schedules of other
    /// workloads are not looked at).
    pub complete: bool,
    /// `--prune`: delete this repository's schedules of workloads in no spec.
    pub prune: bool,
}

fn input_field(d: &Definition, field: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(d.input.as_deref()?).ok()?;
    v.get(field)?.as_str().map(str::to_string)
}

fn action_of(d: &Definition) -> Option<Action> {
    match input_field(d, "action")?.as_str() {
        "stop" => Some(Action::Stop),
        "start" => Some(Action::Start),
        _ => None,
    }
}

/// Whether `current` is what `want` says, field by field (the input as JSON,
/// an absent time zone as UTC, and no field tierctl does not set).
pub fn same(want: &Definition, current: &Definition) -> bool {
    fields(want) == fields(current)
}

/// The fields of a schedule as `Field: value` lines, as the diff shows them.
pub fn fields(d: &Definition) -> String {
    let input = d
        .input
        .as_deref()
        .map(|i| {
            serde_json::from_str::<serde_json::Value>(i)
                .map(|v| v.to_string())
                .unwrap_or_else(|_| i.to_string())
        })
        .unwrap_or_default();
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let num = |v: Option<i32>| v.map(|n| n.to_string()).unwrap_or_default();
    let mut out = String::new();
    for (k, v) in [
        ("Description", opt(&d.description)),
        ("ScheduleExpression", d.expression.clone()),
        (
            "ScheduleExpressionTimezone",
            d.timezone.clone().unwrap_or_else(|| "UTC".into()),
        ),
        ("FlexibleTimeWindow.Mode", d.flexible_window.clone()),
        (
            "FlexibleTimeWindow.MaximumWindowInMinutes",
            num(d.flexible_window_minutes),
        ),
        ("State", d.state.clone()),
        ("Target.Arn", d.target_arn.clone()),
        ("Target.RoleArn", d.role_arn.clone()),
        ("Target.Input", input),
        (
            "Target.RetryPolicy.MaximumEventAgeInSeconds",
            num(d.max_event_age_seconds),
        ),
        (
            "Target.RetryPolicy.MaximumRetryAttempts",
            num(d.max_retry_attempts),
        ),
        ("Target.DeadLetterConfig.Arn", opt(&d.dead_letter_arn)),
    ] {
        if !v.is_empty() {
            out.push_str(&format!("{k}: {v}\n"));
        }
    }
    for f in &d.other_fields {
        out.push_str(&format!("{f}: (set, tierctl does not set it)\n"));
    }
    out
}

/// The difference between `desired` and the schedules found in the group
/// (`group_exists` false: none were read).
pub fn diff(
    region: &str,
    group_exists: bool,
    desired: &BTreeMap<String, Desired>,
    current: &[Definition],
    scope: Scope<'_>,
    owner: &Owner,
) -> SchedulePlan {
    let current: BTreeMap<&str, &Definition> =
        current.iter().map(|d| (d.name.as_str(), d)).collect();
    let names: BTreeSet<&str> = desired
        .keys()
        .map(String::as_str)
        .chain(current.keys().copied())
        .collect();
    let mut schedules = Vec::new();
    for name in names {
        let want = desired.get(name);
        let have = current.get(name).copied();
        let ownership = have.map(|h| owner.judge_marker(marker_of(h.description.as_deref())));
        let workload = want
            .map(|w| w.workload.clone())
            .or_else(|| have.and_then(|h| input_field(h, "workload")));
        let action = want.map(|w| w.action).or_else(|| have.and_then(action_of));
        let (change, note) = match (want, have, &ownership) {
            (Some(_), None, _) => (Change::Create, None),
            (Some(w), Some(h), Some(Ownership::Ours | Ownership::Unscoped)) => {
                if same(&w.definition, h) {
                    (Change::Unchanged, None)
                } else {
                    (Change::Update, None)
                }
            }
            (Some(_), Some(h), _) => (
                Change::Foreign,
                Some(match marker_of(h.description.as_deref()) {
                    Some(m) => format!(
                        "the name is taken by a schedule of another repository ({m}): not written"
                    ),
                    None => "the name is taken by a schedule tierctl did not make: not written"
                        .to_string(),
                }),
            ),
            (None, Some(_), Some(Ownership::Ours)) => {
                let declared = workload
                    .as_deref()
                    .is_some_and(|w| scope.declared.contains(w));
                if declared {
                    (
                        Change::Delete,
                        Some("its workload's spec no longer has this schedule".to_string()),
                    )
                } else if !scope.complete {
                    continue;
                } else if scope.prune {
                    (
                        Change::Delete,
                        Some("pruned: its workload is in no spec".to_string()),
                    )
                } else {
                    (
                        Change::Orphan,
                        Some(
                            "its workload is in no spec: left alone (--prune deletes it)"
                                .to_string(),
                        ),
                    )
                }
            }
            (None, Some(h), _) => {
                if !scope.complete {
                    continue;
                }
                (
                    Change::Other,
                    Some(match marker_of(h.description.as_deref()) {
                        Some(m) if m != owner.marker() => {
                            format!("another repository's ({m}): left alone")
                        }
                        _ => "not made by this repository's tierctl: left alone".to_string(),
                    }),
                )
            }
            (None, None, _) => continue,
        };
        let after = match change {
            Change::Create | Change::Update | Change::Unchanged => {
                want.map(|w| w.definition.clone())
            }
            _ => None,
        };
        schedules.push(ScheduleChange {
            name: name.to_string(),
            workload,
            action,
            change,
            before: have.cloned(),
            after,
            note,
        });
    }
    SchedulePlan {
        region: region.to_string(),
        group_exists,
        schedules,
    }
}

/// The unified diff of one schedule's fields (empty when unchanged).
pub fn schedule_diff(s: &ScheduleChange) -> String {
    if !s.change.writes() {
        return String::new();
    }
    let before = s.before.as_ref().map(fields).unwrap_or_default();
    let after = s.after.as_ref().map(fields).unwrap_or_default();
    let diff = similar::TextDiff::from_lines(&before, &after);
    let mut out = String::new();
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        out.push_str(&hunk.to_string());
    }
    out
}

fn word(c: Change) -> &'static str {
    match c {
        Change::Create => "create",
        Change::Update => "update",
        Change::Delete => "delete",
        Change::Unchanged => "unchanged",
        Change::Orphan => "orphan",
        Change::Foreign => "foreign",
        Change::Other => "other",
    }
}

/// Human text: the group, one line per schedule, the diff of each written one, totals.
pub fn text(plan: &SchedulePlan, color: bool) -> String {
    let mut out = format!("EventBridge Scheduler {} (group {GROUP})\n", plan.region);
    if plan.creates_group() {
        out.push_str(&format!(
            "  schedule group {GROUP} does not exist yet: it will be created\n"
        ));
    }
    for s in &plan.schedules {
        let what = match (&s.workload, s.action) {
            (Some(w), Some(a)) => format!(" ({} of {})", a.as_str(), crate::text::plain(w)),
            _ => String::new(),
        };
        let sign = match s.change {
            Change::Create => "+",
            Change::Update => "~",
            Change::Delete => "-",
            Change::Unchanged => "=",
            Change::Orphan | Change::Foreign | Change::Other => "!",
        };
        let line = format!(
            "{sign} schedule {}{what} {}",
            crate::text::plain(&s.name),
            word(s.change)
        );
        let line = match (color, s.change) {
            (false, _) => line,
            (true, Change::Create) => line.green().to_string(),
            (true, Change::Update) => line.yellow().to_string(),
            (true, Change::Delete) => line.red().to_string(),
            (true, Change::Unchanged) => line.dimmed().to_string(),
            (true, _) => line.magenta().to_string(),
        };
        out.push_str(&line);
        out.push('\n');
        if let Some(n) = &s.note {
            out.push_str(&format!("    note: {}\n", crate::text::plain(n)));
        }
        for l in schedule_diff(s).lines() {
            let l = format!("    {}", crate::text::plain(l));
            let l = match (color, l.trim_start().chars().next()) {
                (true, Some('+')) => l.green().to_string(),
                (true, Some('-')) => l.red().to_string(),
                (true, Some('@')) => l.cyan().to_string(),
                _ => l,
            };
            out.push_str(&l);
            out.push('\n');
        }
    }
    let w = plan.writes();
    out.push_str(&format!(
        "{} schedules to create, {} to update, {} to delete, {} unchanged; {w} schedule write{}\n",
        plan.count(Change::Create),
        plan.count(Change::Update),
        plan.count(Change::Delete),
        plan.count(Change::Unchanged),
        if w == 1 { "" } else { "s" }
    ));
    out
}

/// Markdown for a pull request comment or step summary: counts, then a
/// collapsible diff per written schedule.
pub fn markdown(plan: &SchedulePlan) -> String {
    let mut out = format!(
        "### EventBridge Scheduler ({}, group `{GROUP}`)\n\n| create | update | delete | unchanged |\n|---|---|---|---|\n| {} | {} | {} | {} |\n\n",
        plan.region,
        plan.count(Change::Create),
        plan.count(Change::Update),
        plan.count(Change::Delete),
        plan.count(Change::Unchanged),
    );
    if plan.creates_group() {
        out.push_str(&format!("- schedule group `{GROUP}` will be created\n"));
    }
    for s in &plan.schedules {
        if let Some(n) = s.note.as_ref().filter(|_| !s.change.writes()) {
            out.push_str(&format!(
                "- `{}` ({}): {}\n",
                crate::text::cell(&s.name),
                word(s.change),
                crate::text::cell(n)
            ));
        }
    }
    for s in plan.schedules.iter().filter(|s| s.change.writes()) {
        out.push_str(&format!(
            "<details><summary><code>{}</code>: {}</summary>\n\n```diff\n{}```\n</details>\n\n",
            crate::text::cell(&s.name),
            word(s.change),
            crate::text::in_fence(&schedule_diff(s))
        ));
    }
    out
}

/// One schedule of [`SchedulesJson`].
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleJson {
    /// Schedule name (in group `tierctl`).
    pub name: String,
    /// The workload it runs.
    pub workload: Option<String>,
    /// The action it runs.
    pub action: Option<Action>,
    /// What happens to it.
    pub change: Change,
    /// Why, for people.
    pub note: Option<String>,
    /// `ScheduleExpression` written (absent when not written or kept).
    pub expression: Option<String>,
    /// `ScheduleExpressionTimezone` written.
    pub timezone: Option<String>,
    /// Unified diff of the schedule's fields (empty when not written).
    pub diff: String,
}

/// The schedules' difference as a document (part of `sync -o json`).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchedulesJson {
    /// Scheduler's region.
    pub region: String,
    /// The schedule group (`tierctl`).
    pub group: String,
    /// Whether sync creates the group.
    pub create_group: bool,
    /// Whether anything differs.
    pub drift: bool,
    /// Schedules created, updated or deleted.
    pub writes: usize,
    /// Every schedule desired or found, by name.
    pub schedules: Vec<ScheduleJson>,
}

/// The plan as a typed document.
pub fn json(plan: &SchedulePlan) -> SchedulesJson {
    SchedulesJson {
        region: plan.region.clone(),
        group: GROUP.to_string(),
        create_group: plan.creates_group(),
        drift: plan.drift(),
        writes: plan.writes(),
        schedules: plan
            .schedules
            .iter()
            .map(|s| {
                let shown = s.after.as_ref().or(s.before.as_ref());
                ScheduleJson {
                    name: s.name.clone(),
                    workload: s.workload.clone(),
                    action: s.action,
                    change: s.change,
                    note: s.note.clone(),
                    expression: shown.map(|d| d.expression.clone()),
                    timezone: shown.and_then(|d| d.timezone.clone()),
                    diff: schedule_diff(s),
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Schedule, ScheduledStart, ScheduledStop, example_with_every_field};

    fn targets() -> Targets {
        Targets {
            runner_arn: Some(
                "arn:aws:lambda:us-west-2:123456789012:function:tierctl-runner".into(),
            ),
            role_arn: Some("arn:aws:iam::123456789012:role/tierctl-scheduler".into()),
            dead_letter_arn: None,
        }
    }

    fn workload(name: &str, schedule: Option<Schedule>) -> Workload {
        let mut w = example_with_every_field();
        w.name = name.into();
        w.disabled = false;
        w.schedule = schedule;
        w
    }

    fn berlin() -> Schedule {
        Schedule {
            timezone: "Europe/Berlin".into(),
            stop: Some(ScheduledStop {
                cron: "0 19 ? * MON-FRI *".into(),
            }),
            start: Some(ScheduledStart {
                cron: "0  7 ? * MON-FRI *".into(),
                profile: Some("performant".into()),
            }),
        }
    }

    fn owner(id: &str) -> Owner {
        Owner::repository(id).unwrap()
    }

    fn all<'a>(d: &'a BTreeSet<&'a str>) -> Scope<'a> {
        Scope {
            declared: d,
            complete: true,
            prune: false,
        }
    }

    #[test]
    fn names_are_valid_deterministic_and_distinct() {
        assert_eq!(schedule_name("shop", Action::Stop), "shop-stop");
        assert_eq!(schedule_name("shop.eu_1", Action::Start), "shop.eu_1-start");
        let odd = schedule_name("shop eu/1", Action::Stop);
        let long = schedule_name(&"x".repeat(80), Action::Start);
        let long2 = schedule_name(&format!("{}y", "x".repeat(79)), Action::Start);
        for n in [&odd, &long, &long2] {
            assert!(n.len() <= MAX_NAME && n.chars().all(name_char), "{n}");
            assert!(n.ends_with("-stop") || n.ends_with("-start"), "{n}");
        }
        assert!(odd.starts_with("shop-eu-1-"), "{odd}");
        assert_ne!(long, long2);
        assert_eq!(odd, schedule_name("shop eu/1", Action::Stop));
        assert_ne!(
            schedule_name("a b", Action::Stop),
            schedule_name("a/b", Action::Stop)
        );
    }

    #[test]
    fn desired_schedules_carry_every_field() {
        let w = workload("shop", Some(berlin()));
        let mut t = targets();
        t.dead_letter_arn = Some("arn:aws:sqs:us-west-2:123456789012:tierctl-dlq".into());
        let d = desired(&[&w], &owner("github.com/acme/a"), &t).unwrap();
        assert_eq!(d.keys().collect::<Vec<_>>(), ["shop-start", "shop-stop"]);
        let start = &d["shop-start"].definition;
        assert_eq!(start.group, "tierctl");
        assert_eq!(start.expression, "cron(0 7 ? * MON-FRI *)");
        assert_eq!(start.timezone.as_deref(), Some("Europe/Berlin"));
        assert_eq!(start.flexible_window, "OFF");
        assert_eq!(start.state, "ENABLED");
        assert_eq!(start.max_event_age_seconds, Some(3600));
        assert_eq!(start.max_retry_attempts, Some(MAX_RETRY_ATTEMPTS));
        assert_eq!(start.dead_letter_arn, t.dead_letter_arn);
        let input: RunnerEvent = serde_json::from_str(start.input.as_deref().unwrap()).unwrap();
        assert_eq!(
            input,
            RunnerEvent::scheduled(Action::Start, "shop", Some("performant"), 3600)
        );
        assert_eq!(
            marker_of(start.description.as_deref()),
            Some("tierctl:github.com/acme/a")
        );
        let mut off = workload("shop", Some(berlin()));
        off.disabled = true;
        let d = desired(&[&off], &owner("github.com/acme/a"), &t).unwrap();
        assert!(d.values().all(|s| s.definition.state == "DISABLED"));
    }

    #[test]
    fn a_schedule_without_runner_or_role_is_refused_and_arns_are_checked() {
        let w = workload("shop", Some(berlin()));
        let plain = workload("db", None);
        assert!(Targets::default().check(&[&plain]).is_ok());
        assert!(!Targets::default().managed(&[&plain]));
        let e = Targets::default().check(&[&w, &plain]).unwrap_err();
        assert!(
            e.to_string().contains("workload shop has a schedule"),
            "{e}"
        );
        assert!(e.to_string().contains("--runner-arn"), "{e}");
        let mut t = targets();
        t.role_arn = None;
        assert!(
            t.check(&[&w])
                .unwrap_err()
                .to_string()
                .contains("--scheduler-role-arn")
        );
        let mut t = targets();
        t.runner_arn = Some("tierctl-runner".into());
        assert!(matches!(t.check(&[&w]), Err(ScheduleError::BadArn { .. })));
        let mut t = targets();
        t.dead_letter_arn = Some("arn:aws:sns:us-west-2:1:topic".into());
        assert!(matches!(t.check(&[&w]), Err(ScheduleError::BadArn { .. })));
        assert!(targets().check(&[&w]).is_ok());
        assert!(targets().managed(&[&plain]));
    }

    #[test]
    fn same_schedules_write_nothing_and_changes_are_updates() {
        let o = owner("github.com/acme/a");
        let w = workload("shop", Some(berlin()));
        let want = desired(&[&w], &o, &targets()).unwrap();
        let current: Vec<Definition> = want.values().map(|d| d.definition.clone()).collect();
        let declared = BTreeSet::from(["shop"]);
        let plan = diff("us-west-2", true, &want, &current, all(&declared), &o);
        assert_eq!(plan.writes(), 0);
        assert!(!plan.drift());
        assert_eq!(plan.count(Change::Unchanged), 2);

        // The input compares as JSON, an absent zone as UTC.
        let mut reordered = current.clone();
        reordered[0].input = Some(
            serde_json::to_string_pretty(
                &serde_json::from_str::<serde_json::Value>(reordered[0].input.as_deref().unwrap())
                    .unwrap(),
            )
            .unwrap(),
        );
        assert!(same(&want["shop-start"].definition, &reordered[0]));

        let mut edited = current.clone();
        edited[1].expression = "cron(0 20 ? * MON-FRI *)".into();
        edited[0].other_fields = vec!["StartDate".into()];
        let plan = diff("us-west-2", true, &want, &edited, all(&declared), &o);
        assert_eq!(plan.count(Change::Update), 2);
        let stop = plan
            .schedules
            .iter()
            .find(|s| s.name == "shop-stop")
            .unwrap();
        let d = schedule_diff(stop);
        assert!(d.contains("-ScheduleExpression: cron(0 20"), "{d}");
        assert!(d.contains("+ScheduleExpression: cron(0 19"), "{d}");
    }

    #[test]
    fn removed_schedules_are_deleted_and_only_our_own_are_pruned() {
        let a = owner("github.com/acme/a");
        let b = owner("github.com/acme/b");
        let with = workload("shop", Some(berlin()));
        let mut only_stop = berlin();
        only_stop.start = None;
        let current: Vec<Definition> = desired(&[&with], &a, &targets())
            .unwrap()
            .into_values()
            .chain(
                desired(&[&workload("other", Some(berlin()))], &b, &targets())
                    .unwrap()
                    .into_values(),
            )
            .chain(
                desired(&[&workload("gone", Some(berlin()))], &a, &targets())
                    .unwrap()
                    .into_values(),
            )
            .map(|d| d.definition)
            .collect();
        let mut by_hand = current[0].clone();
        by_hand.name = "hand-made".into();
        by_hand.description = Some("made by hand".into());
        let current: Vec<Definition> = current.into_iter().chain([by_hand]).collect();

        let w = workload("shop", Some(only_stop));
        let want = desired(&[&w], &a, &targets()).unwrap();
        let declared = BTreeSet::from(["shop"]);
        let changes = |plan: &SchedulePlan| -> Vec<(String, Change)> {
            plan.schedules
                .iter()
                .map(|s| (s.name.clone(), s.change))
                .collect()
        };
        let plan = diff("r", true, &want, &current, all(&declared), &a);
        assert_eq!(
            changes(&plan),
            [
                ("gone-start".to_string(), Change::Orphan),
                ("gone-stop".into(), Change::Orphan),
                ("hand-made".into(), Change::Other),
                ("other-start".into(), Change::Other),
                ("other-stop".into(), Change::Other),
                ("shop-start".into(), Change::Delete),
                ("shop-stop".into(), Change::Unchanged),
            ]
        );
        let prune = Scope {
            prune: true,
            ..all(&declared)
        };
        let plan = diff("r", true, &want, &current, prune, &a);
        assert_eq!(plan.count(Change::Delete), 3);
        assert_eq!(plan.count(Change::Other), 3);
        // Explicit paths: other workloads' schedules are not looked at.
        let partial = Scope {
            complete: false,
            ..all(&declared)
        };
        let plan = diff("r", true, &want, &current, partial, &a);
        assert_eq!(
            changes(&plan),
            [
                ("shop-start".to_string(), Change::Delete),
                ("shop-stop".into(), Change::Unchanged)
            ]
        );
        // A name another repository holds is not written.
        let theirs = workload("other", Some(berlin()));
        let want = desired(&[&theirs], &a, &targets()).unwrap();
        let declared = BTreeSet::from(["other"]);
        let plan = diff("r", true, &want, &current, all(&declared), &a);
        let s = plan
            .schedules
            .iter()
            .find(|s| s.name == "other-stop")
            .unwrap();
        assert_eq!(s.change, Change::Foreign);
        assert!(plan.drift());
        assert!(
            s.note
                .as_deref()
                .unwrap()
                .contains("tierctl:github.com/acme/b")
        );
    }

    #[test]
    fn a_missing_group_is_created_only_for_schedules() {
        let o = owner("github.com/acme/a");
        let w = workload("shop", Some(berlin()));
        let want = desired(&[&w], &o, &targets()).unwrap();
        let declared = BTreeSet::from(["shop"]);
        let plan = diff("r", false, &want, &[], all(&declared), &o);
        assert!(plan.creates_group() && plan.drift());
        let t = text(&plan, false);
        assert!(
            t.contains("schedule group tierctl does not exist yet"),
            "{t}"
        );
        assert!(
            t.contains("+ schedule shop-stop (stop of shop) create"),
            "{t}"
        );
        assert!(
            t.contains("+ScheduleExpressionTimezone: Europe/Berlin"),
            "{t}"
        );
        let empty = diff("r", false, &BTreeMap::new(), &[], all(&declared), &o);
        assert!(!empty.creates_group() && !empty.drift());
        let md = markdown(&plan);
        assert!(md.contains("| 2 | 0 | 0 | 0 |"), "{md}");
        assert!(md.contains("<code>shop-start</code>: create"), "{md}");
        let j = json(&plan);
        assert_eq!(j.writes, 2);
        assert!(j.create_group);
    }
}
