//! `tierctl plan stop|start (WORKLOAD... | --all)`

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::exit::Exit;
use crate::observe::{Observed, ObservedWorkload};
use crate::output::Format;
use crate::plan::{self, Action, Intent};
use crate::spec::Workload;
use crate::store::diff::{self, Desired, Scope};
use crate::store::{item, show, sync};

use super::Global;

/// Where a run's configuration comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Source {
    /// The workload files (validated first).
    Yaml,
    /// The synced DynamoDB tables (what a scheduled runner uses).
    Dynamodb,
}

/// What to plan: shared by `plan` and `run`.
#[derive(Debug, clap::Args)]
pub struct Selection {
    /// stop or start.
    #[arg(value_enum)]
    pub action: Action,
    /// Workloads (SpecName) to act on; the original's `-w`.
    #[arg(value_name = "WORKLOAD")]
    pub workloads: Vec<String>,
    /// Every workload; the original's `-a`.
    #[arg(long, short = 'a', conflicts_with = "workloads")]
    pub all: bool,
    /// Scaling profile applied at start (`tiers[].scaling`); the original's `-p`.
    #[arg(long, short = 'p', value_name = "NAME")]
    pub profile: Option<String>,
    /// Only these tiers (repeatable).
    #[arg(long = "tier", value_name = "TIER")]
    pub tiers: Vec<String>,
    /// Read the configuration from the YAML files or the synced DynamoDB tables.
    #[arg(long, value_enum, default_value = "yaml")]
    pub from: Source,
    /// Instance ids per Stop/StartInstances call.
    #[arg(long, default_value_t = plan::DEFAULT_BATCH_SIZE as u64, value_parser = clap::value_parser!(u64).range(1..=1000), value_name = "N")]
    pub batch_size: u64,
    /// Seconds a synchronous tier waits for its instances before failing.
    #[arg(long, default_value_t = plan::DEFAULT_WAIT_TIMEOUT_SECONDS, value_name = "SECONDS")]
    pub wait_timeout: u32,
}

/// Arguments of `plan`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Observes the instances (one paginated DescribeInstances per workload), shows the config diff \
that `sync --check` would show, then the ordered waves, tiers and steps of the run. Changes nothing.\n\n\
Exit codes: 0 ok (with --detailed-exitcode: nothing to do), 1 error, 2 actions or config changes (with --detailed-exitcode)."
)]
pub struct Args {
    #[command(flatten)]
    selection: Selection,
    /// No AWS calls at all: configuration from the YAML, instances from --observed or none.
    #[arg(long)]
    offline: bool,
    /// Use this saved observed state instead of asking EC2.
    #[arg(long, value_name = "FILE")]
    observed: Option<PathBuf>,
    /// Save the observed state to this file (JSON), to reproduce the plan offline.
    #[arg(long, value_name = "FILE", conflicts_with = "observed")]
    save_observed: Option<PathBuf>,
    /// Exit 2 when the run would change anything or the config drifted, 0 when not.
    #[arg(long)]
    detailed_exitcode: bool,
}

/// The configuration a plan is made from.
pub struct Config {
    /// Workloads with their files (YAML) or none (DynamoDB).
    pub workloads: Vec<(Option<PathBuf>, Workload)>,
}

impl Config {
    /// The selected workloads, in the order asked for; unknown names are an error.
    pub fn select(&self, sel: &Selection) -> anyhow::Result<Vec<&Workload>> {
        if sel.all {
            return Ok(self.workloads.iter().map(|(_, w)| w).collect());
        }
        if sel.workloads.is_empty() {
            bail!("name the workloads to {} or use --all", sel.action.as_str());
        }
        sel.workloads
            .iter()
            .map(|name| {
                self.workloads
                    .iter()
                    .find(|(_, w)| &w.name == name)
                    .map(|(_, w)| w)
                    .with_context(|| {
                        let known: Vec<&str> = self
                            .workloads
                            .iter()
                            .map(|(_, w)| w.name.as_str())
                            .collect();
                        format!("unknown workload `{name}` (known: {})", known.join(", "))
                    })
            })
            .collect()
    }
}

