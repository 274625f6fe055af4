//! The configuration stage: the workloads, from the YAML files (validated
//! first: one invalid file and nothing is done) or from the synced DynamoDB
//! tables (what a scheduled runner reads), and the selection of a command.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{PipelineError, Session};
use crate::spec::Workload;
use crate::store::StoreError;
use crate::store::config as store_config;
pub use crate::store::config::Refusal;
use crate::store::sync;

/// Where a run's configuration comes from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The workload files (validated first).
    Yaml,
    /// The synced DynamoDB tables (what a scheduled runner uses).
    Dynamodb,
}

/// Which workloads a command is about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Named workloads, in the order given (duplicates are dropped).
    pub workloads: Vec<String>,
    /// Every workload of the configuration.
    pub all: bool,
}

/// The workloads a command reads, with their files (YAML) or none (DynamoDB).
#[derive(Debug, Clone)]
pub struct Config {
    /// Where they came from.
    pub source: Source,
    /// Every workload of the source.
    pub workloads: Vec<(Option<PathBuf>, Workload)>,
    /// Workloads of the tables refused by the checks (DynamoDB only): never
    /// planned nor run; commands report them and exit 1.
    pub refused: Vec<Refusal>,
}

impl Config {
    /// The selected workloads, in the order asked for; unknown names are an
    /// error, a name given twice counts once.
    pub fn select(
        &self,
        sel: &Selection,
        action: &'static str,
    ) -> Result<Vec<&Workload>, PipelineError> {
        if sel.all {
            return Ok(self.workloads.iter().map(|(_, w)| w).collect());
        }
        if sel.workloads.is_empty() {
            return Err(PipelineError::NothingSelected { action });
        }
        let mut out: Vec<&Workload> = Vec::new();
        for name in &sel.workloads {
            // Refused workloads are reported through `refused_in`, not as unknown.
            if self.refused.iter().any(|r| &r.spec_name == name) {
                continue;
            }
            let Some((_, w)) = self.workloads.iter().find(|(_, w)| &w.name == name) else {
                return Err(PipelineError::UnknownWorkload {
                    name: name.clone(),
                    known: self.workloads.iter().map(|(_, w)| w.name.clone()).collect(),
                });
            };
            if !out.iter().any(|o| o.name == w.name) {
                out.push(w);
            }
        }
        Ok(out)
    }

    /// The refusals that concern the selection (every one with `--all`).
    pub fn refused_in(&self, sel: &Selection) -> Vec<Refusal> {
        self.refused
            .iter()
            .filter(|r| sel.all || sel.workloads.contains(&r.spec_name))
            .cloned()
            .collect()
    }

    /// The file a workload was read from, if any.
    pub fn file_of(&self, name: &str) -> Option<&PathBuf> {
        self.workloads
            .iter()
            .find(|(_, w)| w.name == name)
            .and_then(|(f, _)| f.as_ref())
    }
}

/// Validates the specs under `paths` (default: the session's specs folder).
/// Warnings are logged at debug level; errors refuse the whole set.
pub fn load_yaml(
    session: &Session,
    paths: &[PathBuf],
) -> Result<Vec<(PathBuf, Workload)>, PipelineError> {
    let paths = if paths.is_empty() {
        vec![session.specs.clone()]
    } else {
        paths.to_vec()
    };
    let checked = crate::validate::check_paths(&paths);
    if checked.errors() > 0 {
        return Err(PipelineError::InvalidSpecs {
            checked: Box::new(checked),
        });
    }
    for d in &checked.diagnostics {
        tracing::debug!(file = %d.file, line = d.line, "{}: {}", d.path, d.message);
    }
    Ok(checked.workloads)
}

/// Reads every workload from the configuration tables, each through the
/// same checks as a file: a workload that fails is refused (with table,
/// SpecName, TierTagValue and attribute), the others are returned.
pub async fn load_dynamodb(session: &Session) -> Result<store_config::Loaded, PipelineError> {
    let (db, ctx) = session.config_tables().await?;
    let state = sync::inspect(&db, &ctx.names).await?;
    if let Some(t) = state.missing.first() {
        return Err(StoreError::Missing {
            table: t.clone(),
            region: ctx.region,
        }
        .into());
    }
    let current = sync::read_current(&db, &ctx.names, &state).await?;
    let loaded = store_config::load(&current, &ctx.names);
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    for r in &loaded.refused {
        tracing::debug!("refused: {r}");
    }
    Ok(loaded)
}

/// Loads the configuration from `source`.
pub async fn load(session: &Session, source: Source) -> Result<Config, PipelineError> {
    let (workloads, refused) = match source {
        Source::Yaml => (
            load_yaml(session, &[])?
                .into_iter()
                .map(|(f, w)| (Some(f), w))
                .collect(),
            Vec::new(),
        ),
        Source::Dynamodb => {
            let loaded = load_dynamodb(session).await?;
            (
                loaded.workloads.into_iter().map(|w| (None, w)).collect(),
                loaded.refused,
            )
        }
    };
    Ok(Config {
        source,
        workloads,
        refused,
    })
}
