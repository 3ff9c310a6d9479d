//! Verbatim copies of block-style input items.
//!
//! kpt restores comments and key order of the items it gets back, but not the quoting style
//! of scalars: re-emitting `'true'` as `"true"` changes the user's file. vmesh therefore
//! copies every item it does not change as the exact text it was given, re-indented to its
//! place in the output. [`RawSpan`] marks where an item's text lies in the input.

use memchr::{memchr, memrchr};

/// The text of one block-style item inside the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawSpan {
    /// Byte offset of the item's first character (the first key, after `- `).
    pub start: usize,
    /// Byte offset just past the item's last line (including its line break).
    pub end: usize,
    /// Column (0-based, in bytes) at which the item's keys start.
    pub column: usize,
}

/// Whether an item's text may use a YAML alias (`*name`, also in `<<: *name`). Such an
/// item's text refers to an anchor elsewhere, so it cannot be copied alone; an item without
/// one reads the same on its own, whatever other items do. Errs on the side of "yes": a `*`
/// that starts a token (after indentation, `:`, `-`, `?`, `[`, `{`, `,`, or a tag) counts,
/// even inside a quoted or block scalar, where it would only cost a verbatim copy.
pub fn uses_alias(text: &str) -> bool {
    let bytes = text.as_bytes();
    memchr::memchr_iter(b'*', bytes).any(|at| {
        let mut i = at;
        while i > 0 && matches!(bytes[i - 1], b' ' | b'\t') {
            i -= 1;
        }
        if i == 0 {
            return true;
        }
        match bytes[i - 1] {
            b'\n' | b'\r' | b':' | b'-' | b'?' | b'[' | b'{' | b',' => true,
            // After a tag (`!t *a`): find where the token before the spaces starts.
            _ if i < at => {
                let mut start = i - 1;
                while start > 0 && !matches!(bytes[start - 1], b' ' | b'\t' | b'\n') {
                    start -= 1;
                }
                bytes[start] == b'!'
            }
            _ => false,
        }
    })
}

/// Finds the extent of the block mapping that starts at byte `start` of `text` and whose
/// keys sit at `column`. The item ends before the first later line whose content starts left
/// of `column` (the next `- `, a top-level key, a document marker); trailing comment lines
/// that sit left of `column`, and the blank lines after them, are left out. Returns `None` for items that are
/// not block mappings (flow `{…}` items), which are re-emitted instead of copied.
pub fn block_item_span(text: &str, start: usize, column: usize) -> Option<RawSpan> {
    let bytes = text.as_bytes();
    let first = bytes.get(start)?;
    if matches!(first, b'{' | b'[' | b'&' | b'!' | b'*' | b'|' | b'>') {
        return None;
    }
    let mut line_start = match memchr(b'\n', &bytes[start..]) {
        Some(n) => start + n + 1,
        None => {
            return Some(RawSpan {
                start,
                end: text.len(),
                column,
            });
        }
    };
    let mut end = line_start;
    while line_start < text.len() {
        let line_end =
            memchr(b'\n', &bytes[line_start..]).map_or(text.len(), |n| line_start + n + 1);
        let indent = bytes[line_start..line_end]
            .iter()
            .position(|&b| b != b' ')
            .unwrap_or(line_end - line_start);
        let content = &text[line_start + indent..line_end];
        let blank_or_comment = content.trim_end().is_empty() || content.starts_with('#');
        if indent < column && !blank_or_comment {
            break;
        }
        if !(blank_or_comment && indent < column) {
            end = line_end;
        }
        line_start = line_end;
    }
    let end = past_blank_lines(text, end, line_start);
    Some(RawSpan { start, end, column })
}