/// Loads the configuration from YAML (validated) or DynamoDB. `None`: invalid YAML, already reported.
pub async fn load_config(global: &Global, from: Source) -> anyhow::Result<Option<Config>> {
    match from {
        Source::Yaml => Ok(super::load_valid(global, &[])?.map(|ws| Config {
            workloads: ws.into_iter().map(|(f, w)| (Some(f), w)).collect(),
        })),
        Source::Dynamodb => {
            let (db, ctx) = super::config_tables(global).await?;
            let state = sync::inspect(&db, &ctx.names).await?;
            if let Some(t) = state.missing.first() {
                return Err(crate::error::StoreError::Missing {
                    table: t.clone(),
                    region: ctx.region,
                }
                .into());
            }
            let current = sync::read_current(&db, &ctx.names, &state).await?;
            let mut workloads = Vec::new();
            for (name, w) in &current.workloads {
                let tiers: Vec<item::Item> = current
                    .tiers
                    .get(name)
                    .map(|t| t.values().cloned().collect())
                    .unwrap_or_default();
                let imported = item::from_items(w, &tiers)
                    .with_context(|| format!("reading workload {name} from DynamoDB"))?;
                for u in &imported.unknown {
                    tracing::warn!("{u}");
                }
                workloads.push((None, imported.workload));
            }
            Ok(Some(Config { workloads }))
        }
    }
}

/// Observes the selected workloads concurrently (one DescribeInstances pager
/// each). A start with a profile also reads the instance types involved
/// (one `DescribeInstanceTypes` per workload), for the compatibility checks.
pub async fn observe(selected: &[&Workload], intent: &Intent) -> anyhow::Result<Observed> {
    let config = crate::aws::load_config().await;
    let mut set = tokio::task::JoinSet::new();
    for w in selected {
        let ec2 = crate::aws::ec2::Ec2::new(&config, &w.region);
        let selector = w.selector.clone();
        let name = w.name.clone();
        let region = w.region.clone();
        let targets: Vec<String> = match (&intent.profile, intent.action) {
            (Some(p), Action::Start) => w
                .tiers
                .iter()
                .filter_map(|t| t.scaling.get(p).cloned())
                .collect(),
            _ => Vec::new(),
        };
        set.spawn(async move {
            let instances = ec2
                .workload_instances(&selector, &selector.tier_tag_key)
                .await?;
            let mut observed = ObservedWorkload {
                region,
                instances,
                ..ObservedWorkload::default()
            };
            if !targets.is_empty() {
                let mut types: Vec<String> = observed
                    .instances
                    .iter()
                    .map(|i| i.instance_type.clone())
                    .chain(targets)
                    .collect();
                types.sort();
                types.dedup();
                observed.instance_types = ec2.instance_types(&types).await?;
                observed.types_read = true;
            }
            Ok::<_, crate::aws::AwsError>((name, observed))
        });
    }
    let mut observed = Observed::default();
    while let Some(joined) = set.join_next().await {
        let (name, workload) = joined
            .context("observing instances")?
            .context("observing a workload")?;
        observed.workloads.insert(name, workload);
    }
    if intent.action == Action::Start {
        attach_load_balancers(&config, selected, &mut observed).await?;
    }
    Ok(observed)
}

/// Reads, once per region, which classic load balancers and ELBv2 target
/// groups hold the instances of tiers that re-register or wait for health.
async fn attach_load_balancers(
    config: &aws_config::SdkConfig,
    selected: &[&Workload],
    observed: &mut Observed,
) -> anyhow::Result<()> {
    let mut wants: std::collections::BTreeMap<String, (bool, bool)> =
        std::collections::BTreeMap::new();
    for w in selected {
        let entry = wants.entry(w.region.clone()).or_default();
        for s in w.tiers.iter().filter_map(|t| t.start.as_ref()) {
            entry.0 |= s.reregister_load_balancers;
            entry.1 |= s.wait_healthy;
        }
    }
    let mut set = tokio::task::JoinSet::new();
    for (region, (classic, v2)) in wants {
        let elb = crate::aws::elb::Elb::new(config, &region);
        set.spawn(async move {
            let mut m = crate::aws::elb::Membership::default();
            if classic {
                m.classic = elb.classic_membership().await?;
            }
            if v2 {
                m.target_groups = elb.target_group_membership().await?;
            }
            Ok::<_, crate::aws::AwsError>((region, m))
        });
    }
    let mut by_region = std::collections::BTreeMap::new();
    while let Some(joined) = set.join_next().await {
        let (region, m) = joined
            .context("discovering load balancers")?
            .context("discovering load balancers")?;
        by_region.insert(region, m);
    }
    for w in observed.workloads.values_mut() {
        let Some(m) = by_region.get(&w.region) else {
            continue;
        };
        for i in &mut w.instances {
            i.classic_load_balancers = m.classic.get(&i.id).cloned().unwrap_or_default();
            i.target_groups = m.target_groups.get(&i.id).cloned().unwrap_or_default();
        }
    }
    Ok(())
}

