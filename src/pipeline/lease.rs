//! One run at a time per workload: a lease in DynamoDB, taken with a
//! conditional write, renewed while the run lasts, released at the end, and
//! a fence: the run acts only while it provably holds every lease it acts
//! under.
//!
//! - The holder id is unique per run (a random UUID beside who and where),
//!   so two machines never mistake each other's lease for their own.
//! - Expiry is decided by the store, never by comparing clocks: a lease is
//!   taken over only with a conditional write that requires its `ExpiresAt`
//!   to have passed by [`SKEW_MARGIN`] by the taker's clock, and the holder
//!   renews and re-asserts with a write that requires `ExpiresAt` to be at
//!   least [`SKEW_MARGIN`] ahead by its own. Two clocks that disagree by less
//!   than twice the margin never both believe they hold the lease.
//! - Locally, the run only counts on a lease until `LEASE - SKEW_MARGIN`
//!   after its last confirmed write ([`Fence::holds`], a monotonic clock,
//!   checked before every state-changing call); at every wave boundary the
//!   lease is re-asserted in the store ([`Fence::reassert`]). A lease found
//!   lost (deleted, taken over, expired) stops the workload's calls.
//! - The lease also lists the instances the run acts on, so a concurrent
//!   run of another workload whose selector overlaps is refused before it
//!   acts on one of them ([`Leases::claim_instances`]).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use tokio::time::Instant;

use crate::execute::fence::Fence;

use crate::aws::dynamodb::{Billing, Dynamo, KeyShape, LockHolder, TableInfo};
use crate::error::AwsError;

/// How long a lease lasts without renewal.
pub const LEASE: Duration = Duration::from_secs(120);
/// How often held leases are renewed (all together).
pub const RENEW_EVERY: Duration = Duration::from_secs(30);
/// Clock skew tolerated between two machines running tierctl: a lease is
/// taken over only this long after it expired, and counted on only until
/// this long before it expires.
pub const SKEW_MARGIN: Duration = Duration::from_secs(15);

/// The lock table's key.
pub fn lock_key() -> KeyShape {
    KeyShape {
        partition: "LockId".into(),
        sort: None,
    }
}

/// Seconds since the epoch by this machine's clock (only ever sent to the
/// store inside conditions and values, never compared locally).
fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Who this process is, for the holder field: the CI run when there is one,
/// and a random id that makes it unique per run.
pub fn holder_name() -> String {
    let pid = std::process::id();
    let run = uuid::Uuid::new_v4();
    if let (Ok(repo), Ok(ci_run)) = (
        std::env::var("GITHUB_REPOSITORY"),
        std::env::var("GITHUB_RUN_ID"),
    ) {
        return format!("GitHub Actions run {ci_run} of {repo} (pid {pid}, run {run})");
    }
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into());
    format!("{user}@{host} (pid {pid}, run {run})")
}

/// Creates the lock table when missing (on demand, key `LockId`).
pub async fn ensure_table(db: &Dynamo, table: &str) -> Result<(), crate::store::StoreError> {
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
            Err(crate::store::StoreError::WrongKeySchema {
                table: table.into(),
                expected: lock_key().to_string(),
                found: key.to_string(),
            })
        }
        TableInfo::Present { .. } => Ok(()),
    }
}

/// Per workload: until when the lease may be counted on, or why it was lost.
#[derive(Debug, Clone)]
enum Standing {
    Until(Instant),
    Lost(String),
}

/// Leases held by this process, renewed in the background until released.
pub struct Leases {
    db: Dynamo,
    table: String,
    holder: String,
    held: Vec<String>,
    standing: Arc<Mutex<BTreeMap<String, Standing>>>,
    stop: watch::Sender<bool>,
    renewer: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Leases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leases")
            .field("table", &self.table)
            .field("holder", &self.holder)
            .field("held", &self.held)
            .finish_non_exhaustive()
    }
}

/// Why a workload could not be locked.
#[derive(Debug)]
pub enum Refused {
    /// Someone else runs it.
    Held(LockHolder),
    /// Another run holds a lease on an instance this run would act on.
    Overlap {
        /// The instance.
        instance: String,
        /// The other run's workload.
        workload: String,
        /// The other run.
        holder: String,
    },
    /// DynamoDB failed.
    Error(AwsError),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Held(h) => {
                let left = h.expires_at.saturating_sub(now()).max(0);
                write!(
                    f,
                    "another run holds its lock: {} (lease ends in {left}s unless renewed; `tierctl unlock` breaks a stale one)",
                    h.holder
                )
            }
            Refused::Overlap {
                instance,
                workload,
                holder,
            } => write!(
                f,
                "instance {instance} is also selected by workload {workload}, which another run is acting on ({holder}); nothing was done for this workload"
            ),
            Refused::Error(e) => write!(f, "cannot take its lock: {e}"),
        }
    }
}

