//! Sending Stop/StartInstances in batches, concurrently and paced, and
//! keeping one bad instance from failing its whole batch.
//!
//! AWS fails a batch as a whole when one instance in it cannot be acted on.
//! When the error names instances, those are set aside and the rest is sent
//! again; when it names none (capacity, an unsupported configuration), the
//! batch is split in halves until the culprits stand alone. Errors that
//! concern every instance alike (access denied, throttling that outlasted
//! the SDK's retries, no answer) fail the batch without splitting.

use std::sync::Arc;

use tokio::sync::Semaphore;

use super::pace::Call;
use super::{Ctx, Effects, Progress};
use crate::error::{AwsError, AwsErrorKind};
use crate::plan::Action;

/// One instance's result.
#[derive(Debug)]
pub(super) enum Result {
    /// The call succeeded.
    Done,
    /// The call failed for this instance.
    Failed(AwsError),
    /// Not sent: the run was interrupted, or lost the workload's lease.
    Skipped(String),
}

/// Whether halving a batch could get part of it through.
fn worth_splitting(e: &AwsError) -> bool {
    !matches!(
        e.kind,
        AwsErrorKind::AccessDenied
            | AwsErrorKind::Throttled
            | AwsErrorKind::Unreachable
            | AwsErrorKind::Config
    )
}

/// Acts on the plan's batches, as planned (an instance set aside by an
/// earlier step is left out of its batch; an emptied batch is not sent).
pub(super) async fn act<E: Effects, P: Progress>(
    ctx: &Ctx<E, P>,
    workload: &str,
    region: &str,
    batches: Vec<Vec<String>>,
) -> Vec<(String, Result)> {
    let semaphore = Arc::new(Semaphore::new(ctx.options.concurrency.max(1)));
    let mut tasks = Vec::new();
    for batch in batches.into_iter().filter(|b| !b.is_empty()) {
        let semaphore = Arc::clone(&semaphore);
        tasks.push(async move {
            // Never closed: the semaphore lives as long as these tasks.
            let _permit = semaphore.acquire_owned().await.ok();
            send(ctx, workload, region, batch).await
        });
    }
    let mut out = Vec::new();
    for r in futures_util::future::join_all(tasks).await {
        out.extend(r);
    }
    out
}

/// Sends one batch, splitting it on failure as described above.
async fn send<E: Effects, P: Progress>(
    ctx: &Ctx<E, P>,
    workload: &str,
    region: &str,
    batch: Vec<String>,
) -> Vec<(String, Result)> {
    let mut out = Vec::new();
    // Each round either finishes a batch or makes it strictly smaller: bounded.
    let mut queue = vec![batch];
    while let Some(batch) = queue.pop() {
        if batch.is_empty() {
            continue;
        }
        if ctx.cancelled() {
            out.extend(
                batch
                    .into_iter()
                    .map(|id| (id, Result::Skipped("interrupted".into()))),
            );
            continue;
        }
        let call = match ctx.action {
            Action::Stop => Call::Stop,
            Action::Start => Call::Start,
        };
        ctx.pacer.acquire(region, call, batch.len()).await;
        // Checked right before the call: the pacer may have waited.
        if let Err(why) = ctx.fence.holds(workload) {
            let why = format!("not {}: {why}", ctx.action.past());
            out.extend(
                batch
                    .into_iter()
                    .map(|id| (id, Result::Skipped(why.clone()))),
            );
            continue;
        }
        let res = match ctx.action {
            Action::Stop => ctx.effects.stop(region, &batch, ctx.options.dry_run).await,
            Action::Start => ctx.effects.start(region, &batch, ctx.options.dry_run).await,
        };
        match res {
            Ok(()) => out.extend(batch.into_iter().map(|id| (id, Result::Done))),
            Err(e) => {
                let (named, rest): (Vec<String>, Vec<String>) = batch
                    .iter()
                    .cloned()
                    .partition(|id| e.message.contains(id.as_str()));
                if !named.is_empty() && !rest.is_empty() {
                    tracing::info!(region, set_aside = ?named, "{}; retrying the rest of the batch", e);
                    out.extend(named.into_iter().map(|id| (id, Result::Failed(e.clone()))));
                    queue.push(rest);
                } else if batch.len() > 1 && worth_splitting(&e) {
                    tracing::info!(region, size = batch.len(), "{}; splitting the batch", e);
                    let mut first = batch;
                    let second = first.split_off(first.len() / 2);
                    queue.push(second);
                    queue.push(first);
                } else {
                    out.extend(batch.into_iter().map(|id| (id, Result::Failed(e.clone()))));
                }
            }
        }
    }
    out
}
