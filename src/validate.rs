//! Checking workload specs: the JSON Schema first, then the rules a schema
//! cannot express (names, paths that reach a shell, AWS formats). Every
//! problem of every file is collected, each with its file, line and column.
//!
//! Rules work on the parsed JSON value rather than the typed [`Workload`], so
//! a file with a schema error still gets its other rules checked: one run
//! reports everything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Serialize;
use serde_json::Value;

use crate::error::LoadError;
use crate::load::{self, Document, Pos, SpecFile};
use crate::spec::{self, Workload};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The spec cannot be used.
    Error,
    /// Legal but risky.
    Warning,
}

/// One finding, pointing at a place in a file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
pub struct Diagnostic {
    /// The file, as given or found.
    pub file: String,
    /// Line, from 1 (0 when the whole file is concerned).
    pub line: usize,
    /// Column, from 1 (0 when the whole file is concerned).
    pub column: usize,
    /// Error or warning.
    pub severity: Severity,
    /// Field path such as `tiers[0].stop.sequence` (empty for the whole file).
    pub path: String,
    /// Plain-language message.
    pub message: String,
}

/// The outcome of checking a set of files.
#[derive(Debug, Default)]
pub struct Checked {
    /// Files examined.
    pub files: Vec<PathBuf>,
    /// Workloads that are valid (only complete when there are no errors).
    pub workloads: Vec<(PathBuf, Workload)>,
    /// Every finding, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.count(Severity::Error)
    }

    /// Number of warnings.
    pub fn warnings(&self) -> usize {
        self.count(Severity::Warning)
    }

    fn count(&self, s: Severity) -> usize {
        self.diagnostics.iter().filter(|d| d.severity == s).count()
    }
}

/// Finds, reads and checks the workload files under `paths`.
///
/// A path that cannot be listed is an error diagnostic, like any other problem.
pub fn check_paths(paths: &[PathBuf]) -> Checked {
    let mut checked = Checked::default();
    let mut files = Vec::new();
    for path in paths {
        match load::discover_all(std::slice::from_ref(path)) {
            Ok((found, refused)) => {
                files.extend(found);
                checked
                    .diagnostics
                    .extend(refused.iter().map(load_diagnostic));
            }
            Err(e) => checked.diagnostics.push(load_diagnostic(&e)),
        }
    }
    let mut parsed = Vec::new();
    for file in &files {
        match load::read_spec_file(file) {
            Ok(spec) => parsed.push(spec),
            Err(e) => checked.diagnostics.push(load_diagnostic(&e)),
        }
    }
    let rest = check_files(&parsed);
    checked.files = files;
    checked.workloads = rest.workloads;
    checked.diagnostics.extend(rest.diagnostics);
    checked.diagnostics.sort();
    checked.diagnostics.dedup();
    checked
}

/// Checks parsed files: schema, per-file rules, then rules across files.
pub fn check_files(files: &[SpecFile]) -> Checked {
    let mut checked = Checked::default();
    let mut names: BTreeMap<String, (PathBuf, Pos)> = BTreeMap::new();
    for file in files {
        let mut diags = Findings::new(&file.path, &file.doc);
        schema_rules(&mut diags);
        semantic_rules(&mut diags);
        if let Some(name) = file.doc.value.pointer("/name").and_then(Value::as_str) {
            let pos = file.doc.value_pos("/name");
            if let Some((other, other_pos)) = names.get(name) {
                diags.error_at(
                    "/name",
                    pos,
                    format!(
                        "workload `{name}` is also defined in {}:{}; workload names must be unique",
                        other.display(),
                        other_pos.line
                    ),
                );
            } else {
                names.insert(name.to_string(), (file.path.clone(), pos));
            }
        }
        let has_errors = diags.out.iter().any(|d| d.severity == Severity::Error);
        checked.diagnostics.extend(diags.out);
        if !has_errors {
            match serde_json::from_value::<Workload>(file.doc.value.clone()) {
                Ok(w) => checked.workloads.push((file.path.clone(), w)),
                Err(e) => checked.diagnostics.push(Diagnostic {
                    file: file.path.display().to_string(),
                    line: 1,
                    column: 1,
                    severity: Severity::Error,
                    path: String::new(),
                    message: format!("does not match the workload type: {e}"),
                }),
            }
        }
        checked.files.push(file.path.clone());
    }
    checked.diagnostics.sort();
    checked
}

/// Checks a typed workload with the same schema and semantic rules as a
/// file, whatever its source (DynamoDB items, the tables' current state,
/// what `import` is about to write). Diagnostics name `origin` as their
/// file and carry no position; the file-name rule does not apply.
pub fn check_workload(w: &Workload, origin: &str) -> Vec<Diagnostic> {
    let value = match serde_json::to_value(w) {
        Ok(v) => v,
        Err(e) => {
            return vec![Diagnostic {
                file: origin.to_string(),
                line: 0,
                column: 0,
                severity: Severity::Error,
                path: String::new(),
                message: format!("cannot be represented as a workload: {e}"),
            }];
        }
    };
    let doc = Document::from_value(value);
    let mut f = Findings {
        label: origin.to_string(),
        stem: None,
        doc: &doc,
        out: Vec::new(),
    };
    schema_rules(&mut f);
    semantic_rules(&mut f);
    let mut out = f.out;
    out.sort();
    out.dedup();
    out
}

impl Checked {
    /// `--strict`: every warning becomes an error.
    pub fn strict(&mut self) {
        strict(&mut self.diagnostics);
        if self.errors() > 0 {
            self.workloads.clear();
        }
    }
}

