//! Executing a plan: walks the waves, tiers and steps of a [`Plan`] through
//! an [`Effects`] implementation (AWS, or a test double) and records one
//! [`Outcome`] per instance. It decides nothing the plan did not decide,
//! except what only running can tell: which guests answered, which calls
//! failed, which instances reached their state in time.
//!
//! - Workloads run concurrently; waves in order; the tiers of a wave
//!   concurrently; a tier's steps in order; a step's batches concurrently,
//!   bounded, and paced by EC2's throttling buckets.
//! - A batch that fails as a whole is split: instances the error names are
//!   set aside, the rest retried; an error naming nobody bisects the batch,
//!   so one broken instance never blocks its tier.
//! - A tier that did not fully reach its target state halts the later waves
//!   of its workload (later tiers depend on earlier ones), unless
//!   `continue_on_error`.
//! - Cancellation (Ctrl-C): no new steps or batches; calls in flight finish.

mod batch;
pub mod fence;
pub mod pace;
mod rds;
mod tier;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::error::AwsError;
use crate::observe::InstanceState;
use crate::plan::{Action, Plan, Step, TierPlan, WorkloadPlan};
use crate::spec::GuestOs;
use pace::Pacer;

/// What an override check found on one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// The guest positively said the file is absent: the instance may be stopped.
    Absent,
    /// The file exists: keep the instance running (bypassed).
    Present,
    /// No positive answer (agent offline, command failed, timed out,
    /// unreadable output, any error): keep it running (held back), with why.
    Unchecked(String),
}

/// An override check to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideCheck {
    /// Guest OS.
    pub os: GuestOs,
    /// The file.
    pub file: String,
    /// Overall deadline.
    pub timeout: Duration,
    /// Audit copy of the output (never read back).
    pub output_bucket: Option<String>,
    /// Key prefix for the audit copy.
    pub output_prefix: Option<String>,
}

