//! The run stage: locks, (re-)observation, the plan, execution, the SSM
//! output bucket check and notifications. `run` without a saved plan plans
//! and executes in one go; with one (`run --plan`), it re-observes, refuses
//! a stale plan and executes exactly the saved steps. Same code either way.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::config::{Selection, Source};
use super::lease::{self as lock, Leases, Refused};
use super::saved::{self, SavedPlan};
use super::{PipelineError, Session};
use crate::execute::fence::{Fence, NoFence};
use crate::execute::{self, Options, Progress, RunReport, Status, WorkloadReport};
use crate::exit::Exit;
use crate::notify::{Event, Notification};
use crate::observe::Observed;
use crate::plan::{Intent, Plan};
use crate::spec::Workload;

/// What to run.
#[derive(Debug, Clone)]
pub enum Target {
    /// Plan now, then execute that plan.
    Fresh {
        /// Where the configuration comes from.
        source: Source,
        /// Which workloads.
        selection: Selection,
        /// Stop or start, profile, tiers, batch size.
        intent: Intent,
    },
    /// Execute a saved plan, after checking it is not stale.
    Saved(Box<SavedPlan>),
}

/// What `tierctl run` asks for.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The plan to execute, or what to plan.
    pub target: Target,
    /// How to execute.
    pub options: Options,
    /// DynamoDB table of the run leases.
    pub lock_table: String,
    /// Create missing SNS topics instead of warning.
    pub create_topic: bool,
}

/// What the caller is told while a run goes on.
pub trait RunHooks: Progress {
    /// A workload was not run: its lock is held or could not be taken.
    fn refused(&self, workload: &str, why: &str);
    /// The plan about to be executed.
    fn planned(&self, plan: &Plan, specs: &[&Workload]);
    /// A notification a dry run would have published.
    fn would_publish(&self, topic: &str, region: &str, subject: &str);
    /// Something a person should see that does not change the outcome.
    fn warning(&self, message: &str);
}

/// A finished run.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The plan executed.
    pub plan: Plan,
    /// The workloads' specs, in plan order.
    pub specs: Vec<Workload>,
    /// Every instance's outcome.
    pub report: RunReport,
    /// The exit code the outcomes give.
    pub exit: Exit,
    /// The run's lease holder id (`None` for a dry run).
    pub holder: Option<String>,
    /// The leases were kept for a continuation ([`Handover::keep_when_interrupted`]).
    pub lease_kept: bool,
    /// Selected workloads that were not run: their lock (or an instance of
    /// theirs) was held by another run, or their configuration was invalid.
    pub not_run: BTreeSet<String>,
}

/// How a run split across Lambda invocations hands its leases on. The
/// default (a new holder, leases released at the end) is what `tierctl run` does.
#[derive(Debug, Clone, Default)]
pub struct Handover {
    /// Take the leases as this holder: the previous invocation's, which kept them.
    pub holder: Option<String>,
    /// When the run is interrupted (the cancel signal), keep the leases
    /// instead of releasing them, and publish no notification: the run goes
    /// on in another invocation, which reports and notifies.
    pub keep_when_interrupted: bool,
}

/// The exit code is a function of the outcomes.
pub fn exit_for(report: &RunReport, locked_out: bool) -> Exit {
    if report.interrupted {
        Exit::Interrupted
    } else if locked_out
        || report.count(Status::Failed) > 0
        || report.count(Status::NotAttempted) > 0
    {
        Exit::Error
    } else if report.count(Status::Bypassed) > 0 || report.count(Status::HeldBack) > 0 {
        Exit::Skipped
    } else {
        Exit::Success
    }
}

/// SIGINT (Ctrl-C) and SIGTERM (what CI sends on cancel or timeout): the
/// first sets the cancel signal (no new calls; calls in flight finish; the
/// leases are released and the report written), a second exits at once.
#[derive(Debug)]
pub struct Interrupts {
    /// Set once a signal arrived.
    pub cancel: watch::Receiver<bool>,
    signal: Arc<std::sync::atomic::AtomicU8>,
    task: tokio::task::JoinHandle<()>,
}

