//! The database steps of a tier: stopping and starting RDS DB instances and
//! Aurora DB clusters (one call each, concurrently, at most
//! `Options::concurrency` in flight, each checking the fence right before
//! it is made), the synchronous wait and the `available` health gate.
//! RDS has no DryRun: a dry run makes no call and reports what it would do.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::time::Instant;

use super::{Ctx, Effects, Outcome, Progress, Status};
use crate::error::AwsError;
use crate::observe::DatabaseKind;
use crate::plan::{Action, DatabaseTarget, Step, TierPlan};

type Key = (DatabaseKind, String);

/// What became of one call.
enum Called {
    Done,
    Failed(AwsError),
    Skipped(String),
}

fn key(t: &DatabaseTarget) -> Key {
    (t.kind, t.id.clone())
}

/// The databases a tier's stop or start step names.
pub(super) fn targets(t: &TierPlan) -> Vec<DatabaseTarget> {
    t.steps
        .iter()
        .find_map(|s| match s {
            Step::StopDatabases { databases } | Step::StartDatabases { databases } => {
                Some(databases.clone())
            }
            _ => None,
        })
        .unwrap_or_default()
}

/// Every database a tier plan names: targets, unchanged and held back.
pub(super) fn named(t: &TierPlan) -> BTreeSet<Key> {
    let mut out: BTreeSet<Key> = targets(t).iter().map(key).collect();
    out.extend(
        t.unchanged_databases
            .iter()
            .chain(&t.held_databases)
            .map(|n| (n.kind, n.database.clone())),
    );
    out
}

/// A database outcome (`instance` holds its identifier, `database` its kind).
pub(super) fn outcome<E, P>(
    ctx: &Ctx<E, P>,
    workload: &str,
    tier: &str,
    k: &Key,
    status: Status,
    detail: Option<String>,
) -> Outcome {
    Outcome {
        database: Some(k.0),
        member: Some(crate::spec::MemberKind::Rds),
        ..super::outcome(ctx, workload, tier, &k.1, status, detail)
    }
}

/// What a tier's database steps share.
pub(super) struct DatabaseRun {
    /// Still to act on.
    pending: BTreeMap<Key, DatabaseTarget>,
    /// Stopped or started by this run (and not failed since).
    pub(super) acted: BTreeSet<Key>,
    /// The databases' outcomes so far.
    outcomes: Vec<Outcome>,
}

impl DatabaseRun {
    /// The run of `t`'s databases; unchanged and held ones get their outcome now.
    pub(super) fn new<E, P>(ctx: &Ctx<E, P>, workload: &str, t: &TierPlan) -> Self {
        let mut outcomes = Vec::new();
        for n in &t.unchanged_databases {
            let k = (n.kind, n.database.clone());
            outcomes.push(outcome(
                ctx,
                workload,
                &t.name,
                &k,
                Status::Unchanged,
                Some(n.reason.clone()),
            ));
        }
        for n in &t.held_databases {
            let k = (n.kind, n.database.clone());
            let status = if n.keep_running {
                Status::Bypassed
            } else {
                Status::HeldBack
            };
            if ctx.action == Action::Stop {
                tracing::warn!(workload, tier = %t.name, "{} {} not stopped: {}", n.kind.words(), n.database, n.reason);
            }
            outcomes.push(outcome(
                ctx,
                workload,
                &t.name,
                &k,
                status,
                Some(n.reason.clone()),
            ));
        }
        DatabaseRun {
            pending: targets(t).into_iter().map(|d| (key(&d), d)).collect(),
            acted: BTreeSet::new(),
            outcomes,
        }
    }

    /// A run with no databases.
    pub(super) fn empty() -> Self {
        DatabaseRun {
            pending: BTreeMap::new(),
            acted: BTreeSet::new(),
            outcomes: Vec::new(),
        }
    }