/// The side effects a run needs, batch-shaped. Implemented with the AWS SDK
/// in `aws::effects`, and by doubles in tests.
pub trait Effects: Send + Sync + 'static {
    /// `StopInstances` for these ids (all or nothing, as AWS does it).
    fn stop(
        &self,
        region: &str,
        ids: &[String],
        dry_run: bool,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// `StartInstances` for these ids (all or nothing).
    fn start(
        &self,
        region: &str,
        ids: &[String],
        dry_run: bool,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Current states of exactly these instances.
    fn states(
        &self,
        region: &str,
        ids: &[String],
    ) -> impl Future<Output = Result<BTreeMap<String, InstanceState>, AwsError>> + Send;
    /// Changes one stopped instance's type (turning EBS optimization off first when asked).
    fn resize(
        &self,
        region: &str,
        resize: &crate::plan::Resize,
        dry_run: bool,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Takes instances out of a classic load balancer.
    fn deregister_classic(
        &self,
        region: &str,
        load_balancer: &str,
        ids: &[String],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Puts running instances into a classic load balancer.
    fn register_classic(
        &self,
        region: &str,
        load_balancer: &str,
        ids: &[String],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Why each instance is not yet healthy (absent from the map: healthy in
    /// every target group given and EC2 status checks pass).
    fn unhealthy(
        &self,
        region: &str,
        target_groups: &BTreeMap<String, Vec<String>>,
        ids: &[String],
    ) -> impl Future<Output = Result<BTreeMap<String, String>, AwsError>> + Send;
    /// Asks each guest about the override file; one outcome per id.
    fn check_overrides(
        &self,
        region: &str,
        check: &OverrideCheck,
        ids: &[String],
    ) -> impl Future<Output = BTreeMap<String, CheckOutcome>> + Send;
    /// `StopDBInstance` / `StopDBCluster` for one DB (RDS has no DryRun:
    /// never called in a dry run).
    fn stop_database(
        &self,
        region: &str,
        kind: crate::observe::DatabaseKind,
        id: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send {
        let _ = (region, kind);
        let id = id.to_string();
        async move { Err(AwsError::unsupported("rds:StopDBInstance", &id)) }
    }
    /// `StartDBInstance` / `StartDBCluster` for one DB.
    fn start_database(
        &self,
        region: &str,
        kind: crate::observe::DatabaseKind,
        id: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send {
        let _ = (region, kind);
        let id = id.to_string();
        async move { Err(AwsError::unsupported("rds:StartDBInstance", &id)) }
    }
    /// Current statuses of exactly these DB instances or clusters (absent: not found).
    fn database_statuses(
        &self,
        region: &str,
        kind: crate::observe::DatabaseKind,
        ids: &[String],
    ) -> impl Future<Output = Result<BTreeMap<String, String>, AwsError>> + Send {
        let _ = (region, kind, ids);
        async { Err(AwsError::unsupported("rds:DescribeDBInstances", "")) }
    }
    /// Auto Scaling: sets one tag on a group (`CreateOrUpdateTags`).
    /// (Doubles without groups need not implement the group calls.)
    fn set_group_tag(
        &self,
        _region: &str,
        group: &str,
        _key: &str,
        _value: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send {
        let e = AwsError::unsupported("autoscaling:CreateOrUpdateTags", &format!("group {group}"));
        async { Err(e) }
    }
    /// Auto Scaling: deletes one tag of a group (`DeleteTags`).
    fn delete_group_tag(
        &self,
        _region: &str,
        group: &str,
        _key: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send {
        let e = AwsError::unsupported("autoscaling:DeleteTags", &format!("group {group}"));
        async { Err(e) }
    }
    /// Auto Scaling: sets a group's sizes (`UpdateAutoScalingGroup`).
    fn set_group_sizes(
        &self,
        _region: &str,
        group: &str,
        _sizes: crate::plan::asg::Sizes,
    ) -> impl Future<Output = Result<(), AwsError>> + Send {
        let e = AwsError::unsupported(
            "autoscaling:UpdateAutoScalingGroup",
            &format!("group {group}"),
        );
        async { Err(e) }
    }
    /// Auto Scaling: desired capacity and instances of exactly these groups.
    fn groups_now(
        &self,
        _region: &str,
        _names: &[String],
    ) -> impl Future<Output = Result<BTreeMap<String, GroupNow>, AwsError>> + Send {
        let e = AwsError::unsupported("autoscaling:DescribeAutoScalingGroups", "groups");
        async { Err(e) }
    }
    /// Why each instance is not `InService` in this classic load balancer
    /// (absent: InService); the health gate of groups behind one.
    fn classic_unhealthy(
        &self,
        _region: &str,
        load_balancer: &str,
        _ids: &[String],
    ) -> impl Future<Output = Result<BTreeMap<String, String>, AwsError>> + Send {
        let e = AwsError::unsupported("elasticloadbalancing:DescribeInstanceHealth", load_balancer);
        async { Err(e) }
    }
}

/// What an Auto Scaling group looks like now, for waits and health gates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupNow {
    /// `DesiredCapacity`.
    pub desired: i32,
    /// Instance id -> lifecycle state (`InService`, `Pending`, `Terminating`...).
    pub instances: BTreeMap<String, String>,
    /// ELBv2 target groups of the group.
    pub target_groups: Vec<String>,
    /// Classic load balancers of the group.
    pub load_balancers: Vec<String>,
}

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// No state-changing calls (EC2 `DryRun` checks permissions instead).
    pub dry_run: bool,
    /// Go on with later waves after a tier failed.
    pub continue_on_error: bool,
    /// Batches in flight per step.
    pub concurrency: usize,
    /// Deadline of an override check.
    pub check_timeout: Duration,
    /// Longest pause between two state polls of a wait.
    pub max_poll_interval: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            dry_run: false,
            continue_on_error: false,
            concurrency: 4,
            check_timeout: Duration::from_secs(120),
            max_poll_interval: Duration::from_millis(500),
        }
    }
}

/// What happened to one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    /// Stop accepted (and, for synchronous tiers, confirmed).
    Stopped,
    /// Start accepted (and, for synchronous tiers, confirmed).
    Started,
    /// Dry run: would have been stopped.
    WouldStop,
    /// Dry run: would have been started.
    WouldStart,
    /// Already in (or on its way to) the target state.
    Unchanged,
    /// Its owner's override file is present: kept running on purpose.
    Bypassed,
    /// Not acted on for safety (could not be checked, transitional state, resize not possible...).
    HeldBack,
    /// An AWS call for it failed, or it did not reach its state in time.
    Failed,
    /// Not tried: an earlier wave failed, or the run was interrupted.
    NotAttempted,
}

impl Status {
    /// The status in words, for people (`held back`, `not attempted`...).
    pub fn words(self) -> &'static str {
        match self {
            Status::Stopped => "stopped",
            Status::Started => "started",
            Status::WouldStop => "would stop",
            Status::WouldStart => "would start",
            Status::Unchanged => "unchanged",
            Status::Bypassed => "bypassed",
            Status::HeldBack => "held back",
            Status::Failed => "failed",
            Status::NotAttempted => "not attempted",
        }
    }
}

/// One instance's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// Workload.
    pub workload: String,
    /// Tier.
    pub tier: String,
    /// Instance id.
    pub instance: String,
    /// What happened.
    pub status: Status,
    /// Why, in words (the AWS error for failures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The AWS error code, for failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Type before a resize.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_type: Option<String>,
    /// Type after a resize.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_type: Option<String>,
    /// Load balancer actions, e.g. `deregistered from classic web`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_balancers: Vec<String>,
    /// Set when the outcome is a DB instance's or an Aurora DB cluster's
    /// (`instance` then holds its identifier).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<crate::observe::DatabaseKind>,
    /// Milliseconds from the start of the run to this outcome.
    pub at_ms: u64,
    /// What `instance` names when it is not an EC2 instance (`asg`: an
    /// Auto Scaling group, by name; `rds`: a DB instance or Aurora cluster,
    /// by identifier, `database` saying which); absent for EC2 instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<crate::spec::MemberKind>,
}

/// One workload's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadReport {
    /// Workload.
    pub name: String,
    /// Why nothing was done, if so (kill switch, lock held...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// Whether later waves were halted after a failure.
    pub halted: bool,
    /// Per instance, sorted by tier order then id.
    pub outcomes: Vec<Outcome>,
    /// Milliseconds the workload took.
    pub elapsed_ms: u64,
}

/// A whole run's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    /// Stop or start.
    pub action: Action,
    /// Dry run.
    pub dry_run: bool,
    /// Interrupted by the operator.
    pub interrupted: bool,
    /// Per workload.
    pub workloads: Vec<WorkloadReport>,
    /// Milliseconds the run took.
    pub elapsed_ms: u64,
}

