//! The override check that runs inside a guest: the one place that defines
//! what tierctl runs over SSM, what the guest may answer, and what each
//! answer means. `aws::ssm` only sends and collects; every decision is here.
//!
//! The check runs tierctl's own Command document [`DOCUMENT`] (schema 2.2,
//! created and updated by `sync`, see `store::document`), never
//! `AWS-RunShellScript`: its only parameter is the path, constrained by
//! [`PATH_PATTERN`], so whoever may send it can ask "does this file exist"
//! and nothing else.
//!
//! Fail-closed: a guest's answer is one line, and only the "absent" line
//! means the instance may be stopped. "absent" is printed only when the
//! operating system said "no such file" (Linux `ENOENT`, checked with
//! `lstat` and for every missing ancestor, so a dangling link, a link loop,
//! a permission denied on a parent, an I/O error or a missing `stat` never
//! reads as absent; Windows `FileNotFoundException`, or
//! `DirectoryNotFoundException` up to an existing real directory). Anything
//! else is [`Decision::Unsure`]: keep running, report and notify.

use std::fmt::Write as _;

use crate::spec::GuestOs;

/// The name of tierctl's SSM Command document (one per region).
pub const DOCUMENT: &str = "tierctl-OverrideCheck";
/// The document's only parameter.
pub const PARAMETER: &str = "path";
/// Marker line in both scripts (the emulator recognises the check by it).
pub const SCRIPT_MARKER: &str = "# tierctl-override-check v2";
/// How long the guest may run the script (the document's `timeoutSeconds`).
pub const SCRIPT_TIMEOUT_SECONDS: u32 = 60;

/// The line the check prints when the file exists.
pub const PRESENT: &str = "TIERCTL_OVERRIDE=present";
/// The line the check prints when the OS said there is no such file.
pub const ABSENT: &str = "TIERCTL_OVERRIDE=absent";
/// The start of the line the check prints when it cannot tell (a reason follows).
pub const UNSURE: &str = "TIERCTL_OVERRIDE=unsure";

/// `allowedPattern` of the `path` parameter: an absolute plain path and
/// nothing else. Linux `/...`, Windows `C:\...` or `\\server\share\...`,
/// made of the characters validation allows (letters, digits, space and
/// `._-/\:+,=@`), with no `.` or `..` component. No quote, `$`, backtick,
/// `;`, newline or `{`: nothing that could leave the quoted string the
/// scripts put it in. The same syntax works in Java (AWS) and Python (the
/// emulator) regular expressions.
pub const PATH_PATTERN: &str = r"^(?!.*(^|[/\\])\.{1,2}([/\\]|$))(/[A-Za-z0-9 ._+,=@:/\\-]*|[A-Za-z]:[/\\][A-Za-z0-9 ._+,=@:/\\-]*|\\\\[A-Za-z0-9._+,=@-][A-Za-z0-9 ._+,=@:/\\-]*)$";

/// The Linux step (`aws:runShellScript`, POSIX sh), one line per element.
///
/// `stat -L` says whether the file is there. When it fails, only "No such
/// file or directory" (`ENOENT`, messages in the C locale) goes on: if the
/// name itself exists (`lstat`), it is a dangling link; otherwise the same
/// question is asked of the parent, until an ancestor exists, and the file
/// is absent only when that ancestor is a directory. Every other error is
/// printed as the reason of an "unsure" answer.
pub fn linux_script() -> Vec<String> {
    [
        SCRIPT_MARKER,
        "LC_ALL=C; export LC_ALL",
        "p='{{ path }}'",
        "say() { printf 'TIERCTL_OVERRIDE=%s\\n' \"$(printf '%s' \"$*\" | tr '\\r\\n' '  ')\"; exit 0; }",
        "enoent() { case \"$1\" in *': No such file or directory') return 0;; *) return 1;; esac; }",
        "if r=$(stat -L -c %F -- \"$p\" 2>&1); then say present; fi",
        "d=$p",
        "while :; do",
        "  enoent \"$r\" || say \"unsure $r\"",
        "  if l=$(stat -c %F -- \"$d\" 2>&1); then say \"unsure dangling symbolic link: $d\"; fi",
        "  enoent \"$l\" || say \"unsure $l\"",
        "  d=$(dirname -- \"$d\")",
        "  if r=$(stat -L -c %F -- \"$d\" 2>&1); then",
        "    if [ \"$r\" = directory ]; then say absent; fi",
        "    say \"unsure $d is a $r, not a directory\"",
        "  fi",
        "done",
    ]
    .map(String::from)
    .to_vec()
}

