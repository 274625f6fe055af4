//! `tierctl run stop|start|cycle (WORKLOAD... | --all)` and `tierctl run --plan FILE`

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;

use crate::execute::{Options, Outcome, Progress};
use crate::exit::Exit;
use crate::output::Format;
use crate::pipeline::run::{RunHooks, RunRequest, Target};
use crate::pipeline::saved::SavedPlan;
use crate::plan::{Action, Plan};
use crate::report::TierProgress;
use crate::spec::Workload;

use super::Global;
use super::plan::{Selection, step_summary};

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Observes, plans (the plan `tierctl plan` prints) and executes it: waves in order, the tiers \
of a wave together, batched and paced calls, synchronous tiers waited for, an override check before stopping tiers \
that have one. One run at a time per workload (a lease in DynamoDB). Ctrl-C: no new steps, calls in flight finish, \
locks are released, the report is printed.\n\n\
`--plan FILE` executes a plan saved by `tierctl plan ... --out FILE` exactly, step by step and batch by batch, \
after reading the specs and the fleet again: when either changed since the plan was made, nothing is done \
(\"stale plan\", exit code 4, with what changed).\n\n\
Workloads with `notify.snsTopic` get one SNS message per run listing what needs a human (bypassed, held back, \
failed, not attempted, kill switch, lock held, SSM output bucket in another region); a failed publish is a \
warning and does not change the exit code. A dry run publishes nothing and prints the subjects instead.\n\n\
Exit codes: 0 done, 1 error (a failed instance, a halted wave, a workload locked by another run), \
3 done but instances were deliberately bypassed or held back, 4 stale saved plan, 130 interrupted (SIGINT), 143 terminated (SIGTERM).\n\n\
`run cycle` is the original's test mode (`Orchestrator.py -t`): start in start order (with --profile, health \
gates where the spec has them), wait --pause, stop in stop order; one report and one exit code (the worse of the \
two phases). The stop runs whatever the start's outcome; a signal ends the cycle without stopping. --dry-run \
does not pause."
)]
pub struct Args {
    /// stop, start, or cycle (start, pause, stop); not with --plan: the plan says.
    #[arg(value_enum, required_unless_present = "plan")]
    action: Option<Verb>,
    /// With `cycle`: how long the workload stays up, e.g. 90, 90s, 5m, 1h (0 s to 24 h).
    #[arg(long, value_parser = parse_pause, value_name = "DURATION")]
    pause: Option<Duration>,
    #[command(flatten)]
    selection: Selection,
    /// Execute this saved plan (`tierctl plan ... --out FILE`) exactly; refused when stale.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["action", "pause", "workloads", "all", "profile", "tiers", "from", "batch_size", "wait_timeout"])]
    plan: Option<PathBuf>,
    /// Make no state-changing call: check permissions with EC2 DryRun, make the override checks, report what would happen. The original's `-d`.
    #[arg(long, short = 'd')]
    dry_run: bool,
    /// Go on with later waves after a tier did not fully reach its state.
    #[arg(long)]
    continue_on_error: bool,
    /// Seconds the override check may take before unanswered instances are held back (1-3600).
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=3600), value_name = "SECONDS")]
    check_timeout: u64,
    /// Stop/Start calls in flight per tier.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=32), value_name = "N")]
    concurrency: u64,
    /// DynamoDB table holding the run leases (created when missing).
    #[arg(
        long,
        env = "TIERCTL_LOCK_TABLE",
        default_value = "TierctlLocks",
        value_name = "TABLE"
    )]
    lock_table: String,
    /// Create missing SNS topics (`notify.snsTopic`) instead of warning, as the original did.
    #[arg(long)]
    create_topic: bool,
}

/// What `run` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Verb {
    /// Stop in stop order.
    Stop,
    /// Start in start order.
    Start,
    /// Start, pause, stop (the original's `-t`).
    Cycle,
}

/// `90`, `90s`, `5m`, `1h`: at most 24 h.
fn parse_pause(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (90, 90s, 5m, 1h)"))?;
    let secs = match unit {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        _ => None,
    }
    .ok_or_else(|| format!("`{text}` is not a duration (90, 90s, 5m, 1h)"))?;
    if secs > 86_400 {
        return Err(format!("`{text}`: at most 24 h"));
    }
    Ok(Duration::from_secs(secs))
}

/// What a person sees while a run goes on: progress on stderr, the plan on
/// stdout (text output) before anything is done.
struct Hooks {
    progress: TierProgress,
    print_plan: bool,
    color: bool,
}

impl Progress for Hooks {
    fn tier_started(&self, workload: &str, tier: &str, instances: usize) {
        self.progress.tier_started(workload, tier, instances);
    }

    fn tier_finished(&self, workload: &str, tier: &str, outcomes: &[Outcome]) {
        self.progress.tier_finished(workload, tier, outcomes);
    }
}

impl RunHooks for Hooks {
    fn refused(&self, workload: &str, why: &str) {
        eprintln!(
            "error: workload {}: {}",
            crate::text::plain(workload),
            crate::text::plain(why)
        );
    }

    fn planned(&self, plan: &Plan, specs: &[&Workload]) {
        if self.print_plan {
            let mut out = std::io::stdout();
            let _ = out.write_all(crate::report::plan_text(plan, specs, self.color).as_bytes());
            let _ = out.flush();
        }
    }

    fn would_publish(&self, topic: &str, region: &str, subject: &str) {
        eprintln!("dry run: would publish to SNS topic {topic} ({region}): {subject}");
    }

    fn warning(&self, message: &str) {
        eprintln!("warning: {message}");
    }
}

