//! S3: only where a bucket lives (the SSM output bucket must be in the
//! workload's region, or SSM cannot write there).

use aws_config::SdkConfig;
use aws_sdk_s3::Client;

use super::AwsError;

/// An S3 client.
#[derive(Debug, Clone)]
pub struct S3 {
    client: Client,
}

impl S3 {
    /// A client in `region`. With a custom endpoint (an emulator, a proxy)
    /// path-style addressing is used: `bucket.host` names would not resolve.
    pub fn new(config: &SdkConfig, region: &str) -> Self {
        let conf = aws_sdk_s3::config::Builder::from(config)
            .region(aws_config::Region::new(region.to_string()))
            .force_path_style(config.endpoint_url().is_some())
            .interceptor(super::throttle::ThrottleObserver::new(region))
            .build();
        S3 {
            client: Client::from_conf(conf),
        }
    }

    /// The region of `bucket` (`GetBucketLocation`).
    pub async fn bucket_region(&self, bucket: &str) -> Result<String, AwsError> {
        let out = self
            .client
            .get_bucket_location()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("s3:GetBucketLocation", e))?;
        Ok(location_region(
            out.location_constraint().map(|c| c.as_str()),
        ))
    }
}

/// The region a `LocationConstraint` stands for: none or empty is
/// `us-east-1`, the legacy `EU` is `eu-west-1`.
pub fn location_region(constraint: Option<&str>) -> String {
    match constraint.map(str::trim) {
        None | Some("") => "us-east-1".into(),
        Some("EU") => "eu-west-1".into(),
        Some(r) => r.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::location_region;

    #[test]
    fn location_constraints_map_to_regions() {
        assert_eq!(location_region(None), "us-east-1");
        assert_eq!(location_region(Some("")), "us-east-1");
        assert_eq!(location_region(Some("EU")), "eu-west-1");
        assert_eq!(location_region(Some("eu-central-1")), "eu-central-1");
    }
}
