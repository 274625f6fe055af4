//! Reading workload files: the only module that touches the file system for
//! specs. It finds files, reads them defensively and parses YAML into a JSON
//! value plus the position of every node, so later stages can point at a
//! line and column.
//!
//! The YAML subset is deliberately small: one document, no anchors, aliases,
//! merge keys or custom tags, no duplicate keys. Config that lives in git is
//! read by reviewers; every value is written where it applies.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};

use crate::error::LoadError;

/// Largest workload file read; a workload spec is a few kilobytes.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// Deepest nesting accepted; the spec itself is four levels deep.
pub const MAX_DEPTH: usize = 32;
/// Most YAML nodes (scalars, lists, mappings) in one file; a workload of 99
/// tiers with every field set has about 3,000.
pub const MAX_NODES: usize = 20_000;
/// Longest mapping key; the spec's keys are field and profile names.
pub const MAX_KEY_CHARS: usize = 256;
/// Longest path to a node (all its keys together), which bounds the memory
/// the position index takes: at most `MAX_NODES` paths of this length.
pub const MAX_PATH_BYTES: usize = 1024;

pub use crate::error::Pos;

#[derive(Debug, Clone, Copy)]
struct NodePos {
    key: Option<Pos>,
    value: Pos,
}

/// A parsed YAML document: its value and where each node stands.
#[derive(Debug, Clone)]
pub struct Document {
    /// The document as JSON data (what the schema validates).
    pub value: Value,
    positions: BTreeMap<String, NodePos>,
}

impl Document {
    /// A document built from data rather than text (a typed workload, an
    /// item): every position is unknown (0:0).
    pub fn from_value(value: Value) -> Document {
        Document {
            value,
            positions: BTreeMap::new(),
        }
    }

    /// Position of the value at a JSON pointer, or of its nearest ancestor.
    pub fn value_pos(&self, pointer: &str) -> Pos {
        self.lookup(pointer).map(|n| n.value).unwrap_or_default()
    }

    /// Position of the key that holds the value at `pointer` (the value's own position for array items).
    pub fn key_pos(&self, pointer: &str) -> Pos {
        self.lookup(pointer)
            .map(|n| n.key.unwrap_or(n.value))
            .unwrap_or_default()
    }

    fn lookup(&self, pointer: &str) -> Option<&NodePos> {
        let mut p = pointer;
        loop {
            if let Some(n) = self.positions.get(p) {
                return Some(n);
            }
            if p.is_empty() {
                return None;
            }
            p = &p[..p.rfind('/').unwrap_or(0)];
        }
    }
}

/// A workload file read and parsed.
#[derive(Debug, Clone)]
pub struct SpecFile {
    /// The path as given or found.
    pub path: PathBuf,
    /// The parsed document.
    pub doc: Document,
}

/// Lists the workload files named by `paths`: files as given, folders'
/// `*.yaml` / `*.yml` entries (not recursive), sorted.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    let (files, mut refused) = discover_all(paths)?;
    if refused.is_empty() {
        Ok(files)
    } else {
        Err(refused.remove(0))
    }
}

