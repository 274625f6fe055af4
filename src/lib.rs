//! tierctl: stop and start multi-tier EC2 workloads in order, safely, from
//! specs kept in git.
//!
//! # Layout
//!
//! Data flows one way: files are loaded, validated, then (in later stages)
//! synced to DynamoDB, observed on AWS, planned and executed.
//!
//! - [`spec`]: the workload types (serde + schemars), their defaults and the
//!   JSON Schema generator. No I/O.
//! - [`load`]: the only module that reads spec files. Finds files, refuses
//!   what is not a small UTF-8 text file, and parses YAML into JSON data plus
//!   the position of every node.
//! - [`validate`]: the schema and the semantic rules, producing
//!   [`validate::Diagnostic`]s with file, line and column. No I/O of its own.
//! - [`guest`]: the override check: tierctl's SSM document (Linux shell and
//!   PowerShell steps, the path's `allowedPattern`), and every decision on
//!   what a guest answered (present / absent / unsure); `aws::ssm` only
//!   sends and collects. `store::document` decides whether `sync` writes the
//!   document; `aws::catalogue` lists every AWS call (the IAM policy's source).
//! - [`render`]: deterministic YAML writing, the inverse of [`load`]'s
//!   parser (used to write workload files).
//! - [`output`]: output formats, colour decisions, rendering of diagnostics.
//! - [`exit`]: the exit codes and their meaning.
//! - [`error`]: typed errors naming the file or AWS call they concern.
//! - [`cli`]: clap definitions, one file per command; turns arguments into
//!   settings and calls the library.

pub mod aws;
pub mod cli;
pub mod error;
pub mod execute;
pub mod exit;
pub mod guest;
pub mod iam;
pub mod json;
pub mod load;
pub mod notify;
pub mod observe;
pub mod output;
pub mod pipeline;
pub mod plan;
pub mod render;
pub mod report;
pub mod spec;
pub mod store;
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