/// The lock id of a workload.
fn lock_id(workload: &str) -> String {
    workload.to_string()
}

impl Leases {
    /// Takes the lease of each workload (concurrently); returns those refused.
    pub async fn acquire(
        db: Dynamo,
        table: &str,
        workloads: &[String],
    ) -> (Leases, BTreeMap<String, Refused>) {
        Self::acquire_as(db, table, workloads, None).await
    }

    /// [`Leases::acquire`] as `holder` when given (a run continued in a new
    /// Lambda invocation takes over the leases its previous invocation kept:
    /// the store's condition already lets a holder re-take its own lease,
    /// live or expired), else as a new holder.
    pub async fn acquire_as(
        db: Dynamo,
        table: &str,
        workloads: &[String],
        holder: Option<String>,
    ) -> (Leases, BTreeMap<String, Refused>) {
        let holder = holder.unwrap_or_else(holder_name);
        tracing::info!(holder = %holder, "taking the run's leases");
        let asked = futures_util::future::join_all(workloads.iter().map(|w| {
            let (db, holder) = (&db, &holder);
            async move {
                let t = now();
                let started = Instant::now();
                let res = db
                    .acquire_lock(
                        table,
                        &lock_id(w),
                        holder,
                        t,
                        t.saturating_add(secs(LEASE)),
                        t.saturating_sub(secs(SKEW_MARGIN)),
                    )
                    .await;
                (w.clone(), started, res)
            }
        }))
        .await;
        let mut held = Vec::new();
        let mut refused = BTreeMap::new();
        let mut standing = BTreeMap::new();
        for (w, started, res) in asked {
            match res {
                Ok(Ok(())) => {
                    standing.insert(w.clone(), Standing::Until(started + LEASE - SKEW_MARGIN));
                    held.push(w);
                }
                Ok(Err(h)) => {
                    refused.insert(w, Refused::Held(h));
                }
                Err(e) => {
                    refused.insert(w, Refused::Error(e));
                }
            }
        }
        let standing = Arc::new(Mutex::new(standing));
        let (stop, mut stopped) = watch::channel(false);
        let renewer = {
            let (db, table, holder, ids, standing) = (
                db.clone(),
                table.to_string(),
                holder.clone(),
                held.clone(),
                Arc::clone(&standing),
            );
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(RENEW_EVERY) => {}
                        _ = stopped.wait_for(|s| *s) => return,
                    }
                    renew_all(&db, &table, &holder, &ids, &standing).await;
                }
            })
        };
        (
            Leases {
                db,
                table: table.to_string(),
                holder,
                held,
                standing,
                stop,
                renewer: Some(renewer),
            },
            refused,
        )
    }

    /// This run's holder id.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Workloads whose lease this process holds.
    pub fn held(&self) -> &[String] {
        &self.held
    }

    /// The fence the executor consults.
    pub fn fence(&self) -> Arc<dyn Fence> {
        Arc::new(LeaseFence {
            db: self.db.clone(),
            table: self.table.clone(),
            holder: self.holder.clone(),
            standing: Arc::clone(&self.standing),
        })
    }

    /// Records in each workload's lease the instances the run will act on,
    /// then refuses the workloads whose instances another live run claims.
    /// Writing first and reading second makes two overlapping runs refuse
    /// each other rather than both act.
    pub async fn claim_instances(
        &self,
        instances: &BTreeMap<String, BTreeSet<String>>,
    ) -> BTreeMap<String, Refused> {
        let mut refused = BTreeMap::new();
        for (w, ids) in instances {
            if !self.held.contains(w) {
                continue;
            }
            let ids: Vec<String> = ids.iter().cloned().collect();
            match self
                .db
                .claim_instances(&self.table, &lock_id(w), &self.holder, &ids)
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    refused.insert(
                        w.clone(),
                        Refused::Error(lost_error("the lease was lost before the run began")),
                    );
                }
                Err(e) => {
                    refused.insert(w.clone(), Refused::Error(e));
                }
            }
        }
        let others = match self.db.scan_locks(&self.table).await {
            Ok(all) => all,
            Err(e) => {
                // Unsure whether another run acts on the same instances: act on none.
                for w in instances.keys().filter(|w| self.held.contains(w)) {
                    refused
                        .entry(w.clone())
                        .or_insert_with(|| Refused::Error(e.clone()));
                }
                return refused;
            }
        };
        let t = now();
        for lock in others {
            if lock.holder == self.holder || lock.expires_at.saturating_add(secs(SKEW_MARGIN)) < t {
                continue;
            }
            for (w, ids) in instances {
                if refused.contains_key(w) {
                    continue;
                }
                if let Some(i) = lock.instances.iter().find(|i| ids.contains(*i)) {
                    refused.insert(
                        w.clone(),
                        Refused::Overlap {
                            instance: i.clone(),
                            workload: lock.id.clone(),
                            holder: lock.holder.clone(),
                        },
                    );
                }
            }
        }
        refused
    }

    /// Stops renewing and keeps the leases for a continuation of the run:
    /// each is renewed once more (a full [`LEASE`] from now), not deleted.
    /// Whoever continues takes them over as the same holder
    /// ([`Leases::acquire_as`]); if nobody does, they expire by themselves.
    pub async fn keep(mut self) {
        let _ = self.stop.send(true);
        if let Some(r) = self.renewer.take() {
            let _ = r.await;
        }
        let standing = Arc::clone(&self.standing);
        renew_all(&self.db, &self.table, &self.holder, &self.held, &standing).await;
    }

    /// Stops renewing and deletes the leases this run still holds.
    pub async fn release(mut self) {
        let _ = self.stop.send(true);
        if let Some(r) = self.renewer.take() {
            let _ = r.await;
        }
        let done = futures_util::future::join_all(self.held.iter().map(|id| {
            let (db, table, holder) = (&self.db, &self.table, &self.holder);
            async move {
                let res = db.release_lock(table, &lock_id(id), Some(holder)).await;
                (id, res)
            }
        }))
        .await;
        for (id, res) in done {
            if let Err(e) = res {
                tracing::warn!(workload = %id, "releasing the run's lock: {e}; it expires by itself");
            }
        }
    }
}