/// Like [`discover`], but a folder entry that is refused (a link leaving
/// the folder) is returned as an error of its own while the other files
/// are still found.
pub fn discover_all(paths: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<LoadError>), LoadError> {
    let mut files = Vec::new();
    let mut refused = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| LoadError::Io {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            let mut found = Vec::new();
            let entries = std::fs::read_dir(path).map_err(|source| LoadError::Io {
                path: path.clone(),
                source,
            })?;
            let inside = std::fs::canonicalize(path).map_err(|source| LoadError::Io {
                path: path.clone(),
                source,
            })?;
            for entry in entries {
                let entry = entry.map_err(|source| LoadError::Io {
                    path: path.clone(),
                    source,
                })?;
                let p = entry.path();
                if is_yaml_name(&p) {
                    match check_entry(&p, path, &inside) {
                        Ok(()) => found.push(p),
                        Err(e) => refused.push(e),
                    }
                }
            }
            if found.is_empty() && refused.is_empty() {
                return Err(LoadError::NoWorkloadFiles { dir: path.clone() });
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    files.dedup();
    Ok((files, refused))
}

/// A folder entry: a regular file, or a link that stays inside the folder.
fn check_entry(p: &Path, dir: &Path, inside: &Path) -> Result<(), LoadError> {
    let io = |source| LoadError::Io {
        path: p.to_path_buf(),
        source,
    };
    let meta = std::fs::symlink_metadata(p).map_err(io)?;
    if meta.file_type().is_symlink() {
        // A dangling link or a loop is reported when the file is read.
        let Ok(target) = std::fs::canonicalize(p) else {
            return Ok(());
        };
        if !target.starts_with(inside) {
            return Err(LoadError::SymlinkOutside {
                path: p.to_path_buf(),
                target,
                dir: dir.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// What a non-regular file is, for messages.
fn file_kind(ft: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "FIFO (named pipe)";
        }
        if ft.is_char_device() {
            return "character device";
        }
        if ft.is_block_device() {
            return "block device";
        }
        if ft.is_socket() {
            return "socket";
        }
    }
    if ft.is_dir() {
        "directory"
    } else {
        "special file"
    }
}

fn is_yaml_name(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("yaml") | Some("yml")
    )
}

/// Reads and parses one workload file.
pub fn read_spec_file(path: &Path) -> Result<SpecFile, LoadError> {
    let text = read_text(path)?;
    let doc = parse_yaml(&text).map_err(|(pos, message)| LoadError::Yaml {
        path: path.to_path_buf(),
        pos,
        message,
    })?;
    Ok(SpecFile {
        path: path.to_path_buf(),
        doc,
    })
}

/// Reads a small UTF-8 text file, refusing large, binary and non-UTF-8 input.
pub fn read_text(path: &Path) -> Result<String, LoadError> {
    let io = |source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    };
    // Look before opening: opening a FIFO for reading blocks until a writer comes.
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        return Err(LoadError::IsDirectory {
            path: path.to_path_buf(),
        });
    }
    if !meta.is_file() {
        return Err(LoadError::NotRegular {
            path: path.to_path_buf(),
            kind: file_kind(meta.file_type()),
        });
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge {
            path: path.to_path_buf(),
            size: meta.len(),
            limit: MAX_FILE_BYTES,
        });
    }
    // The file may be swapped between the look and the open: open without
    // blocking, check what was opened, and read at most the cap.
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = options.open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(LoadError::NotRegular {
            path: path.to_path_buf(),
            kind: file_kind(meta.file_type()),
        });
    }
    let mut bytes = Vec::with_capacity(meta.len().min(MAX_FILE_BYTES) as usize);
    {
        use std::io::Read;
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
    }
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
            limit: MAX_FILE_BYTES,
        });
    }
    if bytes.contains(&0) {
        return Err(LoadError::Binary {
            path: path.to_path_buf(),
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let before = &e.as_bytes()[..offset];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        LoadError::NotUtf8 {
            path: path.to_path_buf(),
            line,
            offset,
        }
    })
}

/// Reads a whole text file of any size (for generated files compared with their source).
pub fn read_generated(path: &Path) -> Result<Option<String>, LoadError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(LoadError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Reads a saved observed-state file (`--observed`).
pub fn read_observed(path: &Path) -> Result<crate::observe::Observed, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    crate::observe::Observed::from_json(&text).map_err(|message| LoadError::Yaml {
        path: path.to_path_buf(),
        pos: Pos { line: 1, column: 1 },
        message: format!("not an observed-state file: {message}"),
    })
}

/// Reads a JSON file tierctl wrote (a saved plan), as text. The size cap of
/// workload files does not apply: a plan of a large fleet is large.
pub fn read_json_file(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))
}

