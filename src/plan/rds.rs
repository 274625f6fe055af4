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
            if d.engine.starts_with("custom-") {
                return Some(format!(
                    "RDS Custom ({}): StopDBInstance does not apply to it; not stopped",
                    d.engine
                ));
            }
            if d.engine.starts_with("aurora") {
                return Some(
                    "an Aurora DB instance: Aurora is stopped only through its cluster; not stopped"
                        .into(),
                );
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
    let mut dbs = dbs.to_vec();
    dbs.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
    let dbs = dbs.as_slice();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::{InstanceState, ObservedWorkload};
    use crate::plan::{Intent, plan_workload};
    use crate::spec::{StartAction, StopAction, Workload};

    fn workload(members: Vec<MemberKind>, sync: bool) -> Workload {
        let mut w = crate::spec::example_with_every_field();
        w.disabled = false;
        w.tiers = vec![crate::spec::Tier {
            name: "db".into(),
            stop: Some(StopAction {
                sequence: 0,
                synchronous: sync,
                delay_seconds: 0,
                override_file: None,
            }),
            start: Some(StartAction {
                sequence: 0,
                synchronous: sync,
                delay_seconds: 0,
                wait_healthy: true,
                health_timeout_seconds: 60,
                ..StartAction::new(0)
            }),
            scaling: BTreeMap::new(),
            members,
        }];
        w
    }

    fn db(kind: DatabaseKind, id: &str, status: &str) -> Database {
        Database {
            kind,
            id: id.into(),
            tier: Some("db".into()),
            status: status.into(),
            engine: "postgres".into(),
            cluster: None,
            members: Vec::new(),
            replica_of: None,
            replicas: Vec::new(),
            multi_az: false,
            global_cluster: None,
            automatic_restart_time: None,
            keep_running: None,
            tags_unread: false,
        }
    }

    fn observed(databases: Vec<Database>) -> ObservedWorkload {
        ObservedWorkload {
            region: "us-west-2".into(),
            databases,
            databases_read_at: Some("2026-12-02T16:00:00Z".into()),
            ..ObservedWorkload::default()
        }
    }

    fn tier_of(p: &crate::plan::WorkloadPlan) -> &TierPlan {
        &p.waves[0].tiers[0]
    }

    fn held(t: &TierPlan) -> Vec<(&str, &str)> {
        t.held_databases
            .iter()
            .map(|n| (n.database.as_str(), n.reason.as_str()))
            .collect()
    }

    use DatabaseKind::{Cluster, Instance};

    #[test]
    fn what_aws_refuses_is_held_with_the_reason_and_the_rest_is_stopped() {
        let w = workload(vec![MemberKind::Rds], true);
        let mut replica = db(Instance, "ro", "available");
        replica.replica_of = Some("src".into());
        let mut source = db(Instance, "src", "available");
        source.replicas = vec!["ro".into()];
        let mut mssql = db(Instance, "mssql", "available");
        mssql.engine = "sqlserver-ee".into();
        mssql.multi_az = true;
        let mut single_mssql = db(Instance, "mssql-single", "available");
        single_mssql.engine = "sqlserver-ee".into();
        let mut global = db(Cluster, "world", "available");
        global.global_cluster = Some("g".into());
        let mut cross = db(Cluster, "cross", "available");
        cross.replicas = vec!["arn:aws:rds:eu-west-1:1:cluster:copy".into()];
        let mut sales = db(Cluster, "sales", "available");
        sales.members = vec!["sales-1".into(), "sales-2".into()];
        let mut member = db(Instance, "sales-1", "available");
        member.cluster = Some("sales".into());
        let custom = Database {
            engine: "custom-oracle-ee".into(),
            ..db(Instance, "custom", "available")
        };
        let mut orphan = db(Instance, "lone-1", "available");
        orphan.cluster = Some("lone".into());
        let o = observed(vec![
            replica,
            source,
            mssql,
            single_mssql,
            global,
            cross,
            sales,
            member,
            orphan,
            db(Instance, "orders", "available"),
            custom,
        ]);
        let p = plan_workload(&w, Some(&o), &Intent::new(Action::Stop)).unwrap();
        let t = tier_of(&p);
        let Step::StopDatabases { databases } = &t.steps[0] else {
            panic!("{:?}", t.steps)
        };
        let ids: Vec<&str> = databases.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["mssql-single", "orders", "sales"]);
        assert_eq!(databases[2].members, ["sales-1", "sales-2"]);
        let held = held(t);
        let reason = |id: &str| held.iter().find(|(d, _)| *d == id).map(|(_, r)| *r);
        assert!(reason("ro").unwrap().contains("a read replica (of src)"));
        assert!(reason("src").unwrap().contains("has read replicas (ro)"));
        assert!(
            reason("mssql")
                .unwrap()
                .contains("SQL Server in a Multi-AZ")
        );
        assert!(reason("world").unwrap().contains("global database g"));
        assert!(reason("cross").unwrap().contains("cross-Region replica"));
        assert!(
            reason("lone-1")
                .unwrap()
                .contains("only through its cluster")
        );
        assert!(reason("custom").unwrap().contains("RDS Custom"));
        assert!(reason("sales-1").is_none(), "{held:?}");
        assert!(
            t.notes
                .iter()
                .any(|n| n.contains("sales-1 (of sales)") && n.contains("never alone")),
            "{:?}",
            t.notes
        );
        assert!(
            t.notes.iter().any(|n| n
                == "a stop now means AWS starts mssql-single, orders, sales again by itself on about 2026-12-09 16:00 UTC (after 7 days stopped)"),
            "{:?}",
            t.notes
        );
        assert!(matches!(
            &t.steps[1],
            Step::WaitDatabases { status, databases, .. } if status == "stopped" && databases.len() == 3
        ));
        assert_eq!(p.summary().act, 3);
        assert_eq!(p.summary().held, 7);
    }

    #[test]
    fn the_keep_running_tag_is_checked_fail_closed() {
        let w = workload(vec![MemberKind::Rds], false);
        let tagged = |id: &str, v: Option<&str>, unread: bool| Database {
            keep_running: v.map(str::to_string),
            tags_unread: unread,
            ..db(Instance, id, "available")
        };
        let o = observed(vec![
            tagged("a", Some("true"), false),
            tagged("b", Some(" TRUE "), false),
            tagged("c", Some("false"), false),
            tagged("d", Some("yes please"), false),
            tagged("e", None, true),
            tagged("f", None, false),
        ]);
        let p = plan_workload(&w, Some(&o), &Intent::new(Action::Stop)).unwrap();
        let t = tier_of(&p);
        let Step::StopDatabases { databases } = &t.steps[0] else {
            panic!("{:?}", t.steps)
        };
        let ids: Vec<&str> = databases.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["c", "f"]);
        let kept: Vec<&str> = t
            .held_databases
            .iter()
            .filter(|n| n.keep_running)
            .map(|n| n.database.as_str())
            .collect();
        assert_eq!(kept, ["a", "b"]);
        let held = held(t);
        assert!(held.contains(&(
            "d",
            "tag tierctl:keep-running has the value `yes please` (expected true or false): not stopped, to be safe"
        )));
        assert!(
            held.iter()
                .any(|(d, r)| *d == "e" && r.contains("could not be read"))
        );
        // The tag is an override of stops only.
        let stopped = observed(vec![tagged("a", Some("true"), false)]);
        let mut s = stopped.clone();
        s.databases[0].status = "stopped".into();
        let p = plan_workload(&w, Some(&s), &Intent::new(Action::Start)).unwrap();
        assert!(
            matches!(&tier_of(&p).steps[0], Step::StartDatabases { databases } if databases.len() == 1)
        );
    }

    #[test]
    fn states_transitions_and_the_automatic_restart_date() {
        let w = workload(vec![MemberKind::Rds], true);
        let stopped = Database {
            automatic_restart_time: Some("2026-12-08T09:30:00.000Z".into()),
            ..db(Instance, "old", "stopped")
        };
        let o = observed(vec![
            stopped.clone(),
            db(Instance, "going", "stopping"),
            db(Instance, "coming", "starting"),
            db(Instance, "busy", "backing-up"),
            db(Cluster, "up", "available"),
        ]);
        let stop = plan_workload(&w, Some(&o), &Intent::new(Action::Stop)).unwrap();
        let t = tier_of(&stop);
        let unchanged: Vec<(&str, &str)> = t
            .unchanged_databases
            .iter()
            .map(|n| (n.database.as_str(), n.reason.as_str()))
            .collect();
        assert_eq!(
            unchanged,
            [
                ("going", "already stopping"),
                (
                    "old",
                    "already stopped; AWS starts it again by itself on 2026-12-08 09:30 UTC"
                ),
            ]
        );
        let held_now = held(t);
        assert!(held_now.contains(&(
            "coming",
            "starting: AWS stops only an available DB; not stopped this run"
        )));
        assert!(
            held_now
                .iter()
                .any(|(d, r)| *d == "busy" && r.contains("status backing-up"))
        );
        // The wait includes the one already stopping.
        let Some(Step::WaitDatabases { databases, .. }) = t.steps.get(1) else {
            panic!("{:?}", t.steps)
        };
        let watched: Vec<&str> = databases.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(watched, ["going", "up"]);

        let start = plan_workload(&w, Some(&o), &Intent::new(Action::Start)).unwrap();
        let t = tier_of(&start);
        assert!(
            t.notes.contains(
                &"DB instance old is stopped; AWS starts it again by itself on 2026-12-08 09:30 UTC"
                    .to_string()
            ),
            "{:?}",
            t.notes
        );
        let kinds: Vec<&str> = t
            .steps
            .iter()
            .map(|s| match s {
                Step::StartDatabases { .. } => "start",
                Step::WaitDatabases { .. } => "wait",
                Step::DatabasesAvailable { .. } => "gate",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["start", "wait", "gate"]);
        assert!(held(t).iter().any(|(d, _)| *d == "going"));
    }

    #[test]
    fn a_tier_without_rds_members_leaves_databases_alone_and_ec2_plans_are_unchanged() {
        let w = workload(vec![MemberKind::Ec2], false);
        let o = observed(vec![db(Instance, "orders", "available")]);
        let p = plan_workload(&w, Some(&o), &Intent::new(Action::Stop)).unwrap();
        let t = tier_of(&p);
        assert!(t.steps.is_empty(), "{:?}", t.steps);
        assert!(held(t)[0].1.contains("does not hold rds members"));
        // Without databases, nothing of the RDS part shows in the plan's JSON.
        let o = ObservedWorkload {
            region: "us-west-2".into(),
            instances: vec![crate::observe::Instance {
                group: None,
                id: "i-1".into(),
                tier: Some("db".into()),
                state: InstanceState::Running,
                instance_type: "t3.micro".into(),
                name: None,
                launch_time: None,
                resize: None,
                classic_load_balancers: Vec::new(),
                target_groups: Vec::new(),
            }],
            ..ObservedWorkload::default()
        };
        let p = plan_workload(&w, Some(&o), &Intent::new(Action::Stop)).unwrap();
        let text = serde_json::to_string(&p).unwrap();
        assert!(!text.to_lowercase().contains("database"), "{text}");
        assert!(
            !serde_json::to_string(&o)
                .unwrap()
                .to_lowercase()
                .contains("database")
        );
        // An rds-only tier holds no EC2 instance.
        let w = workload(vec![MemberKind::Rds], false);
        let p = plan_workload(&w, Some(&o), &Intent::new(Action::Stop)).unwrap();
        let t = tier_of(&p);
        assert!(t.steps.is_empty(), "{:?}", t.steps);
        assert!(
            t.held[0].reason.contains("does not hold `ec2` members"),
            "{}",
            t.held[0].reason
        );
    }

    #[test]
    fn databases_of_no_tier_are_listed_and_replanning_after_a_run_is_a_no_op() {
        let w = workload(vec![MemberKind::Rds], true);
        let mut stray = db(Instance, "stray", "available");
        stray.tier = Some("cache".into());
        let mut untagged = db(Instance, "untagged", "available");
        untagged.tier = None;
        let o = observed(vec![stray, untagged, db(Instance, "orders", "available")]);
        let p = plan_workload(&w, Some(&o), &Intent::new(Action::Stop)).unwrap();
        let unmatched: Vec<&str> = p
            .unmatched_databases
            .iter()
            .map(|n| n.database.as_str())
            .collect();
        assert_eq!(unmatched, ["stray", "untagged"]);
        assert_eq!(p.summary().unmatched, 2);
        // After the stop, the plan is only no-ops.
        let mut after = o.clone();
        for d in &mut after.databases {
            if d.id == "orders" {
                d.status = "stopped".into();
            }
        }
        let again = plan_workload(&w, Some(&after), &Intent::new(Action::Stop)).unwrap();
        assert!(!again.has_actions(), "{again:?}");
        assert!(p.has_actions());
    }
}
