//! `sync`'s part for tierctl's SSM document: in every region of a workload
//! with an override file, read the document and create or update it when
//! its content hash differs (decided in [`crate::store::document`]).

use std::collections::BTreeSet;

use serde::Serialize;

use super::Session;
use crate::aws::ssm::Ssm;
use crate::error::AwsError;
use crate::spec::Workload;
use crate::store::document::{self, Action, Observed};

/// The document in one region, and what sync does (or would do) about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentChange {
    /// The region.
    pub region: String,
    /// The document name.
    pub name: String,
    /// What to do.
    #[serde(flatten)]
    pub action: Action,
}

/// Why the document could not be managed.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// A call failed.
    #[error("SSM document {name} in {region}: {source}")]
    Aws {
        /// The region.
        region: String,
        /// The document.
        name: String,
        /// The call.
        source: AwsError,
    },
    /// A document of that name that tierctl must not overwrite.
    #[error("SSM document {name} in {region}: {reason}; delete or rename it")]
    Conflict {
        /// The region.
        region: String,
        /// The document.
        name: String,
        /// Why.
        reason: String,
    },
}

/// The regions that need the document: those of workloads with an override file.
pub fn regions<'a>(workloads: impl IntoIterator<Item = &'a Workload>) -> BTreeSet<String> {
    workloads
        .into_iter()
        .filter(|w| {
            w.tiers
                .iter()
                .any(|t| t.stop.as_ref().is_some_and(|s| s.override_file.is_some()))
        })
        .map(|w| w.region.clone())
        .collect()
}

/// Reads the document in every region of `workloads` that needs it (read only).
pub async fn inspect<'a>(
    session: &Session,
    workloads: impl IntoIterator<Item = &'a Workload>,
) -> Result<Vec<DocumentChange>, DocumentError> {
    let desired = document::desired();
    let sdk = session.sdk().await;
    let mut out = Vec::new();
    for region in regions(workloads) {
        let ssm = Ssm::new(sdk, &region);
        let info = ssm
            .describe_document(desired.name)
            .await
            .map_err(|source| DocumentError::Aws {
                region: region.clone(),
                name: desired.name.into(),
                source,
            })?;
        let observed = info.map(|i| Observed {
            description: i.description,
            document_type: i.document_type,
            default_version: i.default_version,
            latest_version: i.latest_version,
        });
        out.push(DocumentChange {
            region,
            name: desired.name.into(),
            action: document::decide(&desired, observed.as_ref()),
        });
    }
    Ok(out)
}

/// Writes what [`inspect`] found missing or outdated. Nothing is written for
/// an up-to-date document; a conflicting one is an error.
pub async fn apply(session: &Session, changes: &[DocumentChange]) -> Result<(), DocumentError> {
    let desired = document::desired();
    let sdk = session.sdk().await;
    for c in changes {
        let ssm = Ssm::new(sdk, &c.region);
        let err = |source| DocumentError::Aws {
            region: c.region.clone(),
            name: c.name.clone(),
            source,
        };
        match &c.action {
            Action::UpToDate => {}
            Action::Conflict { reason } => {
                return Err(DocumentError::Conflict {
                    region: c.region.clone(),
                    name: c.name.clone(),
                    reason: reason.clone(),
                });
            }
            Action::Create => ssm
                .create_document(&c.name, &desired.content)
                .await
                .map_err(err)?,
            Action::Update => {
                let version = match ssm.update_document(&c.name, &desired.content).await {
                    Ok(v) => v,
                    // The latest version already has this content (an
                    // earlier update that did not become the default).
                    Err(e) if e.code.as_deref() == Some("DuplicateDocumentContent") => ssm
                        .describe_document(&c.name)
                        .await
                        .map_err(err)?
                        .and_then(|i| i.latest_version)
                        .unwrap_or_else(|| "$LATEST".into()),
                    Err(e) => return Err(err(e)),
                };
                ssm.set_default_version(&c.name, &version)
                    .await
                    .map_err(err)?;
            }
        }
    }
    Ok(())
}

/// One line per document that is not up to date, for people.
pub fn describe(changes: &[DocumentChange], applied: bool) -> Vec<String> {
    changes
        .iter()
        .filter(|c| c.action != Action::UpToDate)
        .map(|c| {
            let what = match (&c.action, applied) {
                (Action::Create, false) => "would be created".to_string(),
                (Action::Create, true) => "created".to_string(),
                (Action::Update, false) => "would be updated (content changed)".to_string(),
                (Action::Update, true) => "updated (content changed)".to_string(),
                (Action::Conflict { reason }, _) => format!("conflict: {reason}"),
                (Action::UpToDate, _) => "up to date".to_string(),
            };
            format!("SSM document {} in {}: {what}", c.name, c.region)
        })
        .collect()
}
