//! `tierctl import (--workload NAME... | --all) [--out DIR]`

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::exit::Exit;
use crate::output::Format;
use crate::store::StoreError;
use crate::store::sync;

use super::Global;

/// Arguments of `import`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Reads the original tool's tables and writes one spec per workload, `<OUT>/<name>.yaml`. \
Attributes tierctl does not know are reported, never dropped silently. Importing then syncing writes nothing.\n\n\
Exit codes: 0 imported, 1 error (a workload that could not be read or an existing file in the way)."
)]
pub struct Args {
    /// Workload (SpecName) to import; repeatable.
    #[arg(
        long = "workload",
        short = 'w',
        value_name = "NAME",
        required_unless_present = "all"
    )]
    workloads: Vec<String>,
    /// Import every workload in the table.
    #[arg(long, short = 'a', conflicts_with = "workloads")]
    all: bool,
    /// Folder to write to [default: the --specs folder].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Overwrite existing files that differ.
    #[arg(long)]
    force: bool,
}

pub(super) fn run(global: &Global, args: Args) -> anyhow::Result<Exit> {
    let format = global.output.unwrap_or(Format::Text);
    if !matches!(format, Format::Text | Format::Json) {
        bail!("import prints text or json");
    }
    let out_dir = args.out.clone().unwrap_or_else(|| global.specs.clone());
    super::block_on(async {
        let (db, ctx) = super::config_tables(global).await?;
        let state = sync::inspect(&db, &ctx.names).await?;
        if let Some(t) = state.missing.first() {
            return Err(StoreError::Missing {
                table: t.clone(),
                region: ctx.region.clone(),
            }
            .into());
        }
        let current = sync::read_current(&db, &ctx.names, &state).await?;
        let names: Vec<String> = if args.all {
            current.workloads.keys().cloned().collect()
        } else {
            args.workloads.clone()
        };
        std::fs::create_dir_all(&out_dir)
            .with_context(|| format!("creating {}", out_dir.display()))?;
        let mut failed = false;
        let mut report = Vec::new();
        for name in &names {
            let entry = import_one(&current, &ctx.names, name, &out_dir, args.force);
            failed |= entry.get("error").is_some();
            report.push(entry);
        }
        let mut stdout = std::io::stdout();
        if format == Format::Json {
            let doc =
                serde_json::json!({"version": crate::output::JSON_VERSION, "workloads": report});
            writeln!(stdout, "{}", serde_json::to_string_pretty(&doc)?)?;
        } else {
            for e in &report {
                let name = e["name"].as_str().unwrap_or_default();
                match (e.get("error"), e["file"].as_str()) {
                    (Some(err), _) => {
                        writeln!(stdout, "! {name}: {}", err.as_str().unwrap_or_default())?
                    }
                    (None, Some(file)) => writeln!(
                        stdout,
                        "{} {name} -> {file}",
                        if e["written"] == true { "+" } else { "=" }
                    )?,
                    _ => {}
                }
                for w in e["warnings"].as_array().into_iter().flatten() {
                    writeln!(stdout, "    warning: {}", w.as_str().unwrap_or_default())?;
                }
            }
            if names.is_empty() {
                writeln!(stdout, "No workloads in {}.", ctx.names.workload)?;
            }
        }
        Ok(if failed { Exit::Error } else { Exit::Success })
    })
}

fn import_one(
    current: &crate::store::diff::Current,
    names: &crate::store::diff::TableNames,
    name: &str,
    out_dir: &std::path::Path,
    force: bool,
) -> serde_json::Value {
    let fail = |msg: String| serde_json::json!({"name": name, "error": msg});
    if !current.workloads.contains_key(name) {
        return fail(format!(
            "no item with SpecName `{}` in {}",
            crate::text::plain(name),
            names.workload
        ));
    }
    if !crate::store::config::is_safe_file_name(name) {
        return fail(format!(
            "{} item SpecName `{}`: not written: a SpecName must be a plain file name (letters, digits, `_`, `-`, `.`; no `..`, separators or control characters) to be imported",
            names.workload,
            crate::text::plain(name)
        ));
    }
    // The same checks as `validate` and `run --from dynamodb`: a workload
    // they refuse is reported, never written.
    let (workload, item_warnings) = match crate::store::config::read_one(current, names, name) {
        Ok(ok) => ok,
        Err(refusals) => {
            let why: Vec<String> = refusals.iter().map(|r| r.to_string()).collect();
            return fail(format!("not imported: {}", why.join("; ")));
        }
    };
    // Only the unknown attributes: the checks' warnings come again from `validate` below.
    let mut warnings: Vec<String> = item_warnings
        .iter()
        .filter(|w| w.contains(": unknown attribute `"))
        .map(|w| {
            format!(
                "{} is not part of the format; not imported",
                crate::text::plain(w).replace(": unknown attribute `", ": attribute `")
            )
        })
        .collect();
    let text = crate::render::workload_yaml(&workload);
    let file = out_dir.join(format!("{name}.yaml"));
    // Check the result exactly as `validate` will read it.
    let checked = match crate::load::parse_yaml(&text) {
        Ok(doc) => crate::validate::check_files(&[crate::load::SpecFile {
            path: file.clone(),
            doc,
        }]),
        Err((pos, msg)) => {
            return fail(format!(
                "not imported: the rendered YAML does not parse at {pos}: {msg}"
            ));
        }
    };
    if checked.errors() > 0 {
        let why: Vec<String> = checked
            .diagnostics
            .iter()
            .filter(|d| d.severity == crate::validate::Severity::Error)
            .map(|d| format!("{}: {}", d.path, d.message))
            .collect();
        return fail(format!(
            "not imported: `validate` would reject it: {}",
            why.join("; ")
        ));
    }
    warnings.extend(
        checked
            .diagnostics
            .iter()
            .map(|d| format!("{}: {}: {}", d.line, d.path, d.message)),
    );
    let existing = crate::load::read_generated(&file).ok().flatten();
    let written = match existing {
        Some(old) if old == text => false,
        Some(_) if !force => {
            return serde_json::json!({"name": name, "file": file.display().to_string(),
                "error": format!("{} exists and differs; use --force to overwrite", file.display()), "warnings": warnings});
        }
        _ => {
            if let Err(e) = std::fs::write(&file, &text) {
                return fail(format!("writing {}: {e}", file.display()));
            }
            true
        }
    };
    serde_json::json!({"name": name, "file": file.display().to_string(), "written": written, "warnings": warnings})
}
