//! SNS: finding (or creating) a notification topic by name, and publishing
//! to it.
//!
//! Topics are named in the specs but addressed by ARN in the API. [`Topics`]
//! resolves names once per run and region: one paginated `ListTopics` per
//! region, whatever the number of workloads, or `CreateTopic` (idempotent)
//! when the run may create missing topics, as the original did.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_sns::Client;

use super::{AwsError, AwsErrorKind};

/// An SNS client in one region.
#[derive(Debug, Clone)]
pub struct Sns {
    client: Client,
    region: String,
}

impl Sns {
    /// A client in `region`.
    pub fn new(config: &SdkConfig, region: &str) -> Self {
        let conf = aws_sdk_sns::config::Builder::from(config)
            .region(aws_config::Region::new(region.to_string()))
            .interceptor(super::throttle::ThrottleObserver::new(region))
            .build();
        Sns {
            client: Client::from_conf(conf),
            region: region.to_string(),
        }
    }

    /// The region the client talks to.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Every topic ARN of the region (`ListTopics`, all pages).
    pub async fn list_topics(&self) -> Result<Vec<String>, AwsError> {
        let mut pages = self.client.list_topics().into_paginator().send();
        let mut arns = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("sns:ListTopics", e))?;
            arns.extend(
                page.topics()
                    .iter()
                    .filter_map(|t| t.topic_arn())
                    .map(str::to_string),
            );
        }
        Ok(arns)
    }

    /// `CreateTopic` (idempotent: an existing topic's ARN comes back).
    pub async fn create_topic(&self, name: &str) -> Result<String, AwsError> {
        let mut req = self.client.create_topic().name(name);
        if name.ends_with(".fifo") {
            req = req.attributes("FifoTopic", "true");
        }
        let out = req
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("sns:CreateTopic", e))?;
        out.topic_arn().map(str::to_string).ok_or_else(|| AwsError {
            call: "sns:CreateTopic".into(),
            kind: AwsErrorKind::Other,
            code: None,
            message: format!("no topic ARN in the answer for topic {name}"),
        })
    }

    /// `Publish` a plain-text message. FIFO topics get a message group
    /// (and a deduplication id, as content-based deduplication may be off).
    pub async fn publish(&self, arn: &str, subject: &str, message: &str) -> Result<(), AwsError> {
        let mut req = self
            .client
            .publish()
            .topic_arn(arn)
            .subject(subject)
            .message(message);
        if arn.ends_with(".fifo") {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            req = req
                .message_group_id("tierctl")
                .message_deduplication_id(format!("tierctl-{}-{nanos}", std::process::id()));
        }
        req.send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("sns:Publish", e))
    }
}

/// The name of a topic ARN: its last `:` segment.
pub fn topic_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

/// Resolves topic names to ARNs, once per run and region.
#[derive(Debug)]
pub struct Topics {
    config: SdkConfig,
    create: bool,
    clients: BTreeMap<String, Sns>,
    /// Per region: the ARNs `ListTopics` gave (or the error it gave).
    listed: BTreeMap<String, Result<Vec<String>, AwsError>>,
    /// (region, name) -> ARN, once resolved or created.
    resolved: BTreeMap<(String, String), Result<String, AwsError>>,
}

impl Topics {
    /// A resolver; with `create`, missing topics are created (`CreateTopic`)
    /// instead of being looked up.
    pub fn new(config: &SdkConfig, create: bool) -> Self {
        Topics {
            config: config.clone(),
            create,
            clients: BTreeMap::new(),
            listed: BTreeMap::new(),
            resolved: BTreeMap::new(),
        }
    }

    /// The client of `region`.
    pub fn client(&mut self, region: &str) -> &Sns {
        self.clients
            .entry(region.to_string())
            .or_insert_with(|| Sns::new(&self.config, region))
    }

    /// The ARN of topic `name` in `region`. Without `create`, a topic that
    /// does not exist is a `NotFound` error naming the topic and the call.
    pub async fn arn(&mut self, region: &str, name: &str) -> Result<String, AwsError> {
        let key = (region.to_string(), name.to_string());
        if let Some(r) = self.resolved.get(&key) {
            return r.clone();
        }
        let result = if self.create {
            self.client(region).clone().create_topic(name).await
        } else {
            if !self.listed.contains_key(region) {
                let listed = self.client(region).clone().list_topics().await;
                self.listed.insert(region.to_string(), listed);
            }
            match &self.listed[region] {
                Ok(arns) => arns
                    .iter()
                    .find(|a| topic_name(a) == name)
                    .cloned()
                    .ok_or_else(|| AwsError {
                        call: "sns:ListTopics".into(),
                        kind: AwsErrorKind::NotFound,
                        code: None,
                        message: format!(
                            "topic {name} does not exist in {region} (create it, or pass --create-topic)"
                        ),
                    }),
                Err(e) => Err(e.clone()),
            }
        };
        self.resolved.insert(key, result.clone());
        result
    }
}

#[cfg(test)]
mod tests {
    use super::topic_name;

    #[test]
    fn topic_names_are_the_last_arn_segment() {
        assert_eq!(
            topic_name("arn:aws:sns:us-west-2:123456789012:SchedulerTesting"),
            "SchedulerTesting"
        );
        assert_eq!(
            topic_name("arn:aws:sns:us-west-2:123456789012:q.fifo"),
            "q.fifo"
        );
        assert_eq!(topic_name("plain"), "plain");
    }
}
