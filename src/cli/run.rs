//! `tierctl run stop|start (WORKLOAD... | --all)`

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;

use crate::execute::lock::{self, Leases};
use crate::execute::{self, Options, RunReport, Status, WorkloadReport};
use crate::exit::Exit;
use crate::notify::{Event, Notification};
use crate::observe::Observed;
use crate::output::Format;
use crate::plan;
use crate::spec::Workload;

use super::Global;
use super::plan::{Selection, intent, load_config, observe, step_summary};

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Observes, plans (the plan `tierctl plan` prints) and executes it: waves in order, the tiers \
of a wave together, batched and paced calls, synchronous tiers waited for, an override check before stopping tiers \
that have one. One run at a time per workload (a lease in DynamoDB). Ctrl-C: no new steps, calls in flight finish, \
locks are released, the report is printed.\n\n\
Workloads with `notify.snsTopic` get one SNS message per run listing what needs a human (bypassed, held back, \
failed, not attempted, kill switch, lock held, SSM output bucket in another region); a failed publish is a \
warning and does not change the exit code. A dry run publishes nothing and prints the subjects instead.\n\n\
Exit codes: 0 done, 1 error (a failed instance, a halted wave, a workload locked by another run), \
3 done but instances were deliberately bypassed or held back, 130 interrupted."
)]
pub struct Args {
    #[command(flatten)]
    selection: Selection,
    /// Make no state-changing call: check permissions with EC2 DryRun, make the override checks, report what would happen. The original's `-d`.
    #[arg(long, short = 'd')]
    dry_run: bool,
    /// Go on with later waves after a tier did not fully reach its state.
    #[arg(long)]
    continue_on_error: bool,
    /// Seconds the override check may take before unanswered instances are held back.
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    check_timeout: u64,
    /// Stop/Start calls in flight per tier.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=32), value_name = "N")]
    concurrency: u64,
    /// DynamoDB table holding the run leases (created when missing).
    #[arg(
        long,
        env = "TIERCTL_LOCK_TABLE",
        default_value = "TierctlLocks",
        value_name = "TABLE"
    )]
    lock_table: String,
    /// Create missing SNS topics (`notify.snsTopic`) instead of warning, as the original did.
    #[arg(long)]
    create_topic: bool,
}

