//! `tierctl sync [PATH...] [--check] [--prune]`

use std::io::Write;
use std::path::PathBuf;

use anyhow::bail;

use crate::exit::Exit;
use crate::json::{ScheduleFailure, SchedulesApplied, SyncApplied, SyncFailure, SyncOutput};
use crate::output::Format;
use crate::pipeline::document;
use crate::pipeline::sync as pipeline_sync;
use crate::store::schedules::{self, Targets};
use crate::store::{show, sync};

use super::Global;

/// Arguments of `sync`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Validates every file first (nothing is written when one is invalid), creates missing tables, \
prints the difference as a unified diff of the items, then writes each changed workload in one transaction, \
conditional on its items being exactly what was read (a concurrent hand edit fails that workload's write; \
the others are still written).\n\n\
Items are marked ManagedBy = tierctl:<repository> (--repo-id, TIERCTL_REPO_ID, or the git remote origin); \
sync never writes or prunes another repository's workloads.\n\n\
Workloads with a `schedule` get one EventBridge Scheduler schedule per action in the group tierctl \
(created when missing), invoking the runner (--runner-arn) through Scheduler's role \
(--scheduler-role-arn); a spec with a schedule and neither is refused before anything is written. \
A schedule a spec no longer asks for is deleted; --prune also deletes this repository's schedules \
of workloads in no spec. Scheduler is not called when no spec has a schedule and no runner is set.\n\n\
Exit codes: 0 in sync (or applied), 1 error (some workloads not written), 2 drift found (with --check)."
)]
pub struct Args {
    /// Workload files or folders to sync [default: the --specs folder]. With explicit paths,
    /// workloads only in DynamoDB are not reported as orphans.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Show the difference and write nothing; exit 2 when there is drift, 0 when none.
    #[arg(long)]
    check: bool,
    /// Delete workloads that are in DynamoDB but not in the YAML, only items this repository wrote.
    #[arg(long)]
    prune: bool,
    /// Workload transactions in flight at once (1-64).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=64), value_name = "N")]
    concurrency: u64,
    /// Create missing tables with provisioned capacity instead of on-demand.
    #[arg(long)]
    provisioned: bool,
    /// Read capacity units of created tables (with --provisioned).
    #[arg(
        long,
        default_value_t = 1,
        requires = "provisioned",
        value_name = "RCU",
        value_parser = clap::value_parser!(i64).range(1..=40_000)
    )]
    read_capacity: i64,
    /// Write capacity units of created tables (with --provisioned).
    #[arg(
        long,
        default_value_t = 1,
        requires = "provisioned",
        value_name = "WCU",
        value_parser = clap::value_parser!(i64).range(1..=40_000)
    )]
    write_capacity: i64,
    /// ARN of the runner function the schedules invoke (deploy/tierctl-runner.yaml's RunnerArn).
    #[arg(long, env = "TIERCTL_RUNNER_ARN", value_name = "ARN")]
    runner_arn: Option<String>,
    /// ARN of the role EventBridge Scheduler assumes to invoke the runner (SchedulerRoleArn).
    #[arg(long, env = "TIERCTL_SCHEDULER_ROLE_ARN", value_name = "ARN")]
    scheduler_role_arn: Option<String>,
    /// ARN of an SQS queue for scheduled events that could not be delivered.
    #[arg(long, env = "TIERCTL_DEAD_LETTER_ARN", value_name = "ARN")]
    dead_letter_arn: Option<String>,
}

