//! Saved plans: `tierctl plan ... --out plan.json` writes exactly what
//! `tierctl run --plan plan.json` will do, with everything it was made from
//! (the specs' digests, the observed state, the intent). Before executing,
//! `run --plan` reads the specs and the fleet again and refuses the plan
//! when either no longer matches what the plan assumed ("stale plan", exit
//! code 4), like Terraform's saved plans.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::PipelineError;
use super::config::Source;
use super::plan::Planned;
use crate::observe::{Instance, Observed, ObservedWorkload};
use crate::plan::{Action, Intent, Plan};
use crate::spec::Workload;

/// The `format` field of a saved plan.
pub const FORMAT: &str = "tierctl-plan";
/// Version of the saved plan format; bumped on incompatible change.
pub const VERSION: u32 = 1;

/// A plan saved by `plan --out`, executed by `run --plan`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SavedPlan {
    /// Always `tierctl-plan`.
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// The tierctl version that made the plan.
    pub tierctl_version: String,
    /// Where the configuration was read.
    pub source: Source,
    /// The configuration tables, when the source is DynamoDB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<SavedTables>,
    /// What was asked.
    pub intent: SavedIntent,
    /// The digest of each planned workload's spec, in plan order.
    pub specs: Vec<SpecDigest>,
    /// What AWS said when the plan was made.
    pub observed: Observed,
    /// Every step `run --plan` executes, with its batches.
    pub plan: Plan,
}

/// The tables a DynamoDB-sourced plan was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SavedTables {
    /// Region of the tables.
    pub region: String,
    /// Workload table name.
    pub workload_table: String,
    /// Tier table name.
    pub tier_table: String,
}

/// The intent a plan was made for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SavedIntent {
    /// stop or start.
    pub action: Action,
    /// Scaling profile (starts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Only these tiers (empty: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<String>,
    /// Instance ids per Stop/StartInstances call.
    pub batch_size: usize,
    /// Timeout of synchronous waits.
    pub wait_timeout_seconds: u32,
}

impl From<&Intent> for SavedIntent {
    fn from(i: &Intent) -> Self {
        SavedIntent {
            action: i.action,
            profile: i.profile.clone(),
            tiers: i.tiers.clone(),
            batch_size: i.batch_size,
            wait_timeout_seconds: i.wait_timeout_seconds,
        }
    }
}

impl From<&SavedIntent> for Intent {
    fn from(i: &SavedIntent) -> Self {
        Intent {
            action: i.action,
            profile: i.profile.clone(),
            tiers: i.tiers.clone(),
            batch_size: i.batch_size,
            wait_timeout_seconds: i.wait_timeout_seconds,
        }
    }
}

/// One workload's spec, by digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SpecDigest {
    /// Workload name.
    pub name: String,
    /// The file it was read from (YAML source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// SHA-256 of the spec's canonical JSON form (comments and layout of the
    /// YAML do not count; every value does).
    pub sha256: String,
}

