//! Collecting what AWS says about the selected workloads, through a
//! read-only [`Observer`] (the AWS implementation lives in `aws::effects`,
//! test doubles in tests). Decides nothing: the planner reads the result.
//!
//! One paginated instance read per workload, the instance types a start
//! with a profile needs (one call per workload), and, for starts, the load
//! balancer membership once per region. Workloads are read concurrently.
//! A workload with a tier holding `rds` members also has its DB instances
//! and Aurora clusters read (one tag query, batched describes), beside
//! its instances.
//! Workloads with a tier holding `asg` also read their Auto Scaling groups
//! (one paginated, tag-filtered call per workload).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use futures_util::future::try_join_all;

use super::{Group, Instance, Observed, ObservedWorkload, TypeInfo};
use crate::error::AwsError;
use crate::spec::{MemberKind, Selector, Workload};

/// Where instances are load balanced, read once per region.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Membership {
    /// Classic load balancer names, by instance.
    pub classic: BTreeMap<String, Vec<String>>,
    /// ELBv2 target group ARNs, by instance.
    pub target_groups: BTreeMap<String, Vec<String>>,
}

/// Which load balancer kinds to read in a region.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Wanted {
    /// Classic load balancers (tiers that re-register at start).
    pub classic: bool,
    /// ELBv2 target groups (tiers with a health gate).
    pub target_groups: bool,
}

/// Read-only questions the observation stage asks AWS, beside
/// [`crate::execute::Effects`] (which changes things).
pub trait Observer: Send + Sync {
    /// Every instance carrying the workload tag (in the VPC, when set), sorted by id.
    fn instances(
        &self,
        region: &str,
        selector: &Selector,
    ) -> impl Future<Output = Result<Vec<Instance>, AwsError>> + Send;
    /// What the region says about these instance types (missing: no such type).
    fn instance_types(
        &self,
        region: &str,
        types: &[String],
    ) -> impl Future<Output = Result<BTreeMap<String, TypeInfo>, AwsError>> + Send;
    /// Which load balancers hold which instances in the region.
    fn membership(
        &self,
        region: &str,
        wanted: Wanted,
    ) -> impl Future<Output = Result<Membership, AwsError>> + Send;
    /// Every RDS DB instance and Aurora DB cluster carrying the workload tag
    /// (asked only for workloads with a tier holding `rds` members).
    fn databases(
        &self,
        region: &str,
        selector: &Selector,
    ) -> impl Future<Output = Result<super::ObservedDatabases, AwsError>> + Send {
        let _ = (region, selector);
        async { Ok(super::ObservedDatabases::default()) }
    }
    /// Every Auto Scaling group carrying the workload tag, sorted by name.
    /// (A double that has no groups need not implement it.)
    fn groups(
        &self,
        _region: &str,
        _selector: &Selector,
    ) -> impl Future<Output = Result<Vec<Group>, AwsError>> + Send {
        async { Ok(Vec::new()) }
    }
}

/// What a run is about to do, as far as observation cares: a start reads
/// load balancers, a start with a scaling profile reads instance types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purpose<'a> {
    /// A start (not a stop).
    pub start: bool,
    /// The scaling profile of the start.
    pub profile: Option<&'a str>,
}

/// The instance types a start with `purpose`'s profile involves for `w`
/// (current types are added once the instances are known); empty when no
/// resize can be planned.
fn target_types(w: &Workload, purpose: Purpose<'_>) -> Vec<String> {
    match (purpose.profile, purpose.start) {
        (Some(p), true) => w
            .tiers
            .iter()
            .filter_map(|t| t.scaling.get(p).cloned())
            .collect(),
        _ => Vec::new(),
    }
}

/// Observes one workload.
async fn workload<O: Observer>(
    observer: &O,
    w: &Workload,
    purpose: Purpose<'_>,
) -> Result<(String, ObservedWorkload), AwsError> {
    // DB instances and clusters only for a tier holding `rds` members,
    // read beside the instances.
    let wants_databases = w.tiers.iter().any(|t| t.holds(MemberKind::Rds));
    let (instances, databases) =
        futures_util::future::try_join(observer.instances(&w.region, &w.selector), async {
            if wants_databases {
                observer.databases(&w.region, &w.selector).await.map(Some)
            } else {
                Ok(None)
            }
        })
        .await?;
    let mut observed = ObservedWorkload {
        region: w.region.clone(),
        instances,
        ..ObservedWorkload::default()
    };
    if let Some(found) = databases {
        observed.databases = found.databases;
        observed.databases_read_at = Some(found.read_at);
    }
    let targets = target_types(w, purpose);
    if !targets.is_empty() {
        let types: BTreeSet<String> = observed
            .instances
            .iter()
            .map(|i| i.instance_type.clone())
            .chain(targets)
            .collect();
        let types: Vec<String> = types.into_iter().collect();
        observed.instance_types = observer.instance_types(&w.region, &types).await?;
        observed.types_read = true;
    }
    if w.tiers.iter().any(|t| t.holds(MemberKind::Asg)) {
        observed.groups = observer.groups(&w.region, &w.selector).await?;
    }
    Ok((w.name.clone(), observed))
}

/// Which load balancer kinds each region's starting tiers need.
fn wanted_by_region(selected: &[&Workload]) -> BTreeMap<String, Wanted> {
    let mut wants: BTreeMap<String, Wanted> = BTreeMap::new();
    for w in selected.iter().filter(|w| !w.disabled) {
        let entry = wants.entry(w.region.clone()).or_default();
        for s in w.tiers.iter().filter_map(|t| t.start.as_ref()) {
            // Classic membership: for re-registration and for the health gate.
            entry.classic |= s.reregister_load_balancers || s.wait_healthy;
            entry.target_groups |= s.wait_healthy;
        }
    }
    wants.retain(|_, w| w.classic || w.target_groups);
    wants
}

/// Observes the selected workloads concurrently. Starts also read the load
/// balancers that hold the instances of tiers that re-register or wait for
/// health, once per region, never per instance.
pub async fn collect<O: Observer>(
    observer: &O,
    selected: &[&Workload],
    purpose: Purpose<'_>,
) -> Result<Observed, AwsError> {
    let workloads = try_join_all(selected.iter().map(|w| workload(observer, w, purpose))).await?;
    let mut observed = Observed {
        workloads: workloads.into_iter().collect(),
        ..Observed::default()
    };
    if purpose.start {
        let wanted = wanted_by_region(selected);
        let found = try_join_all(wanted.into_iter().map(|(region, want)| async move {
            let m = observer.membership(&region, want).await?;
            Ok::<_, AwsError>((region, m))
        }))
        .await?;
        let by_region: BTreeMap<String, Membership> = found.into_iter().collect();
        for w in observed.workloads.values_mut() {
            let Some(m) = by_region.get(&w.region) else {
                continue;
            };
            for i in &mut w.instances {
                i.classic_load_balancers = m.classic.get(&i.id).cloned().unwrap_or_default();
                i.target_groups = m.target_groups.get(&i.id).cloned().unwrap_or_default();
            }
        }
    }
    Ok(observed)
}
