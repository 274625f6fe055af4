//! `tierctl validate`: snapshots of what users see, and bad input that must
//! never panic.

use std::path::Path;

use crate::support::{run, tierctl, tierctl_in};

const INVALID: &str = "tests/fixtures/invalid";

#[test]
fn examples_are_valid() {
    let (code, out, err) = run(tierctl().arg("validate"));
    assert_eq!(code, 0, "{out}{err}");
    insta::assert_snapshot!("examples_text", out);
}

#[test]
fn invalid_fixtures_text() {
    let (code, out, _) = run(tierctl().args(["validate", INVALID]));
    assert_eq!(code, 1);
    insta::assert_snapshot!("invalid_text", out);
}

#[test]
fn invalid_fixtures_json() {
    let (code, out, _) = run(tierctl().args(["validate", "-o", "json", INVALID]));
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(v["version"], 1);
    assert_eq!(v["valid"], false);
    insta::assert_snapshot!("invalid_json", out);
}

#[test]
fn invalid_fixtures_github_annotations() {
    let (code, out, _) = run(tierctl().args(["validate", "-o", "github", INVALID]));
    assert_eq!(code, 1);
    insta::assert_snapshot!("invalid_github", out);
}

#[test]
fn github_format_is_automatic_in_actions() {
    let (code, out, _) = run(tierctl()
        .env("GITHUB_ACTIONS", "true")
        .args(["validate", &format!("{INVALID}/three-mistakes.yaml")]));
    assert_eq!(code, 1);
    assert!(out.starts_with("::"), "{out}");
    assert!(
        out.contains("::error file=tests/fixtures/invalid/three-mistakes.yaml,line=14,col=5,"),
        "{out}"
    );
}

#[test]
fn three_mistakes_give_three_errors_with_lines() {
    let (code, out, _) =
        run(tierctl().args(["validate", &format!("{INVALID}/three-mistakes.yaml")]));
    assert_eq!(code, 1);
    let errors: Vec<&str> = out.lines().filter(|l| l.contains(": error: ")).collect();
    assert_eq!(errors.len(), 3, "{out}");
    assert!(
        errors[0].starts_with(&format!(
            "{INVALID}/three-mistakes.yaml:10:17: error: tiers[0].stop.sequence"
        )),
        "{out}"
    );
    assert!(
        errors[1].starts_with(&format!(
            "{INVALID}/three-mistakes.yaml:12:15: error: tiers[0].stop.override.file"
        )),
        "{out}"
    );
    assert!(
        errors[2].starts_with(&format!(
            "{INVALID}/three-mistakes.yaml:14:5: error: tiers[0].stpo: unknown field `stpo`"
        )),
        "{out}"
    );
}

#[test]
fn specs_flag_and_env_choose_the_folder() {
    let (code, out, _) = run(tierctl().args(["--specs", INVALID, "validate"]));
    assert_eq!(code, 1, "{out}");
    let (code, out, _) = run(tierctl().env("TIERCTL_SPECS", "workloads").arg("validate"));
    assert_eq!(code, 0, "{out}");
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// Each bad input gives exit 1 and a clear message naming the file: never a panic (exit 101).
#[test]
fn bad_input_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "binary.yaml", &[0x7f, b'E', b'L', b'F', 0, 1, 2, 3]);
    write(d, "latin1.yaml", b"name: caf\xe9\n");
    let mut big = b"name: big\nregion: us-west-2\n".to_vec();
    big.resize(10 * 1024 * 1024, b'#');
    write(d, "big.yaml", &big);
    std::os::unix::fs::symlink("loop-b.yaml", d.join("loop-a.yaml")).unwrap();
    std::os::unix::fs::symlink("loop-a.yaml", d.join("loop-b.yaml")).unwrap();
    write(d, "list.yaml", b"- just\n- a list\n");
    std::fs::create_dir(d.join("empty-dir")).unwrap();
    std::fs::create_dir(d.join("dir.yaml")).unwrap();

    let cases: &[(&str, &str)] = &[
        ("binary.yaml", "binary file"),
        ("latin1.yaml", "not valid UTF-8"),
        ("big.yaml", "limited to 1048576 bytes"),
        ("loop-a.yaml", "cannot read"),
        ("list.yaml", "is not of type \"object\""),
        ("empty-dir", "no workload files"),
        ("missing.yaml", "cannot read: No such file"),
        ("dir.yaml", "no workload files"),
    ];
    for (name, expected) in cases {
        let (code, out, err) = run(tierctl_in(d).args(["validate", name]));
        assert_eq!(code, 1, "{name}: {out}{err}");
        assert!(
            out.contains(name) && out.contains(expected),
            "{name}: expected {expected:?} in {out}"
        );
    }
    // All of them in one run: every problem reported, still no panic.
    let (code, out, _) = run(tierctl_in(d).arg("validate").arg("."));
    assert_eq!(code, 1);
    assert!(
        out.contains("binary.yaml") && out.contains("latin1.yaml") && out.contains("loop-a.yaml"),
        "{out}"
    );
}
