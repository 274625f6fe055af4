//! Auto Scaling groups as tier members: what a stop or start does to each
//! group of a tier holding `asg`. Pure, like the rest of the planner.
//!
//! A stop records the group's sizes in its `tierctl:stopped-sizes` tag
//! ([`Sizes::tag_value`]: `min=1,max=4,desired=2`) and sets MinSize and
//! DesiredCapacity to 0 (MaxSize is kept): AWS *terminates* the group's
//! instances. A start restores the recorded sizes (AWS launches fresh
//! instances from the launch template) and then deletes the tag, so the
//! tag exists exactly while tierctl holds the group at 0. A second stop of
//! a group at 0 is a no-op and never overwrites the recorded sizes; a start
//! of a group at 0 without recorded sizes is held (tierctl does not guess).
//! Groups with a warm pool or instances in Standby are refused (held), and
//! a group's `tierctl:keep-running` tag is its override, read fail-closed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use std::collections::BTreeSet;

use super::{Action, InstanceNote, Intent, Part, Step, TierPlan, WorkloadPlan, note};
use crate::observe::{Group, Instance, InstanceState, ObservedWorkload};
use crate::spec::{MemberKind, Tier, Workload};

/// The tag that holds a stopped group's sizes.
pub const RECORDED_SIZES_TAG: &str = "tierctl:stopped-sizes";
/// The group's override tag: `true` keeps it running.
pub const KEEP_RUNNING_TAG: &str = "tierctl:keep-running";

/// MinSize, MaxSize and DesiredCapacity of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sizes {
    /// `MinSize`.
    pub min: i32,
    /// `MaxSize`.
    pub max: i32,
    /// `DesiredCapacity`.
    pub desired: i32,
}

impl Sizes {
    /// The recorded-sizes tag value: `min=1,max=4,desired=2`.
    pub fn tag_value(self) -> String {
        format!("min={},max={},desired={}", self.min, self.max, self.desired)
    }

    /// Parses [`Sizes::tag_value`], refusing anything else (missing or
    /// repeated keys, negative numbers, desired outside min..max).
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut min = None;
        let mut max = None;
        let mut desired = None;
        for part in s.split(',') {
            let (k, v) = part
                .trim()
                .split_once('=')
                .ok_or_else(|| format!("`{part}` is not key=value"))?;
            let n: i32 = v
                .trim()
                .parse()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| format!("`{v}` is not a whole number of 0 or more"))?;
            let slot = match k.trim() {
                "min" => &mut min,
                "max" => &mut max,
                "desired" => &mut desired,
                other => return Err(format!("unknown key `{other}`")),
            };
            if slot.replace(n).is_some() {
                return Err(format!("`{k}` given twice"));
            }
        }
        let (Some(min), Some(max), Some(desired)) = (min, max, desired) else {
            return Err("min, max and desired are all needed".into());
        };
        if !(min <= desired && desired <= max) {
            return Err(format!(
                "desired {desired} is not between min {min} and max {max}"
            ));
        }
        Ok(Sizes { min, max, desired })
    }
}

/// One group's size change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupChange {
    /// Group name.
    pub group: String,
    /// Sizes before the change.
    pub from: Sizes,
    /// Sizes to set (`UpdateAutoScalingGroup`).
    pub to: Sizes,
    /// Stop: the recorded-sizes tag value written first (`CreateOrUpdateTags`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// Start: delete the recorded-sizes tag once the sizes are restored (`DeleteTags`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forget_record: bool,
}

/// What the plan does with a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum GroupDecision {
    /// Scaled in to 0 (stop) or back to its recorded sizes (start).
    Scale,
    /// Already what was asked.
    Unchanged,
    /// Deliberately not acted on.
    Held,
}

/// A group of the tier and what the plan does with it, for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupNote {
    /// Group name.
    pub group: String,
    /// Scale, unchanged or held.
    pub decision: GroupDecision,
    /// Current sizes.
    pub sizes: Sizes,
    /// Why, or what it means (instances terminated, relaunched...).
    pub reason: String,
    /// The group's instances (never acted on one by one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<String>,
}

