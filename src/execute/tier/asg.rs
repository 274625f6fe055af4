//! A tier's Auto Scaling groups: the planned size changes (record the sizes
//! in the group's tag, then scale in; or restore, then forget the tag),
//! concurrently and bounded by the run's concurrency, each state-changing
//! call fenced and paced; the synchronous wait and the health gate; one
//! outcome per group (`member: asg`).
//!
//! Auto Scaling has no `DryRun`: a dry run makes no group call at all and
//! reports what would be done.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::{Flow, TierRun};
use crate::error::AwsError;
use crate::execute::{Effects, GroupNow, Outcome, Progress, Status, pace};
use crate::plan::asg::{GroupChange, GroupDecision, RECORDED_SIZES_TAG};
use crate::plan::{Action, Step, TierPlan};
use crate::spec::MemberKind;

/// What the tier's groups are at while its steps run.
#[derive(Debug, Default)]
pub(super) struct GroupRun {
    /// Planned to change, not yet changed.
    pending: BTreeSet<String>,
    /// Changed by this run (and not failed since), with what was done.
    pub(super) acted: BTreeMap<String, String>,
}

/// Whether a tier plan changes any group (its wave then needs the lease confirmed).
pub(in crate::execute) fn scales_groups(t: &TierPlan) -> bool {
    t.steps
        .iter()
        .any(|s| matches!(s, Step::ScaleGroups { groups } if !groups.is_empty()))
}

/// One group's change, as it went.
enum Changed {
    Done(String),
    Failed(AwsError, String),
    Skipped(String),
}