/// The digest of a workload spec: SHA-256 of its canonical JSON (struct
/// fields in declaration order, maps sorted), so equal specs give equal
/// digests whatever the source (YAML or DynamoDB).
pub fn digest(w: &Workload) -> String {
    let json = serde_json::to_vec(w).expect("a workload serialises");
    Sha256::digest(&json)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl SavedPlan {
    /// The saved form of a plan. Only a plan made from an observed state can
    /// be saved: one made offline without instances names none.
    pub fn new(planned: &Planned, tables: Option<SavedTables>) -> Result<Self, PipelineError> {
        let Some(observed) = &planned.observed else {
            return Err(PipelineError::Usage(
                "--out needs an observed state: a plan made offline without --observed names no instances".into(),
            ));
        };
        Ok(SavedPlan {
            format: FORMAT.into(),
            version: VERSION,
            tierctl_version: env!("CARGO_PKG_VERSION").into(),
            source: planned.config.source,
            tables,
            intent: SavedIntent::from(&planned.intent),
            specs: planned
                .selected
                .iter()
                .map(|w| SpecDigest {
                    name: w.name.clone(),
                    file: planned
                        .config
                        .file_of(&w.name)
                        .map(|f| f.display().to_string()),
                    sha256: digest(w),
                })
                .collect(),
            observed: observed.clone(),
            plan: planned.plan.clone(),
        })
    }

    /// The file text: pretty, deterministic.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a saved plan serialises");
        s.push('\n');
        s
    }

    /// Reads a saved plan, naming what is wrong with the file.
    pub fn read(path: &Path) -> Result<Self, PipelineError> {
        let text = crate::load::read_json_file(path).map_err(|e| PipelineError::BadFile {
            path: path.to_path_buf(),
            message: e,
        })?;
        Self::parse(&text).map_err(|message| PipelineError::BadFile {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses a saved plan's text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let head: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        if head.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(format!(
                "not a tierctl saved plan (no \"format\": \"{FORMAT}\"); write one with `tierctl plan ... --out FILE`"
            ));
        }
        match head.get("version").and_then(serde_json::Value::as_u64) {
            Some(v) if v == u64::from(VERSION) => {}
            v => {
                return Err(format!(
                    "saved plan format version {} is not supported by this tierctl (expected {VERSION}); make the plan again",
                    v.map_or_else(|| "?".to_string(), |v| v.to_string())
                ));
            }
        }
        let saved: SavedPlan =
            serde_json::from_value(head).map_err(|e| format!("not a valid saved plan: {e}"))?;
        if saved.plan.action != saved.intent.action {
            return Err("the plan's action and its intent disagree: the file was edited".into());
        }
        let planned: Vec<&str> = saved
            .plan
            .workloads
            .iter()
            .map(|w| w.name.as_str())
            .collect();
        let digested: Vec<&str> = saved.specs.iter().map(|s| s.name.as_str()).collect();
        if planned != digested {
            return Err(
                "the plan's workloads and its spec digests disagree: the file was edited".into(),
            );
        }
        Ok(saved)
    }

    /// The workload names, in plan order.
    pub fn workload_names(&self) -> Vec<String> {
        self.specs.iter().map(|s| s.name.clone()).collect()
    }
}

/// A saved plan that no longer matches the specs or the fleet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stale plan: {} changed since the plan was made, so it was not executed; make a new plan\n{}", .what, .changes.iter().map(|c| format!("  - {c}")).collect::<Vec<_>>().join("\n"))]
pub struct Stale {
    /// "the specs", "the fleet" or "the specs and the fleet".
    pub what: String,
    /// Each difference, one line each.
    pub changes: Vec<String>,
}

/// Compares the saved plan's assumptions with what is true now. `specs` are
/// the workloads as read now (missing ones are absent); `observed` what AWS
/// says now. `Ok(())` when nothing the plan depends on changed.
pub fn check(saved: &SavedPlan, specs: &[&Workload], observed: &Observed) -> Result<(), Stale> {
    let mut spec_changes = Vec::new();
    for s in &saved.specs {
        match specs.iter().find(|w| w.name == s.name) {
            None => spec_changes.push(format!(
                "workload {}: no longer in the configuration",
                s.name
            )),
            Some(w) => {
                let now = digest(w);
                if now != s.sha256 {
                    spec_changes.push(format!(
                        "workload {}: spec changed{} (sha256 {} -> {})",
                        s.name,
                        s.file
                            .as_deref()
                            .map(|f| format!(" in {f}"))
                            .unwrap_or_default(),
                        &s.sha256[..s.sha256.len().min(12)],
                        &now[..12]
                    ));
                }
            }
        }
    }
    let fleet_changes = fleet_changes(&saved.observed, observed);
    let what = match (spec_changes.is_empty(), fleet_changes.is_empty()) {
        (true, true) => return Ok(()),
        (false, true) => "the specs",
        (true, false) => "the fleet",
        (false, false) => "the specs and the fleet",
    };
    Err(Stale {
        what: what.into(),
        changes: spec_changes.into_iter().chain(fleet_changes).collect(),
    })
}

/// The instance as far as a plan depends on it (its `Name` and launch time
/// only label it).
fn planning_view(i: &Instance) -> Instance {
    Instance {
        name: None,
        launch_time: None,
        ..i.clone()
    }
}

fn describe(i: &Instance) -> String {
    format!(
        "{} ({}, tier {})",
        i.id,
        i.state,
        i.tier.as_deref().unwrap_or("none")
    )
}

