//! Seeing throttling as it happens: an SDK interceptor on every client that
//! notices each throttled *attempt* (the SDK retries it; the caller only
//! sees the final result) and records it for the pacer
//! ([`crate::execute::pace::throttles`]), which slows the next calls of that
//! kind and lets them recover within seconds.
//!
//! It reads the raw answer only: the error code from `x-amzn-ErrorType`,
//! the JSON `__type` or the XML `<Code>`, classified like every other error
//! ([`super::classify`]); HTTP 429 counts as throttling too.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use super::{AwsErrorKind, classify};
use crate::execute::pace;

/// Throttled attempts of one call after which a warning is printed.
const WARN_AFTER: u32 = 4;

/// Records throttled attempts of one client (one service in one region).
#[derive(Debug, Clone)]
pub struct ThrottleObserver {
    region: String,
}

impl ThrottleObserver {
    /// An observer for a client of `region`.
    pub fn new(region: &str) -> Self {
        ThrottleObserver {
            region: region.to_string(),
        }
    }
}

impl Intercept for ThrottleObserver {
    fn name(&self) -> &'static str {
        "TierctlThrottleObserver"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !matches!(context.output_or_error(), Some(Err(_))) {
            return Ok(());
        }
        let Some(response) = context.response() else {
            return Ok(());
        };
        let status = response.status().as_u16();
        let code = error_code(
            response.headers().get("x-amzn-errortype"),
            response.body().bytes().unwrap_or_default(),
        );
        if !is_throttle(status, code.as_deref()) {
            return Ok(());
        }
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_string(), m.name().to_string()))
            .unwrap_or_default();
        let call = format!("{}:{operation}", service.to_ascii_lowercase());
        let code = code.as_deref().unwrap_or("HTTP 429");
        let attempt = cfg.load::<RequestAttempts>().map_or(1, |a| a.attempts());
        if attempt == WARN_AFTER {
            // A storm, not a passing throttle: say so while it lasts.
            let retry = super::retry_in_force();
            tracing::warn!(
                region = %self.region,
                "{call} throttled ({code}) {attempt} times in a row; retrying up to {} attempts with at most {:.1} s of backoff in all",
                retry.max_attempts(),
                super::retry_budget(&retry).as_secs_f64()
            );
        } else {
            tracing::info!(region = %self.region, attempt, "{call} throttled ({code}); backing off");
        }
        pace::throttles().record(&self.region, pace::Call::of(&service, &operation));
        Ok(())
    }
}

/// Whether an answer is a throttle.
pub fn is_throttle(status: u16, code: Option<&str>) -> bool {
    status == 429 || code.is_some_and(|c| classify(c) == AwsErrorKind::Throttled)
}

/// The AWS error code of a raw error answer, in any of the protocols
/// tierctl's services speak: `x-amzn-ErrorType` (awsJson, restJson), the
/// JSON `__type` (`prefix#Code`), or the first XML `<Code>` (ec2Query,
/// awsQuery, restXml).
pub fn error_code(error_type_header: Option<&str>, body: &[u8]) -> Option<String> {
    let clean = |s: &str| {
        let s = s.split(':').next().unwrap_or(s);
        let s = s.rsplit('#').next().unwrap_or(s);
        let s = s.trim();
        (!s.is_empty()).then(|| s.to_string())
    };
    if let Some(h) = error_type_header.and_then(clean) {
        return Some(h);
    }
    let text = std::str::from_utf8(body).ok()?;
    if let Some(at) = text.find("<Code>") {
        let rest = &text[at + "<Code>".len()..];
        let end = rest.find("</Code>")?;
        return clean(&rest[..end]);
    }
    let at = text.find("\"__type\"")?;
    let rest = &text[at + "\"__type\"".len()..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    let end = rest.find('"')?;
    clean(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_from_every_protocol() {
        let ec2 = b"<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors></Response>";
        assert_eq!(
            error_code(None, ec2).as_deref(),
            Some("RequestLimitExceeded")
        );
        let ddb = br#"{"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException", "message": "x"}"#;
        assert_eq!(
            error_code(None, ddb).as_deref(),
            Some("ProvisionedThroughputExceededException")
        );
        assert_eq!(
            error_code(
                Some("ThrottlingException:http://internal.amazon.com/"),
                b"{}"
            )
            .as_deref(),
            Some("ThrottlingException")
        );
        let query = b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>";
        assert_eq!(error_code(None, query).as_deref(), Some("Throttling"));
        assert_eq!(error_code(None, b"not an error body"), None);
    }

    #[test]
    fn throttles_are_told_from_other_errors() {
        assert!(is_throttle(503, Some("RequestLimitExceeded")));
        assert!(is_throttle(400, Some("ThrottlingException")));
        assert!(is_throttle(
            400,
            Some("ProvisionedThroughputExceededException")
        ));
        assert!(is_throttle(429, None));
        assert!(!is_throttle(503, Some("ServiceUnavailable")));
        assert!(!is_throttle(400, Some("IncorrectInstanceState")));
        assert!(!is_throttle(500, None));
    }
}
