//! What every page shares: the document around the body, the style sheet and small markup helpers.
//!
//! The pages are polyglot markup: HTML that is also well-formed XML (every element closed, attributes
//! quoted, only the five references of [`escape`]), so a browser shows them and an XML parser reads
//! them, and tests can check their structure without a browser.

use super::escape::escape;
use std::fmt::Write as _;

/// The style sheet of every page, inline so a page is one self-contained file that can be mailed,
/// attached to a CI run or opened from a download folder. No `<` or `&` in it: it is XML text.
const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 1.5rem; color: #1f2933; }
h1 { font-size: 1.4rem; margin-bottom: 0.3rem; }
h2 { font-size: 1.1rem; margin-top: 1.6rem; border-bottom: 1px solid #d9e2ec; }
table { border-collapse: collapse; margin: 0.5rem 0; }
th, td { border: 1px solid #d9e2ec; padding: 0.2rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f0f4f8; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font-family: ui-monospace, 'DejaVu Sans Mono', monospace; font-size: 0.9em; }
pre { background: #f0f4f8; padding: 0.5rem; overflow-x: auto; white-space: pre-wrap; }
.verdict { font-weight: bold; padding: 0 0.4rem; border-radius: 0.2rem; }
.good { background: #c6f1d6; }
.bad { background: #ffd6d6; }
.warn { background: #ffeab6; }
.muted { color: #616e7c; }
svg { max-width: 100%; height: auto; }
";

/// A whole page: doctype, the XHTML namespace (so XML readers know the vocabulary), the charset, the
/// title and the style sheet, then `body`, which must already be markup.
pub(crate) fn document(title: &str, body: &str) -> String {
    let mut page = String::with_capacity(body.len() + STYLE.len() + 512);
    page.push_str("<!DOCTYPE html>\n");
    page.push_str("<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n");
    page.push_str("<meta charset=\"utf-8\"/>\n");
    page.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n");
    let _ = writeln!(page, "<title>{}</title>", escape(title));
    let _ = writeln!(page, "<style>{STYLE}</style>\n</head>\n<body>");
    page.push_str(body);
    page.push_str("</body>\n</html>\n");
    page
}

/// A table of `rows` under a header row; cells are markup (callers escape their text), and a cell
/// whose header is in `numeric` is right-aligned.
pub(crate) fn table(out: &mut String, header: &[&str], numeric: &[&str], rows: &[Vec<String>]) {
    out.push_str("<table>\n<tr>");
    for name in header {
        let _ = write!(out, "<th>{}</th>", escape(name));
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for (name, cell) in header.iter().zip(row) {
            if numeric.contains(name) {
                let _ = write!(out, "<td class=\"number\">{cell}</td>");
            } else {
                let _ = write!(out, "<td>{cell}</td>");
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// `text` escaped inside a `<code>` element.
pub(crate) fn code(text: &str) -> String {
    format!("<code>{}</code>", escape(text))
}

/// A replay command as a block a person copies from.
pub(crate) fn command_block(command: &str) -> String {
    format!("<pre><code>{}</code></pre>\n", escape(command))
}

/// The CSS class a verdict is shown in: green when the run went as expected, red when not.
pub(crate) fn judgement_class(as_expected: bool) -> &'static str {
    if as_expected { "good" } else { "bad" }
}
