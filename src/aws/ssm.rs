//! SSM Run Command: the override-file check on a tier's instances.
//!
//! One check covers every candidate at once, in three steps:
//!
//! 1. `DescribeInstanceInformation` (filtered to the candidates, 50 ids per
//!    call) sorts out instances whose agent is missing, not online, or on the
//!    wrong platform: sending them a command would fail the whole batch.
//! 2. `SendCommand` with up to 50 instance ids per call (the API limit), all
//!    batches concurrently, running tierctl's own document
//!    ([`crate::guest::DOCUMENT`], created by `sync`) with the path as its
//!    only parameter.
//! 3. `ListCommandInvocations` with details, polled with a backoff until every
//!    invocation is final or the deadline passes. The plugin output it returns
//!    (up to 2,500 chars) is plenty for the one marker line, so nothing is
//!    read per instance and nothing is read from S3.
//!
//! This module sends and collects; it decides nothing. Every instance gets
//! one [`Reply`]: the final invocation as SSM reported it, or why there is
//! none (call errors, deadlines, panics); [`crate::guest::decide`] reads it.
//!
//! Also the document's own calls for `sync` (`DescribeDocument`,
//! `CreateDocument`, `UpdateDocument`, `UpdateDocumentDefaultVersion`).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::{CommandInvocation, InstanceInformationStringFilter};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{debug, warn};

use super::{AwsError, AwsErrorKind};
use crate::guest::{self, Agent, Reply};
use crate::spec::GuestOs;

/// Instance ids per `SendCommand` (the API limit) and per
/// `DescribeInstanceInformation` filter.
const BATCH: usize = 50;
/// Page size for the paginated SSM calls (their maximum).
const PAGE: i32 = 50;
/// First and longest wait between two `ListCommandInvocations` polls.
const FIRST_POLL: Duration = Duration::from_millis(100);
const MAX_POLL: Duration = Duration::from_secs(1);
/// Extra time the last poll may take after the deadline: the poll that
/// starts at the deadline must still be able to see answers that arrived.
const LAST_POLL_GRACE: Duration = Duration::from_millis(500);
/// How long a best-effort `CancelCommand` may take.
const CANCEL_BUDGET: Duration = Duration::from_secs(1);
/// `SendCommand`'s `TimeoutSeconds` range.
const MIN_DELIVERY_TIMEOUT: u64 = 30;
const MAX_DELIVERY_TIMEOUT: u64 = 2_592_000;
/// Shown in the SSM console and in `ListCommands` (at most 100 chars).
const COMMENT: &str = "tierctl override check";

/// An SSM client in one region.
#[derive(Debug, Clone)]
pub struct Ssm {
    client: Client,
}

/// What to check on every instance of one [`Ssm::check_overrides`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideRequest {
    /// The guests' OS family: picks the SSM document and the quoting.
    pub os: GuestOs,
    /// The override file's path on the guest (data, never code).
    pub file: String,
    /// Overall deadline for the whole check, from the call to its answer.
    pub timeout: Duration,
    /// Optional audit copy of the output (`OutputS3BucketName`); never read back.
    pub output_bucket: Option<String>,
    /// Key prefix of the audit copy (`OutputS3KeyPrefix`).
    pub output_prefix: Option<String>,
}

impl Ssm {
    /// A client in `region`.
    pub fn new(config: &SdkConfig, region: &str) -> Self {
        let conf = aws_sdk_ssm::config::Builder::from(config)
            .region(aws_config::Region::new(region.to_string()))
            .interceptor(super::throttle::ThrottleObserver::new(region))
            .build();
        Ssm {
            client: Client::from_conf(conf),
        }
    }

