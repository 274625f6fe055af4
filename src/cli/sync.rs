//! `tierctl sync [PATH...] [--check] [--prune]`

use std::io::Write;
use std::path::PathBuf;

use anyhow::bail;

use crate::exit::Exit;
use crate::output::Format;
use crate::store::diff::{self, Desired, Scope};
use crate::store::{show, sync};

use super::Global;

/// Arguments of `sync`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Validates every file first (nothing is written when one is invalid), creates missing tables, \
prints the difference as a unified diff of the items, then writes each changed workload in one transaction, \
conditional on its items being unchanged since they were read.\n\n\
Exit codes: 0 in sync (or applied), 1 error, 2 drift found (with --check)."
)]
pub struct Args {
    /// Workload files or folders to sync [default: the --specs folder]. With explicit paths,
    /// workloads only in DynamoDB are not reported as orphans.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Show the difference and write nothing; exit 2 when there is drift, 0 when none.
    #[arg(long)]
    check: bool,
    /// Delete workloads that are in DynamoDB but not in the YAML, only items tierctl wrote.
    #[arg(long)]
    prune: bool,
    /// Create missing tables with provisioned capacity instead of on-demand.
    #[arg(long)]
    provisioned: bool,
    /// Read capacity units of created tables (with --provisioned).
    #[arg(
        long,
        default_value_t = 1,
        requires = "provisioned",
        value_name = "RCU"
    )]
    read_capacity: i64,
    /// Write capacity units of created tables (with --provisioned).
    #[arg(
        long,
        default_value_t = 1,
        requires = "provisioned",
        value_name = "WCU"
    )]
    write_capacity: i64,
}

pub(super) fn run(global: &Global, args: Args) -> anyhow::Result<Exit> {
    let format = global.output.unwrap_or(Format::Text);
    if format == Format::Github {
        bail!("sync prints text, json or markdown");
    }
    let complete = args.paths.is_empty();
    if args.prune && !complete {
        bail!("--prune needs the whole specs folder: run `tierctl sync --prune` without paths");
    }
    let Some(workloads) = super::load_valid(global, &args.paths)? else {
        return Ok(Exit::Error);
    };
    super::block_on(async {
        let (db, ctx) = super::config_tables(global).await?;
        let state = sync::inspect(&db, &ctx.names).await?;
        let current = sync::read_current(&db, &ctx.names, &state).await?;
        let desired: Vec<Desired<'_>> = workloads
            .iter()
            .map(|(file, w)| Desired {
                workload: w,
                file: Some(file.clone()),
            })
            .collect();
        let changes = diff::diff(
            &desired,
            &current,
            Scope {
                complete,
                prune: args.prune,
            },
        );
        let ctx = show::Context {
            missing_tables: state.missing.clone(),
            ..ctx
        };
        let documents =
            crate::pipeline::document::inspect(&global.session, workloads.iter().map(|(_, w)| w))
                .await?;
        let document_drift = documents.iter().any(|d| d.action.writes());
        let drift = changes.has_changes() || !state.missing.is_empty() || document_drift;
        let mut stdout = std::io::stdout();
        if args.check {
            let mut text = match format {
                Format::Json => {
                    let mut doc = show::json(&changes, &ctx);
                    doc["documents"] = serde_json::json!(documents);
                    pretty(&doc)
                }
                Format::Markdown => show::markdown(&changes, &ctx),
                _ => show::text(&changes, &ctx, global.color),
            };
            if format != Format::Json {
                for line in crate::pipeline::document::describe(&documents, false) {
                    text.push_str(&line);
                    text.push('\n');
                }
            }
            stdout.write_all(text.as_bytes())?;
            return Ok(if drift { Exit::Changes } else { Exit::Success });
        }
        if format != Format::Json {
            let text = if format == Format::Markdown {
                show::markdown(&changes, &ctx)
            } else {
                show::text(&changes, &ctx, global.color)
            };
            stdout.write_all(text.as_bytes())?;
            stdout.flush()?;
        }
        let billing = sync::billing(
            args.provisioned
                .then_some((args.read_capacity, args.write_capacity)),
        );
        let created = sync::create_missing(&db, &ctx.names, &state, billing).await?;
        for t in &created {
            tracing::info!(table = %t, "created table");
        }
        let applied = sync::apply(&db, &ctx.names, &changes).await;
        if applied.failed.is_none() {
            crate::pipeline::document::apply(&global.session, &documents).await?;
        }
        if format == Format::Json {
            let mut doc = show::json(&changes, &ctx);
            doc["createdTables"] = serde_json::json!(created);
            doc["applied"] = serde_json::json!(applied.workloads);
            doc["appliedItemWrites"] = serde_json::json!(applied.items);
            doc["documents"] = serde_json::json!(documents);
            doc["failed"] = serde_json::json!(
                applied
                    .failed
                    .as_ref()
                    .map(|(w, e)| { serde_json::json!({"workload": w, "error": e.to_string()}) })
            );
            stdout.write_all(pretty(&doc).as_bytes())?;
        } else if !changes.has_changes() && created.is_empty() {
            writeln!(stdout, "No changes: DynamoDB matches the YAML.")?;
            for line in crate::pipeline::document::describe(&documents, true) {
                writeln!(stdout, "{line}")?;
            }
        } else {
            if applied.failed.is_none() {
                for line in crate::pipeline::document::describe(&documents, true) {
                    writeln!(stdout, "{line}")?;
                }
            }
            writeln!(
                stdout,
                "Applied: {} workload{} ({} item write{}){}.",
                applied.workloads.len(),
                if applied.workloads.len() == 1 {
                    ""
                } else {
                    "s"
                },
                applied.items,
                if applied.items == 1 { "" } else { "s" },
                if created.is_empty() {
                    String::new()
                } else {
                    format!("; created {}", created.join(", "))
                }
            )?;
        }
        if let Some((workload, e)) = applied.failed {
            let not_tried: Vec<&str> = changes
                .workloads
                .iter()
                .filter(|w| w.writes().next().is_some())
                .map(|w| w.name.as_str())
                .filter(|n| *n != workload && !applied.workloads.iter().any(|a| a == n))
                .collect();
            if !not_tried.is_empty() {
                eprintln!("not applied (sync stopped): {}", not_tried.join(", "));
            }
            return Err(anyhow::Error::new(e).context(format!("syncing workload {workload}")));
        }
        Ok(Exit::Success)
    })
}

fn pretty(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("serialisable");
    s.push('\n');
    s
}
