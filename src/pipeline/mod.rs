//! The stages every command runs, in one place: configuration (YAML or the
//! DynamoDB tables) -> validation -> observation -> plan -> execution ->
//! report and notifications. `cli/` turns arguments into the requests
//! defined here, calls one function and prints what it returns.
//!
//! - [`config`]: where the workloads come from, and which are selected.
//! - [`plan`](mod@plan): observe and plan (what `tierctl plan` prints), with the config diff.
//! - [`saved`]: the saved plan file (`plan --out`, `run --plan`) and the
//!   staleness check that refuses a plan the fleet or the specs outgrew.
//! - [`document`]: tierctl's SSM document, created and updated by `sync`.
//! - [`lease`]: the fencing run lease in DynamoDB (one run at a time per
//!   workload and per instance).
//! - [`run`]: locks, execution, the SSM output bucket check, notifications.
//! - [`sync`](mod@sync): the YAML -> the configuration tables (diff, then conditional writes).
//! - [`schedules`]: the YAML -> the workloads' EventBridge Scheduler schedules (part of `sync`).
//! - [`import`](mod@import): the configuration tables -> YAML files, written
//!   only when `validate` accepts them.
//!
//! One [`Session`] per process holds the settings and the one SDK
//! configuration every client is built from.

pub mod config;
pub mod document;
pub mod import;
pub mod lease;
pub mod plan;
pub mod run;
pub mod saved;
pub mod schedules;
pub mod sync;

use std::path::PathBuf;
use std::sync::Arc;

use aws_config::SdkConfig;
use tokio::sync::OnceCell;

use crate::Tables;
use crate::aws::dynamodb::Dynamo;
use crate::aws::effects::AwsEffects;
use crate::error::AwsError;
use crate::store::owner::{self, Owner};
use crate::store::show;

/// Settings and the shared SDK configuration of one process.
#[derive(Debug)]
pub struct Session {
    /// Where the configuration tables are.
    pub tables: Tables,
    /// The workload files' folder.
    pub specs: PathBuf,
    /// The repository the specs belong to (`--repo-id`), when given.
    pub repository: Option<String>,
    sdk: OnceCell<SdkConfig>,
    effects: OnceCell<Arc<AwsEffects>>,
}

impl Session {
    /// A session; the SDK configuration is loaded on first use, once.
    pub fn new(tables: Tables, specs: PathBuf) -> Self {
        Session {
            tables,
            specs,
            repository: None,
            sdk: OnceCell::new(),
            effects: OnceCell::new(),
        }
    }

    /// The same session with a repository id for the `ManagedBy` marker.
    pub fn with_repository(self, repository: Option<String>) -> Self {
        Session { repository, ..self }
    }

    /// The AWS clients observation and execution share (one per service and region).
    pub async fn effects(&self) -> Arc<AwsEffects> {
        let sdk = self.sdk().await.clone();
        Arc::clone(
            self.effects
                .get_or_init(|| async move { Arc::new(AwsEffects::new(sdk)) })
                .await,
        )
    }

    /// The `ManagedBy` marker sync writes: `tierctl:<repository>`, the
    /// repository from `--repo-id` / `TIERCTL_REPO_ID`, else the specs
    /// folder's git remote `origin` as `host/owner/name`, else the plain
    /// `tierctl` (with a warning: any repository may adopt such items).
    pub fn owner(&self) -> Result<Owner, PipelineError> {
        if let Some(id) = &self.repository {
            return Owner::repository(id).map_err(|e| PipelineError::Usage(e.to_string()));
        }
        let dir = if self.specs.is_dir() {
            self.specs.as_path()
        } else {
            std::path::Path::new(".")
        };
        let remote = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["remote", "get-url", "origin"])
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok());
        match remote.as_deref().and_then(owner::repository_id_from_remote) {
            Some(id) => {
                tracing::debug!(repository = %id, "repository id from git remote origin");
                Owner::repository(&id).map_err(|e| PipelineError::Usage(e.to_string()))
            }
            None => {
                tracing::warn!(
                    "no repository id (--repo-id, TIERCTL_REPO_ID or a git remote `origin`): \
items are marked ManagedBy=tierctl, which any repository may adopt"
                );
                Ok(Owner::unscoped())
            }
        }
    }

    /// The process's one SDK configuration.
    pub async fn sdk(&self) -> &SdkConfig {
        self.sdk.get_or_init(crate::aws::load_config).await
    }

    /// The DynamoDB client of the configuration tables and their names.
    pub async fn config_tables(&self) -> Result<(Dynamo, show::Context), AwsError> {
        let config = self.sdk().await;
        let region = crate::aws::region_for(config, self.tables.region.as_deref())?;
        let db = Dynamo::new(config, region.clone());
        let ctx = show::Context {
            names: crate::store::diff::TableNames {
                workload: self.tables.workload_table.clone(),
                tier: self.tables.tier_table.clone(),
            },
            region: region.to_string(),
            missing_tables: Vec::new(),
        };
        Ok((db, ctx))
    }
}

/// Why a pipeline stage could not go on.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Some workload files are invalid; their diagnostics are in `checked`.
    #[error("invalid workload specs: nothing was done")]
    InvalidSpecs {
        /// Every diagnostic of every file.
        checked: Box<crate::validate::Checked>,
    },
    /// Neither workloads nor `--all`.
    #[error("name the workloads to {action} or use --all")]
    NothingSelected {
        /// stop or start.
        action: &'static str,
    },
    /// A workload name the configuration does not have.
    #[error("unknown workload `{name}` (known: {})", if known.is_empty() { "none".to_string() } else { known.join(", ") })]
    UnknownWorkload {
        /// Asked for.
        name: String,
        /// What the configuration has.
        known: Vec<String>,
    },
    /// An item of the configuration tables could not be read as a workload.
    #[error("reading workload {workload} from DynamoDB: {source}")]
    Item {
        /// SpecName.
        workload: String,
        /// What is wrong.
        source: Box<crate::store::item::ItemError>,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A saved plan or observed-state file that cannot be used.
    #[error("{}: {message}", path.display())]
    BadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The saved plan no longer matches the fleet or the specs.
    #[error(transparent)]
    Stale(#[from] saved::Stale),
    /// One instance selected by two workloads of the same run.
    #[error(
        "instance {instance} is selected by both workload {first} and workload {second}: one instance must belong to one workload (make their selectors disjoint); nothing was done"
    )]
    Overlap {
        /// The instance.
        instance: String,
        /// One workload.
        first: String,
        /// The other.
        second: String,
    },
    /// Options that do not go together.
    #[error("{0}")]
    Usage(String),
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The configuration tables.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// tierctl's SSM document could not be managed.
    #[error(transparent)]
    Document(Box<document::DocumentError>),
    /// The plan cannot be made.
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    /// The schedules cannot be synced (checked before anything is written).
    #[error(transparent)]
    Schedules(Box<crate::store::schedules::ScheduleError>),
}
