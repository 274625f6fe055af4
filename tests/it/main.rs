//! End-to-end tests: the real binary, and (for AWS-facing commands) the real
//! SDK clients against the project's emulator. One test binary, so the SDK
//! is linked once.

mod asg;
mod cli;
mod concurrency;
mod cycle;
mod document;
mod elb;
mod emulator;
mod iam;
mod inputs;
mod mermaid;
mod notify;
mod outputs;
mod ownership;
mod plan;
mod rds;
mod reshape;
mod run;
mod runner;
mod saved_plan;
mod schedule_spec;
mod schedules;
mod schema;
mod ssm;
mod support;
mod sync;
mod three_tier;
mod throttle;
mod typed_outputs;
mod validate;