/// Every difference between two observed states that can change a plan.
pub fn fleet_changes(then: &Observed, now: &Observed) -> Vec<String> {
    let mut out = Vec::new();
    let names: BTreeSet<&String> = then.workloads.keys().chain(now.workloads.keys()).collect();
    let empty = ObservedWorkload::default();
    for name in names {
        let a = then.workloads.get(name).unwrap_or(&empty);
        let b = now.workloads.get(name).unwrap_or(&empty);
        let by_id = |w: &ObservedWorkload| -> BTreeMap<String, Instance> {
            w.instances
                .iter()
                .map(|i| (i.id.clone(), planning_view(i)))
                .collect()
        };
        let (ia, ib) = (by_id(a), by_id(b));
        for (id, x) in &ia {
            match ib.get(id) {
                None => out.push(format!(
                    "workload {name}: instance {} is no longer found",
                    describe(x)
                )),
                Some(y) if x != y => out.push(format!(
                    "workload {name}: instance {id}: {}",
                    instance_diff(x, y)
                )),
                Some(_) => {}
            }
        }
        for (id, y) in &ib {
            if !ia.contains_key(id) {
                out.push(format!(
                    "workload {name}: instance {} appeared",
                    describe(y)
                ));
            }
        }
        database_changes(name, a, b, &mut out);
        if a.instance_types != b.instance_types {
            out.push(format!(
                "workload {name}: the instance types involved describe differently"
            ));
        }
        out.extend(group_changes(name, a, b));
    }
    out
}

/// The Auto Scaling group differences that can change a plan: sizes, tier,
/// warm pool, Standby, the recorded-sizes and keep-running tags.
fn group_changes(name: &str, a: &ObservedWorkload, b: &ObservedWorkload) -> Vec<String> {
    let view = |w: &ObservedWorkload| -> BTreeMap<String, String> {
        w.groups
            .iter()
            .map(|g| {
                (
                    g.name.clone(),
                    format!(
                        "tier {}, min={},max={},desired={}, warm pool {}, {} in Standby, recorded sizes {}, keep-running {}",
                        g.tier.as_deref().unwrap_or("none"),
                        g.min_size,
                        g.max_size,
                        g.desired,
                        g.warm_pool,
                        g.count("Standby"),
                        g.recorded_sizes.as_deref().unwrap_or("none"),
                        g.keep_running.as_deref().unwrap_or("none"),
                    ),
                )
            })
            .collect()
    };
    let (ga, gb) = (view(a), view(b));
    let mut out = Vec::new();
    for (g, x) in &ga {
        match gb.get(g) {
            None => out.push(format!(
                "workload {name}: Auto Scaling group {g} is no longer found"
            )),
            Some(y) if x != y => out.push(format!(
                "workload {name}: Auto Scaling group {g}: {x} -> {y}"
            )),
            Some(_) => {}
        }
    }
    for (g, y) in &gb {
        if !ga.contains_key(g) {
            out.push(format!(
                "workload {name}: Auto Scaling group {g} appeared ({y})"
            ));
        }
    }
    out
}

/// The differences between two observations of a workload's DB instances
/// and clusters that can change a plan (the automatic restart time only
/// annotates it).
fn database_changes(name: &str, a: &ObservedWorkload, b: &ObservedWorkload, out: &mut Vec<String>) {
    use crate::observe::Database;
    let by_key =
        |w: &ObservedWorkload| -> BTreeMap<(crate::observe::DatabaseKind, String), Database> {
            w.databases
                .iter()
                .map(|d| {
                    let view = Database {
                        automatic_restart_time: None,
                        ..d.clone()
                    };
                    ((d.kind, d.id.clone()), view)
                })
                .collect()
        };
    let (da, db) = (by_key(a), by_key(b));
    for (k, x) in &da {
        match db.get(k) {
            None => out.push(format!("workload {name}: {} is no longer found", x.label())),
            Some(y) if x.status != y.status => out.push(format!(
                "workload {name}: {}: status {} -> {}",
                x.label(),
                x.status,
                y.status
            )),
            Some(y) if x != y => out.push(format!(
                "workload {name}: {}: tier, tags, membership or replicas changed",
                x.label()
            )),
            Some(_) => {}
        }
    }
    for (k, y) in &db {
        if !da.contains_key(k) {
            out.push(format!("workload {name}: {} appeared", y.label()));
        }
    }
}