/// The intent a selection asks for.
pub fn intent(sel: &Selection) -> Intent {
    Intent {
        action: sel.action,
        profile: sel.profile.clone(),
        tiers: sel.tiers.clone(),
        batch_size: usize::try_from(sel.batch_size).unwrap_or(plan::DEFAULT_BATCH_SIZE),
        wait_timeout_seconds: sel.wait_timeout,
    }
}

/// Appends markdown to the GitHub step summary when there is one.
pub fn step_summary(markdown: &str) -> anyhow::Result<()> {
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| {
                format!(
                    "opening GITHUB_STEP_SUMMARY {}",
                    PathBuf::from(&path).display()
                )
            })?;
        f.write_all(markdown.as_bytes())?;
    }
    Ok(())
}

pub(super) fn run(global: &Global, args: Args) -> anyhow::Result<Exit> {
    let format = global.output.unwrap_or(Format::Text);
    if format == Format::Github {
        bail!("plan prints text, json or markdown");
    }
    let sel = &args.selection;
    if args.offline && sel.from == Source::Dynamodb {
        bail!("--offline reads the YAML only; it cannot be combined with --from dynamodb");
    }
    super::block_on(async {
        let Some(config) = load_config(global, sel.from).await? else {
            return Ok(Exit::Error);
        };
        let selected = config.select(sel)?;
        // Plan first from nothing: a bad profile or tier fails before any AWS call.
        plan::plan(&selected, None, &intent(sel))?;

        let config_diff = if args.offline || sel.from == Source::Dynamodb {
            None
        } else {
            let (db, ctx) = super::config_tables(global).await?;
            let state = sync::inspect(&db, &ctx.names).await?;
            let current = sync::read_current(&db, &ctx.names, &state).await?;
            let desired: Vec<Desired<'_>> = config
                .workloads
                .iter()
                .filter(|(_, w)| selected.iter().any(|s| s.name == w.name))
                .map(|(f, w)| Desired {
                    workload: w,
                    file: f.clone(),
                })
                .collect();
            let changes = diff::diff(
                &desired,
                &current,
                Scope {
                    complete: sel.all,
                    prune: false,
                },
            );
            Some((
                changes,
                show::Context {
                    missing_tables: state.missing,
                    ..ctx
                },
            ))
        };

        let observed = match (&args.observed, args.offline) {
            (Some(path), _) => Some(crate::load::read_observed(path)?),
            (None, true) => None,
            (None, false) => Some(observe(&selected, &intent(sel)).await?),
        };
        if let (Some(path), Some(o)) = (&args.save_observed, &observed) {
            std::fs::write(path, o.to_json())
                .with_context(|| format!("writing {}", path.display()))?;
        }
        let plan = plan::plan(&selected, observed.as_ref(), &intent(sel))?;
        let drift = config_diff
            .as_ref()
            .is_some_and(|(c, ctx)| c.has_changes() || !ctx.missing_tables.is_empty());

        let markdown = || {
            let mut md = String::new();
            if let Some((c, ctx)) = &config_diff {
                md.push_str(&show::markdown(c, ctx));
            } else if args.offline {
                md.push_str(if observed.is_some() {
                    "_Offline plan: no AWS calls were made; instances from a saved observed state; the config diff is not shown._\n\n"
                } else {
                    "_Offline plan: no AWS calls were made (no credentials); the config diff and the instances are not shown._\n\n"
                });
            }
            md.push_str(&crate::report::plan_markdown(&plan, &selected));
            md
        };
        let text = match format {
            Format::Json => {
                let doc = serde_json::json!({
                    "version": crate::output::JSON_VERSION,
                    "config": config_diff.as_ref().map(|(c, ctx)| show::json(c, ctx)),
                    "plan": plan,
                    "summary": plan.summary(),
                });
                let mut s = serde_json::to_string_pretty(&doc)?;
                s.push('\n');
                s
            }
            Format::Markdown => markdown(),
            _ => {
                let mut s = String::new();
                if let Some((c, ctx)) = &config_diff {
                    s.push_str(&show::text(c, ctx, global.color));
                    s.push('\n');
                }
                s.push_str(&crate::report::plan_text(&plan, &selected, global.color));
                s
            }
        };
        std::io::stdout().write_all(text.as_bytes())?;
        step_summary(&markdown())?;
        Ok(if args.detailed_exitcode && (plan.has_actions() || drift) {
            Exit::Changes
        } else {
            Exit::Success
        })
    })
}
