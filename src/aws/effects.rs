//! The run's side effects on AWS: [`Effects`] with the SDK clients, one
//! client per service and region, built once per run.

use std::collections::BTreeMap;
use std::sync::Mutex;

use aws_config::SdkConfig;

use super::AwsError;
use super::autoscaling::AutoScaling;
use super::ec2::Ec2;
use super::elb::Elb;
use super::rds::Rds;
use super::ssm::{OverrideRequest, Ssm};
use crate::execute::{CheckOutcome, Effects, OverrideCheck};
use crate::observe::InstanceState;

/// Effects on real AWS (or whatever `AWS_ENDPOINT_URL` points at).
#[derive(Debug)]
pub struct AwsEffects {
    config: SdkConfig,
    ec2: Mutex<BTreeMap<String, Ec2>>,
    ssm: Mutex<BTreeMap<String, Ssm>>,
    elb: Mutex<BTreeMap<String, Elb>>,
    rds: Mutex<BTreeMap<String, Rds>>,
    autoscaling: Mutex<BTreeMap<String, AutoScaling>>,
}

impl AwsEffects {
    /// Effects using this SDK configuration.
    pub fn new(config: SdkConfig) -> Self {
        AwsEffects {
            config,
            ec2: Mutex::new(BTreeMap::new()),
            ssm: Mutex::new(BTreeMap::new()),
            elb: Mutex::new(BTreeMap::new()),
            rds: Mutex::new(BTreeMap::new()),
            autoscaling: Mutex::new(BTreeMap::new()),
        }
    }

    fn ec2(&self, region: &str) -> Ec2 {
        let mut map = self.ec2.lock().expect("client cache lock");
        map.entry(region.to_string())
            .or_insert_with(|| Ec2::new(&self.config, region))
            .clone()
    }

    fn elb(&self, region: &str) -> Elb {
        let mut map = self.elb.lock().expect("client cache lock");
        map.entry(region.to_string())
            .or_insert_with(|| Elb::new(&self.config, region))
            .clone()
    }

    fn rds(&self, region: &str) -> Rds {
        let mut map = self.rds.lock().expect("client cache lock");
        map.entry(region.to_string())
            .or_insert_with(|| Rds::new(&self.config, region))
            .clone()
    }

    fn autoscaling(&self, region: &str) -> AutoScaling {
        let mut map = self.autoscaling.lock().expect("client cache lock");
        map.entry(region.to_string())
            .or_insert_with(|| AutoScaling::new(&self.config, region))
            .clone()
    }

    fn ssm(&self, region: &str) -> Ssm {
        let mut map = self.ssm.lock().expect("client cache lock");
        map.entry(region.to_string())
            .or_insert_with(|| Ssm::new(&self.config, region))
            .clone()
    }
}

impl Effects for AwsEffects {
    async fn stop(&self, region: &str, ids: &[String], dry_run: bool) -> Result<(), AwsError> {
        self.ec2(region).stop(ids, dry_run).await
    }

    async fn start(&self, region: &str, ids: &[String], dry_run: bool) -> Result<(), AwsError> {
        self.ec2(region).start(ids, dry_run).await
    }

    async fn states(
        &self,
        region: &str,
        ids: &[String],
    ) -> Result<BTreeMap<String, InstanceState>, AwsError> {
        self.ec2(region).states(ids).await
    }

    async fn resize(
        &self,
        region: &str,
        r: &crate::plan::Resize,
        dry_run: bool,
    ) -> Result<(), AwsError> {
        let ec2 = self.ec2(region);
        if r.disable_ebs_optimized {
            ec2.disable_ebs_optimized(&r.instance, dry_run).await?;
        }
        ec2.set_type(&r.instance, &r.to, dry_run).await
    }

    async fn deregister_classic(
        &self,
        region: &str,
        lb: &str,
        ids: &[String],
    ) -> Result<(), AwsError> {
        self.elb(region).deregister(lb, ids).await
    }

    async fn register_classic(
        &self,
        region: &str,
        lb: &str,
        ids: &[String],
    ) -> Result<(), AwsError> {
        self.elb(region).register(lb, ids).await
    }

    async fn unhealthy(
        &self,
        region: &str,
        target_groups: &BTreeMap<String, Vec<String>>,
        ids: &[String],
    ) -> Result<BTreeMap<String, String>, AwsError> {
        let mut why: BTreeMap<String, String> = BTreeMap::new();
        let elb = self.elb(region);
        for (tg, members) in target_groups {
            let members: Vec<String> = members
                .iter()
                .filter(|m| ids.contains(m))
                .cloned()
                .collect();
            if members.is_empty() {
                continue;
            }
            let health = elb.target_health(tg, &members).await?;
            let name = super::elb::target_group_name(tg);
            for id in members {
                match health.get(&id) {
                    Some((state, _)) if state == "healthy" => {}
                    Some((state, reason)) => {
                        why.insert(id, format!("{state} in {name} ({reason})"));
                    }
                    None => {
                        why.insert(id, format!("not registered in {name}"));
                    }
                }
            }
        }
        for (id, ok) in self.ec2(region).status_checks(ids).await? {
            if !ok {
                why.entry(id)
                    .or_insert_with(|| "EC2 status checks not passed yet".into());
            }
        }
        Ok(why)
    }