fn sizes(g: &Group) -> Sizes {
    Sizes {
        min: g.min_size,
        max: g.max_size,
        desired: g.desired,
    }
}

/// Why a group may not be acted on at all (warm pool, standby), if so.
fn refused(g: &Group) -> Option<String> {
    if g.warm_pool {
        return Some("has a warm pool: out of tierctl's scope (scaling in would return instances to the pool, not stop the tier); not acted on".into());
    }
    let standby = g.count("Standby");
    if standby > 0 {
        return Some(format!(
            "{standby} instance(s) in Standby: out of tierctl's scope (Standby instances are stopped and started by hand); not acted on"
        ));
    }
    None
}

/// The group's override at a stop: `Some(why)` keeps it running.
fn kept_running(g: &Group) -> Option<String> {
    let v = g.keep_running.as_deref()?;
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Some(format!(
            "override: tag {KEEP_RUNNING_TAG}=true; kept running"
        )),
        "false" => None,
        _ => Some(format!(
            "override tag {KEEP_RUNNING_TAG} has the value `{v}` (neither true nor false): not stopped, to be safe"
        )),
    }
}

/// What a tier's group steps need after planning.
pub(super) struct GroupSteps {
    /// The changes (empty: none).
    pub changes: Vec<GroupChange>,
    /// Group -> instances expected at the end (waits and gates).
    pub watched: BTreeMap<String, i32>,
}

/// Plans the tier's groups: notes on `tp`, and the changes and watches.
pub(super) fn plan_groups(
    action: Action,
    groups: &[&Group],
    owned: &BTreeMap<String, Vec<String>>,
    tp: &mut TierPlan,
) -> GroupSteps {
    let mut out = GroupSteps {
        changes: Vec::new(),
        watched: BTreeMap::new(),
    };
    for g in groups {
        let now = sizes(g);
        let instances = owned.get(&g.name).cloned().unwrap_or_default();
        let mut note = |decision: GroupDecision, reason: String| {
            tp.groups.push(GroupNote {
                group: g.name.clone(),
                decision,
                sizes: now,
                reason,
                instances: instances.clone(),
            });
        };
        if let Some(why) = refused(g) {
            note(GroupDecision::Held, why);
            continue;
        }
        match action {
            Action::Stop => {
                if let Some(why) = kept_running(g) {
                    note(GroupDecision::Held, why);
                    continue;
                }
                if now.desired == 0 && now.min == 0 {
                    let why = match &g.recorded_sizes {
                        Some(r) => format!("already scaled in to 0; its recorded sizes ({r}) are kept"),
                        None => "already at 0 with no recorded sizes: a start will hold it rather than guess its sizes".into(),
                    };
                    note(GroupDecision::Unchanged, why);
                    if !g.instances.is_empty() {
                        out.watched.insert(g.name.clone(), 0);
                    }
                    continue;
                }
                let to = Sizes {
                    min: 0,
                    max: now.max,
                    desired: 0,
                };
                note(
                    GroupDecision::Scale,
                    format!(
                        "scale in to 0 (sizes {} recorded in tag {RECORDED_SIZES_TAG}): AWS terminates its {} instance(s), not stops them; instance store and local state are lost, and the start launches fresh instances from the launch template",
                        now.tag_value(),
                        g.instances.len()
                    ),
                );
                out.changes.push(GroupChange {
                    group: g.name.clone(),
                    from: now,
                    to,
                    record: Some(now.tag_value()),
                    forget_record: false,
                });
                out.watched.insert(g.name.clone(), 0);
            }
            Action::Start => {
                let recorded = g.recorded_sizes.as_deref().map(Sizes::parse);
                match recorded {
                    _ if now.desired > 0 => {
                        let mut why = format!("already running (desired {})", now.desired);
                        if recorded.is_some() {
                            why.push_str(&format!(
                                "; tag {RECORDED_SIZES_TAG} left from an earlier stop is not applied"
                            ));
                        }
                        note(GroupDecision::Unchanged, why);
                        if (g.count("InService") as i64) < i64::from(now.desired) {
                            out.watched.insert(g.name.clone(), now.desired);
                        }
                    }
                    Some(Err(why)) => note(
                        GroupDecision::Held,
                        format!(
                            "tag {RECORDED_SIZES_TAG} cannot be read ({why}): not started rather than guess its sizes"
                        ),
                    ),
                    None => note(
                        GroupDecision::Held,
                        format!(
                            "at 0 with no recorded sizes (tag {RECORDED_SIZES_TAG}): tierctl does not guess its sizes; set them by hand"
                        ),
                    ),
                    Some(Ok(to)) => {
                        note(
                            GroupDecision::Scale,
                            format!(
                                "restore the recorded sizes {}: AWS launches {} fresh instance(s) from the launch template (nothing of the old instances' local state)",
                                to.tag_value(),
                                to.desired
                            ),
                        );
                        out.changes.push(GroupChange {
                            group: g.name.clone(),
                            from: now,
                            to,
                            record: None,
                            forget_record: true,
                        });
                        out.watched.insert(g.name.clone(), to.desired);
                    }
                }
            }
        }
    }
    out
}