impl RunReport {
    /// Every outcome.
    pub fn outcomes(&self) -> impl Iterator<Item = &Outcome> {
        self.workloads.iter().flat_map(|w| &w.outcomes)
    }

    /// Number of outcomes with this status.
    pub fn count(&self, s: Status) -> usize {
        self.outcomes().filter(|o| o.status == s).count()
    }
}

/// Progress events, for bars and log lines.
pub trait Progress: Send + Sync + 'static {
    /// A tier begins.
    fn tier_started(&self, workload: &str, tier: &str, instances: usize);
    /// A tier ends.
    fn tier_finished(&self, workload: &str, tier: &str, outcomes: &[Outcome]);
}

/// No progress output.
pub struct Silent;

impl Progress for Silent {
    fn tier_started(&self, _: &str, _: &str, _: usize) {}
    fn tier_finished(&self, _: &str, _: &str, _: &[Outcome]) {}
}

/// Shared by every task of a run.
struct Ctx<E, P> {
    effects: Arc<E>,
    progress: Arc<P>,
    pacer: Pacer,
    options: Options,
    action: Action,
    cancel: watch::Receiver<bool>,
    fence: Arc<dyn fence::Fence>,
    started: Instant,
}

impl<E, P> Ctx<E, P> {
    fn cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Sleeps, waking early when cancelled. Returns false when cancelled.
    async fn sleep(&self, d: Duration) -> bool {
        let mut cancel = self.cancel.clone();
        tokio::select! {
            () = tokio::time::sleep(d) => !self.cancelled(),
            _ = cancel.wait_for(|c| *c) => false,
        }
    }
}

