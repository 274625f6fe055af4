//! One invocation: admit the event, run it exactly as
//! `tierctl run ACTION WORKLOAD --from dynamodb [--profile P]` does, stop
//! before the deadline and continue in a new invocation, record what ran.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::sync::watch;

use super::admit::{self, Admission, EventError, Handled};
use super::event::{Continuation, RunnerEvent};
use crate::Tables;
use crate::aws::AwsError;
use crate::execute::{Options, Outcome, Progress};
use crate::json::{RunnerInfo, RunnerOutput, RunnerRecorded};
use crate::pipeline::config::{Selection, Source};
use crate::pipeline::lease;
use crate::pipeline::run::{Handover, RunHooks, RunRequest, Target};
use crate::pipeline::{PipelineError, Session};
use crate::plan::{Action, Intent, Plan};
use crate::spec::Workload;

/// Default of [`RunnerConfig::margin`]: the longest single AWS call
/// ([`crate::aws::OPERATION_TIMEOUT`], every retry included: a call in
/// flight when the run stops finishes first) plus 30 s for keeping the
/// lease, the self-invocation and the report.
pub const DEFAULT_MARGIN: Duration = Duration::from_secs(150);

/// Default of [`RunnerConfig::max_continuations`].
pub const DEFAULT_MAX_CONTINUATIONS: u32 = 8;

/// The runner's settings, from its environment.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// The configuration tables (`TIERCTL_WORKLOAD_TABLE`, `TIERCTL_TIER_TABLE`,
    /// `TIERCTL_DYNAMODB_REGION`; the same defaults as the CLI; region: `AWS_REGION`).
    pub tables: Tables,
    /// The lease table (`TIERCTL_LOCK_TABLE`, default `TierctlLocks`), which
    /// also holds the runner's record of handled events.
    pub lock_table: String,
    /// How long before the invocation's deadline the run stops issuing
    /// calls and continues in a new invocation
    /// (`TIERCTL_RUNNER_DEADLINE_MARGIN_SECONDS`, default 150).
    pub margin: Duration,
    /// How many times a run may continue in a new invocation
    /// (`TIERCTL_RUNNER_MAX_CONTINUATIONS`, default 8).
    pub max_continuations: u32,
    /// Execution options (the CLI's defaults; `TIERCTL_CHECK_TIMEOUT_SECONDS`).
    pub options: Options,
    /// Create missing SNS topics (`TIERCTL_CREATE_TOPIC=true`).
    pub create_topic: bool,
}

/// A setting of the environment that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {name}: {message}")]
pub struct ConfigError {
    /// The variable.
    pub name: &'static str,
    /// What is wrong.
    pub message: String,
}

impl RunnerConfig {
    /// From the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// From `get` (a variable's value, `None` when unset or empty).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let number = |name: &'static str, default: u64, max: u64| -> Result<u64, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(n) if n <= max => Ok(n),
                    _ => Err(ConfigError {
                        name,
                        message: format!("`{v}` is not a whole number from 0 to {max}"),
                    }),
                },
            }
        };
        let margin = number(
            "TIERCTL_RUNNER_DEADLINE_MARGIN_SECONDS",
            DEFAULT_MARGIN.as_secs(),
            900,
        )?;
        let max_continuations = number(
            "TIERCTL_RUNNER_MAX_CONTINUATIONS",
            u64::from(DEFAULT_MAX_CONTINUATIONS),
            100,
        )?;
        let defaults = Options::default();
        let check = number(
            "TIERCTL_CHECK_TIMEOUT_SECONDS",
            defaults.check_timeout.as_secs(),
            3600,
        )?;
        let create_topic = match get("TIERCTL_CREATE_TOPIC").as_deref() {
            None | Some("false" | "0") => false,
            Some("true" | "1") => true,
            Some(v) => {
                return Err(ConfigError {
                    name: "TIERCTL_CREATE_TOPIC",
                    message: format!("`{v}`: true or false"),
                });
            }
        };
        Ok(RunnerConfig {
            tables: Tables {
                region: get("TIERCTL_DYNAMODB_REGION"),
                workload_table: get("TIERCTL_WORKLOAD_TABLE")
                    .unwrap_or_else(|| "WorkloadSpecification".into()),
                tier_table: get("TIERCTL_TIER_TABLE").unwrap_or_else(|| "TierSpecification".into()),
            },
            lock_table: get("TIERCTL_LOCK_TABLE").unwrap_or_else(|| "TierctlLocks".into()),
            margin: Duration::from_secs(margin),
            max_continuations: u32::try_from(max_continuations).unwrap_or(u32::MAX),
            options: Options {
                check_timeout: Duration::from_secs(check.max(1)),
                ..defaults
            },
            create_topic,
        })
    }
}

