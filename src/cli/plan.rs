//! `tierctl plan stop|start (WORKLOAD... | --all) [--out FILE]`

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::exit::Exit;
use crate::output::Format;
use crate::pipeline::config::{self, Source};
use crate::pipeline::plan::{PlanRequest, Planned};
use crate::pipeline::saved::{self, SavedPlan};
use crate::plan::{self, Action, Intent};
use crate::store::show;

use super::Global;

/// Which workloads, and how: shared by `plan` and `run`.
#[derive(Debug, clap::Args)]
pub struct Selection {
    /// Workloads (SpecName) to act on; the original's `-w`. A name given twice counts once.
    #[arg(value_name = "WORKLOAD")]
    pub workloads: Vec<String>,
    /// Every workload; the original's `-a`.
    #[arg(long, short = 'a', conflicts_with = "workloads")]
    pub all: bool,
    /// Scaling profile applied at start (`tiers[].scaling`); the original's `-p`.
    #[arg(long, short = 'p', value_name = "NAME")]
    pub profile: Option<String>,
    /// Only these tiers (repeatable).
    #[arg(long = "tier", value_name = "TIER")]
    pub tiers: Vec<String>,
    /// Read the configuration from the YAML files or the synced DynamoDB tables.
    #[arg(long, value_enum, default_value = "yaml")]
    pub from: Source,
    /// Instance ids per Stop/StartInstances call.
    #[arg(long, default_value_t = plan::DEFAULT_BATCH_SIZE as u64, value_parser = clap::value_parser!(u64).range(1..=1000), value_name = "N")]
    pub batch_size: u64,
    /// Seconds a synchronous tier waits for its instances before failing (1-86400).
    #[arg(long, default_value_t = plan::DEFAULT_WAIT_TIMEOUT_SECONDS, value_parser = clap::value_parser!(u32).range(1..=86_400), value_name = "SECONDS")]
    pub wait_timeout: u32,
}

impl Selection {
    /// The workloads asked for.
    pub fn workloads(&self) -> config::Selection {
        config::Selection {
            workloads: self.workloads.clone(),
            all: self.all,
        }
    }

    /// The intent this selection asks for.
    pub fn intent(&self, action: Action) -> Intent {
        Intent {
            action,
            profile: self.profile.clone(),
            tiers: self.tiers.clone(),
            batch_size: usize::try_from(self.batch_size).unwrap_or(plan::DEFAULT_BATCH_SIZE),
            wait_timeout_seconds: self.wait_timeout,
        }
    }
}

/// Arguments of `plan`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Observes the instances (one paginated DescribeInstances per workload), shows the config diff \
that `sync --check` would show, then the ordered waves, tiers and steps of the run. Changes nothing.\n\n\
`--out FILE` saves the plan with what it was made from (spec digests, the observed state); \
`tierctl run --plan FILE` executes exactly those steps, and refuses when the specs or the fleet changed since.\n\n\
Workloads with a `schedule` also get their next scheduled stop and start, in the workload's time zone \
and in UTC, and the first runs after the zone's next daylight saving time change.\n\n\
Exit codes: 0 ok (with --detailed-exitcode: nothing to do), 1 error, 2 actions or config changes (with --detailed-exitcode)."
)]
pub struct Args {
    /// stop or start.
    #[arg(value_enum)]
    action: Action,
    #[command(flatten)]
    selection: Selection,
    /// No AWS calls at all: configuration from the YAML, instances from --observed or none.
    #[arg(long)]
    offline: bool,
    /// Use this saved observed state instead of asking EC2.
    #[arg(long, value_name = "FILE")]
    observed: Option<PathBuf>,
    /// Save the observed state to this file (JSON), to reproduce the plan offline.
    #[arg(long, value_name = "FILE", conflicts_with = "observed")]
    save_observed: Option<PathBuf>,
    /// Save the plan to this file for `tierctl run --plan FILE` (schema/plan.schema.json).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Exit 2 when the run would change anything or the config drifted, 0 when not.
    #[arg(long)]
    detailed_exitcode: bool,
}

/// Appends markdown to the GitHub step summary when there is one.
pub fn step_summary(markdown: &str) -> anyhow::Result<()> {
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| {
                format!(
                    "opening GITHUB_STEP_SUMMARY {}",
                    PathBuf::from(&path).display()
                )
            })?;
        f.write_all(markdown.as_bytes())?;
    }
    Ok(())
}

