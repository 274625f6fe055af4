//! End-to-end tests: the real binary, and (for AWS-facing commands) the real
//! SDK clients against the project's emulator. One test binary, so the SDK
//! is linked once.

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
mod saved_plan;
mod schema;
mod ssm;
mod support;
mod sync;
mod throttle;
mod typed_outputs;
mod validate;
