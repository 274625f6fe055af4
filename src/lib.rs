//! tierctl: stop and start multi-tier EC2 workloads in order, safely, from
//! specs kept in git.
//!
//! # Layout
//!
//! Data flows one way (see the README's architecture section):
//!
//! ```text
//! workloads/*.yaml --load--> spec::Workload --validate--> diagnostics
//! DynamoDB items --store--/        |
//!                                  +--store::diff--> ChangeSet --pipeline::sync--> DynamoDB
//! EC2 / RDS / SSM / ELB --observe--> Observed --plan (pure)--> Plan --(plan --out)--> saved plan
//!                                                         |
//!                                            execute (Effects) --> RunReport --> report, notify
//! ```
//!
//! - [`cli`]: clap definitions, one file per command; turns arguments into
//!   requests, calls [`pipeline`] and prints. No AWS calls.
//! - [`pipeline`]: the stages every command runs, in one place: where the
//!   configuration comes from (YAML or the tables), observe and plan, saved
//!   plans and their staleness check, run (leases, execution, interruption,
//!   notifications), run cycle, sync, import. One SDK configuration per process.
//! - [`spec`]: the workload types (serde + schemars), their defaults and the
//!   JSON Schema generator. No I/O.
//! - [`load`]: the only module that reads spec files. Finds files, refuses
//!   what is not a small UTF-8 text file, and parses YAML into JSON data plus
//!   the position of every node.
//! - [`validate`]: the schema and the semantic rules, producing
//!   [`validate::Diagnostic`]s with file, line and column. No I/O of its own.
//! - [`store`]: the original tool's DynamoDB tables: the item format both
//!   ways ([`store::item`]), ownership markers ([`store::owner`]), the pure
//!   diff ([`store::diff`]), reading and conditional writing
//!   ([`store::sync`]), how a diff is shown ([`store::show`]), and
//!   [`store::config`], which reads the tables' workloads through the same
//!   checks as files and refuses bad ones by table, `SpecName` and attribute.
//!   [`store::schedules`]: the workloads' EventBridge Scheduler schedules
//!   `sync` wants, and their pure diff against the group `tierctl`.
//! - [`observe`]: what AWS says about the fleet, collected behind the
//!   read-only [`observe::collect::Observer`] trait into [`observe::Observed`];
//!   [`observe::rds`] holds the RDS DB instances and Aurora clusters.
//! - [`plan`](mod@plan): `plan(&Workload, &Observed, &Intent) -> Plan`: waves,
//!   tiers, steps with their batches, resizes; [`plan::rds`] the steps of
//!   DB instances and Aurora clusters. Pure and deterministic.
//! - [`plan::asg`]: what a stop or start does to Auto Scaling groups
//!   (record the sizes in the group's tag and scale in, or restore them),
//!   which groups are held, and the instances a group owns.
//! - [`execute`]: walks a [`plan::Plan`] through the [`execute::Effects`]
//!   trait: batching as planned, pacing, waits, the fencing run lease
//!   ([`execute::fence`], implemented by [`pipeline::lease`]), cancellation;
//!   every instance gets an outcome.
//! - [`aws`]: one file per service, implementing effects and observations
//!   with the SDK; they call AWS and decide nothing (`aws::scheduler`:
//!   EventBridge Scheduler's schedule group and schedules).
//! - [`guest`]: the override check: tierctl's SSM document (Linux shell and
//!   PowerShell steps, the path's `allowedPattern`), and every decision on
//!   what a guest answered (present / absent / unsure); `aws::ssm` only
//!   sends and collects. `store::document` decides whether `sync` writes the
//!   document; `aws::catalogue` lists every AWS call (the IAM policy's source).
//! - [`iam`]: the least-privilege IAM policy the specs need.
//! - [`runner`]: the Lambda runner EventBridge Scheduler invokes (the
//!   `tierctl` binary started as `bootstrap`): [`runner::event`] is its
//!   event, the input `sync` writes on schedules; [`runner::admit`] drops
//!   stale, duplicate and superseded events; [`runner::handle`] runs the
//!   pipeline, stops before the deadline and continues in a new invocation.
//! - [`schedule`]: EventBridge Scheduler's six-field cron, IANA time zones
//!   (database compiled in) and when a schedule fires next, with AWS's
//!   daylight saving time rules; what `validate` and `plan` say about
//!   schedules. Pure: "now" is a parameter.
//! - [`notify`]: the one SNS message per workload and run that needs a human.
//! - [`report`]: plans and outcomes as text, markdown and step summaries;
//!   [`mermaid`] draws a plan's waves for the pull request comment.
//! - [`json`]: the typed `--output json` documents and the JSON Schemas
//!   generated from them (`schema/`).
//! - [`render`]: deterministic YAML writing, the inverse of [`load`]'s
//!   parser (used to write workload files).
//! - [`text`]: escaping of text tierctl did not validate (names from AWS,
//!   guest output, error messages) for terminals, Markdown and SNS.
//! - [`output`]: output formats, colour decisions, rendering of diagnostics.
//! - [`exit`]: the exit codes and their meaning.
//! - [`error`]: typed errors naming the file, table or AWS call they concern.

pub mod aws;
pub mod cli;
pub mod error;
pub mod execute;
pub mod exit;
pub mod guest;
pub mod iam;
pub mod json;
pub mod load;
pub mod mermaid;
pub mod notify;
pub mod observe;
pub mod output;
pub mod pipeline;
pub mod plan;
pub mod render;
pub mod report;
pub mod runner;
pub mod schedule;
pub mod spec;
pub mod store;
pub mod text;
pub mod validate;

/// Where the configuration tables are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    /// Region of the tables; `None` uses the SDK's region chain.
    pub region: Option<String>,
    /// The workload table (`WorkloadSpecification`).
    pub workload_table: String,
    /// The tier table (`TierSpecification`).
    pub tier_table: String,
}
