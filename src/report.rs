//! Plans (and, later, run outcomes) for people: a text tree for terminals,
//! markdown for pull requests and step summaries. JSON is the serde form of
//! the same data.

use owo_colors::OwoColorize;

use crate::plan::{InstanceNote, Plan, Step, Summary, TierPlan, WorkloadPlan};
use crate::spec::Workload;

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

fn ids(list: &[String]) -> String {
    list.join(", ")
}

/// One line of totals.
pub fn summary_line(s: &Summary, action: &str) -> String {
    let mut parts = vec![format!("{} to {action}", plural(s.act, "instance"))];
    if s.resize > 0 {
        parts.push(format!("{} to resize", s.resize));
    }
    if s.override_checks > 0 {
        parts.push(format!("{} override checks", s.override_checks));
    }
    parts.push(format!("{} unchanged", s.unchanged));
    if s.held > 0 {
        parts.push(format!("{} held back", s.held));
    }
    if s.unmatched > 0 {
        parts.push(format!("{} in no tier", s.unmatched));
    }
    if s.skipped > 0 {
        parts.push(format!(
            "{} skipped by the kill switch",
            plural(s.skipped, "workload")
        ));
    }
    if s.groups > 0 {
        parts.push(format!(
            "{} to {action}",
            plural(s.groups, "Auto Scaling group")
        ));
    }
    if s.groups_held > 0 {
        parts.push(format!(
            "{} held back",
            plural(s.groups_held, "Auto Scaling group")
        ));
    }
    parts.join(", ")
}

struct Paint(bool);

impl Paint {
    fn bold(&self, s: String) -> String {
        if self.0 { s.bold().to_string() } else { s }
    }
    fn act(&self, s: String) -> String {
        if self.0 { s.yellow().to_string() } else { s }
    }
    fn dim(&self, s: String) -> String {
        if self.0 { s.dimmed().to_string() } else { s }
    }
    fn warn(&self, s: String) -> String {
        if self.0 { s.red().to_string() } else { s }
    }
}

/// The plan as an indented text tree.
///
/// `specs` gives the tier tag for offline plans, which name no instances.
pub fn plan_text(plan: &Plan, specs: &[&Workload], color: bool) -> String {
    let p = Paint(color);
    let action = plan.action.as_str();
    let mut out = String::new();
    for w in &plan.workloads {
        let spec = specs.iter().find(|s| s.name == w.name);
        workload_text(&mut out, w, spec.copied(), action, &p);
    }
    let profile = plan
        .profile
        .as_deref()
        .map(|p| format!(" with profile {p}"))
        .unwrap_or_default();
    let totals = if plan
        .workloads
        .iter()
        .all(|w| w.observed || w.skipped.is_some())
    {
        summary_line(&plan.summary(), action)
    } else {
        "offline, instances not observed".to_string()
    };
    out.push_str(&p.bold(format!("Plan: {action}{profile}: {totals}\n")));
    out
}

fn workload_text(
    out: &mut String,
    w: &WorkloadPlan,
    spec: Option<&Workload>,
    action: &str,
    p: &Paint,
) {
    out.push_str(&p.bold(format!("{action} {} ({})\n", w.name, w.region)));
    if let Some(reason) = &w.skipped {
        out.push_str(&format!("  skipped: {}\n", crate::text::plain(reason)));
        return;
    }
    if !w.observed {
        out.push_str("  offline: no instances observed; each step applies to the tier's instances at run time\n");
    }
    if w.waves.is_empty() {
        out.push_str(&format!("  no tier has a `{action}` block\n"));
    }
    for (n, wave) in w.waves.iter().enumerate() {
        out.push_str(&format!("  wave {} (sequence {})\n", n + 1, wave.sequence));
        for t in &wave.tiers {
            tier_text(out, w, t, spec, action, p);
        }
    }
    for u in &w.unmatched {
        let what = match &u.tier {
            Some(t) => {
                let key = spec
                    .map(|s| s.selector.tier_tag_key.as_str())
                    .unwrap_or("tier tag");
                format!("tier tag `{key}` is `{t}`, which matches no tier")
            }
            None => "has no tier tag".to_string(),
        };
        out.push_str(&p.warn(format!(
            "  ! {} ({}): {what}; left alone\n",
            label(&u.instance, &u.name),
            u.state
        )));
    }
    for u in &w.unmatched_databases {
        out.push_str(&p.warn(format!(
            "  ! {} {} ({}): {}; left alone\n",
            u.kind.words(),
            u.database,
            crate::text::plain(&u.status),
            u.reason
        )));
    }
}

