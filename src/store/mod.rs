//! The original tool's DynamoDB tables: item format, diff, sync and import;
//! and the workloads' EventBridge Scheduler schedules ([`schedules`]).

pub mod config;
pub mod diff;
pub mod document;
pub mod item;
pub mod owner;
pub mod schedules;
pub mod show;
pub mod sync;

/// Reading or writing the configuration tables failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] crate::error::AwsError),
    /// A table exists with another key than the original tool's.
    #[error(
        "table {table} has {found}, but tierctl expects {expected}; point --workload-table / --tier-table at the scheduler's tables"
    )]
    WrongKeySchema {
        /// The table.
        table: String,
        /// What tierctl needs.
        expected: String,
        /// What the table has.
        found: String,
    },
    /// A table tierctl must read does not exist.
    #[error("table {table} does not exist in {region}; `tierctl sync` creates it")]
    Missing {
        /// The table.
        table: String,
        /// Its region.
        region: String,
    },
    /// Items changed between reading and writing.
    #[error("{} changed since sync read {}; nothing of workload {workload} was written; run sync again to see the new difference", items.join(", "), if items.len() == 1 { "it" } else { "them" })]
    Conflict {
        /// The workload.
        workload: String,
        /// The items whose condition failed.
        items: Vec<String>,
    },
    /// The workload's items are marked by another repository.
    #[error(
        "workload {workload} belongs to another repository ({marker}): not written; remove it from one of the repositories"
    )]
    Foreign {
        /// The workload.
        workload: String,
        /// The marker found.
        marker: String,
    },
    /// More changes than one transaction holds.
    #[error(
        "workload {workload} needs {actions} item writes, more than one DynamoDB transaction holds (100)"
    )]
    TooLarge {
        /// The workload.
        workload: String,
        /// How many.
        actions: usize,
    },
    /// An item does not follow the original format.
    #[error(transparent)]
    Item(#[from] item::ItemError),
}
