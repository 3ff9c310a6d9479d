//! Messages for input that cannot be read, written for the person who has to fix it: what is
//! wrong, where (line and column), and which limit it hit. The YAML reader's own texts name
//! its internals ("budget breached: Depth { depth: 65 }", "set DuplicateKeyPolicy in
//! Options"); these say the same in the input's terms. No message quotes input text beyond a
//! key name, so nothing from a Secret can leak into one.

use crate::yaml::parse::limits;
use serde_json::Value;
use serde_saphyr::Error;
use serde_saphyr::budget::BudgetBreach;

/// YAML allows plain (implicit) keys of at most this many characters.
pub const MAX_PLAIN_KEY_CHARS: usize = 1024;

/// The message for a YAML error while reading `what` ("the ResourceList") from `text`.
pub fn yaml_error(what: &str, error: &Error, text: &str) -> String {
    let location = error.location();
    let at = location
        .map(|l| format!(" at line {}, column {}", l.line(), l.column()))
        .unwrap_or_default();
    let mut inner = error;
    while let Error::AliasError { error, .. } | Error::WithSnippet { error, .. } = inner {
        inner = error;
    }
    let problem = match inner {
        Error::Budget { breach, .. } => budget(breach, &at),
        Error::AliasReplayLimitExceeded { .. }
        | Error::AliasExpansionLimitExceeded { .. }
        | Error::AliasReplayStackDepthExceeded { .. }
        | Error::AliasReplayCounterOverflow { .. } => format!(
            "YAML aliases{at} expand to more than {} nodes (an alias bomb?); vmesh expands at most {} nodes through aliases in one input",
            limits::MAX_ALIAS_REPLAYED_EVENTS,
            limits::MAX_ALIAS_REPLAYED_EVENTS
        ),
        Error::DuplicateMappingKey { key, .. } => match key {
            Some(key) => format!(
                "duplicate key {:?}{at}; a key may appear only once in a mapping",
                shorten(key)
            ),
            None => format!("duplicate key{at}; a key may appear only once in a mapping"),
        },
        Error::Unexpected { expected, .. } => match *expected {
            "sequence start" => format!("expected a list (a YAML sequence){at}"),
            "mapping start" => format!("expected a mapping{at}"),
            other => format!("expected {other}{at}"),
        },
        _ => {
            let rendered = inner.to_string();
            let first = rendered.lines().next().unwrap_or("").trim();
            let first = first.strip_prefix("error: ").unwrap_or(first);
            if first.contains("recursion limit exceeded") {
                depth(&at)
            } else if first.contains("mapping values are not allowed")
                && location.is_some_and(|l| long_key(text, l.line(), l.column()))
            {
                format!(
                    "a key{at} is longer than {MAX_PLAIN_KEY_CHARS} characters, YAML's limit for a plain key"
                )
            } else {
                in_input_terms(first)
            }
        }
    };
    format!("cannot read {what}: {problem}")
}

/// The YAML reader's phrases that name its own API ("use Option<String>", "set
/// DuplicateKeyPolicy in Options", "rejected by the configured policy"), said in the
/// input's terms; anything else unchanged.
pub fn in_input_terms(message: &str) -> String {
    if message.contains("use Option<String>") {
        return "a null value where text is required; write the text, or quote it (\"null\") if it is the word".into();
    }
    if message.contains("DuplicateKeyPolicy") {
        return "a key appears twice in one mapping; a key may appear only once".into();
    }
    if message.contains("merge keys are not allowed") {
        return "a YAML merge key (<<) where vmesh does not expand merge keys; write the keys out"
            .into();
    }
    if let Some(rest) = message.strip_prefix("non-finite float `")
        && let Some((value, _)) = rest.split_once('`')
    {
        return format!(
            "the number {value:?} (infinity or not-a-number) cannot be stored in a Kubernetes object; quote it if it is text"
        );
    }
    if message.contains("on a struct field name is not allowed") {
        return "a YAML tag on a key; keys are plain text".into();
    }
    message
        .replace(" by the configured policy", "")
        .replace(" by configured policy", "")
}

fn budget(breach: &BudgetBreach, at: &str) -> String {
    match breach {
        BudgetBreach::Depth { .. } => depth(at),
        BudgetBreach::Aliases { .. } => format!(
            "more than {} YAML aliases{at}; vmesh accepts at most {} in one input",
            limits::MAX_ALIASES,
            limits::MAX_ALIASES
        ),
        BudgetBreach::Nodes { .. } => format!(
            "the input has more than {} YAML nodes{at}; vmesh reads at most {} in one input",
            limits::MAX_NODES,
            limits::MAX_NODES
        ),
        BudgetBreach::Events { .. } => format!(
            "the input has more than {} YAML parser events{at}; vmesh reads at most {} in one input",
            limits::MAX_EVENTS,
            limits::MAX_EVENTS
        ),
        BudgetBreach::Documents { .. } => {
            format!("more than {} YAML documents{at}", limits::MAX_DOCUMENTS)
        }
        BudgetBreach::ScalarBytes { .. } => format!(
            "more than {} bytes of text{at}; vmesh reads at most {} bytes",
            limits::MAX_INPUT_BYTES,
            limits::MAX_INPUT_BYTES
        ),
        _ => format!("the input exceeds a YAML parser limit{at}"),
    }
}

fn depth(at: &str) -> String {
    format!(
        "mappings and sequences nested more than {} levels deep{at}; vmesh reads at most {} levels",
        limits::MAX_DEPTH,
        limits::MAX_DEPTH
    )
}

