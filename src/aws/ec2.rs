//! EC2: reading a workload's instances (and, for runs, changing their state).

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::Filter;

use super::AwsError;
use crate::observe::{Instance, InstanceState, ResizeFacts, TypeInfo};
use crate::spec::Selector;

/// An EC2 client in one region.
#[derive(Debug, Clone)]
pub struct Ec2 {
    client: Client,
}

impl Ec2 {
    /// A client in `region`, with the process's retry policy (standard mode,
    /// see [`super::retry_policy`]; not the SDK's adaptive mode, whose
    /// client-side limiter slows every call for long after one throttle)
    /// and the throttle observer that feeds tierctl's pacer.
    pub fn new(config: &SdkConfig, region: &str) -> Self {
        let conf = aws_sdk_ec2::config::Builder::from(config)
            .region(aws_config::Region::new(region.to_string()))
            .interceptor(super::throttle::ThrottleObserver::new(region))
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
                &literal_filter_value(&selector.workload_tag.value),
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
                        resize: Some(ResizeFacts {
                            architecture: i.architecture().map(|a| a.as_str().to_string()),
                            virtualization: i.virtualization_type().map(|v| v.as_str().to_string()),
                            ena_support: i.ena_support().unwrap_or(false),
                            ebs_optimized: i.ebs_optimized().unwrap_or(false),
                            spot: i.instance_lifecycle().map(|l| l.as_str()) == Some("spot"),
                            hibernation: i
                                .hibernation_options()
                                .and_then(|h| h.configured())
                                .unwrap_or(false),
                        }),
                        classic_load_balancers: Vec::new(),
                        target_groups: Vec::new(),
                        group: tag("aws:autoscaling:groupName"),
                    });
                }
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out.dedup_by(|a, b| a.id == b.id);
        Ok(out)
    }
}

impl Ec2 {
    /// `StopInstances` (with `DryRun`, a permission check only).
    pub async fn stop(&self, ids: &[String], dry_run: bool) -> Result<(), AwsError> {
        let res = self
            .client
            .stop_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .dry_run(dry_run)
            .send()
            .await;
        changed("ec2:StopInstances", res)
    }

    /// `StartInstances` (with `DryRun`, a permission check only).
    pub async fn start(&self, ids: &[String], dry_run: bool) -> Result<(), AwsError> {
        let res = self
            .client
            .start_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .dry_run(dry_run)
            .send()
            .await;
        changed("ec2:StartInstances", res)
    }

