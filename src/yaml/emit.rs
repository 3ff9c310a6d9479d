//! Block-style YAML emitter for `serde_json::Value` trees.
//!
//! vmesh writes every document through this one emitter so that output is stable byte for
//! byte. It is deliberately conservative: a string is written plain only when every YAML 1.1
//! and YAML 1.2 reader (Kubernetes' sigs.k8s.io/yaml included) reads it back as the same
//! string; otherwise it is double-quoted. Multi-line strings (PEM blocks) use literal blocks.
//! Sequences inside mappings are not indented (`key:\n- a`), as kubectl and kyaml write them.

use serde_json::{Map, Value};

/// Appends `value` as a block-style YAML document body (no `---`) to `out`.
pub fn emit_document(out: &mut String, value: &Value) {
    match value {
        Value::Object(map) if !map.is_empty() => emit_mapping(out, map, 0),
        Value::Array(seq) if !seq.is_empty() => emit_sequence(out, seq, 0),
        scalar => {
            emit_inline_scalar(out, scalar, 0);
            out.push('\n');
        }
    }
}

/// Writes a mapping whose first key starts at the current cursor position and whose other
/// keys start at column `indent`. The cursor must already be at column `indent` (or after a
/// `- ` that puts it there).
pub fn emit_mapping(out: &mut String, map: &Map<String, Value>, indent: usize) {
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            push_indent(out, indent);
        }
        emit_key(out, key);
        out.push(':');
        emit_mapping_value(out, value, indent);
    }
}

fn emit_mapping_value(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            push_indent(out, indent + 2);
            emit_mapping(out, map, indent + 2);
        }
        Value::Array(seq) if !seq.is_empty() => {
            out.push('\n');
            push_indent(out, indent);
            emit_sequence(out, seq, indent);
        }
        scalar => {
            out.push(' ');
            emit_inline_scalar(out, scalar, indent + 2);
            out.push('\n');
        }
    }
}

/// Writes a sequence whose first `- ` starts at the cursor and the others at column `indent`.
pub fn emit_sequence(out: &mut String, seq: &[Value], indent: usize) {
    for (i, item) in seq.iter().enumerate() {
        if i > 0 {
            push_indent(out, indent);
        }
        out.push_str("- ");
        match item {
            Value::Object(map) if !map.is_empty() => emit_mapping(out, map, indent + 2),
            Value::Array(inner) if !inner.is_empty() => emit_sequence(out, inner, indent + 2),
            scalar => {
                emit_inline_scalar(out, scalar, indent + 2);
                out.push('\n');
            }
        }
    }
}

pub fn push_indent(out: &mut String, indent: usize) {
    const SPACES: &str = "                                                                ";
    let mut left = indent;
    while left > 0 {
        let n = left.min(SPACES.len());
        out.push_str(&SPACES[..n]);
        left -= n;
    }
}

/// Writes a scalar (or an empty collection) on the current line. `block_indent` is the
/// indentation used for the lines of a literal block scalar.
fn emit_inline_scalar(out: &mut String, value: &Value, block_indent: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => out.push_str(itoa::Buffer::new().format(u)),
            (None, Some(i)) => out.push_str(itoa::Buffer::new().format(i)),
            _ => out.push_str(&n.to_string()),
        },

        Value::String(s) => emit_string(out, s, block_indent),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

fn emit_key(out: &mut String, key: &str) {
    if is_plain_safe(key) {
        out.push_str(key);
    } else {
        emit_double_quoted(out, key);
    }
}

fn emit_string(out: &mut String, s: &str, block_indent: usize) {
    if is_plain_safe(s) {
        out.push_str(s);
    } else if literal_block_fits(s) {
        emit_literal_block(out, s, block_indent);
    } else {
        emit_double_quoted(out, s);
    }
}

/// A literal block keeps every character as written, so it can hold a multi-line string
/// made of printable characters whose first line does not start with a space (that would
/// need an explicit indentation indicator).
fn literal_block_fits(s: &str) -> bool {
    s.contains('\n')
        && !s.starts_with(' ')
        && !s.starts_with('\n')
        && s.chars().all(|c| c == '\n' || is_printable(c))
        && !s.contains('\t')
}

fn emit_literal_block(out: &mut String, s: &str, indent: usize) {
    let trailing_newlines = s.len() - s.trim_end_matches('\n').len();
    out.push('|');
    match trailing_newlines {
        0 => out.push('-'),
        1 => {}
        _ => out.push('+'),
    }
    let body = if trailing_newlines == 1 {
        &s[..s.len() - 1]
    } else {
        s.trim_end_matches('\n')
    };
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            push_indent(out, indent);
            out.push_str(line);
        }
    }
    // `|+` keeps every trailing line break: write the extra ones as empty lines.
    for _ in 1..trailing_newlines {
        out.push('\n');
    }
}

fn emit_double_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if is_printable(c) => out.push(c),
            c if (c as u32) <= 0xff => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
}

/// Printable in the sense of the YAML spec, minus the characters some readers treat as
/// line breaks or byte-order marks.
fn is_printable(c: char) -> bool {
    match c {
        ' '..='~' => true,
        '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}' => false,
        '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..='\u{10ffff}' => true,
        _ => false,
    }
}