impl Interrupts {
    /// Starts listening (call inside the runtime, before any other work).
    pub fn listen() -> Self {
        use std::sync::atomic::{AtomicU8, Ordering};
        let (cancel_tx, cancel) = watch::channel(false);
        let signal = Arc::new(AtomicU8::new(0));
        let seen = Arc::clone(&signal);
        let task = tokio::spawn(async move {
            #[cfg(unix)]
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        tracing::warn!("cannot listen for SIGTERM: {e}");
                        None
                    }
                };
            loop {
                #[cfg(unix)]
                let got = tokio::select! {
                    r = tokio::signal::ctrl_c() => r.ok().map(|()| Exit::Interrupted),
                    Some(()) = async { match term.as_mut() { Some(t) => t.recv().await, None => std::future::pending().await } } => Some(Exit::Terminated),
                };
                #[cfg(not(unix))]
                let got = tokio::signal::ctrl_c()
                    .await
                    .ok()
                    .map(|()| Exit::Interrupted);
                let Some(exit) = got else { return };
                if seen.swap(exit.code(), Ordering::SeqCst) != 0 {
                    std::process::exit(i32::from(exit.code()));
                }
                eprintln!(
                    "interrupted ({}): no new calls; waiting for calls in flight, then releasing locks (a second signal quits at once)",
                    if exit == Exit::Terminated {
                        "SIGTERM"
                    } else {
                        "SIGINT"
                    }
                );
                let _ = cancel_tx.send(true);
            }
        });
        Interrupts {
            cancel,
            signal,
            task,
        }
    }

    /// The exit code the signal asks for, once one arrived.
    pub fn exit(&self) -> Option<Exit> {
        match self.signal.load(std::sync::atomic::Ordering::SeqCst) {
            0 => None,
            143 => Some(Exit::Terminated),
            _ => Some(Exit::Interrupted),
        }
    }
}

