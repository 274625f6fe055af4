//! Whether an event is run at all: stale, duplicate and superseded events
//! are dropped before anything is locked or observed. Pure: the caller
//! reads the clock and the workload's record in the lease table.
//!
//! - **Stale**: it arrived more than `maxAgeSeconds` after its schedule fired.
//! - **Duplicate**: this action already ran for this `scheduledTime` (or a
//!   later one) — Lambda delivered an asynchronous event twice, or retried it.
//! - **Superseded**: the workload's other action ran for a later
//!   `scheduledTime` (a 19:00 stop arriving after the next 07:00 start ran).
//!
//! Events without `scheduledTime` (sent by hand) and the runner's own
//! continuations are always run.

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

use super::event::{DEFAULT_MAX_AGE_SECONDS, RunnerEvent, SCHEDULED_TIME_PLACEHOLDER};
use crate::plan::Action;

/// Per action, the latest `scheduledTime` (seconds since the epoch) a run
/// of it finished for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Handled {
    /// The last scheduled stop that ran.
    pub stop: Option<i64>,
    /// The last scheduled start that ran.
    pub start: Option<i64>,
}

impl Handled {
    /// The entry of `action`.
    pub fn of(&self, action: Action) -> Option<i64> {
        match action {
            Action::Stop => self.stop,
            Action::Start => self.start,
        }
    }
}

/// What to do with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Run it; `scheduled` is its `scheduledTime` (to record once it ran).
    Run {
        /// Seconds since the epoch, when the event has a schedule time.
        scheduled: Option<i64>,
    },
    /// Drop it, and say why (`stale event: ...`, `duplicate event: ...`, `superseded: ...`).
    Skip(String),
}

/// Why an event cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// `scheduledTime` is not an RFC 3339 time.
    #[error("event field scheduledTime: `{0}` is not an RFC 3339 time (e.g. 2026-03-02T19:00:00Z)")]
    ScheduledTime(String),
    /// An empty workload name.
    #[error("event field workload: empty")]
    Workload,
}

/// The event's `scheduledTime` in seconds since the epoch; `None` when it
/// has none, or when it still holds Scheduler's placeholder (the schedule's
/// input was sent by hand, not by Scheduler).
pub fn scheduled_secs(event: &RunnerEvent) -> Result<Option<i64>, EventError> {
    let Some(text) = event.scheduled_time.as_deref() else {
        return Ok(None);
    };
    if text == SCHEDULED_TIME_PLACEHOLDER {
        return Ok(None);
    }
    DateTime::from_str(text, Format::DateTime)
        .map(|t| Some(t.secs()))
        .map_err(|_| EventError::ScheduledTime(text.to_string()))
}

/// RFC 3339 text of `secs` (for messages).
pub fn rfc3339(secs: i64) -> String {
    DateTime::from_secs(secs)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| secs.to_string())
}