    /// Number of databases to act on.
    pub(super) fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Stop or start every pending database, at most `concurrency` calls in flight.
    pub(super) async fn act<E: Effects, P: Progress>(
        &mut self,
        ctx: &Ctx<E, P>,
        workload: &str,
        region: &str,
        tier: &str,
    ) {
        let todo: Vec<DatabaseTarget> = std::mem::take(&mut self.pending).into_values().collect();
        if ctx.options.dry_run {
            self.acted.extend(todo.iter().map(key));
            return;
        }
        let results: Vec<(Key, Called)> = futures_util::stream::iter(todo)
            .map(|d| async move {
                let k = key(&d);
                if ctx.cancelled() {
                    return (k, Called::Skipped("interrupted".to_string()));
                }
                // Checked right before the call, as for instances.
                if let Err(why) = ctx.fence.holds(workload) {
                    return (
                        k,
                        Called::Skipped(format!("not {}: {why}", ctx.action.past())),
                    );
                }
                let res = match ctx.action {
                    Action::Stop => ctx.effects.stop_database(region, d.kind, &d.id).await,
                    Action::Start => ctx.effects.start_database(region, d.kind, &d.id).await,
                };
                (k, res.map_or_else(Called::Failed, |()| Called::Done))
            })
            .buffer_unordered(ctx.options.concurrency.max(1))
            .collect()
            .await;
        let what = format!("{} failed", ctx.action.as_str());
        for (k, res) in results {
            match res {
                Called::Done => {
                    self.acted.insert(k);
                }
                Called::Failed(e) => self.outcomes.push(Outcome {
                    error_code: e.code.clone(),
                    ..outcome(
                        ctx,
                        workload,
                        tier,
                        &k,
                        Status::Failed,
                        Some(format!("{what}: {e}")),
                    )
                }),
                Called::Skipped(why) => {
                    self.outcomes.push(outcome(
                        ctx,
                        workload,
                        tier,
                        &k,
                        Status::NotAttempted,
                        Some(why),
                    ));
                }
            }
        }
    }

    /// Waits until the watched databases have `status`; those that do not
    /// in time fail (`gate`: the health gate's words).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn wait<E: Effects, P: Progress>(
        &mut self,
        ctx: &Ctx<E, P>,
        workload: &str,
        region: &str,
        t: &TierPlan,
        databases: &[DatabaseTarget],
        status: &str,
        timeout: u32,
        gate: bool,
    ) {
        if ctx.options.dry_run {
            return;
        }
        let planned: BTreeSet<Key> = targets(t).iter().map(key).collect();
        let watch: Vec<Key> = databases
            .iter()
            .map(key)
            .filter(|k| self.acted.contains(k) || !planned.contains(k))
            .collect();
        let missed = wait_for(
            ctx,
            region,
            &watch,
            status,
            Duration::from_secs(u64::from(timeout)),
        )
        .await;
        for (k, last) in missed {
            self.acted.remove(&k);
            let last = last.unwrap_or_else(|| "unknown".into());
            let detail = if gate {
                format!(
                    "health gate: not {status} within {timeout}s (status {last}); later waves are not started"
                )
            } else {
                format!("did not reach {status} within {timeout}s (last seen {last})")
            };
            self.outcomes.push(outcome(
                ctx,
                workload,
                &t.name,
                &k,
                Status::Failed,
                Some(detail),
            ));
        }
    }

    /// The outcomes: acted-on databases reached the target (or would have).
    pub(super) fn finish<E, P>(
        mut self,
        ctx: &Ctx<E, P>,
        workload: &str,
        tier: &str,
    ) -> Vec<Outcome> {
        let done = match (ctx.action, ctx.options.dry_run) {
            (Action::Stop, false) => Status::Stopped,
            (Action::Start, false) => Status::Started,
            (Action::Stop, true) => Status::WouldStop,
            (Action::Start, true) => Status::WouldStart,
        };
        let dry = ctx
            .options
            .dry_run
            .then(|| "dry run: RDS has no DryRun, so no call was made".to_string());
        for k in std::mem::take(&mut self.acted) {
            self.outcomes
                .push(outcome(ctx, workload, tier, &k, done, dry.clone()));
        }
        for (k, _) in std::mem::take(&mut self.pending) {
            self.outcomes.push(outcome(
                ctx,
                workload,
                tier,
                &k,
                Status::NotAttempted,
                Some("interrupted".into()),
            ));
        }
        self.outcomes
            .sort_by(|a, b| (a.database, &a.instance).cmp(&(b.database, &b.instance)));
        self.outcomes
    }
}

