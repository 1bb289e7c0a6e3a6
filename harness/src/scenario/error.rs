//! Scenario errors: where in the file the problem is, what is wrong, and the offending source line.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A scenario file that could not be read, parsed or validated.
///
/// `line` and `column` are 1-based and point at the offending value (or key, for unknown keys). Both
/// are 0 when the error has no place in the file, for example when the file cannot be read at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// The text of the offending line without its line ending, empty when the error is not located.
    pub source_line: String,
    /// How many characters of `source_line` the caret line underlines, starting at `column`.
    pub highlight_len: usize,
}

impl ScenarioError {
    /// An error about the file as a whole, such as an I/O failure.
    pub(crate) fn unlocated(file: &Path, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            file: file.to_path_buf(),
            line: 0,
            column: 0,
            message: message.into(),
            source_line: String::new(),
            highlight_len: 0,
        }
    }

    /// An error at the byte range `span` of `text`. Out-of-range or mid-character offsets are clamped,
    /// because spans come from a parser and a wrong offset must still give a usable message.
    pub(crate) fn at(
        file: &Path,
        text: &str,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> ScenarioError {
        let start = floor_char_boundary(text, span.start);
        let end = floor_char_boundary(text, span.end.max(start));
        let line_start =
            text.get(..start).and_then(|before| before.rfind('\n')).map_or(0, |newline| newline + 1);
        let line_end =
            text.get(start..).and_then(|after| after.find('\n')).map_or(text.len(), |offset| start + offset);
        let before_on_line = text.get(line_start..start).unwrap_or("");
        // A byte order mark is invisible in every editor, so it must not shift the column.
        let column = before_on_line.chars().filter(|&c| c != '\u{feff}').count() + 1;
        let line = text.get(..start).map_or(0, |before| before.matches('\n').count()) + 1;
        let source_line = text.get(line_start..line_end).unwrap_or("").trim_end_matches('\r');
        let source_line = source_line.strip_prefix('\u{feff}').unwrap_or(source_line);
        let highlight_end = end.min(line_end);
        let highlight_len =
            text.get(start..highlight_end).map_or(0, |covered| covered.chars().count()).max(1);
        ScenarioError {
            file: file.to_path_buf(),
            line,
            column,
            message: message.into(),
            source_line: source_line.to_string(),
            highlight_len,
        }
    }

    /// Whether the error points at a place in the file.
    pub fn is_located(&self) -> bool {
        self.line > 0
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.is_located() {
            return write!(f, "{}: {}", self.file.display(), self.message);
        }
        writeln!(f, "{}:{}:{}: {}", self.file.display(), self.line, self.column, self.message)?;
        let number = self.line.to_string();
        let gutter = " ".repeat(number.len());
        // Tabs before the column are kept in the caret line so the carets line up in any terminal.
        let indent: String = self
            .source_line
            .chars()
            .take(self.column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        writeln!(f, "{gutter} |")?;
        writeln!(f, "{number} | {}", self.source_line)?;
        write!(f, "{gutter} | {indent}{}", "^".repeat(self.highlight_len.max(1)))
    }
}

impl std::error::Error for ScenarioError {}

fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Rewrites a TOML/serde message into the vocabulary of scenario files: keys rather than fields,
/// values rather than variants, and the table the key belongs to.
pub(crate) fn describe_toml_error(error: &toml::de::Error, text: &str) -> String {
    let raw = error.message().trim().replace('\n', "; ");
    let offset = error.span().map_or(0, |span| span.start);
    if let Some(rest) = raw.strip_prefix("unknown field ") {
        let (key, allowed) = split_expectation(rest);
        let table = describe_table(text, offset);
        return match allowed {
            Some(allowed) => format!("unknown key {key} {table}; allowed keys are {allowed}"),
            None => format!("unknown key {key} {table}; this table takes no keys"),
        };
    }
    if let Some(key) = raw.strip_prefix("missing field ") {
        return format!("missing required key {key} {}", describe_table(text, offset));
    }
    if let Some(rest) = raw.strip_prefix("unknown variant ") {
        let (value, allowed) = split_expectation(rest);
        return match allowed {
            Some(allowed) => format!("unknown value {value}; expected one of {allowed}"),
            None => format!("unknown value {value}"),
        };
    }
    friendly_type_names(&raw)
}

/// Splits "`x`, expected one of `a`, `b`" into ("`x`", "`a`, `b`"), and "`x`, expected `a`" into
/// ("`x`", "`a`"); serde words the two cases differently.
fn split_expectation(rest: &str) -> (&str, Option<String>) {
    match rest.split_once(", ") {
        Some((subject, expectation)) => {
            let allowed = expectation
                .strip_prefix("expected one of ")
                .or_else(|| expectation.strip_prefix("expected "))
                .map(|list| list.replace(" or ", ", "));
            (subject, allowed)
        }
        None => (rest, None),
    }
}

/// Serde names Rust types in its messages; scenario authors think in TOML values.
fn friendly_type_names(message: &str) -> String {
    let mut message = message.to_string();
    for (rust, toml) in [
        ("expected u8", "expected a non-negative integer"),
        ("expected u16", "expected a non-negative integer"),
        ("expected u32", "expected a non-negative integer"),
        ("expected u64", "expected a non-negative integer"),
        ("expected usize", "expected a non-negative integer"),
        ("expected i64", "expected an integer"),
        ("expected f64", "expected a number"),
    ] {
        if let Some(stem) = message.strip_suffix(rust) {
            message = format!("{stem}{toml}");
        }
    }
    message
}

/// Names the table that holds the key at `offset`, e.g. "in [cluster]", "in [[fault]]" or "at the
/// top level". This is a best effort from the text: it follows table headers, dotted keys and one
/// level of inline table, which covers how scenario files are written.
fn describe_table(text: &str, offset: usize) -> String {
    let offset = floor_char_boundary(text, offset);
    let before = text.get(..offset).unwrap_or("");
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let on_line = before.get(line_start..).unwrap_or("");
    let line_end =
        text.get(offset..).and_then(|after| after.find('\n')).map_or(text.len(), |end| offset + end);
    let whole_line = text.get(line_start..line_end).unwrap_or("");
    if let Some(header) = parse_header(whole_line) {
        return format!("in {}", header.display());
    }
    let header = before.get(..line_start).unwrap_or("").lines().rev().find_map(parse_header);
    let inner = if let Some(brace) = on_line.rfind('{') {
        on_line.get(..brace).unwrap_or("").trim_end().trim_end_matches('=').trim().to_string()
    } else {
        on_line.trim().trim_end_matches('.').to_string()
    };
    match (header, inner.is_empty()) {
        (None, true) => "at the top level".to_string(),
        (None, false) => format!("in [{inner}]"),
        (Some(header), true) => format!("in {}", header.display()),
        (Some(Header { name, array: false }), false) => format!("in [{name}.{inner}]"),
        (Some(header), false) => format!("in `{inner}` of {}", header.display()),
    }
}

/// A table header line, `[name]` or `[[name]]`.
pub(crate) struct Header {
    pub(crate) name: String,
    pub(crate) array: bool,
}

impl Header {
    fn display(&self) -> String {
        if self.array { format!("[[{}]]", self.name) } else { format!("[{}]", self.name) }
    }
}

/// Recognises a header line. Lines of a multi-line array can also start with `[`, so the name must
/// look like a key (no commas, no nested brackets) and only a comment may follow the closing bracket.
pub(crate) fn parse_header(line: &str) -> Option<Header> {
    let line = line.trim().trim_start_matches('\u{feff}');
    let (array, rest) = match line.strip_prefix("[[") {
        Some(rest) => (true, rest),
        None => (false, line.strip_prefix('[')?),
    };
    let close = if array { "]]" } else { "]" };
    let end = rest.find(close)?;
    let name = rest.get(..end)?.trim();
    let after = rest.get(end + close.len()..)?.trim();
    let key_like = !name.is_empty() && !name.contains([',', '[', ']', '{', '}', '=']);
    if key_like && (after.is_empty() || after.starts_with('#')) {
        let name = name.split('.').map(str::trim).collect::<Vec<_>>().join(".");
        Some(Header { name, array })
    } else {
        None
    }
}

/// The byte range of the `nth` (0-based) header `[name]` or `[[name]]` in `text`, used to locate
/// errors about a table as a whole when no key of the table is to blame.
pub(crate) fn header_span(text: &str, name: &str, nth: usize) -> Option<Range<usize>> {
    let mut offset = 0;
    let mut seen = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        if parse_header(line).is_some_and(|header| header.name == name) {
            if seen == nth {
                let indent = line.len() - line.trim_start().len();
                return Some(start + indent..start + line.trim_end().len());
            }
            seen += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_is_located_by_line_and_character_column() {
        let text = "a = 1\nbé = \"x\"\n";
        let offset = text.find("\"x\"").unwrap_or(0);
        let error = ScenarioError::at(Path::new("f.toml"), text, offset..offset + 3, "bad");
        assert_eq!((error.line, error.column, error.highlight_len), (2, 6, 3));
        assert_eq!(error.source_line, "bé = \"x\"");
    }

    #[test]
    fn display_shows_the_location_the_source_line_and_carets() {
        let text = "name = \"x\"\nduration = \"5\"\n";
        let offset = text.find("\"5\"").unwrap_or(0);
        let error = ScenarioError::at(Path::new("s.toml"), text, offset..offset + 3, "no unit");
        assert_eq!(error.to_string(), "s.toml:2:12: no unit\n  |\n2 | duration = \"5\"\n  |            ^^^");
    }

    #[test]
    fn offsets_past_the_end_or_inside_a_character_do_not_panic() {
        let text = "é";
        let error = ScenarioError::at(Path::new("f"), text, 1..99, "m");
        assert_eq!((error.line, error.column), (1, 1));
        let error = ScenarioError::at(Path::new("f"), "", 5..9, "m");
        assert_eq!((error.line, error.column, error.highlight_len), (1, 1, 1));
    }

    #[test]
    fn an_unlocated_error_displays_without_a_position() {
        let error = ScenarioError::unlocated(Path::new("gone.toml"), "cannot read");
        assert_eq!(error.to_string(), "gone.toml: cannot read");
        assert!(!error.is_located());
    }

    #[test]
    fn table_headers_are_recognised_but_array_lines_are_not() {
        assert!(parse_header("[cluster]  # why").is_some_and(|h| h.name == "cluster" && !h.array));
        assert!(
            parse_header("[[ database . resource ]]")
                .is_some_and(|h| h.name == "database.resource" && h.array)
        );
        assert!(parse_header("[1, 2],").is_none());
        assert!(parse_header("[cluster] x = 1").is_none());
    }

    #[test]
    fn the_table_of_a_key_is_named_from_headers_dotted_keys_and_inline_tables() {
        let text = "top = 1\n[checks]\nrto = 1\nouter = { inner = 2 }\n[[host]]\nname = 1\ncluster.x = 1\n";
        let at = |needle: &str| text.find(needle).unwrap_or(0);
        assert_eq!(describe_table(text, at("top")), "at the top level");
        assert_eq!(describe_table(text, at("rto")), "in [checks]");
        assert_eq!(describe_table(text, at("inner")), "in [checks.outer]");
        assert_eq!(describe_table(text, at("[[host]]")), "in [[host]]");
        assert_eq!(describe_table(text, at("name")), "in [[host]]");
        assert_eq!(describe_table(text, at("x =")), "in `cluster` of [[host]]");
    }
}
