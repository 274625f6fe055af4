//! Talking to AWS: one SDK configuration per process, one file per service.
//! These modules make calls and translate answers; they decide nothing.
//!
//! Credentials, region and endpoints come only from the SDK's standard chain
//! (profiles, SSO, environment, IMDS, `AWS_ENDPOINT_URL`). Every client
//! shares one retry policy ([`retry_policy`]) and carries the
//! [`throttle::ThrottleObserver`], which tells the pacer of throttled attempts.

pub mod autoscaling;
pub mod catalogue;
pub mod dynamodb;
pub mod ec2;
pub mod effects;
pub mod elb;
pub mod lambda;
pub mod rds;
pub mod s3;
pub mod scheduler;
pub mod sns;
pub mod ssm;
pub mod throttle;

use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_types::retry::{RetryConfig, RetryMode};
use aws_smithy_types::timeout::TimeoutConfig;

/// Attempts per call (1 + retries) unless `AWS_MAX_ATTEMPTS` says otherwise:
/// enough for the capped backoffs to outlast a throttle storm of several
/// seconds (about 12 s of backoff on average, [`retry_budget`] at most).
pub const MAX_ATTEMPTS: u32 = 14;

/// The first backoff ceiling: one refill interval of EC2's tightest bucket
/// (`StartInstances` refills 2 tokens a second); the SDK draws the actual
/// wait at random below it (full jitter), then doubles the ceiling.
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(500);

/// The backoff cap: once a throttle storm ends, a call waiting in it is
/// sent again within this time.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The whole of one call, every attempt and backoff included: a call never
/// hangs a run longer than this.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(120);

static RETRY: OnceLock<RetryConfig> = OnceLock::new();

/// The retry policy of every client: standard mode with [`MAX_ATTEMPTS`],
/// [`INITIAL_BACKOFF`] and [`MAX_BACKOFF`], where `AWS_RETRY_MODE` and
/// `AWS_MAX_ATTEMPTS` (the values given) replace the mode and the attempts.
/// Returns the policy and a warning per value that cannot be used.
pub fn retry_policy(mode: Option<&str>, attempts: Option<&str>) -> (RetryConfig, Vec<String>) {
    let mut warnings = Vec::new();
    let mode = match mode.map(RetryMode::from_str) {
        None => RetryMode::Standard,
        Some(Ok(m)) => m,
        Some(Err(e)) => {
            warnings.push(format!("AWS_RETRY_MODE: {e}; using standard"));
            RetryMode::Standard
        }
    };
    let attempts = match attempts.map(|a| a.trim().parse::<u32>()) {
        None => MAX_ATTEMPTS,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            warnings.push(format!(
                "AWS_MAX_ATTEMPTS must be a whole number above 0; using {MAX_ATTEMPTS}"
            ));
            MAX_ATTEMPTS
        }
    };
    let config = match mode {
        RetryMode::Adaptive => RetryConfig::adaptive(),
        _ => RetryConfig::standard(),
    }
    .with_max_attempts(attempts)
    .with_initial_backoff(INITIAL_BACKOFF)
    .with_max_backoff(MAX_BACKOFF);
    (config, warnings)
}

/// The longest total backoff one call can wait under `config`.
pub fn retry_budget(config: &RetryConfig) -> Duration {
    (0..config.max_attempts().saturating_sub(1))
        .map(|k| {
            config
                .initial_backoff()
                .saturating_mul(2u32.saturating_pow(k))
                .min(config.max_backoff())
        })
        .sum()
}

/// The retry policy in force (the default one before [`load_config`]).
pub fn retry_in_force() -> RetryConfig {
    RETRY
        .get()
        .cloned()
        .unwrap_or_else(|| retry_policy(None, None).0)
}

/// Loads the shared SDK configuration once per process.
///
/// Retries are deliberate (see [`retry_policy`]): standard mode, jittered
/// exponential backoff starting near one refill interval of EC2's buckets
/// and capped at 2 s, more attempts than the SDK's 3; tierctl's pacer
/// ([`crate::execute::pace`]) is told of every throttled attempt by
/// [`throttle::ThrottleObserver`], which every client carries.
pub async fn load_config() -> SdkConfig {
    let mode = std::env::var("AWS_RETRY_MODE").ok();
    let attempts = std::env::var("AWS_MAX_ATTEMPTS").ok();
    let (retry, warnings) = retry_policy(mode.as_deref(), attempts.as_deref());
    for w in warnings {
        tracing::warn!("{w}");
    }
    let _ = RETRY.set(retry.clone());
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(60))
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        )
        .retry_config(retry)
        .load()
        .await
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

pub use crate::error::{AwsError, AwsErrorKind};

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
                    AwsErrorKind::Throttled => {
                        let retry = retry_in_force();
                        format!(
                            "; still throttled after {} attempts with up to {:.1} s of backoff, try again later",
                            retry.max_attempts(),
                            retry_budget(&retry).as_secs_f64()
                        )
                    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_fits_the_buckets_and_is_bounded() {
        let (c, w) = retry_policy(None, None);
        assert!(w.is_empty());
        assert_eq!(c.mode(), RetryMode::Standard);
        assert_eq!(c.max_attempts(), MAX_ATTEMPTS);
        assert_eq!(c.initial_backoff(), INITIAL_BACKOFF);
        assert_eq!(c.max_backoff(), MAX_BACKOFF);
        // 0.5 + 1 + 2 x 11
        assert_eq!(retry_budget(&c), Duration::from_millis(23_500));
    }

    #[test]
    fn the_environment_wins_for_mode_and_attempts() {
        let (c, w) = retry_policy(Some("adaptive"), Some("4"));
        assert!(w.is_empty());
        assert_eq!(c.mode(), RetryMode::Adaptive);
        assert_eq!(c.max_attempts(), 4);
        assert_eq!(c.initial_backoff(), INITIAL_BACKOFF);
        assert_eq!(retry_budget(&c), Duration::from_millis(3_500));
        let (c, _) = retry_policy(Some("Standard"), Some("1"));
        assert_eq!((c.mode(), c.max_attempts()), (RetryMode::Standard, 1));
        assert_eq!(retry_budget(&c), Duration::ZERO);
        let (c, w) = retry_policy(Some("fast"), Some("0"));
        assert_eq!(
            (c.mode(), c.max_attempts()),
            (RetryMode::Standard, MAX_ATTEMPTS)
        );
        assert_eq!(w.len(), 2, "{w:?}");
    }
}
