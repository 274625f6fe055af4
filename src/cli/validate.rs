//! `tierctl validate [PATH...]`

use std::io::Write;
use std::path::PathBuf;

use crate::exit::Exit;
use crate::output::{self, Format};

use super::Global;

/// Arguments of `validate`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 valid (warnings allowed, unless --strict), 1 invalid or unreadable.\n\
With GITHUB_ACTIONS=true the default output is `github` (annotations on the pull request)."
)]
pub struct Args {
    /// Files or folders to check [default: the --specs folder].
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Treat warnings (legacy or risky values such as a legacy S3 bucket name) as errors.
    #[arg(long)]
    strict: bool,
}

pub(super) fn run(global: &Global, args: Args) -> anyhow::Result<Exit> {
    let paths = if args.paths.is_empty() {
        vec![global.specs.clone()]
    } else {
        args.paths
    };
    let format = match global.output {
        Some(Format::Markdown) => {
            anyhow::bail!("validate prints text, json or github, not markdown")
        }
        Some(f) => f,
        None if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") => Format::Github,
        None => Format::Text,
    };
    let mut checked = crate::validate::check_paths(&paths);
    if args.strict {
        checked.strict();
    }
    let text = output::render_checked(&checked, format, global.color);
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(if checked.errors() == 0 {
        Exit::Success
    } else {
        Exit::Error
    })
}