    /// Describes instance types; types the region does not have are left out.
    ///
    /// One call for all of them; when AWS rejects the call because some do
    /// not exist (`InvalidInstanceType`), each is asked alone.
    pub async fn instance_types(
        &self,
        types: &[String],
    ) -> Result<BTreeMap<String, TypeInfo>, AwsError> {
        if types.is_empty() {
            return Ok(BTreeMap::new());
        }
        match self.describe_types(types).await {
            Err(e) if e.code.as_deref() == Some("InvalidInstanceType") && types.len() > 1 => {
                let mut out = BTreeMap::new();
                for t in types {
                    match self.describe_types(std::slice::from_ref(t)).await {
                        Ok(found) => out.extend(found),
                        Err(e) if e.code.as_deref() == Some("InvalidInstanceType") => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(out)
            }
            Err(e) if e.code.as_deref() == Some("InvalidInstanceType") => Ok(BTreeMap::new()),
            other => other,
        }
    }

    async fn describe_types(
        &self,
        types: &[String],
    ) -> Result<BTreeMap<String, TypeInfo>, AwsError> {
        let mut out = BTreeMap::new();
        let mut pages = self
            .client
            .describe_instance_types()
            .set_instance_types(Some(types.iter().map(|t| t.as_str().into()).collect()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ec2:DescribeInstanceTypes", e))?;
            for t in page.instance_types() {
                let Some(name) = t.instance_type() else {
                    continue;
                };
                let net = t.network_info();
                let ebs = t.ebs_info();
                out.insert(
                    name.as_str().to_string(),
                    TypeInfo {
                        architectures: t
                            .processor_info()
                            .map(|p| {
                                p.supported_architectures()
                                    .iter()
                                    .map(|a| a.as_str().to_string())
                                    .collect()
                            })
                            .unwrap_or_default(),
                        virtualization: t
                            .supported_virtualization_types()
                            .iter()
                            .map(|v| v.as_str().to_string())
                            .collect(),
                        ena: net
                            .and_then(|n| n.ena_support())
                            .map(|e| e.as_str().to_string())
                            .unwrap_or_default(),
                        nvme: ebs
                            .and_then(|e| e.nvme_support())
                            .map(|e| e.as_str().to_string())
                            .unwrap_or_default(),
                        ebs_optimized: ebs
                            .and_then(|e| e.ebs_optimized_support())
                            .map(|e| e.as_str().to_string())
                            .unwrap_or_default(),
                    },
                );
            }
        }
        Ok(out)
    }

    /// Turns EBS optimization off (before a change to a type without it).
    pub async fn disable_ebs_optimized(&self, id: &str, dry_run: bool) -> Result<(), AwsError> {
        let res = self
            .client
            .modify_instance_attribute()
            .instance_id(id)
            .ebs_optimized(
                aws_sdk_ec2::types::AttributeBooleanValue::builder()
                    .value(false)
                    .build(),
            )
            .dry_run(dry_run)
            .send()
            .await;
        changed("ec2:ModifyInstanceAttribute", res)
    }

    /// Whether both EC2 status checks (instance and system) pass, per instance.
    pub async fn status_checks(&self, ids: &[String]) -> Result<BTreeMap<String, bool>, AwsError> {
        let mut out: BTreeMap<String, bool> = ids.iter().map(|i| (i.clone(), false)).collect();
        for chunk in ids.chunks(100) {
            let mut pages = self
                .client
                .describe_instance_status()
                .set_instance_ids(Some(chunk.to_vec()))
                .include_all_instances(true)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| AwsError::from_sdk("ec2:DescribeInstanceStatus", e))?;
                for s in page.instance_statuses() {
                    let ok = |x: Option<&aws_sdk_ec2::types::InstanceStatusSummary>| {
                        x.and_then(|x| x.status()).map(|s| s.as_str()) == Some("ok")
                    };
                    if let Some(id) = s.instance_id() {
                        out.insert(
                            id.to_string(),
                            ok(s.instance_status()) && ok(s.system_status()),
                        );
                    }
                }
            }
        }
        Ok(out)
    }

    /// Changes a stopped instance's type.
    pub async fn set_type(
        &self,
        id: &str,
        instance_type: &str,
        dry_run: bool,
    ) -> Result<(), AwsError> {
        let res = self
            .client
            .modify_instance_attribute()
            .instance_id(id)
            .instance_type(
                aws_sdk_ec2::types::AttributeValue::builder()
                    .value(instance_type)
                    .build(),
            )
            .dry_run(dry_run)
            .send()
            .await;
        changed("ec2:ModifyInstanceAttribute", res)
    }

    /// States of exactly these instances (`DescribeInstances` by id, at most
    /// 1000 ids per call as AWS advises).
    pub async fn states(
        &self,
        ids: &[String],
    ) -> Result<BTreeMap<String, InstanceState>, AwsError> {
        let mut out = BTreeMap::new();
        for chunk in ids.chunks(1000) {
            let mut pages = self
                .client
                .describe_instances()
                .set_instance_ids(Some(chunk.to_vec()))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| AwsError::from_sdk("ec2:DescribeInstances", e))?;
                for i in page.reservations().iter().flat_map(|r| r.instances()) {
                    if let (Some(id), Some(state)) = (
                        i.instance_id(),
                        i.state()
                            .and_then(|s| s.name())
                            .and_then(|n| InstanceState::parse(n.as_str())),
                    ) {
                        out.insert(id.to_string(), state);
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The result of a state-changing call: its error named after `call`, and
/// with `DryRun` the `DryRunOperation` error read as the success it signals.
fn changed<T, E, R>(
    call: &str,
    res: Result<T, aws_sdk_ec2::error::SdkError<E, R>>,
) -> Result<(), AwsError>
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match res.map(|_| ()).map_err(|e| AwsError::from_sdk(call, e)) {
        Err(e) if e.code.as_deref() == Some("DryRunOperation") => Ok(()),
        other => other,
    }
}

/// A filter value that matches exactly `value`: EC2 reads `*` and `?` as
/// wildcards and lets a backslash escape `*`, `?` and `\\`, so a tag value
/// of `*` would otherwise select every instance that has the key.
pub fn literal_filter_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        if matches!(c, '*' | '?' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

#[cfg(test)]
mod literal_tests {
    #[test]
    fn wildcards_and_backslashes_are_escaped() {
        assert_eq!(super::literal_filter_value("shop"), "shop");
        assert_eq!(super::literal_filter_value("*"), "\\*");
        assert_eq!(super::literal_filter_value("a?c"), "a\\?c");
        assert_eq!(super::literal_filter_value("x\\*"), "x\\\\\\*");
    }
}