type ParseError = (Pos, String);

fn pos_of(span: &Span) -> Pos {
    Pos {
        line: span.start.line(),
        column: span.start.col() + 1,
    }
}

enum Frame {
    Seq {
        pointer: String,
        items: Vec<Value>,
    },
    Map {
        pointer: String,
        map: Map<String, Value>,
        key: Option<String>,
        seen: BTreeMap<String, Pos>,
    },
}

/// Parses one YAML document into a JSON value with node positions.
///
/// Errors carry the position where the problem starts.
pub fn parse_yaml(text: &str) -> Result<Document, ParseError> {
    let mut positions = BTreeMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Value> = None;
    let mut documents = 0;
    let mut last = Pos { line: 1, column: 1 };
    let mut nodes = 0usize;

    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| {
            (
                Pos {
                    line: e.marker().line(),
                    column: e.marker().col() + 1,
                },
                format!("YAML syntax error: {}", e.info()),
            )
        })?;
        let pos = pos_of(&span);
        last = pos;
        if matches!(
            event,
            Event::Scalar(..) | Event::SequenceStart(..) | Event::MappingStart(..)
        ) {
            nodes += 1;
            if nodes > MAX_NODES {
                return Err((
                    pos,
                    format!("more than {MAX_NODES} YAML nodes; a workload file is far smaller"),
                ));
            }
        }
        match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err((
                        pos,
                        "a workload file holds exactly one YAML document; remove the `---` separator and split the file".into(),
                    ));
                }
            }
            Event::Alias(_) => {
                return Err((
                    pos,
                    "aliases (`*name`) are not supported in workload files: write the value out"
                        .into(),
                ));
            }
            Event::Scalar(value, style, anchor, tag) => {
                reject_anchor(anchor, pos)?;
                let is_key = matches!(stack.last(), Some(Frame::Map { key: None, .. }));
                if is_key {
                    if tag.is_some() {
                        return Err((pos, "tags are not supported on keys".into()));
                    }
                    let key = value.into_owned();
                    if key.chars().count() > MAX_KEY_CHARS {
                        return Err((pos, format!("a key longer than {MAX_KEY_CHARS} characters")));
                    }
                    if key == "<<" && style == ScalarStyle::Plain {
                        return Err((
                            pos,
                            "merge keys (`<<`) are not supported in workload files: write the keys out".into(),
                        ));
                    }
                    let Some(Frame::Map {
                        pointer,
                        key: slot,
                        seen,
                        ..
                    }) = stack.last_mut()
                    else {
                        unreachable!("checked above");
                    };
                    if let Some(first) = seen.get(&key) {
                        return Err((
                            pos,
                            format!(
                                "duplicate key `{key}` (first defined at line {})",
                                first.line
                            ),
                        ));
                    }
                    seen.insert(key.clone(), pos);
                    let child = child_pointer(pointer, &key);
                    if child.len() > MAX_PATH_BYTES {
                        return Err((
                            pos,
                            format!("keys nested more than {MAX_PATH_BYTES} bytes deep"),
                        ));
                    }
                    positions.insert(
                        child,
                        NodePos {
                            key: Some(pos),
                            value: pos,
                        },
                    );
                    *slot = Some(key);
                } else {
                    let scalar = match tag {
                        None => resolve_scalar(&value, style),
                        Some(t) if t.is_yaml_core_schema() && t.suffix == "str" => {
                            Value::String(value.into_owned())
                        }
                        Some(t) => {
                            return Err((
                                pos,
                                format!(
                                    "YAML tags (`{}{}`) are not supported in workload files",
                                    t.handle, t.suffix
                                ),
                            ));
                        }
                    };
                    attach(&mut stack, &mut root, &mut positions, scalar, pos)?;
                }
            }
            Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                let is_seq = matches!(event, Event::SequenceStart(..));
                reject_anchor(anchor, pos)?;
                if let Some(t) = tag {
                    return Err((
                        pos,
                        format!(
                            "YAML tags (`{}{}`) are not supported in workload files",
                            t.handle, t.suffix
                        ),
                    ));
                }
                if matches!(stack.last(), Some(Frame::Map { key: None, .. })) {
                    return Err((
                        pos,
                        "keys must be plain strings, not lists or mappings".into(),
                    ));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err((pos, format!("nesting deeper than {MAX_DEPTH} levels")));
                }
                let pointer = match stack.last() {
                    None => String::new(),
                    Some(Frame::Seq { pointer, items }) => {
                        child_pointer(pointer, &items.len().to_string())
                    }
                    Some(Frame::Map { pointer, key, .. }) => {
                        child_pointer(pointer, key.as_deref().unwrap_or_default())
                    }
                };
                positions
                    .entry(pointer.clone())
                    .and_modify(|n: &mut NodePos| n.value = pos)
                    .or_insert(NodePos {
                        key: None,
                        value: pos,
                    });
                stack.push(if is_seq {
                    Frame::Seq {
                        pointer,
                        items: Vec::new(),
                    }
                } else {
                    Frame::Map {
                        pointer,
                        map: Map::new(),
                        key: None,
                        seen: BTreeMap::new(),
                    }
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let value = match stack.pop() {
                    Some(Frame::Seq { items, .. }) => Value::Array(items),
                    Some(Frame::Map { map, .. }) => Value::Object(map),
                    None => return Err((pos, "unbalanced YAML structure".into())),
                };
                attach_built(&mut stack, &mut root, value);
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
    }
    match root {
        Some(value) => Ok(Document { value, positions }),
        None => Err((
            last,
            "the file is empty: expected a workload (a mapping with `name`, `region`, `selector`, `tiers`)".into(),
        )),
    }
}