fn markdown(
    p: &Planned,
    offline: bool,
    schedules: Option<&crate::schedule::ScheduleRuns>,
) -> String {
    let mut md = String::new();
    if let Some((c, ctx)) = &p.config_diff {
        md.push_str(&show::markdown(c, ctx));
    } else if offline {
        md.push_str(if p.observed.is_some() {
            "_Offline plan: no AWS calls were made; instances from a saved observed state; the config diff is not shown._\n\n"
        } else {
            "_Offline plan: no AWS calls were made (no credentials); the config diff and the instances are not shown._\n\n"
        });
    }
    if !p.config.refused.is_empty() {
        md.push_str("**Refused workloads** (invalid items in DynamoDB; not planned, exit 1):\n\n");
        for r in &p.config.refused {
            md.push_str(&format!(
                "- {}: {}\n",
                crate::text::code(&r.spec_name),
                crate::text::cell(&r.to_string())
            ));
        }
        md.push('\n');
    }
    md.push_str(&crate::report::plan_markdown(&p.plan, &p.specs()));
    md.push_str(&crate::report::schedules_markdown(schedules));
    md
}

pub(super) fn run(global: &Global, args: Args) -> anyhow::Result<Exit> {
    let format = global.output.unwrap_or(Format::Text);
    if format == Format::Github {
        bail!("plan prints text, json or markdown");
    }
    if args.out.is_some() && args.offline && args.observed.is_none() {
        bail!(
            "--out needs instances: a plan made --offline without --observed names none, so it cannot be executed"
        );
    }
    let sel = &args.selection;
    let observed = match &args.observed {
        Some(path) => Some(crate::load::read_observed(path)?),
        None => None,
    };
    let request = PlanRequest {
        source: sel.from,
        selection: sel.workloads(),
        intent: sel.intent(args.action),
        offline: args.offline,
        observed,
    };
    super::block_on(async {
        let planned = match crate::pipeline::plan::plan(&global.session, request).await {
            Ok(p) => p,
            Err(e) => return super::pipeline_error(e),
        };
        if let (Some(path), Some(o)) = (&args.save_observed, &planned.observed) {
            std::fs::write(path, o.to_json())
                .with_context(|| format!("writing {}", path.display()))?;
        }
        if let Some(path) = &args.out {
            let tables = crate::pipeline::run::saved_tables(&global.session, sel.from).await?;
            let saved = SavedPlan::new(&planned, tables)?;
            saved::write(path, &saved)?;
            eprintln!(
                "Saved the plan to {}; `tierctl run --plan {}` executes exactly it.",
                path.display(),
                path.display()
            );
        }
        let specs = planned.specs();
        let schedules = if specs.iter().any(|w| w.schedule.is_some()) {
            crate::schedule::schedule_runs(&specs, crate::schedule::now()?)
        } else {
            None
        };
        let refused = planned.config.refused_in(&sel.workloads());
        for r in &refused {
            eprintln!(
                "error: workload {} refused: {r}",
                crate::text::plain(&r.spec_name)
            );
        }
        let text = match format {
            Format::Json => {
                let doc = crate::json::PlanOutput {
                    version: crate::json::VERSION,
                    config: planned
                        .config_diff
                        .as_ref()
                        .map(|(c, ctx)| show::json(c, ctx)),
                    plan: &planned.plan,
                    summary: planned.plan.summary(),
                    refused: refused.clone(),
                    schedules: schedules.clone(),
                };
                let mut s = serde_json::to_string_pretty(&doc)?;
                s.push('\n');
                s
            }
            Format::Markdown => markdown(&planned, args.offline, schedules.as_ref()),
            _ => {
                let mut s = String::new();
                if let Some((c, ctx)) = &planned.config_diff {
                    s.push_str(&show::text(c, ctx, global.color));
                    s.push('\n');
                }
                s.push_str(&crate::report::plan_text(
                    &planned.plan,
                    &specs,
                    global.color,
                ));
                s.push_str(&crate::report::schedules_text(
                    schedules.as_ref(),
                    global.color,
                ));
                s
            }
        };
        std::io::stdout().write_all(text.as_bytes())?;
        step_summary(&markdown(&planned, args.offline, schedules.as_ref()))?;
        Ok(if !refused.is_empty() {
            Exit::Error
        } else if args.detailed_exitcode && (planned.plan.has_actions() || planned.drift()) {
            Exit::Changes
        } else {
            Exit::Success
        })
    })
}
