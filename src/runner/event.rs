//! The runner's invocation event.
//!
//! `sync` writes it as the `Input` of each EventBridge Scheduler schedule,
//! with Scheduler's context attributes in the string fields it fills in
//! (`<aws.scheduler.scheduled-time>`); the runner sends it to itself, with a
//! [`Continuation`], when a run must go on in a new invocation.

use serde::{Deserialize, Serialize};

use crate::plan::Action;

/// Scheduler's placeholder for the time a schedule fired (RFC 3339, UTC).
pub const SCHEDULED_TIME_PLACEHOLDER: &str = "<aws.scheduler.scheduled-time>";

/// Default for [`RunnerEvent::max_age_seconds`]: an event that arrives later
/// than this after its schedule fired is dropped, not run.
pub const DEFAULT_MAX_AGE_SECONDS: u32 = 3600;

/// One invocation of the runner: run `action` for `workload`, exactly as
/// `tierctl run ACTION WORKLOAD --from dynamodb [--profile P]` does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunnerEvent {
    /// `stop` or `start`.
    pub action: Action,
    /// The workload's name (`SpecName`).
    pub workload: String,
    /// Scaling profile applied at start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// When the schedule fired (Scheduler fills in [`SCHEDULED_TIME_PLACEHOLDER`]).
    /// Absent for events sent by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_time: Option<String>,
    /// Events older than this many seconds after `scheduledTime` are dropped
    /// (the same value as the schedule's retry policy `MaximumEventAgeInSeconds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<u32>,
    /// Set only by the runner when it continues its own run in a new invocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuation: Option<Continuation>,
}

/// Where a run split across invocations goes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Continuation {
    /// The run lease's holder id, kept across invocations.
    pub holder: String,
    /// 1 for the first continuation, then 2, ...; bounded by the runner.
    pub invocation: u32,
}

impl RunnerEvent {
    /// The input `sync` writes on a workload's schedule for `action`.
    pub fn scheduled(
        action: Action,
        workload: &str,
        profile: Option<&str>,
        max_age_seconds: u32,
    ) -> Self {
        RunnerEvent {
            action,
            workload: workload.to_string(),
            profile: profile.map(str::to_string),
            scheduled_time: Some(SCHEDULED_TIME_PLACEHOLDER.to_string()),
            max_age_seconds: Some(max_age_seconds),
            continuation: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduled_input_is_the_documented_json() {
        let e = RunnerEvent::scheduled(Action::Start, "shop", Some("performant"), 3600);
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({
                "action": "start",
                "workload": "shop",
                "profile": "performant",
                "scheduledTime": "<aws.scheduler.scheduled-time>",
                "maxAgeSeconds": 3600
            })
        );
        let back: RunnerEvent = serde_json::from_value(serde_json::to_value(&e).unwrap()).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let e = serde_json::from_str::<RunnerEvent>(r#"{"action":"stop","workload":"w","x":1}"#);
        assert!(e.is_err());
    }
}