/// The Windows step (`aws:runPowerShellScript`), one line per element.
///
/// `[IO.File]::GetAttributes` rather than `Test-Path` or `Get-Item`: those
/// turn "access denied" and unreachable shares into "not found", and
/// GetAttributes reports each Win32 error as its own exception.
pub fn windows_script() -> Vec<String> {
    [
        SCRIPT_MARKER,
        "$p = '{{ path }}'",
        "function Say($t) { 'TIERCTL_OVERRIDE=' + ($t -replace '[\\r\\n]+', ' '); exit 0 }",
        "function Inner($e) { while ($e.InnerException -and $e -is [System.Management.Automation.MethodInvocationException]) { $e = $e.InnerException }; $e }",
        "try { $null = [System.IO.File]::GetAttributes($p); Say 'present' } catch { $e = Inner $_.Exception }",
        "if ($e -is [System.IO.FileNotFoundException]) { Say 'absent' }",
        "if ($e -isnot [System.IO.DirectoryNotFoundException]) { Say ('unsure ' + $e.GetType().FullName + ': ' + $e.Message) }",
        "$d = [System.IO.Path]::GetDirectoryName($p)",
        "while ($d) {",
        "  try { $a = [System.IO.File]::GetAttributes($d) } catch { $e = Inner $_.Exception; if ($e -is [System.IO.FileNotFoundException] -or $e -is [System.IO.DirectoryNotFoundException]) { $d = [System.IO.Path]::GetDirectoryName($d); continue }; Say ('unsure ' + $e.GetType().FullName + ': ' + $e.Message) }",
        "  if (($a -band [System.IO.FileAttributes]::Directory) -and [System.IO.Directory]::Exists($d)) { Say 'absent' }",
        "  Say ('unsure ' + $d + ' is not a reachable directory')",
        "}",
        "Say 'unsure no parent directory of the path exists'",
    ]
    .map(String::from)
    .to_vec()
}

/// The document's content (schema 2.2, JSON) with `description`.
pub fn document_content(description: &str) -> serde_json::Value {
    let step = |name: &str, action: &str, platform: &str, script: Vec<String>| {
        serde_json::json!({
            "action": action,
            "name": name,
            "precondition": {"StringEquals": ["platformType", platform]},
            "inputs": {
                "timeoutSeconds": SCRIPT_TIMEOUT_SECONDS.to_string(),
                "runCommand": script,
            },
        })
    };
    serde_json::json!({
        "schemaVersion": "2.2",
        "description": description,
        "parameters": {
            PARAMETER: {
                "type": "String",
                "description": "Absolute path of the override file (read only: the check prints whether it exists).",
                "allowedPattern": PATH_PATTERN,
            }
        },
        "mainSteps": [
            step("linux", "aws:runShellScript", "Linux", linux_script()),
            step("windows", "aws:runPowerShellScript", "Windows", windows_script()),
        ],
    })
}

/// What the instance's SSM agent looks like (from `DescribeInstanceInformation`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// `Online`, `ConnectionLost`, `Inactive`, ...
    pub ping: String,
    /// `Linux`, `Windows`, `MacOS`, when reported.
    pub platform: Option<String>,
}

/// Why an instance cannot be sent the check, or `None` when it can.
pub fn agent_problem(os: GuestOs, agent: Option<&Agent>) -> Option<String> {
    let Some(agent) = agent else {
        return Some("not managed by SSM: no agent registered for this instance".into());
    };
    if agent.ping != "Online" {
        return Some(format!("SSM agent not online ({})", agent.ping));
    }
    let fits = matches!(
        (os, agent.platform.as_deref()),
        (GuestOs::Linux, Some("Linux")) | (GuestOs::Windows, Some("Windows"))
    );
    if fits {
        None
    } else {
        Some(format!(
            "SSM reports platform {}, but the override check is for {}",
            agent.platform.as_deref().unwrap_or("unknown"),
            os.original_name()
        ))
    }
}

