//! EC2 Auto Scaling: reading a workload's groups and changing their sizes
//! and tags. Calls only: what a group's sizes or tags mean is decided by
//! the planner (`plan::asg`).

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_autoscaling::Client;
use aws_sdk_autoscaling::types::{Filter, Tag};

use super::AwsError;
use crate::execute::GroupNow;
use crate::observe::Group;
use crate::spec::Selector;

pub use crate::plan::asg::{KEEP_RUNNING_TAG, RECORDED_SIZES_TAG};

/// An Auto Scaling client in one region.
#[derive(Debug, Clone)]
pub struct AutoScaling {
    client: Client,
}

impl AutoScaling {
    /// A client in `region`, with the process's retry policy and the
    /// throttle observer that feeds tierctl's pacer.
    pub fn new(config: &SdkConfig, region: &str) -> Self {
        let conf = aws_sdk_autoscaling::config::Builder::from(config)
            .region(aws_config::Region::new(region.to_string()))
            .interceptor(super::throttle::ThrottleObserver::new(region))
            .build();
        AutoScaling {
            client: Client::from_conf(conf),
        }
    }

    /// Every group carrying the workload tag: one paginated, filtered
    /// `DescribeAutoScalingGroups`. The tier tag is read locally.
    pub async fn workload_groups(&self, selector: &Selector) -> Result<Vec<Group>, AwsError> {
        let mut pages = self
            .client
            .describe_auto_scaling_groups()
            .filters(
                Filter::builder()
                    .name(format!("tag:{}", selector.workload_tag.key))
                    .values(&selector.workload_tag.value)
                    .build(),
            )
            .max_records(100)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| AwsError::from_sdk("autoscaling:DescribeAutoScalingGroups", e))?;
            for g in page.auto_scaling_groups() {
                let Some(name) = g.auto_scaling_group_name() else {
                    continue;
                };
                let tag = |key: &str| {
                    g.tags()
                        .iter()
                        .find(|t| t.key() == Some(key))
                        .map(|t| t.value().unwrap_or_default().to_string())
                };
                // The filter is the selection; a tag that differs in case
                // or not at all is not this workload's.
                if tag(&selector.workload_tag.key).as_deref()
                    != Some(selector.workload_tag.value.as_str())
                {
                    continue;
                }
                let mut target_groups: Vec<String> =
                    g.target_group_arns().iter().map(String::clone).collect();
                target_groups.sort();
                let mut load_balancers: Vec<String> =
                    g.load_balancer_names().iter().map(String::clone).collect();
                load_balancers.sort();
                out.push(Group {
                    name: name.to_string(),
                    tier: tag(&selector.tier_tag_key),
                    min_size: g.min_size().unwrap_or_default(),
                    max_size: g.max_size().unwrap_or_default(),
                    desired: g.desired_capacity().unwrap_or_default(),
                    instances: lifecycle(g.instances()),
                    warm_pool: g.warm_pool_configuration().is_some(),
                    recorded_sizes: tag(RECORDED_SIZES_TAG),
                    keep_running: tag(KEEP_RUNNING_TAG),
                    target_groups,
                    load_balancers,
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out.dedup_by(|a, b| a.name == b.name);
        Ok(out)
    }

    /// Desired capacity and instances of exactly these groups (absent: gone).
    pub async fn groups_now(
        &self,
        names: &[String],
    ) -> Result<BTreeMap<String, GroupNow>, AwsError> {
        let mut out = BTreeMap::new();
        // DescribeAutoScalingGroups takes up to 100 names a call.
        for chunk in names.chunks(100) {
            let mut pages = self
                .client
                .describe_auto_scaling_groups()
                .set_auto_scaling_group_names(Some(chunk.to_vec()))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page
                    .map_err(|e| AwsError::from_sdk("autoscaling:DescribeAutoScalingGroups", e))?;
                for g in page.auto_scaling_groups() {
                    let Some(name) = g.auto_scaling_group_name() else {
                        continue;
                    };
                    out.insert(
                        name.to_string(),
                        GroupNow {
                            desired: g.desired_capacity().unwrap_or_default(),
                            instances: lifecycle(g.instances()),
                            target_groups: g.target_group_arns().to_vec(),
                            load_balancers: g.load_balancer_names().to_vec(),
                        },
                    );
                }
            }
        }
        Ok(out)
    }

    /// `CreateOrUpdateTags`: one tag on one group (not propagated to instances).
    pub async fn set_tag(&self, group: &str, key: &str, value: &str) -> Result<(), AwsError> {
        self.client
            .create_or_update_tags()
            .tags(
                Tag::builder()
                    .resource_id(group)
                    .resource_type("auto-scaling-group")
                    .key(key)
                    .value(value)
                    .propagate_at_launch(false)
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("autoscaling:CreateOrUpdateTags", e))
    }

    /// `DeleteTags`: one tag of one group.
    pub async fn delete_tag(&self, group: &str, key: &str) -> Result<(), AwsError> {
        self.client
            .delete_tags()
            .tags(
                Tag::builder()
                    .resource_id(group)
                    .resource_type("auto-scaling-group")
                    .key(key)
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("autoscaling:DeleteTags", e))
    }

    /// `UpdateAutoScalingGroup` with these sizes.
    pub async fn set_sizes(
        &self,
        group: &str,
        min: i32,
        max: i32,
        desired: i32,
    ) -> Result<(), AwsError> {
        self.client
            .update_auto_scaling_group()
            .auto_scaling_group_name(group)
            .min_size(min)
            .max_size(max)
            .desired_capacity(desired)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("autoscaling:UpdateAutoScalingGroup", e))
    }
}

fn lifecycle(instances: &[aws_sdk_autoscaling::types::Instance]) -> BTreeMap<String, String> {
    instances
        .iter()
        .filter_map(|i| {
            Some((
                i.instance_id()?.to_string(),
                i.lifecycle_state()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            ))
        })
        .collect()
}
