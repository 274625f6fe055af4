//! Typed errors of the library. Each names what it concerns: the file and
//! position, or the AWS call. The binary adds context with `anyhow`.

use std::path::PathBuf;

use std::fmt;

/// A 1-based line and column in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    /// Line, starting at 1.
    pub line: usize,
    /// Column in characters, starting at 1.
    pub column: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

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
    #[error("{}: file is {size} bytes; workload files are limited to {} bytes", path.display(), limit)]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The cap.
        limit: u64,
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

/// What kind of failure, for messages and exit decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// The credentials lack a permission.
    AccessDenied,
    /// Throttled, and the retries ran out.
    Throttled,
    /// A table or other resource does not exist.
    NotFound,
    /// No answer: endpoint unreachable, DNS, timeout.
    Unreachable,
    /// No credentials or region.
    Config,
    /// A condition on a write failed: someone else changed the data.
    Conflict,
    /// Anything else AWS said.
    Other,
}

/// A failed AWS call, naming the call (built from SDK errors in [`crate::aws`]).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{call}: {message}")]
pub struct AwsError {
    /// `service:Action`, e.g. `dynamodb:TransactWriteItems`.
    pub call: String,
    /// Classification.
    pub kind: AwsErrorKind,
    /// The AWS error code, when AWS answered.
    pub code: Option<String>,
    /// A message for people, with a hint where one helps.
    pub message: String,
}

impl AwsError {
    /// An error for a call an `Effects` or `Observer` implementation does not make.
    pub fn unsupported(call: &str, what: &str) -> Self {
        AwsError {
            call: call.to_string(),
            kind: AwsErrorKind::Other,
            code: None,
            message: format!("not supported by this implementation ({what})"),
        }
    }
}