/// Turns warnings into errors (`--strict`).
pub fn strict(diagnostics: &mut [Diagnostic]) {
    for d in diagnostics {
        if d.severity == Severity::Warning {
            d.severity = Severity::Error;
            d.message = format!("{} (a warning, an error with --strict)", d.message);
        }
    }
}

/// A load failure as a diagnostic.
pub fn load_diagnostic(e: &LoadError) -> Diagnostic {
    let pos = e.pos().unwrap_or_default();
    Diagnostic {
        file: e.path().display().to_string(),
        line: pos.line,
        column: pos.column,
        severity: Severity::Error,
        path: String::new(),
        message: e.detail(),
    }
}

struct Findings<'a> {
    /// What the diagnostics name as their file (a path, or a table item).
    label: String,
    /// The file stem the workload name must equal; `None` for non-file sources.
    stem: Option<String>,
    doc: &'a Document,
    out: Vec<Diagnostic>,
}

impl<'a> Findings<'a> {
    fn new(file: &Path, doc: &'a Document) -> Self {
        Findings {
            label: file.display().to_string(),
            stem: Some(
                file.file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default()
                    .to_string(),
            ),
            doc,
            out: Vec::new(),
        }
    }

    fn push(&mut self, severity: Severity, pointer: &str, pos: Pos, message: String) {
        self.out.push(Diagnostic {
            file: self.label.clone(),
            line: pos.line,
            column: pos.column,
            severity,
            path: load::display_path(&self.doc.value, pointer),
            message,
        });
    }

    fn error_at(&mut self, pointer: &str, pos: Pos, message: String) {
        self.push(Severity::Error, pointer, pos, message);
    }

    /// An error about the value at `pointer`.
    fn error(&mut self, pointer: &str, message: String) {
        let pos = self.doc.value_pos(pointer);
        self.push(Severity::Error, pointer, pos, message);
    }

    /// A warning about the key at `pointer`.
    fn warning(&mut self, pointer: &str, message: String) {
        let pos = self.doc.key_pos(pointer);
        self.push(Severity::Warning, pointer, pos, message);
    }

    fn str_at(&self, pointer: &str) -> Option<&'a str> {
        self.doc.value.pointer(pointer).and_then(Value::as_str)
    }
}

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        jsonschema::validator_for(&spec::json_schema()).expect("the generated schema is valid")
    })
}

