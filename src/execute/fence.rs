//! The fence the executor checks before every state-changing call: does
//! this run still hold the lease of the workload it acts on? Implemented by
//! the run leases ([`crate::pipeline::lease`]); [`NoFence`] for dry runs and
//! tests.

use std::future::Future;
use std::pin::Pin;

/// What the executor asks before acting: does this run still hold the
/// lease of the workload it acts on?
pub trait Fence: Send + Sync + 'static {
    /// Cheap, local: `Err(why)` once the lease can no longer be counted on.
    fn holds(&self, workload: &str) -> Result<(), String>;
    /// Confirms the lease in the store (at wave boundaries); `Err(why)` when lost.
    fn reassert<'a>(
        &'a self,
        workload: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;
}

/// No leases (dry runs, tests): always held.
#[derive(Debug, Default)]
pub struct NoFence;

impl Fence for NoFence {
    fn holds(&self, _: &str) -> Result<(), String> {
        Ok(())
    }

    fn reassert<'a>(
        &'a self,
        _: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async { Ok(()) })
    }
}