fn label(id: &str, name: &Option<String>) -> String {
    match name {
        Some(n) => format!("{id} {}", crate::text::plain(n)),
        None => id.to_string(),
    }
}

fn tier_text(
    out: &mut String,
    w: &WorkloadPlan,
    t: &TierPlan,
    spec: Option<&Workload>,
    action: &str,
    p: &Paint,
) {
    let sync = if t.synchronous { " (synchronous)" } else { "" };
    out.push_str(&format!("    {}{sync}\n", t.name));
    let everyone = || {
        let key = spec
            .map(|s| s.selector.tier_tag_key.as_str())
            .unwrap_or("tier");
        format!("every instance tagged {key}={}", t.name)
    };
    for step in &t.steps {
        let line = match step {
            Step::OverrideCheck {
                file,
                os,
                instances,
                ..
            } => {
                let who = if w.observed {
                    format!(
                        "{}: {}",
                        plural(instances.len(), "instance"),
                        ids(instances)
                    )
                } else {
                    everyone()
                };
                format!("check override file {file} ({}) on {who}", serde_plain(os))
            }
            Step::Resize { resizes } if !w.observed && resizes.is_empty() => {
                "resize to the profile's type where it differs".to_string()
            }
            Step::Resize { resizes } => {
                let list: Vec<String> = resizes
                    .iter()
                    .map(|r| format!("{} {} -> {}", r.instance, r.from, r.to))
                    .collect();
                format!(
                    "resize {}: {}",
                    plural(resizes.len(), "instance"),
                    list.join(", ")
                )
            }
            Step::ScaleDelay { seconds } => format!("wait {seconds}s for the new types to settle"),
            Step::Stop { batches } | Step::Start { batches } => {
                if w.observed {
                    let all: Vec<String> = batches.iter().flatten().cloned().collect();
                    format!(
                        "{action} {} in {}: {}",
                        plural(all.len(), "instance"),
                        plural(batches.len(), "call"),
                        ids(&all)
                    )
                } else {
                    format!("{action} {}", everyone())
                }
            }
            Step::Wait {
                state,
                instances,
                timeout_seconds,
            } => {
                let who = if w.observed {
                    match instances.len() {
                        1 => "it is".to_string(),
                        n => format!("the {n} instances are"),
                    }
                } else {
                    "they are".into()
                };
                format!("wait until {who} {state} (at most {timeout_seconds}s)")
            }
            Step::DeregisterClassic { load_balancers } => format!(
                "deregister from classic load balancers: {}",
                lb_list(load_balancers)
            ),
            Step::RegisterClassic { load_balancers, .. } => {
                format!(
                    "once running, register again with classic load balancers: {}",
                    lb_list(load_balancers)
                )
            }
            Step::WaitHealthy {
                target_groups,
                instances,
                timeout_seconds,
                classic_load_balancers,
            } => {
                let mut groups = if target_groups.is_empty() {
                    String::new()
                } else {
                    format!(" in {}", lb_list(target_groups))
                };
                if !classic_load_balancers.is_empty() {
                    groups.push_str(&format!(
                        ", InService in classic load balancers {}",
                        lb_list(classic_load_balancers)
                    ));
                }
                format!(
                    "wait until {} healthy{groups} and pass EC2 status checks (at most {timeout_seconds}s)",
                    if w.observed {
                        plural(instances.len(), "instance") + " are"
                    } else {
                        "they are".into()
                    }
                )
            }
            Step::Delay { seconds } => format!("then wait {seconds}s before the next wave"),
            Step::StopDatabases { databases } | Step::StartDatabases { databases } => {
                format!(
                    "{action} {} in {}: {}",
                    plural(databases.len(), "database"),
                    plural(databases.len(), "call"),
                    database_list(databases)
                )
            }
            Step::WaitDatabases {
                status,
                databases,
                timeout_seconds,
            } => format!(
                "wait until {} {status} (at most {timeout_seconds}s)",
                match databases.len() {
                    1 => "it is".to_string(),
                    n => format!("the {n} databases are"),
                }
            ),
            Step::DatabasesAvailable {
                databases,
                timeout_seconds,
            } => format!(
                "health gate: wait until {} available (at most {timeout_seconds}s)",
                database_list(databases)
            ),
            Step::ScaleGroups { .. } | Step::WaitGroups { .. } | Step::WaitGroupsHealthy { .. } => {
                asg_step_text(step, action)
            }
        };
        out.push_str(&p.act(format!("      {line}\n")));
    }
    asg_groups_text(out, t, p);
    for n in &t.unchanged {
        out.push_str(&p.dim(format!("      = {}\n", note_text(n))));
    }
    for n in &t.held {
        out.push_str(&p.warn(format!(
            "      ! {} held back: {}\n",
            label(&n.instance, &n.name),
            n.reason
        )));
    }
    for n in &t.unchanged_databases {
        out.push_str(&p.dim(format!(
            "      = {} {} ({}): {}\n",
            n.kind.words(),
            n.database,
            crate::text::plain(&n.status),
            n.reason
        )));
    }
    for n in &t.held_databases {
        let what = if n.keep_running {
            "kept running"
        } else {
            "held back"
        };
        out.push_str(&p.warn(format!(
            "      ! {} {} ({}) {what}: {}\n",
            n.kind.words(),
            n.database,
            crate::text::plain(&n.status),
            n.reason
        )));
    }
    for n in &t.notes {
        out.push_str(&format!("      note: {n}\n"));
    }
    if t.steps.is_empty()
        && t.unchanged.is_empty()
        && t.held.is_empty()
        && t.unchanged_databases.is_empty()
        && t.held_databases.is_empty()
        && t.groups.is_empty()
        && w.observed
    {
        out.push_str(&p.dim("      no instances\n".to_string()));
    }
}

