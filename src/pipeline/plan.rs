//! The plan stage: configuration -> selection -> observation -> plan, and
//! for `tierctl plan` the config diff `sync --check` would show.

use super::config::{self, Config, Selection, Source};
use super::{PipelineError, Session};
use crate::observe::Observed;
use crate::plan::{Intent, Plan};
use crate::spec::Workload;
use crate::store::diff::{self, ChangeSet, Desired, Scope};
use crate::store::{show, sync};

/// What `tierctl plan` asks for.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    /// Where the configuration comes from.
    pub source: Source,
    /// Which workloads.
    pub selection: Selection,
    /// Stop or start, profile, tiers, batch size.
    pub intent: Intent,
    /// No AWS call at all (configuration from the YAML, instances from
    /// `observed` or none).
    pub offline: bool,
    /// A saved observed state to plan from instead of asking AWS.
    pub observed: Option<Observed>,
}

/// A plan and everything it was made from.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The configuration read.
    pub config: Config,
    /// The selected workloads, in the order asked for.
    pub selected: Vec<Workload>,
    /// What was asked.
    pub intent: Intent,
    /// What AWS said (`None` offline without a saved state).
    pub observed: Option<Observed>,
    /// The plan.
    pub plan: Plan,
    /// The config diff against the tables (YAML source, online).
    pub config_diff: Option<(ChangeSet, show::Context)>,
}

impl Planned {
    /// The selected workloads as references, for the planner and renderers.
    pub fn specs(&self) -> Vec<&Workload> {
        self.selected.iter().collect()
    }

    /// Whether the tables differ from the YAML (or are missing).
    pub fn drift(&self) -> bool {
        self.config_diff
            .as_ref()
            .is_some_and(|(c, ctx)| c.has_changes() || !ctx.missing_tables.is_empty())
    }
}

/// Loads, selects and checks the request before any AWS call for instances:
/// a bad profile or tier fails here.
pub(super) async fn configure(
    session: &Session,
    source: Source,
    selection: &Selection,
    intent: &Intent,
) -> Result<(Config, Vec<Workload>), PipelineError> {
    let config = config::load(session, source).await?;
    let selected: Vec<Workload> = config
        .select(selection, intent.action.as_str())?
        .into_iter()
        .cloned()
        .collect();
    let refs: Vec<&Workload> = selected.iter().collect();
    crate::plan::plan(&refs, None, intent)?;
    Ok((config, selected))
}

/// Observes the workloads through the session's AWS clients. An instance
/// that two of the workloads select is an error: acting on it twice in one
/// run, in two orders, is never what either spec meant.
pub async fn observe(
    session: &Session,
    selected: &[&Workload],
    intent: &Intent,
) -> Result<Observed, PipelineError> {
    let effects = session.effects().await;
    let purpose = crate::observe::Purpose {
        start: intent.action == crate::plan::Action::Start,
        profile: intent.profile.as_deref(),
    };
    let observed = crate::observe::collect(effects.as_ref(), selected, purpose).await?;
    check_overlap(&observed)?;
    Ok(observed)
}

/// Refuses an observed state in which one live instance belongs to two workloads.
pub fn check_overlap(observed: &Observed) -> Result<(), PipelineError> {
    let mut owner: std::collections::BTreeMap<&str, &str> = std::collections::BTreeMap::new();
    for (name, w) in &observed.workloads {
        for i in w.instances.iter().filter(|i| {
            !matches!(
                i.state,
                crate::observe::InstanceState::Terminated
                    | crate::observe::InstanceState::ShuttingDown
            )
        }) {
            if let Some(first) = owner.insert(i.id.as_str(), name.as_str()) {
                return Err(PipelineError::Overlap {
                    instance: i.id.clone(),
                    first: first.to_string(),
                    second: name.clone(),
                });
            }
        }
    }
    check_database_overlap(observed)
}

/// Refuses an observed state in which one DB instance or cluster belongs to two workloads.
fn check_database_overlap(observed: &Observed) -> Result<(), PipelineError> {
    let mut owner: std::collections::BTreeMap<String, &str> = std::collections::BTreeMap::new();
    for (name, w) in &observed.workloads {
        for d in w.databases.iter().filter(|d| d.status != "deleting") {
            if let Some(first) = owner.insert(d.label(), name.as_str()) {
                return Err(PipelineError::Overlap {
                    instance: d.label(),
                    first: first.to_string(),
                    second: name.clone(),
                });
            }
        }
    }
    Ok(())
}

/// The config diff of the selected workloads against the tables.
async fn config_diff(
    session: &Session,
    config: &Config,
    selected: &[Workload],
    complete: bool,
) -> Result<(ChangeSet, show::Context), PipelineError> {
    let owner = session.owner()?;
    let (db, ctx) = session.config_tables().await?;
    let state = sync::inspect(&db, &ctx.names).await?;
    let current = sync::read_current(&db, &ctx.names, &state).await?;
    let desired: Vec<Desired<'_>> = config
        .workloads
        .iter()
        .filter(|(_, w)| selected.iter().any(|s| s.name == w.name))
        .map(|(f, w)| Desired {
            workload: w,
            file: f.clone(),
        })
        .collect();
    let changes = diff::diff(
        &desired,
        &current,
        Scope {
            complete,
            prune: false,
        },
        &owner,
    );
    Ok((
        changes,
        show::Context {
            missing_tables: state.missing,
            ..ctx
        },
    ))
}

/// `tierctl plan`: the plan, the observed state it was made from and the config diff.
pub async fn plan(session: &Session, req: PlanRequest) -> Result<Planned, PipelineError> {
    if req.offline && req.source == Source::Dynamodb {
        return Err(PipelineError::Usage(
            "--offline reads the YAML only; it cannot be combined with --from dynamodb".into(),
        ));
    }
    let (config, selected) = configure(session, req.source, &req.selection, &req.intent).await?;
    let refs: Vec<&Workload> = selected.iter().collect();
    let config_diff = if req.offline || req.source == Source::Dynamodb {
        None
    } else {
        Some(config_diff(session, &config, &selected, req.selection.all).await?)
    };
    let observed = match (req.observed, req.offline) {
        (Some(o), _) => {
            check_overlap(&o)?;
            Some(o)
        }
        (None, true) => None,
        (None, false) => Some(observe(session, &refs, &req.intent).await?),
    };
    let plan = crate::plan::plan(&refs, observed.as_ref(), &req.intent)?;
    Ok(Planned {
        config,
        selected,
        intent: req.intent,
        observed,
        plan,
        config_diff,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::{Database, DatabaseKind, ObservedWorkload};

    #[test]
    fn one_db_in_two_workloads_is_refused() {
        let db = |id: &str| Database {
            kind: DatabaseKind::Cluster,
            id: id.into(),
            tier: Some("db".into()),
            status: "available".into(),
            engine: "aurora-mysql".into(),
            cluster: None,
            members: Vec::new(),
            replica_of: None,
            replicas: Vec::new(),
            multi_az: false,
            global_cluster: None,
            automatic_restart_time: None,
            keep_running: None,
            tags_unread: false,
        };
        let mut o = Observed::default();
        for (name, id) in [("A", "sales"), ("B", "other")] {
            o.workloads.insert(
                name.into(),
                ObservedWorkload {
                    databases: vec![db(id)],
                    ..ObservedWorkload::default()
                },
            );
        }
        assert!(check_overlap(&o).is_ok());
        o.workloads
            .get_mut("B")
            .unwrap()
            .databases
            .push(db("sales"));
        let err = check_overlap(&o).unwrap_err().to_string();
        assert!(err.contains("DB cluster sales"), "{err}");
    }
}