impl Drop for Interrupts {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Runs: configuration, locks, observation, plan (or the saved plan's
/// staleness check), execution, report, notifications.
pub async fn run<H: RunHooks>(
    session: &Session,
    req: RunRequest,
    hooks: Arc<H>,
    cancel: watch::Receiver<bool>,
) -> Result<RunOutcome, PipelineError> {
    run_with(session, req, hooks, cancel, Handover::default()).await
}

/// [`run`], with the leases handed over as `handover` says (the Lambda runner).
pub async fn run_with<H: RunHooks>(
    session: &Session,
    req: RunRequest,
    hooks: Arc<H>,
    cancel: watch::Receiver<bool>,
    handover: Handover,
) -> Result<RunOutcome, PipelineError> {
    let (source, selection, intent) = match &req.target {
        Target::Fresh {
            source,
            selection,
            intent,
        } => (*source, selection.clone(), intent.clone()),
        Target::Saved(saved) => {
            check_tables(session, saved).await?;
            (
                saved.source,
                Selection {
                    workloads: saved.workload_names(),
                    all: false,
                },
                Intent::from(&saved.intent),
            )
        }
    };
    let (config, selected) = super::plan::configure(session, source, &selection, &intent).await?;
    // Workloads of the tables that failed the checks: reported, never run.
    let invalid = config.refused_in(&selection);
    for r in &invalid {
        hooks.refused(&r.spec_name, &r.to_string());
    }

    // One run at a time per workload; a dry run changes nothing, so it takes no lock.
    let names: Vec<String> = selected.iter().map(|w| w.name.clone()).collect();
    let dry_run = req.options.dry_run;
    let (leases, refused) = if dry_run {
        (None, BTreeMap::new())
    } else {
        let (db, _) = session.config_tables().await?;
        lock::ensure_table(&db, &req.lock_table).await?;
        let (leases, refused) =
            Leases::acquire_as(db, &req.lock_table, &names, handover.holder.clone()).await;
        (Some(leases), refused)
    };
    for (w, why) in &refused {
        hooks.refused(w, &why.to_string());
    }
    let runnable: Vec<&Workload> = selected
        .iter()
        .filter(|w| !refused.contains_key(&w.name))
        .collect();

    let executed = execute_stage(
        session,
        &req,
        &runnable,
        &intent,
        &hooks,
        leases.as_ref(),
        cancel,
    )
    .await;
    let holder = leases.as_ref().map(|l| l.holder().to_string());
    let keep = handover.keep_when_interrupted
        && matches!(&executed, Ok((_, report, ..)) if report.interrupted);
    if let Some(l) = leases {
        if keep {
            l.keep().await;
        } else {
            l.release().await;
        }
    }
    let (plan, mut report, observed, mut events, claimed) = executed?;
    let mut refused = refused;
    refused.extend(claimed);
    for (w, why) in &refused {
        report.workloads.push(WorkloadReport {
            name: w.clone(),
            skipped: Some(why.to_string()),
            halted: false,
            outcomes: Vec::new(),
            elapsed_ms: 0,
        });
    }
    for w in selected.iter().filter(|w| w.disabled) {
        events
            .entry(w.name.clone())
            .or_default()
            .push(Event::KillSwitch);
    }
    for (w, why) in &refused {
        let held = matches!(why, Refused::Held(_));
        events.entry(w.clone()).or_default().push(Event::Locked {
            held,
            why: why.to_string(),
        });
    }
    let notes = crate::notify::notifications(&report, &events, &instance_names(&observed));
    let specs: Vec<&Workload> = selected.iter().collect();
    if !keep {
        notify(
            session,
            &specs,
            &notes,
            dry_run,
            req.create_topic,
            hooks.as_ref(),
        )
        .await;
    }
    for name in invalid
        .iter()
        .map(|r| &r.spec_name)
        .collect::<BTreeSet<_>>()
    {
        let why: Vec<String> = invalid
            .iter()
            .filter(|r| &r.spec_name == name)
            .map(|r| r.to_string())
            .collect();
        report.workloads.push(WorkloadReport {
            name: name.clone(),
            skipped: Some(format!("invalid configuration: {}", why.join("; "))),
            halted: false,
            outcomes: Vec::new(),
            elapsed_ms: 0,
        });
    }
    let exit = exit_for(&report, !refused.is_empty() || !invalid.is_empty());
    let not_run = refused
        .keys()
        .cloned()
        .chain(invalid.iter().map(|r| r.spec_name.clone()))
        .collect();
    Ok(RunOutcome {
        plan,
        specs: selected,
        report,
        exit,
        holder,
        lease_kept: keep,
        not_run,
    })
}

type Executed = (
    Plan,
    RunReport,
    Observed,
    BTreeMap<String, Vec<Event>>,
    BTreeMap<String, Refused>,
);

/// The instances (and DB instances and clusters) each workload's plan changes (stop, start, resize).
fn acted_instances(plan: &Plan) -> BTreeMap<String, BTreeSet<String>> {
    plan.workloads
        .iter()
        .map(|w| {
            let ids = w
                .waves
                .iter()
                .flat_map(|wave| &wave.tiers)
                .flat_map(|t| &t.steps)
                .flat_map(|s| match s {
                    crate::plan::Step::Stop { batches } | crate::plan::Step::Start { batches } => {
                        batches.iter().flatten().cloned().collect::<Vec<_>>()
                    }
                    crate::plan::Step::Resize { resizes } => {
                        resizes.iter().map(|r| r.instance.clone()).collect()
                    }
                    // DBs are claimed as `db-instance/ID` / `db-cluster/ID`.
                    crate::plan::Step::StopDatabases { databases }
                    | crate::plan::Step::StartDatabases { databases } => databases
                        .iter()
                        .map(|d| match d.kind {
                            crate::observe::DatabaseKind::Instance => {
                                format!("db-instance/{}", d.id)
                            }
                            crate::observe::DatabaseKind::Cluster => format!("db-cluster/{}", d.id),
                        })
                        .collect(),
                    _ => Vec::new(),
                })
                .collect();
            (w.name.clone(), ids)
        })
        .collect()
}

/// Observes, plans (or checks the saved plan) and executes, under the locks.
async fn execute_stage<H: RunHooks>(
    session: &Session,
    req: &RunRequest,
    runnable: &[&Workload],
    intent: &Intent,
    hooks: &Arc<H>,
    leases: Option<&Leases>,
    cancel: watch::Receiver<bool>,
) -> Result<Executed, PipelineError> {
    // The SSM output bucket check runs beside the observation: it only warns.
    let (observed, bucket_events) = tokio::join!(
        super::plan::observe(session, runnable, intent),
        bucket_events(session, runnable)
    );
    let observed = observed?;
    let plan = match &req.target {
        Target::Fresh { .. } => crate::plan::plan(runnable, Some(&observed), intent)?,
        Target::Saved(saved) => {
            if runnable.len() != saved.specs.len() {
                // Some workloads are locked by another run: executing a part of a
                // reviewed plan is not what was reviewed.
                return Err(PipelineError::Stale(saved::Stale {
                    what: "the locks".into(),
                    changes: vec!["another run holds the lock of a planned workload; nothing of the plan was executed".into()],
                }));
            }
            saved::check(saved, runnable, &observed)?;
            let replanned = crate::plan::plan(runnable, Some(&observed), intent)?;
            if replanned != saved.plan {
                return Err(PipelineError::Stale(saved::Stale {
                    what: "the plan file".into(),
                    changes: vec!["the saved steps differ from what tierctl plans from the same specs and fleet (the file was edited, or made by another tierctl version)".into()],
                }));
            }
            saved.plan.clone()
        }
    };
    // Another run of another workload may act on the same instances
    // (overlapping selectors): each lease lists its run's instances, and a
    // workload whose instances another live run claims is not run.
    let mut plan = plan;
    let mut claimed = BTreeMap::new();
    if let Some(l) = leases {
        claimed = l.claim_instances(&acted_instances(&plan)).await;
        if !claimed.is_empty() {
            if matches!(req.target, Target::Saved(_)) {
                let changes = claimed
                    .iter()
                    .map(|(w, why)| format!("workload {w}: {why}"))
                    .collect();
                return Err(PipelineError::Stale(saved::Stale {
                    what: "the locks".into(),
                    changes,
                }));
            }
            for (w, why) in &claimed {
                hooks.refused(w, &why.to_string());
            }
            plan.workloads.retain(|w| !claimed.contains_key(&w.name));
        }
    }
    hooks.planned(&plan, runnable);
    let effects = session.effects().await;
    let fence: Arc<dyn Fence> = match leases {
        Some(l) => l.fence(),
        None => Arc::new(NoFence),
    };
    let report = execute::execute(
        &plan,
        effects,
        Arc::clone(hooks),
        req.options.clone(),
        fence,
        cancel,
    )
    .await;
    Ok((plan, report, observed, bucket_events, claimed))
}

/// A saved plan read from DynamoDB must run against the same tables.
async fn check_tables(session: &Session, saved: &SavedPlan) -> Result<(), PipelineError> {
    let Some(t) = &saved.tables else {
        return Ok(());
    };
    let (_, ctx) = session.config_tables().await?;
    if ctx.names.workload != t.workload_table
        || ctx.names.tier != t.tier_table
        || ctx.region != t.region
    {
        return Err(PipelineError::Usage(format!(
            "the plan was made from tables {} / {} in {}, but this run reads {} / {} in {}",
            t.workload_table,
            t.tier_table,
            t.region,
            ctx.names.workload,
            ctx.names.tier,
            ctx.region
        )));
    }
    Ok(())
}

/// The tables a DynamoDB-sourced plan reads, for the saved plan.
pub async fn saved_tables(
    session: &Session,
    source: Source,
) -> Result<Option<saved::SavedTables>, PipelineError> {
    if source != Source::Dynamodb {
        return Ok(None);
    }
    let (_, ctx) = session.config_tables().await?;
    Ok(Some(saved::SavedTables {
        region: ctx.region,
        workload_table: ctx.names.workload,
        tier_table: ctx.names.tier,
    }))
}

/// Instance id -> `Name` tag, for messages.
fn instance_names(observed: &Observed) -> BTreeMap<String, String> {
    observed
        .workloads
        .values()
        .flat_map(|w| &w.instances)
        .filter_map(|i| Some((i.id.clone(), i.name.clone()?)))
        .collect()
}

/// Checks once per bucket where each workload's SSM output bucket is, and
/// warns when it is not in the workload's region (SSM cannot write there:
/// the original's known trap). Never fails the run: errors only warn.
async fn bucket_events(session: &Session, workloads: &[&Workload]) -> BTreeMap<String, Vec<Event>> {
    let mut events: BTreeMap<String, Vec<Event>> = BTreeMap::new();
    let wanted: Vec<(&Workload, &str)> = workloads
        .iter()
        .filter(|w| !w.disabled)
        .filter_map(|w| Some((*w, w.ssm.as_ref()?.output_bucket.as_str())))
        .collect();
    if wanted.is_empty() {
        return events;
    }
    let config = session.sdk().await;
    let mut buckets: BTreeMap<&str, &str> = BTreeMap::new();
    for (w, b) in &wanted {
        buckets.entry(b).or_insert(w.region.as_str());
    }
    let found = futures_util::future::join_all(buckets.into_iter().map(|(bucket, region)| {
        let s3 = crate::aws::s3::S3::new(config, region);
        async move {
            let asked = tokio::time::timeout(Duration::from_secs(20), s3.bucket_region(bucket));
            let answer = match asked.await {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(_) => Err("s3:GetBucketLocation: no answer within 20 s".to_string()),
            };
            (bucket, answer)
        }
    }))
    .await;
    let found: BTreeMap<&str, Result<String, String>> = found.into_iter().collect();
    for (w, bucket) in wanted {
        match &found[bucket] {
            Ok(region) if *region != w.region => {
                tracing::warn!(
                    "workload {}: SSM output bucket {bucket} is in {region}, not in the workload's region {}: \
SSM cannot write command output there (the override checks are not affected)",
                    w.name,
                    w.region
                );
                events
                    .entry(w.name.clone())
                    .or_default()
                    .push(Event::BucketRegion {
                        bucket: bucket.to_string(),
                        bucket_region: region.clone(),
                        workload_region: w.region.clone(),
                    });
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(
                "workload {}: could not check the region of SSM output bucket {bucket}: {e}",
                w.name
            ),
        }
    }
    events
}

/// Publishes each notification to its workload's topic (in the workload's
/// region; topics resolved once per run and region). A failure is a warning
/// on stderr: the run's outcome, and so its exit code, stays what the
/// instances say. A dry run publishes nothing and tells the hooks instead.
async fn notify<H: RunHooks>(
    session: &Session,
    workloads: &[&Workload],
    notes: &[Notification],
    dry_run: bool,
    create: bool,
    hooks: &H,
) {
    let mut topics: Option<crate::aws::sns::Topics> = None;
    for n in notes {
        let Some(w) = workloads.iter().find(|w| w.name == n.workload) else {
            continue;
        };
        let Some(topic) = w.notify.as_ref().map(|t| t.sns_topic.as_str()) else {
            continue;
        };
        if dry_run {
            hooks.would_publish(topic, &w.region, &n.subject);
            continue;
        }
        let topics = match &mut topics {
            Some(t) => t,
            None => topics.insert(crate::aws::sns::Topics::new(session.sdk().await, create)),
        };
        let sent = match topics.arn(&w.region, topic).await {
            Ok(arn) => {
                let sns = topics.client(&w.region).clone();
                sns.publish(&arn, &n.subject, &n.message).await
            }
            Err(e) => Err(e),
        };
        match sent {
            Ok(()) => tracing::info!("notified SNS topic {topic}: {}", n.subject),
            Err(e) => hooks.warning(&format!(
                "workload {}: notification to SNS topic {topic} not sent: {e}",
                w.name
            )),
        }
    }
}

/// What `tierctl unlock` did for one workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unlocked {
    /// Nobody held it.
    NotLocked,
    /// The lease of this holder was removed.
    Removed {
        /// Who held it.
        holder: String,
        /// Whether it was still live (only with `force`).
        live: bool,
    },
    /// A live lease, left alone without `force`.
    Live {
        /// Who holds it.
        holder: String,
        /// Seconds until it expires unless renewed.
        left_seconds: i64,
    },
    /// Someone else took or released it meanwhile.
    Changed,
}

/// Removes stale leases. A live one (not expired by the skew margin) is
/// removed only with `force`; the removal is conditional on the holder
/// read, so a lease taken meanwhile by another run is never removed.
pub async fn unlock(
    session: &Session,
    table: &str,
    workloads: &[String],
    force: bool,
) -> Result<Vec<(String, Unlocked)>, PipelineError> {
    let (db, _) = session.config_tables().await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let margin = i64::try_from(lock::SKEW_MARGIN.as_secs()).unwrap_or(0);
    let mut out = Vec::new();
    for w in workloads {
        let Some(h) = db.get_lock(table, w).await? else {
            out.push((w.clone(), Unlocked::NotLocked));
            continue;
        };
        let live = h.expires_at.saturating_add(margin) >= now;
        if live && !force {
            out.push((
                w.clone(),
                Unlocked::Live {
                    holder: h.holder,
                    left_seconds: h.expires_at.saturating_sub(now).max(0),
                },
            ));
            continue;
        }
        let outcome = match db.release_lock(table, w, Some(&h.holder)).await? {
            Some(removed) => Unlocked::Removed {
                holder: removed.holder,
                live,
            },
            None => Unlocked::Changed,
        };
        out.push((w.clone(), outcome));
    }
    Ok(out)
}

/// `run cycle`: the original's test mode (`Orchestrator.py -t`), which
/// started a workload, waited and stopped it again, so a team can see a new
/// workload really come back before trusting the nightly schedule.
#[derive(Debug, Clone)]
pub struct CycleRequest {
    /// Where the configuration comes from.
    pub source: Source,
    /// Which workloads.
    pub selection: Selection,
    /// The start intent (profile, tiers, batch size); the stop uses the same tiers.
    pub start: Intent,
    /// How long the workload stays up between the start and the stop.
    pub pause: Duration,
    /// How to execute (both phases).
    pub options: Options,
    /// DynamoDB table of the run leases.
    pub lock_table: String,
    /// Create missing SNS topics instead of warning.
    pub create_topic: bool,
}

/// A finished cycle: the start, and the stop unless the cycle was interrupted.
#[derive(Debug, Clone)]
pub struct CycleOutcome {
    /// Start in start order, health gates included.
    pub start: RunOutcome,
    /// Stop in stop order; `None` when interrupted before it.
    pub stop: Option<RunOutcome>,
    /// The pause actually waited.
    pub paused: Duration,
    /// One exit code for the cycle: the worse of the phases'.
    pub exit: Exit,
}

/// Start, pause, stop: each phase is an ordinary run (plan, leases, fence,
/// report, notifications); the stop runs whatever the start's outcome, so
/// the fleet ends as it was found (stopped), unless a signal arrived, in
/// which case nothing more is done. A dry run does not pause.
pub async fn cycle<H: RunHooks>(
    session: &Session,
    req: CycleRequest,
    hooks: Arc<H>,
    cancel: watch::Receiver<bool>,
) -> Result<CycleOutcome, PipelineError> {
    let phase = |intent: Intent| RunRequest {
        target: Target::Fresh {
            source: req.source,
            selection: req.selection.clone(),
            intent,
        },
        options: req.options.clone(),
        lock_table: req.lock_table.clone(),
        create_topic: req.create_topic,
    };
    let start = run(
        session,
        phase(req.start.clone()),
        Arc::clone(&hooks),
        cancel.clone(),
    )
    .await?;
    let interrupted = |c: &watch::Receiver<bool>| *c.borrow();
    if start.report.interrupted || interrupted(&cancel) {
        let exit = start.exit;
        return Ok(CycleOutcome {
            start,
            stop: None,
            paused: Duration::ZERO,
            exit,
        });
    }
    let began = tokio::time::Instant::now();
    if !req.options.dry_run && !req.pause.is_zero() {
        hooks.warning(&format!(
            "started; stopping again in {} s (the cycle's pause)",
            req.pause.as_secs()
        ));
        let mut c = cancel.clone();
        tokio::select! {
            () = tokio::time::sleep(req.pause) => {}
            _ = c.wait_for(|v| *v) => {}
        }
    }
    let paused = began.elapsed();
    if interrupted(&cancel) {
        let exit = Exit::Interrupted;
        return Ok(CycleOutcome {
            start,
            stop: None,
            paused,
            exit,
        });
    }
    let stop_intent = Intent {
        action: crate::plan::Action::Stop,
        profile: None,
        ..req.start.clone()
    };
    let stop = run(session, phase(stop_intent), hooks, cancel).await?;
    let exit = worse(start.exit, stop.exit);
    Ok(CycleOutcome {
        start,
        stop: Some(stop),
        paused,
        exit,
    })
}

/// The exit code that says more: a signal, then an error, then skipped instances.
fn worse(a: Exit, b: Exit) -> Exit {
    let rank = |e: Exit| match e {
        Exit::Success => 0,
        Exit::Changes => 1,
        Exit::Skipped => 2,
        Exit::Error | Exit::StalePlan => 3,
        Exit::Interrupted | Exit::Terminated => 4,
    };
    if rank(b) > rank(a) { b } else { a }
}
