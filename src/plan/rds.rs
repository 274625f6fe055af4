//! The RDS part of a tier's plan: DB instances and Aurora DB clusters.
//!
//! AWS stops and starts them one identifier per call; an Aurora member only
//! through its cluster. What AWS refuses (read replicas, instances with
//! read replicas, RDS for SQL Server Multi-AZ, clusters in a global
//! database or with a cross-Region replica) is held back with the reason
//! rather than tried. A stopped DB is started again by AWS after 7 days:
//! the plan says when, from the observed data only (pure).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Action, Part, Step, TierPlan};
use crate::observe::ObservedWorkload;
use crate::observe::rds::{self as observed_rds, Database, DatabaseKind, KEEP_RUNNING_TAG};
use crate::spec::{MemberKind, Tier};

/// Days after which AWS starts a stopped DB instance or cluster again by itself.
pub const AUTOMATIC_RESTART_DAYS: i64 = 7;

/// A DB instance or cluster a step acts on.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseTarget {
    /// Instance or cluster.
    pub kind: DatabaseKind,
    /// Its identifier.
    pub id: String,
    /// A cluster's member instances (acted on through it, never alone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
}

impl DatabaseTarget {
    /// `DB instance orders` / `DB cluster sales (members sales-1, sales-2)`.
    pub fn label(&self) -> String {
        if self.members.is_empty() {
            format!("{} {}", self.kind.words(), self.id)
        } else {
            format!(
                "{} {} (members {})",
                self.kind.words(),
                self.id,
                self.members.join(", ")
            )
        }
    }
}

/// A DB instance or cluster not acted on, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseNote {
    /// Instance or cluster.
    pub kind: DatabaseKind,
    /// Its identifier.
    pub database: String,
    /// Its observed status.
    pub status: String,
    /// Why.
    pub reason: String,
    /// Kept running by its `tierctl:keep-running=true` tag (its override).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_running: bool,
}

fn note(d: &Database, reason: impl Into<String>) -> DatabaseNote {
    DatabaseNote {
        kind: d.kind,
        database: d.id.clone(),
        status: d.status.clone(),
        reason: reason.into(),
        keep_running: false,
    }
}

/// The databases of a workload sorted by tier: `(tier -> databases)` and
/// the notes of those no tier of the spec claims. A cluster's members go
/// with their cluster (listed only when they carry another tier's tag).
pub(super) fn by_tier<'o>(
    known: &std::collections::BTreeSet<&str>,
    observed: Option<&'o ObservedWorkload>,
) -> (BTreeMap<String, Vec<&'o Database>>, Vec<DatabaseNote>) {
    let mut by: BTreeMap<String, Vec<&Database>> = BTreeMap::new();
    let mut unmatched = Vec::new();
    let all = observed.map(|o| o.databases.as_slice()).unwrap_or_default();
    for d in all {
        let member_of_observed = d.kind == DatabaseKind::Instance
            && d.cluster.as_ref().is_some_and(|c| {
                all.iter()
                    .any(|x| x.kind == DatabaseKind::Cluster && &x.id == c)
            });
        match d.tier.as_deref() {
            Some(t) if known.contains(t) => by.entry(t.to_string()).or_default().push(d),
            _ if member_of_observed || d.status == "deleting" => {}
            tier => unmatched.push(note(
                d,
                match tier {
                    Some(t) => format!("tier tag `{t}` names no tier of the spec"),
                    None => "no tier tag".to_string(),
                },
            )),
        }
    }
    unmatched.sort_by(|a, b| (a.kind, &a.database).cmp(&(b.kind, &b.database)));
    (by, unmatched)
}

/// What the action does to a tier's databases.
#[derive(Default)]
struct Sorted {
    act: Vec<DatabaseTarget>,
    in_flight: Vec<DatabaseTarget>,
}

fn target(d: &Database) -> DatabaseTarget {
    DatabaseTarget {
        kind: d.kind,
        id: d.id.clone(),
        members: d.members.clone(),
    }
}

