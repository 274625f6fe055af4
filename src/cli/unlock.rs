//! `tierctl unlock WORKLOAD...`: break a stale run lease.

use crate::exit::Exit;

use super::Global;

/// Arguments of `unlock`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Use only when the run holding the lock is gone (a lease also expires by itself \
two minutes after its runner stopped renewing it)."
)]
pub struct Args {
    /// Workloads whose lock to remove.
    #[arg(required = true, value_name = "WORKLOAD")]
    workloads: Vec<String>,
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
        let (db, _) = super::config_tables(global).await?;
        for w in &args.workloads {
            match db.release_lock(&args.lock_table, w, None).await? {
                Some(h) => println!("{w}: removed the lock held by {}", h.holder),
                None => println!("{w}: not locked"),
            }
        }
        Ok(Exit::Success)
    })
}
