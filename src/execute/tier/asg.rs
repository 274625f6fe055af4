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
        let mut bad = match self
            .ctx
            .effects
            .unhealthy(self.region, &target_groups, &in_service)
            .await
        {
            Ok(bad) => bad,
            Err(e) => return Err(format!("health not readable: {e}")),
        };
        // Classic load balancers of the group: InService there too.
        for lb in &now.load_balancers {
            match self
                .ctx
                .effects
                .classic_unhealthy(self.region, lb, &in_service)
                .await
            {
                Ok(more) => {
                    for (id, why) in more {
                        bad.entry(id).or_insert(why);
                    }
                }
                Err(e) => return Err(format!("health in classic {lb} not readable: {e}")),
            }
        }
        if bad.is_empty() {
            return Ok(());
        }
        Err(bad
            .iter()
            .map(|(id, why)| format!("{id}: {why}"))
            .collect::<Vec<_>>()
            .join("; "))
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio::sync::watch;

    use super::*;
    use crate::execute::{CheckOutcome, Options, OverrideCheck, RunReport, Silent, execute, fence};
    use crate::observe::{Group, InstanceState, ObservedWorkload};
    use crate::plan::asg::Sizes;
    use crate::plan::{Intent, Plan, plan_workload};
    use crate::spec::{StartAction, StopAction, Tier, Workload};

    /// Groups in memory: sizes set at once, instances appear InService
    /// (or stay Pending when `pending`), tags by group.
    #[derive(Default)]
    struct Groups {
        now: Mutex<BTreeMap<String, GroupNow>>,
        tags: Mutex<BTreeMap<String, BTreeMap<String, String>>>,
        calls: Mutex<Vec<String>>,
        fail_tag: bool,
        pending: bool,
    }

    impl Effects for Groups {
        async fn stop(&self, _: &str, _: &[String], _: bool) -> Result<(), AwsError> {
            Ok(())
        }
        async fn start(&self, _: &str, _: &[String], _: bool) -> Result<(), AwsError> {
            Ok(())
        }
        async fn states(
            &self,
            _: &str,
            _: &[String],
        ) -> Result<BTreeMap<String, InstanceState>, AwsError> {
            Ok(BTreeMap::new())
        }
        async fn resize(&self, _: &str, _: &crate::plan::Resize, _: bool) -> Result<(), AwsError> {
            Ok(())
        }
        async fn deregister_classic(&self, _: &str, _: &str, _: &[String]) -> Result<(), AwsError> {
            Ok(())
        }
        async fn register_classic(&self, _: &str, _: &str, _: &[String]) -> Result<(), AwsError> {
            Ok(())
        }
        async fn unhealthy(
            &self,
            _: &str,
            _: &BTreeMap<String, Vec<String>>,
            _: &[String],
        ) -> Result<BTreeMap<String, String>, AwsError> {
            Ok(BTreeMap::new())
        }
        async fn check_overrides(
            &self,
            _: &str,
            _: &OverrideCheck,
            _: &[String],
        ) -> BTreeMap<String, CheckOutcome> {
            BTreeMap::new()
        }
        async fn set_group_tag(&self, _: &str, g: &str, k: &str, v: &str) -> Result<(), AwsError> {
            self.calls.lock().unwrap().push(format!("tag {g}"));
            if self.fail_tag {
                return Err(AwsError {
                    call: "autoscaling:CreateOrUpdateTags".into(),
                    kind: crate::error::AwsErrorKind::AccessDenied,
                    code: Some("AccessDenied".into()),
                    message: "no".into(),
                });
            }
            let mut tags = self.tags.lock().unwrap();
            tags.entry(g.into()).or_default().insert(k.into(), v.into());
            Ok(())
        }
        async fn delete_group_tag(&self, _: &str, g: &str, k: &str) -> Result<(), AwsError> {
            self.calls.lock().unwrap().push(format!("untag {g}"));
            self.tags
                .lock()
                .unwrap()
                .entry(g.into())
                .or_default()
                .remove(k);
            Ok(())
        }
        async fn set_group_sizes(&self, _: &str, g: &str, s: Sizes) -> Result<(), AwsError> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("size {g} {}", s.tag_value()));
            let state = if self.pending { "Pending" } else { "InService" };
            self.now.lock().unwrap().insert(
                g.into(),
                GroupNow {
                    desired: s.desired,
                    instances: (0..s.desired)
                        .map(|n| (format!("i-{g}{n}"), state.to_string()))
                        .collect(),
                    target_groups: Vec::new(),
                    load_balancers: Vec::new(),
                },
            );
            Ok(())
        }
        async fn groups_now(
            &self,
            _: &str,
            names: &[String],
        ) -> Result<BTreeMap<String, GroupNow>, AwsError> {
            let now = self.now.lock().unwrap();
            Ok(names
                .iter()
                .filter_map(|n| Some((n.clone(), now.get(n)?.clone())))
                .collect())
        }
    }

    /// A fence that is lost from the start.
    struct Lost;

    impl fence::Fence for Lost {
        fn holds(&self, _: &str) -> Result<(), String> {
            Err("the run lease was taken over".into())
        }
        fn reassert<'a>(
            &'a self,
            _: &'a str,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>>
        {
            Box::pin(async { Ok(()) })
        }
    }

    fn workload() -> Workload {
        Workload {
            tiers: vec![Tier {
                name: "web".into(),
                stop: Some(StopAction {
                    sequence: 0,
                    synchronous: true,
                    delay_seconds: 0,
                    override_file: None,
                }),
                start: Some(StartAction {
                    wait_healthy: true,
                    health_timeout_seconds: 5,
                    ..StartAction::new(0)
                }),
                scaling: BTreeMap::new(),
                members: vec![MemberKind::Asg],
            }],
            disabled: false,
            ..crate::spec::example_with_every_field()
        }
    }

    fn observed(min: i32, desired: i32, recorded: Option<&str>) -> ObservedWorkload {
        ObservedWorkload {
            region: "us-west-2".into(),
            groups: vec![Group {
                name: "g".into(),
                tier: Some("web".into()),
                min_size: min,
                max_size: 4,
                desired,
                instances: (0..desired)
                    .map(|n| (format!("i-old{n}"), "InService".to_string()))
                    .collect(),
                recorded_sizes: recorded.map(str::to_string),
                ..Group::default()
            }],
            ..ObservedWorkload::default()
        }
    }

    async fn run(
        effects: Arc<Groups>,
        o: &ObservedWorkload,
        action: Action,
        options: Options,
        fence: Arc<dyn fence::Fence>,
    ) -> RunReport {
        let intent = Intent::new(action);
        let plan = Plan {
            version: 1,
            action,
            profile: None,
            workloads: vec![plan_workload(&workload(), Some(o), &intent).unwrap()],
        };
        let (_tx, rx) = watch::channel(false);
        execute(&plan, effects, Arc::new(Silent), options, fence, rx).await
    }

    fn group_outcome(r: &RunReport) -> &Outcome {
        r.outcomes().find(|o| o.instance == "g").unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn stop_tags_then_scales_in_and_start_restores_then_untags() {
        let effects = Arc::new(Groups::default());
        let r = run(
            effects.clone(),
            &observed(1, 2, None),
            Action::Stop,
            Options::default(),
            Arc::new(fence::NoFence),
        )
        .await;
        let o = group_outcome(&r);
        assert_eq!(o.status, Status::Stopped, "{o:?}");
        assert_eq!(o.member, Some(MemberKind::Asg));
        assert_eq!(
            *effects.calls.lock().unwrap(),
            vec!["tag g", "size g min=0,max=4,desired=0"]
        );
        assert_eq!(
            effects.tags.lock().unwrap()["g"][RECORDED_SIZES_TAG],
            "min=1,max=4,desired=2"
        );

        effects.calls.lock().unwrap().clear();
        let r = run(
            effects.clone(),
            &observed(0, 0, Some("min=1,max=4,desired=2")),
            Action::Start,
            Options::default(),
            Arc::new(fence::NoFence),
        )
        .await;
        assert_eq!(group_outcome(&r).status, Status::Started, "{r:?}");
        assert_eq!(
            *effects.calls.lock().unwrap(),
            vec!["size g min=1,max=4,desired=2", "untag g"]
        );
        assert!(effects.tags.lock().unwrap()["g"].is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn dry_run_makes_no_group_call() {
        let effects = Arc::new(Groups::default());
        let options = Options {
            dry_run: true,
            ..Options::default()
        };
        let r = run(
            effects.clone(),
            &observed(1, 2, None),
            Action::Stop,
            options,
            Arc::new(fence::NoFence),
        )
        .await;
        assert_eq!(group_outcome(&r).status, Status::WouldStop);
        assert!(effects.calls.lock().unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_fence_makes_no_group_call() {
        let effects = Arc::new(Groups::default());
        let r = run(
            effects.clone(),
            &observed(1, 2, None),
            Action::Stop,
            Options::default(),
            Arc::new(Lost),
        )
        .await;
        let o = group_outcome(&r);
        assert_eq!(o.status, Status::NotAttempted, "{o:?}");
        assert!(o.detail.as_deref().unwrap().contains("taken over"));
        assert!(effects.calls.lock().unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_tag_write_never_scales_in() {
        let effects = Arc::new(Groups {
            fail_tag: true,
            ..Groups::default()
        });
        let r = run(
            effects.clone(),
            &observed(1, 2, None),
            Action::Stop,
            Options::default(),
            Arc::new(fence::NoFence),
        )
        .await;
        let o = group_outcome(&r);
        assert_eq!(o.status, Status::Failed);
        assert!(
            o.detail.as_deref().unwrap().contains("not scaled in"),
            "{o:?}"
        );
        assert_eq!(*effects.calls.lock().unwrap(), vec!["tag g"]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_health_gate_times_out_naming_the_group_and_why() {
        let effects = Arc::new(Groups {
            pending: true,
            ..Groups::default()
        });
        let r = run(
            effects.clone(),
            &observed(0, 0, Some("min=1,max=4,desired=2")),
            Action::Start,
            Options::default(),
            Arc::new(fence::NoFence),
        )
        .await;
        let failed: Vec<&Outcome> = r
            .outcomes()
            .filter(|o| o.status == Status::Failed)
            .collect();
        assert_eq!(failed.len(), 1, "{r:?}");
        assert_eq!(
            failed[0].detail.as_deref(),
            Some("not healthy within 5s: 0 of 2 instance(s) InService (2 Pending)")
        );
        assert!(r.outcomes().all(|o| o.status != Status::Started), "{r:?}");
    }
}
