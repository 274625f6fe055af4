//! `tierctl import (--workload NAME... | --all) [--out DIR]`

use std::io::Write;
use std::path::PathBuf;

use anyhow::bail;

use crate::exit::Exit;
use crate::json::ImportOutput;
use crate::output::Format;
use crate::pipeline::import::{self as pipeline_import, ImportRequest};

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
    let request = ImportRequest {
        workloads: (!args.all).then(|| args.workloads.clone()),
        out_dir: args.out.clone().unwrap_or_else(|| global.specs.clone()),
        force: args.force,
    };
    super::block_on(async {
        let imported = match pipeline_import::import(&global.session, &request).await {
            Ok(i) => i,
            Err(e) => return super::pipeline_error(e),
        };
        let mut stdout = std::io::stdout();
        if format == Format::Json {
            let doc = ImportOutput {
                version: crate::json::VERSION,
                workloads: &imported.entries,
            };
            writeln!(stdout, "{}", serde_json::to_string_pretty(&doc)?)?;
        } else {
            for e in &imported.entries {
                let name = &e.name;
                match (&e.error, &e.file) {
                    (Some(err), _) => writeln!(stdout, "! {name}: {err}")?,
                    (None, Some(file)) => writeln!(
                        stdout,
                        "{} {name} -> {file}",
                        if e.written == Some(true) { "+" } else { "=" }
                    )?,
                    _ => {}
                }
                for w in e.warnings.iter().flatten() {
                    writeln!(stdout, "    warning: {w}")?;
                }
            }
            if imported.entries.is_empty() {
                writeln!(stdout, "No workloads in {}.", imported.table)?;
            }
        }
        Ok(if imported.failed() {
            Exit::Error
        } else {
            Exit::Success
        })
    })
}