fn reject_anchor(anchor: usize, pos: Pos) -> Result<(), ParseError> {
    if anchor == 0 {
        Ok(())
    } else {
        Err((
            pos,
            "anchors (`&name`) are not supported in workload files: write the value out".into(),
        ))
    }
}

/// Escapes one JSON pointer segment (RFC 6901).
fn child_pointer(parent: &str, segment: &str) -> String {
    format!("{parent}/{}", segment.replace('~', "~0").replace('/', "~1"))
}

/// Places a scalar into the node being built, recording its position.
fn attach(
    stack: &mut [Frame],
    root: &mut Option<Value>,
    positions: &mut BTreeMap<String, NodePos>,
    value: Value,
    pos: Pos,
) -> Result<(), ParseError> {
    match stack.last() {
        None => {
            positions.insert(
                String::new(),
                NodePos {
                    key: None,
                    value: pos,
                },
            );
        }
        Some(Frame::Seq { pointer, items }) => {
            positions.insert(
                child_pointer(pointer, &items.len().to_string()),
                NodePos {
                    key: None,
                    value: pos,
                },
            );
        }
        Some(Frame::Map { pointer, key, .. }) => {
            let child = child_pointer(pointer, key.as_deref().unwrap_or_default());
            positions
                .entry(child)
                .and_modify(|n| n.value = pos)
                .or_insert(NodePos {
                    key: None,
                    value: pos,
                });
        }
    }
    attach_built(stack, root, value);
    Ok(())
}

fn attach_built(stack: &mut [Frame], root: &mut Option<Value>, value: Value) {
    match stack.last_mut() {
        None => *root = Some(value),
        Some(Frame::Seq { items, .. }) => items.push(value),
        Some(Frame::Map { map, key, .. }) => {
            if let Some(k) = key.take() {
                map.insert(k, value);
            }
        }
    }
}

