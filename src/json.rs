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
    /// Workloads of the tables refused by the checks (`--from dynamodb`);
    /// the command exits 1 when there are any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<crate::store::config::Refusal>,
    /// The next scheduled stop and start of each selected workload with a
    /// `schedule`, in its time zone and in UTC, and the first runs after its
    /// zone's next daylight saving time change (absent when no selected
    /// workload has a schedule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedules: Option<crate::schedule::ScheduleRuns>,
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

/// `tierctl run cycle -o json`: the start and the stop, one exit code.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CycleOutput<'a> {
    /// [`VERSION`].
    pub version: u32,
    /// The start, then the stop (absent when the cycle was interrupted before it).
    pub phases: Vec<RunOutput<'a>>,
    /// How long the cycle paused between them.
    pub paused_ms: u64,
    /// The cycle's exit code: the worse of the phases'.
    pub exit_code: u8,
}

/// `tierctl sync -o json` (and `sync --check -o json`, which has only the diff).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncOutput {
    /// The difference found before writing.
    #[serde(flatten)]
    pub diff: crate::store::show::DiffJson,
    /// tierctl's SSM document (`tierctl-OverrideCheck`) in each region that needs it.
    pub documents: Vec<crate::pipeline::document::DocumentChange>,
    /// Set when sync wrote (absent with `--check`).
    #[serde(flatten)]
    pub applied: Option<SyncApplied>,
    /// The schedules in EventBridge Scheduler (absent when no spec has a
    /// schedule and no runner is configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedules: Option<crate::store::schedules::SchedulesJson>,
    /// What sync wrote to EventBridge Scheduler (absent with `--check` or
    /// when schedules are not managed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedules_applied: Option<SchedulesApplied>,
}

/// What `sync` wrote to EventBridge Scheduler.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchedulesApplied {
    /// Whether the schedule group `tierctl` was created.
    pub created_group: bool,
    /// Schedules created, updated or deleted, by name.
    pub written: Vec<String>,
    /// Schedules not written, by name.
    pub failures: Vec<ScheduleFailure>,
}

/// A schedule `sync` could not write.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ScheduleFailure {
    /// Schedule name.
    pub schedule: String,
    /// Why (the call and the schedule).
    pub error: String,
}

/// What `sync` wrote.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncApplied {
    /// The `ManagedBy` marker written.
    pub managed_by: String,
    /// Tables created.
    pub created_tables: Vec<String>,
    /// Workloads written completely.
    pub applied: Vec<String>,
    /// Items written or deleted.
    pub applied_item_writes: usize,
    /// The first workload that was not written (null when none); see `failures` for all.
    pub failed: Option<SyncFailure>,
    /// Every workload that was not written, by name; each wrote nothing.
    pub failures: Vec<SyncFailure>,
}

/// A workload `sync` could not write.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SyncFailure {
    /// SpecName.
    pub workload: String,
    /// Why.
    pub error: String,
}

/// `tierctl validate -o json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ValidateOutput<'a> {
    /// [`VERSION`].
    pub version: u32,
    /// No errors (warnings allowed; with `--strict` warnings count as errors).
    pub valid: bool,
    /// Every file checked, as given or found.
    pub files: Vec<String>,
    /// Number of error diagnostics.
    pub errors: usize,
    /// Number of warning diagnostics.
    pub warnings: usize,
    /// Every finding, sorted by file and position.
    pub diagnostics: &'a [crate::validate::Diagnostic],
}

/// `tierctl import -o json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ImportOutput<'a> {
    /// [`VERSION`].
    pub version: u32,
    /// One entry per workload, in the order asked for (or the table's, with `--all`).
    pub workloads: &'a [crate::pipeline::import::ImportEntry],
}

/// `tierctl iam-policy`: an IAM policy document, AWS's format (so it
/// carries AWS's `Version`, not [`VERSION`]).
#[derive(Debug, Serialize, serde::Deserialize, JsonSchema)]
pub struct IamPolicyOutput {
    /// Always `2012-10-17`.
    #[serde(rename = "Version")]
    pub version: String,
    /// The statements, in a fixed order.
    #[serde(rename = "Statement")]
    pub statement: Vec<PolicyStatement>,
}

