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

#[test]
fn completions_for_every_shell_name_the_commands_and_bash_parses_them() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let (code, out, err) = run(tierctl().args(["completions", shell]));
        assert_eq!(code, 0, "{shell}: {err}");
        for word in [
            "validate",
            "sync",
            "plan",
            "run",
            "unlock",
            "import",
            "iam-policy",
        ] {
            assert!(out.contains(word), "{shell} completes {word}");
        }
    }
    let (_, script, _) = run(tierctl().args(["completions", "bash"]));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tierctl.bash");
    std::fs::write(&file, script).unwrap();
    let st = std::process::Command::new("bash")
        .arg("-n")
        .arg(&file)
        .status()
        .unwrap();
    assert!(st.success(), "bash -n accepts the script");
    // zsh's own syntax check, where zsh is installed (`make test-tools` installs it).
    let (_, script, _) = run(tierctl().args(["completions", "zsh"]));
    let zfile = dir.path().join("_tierctl");
    std::fs::write(&zfile, script).unwrap();
    match std::process::Command::new("zsh")
        .arg("-n")
        .arg(&zfile)
        .status()
    {
        Ok(st) => assert!(st.success(), "zsh -n accepts the script"),
        Err(_) => eprintln!("skipped: zsh not found (the zsh syntax check)"),
    }
    let (code, _, err) = run(tierctl().args(["completions", "tcsh"]));
    assert_eq!(code, 1, "{err}");
}

#[test]
fn man_pages_are_written_one_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let (code, _, err) = run(tierctl().args(["man", "--out", out.to_str().unwrap()]));
    assert_eq!(code, 0, "{err}");
    let mut pages: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    for want in [
        "tierctl.1",
        "tierctl-run.1",
        "tierctl-sync.1",
        "tierctl-plan.1",
    ] {
        assert!(pages.iter().any(|p| p == want), "{want} in {pages:?}");
    }
    assert!(
        !pages.iter().any(|p| p == "tierctl-man.1"),
        "the hidden command has no page"
    );
    let run_page = std::fs::read_to_string(out.join("tierctl-run.1")).unwrap();
    assert!(run_page.contains(".TH"), "roff");
    assert!(run_page.contains("plan"), "{run_page}");
}