fn instance_diff(x: &Instance, y: &Instance) -> String {
    let mut parts = Vec::new();
    if x.state != y.state {
        parts.push(format!("state {} -> {}", x.state, y.state));
    }
    if x.tier != y.tier {
        parts.push(format!(
            "tier {} -> {}",
            x.tier.as_deref().unwrap_or("none"),
            y.tier.as_deref().unwrap_or("none")
        ));
    }
    if x.instance_type != y.instance_type {
        parts.push(format!("type {} -> {}", x.instance_type, y.instance_type));
    }
    if x.classic_load_balancers != y.classic_load_balancers {
        parts.push("classic load balancers changed".into());
    }
    if x.target_groups != y.target_groups {
        parts.push("target groups changed".into());
    }
    if x.resize != y.resize {
        parts.push("resize attributes changed".into());
    }
    parts.join(", ")
}

/// Where a saved plan file is written: refuses to overwrite a directory.
pub fn write(path: &PathBuf, saved: &SavedPlan) -> Result<(), PipelineError> {
    std::fs::write(path, saved.to_json()).map_err(|source| PipelineError::Io {
        path: path.clone(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::{Database, DatabaseKind};

    fn with(status: &str, restart: Option<&str>) -> Observed {
        let mut o = Observed::default();
        o.workloads.insert(
            "Shop".into(),
            ObservedWorkload {
                region: "us-west-2".into(),
                databases: vec![Database {
                    kind: DatabaseKind::Cluster,
                    id: "sales".into(),
                    tier: Some("db".into()),
                    status: status.into(),
                    engine: "aurora-postgresql".into(),
                    cluster: None,
                    members: vec!["sales-1".into()],
                    replica_of: None,
                    replicas: Vec::new(),
                    multi_az: false,
                    global_cluster: None,
                    automatic_restart_time: restart.map(str::to_string),
                    keep_running: None,
                    tags_unread: false,
                }],
                databases_read_at: Some("2026-12-02T16:00:00Z".into()),
                ..ObservedWorkload::default()
            },
        );
        o
    }

    #[test]
    fn a_database_that_changed_status_makes_a_saved_plan_stale() {
        let then = with("available", None);
        assert!(fleet_changes(&then, &with("available", None)).is_empty());
        assert_eq!(
            fleet_changes(&then, &with("stopped", Some("2026-12-09T16:00:00Z"))),
            ["workload Shop: DB cluster sales: status available -> stopped"]
        );
        let mut gone = then.clone();
        gone.workloads.get_mut("Shop").unwrap().databases.clear();
        assert_eq!(
            fleet_changes(&then, &gone),
            ["workload Shop: DB cluster sales is no longer found"]
        );
        // The restart time only annotates a stopped DB.
        assert!(
            fleet_changes(
                &with("stopped", Some("2026-12-09T16:00:00Z")),
                &with("stopped", Some("2026-12-10T16:00:00Z"))
            )
            .is_empty()
        );
    }
}

#[cfg(test)]
mod asg_tests {
    use super::*;
    use crate::observe::Group;

    fn observed(desired: i32, recorded: Option<&str>) -> Observed {
        let mut o = Observed::default();
        o.workloads.insert(
            "Shop".into(),
            ObservedWorkload {
                region: "us-west-2".into(),
                groups: vec![Group {
                    name: "web".into(),
                    tier: Some("web".into()),
                    min_size: 1,
                    max_size: 4,
                    desired,
                    recorded_sizes: recorded.map(str::to_string),
                    ..Group::default()
                }],
                ..ObservedWorkload::default()
            },
        );
        o
    }

    #[test]
    fn a_group_that_changed_makes_the_plan_stale() {
        assert!(fleet_changes(&observed(2, None), &observed(2, None)).is_empty());
        let changes = fleet_changes(
            &observed(2, None),
            &observed(0, Some("min=1,max=4,desired=2")),
        );
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert!(changes[0].contains("Auto Scaling group web"), "{changes:?}");
        let gone = fleet_changes(&observed(2, None), &Observed::default());
        assert!(gone[0].contains("no longer found"), "{gone:?}");
    }
}
