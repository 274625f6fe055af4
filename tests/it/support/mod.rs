//! Helpers shared by the end-to-end tests.

use std::path::{Path, PathBuf};

/// The repository root (where Cargo.toml is).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A `tierctl` command run from `dir`, with a clean, colourless environment.
pub fn tierctl_in(dir: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_tierctl"));
    cmd.current_dir(dir)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("TIERCTL_SPECS")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        // Schedules' next runs (plan, validate) from a fixed time.
        .env("TIERCTL_NOW", FIXED_NOW);
    cmd
}

/// The time every test's `tierctl` takes for now (`TIERCTL_NOW`).
pub const FIXED_NOW: &str = "2026-12-02T12:00:00Z";

/// A `tierctl` command run from the repository root.
pub fn tierctl() -> assert_cmd::Command {
    tierctl_in(&repo_root())
}

/// Runs the command and returns (exit code, stdout, stderr).
pub fn run(cmd: &mut assert_cmd::Command) -> (i32, String, String) {
    let out = cmd.output().expect("tierctl runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub mod emulator;

/// Checks `doc` against the committed schema `schema/<name>.schema.json`;
/// panics with every error when it does not conform.
pub fn assert_conforms(name: &str, doc: &serde_json::Value) {
    let path = repo_root().join(format!("schema/{name}.schema.json"));
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("the schema is committed"))
            .expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "the document does not conform to {name}.schema.json:\n{}",
        errors.join("\n")
    );
}