    /// Checks the override file on every instance at once; fail-safe per instance.
    ///
    /// Every distinct id in `ids` gets exactly one outcome. `Absent` only
    /// when the guest positively said so within `req.timeout`; anything else
    /// is `Present` or `Unchecked` with a reason for the report. Never fails
    /// as a whole and never panics: errors become `Unchecked` for the
    /// instances they affect.
    pub async fn check_overrides(
        &self,
        req: &OverrideRequest,
        ids: &[String],
    ) -> BTreeMap<String, Reply> {
        let deadline = Instant::now() + req.timeout;
        let wanted: BTreeSet<String> = ids.iter().cloned().collect();
        let mut outcomes = BTreeMap::new();
        if wanted.is_empty() {
            return outcomes;
        }
        let wanted_list: Vec<String> = wanted.iter().cloned().collect();

        // Step 1: only instances with an online agent on the right platform
        // get the command. A single bad id would make AWS reject its whole
        // SendCommand batch, so they are sorted out first.
        let chunks = wanted_list.chunks(BATCH).map(|chunk| {
            let client = self.client.clone();
            let chunk = chunk.to_vec();
            async move {
                let agents = describe_agents(&client, &chunk, deadline).await;
                (chunk, agents)
            }
        });
        let mut ready = Vec::new();
        for (chunk, agents) in join_all(chunks).await {
            match agents {
                Ok(agents) => {
                    for id in chunk {
                        match guest::agent_problem(req.os, agents.get(&id)) {
                            None => ready.push(id),
                            Some(reason) => {
                                outcomes.insert(id, Reply::NoAnswer(reason));
                            }
                        }
                    }
                }
                Err(err) => {
                    warn!(instances = chunk.len(), error = %err, "SSM agent lookup failed");
                    for id in chunk {
                        outcomes.insert(id, Reply::NoAnswer(err.to_string()));
                    }
                }
            }
        }

        // Steps 2 and 3: one task per SendCommand batch, each sending and
        // then polling its own command, so batches never wait for each other.
        let plan = Arc::new(CommandPlan::new(req));
        let batches = ready.chunks(BATCH).map(|batch| {
            let client = self.client.clone();
            let plan = Arc::clone(&plan);
            let batch = batch.to_vec();
            async move { check_batch(&client, &plan, batch, deadline).await }
        });
        for results in join_all(batches).await {
            outcomes.extend(results);
        }

        // Safety net: a batch task that panicked leaves its ids without an
        // answer, and no answer must never read as "absent".
        for id in wanted {
            outcomes
                .entry(id)
                .or_insert_with(|| Reply::NoAnswer("internal error: no outcome".into()));
        }
        for (id, outcome) in &outcomes {
            if let Reply::NoAnswer(reason) = outcome {
                warn!(instance = %id, %reason, "override check: no answer");
            }
        }
        outcomes
    }
}

/// What `DescribeDocument` returns that `sync` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentInfo {
    /// `Description`.
    pub description: Option<String>,
    /// `DocumentType`.
    pub document_type: Option<String>,
    /// `DefaultVersion`.
    pub default_version: Option<String>,
    /// `LatestVersion`.
    pub latest_version: Option<String>,
}

impl Ssm {
    /// `DescribeDocument`; `None` when there is no document of that name.
    pub async fn describe_document(&self, name: &str) -> Result<Option<DocumentInfo>, AwsError> {
        const CALL: &str = "ssm:DescribeDocument";
        debug!(name, "{CALL}");
        match self.client.describe_document().name(name).send().await {
            Ok(out) => Ok(out.document().map(|d| DocumentInfo {
                description: d.description().map(str::to_string),
                document_type: d.document_type().map(|t| t.as_str().to_string()),
                default_version: d.default_version().map(str::to_string),
                latest_version: d.latest_version().map(str::to_string),
            })),
            Err(e) => {
                let err = AwsError::from_sdk(CALL, e);
                if err.code.as_deref() == Some("InvalidDocument") {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
        }
    }

    /// `CreateDocument`: a Command document in JSON.
    pub async fn create_document(&self, name: &str, content: &str) -> Result<(), AwsError> {
        const CALL: &str = "ssm:CreateDocument";
        debug!(name, "{CALL}");
        self.client
            .create_document()
            .name(name)
            .content(content)
            .document_type(aws_sdk_ssm::types::DocumentType::Command)
            .document_format(aws_sdk_ssm::types::DocumentFormat::Json)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(CALL, e))?;
        Ok(())
    }

    /// `UpdateDocument` on `$LATEST`; the new version.
    pub async fn update_document(&self, name: &str, content: &str) -> Result<String, AwsError> {
        const CALL: &str = "ssm:UpdateDocument";
        debug!(name, "{CALL}");
        let out = self
            .client
            .update_document()
            .name(name)
            .content(content)
            .document_version("$LATEST")
            .document_format(aws_sdk_ssm::types::DocumentFormat::Json)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(CALL, e))?;
        out.document_description()
            .and_then(|d| d.document_version())
            .map(str::to_string)
            .ok_or_else(|| local_error(CALL, "the answer has no document version".into()))
    }

