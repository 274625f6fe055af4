//! The Lambda runner: what EventBridge Scheduler invokes to run a workload's
//! scheduled stop or start.
//!
//! - [`event`]: the invocation event, the contract between `sync` (which
//!   writes it as each schedule's target input) and the runner.

pub mod event;
