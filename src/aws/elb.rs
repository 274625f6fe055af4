//! Elastic Load Balancing: classic load balancers (re-registration at
//! start) and ELBv2 target groups (the health gate).
//!
//! Neither API answers "which load balancers hold this instance": both
//! are discovered once per run and region and inverted locally.

use std::collections::BTreeMap;

use aws_config::SdkConfig;

use super::AwsError;

/// Classic and v2 clients in one region.
#[derive(Debug, Clone)]
pub struct Elb {
    classic: aws_sdk_elasticloadbalancing::Client,
    v2: aws_sdk_elasticloadbalancingv2::Client,
}

pub use crate::observe::Membership;

impl Elb {
    /// Clients in `region`.
    pub fn new(config: &SdkConfig, region: &str) -> Self {
        let region = aws_config::Region::new(region.to_string());
        Elb {
            classic: aws_sdk_elasticloadbalancing::Client::from_conf(
                aws_sdk_elasticloadbalancing::config::Builder::from(config)
                    .region(region.clone())
                    .interceptor(super::throttle::ThrottleObserver::new(region.as_ref()))
                    .build(),
            ),
            v2: aws_sdk_elasticloadbalancingv2::Client::from_conf(
                aws_sdk_elasticloadbalancingv2::config::Builder::from(config)
                    .interceptor(super::throttle::ThrottleObserver::new(region.as_ref()))
                    .region(region)
                    .build(),
            ),
        }
    }

    /// Classic load balancers by instance: one paginated `DescribeLoadBalancers`.
    pub async fn classic_membership(&self) -> Result<BTreeMap<String, Vec<String>>, AwsError> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut pages = self
            .classic
            .describe_load_balancers()
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page
                .map_err(|e| AwsError::from_sdk("elasticloadbalancing:DescribeLoadBalancers", e))?;
            for lb in page.load_balancer_descriptions() {
                let Some(name) = lb.load_balancer_name() else {
                    continue;
                };
                for i in lb.instances() {
                    if let Some(id) = i.instance_id() {
                        out.entry(id.to_string())
                            .or_default()
                            .push(name.to_string());
                    }
                }
            }
        }
        out.values_mut().for_each(|v| v.sort());
        Ok(out)
    }

    /// ELBv2 target groups by instance: `DescribeTargetGroups` (paginated),
    /// then `DescribeTargetHealth` per instance-type target group.
    pub async fn target_group_membership(&self) -> Result<BTreeMap<String, Vec<String>>, AwsError> {
        let mut arns = Vec::new();
        let mut pages = self.v2.describe_target_groups().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page
                .map_err(|e| AwsError::from_sdk("elasticloadbalancing:DescribeTargetGroups", e))?;
            for tg in page.target_groups() {
                let instance_targets = tg.target_type().is_none_or(|t| t.as_str() == "instance");
                if let (Some(arn), true) = (tg.target_group_arn(), instance_targets) {
                    arns.push(arn.to_string());
                }
            }
        }
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for arn in arns {
            for (id, _) in self.target_health(&arn, &[]).await? {
                out.entry(id).or_default().push(arn.clone());
            }
        }
        out.values_mut().for_each(|v| {
            v.sort();
            v.dedup();
        });
        Ok(out)
    }

    /// Health of the targets of a group (only `ids`, unless empty): (state, reason).
    pub async fn target_health(
        &self,
        target_group: &str,
        ids: &[String],
    ) -> Result<BTreeMap<String, (String, String)>, AwsError> {
        let out = self
            .v2
            .describe_target_health()
            .target_group_arn(target_group)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("elasticloadbalancing:DescribeTargetHealth", e))?;
        let mut health: BTreeMap<String, (String, String)> = BTreeMap::new();
        for d in out.target_health_descriptions() {
            let Some(id) = d.target().and_then(|t| t.id()) else {
                continue;
            };
            if !ids.is_empty() && !ids.iter().any(|i| i == id) {
                continue;
            }
            let h = d.target_health();
            let state = h
                .and_then(|h| h.state())
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            let reason = h
                .and_then(|h| h.reason())
                .map(|r| r.as_str().to_string())
                .unwrap_or_default();
            // A target registered on several ports is healthy only when every port is.
            let worse = health.get(id).is_some_and(|(s, _)| s != "healthy");
            if !worse {
                health.insert(id.to_string(), (state, reason));
            }
        }
        Ok(health)
    }

    /// Classic load balancer health of these instances (`DescribeInstanceHealth`):
    /// id -> (state, reason code). `InService` is healthy.
    pub async fn classic_health(
        &self,
        load_balancer: &str,
        ids: &[String],
    ) -> Result<BTreeMap<String, (String, String)>, AwsError> {
        let out = self
            .classic
            .describe_instance_health()
            .load_balancer_name(load_balancer)
            .set_instances(Some(instances(ids)))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("elasticloadbalancing:DescribeInstanceHealth", e))?;
        Ok(out
            .instance_states()
            .iter()
            .filter_map(|s| {
                Some((
                    s.instance_id()?.to_string(),
                    (
                        s.state().unwrap_or_default().to_string(),
                        s.reason_code().unwrap_or_default().to_string(),
                    ),
                ))
            })
            .collect())
    }

    /// `DeregisterInstancesFromLoadBalancer` for these instances.
    pub async fn deregister(&self, load_balancer: &str, ids: &[String]) -> Result<(), AwsError> {
        self.classic
            .deregister_instances_from_load_balancer()
            .load_balancer_name(load_balancer)
            .set_instances(Some(instances(ids)))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                AwsError::from_sdk(
                    "elasticloadbalancing:DeregisterInstancesFromLoadBalancer",
                    e,
                )
            })
    }

    /// `RegisterInstancesWithLoadBalancer` for these (running) instances.
    pub async fn register(&self, load_balancer: &str, ids: &[String]) -> Result<(), AwsError> {
        self.classic
            .register_instances_with_load_balancer()
            .load_balancer_name(load_balancer)
            .set_instances(Some(instances(ids)))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                AwsError::from_sdk("elasticloadbalancing:RegisterInstancesWithLoadBalancer", e)
            })
    }
}

/// A target group's name from its ARN (`...:targetgroup/NAME/ID`), or the
/// text as it is.
pub fn target_group_name(arn: &str) -> &str {
    arn.rsplit(':')
        .next()
        .and_then(|tail| tail.strip_prefix("targetgroup/"))
        .and_then(|rest| rest.split('/').next())
        .unwrap_or(arn)
}

fn instances(ids: &[String]) -> Vec<aws_sdk_elasticloadbalancing::types::Instance> {
    ids.iter()
        .map(|id| {
            aws_sdk_elasticloadbalancing::types::Instance::builder()
                .instance_id(id)
                .build()
        })
        .collect()
}