/// Polls exactly `keys` (one batched describe per kind) until all have
/// `status` or `timeout` passes; returns the others with the last status seen.
async fn wait_for<E: Effects, P: Progress>(
    ctx: &Ctx<E, P>,
    region: &str,
    keys: &[Key],
    status: &str,
    timeout: Duration,
) -> BTreeMap<Key, Option<String>> {
    let mut waiting: BTreeMap<Key, Option<String>> =
        keys.iter().map(|k| (k.clone(), None)).collect();
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(200);
    while !waiting.is_empty() {
        for kind in [DatabaseKind::Instance, DatabaseKind::Cluster] {
            let ask: Vec<String> = waiting
                .keys()
                .filter(|(k, _)| *k == kind)
                .map(|(_, id)| id.clone())
                .collect();
            if ask.is_empty() {
                continue;
            }
            match ctx.effects.database_statuses(region, kind, &ask).await {
                Ok(found) => {
                    for id in ask {
                        let k = (kind, id);
                        match found.get(&k.1) {
                            Some(s) if s == status => {
                                waiting.remove(&k);
                            }
                            Some(s) => {
                                waiting.insert(k, Some(s.clone()));
                            }
                            None => {
                                waiting.insert(k, Some("not found".into()));
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!("polling DB statuses: {e}; trying again"),
            }
        }
        if waiting.is_empty() || Instant::now() + pause > deadline || !ctx.sleep(pause).await {
            break;
        }
        pause = (pause * 2).min(ctx.options.max_poll_interval.max(Duration::from_secs(1)));
    }
    waiting
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tokio::sync::watch;

    use super::super::{CheckOutcome, Effects, Options, OverrideCheck, Silent, Status, execute};
    use crate::error::AwsError;
    use crate::observe::{Database, DatabaseKind, InstanceState, ObservedWorkload};
    use crate::plan::{Action, Intent, Plan, plan_workload};
    use crate::spec::{MemberKind, StartAction, StopAction, Tier, Workload};

    /// A status on its way: (now, when it changes, then).
    type Transition = (String, Option<tokio::time::Instant>, String);

    /// DB instances whose status flips after `delay`, counting calls in flight.
    #[derive(Default)]
    struct Dbs {
        status: Mutex<BTreeMap<String, Transition>>,
        in_flight: Mutex<(usize, usize)>,
        calls: Mutex<Vec<String>>,
        delay: Duration,
    }

    impl Dbs {
        fn new(ids: &[&str], status: &str, delay: Duration) -> Self {
            let d = Dbs {
                delay,
                ..Dbs::default()
            };
            for id in ids {
                d.status
                    .lock()
                    .unwrap()
                    .insert(id.to_string(), (status.into(), None, status.into()));
            }
            d
        }

        async fn change(&self, id: &str, via: &str, to: &str) -> Result<(), AwsError> {
            {
                let mut f = self.in_flight.lock().unwrap();
                f.0 += 1;
                f.1 = f.1.max(f.0);
            }
            self.calls.lock().unwrap().push(id.to_string());
            tokio::time::sleep(Duration::from_millis(50)).await;
            let due = tokio::time::Instant::now() + self.delay;
            self.status
                .lock()
                .unwrap()
                .insert(id.to_string(), (via.into(), Some(due), to.into()));
            self.in_flight.lock().unwrap().0 -= 1;
            Ok(())
        }
    }

    impl Effects for Dbs {
        async fn stop(&self, _: &str, _: &[String], _: bool) -> Result<(), AwsError> {
            Ok(())
        }
        async fn start(&self, _: &str, _: &[String], _: bool) -> Result<(), AwsError> {
            Ok(())
        }
        async fn states(
            &self,
            _: &str,
            ids: &[String],
        ) -> Result<BTreeMap<String, InstanceState>, AwsError> {
            Ok(ids
                .iter()
                .map(|i| (i.clone(), InstanceState::Stopped))
                .collect())
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
        async fn stop_database(&self, _: &str, _: DatabaseKind, id: &str) -> Result<(), AwsError> {
            self.change(id, "stopping", "stopped").await
        }
        async fn start_database(&self, _: &str, _: DatabaseKind, id: &str) -> Result<(), AwsError> {
            self.change(id, "starting", "available").await
        }
        async fn database_statuses(
            &self,
            _: &str,
            _: DatabaseKind,
            ids: &[String],
        ) -> Result<BTreeMap<String, String>, AwsError> {
            let now = tokio::time::Instant::now();
            let map = self.status.lock().unwrap();
            Ok(ids
                .iter()
                .filter_map(|id| {
                    let (via, due, to) = map.get(id)?;
                    let s = if due.is_some_and(|d| d <= now) {
                        to
                    } else {
                        via
                    };
                    Some((id.clone(), s.clone()))
                })
                .collect())
        }
    }

    fn tier(name: &str, stop: u32, start: u32, members: MemberKind, gate: u32) -> Tier {
        Tier {
            name: name.into(),
            stop: Some(StopAction {
                sequence: stop,
                synchronous: true,
                delay_seconds: 0,
                override_file: None,
            }),
            start: Some(StartAction {
                sequence: start,
                synchronous: false,
                delay_seconds: 0,
                wait_healthy: true,
                health_timeout_seconds: gate,
                ..StartAction::new(0)
            }),
            scaling: BTreeMap::new(),
            members: vec![members],
        }
    }

    fn plan(ids: &[&str], status: &str, action: Action, gate: u32) -> Plan {
        let mut w: Workload = crate::spec::example_with_every_field();
        w.disabled = false;
        w.tiers = vec![
            tier("db", 1, 0, MemberKind::Rds, gate),
            tier("web", 0, 1, MemberKind::Ec2, 60),
        ];
        let o = ObservedWorkload {
            region: w.region.clone(),
            instances: vec![crate::observe::Instance {
                group: None,
                id: "i-web".into(),
                tier: Some("web".into()),
                state: if action == Action::Stop {
                    InstanceState::Running
                } else {
                    InstanceState::Stopped
                },
                instance_type: "t3.micro".into(),
                name: None,
                launch_time: None,
                resize: None,
                classic_load_balancers: Vec::new(),
                target_groups: Vec::new(),
            }],
            databases: ids
                .iter()
                .map(|id| Database {
                    kind: DatabaseKind::Instance,
                    id: id.to_string(),
                    tier: Some("db".into()),
                    status: status.into(),
                    engine: "postgres".into(),
                    cluster: None,
                    members: Vec::new(),
                    replica_of: None,
                    replicas: Vec::new(),
                    multi_az: false,
                    global_cluster: None,
                    automatic_restart_time: None,
                    keep_running: None,
                    tags_unread: false,
                })
                .collect(),
            databases_read_at: Some("2026-12-02T16:00:00Z".into()),
            ..ObservedWorkload::default()
        };
        let wp = plan_workload(&w, Some(&o), &Intent::new(action)).unwrap();
        Plan {
            version: crate::plan::PLAN_VERSION,
            action,
            profile: None,
            workloads: vec![wp],
        }
    }

    struct Lost;
    impl crate::execute::fence::Fence for Lost {
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

    async fn go(
        plan: &Plan,
        dbs: Arc<Dbs>,
        options: Options,
        fence: Arc<dyn crate::execute::fence::Fence>,
    ) -> crate::execute::RunReport {
        let (_tx, rx) = watch::channel(false);
        execute(plan, dbs, Arc::new(Silent), options, fence, rx).await
    }

    #[tokio::test(start_paused = true)]
    async fn calls_run_concurrently_bounded_and_the_synchronous_wait_confirms_them() {
        let ids: Vec<String> = (0..10).map(|n| format!("db-{n}")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let dbs = Arc::new(Dbs::new(&ids, "available", Duration::from_secs(2)));
        let options = Options {
            concurrency: 3,
            ..Options::default()
        };
        let p = plan(&ids, "available", Action::Stop, 60);
        let r = go(
            &p,
            Arc::clone(&dbs),
            options,
            Arc::new(crate::execute::fence::NoFence),
        )
        .await;
        assert_eq!(r.count(Status::Stopped), 11, "{r:#?}");
        let (_, max) = *dbs.in_flight.lock().unwrap();
        assert_eq!(max, 3, "at most `concurrency` calls in flight");
        assert_eq!(dbs.calls.lock().unwrap().len(), 10);
        let db0 = r.outcomes().find(|o| o.instance == "db-0").unwrap();
        assert_eq!(db0.database, Some(DatabaseKind::Instance));
        assert!(db0.at_ms >= 2000, "waited until stopped: {db0:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_health_gate_timeout_fails_the_db_and_halts_the_next_wave() {
        let dbs = Arc::new(Dbs::new(&["orders"], "stopped", Duration::from_secs(30)));
        let p = plan(&["orders"], "stopped", Action::Start, 5);
        let r = go(
            &p,
            dbs,
            Options::default(),
            Arc::new(crate::execute::fence::NoFence),
        )
        .await;
        let orders = r.outcomes().find(|o| o.instance == "orders").unwrap();
        assert_eq!(orders.status, Status::Failed);
        assert_eq!(
            orders.detail.as_deref(),
            Some(
                "health gate: not available within 5s (status starting); later waves are not started"
            )
        );
        let web = r.outcomes().find(|o| o.instance == "i-web").unwrap();
        assert_eq!(web.status, Status::NotAttempted);
        assert!(r.workloads[0].halted);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_fence_or_a_dry_run_makes_no_call() {
        let dbs = Arc::new(Dbs::new(&["orders"], "available", Duration::ZERO));
        let p = plan(&["orders"], "available", Action::Stop, 5);
        let r = go(&p, Arc::clone(&dbs), Options::default(), Arc::new(Lost)).await;
        let orders = r.outcomes().find(|o| o.instance == "orders").unwrap();
        assert_eq!(orders.status, Status::NotAttempted, "{orders:?}");
        assert!(orders.detail.as_deref().unwrap().contains("taken over"));
        let dry = Options {
            dry_run: true,
            ..Options::default()
        };
        let r = go(
            &p,
            Arc::clone(&dbs),
            dry,
            Arc::new(crate::execute::fence::NoFence),
        )
        .await;
        let orders = r.outcomes().find(|o| o.instance == "orders").unwrap();
        assert_eq!(orders.status, Status::WouldStop);
        assert!(dbs.calls.lock().unwrap().is_empty());
    }
}