pub(super) fn run(global: &Global, args: Args) -> anyhow::Result<Exit> {
    let format = global.output.unwrap_or(Format::Text);
    if matches!(format, Format::Github | Format::Markdown) {
        bail!("run prints text or json (the markdown summary goes to GITHUB_STEP_SUMMARY)");
    }
    let sel = &args.selection;
    if args.pause.is_some() && args.action != Some(Verb::Cycle) {
        bail!("--pause goes with `run cycle`");
    }
    if args.action == Some(Verb::Cycle) {
        return cycle(global, &args, format);
    }
    let action = args.action.map(|v| match v {
        Verb::Stop => Action::Stop,
        _ => Action::Start,
    });
    let target = match (&args.plan, action) {
        (Some(path), _) => Target::Saved(Box::new(SavedPlan::read(path)?)),
        (None, Some(action)) => Target::Fresh {
            source: sel.from,
            selection: sel.workloads(),
            intent: sel.intent(action),
        },
        (None, None) => bail!("name the action (stop or start) or pass --plan FILE"),
    };
    let action = match &target {
        Target::Saved(s) => s.intent.action,
        Target::Fresh { intent, .. } => intent.action,
    };
    let request = RunRequest {
        target,
        options: options(&args),
        lock_table: args.lock_table.clone(),
        create_topic: args.create_topic,
    };
    let hooks = Arc::new(Hooks {
        progress: TierProgress::new(action, args.dry_run),
        print_plan: format == Format::Text,
        color: global.color,
    });
    super::block_on(async {
        let signals = crate::pipeline::run::Interrupts::listen();
        let done =
            crate::pipeline::run::run(&global.session, request, hooks, signals.cancel.clone())
                .await;
        let mut outcome = match done {
            Ok(o) => o,
            Err(e) => return super::pipeline_error(e),
        };
        if let Some(exit) = signals.exit().filter(|_| outcome.report.interrupted) {
            outcome.exit = exit;
        }
        let mut out = std::io::stdout();
        if format == Format::Json {
            let doc = crate::json::RunOutput {
                version: crate::json::VERSION,
                plan: &outcome.plan,
                report: &outcome.report,
                exit_code: outcome.exit.code(),
            };
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        } else {
            writeln!(out)?;
            out.write_all(crate::report::run_text(&outcome.report, global.color).as_bytes())?;
        }
        step_summary(&crate::report::run_markdown(&outcome.report))?;
        Ok(outcome.exit)
    })
}

fn options(args: &Args) -> Options {
    Options {
        dry_run: args.dry_run,
        continue_on_error: args.continue_on_error,
        concurrency: usize::try_from(args.concurrency).unwrap_or(4),
        check_timeout: Duration::from_secs(args.check_timeout),
        ..Options::default()
    }
}

/// `run cycle`: start, pause, stop, one report.
fn cycle(global: &Global, args: &Args, format: Format) -> anyhow::Result<Exit> {
    let sel = &args.selection;
    let request = crate::pipeline::run::CycleRequest {
        source: sel.from,
        selection: sel.workloads(),
        start: sel.intent(Action::Start),
        pause: args.pause.unwrap_or(Duration::from_secs(90)),
        options: options(args),
        lock_table: args.lock_table.clone(),
        create_topic: args.create_topic,
    };
    let hooks = Arc::new(Hooks {
        progress: TierProgress::new(Action::Start, args.dry_run),
        print_plan: format == Format::Text,
        color: global.color,
    });
    super::block_on(async {
        let signals = crate::pipeline::run::Interrupts::listen();
        let done =
            crate::pipeline::run::cycle(&global.session, request, hooks, signals.cancel.clone())
                .await;
        let mut outcome = match done {
            Ok(o) => o,
            Err(e) => return super::pipeline_error(e),
        };
        if let Some(exit) = signals.exit().filter(|_| outcome.exit == Exit::Interrupted) {
            outcome.exit = exit;
        }
        let phases: Vec<&crate::pipeline::run::RunOutcome> = std::iter::once(&outcome.start)
            .chain(&outcome.stop)
            .collect();
        let mut out = std::io::stdout();
        if format == Format::Json {
            let doc = crate::json::CycleOutput {
                version: crate::json::VERSION,
                phases: phases
                    .iter()
                    .map(|p| crate::json::RunOutput {
                        version: crate::json::VERSION,
                        plan: &p.plan,
                        report: &p.report,
                        exit_code: p.exit.code(),
                    })
                    .collect(),
                paused_ms: u64::try_from(outcome.paused.as_millis()).unwrap_or(u64::MAX),
                exit_code: outcome.exit.code(),
            };
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        } else {
            for p in &phases {
                writeln!(out)?;
                out.write_all(crate::report::run_text(&p.report, global.color).as_bytes())?;
            }
            if outcome.stop.is_none() {
                writeln!(
                    out,
                    "\ncycle interrupted after the start: the workload was not stopped again"
                )?;
            }
            writeln!(
                out,
                "\ncycle: start exit {}, paused {} s, stop exit {}; exit {}",
                outcome.start.exit.code(),
                outcome.paused.as_secs(),
                outcome
                    .stop
                    .as_ref()
                    .map_or_else(|| "-".to_string(), |s| s.exit.code().to_string()),
                outcome.exit.code()
            )?;
        }
        let markdown: String = phases
            .iter()
            .map(|p| crate::report::run_markdown(&p.report))
            .collect::<Vec<_>>()
            .join("\n");
        step_summary(&markdown)?;
        Ok(outcome.exit)
    })
}
