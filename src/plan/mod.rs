//! The planner: a pure function of (workload spec, observed state, intent)
//! that returns the ordered steps of a run. `run` executes exactly this plan;
//! `plan` prints it.
//!
//! Deterministic: tiers, instances and batches are sorted, so the same input
//! gives byte-identical output. Idempotent by construction: instances already
//! in the target state become explicit no-ops, so planning again after a
//! successful run yields nothing to do.

pub mod asg;
pub mod rds;
pub mod resize;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::observe::{Instance, InstanceState, ObservedWorkload};
use crate::spec::{GuestOs, MemberKind, StartAction, StopAction, Tier, Workload};
pub use rds::{DatabaseNote, DatabaseTarget};

/// Version of the plan's JSON form; bumped on incompatible change.
pub const PLAN_VERSION: u32 = 1;
/// Instance ids per Stop/StartInstances call unless told otherwise.
pub const DEFAULT_BATCH_SIZE: usize = 100;
/// How long a synchronous tier waits for its instances unless told otherwise.
pub const DEFAULT_WAIT_TIMEOUT_SECONDS: u32 = 900;

/// Stop or start.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Stop tiers in `stop.sequence` order.
    Stop,
    /// Start tiers in `start.sequence` order.
    Start,
}

impl Action {
    /// `stop` / `start`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Stop => "stop",
            Action::Start => "start",
        }
    }

    /// `stopped` / `started`.
    pub fn past(self) -> &'static str {
        match self {
            Action::Stop => "stopped",
            Action::Start => "started",
        }
    }

    /// The state this action aims for.
    pub fn target(self) -> InstanceState {
        match self {
            Action::Stop => InstanceState::Stopped,
            Action::Start => InstanceState::Running,
        }
    }
}

/// What the operator asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// Stop or start.
    pub action: Action,
    /// Scaling profile applied at start.
    pub profile: Option<String>,
    /// Only these tiers (empty: every tier).
    pub tiers: Vec<String>,
    /// Instance ids per call.
    pub batch_size: usize,
    /// Timeout of a synchronous tier's wait.
    pub wait_timeout_seconds: u32,
}

impl Intent {
    /// An intent with default settings.
    pub fn new(action: Action) -> Self {
        Intent {
            action,
            profile: None,
            tiers: Vec::new(),
            batch_size: DEFAULT_BATCH_SIZE,
            wait_timeout_seconds: DEFAULT_WAIT_TIMEOUT_SECONDS,
        }
    }
}

/// The plan of one run over several workloads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// [`PLAN_VERSION`].
    pub version: u32,
    /// Stop or start.
    pub action: Action,
    /// Scaling profile, for starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Per workload, in the order asked for.
    pub workloads: Vec<WorkloadPlan>,
}

/// One workload's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadPlan {
    /// Workload name.
    pub name: String,
    /// Its region.
    pub region: String,
    /// Why nothing is done at all (the kill switch), if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// Whether instances were observed; without, steps name no instances.
    pub observed: bool,
    /// Waves in order; every tier of a wave is acted on together.
    pub waves: Vec<Wave>,
    /// Instances with the workload tag that belong to no tier of the spec.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmatched: Vec<Unmatched>,
    /// DB instances and clusters with the workload tag that belong to no tier of the spec.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmatched_databases: Vec<DatabaseNote>,
    /// Auto Scaling groups with the workload tag that no tier holding `asg` claims.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmatched_groups: Vec<String>,
}

/// Tiers that share a sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Wave {
    /// The shared `sequence`.
    pub sequence: u32,
    /// Tiers by name.
    pub tiers: Vec<TierPlan>,
}

/// One tier's steps, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TierPlan {
    /// Tier name.
    pub name: String,
    /// The next wave waits for this tier's instances.
    pub synchronous: bool,
    /// Steps in order.
    pub steps: Vec<Step>,
    /// Instances left alone because they are (or are becoming) what was asked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unchanged: Vec<InstanceNote>,
    /// Instances deliberately not acted on, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<InstanceNote>,
    /// Remarks (no profile for this tier, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// DB instances and clusters left alone: already (or becoming) what was asked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unchanged_databases: Vec<DatabaseNote>,
    /// DB instances and clusters deliberately not acted on, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held_databases: Vec<DatabaseNote>,
    /// The tier's Auto Scaling groups and what the plan does with each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<asg::GroupNote>,
}

