//! Making names from stripped state safe to display: no control characters, no bidi tricks, no
//! unbounded lengths.
//!
//! Bidi overrides and isolates let a name reorder the text around it (matrix-js-sdk#1992, #1816);
//! they and the directional marks are removed rather than balanced, since a name never needs them.

/// The longest display string, in characters, ellipsis included.
pub const MAX_DISPLAY_CHARS: usize = 255;

const ELLIPSIS: char = '\u{2026}';

/// Bidi embeddings, overrides, isolates and marks.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Sanitises a string for display: control characters and bidi controls removed, runs of
/// whitespace collapsed to one space, trimmed, and capped at [`MAX_DISPLAY_CHARS`] characters
/// with an ellipsis. Work is bounded by the cap, not by the input's length.
pub fn sanitize_display(raw: &str) -> String {
    let mut out = String::new();
    let mut chars = 0;
    let mut pending_space = false;
    for c in raw.chars() {
        if c.is_whitespace() {
            pending_space = chars > 0;
            continue;
        }
        if c.is_control() || is_bidi_control(c) {
            continue;
        }
        if chars + usize::from(pending_space) + 1 > MAX_DISPLAY_CHARS {
            return with_ellipsis(out, chars);
        }
        if pending_space {
            out.push(' ');
            chars += 1;
            pending_space = false;
        }
        out.push(c);
        chars += 1;
    }
    out
}

/// Cuts a string of `chars` characters that is about to overflow so that it ends in an ellipsis
/// and fits [`MAX_DISPLAY_CHARS`].
fn with_ellipsis(mut out: String, mut chars: usize) -> String {
    while chars >= MAX_DISPLAY_CHARS {
        out.pop();
        chars -= 1;
    }
    out.truncate(out.trim_end().len());
    out.push(ELLIPSIS);
    out
}

#[cfg(test)]
mod tests {
    use super::{sanitize_display, MAX_DISPLAY_CHARS};

    #[test]
    fn removes_controls_and_bidi_and_collapses_whitespace() {
        let table = [
            ("Tea Party", "Tea Party"),
            ("  Tea \n\t Party  ", "Tea Party"),
            ("\u{202E}gnp.exe\u{202C}", "gnp.exe"),
            ("a\u{2066}b\u{2069}c\u{200F}d", "abcd"),
            ("bell\u{7}\u{0}\u{1b}[31m", "bell[31m"),
            ("\u{85}x\u{a0}y", "x y"),
            ("", ""),
            (" \u{202E} ", ""),
            ("emoji 👩‍👩‍👧 stays", "emoji 👩‍👩‍👧 stays"),
        ];
        for (raw, clean) in table {
            assert_eq!(sanitize_display(raw), clean, "{raw:?}");
        }
    }

    #[test]
    fn caps_long_names_with_an_ellipsis() {
        let exact = "x".repeat(MAX_DISPLAY_CHARS);
        assert_eq!(sanitize_display(&exact), exact);
        let huge = "é".repeat(1 << 20);
        let capped = sanitize_display(&huge);
        assert_eq!(capped.chars().count(), MAX_DISPLAY_CHARS);
        assert!(capped.ends_with('\u{2026}'));
        let spaced = format!("{} {}", "a".repeat(MAX_DISPLAY_CHARS - 2), "b".repeat(10));
        let capped = sanitize_display(&spaced);
        assert_eq!(capped.chars().count(), MAX_DISPLAY_CHARS - 1, "{capped}");
        assert!(capped.ends_with("a\u{2026}"), "no trailing space before the ellipsis");
    }
}
