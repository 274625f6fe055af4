//! `tierctl iam-policy` (being written).

use crate::exit::Exit;

use super::Global;

/// Arguments of `iam-policy`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub(super) fn run(_global: &Global, _args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("not written yet")
}