pub(super) fn run(global: &Global, args: Args) -> anyhow::Result<Exit> {
    let format = global.output.unwrap_or(Format::Text);
    if matches!(format, Format::Github | Format::Markdown) {
        bail!("run prints text or json (the markdown summary goes to GITHUB_STEP_SUMMARY)");
    }
    let sel = &args.selection;
    super::block_on(async {
        let Some(config) = load_config(global, sel.from).await? else {
            return Ok(Exit::Error);
        };
        let selected = config.select(sel)?;
        let intent = intent(sel);
        plan::plan(&selected, None, &intent)?;

        // One run at a time per workload; a dry run changes nothing, so it takes no lock.
        let names: Vec<String> = selected.iter().map(|w| w.name.clone()).collect();
        let (leases, refused) = if args.dry_run {
            (None, Default::default())
        } else {
            let (db, _) = super::config_tables(global).await?;
            lock::ensure_table(&db, &args.lock_table).await?;
            let (leases, refused) = Leases::acquire(db, &args.lock_table, &names).await;
            (Some(leases), refused)
        };
        for (w, why) in &refused {
            eprintln!("error: workload {w}: {why}");
        }
        let runnable: Vec<&crate::spec::Workload> = selected
            .iter()
            .copied()
            .filter(|w| !refused.contains_key(&w.name))
            .collect();

        let outcome = async {
            // The SSM output bucket check runs beside the observation: it only warns.
            let (observed, bucket_events) =
                tokio::join!(observe(&runnable, &intent), bucket_events(&runnable));
            let observed = observed?;
            let plan = plan::plan(&runnable, Some(&observed), &intent)?;
            if format == Format::Text {
                let mut out = std::io::stdout();
                out.write_all(crate::report::plan_text(&plan, &runnable, global.color).as_bytes())?;
                out.flush()?;
            }
            let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
            let interrupt = tokio::spawn(async move {
                let mut first = true;
                while tokio::signal::ctrl_c().await.is_ok() {
                    if first {
                        eprintln!("interrupted: no new steps; waiting for calls in flight, then releasing locks (Ctrl-C again quits at once)");
                        let _ = cancel_tx.send(true);
                        first = false;
                    } else {
                        std::process::exit(i32::from(Exit::Interrupted.code()));
                    }
                }
            });
            let ssm_output = runnable
                .iter()
                .map(|w| {
                    let (b, p) = w.ssm.as_ref().map(|s| (Some(s.output_bucket.clone()), s.output_key_prefix.clone())).unwrap_or_default();
                    (w.name.clone(), (b, p))
                })
                .collect();
            let options = Options {
                dry_run: args.dry_run,
                continue_on_error: args.continue_on_error,
                concurrency: usize::try_from(args.concurrency).unwrap_or(4),
                check_timeout: Duration::from_secs(args.check_timeout),
                batch_size: intent.batch_size,
                ..Options::default()
            };
            let effects = Arc::new(crate::aws::effects::AwsEffects::new(crate::aws::load_config().await));
            let progress = Arc::new(crate::report::TierProgress::new(sel.action, args.dry_run));
            let report = execute::execute(&plan, effects, progress, options, ssm_output, cancel_rx).await;
            interrupt.abort();
            anyhow::Ok((plan, report, instance_names(&observed), bucket_events))
        }
        .await;
        if let Some(l) = leases {
            l.release().await;
        }
        let (plan, mut report, names, mut events) = outcome?;
        for (w, why) in &refused {
            report.workloads.push(WorkloadReport {
                name: w.clone(),
                skipped: Some(why.to_string()),
                halted: false,
                outcomes: Vec::new(),
                elapsed_ms: 0,
            });
        }

        let mut out = std::io::stdout();
        if format == Format::Json {
            let doc = serde_json::json!({
                "version": crate::output::JSON_VERSION,
                "plan": plan,
                "report": report,
                "exitCode": exit_for(&report, !refused.is_empty()).code(),
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        } else {
            writeln!(out)?;
            out.write_all(crate::report::run_text(&report, global.color).as_bytes())?;
        }
        step_summary(&crate::report::run_markdown(&report))?;

        for w in selected.iter().filter(|w| w.disabled) {
            events
                .entry(w.name.clone())
                .or_default()
                .push(Event::KillSwitch);
        }
        for (w, why) in &refused {
            let held = matches!(why, lock::Refused::Held(_));
            let why = why.to_string();
            events
                .entry(w.clone())
                .or_default()
                .push(Event::Locked { held, why });
        }
        let notes = crate::notify::notifications(&report, &events, &names);
        notify(&selected, &notes, args.dry_run, args.create_topic).await;
        Ok(exit_for(&report, !refused.is_empty()))
    })
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
async fn bucket_events(workloads: &[&Workload]) -> BTreeMap<String, Vec<Event>> {
    let mut events: BTreeMap<String, Vec<Event>> = BTreeMap::new();
    let wanted: Vec<(&Workload, &str)> = workloads
        .iter()
        .filter(|w| !w.disabled)
        .filter_map(|w| Some((*w, w.ssm.as_ref()?.output_bucket.as_str())))
        .collect();
    if wanted.is_empty() {
        return events;
    }
    let config = crate::aws::load_config().await;
    let mut buckets: BTreeMap<&str, &str> = BTreeMap::new();
    for (w, b) in &wanted {
        buckets.entry(b).or_insert(w.region.as_str());
    }
    let found = futures_util::future::join_all(buckets.into_iter().map(|(bucket, region)| {
        let s3 = crate::aws::s3::S3::new(&config, region);
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
/// instances say. A dry run publishes nothing and prints the subjects.
async fn notify(workloads: &[&Workload], notes: &[Notification], dry_run: bool, create: bool) {
    let mut topics: Option<crate::aws::sns::Topics> = None;
    for n in notes {
        let Some(w) = workloads.iter().find(|w| w.name == n.workload) else {
            continue;
        };
        let Some(topic) = w.notify.as_ref().map(|t| t.sns_topic.as_str()) else {
            continue;
        };
        if dry_run {
            eprintln!(
                "dry run: would publish to SNS topic {topic} ({}): {}",
                w.region, n.subject
            );
            continue;
        }
        let topics = match &mut topics {
            Some(t) => t,
            None => topics.insert(crate::aws::sns::Topics::new(
                &crate::aws::load_config().await,
                create,
            )),
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
            Err(e) => eprintln!(
                "warning: workload {}: notification to SNS topic {topic} not sent: {e}",
                w.name
            ),
        }
    }
}
