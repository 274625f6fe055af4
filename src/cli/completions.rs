//! `tierctl completions SHELL` and the hidden `tierctl man --out DIR`, both
//! generated from the clap definitions (`clap_complete`, `clap_mangen`), so
//! they never disagree with `--help`.

use std::path::PathBuf;

use anyhow::Context;
use clap::CommandFactory;

use crate::exit::Exit;

/// Arguments of `completions`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Install, for example:\n  \
bash:       tierctl completions bash > ~/.local/share/bash-completion/completions/tierctl\n  \
zsh:        tierctl completions zsh > \"${fpath[1]}/_tierctl\"\n  \
fish:       tierctl completions fish > ~/.config/fish/completions/tierctl.fish\n  \
powershell: tierctl completions powershell >> $PROFILE\n  \
elvish:     tierctl completions elvish >> ~/.config/elvish/rc.elv")]
pub struct Args {
    /// The shell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Arguments of `man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Folder to write `tierctl.1` and `tierctl-<command>.1` into (created when missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

pub(super) fn run(args: Args) -> anyhow::Result<Exit> {
    let mut cmd = super::Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "tierctl", &mut std::io::stdout());
    Ok(Exit::Success)
}

pub(super) fn man(args: ManArgs) -> anyhow::Result<Exit> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let cmd = super::Cli::command();
    clap_mangen::generate_to(cmd, &args.out)
        .with_context(|| format!("writing man pages into {}", args.out.display()))?;
    Ok(Exit::Success)
}
