//! The Lambda runner: what EventBridge Scheduler invokes to run a workload's
//! scheduled stop or start.
//!
//! - [`event`]: the invocation event, the contract between `sync` (which
//!   writes it as each schedule's target input) and the runner.
//! - [`admit`]: whether an event runs at all (stale, duplicate, superseded). Pure.
//! - [`handle`]: one invocation: the same pipeline as `tierctl run ... --from
//!   dynamodb`, stopped before the deadline and continued in a new invocation.
//!
//! The `tierctl` binary is the runner when it is started as `bootstrap`
//! (the name Lambda's `provided.al2023` runtime starts): [`main`] serves the
//! Lambda Runtime API with the `lambda_runtime` crate.

pub mod admit;
pub mod event;
pub mod handle;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};

use crate::pipeline::Session;
use event::RunnerEvent;
use handle::{Invocation, RunnerConfig};

/// Whether this process was started as the Lambda runner: its executable
/// is called `bootstrap` and the Lambda Runtime API is announced.
pub fn started_as_runner() -> bool {
    let name = std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_os_string()));
    name.is_some_and(|n| n == "bootstrap") && std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
}

/// Serves invocations until Lambda stops the process.
pub fn main() -> ExitCode {
    init_logging();
    let config = match RunnerConfig::from_env() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    let served = runtime.block_on(serve(config));
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: the Lambda runtime stopped: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: RunnerConfig) -> Result<(), lambda_runtime::Error> {
    let session = Arc::new(Session::new(config.tables.clone(), PathBuf::from(".")));
    let config = Arc::new(config);
    let function_name = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default();
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<RunnerEvent>| {
        let (session, config) = (Arc::clone(&session), Arc::clone(&config));
        let function = if ev.context.invoked_function_arn.is_empty() {
            function_name.clone()
        } else {
            ev.context.invoked_function_arn.clone()
        };
        async move {
            let invocation = Invocation {
                request_id: ev.context.request_id.clone(),
                deadline: SystemTime::UNIX_EPOCH + Duration::from_millis(ev.context.deadline),
                function,
            };
            handle::handle(&session, &config, ev.payload, &invocation)
                .await
                .map_err(|e| {
                    tracing::error!("{e}");
                    Diagnostic {
                        error_type: "TierctlRunnerError".into(),
                        error_message: e.to_string(),
                    }
                })
        }
    }))
    .await
}

/// Logs on stderr, plain (CloudWatch), `RUST_LOG` or info for tierctl.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("warn,tierctl=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .try_init();
}