/// Every property name the schema knows, for "did you mean" hints.
fn known_fields() -> &'static Vec<String> {
    static FIELDS: OnceLock<Vec<String>> = OnceLock::new();
    FIELDS.get_or_init(|| {
        fn walk(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(map) => {
                    if let Some(Value::Object(props)) = map.get("properties") {
                        out.extend(props.keys().cloned());
                    }
                    map.values().for_each(|c| walk(c, out));
                }
                Value::Array(items) => items.iter().for_each(|c| walk(c, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(&spec::json_schema(), &mut out);
        out.sort();
        out.dedup();
        out
    })
}

fn schema_rules(f: &mut Findings<'_>) {
    use jsonschema::error::ValidationErrorKind as K;
    let instance = &f.doc.value;
    for err in validator().iter_errors(instance) {
        let pointer = err.instance_path().as_str().to_string();
        match err.kind() {
            K::AdditionalProperties { unexpected } => {
                for key in unexpected {
                    let child = format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
                    let pos = f.doc.key_pos(&child);
                    let hint = closest(key, known_fields())
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_default();
                    f.error_at(&child, pos, format!("unknown field `{key}`{hint}"));
                }
            }
            K::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                let pos = f.doc.value_pos(&pointer);
                f.error_at(&pointer, pos, format!("missing required field `{name}`"));
            }
            _ => f.error(&pointer, err.to_string()),
        }
    }
}

/// The nearest known name within two edits, if any.
fn closest<'s>(word: &str, candidates: &'s [String]) -> Option<&'s str> {
    candidates
        .iter()
        .map(|c| (edit_distance(&word.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, c)| c.as_str())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn semantic_rules(f: &mut Findings<'_>) {
    workload_rules(f);
    schedule_rules(f);
    let tiers = f
        .doc
        .value
        .pointer("/tiers")
        .and_then(Value::as_array)
        .map(Vec::len)
        .unwrap_or(0);
    let mut seen: BTreeMap<&str, Pos> = BTreeMap::new();
    let mut any_override = false;
    for i in 0..tiers {
        let t = format!("/tiers/{i}");
        if let Some(name) = f.str_at(&format!("{t}/name")) {
            let pos = f.doc.value_pos(&format!("{t}/name"));
            if let Some(first) = seen.get(name) {
                f.error_at(
                    &format!("{t}/name"),
                    pos,
                    format!("duplicate tier name `{name}` (first at line {}); tier names must be unique in a workload", first.line),
                );
            } else {
                seen.insert(name, pos);
            }
            if name.trim() != name || name.is_empty() {
                f.error(
                    &format!("{t}/name"),
                    "tier name must not be empty or start/end with spaces".into(),
                );
            } else if let Some(c) = unprintable(name) {
                f.error(
                    &format!("{t}/name"),
                    format!(
                        "tier name `{}` contains {}; names must be plain printable text",
                        name.escape_debug(),
                        describe_char(c)
                    ),
                );
            }
        }
        let has = |k: &str| f.doc.value.pointer(&format!("{t}/{k}")).is_some();
        if !has("stop") {
            f.warning(
                &t,
                "tier has no `stop` block: `run stop` leaves it running".into(),
            );
        }
        if !has("start") {
            f.warning(
                &t,
                "tier has no `start` block: `run start` leaves it stopped".into(),
            );
        }
        let over = format!("{t}/stop/override");
        if f.doc.value.pointer(&over).is_some() {
            any_override = true;
        }
        if let Some(path) = f.str_at(&format!("{over}/file")) {
            let os = f.str_at(&format!("{over}/os"));
            if let Some(msg) = override_path_problem(path, os) {
                f.error(&format!("{over}/file"), msg);
            }
        }
        asg_rules(f, &t);
        if let Some(Value::Object(profiles)) = f.doc.value.pointer(&format!("{t}/scaling")) {
            for (profile, ty) in profiles {
                let p = format!(
                    "{t}/scaling/{}",
                    profile.replace('~', "~0").replace('/', "~1")
                );
                if !is_profile_name(profile) {
                    let pos = f.doc.key_pos(&p);
                    f.error_at(
                        &p,
                        pos,
                        format!(
                            "profile name `{profile}` must be 1-64 letters, digits, `_`, `-` or `.`"
                        ),
                    );
                }
                if let Some(ty) = ty.as_str()
                    && !is_instance_type(ty)
                {
                    f.error(&p, format!("`{ty}` does not look like an EC2 instance type (`family.size`, e.g. `t3.micro`)"));
                }
            }
        }
    }
    if tiers > 0 && !any_override {
        f.warning(
            "/tiers",
            "no tier has `stop.override`: instances are stopped without a way for their owners to keep them running".into(),
        );
    }
}

/// Rules for tiers holding Auto Scaling groups (`members` with `asg`):
/// scaling profiles resize EC2 instances only, and the override file is
/// checked on EC2 guests only (a group's override is its tag).
fn asg_rules(f: &mut Findings<'_>, t: &str) {
    let members: Vec<&str> = match f.doc.value.pointer(&format!("{t}/members")) {
        Some(Value::Array(m)) => m.iter().filter_map(Value::as_str).collect(),
        _ => return,
    };
    if !members.contains(&"asg") {
        return;
    }
    let profiles = matches!(f.doc.value.pointer(&format!("{t}/scaling")), Some(Value::Object(p)) if !p.is_empty());
    if profiles && !members.contains(&"ec2") {
        f.error(
            &format!("{t}/scaling"),
            "scaling profiles resize EC2 instances only, and this tier holds no `ec2` members; a group's instance type is its launch template's".into(),
        );
    } else if profiles {
        f.warning(
            &format!("{t}/scaling"),
            "scaling profiles resize this tier's EC2 instances only, not its Auto Scaling groups (a group's instance type is its launch template's)".into(),
        );
    }
    if f.doc.value.pointer(&format!("{t}/stop/override")).is_some() {
        f.warning(
            &format!("{t}/stop/override"),
            format!("the override file is checked on EC2 instances only; an Auto Scaling group's override is its tag {}=true", crate::plan::asg::KEEP_RUNNING_TAG),
        );
    }
}

fn workload_rules(f: &mut Findings<'_>) {
    if let Some(name) = f.str_at("/name") {
        let stem = f.stem.clone();
        if !is_workload_name(name) {
            f.error("/name", format!("workload name `{}` must be 1-128 letters, digits, `_`, `-` or `.`, starting with a letter or digit", name.escape_debug()));
        } else if let Some(stem) = stem.filter(|s| s != name) {
            f.error("/name", format!("workload name `{name}` must equal the file name `{stem}` (rename the file to `{name}.yaml`)"));
        }
    }
    if let Some(region) = f.str_at("/region")
        && !is_region(region)
    {
        f.error(
            "/region",
            format!("`{region}` does not look like an AWS region (e.g. `us-west-2`)"),
        );
    }
    for key_ptr in ["/selector/workloadTag/key", "/selector/tierTagKey"] {
        if let Some(key) = f.str_at(key_ptr) {
            if key.to_ascii_lowercase().starts_with("aws:") {
                f.error(
                    key_ptr,
                    format!("tag key `{key}` uses the reserved `aws:` prefix"),
                );
            } else if key.trim().is_empty() {
                f.error(key_ptr, "tag key must not be blank".into());
            } else if let Some(c) = unprintable(key) {
                f.error(
                    key_ptr,
                    format!(
                        "tag key `{}` contains {}; tag keys must be plain printable text",
                        key.escape_debug(),
                        describe_char(c)
                    ),
                );
            }
        }
    }
    if let Some(value) = f.str_at("/selector/workloadTag/value") {
        if let Some(c) = unprintable(value) {
            f.error(
                "/selector/workloadTag/value",
                format!(
                    "tag value `{}` contains {}; tag values must be plain printable text",
                    value.escape_debug(),
                    describe_char(c)
                ),
            );
        } else if value.is_empty() {
            f.warning(
                "/selector/workloadTag/value",
                "the workload tag value is empty: every instance whose tag has an empty value belongs to the workload".into(),
            );
        }
    }
    if let Some(prefix) = f.str_at("/ssm/outputKeyPrefix")
        && let Some(c) = unprintable(prefix)
    {
        f.error(
            "/ssm/outputKeyPrefix",
            format!(
                "key prefix `{}` contains {}; use plain printable text",
                prefix.escape_debug(),
                describe_char(c)
            ),
        );
    }
    match f.str_at("/selector/vpcId") {
        Some(vpc) if !is_vpc_id(vpc) => {
            f.error(
                "/selector/vpcId",
                format!("`{vpc}` does not look like a VPC id (`vpc-` and 8 or 17 hex digits)"),
            );
        }
        None if f.doc.value.pointer("/selector").is_some() => {
            f.warning("/selector", "no `vpcId`: discovery covers every VPC in the region; set it to narrow the blast radius".into());
        }
        _ => {}
    }
    if let Some(topic) = f.str_at("/notify/snsTopic")
        && !is_topic_name(topic)
    {
        f.error("/notify/snsTopic", format!("`{topic}` is not a valid SNS topic name (1-256 letters, digits, `_`, `-`; optional `.fifo`)"));
    }
    if let Some(bucket) = f.str_at("/ssm/outputBucket") {
        if is_bucket_name(bucket) {
        } else if is_legacy_bucket_name(bucket) {
            f.warning("/ssm/outputBucket", format!("`{bucket}` is a legacy S3 bucket name (capitals or `_`, allowed in us-east-1 before March 2018): it works for an existing bucket, but no new bucket can have it"));
        } else {
            f.error("/ssm/outputBucket", format!("`{}` is not a valid S3 bucket name (3-63 lowercase letters, digits, `.`, `-`; legacy names may also have capitals and `_`)", bucket.escape_debug()));
        }
    }
    if f.doc.value.pointer("/disabled") == Some(&Value::Bool(true)) {
        f.warning(
            "/disabled",
            "the kill switch is on: runs do nothing for this workload".into(),
        );
    }
}

/// `schedule`: the time zone, both cron expressions, the start's profile,
/// and (when they all parse) what the next [`schedule::SIMULATED_DAYS`]
/// days of runs look like: an expression that never fires again is an
/// error; stop and start in one minute, or two stops or two starts in a row,
/// are warnings.
fn schedule_rules(f: &mut Findings<'_>) {
    use crate::plan::Action;
    use crate::schedule::{self, Cron, Finding};
    if f.doc.value.pointer("/schedule").is_none() {
        return;
    }
    let tz = match f.str_at("/schedule/timezone").map(schedule::timezone) {
        Some(Ok(tz)) => Some(tz),
        Some(Err(e)) => {
            f.error("/schedule/timezone", e.to_string());
            None
        }
        None => None,
    };
    let mut parsed = Vec::new();
    for action in [Action::Stop, Action::Start] {
        let ptr = format!("/schedule/{}/cron", action.as_str());
        let Some(text) = f.str_at(&ptr) else {
            continue;
        };
        match Cron::parse(text) {
            Ok(c) => parsed.push((action, c)),
            Err(e) => f.error(&ptr, e.to_string()),
        }
    }
    if let Some(profile) = f.str_at("/schedule/start/profile") {
        let mut known: Vec<&str> = f
            .doc
            .value
            .pointer("/tiers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|t| t.get("scaling").and_then(Value::as_object))
            .flat_map(|m| m.keys().map(String::as_str))
            .collect();
        known.sort_unstable();
        known.dedup();
        if !known.contains(&profile) {
            let have = if known.is_empty() {
                "no tier has `scaling` profiles".to_string()
            } else {
                format!(
                    "the tiers' profiles are {}",
                    known
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            f.error(
                "/schedule/start/profile",
                format!("`{profile}` is not a scaling profile of any tier; {have}"),
            );
        }
    }
    // An expression that does not parse is left out: the others still get
    // their "never fires again" check; the order checks need both.
    let Some(tz) = tz.filter(|_| !parsed.is_empty()) else {
        return;
    };
    let now = match schedule::now() {
        Ok(now) => now,
        Err(e) => {
            f.error("/schedule", e.to_string());
            return;
        }
    };
    let mut compiled = schedule::Compiled {
        timezone_name: f
            .str_at("/schedule/timezone")
            .unwrap_or_default()
            .to_string(),
        tz,
        stop: None,
        start: None,
        profile: None,
    };
    for (action, c) in parsed {
        match action {
            Action::Stop => compiled.stop = Some(c),
            Action::Start => compiled.start = Some(c),
        }
    }
    for finding in schedule::check(&compiled, now) {
        let message = finding.message();
        match (&finding, finding.action()) {
            (Finding::NeverFires { .. }, Some(a)) => {
                f.error(&format!("/schedule/{}/cron", a.as_str()), message);
            }
            (_, Some(a)) => f.warning(&format!("/schedule/{}", a.as_str()), message),
            (_, None) => f.warning("/schedule", message),
        }
    }
}

/// Characters allowed in an override path besides ASCII letters and digits.
///
/// An allow-list, not a deny-list: the path is placed inside a quoted shell
/// or PowerShell string, and no character here can end such a string or
/// start an expansion. `guest` quotes the path as well; both guards stay.
pub const OVERRIDE_PATH_EXTRA_CHARS: &str = " ._-/\\:+,=@";

/// Why an override path is unusable for `os` (`linux`, `windows` or unknown), if it is.
pub fn override_path_problem(path: &str, os: Option<&str>) -> Option<String> {
    if path.starts_with("\\\\") || path.starts_with("//") {
        return Some(format!(
            "override file `{path}` is a UNC or device path (`\\\\host\\share`, `\\\\.\\`, `\\\\?\\`): checking it would make the instance contact another host; use a local absolute path"
        ));
    }
    if let Some(bad) = path
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || OVERRIDE_PATH_EXTRA_CHARS.contains(*c)))
    {
        return Some(format!(
            "override file `{}` contains {}, which could break out of the command that checks it; use letters, digits, space and {}",
            path.escape_debug(),
            describe_char(bad),
            OVERRIDE_PATH_EXTRA_CHARS
                .trim_start()
                .chars()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    if path.starts_with('-') {
        return Some("override file must not start with `-`".into());
    }
    match os {
        Some("linux") if !path.starts_with('/') => Some(format!(
            "override file `{path}` must be an absolute Linux path (starting with `/`)"
        )),
        Some("windows") if !is_absolute_windows(path) => Some(format!(
            "override file `{path}` must be an absolute Windows path on a local drive (`C:\\...`)"
        )),
        Some("linux") => linux_path_problem(path),
        Some("windows") => windows_path_problem(path),
        _ => None,
    }
}

fn linux_path_problem(path: &str) -> Option<String> {
    let segments: Vec<&str> = path[1..].split('/').collect();
    if segments.iter().any(|s| *s == "." || *s == "..") {
        return Some(format!(
            "override file `{path}` must be normalised: no `.` or `..` segments"
        ));
    }
    if segments.iter().any(|s| s.is_empty()) {
        return Some(format!(
            "override file `{path}` must be normalised: no empty segment (`//`) and no trailing `/`"
        ));
    }
    if matches!(
        segments.first(),
        Some(&"dev") | Some(&"proc") | Some(&"sys")
    ) {
        return Some(format!(
            "override file `{path}` is under /{}: a device or kernel file is not an override file",
            segments[0]
        ));
    }
    None
}

/// Names Windows reserves for devices in every folder (`NUL`, `COM1.txt`...).
const WINDOWS_DEVICES: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "COM0", "COM1", "COM2", "COM3", "COM4",
    "COM5", "COM6", "COM7", "COM8", "COM9", "LPT0", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6",
    "LPT7", "LPT8", "LPT9",
];

fn windows_path_problem(path: &str) -> Option<String> {
    let rest = &path[3..];
    if rest.contains(':') {
        return Some(format!(
            "override file `{path}` has a `:` after the drive (an alternate data stream or device): use a plain path"
        ));
    }
    let segments: Vec<&str> = rest.split(['\\', '/']).collect();
    if segments.iter().any(|s| *s == "." || *s == "..") {
        return Some(format!(
            "override file `{path}` must be normalised: no `.` or `..` segments"
        ));
    }
    if segments.iter().any(|s| s.is_empty()) {
        return Some(format!(
            "override file `{path}` must be normalised: no empty segment and no trailing separator"
        ));
    }
    if let Some(dev) = segments.iter().find(|s| {
        let stem = s.split('.').next().unwrap_or_default().trim_end();
        WINDOWS_DEVICES.iter().any(|d| d.eq_ignore_ascii_case(stem))
    }) {
        return Some(format!(
            "override file `{path}` names the Windows device `{dev}`: use a plain file name"
        ));
    }
    None
}

/// The first character that is not plain printable text: control
/// characters (C0, DEL, C1) and invisible formatting (bidirectional
/// overrides, zero-width characters, BOM) that make a name read as another.
pub fn unprintable(s: &str) -> Option<char> {
    s.chars().find(|c| {
        c.is_control()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
    })
}

fn describe_char(c: char) -> String {
    match c {
        '\n' => "a newline".into(),
        '\r' => "a carriage return".into(),
        '\0' => "a NUL byte".into(),
        '\t' => "a tab".into(),
        c if c.is_control() => format!("the control character U+{:04X}", c as u32),
        c => format!("`{c}`"),
    }
}

fn is_absolute_windows(p: &str) -> bool {
    let b = p.as_bytes();
    b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && (b[2] == b'\\' || b[2] == b'/')
}

fn is_workload_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}

fn is_profile_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}

/// `family.size`, e.g. `t3.micro`, `m7i-flex.large`, `u-6tb1.metal`.
pub fn is_instance_type(s: &str) -> bool {
    let Some((family, size)) = s.split_once('.') else {
        return false;
    };
    s.len() <= 32
        && family
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase())
        && family
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !size.is_empty()
        && size
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// `us-west-2`, `us-gov-east-1`, `ap-southeast-5`, `cn-north-1`.
pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].chars().all(|c| c.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok()
}

fn is_vpc_id(s: &str) -> bool {
    s.strip_prefix("vpc-").is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17)
            && hex
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    })
}

