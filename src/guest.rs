//! The override check that runs inside a guest: the one place that defines
//! the commands tierctl sends over SSM and how their output is read.
//!
//! Linux (`AWS-RunShellScript`), one line:
//!
//! ```text
//! if [ -e 'PATH' ]; then echo TIERCTL_OVERRIDE=present; else echo TIERCTL_OVERRIDE=absent; fi
//! ```
//!
//! Windows (`AWS-RunPowerShellScript`), one line:
//!
//! ```text
//! if (Test-Path -LiteralPath 'PATH') { 'TIERCTL_OVERRIDE=present' } else { 'TIERCTL_OVERRIDE=absent' }
//! ```
//!
//! The path is data, never code: it is single-quoted for the target shell
//! (POSIX: `'` becomes `'\''`; PowerShell: every single quote, typographic
//! ones included, is doubled), and `-LiteralPath` keeps PowerShell from
//! reading wildcards in it. Validation also refuses any path with a quote or
//! shell metacharacter; both guards stay. The emulator in `tests/emulator`
//! interprets exactly these two templates.

use crate::spec::GuestOs;

/// The line the check prints when the file exists.
pub const PRESENT: &str = "TIERCTL_OVERRIDE=present";
/// The line the check prints when it does not.
pub const ABSENT: &str = "TIERCTL_OVERRIDE=absent";

/// An SSM document and the one command line to run with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// `AWS-RunShellScript` or `AWS-RunPowerShellScript`.
    pub document: &'static str,
    /// The value of the document's `commands` parameter.
    pub command: String,
}

/// The check for `path` on a guest running `os`.
pub fn check_command(os: GuestOs, path: &str) -> Check {
    match os {
        GuestOs::Linux => Check {
            document: "AWS-RunShellScript",
            command: format!(
                "if [ -e {} ]; then echo {PRESENT}; else echo {ABSENT}; fi",
                quote_posix(path)
            ),
        },
        GuestOs::Windows => Check {
            document: "AWS-RunPowerShellScript",
            command: format!(
                "if (Test-Path -LiteralPath {}) {{ '{PRESENT}' }} else {{ '{ABSENT}' }}",
                quote_powershell(path)
            ),
        },
    }
}

/// A POSIX shell single-quoted word: nothing inside is special but `'`.
pub fn quote_posix(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// A PowerShell single-quoted string: every single quote (PowerShell also
/// treats ‘ ’ ‚ ‛ as quotes) is doubled; nothing else is special.
pub fn quote_powershell(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// What the guest said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The override file exists: keep the instance running.
    Present,
    /// The file does not exist: the instance may be stopped.
    Absent,
}

/// Reads the check's output. Anything but exactly one of the two marker
/// lines (CRLF or LF, surrounding blank lines allowed) is unreadable: `None`.
pub fn parse_output(stdout: &str) -> Option<Answer> {
    let mut lines = stdout.lines().map(str::trim).filter(|l| !l.is_empty());
    let answer = match lines.next()? {
        PRESENT => Answer::Present,
        ABSENT => Answer::Absent,
        _ => return None,
    };
    lines.next().is_none().then_some(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_command() {
        assert_eq!(
            check_command(GuestOs::Linux, "/tmp/StopOverride").command,
            "if [ -e '/tmp/StopOverride' ]; then echo TIERCTL_OVERRIDE=present; else echo TIERCTL_OVERRIDE=absent; fi"
        );
    }

    #[test]
    fn windows_command() {
        let c = check_command(GuestOs::Windows, "C:\\ignore.txt");
        assert_eq!(c.document, "AWS-RunPowerShellScript");
        assert_eq!(
            c.command,
            "if (Test-Path -LiteralPath 'C:\\ignore.txt') { 'TIERCTL_OVERRIDE=present' } else { 'TIERCTL_OVERRIDE=absent' }"
        );
    }

    #[test]
    fn quoting_keeps_paths_as_data() {
        assert_eq!(quote_posix("/tmp/a'b"), "'/tmp/a'\\''b'");
        assert_eq!(
            quote_powershell("C:\\a'b\u{2019}c"),
            "'C:\\a''b\u{2019}\u{2019}c'"
        );
        assert_eq!(quote_posix("/tmp/$(id)"), "'/tmp/$(id)'");
    }

    #[test]
    fn output_parsing_is_strict() {
        assert_eq!(
            parse_output("TIERCTL_OVERRIDE=present\n"),
            Some(Answer::Present)
        );
        assert_eq!(
            parse_output("TIERCTL_OVERRIDE=absent\r\n"),
            Some(Answer::Absent)
        );
        assert_eq!(
            parse_output("\nTIERCTL_OVERRIDE=absent\n\n"),
            Some(Answer::Absent)
        );
        assert_eq!(parse_output(""), None);
        assert_eq!(
            parse_output("TIERCTL_OVERRIDE=absent\nTIERCTL_OVERRIDE=present\n"),
            None
        );
        assert_eq!(parse_output("Stop\n"), None);
        assert_eq!(parse_output("tierctl_override=absent"), None);
    }
}
