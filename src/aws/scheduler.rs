//! Amazon EventBridge Scheduler: tierctl's schedule group and the schedules
//! in it. Calls and translation only: what to create, update or delete is
//! decided in [`crate::store::schedules`].
//!
//! Schedules are read and written as [`Definition`]s, plain data holding
//! every field tierctl sets, plus the names of fields it does not set but
//! found on a schedule ([`Definition::other_fields`]), so that a schedule
//! edited by hand compares as different.

use aws_config::SdkConfig;
use aws_sdk_scheduler::Client;
use aws_sdk_scheduler::types::{
    DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode, RetryPolicy, ScheduleState, Tag,
    Target,
};

use super::{AwsError, AwsErrorKind};

/// Every field of a schedule tierctl sets, as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    /// Schedule name (unique in its group).
    pub name: String,
    /// Schedule group.
    pub group: String,
    /// `Description` (tierctl records the owning repository here).
    pub description: Option<String>,
    /// `ScheduleExpression`, e.g. `cron(0 19 ? * MON-FRI *)`.
    pub expression: String,
    /// `ScheduleExpressionTimezone` (AWS reads an absent one as UTC).
    pub timezone: Option<String>,
    /// `FlexibleTimeWindow.Mode` (`OFF` or `FLEXIBLE`).
    pub flexible_window: String,
    /// `FlexibleTimeWindow.MaximumWindowInMinutes`.
    pub flexible_window_minutes: Option<i32>,
    /// `State`: `ENABLED` or `DISABLED`.
    pub state: String,
    /// `Target.Arn`.
    pub target_arn: String,
    /// `Target.RoleArn`.
    pub role_arn: String,
    /// `Target.Input`.
    pub input: Option<String>,
    /// `Target.RetryPolicy.MaximumEventAgeInSeconds`.
    pub max_event_age_seconds: Option<i32>,
    /// `Target.RetryPolicy.MaximumRetryAttempts`.
    pub max_retry_attempts: Option<i32>,
    /// `Target.DeadLetterConfig.Arn`.
    pub dead_letter_arn: Option<String>,
    /// Fields set on the schedule that tierctl never sets (`StartDate`,
    /// `KmsKeyArn`, `Target.SqsParameters`, ...): empty for what tierctl wrote.
    pub other_fields: Vec<String>,
}

/// A Scheduler client in one region.
#[derive(Debug, Clone)]
pub struct Scheduler {
    client: Client,
    region: String,
}

fn missing(call: &str, what: &str) -> AwsError {
    AwsError {
        call: call.into(),
        kind: AwsErrorKind::Other,
        code: None,
        message: format!("the answer has no {what}"),
    }
}

fn build_error(call: &str, name: &str, e: impl std::fmt::Display) -> AwsError {
    AwsError {
        call: call.into(),
        kind: AwsErrorKind::Other,
        code: None,
        message: format!("schedule {name}: {e}"),
    }
}

/// An SDK error of `call` on schedule (or group) `name`, the name in the message.
fn named<E, R>(call: &str, name: &str, e: aws_sdk_scheduler::error::SdkError<E, R>) -> AwsError
where
    E: aws_sdk_scheduler::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let mut err = AwsError::from_sdk(call, e);
    err.message = format!("{name}: {}", err.message);
    err
}

impl Scheduler {
    /// A client in `region`.
    pub fn new(config: &SdkConfig, region: &str) -> Self {
        let conf = aws_sdk_scheduler::config::Builder::from(config)
            .region(aws_config::Region::new(region.to_string()))
            .interceptor(super::throttle::ThrottleObserver::new(region))
            .build();
        Scheduler {
            client: Client::from_conf(conf),
            region: region.to_string(),
        }
    }