/// Appends the group steps of a tier: the change, the synchronous wait,
/// the health gate.
pub(super) fn push_steps(
    part: Part<'_>,
    steps: GroupSteps,
    timeout_seconds: u32,
    tp: &mut TierPlan,
) -> GroupStepsAfter {
    if !steps.changes.is_empty() {
        tp.steps.push(Step::ScaleGroups {
            groups: steps.changes,
        });
    }
    if part.synchronous() && !steps.watched.is_empty() {
        tp.steps.push(Step::WaitGroups {
            groups: steps.watched.clone(),
            timeout_seconds,
        });
    }
    match part {
        Part::Start(s) if s.wait_healthy && !steps.watched.is_empty() => GroupStepsAfter {
            gate: Some(Step::WaitGroupsHealthy {
                groups: steps.watched,
                timeout_seconds: s.health_timeout_seconds,
            }),
        },
        _ => GroupStepsAfter { gate: None },
    }
}

/// The group health gate, placed after the tier's other gates.
pub(super) struct GroupStepsAfter {
    pub gate: Option<Step>,
}

/// The workload's Auto Scaling groups by the tier (holding `asg`) that
/// claims them, and the instances they own.
pub(super) struct GroupsByTier<'o> {
    /// Tier name -> its groups, by name.
    by_tier: BTreeMap<String, Vec<&'o Group>>,
    /// Claimed group -> the instances it owns, sorted.
    owned: BTreeMap<String, Vec<String>>,
}

impl<'o> GroupsByTier<'o> {
    pub(super) fn of(
        w: &Workload,
        observed: Option<&'o ObservedWorkload>,
        plan: &mut WorkloadPlan,
    ) -> Self {
        let asg_tiers: BTreeSet<&str> = w
            .tiers
            .iter()
            .filter(|t| t.holds(MemberKind::Asg))
            .map(|t| t.name.as_str())
            .collect();
        let mut by_tier: BTreeMap<String, Vec<&Group>> = BTreeMap::new();
        for g in observed.map(|o| o.groups.as_slice()).unwrap_or_default() {
            match g.tier.as_deref() {
                Some(t) if asg_tiers.contains(t) => {
                    by_tier.entry(t.to_string()).or_default().push(g)
                }
                _ => plan.unmatched_groups.push(g.name.clone()),
            }
        }
        let claimed: BTreeSet<&str> = by_tier
            .values()
            .flatten()
            .map(|g| g.name.as_str())
            .collect();
        // Terminated instances keep their group tag for a while: the
        // group still owns them (never acted on), but they are not listed.
        let mut owned: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for i in observed.map(|o| o.instances.as_slice()).unwrap_or_default() {
            if let Some(g) = i.group.as_deref().filter(|g| claimed.contains(g)) {
                let ids = owned.entry(g.to_string()).or_default();
                if !matches!(
                    i.state,
                    InstanceState::Terminated | InstanceState::ShuttingDown
                ) {
                    ids.push(i.id.clone());
                }
            }
        }
        owned.values_mut().for_each(|v| v.sort());
        GroupsByTier { by_tier, owned }
    }

    /// Whether `i` belongs to a group a tier claims (then it is listed with
    /// its group, never acted on alone).
    pub(super) fn owns(&self, i: &Instance) -> bool {
        i.group
            .as_deref()
            .is_some_and(|g| self.owned.contains_key(g))
    }