/// What SSM gave back for one instance, undecided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The command was not sent to it, or no final answer came: why.
    NoAnswer(String),
    /// A final invocation.
    Final {
        /// `Success`, `Failed`, `TimedOut`, `Cancelled`, ...
        status: String,
        /// `StatusDetails`.
        details: Option<String>,
        /// The plugins' output (stdout, then the agent's stderr marker and stderr).
        output: String,
    },
}

/// What to do with one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The file exists: keep it running (bypassed).
    Present,
    /// The OS said there is no such file: it may be stopped.
    Absent,
    /// Anything else: keep it running (held back), report and notify why.
    Unsure(String),
}

/// What the guest's output says (`None`: not one well-formed answer line).
pub fn parse_output(stdout: &str) -> Option<Decision> {
    let mut lines = stdout.lines().map(str::trim).filter(|l| !l.is_empty());
    let line = lines.next()?;
    if lines.next().is_some() {
        return None;
    }
    match line {
        PRESENT => Some(Decision::Present),
        ABSENT => Some(Decision::Absent),
        _ => {
            let rest = line.strip_prefix(UNSURE)?;
            if !(rest.is_empty() || rest.starts_with(' ')) {
                return None;
            }
            let reason = rest.trim();
            Some(Decision::Unsure(if reason.is_empty() {
                "the guest could not tell".into()
            } else {
                format!("the guest could not tell: {}", excerpt(reason))
            }))
        }
    }
}

/// What SSM's reply means. Only a `Success` with exactly one "absent"
/// line is [`Decision::Absent`].
pub fn decide(reply: &Reply) -> Decision {
    let (status, details, output) = match reply {
        Reply::NoAnswer(why) => return Decision::Unsure(why.clone()),
        Reply::Final {
            status,
            details,
            output,
        } => (status.as_str(), details.as_deref(), output.as_str()),
    };
    if status == "Success" {
        return parse_output(output).unwrap_or_else(|| {
            Decision::Unsure(format!("unreadable output: {}", excerpt(output)))
        });
    }
    let mut reason = status.to_string();
    if let Some(details) = details.filter(|d| !d.is_empty() && *d != status) {
        let _ = write!(reason, " ({details})");
    }
    // stderr says more about a failure than stdout does.
    let tail = output
        .split_once(STDERR_MARKER)
        .map_or(output, |(_, stderr)| stderr);
    let tail = excerpt(tail);
    if !tail.is_empty() {
        reason.push_str(": ");
        reason.push_str(&tail);
    }
    Decision::Unsure(reason)
}

/// What the agent puts between stdout and stderr in a plugin's `Output`.
const STDERR_MARKER: &str = "----------ERROR-------";
/// How much guest output goes into a reason.
const EXCERPT_CHARS: usize = 200;