/// Whether the text before `column` on `line` (1-based) is a plain key too long for YAML.
fn long_key(text: &str, line: u64, column: u64) -> bool {
    let Some(line) = usize::try_from(line)
        .ok()
        .and_then(|n| text.lines().nth(n.checked_sub(1)?))
    else {
        return false;
    };
    let key = line.trim_start().trim_start_matches("- ");
    let end = key
        .find(": ")
        .or_else(|| key.strip_suffix(':').map(str::len));
    end.is_some_and(|end| key[..end].chars().count() > MAX_PLAIN_KEY_CHARS)
        || usize::try_from(column).is_ok_and(|c| c > MAX_PLAIN_KEY_CHARS)
}

/// A key as it may appear in a message: at most 64 characters.
fn shorten(key: &str) -> String {
    if key.chars().count() <= 64 {
        key.to_string()
    } else {
        let head: String = key.chars().take(61).collect();
        format!("{head}...")
    }
}

/// When a document that failed to read as a ResourceList says at its top level that it is
/// something else (a plain manifest piped in by mistake), that is the error to report rather
/// than the first field a ResourceList does not have.
pub fn not_a_resource_list(text: &str) -> Option<String> {
    let top = |key: &str| {
        text.lines().find_map(|line| {
            let value = line.strip_prefix(key)?.strip_prefix(':')?.trim();
            Some(value.trim_matches(['"', '\'']).to_string())
        })
    };
    let kind = top("kind")?;
    if kind.is_empty() || kind == "ResourceList" || kind == "List" {
        return None;
    }
    Some(format!(
        "input is not a ResourceList: found kind {kind:?} (apiVersion {:?}); a KRM function reads one ResourceList with `items`{}",
        top("apiVersion").unwrap_or_default(),
        super::read::RENDER_HINT
    ))
}

/// The first string (key or value) in `value` longer than [`limits::MAX_SCALAR_BYTES`]: its
/// field path and length. Kubernetes stores objects of at most 1.5 MiB, so such a string
/// cannot be applied anywhere; refusing it bounds the work every later stage does.
pub fn oversized_scalar(value: &Value) -> Option<(String, usize)> {
    fn walk(value: &Value, path: &mut String) -> Option<(String, usize)> {
        match value {
            Value::String(s) if s.len() > limits::MAX_SCALAR_BYTES => Some((path.clone(), s.len())),
            Value::Array(seq) => seq.iter().enumerate().find_map(|(i, v)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = walk(v, path);
                path.truncate(len);
                found
            }),
            Value::Object(map) => map.iter().find_map(|(k, v)| {
                let len = path.len();
                if k.len() > limits::MAX_SCALAR_BYTES {
                    return Some((path.clone(), k.len()));
                }
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                let found = walk(v, path);
                path.truncate(len);
                found
            }),
            _ => None,
        }
    }
    walk(value, &mut String::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readers_internals_are_said_in_the_inputs_terms() {
        for (internal, plain) in [
            (
                "cannot deserialize null into string; use Option<String>",
                "a null value",
            ),
            (
                "duplicate mapping key; set DuplicateKeyPolicy in Options",
                "appears twice",
            ),
            (
                "non-finite float `.nan` rejected by the configured policy",
                "not-a-number",
            ),
            (
                "YAML merge keys are not allowed by configured policy",
                "merge key",
            ),
        ] {
            let said = in_input_terms(internal);
            assert!(said.contains(plain), "{internal} -> {said}");
            for word in ["Option<", "DuplicateKeyPolicy", "configured policy"] {
                assert!(!said.contains(word), "{internal} -> {said}");
            }
        }
    }
    use serde_json::json;

    fn read_error(text: &str) -> String {
        let error =
            serde_saphyr::from_str_with_options::<Value>(text, crate::yaml::parse::options())
                .unwrap_err();
        yaml_error("the input", &error, text)
    }

    #[test]
    fn depth_and_duplicates_speak_of_the_input() {
        let deep = format!("a: {}1{}\n", "[".repeat(100), "]".repeat(100));
        let message = read_error(&deep);
        assert!(
            message.contains("nested more than 64 levels deep"),
            "{message}"
        );
        assert!(!message.contains("Depth {"), "{message}");
        let message = read_error("a: 1\nb: 2\na: 3\n");
        assert_eq!(
            message,
            "cannot read the input: duplicate key \"a\" at line 3, column 1; a key may appear only once in a mapping"
        );
    }

    #[test]
    fn long_plain_keys_are_named_as_such() {
        let text = format!("{}: v\n", "k".repeat(2000));
        let message = read_error(&text);
        assert!(message.contains("longer than 1024 characters"), "{message}");
        // A short key is not blamed for an unrelated error of the same kind.
        assert!(!long_key("a: b: c\n", 1, 5));
    }

    #[test]
    fn a_plain_manifest_is_named_by_its_kind() {
        assert_eq!(
            not_a_resource_list("apiVersion: v1\nkind: ConfigMap\ndata:\n  kind: x\n").as_deref(),
            Some(
                "input is not a ResourceList: found kind \"ConfigMap\" (apiVersion \"v1\"); a KRM function reads one ResourceList with `items`; to render YAML files of plain manifests, run `vmesh render FILE|DIR...` instead"
            )
        );
        assert_eq!(not_a_resource_list("kind: ResourceList\nitem: []\n"), None);
    }

    #[test]
    fn oversized_strings_are_found_with_their_path() {
        let big = "x".repeat(limits::MAX_SCALAR_BYTES + 1);
        let value = json!({"data": {"ok": "y", "big": [0, big]}});
        assert_eq!(
            oversized_scalar(&value),
            Some(("data.big[1]".to_string(), limits::MAX_SCALAR_BYTES + 1))
        );
        assert_eq!(oversized_scalar(&json!({"a": "b"})), None);
    }
}