/// Resolves a scalar by the YAML 1.2 core schema. Quoted scalars are strings;
/// `yes`/`no`/`on`/`off` stay strings (YAML 1.1 booleans are a classic trap).
fn resolve_scalar(text: &str, style: ScalarStyle) -> Value {
    if style != ScalarStyle::Plain {
        return Value::String(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Some(n) = parse_int(text) {
        return Value::Number(n);
    }
    if looks_like_float(text)
        && let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64)
    {
        return Value::Number(n);
    }
    Value::String(text.to_string())
}

fn parse_int(text: &str) -> Option<Number> {
    let (neg, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, body) = if let Some(h) = digits.strip_prefix("0x") {
        (16, h)
    } else if let Some(o) = digits.strip_prefix("0o") {
        (8, o)
    } else {
        (10, digits)
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(body, radix).ok()?;
    let value = if neg { -magnitude } else { magnitude };
    if let Ok(v) = i64::try_from(value) {
        Some(Number::from(v))
    } else {
        u64::try_from(value).ok().map(Number::from)
    }
}

fn looks_like_float(text: &str) -> bool {
    let t = text.trim_start_matches(['-', '+']);
    let mut digits = 0;
    let mut seen_exp = false;
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '0'..='9' => digits += 1,
            '.' if !seen_exp => {}
            'e' | 'E' if digits > 0 && !seen_exp => {
                seen_exp = true;
                if matches!(chars.peek(), Some('+') | Some('-')) {
                    chars.next();
                }
            }
            _ => return false,
        }
    }
    digits > 0
}

