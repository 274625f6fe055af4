//! Writing YAML: the inverse of [`crate::load::parse_yaml`], deterministic and
//! meant to be read by people (block style, 2-space indent, keys in the
//! value's order, quotes only where needed).
//!
//! Whatever [`to_yaml`] writes, `load::parse_yaml` reads back as the same
//! value; the property test at the bottom checks this for arbitrary data.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::spec::Workload;

/// The first line of every workload file tierctl writes: editors pick up the schema from it.
pub const SCHEMA_COMMENT: &str = "# yaml-language-server: $schema=../schema/workload.schema.json\n";

/// Implicit (`key: value`) keys must fit in 1024 characters; longer ones use `? key`.
const MAX_IMPLICIT_KEY_CHARS: usize = 1000;

/// Renders a JSON value as block-style YAML that `load::parse_yaml` reads back unchanged.
pub fn to_yaml(value: &Value) -> String {
    let mut e = Emitter {
        out: String::new(),
        gap_top_level_items: false,
    };
    e.block(value, 0, true);
    e.out
}

/// Renders a workload as the file tierctl would write: schema comment, then the spec.
pub fn workload_yaml(w: &Workload) -> String {
    // Infallible: the spec types only have string keys and no custom serialisers.
    let value = serde_json::to_value(w).expect("a Workload always serialises to JSON");
    let mut e = Emitter {
        out: String::from(SCHEMA_COMMENT),
        gap_top_level_items: true,
    };
    e.block(&value, 0, true);
    e.out
}

struct Emitter {
    out: String,
    /// Put a blank line between the items of lists under top-level keys
    /// (the tiers of a workload), as people write them by hand.
    gap_top_level_items: bool,
}

impl Emitter {
    fn pad(&mut self, indent: usize) {
        self.out.extend(std::iter::repeat_n(' ', indent));
    }

    /// Writes `value` starting at the current position; its later lines start at `indent`.
    fn block(&mut self, value: &Value, indent: usize, top: bool) {
        match value {
            Value::Object(map) if !map.is_empty() => self.mapping(map, indent, top),
            Value::Array(items) if !items.is_empty() => self.sequence(items, indent, false),
            scalar => {
                self.out.push_str(&scalar_text(scalar));
                self.out.push('\n');
            }
        }
    }

    fn mapping(&mut self, map: &Map<String, Value>, indent: usize, top: bool) {
        for (i, (key, value)) in map.iter().enumerate() {
            if i > 0 {
                self.pad(indent);
            }
            let key_text = key_text(key);
            if key_text.chars().count() > MAX_IMPLICIT_KEY_CHARS {
                self.out.push_str("? ");
                self.out.push_str(&key_text);
                self.out.push('\n');
                self.pad(indent);
                self.out.push(':');
            } else {
                self.out.push_str(&key_text);
                self.out.push(':');
            }
            match value {
                Value::Object(inner) if !inner.is_empty() => {
                    self.out.push('\n');
                    self.pad(indent + 2);
                    self.mapping(inner, indent + 2, false);
                }
                Value::Array(items) if !items.is_empty() => {
                    self.out.push('\n');
                    self.pad(indent + 2);
                    let gap = top && self.gap_top_level_items;
                    self.sequence(items, indent + 2, gap);
                }
                scalar => {
                    self.out.push(' ');
                    self.out.push_str(&scalar_text(scalar));
                    self.out.push('\n');
                }
            }
        }
    }

    fn sequence(&mut self, items: &[Value], indent: usize, gap: bool) {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                if gap {
                    self.out.push('\n');
                }
                self.pad(indent);
            }
            self.out.push_str("- ");
            self.block(item, indent + 2, false);
        }
    }
}

/// A scalar, or `{}` / `[]` for an empty collection.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string_text(s, false),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

fn key_text(key: &str) -> String {
    string_text(key, true)
}

