//! Talking to AWS: one SDK configuration per process, one file per service.
//! These modules make calls and translate answers; they decide nothing.
//!
//! Credentials, region and endpoints come only from the SDK's standard chain
//! (profiles, SSO, environment, IMDS, `AWS_ENDPOINT_URL`).

pub mod catalogue;
pub mod dynamodb;
pub mod ec2;
pub mod effects;
pub mod elb;
pub mod s3;
pub mod sns;
pub mod ssm;

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;

/// Attempts per call (1 + retries) unless `AWS_MAX_ATTEMPTS` says otherwise.
///
/// The SDK's default of 3 gives up too early for a nightly job that shares
/// its account's throttling buckets with everything else.
pub const MAX_ATTEMPTS: u32 = 6;

/// Loads the shared SDK configuration once per process.
///
/// Retries are deliberate: standard mode (exponential backoff with jitter,
/// throttling and transient errors only), more attempts than the default,
/// and short first backoffs, since tierctl's calls are batch-shaped and few.
pub async fn load_config() -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .operation_attempt_timeout(Duration::from_secs(60))
            .build(),
    );
    if std::env::var_os("AWS_MAX_ATTEMPTS").is_none()
        && std::env::var_os("AWS_RETRY_MODE").is_none()
    {
        loader = loader.retry_config(
            RetryConfig::standard()
                .with_max_attempts(MAX_ATTEMPTS)
                .with_initial_backoff(Duration::from_millis(200))
                .with_max_backoff(Duration::from_secs(20)),
        );
    }
    loader.load().await
}

/// The region a client should use: the one given, else the SDK chain's.
pub fn region_for(config: &SdkConfig, region: Option<&str>) -> Result<Region, AwsError> {
    match region {
        Some(r) => Ok(Region::new(r.to_string())),
        None => config.region().cloned().ok_or_else(|| AwsError {
            call: "configuration".into(),
            kind: AwsErrorKind::Config,
            code: None,
            message: "no AWS region: pass --dynamodb-region or set AWS_REGION (or a region in the AWS profile)".into(),
        }),
    }
}

/// What kind of failure, for messages and exit decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// The credentials lack a permission.
    AccessDenied,
    /// Throttled, and the retries ran out.
    Throttled,
    /// A table or other resource does not exist.
    NotFound,
    /// No answer: endpoint unreachable, DNS, timeout.
    Unreachable,
    /// No credentials or region.
    Config,
    /// A condition on a write failed: someone else changed the data.
    Conflict,
    /// Anything else AWS said.
    Other,
}

/// A failed AWS call, naming the call.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{call}: {message}")]
pub struct AwsError {
    /// `service:Action`, e.g. `dynamodb:TransactWriteItems`.
    pub call: String,
    /// Classification.
    pub kind: AwsErrorKind,
    /// The AWS error code, when AWS answered.
    pub code: Option<String>,
    /// A message for people, with a hint where one helps.
    pub message: String,
}

impl AwsError {
    /// Builds an error from an SDK error of `call`.
    pub fn from_sdk<E, R>(call: &str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let code = err.code().map(str::to_string);
        let aws_message = err.message().map(str::to_string);
        let (kind, message) = match &err {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => (
                AwsErrorKind::Unreachable,
                format!(
                    "no answer from AWS ({}); check the network, the region and AWS_ENDPOINT_URL",
                    DisplayErrorContext(&err)
                ),
            ),
            SdkError::ConstructionFailure(_) => {
                let detail = DisplayErrorContext(&err).to_string();
                if detail.contains("credentials") {
                    (
                        AwsErrorKind::Config,
                        format!(
                            "no usable AWS credentials ({detail}); configure a profile, SSO or environment credentials"
                        ),
                    )
                } else {
                    (AwsErrorKind::Config, detail)
                }
            }
            _ => {
                let c = code.as_deref().unwrap_or_default();
                let text = aws_message
                    .clone()
                    .unwrap_or_else(|| DisplayErrorContext(&err).to_string());
                let kind = classify(c);
                let hint = match kind {
                    AwsErrorKind::AccessDenied => {
                        format!("; the credentials in use are not allowed to call {call}")
                    }
                    AwsErrorKind::Throttled => format!(
                        "; still throttled after {MAX_ATTEMPTS} attempts with backoff, try again later"
                    ),
                    _ => String::new(),
                };
                let label = if c.is_empty() {
                    String::new()
                } else {
                    format!("{c}: ")
                };
                (kind, format!("{label}{text}{hint}"))
            }
        };
        AwsError {
            call: call.to_string(),
            kind,
            code,
            message,
        }
    }
}

/// Classifies an AWS error code.
pub fn classify(code: &str) -> AwsErrorKind {
    match code {
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "AuthFailure" => AwsErrorKind::AccessDenied,
        "Throttling"
        | "ThrottlingException"
        | "RequestLimitExceeded"
        | "ProvisionedThroughputExceededException"
        | "RequestThrottled"
        | "TooManyRequestsException"
        | "LimitExceededException"
        | "SlowDown" => AwsErrorKind::Throttled,
        "ResourceNotFoundException" | "NotFound" | "NotFoundException" => AwsErrorKind::NotFound,
        "ConditionalCheckFailedException" | "TransactionCanceledException" => {
            AwsErrorKind::Conflict
        }
        _ => AwsErrorKind::Other,
    }
}