    /// The region the client talks to.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Whether schedule group `name` exists (`GetScheduleGroup`).
    pub async fn group_exists(&self, name: &str) -> Result<bool, AwsError> {
        match self.client.get_schedule_group().name(name).send().await {
            Ok(_) => Ok(true),
            Err(e) => {
                let e = named("scheduler:GetScheduleGroup", name, e);
                if e.kind == AwsErrorKind::NotFound {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// `CreateScheduleGroup` with one tag.
    pub async fn create_group(
        &self,
        name: &str,
        tag_key: &str,
        tag_value: &str,
    ) -> Result<(), AwsError> {
        let tag = Tag::builder()
            .key(tag_key)
            .value(tag_value)
            .build()
            .map_err(|e| build_error("scheduler:CreateScheduleGroup", name, e))?;
        self.client
            .create_schedule_group()
            .name(name)
            .tags(tag)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| named("scheduler:CreateScheduleGroup", name, e))
    }

    /// The names of every schedule in `group` (`ListSchedules`, all pages).
    pub async fn list_names(&self, group: &str) -> Result<Vec<String>, AwsError> {
        let mut pages = self
            .client
            .list_schedules()
            .group_name(group)
            .into_paginator()
            .send();
        let mut names = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| named("scheduler:ListSchedules", group, e))?;
            names.extend(
                page.schedules()
                    .iter()
                    .filter_map(|s| s.name())
                    .map(str::to_string),
            );
        }
        names.sort();
        Ok(names)
    }

    /// One schedule (`GetSchedule`); `None` when it no longer exists.
    pub async fn get(&self, group: &str, name: &str) -> Result<Option<Definition>, AwsError> {
        const CALL: &str = "scheduler:GetSchedule";
        let out = match self
            .client
            .get_schedule()
            .group_name(group)
            .name(name)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) => {
                let e = named(CALL, name, e);
                return if e.kind == AwsErrorKind::NotFound {
                    Ok(None)
                } else {
                    Err(e)
                };
            }
        };
        let target = out.target().ok_or_else(|| missing(CALL, "Target"))?;
        let window = out.flexible_time_window();
        let mut other = Vec::new();
        for (field, set) in [
            ("StartDate", out.start_date().is_some()),
            ("EndDate", out.end_date().is_some()),
            ("KmsKeyArn", out.kms_key_arn().is_some()),
            (
                "ActionAfterCompletion",
                out.action_after_completion()
                    .is_some_and(|a| a.as_str() != "NONE"),
            ),
            ("Target.EcsParameters", target.ecs_parameters().is_some()),
            (
                "Target.EventBridgeParameters",
                target.event_bridge_parameters().is_some(),
            ),
            (
                "Target.KinesisParameters",
                target.kinesis_parameters().is_some(),
            ),
            (
                "Target.SageMakerPipelineParameters",
                target.sage_maker_pipeline_parameters().is_some(),
            ),
            ("Target.SqsParameters", target.sqs_parameters().is_some()),
        ] {
            if set {
                other.push(field.to_string());
            }
        }
        Ok(Some(Definition {
            name: out.name().unwrap_or(name).to_string(),
            group: out.group_name().unwrap_or(group).to_string(),
            description: out
                .description()
                .filter(|d| !d.is_empty())
                .map(str::to_string),
            expression: out.schedule_expression().unwrap_or_default().to_string(),
            timezone: out.schedule_expression_timezone().map(str::to_string),
            flexible_window: window
                .map(|w| w.mode().as_str().to_string())
                .unwrap_or_default(),
            flexible_window_minutes: window.and_then(|w| w.maximum_window_in_minutes()),
            state: out
                .state()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            target_arn: target.arn().to_string(),
            role_arn: target.role_arn().to_string(),
            input: target.input().map(str::to_string),
            max_event_age_seconds: target
                .retry_policy()
                .and_then(|r| r.maximum_event_age_in_seconds()),
            max_retry_attempts: target
                .retry_policy()
                .and_then(|r| r.maximum_retry_attempts()),
            dead_letter_arn: target
                .dead_letter_config()
                .and_then(|d| d.arn())
                .map(str::to_string),
            other_fields: other,
        }))
    }

    fn parts(
        d: &Definition,
        call: &str,
    ) -> Result<(FlexibleTimeWindow, Target, ScheduleState), AwsError> {
        let mut window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::from(d.flexible_window.as_str()));
        if let Some(m) = d.flexible_window_minutes {
            window = window.maximum_window_in_minutes(m);
        }
        let window = window.build().map_err(|e| build_error(call, &d.name, e))?;
        let mut retry = RetryPolicy::builder();
        if let Some(a) = d.max_event_age_seconds {
            retry = retry.maximum_event_age_in_seconds(a);
        }
        if let Some(n) = d.max_retry_attempts {
            retry = retry.maximum_retry_attempts(n);
        }
        let mut target = Target::builder()
            .arn(&d.target_arn)
            .role_arn(&d.role_arn)
            .retry_policy(retry.build())
            .set_input(d.input.clone());
        if let Some(dlq) = &d.dead_letter_arn {
            target = target.dead_letter_config(DeadLetterConfig::builder().arn(dlq).build());
        }
        let target = target.build().map_err(|e| build_error(call, &d.name, e))?;
        Ok((window, target, ScheduleState::from(d.state.as_str())))
    }

    /// `CreateSchedule` from `d`.
    pub async fn create(&self, d: &Definition) -> Result<(), AwsError> {
        const CALL: &str = "scheduler:CreateSchedule";
        let (window, target, state) = Self::parts(d, CALL)?;
        self.client
            .create_schedule()
            .name(&d.name)
            .group_name(&d.group)
            .set_description(d.description.clone())
            .schedule_expression(&d.expression)
            .set_schedule_expression_timezone(d.timezone.clone())
            .flexible_time_window(window)
            .target(target)
            .state(state)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| named(CALL, &d.name, e))
    }

    /// `UpdateSchedule` to `d` (AWS replaces every field: what `d` leaves out is reset).
    pub async fn update(&self, d: &Definition) -> Result<(), AwsError> {
        const CALL: &str = "scheduler:UpdateSchedule";
        let (window, target, state) = Self::parts(d, CALL)?;
        self.client
            .update_schedule()
            .name(&d.name)
            .group_name(&d.group)
            .set_description(d.description.clone())
            .schedule_expression(&d.expression)
            .set_schedule_expression_timezone(d.timezone.clone())
            .flexible_time_window(window)
            .target(target)
            .state(state)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| named(CALL, &d.name, e))
    }

    /// `DeleteSchedule`; a schedule already gone is not an error.
    pub async fn delete(&self, group: &str, name: &str) -> Result<(), AwsError> {
        match self
            .client
            .delete_schedule()
            .group_name(group)
            .name(name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = named("scheduler:DeleteSchedule", name, e);
                if e.kind == AwsErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }
}