/// One step of a tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "step", rename_all = "camelCase")]
pub enum Step {
    /// Ask each guest whether its override file exists; only those that
    /// positively answer "absent" are stopped.
    #[serde(rename_all = "camelCase")]
    OverrideCheck {
        /// The file.
        file: String,
        /// How to check.
        os: GuestOs,
        /// Which instances.
        instances: Vec<String>,
        /// S3 bucket where SSM keeps a copy of the output, for audit (`ssm.outputBucket`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output_bucket: Option<String>,
        /// Key prefix of that copy (`ssm.outputKeyPrefix`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output_key_prefix: Option<String>,
    },
    /// Change instance types before the start.
    #[serde(rename_all = "camelCase")]
    Resize {
        /// Per instance.
        resizes: Vec<Resize>,
    },
    /// Let resizes settle (`scaleInstanceDelaySeconds`), once per tier.
    #[serde(rename_all = "camelCase")]
    ScaleDelay {
        /// Seconds.
        seconds: u32,
    },
    /// `StopInstances`, one call per batch.
    #[serde(rename_all = "camelCase")]
    Stop {
        /// Instance ids per call.
        batches: Vec<Vec<String>>,
    },
    /// `StartInstances`, one call per batch.
    #[serde(rename_all = "camelCase")]
    Start {
        /// Instance ids per call.
        batches: Vec<Vec<String>>,
    },
    /// Wait until exactly these instances reach `state`.
    #[serde(rename_all = "camelCase")]
    Wait {
        /// Target state.
        state: InstanceState,
        /// Which instances.
        instances: Vec<String>,
        /// Give up after.
        timeout_seconds: u32,
    },
    /// Take the instances out of their classic load balancers before the start.
    #[serde(rename_all = "camelCase")]
    DeregisterClassic {
        /// Load balancer name -> instances.
        load_balancers: BTreeMap<String, Vec<String>>,
    },
    /// Once the instances run, put them back in their classic load balancers.
    #[serde(rename_all = "camelCase")]
    RegisterClassic {
        /// Load balancer name -> instances.
        load_balancers: BTreeMap<String, Vec<String>>,
        /// How long to wait for the instances to run first.
        timeout_seconds: u32,
    },
    /// Wait until the instances are healthy in every ELBv2 target group that
    /// holds them and pass EC2 status checks.
    #[serde(rename_all = "camelCase")]
    WaitHealthy {
        /// Target group ARN -> instances.
        target_groups: BTreeMap<String, Vec<String>>,
        /// Every instance waited for.
        instances: Vec<String>,
        /// Give up after.
        timeout_seconds: u32,
        /// Classic load balancer name -> instances that must be `InService` in it.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        classic_load_balancers: BTreeMap<String, Vec<String>>,
    },
    /// Pause after the tier before the next wave (`delaySeconds`).
    #[serde(rename_all = "camelCase")]
    Delay {
        /// Seconds.
        seconds: u32,
    },
    /// `StopDBInstance` / `StopDBCluster`, one call per DB, concurrently (bounded).
    #[serde(rename_all = "camelCase")]
    StopDatabases {
        /// DB instances and clusters.
        databases: Vec<DatabaseTarget>,
    },
    /// `StartDBInstance` / `StartDBCluster`, one call per DB, concurrently (bounded).
    #[serde(rename_all = "camelCase")]
    StartDatabases {
        /// DB instances and clusters.
        databases: Vec<DatabaseTarget>,
    },
    /// Wait until exactly these DB instances and clusters have `status`
    /// (`stopped` / `available`).
    #[serde(rename_all = "camelCase")]
    WaitDatabases {
        /// Target status.
        status: String,
        /// Which databases.
        databases: Vec<DatabaseTarget>,
        /// Give up after.
        timeout_seconds: u32,
    },
    /// The health gate of DB instances and clusters: status `available`.
    #[serde(rename_all = "camelCase")]
    DatabasesAvailable {
        /// Which databases.
        databases: Vec<DatabaseTarget>,
        /// Give up after (`healthTimeoutSeconds`).
        timeout_seconds: u32,
    },
    /// Auto Scaling groups: at a stop, record the sizes in the group's tag
    /// (`CreateOrUpdateTags`), then set min and desired to 0
    /// (`UpdateAutoScalingGroup`); at a start, restore the recorded sizes,
    /// then delete the tag. Groups are changed concurrently, bounded.
    #[serde(rename_all = "camelCase")]
    ScaleGroups {
        /// Per group.
        groups: Vec<asg::GroupChange>,
    },
    /// Wait until each group has this many instances InService (start)
    /// or no instances at all (stop: 0).
    #[serde(rename_all = "camelCase")]
    WaitGroups {
        /// Group -> instances expected.
        groups: BTreeMap<String, i32>,
        /// Give up after.
        timeout_seconds: u32,
    },
    /// The health gate of groups: InService count = desired, and the
    /// instances healthy in the group's target groups.
    #[serde(rename_all = "camelCase")]
    WaitGroupsHealthy {
        /// Group -> instances expected InService.
        groups: BTreeMap<String, i32>,
        /// Give up after.
        timeout_seconds: u32,
    },
}

