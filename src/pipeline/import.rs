//! `import`: the original tool's tables -> workload YAML files. Reads the
//! configuration tables once, then for each workload decides what to write
//! with the same checks as `validate` and `run --from dynamodb` (a workload
//! they refuse is reported, never written) and writes `<out>/<name>.yaml`
//! unless an identical file is already there (or a differing one, without
//! `force`).

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Serialize;

use super::{PipelineError, Session};
use crate::store::StoreError;
use crate::store::diff::{Current, TableNames};
use crate::store::sync;

/// What to import.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// SpecNames to import; `None`: every workload in the table.
    pub workloads: Option<Vec<String>>,
    /// Folder to write to (created when missing).
    pub out_dir: PathBuf,
    /// Overwrite existing files that differ.
    pub force: bool,
}

/// One workload's import, as `import -o json` lists it.
///
/// A refused workload has `name` and `error` only; a file in the way has
/// `file`, `error` and `warnings`; an imported one `file`, `written` and
/// `warnings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ImportEntry {
    /// SpecName.
    pub name: String,
    /// The file written or found (absent when the workload was refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Whether the file was written (false: it was already identical); absent on error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written: Option<bool>,
    /// Why nothing was written for this workload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Attributes not imported and `validate`'s warnings about the result
    /// (absent when the workload was refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
}

impl ImportEntry {
    fn failed(name: &str, error: String) -> Self {
        ImportEntry {
            name: name.to_string(),
            file: None,
            written: None,
            error: Some(error),
            warnings: None,
        }
    }
}

/// What [`import`] did.
#[derive(Debug)]
pub struct Imported {
    /// The workload table read.
    pub table: String,
    /// One entry per workload asked for (or found, with `--all`), in order.
    pub entries: Vec<ImportEntry>,
}

impl Imported {
    /// Whether some workload was not imported.
    pub fn failed(&self) -> bool {
        self.entries.iter().any(|e| e.error.is_some())
    }
}

/// Reads the configuration tables and writes one spec file per workload.
/// Missing tables are an error (nothing is written); a workload that cannot
/// be imported is an entry with an `error`, the others are still written.
pub async fn import(session: &Session, request: &ImportRequest) -> Result<Imported, PipelineError> {
    let (db, ctx) = session.config_tables().await?;
    let state = sync::inspect(&db, &ctx.names).await?;
    if let Some(t) = state.missing.first() {
        return Err(StoreError::Missing {
            table: t.clone(),
            region: ctx.region.clone(),
        }
        .into());
    }
    let current = sync::read_current(&db, &ctx.names, &state).await?;
    write_files(&current, &ctx.names, request)
}

/// Decides and writes the files of `request` from the tables' `current`
/// items. Errors only when the folder cannot be created.
pub fn write_files(
    current: &Current,
    names: &TableNames,
    request: &ImportRequest,
) -> Result<Imported, PipelineError> {
    let selected: Vec<String> = match &request.workloads {
        Some(w) => w.clone(),
        None => current.workloads.keys().cloned().collect(),
    };
    std::fs::create_dir_all(&request.out_dir).map_err(|source| PipelineError::Io {
        path: request.out_dir.clone(),
        source,
    })?;
    let entries = selected
        .iter()
        .map(|name| import_one(current, names, name, &request.out_dir, request.force))
        .collect();
    Ok(Imported {
        table: names.workload.clone(),
        entries,
    })
}