pub(super) fn run(global: &Global, args: Args) -> anyhow::Result<Exit> {
    let format = global.output.unwrap_or(Format::Text);
    if format == Format::Github {
        bail!("sync prints text, json or markdown");
    }
    let complete = args.paths.is_empty();
    let Some(workloads) = super::load_valid(global, &args.paths)? else {
        return Ok(Exit::Error);
    };
    let nonempty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let targets = Targets {
        runner_arn: nonempty(args.runner_arn),
        role_arn: nonempty(args.scheduler_role_arn),
        dead_letter_arn: nonempty(args.dead_letter_arn),
    };
    super::block_on(async {
        let prepared = match pipeline_sync::prepare(
            &global.session,
            &workloads,
            complete,
            args.prune,
            &targets,
        )
        .await
        {
            Ok(p) => p,
            Err(e) => return super::pipeline_error(e),
        };
        let (changes, ctx) = (&prepared.changes, &prepared.ctx);
        let mut stdout = std::io::stdout();
        let documents = &prepared.documents;
        let human = |format: Format, applied: bool| {
            let mut text = match format {
                Format::Markdown => show::markdown(changes, ctx),
                _ => show::text(changes, ctx, global.color),
            };
            if !applied {
                for line in document::describe(documents, false) {
                    text.push_str(&line);
                    text.push('\n');
                }
            }
            if let Some(s) = &prepared.schedules {
                text.push_str(&match format {
                    Format::Markdown => schedules::markdown(&s.plan),
                    _ => schedules::text(&s.plan, global.color),
                });
            }
            text
        };
        let schedules_json = prepared
            .schedules
            .as_ref()
            .map(|s| schedules::json(&s.plan));
        if args.check {
            if format == Format::Json {
                let doc = SyncOutput {
                    diff: prepared.diff_json(),
                    documents: documents.clone(),
                    applied: None,
                    schedules: schedules_json,
                    schedules_applied: None,
                };
                stdout.write_all(pretty(&doc).as_bytes())?;
            } else {
                stdout.write_all(human(format, false).as_bytes())?;
            }
            return Ok(if prepared.drift() {
                Exit::Changes
            } else {
                Exit::Success
            });
        }
        if format != Format::Json {
            stdout.write_all(human(format, true).as_bytes())?;
            stdout.flush()?;
        }
        let billing = sync::billing(
            args.provisioned
                .then_some((args.read_capacity, args.write_capacity)),
        );
        let concurrency = usize::try_from(args.concurrency).unwrap_or(16);
        let progress = WriteProgress::new();
        let report = |done: usize, total: usize| progress.update(done, total);
        let synced =
            match pipeline_sync::apply(&global.session, &prepared, billing, concurrency, &report)
                .await
            {
                Ok(s) => s,
                Err(e) => return super::pipeline_error(e),
            };
        let applied = &synced.applied;
        let schedule_failures: Vec<ScheduleFailure> = synced
            .schedules
            .iter()
            .flat_map(|s| &s.failed)
            .map(|(name, e)| ScheduleFailure {
                schedule: name.clone(),
                error: e.clone(),
            })
            .collect();
        let failures: Vec<SyncFailure> = applied
            .failed
            .iter()
            .map(|(w, e)| SyncFailure {
                workload: w.clone(),
                error: e.to_string(),
            })
            .collect();
        if format == Format::Json {
            let doc = SyncOutput {
                diff: prepared.diff_json(),
                documents: documents.clone(),
                applied: Some(SyncApplied {
                    managed_by: prepared.owner.marker().to_string(),
                    created_tables: synced.created.clone(),
                    applied: applied.workloads.clone(),
                    applied_item_writes: applied.items,
                    failed: failures.first().cloned(),
                    failures: failures.clone(),
                }),
                schedules: schedules_json,
                schedules_applied: synced.schedules.as_ref().map(|s| SchedulesApplied {
                    created_group: s.created_group,
                    written: s.written.clone(),
                    failures: schedule_failures.clone(),
                }),
            };
            stdout.write_all(pretty(&doc).as_bytes())?;
        } else if !changes.has_changes() && synced.created.is_empty() && failures.is_empty() {
            writeln!(stdout, "No changes: DynamoDB matches the YAML.")?;
            for line in document::describe(documents, true) {
                writeln!(stdout, "{line}")?;
            }
            schedule_lines(&mut stdout, &synced)?;
        } else {
            for line in document::describe(documents, true) {
                writeln!(stdout, "{line}")?;
            }
            writeln!(
                stdout,
                "Applied: {} workload{} ({} item write{}){}.",
                applied.workloads.len(),
                plural(applied.workloads.len()),
                applied.items,
                plural(applied.items),
                if synced.created.is_empty() {
                    String::new()
                } else {
                    format!("; created {}", synced.created.join(", "))
                }
            )?;
            schedule_lines(&mut stdout, &synced)?;
        }
        for f in &schedule_failures {
            eprintln!("error: schedule not written: {}: {}", f.schedule, f.error);
        }
        if failures.is_empty() {
            return Ok(if schedule_failures.is_empty() {
                Exit::Success
            } else {
                Exit::Error
            });
        }
        for f in &failures {
            eprintln!("error: not written: {}: {}", f.workload, f.error);
        }
        eprintln!(
            "error: {} workload{} not written (each wrote nothing); the others were applied",
            failures.len(),
            plural(failures.len())
        );
        Ok(Exit::Error)
    })
}

/// The schedules' outcome, one line (nothing when schedules are not managed).
fn schedule_lines(out: &mut impl Write, synced: &pipeline_sync::Synced) -> std::io::Result<()> {
    let Some(s) = &synced.schedules else {
        return Ok(());
    };
    if s.written.is_empty() && s.failed.is_empty() && !s.created_group {
        return writeln!(
            out,
            "No schedule changes: EventBridge Scheduler matches the YAML."
        );
    }
    writeln!(
        out,
        "Schedules: {} written{}{}.",
        s.written.len(),
        if s.created_group {
            format!("; created schedule group {}", schedules::GROUP)
        } else {
            String::new()
        },
        if s.failed.is_empty() {
            String::new()
        } else {
            format!("; {} not written", s.failed.len())
        }
    )
}

/// Progress of the writes on stderr: a bar on a terminal, otherwise a line
/// at most every 2 s and at the end (a slow, provisioned table is visibly
/// slow, not stuck).
struct WriteProgress {
    bar: Option<indicatif::ProgressBar>,
    last: std::sync::Mutex<Option<std::time::Instant>>,
}

impl WriteProgress {
    fn new() -> Self {
        use std::io::IsTerminal;
        WriteProgress {
            bar: std::io::stderr().is_terminal().then(|| {
                indicatif::ProgressBar::new(0).with_style(
                    indicatif::ProgressStyle::with_template(
                        "writing {pos}/{len} workloads [{elapsed}] {wide_bar}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                )
            }),
            last: std::sync::Mutex::new(None),
        }
    }

    fn update(&self, done: usize, total: usize) {
        if let Some(bar) = &self.bar {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            if done == total {
                bar.finish_and_clear();
            }
            return;
        }
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let due = last.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(2));
        if due || done == total {
            *last = Some(std::time::Instant::now());
            eprintln!("sync: {done}/{total} workloads written");
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn pretty<T: serde::Serialize>(v: &T) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("serialisable");
    s.push('\n');
    s
}