/// A type change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Resize {
    /// Instance id.
    pub instance: String,
    /// Current type.
    pub from: String,
    /// New type.
    pub to: String,
    /// Turn EBS optimization off first: the new type does not support it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_ebs_optimized: bool,
}

/// An instance and why it is listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceNote {
    /// Instance id.
    pub instance: String,
    /// Its `Name` tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Observed state.
    pub state: InstanceState,
    /// Why.
    pub reason: String,
}

/// An instance of the workload that no tier claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Unmatched {
    /// Instance id.
    pub instance: String,
    /// Its `Name` tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its tier tag value, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// Its state.
    pub state: InstanceState,
}

/// Why a plan cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A profile no tier maps: a typo must not start everything at the old size.
    #[error("workload {workload}: no tier has scaling profile `{profile}` (known: {})", if known.is_empty() { "none".to_string() } else { known.join(", ") })]
    UnknownProfile {
        /// Workload.
        workload: String,
        /// Asked for.
        profile: String,
        /// Profiles the tiers have.
        known: Vec<String>,
    },
    /// A selected tier the workload does not have.
    #[error("workload {workload}: no tier named `{tier}`")]
    UnknownTier {
        /// Workload.
        workload: String,
        /// Asked for.
        tier: String,
    },
    /// A profile with a stop.
    #[error("scaling profiles apply at start, not at stop")]
    ProfileOnStop,
}

