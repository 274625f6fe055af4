//! Exit codes: few, documented, stable.

use std::process::ExitCode;

/// What a command's outcome means to a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: success, nothing left to do.
    Success,
    /// 1: error of any kind, usage errors included.
    Error,
    /// 2: changes or drift present (only with `--check` / `--detailed-exitcode`).
    Changes,
    /// 3: a run finished but some instances were deliberately bypassed or held back.
    Skipped,
    /// 4: a saved plan is stale (the specs or the fleet changed since it was made): nothing was done.
    StalePlan,
    /// 130: interrupted (Ctrl-C, SIGINT).
    Interrupted,
    /// 143: terminated (SIGTERM, what CI sends on cancel or timeout).
    Terminated,
}

impl Exit {
    /// The numeric code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Error => 1,
            Exit::Changes => 2,
            Exit::Skipped => 3,
            Exit::StalePlan => 4,
            Exit::Interrupted => 130,
            Exit::Terminated => 143,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e.code())
    }
}

/// The exit code table, as printed in `--help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    success
  1    error of any kind (invalid spec, AWS error, usage error)
  2    changes or drift present (only with --check or --detailed-exitcode)
  3    run finished, but some instances were deliberately bypassed or held back
  4    stale saved plan (run --plan): the specs or the fleet changed since; nothing was done
  130  interrupted (SIGINT)
  143  terminated (SIGTERM)";