    /// `UpdateDocumentDefaultVersion`.
    pub async fn set_default_version(&self, name: &str, version: &str) -> Result<(), AwsError> {
        const CALL: &str = "ssm:UpdateDocumentDefaultVersion";
        debug!(name, version, "{CALL}");
        self.client
            .update_document_default_version()
            .name(name)
            .document_version(version)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(CALL, e))?;
        Ok(())
    }
}

/// Runs the futures concurrently and returns the results of those that
/// finished (in completion order). A panicking future is logged and dropped;
/// the caller fills in what is missing.
async fn join_all<T, F>(futures: impl IntoIterator<Item = F>) -> Vec<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let mut set = JoinSet::new();
    for future in futures {
        set.spawn(future);
    }
    let mut out = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(value) => out.push(value),
            Err(err) => warn!(error = %err, "override check task failed"),
        }
    }
    out
}

/// The agents of `ids` (at most 50) that SSM knows, by instance id.
async fn describe_agents(
    client: &Client,
    ids: &[String],
    deadline: Instant,
) -> Result<BTreeMap<String, Agent>, AwsError> {
    const CALL: &str = "ssm:DescribeInstanceInformation";
    let filter = InstanceInformationStringFilter::builder()
        .key("InstanceIds")
        .set_values(Some(ids.to_vec()))
        .build()
        .map_err(|e| local_error(CALL, e.to_string()))?;
    debug!(instances = ids.len(), "{CALL}");
    let mut pages = client
        .describe_instance_information()
        .filters(filter)
        .max_results(PAGE)
        .into_paginator()
        .send();
    let mut agents = BTreeMap::new();
    loop {
        let page = match tokio::time::timeout_at(deadline, pages.next()).await {
            Err(_) => return Err(deadline_error(CALL)),
            Ok(None) => break,
            Ok(Some(page)) => page.map_err(|e| AwsError::from_sdk(CALL, e))?,
        };
        for info in page.instance_information_list() {
            let Some(id) = info.instance_id() else {
                continue;
            };
            agents.insert(
                id.to_string(),
                Agent {
                    ping: info
                        .ping_status()
                        .map_or("unknown", |p| p.as_str())
                        .to_string(),
                    platform: info.platform_type().map(|p| p.as_str().to_string()),
                },
            );
        }
    }
    Ok(agents)
}

/// The `SendCommand` request shared by every batch of one check.
#[derive(Debug)]
struct CommandPlan {
    document: &'static str,
    /// The document's one parameter: the path.
    path: String,
    /// `TimeoutSeconds`: how long SSM may take to deliver the command.
    delivery_timeout: i32,
    output_bucket: Option<String>,
    output_prefix: Option<String>,
    /// The overall timeout as people read it, for reasons.
    timeout_label: String,
}

impl CommandPlan {
    fn new(req: &OverrideRequest) -> Self {
        // Rounded up: the guest must not give up before tierctl does.
        let secs = req.timeout.as_secs_f64().ceil().max(1.0) as u64;
        let delivery = secs.clamp(MIN_DELIVERY_TIMEOUT, MAX_DELIVERY_TIMEOUT);
        CommandPlan {
            document: guest::DOCUMENT,
            path: req.file.clone(),
            delivery_timeout: i32::try_from(delivery).unwrap_or(i32::MAX),
            output_bucket: req.output_bucket.clone(),
            output_prefix: req.output_prefix.clone(),
            timeout_label: seconds_label(req.timeout),
        }
    }
}

/// Sends the check to one batch (at most 50 ids) and collects every answer.
async fn check_batch(
    client: &Client,
    plan: &CommandPlan,
    ids: Vec<String>,
    deadline: Instant,
) -> Vec<(String, Reply)> {
    let mut out = Vec::new();
    let Some((command_id, sent)) = send_with_retry(client, plan, ids, deadline, &mut out).await
    else {
        return out;
    };
    collect_answers(client, plan, &command_id, sent, deadline, &mut out).await;
    out
}