/// A string as plain, single-quoted or (only with unprintable characters) double-quoted scalar.
fn string_text(s: &str, is_key: bool) -> String {
    if s.chars().any(needs_escape) {
        double_quoted(s)
    } else if is_plain_safe(s) && !(is_key && s == "<<") {
        // `<<` as a plain key would be a merge key, which load refuses.
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

/// Characters that only a double-quoted scalar can hold: controls, line
/// breaks (including the YAML 1.1 ones), the BOM and non-characters.
fn needs_escape(c: char) -> bool {
    matches!(c,
        '\0'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}')
}

fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if needs_escape(c) => {
                let code = u32::from(c);
                // Writing to a String cannot fail.
                let _ = if code <= 0xff {
                    write!(out, "\\x{code:02x}")
                } else {
                    write!(out, "\\u{code:04x}")
                };
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether `s` can be written unquoted and still read back as this string.
///
/// Deliberately a little stricter than load's resolver: anything another
/// YAML reader might take for a number, boolean, null or date is quoted too,
/// so files stay unambiguous for editors and linters.
fn is_plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if s.starts_with([' ', '\t'])
        || s.ends_with([' ', '\t'])
        || "-?:,[]{}#&*!|>'\"%@`".contains(first)
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.starts_with("...")
    {
        return false;
    }
    !looks_like_non_string(s)
}

/// Null, booleans (YAML 1.2 and 1.1 spellings), numbers in any notation, and dates.
fn looks_like_non_string(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "~" | "null" | "true" | "false" | "yes" | "no" | "on" | "off"
    ) {
        return true;
    }
    let unsigned = lower.trim_start_matches(['+', '-']);
    if matches!(unsigned, ".inf" | ".nan") {
        return true;
    }
    // Hexadecimal / octal / binary integers.
    if let Some(rest) = unsigned
        .strip_prefix("0x")
        .or_else(|| unsigned.strip_prefix("0o"))
        .or_else(|| unsigned.strip_prefix("0b"))
        && !rest.is_empty()
        && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return true;
    }
    // Decimal integers, floats, exponents, `1_000`, dates like `2024-01-31`.
    unsigned.chars().any(|c| c.is_ascii_digit())
        && unsigned
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-' | '_' | ':'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::parse_yaml;
    use proptest::prelude::*;
    use serde_json::json;

    fn round_trip(v: &Value) -> Value {
        let text = to_yaml(v);
        match parse_yaml(&text) {
            Ok(doc) => doc.value,
            Err((pos, msg)) => panic!("{pos}: {msg}\n---\n{text}"),
        }
    }

    #[test]
    fn block_layout() {
        let v = json!({
            "a": 1,
            "b": {"c": "x", "d": [1, 2]},
            "e": [{"f": true, "g": null}, [], {}, ["h", ["i"]]],
            "j": {},
            "k": [],
        });
        let expected = "\
a: 1
b:
  c: x
  d:
    - 1
    - 2
e:
  - f: true
    g: null
  - []
  - {}
  - - h
    - - i
j: {}
k: []
";
        assert_eq!(to_yaml(&v), expected);
        assert_eq!(round_trip(&v), v);
        assert_eq!(to_yaml(&json!("x")), "x\n");
        assert_eq!(to_yaml(&json!({})), "{}\n");
        assert_eq!(
            to_yaml(&json!([{"a": {"b": 1}, "c": 2}])),
            "- a:\n    b: 1\n  c: 2\n"
        );
    }

    #[test]
    fn quoting() {
        let cases = [
            ("plain", "plain"),
            ("t2.nano", "t2.nano"),
            ("vpc-0123abcd", "vpc-0123abcd"),
            (r"C:\ignore.txt", r"C:\ignore.txt"),
            ("/tmp/StopOverride", "/tmp/StopOverride"),
            ("a#b", "a#b"),
            ("a:b", "a:b"),
            ("it's", "it's"),
            ("null", "'null'"),
            ("~", "'~'"),
            ("true", "'true'"),
            ("True", "'True'"),
            ("yes", "'yes'"),
            ("1", "'1'"),
            ("-3", "'-3'"),
            ("0x1f", "'0x1f'"),
            ("1e3", "'1e3'"),
            (".5", "'.5'"),
            (".inf", "'.inf'"),
            ("2024-01-31", "'2024-01-31'"),
            ("", "''"),
            (" lead", "' lead'"),
            ("trail ", "'trail '"),
            ("- item", "'- item'"),
            ("a: b", "'a: b'"),
            ("a #b", "'a #b'"),
            ("key:", "'key:'"),
            ("'q'", "'''q'''"),
            ("&anchor", "'&anchor'"),
            ("*alias", "'*alias'"),
            ("!tag", "'!tag'"),
            ("%x", "'%x'"),
            ("@x", "'@x'"),
            ("`x", "'`x'"),
            ("...", "'...'"),
            ("a\nb", "\"a\\nb\""),
            ("tab\there", "\"tab\\there\""),
            ("C:\\x\n", "\"C:\\\\x\\n\""),
            (
                "\u{7f}\u{85}\u{2028}\u{feff}",
                "\"\\x7f\\x85\\u2028\\ufeff\"",
            ),
            ("ünïcødé ✓ 日本", "ünïcødé ✓ 日本"),
        ];
        for (input, written) in cases {
            assert_eq!(to_yaml(&json!(input)), format!("{written}\n"), "{input:?}");
            let v = json!({ input: input });
            assert_eq!(round_trip(&v), v, "{input:?}");
        }
    }

    #[test]
    fn merge_key_and_long_keys_are_quoted_or_explicit() {
        let v = json!({"<<": "<<"});
        assert_eq!(to_yaml(&v), "'<<': <<\n");
        assert_eq!(round_trip(&v), v);
        let long = "k".repeat(2000);
        let v = json!([{ long.clone(): {"a": 1}, "b": [long.clone()] }]);
        assert!(to_yaml(&v).starts_with("- ? kkk"));
        // The loader refuses keys that long (memory bound); the writer still writes valid YAML.
        assert!(
            parse_yaml(&to_yaml(&v))
                .unwrap_err()
                .1
                .contains("key longer than")
        );
    }

    #[test]
    fn botocase1_is_clean_readable_yaml() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/BotoTestCase1.yaml");
        let text = std::fs::read_to_string(path).expect("example exists");
        let doc = parse_yaml(&text).expect("example parses");
        let w: Workload = serde_json::from_value(doc.value).expect("example is a workload");
        let expected = "\
# yaml-language-server: $schema=../schema/workload.schema.json
name: BotoTestCase1
region: us-west-2
selector:
  workloadTag:
    key: Environment
    value: ENV001
  tierTagKey: Role
  vpcId: vpc-0123abcd
notify:
  snsTopic: SchedulerTesting
ssm:
  outputBucket: my-ssm-output
  outputKeyPrefix: ssmRemoteCommandResults
scaleInstanceDelaySeconds: 4
tiers:
  - name: Role_Web
    stop:
      sequence: 0
      delaySeconds: 10
      override:
        file: /tmp/StopOverride
        os: linux
    start:
      sequence: 2
      delaySeconds: 5
    scaling:
      default: t2.nano
      performant: c5.large

  - name: Role_App
    stop:
      sequence: 1
      synchronous: true
      delaySeconds: 5
      override:
        file: /tmp/StopOverride
        os: linux
    start:
      sequence: 1
      synchronous: true
      delaySeconds: 5
    scaling:
      default: t2.micro
      performant: c5.xlarge

  - name: Role_DB
    stop:
      sequence: 2
      synchronous: true
      delaySeconds: 5
    start:
      sequence: 0
      synchronous: true
      delaySeconds: 10
    scaling:
      default: t3.small
      performant: r5.2xlarge
";
        let written = workload_yaml(&w);
        assert_eq!(written, expected);
        let back = parse_yaml(&written).expect("written file parses");
        let again: Workload = serde_json::from_value(back.value).expect("still a workload");
        assert_eq!(again, w);
    }

    #[test]
    fn windows_override_path_stays_readable() {
        let v = json!({"override": {"file": r"C:\ignore.txt", "os": "windows"}});
        assert_eq!(
            to_yaml(&v),
            "override:\n  file: C:\\ignore.txt\n  os: windows\n"
        );
        let v = json!({"file": r"C:\Program Files\x: y"});
        assert_eq!(to_yaml(&v), "file: 'C:\\Program Files\\x: y'\n");
        assert_eq!(round_trip(&v), v);
    }

    /// Strings built to hit the quoting rules: indicators, spaces, breaks, YAML words, unicode.
    fn tricky_string() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("-".to_string()),
            Just("? ".to_string()),
            Just(": ".to_string()),
            Just(":".to_string()),
            Just(" #".to_string()),
            Just("#".to_string()),
            Just("'".to_string()),
            Just("\"".to_string()),
            Just("\\".to_string()),
            Just(" ".to_string()),
            Just("\t".to_string()),
            Just("\n".to_string()),
            Just("\r\n".to_string()),
            Just("---".to_string()),
            Just("...".to_string()),
            Just("<<".to_string()),
            Just("null".to_string()),
            Just("True".to_string()),
            Just("0x1f".to_string()),
            Just("1e3".to_string()),
            Just(".5".to_string()),
            Just("~".to_string()),
            Just("[]{},".to_string()),
            Just("&*!|>%@`".to_string()),
            Just("\u{85}\u{a0}\u{2028}\u{feff}".to_string()),
            "[0-9]{1,3}",
            "[a-zA-Z]{1,4}",
            "\\PC{1,3}",
            any::<char>().prop_map(String::from),
        ];
        proptest::collection::vec(piece, 0..5).prop_map(|parts| parts.concat())
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            tricky_string().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::vec((tricky_string(), inner), 0..5)
                    .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn parse_reads_back_what_render_writes(v in json_value()) {
            let text = to_yaml(&v);
            let back = parse_yaml(&text).map_err(|(pos, msg)| {
                TestCaseError::fail(format!("{pos}: {msg}\n---\n{text}"))
            })?;
            prop_assert_eq!(back.value, v, "{}", text);
        }

        #[test]
        fn any_string_round_trips(s in any::<String>()) {
            let v = json!({ s.clone(): s });
            let text = to_yaml(&v);
            let back = parse_yaml(&text).map_err(|(pos, msg)| {
                TestCaseError::fail(format!("{pos}: {msg}\n---\n{text}"))
            })?;
            prop_assert_eq!(back.value, v, "{}", text);
        }
    }
}
