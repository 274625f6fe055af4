//! `tierctl schema [--check]`

use std::path::PathBuf;

use anyhow::Context;

use crate::exit::Exit;

use super::Global;

/// Arguments of `schema`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 written or up to date, 1 out of date (with --check) or error."
)]
pub struct Args {
    /// Where the schema lives.
    #[arg(
        long,
        default_value = "schema/workload.schema.json",
        value_name = "FILE"
    )]
    out: PathBuf,
    /// Do not write; fail when the file differs from the types (drift check for CI).
    #[arg(long, conflicts_with = "stdout")]
    check: bool,
    /// Print the schema instead of writing it.
    #[arg(long)]
    stdout: bool,
}

pub(super) fn run(_global: &Global, args: Args) -> anyhow::Result<Exit> {
    let text = crate::spec::json_schema_text();
    if args.stdout {
        print!("{text}");
        return Ok(Exit::Success);
    }
    let current = crate::load::read_generated(&args.out)?;
    if args.check {
        return Ok(if current.as_deref() == Some(text.as_str()) {
            println!("{} is up to date", args.out.display());
            Exit::Success
        } else {
            eprintln!(
                "error: {} is {} the spec types; run `tierctl schema` and commit the result",
                args.out.display(),
                if current.is_some() {
                    "out of date with"
                } else {
                    "missing, generated from"
                }
            );
            Exit::Error
        });
    }
    if current.as_deref() == Some(text.as_str()) {
        println!("{} is up to date", args.out.display());
        return Ok(Exit::Success);
    }
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&args.out, &text).with_context(|| format!("writing {}", args.out.display()))?;
    println!("wrote {}", args.out.display());
    Ok(Exit::Success)
}