fn lost_error(why: &str) -> AwsError {
    AwsError {
        call: "dynamodb:UpdateItem".into(),
        kind: crate::error::AwsErrorKind::Conflict,
        code: Some("ConditionalCheckFailedException".into()),
        message: why.into(),
    }
}

/// Renews every held lease at once; a lease whose renewal is refused is lost.
async fn renew_all(
    db: &Dynamo,
    table: &str,
    holder: &str,
    ids: &[String],
    standing: &Mutex<BTreeMap<String, Standing>>,
) {
    let results = futures_util::future::join_all(ids.iter().map(|id| async move {
        let started = Instant::now();
        (id, started, extend(db, table, holder, id).await)
    }))
    .await;
    for (id, started, res) in results {
        record(standing, id, started, res);
    }
}

/// One conditional write: still ours, and not about to expire.
async fn extend(db: &Dynamo, table: &str, holder: &str, id: &str) -> Result<bool, AwsError> {
    let t = now();
    db.renew_lock(
        table,
        &lock_id(id),
        holder,
        t.saturating_add(secs(LEASE)),
        t.saturating_add(secs(SKEW_MARGIN)),
    )
    .await
}

fn record(
    standing: &Mutex<BTreeMap<String, Standing>>,
    id: &str,
    started: Instant,
    res: Result<bool, AwsError>,
) {
    let mut map = standing.lock().unwrap_or_else(|p| p.into_inner());
    match res {
        Ok(true) => {
            if !matches!(map.get(id), Some(Standing::Lost(_))) {
                map.insert(
                    id.to_string(),
                    Standing::Until(started + LEASE - SKEW_MARGIN),
                );
            }
        }
        Ok(false) => {
            tracing::error!(workload = %id, "the run's lease was removed or taken over: no more changes for this workload");
            map.insert(
                id.to_string(),
                Standing::Lost(
                    "its lease was removed or taken over by another run (`tierctl unlock`?)".into(),
                ),
            );
        }
        // Transient: the local deadline decides when the lease can no longer be counted on.
        Err(e) => tracing::warn!(workload = %id, "renewing the run's lease: {e}"),
    }
}

struct LeaseFence {
    db: Dynamo,
    table: String,
    holder: String,
    standing: Arc<Mutex<BTreeMap<String, Standing>>>,
}

impl Fence for LeaseFence {
    fn holds(&self, workload: &str) -> Result<(), String> {
        let map = self.standing.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(workload) {
            Some(Standing::Until(t)) if Instant::now() < *t => Ok(()),
            Some(Standing::Until(_)) => Err(
                "its lease could not be renewed in time (DynamoDB did not confirm it); another run may take it over".into(),
            ),
            Some(Standing::Lost(why)) => Err(why.clone()),
            None => Err("this run holds no lease for it".into()),
        }
    }

    fn reassert<'a>(
        &'a self,
        workload: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            self.holds(workload)?;
            let started = Instant::now();
            let res = extend(&self.db, &self.table, &self.holder, workload).await;
            let failed = match &res {
                Err(e) => Some(format!(
                    "its lease could not be confirmed before the wave: {e}"
                )),
                Ok(_) => None,
            };
            record(&self.standing, workload, started, res);
            if let Some(why) = failed {
                let mut map = self.standing.lock().unwrap_or_else(|p| p.into_inner());
                map.insert(workload.to_string(), Standing::Lost(why.clone()));
                return Err(why);
            }
            self.holds(workload)
        })
    }
}
