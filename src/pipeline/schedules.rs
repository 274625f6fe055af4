//! `sync`'s schedules: reads tierctl's schedule group in EventBridge
//! Scheduler (in the configuration tables' region), diffs it against the
//! specs ([`crate::store::schedules`]) and applies the difference.
//!
//! Scheduler is only called when schedules are managed
//! ([`Targets::managed`]): some spec has a schedule, or a runner is
//! configured. An EC2-only fleet's sync makes no Scheduler call (and its
//! IAM policy has no Scheduler action).

use std::collections::BTreeSet;

use futures_util::stream::{self, StreamExt};

use super::{PipelineError, Session};
use crate::aws::scheduler::{Definition, Scheduler};
use crate::error::AwsError;
use crate::spec::Workload;
use crate::store::owner::Owner;
use crate::store::schedules::{self, Change, GROUP, GROUP_TAG_KEY, SchedulePlan, Scope, Targets};

/// How many `GetSchedule` calls are in flight at once (writes follow
/// sync's `--concurrency`).
pub const CONCURRENCY: usize = crate::store::sync::CONCURRENCY;

/// The schedules' difference and the client to apply it with.
#[derive(Debug)]
pub struct PreparedSchedules {
    /// What would change.
    pub plan: SchedulePlan,
    client: Scheduler,
}

/// Checks the targets (before anything is read or written); returns
/// whether schedules are managed.
pub fn check(targets: &Targets, workloads: &[&Workload]) -> Result<bool, PipelineError> {
    targets
        .check(workloads)
        .map_err(|e| PipelineError::Schedules(Box::new(e)))?;
    Ok(targets.managed(workloads))
}

/// Reads the group and its schedules and diffs them against `workloads`.
pub async fn prepare(
    session: &Session,
    workloads: &[&Workload],
    targets: &Targets,
    owner: &Owner,
    complete: bool,
    prune: bool,
) -> Result<PreparedSchedules, PipelineError> {
    let desired = schedules::desired(workloads, owner, targets)
        .map_err(|e| PipelineError::Schedules(Box::new(e)))?;
    let config = session.sdk().await;
    let region = crate::aws::region_for(config, session.tables.region.as_deref())?;
    let client = Scheduler::new(config, region.as_ref());
    let group_exists = client.group_exists(GROUP).await?;
    let current = if group_exists {
        let names = client.list_names(GROUP).await?;
        let client = &client;
        let got: Vec<Result<Option<Definition>, AwsError>> = stream::iter(names)
            .map(|n| async move { client.get(GROUP, &n).await })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        let mut current = Vec::new();
        for g in got {
            if let Some(d) = g? {
                current.push(d);
            }
        }
        current
    } else {
        Vec::new()
    };
    let declared: BTreeSet<&str> = workloads.iter().map(|w| w.name.as_str()).collect();
    let plan = schedules::diff(
        region.as_ref(),
        group_exists,
        &desired,
        &current,
        Scope {
            declared: &declared,
            complete,
            prune,
        },
        owner,
    );
    Ok(PreparedSchedules { plan, client })
}

/// What [`apply`] did.
#[derive(Debug, Default, Clone)]
pub struct SchedulesApplied {
    /// Whether the group was created.
    pub created_group: bool,
    /// Schedules created, updated or deleted, by name.
    pub written: Vec<String>,
    /// Schedules not written, and why, by name (an AWS error naming the
    /// call and the schedule, or a name another owner holds).
    pub failed: Vec<(String, String)>,
}

/// Creates the group when needed, then creates, updates and deletes the
/// schedules that differ, up to `concurrency` at a time. A schedule that
/// fails is listed in `failed`; the others are still written. A group that
/// cannot be created is an error (no schedule is written).
pub async fn apply(
    prepared: &PreparedSchedules,
    owner: &Owner,
    concurrency: usize,
) -> Result<SchedulesApplied, PipelineError> {
    let plan = &prepared.plan;
    let client = &prepared.client;
    let mut out = SchedulesApplied::default();
    if plan.creates_group() {
        client
            .create_group(GROUP, GROUP_TAG_KEY, owner.marker())
            .await?;
        out.created_group = true;
        tracing::info!(group = GROUP, "created schedule group");
    }
    let results: Vec<(String, Result<(), AwsError>)> =
        stream::iter(plan.schedules.iter().filter(|s| s.change.writes()))
            .map(|s| async move {
                let res = match (s.change, &s.after) {
                    (Change::Create, Some(d)) => client.create(d).await,
                    (Change::Update, Some(d)) => client.update(d).await,
                    _ => client.delete(GROUP, &s.name).await,
                };
                (s.name.clone(), res)
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
    let mut results = results;
    results.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, res) in results {
        match res {
            Ok(()) => out.written.push(name),
            Err(e) => {
                tracing::error!(schedule = %name, "{e}");
                out.failed.push((name, e.to_string()));
            }
        }
    }
    for s in plan
        .schedules
        .iter()
        .filter(|s| s.change == Change::Foreign)
    {
        out.failed.push((
            s.name.clone(),
            format!(
                "schedule {}: {}",
                s.name,
                s.note.as_deref().unwrap_or("owned by another repository")
            ),
        ));
    }
    out.failed.sort();
    Ok(out)
}