/// Why AWS would refuse to stop `d`, if it would.
fn stop_refused(d: &Database) -> Option<String> {
    match d.kind {
        DatabaseKind::Instance => {
            if let Some(src) = &d.replica_of {
                return Some(format!(
                    "a read replica (of {src}): AWS refuses to stop read replicas; not stopped"
                ));
            }
            if !d.replicas.is_empty() {
                return Some(format!(
                    "has read replicas ({}): AWS refuses to stop an instance with read replicas; not stopped",
                    d.replicas.join(", ")
                ));
            }
            if d.multi_az && d.engine.starts_with("sqlserver") {
                return Some(
                    "RDS for SQL Server in a Multi-AZ deployment: AWS refuses to stop it; not stopped"
                        .into(),
                );
            }
            None
        }
        DatabaseKind::Cluster => {
            if let Some(g) = &d.global_cluster {
                return Some(format!(
                    "part of the global database {g}: AWS refuses to stop its clusters; not stopped"
                ));
            }
            if !d.replicas.is_empty() {
                return Some(format!(
                    "has a cross-Region replica or is one ({}): AWS refuses to stop it; not stopped",
                    d.replicas.join(", ")
                ));
            }
            None
        }
    }
}

/// The keep-running tag, fail-closed: `Err(note)` unless the DB may be stopped.
fn keep_running(d: &Database) -> Result<(), DatabaseNote> {
    if d.tags_unread {
        return Err(note(
            d,
            format!(
                "its tags could not be read, so its {KEEP_RUNNING_TAG} tag is unknown: not stopped, to be safe"
            ),
        ));
    }
    match d.keep_running.as_deref().map(str::trim) {
        None => Ok(()),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(()),
        Some(v) if v.eq_ignore_ascii_case("true") => Err(DatabaseNote {
            keep_running: true,
            ..note(d, format!("tag {KEEP_RUNNING_TAG}=true: kept running"))
        }),
        Some(v) => Err(note(
            d,
            format!(
                "tag {KEEP_RUNNING_TAG} has the value `{}` (expected true or false): not stopped, to be safe",
                crate::text::plain(v)
            ),
        )),
    }
}

fn restarts_on(d: &Database) -> String {
    d.automatic_restart_time
        .as_deref()
        .map(|t| {
            format!(
                "; AWS starts it again by itself on {}",
                observed_rds::readable(t)
            )
        })
        .unwrap_or_default()
}

fn sort(dbs: &[&Database], action: Action, tp: &mut TierPlan) -> Sorted {
    let mut s = Sorted::default();
    let mut members: Vec<String> = Vec::new();
    for &d in dbs {
        if d.kind == DatabaseKind::Instance
            && let Some(c) = &d.cluster
        {
            let cluster_here = dbs
                .iter()
                .any(|x| x.kind == DatabaseKind::Cluster && &x.id == c);
            if cluster_here {
                members.push(format!("{} (of {c})", d.id));
            } else {
                tp.held_databases.push(note(
                    d,
                    format!("a member of Aurora DB cluster {c}, which is not in this tier: a member is stopped and started only through its cluster; not acted on"),
                ));
            }
            continue;
        }
        let status = d.status.as_str();
        match (action, status) {
            (Action::Stop, "stopped") => tp
                .unchanged_databases
                .push(note(d, format!("already stopped{}", restarts_on(d)))),
            (Action::Stop, "stopping") => {
                tp.unchanged_databases.push(note(d, "already stopping"));
                s.in_flight.push(target(d));
            }
            (Action::Start, "available") => {
                tp.unchanged_databases.push(note(d, "already available"));
            }
            (Action::Start, "starting") => {
                tp.unchanged_databases.push(note(d, "already starting"));
                s.in_flight.push(target(d));
            }
            (Action::Stop, "available") => {
                if let Some(why) = stop_refused(d) {
                    tp.held_databases.push(note(d, why));
                } else if let Err(n) = keep_running(d) {
                    tp.held_databases.push(n);
                } else {
                    s.act.push(target(d));
                }
            }
            (Action::Start, "stopped") => {
                if d.automatic_restart_time.is_some() {
                    tp.notes
                        .push(format!("{} is stopped{}", d.label(), restarts_on(d)));
                }
                s.act.push(target(d));
            }
            (Action::Stop, "starting") => tp.held_databases.push(note(
                d,
                "starting: AWS stops only an available DB; not stopped this run",
            )),
            (Action::Start, "stopping") => tp.held_databases.push(note(
                d,
                "stopping: can be started only once stopped; not started this run",
            )),
            (Action::Stop, other) => tp.held_databases.push(note(
                d,
                format!("status {other}: AWS stops only an available DB; not stopped this run"),
            )),
            (Action::Start, other) => tp.held_databases.push(note(
                d,
                format!("status {other}: AWS starts only a stopped DB; not started this run"),
            )),
        }
    }
    if !members.is_empty() {
        tp.notes.push(format!(
            "Aurora members acted on through their cluster, never alone: {}",
            members.join(", ")
        ));
    }
    s
}