/// Plans one workload. `observed` is `None` offline: steps then name no instances.
pub fn plan_workload(
    w: &Workload,
    observed: Option<&ObservedWorkload>,
    intent: &Intent,
) -> Result<WorkloadPlan, PlanError> {
    if intent.profile.is_some() && intent.action == Action::Stop {
        return Err(PlanError::ProfileOnStop);
    }
    for t in &intent.tiers {
        if !w.tiers.iter().any(|tier| &tier.name == t) {
            return Err(PlanError::UnknownTier {
                workload: w.name.clone(),
                tier: t.clone(),
            });
        }
    }
    if let Some(p) = &intent.profile
        && !w.tiers.iter().any(|t| t.scaling.contains_key(p))
    {
        let known: BTreeSet<String> = w
            .tiers
            .iter()
            .flat_map(|t| t.scaling.keys().cloned())
            .collect();
        return Err(PlanError::UnknownProfile {
            workload: w.name.clone(),
            profile: p.clone(),
            known: known.into_iter().collect(),
        });
    }
    let mut plan = WorkloadPlan {
        name: w.name.clone(),
        region: w.region.clone(),
        skipped: None,
        observed: observed.is_some(),
        waves: Vec::new(),
        unmatched: Vec::new(),
        unmatched_databases: Vec::new(),
        unmatched_groups: Vec::new(),
    };
    if w.disabled {
        plan.skipped = Some(
            "the kill switch is on (`disabled: true`, DisableAllSchedulingActions = \"1\"): nothing is done".into(),
        );
        return Ok(plan);
    }

    let known: BTreeSet<&str> = w.tiers.iter().map(|t| t.name.as_str()).collect();
    let groups = asg::GroupsByTier::of(w, observed, &mut plan);
    let mut by_tier: BTreeMap<&str, Vec<&Instance>> = BTreeMap::new();
    for i in observed.map(|o| o.instances.as_slice()).unwrap_or_default() {
        if groups.owns(i) {
            continue;
        }
        match i.tier.as_deref() {
            Some(t) if known.contains(t) => by_tier.entry(t).or_default().push(i),
            _ if matches!(
                i.state,
                InstanceState::Terminated | InstanceState::ShuttingDown
            ) => {}
            tier => plan.unmatched.push(Unmatched {
                instance: i.id.clone(),
                name: i.name.clone(),
                tier: tier.map(str::to_string),
                state: i.state,
            }),
        }
    }

    plan.unmatched.sort_by(|a, b| a.instance.cmp(&b.instance));
    let (mut dbs_by_tier, unmatched_databases) = rds::by_tier(&known, observed);
    plan.unmatched_databases = unmatched_databases;

    let mut waves: BTreeMap<u32, Vec<TierPlan>> = BTreeMap::new();
    for tier in &w.tiers {
        if !intent.tiers.is_empty() && !intent.tiers.contains(&tier.name) {
            continue;
        }
        let Some(part) = Part::of(tier, intent.action) else {
            continue;
        };
        let mut instances = by_tier.remove(tier.name.as_str()).unwrap_or_default();
        instances.sort_by(|a, b| a.id.cmp(&b.id));
        let dbs = dbs_by_tier.remove(&tier.name).unwrap_or_default();
        let mut tp = plan_tier(w, tier, part, observed, &instances, &dbs, intent);
        groups.plan_tier(tier, part, observed.is_none(), intent, &mut tp);
        waves.entry(part.sequence()).or_default().push(tp);
    }
    plan.waves = waves
        .into_iter()
        .map(|(sequence, mut tiers)| {
            tiers.sort_by(|a, b| a.name.cmp(&b.name));
            Wave { sequence, tiers }
        })
        .collect();
    // The delay after the last wave would wait for nothing.
    if let Some(last) = plan.waves.last_mut() {
        for t in &mut last.tiers {
            t.steps.retain(|s| !matches!(s, Step::Delay { .. }));
        }
    }
    Ok(plan)
}

/// A tier's settings for the action, when it takes part in it: "the tier
/// has settings for this action" as a type rather than an `expect`.
#[derive(Debug, Clone, Copy)]
enum Part<'a> {
    /// The tier's `stop`.
    Stop(&'a StopAction),
    /// The tier's `start`.
    Start(&'a StartAction),
}

impl<'a> Part<'a> {
    /// The tier's part in `action`, if it has one.
    fn of(tier: &'a Tier, action: Action) -> Option<Self> {
        match action {
            Action::Stop => tier.stop.as_ref().map(Part::Stop),
            Action::Start => tier.start.as_ref().map(Part::Start),
        }
    }

    fn sequence(self) -> u32 {
        match self {
            Part::Stop(s) => s.sequence,
            Part::Start(s) => s.sequence,
        }
    }

    fn synchronous(self) -> bool {
        match self {
            Part::Stop(s) => s.synchronous,
            Part::Start(s) => s.synchronous,
        }
    }

    fn delay(self) -> u32 {
        match self {
            Part::Stop(s) => s.delay_seconds,
            Part::Start(s) => s.delay_seconds,
        }
    }
}

/// A tier's instances sorted by what the action does to them.
struct Acting<'i> {
    /// Instances the action changes, in id order.
    act: Vec<&'i Instance>,
    /// Instances already on their way (stopping at a stop, pending at a
    /// start): not acted on, but a wait or health gate includes them.
    in_flight: Vec<String>,
    /// Planned without observation: the steps name no instances and act at
    /// run time.
    offline: bool,
}

impl Acting<'_> {
    fn ids(&self) -> Vec<String> {
        self.act.iter().map(|i| i.id.clone()).collect()
    }

    /// Whether the tier has anything to act on (always, offline).
    fn acts(&self) -> bool {
        self.offline || !self.act.is_empty()
    }

    /// What a wait or a health gate watches: acted on and in flight, sorted.
    fn watched(&self) -> Vec<String> {
        let mut ids = self.ids();
        ids.extend(self.in_flight.iter().cloned());
        ids.sort();
        ids
    }

    fn batches(&self, size: usize) -> Vec<Vec<String>> {
        self.ids()
            .chunks(size.max(1))
            .map(<[String]>::to_vec)
            .collect()
    }
}

