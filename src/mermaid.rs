//! The order of a plan as a Mermaid flowchart, for the pull request comment
//! (GitHub renders ```` ```mermaid ```` blocks): one subgraph per wave, its
//! tiers inside with their counts, synchronous and health-gated tiers
//! marked, an arrow from each wave to the next.
//!
//! Deterministic (node ids are positions, never names), and every label is
//! escaped to Mermaid's `#<code>;` entities except for a small plain set, so
//! no name can close a label, start a link or break out of the code fence.

use std::fmt::Write;

use crate::plan::{Step, TierPlan, WorkloadPlan};

/// The flowchart of one workload (without the fence).
pub fn flowchart(index: usize, w: &WorkloadPlan, action: &str) -> String {
    let mut out = String::from("flowchart TD\n");
    let _ = writeln!(
        out,
        "  w{index}[\"{}\"]",
        label(&format!("{}: {action} ({})", w.name, w.region))
    );
    let mut previous = format!("w{index}");
    for (vi, wave) in w.waves.iter().enumerate() {
        let wave_id = format!("w{index}v{vi}");
        let _ = writeln!(
            out,
            "  subgraph {wave_id}[\"{}\"]",
            label(&format!("wave {}", wave.sequence))
        );
        for (ti, t) in wave.tiers.iter().enumerate() {
            let _ = writeln!(
                out,
                "    {wave_id}t{ti}[\"{}\"]",
                label(&tier_label(t, action))
            );
        }
        out.push_str("  end\n");
        let _ = writeln!(out, "  {previous} --> {wave_id}");
        previous = wave_id;
    }
    out
}

fn tier_label(t: &TierPlan, action: &str) -> String {
    let acted: usize = t
        .steps
        .iter()
        .map(|s| match s {
            Step::Stop { batches } | Step::Start { batches } => batches.iter().map(Vec::len).sum(),
            Step::StopDatabases { databases } | Step::StartDatabases { databases } => {
                databases.len()
            }
            _ => 0,
        })
        .sum();
    let mut marks = Vec::new();
    if t.synchronous {
        marks.push("waits");
    }
    if t.steps.iter().any(|s| {
        matches!(
            s,
            Step::WaitHealthy { .. }
                | Step::DatabasesAvailable { .. }
                | Step::WaitGroupsHealthy { .. }
        )
    }) {
        marks.push("health gate");
    }
    if t.steps
        .iter()
        .any(|s| matches!(s, Step::OverrideCheck { .. }))
    {
        marks.push("override check");
    }
    let mut text = format!("{}: {acted} to {action}", t.name);
    let unchanged = t.unchanged.len() + t.unchanged_databases.len();
    if unchanged > 0 {
        let _ = write!(text, ", {unchanged} unchanged");
    }
    let held = t.held.len() + t.held_databases.len();
    if held > 0 {
        let _ = write!(text, ", {held} held");
    }
    asg_label(t, action, &mut text);
    if !marks.is_empty() {
        let _ = write!(text, " [{}]", marks.join(", "));
    }
    text
}

/// The tier's Auto Scaling groups in its label (nothing without groups).
fn asg_label(t: &TierPlan, action: &str, text: &mut String) {
    use crate::plan::asg::GroupDecision;
    if t.groups.is_empty() {
        return;
    }
    let n = |d: GroupDecision| t.groups.iter().filter(|g| g.decision == d).count();
    let _ = write!(text, ", {} groups to {action}", n(GroupDecision::Scale));
    if n(GroupDecision::Held) > 0 {
        let _ = write!(text, ", {} groups held", n(GroupDecision::Held));
    }
}

/// Text safe inside a quoted Mermaid label: letters, digits, space and
/// `-_.,:/()[]+` as they are; every other character as `#<code>;`.
pub fn label(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || " -_.,:/()[]+".contains(c) {
            out.push(c);
        } else if c.is_control() {
            out.push(' ');
        } else {
            let _ = write!(out, "#{};", u32::from(c));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_cannot_break_out() {
        assert_eq!(label("web"), "web");
        assert_eq!(label("a\"]-->x[\"b"), "a#34;]--#62;x[#34;b");
        assert_eq!(label("50%"), "50#37;");
        let nasty = "x\"] --> y\n```\n<b>`&#";
        let l = label(nasty);
        for bad in ['"', '`', '<', '>', '\n', '&'] {
            assert!(!l.contains(bad), "{bad:?} in {l}");
        }
        assert!(!l.contains("-->"));
    }
}