/// [`block_item_span`] for an item whose text lies before `limit`, the start of the first
/// line after it with content left of `column` (or the end of the text), as the fast reader
/// knows it: walks back from `limit` over the comment and blank lines left of `column`
/// instead of forward over the whole item. Gives the same span as [`block_item_span`].
pub fn block_item_span_until(
    text: &str,
    start: usize,
    column: usize,
    limit: usize,
) -> Option<RawSpan> {
    let bytes = text.as_bytes();
    let first = bytes.get(start)?;
    if matches!(first, b'{' | b'[' | b'&' | b'!' | b'*' | b'|' | b'>') {
        return None;
    }
    let first_end = match memchr(b'\n', &bytes[start..]) {
        Some(n) => start + n + 1,
        None => {
            return Some(RawSpan {
                start,
                end: text.len(),
                column,
            });
        }
    };
    let mut end = limit.min(text.len());
    while end > first_end {
        let line_start =
            memrchr(b'\n', &bytes[first_end..end - 1]).map_or(first_end, |n| first_end + n + 1);
        let indent = bytes[line_start..end]
            .iter()
            .position(|&b| b != b' ')
            .unwrap_or(end - line_start);
        let content = &text[line_start + indent..end];
        let blank_or_comment = content.trim_end().is_empty() || content.starts_with('#');
        if !(blank_or_comment && indent < column) {
            break;
        }
        end = line_start;
    }
    Some(RawSpan {
        start,
        end: past_blank_lines(text, end.max(first_end), limit.min(text.len())),
        column,
    })
}

/// The end of the blank lines that directly follow `end` (and lie before `stop`). They
/// belong to the item: a block scalar that keeps its trailing line breaks (`|+`) ends with
/// them, and leaving them out of the copy would change its value. Blank lines after a
/// trailing comment cannot be part of a scalar.
fn past_blank_lines(text: &str, mut end: usize, stop: usize) -> usize {
    let bytes = text.as_bytes();
    while end < stop {
        let line_end = memchr(b'\n', &bytes[end..stop]).map_or(stop, |n| end + n + 1);
        if !text[end..line_end]
            .trim_start_matches(' ')
            .trim_end()
            .is_empty()
        {
            break;
        }
        end = line_end;
    }
    end
}

/// Finds the extent of a top-level document of a `---` stream that starts at byte `start`:
/// it ends before the next `---` or `...` marker line; trailing comment lines at or left of
/// the document's column, and the blank lines after them, are left out.
pub fn document_span(text: &str, start: usize) -> Option<RawSpan> {
    let first = text.as_bytes().get(start)?;
    if matches!(first, b'{' | b'[' | b'&' | b'!' | b'*' | b'|' | b'>') {
        return None;
    }
    // A document's mapping may be indented (its keys at column 2, say): re-indenting must
    // move every line by the same amount, or the copy is no longer the same YAML.
    let column = start - text[..start].rfind('\n').map_or(0, |n| n + 1);
    let mut line_start = start;
    let mut end = start;
    while line_start < text.len() {
        let line_end = text[line_start..]
            .find('\n')
            .map_or(text.len(), |n| line_start + n + 1);
        let line = &text[line_start..line_end];
        if line_start > start && is_document_marker(line) {
            break;
        }
        let content = line.trim_start_matches(' ');
        let indent = line.len() - content.len();
        // A more indented `#` line may be the content of a block scalar.
        let comment = content.starts_with('#') && indent <= column;
        if !(content.trim_end().is_empty() || comment) {
            end = line_end;
        }
        line_start = line_end;
    }
    let end = past_blank_lines(text, end, line_start);
    Some(RawSpan { start, end, column })
}

fn is_document_marker(line: &str) -> bool {
    let line = line.trim_end();
    ["---", "..."].iter().any(|marker| {
        line == *marker
            || line
                .strip_prefix(marker)
                .is_some_and(|rest| rest.starts_with([' ', '\t']))
    })
}