fn note(i: &Instance, reason: &str) -> InstanceNote {
    InstanceNote {
        instance: i.id.clone(),
        name: i.name.clone(),
        state: i.state,
        reason: reason.to_string(),
    }
}

/// Sorts the tier's instances: acted on, unchanged, held back, in flight.
fn sort_instances<'i>(
    instances: &[&'i Instance],
    action: Action,
    offline: bool,
    tp: &mut TierPlan,
) -> Acting<'i> {
    use InstanceState as S;
    let mut acting = Acting {
        act: Vec::new(),
        in_flight: Vec::new(),
        offline,
    };
    for &i in instances {
        match (action, i.state) {
            (Action::Stop, S::Running) | (Action::Start, S::Stopped) => acting.act.push(i),
            (Action::Stop, S::Stopped) => tp.unchanged.push(note(i, "already stopped")),
            (Action::Start, S::Running) => tp.unchanged.push(note(i, "already running")),
            (Action::Stop, S::Stopping) => {
                tp.unchanged.push(note(i, "already stopping"));
                acting.in_flight.push(i.id.clone());
            }
            (Action::Start, S::Pending) => {
                tp.unchanged.push(note(i, "already starting"));
                acting.in_flight.push(i.id.clone());
            }
            (Action::Stop, S::Pending) => tp.held.push(note(
                i,
                "pending: still starting, and AWS refuses to stop it until it runs; not stopped this run",
            )),
            (Action::Start, S::Stopping) => tp.held.push(note(
                i,
                "stopping: cannot be started until it has stopped; not started this run",
            )),
            (_, S::ShuttingDown | S::Terminated) => tp.unchanged.push(note(i, "terminated")),
        }
    }
    acting
}

fn plan_tier(
    w: &Workload,
    tier: &Tier,
    part: Part<'_>,
    observed_workload: Option<&ObservedWorkload>,
    instances: &[&Instance],
    databases: &[&crate::observe::Database],
    intent: &Intent,
) -> TierPlan {
    let mut tp = TierPlan {
        name: tier.name.clone(),
        synchronous: part.synchronous(),
        steps: Vec::new(),
        unchanged: Vec::new(),
        held: Vec::new(),
        notes: Vec::new(),
        unchanged_databases: Vec::new(),
        held_databases: Vec::new(),
        groups: Vec::new(),
    };
    let holds_ec2 = tier.holds(MemberKind::Ec2);
    let (instances, held_apart) = asg::GroupsByTier::apart(tier, instances);
    let instances = instances.as_slice();
    tp.held.extend(held_apart);
    let mut acting = sort_instances(
        instances,
        intent.action,
        observed_workload.is_none() && holds_ec2,
        &mut tp,
    );
    // Steps after the start (and its wait): load balancer registration, health gate.
    let mut post_start: Vec<Step> = Vec::new();
    match part {
        Part::Stop(stop) => stop_steps(w, stop, &acting, intent, &mut tp),
        Part::Start(start) => {
            if let Some(profile) = &intent.profile {
                resize_steps(w, tier, profile, observed_workload, &mut acting, &mut tp);
            }
            start_steps(start, &acting, instances, intent, &mut tp, &mut post_start);
        }
    }
    if part.synchronous() && (acting.acts() || !acting.in_flight.is_empty()) {
        tp.steps.push(Step::Wait {
            state: intent.action.target(),
            instances: acting.watched(),
            timeout_seconds: intent.wait_timeout_seconds,
        });
    }
    tp.steps.append(&mut post_start);
    let databases_act =
        rds::plan_databases(tier, part, observed_workload, databases, intent, &mut tp);
    if (acting.acts() || databases_act) && part.delay() > 0 {
        tp.steps.push(Step::Delay {
            seconds: part.delay(),
        });
    }
    tp
}

/// The override check (when the tier has an override file), then the stop.
fn stop_steps(
    w: &Workload,
    stop: &StopAction,
    acting: &Acting<'_>,
    intent: &Intent,
    tp: &mut TierPlan,
) {
    if !acting.acts() {
        return;
    }
    if let Some(o) = &stop.override_file {
        tp.steps.push(Step::OverrideCheck {
            file: o.file.clone(),
            os: o.os,
            instances: acting.ids(),
            output_bucket: w.ssm.as_ref().map(|s| s.output_bucket.clone()),
            output_key_prefix: w.ssm.as_ref().and_then(|s| s.output_key_prefix.clone()),
        });
    }
    tp.steps.push(Step::Stop {
        batches: acting.batches(intent.batch_size),
    });
}

