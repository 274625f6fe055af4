//! `validate -o json` and `import -o json` conform to their committed
//! schemas (`schema/validate-output.schema.json`,
//! `schema/import-output.schema.json`), in every shape they take: valid,
//! invalid, strict; imported, identical, in the way, unknown.

use serde_json::Value;

use crate::run::Shop;
use crate::support::emulator::Emulator;
use crate::support::{assert_conforms, run, tierctl};

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn validate_json_conforms() {
    for (args, code, valid) in [
        (vec!["-o", "json", "validate"], 0, true),
        (
            vec![
                "-o",
                "json",
                "validate",
                "--strict",
                "tests/fixtures/invalid",
            ],
            1,
            false,
        ),
        (
            vec!["-o", "json", "validate", "tests/fixtures/invalid"],
            1,
            false,
        ),
        (vec!["-o", "json", "validate", "no/such/dir"], 1, false),
    ] {
        let (got, out, err) = run(tierctl().args(&args));
        assert_eq!(got, code, "{args:?}: {err}");
        let doc = json(&out);
        assert_conforms("validate-output", &doc);
        assert_eq!(doc["valid"], valid, "{args:?}");
        assert_eq!(doc["version"], 1);
        let diagnostics = doc["diagnostics"].as_array().unwrap();
        let errors = diagnostics
            .iter()
            .filter(|d| d["severity"] == "error")
            .count();
        assert_eq!(doc["errors"], errors, "{args:?}");
        assert_eq!(
            doc["warnings"],
            diagnostics.len() - errors,
            "{args:?}: every diagnostic is an error or a warning"
        );
    }
}

#[test]
fn import_json_conforms_in_every_shape() {
    let shop = Shop::new(1, "running");
    let (code, _, err) = shop.tierctl(&["sync"]);
    assert_eq!(code, 0, "{err}");
    let out_dir = shop.dir.path().join("imported");
    let out_arg = out_dir.to_str().unwrap().to_string();
    let import = |extra: &[&str]| {
        let mut args = vec!["-o", "json", "import", "--out", &out_arg];
        args.extend_from_slice(extra);
        let (code, out, err) = shop.tierctl(&args);
        let doc = json(&out);
        assert_conforms("import-output", &doc);
        (code, doc, err)
    };

    // Written, then found identical.
    let (code, doc, err) = import(&["--all"]);
    assert_eq!(code, 0, "{err}");
    let entry = &doc["workloads"][0];
    assert_eq!(entry["name"], "Shop");
    assert_eq!(entry["written"], true);
    assert!(entry["file"].as_str().unwrap().ends_with("Shop.yaml"));
    assert!(entry.get("error").is_none(), "{entry}");
    let (code, doc, _) = import(&["-w", "Shop"]);
    assert_eq!(code, 0);
    assert_eq!(doc["workloads"][0]["written"], false);

    // A differing file in the way: file, error and warnings; no `written`.
    std::fs::write(out_dir.join("Shop.yaml"), "# mine\n").unwrap();
    let (code, doc, _) = import(&["-w", "Shop"]);
    assert_eq!(code, 1);
    let entry = &doc["workloads"][0];
    assert!(
        entry["error"]
            .as_str()
            .unwrap()
            .contains("exists and differs; use --force"),
        "{entry}"
    );
    assert!(entry["file"].is_string() && entry["warnings"].is_array());
    assert!(entry.get("written").is_none(), "{entry}");
    assert_eq!(
        std::fs::read_to_string(out_dir.join("Shop.yaml")).unwrap(),
        "# mine\n"
    );

    // --force overwrites; an unknown name is an entry with name and error only.
    let (code, doc, _) = import(&["-w", "Shop", "-w", "Nope", "--force"]);
    assert_eq!(code, 1, "Nope is not in the table");
    assert_eq!(doc["workloads"][0]["written"], true);
    let nope = doc["workloads"][1].as_object().unwrap();
    let keys: Vec<&str> = nope.keys().map(String::as_str).collect();
    assert_eq!(keys, ["name", "error"], "{nope:?}");
    assert!(
        nope["error"]
            .as_str()
            .unwrap()
            .starts_with("no item with SpecName `Nope` in WorkloadSpecification")
    );
}

#[test]
fn import_without_tables_writes_nothing() {
    let emu = Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (code, stdout, err) = run(emu.tierctl().args([
        "-o",
        "json",
        "import",
        "--all",
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(code, 1, "{stdout}{err}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(err.contains("WorkloadSpecification"), "{err}");
    assert!(
        !out.exists(),
        "no folder created when the tables are missing"
    );
}