/// Renders a JSON pointer as the field path a user reads: `tiers[0].stop.sequence`.
pub fn display_path(value: &Value, pointer: &str) -> String {
    let mut out = String::new();
    let mut node = Some(value);
    for raw in pointer.split('/').skip(1) {
        let seg = raw.replace("~1", "/").replace("~0", "~");
        match node {
            Some(Value::Array(items)) => {
                out.push_str(&format!("[{seg}]"));
                node = seg.parse::<usize>().ok().and_then(|i| items.get(i));
            }
            other => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&seg);
                node = other.and_then(|v| v.get(&seg));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Document {
        parse_yaml(text).expect("parses")
    }

    fn err(text: &str) -> (Pos, String) {
        parse_yaml(text).expect_err("should fail")
    }

    #[test]
    fn values_and_positions() {
        let doc = parse("name: web\ntiers:\n  - name: a\n    stop:\n      sequence: 1\n");
        assert_eq!(
            doc.value,
            json!({"name": "web", "tiers": [{"name": "a", "stop": {"sequence": 1}}]})
        );
        assert_eq!(
            doc.key_pos("/tiers/0/stop/sequence"),
            Pos { line: 5, column: 7 }
        );
        assert_eq!(
            doc.value_pos("/tiers/0/stop/sequence"),
            Pos {
                line: 5,
                column: 17
            }
        );
        assert_eq!(
            doc.value_pos("/tiers/0/name"),
            Pos {
                line: 3,
                column: 11
            }
        );
        // A pointer that does not exist falls back to its nearest ancestor.
        assert_eq!(
            doc.value_pos("/tiers/0/stop/missing"),
            Pos { line: 5, column: 7 }
        );
    }

    #[test]
    fn core_schema_scalars() {
        let doc = parse(
            "a: yes\nb: true\nc: 010\nd: '5'\ne: 1.5\nf: ~\ng: 0x1f\nh: -3\ni: 1e3\nj: 99999999999999999999999\n",
        );
        assert_eq!(
            doc.value,
            json!({"a": "yes", "b": true, "c": 10, "d": "5", "e": 1.5, "f": null, "g": 31, "h": -3, "i": 1000.0, "j": 1e23})
        );
    }

    #[test]
    fn rejects_duplicate_keys_with_both_lines() {
        let (pos, msg) = err("name: a\nregion: x\nname: b\n");
        assert_eq!(pos.line, 3);
        assert!(
            msg.contains("duplicate key `name` (first defined at line 1)"),
            "{msg}"
        );
    }

    #[test]
    fn rejects_anchors_aliases_merge_keys_and_tags() {
        assert!(err("a: &x 1\nb: *x\n").1.contains("anchors"));
        assert!(err("a: &x {k: 1}\n").1.contains("anchors"));
        assert!(
            err("b: {k: 1}\nc:\n  <<: {k: 2}\n")
                .1
                .contains("merge keys")
        );
        assert!(err("a: !custom 1\n").1.contains("tags"));
        assert_eq!(parse("a: !!str 1\n").value, json!({"a": "1"}));
    }

    #[test]
    fn rejects_empty_and_multi_document_files() {
        assert!(err("").1.contains("empty"));
        assert!(err("# only a comment\n").1.contains("empty"));
        assert!(
            err("a: 1\n---\nb: 2\n")
                .1
                .contains("exactly one YAML document")
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        let (pos, _) = err("a: [1, 2\nb: 3\n");
        assert!(pos.line >= 1);
        let (pos, msg) = err("a:\n  b: 1\n c: 2\n");
        assert_eq!(pos.line, 3, "{msg}");
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let (_, msg) = err(&"[".repeat(40));
        assert!(msg.contains("nesting deeper than 32"), "{msg}");
        // Far deeper input is stopped by the parser's own limit, still an error.
        let (_, msg) = err(&"[".repeat(100_000));
        assert!(msg.contains("recursion limit"), "{msg}");
    }

    #[test]
    fn node_key_and_path_limits() {
        let many = "[".to_string() + &"1,".repeat(MAX_NODES) + "1]";
        assert!(err(&many).1.contains("more than 20000 YAML nodes"));
        let long = format!("{}: 1\n", "k".repeat(MAX_KEY_CHARS + 1));
        assert!(err(&long).1.contains("key longer than 256"));
        let mut deep = String::new();
        for level in 0..6 {
            deep.push_str(&"  ".repeat(level));
            deep.push_str(&"k".repeat(200));
            deep.push_str(":\n");
        }
        deep.push_str(&"  ".repeat(6));
        deep.push_str("x: 1\n");
        assert!(err(&deep).1.contains("nested more than 1024 bytes"));
    }

    #[cfg(unix)]
    #[test]
    fn special_files_and_escaping_links_are_refused_without_blocking() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.yaml");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_text(&fifo).unwrap_err().to_string();
        assert!(
            e.contains("is a FIFO (named pipe), not a regular file"),
            "{e}"
        );
        let e = read_text(Path::new("/dev/null")).unwrap_err().to_string();
        assert!(e.contains("character device"), "{e}");

        let specs = dir.path().join("specs");
        std::fs::create_dir(&specs).unwrap();
        std::fs::write(specs.join("a.yaml"), "name: a\n").unwrap();
        symlink(specs.join("a.yaml"), specs.join("b.yaml")).unwrap();
        assert_eq!(discover(std::slice::from_ref(&specs)).unwrap().len(), 2);
        symlink("/dev/zero", specs.join("zero.yaml")).unwrap();
        let e = discover(std::slice::from_ref(&specs))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("zero.yaml: symbolic link to /dev/zero, outside"),
            "{e}"
        );
        std::fs::remove_file(specs.join("zero.yaml")).unwrap();
        symlink(&fifo, specs.join("p.yaml")).unwrap();
        let e = discover(std::slice::from_ref(&specs))
            .unwrap_err()
            .to_string();
        assert!(e.contains("outside"), "{e}");
    }

    #[test]
    fn complex_keys_are_refused() {
        assert!(err("? [a]\n: 1\n").1.contains("keys must be plain"));
    }

    #[test]
    fn display_paths() {
        let v = json!({"tiers": [{"scaling": {"0": "t2.nano"}}]});
        assert_eq!(display_path(&v, "/tiers/0/scaling/0"), "tiers[0].scaling.0");
        assert_eq!(display_path(&v, ""), "");
        assert_eq!(display_path(&v, "/a~1b"), "a/b");
    }
}
