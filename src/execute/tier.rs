//! One tier of a wave: its steps in order, one function per step kind, over
//! the state the steps share (which instances are still to act on, which
//! were acted on, what each one's outcome is).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

mod asg;

use super::{CheckOutcome, Ctx, Effects, Outcome, OverrideCheck, Progress, Status, batch, pace};
use crate::error::AwsError;
use crate::observe::InstanceState;
use crate::plan::{Action, Resize, Step, TierPlan};
use crate::spec::GuestOs;
pub(super) use asg::scales_groups;

/// Whether the tier goes on after a step.
enum Flow {
    Next,
    Interrupted,
}

/// What a tier's steps share while they run.
struct TierRun<'a, E, P> {
    ctx: &'a Ctx<E, P>,
    workload: &'a str,
    region: &'a str,
    tier: &'a TierPlan,
    outcomes: Vec<Outcome>,
    /// Still to act on; each step may set some aside.
    pending: BTreeSet<String>,
    /// Stopped or started by this run (and not failed since).
    acted: BTreeSet<String>,
    /// Instance -> (old type, new type).
    resized: BTreeMap<String, (String, String)>,
    /// Instance -> load balancer actions, for the report.
    lb_actions: BTreeMap<String, Vec<String>>,
    /// The tier's DB instances and clusters.
    databases: super::rds::DatabaseRun,
    /// The tier's Auto Scaling groups (see `tier::asg`).
    groups: asg::GroupRun,
}

/// Runs a tier's steps and returns one outcome per instance it names.
pub(super) async fn run_tier<E: Effects, P: Progress>(
    ctx: &Ctx<E, P>,
    workload: &str,
    region: &str,
    t: &TierPlan,
) -> Vec<Outcome> {
    let mut run = TierRun {
        ctx,
        workload,
        region,
        tier: t,
        outcomes: Vec::new(),
        pending: super::targets(t).into_iter().collect(),
        acted: BTreeSet::new(),
        resized: BTreeMap::new(),
        lb_actions: BTreeMap::new(),
        databases: super::rds::DatabaseRun::new(ctx, workload, t),
        groups: asg::GroupRun::default(),
    };
    run.note_groups();
    for n in &t.unchanged {
        run.note(&n.instance, Status::Unchanged, Some(n.reason.clone()));
    }
    for n in &t.held {
        run.note(&n.instance, Status::HeldBack, Some(n.reason.clone()));
    }
    ctx.progress.tier_started(
        workload,
        &t.name,
        run.pending.len() + run.databases.pending_len(),
    );
    for step in &t.steps {
        if ctx.cancelled() {
            break;
        }
        let flow = match step {
            Step::OverrideCheck {
                file,
                os,
                output_bucket,
                output_key_prefix,
                ..
            } => {
                run.override_check(*os, file, output_bucket, output_key_prefix)
                    .await
            }
            Step::Resize { resizes } => run.resize(resizes).await,
            Step::ScaleDelay { seconds } => run.scale_delay(*seconds).await,
            Step::Stop { batches } | Step::Start { batches } => run.act(batches).await,
            Step::Wait {
                state,
                instances,
                timeout_seconds,
            } => run.wait(*state, instances, *timeout_seconds).await,
            Step::DeregisterClassic { load_balancers } => {
                run.deregister_classic(load_balancers).await
            }
            Step::RegisterClassic {
                load_balancers,
                timeout_seconds,
            } => run.register_classic(load_balancers, *timeout_seconds).await,
            Step::WaitHealthy {
                target_groups,
                instances,
                timeout_seconds,
                classic_load_balancers,
            } => {
                run.wait_healthy(
                    target_groups,
                    classic_load_balancers,
                    instances,
                    *timeout_seconds,
                )
                .await
            }
            Step::Delay { seconds } => run.delay(*seconds).await,
            Step::StopDatabases { .. } | Step::StartDatabases { .. } => {
                run.databases.act(ctx, workload, region, &t.name).await;
                Flow::Next
            }
            Step::WaitDatabases {
                status,
                databases,
                timeout_seconds,
            } => {
                run.databases
                    .wait(
                        ctx,
                        workload,
                        region,
                        t,
                        databases,
                        status,
                        *timeout_seconds,
                        false,
                    )
                    .await;
                Flow::Next
            }
            Step::DatabasesAvailable {
                databases,
                timeout_seconds,
            } => {
                run.databases
                    .wait(
                        ctx,
                        workload,
                        region,
                        t,
                        databases,
                        "available",
                        *timeout_seconds,
                        true,
                    )
                    .await;
                Flow::Next
            }
            Step::ScaleGroups { groups } => run.scale_groups(groups).await,
            Step::WaitGroups {
                groups,
                timeout_seconds,
            } => run.wait_groups(groups, *timeout_seconds, false).await,
            Step::WaitGroupsHealthy {
                groups,
                timeout_seconds,
            } => run.wait_groups(groups, *timeout_seconds, true).await,
        };
        if matches!(flow, Flow::Interrupted) {
            break;
        }
    }
    let outcomes = run.finish();
    ctx.progress.tier_finished(workload, &t.name, &outcomes);
    outcomes
}

