//! `sync`: the YAML -> the configuration tables, in two steps so the caller
//! can show the difference before anything is written: [`prepare`] reads
//! the tables and computes the [`ChangeSet`]; [`apply`] creates missing
//! tables and writes each changed workload in its own conditional
//! transaction. With schedules ([`super::schedules`]), the same two steps
//! cover tierctl's schedule group in EventBridge Scheduler.

use std::path::PathBuf;

use super::document::{self, DocumentChange};
use super::schedules::{self, PreparedSchedules, SchedulesApplied};
use super::{PipelineError, Session};
use crate::aws::dynamodb::{Billing, Dynamo};
use crate::spec::Workload;
use crate::store::diff::{self, ChangeSet, Desired, Scope};
use crate::store::owner::Owner;
use crate::store::schedules::Targets;
use crate::store::show;
use crate::store::sync::{self, Applied, TablesState};

/// The difference between the YAML and the tables, ready to apply.
#[derive(Debug)]
pub struct Prepared {
    /// What would change.
    pub changes: ChangeSet,
    /// Region, table names and the tables that do not exist yet.
    pub ctx: show::Context,
    /// The `ManagedBy` marker written.
    pub owner: Owner,
    /// tierctl's SSM document in each region that needs it.
    pub documents: Vec<DocumentChange>,
    /// The schedules, when managed (some spec has a schedule, or a runner is configured).
    pub schedules: Option<PreparedSchedules>,
    state: TablesState,
    db: Dynamo,
}

impl Prepared {
    /// Whether anything differs: the tables from the YAML
    /// ([`show::tables_drift`]), tierctl's SSM document, or the schedules.
    pub fn drift(&self) -> bool {
        show::tables_drift(&self.changes, &self.ctx)
            || self.documents.iter().any(|d| d.action.writes())
            || self.schedules.as_ref().is_some_and(|s| s.plan.drift())
    }

    /// The difference as a document, `drift` including the SSM document.
    pub fn diff_json(&self) -> show::DiffJson {
        show::DiffJson {
            drift: self.drift(),
            ..show::diff_json(&self.changes, &self.ctx)
        }
    }
}

/// Reads the tables and diffs them against `workloads`. `complete`: the
/// workloads are the whole specs folder (orphans are reported, `prune`
/// allowed). `targets`: where schedules invoke; a spec with a schedule
/// and no runner or role is refused before any AWS call.
pub async fn prepare(
    session: &Session,
    workloads: &[(PathBuf, Workload)],
    complete: bool,
    prune: bool,
    targets: &Targets,
) -> Result<Prepared, PipelineError> {
    if prune && !complete {
        return Err(PipelineError::Usage(
            "--prune needs the whole specs folder: run `tierctl sync --prune` without paths".into(),
        ));
    }
    let specs: Vec<&Workload> = workloads.iter().map(|(_, w)| w).collect();
    let managed = schedules::check(targets, &specs)?;
    let owner = session.owner()?;
    let (db, ctx) = session.config_tables().await?;
    let state = sync::inspect(&db, &ctx.names).await?;
    let current = sync::read_current(&db, &ctx.names, &state).await?;
    let desired: Vec<Desired<'_>> = workloads
        .iter()
        .map(|(file, w)| Desired {
            workload: w,
            file: Some(file.clone()),
        })
        .collect();
    let changes = diff::diff(&desired, &current, Scope { complete, prune }, &owner);
    let ctx = show::Context {
        missing_tables: state.missing.clone(),
        ..ctx
    };
    let documents = document::inspect(session, workloads.iter().map(|(_, w)| w))
        .await
        .map_err(|e| PipelineError::Document(Box::new(e)))?;
    let schedules = if managed {
        Some(schedules::prepare(session, &specs, targets, &owner, complete, prune).await?)
    } else {
        None
    };
    Ok(Prepared {
        changes,
        ctx,
        owner,
        documents,
        schedules,
        state,
        db,
    })
}

/// What [`apply`] did.
#[derive(Debug)]
pub struct Synced {
    /// Tables created.
    pub created: Vec<String>,
    /// Workloads written and failed.
    pub applied: Applied,
    /// Schedules written and failed (`None`: schedules not managed).
    pub schedules: Option<SchedulesApplied>,
}

/// Creates missing tables (and waits for them), writes the changes, then
/// creates or updates tierctl's SSM document where it differs. A workload
/// that fails is listed in `applied.failed`; the others, and the document
/// (which every workload's override check needs), are still written.
pub async fn apply(
    session: &Session,
    prepared: &Prepared,
    billing: Billing,
    concurrency: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Synced, PipelineError> {
    let names = &prepared.ctx.names;
    let created = sync::create_missing(&prepared.db, names, &prepared.state, billing).await?;
    for t in &created {
        tracing::info!(table = %t, "created table");
    }
    let writes = prepared
        .changes
        .workloads
        .iter()
        .filter(|w| w.writes().next().is_some())
        .count();
    if writes > 0 {
        tracing::info!(workloads = writes, concurrency, "writing");
    }
    let applied = sync::apply(
        &prepared.db,
        names,
        &prepared.changes,
        concurrency,
        progress,
    )
    .await;
    for (w, e) in &applied.failed {
        tracing::error!(workload = %w, "{e}");
    }
    document::apply(session, &prepared.documents)
        .await
        .map_err(|e| PipelineError::Document(Box::new(e)))?;
    let schedules = match &prepared.schedules {
        Some(s) => Some(schedules::apply(s, &prepared.owner, concurrency).await?),
        None => None,
    };
    Ok(Synced {
        created,
        applied,
        schedules,
    })
}