/// The resizes a start with `profile` needs, and the scale delay after
/// them; instances whose resize AWS would refuse are held back (not
/// started), so the tier is never left at a size nobody asked for.
fn resize_steps(
    w: &Workload,
    tier: &Tier,
    profile: &str,
    observed_workload: Option<&ObservedWorkload>,
    acting: &mut Acting<'_>,
    tp: &mut TierPlan,
) {
    let Some(to) = tier.scaling.get(profile) else {
        tp.notes.push(format!(
            "no `{profile}` profile: started at its current type"
        ));
        return;
    };
    let mut resizes: Vec<Resize> = Vec::new();
    let mut same = 0;
    let mut refused: BTreeSet<String> = BTreeSet::new();
    let mut remarks: BTreeSet<String> = BTreeSet::new();
    for i in &acting.act {
        if &i.instance_type == to {
            same += 1;
            continue;
        }
        let checked = observed_workload.map_or(Ok(resize::Permitted::default()), |o| {
            resize::check(i, to, o)
        });
        match checked {
            Ok(p) => {
                if let Some(n) =
                    observed_workload.and_then(|o| resize::note(&i.instance_type, to, o))
                {
                    remarks.insert(n);
                }
                resizes.push(Resize {
                    instance: i.id.clone(),
                    from: i.instance_type.clone(),
                    to: to.clone(),
                    disable_ebs_optimized: p.disable_ebs_optimized,
                });
            }
            Err(why) => {
                refused.insert(i.id.clone());
                tp.held.push(note(
                    i,
                    &format!("not resized to {to}: {why}; not started, so the tier is not left at a size the profile did not ask for"),
                ));
            }
        }
    }
    tp.notes.extend(remarks);
    acting.act.retain(|i| !refused.contains(&i.id));
    if same > 0 {
        tp.notes.push(format!("{same} already {to}: not resized"));
    }
    if observed_workload.is_some_and(|o| !o.types_read) && !resizes.is_empty() {
        tp.notes
            .push("instance type compatibility not checked (types not read)".into());
    }
    if !resizes.is_empty() || acting.offline {
        if acting.offline {
            tp.notes.push(format!(
                "instances not of type {to} are resized before the start (compatibility checked at run time)"
            ));
        }
        tp.steps.push(Step::Resize { resizes });
        tp.steps.push(Step::ScaleDelay {
            seconds: w.scale_instance_delay_seconds,
        });
    }
}

/// Classic load balancer deregistration, the start, and after it (in
/// `post_start`) re-registration and the health gate.
fn start_steps(
    start: &StartAction,
    acting: &Acting<'_>,
    instances: &[&Instance],
    intent: &Intent,
    tp: &mut TierPlan,
    post_start: &mut Vec<Step>,
) {
    let classic: BTreeMap<String, Vec<String>> = if start.reregister_load_balancers {
        let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for i in &acting.act {
            for lb in &i.classic_load_balancers {
                by.entry(lb.clone()).or_default().push(i.id.clone());
            }
        }
        by
    } else {
        BTreeMap::new()
    };
    if !classic.is_empty() {
        tp.steps.push(Step::DeregisterClassic {
            load_balancers: classic.clone(),
        });
    }
    if acting.acts() {
        tp.steps.push(Step::Start {
            batches: acting.batches(intent.batch_size),
        });
    }
    if acting.offline && start.reregister_load_balancers && acting.acts() {
        tp.notes.push("classic load balancers holding the instances are looked up at run time: deregistered before the start, registered again once running".into());
    }
    if !classic.is_empty() {
        post_start.push(Step::RegisterClassic {
            load_balancers: classic,
            timeout_seconds: intent.wait_timeout_seconds,
        });
    }
    if start.wait_healthy && (acting.acts() || !acting.in_flight.is_empty()) {
        let waited = acting.watched();
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut classic: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for i in instances.iter().filter(|i| waited.contains(&i.id)) {
            for tg in &i.target_groups {
                groups.entry(tg.clone()).or_default().push(i.id.clone());
            }
            for lb in &i.classic_load_balancers {
                classic.entry(lb.clone()).or_default().push(i.id.clone());
            }
        }
        post_start.push(Step::WaitHealthy {
            target_groups: groups,
            instances: waited,
            timeout_seconds: start.health_timeout_seconds,
            classic_load_balancers: classic,
        });
    }
}