/// Runs a plan to the end (or until cancelled) and reports every instance.
pub async fn execute<E: Effects, P: Progress>(
    plan: &Plan,
    effects: Arc<E>,
    progress: Arc<P>,
    options: Options,
    fence: Arc<dyn fence::Fence>,
    cancel: watch::Receiver<bool>,
) -> RunReport {
    let ctx = Arc::new(Ctx {
        effects,
        progress,
        pacer: Pacer::default(),
        options,
        action: plan.action,
        cancel,
        fence,
        started: Instant::now(),
    });
    let mut set = tokio::task::JoinSet::new();
    let mut tasks: BTreeMap<tokio::task::Id, usize> = BTreeMap::new();
    for (index, w) in plan.workloads.iter().enumerate() {
        let ctx = Arc::clone(&ctx);
        let w = w.clone();
        let handle = set.spawn(async move { (index, run_workload(&ctx, &w).await) });
        tasks.insert(handle.id(), index);
    }
    let mut reports: Vec<(usize, WorkloadReport)> = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(r) => reports.push(r),
            Err(e) => {
                // Every instance of the workload gets an outcome, even when its task died.
                tracing::error!("a workload task failed: {e}");
                let Some(&index) = tasks.get(&e.id()) else {
                    continue;
                };
                let w = &plan.workloads[index];
                let err = task_failed(&e);
                let mut outcomes: Vec<Outcome> = w
                    .waves
                    .iter()
                    .flat_map(|wave| &wave.tiers)
                    .flat_map(|t| {
                        tier_instances(t)
                            .into_iter()
                            .map(|id| failed(&ctx, &w.name, &t.name, &id, &err, "not handled"))
                    })
                    .collect();
                for t in w.waves.iter().flat_map(|wave| &wave.tiers) {
                    outcomes.extend(rds::named(t).into_iter().map(|k| Outcome {
                        error_code: err.code.clone(),
                        ..rds::outcome(
                            &ctx,
                            &w.name,
                            &t.name,
                            &k,
                            Status::Failed,
                            Some(format!("not handled: {err}")),
                        )
                    }));
                }
                reports.push((
                    index,
                    WorkloadReport {
                        name: w.name.clone(),
                        skipped: None,
                        halted: true,
                        outcomes,
                        elapsed_ms: ctx.now_ms(),
                    },
                ));
            }
        }
    }
    reports.sort_by_key(|(i, _)| *i);
    RunReport {
        action: plan.action,
        dry_run: ctx.options.dry_run,
        interrupted: ctx.cancelled(),
        workloads: reports.into_iter().map(|(_, r)| r).collect(),
        elapsed_ms: ctx.now_ms(),
    }
}

async fn run_workload<E: Effects, P: Progress>(
    ctx: &Arc<Ctx<E, P>>,
    w: &WorkloadPlan,
) -> WorkloadReport {
    let begin = ctx.now_ms();
    let mut report = WorkloadReport {
        name: w.name.clone(),
        skipped: w.skipped.clone(),
        halted: false,
        outcomes: Vec::new(),
        elapsed_ms: 0,
    };
    let mut lost: Option<String> = None;
    for wave in &w.waves {
        if report.halted || ctx.cancelled() {
            let why = if ctx.cancelled() {
                "interrupted before this wave"
            } else if let Some(l) = &lost {
                l.as_str()
            } else {
                "an earlier wave did not complete; later waves are halted (--continue-on-error goes on)"
            };
            for t in &wave.tiers {
                report.outcomes.extend(not_attempted(ctx, &w.name, t, why));
            }
            continue;
        }
        // Before the first state-changing call of a wave, the lease is
        // confirmed in the store: a lease removed or taken over is noticed
        // here, not at the next renewal.
        if wave.tiers.iter().any(|t| {
            !targets(t).is_empty() || !rds::targets(t).is_empty() || tier::scales_groups(t)
        }) && let Err(why) = ctx.fence.reassert(&w.name).await
        {
            tracing::error!(workload = %w.name, "{why}: no more changes for this workload");
            let why = format!("not attempted: {why}");
            report.halted = true;
            for t in &wave.tiers {
                report.outcomes.extend(not_attempted(ctx, &w.name, t, &why));
            }
            lost = Some(why);
            continue;
        }
        let mut set = tokio::task::JoinSet::new();
        let mut tiers: BTreeMap<tokio::task::Id, &TierPlan> = BTreeMap::new();
        for t in &wave.tiers {
            let ctx = Arc::clone(ctx);
            let (workload, region, tier) = (w.name.clone(), w.region.clone(), t.clone());
            let handle =
                set.spawn(async move { tier::run_tier(&ctx, &workload, &region, &tier).await });
            tiers.insert(handle.id(), t);
        }
        let mut wave_ok = true;
        while let Some(joined) = set.join_next_with_id().await {
            match joined {
                Ok((_, outcomes)) => {
                    wave_ok &= !outcomes.iter().any(|o| o.status == Status::Failed);
                    report.outcomes.extend(outcomes);
                }
                Err(e) => {
                    // Every instance of the tier gets an outcome, even when its task died.
                    wave_ok = false;
                    tracing::error!(workload = %w.name, "a tier task failed: {e}");
                    if let Some(t) = tiers.get(&e.id()) {
                        let err = task_failed(&e);
                        for id in tier_instances(t) {
                            report.outcomes.push(failed(
                                ctx,
                                &w.name,
                                &t.name,
                                &id,
                                &err,
                                "not handled",
                            ));
                        }
                        for k in rds::named(t) {
                            report.outcomes.push(rds::outcome(
                                ctx,
                                &w.name,
                                &t.name,
                                &k,
                                Status::Failed,
                                Some(format!("not handled: {err}")),
                            ));
                        }
                    }
                }
            }
        }
        if !wave_ok && !ctx.options.continue_on_error {
            report.halted = true;
        }
    }
    report.elapsed_ms = ctx.now_ms() - begin;
    report
}