/// `SendCommand` for `ids`; when AWS rejects the call for named instances
/// (`InvalidInstanceId`, e.g. an agent that dropped off since step 1), those
/// are held back and the rest is sent once more. Returns the command id and
/// the ids it covers; everything not covered is already in `out`.
async fn send_with_retry(
    client: &Client,
    plan: &CommandPlan,
    ids: Vec<String>,
    deadline: Instant,
    out: &mut Vec<(String, Reply)>,
) -> Option<(String, Vec<String>)> {
    let err = match send(client, plan, &ids, deadline).await {
        Ok(command_id) => return Some((command_id, ids)),
        Err(err) => err,
    };
    let named = if err.code.as_deref() == Some("InvalidInstanceId") {
        named_instances(&err.message, &ids)
    } else {
        BTreeSet::new()
    };
    warn!(instances = ids.len(), rejected = named.len(), error = %err, "SendCommand failed");
    let reason = err.to_string();
    if named.is_empty() {
        out.extend(ids.into_iter().map(|id| unchecked(id, &reason)));
        return None;
    }
    let (rejected, rest): (Vec<String>, Vec<String>) =
        ids.into_iter().partition(|id| named.contains(id));
    out.extend(rejected.into_iter().map(|id| unchecked(id, &reason)));
    if rest.is_empty() {
        return None;
    }
    match send(client, plan, &rest, deadline).await {
        Ok(command_id) => Some((command_id, rest)),
        Err(err) => {
            warn!(instances = rest.len(), error = %err, "SendCommand retry failed");
            let reason = err.to_string();
            out.extend(rest.into_iter().map(|id| unchecked(id, &reason)));
            None
        }
    }
}

/// One `SendCommand`; the command id on success.
async fn send(
    client: &Client,
    plan: &CommandPlan,
    ids: &[String],
    deadline: Instant,
) -> Result<String, AwsError> {
    const CALL: &str = "ssm:SendCommand";
    debug!(instances = ids.len(), document = plan.document, "{CALL}");
    let request = client
        .send_command()
        .document_name(plan.document)
        .set_instance_ids(Some(ids.to_vec()))
        .parameters(guest::PARAMETER, vec![plan.path.clone()])
        .timeout_seconds(plan.delivery_timeout)
        .comment(COMMENT)
        // The defaults (MaxErrors 0, MaxConcurrency 50 ramping up) would stop
        // checking the whole batch after one failing guest and slow it down;
        // each instance's answer must stand on its own.
        .max_concurrency("100%")
        .max_errors("100%")
        .set_output_s3_bucket_name(plan.output_bucket.clone())
        .set_output_s3_key_prefix(plan.output_prefix.clone());
    let sent = match tokio::time::timeout_at(deadline, request.send()).await {
        Err(_) => return Err(deadline_error(CALL)),
        Ok(result) => result.map_err(|e| AwsError::from_sdk(CALL, e))?,
    };
    let command_id = sent
        .command()
        .and_then(|c| c.command_id())
        .ok_or_else(|| local_error(CALL, "the answer has no command id".into()))?;
    debug!(command_id, instances = ids.len(), "{CALL}: sent");
    Ok(command_id.to_string())
}

/// The batch's instance ids that an AWS error message names
/// (`Instances [[i-0a, i-0b]] not in a valid state ...`).
fn named_instances(message: &str, batch: &[String]) -> BTreeSet<String> {
    message
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|word| batch.iter().any(|id| id == word))
        .map(str::to_string)
        .collect()
}

/// Polls `ListCommandInvocations` until every invocation of `command_id` is
/// final or the deadline passes; what is still running then is held back and
/// cancelled.
async fn collect_answers(
    client: &Client,
    plan: &CommandPlan,
    command_id: &str,
    ids: Vec<String>,
    deadline: Instant,
    out: &mut Vec<(String, Reply)>,
) {
    let mut waiting: BTreeSet<String> = ids.into_iter().collect();
    let mut pause = FIRST_POLL;
    let mut last_error = None;
    loop {
        // Answers take at least one agent round trip: wait before each poll,
        // but always poll once more at the deadline.
        tokio::time::sleep_until((Instant::now() + pause).min(deadline)).await;
        match list_invocations(client, command_id, deadline + LAST_POLL_GRACE).await {
            Ok(invocations) => {
                for inv in &invocations {
                    let Some(id) = inv.instance_id() else {
                        continue;
                    };
                    if !waiting.contains(id) {
                        continue;
                    }
                    // An invocation that is not listed yet (AWS is eventually
                    // consistent) or still running simply stays waiting.
                    if let Some(outcome) = final_outcome(inv) {
                        waiting.remove(id);
                        out.push((id.to_string(), outcome));
                    }
                }
            }
            Err(err) => {
                warn!(command_id, error = %err, "polling the override check failed");
                last_error = Some(err);
            }
        }
        if waiting.is_empty() || Instant::now() >= deadline {
            break;
        }
        pause = (pause * 2).min(MAX_POLL);
    }
    if waiting.is_empty() {
        return;
    }
    let mut reason = format!("no answer within {}", plan.timeout_label);
    if let Some(err) = last_error {
        reason.push_str(&format!(" (last poll: {err})"));
    }
    out.extend(waiting.iter().map(|id| unchecked(id.clone(), &reason)));
    cancel(client, command_id, waiting.into_iter().collect()).await;
}