/// Plans every workload; the first error stops planning.
pub fn plan(
    workloads: &[&Workload],
    observed: Option<&crate::observe::Observed>,
    intent: &Intent,
) -> Result<Plan, PlanError> {
    let mut out = Vec::new();
    for w in workloads {
        let o = observed.map(|o| o.workloads.get(&w.name).cloned().unwrap_or_default());
        out.push(plan_workload(w, o.as_ref(), intent)?);
    }
    Ok(Plan {
        version: PLAN_VERSION,
        action: intent.action,
        profile: intent.profile.clone(),
        workloads: out,
    })
}

/// Counts that summarise a plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Instances to stop or start.
    pub act: usize,
    /// Instances to resize.
    pub resize: usize,
    /// Instances whose override file is checked.
    pub override_checks: usize,
    /// Instances already in (or on the way to) the target state.
    pub unchanged: usize,
    /// Instances held back.
    pub held: usize,
    /// Instances no tier claims.
    pub unmatched: usize,
    /// Workloads skipped by the kill switch.
    pub skipped: usize,
    /// Auto Scaling groups to scale in or out.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub groups: usize,
    /// Auto Scaling groups held (warm pool, standby, override, no recorded sizes).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub groups_held: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl WorkloadPlan {
    /// This workload's counts.
    pub fn summary(&self) -> Summary {
        let mut s = Summary {
            unmatched: self.unmatched.len(),
            skipped: usize::from(self.skipped.is_some()),
            ..Summary::default()
        };
        s.unmatched += self.unmatched_databases.len();
        for t in self.waves.iter().flat_map(|w| &w.tiers) {
            s.unchanged += t.unchanged.len() + t.unchanged_databases.len();
            s.held += t.held.len() + t.held_databases.len();
            s.groups_held += t
                .groups
                .iter()
                .filter(|g| g.decision == asg::GroupDecision::Held)
                .count();
            for step in &t.steps {
                match step {
                    Step::Stop { batches } | Step::Start { batches } => {
                        s.act += batches.iter().map(Vec::len).sum::<usize>();
                    }
                    Step::Resize { resizes } => s.resize += resizes.len(),
                    Step::OverrideCheck { instances, .. } => s.override_checks += instances.len(),
                    Step::StopDatabases { databases } | Step::StartDatabases { databases } => {
                        s.act += databases.len();
                    }
                    Step::ScaleGroups { groups } => s.groups += groups.len(),
                    _ => {}
                }
            }
        }
        s
    }

    /// Whether a run would change anything (offline: whether any tier takes part).
    pub fn has_actions(&self) -> bool {
        self.waves.iter().flat_map(|w| &w.tiers).any(|t| {
            t.steps.iter().any(|s| match s {
                Step::Stop { batches } | Step::Start { batches } => {
                    !self.observed || batches.iter().any(|b| !b.is_empty())
                }
                Step::Resize { resizes } => !resizes.is_empty(),
                Step::StopDatabases { databases } | Step::StartDatabases { databases } => {
                    !databases.is_empty()
                }
                Step::ScaleGroups { groups } => !groups.is_empty(),
                _ => false,
            })
        })
    }
}

impl Plan {
    /// Counts over every workload.
    pub fn summary(&self) -> Summary {
        self.workloads
            .iter()
            .map(WorkloadPlan::summary)
            .fold(Summary::default(), |a, b| Summary {
                act: a.act + b.act,
                resize: a.resize + b.resize,
                override_checks: a.override_checks + b.override_checks,
                unchanged: a.unchanged + b.unchanged,
                held: a.held + b.held,
                unmatched: a.unmatched + b.unmatched,
                skipped: a.skipped + b.skipped,
                groups: a.groups + b.groups,
                groups_held: a.groups_held + b.groups_held,
            })
    }

    /// Whether a run would change anything.
    pub fn has_actions(&self) -> bool {
        self.workloads.iter().any(WorkloadPlan::has_actions)
    }
}

#[cfg(test)]
mod tests;