/// Every instance a tier plan names: targets, unchanged and held back.
fn tier_instances(t: &TierPlan) -> BTreeSet<String> {
    let mut ids: BTreeSet<String> = targets(t).into_iter().collect();
    ids.extend(t.unchanged.iter().map(|n| n.instance.clone()));
    ids.extend(t.held.iter().map(|n| n.instance.clone()));
    ids
}

/// Every instance a tier plan names, as "not attempted".
fn not_attempted<E, P>(ctx: &Ctx<E, P>, workload: &str, t: &TierPlan, why: &str) -> Vec<Outcome> {
    let mut out: Vec<Outcome> = tier_instances(t)
        .into_iter()
        .map(|id| {
            outcome(
                ctx,
                workload,
                &t.name,
                &id,
                Status::NotAttempted,
                Some(why.to_string()),
            )
        })
        .collect();
    out.extend(rds::named(t).into_iter().map(|k| {
        rds::outcome(
            ctx,
            workload,
            &t.name,
            &k,
            Status::NotAttempted,
            Some(why.to_string()),
        )
    }));
    // The tier's Auto Scaling groups too, as groups.
    out.extend(t.groups.iter().map(|g| Outcome {
        member: Some(crate::spec::MemberKind::Asg),
        ..outcome(
            ctx,
            workload,
            &t.name,
            &g.group,
            Status::NotAttempted,
            Some(why.to_string()),
        )
    }));
    out
}

/// The instances a wait step watches: those this run acted on, plus those
/// the plan found already on their way (not among the step's targets).
fn watched(t: &TierPlan, instances: &[String], acted: &BTreeSet<String>) -> Vec<String> {
    let planned: BTreeSet<String> = targets(t).into_iter().collect();
    instances
        .iter()
        .filter(|i| acted.contains(*i) || !planned.contains(*i))
        .cloned()
        .collect()
}

/// The instances a tier's stop or start step names.
fn targets(t: &TierPlan) -> Vec<String> {
    t.steps
        .iter()
        .find_map(|s| match s {
            Step::Stop { batches } | Step::Start { batches } => {
                Some(batches.iter().flatten().cloned().collect())
            }
            _ => None,
        })
        .unwrap_or_default()
}

fn outcome<E, P>(
    ctx: &Ctx<E, P>,
    workload: &str,
    tier: &str,
    id: &str,
    status: Status,
    detail: Option<String>,
) -> Outcome {
    Outcome {
        workload: workload.to_string(),
        tier: tier.to_string(),
        instance: id.to_string(),
        status,
        detail,
        error_code: None,
        old_type: None,
        new_type: None,
        load_balancers: Vec::new(),
        database: None,
        at_ms: ctx.now_ms(),
        member: None,
    }
}

fn failed<E, P>(
    ctx: &Ctx<E, P>,
    workload: &str,
    tier: &str,
    id: &str,
    e: &AwsError,
    what: &str,
) -> Outcome {
    Outcome {
        error_code: e.code.clone(),
        ..outcome(
            ctx,
            workload,
            tier,
            id,
            Status::Failed,
            Some(format!("{what}: {e}")),
        )
    }
}

