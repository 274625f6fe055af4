//! EC2: reading a workload's instances (and, for runs, changing their state).

use aws_config::SdkConfig;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::Filter;

use super::AwsError;
use crate::observe::{Instance, InstanceState};
use crate::spec::Selector;

/// An EC2 client in one region.
#[derive(Debug, Clone)]
pub struct Ec2 {
    client: Client,
}

impl Ec2 {
    /// A client in `region`.
    pub fn new(config: &SdkConfig, region: &str) -> Self {
        let conf = aws_sdk_ec2::config::Builder::from(config)
            .region(aws_config::Region::new(region.to_string()))
            .build();
        Ec2 {
            client: Client::from_conf(conf),
        }
    }

    /// Every instance with the workload tag (in the VPC, when set): one
    /// paginated, filtered `DescribeInstances`, all tiers at once.
    ///
    /// The tier tag is read locally rather than filtered on, so instances
    /// that lack it or carry an unknown tier value can be reported.
    pub async fn workload_instances(
        &self,
        selector: &Selector,
        tier_tag_key: &str,
    ) -> Result<Vec<Instance>, AwsError> {
        let mut req = self
            .client
            .describe_instances()
            .filters(filter(
                &format!("tag:{}", selector.workload_tag.key),
                &selector.workload_tag.value,
            ))
            .max_results(1000);
        if let Some(vpc) = &selector.vpc_id {
            req = req.filters(filter("vpc-id", vpc));
        }
        let mut pages = req.into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ec2:DescribeInstances", e))?;
            for r in page.reservations() {
                for i in r.instances() {
                    let Some(id) = i.instance_id() else { continue };
                    let state = i
                        .state()
                        .and_then(|s| s.name())
                        .and_then(|n| InstanceState::parse(n.as_str()))
                        .unwrap_or(InstanceState::Terminated);
                    let tag = |key: &str| {
                        i.tags()
                            .iter()
                            .find(|t| t.key() == Some(key))
                            .and_then(|t| t.value())
                            .map(str::to_string)
                    };
                    out.push(Instance {
                        id: id.to_string(),
                        tier: tag(tier_tag_key),
                        state,
                        instance_type: i
                            .instance_type()
                            .map(|t| t.as_str().to_string())
                            .unwrap_or_default(),
                        name: tag("Name"),
                        launch_time: i.launch_time().and_then(|t| {
                            t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()
                        }),
                    });
                }
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out.dedup_by(|a, b| a.id == b.id);
        Ok(out)
    }
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}
