//! How results reach people and programs: output formats, colour decisions,
//! and rendering of validation diagnostics.

use std::io::IsTerminal;

use crate::validate::{Checked, Diagnostic, Severity};
use owo_colors::OwoColorize;

/// Output format chosen with `-o/--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable text (the default).
    Text,
    /// Machine-readable JSON, with a `version` field.
    Json,
    /// GitHub Actions workflow commands (annotations).
    Github,
    /// Markdown, for pull request comments and step summaries.
    Markdown,
}

/// When to use colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Whether to colour stdout, given the choice and the environment.
pub fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var("TERM").map_or(true, |t| t != "dumb")
                && std::io::stdout().is_terminal()
        }
    }
}

/// Version of every JSON document tierctl prints; bumped on incompatible change.
pub const JSON_VERSION: u32 = 1;

/// Renders the result of `validate` in `format`.
pub fn render_checked(checked: &Checked, format: Format, color: bool) -> String {
    match format {
        Format::Json => {
            let doc = crate::json::ValidateOutput {
                version: crate::json::VERSION,
                valid: checked.errors() == 0,
                files: checked
                    .files
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect(),
                errors: checked.errors(),
                warnings: checked.warnings(),
                diagnostics: &checked.diagnostics,
            };
            let mut s = serde_json::to_string_pretty(&doc).expect("serialisable");
            s.push('\n');
            s
        }
        Format::Github => {
            let mut out = String::new();
            for d in &checked.diagnostics {
                out.push_str(&github_annotation(d));
                out.push('\n');
            }
            out.push_str(&summary_line(checked));
            out.push('\n');
            out
        }
        Format::Text | Format::Markdown => {
            let mut out = String::new();
            for d in &checked.diagnostics {
                out.push_str(&text_diagnostic(d, color));
                out.push('\n');
            }
            out.push_str(&summary_line(checked));
            out.push('\n');
            out
        }
    }
}

fn location(d: &Diagnostic) -> String {
    if d.line == 0 {
        d.file.clone()
    } else {
        format!("{}:{}:{}", d.file, d.line, d.column)
    }
}

fn text_diagnostic(d: &Diagnostic, color: bool) -> String {
    let label = match (d.severity, color) {
        (Severity::Error, true) => "error".red().bold().to_string(),
        (Severity::Warning, true) => "warning".yellow().bold().to_string(),
        (Severity::Error, false) => "error".into(),
        (Severity::Warning, false) => "warning".into(),
    };
    let path = if d.path.is_empty() {
        String::new()
    } else {
        format!("{}: ", crate::text::plain(&d.path))
    };
    // Values quoted in messages come from the file: never raw control characters on a terminal.
    format!(
        "{}: {label}: {path}{}",
        crate::text::plain(&location(d)),
        crate::text::plain(&d.message)
    )
}

fn summary_line(c: &Checked) -> String {
    let files = c.files.len();
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    if c.errors() == 0 {
        format!(
            "{} valid, {}",
            plural(files, "file"),
            plural(c.warnings(), "warning")
        )
    } else {
        format!(
            "{} checked: {}, {}",
            plural(files, "file"),
            plural(c.errors(), "error"),
            plural(c.warnings(), "warning")
        )
    }
}

/// Escapes data for a GitHub workflow command.
fn gh_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value for a GitHub workflow command.
fn gh_property(s: &str) -> String {
    gh_data(s).replace(':', "%3A").replace(',', "%2C")
}

fn github_annotation(d: &Diagnostic) -> String {
    let level = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut props = format!("file={}", gh_property(&d.file));
    if d.line > 0 {
        props.push_str(&format!(",line={},col={}", d.line, d.column));
    }
    props.push_str(",title=tierctl validate");
    let path = if d.path.is_empty() {
        String::new()
    } else {
        format!("{}: ", d.path)
    };
    format!(
        "::{level} {props}::{}",
        gh_data(&format!("{path}{}", d.message))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_escaping() {
        let d = Diagnostic {
            file: "w/a,b.yaml".into(),
            line: 3,
            column: 5,
            severity: Severity::Error,
            path: "tiers[0]".into(),
            message: "100% bad\nnext".into(),
        };
        assert_eq!(
            github_annotation(&d),
            "::error file=w/a%2Cb.yaml,line=3,col=5,title=tierctl validate::tiers[0]: 100%25 bad%0Anext"
        );
    }
}
