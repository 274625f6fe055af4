//! Executing a plan (work in progress).

/// What an override check found on one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// The guest positively said the file is absent: the instance may be stopped.
    Absent,
    /// The file exists: keep the instance running (bypassed).
    Present,
    /// No positive answer (agent offline, command failed, timed out,
    /// unreadable output, any error): keep it running (held back), with why.
    Unchecked(String),
}
