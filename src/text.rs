//! Text that tierctl did not validate (EC2 `Name` tags, guest output, AWS
//! error messages, values read from hand-edited items) made safe before it
//! reaches a terminal, a Markdown pull request comment or an SNS message.
//! Pure functions, no I/O.
//!
//! - [`plain`]: control characters (ESC, BEL, newlines, C1) and invisible
//!   formatting characters (bidirectional overrides, zero-width) become
//!   visible escapes (`\u{1b}`), so nothing can move the cursor, recolour
//!   the terminal, start a new line or make a name read as another.
//! - [`code`]: an inline Markdown code span that the text cannot leave: a
//!   backtick in a name does not end it and a newline cannot start a fence.
//! - [`cell`]: text for a Markdown table cell (plain, `|` escaped).

use std::borrow::Cow;

/// Whether `c` must not reach a terminal or a document as is.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// `s` with every unsafe character written as a `\u{..}` escape (`\n`, `\t`, `\r` as such).
pub fn plain(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Multi-line text (guest output, long error messages) with every line kept
/// but every other unsafe character escaped.
pub fn lines(s: &str) -> String {
    s.split('\n')
        .map(|l| plain(l.strip_suffix('\r').unwrap_or(l)).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `s` in double quotes, escaped.
pub fn quoted(s: &str) -> String {
    format!("\"{}\"", plain(s).replace('"', "\\\""))
}

/// An inline Markdown code span holding `s` literally: delimited by one
/// backtick more than the longest run of backticks inside, padded with a
/// space when `s` starts or ends with a backtick (CommonMark 6.1).
pub fn code(s: &str) -> String {
    let s = plain(s);
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// Text for a Markdown table cell: plain, `|` escaped, HTML tags defused.
pub fn cell(s: &str) -> String {
    plain(s)
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A line inside a fenced Markdown block (```` ```text ````): plain, and
/// never a line that could close the fence.
pub fn in_fence(s: &str) -> String {
    lines(s)
        .split('\n')
        .map(|l| {
            if l.trim_start().starts_with("```") || l.trim_start().starts_with("~~~") {
                format!("\u{200B}{l}").replace('\u{200B}', "\\u{200b}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_invisible_characters_are_escaped() {
        assert_eq!(plain("web-1"), "web-1");
        assert!(matches!(plain("web-1"), Cow::Borrowed(_)));
        assert_eq!(plain("a\u{1b}[2Jb\u{7}"), "a\\u{1b}[2Jb\\u{7}");
        assert_eq!(plain("x\ny"), "x\\ny");
        assert_eq!(plain("evil\u{202e}txt"), "evil\\u{202e}txt");
        assert_eq!(plain("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(lines("one\ntwo\u{1b}"), "one\ntwo\\u{1b}");
        assert_eq!(quoted("a\"b"), "\"a\\\"b\"");
    }

    #[test]
    fn code_spans_cannot_be_left() {
        assert_eq!(code("web"), "`web`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
        assert_eq!(code("a``b`"), "``` a``b` ```");
        assert_eq!(
            code("x\n```\n# hi"),
            "`x\\n```\\n# hi`"
                .replace("`x", "````x")
                .replace("hi`", "hi````")
        );
        assert!(!code("x\ny").contains('\n'));
    }

    #[test]
    fn cells_and_fences() {
        assert_eq!(cell("a|b<script>"), "a\\|b&lt;script&gt;");
        assert_eq!(in_fence("ok\n```\nx"), "ok\n\\u{200b}```\nx");
    }
}
