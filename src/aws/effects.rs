//! The run's side effects on AWS: [`Effects`] with the SDK clients, one
//! client per service and region, built once per run.

use std::collections::BTreeMap;
use std::sync::Mutex;

use aws_config::SdkConfig;

use super::AwsError;
use super::ec2::Ec2;
use super::ssm::{OverrideRequest, Ssm};
use crate::execute::{CheckOutcome, Effects, OverrideCheck};
use crate::observe::InstanceState;

/// Effects on real AWS (or whatever `AWS_ENDPOINT_URL` points at).
pub struct AwsEffects {
    config: SdkConfig,
    ec2: Mutex<BTreeMap<String, Ec2>>,
    ssm: Mutex<BTreeMap<String, Ssm>>,
}

impl AwsEffects {
    /// Effects using this SDK configuration.
    pub fn new(config: SdkConfig) -> Self {
        AwsEffects {
            config,
            ec2: Mutex::new(BTreeMap::new()),
            ssm: Mutex::new(BTreeMap::new()),
        }
    }

    fn ec2(&self, region: &str) -> Ec2 {
        let mut map = self.ec2.lock().expect("client cache lock");
        map.entry(region.to_string())
            .or_insert_with(|| Ec2::new(&self.config, region))
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
        self.ssm(region).check_overrides(&req, ids).await
    }
}