fn is_topic_name(s: &str) -> bool {
    let base = s.strip_suffix(".fifo").unwrap_or(s);
    !base.is_empty()
        && s.len() <= 256
        && base
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Names S3 served in us-east-1 before March 2018: up to 255 characters,
/// letters of either case, digits, `.`, `-` and `_`.
fn is_legacy_bucket_name(s: &str) -> bool {
    (3..=255).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
}

fn is_bucket_name(s: &str) -> bool {
    (3..=63).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars().last().is_some_and(|c| c.is_ascii_alphanumeric())
        && !s.contains("..")
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name: wl
region: us-west-2
selector:
  workloadTag: { key: Environment, value: ENV001 }
  tierTagKey: Role
  vpcId: vpc-0123abcd
tiers:
  - name: Web
    stop: { sequence: 0, override: { file: /tmp/StopOverride, os: linux } }
    start: { sequence: 1 }
"#;

    fn check(text: &str) -> Checked {
        check_named("wl.yaml", text)
    }

    fn check_named(file: &str, text: &str) -> Checked {
        let doc = load::parse_yaml(text).expect("parses");
        check_files(&[SpecFile {
            path: file.into(),
            doc,
        }])
    }

    fn errors(text: &str) -> Vec<String> {
        check(text)
            .diagnostics
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| format!("{}:{} {}: {}", d.line, d.column, d.path, d.message))
            .collect()
    }

    #[test]
    fn good_spec_is_valid_with_defaults() {
        let c = check(GOOD);
        assert_eq!(c.errors(), 0, "{:?}", c.diagnostics);
        let (_, w) = &c.workloads[0];
        assert_eq!(w.scale_instance_delay_seconds, 4);
        assert_eq!(w.tiers[0].stop.as_ref().unwrap().delay_seconds, 5);
    }

    #[test]
    fn name_must_match_file_stem() {
        let c = check_named("other.yaml", GOOD);
        assert!(
            c.diagnostics
                .iter()
                .any(|d| d.message.contains("must equal the file name `other`"))
        );
    }

    #[test]
    fn workload_names_unique_across_files() {
        let doc = load::parse_yaml(GOOD).unwrap();
        let files = [
            SpecFile {
                path: "a/wl.yaml".into(),
                doc: doc.clone(),
            },
            SpecFile {
                path: "b/wl.yaml".into(),
                doc,
            },
        ];
        let c = check_files(&files);
        assert!(c.diagnostics.iter().any(|d| d.file == "b/wl.yaml" && d.message.contains("also defined in a/wl.yaml:2")));
    }

    #[test]
    fn tier_names_unique() {
        let text = GOOD.replace(
            "tiers:\n",
            "tiers:\n  - name: Web\n    stop: { sequence: 0 }\n    start: { sequence: 0 }\n",
        );
        let e = errors(&text);
        assert!(
            e.iter()
                .any(|m| m.contains("duplicate tier name `Web` (first at line 9)")),
            "{e:?}"
        );
    }

    #[test]
    fn negative_sequence_is_an_error_at_its_line() {
        let e = errors(&GOOD.replace("stop: { sequence: 0,", "stop: { sequence: -1,"));
        assert!(
            e.iter().any(|m| m.starts_with("10:")
                && m.contains("tiers[0].stop.sequence")
                && m.contains("minimum")),
            "{e:?}"
        );
    }

    #[test]
    fn unknown_key_is_reported_at_the_key_with_a_hint() {
        let e = errors(&GOOD.replace("    start:", "    stpo:"));
        assert!(
            e.iter()
                .any(|m| m
                    .starts_with("11:5 tiers[0].stpo: unknown field `stpo`; did you mean `stop`?")),
            "{e:?}"
        );
    }

    #[test]
    fn override_needs_file_and_os() {
        let e = errors(&GOOD.replace(
            "override: { file: /tmp/StopOverride, os: linux }",
            "override: { file: /tmp/StopOverride }",
        ));
        assert!(
            e.iter().any(|m| m.contains("missing required field `os`")),
            "{e:?}"
        );
        let e = errors(&GOOD.replace(
            "override: { file: /tmp/StopOverride, os: linux }",
            "override: { os: linux }",
        ));
        assert!(
            e.iter()
                .any(|m| m.contains("missing required field `file`")),
            "{e:?}"
        );
    }

    #[test]
    fn override_path_rules() {
        for bad in [
            "/tmp/x; rm -rf /",
            "/tmp/$(id)",
            "/tmp/`id`",
            "/tmp/a'b",
            "/tmp/a\"b",
            "/tmp/a|b",
            "/tmp/a&b",
            "/tmp/a\nb",
            "/tmp/a\0b",
            "/tmp/‘x’",
            "/tmp/a>b",
            "/tmp/%TEMP%",
        ] {
            assert!(
                override_path_problem(bad, Some("linux")).is_some(),
                "{bad:?} accepted"
            );
        }
        assert!(
            override_path_problem("tmp/x", Some("linux"))
                .unwrap()
                .contains("absolute Linux")
        );
        assert!(
            override_path_problem("/tmp/x", Some("windows"))
                .unwrap()
                .contains("absolute Windows")
        );
        assert!(override_path_problem("C:\\ignore.txt", Some("windows")).is_none());
        for bad in [
            "\\\\srv\\share\\keep",
            "\\\\?\\C:\\keep",
            "\\\\.\\pipe\\x",
            "//srv/share/keep",
        ] {
            let why = override_path_problem(bad, Some("windows")).expect(bad);
            assert!(why.contains("UNC"), "{why}");
        }
        for bad in [
            "C:\\a\\..\\b",
            "C:\\a\\.\\b",
            "C:\\a\\\\b",
            "C:\\NUL",
            "C:\\dir\\com1.txt",
            "C:\\a:stream",
            "C:keep",
        ] {
            assert!(
                override_path_problem(bad, Some("windows")).is_some(),
                "{bad:?} accepted"
            );
        }
        for bad in [
            "/tmp/../etc/x",
            "/tmp/./x",
            "/tmp//x",
            "/tmp/x/",
            "/dev/null",
            "/proc/1/x",
        ] {
            assert!(
                override_path_problem(bad, Some("linux")).is_some(),
                "{bad:?} accepted"
            );
        }
        assert!(override_path_problem("/tmp/{{ssm:secret}}", Some("linux")).is_some());
        assert!(override_path_problem("C:\\Users\\keep.txt", Some("windows")).is_none());
        assert!(override_path_problem("/tmp/Stop Override-1.txt", Some("linux")).is_none());
        let e = errors(&GOOD.replace("/tmp/StopOverride", "'/tmp/x; rm -rf /'"));
        assert!(e.iter().any(|m| m.contains("contains `;`")), "{e:?}");
    }

    #[test]
    fn instance_types_regions_and_ids() {
        for ok in [
            "t2.nano",
            "c5.large",
            "m7i-flex.large",
            "u-6tb1.metal",
            "r5.2xlarge",
        ] {
            assert!(is_instance_type(ok), "{ok}");
        }
        for bad in ["t2", "T2.nano", ".nano", "t2.", "t2 nano"] {
            assert!(!is_instance_type(bad), "{bad}");
        }
        for ok in ["us-west-2", "us-gov-west-1", "ap-southeast-5", "cn-north-1"] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in ["us-west", "uswest2", "US-WEST-2", "us-west-two"] {
            assert!(!is_region(bad), "{bad}");
        }
        let e = errors(
            &GOOD
                .replace("us-west-2", "mars-1")
                .replace("vpc-0123abcd", "vpc-xyz"),
        );
        assert!(
            e.iter()
                .any(|m| m.contains("does not look like an AWS region")),
            "{e:?}"
        );
        assert!(
            e.iter().any(|m| m.contains("does not look like a VPC id")),
            "{e:?}"
        );
        let e = errors(&GOOD.replace(
            "start: { sequence: 1 }",
            "start: { sequence: 1 }\n    scaling: { default: t2nano }",
        ));
        assert!(
            e.iter()
                .any(|m| m.contains("`t2nano` does not look like an EC2 instance type")),
            "{e:?}"
        );
    }

    #[test]
    fn tag_limits() {
        let e = errors(&GOOD.replace("key: Environment", "key: 'aws:env'"));
        assert!(
            e.iter().any(|m| m.contains("reserved `aws:` prefix")),
            "{e:?}"
        );
        let long = "x".repeat(257);
        let e = errors(&GOOD.replace("value: ENV001", &format!("value: {long}")));
        assert!(
            e.iter().any(|m| m.contains("selector.workloadTag.value")),
            "{e:?}"
        );
    }

    #[test]
    fn delays_are_bounded() {
        let e = errors(&GOOD.replace(
            "start: { sequence: 1 }",
            "start: { sequence: 1, delaySeconds: 3601 }",
        ));
        assert!(
            e.iter()
                .any(|m| m.contains("tiers[0].start.delaySeconds") && m.contains("maximum")),
            "{e:?}"
        );
        let e = errors(&format!("{GOOD}scaleInstanceDelaySeconds: 601\n"));
        assert!(
            e.iter().any(|m| m.contains("scaleInstanceDelaySeconds")),
            "{e:?}"
        );
    }

    #[test]
    fn warnings_for_risky_specs() {
        let text = GOOD
            .replace("  vpcId: vpc-0123abcd\n", "")
            .replace(", override: { file: /tmp/StopOverride, os: linux }", "")
            .replace("    start: { sequence: 1 }\n", "");
        let c = check(&text);
        assert_eq!(c.errors(), 0, "{:?}", c.diagnostics);
        let w: Vec<_> = c.diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert!(w.iter().any(|m| m.contains("no `vpcId`")), "{w:?}");
        assert!(
            w.iter().any(|m| m.contains("no tier has `stop.override`")),
            "{w:?}"
        );
        assert!(w.iter().any(|m| m.contains("no `start` block")), "{w:?}");
    }

    #[test]
    fn asg_tiers_and_scaling_profiles() {
        let asg_only = GOOD.replacen(
            "    start: { sequence: 1 }\n",
            "    start: { sequence: 1 }\n    members: [asg]\n    scaling: { big: t3.large }\n",
            1,
        );
        let e = errors(&asg_only);
        assert!(
            e.iter()
                .any(|m| m
                    .contains("resize EC2 instances only, and this tier holds no `ec2` members")),
            "{e:?}"
        );
        let mixed = asg_only.replace("members: [asg]", "members: [ec2, asg]");
        let c = check(&mixed);
        assert_eq!(c.errors(), 0, "{:?}", c.diagnostics);
        assert!(
            c.diagnostics
                .iter()
                .any(|d| d.message.contains("not its Auto Scaling groups"))
        );
        assert!(
            c.diagnostics
                .iter()
                .any(|d| d.message.contains("tierctl:keep-running=true"))
        );
    }

    #[test]
    fn three_mistakes_three_errors() {
        let text = GOOD
            .replace(
                "    start: { sequence: 1 }",
                "    start: { sequence: 1 }\n    stpo: {}",
            )
            .replace("stop: { sequence: 0,", "stop: { sequence: -1,")
            .replace("/tmp/StopOverride", "'/tmp/x; rm -rf /'");
        let e = errors(&text);
        assert_eq!(e.len(), 3, "{e:?}");
    }

    fn typed() -> Workload {
        check(GOOD).workloads.remove(0).1
    }

    fn typed_errors(w: &Workload) -> Vec<String> {
        check_workload(w, "WorkloadSpecification item wl")
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| format!("{}: {}", d.path, d.message))
            .collect()
    }

    #[test]
    fn typed_model_gets_the_same_rules() {
        let good = typed();
        assert!(typed_errors(&good).is_empty());
        let mut w = good.clone();
        w.tiers[0].stop.as_mut().unwrap().delay_seconds = u32::MAX;
        let e = typed_errors(&w);
        assert!(
            e.iter()
                .any(|m| m.starts_with("tiers[0].stop.delaySeconds") && m.contains("maximum")),
            "{e:?}"
        );
        let mut w = good.clone();
        w.tiers[0]
            .stop
            .as_mut()
            .unwrap()
            .override_file
            .as_mut()
            .unwrap()
            .file = "tmp/keep".into();
        let e = typed_errors(&w);
        assert!(e.iter().any(|m| m.contains("absolute Linux")), "{e:?}");
        let mut w = good.clone();
        w.name = "../x".into();
        let e = typed_errors(&w);
        assert!(
            e.iter().any(|m| m.starts_with("name: workload name")),
            "{e:?}"
        );
        let mut w = good.clone();
        w.tiers[0].name = "we\u{1b}[2Jb".into();
        w.selector.workload_tag.value = "a\u{7}".into();
        let e = typed_errors(&w);
        assert!(
            e.iter()
                .any(|m| m.starts_with("tiers[0].name") && m.contains("U+001B")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|m| m.starts_with("selector.workloadTag.value") && m.contains("U+0007")),
            "{e:?}"
        );
        // No file-name rule for items: the name is the key.
        let mut w = good;
        w.name = "Other".into();
        assert!(typed_errors(&w).is_empty());
    }

    #[test]
    fn legacy_bucket_names_warn_and_strict_refuses() {
        let text = format!("{GOOD}ssm: {{ outputBucket: myBucketName }}\n");
        let mut c = check(&text);
        assert_eq!(c.errors(), 0, "{:?}", c.diagnostics);
        assert!(
            c.diagnostics
                .iter()
                .any(|d| d.severity == Severity::Warning
                    && d.message.contains("legacy S3 bucket name")),
            "{:?}",
            c.diagnostics
        );
        c.strict();
        assert!(c.errors() > 0);
        assert!(c.workloads.is_empty());
        let e = errors(&format!("{GOOD}ssm: {{ outputBucket: 'my bucket' }}\n"));
        assert!(
            e.iter().any(|m| m.contains("not a valid S3 bucket name")),
            "{e:?}"
        );
    }

    #[test]
    fn wrong_types_are_named() {
        let e = errors(&GOOD.replace("stop: { sequence: 0,", "stop: { sequence: first,"));
        assert!(
            e.iter()
                .any(|m| m.contains("tiers[0].stop.sequence") && m.contains("integer")),
            "{e:?}"
        );
    }

    fn with_schedule(schedule: &str) -> String {
        format!(
            "{}  - name: Db\n    stop: {{ sequence: 1 }}\n    start: {{ sequence: 0 }}\n    scaling: {{ performant: m5.large }}\nschedule:\n{schedule}",
            GOOD.trim_start()
        )
    }

    fn all(text: &str) -> Vec<String> {
        check(text)
            .diagnostics
            .into_iter()
            .filter(|d| d.path.starts_with("schedule"))
            .map(|d| {
                format!(
                    "{:?} {}:{} {}: {}",
                    d.severity, d.line, d.column, d.path, d.message
                )
            })
            .collect()
    }

    #[test]
    fn a_good_schedule_is_valid() {
        let c = check(&with_schedule(
            "  timezone: Europe/Berlin\n  stop: { cron: \"0 19 ? * MON-FRI *\" }\n  start: { cron: \"0 7 ? * MON-FRI *\", profile: performant }\n",
        ));
        assert_eq!(c.errors(), 0, "{:?}", c.diagnostics);
        assert!(
            all(&with_schedule(
                "  timezone: UTC\n  stop: { cron: \"0 19 * * ? *\" }\n"
            ))
            .is_empty()
        );
        let (_, w) = &c.workloads[0];
        assert_eq!(w.schedule.as_ref().unwrap().timezone, "Europe/Berlin");
    }

    #[test]
    fn schedule_errors_name_the_field_and_position() {
        let text = with_schedule(
            "  timezone: Europe/Berlinn\n  stop: { cron: \"cron(0 19 ? * MON-FRI *)\" }\n  start: { cron: \"0 7 * * MON-FRI *\", profile: fast }\n",
        );
        let got = all(&text);
        assert_eq!(
            got,
            [
                "Error 16:13 schedule.timezone: `Europe/Berlinn` is not an IANA time zone name (e.g. `Europe/Berlin`, `America/New_York`, `UTC`)",
                "Error 17:17 schedule.stop.cron: write the six fields without `cron(...)`: `0 19 ? * MON-FRI *` (tierctl adds `cron(...)` when it writes the schedule to AWS)",
                "Error 18:18 schedule.start.cron: day-of-month `*` and day-of-week `MON-FRI`: exactly one of them must be `?` (AWS does not combine them), e.g. `0 19 ? * MON-FRI *` or `0 19 1 * ? *`",
                "Error 18:48 schedule.start.profile: `fast` is not a scaling profile of any tier; the tiers' profiles are `performant`",
            ],
            "{text}"
        );
        let rate = all(&with_schedule(
            "  timezone: UTC\n  stop: { cron: \"rate(12 hours)\" }\n",
        ));
        assert!(
            rate[0].contains("schedule.stop.cron: `rate(...)` expressions are not supported"),
            "{rate:?}"
        );
        let field = all(&with_schedule(
            "  timezone: UTC\n  stop: { cron: \"0 25 ? * MON *\" }\n",
        ));
        assert!(
            field[0].ends_with("schedule.stop.cron: hours (2nd field) `25`: 25 is outside 0-23"),
            "{field:?}"
        );
    }

    #[test]
    fn schedule_that_never_fires_again_is_an_error() {
        let got = all(&with_schedule(
            "  timezone: UTC\n  stop: { cron: \"0 19 * * ? 2020\" }\n  start: { cron: \"0 7 * * ? *\" }\n",
        ));
        assert_eq!(
            got,
            [
                "Error 17:17 schedule.stop.cron: the stop expression never fires again (its last run is in the past, or no date matches it)"
            ]
        );
    }

    #[test]
    fn schedule_warnings_out_of_order_and_same_minute() {
        let got = all(&with_schedule(
            "  timezone: Europe/Berlin\n  stop: { cron: \"0 19 * * ? *\" }\n  start: { cron: \"0 7 ? * MON-FRI *\" }\n",
        ));
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(
            got[0].starts_with(
                "Warning 17:3 schedule.stop: two stops in a row without a start between: "
            ),
            "{got:?}"
        );
        let got = all(&with_schedule(
            "  timezone: UTC\n  stop: { cron: \"0 7 ? * MON-FRI *\" }\n  start: { cron: \"0 7 ? * MON-FRI *\" }\n",
        ));
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(
            got[0].starts_with(
                "Warning 15:1 schedule: stop and start fire in the same minute, first on "
            ),
            "{got:?}"
        );
        // --strict makes them errors.
        let mut c = check(&with_schedule(
            "  timezone: UTC\n  stop: { cron: \"0 7 ? * MON-FRI *\" }\n  start: { cron: \"0 7 ? * MON-FRI *\" }\n",
        ));
        c.strict();
        assert!(c.errors() > 0 && c.workloads.is_empty());
    }
}
