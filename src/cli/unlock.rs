//! `tierctl unlock WORKLOAD... [--force]`

use crate::exit::Exit;
use crate::pipeline::run::Unlocked;

use super::Global;

/// Arguments of `unlock`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Removes the run lease of workloads whose runner died. A lease that is still live (renewed \
within the last two minutes) is refused unless --force: the run holding it then stops changing instances at its \
next wave boundary, or sooner when its renewal fails.\n\n\
Exit codes: 0 removed or not locked, 1 a live lease was left alone (without --force) or error."
)]
pub struct Args {
    /// Workloads (SpecName) whose lease to remove.
    #[arg(required = true, value_name = "WORKLOAD")]
    workloads: Vec<String>,
    /// Remove a live lease too (its run stops acting at its next wave).
    #[arg(long)]
    force: bool,
    /// DynamoDB table holding the run leases.
    #[arg(
        long,
        env = "TIERCTL_LOCK_TABLE",
        default_value = "TierctlLocks",
        value_name = "TABLE"
    )]
    lock_table: String,
}

pub(super) fn run(global: &Global, args: Args) -> anyhow::Result<Exit> {
    super::block_on(async {
        let done = crate::pipeline::run::unlock(
            &global.session,
            &args.lock_table,
            &args.workloads,
            args.force,
        )
        .await?;
        let mut exit = Exit::Success;
        for (w, u) in done {
            match u {
                Unlocked::NotLocked => println!("{w}: not locked"),
                Unlocked::Removed { holder, live } => println!(
                    "{w}: removed the {}lock held by {holder}",
                    if live { "live " } else { "" }
                ),
                Unlocked::Live {
                    holder,
                    left_seconds,
                } => {
                    eprintln!(
                        "error: {w}: the lock is live, held by {holder} (lease ends in {left_seconds}s unless renewed); \
pass --force to remove it anyway"
                    );
                    exit = Exit::Error;
                }
                Unlocked::Changed => println!("{w}: the lock changed meanwhile; nothing removed"),
            }
        }
        Ok(exit)
    })
}