/// One statement of [`IamPolicyOutput`].
#[derive(Debug, Serialize, serde::Deserialize, JsonSchema)]
pub struct PolicyStatement {
    /// What the statement is for.
    #[serde(rename = "Sid")]
    pub sid: String,
    /// Always `Allow`.
    #[serde(rename = "Effect")]
    pub effect: String,
    /// `service:Action`s, never a wildcard.
    #[serde(rename = "Action")]
    pub action: Vec<String>,
    /// ARNs (absent in trust policies).
    #[serde(rename = "Resource", default, skip_serializing_if = "Vec::is_empty")]
    pub resource: Vec<String>,
    /// Who may assume the role (trust policies only): `{"Service": "..."}`.
    #[serde(rename = "Principal", default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<serde_json::Map<String, serde_json::Value>>,
    /// Operator -> condition key -> value(s).
    #[serde(rename = "Condition", default, skip_serializing_if = "Option::is_none")]
    pub condition:
        Option<std::collections::BTreeMap<String, serde_json::Map<String, serde_json::Value>>>,
}

/// The Lambda runner's response, also logged as one JSON line: the
/// `run -o json` document (without `plan`, `report` and `exitCode` when the
/// event was not run) and what the runner did with the event.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunnerOutput<'a> {
    /// [`VERSION`].
    pub version: u32,
    /// The plan executed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<&'a Plan>,
    /// Every instance's outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<&'a RunReport>,
    /// The exit code `tierctl run` would have given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<u8>,
    /// The invocation.
    pub runner: RunnerInfo,
}

/// What the runner did with one invocation's event.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunnerInfo {
    /// Lambda's request id.
    pub request_id: String,
    /// The event as received.
    pub event: crate::runner::event::RunnerEvent,
    /// 0 for the first invocation of a run, then 1, 2... for its continuations.
    pub invocation: u32,
    /// Why the event was not run (`stale event: ...`, `duplicate event: ...`, `superseded: ...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// The event of the invocation that continues this run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continued_as: Option<crate::runner::event::RunnerEvent>,
    /// The handled event recorded in the lease table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded: Option<RunnerRecorded>,
    /// Why the invocation failed after the run (it answers with an error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The runner's record of a handled scheduled event.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunnerRecorded {
    /// The lease table item (`runner#<workload>`).
    pub item: String,
    /// `StopScheduledAt` or `StartScheduledAt`.
    pub attribute: String,
    /// The event's `scheduledTime`, seconds since the epoch.
    pub scheduled_at: i64,
}

/// A generated schema: its file name under `schema/` and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaFile {
    /// File name, e.g. `plan.schema.json`.
    pub name: &'static str,
    /// What it describes, for `--help` and messages.
    pub about: &'static str,
    /// Pretty JSON with a trailing newline.
    pub text: String,
}

fn text_of(schema: schemars::Schema) -> String {
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serialises");
    text.push('\n');
    text
}

/// Every schema tierctl commits under `schema/`, generated from the types.
pub fn schemas() -> Vec<SchemaFile> {
    vec![
        SchemaFile {
            name: "workload.schema.json",
            about: "a workload spec file (workloads/*.yaml)",
            text: crate::spec::json_schema_text(),
        },
        SchemaFile {
            name: "plan.schema.json",
            about: "a saved plan (`plan --out`, read by `run --plan`)",
            text: text_of(schemars::schema_for!(crate::pipeline::saved::SavedPlan)),
        },
        SchemaFile {
            name: "plan-output.schema.json",
            about: "`plan -o json`",
            text: text_of(schemars::schema_for!(PlanOutput<'static>)),
        },
        SchemaFile {
            name: "run-output.schema.json",
            about: "`run -o json`",
            text: text_of(schemars::schema_for!(RunOutput<'static>)),
        },
        SchemaFile {
            name: "cycle-output.schema.json",
            about: "`run cycle -o json`",
            text: text_of(schemars::schema_for!(CycleOutput<'static>)),
        },
        SchemaFile {
            name: "runner-output.schema.json",
            about: "the Lambda runner's response and JSON log line",
            text: text_of(schemars::schema_for!(RunnerOutput<'static>)),
        },
        SchemaFile {
            name: "iam-policy-output.schema.json",
            about: "`iam-policy` (an IAM policy document)",
            text: text_of(schemars::schema_for!(IamPolicyOutput)),
        },
        SchemaFile {
            name: "sync-output.schema.json",
            about: "`sync -o json` and `sync --check -o json`",
            text: text_of(schemars::schema_for!(SyncOutput)),
        },
        SchemaFile {
            name: "validate-output.schema.json",
            about: "`validate -o json`",
            text: text_of(schemars::schema_for!(ValidateOutput<'static>)),
        },
        SchemaFile {
            name: "import-output.schema.json",
            about: "`import -o json`",
            text: text_of(schemars::schema_for!(ImportOutput<'static>)),
        },
    ]
}