/// What Lambda says about the current invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// `Lambda-Runtime-Deadline-Ms`.
    pub deadline: SystemTime,
    /// The function to invoke for a continuation (the invoked ARN, else the
    /// function's name).
    pub function: String,
}

/// Why an invocation failed (Lambda records a function error and retries
/// an asynchronous event, up to the function's retry setting).
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// The event cannot be read.
    #[error(transparent)]
    Event(#[from] EventError),
    /// The run could not be made (configuration, tables, AWS unreachable).
    #[error("workload {workload}: {source}")]
    Pipeline {
        /// The workload.
        workload: String,
        /// Why.
        source: Box<PipelineError>,
    },
    /// The lease table could not be read or written.
    #[error("lease table {table}: {source}")]
    LockTable {
        /// The table.
        table: String,
        /// Why.
        source: Box<crate::store::StoreError>,
    },
    /// The record of handled events could not be read.
    #[error("lease table {table}, item {item}: {source}")]
    Record {
        /// The table.
        table: String,
        /// The item's `LockId`.
        item: String,
        /// Why.
        source: AwsError,
    },
    /// Less time left than the margin: nothing can be done safely.
    #[error(
        "only {left_ms} ms left before the invocation's deadline, less than the margin of {margin_s} s (TIERCTL_RUNNER_DEADLINE_MARGIN_SECONDS): nothing was done; raise the function's timeout"
    )]
    NoTime {
        /// Milliseconds to the deadline.
        left_ms: u128,
        /// The margin.
        margin_s: u64,
    },
    /// The run needed more invocations than allowed.
    #[error(
        "workload {workload}: the {action} was not finished after {invocations} invocations (TIERCTL_RUNNER_MAX_CONTINUATIONS={max}); the lease was released and the report published; run it again or by hand"
    )]
    TooManyContinuations {
        /// The workload.
        workload: String,
        /// stop or start.
        action: &'static str,
        /// Invocations used.
        invocations: u32,
        /// The bound.
        max: u32,
    },
    /// The workload was not run: another run holds its lock, or its
    /// configuration in the tables is invalid (Lambda retries the event).
    #[error("workload {workload}: not run: {why}")]
    NotRun {
        /// The workload.
        workload: String,
        /// The report's reason.
        why: String,
    },
    /// The continuation could not be queued.
    #[error(
        "workload {workload}: could not continue the run in a new invocation ({source}); its lease was released, the run is unfinished"
    )]
    Continue {
        /// The workload.
        workload: String,
        /// Why.
        source: AwsError,
    },
}

/// The item of the lease table holding a workload's handled events (a
/// `LockId` no workload name can have: names have no `#`).
pub fn record_id(workload: &str) -> String {
    format!("runner#{workload}")
}

