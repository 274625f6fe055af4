//! Lambda: the runner invoking itself asynchronously to continue a run in a
//! new invocation (`Invoke` with `InvocationType=Event`).

use aws_config::SdkConfig;
use aws_sdk_lambda::Client;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

use super::AwsError;

/// A Lambda client in the runner's own region.
#[derive(Debug, Clone)]
pub struct Lambda {
    client: Client,
}

impl Lambda {
    /// A client with the SDK configuration's region (`AWS_REGION` in Lambda).
    pub fn new(config: &SdkConfig) -> Self {
        let region = config
            .region()
            .map_or_else(|| "unknown".to_string(), ToString::to_string);
        let conf = aws_sdk_lambda::config::Builder::from(config)
            .interceptor(super::throttle::ThrottleObserver::new(&region))
            .build();
        Lambda {
            client: Client::from_conf(conf),
        }
    }

    /// Queues one asynchronous invocation of `function` (name or ARN) with
    /// `payload`; Lambda answers 202 once the event is queued.
    pub async fn invoke_event(&self, function: &str, payload: Vec<u8>) -> Result<(), AwsError> {
        let out = self
            .client
            .invoke()
            .function_name(function)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("lambda:Invoke", e))?;
        if out.status_code() != 202 {
            return Err(AwsError {
                call: "lambda:Invoke".into(),
                kind: super::AwsErrorKind::Other,
                code: None,
                message: format!(
                    "the asynchronous invocation was answered with status {} (expected 202)",
                    out.status_code()
                ),
            });
        }
        Ok(())
    }
}
