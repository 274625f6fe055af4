//! The JSON documents commands print with `--output json`: typed, so their
//! shape is written down once, and with JSON Schemas generated from these
//! types, committed under `schema/` and checked for drift like the workload
//! schema. Every document carries `version` ([`VERSION`]); fields are only
//! added within a version.

use schemars::JsonSchema;
use serde::Serialize;

use crate::execute::RunReport;
use crate::plan::{Plan, Summary};

/// Version of every JSON document; bumped on incompatible change.
pub const VERSION: u32 = 1;

/// `tierctl plan -o json`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanOutput<'a> {
    /// [`VERSION`].
    pub version: u32,
    /// The config diff `sync --check` would show (null offline or with `--from dynamodb`).
    pub config: Option<serde_json::Value>,
    /// The plan: waves, tiers, steps.
    pub plan: &'a Plan,
    /// Counts over the plan.
    pub summary: Summary,
}

/// `tierctl run -o json`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunOutput<'a> {
    /// [`VERSION`].
    pub version: u32,
    /// The plan executed.
    pub plan: &'a Plan,
    /// Every instance's outcome.
    pub report: &'a RunReport,
    /// The process's exit code.
    pub exit_code: u8,
}