impl<E: Effects, P: Progress> TierRun<'_, E, P> {
    fn dry(&self) -> bool {
        self.ctx.options.dry_run
    }

    fn note(&mut self, id: &str, status: Status, detail: Option<String>) {
        let o = super::outcome(self.ctx, self.workload, &self.tier.name, id, status, detail);
        self.outcomes.push(o);
    }

    fn fail(&mut self, id: &str, e: &AwsError, what: &str) {
        let o = super::failed(self.ctx, self.workload, &self.tier.name, id, e, what);
        self.outcomes.push(o);
    }

    /// Only instances whose guest positively answers "absent" stay pending.
    async fn override_check(
        &mut self,
        os: GuestOs,
        file: &str,
        bucket: &Option<String>,
        prefix: &Option<String>,
    ) -> Flow {
        if self.pending.is_empty() {
            return Flow::Next;
        }
        let check = OverrideCheck {
            os,
            file: file.to_string(),
            timeout: self.ctx.options.check_timeout,
            output_bucket: bucket.clone(),
            output_prefix: prefix.clone(),
        };
        let ids: Vec<String> = self.pending.iter().cloned().collect();
        let answers = self
            .ctx
            .effects
            .check_overrides(self.region, &check, &ids)
            .await;
        for id in ids {
            let (status, why) = match answers.get(&id) {
                Some(CheckOutcome::Absent) => continue,
                Some(CheckOutcome::Present) => {
                    (Status::Bypassed, format!("override file {file} is present"))
                }
                Some(CheckOutcome::Unchecked(why)) => (
                    Status::HeldBack,
                    format!("override file could not be checked: {why}"),
                ),
                None => (Status::HeldBack, "override check gave no answer".into()),
            };
            self.pending.remove(&id);
            self.note(&id, status, Some(why));
        }
        Flow::Next
    }

    /// Resizes concurrently; a failed (or lost) resize leaves the instance
    /// stopped at its old type and out of the start.
    async fn resize(&mut self, resizes: &[Resize]) -> Flow {
        let ctx = self.ctx;
        let mut set = tokio::task::JoinSet::new();
        let mut asked: BTreeMap<tokio::task::Id, Resize> = BTreeMap::new();
        for r in resizes
            .iter()
            .filter(|r| self.pending.contains(&r.instance))
        {
            ctx.pacer.acquire(self.region, pace::Call::Modify, 1).await;
            let effects = Arc::clone(&ctx.effects);
            let (region, r2, dry) = (self.region.to_string(), r.clone(), self.dry());
            let handle = set.spawn(async move { effects.resize(&region, &r2, dry).await });
            asked.insert(handle.id(), r.clone());
        }
        while let Some(joined) = set.join_next_with_id().await {
            let (id, res) = match joined {
                Ok((id, res)) => (id, res),
                Err(e) => (e.id(), Err(super::task_failed(&e))),
            };
            let Some(r) = asked.remove(&id) else { continue };
            match res {
                Ok(()) => {
                    self.resized
                        .insert(r.instance.clone(), (r.from.clone(), r.to.clone()));
                }
                Err(e) => {
                    self.pending.remove(&r.instance);
                    let what = format!(
                        "resize {} -> {} failed; left stopped at {}",
                        r.from, r.to, r.from
                    );
                    let mut o =
                        super::failed(ctx, self.workload, &self.tier.name, &r.instance, &e, &what);
                    o.old_type = Some(r.from.clone());
                    self.outcomes.push(o);
                }
            }
        }
        Flow::Next
    }

    async fn scale_delay(&mut self, seconds: u32) -> Flow {
        if self.resized.is_empty() || self.dry() {
            return Flow::Next;
        }
        self.pause(seconds).await
    }

    async fn pause(&self, seconds: u32) -> Flow {
        if self
            .ctx
            .sleep(Duration::from_secs(u64::from(seconds)))
            .await
        {
            Flow::Next
        } else {
            Flow::Interrupted
        }
    }

    /// Stop or start, in the plan's batches.
    async fn act(&mut self, batches: &[Vec<String>]) -> Flow {
        let batches: Vec<Vec<String>> = batches
            .iter()
            .map(|b| {
                b.iter()
                    .filter(|i| self.pending.contains(*i))
                    .cloned()
                    .collect()
            })
            .collect();
        let results = batch::act(self.ctx, self.workload, self.region, batches).await;
        let what = format!("{} failed", self.ctx.action.as_str());
        for (id, res) in results {
            self.pending.remove(&id);
            match res {
                batch::Result::Done => {
                    self.acted.insert(id);
                }
                batch::Result::Failed(e) => self.fail(&id, &e, &what),
                batch::Result::Skipped(why) => {
                    self.note(&id, Status::NotAttempted, Some(why));
                }
            }
        }
        Flow::Next
    }

    async fn wait(&mut self, state: InstanceState, instances: &[String], timeout: u32) -> Flow {
        if self.dry() {
            return Flow::Next;
        }
        let watch = super::watched(self.tier, instances, &self.acted);
        let missed = super::wait_for(
            self.ctx,
            self.region,
            &watch,
            state,
            Duration::from_secs(u64::from(timeout)),
        )
        .await;
        for (id, last) in missed {
            self.acted.remove(&id);
            let last = last.map_or_else(|| "unknown".to_string(), |s| s.to_string());
            self.note(
                &id,
                Status::Failed,
                Some(format!(
                    "did not reach {state} within {timeout}s (last seen {last})"
                )),
            );
        }
        Flow::Next
    }

    /// Not being in the load balancer during the start is the point; a
    /// failure here is worth a warning, not a halt.
    async fn deregister_classic(&mut self, load_balancers: &BTreeMap<String, Vec<String>>) -> Flow {
        for (lb, ids) in load_balancers {
            let ids: Vec<String> = ids
                .iter()
                .filter(|i| self.pending.contains(*i))
                .cloned()
                .collect();
            if ids.is_empty() || self.dry() || self.ctx.fence.holds(self.workload).is_err() {
                continue;
            }
            let what = match self
                .ctx
                .effects
                .deregister_classic(self.region, lb, &ids)
                .await
            {
                Ok(()) => format!("deregistered from classic {lb}"),
                Err(e) => {
                    tracing::warn!(workload = self.workload, tier = %self.tier.name, "deregistering from {lb}: {e}");
                    format!("not deregistered from classic {lb}: {e}")
                }
            };
            for id in ids {
                self.lb_actions.entry(id).or_default().push(what.clone());
            }
        }
        Flow::Next
    }

    /// Classic load balancers only take running instances: wait, then register.
    async fn register_classic(
        &mut self,
        load_balancers: &BTreeMap<String, Vec<String>>,
        timeout: u32,
    ) -> Flow {
        if self.dry() {
            return Flow::Next;
        }
        let all: BTreeSet<String> = load_balancers
            .values()
            .flatten()
            .filter(|i| self.acted.contains(*i))
            .cloned()
            .collect();
        let all: Vec<String> = all.into_iter().collect();
        let missed = super::wait_for(
            self.ctx,
            self.region,
            &all,
            InstanceState::Running,
            Duration::from_secs(u64::from(timeout)),
        )
        .await;
        for (lb, ids) in load_balancers {
            let ids: Vec<String> = ids
                .iter()
                .filter(|i| self.acted.contains(*i) && !missed.contains_key(*i))
                .cloned()
                .collect();
            if ids.is_empty() {
                continue;
            }
            match self
                .ctx
                .effects
                .register_classic(self.region, lb, &ids)
                .await
            {
                Ok(()) => {
                    for id in ids {
                        self.lb_actions
                            .entry(id)
                            .or_default()
                            .push(format!("registered with classic {lb}"));
                    }
                }
                Err(e) => {
                    let what =
                        format!("started, but registering with classic load balancer {lb} failed");
                    for id in ids {
                        self.acted.remove(&id);
                        self.fail(&id, &e, &what);
                    }
                }
            }
        }
        for (id, last) in missed {
            self.acted.remove(&id);
            let last = last.map_or_else(|| "unknown".to_string(), |s| s.to_string());
            self.note(&id, Status::Failed, Some(format!("not running within {timeout}s (last seen {last}), so not registered with its load balancers")));
        }
        Flow::Next
    }

    async fn wait_healthy(
        &mut self,
        target_groups: &BTreeMap<String, Vec<String>>,
        classic: &BTreeMap<String, Vec<String>>,
        instances: &[String],
        timeout: u32,
    ) -> Flow {
        if self.dry() {
            return Flow::Next;
        }
        let watch = super::watched(self.tier, instances, &self.acted);
        let missed = super::wait_healthy(
            self.ctx,
            self.region,
            super::Gate {
                target_groups,
                classic,
            },
            &watch,
            Duration::from_secs(u64::from(timeout)),
        )
        .await;
        for id in watch.iter().filter(|id| !missed.contains_key(*id)) {
            let in_group = |m: &BTreeMap<String, Vec<String>>| m.values().any(|v| v.contains(id));
            if in_group(target_groups) {
                self.lb_actions
                    .entry(id.clone())
                    .or_default()
                    .push("healthy in its target groups".into());
            }
            if in_group(classic) {
                self.lb_actions
                    .entry(id.clone())
                    .or_default()
                    .push("InService in its classic load balancers".into());
            }
        }
        for (id, why) in missed {
            self.acted.remove(&id);
            self.note(
                &id,
                Status::Failed,
                Some(format!("not healthy within {timeout}s: {why}")),
            );
        }
        Flow::Next
    }

    /// Nothing changed in this tier, or its failure halts the workload: the
    /// next wave has nothing to wait for.
    async fn delay(&mut self, seconds: u32) -> Flow {
        let halts = !self.ctx.options.continue_on_error
            && self.outcomes.iter().any(|o| o.status == Status::Failed);
        if self.dry()
            || (self.acted.is_empty()
                && self.databases.acted.is_empty()
                && self.groups.acted.is_empty())
            || halts
        {
            return Flow::Next;
        }
        self.pause(seconds).await
    }

    /// The outcomes: acted-on instances reached the target (or would have,
    /// in a dry run); instances still pending were not attempted.
    fn finish(mut self) -> Vec<Outcome> {
        let databases = std::mem::replace(&mut self.databases, super::rds::DatabaseRun::empty());
        let database_outcomes = databases.finish(self.ctx, self.workload, &self.tier.name);
        let done = match (self.ctx.action, self.dry()) {
            (Action::Stop, false) => Status::Stopped,
            (Action::Start, false) => Status::Started,
            (Action::Stop, true) => Status::WouldStop,
            (Action::Start, true) => Status::WouldStart,
        };
        for id in std::mem::take(&mut self.acted) {
            let mut o = super::outcome(self.ctx, self.workload, &self.tier.name, &id, done, None);
            if let Some((from, to)) = self.resized.get(&id) {
                o.old_type = Some(from.clone());
                o.new_type = Some(to.clone());
            }
            o.load_balancers = self.lb_actions.remove(&id).unwrap_or_default();
            self.outcomes.push(o);
        }
        for id in std::mem::take(&mut self.pending) {
            self.note(&id, Status::NotAttempted, Some("interrupted".into()));
        }
        self.finish_groups(done);
        self.outcomes.sort_by(|a, b| a.instance.cmp(&b.instance));
        self.outcomes.extend(database_outcomes);
        self.outcomes
    }
}
