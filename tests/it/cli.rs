//! Conventions every command follows: help, exit codes.

use crate::support::{run, tierctl};

#[test]
fn help_documents_exit_codes_and_commands() {
    let (code, out, _) = run(tierctl().arg("--help"));
    assert_eq!(code, 0);
    assert!(out.contains("Exit codes:"), "{out}");
    assert!(out.contains("130  interrupted"), "{out}");
    for cmd in ["validate", "schema"] {
        assert!(out.contains(cmd), "{cmd} missing from help: {out}");
    }
}

#[test]
fn usage_errors_exit_1_not_2() {
    let (code, _, err) = run(tierctl().arg("--no-such-flag"));
    assert_eq!(code, 1, "{err}");
    let (code, _, err) = run(tierctl().arg("no-such-command"));
    assert_eq!(code, 1, "{err}");
    let (code, _, _) = run(&mut tierctl());
    assert_eq!(code, 1, "no command is a usage error");
}

#[test]
fn version_exits_0() {
    let (code, out, _) = run(tierctl().arg("--version"));
    assert_eq!(code, 0);
    assert!(out.starts_with("tierctl "), "{out}");
}