/// True when `s` can be written as a plain scalar and every YAML reader reads it back as
/// this same string.
pub fn is_plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if matches!(
        first,
        '-' | '?'
            | ':'
            | ','
            | '['
            | ']'
            | '{'
            | '}'
            | '#'
            | '&'
            | '*'
            | '!'
            | '|'
            | '>'
            | '\''
            | '"'
            | '%'
            | '@'
            | '`'
            | ' '
            | '~'
            | '='
    ) {
        return false;
    }
    if s.ends_with(' ') || s.ends_with(':') {
        return false;
    }
    // One pass over the bytes: `: `, ` #`, `:\t`, tabs and control characters rule a plain
    // scalar out; non-ASCII text is checked character by character.
    let bytes = s.as_bytes();
    let mut ascii = true;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b':' if matches!(bytes.get(i + 1), Some(b' ' | b'\t')) => return false,
            b' ' if bytes.get(i + 1) == Some(&b'#') => return false,
            b'\t' | 0..=0x1f | 0x7f => return false,
            0x80.. => ascii = false,
            _ => {}
        }
    }
    if !ascii && !s.chars().all(is_printable) {
        return false;
    }
    !resolves_to_non_string(s)
}

/// The plain scalars that a YAML 1.1 or 1.2 reader turns into something other than a string.
fn resolves_to_non_string(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "null", "~", "true", "false", "yes", "no", "on", "off", "y", "n", ".inf", "-.inf", "+.inf",
        ".nan",
    ];
    if s.len() <= 5 && WORDS.iter().any(|w| w.eq_ignore_ascii_case(s)) {
        return true;
    }
    looks_numeric_or_timestamp(s)
}

/// Conservative test for ints (decimal, octal, hex, binary, sexagesimal, with `_`), floats
/// and YAML 1.1 timestamps: anything starting like a number that contains only characters a
/// number or a timestamp could contain, with at most one `.`.
fn looks_numeric_or_timestamp(s: &str) -> bool {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let Some(first) = unsigned.chars().next() else {
        return false;
    };
    if !(first.is_ascii_digit() || first == '.') {
        return false;
    }
    let numeric_chars = unsigned.chars().all(|c| {
        c.is_ascii_hexdigit() || matches!(c, '_' | '.' | ':' | '+' | '-' | 'x' | 'X' | 'o' | 'O')
    });
    if numeric_chars && unsigned.matches('.').count() <= 1 {
        return true;
    }
    // YAML 1.1 timestamps: 2001-12-14, 2001-12-14t21:59:43.10-05:00, "2001-12-14 21:59:43.10 -5"
    let bytes = unsigned.as_bytes();
    bytes.len() >= 8
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[5].is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn emit(v: &Value) -> String {
        let mut out = String::new();
        emit_document(&mut out, v);
        out
    }

    #[test]
    fn quotes_strings_that_readers_would_retype() {
        for s in [
            "on",
            "NO",
            "y",
            "True",
            "null",
            "~",
            "0777",
            "1.10",
            "1e3",
            "0x1f",
            "1:20",
            "2001-12-14",
            "12",
            "-1",
            ".5",
            ".inf",
            "",
            " lead",
            "trail ",
            "a: b",
            "a #b",
            "*.global",
            "-x",
            "end:",
            "@x",
            "%x",
        ] {
            assert!(!is_plain_safe(s), "{s:?} must be quoted");
        }
    }

    #[test]
    fn keeps_ordinary_strings_plain() {
        for s in [
            "istio-system",
            "10.8.1.12",
            "reviews.bookinfo.svc.cluster-1.global",
            "cluster.local/ns/bookinfo/sa/*",
            "spiffe://cluster.local/ns/x",
            "networking.istio.io/v1",
            "v1",
            "hello world",
            "1.2.3",
        ] {
            assert!(is_plain_safe(s), "{s:?} should be plain");
        }
    }

    #[test]
    fn writes_block_style_with_kubectl_sequence_indentation() {
        let v = json!({
            "apiVersion": "v1",
            "spec": {"hosts": ["a", "b"], "empty": {}, "none": [], "ports": [{"name": "http", "number": 80}]},
            "data": {"pem": "line1\nline2\n", "flag": "on"}
        });
        assert_eq!(
            emit(&v),
            "apiVersion: v1\nspec:\n  hosts:\n  - a\n  - b\n  empty: {}\n  none: []\n  ports:\n  - name: http\n    number: 80\ndata:\n  pem: |\n    line1\n    line2\n  flag: \"on\"\n"
        );
    }

    #[test]
    fn literal_block_chomping_round_trips() {
        for s in ["a\nb", "a\nb\n", "a\nb\n\n", "a\n\nb\n"] {
            let text = emit(&json!({ "k": s }));
            let back: Value = serde_saphyr::from_str(&text).unwrap();
            assert_eq!(back["k"], json!(s), "{text}");
        }
    }

    #[test]
    fn double_quoted_escapes_round_trip() {
        for s in [
            "tab\there",
            "quote\"back\\slash",
            "bell\u{7}",
            "crlf\r\n",
            " lead\nx",
        ] {
            let text = emit(&json!({ "k": s }));
            let back: Value = serde_saphyr::from_str(&text).unwrap();
            assert_eq!(back["k"], json!(s), "{text}");
        }
    }
}