/// The tier's database steps (stop or start, the synchronous wait, the
/// health gate); returns whether any database is acted on.
pub(super) fn plan_databases(
    tier: &Tier,
    part: Part<'_>,
    observed: Option<&ObservedWorkload>,
    dbs: &[&Database],
    intent: &super::Intent,
    tp: &mut TierPlan,
) -> bool {
    if !tier.holds(MemberKind::Rds) {
        for d in dbs {
            tp.held_databases.push(note(
                d,
                "the tier does not hold rds members (`members` lacks `rds`): not acted on",
            ));
        }
        return false;
    }
    let Some(observed) = observed else {
        tp.notes.push(
            "DB instances and Aurora clusters with the tier tag are found at run time".into(),
        );
        return false;
    };
    if let Part::Stop(stop) = part
        && stop.override_file.is_some()
    {
        tp.notes.push(format!(
            "the override file does not apply to DB instances and clusters: their override is the tag {KEEP_RUNNING_TAG}=true"
        ));
    }
    let sorted = sort(dbs, intent.action, tp);
    let acts = !sorted.act.is_empty();
    match part {
        Part::Stop(_) => {
            if acts {
                if let Some(on) = observed
                    .databases_read_at
                    .as_deref()
                    .and_then(|t| observed_rds::add_days(t, AUTOMATIC_RESTART_DAYS))
                {
                    tp.notes.push(format!(
                        "a stop now means AWS starts {} again by itself on about {on} (after {AUTOMATIC_RESTART_DAYS} days stopped)",
                        sorted
                            .act
                            .iter()
                            .map(|t| t.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                tp.steps.push(Step::StopDatabases {
                    databases: sorted.act.clone(),
                });
            }
        }
        Part::Start(_) => {
            if acts {
                tp.steps.push(Step::StartDatabases {
                    databases: sorted.act.clone(),
                });
            }
        }
    }
    let mut watched: Vec<DatabaseTarget> = sorted
        .act
        .iter()
        .chain(&sorted.in_flight)
        .cloned()
        .collect();
    watched.sort();
    if watched.is_empty() {
        return acts;
    }
    let status = match intent.action {
        Action::Stop => "stopped",
        Action::Start => "available",
    };
    if part.synchronous() {
        tp.steps.push(Step::WaitDatabases {
            status: status.into(),
            databases: watched.clone(),
            timeout_seconds: intent.wait_timeout_seconds,
        });
    }
    if let Part::Start(start) = part
        && start.wait_healthy
    {
        tp.steps.push(Step::DatabasesAvailable {
            databases: watched,
            timeout_seconds: start.health_timeout_seconds,
        });
    }
    acts
}
