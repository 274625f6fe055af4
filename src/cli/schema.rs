//! `tierctl schema [--check] [--dir DIR] [--stdout [NAME]]`

use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::exit::Exit;

use super::Global;

/// Arguments of `schema`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Writes the JSON Schemas generated from tierctl's types: workload.schema.json (spec files), \
plan.schema.json (saved plans), and one per command's `-o json` document (plan-output, run-output).\n\n\
Exit codes: 0 written or up to date, 1 out of date (with --check) or error."
)]
pub struct Args {
    /// Folder of the schemas.
    #[arg(long, default_value = "schema", value_name = "DIR")]
    dir: PathBuf,
    /// Do not write; fail when a file differs from the types (drift check for CI).
    #[arg(long, conflicts_with = "stdout")]
    check: bool,
    /// Print one schema instead of writing them (workload, plan, plan-output, run-output).
    #[arg(long, value_name = "NAME", num_args = 0..=1, default_missing_value = "workload")]
    stdout: Option<String>,
}

pub(super) fn run(_global: &Global, args: Args) -> anyhow::Result<Exit> {
    let schemas = crate::json::schemas();
    if let Some(name) = &args.stdout {
        let file = format!("{name}.schema.json");
        let Some(s) = schemas.iter().find(|s| s.name == file) else {
            let known: Vec<&str> = schemas
                .iter()
                .map(|s| s.name.trim_end_matches(".schema.json"))
                .collect();
            bail!("no schema named `{name}` (known: {})", known.join(", "));
        };
        print!("{}", s.text);
        return Ok(Exit::Success);
    }
    let mut stale = 0;
    for s in &schemas {
        let path = args.dir.join(s.name);
        let current = crate::load::read_generated(&path)?;
        if current.as_deref() == Some(s.text.as_str()) {
            println!("{} is up to date", path.display());
            continue;
        }
        if args.check {
            eprintln!(
                "error: {} ({}) is {} the types; run `tierctl schema` and commit the result",
                path.display(),
                s.about,
                if current.is_some() {
                    "out of date with"
                } else {
                    "missing, generated from"
                }
            );
            stale += 1;
            continue;
        }
        std::fs::create_dir_all(&args.dir)
            .with_context(|| format!("creating {}", args.dir.display()))?;
        std::fs::write(&path, &s.text).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(if stale > 0 {
        Exit::Error
    } else {
        Exit::Success
    })
}