/// Decides on `event` at `now` (seconds since the epoch), given what the
/// workload's record says already ran.
pub fn admit(event: &RunnerEvent, now: i64, handled: &Handled) -> Result<Admission, EventError> {
    if event.workload.trim().is_empty() {
        return Err(EventError::Workload);
    }
    let scheduled = scheduled_secs(event)?;
    if event.continuation.is_some() {
        return Ok(Admission::Run { scheduled });
    }
    let Some(at) = scheduled else {
        return Ok(Admission::Run { scheduled });
    };
    let max_age = i64::from(event.max_age_seconds.unwrap_or(DEFAULT_MAX_AGE_SECONDS));
    let age = now.saturating_sub(at);
    if age > max_age {
        return Ok(Admission::Skip(format!(
            "stale event: scheduled at {}, arrived {age} s later (maxAgeSeconds {max_age}); not run",
            rfc3339(at)
        )));
    }
    let action = event.action;
    if let Some(done) = handled.of(action).filter(|d| *d >= at) {
        return Ok(Admission::Skip(format!(
            "duplicate event: the {} scheduled at {} already ran (last handled: {}); not run again",
            action.as_str(),
            rfc3339(at),
            rfc3339(done)
        )));
    }
    let other = match action {
        Action::Stop => Action::Start,
        Action::Start => Action::Stop,
    };
    if let Some(later) = handled.of(other).filter(|d| *d > at) {
        return Ok(Admission::Skip(format!(
            "superseded: this {} was scheduled at {}, but the {} scheduled later, at {}, already ran; not run",
            action.as_str(),
            rfc3339(at),
            other.as_str(),
            rfc3339(later)
        )));
    }
    Ok(Admission::Run {
        scheduled: Some(at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_772_478_000; // 2026-03-02T19:00:00Z

    fn ev(action: Action, at: Option<&str>) -> RunnerEvent {
        RunnerEvent {
            action,
            workload: "shop".into(),
            profile: None,
            scheduled_time: at.map(str::to_string),
            max_age_seconds: Some(600),
            continuation: None,
        }
    }

    #[test]
    fn scheduler_times_parse() {
        assert_eq!(rfc3339(T0), "2026-03-02T19:00:00Z");
        let e = ev(Action::Stop, Some("2026-03-02T19:00:00Z"));
        assert_eq!(scheduled_secs(&e), Ok(Some(T0)));
        let e = ev(Action::Stop, Some(SCHEDULED_TIME_PLACEHOLDER));
        assert_eq!(scheduled_secs(&e), Ok(None));
        let e = ev(Action::Stop, Some("yesterday"));
        assert!(matches!(
            admit(&e, T0, &Handled::default()),
            Err(EventError::ScheduledTime(_))
        ));
    }

    #[test]
    fn a_fresh_event_runs() {
        let e = ev(Action::Stop, Some("2026-03-02T19:00:00Z"));
        assert_eq!(
            admit(&e, T0 + 5, &Handled::default()),
            Ok(Admission::Run {
                scheduled: Some(T0)
            })
        );
        // By hand: no time, no gates.
        let e = ev(Action::Stop, None);
        let h = Handled {
            stop: Some(T0),
            start: Some(T0 + 100),
        };
        assert_eq!(admit(&e, T0, &h), Ok(Admission::Run { scheduled: None }));
    }

    #[test]
    fn a_stale_event_is_skipped() {
        let e = ev(Action::Stop, Some("2026-03-02T19:00:00Z"));
        let Ok(Admission::Skip(why)) = admit(&e, T0 + 601, &Handled::default()) else {
            panic!()
        };
        assert!(why.starts_with("stale event"), "{why}");
        assert!(matches!(
            admit(&e, T0 + 600, &Handled::default()),
            Ok(Admission::Run { .. })
        ));
    }

    #[test]
    fn a_duplicate_is_skipped_and_a_continuation_is_not() {
        let mut e = ev(Action::Stop, Some("2026-03-02T19:00:00Z"));
        let h = Handled {
            stop: Some(T0),
            start: None,
        };
        let Ok(Admission::Skip(why)) = admit(&e, T0 + 5, &h) else {
            panic!()
        };
        assert!(why.starts_with("duplicate event"), "{why}");
        // The next day's stop runs.
        let next = ev(Action::Stop, Some("2026-03-03T19:00:00Z"));
        assert!(matches!(
            admit(&next, T0 + 86_405, &h),
            Ok(Admission::Run { .. })
        ));
        // A continuation is the runner's own: never gated, even when old.
        e.continuation = Some(super::super::event::Continuation {
            holder: "h".into(),
            invocation: 1,
        });
        assert!(matches!(
            admit(&e, T0 + 5000, &h),
            Ok(Admission::Run { .. })
        ));
    }

    #[test]
    fn a_stop_that_arrives_after_the_next_start_ran_is_superseded() {
        let e = ev(Action::Stop, Some("2026-03-02T19:00:00Z"));
        let h = Handled {
            stop: None,
            start: Some(T0 + 12 * 3600),
        };
        let Ok(Admission::Skip(why)) = admit(&e, T0 + 60, &h) else {
            panic!()
        };
        assert!(why.starts_with("superseded"), "{why}");
        // A start that ran before this stop was scheduled does not supersede it.
        let h = Handled {
            stop: None,
            start: Some(T0 - 12 * 3600),
        };
        assert!(matches!(admit(&e, T0 + 60, &h), Ok(Admission::Run { .. })));
    }
}
