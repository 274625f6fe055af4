//! Typed errors of the library. Each names what it concerns: the file and
//! position, or the AWS call. The binary adds context with `anyhow`.

use std::path::PathBuf;

use crate::load::Pos;

/// Reading or parsing a workload file failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file system refused (missing file, permission, symlink loop...).
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// A directory was given where a file was expected.
    #[error("{}: is a directory, not a workload file", path.display())]
    IsDirectory {
        /// The path.
        path: PathBuf,
    },
    /// A folder holds no `*.yaml` / `*.yml` file.
    #[error("{}: no workload files (*.yaml, *.yml) in this folder", dir.display())]
    NoWorkloadFiles {
        /// The folder.
        dir: PathBuf,
    },
    /// Not a regular file (a FIFO, a device, a socket): never opened for reading.
    #[error("{}: is a {kind}, not a regular file; workload files must be regular files", path.display())]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// A symbolic link in a folder points outside that folder.
    #[error("{}: symbolic link to {}, outside {}; links in a specs folder must stay inside it", path.display(), target.display(), dir.display())]
    SymlinkOutside {
        /// The link.
        path: PathBuf,
        /// Where it leads.
        target: PathBuf,
        /// The folder being read.
        dir: PathBuf,
    },
    /// Larger than any workload spec could be.
    #[error("{}: file is {size} bytes; workload files are limited to {} bytes", path.display(), crate::load::MAX_FILE_BYTES)]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// Contains NUL bytes.
    #[error("{}: binary file (contains NUL bytes), not YAML", path.display())]
    Binary {
        /// The path.
        path: PathBuf,
    },
    /// Not valid UTF-8.
    #[error("{}:{line}: not valid UTF-8 (at byte {offset}); save the file as UTF-8", path.display())]
    NotUtf8 {
        /// The path.
        path: PathBuf,
        /// Line of the first bad byte.
        line: usize,
        /// Offset of the first bad byte.
        offset: usize,
    },
    /// YAML syntax error or an unsupported YAML feature.
    #[error("{}:{pos}: {message}", path.display())]
    Yaml {
        /// The path.
        path: PathBuf,
        /// Where.
        pos: Pos,
        /// What.
        message: String,
    },
}

impl LoadError {
    /// The file concerned.
    pub fn path(&self) -> &std::path::Path {
        match self {
            LoadError::Io { path, .. }
            | LoadError::IsDirectory { path }
            | LoadError::NotRegular { path, .. }
            | LoadError::SymlinkOutside { path, .. }
            | LoadError::TooLarge { path, .. }
            | LoadError::Binary { path }
            | LoadError::NotUtf8 { path, .. }
            | LoadError::Yaml { path, .. } => path,
            LoadError::NoWorkloadFiles { dir } => dir,
        }
    }

    /// Where in the file, when known.
    pub fn pos(&self) -> Option<Pos> {
        match self {
            LoadError::Yaml { pos, .. } => Some(*pos),
            LoadError::NotUtf8 { line, .. } => Some(Pos {
                line: *line,
                column: 1,
            }),
            _ => None,
        }
    }

    /// The message without the path prefix.
    pub fn detail(&self) -> String {
        match self {
            LoadError::Io { source, .. } => format!("cannot read: {source}"),
            LoadError::Yaml { message, .. } => message.clone(),
            other => {
                let full = other.to_string();
                let prefix = format!("{}:", other.path().display());
                full.strip_prefix(&prefix)
                    .map(|rest| {
                        // Drop a leading "line:" that NotUtf8 carries in its text.
                        let rest = rest.trim_start();
                        match rest.split_once(": ") {
                            Some((head, tail)) if head.chars().all(|c| c.is_ascii_digit()) => {
                                tail.to_string()
                            }
                            _ => rest.to_string(),
                        }
                    })
                    .unwrap_or(full)
            }
        }
    }
}

/// Reading or writing the configuration tables failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] crate::aws::AwsError),
    /// A table exists with another key than the original tool's.
    #[error(
        "table {table} has {found}, but tierctl expects {expected}; point --workload-table / --tier-table at the scheduler's tables"
    )]
    WrongKeySchema {
        /// The table.
        table: String,
        /// What tierctl needs.
        expected: String,
        /// What the table has.
        found: String,
    },
    /// A table tierctl must read does not exist.
    #[error("table {table} does not exist in {region}; `tierctl sync` creates it")]
    Missing {
        /// The table.
        table: String,
        /// Its region.
        region: String,
    },
    /// Items changed between reading and writing.
    #[error("{} changed since sync read {}; nothing of workload {workload} was written; run sync again to see the new difference", items.join(", "), if items.len() == 1 { "it" } else { "them" })]
    Conflict {
        /// The workload.
        workload: String,
        /// The items whose condition failed.
        items: Vec<String>,
    },
    /// The workload's items are marked by another repository.
    #[error(
        "workload {workload} belongs to another repository ({marker}): not written; remove it from one of the repositories"
    )]
    Foreign {
        /// The workload.
        workload: String,
        /// The marker found.
        marker: String,
    },
    /// More changes than one transaction holds.
    #[error(
        "workload {workload} needs {actions} item writes, more than one DynamoDB transaction holds (100)"
    )]
    TooLarge {
        /// The workload.
        workload: String,
        /// How many.
        actions: usize,
    },
    /// An item does not follow the original format.
    #[error(transparent)]
    Item(#[from] crate::store::item::ItemError),
}