/// Guest output on one line, at most `EXCERPT_CHARS` characters.
pub fn excerpt(text: &str) -> String {
    let one_line = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ");
    let mut cut: String = one_line.chars().take(EXCERPT_CHARS).collect();
    if one_line.chars().count() > EXCERPT_CHARS {
        cut.push('…');
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fin(status: &str, details: Option<&str>, output: &str) -> Reply {
        Reply::Final {
            status: status.into(),
            details: details.map(str::to_string),
            output: output.into(),
        }
    }

    #[test]
    fn output_parsing_is_strict() {
        assert_eq!(
            parse_output("TIERCTL_OVERRIDE=present\n"),
            Some(Decision::Present)
        );
        assert_eq!(
            parse_output("TIERCTL_OVERRIDE=absent\r\n"),
            Some(Decision::Absent)
        );
        assert_eq!(
            parse_output("\nTIERCTL_OVERRIDE=absent\n\n"),
            Some(Decision::Absent)
        );
        assert_eq!(
            parse_output("TIERCTL_OVERRIDE=unsure stat: cannot statx '/x/y': Permission denied\n"),
            Some(Decision::Unsure(
                "the guest could not tell: stat: cannot statx '/x/y': Permission denied".into()
            ))
        );
        assert_eq!(parse_output(""), None);
        assert_eq!(
            parse_output("TIERCTL_OVERRIDE=absent\nTIERCTL_OVERRIDE=present\n"),
            None
        );
        assert_eq!(parse_output("Stop\n"), None);
        assert_eq!(parse_output("tierctl_override=absent"), None);
        assert_eq!(parse_output("TIERCTL_OVERRIDE=absentee"), None);
        assert_eq!(parse_output("TIERCTL_OVERRIDE=unsurely"), None);
    }

    #[test]
    fn every_outcome_maps_to_its_decision() {
        // definitely absent -> may stop
        assert_eq!(
            decide(&fin("Success", None, "TIERCTL_OVERRIDE=absent\n")),
            Decision::Absent
        );
        // present -> keep running
        assert_eq!(
            decide(&fin("Success", None, "TIERCTL_OVERRIDE=present\r\n")),
            Decision::Present
        );
        // permission denied, dangling link, I/O error: unsure
        for why in [
            "stat: cannot statx '/srv/locked/StopOverride': Permission denied",
            "dangling symbolic link: /tmp/StopOverride",
            "stat: cannot statx '/mnt/share/StopOverride': Input/output error",
            "stat: cannot statx '/tmp/loop': Too many levels of symbolic links",
            "System.UnauthorizedAccessException: Access to the path is denied.",
        ] {
            let d = decide(&fin("Success", None, &format!("{UNSURE} {why}\n")));
            assert_eq!(
                d,
                Decision::Unsure(format!("the guest could not tell: {why}"))
            );
        }
        // unexpected output
        assert_eq!(
            decide(&fin("Success", None, "hello\nTIERCTL_OVERRIDE=absent\n")),
            Decision::Unsure("unreadable output: hello | TIERCTL_OVERRIDE=absent".into())
        );
        assert_eq!(
            decide(&fin("Success", None, "")),
            Decision::Unsure("unreadable output: ".into())
        );
        // a failed script never counts, whatever it printed
        assert_eq!(
            decide(&fin("Failed", Some("Failed"), "TIERCTL_OVERRIDE=absent\n")),
            Decision::Unsure("Failed: TIERCTL_OVERRIDE=absent".into())
        );
        assert_eq!(
            decide(&fin(
                "Failed",
                Some("NonZeroExitCode"),
                "\n----------ERROR-------\nfailed to run commands: exit status 1"
            )),
            Decision::Unsure(
                "Failed (NonZeroExitCode): failed to run commands: exit status 1".into()
            )
        );
        // timeouts, agent offline, call errors
        assert_eq!(
            decide(&fin("TimedOut", Some("ExecutionTimedOut"), "")),
            Decision::Unsure("TimedOut (ExecutionTimedOut)".into())
        );
        assert_eq!(
            decide(&Reply::NoAnswer(
                "SSM agent not online (ConnectionLost)".into()
            )),
            Decision::Unsure("SSM agent not online (ConnectionLost)".into())
        );
    }

    fn agent(ping: &str, platform: Option<&str>) -> Agent {
        Agent {
            ping: ping.into(),
            platform: platform.map(str::to_string),
        }
    }

    #[test]
    fn only_online_agents_on_the_right_platform_are_sent_the_check() {
        assert_eq!(
            agent_problem(GuestOs::Linux, None).unwrap(),
            "not managed by SSM: no agent registered for this instance"
        );
        assert_eq!(
            agent_problem(
                GuestOs::Linux,
                Some(&agent("ConnectionLost", Some("Linux")))
            )
            .unwrap(),
            "SSM agent not online (ConnectionLost)"
        );
        assert_eq!(
            agent_problem(GuestOs::Windows, Some(&agent("Online", Some("Linux")))).unwrap(),
            "SSM reports platform Linux, but the override check is for Windows"
        );
        // The document's steps have Linux and Windows preconditions: a macOS
        // guest would run neither.
        assert!(agent_problem(GuestOs::Linux, Some(&agent("Online", Some("MacOS")))).is_some());
        assert!(agent_problem(GuestOs::Linux, Some(&agent("Online", None))).is_some());
        assert_eq!(
            agent_problem(GuestOs::Linux, Some(&agent("Online", Some("Linux")))),
            None
        );
        assert_eq!(
            agent_problem(GuestOs::Windows, Some(&agent("Online", Some("Windows")))),
            None
        );
    }

    #[test]
    fn excerpts_are_short_and_on_one_line() {
        let long = "x".repeat(300);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), EXCERPT_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(excerpt("a\r\n\r\nb\n"), "a | b");
    }

    #[test]
    fn the_document_has_one_parameter_and_both_steps() {
        let doc = document_content("d");
        assert_eq!(doc["schemaVersion"], "2.2");
        let params = doc["parameters"].as_object().unwrap();
        assert_eq!(params.keys().collect::<Vec<_>>(), [PARAMETER]);
        assert_eq!(params[PARAMETER]["allowedPattern"], PATH_PATTERN);
        let steps = doc["mainSteps"].as_array().unwrap();
        assert_eq!(steps[0]["action"], "aws:runShellScript");
        assert_eq!(steps[1]["action"], "aws:runPowerShellScript");
        for s in steps {
            let script = s["inputs"]["runCommand"].as_array().unwrap();
            let uses: usize = script
                .iter()
                .map(|l| l.as_str().unwrap().matches("{{ path }}").count())
                .sum();
            assert_eq!(uses, 1, "the path is used once, inside single quotes");
            assert!(
                script
                    .iter()
                    .any(|l| l.as_str().unwrap().contains("'{{ path }}'"))
            );
        }
    }

    /// The Linux step as the agent would run it, with the path substituted
    /// (SSM substitutes `{{ path }}` textually; the allowedPattern, enforced
    /// by the emulator's tests, admits no quote).
    fn linux_step_for(path: &str) -> String {
        assert!(path.starts_with('/') && !path.contains('\''), "{path}");
        linux_script().join("\n").replace("{{ path }}", path)
    }

    /// Runs the Linux step with sh, as an unprivileged user when running as
    /// root (setpriv to nobody), else as the current user.
    fn run_linux_step(path: &str) -> Option<String> {
        let script = linux_step_for(path);
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")?;
        let mut cmd = if root {
            let mut c = std::process::Command::new("setpriv");
            c.args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--",
                "sh",
                "-c",
                &script,
            ]);
            c
        } else {
            let mut c = std::process::Command::new("sh");
            c.args(["-c", &script]);
            c
        };
        let out = cmd.output().ok()?;
        if !out.status.success() {
            // e.g. setpriv without the capability to change user
            eprintln!("cannot run the step: {out:?}");
            return None;
        }
        Some(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    #[test]
    fn the_linux_step_tells_absent_from_unreadable_and_dangling() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(base.join("present"), "").unwrap();
        std::os::unix::fs::symlink(base.join("nowhere"), base.join("dangling")).unwrap();
        std::os::unix::fs::symlink(base.join("loop"), base.join("loop")).unwrap();
        std::fs::create_dir(base.join("locked")).unwrap();
        std::fs::write(base.join("locked/StopOverride"), "").unwrap();
        std::fs::set_permissions(base.join("locked"), std::fs::Permissions::from_mode(0o000))
            .unwrap();
        std::os::unix::fs::symlink(base.join("gone"), base.join("linkdir")).unwrap();
        std::fs::write(base.join("file"), "").unwrap();
        let p = |name: &str| base.join(name).display().to_string();
        let Some(_) = run_linux_step(&p("present")) else {
            eprintln!("skipped: cannot run sh (as an unprivileged user)");
            return;
        };
        let ask = |name: &str| parse_output(&run_linux_step(&p(name)).unwrap());
        // Only a missing name under a real directory is absent.
        assert_eq!(ask("present"), Some(Decision::Present));
        assert_eq!(ask("missing"), Some(Decision::Absent));
        assert_eq!(ask("missing/deeper/StopOverride"), Some(Decision::Absent));
        let unsure = |name: &str, needle: &str| match ask(name) {
            Some(Decision::Unsure(why)) => assert!(why.contains(needle), "{name}: {why}"),
            other => panic!("{name}: expected unsure, got {other:?}"),
        };
        unsure("dangling", "dangling symbolic link");
        unsure("loop", "Too many levels of symbolic links");
        unsure("linkdir/StopOverride", "dangling symbolic link");
        unsure("file/StopOverride", "Not a directory");
        // `locked` is mode 000: its owner may not search it either (root
        // could, hence setpriv). A file that exists there is not absent.
        unsure("locked/StopOverride", "Permission denied");
        unsure("locked/missing", "Permission denied");
        std::fs::set_permissions(base.join("locked"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
    }
}
