//! One run at a time per workload: a lease in DynamoDB, taken with a
//! conditional write, renewed while the run lasts, released at the end.
//! A lease that is not renewed (the runner died) expires and can be taken
//! over; `tierctl unlock` breaks one by hand.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use crate::aws::AwsError;
use crate::aws::dynamodb::{Billing, Dynamo, KeyShape, LockHolder, TableInfo};

/// How long a lease lasts without renewal.
pub const LEASE: Duration = Duration::from_secs(120);
/// How often a held lease is renewed.
pub const RENEW_EVERY: Duration = Duration::from_secs(30);

/// The lock table's key.
pub fn lock_key() -> KeyShape {
    KeyShape {
        partition: "LockId".into(),
        sort: None,
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Who this process is, for the holder field: the CI run when there is one.
pub fn holder_name() -> String {
    let pid = std::process::id();
    if let (Ok(repo), Ok(run)) = (
        std::env::var("GITHUB_REPOSITORY"),
        std::env::var("GITHUB_RUN_ID"),
    ) {
        return format!("GitHub Actions run {run} of {repo} (pid {pid})");
    }
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into());
    format!("{user}@{host} (pid {pid})")
}

/// Creates the lock table when missing (on demand, key `LockId`).
pub async fn ensure_table(db: &Dynamo, table: &str) -> Result<(), crate::error::StoreError> {
    match db.describe(table).await? {
        TableInfo::Missing => {
            db.create(
                table,
                &lock_key(),
                Billing::OnDemand,
                Duration::from_secs(120),
            )
            .await?;
            Ok(())
        }
        TableInfo::Present { key, .. } if key != lock_key() => {
            Err(crate::error::StoreError::WrongKeySchema {
                table: table.into(),
                expected: lock_key().to_string(),
                found: key.to_string(),
            })
        }
        TableInfo::Present { .. } => Ok(()),
    }
}

/// Leases held by this process, renewed in the background until released.
pub struct Leases {
    db: Dynamo,
    table: String,
    holder: String,
    held: Vec<String>,
    stop: watch::Sender<bool>,
    renewer: Option<tokio::task::JoinHandle<()>>,
}

/// Why a workload could not be locked.
#[derive(Debug)]
pub enum Refused {
    /// Someone else runs it.
    Held(LockHolder),
    /// DynamoDB failed.
    Error(AwsError),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Held(h) => {
                let left = h.expires_at - now();
                write!(
                    f,
                    "another run holds its lock: {} (lease ends in {left}s unless renewed; `tierctl unlock` breaks a stale one)",
                    h.holder
                )
            }
            Refused::Error(e) => write!(f, "cannot take its lock: {e}"),
        }
    }
}

impl Leases {
    /// Takes the lease of each workload; returns those refused.
    pub async fn acquire(
        db: Dynamo,
        table: &str,
        workloads: &[String],
    ) -> (Leases, BTreeMap<String, Refused>) {
        let holder = holder_name();
        let mut held = Vec::new();
        let mut refused = BTreeMap::new();
        for w in workloads {
            let t = now();
            match db
                .acquire_lock(table, w, &holder, t, t + LEASE.as_secs() as i64)
                .await
            {
                Ok(Ok(())) => held.push(w.clone()),
                Ok(Err(h)) => {
                    refused.insert(w.clone(), Refused::Held(h));
                }
                Err(e) => {
                    refused.insert(w.clone(), Refused::Error(e));
                }
            }
        }
        let (stop, mut stopped) = watch::channel(false);
        let renewer = {
            let (db, table, holder, ids) = (
                db.clone(),
                table.to_string(),
                holder.clone(),
                Arc::new(held.clone()),
            );
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(RENEW_EVERY) => {}
                        _ = stopped.wait_for(|s| *s) => return,
                    }
                    for id in ids.iter() {
                        match db
                            .renew_lock(&table, id, &holder, now() + LEASE.as_secs() as i64)
                            .await
                        {
                            Ok(true) => {}
                            Ok(false) => {
                                tracing::error!(workload = %id, "the run's lock was taken over (`tierctl unlock`?)")
                            }
                            Err(e) => {
                                tracing::warn!(workload = %id, "renewing the run's lock: {e}")
                            }
                        }
                    }
                }
            })
        };
        (
            Leases {
                db,
                table: table.to_string(),
                holder,
                held,
                stop,
                renewer: Some(renewer),
            },
            refused,
        )
    }

    /// Workloads whose lease this process holds.
    pub fn held(&self) -> &[String] {
        &self.held
    }

    /// Stops renewing and deletes the leases.
    pub async fn release(mut self) {
        let _ = self.stop.send(true);
        if let Some(r) = self.renewer.take() {
            let _ = r.await;
        }
        for id in &self.held {
            if let Err(e) = self
                .db
                .release_lock(&self.table, id, Some(&self.holder))
                .await
            {
                tracing::warn!(workload = %id, "releasing the run's lock: {e}; it expires by itself");
            }
        }
    }
}