/// An error standing in for the result of a task that panicked or was
/// aborted: its instances are failed, never silently dropped.
fn task_failed(e: &tokio::task::JoinError) -> AwsError {
    AwsError {
        call: "tierctl".into(),
        kind: crate::error::AwsErrorKind::Other,
        code: None,
        message: if e.is_panic() {
            "the task acting on this instance panicked (a tierctl bug; please report it)".into()
        } else {
            "the task acting on this instance was cancelled".into()
        },
    }
}

/// Polls the health of exactly `ids` until all are healthy or `timeout`
/// passes; returns those that never got there, with the last reason.
/// What an EC2 tier's health gate checks beside EC2 status checks.
#[derive(Clone, Copy)]
struct Gate<'a> {
    /// ELBv2 target group ARN -> instances.
    target_groups: &'a BTreeMap<String, Vec<String>>,
    /// Classic load balancer name -> instances that must be `InService`.
    classic: &'a BTreeMap<String, Vec<String>>,
}

/// Why each of `ask` is not yet healthy: target groups and status checks,
/// then `InService` in every classic load balancer that holds it.
async fn gate_unhealthy<E: Effects, P: Progress>(
    ctx: &Ctx<E, P>,
    region: &str,
    gate: Gate<'_>,
    ask: &[String],
) -> Result<BTreeMap<String, String>, AwsError> {
    let mut why = ctx
        .effects
        .unhealthy(region, gate.target_groups, ask)
        .await?;
    for (lb, members) in gate.classic {
        let members: Vec<String> = members
            .iter()
            .filter(|m| ask.contains(m))
            .cloned()
            .collect();
        if members.is_empty() {
            continue;
        }
        for (id, reason) in ctx.effects.classic_unhealthy(region, lb, &members).await? {
            why.entry(id).or_insert(reason);
        }
    }
    Ok(why)
}

async fn wait_healthy<E: Effects, P: Progress>(
    ctx: &Ctx<E, P>,
    region: &str,
    gate: Gate<'_>,
    ids: &[String],
    timeout: Duration,
) -> BTreeMap<String, String> {
    let mut waiting: BTreeMap<String, String> = ids
        .iter()
        .map(|i| (i.clone(), "not checked yet".to_string()))
        .collect();
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(200);
    while !waiting.is_empty() {
        let ask: Vec<String> = waiting.keys().cloned().collect();
        ctx.pacer
            .acquire(region, pace::Call::Describe, ask.len())
            .await;
        match gate_unhealthy(ctx, region, gate, &ask).await {
            Ok(unhealthy) => {
                waiting.retain(|id, _| unhealthy.contains_key(id));
                for (id, why) in unhealthy {
                    if let Some(w) = waiting.get_mut(&id) {
                        *w = why;
                    }
                }
            }
            Err(e) => tracing::warn!("checking health: {e}; trying again"),
        }
        if waiting.is_empty() || Instant::now() + pause > deadline || !ctx.sleep(pause).await {
            break;
        }
        pause = (pause * 2).min(ctx.options.max_poll_interval.max(Duration::from_secs(2)));
    }
    waiting
}

/// Polls exactly `ids` until they are all in `state` or `timeout` passes.
/// Returns those that never got there, with the last state seen.
async fn wait_for<E: Effects, P: Progress>(
    ctx: &Ctx<E, P>,
    region: &str,
    ids: &[String],
    state: InstanceState,
    timeout: Duration,
) -> BTreeMap<String, Option<InstanceState>> {
    let mut waiting: BTreeMap<String, Option<InstanceState>> =
        ids.iter().map(|i| (i.clone(), None)).collect();
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(100);
    while !waiting.is_empty() {
        let ask: Vec<String> = waiting.keys().cloned().collect();
        ctx.pacer
            .acquire(region, pace::Call::Describe, ask.len())
            .await;
        match ctx.effects.states(region, &ask).await {
            Ok(states) => {
                for (id, s) in states {
                    if s == state {
                        waiting.remove(&id);
                    } else if let Some(last) = waiting.get_mut(&id) {
                        *last = Some(s);
                    }
                }
            }
            Err(e) => tracing::warn!("polling instance states: {e}; trying again"),
        }
        if waiting.is_empty() || Instant::now() + pause > deadline {
            break;
        }
        if !ctx.sleep(pause).await {
            break;
        }
        pause = (pause * 2).min(ctx.options.max_poll_interval);
    }
    waiting
}

#[cfg(test)]
mod tests;