/// Appends the item text with its keys moved to column `target`: the first line continues
/// where the cursor is (after a `- `, or at the start of a stream document), the others are
/// shifted by the same amount.
pub fn append_reindented(out: &mut String, text: &str, span: RawSpan, target: usize) {
    let body = &text[span.start..span.end];
    for (i, line) in body.split_inclusive('\n').enumerate() {
        if i == 0 {
            out.push_str(line);
            continue;
        }
        let content = line.trim_start_matches(' ');
        let old_indent = line.len() - content.len();
        // A line of spaces only is empty, unless it is deeper than the item's keys: inside a
        // block scalar the spaces past the scalar's indentation are content, and they move
        // with the rest.
        if content.trim_end_matches(['\n', '\r']).is_empty() && old_indent <= span.column {
            out.push('\n');
            continue;
        }
        let new_indent = (old_indent + target).saturating_sub(span.column);
        for _ in 0..new_indent {
            out.push(' ');
        }
        out.push_str(content);
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_ends_at_next_dash_and_skips_between_item_comments() {
        let text =
            "items:\n- a: 1\n  b:\n    c: 'x'\n# about the next one\n- d: 2\nfunctionConfig: {}\n";
        let start = text.find("a: 1").unwrap();
        let span = block_item_span(text, start, 2).unwrap();
        assert_eq!(&text[span.start..span.end], "a: 1\n  b:\n    c: 'x'\n");
        let start = text.find("d: 2").unwrap();
        let span = block_item_span(text, start, 2).unwrap();
        assert_eq!(&text[span.start..span.end], "d: 2\n");
    }

    /// The item whose first key is `first`, at `column`, copied as a `- ` item at column 2.
    fn reindented(text: &str, first: &str, column: usize) -> String {
        let span = block_item_span(text, text.find(first).unwrap(), column).unwrap();
        let mut out = String::from("- ");
        append_reindented(&mut out, text, span, 2);
        out
    }

    #[test]
    fn reindents_wider_items_to_two_spaces() {
        let text = "items:\n    -   a: 1\n        b: |\n          keep\n\n            this\n";
        assert_eq!(
            reindented(text, "a: 1", 8),
            "- a: 1\n  b: |\n    keep\n\n      this\n"
        );
    }

    #[test]
    fn stream_documents_end_at_markers() {
        let text = "a: 1\nb:\n- x\n# trailing\n---\nc: 2\n...\n";
        let span = document_span(text, 0).unwrap();
        assert_eq!(&text[span.start..span.end], "a: 1\nb:\n- x\n");
        let start = text.find("c: 2").unwrap();
        let span = document_span(text, start).unwrap();
        assert_eq!(&text[span.start..span.end], "c: 2\n");
    }

    #[test]
    fn spans_found_backwards_are_the_same() {
        let text = "items:\n- a: 1\n  b: |\n    x\n\n    # y\n  # inside\n\n# left\n   \n- c: 2\n  d: 3\n# end\nfunctionConfig: {}\n";
        for (key, next) in [("a: 1", "- c: 2"), ("c: 2", "functionConfig")] {
            let start = text.find(key).unwrap();
            let limit = text.find(next).unwrap();
            assert_eq!(
                block_item_span_until(text, start, 2, limit),
                block_item_span(text, start, 2)
            );
        }
        let text = "items:\n- a: 1\n  # last";
        let start = text.find("a: 1").unwrap();
        assert_eq!(
            block_item_span_until(text, start, 2, text.len()),
            block_item_span(text, start, 2)
        );
    }

    /// A literal block scalar with a line of spaces deeper than its indentation: those
    /// spaces are content, and a copy moved to another column keeps them.
    #[test]
    fn spaces_inside_block_scalars_survive_reindenting() {
        let text = "items:\n    - a: |\n          one\n            \n          two\n\n      b: 1\n";
        assert_eq!(
            reindented(text, "a: |", 6),
            "- a: |\n      one\n        \n      two\n\n  b: 1\n"
        );
    }

    /// Found by the pipeline fuzz target: `|+` keeps the empty lines that end it, so they
    /// are part of the item, and of a stream document; empty lines after a comment are not.
    #[test]
    fn empty_lines_that_end_a_kept_block_scalar_stay_with_the_item() {
        let text = "items:\n- a: |+\n    m\n\n\n- b: 2\n";
        let start = text.find("a: |+").unwrap();
        let limit = text.find("- b").unwrap();
        for span in [
            block_item_span(text, start, 2).unwrap(),
            block_item_span_until(text, start, 2, limit).unwrap(),
        ] {
            assert_eq!(&text[span.start..span.end], "a: |+\n    m\n\n\n");
        }
        let text = "items:\n- a: 1\n# note\n\n- b: 2\n";
        let span = block_item_span(text, text.find("a: 1").unwrap(), 2).unwrap();
        assert_eq!(&text[span.start..span.end], "a: 1\n");

        let text = "a: |+\n  m\n  # content, not a comment\n\n---\nb: 2\n";
        let span = document_span(text, 0).unwrap();
        assert_eq!(
            &text[span.start..span.end],
            "a: |+\n  m\n  # content, not a comment\n\n"
        );
    }

    #[test]
    fn flow_items_are_not_copied() {
        assert_eq!(block_item_span("- {a: 1}\n", 2, 2), None);
    }
}