fn import_one(
    current: &Current,
    names: &TableNames,
    name: &str,
    out_dir: &Path,
    force: bool,
) -> ImportEntry {
    let fail = |msg: String| ImportEntry::failed(name, msg);
    if !current.workloads.contains_key(name) {
        return fail(format!(
            "no item with SpecName `{}` in {}",
            crate::text::plain(name),
            names.workload
        ));
    }
    if !crate::store::config::is_safe_file_name(name) {
        return fail(format!(
            "{} item SpecName `{}`: not written: a SpecName must be a plain file name (letters, digits, `_`, `-`, `.`; no `..`, separators or control characters) to be imported",
            names.workload,
            crate::text::plain(name)
        ));
    }
    // The same checks as `validate` and `run --from dynamodb`: a workload
    // they refuse is reported, never written.
    let (workload, item_warnings) = match crate::store::config::read_one(current, names, name) {
        Ok(ok) => ok,
        Err(refusals) => {
            let why: Vec<String> = refusals.iter().map(|r| r.to_string()).collect();
            return fail(format!("not imported: {}", why.join("; ")));
        }
    };
    // Only the unknown attributes: the checks' warnings come again from `validate` below.
    let mut warnings: Vec<String> = item_warnings
        .iter()
        .filter(|w| w.contains(": unknown attribute `"))
        .map(|w| {
            format!(
                "{} is not part of the format; not imported",
                crate::text::plain(w).replace(": unknown attribute `", ": attribute `")
            )
        })
        .collect();
    let text = crate::render::workload_yaml(&workload);
    let file = out_dir.join(format!("{name}.yaml"));
    // Check the result exactly as `validate` will read it.
    let checked = match crate::load::parse_yaml(&text) {
        Ok(doc) => crate::validate::check_files(&[crate::load::SpecFile {
            path: file.clone(),
            doc,
        }]),
        Err((pos, msg)) => {
            return fail(format!(
                "not imported: the rendered YAML does not parse at {pos}: {msg}"
            ));
        }
    };
    if checked.errors() > 0 {
        let why: Vec<String> = checked
            .diagnostics
            .iter()
            .filter(|d| d.severity == crate::validate::Severity::Error)
            .map(|d| format!("{}: {}", d.path, d.message))
            .collect();
        return fail(format!(
            "not imported: `validate` would reject it: {}",
            why.join("; ")
        ));
    }
    warnings.extend(
        checked
            .diagnostics
            .iter()
            .map(|d| format!("{}: {}: {}", d.line, d.path, d.message)),
    );
    let shown = file.display().to_string();
    let existing = crate::load::read_generated(&file).ok().flatten();
    let written = match existing {
        Some(old) if old == text => false,
        Some(_) if !force => {
            return ImportEntry {
                name: name.to_string(),
                error: Some(format!(
                    "{shown} exists and differs; use --force to overwrite"
                )),
                file: Some(shown),
                written: None,
                warnings: Some(warnings),
            };
        }
        _ => {
            if let Err(e) = std::fs::write(&file, &text) {
                return fail(format!("writing {shown}: {e}"));
            }
            true
        }
    };
    ImportEntry {
        name: name.to_string(),
        file: Some(shown),
        written: Some(written),
        error: None,
        warnings: Some(warnings),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> TableNames {
        TableNames {
            workload: "WorkloadSpecification".into(),
            tier: "TierSpecification".into(),
        }
    }

    #[test]
    fn an_empty_table_imports_nothing_and_unknown_names_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let out_dir = dir.path().join("new");
        let mut request = ImportRequest {
            workloads: None,
            out_dir: out_dir.clone(),
            force: false,
        };
        let all = write_files(&Current::default(), &names(), &request).unwrap();
        assert!(all.entries.is_empty() && !all.failed());
        assert_eq!(all.table, "WorkloadSpecification");
        assert!(out_dir.is_dir(), "the folder is created");

        request.workloads = Some(vec!["Shop".into(), "../x".into()]);
        let some = write_files(&Current::default(), &names(), &request).unwrap();
        assert!(some.failed());
        assert_eq!(
            serde_json::to_value(&some.entries).unwrap(),
            serde_json::json!([
                {"name": "Shop", "error": "no item with SpecName `Shop` in WorkloadSpecification"},
                {"name": "../x", "error": "no item with SpecName `../x` in WorkloadSpecification"},
            ])
        );
        assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), 0);
    }

    #[test]
    fn a_folder_that_cannot_be_made_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        let request = ImportRequest {
            workloads: None,
            out_dir: file.join("sub"),
            force: false,
        };
        let err = write_files(&Current::default(), &names(), &request).unwrap_err();
        assert!(err.to_string().contains("file/sub"), "{err}");
    }
}
