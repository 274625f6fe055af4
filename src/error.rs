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