impl<E: Effects, P: Progress> TierRun<'_, E, P> {
    fn group_outcome(&mut self, group: &str, status: Status, detail: Option<String>) {
        let o = Outcome {
            member: Some(MemberKind::Asg),
            ..crate::execute::outcome(
                self.ctx,
                self.workload,
                &self.tier.name,
                group,
                status,
                detail,
            )
        };
        self.outcomes.push(o);
    }

    /// Held and unchanged groups get their outcome now; those to change wait for their step.
    pub(super) fn note_groups(&mut self) {
        for g in &self.tier.groups {
            match g.decision {
                GroupDecision::Held => {
                    self.group_outcome(&g.group, Status::HeldBack, Some(g.reason.clone()));
                }
                GroupDecision::Unchanged => {
                    self.group_outcome(&g.group, Status::Unchanged, Some(g.reason.clone()));
                }
                GroupDecision::Scale => {
                    self.groups.pending.insert(g.group.clone());
                }
            }
        }
    }

    /// The planned size changes, concurrently (bounded).
    pub(super) async fn scale_groups(&mut self, changes: &[GroupChange]) -> Flow {
        let semaphore = Arc::new(Semaphore::new(self.ctx.options.concurrency.max(1)));
        let this = &*self;
        let tasks = changes
            .iter()
            .filter(|c| this.groups.pending.contains(&c.group))
            .map(|c| {
                let semaphore = Arc::clone(&semaphore);
                async move {
                    let _permit = semaphore.acquire_owned().await.ok();
                    (c.group.clone(), this.change_group(c).await)
                }
            });
        let results = futures_util::future::join_all(tasks).await;
        for (group, res) in results {
            self.groups.pending.remove(&group);
            match res {
                Changed::Done(what) => {
                    self.groups.acted.insert(group, what);
                }
                Changed::Failed(e, what) => {
                    let o = Outcome {
                        member: Some(MemberKind::Asg),
                        ..crate::execute::failed(
                            self.ctx,
                            self.workload,
                            &self.tier.name,
                            &group,
                            &e,
                            &what,
                        )
                    };
                    self.outcomes.push(o);
                }
                Changed::Skipped(why) => {
                    self.group_outcome(&group, Status::NotAttempted, Some(why))
                }
            }
        }
        Flow::Next
    }

    /// Before every state-changing call: the lease still holds, the pace allows it.
    async fn may_call(&self) -> Result<(), String> {
        if self.ctx.cancelled() {
            return Err("interrupted".into());
        }
        self.ctx
            .fence
            .holds(self.workload)
            .map_err(|why| format!("not attempted: {why}"))?;
        self.ctx
            .pacer
            .acquire(self.region, pace::Call::AutoScaling, 1)
            .await;
        Ok(())
    }

    async fn change_group(&self, c: &GroupChange) -> Changed {
        let (from, to) = (c.from.tag_value(), c.to.tag_value());
        let stop = self.ctx.action == Action::Stop;
        if self.dry() {
            let what = if stop {
                format!(
                    "would record {from} in tag {RECORDED_SIZES_TAG} and scale in to {to}, terminating its instances"
                )
            } else {
                format!("would restore {to}, launching fresh instances")
            };
            return Changed::Done(format!("{what} (Auto Scaling has no DryRun: no call made)"));
        }
        let effects = &self.ctx.effects;
        if let Some(record) = &c.record {
            if let Err(why) = self.may_call().await {
                return Changed::Skipped(why);
            }
            if let Err(e) = effects
                .set_group_tag(self.region, &c.group, RECORDED_SIZES_TAG, record)
                .await
            {
                return Changed::Failed(
                    e,
                    format!(
                        "recording its sizes in tag {RECORDED_SIZES_TAG} failed; not scaled in"
                    ),
                );
            }
        }
        if let Err(why) = self.may_call().await {
            return Changed::Skipped(why);
        }
        if let Err(e) = effects.set_group_sizes(self.region, &c.group, c.to).await {
            let what = if stop {
                format!(
                    "scaling in to {to} failed (sizes {from} recorded in tag {RECORDED_SIZES_TAG})"
                )
            } else {
                format!("restoring {to} failed")
            };
            return Changed::Failed(e, what);
        }
        let mut what = if stop {
            format!(
                "scaled in from {from} to {to}; its instances are terminated (sizes recorded in tag {RECORDED_SIZES_TAG})"
            )
        } else {
            format!("restored {to} from {from}; fresh instances launch from the launch template")
        };
        if c.forget_record {
            let forgot = match self.may_call().await {
                Ok(()) => effects
                    .delete_group_tag(self.region, &c.group, RECORDED_SIZES_TAG)
                    .await
                    .map_err(|e| e.to_string()),
                Err(why) => Err(why),
            };
            if let Err(why) = forgot {
                tracing::warn!(workload = self.workload, group = %c.group, "deleting tag {RECORDED_SIZES_TAG}: {why}");
                what.push_str(&format!(
                    "; tag {RECORDED_SIZES_TAG} not deleted ({why}): delete it by hand before the next stop"
                ));
            }
        }
        Changed::Done(what)
    }

    /// Waits until the groups hold the expected instances (InService at a
    /// start, none at a stop), and with `healthy` also passing health
    /// checks in their target groups and EC2 status checks.
    pub(super) async fn wait_groups(
        &mut self,
        groups: &BTreeMap<String, i32>,
        timeout: u32,
        healthy: bool,
    ) -> Flow {
        if self.dry() {
            return Flow::Next;
        }
        let planned: BTreeSet<&str> = self
            .tier
            .groups
            .iter()
            .filter(|g| g.decision == GroupDecision::Scale)
            .map(|g| g.group.as_str())
            .collect();
        let mut waiting: BTreeMap<String, (i32, String)> = groups
            .iter()
            .filter(|(g, _)| self.groups.acted.contains_key(*g) || !planned.contains(g.as_str()))
            .map(|(g, n)| (g.clone(), (*n, "not checked yet".to_string())))
            .collect();
        let deadline = Instant::now() + Duration::from_secs(u64::from(timeout));
        let mut pause = Duration::from_millis(200);
        while !waiting.is_empty() {
            let names: Vec<String> = waiting.keys().cloned().collect();
            self.ctx
                .pacer
                .acquire(self.region, pace::Call::AutoScaling, 1)
                .await;
            match self.ctx.effects.groups_now(self.region, &names).await {
                Ok(now) => {
                    for name in names {
                        let expected = waiting[&name].0;
                        match self.group_ready(now.get(&name), expected, healthy).await {
                            Ok(()) => {
                                waiting.remove(&name);
                            }
                            Err(why) => {
                                if let Some(w) = waiting.get_mut(&name) {
                                    w.1 = why;
                                }
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!("reading Auto Scaling groups: {e}; trying again"),
            }
            if waiting.is_empty()
                || Instant::now() + pause > deadline
                || !self.ctx.sleep(pause).await
            {
                break;
            }
            let cap = if healthy {
                self.ctx
                    .options
                    .max_poll_interval
                    .max(Duration::from_secs(2))
            } else {
                self.ctx.options.max_poll_interval
            };
            pause = (pause * 2).min(cap);
        }
        let what = if healthy { "not healthy" } else { "not ready" };
        for (group, (_, why)) in waiting {
            self.groups.acted.remove(&group);
            self.group_outcome(
                &group,
                Status::Failed,
                Some(format!("{what} within {timeout}s: {why}")),
            );
        }
        Flow::Next
    }

    /// `Ok` when the group is as expected, else why not.
    async fn group_ready(
        &self,
        now: Option<&GroupNow>,
        expected: i32,
        healthy: bool,
    ) -> Result<(), String> {
        let Some(now) = now else {
            return Err("the group was not found".into());
        };
        let states = |skip: &str| {
            let mut by: BTreeMap<&str, usize> = BTreeMap::new();
            for s in now.instances.values().filter(|s| s.as_str() != skip) {
                *by.entry(s.as_str()).or_default() += 1;
            }
            by.iter()
                .map(|(s, n)| format!("{n} {s}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if expected == 0 {
            let live = now
                .instances
                .values()
                .filter(|s| s.as_str() != "Terminated")
                .count();
            if live > 0 {
                return Err(format!(
                    "{live} instance(s) not terminated yet ({})",
                    states("Terminated")
                ));
            }
            return Ok(());
        }
        let in_service: Vec<String> = now
            .instances
            .iter()
            .filter(|(_, s)| s.as_str() == "InService")
            .map(|(id, _)| id.clone())
            .collect();
        if (in_service.len() as i64) < i64::from(expected) {
            let others = states("InService");
            return Err(format!(
                "{} of {expected} instance(s) InService{}",
                in_service.len(),
                if others.is_empty() {
                    String::new()
                } else {
                    format!(" ({others})")
                }
            ));
        }
        if !healthy {
            return Ok(());
        }
        let target_groups: BTreeMap<String, Vec<String>> = now
            .target_groups
            .iter()
            .map(|tg| (tg.clone(), in_service.clone()))
            .collect();
        self.ctx
            .pacer
            .acquire(self.region, pace::Call::Describe, in_service.len())
            .await;
        match self
            .ctx
            .effects
            .unhealthy(self.region, &target_groups, &in_service)
            .await
        {
            Ok(bad) if bad.is_empty() => Ok(()),
            Ok(bad) => Err(bad
                .iter()
                .map(|(id, why)| format!("{id}: {why}"))
                .collect::<Vec<_>>()
                .join("; ")),
            Err(e) => Err(format!("health not readable: {e}")),
        }
    }

    /// Outcomes of the groups changed (`done`: stopped, started, would...)
    /// and of those the run never got to.
    pub(super) fn finish_groups(&mut self, done: Status) {
        for (group, what) in std::mem::take(&mut self.groups.acted) {
            self.group_outcome(&group, done, Some(what));
        }
        for group in std::mem::take(&mut self.groups.pending) {
            self.group_outcome(&group, Status::NotAttempted, Some("interrupted".into()));
        }
    }
}