    /// The tier's instances that may be acted on one by one, and notes for
    /// those that may not: owned by a group no tier claims, or in a tier
    /// that does not hold `ec2`.
    pub(super) fn apart<'i>(
        tier: &Tier,
        instances: &[&'i Instance],
    ) -> (Vec<&'i Instance>, Vec<InstanceNote>) {
        let mut keep = Vec::new();
        let mut held = Vec::new();
        for &i in instances {
            if let Some(g) = &i.group {
                if !matches!(
                    i.state,
                    InstanceState::Terminated | InstanceState::ShuttingDown
                ) {
                    held.push(note(i, &format!("belongs to Auto Scaling group {g} (tag aws:autoscaling:groupName), which no tier holding `asg` claims: never acted on one by one")));
                }
            } else if !tier.holds(MemberKind::Ec2) {
                held.push(note(
                    i,
                    "the tier does not hold `ec2` members (see `members`): not acted on",
                ));
            } else {
                keep.push(i);
            }
        }
        (keep, held)
    }

    /// Adds the tier's group notes and steps to `tp`.
    pub(super) fn plan_tier(
        &self,
        tier: &Tier,
        part: Part<'_>,
        offline: bool,
        intent: &Intent,
        tp: &mut TierPlan,
    ) {
        if !tier.holds(MemberKind::Asg) {
            return;
        }
        if offline {
            tp.notes.push(match part {
                Part::Stop(_) => "Auto Scaling groups with the tier tag are found at run time: their sizes are recorded in tag tierctl:stopped-sizes, then they are scaled in (their instances are terminated)".into(),
                Part::Start(_) => "Auto Scaling groups with the tier tag are found at run time: the sizes recorded in tag tierctl:stopped-sizes are restored (fresh instances launch)".into(),
            });
            return;
        }
        let groups = self.by_tier.get(&tier.name).cloned().unwrap_or_default();
        let steps = plan_groups(intent.action, &groups, &self.owned, tp);
        let acts = !steps.changes.is_empty();
        // Before the delay (the last step, when any), after the tier's other steps and gates.
        let delay = match tp.steps.last() {
            Some(Step::Delay { .. }) => tp.steps.pop(),
            _ => None,
        };
        let after = push_steps(part, steps, intent.wait_timeout_seconds, tp);
        tp.steps.extend(after.gate);
        match delay {
            Some(d) => tp.steps.push(d),
            None if acts && part.delay() > 0 => tp.steps.push(Step::Delay {
                seconds: part.delay(),
            }),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::{Instance, InstanceState, ObservedWorkload};
    use crate::plan::{Intent, WorkloadPlan, plan_workload};
    use crate::spec::{MemberKind, StartAction, StopAction, Tier, Workload};

    fn workload() -> Workload {
        let tier = |name: &str, stop: u32, start: u32, members: Vec<MemberKind>| Tier {
            name: name.into(),
            stop: Some(StopAction {
                sequence: stop,
                synchronous: true,
                delay_seconds: 0,
                override_file: None,
            }),
            start: Some(StartAction {
                sequence: start,
                wait_healthy: true,
                health_timeout_seconds: 60,
                ..StartAction::new(start)
            }),
            scaling: BTreeMap::new(),
            members,
        };
        Workload {
            tiers: vec![
                tier("web", 0, 1, vec![MemberKind::Asg]),
                tier("app", 1, 0, crate::spec::default_members()),
            ],
            disabled: false,
            ..crate::spec::example_with_every_field()
        }
    }

    fn group(name: &str, min: i32, max: i32, desired: i32) -> Group {
        Group {
            name: name.into(),
            tier: Some("web".into()),
            min_size: min,
            max_size: max,
            desired,
            instances: (0..desired)
                .map(|n| (format!("i-{name}{n}"), "InService".to_string()))
                .collect(),
            ..Group::default()
        }
    }

    fn owned(g: &Group) -> Vec<Instance> {
        g.instances
            .keys()
            .map(|id| Instance {
                id: id.clone(),
                tier: Some("web".into()),
                state: InstanceState::Running,
                instance_type: "t3.micro".into(),
                name: None,
                launch_time: None,
                resize: None,
                classic_load_balancers: Vec::new(),
                target_groups: Vec::new(),
                group: Some(g.name.clone()),
            })
            .collect()
    }

    fn plan(groups: Vec<Group>, action: Action) -> WorkloadPlan {
        let instances = groups.iter().flat_map(owned).collect();
        let o = ObservedWorkload {
            region: "us-west-2".into(),
            instances,
            groups,
            ..ObservedWorkload::default()
        };
        plan_workload(&workload(), Some(&o), &Intent::new(action)).unwrap()
    }

    fn web(p: &WorkloadPlan) -> &TierPlan {
        p.waves
            .iter()
            .flat_map(|w| &w.tiers)
            .find(|t| t.name == "web")
            .unwrap()
    }

    #[test]
    fn stop_records_and_scales_in_and_lists_the_owned_instances() {
        let p = plan(vec![group("g", 1, 4, 2)], Action::Stop);
        let t = web(&p);
        assert_eq!(
            t.steps,
            vec![
                Step::ScaleGroups {
                    groups: vec![GroupChange {
                        group: "g".into(),
                        from: Sizes {
                            min: 1,
                            max: 4,
                            desired: 2
                        },
                        to: Sizes {
                            min: 0,
                            max: 4,
                            desired: 0
                        },
                        record: Some("min=1,max=4,desired=2".into()),
                        forget_record: false,
                    }]
                },
                Step::WaitGroups {
                    groups: BTreeMap::from([("g".to_string(), 0)]),
                    timeout_seconds: crate::plan::DEFAULT_WAIT_TIMEOUT_SECONDS,
                },
            ]
        );
        assert_eq!(t.groups[0].instances, vec!["i-g0", "i-g1"]);
        assert!(t.groups[0].reason.contains("terminates its 2 instance(s)"));
        assert!(
            t.held.is_empty() && t.unchanged.is_empty(),
            "owned instances are the group's"
        );
        assert!(p.unmatched.is_empty());
        assert_eq!(p.summary().groups, 1);
        assert!(p.has_actions());
    }

    #[test]
    fn a_second_stop_is_a_no_op_and_the_start_restores_then_forgets() {
        let mut g = group("g", 0, 4, 0);
        g.recorded_sizes = Some("min=1,max=4,desired=2".into());
        let p = plan(vec![g.clone()], Action::Stop);
        assert!(web(&p).steps.is_empty());
        assert_eq!(web(&p).groups[0].decision, GroupDecision::Unchanged);
        assert!(!p.has_actions());

        let p = plan(vec![g], Action::Start);
        let t = web(&p);
        assert_eq!(
            t.steps[0],
            Step::ScaleGroups {
                groups: vec![GroupChange {
                    group: "g".into(),
                    from: Sizes {
                        min: 0,
                        max: 4,
                        desired: 0
                    },
                    to: Sizes {
                        min: 1,
                        max: 4,
                        desired: 2
                    },
                    record: None,
                    forget_record: true,
                }]
            }
        );
        // Not synchronous at start: the health gate only.
        assert_eq!(t.steps.len(), 2, "{:?}", t.steps);
        assert!(
            matches!(&t.steps[1], Step::WaitGroupsHealthy { groups, timeout_seconds: 60 } if groups["g"] == 2)
        );

        // After the start: nothing to do.
        let p = plan(vec![group("g", 1, 4, 2)], Action::Start);
        assert!(web(&p).steps.is_empty());
        assert!(!p.has_actions());
    }

    #[test]
    fn refusals_overrides_and_no_guessing() {
        let mut warm = group("warm", 1, 4, 1);
        warm.warm_pool = true;
        let mut standby = group("standby", 1, 4, 2);
        standby.instances.insert("i-s".into(), "Standby".into());
        let mut kept = group("kept", 1, 4, 1);
        kept.keep_running = Some("true".into());
        let mut odd = group("odd", 1, 4, 1);
        odd.keep_running = Some("yes please".into());
        let mut off = group("off", 1, 4, 1);
        off.keep_running = Some("False".into());
        let p = plan(vec![kept, odd, off, standby, warm], Action::Stop);
        let t = web(&p);
        let decision = |n: &str| t.groups.iter().find(|g| g.group == n).unwrap();
        assert_eq!(decision("warm").decision, GroupDecision::Held);
        assert!(decision("warm").reason.contains("warm pool"));
        assert_eq!(decision("standby").decision, GroupDecision::Held);
        assert!(decision("standby").reason.contains("Standby"));
        assert_eq!(decision("kept").decision, GroupDecision::Held);
        assert_eq!(decision("odd").decision, GroupDecision::Held);
        assert!(decision("odd").reason.contains("yes please"));
        assert_eq!(decision("off").decision, GroupDecision::Scale);
        assert_eq!(p.summary().groups_held, 4);

        let mut empty = group("empty", 0, 4, 0);
        empty.recorded_sizes = None;
        let mut broken = group("broken", 0, 4, 0);
        broken.recorded_sizes = Some("min=1,max=2".into());
        let p = plan(vec![broken, empty], Action::Start);
        let t = web(&p);
        assert!(t.steps.is_empty(), "{:?}", t.steps);
        assert!(t.groups.iter().all(|g| g.decision == GroupDecision::Held));
        assert!(t.groups[0].reason.contains("cannot be read"));
        assert!(t.groups[1].reason.contains("does not guess"));

        // A running group is left alone whatever its old tag says.
        let mut running = group("running", 1, 4, 2);
        running.recorded_sizes = Some("garbage".into());
        let p = plan(vec![running], Action::Start);
        assert_eq!(web(&p).groups[0].decision, GroupDecision::Unchanged);
        assert!(web(&p).steps.is_empty());
    }

    #[test]
    fn instances_of_unclaimed_groups_are_held_wherever_their_tier_tag_points() {
        let mut g = group("other", 1, 4, 1);
        g.tier = Some("elsewhere".into());
        let mut instances = owned(&g);
        instances[0].tier = Some("app".into());
        let o = ObservedWorkload {
            region: "us-west-2".into(),
            instances,
            groups: vec![g],
            ..ObservedWorkload::default()
        };
        let p = plan_workload(&workload(), Some(&o), &Intent::new(Action::Stop)).unwrap();
        assert_eq!(p.unmatched_groups, vec!["other"]);
        let app = p
            .waves
            .iter()
            .flat_map(|w| &w.tiers)
            .find(|t| t.name == "app")
            .unwrap();
        assert!(app.steps.is_empty(), "{:?}", app.steps);
        assert!(
            app.held[0]
                .reason
                .contains("belongs to Auto Scaling group other")
        );
    }

    #[test]
    fn an_ec2_only_plan_has_no_group_fields() {
        let mut w = workload();
        w.tiers.retain(|t| t.name == "app");
        let o = ObservedWorkload {
            region: "us-west-2".into(),
            ..ObservedWorkload::default()
        };
        let p = plan_workload(&w, Some(&o), &Intent::new(Action::Stop)).unwrap();
        let text = serde_json::to_string(&p).unwrap();
        assert!(!text.contains("group"), "{text}");
        let summary = serde_json::to_string(&p.summary()).unwrap();
        assert!(!summary.contains("groups"), "{summary}");
        let observed = serde_json::to_string(&o).unwrap();
        assert!(!observed.contains("groups"), "{observed}");
    }

    #[test]
    fn sizes_round_trip_and_refuse_odd_values() {
        let s = Sizes {
            min: 1,
            max: 4,
            desired: 2,
        };
        assert_eq!(s.tag_value(), "min=1,max=4,desired=2");
        assert_eq!(Sizes::parse(&s.tag_value()), Ok(s));
        assert_eq!(Sizes::parse(" desired=2, min=1 ,max=4"), Ok(s));
        for bad in [
            "",
            "min=1,max=4",
            "min=1,max=4,desired=5",
            "min=-1,max=4,desired=2",
            "min=1,max=4,desired=2,min=1",
            "min=1,max=4,desired=two",
            "min=1;max=4;desired=2",
            "min=1,max=4,desired=2,extra=3",
        ] {
            assert!(Sizes::parse(bad).is_err(), "{bad}");
        }
    }
}