    async fn check_overrides(
        &self,
        region: &str,
        check: &OverrideCheck,
        ids: &[String],
    ) -> BTreeMap<String, CheckOutcome> {
        let req = OverrideRequest {
            os: check.os,
            file: check.file.clone(),
            timeout: check.timeout,
            output_bucket: check.output_bucket.clone(),
            output_prefix: check.output_prefix.clone(),
        };
        let replies = self.ssm(region).check_overrides(&req, ids).await;
        replies
            .into_iter()
            .map(|(id, reply)| {
                let outcome = match crate::guest::decide(&reply) {
                    crate::guest::Decision::Present => CheckOutcome::Present,
                    crate::guest::Decision::Absent => CheckOutcome::Absent,
                    crate::guest::Decision::Unsure(why) => CheckOutcome::Unchecked(why),
                };
                (id, outcome)
            })
            .collect()
    }

    async fn stop_database(
        &self,
        region: &str,
        kind: crate::observe::DatabaseKind,
        id: &str,
    ) -> Result<(), AwsError> {
        self.rds(region).stop(kind, id).await
    }

    async fn start_database(
        &self,
        region: &str,
        kind: crate::observe::DatabaseKind,
        id: &str,
    ) -> Result<(), AwsError> {
        self.rds(region).start(kind, id).await
    }

    async fn database_statuses(
        &self,
        region: &str,
        kind: crate::observe::DatabaseKind,
        ids: &[String],
    ) -> Result<BTreeMap<String, String>, AwsError> {
        self.rds(region).statuses(kind, ids).await
    }

    async fn set_group_tag(
        &self,
        region: &str,
        group: &str,
        key: &str,
        value: &str,
    ) -> Result<(), AwsError> {
        self.autoscaling(region).set_tag(group, key, value).await
    }

    async fn delete_group_tag(&self, region: &str, group: &str, key: &str) -> Result<(), AwsError> {
        self.autoscaling(region).delete_tag(group, key).await
    }

    async fn set_group_sizes(
        &self,
        region: &str,
        group: &str,
        sizes: crate::plan::asg::Sizes,
    ) -> Result<(), AwsError> {
        self.autoscaling(region)
            .set_sizes(group, sizes.min, sizes.max, sizes.desired)
            .await
    }

    async fn groups_now(
        &self,
        region: &str,
        names: &[String],
    ) -> Result<BTreeMap<String, crate::execute::GroupNow>, AwsError> {
        self.autoscaling(region).groups_now(names).await
    }

    async fn classic_unhealthy(
        &self,
        region: &str,
        lb: &str,
        ids: &[String],
    ) -> Result<BTreeMap<String, String>, AwsError> {
        let health = self.elb(region).classic_health(lb, ids).await?;
        Ok(ids
            .iter()
            .filter_map(|id| match health.get(id) {
                Some((state, _)) if state == "InService" => None,
                Some((state, reason)) if reason.is_empty() || reason == "N/A" => {
                    Some((id.clone(), format!("{state} in classic {lb}")))
                }
                Some((state, reason)) => {
                    Some((id.clone(), format!("{state} in classic {lb} ({reason})")))
                }
                None => Some((id.clone(), format!("not registered with classic {lb}"))),
            })
            .collect())
    }
}

impl crate::observe::Observer for AwsEffects {
    async fn instances(
        &self,
        region: &str,
        selector: &crate::spec::Selector,
    ) -> Result<Vec<crate::observe::Instance>, AwsError> {
        self.ec2(region)
            .workload_instances(selector, &selector.tier_tag_key)
            .await
    }

    async fn instance_types(
        &self,
        region: &str,
        types: &[String],
    ) -> Result<BTreeMap<String, crate::observe::TypeInfo>, AwsError> {
        self.ec2(region).instance_types(types).await
    }

    async fn membership(
        &self,
        region: &str,
        wanted: crate::observe::Wanted,
    ) -> Result<crate::observe::Membership, AwsError> {
        let elb = self.elb(region);
        let mut m = crate::observe::Membership::default();
        if wanted.classic {
            m.classic = elb.classic_membership().await?;
        }
        if wanted.target_groups {
            m.target_groups = elb.target_group_membership().await?;
        }
        Ok(m)
    }

    async fn databases(
        &self,
        region: &str,
        selector: &crate::spec::Selector,
    ) -> Result<crate::observe::ObservedDatabases, AwsError> {
        self.rds(region).workload_databases(selector).await
    }

    async fn groups(
        &self,
        region: &str,
        selector: &crate::spec::Selector,
    ) -> Result<Vec<crate::observe::Group>, AwsError> {
        self.autoscaling(region).workload_groups(selector).await
    }
}
