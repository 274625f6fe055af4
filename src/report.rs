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
        out.push_str(&format!("  skipped: {reason}\n"));
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
}

fn label(id: &str, name: &Option<String>) -> String {
    match name {
        Some(n) => format!("{id} {n}"),
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
            Step::Delay { seconds } => format!("then wait {seconds}s before the next wave"),
        };
        out.push_str(&p.act(format!("      {line}\n")));
    }
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
    for n in &t.notes {
        out.push_str(&format!("      note: {n}\n"));
    }
    if t.steps.is_empty() && t.unchanged.is_empty() && t.held.is_empty() && w.observed {
        out.push_str(&p.dim("      no instances\n".to_string()));
    }
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
    for w in &plan.workloads {
        let spec = specs.iter().find(|x| x.name == w.name).copied();
        let mut tree = String::new();
        workload_text(&mut tree, w, spec, action, &Paint(false));
        out.push_str(&format!(
            "<details><summary><code>{}</code> ({}): {}</summary>\n\n```text\n{tree}```\n</details>\n\n",
            w.name,
            w.region,
            summary_line(&w.summary(), action)
        ));
    }
    out
}