/// `DB instance orders, DB cluster sales (members sales-1, sales-2)`.
fn database_list(databases: &[crate::plan::DatabaseTarget]) -> String {
    databases
        .iter()
        .map(crate::plan::DatabaseTarget::label)
        .collect::<Vec<_>>()
        .join(", ")
}

/// How an outcome names its member: the instance id, `group NAME`, or
/// `DB instance orders` / `DB cluster sales`.
pub fn member_label(o: &Outcome) -> String {
    if let Some(kind) = o.database {
        return format!("{} {}", kind.words(), o.instance);
    }
    match o.member {
        Some(crate::spec::MemberKind::Asg) => format!("group {}", o.instance),
        _ => o.instance.clone(),
    }
}

/// An Auto Scaling group step, in words.
fn asg_step_text(step: &Step, action: &str) -> String {
    let names = |g: &std::collections::BTreeMap<String, i32>| {
        g.iter()
            .map(|(name, n)| format!("{name} ({n})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match step {
        Step::ScaleGroups { groups } => {
            let list: Vec<String> = groups
                .iter()
                .map(|c| format!("{} {} -> {}", c.group, c.from.tag_value(), c.to.tag_value()))
                .collect();
            let how = if action == "stop" {
                "record sizes in tag tierctl:stopped-sizes, then scale in (instances are terminated)"
            } else {
                "restore recorded sizes (fresh instances launch), then delete tag tierctl:stopped-sizes"
            };
            format!(
                "{action} {}: {how}: {}",
                plural(groups.len(), "Auto Scaling group"),
                list.join(", ")
            )
        }
        Step::WaitGroups {
            groups,
            timeout_seconds,
        } if action == "stop" => format!(
            "wait until the groups have no instances left: {} (at most {timeout_seconds}s)",
            groups.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
        Step::WaitGroups {
            groups,
            timeout_seconds,
        } => format!(
            "wait until InService = desired: {} (at most {timeout_seconds}s)",
            names(groups)
        ),
        Step::WaitGroupsHealthy {
            groups,
            timeout_seconds,
        } => format!(
            "health gate: InService = desired, instances healthy in the groups' target groups, InService in their classic load balancers and passing EC2 status checks: {} (at most {timeout_seconds}s)",
            names(groups)
        ),
        _ => String::new(),
    }
}

/// The tier's Auto Scaling groups, each with what the plan does and why.
fn asg_groups_text(out: &mut String, t: &TierPlan, p: &Paint) {
    use crate::plan::asg::GroupDecision;
    for g in &t.groups {
        let owned = if g.instances.is_empty() {
            String::new()
        } else {
            format!(" [owns {}]", g.instances.join(", "))
        };
        let line = format!(
            "group {} ({}): {}{owned}",
            g.group,
            g.sizes.tag_value(),
            g.reason
        );
        match g.decision {
            GroupDecision::Scale => out.push_str(&format!("      ~ {line}\n")),
            GroupDecision::Unchanged => out.push_str(&p.dim(format!("      = {line}\n"))),
            GroupDecision::Held => out.push_str(&p.warn(format!("      ! {line} (held back)\n"))),
        }
    }
}

fn lb_list(by: &std::collections::BTreeMap<String, Vec<String>>) -> String {
    by.iter()
        .map(|(lb, ids)| {
            format!(
                "{} ({})",
                crate::aws::elb::target_group_name(lb),
                ids.join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn note_text(n: &InstanceNote) -> String {
    format!("{}: {}", label(&n.instance, &n.name), n.reason)
}

fn serde_plain<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Markdown for pull requests: totals first, one collapsible tree per workload.
pub fn plan_markdown(plan: &Plan, specs: &[&Workload]) -> String {
    let action = plan.action.as_str();
    let s = plan.summary();
    let profile = plan
        .profile
        .as_deref()
        .map(|p| format!(" (profile `{p}`)"))
        .unwrap_or_default();
    let mut out = format!(
        "### tierctl plan: {action}{profile}\n\n| to {action} | resize | override checks | unchanged | held back | in no tier | skipped workloads |\n|---|---|---|---|---|---|---|\n| {} | {} | {} | {} | {} | {} | {} |\n\n",
        s.act, s.resize, s.override_checks, s.unchanged, s.held, s.unmatched, s.skipped
    );
    for (wi, w) in plan.workloads.iter().enumerate() {
        let spec = specs.iter().find(|x| x.name == w.name).copied();
        let mut tree = String::new();
        workload_text(&mut tree, w, spec, action, &Paint(false));
        if !w.waves.is_empty() {
            out.push_str(&format!(
                "```mermaid\n{}```\n\n",
                crate::mermaid::flowchart(wi, w, action)
            ));
        }
        out.push_str(&format!(
            "<details><summary><code>{}</code> ({}): {}</summary>\n\n```text\n{}```\n</details>\n\n",
            crate::text::cell(&w.name),
            w.region,
            summary_line(&w.summary(), action),
            crate::text::in_fence(&tree)
        ));
    }
    out
}

use crate::execute::{Outcome, RunReport, Status};

/// `2 stopped, 1 bypassed` for a set of outcomes.
pub fn counts<'a>(outcomes: impl Iterator<Item = &'a Outcome>) -> String {
    let mut by: std::collections::BTreeMap<Status, usize> = std::collections::BTreeMap::new();
    for o in outcomes {
        *by.entry(o.status).or_default() += 1;
    }
    if by.is_empty() {
        return "no instances".into();
    }
    by.iter()
        .map(|(s, n)| format!("{n} {}", s.words()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn seconds(ms: u64) -> String {
    format!("{:.1}s", ms as f64 / 1000.0)
}

/// The end-of-run summary: per workload and tier, counts, and every
/// instance that needs a human (bypassed, held back, failed, not attempted).
pub fn run_text(report: &RunReport, color: bool) -> String {
    let p = Paint(color);
    let action = report.action.as_str();
    let dry = if report.dry_run {
        " (dry run: nothing was changed)"
    } else {
        ""
    };
    let mut out = String::new();
    for w in &report.workloads {
        out.push_str(&p.bold(format!(
            "{action} {}: {} in {}{dry}\n",
            w.name,
            counts(w.outcomes.iter()),
            seconds(w.elapsed_ms)
        )));
        if let Some(why) = &w.skipped {
            out.push_str(&format!("  skipped: {}\n", crate::text::plain(why)));
        }
        let mut tiers: Vec<&str> = Vec::new();
        for o in &w.outcomes {
            if !tiers.contains(&o.tier.as_str()) {
                tiers.push(&o.tier);
            }
        }
        for tier in tiers {
            let of_tier: Vec<&Outcome> = w.outcomes.iter().filter(|o| o.tier == tier).collect();
            out.push_str(&format!("  {tier}: {}\n", counts(of_tier.iter().copied())));
            for o in of_tier {
                let line = match o.status {
                    Status::Bypassed | Status::HeldBack | Status::Failed | Status::NotAttempted => {
                        format!(
                            "    {} {}: {}\n",
                            member_label(o),
                            o.status.words(),
                            crate::text::plain(o.detail.as_deref().unwrap_or_default())
                        )
                    }
                    _ if o.new_type.is_some() || !o.load_balancers.is_empty() => {
                        let mut parts = Vec::new();
                        if let (Some(new), Some(old)) = (&o.new_type, &o.old_type) {
                            parts.push(format!("as {new} (was {old})"));
                        }
                        parts.extend(o.load_balancers.iter().cloned());
                        format!(
                            "    {} {} {}\n",
                            o.instance,
                            o.status.words(),
                            parts.join("; ")
                        )
                    }
                    _ if o.member.is_some() => format!(
                        "    {} {}: {}\n",
                        member_label(o),
                        o.status.words(),
                        crate::text::plain(o.detail.as_deref().unwrap_or_default())
                    ),
                    _ => continue,
                };
                out.push_str(&if o.status == Status::Failed {
                    p.warn(line)
                } else {
                    line
                });
            }
        }
        if w.halted {
            out.push_str(&p.warn(
                "  later waves halted after a failure (--continue-on-error goes on)\n".to_string(),
            ));
        }
    }
    let interrupted = if report.interrupted {
        " (interrupted)"
    } else {
        ""
    };
    out.push_str(&p.bold(format!(
        "Run: {action}: {} in {}{interrupted}{dry}\n",
        counts(report.outcomes()),
        seconds(report.elapsed_ms)
    )));
    out
}

/// The run as markdown, for the GitHub step summary.
pub fn run_markdown(report: &RunReport) -> String {
    let action = report.action.as_str();
    let mut out = format!(
        "### tierctl run: {action}{}\n\n| workload | result | time |\n|---|---|---|\n",
        if report.dry_run { " (dry run)" } else { "" }
    );
    for w in &report.workloads {
        let result = match &w.skipped {
            Some(why) => format!("skipped: {why}"),
            None => counts(w.outcomes.iter()),
        };
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            crate::text::code(&w.name),
            crate::text::cell(&result),
            seconds(w.elapsed_ms)
        ));
    }
    let attention: Vec<&Outcome> = report
        .outcomes()
        .filter(|o| {
            matches!(
                o.status,
                Status::Bypassed | Status::HeldBack | Status::Failed | Status::NotAttempted
            )
        })
        .collect();
    if !attention.is_empty() {
        out.push_str("\n<details><summary>Instances that need attention</summary>\n\n| workload | tier | instance | status | detail |\n|---|---|---|---|---|\n");
        for o in attention {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                crate::text::code(&o.workload),
                crate::text::code(&o.tier),
                crate::text::code(&member_label(o)),
                o.status.words(),
                crate::text::cell(o.detail.as_deref().unwrap_or_default())
            ));
        }
        out.push_str("\n</details>\n");
    }
    out.push('\n');
    out
}

/// Progress on stderr: a spinner per tier on a terminal, plain lines otherwise.
pub struct TierProgress {
    bars: Option<indicatif::MultiProgress>,
    active: std::sync::Mutex<std::collections::BTreeMap<String, indicatif::ProgressBar>>,
    started: std::time::Instant,
    verb: &'static str,
}

impl TierProgress {
    /// Progress for a run of `action`; bars only when stderr is a terminal.
    pub fn new(action: crate::plan::Action, dry_run: bool) -> Self {
        use std::io::IsTerminal;
        let tty = std::io::stderr().is_terminal();
        TierProgress {
            bars: tty.then(indicatif::MultiProgress::new),
            active: std::sync::Mutex::new(std::collections::BTreeMap::new()),
            started: std::time::Instant::now(),
            verb: match (action, dry_run) {
                (_, true) => "checking",
                (crate::plan::Action::Stop, false) => "stopping",
                (crate::plan::Action::Start, false) => "starting",
            },
        }
    }
}

impl crate::execute::Progress for TierProgress {
    fn tier_started(&self, workload: &str, tier: &str, instances: usize) {
        let msg = format!(
            "{workload}/{tier}: {} {}",
            self.verb,
            plural(instances, "instance")
        );
        match &self.bars {
            Some(m) => {
                let bar = m.add(indicatif::ProgressBar::new_spinner());
                bar.set_message(msg);
                bar.enable_steady_tick(std::time::Duration::from_millis(120));
                self.active
                    .lock()
                    .expect("progress lock")
                    .insert(format!("{workload}/{tier}"), bar);
            }
            None => eprintln!("[{:>6.1}s] {msg}", self.started.elapsed().as_secs_f64()),
        }
    }

    fn tier_finished(&self, workload: &str, tier: &str, outcomes: &[Outcome]) {
        let msg = format!("{workload}/{tier}: {}", counts(outcomes.iter()));
        match self
            .active
            .lock()
            .expect("progress lock")
            .remove(&format!("{workload}/{tier}"))
        {
            Some(bar) => bar.finish_with_message(msg),
            None => eprintln!("[{:>6.1}s] {msg}", self.started.elapsed().as_secs_f64()),
        }
    }
}

/// The "Schedules" section of `plan`'s text: each workload's next stop and
/// start in its time zone and in UTC, and the first runs after its zone's
/// next daylight saving time change. Empty without schedules.
pub fn schedules_text(runs: Option<&crate::schedule::ScheduleRuns>, color: bool) -> String {
    let Some(runs) = runs else {
        return String::new();
    };
    let p = Paint(color);
    let mut out = format!("\n{}", p.bold(format!("Schedules (from {})\n", runs.now)));
    for w in &runs.workloads {
        out.push_str(&format!(
            "  {} ({})\n",
            crate::text::plain(&w.workload),
            w.timezone
        ));
        let width = w.actions.iter().map(|a| a.cron.len()).max().unwrap_or(0);
        for a in &w.actions {
            let profile = a
                .profile
                .as_deref()
                .map(|p| format!(", profile {}", crate::text::plain(p)))
                .unwrap_or_default();
            let next = a
                .next
                .as_ref()
                .map(|r| format!("next {}", r.text))
                .unwrap_or_else(|| "never fires again".to_string());
            out.push_str(&format!(
                "    {:<5}  {:<width$}  {next}{profile}\n",
                a.action.as_str(),
                a.cron
            ));
        }
        if let Some(change) = &w.change {
            out.push_str(&format!(
                "    time change {}; first runs after it:\n",
                change.text
            ));
            for a in &w.actions {
                let first = a
                    .after_change
                    .as_ref()
                    .map(|r| r.text.clone())
                    .unwrap_or_else(|| "none".to_string());
                out.push_str(&format!("    {:<5}  {first}\n", a.action.as_str()));
            }
        }
    }
    out
}

/// The "Schedules" section of `plan`'s markdown (pull request comment).
/// Empty without schedules.
pub fn schedules_markdown(runs: Option<&crate::schedule::ScheduleRuns>) -> String {
    use crate::text::{cell, code};
    let Some(runs) = runs else {
        return String::new();
    };
    let split = |r: &Option<crate::schedule::RunTime>| match r {
        Some(r) => {
            let (local, utc) = r.text.split_once(" = ").unwrap_or((&r.text, ""));
            (local.to_string(), utc.to_string())
        }
        None => ("never fires again".to_string(), String::new()),
    };
    let mut out = format!(
        "#### Schedules\n\nNext scheduled runs from {}; EventBridge Scheduler runs them in each workload's time zone.\n\n| workload | action | cron | time zone | next run (local) | next run (UTC) | first run after the time change |\n|---|---|---|---|---|---|---|\n",
        runs.now
    );
    for w in &runs.workloads {
        for a in &w.actions {
            let (local, utc) = split(&a.next);
            let after = match (&w.change, &a.after_change) {
                (None, _) => "no change within 400 days".to_string(),
                (Some(_), None) => "none".to_string(),
                (Some(_), Some(r)) => r.text.clone(),
            };
            let action = match &a.profile {
                Some(p) => format!("{} (profile {})", a.action.as_str(), code(p)),
                None => a.action.as_str().to_string(),
            };
            out.push_str(&format!(
                "| {} | {action} | {} | {} | {} | {} | {} |\n",
                code(&w.workload),
                code(&a.cron),
                cell(&w.timezone),
                cell(&local),
                cell(&utc),
                cell(&after)
            ));
        }
    }
    out.push('\n');
    for w in &runs.workloads {
        if let Some(change) = &w.change {
            out.push_str(&format!(
                "- {} ({}): time change {}\n",
                code(&w.workload),
                cell(&w.timezone),
                cell(&change.text)
            ));
        }
    }
    if runs.workloads.iter().any(|w| w.change.is_some()) {
        out.push('\n');
    }
    out
}
