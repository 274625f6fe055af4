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
