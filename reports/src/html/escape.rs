//! The one escaping rule of the HTML pages.

/// `text` made safe for both HTML text and a quoted attribute value: `&`, `<`, `>`, `"` and `'`
/// become character references, so a scenario named `<script>` reads as that text and never becomes
/// markup, whichever context it lands in.
///
/// Control characters other than tab, line feed and carriage return become U+FFFD: XML 1.0 allows no
/// reference to them, and the pages must parse as XML (a detail quoting a corrupt log line may hold
/// one).
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            '\t' | '\n' | '\r' => escaped.push(character),
            control if u32::from(control) < 0x20 => escaped.push('\u{FFFD}'),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_characters_become_references_and_other_text_stays_as_it_is() {
        assert_eq!(
            escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("SG1 on mbx-1 ✓"), "SG1 on mbx-1 ✓");
    }

    #[test]
    fn control_characters_xml_cannot_hold_become_replacement_characters() {
        assert_eq!(escape("a\u{0}b\u{1b}[0m\tc\n"), "a\u{FFFD}b\u{FFFD}[0m\tc\n");
    }
}