/// The record's attribute of `action`: the last `scheduledTime` it ran for.
fn record_attribute(action: Action) -> &'static str {
    match action {
        Action::Stop => "StopScheduledAt",
        Action::Start => "StartScheduledAt",
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Prints the document as one JSON line on stdout (CloudWatch keeps it as
/// one event) and returns it as the response.
fn log_line(doc: &RunnerOutput<'_>) -> Value {
    use std::io::Write;
    let value = serde_json::to_value(doc).unwrap_or_else(|e| json!({"error": e.to_string()}));
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
    value
}

/// Handles one event; returns the document logged and answered.
pub async fn handle(
    session: &Session,
    config: &RunnerConfig,
    event: RunnerEvent,
    invocation: &Invocation,
) -> Result<Value, RunnerError> {
    let workload = event.workload.clone();
    let pipeline = |e: PipelineError| RunnerError::Pipeline {
        workload: workload.clone(),
        source: Box::new(e),
    };
    let number = event.continuation.as_ref().map_or(0, |c| c.invocation);
    let mut runner = RunnerInfo {
        request_id: invocation.request_id.clone(),
        event: event.clone(),
        invocation: number,
        skipped: None,
        continued_as: None,
        recorded: None,
        error: None,
    };

    // Admission: stale, duplicate, superseded (read before anything is locked).
    let (db, _) = session
        .config_tables()
        .await
        .map_err(|e| pipeline(e.into()))?;
    lease::ensure_table(&db, &config.lock_table)
        .await
        .map_err(|e| RunnerError::LockTable {
            table: config.lock_table.clone(),
            source: Box::new(e),
        })?;
    let item = record_id(&event.workload);
    let record = db
        .get_numbers(&config.lock_table, &item)
        .await
        .map_err(|e| RunnerError::Record {
            table: config.lock_table.clone(),
            item: item.clone(),
            source: e,
        })?;
    let handled = Handled {
        stop: record.get(record_attribute(Action::Stop)).copied(),
        start: record.get(record_attribute(Action::Start)).copied(),
    };
    let scheduled = match admit::admit(&event, now_secs(), &handled)? {
        Admission::Skip(why) => {
            tracing::warn!(workload = %event.workload, "skipped: {why}");
            runner.skipped = Some(why);
            return Ok(log_line(&RunnerOutput {
                version: crate::json::VERSION,
                plan: None,
                report: None,
                exit_code: None,
                runner,
            }));
        }
        Admission::Run { scheduled } => scheduled,
    };

    // The deadline: stop issuing calls `margin` before it.
    let left = invocation
        .deadline
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    let Some(budget) = left.checked_sub(config.margin).filter(|b| !b.is_zero()) else {
        return Err(RunnerError::NoTime {
            left_ms: left.as_millis(),
            margin_s: config.margin.as_secs(),
        });
    };
    let (cancel_tx, cancel) = watch::channel(false);
    let fired = Arc::new(AtomicBool::new(false));
    let margin_s = config.margin.as_secs();
    let timer = {
        let fired = Arc::clone(&fired);
        tokio::spawn(async move {
            tokio::time::sleep(budget).await;
            tracing::warn!(
                "{margin_s} s before the invocation's deadline: no new calls; the run continues in a new invocation"
            );
            fired.store(true, Ordering::SeqCst);
            let _ = cancel_tx.send(true);
        })
    };

    let may_continue = number < config.max_continuations;
    let intent = Intent {
        profile: event.profile.clone(),
        ..Intent::new(event.action)
    };
    let request = RunRequest {
        target: Target::Fresh {
            source: Source::Dynamodb,
            selection: Selection {
                workloads: vec![event.workload.clone()],
                all: false,
            },
            intent,
        },
        options: config.options.clone(),
        lock_table: config.lock_table.clone(),
        create_topic: config.create_topic,
    };
    let handover = Handover {
        holder: event.continuation.as_ref().map(|c| c.holder.clone()),
        keep_when_interrupted: may_continue,
    };
    let done =
        crate::pipeline::run::run_with(session, request, Arc::new(LogHooks), cancel, handover)
            .await;
    timer.abort();
    let outcome = done.map_err(pipeline)?;
    let doc_of = |runner: RunnerInfo| RunnerOutput {
        version: crate::json::VERSION,
        plan: Some(&outcome.plan),
        report: Some(&outcome.report),
        exit_code: Some(outcome.exit.code()),
        runner,
    };

    if outcome.report.interrupted && fired.load(Ordering::SeqCst) {
        if !outcome.lease_kept {
            runner.error = Some(format!(
                "not finished after {} invocations (TIERCTL_RUNNER_MAX_CONTINUATIONS={})",
                number + 1,
                config.max_continuations
            ));
            log_line(&doc_of(runner));
            return Err(RunnerError::TooManyContinuations {
                workload: event.workload.clone(),
                action: event.action.as_str(),
                invocations: number + 1,
                max: config.max_continuations,
            });
        }
        let holder = outcome.holder.clone().unwrap_or_default();
        let next = RunnerEvent {
            continuation: Some(Continuation {
                holder: holder.clone(),
                invocation: number + 1,
            }),
            ..event.clone()
        };
        let payload = serde_json::to_vec(&next).unwrap_or_default();
        let lambda = crate::aws::lambda::Lambda::new(session.sdk().await);
        if let Err(e) = lambda.invoke_event(&invocation.function, payload).await {
            if let Err(r) = db
                .release_lock(&config.lock_table, &event.workload, Some(&holder))
                .await
            {
                tracing::warn!("releasing the kept lease: {r}; it expires by itself");
            }
            runner.error = Some(e.to_string());
            log_line(&doc_of(runner));
            return Err(RunnerError::Continue {
                workload: event.workload.clone(),
                source: e,
            });
        }
        tracing::warn!(
            workload = %event.workload,
            "continued in invocation {} of the run (same lease holder)",
            number + 1
        );
        runner.continued_as = Some(next);
        return Ok(log_line(&doc_of(runner)));
    }

    if outcome.not_run.contains(&event.workload) {
        let why = outcome
            .report
            .workloads
            .iter()
            .find(|w| w.name == event.workload)
            .and_then(|w| w.skipped.clone())
            .unwrap_or_else(|| "refused".into());
        runner.error = Some(why.clone());
        log_line(&doc_of(runner));
        return Err(RunnerError::NotRun {
            workload: event.workload.clone(),
            why,
        });
    }

    if let (Some(at), false) = (scheduled, outcome.report.interrupted) {
        let attr = record_attribute(event.action);
        match db.raise_number(&config.lock_table, &item, attr, at).await {
            Ok(_) => {
                runner.recorded = Some(RunnerRecorded {
                    item: item.clone(),
                    attribute: attr.to_string(),
                    scheduled_at: at,
                });
            }
            Err(e) => tracing::warn!(
                "lease table {}, item {item}: recording the handled event: {e}; a duplicate of it would run again (harmlessly: the re-plan finds nothing to do)",
                config.lock_table
            ),
        }
    }
    Ok(log_line(&doc_of(runner)))
}

/// Progress and refusals go to the log (stderr: CloudWatch).
struct LogHooks;

impl Progress for LogHooks {
    fn tier_started(&self, workload: &str, tier: &str, instances: usize) {
        tracing::info!(workload, tier, instances, "tier started");
    }

    fn tier_finished(&self, workload: &str, tier: &str, outcomes: &[Outcome]) {
        tracing::info!(workload, tier, instances = outcomes.len(), "tier finished");
    }
}

impl RunHooks for LogHooks {
    fn refused(&self, workload: &str, why: &str) {
        tracing::error!(workload, "not run: {why}");
    }

    fn planned(&self, plan: &Plan, _specs: &[&Workload]) {
        let s = plan.summary();
        tracing::info!("plan: {s:?}");
    }

    fn would_publish(&self, topic: &str, region: &str, subject: &str) {
        tracing::info!("dry run: would publish to SNS topic {topic} ({region}): {subject}");
    }

    fn warning(&self, message: &str) {
        tracing::warn!("{message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_come_from_the_environment_with_the_cli_defaults() {
        let c = RunnerConfig::from_lookup(|_| None).unwrap();
        assert_eq!(c.tables.workload_table, "WorkloadSpecification");
        assert_eq!(c.tables.tier_table, "TierSpecification");
        assert_eq!(c.tables.region, None);
        assert_eq!(c.lock_table, "TierctlLocks");
        assert_eq!(c.margin, DEFAULT_MARGIN);
        assert_eq!(c.max_continuations, DEFAULT_MAX_CONTINUATIONS);
        let c = RunnerConfig::from_lookup(|k| match k {
            "TIERCTL_LOCK_TABLE" => Some("L".into()),
            "TIERCTL_RUNNER_DEADLINE_MARGIN_SECONDS" => Some("3".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!((c.lock_table.as_str(), c.margin.as_secs()), ("L", 3));
        let e = RunnerConfig::from_lookup(|k| {
            (k == "TIERCTL_RUNNER_MAX_CONTINUATIONS").then(|| "many".to_string())
        })
        .unwrap_err();
        assert_eq!(e.name, "TIERCTL_RUNNER_MAX_CONTINUATIONS");
    }

    #[test]
    fn the_record_item_cannot_be_a_workload_lease() {
        assert_eq!(record_id("shop"), "runner#shop");
    }

    #[test]
    fn the_default_margin_covers_the_longest_call() {
        assert!(DEFAULT_MARGIN >= crate::aws::OPERATION_TIMEOUT + Duration::from_secs(30));
    }
}