/// Every invocation of `command_id`, with plugin details, all pages.
async fn list_invocations(
    client: &Client,
    command_id: &str,
    until: Instant,
) -> Result<Vec<CommandInvocation>, AwsError> {
    const CALL: &str = "ssm:ListCommandInvocations";
    debug!(command_id, "{CALL}");
    let mut pages = client
        .list_command_invocations()
        .command_id(command_id)
        .details(true)
        .max_results(PAGE)
        .into_paginator()
        .send();
    let mut all = Vec::new();
    loop {
        match tokio::time::timeout_at(until, pages.next()).await {
            Err(_) => return Err(deadline_error(CALL)),
            Ok(None) => return Ok(all),
            Ok(Some(page)) => {
                let page = page.map_err(|e| AwsError::from_sdk(CALL, e))?;
                all.extend(page.command_invocations().iter().cloned());
            }
        }
    }
}

/// Best effort: stops invocations nobody waits for any more. They only read
/// a file, so a failed cancel costs nothing but agent time.
async fn cancel(client: &Client, command_id: &str, ids: Vec<String>) {
    debug!(command_id, instances = ids.len(), "ssm:CancelCommand");
    let request = client
        .cancel_command()
        .command_id(command_id)
        .set_instance_ids(Some(ids))
        .send();
    match tokio::time::timeout(CANCEL_BUDGET, request).await {
        Ok(Ok(_)) => {}
        Ok(Err(err)) => debug!(
            command_id,
            error = %AwsError::from_sdk("ssm:CancelCommand", err),
            "cancel failed (ignored)"
        ),
        Err(_) => debug!(command_id, "cancel took too long (ignored)"),
    }
}

/// The reply of a final invocation, or `None` while it is still running.
fn final_outcome(inv: &CommandInvocation) -> Option<Reply> {
    let status = inv.status()?.as_str();
    if matches!(status, "Pending" | "InProgress" | "Delayed" | "Cancelling") {
        return None;
    }
    let output = inv
        .command_plugins()
        .iter()
        .filter_map(|p| p.output())
        .collect::<Vec<_>>()
        .join("\n");
    Some(Reply::Final {
        status: status.to_string(),
        details: inv.status_details().map(str::to_string),
        output,
    })
}

/// `2s`, or `1.5s` when not whole.
fn seconds_label(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

fn unchecked(id: String, reason: &str) -> (String, Reply) {
    (id, Reply::NoAnswer(reason.to_string()))
}

fn deadline_error(call: &str) -> AwsError {
    AwsError {
        call: call.to_string(),
        kind: AwsErrorKind::Unreachable,
        code: None,
        message: "no answer before the override check's deadline".into(),
    }
}

fn local_error(call: &str, message: String) -> AwsError {
    AwsError {
        call: call.to_string(),
        kind: AwsErrorKind::Other,
        code: None,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejected_ids_are_read_from_the_message() {
        let batch: Vec<String> = ["i-0a1", "i-0b2", "i-0c3"].map(String::from).to_vec();
        let named = named_instances(
            "Instances [[i-0a1, i-0c3, i-0ffff]] not in a valid state for account 123456789012",
            &batch,
        );
        assert_eq!(
            named.into_iter().collect::<Vec<_>>(),
            ["i-0a1".to_string(), "i-0c3".to_string()]
        );
        assert!(named_instances("Instances [[]] not in a valid state", &batch).is_empty());
    }

    #[test]
    fn timeouts_respect_the_api_limits() {
        let req = |secs: f64| OverrideRequest {
            os: GuestOs::Linux,
            file: "/tmp/StopOverride".into(),
            timeout: Duration::from_secs_f64(secs),
            output_bucket: None,
            output_prefix: None,
        };
        let plan = CommandPlan::new(&req(0.2));
        assert_eq!(plan.delivery_timeout, 30);
        assert_eq!(plan.timeout_label, "0.2s");
        let plan = CommandPlan::new(&req(120.0));
        assert_eq!(plan.delivery_timeout, 120);
        assert_eq!(plan.timeout_label, "120s");
        assert_eq!(plan.document, "tierctl-OverrideCheck");
        assert_eq!(plan.path, "/tmp/StopOverride");
    }
}
