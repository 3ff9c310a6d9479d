//! Typed inputs: the Gloo Mesh resources vmesh reads, and its own configuration.

pub mod common;
pub mod config;
pub mod discovery;
pub mod networking;
pub mod schema;

use common::ObjectRef;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A typed input resource: its metadata, its spec, and where it sits in the input.
#[derive(Debug, Clone)]
pub struct Resource<S> {
    pub meta: ObjectMeta,
    pub spec: S,
    /// Index of the item in the input list.
    pub item: usize,
}

impl<S> Resource<S> {
    pub fn name(&self) -> &str {
        self.meta.name.as_deref().unwrap_or("")
    }

    pub fn namespace(&self) -> &str {
        self.meta.namespace.as_deref().unwrap_or("")
    }

    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef::new(self.name(), self.namespace())
    }

    /// Gloo Mesh's key: `name.namespace.`.
    pub fn key(&self) -> String {
        self.object_ref().key()
    }
}

/// A typing problem in one input: the field path (from the resource root) and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeError {
    pub path: String,
    pub message: String,
}

/// Reads `metadata` and `spec` of an item into typed form. A missing spec reads as the
/// default spec; unknown fields and wrong types are errors with their path.
pub fn parse_resource<S: DeserializeOwned + Default>(
    value: &Value,
    item: usize,
) -> Result<Resource<S>, TypeError> {
    if let Some(map) = value.as_object() {
        const KNOWN: [&str; 5] = ["apiVersion", "kind", "metadata", "spec", "status"];
        if let Some(key) = map.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            let message = format!(
                "unknown field `{key}`, expected one of {}",
                KNOWN.map(|k| format!("`{k}`")).join(", ")
            );
            return Err(TypeError {
                path: key.clone(),
                message: with_suggestion(&message, key, &KNOWN),
            });
        }
    }
    let meta = match value.get("metadata") {
        Some(meta) => parse_at::<ObjectMeta>(meta, "metadata")?,
        None => ObjectMeta::default(),
    };
    let spec = match value.get("spec") {
        Some(Value::Null) | None => S::default(),
        Some(spec) => parse_at::<S>(spec, "spec")?,
    };
    Ok(Resource { meta, spec, item })
}

/// Deserializes `value` as `T`, reporting errors with the full path below `prefix`.
pub fn parse_at<T: DeserializeOwned>(value: &Value, prefix: &str) -> Result<T, TypeError> {
    // Most inputs are valid: read them directly, and only track field paths to explain an
    // error (path tracking costs as much as the read itself).
    if let Ok(parsed) = T::deserialize(value) {
        return Ok(parsed);
    }

    serde_path_to_error::deserialize::<_, T>(value).map_err(|error| {
        let inner = in_user_terms(&redact_values(&error.inner().to_string()));
        // serde_path_to_error's path already ends with the unknown key itself.
        let path = join_path(prefix, &error.path().to_string());
        if let Some((field, expected)) = unknown_field(&inner) {
            TypeError {
                path,
                message: with_suggestion(&inner, field, &expected),
            }
        } else {
            TypeError {
                path,
                message: inner,
            }
        }
    })
}

/// Longest input value a message quotes.
pub const MAX_QUOTED_VALUE_CHARS: usize = 40;

/// An input value as a message may show it: quoted when it is short and on one line,
/// otherwise only described (it may be a key or a seed pasted into the wrong place).
pub fn quoted(value: &str) -> String {
    if value.chars().count() > MAX_QUOTED_VALUE_CHARS || value.contains(['\n', '\r']) {
        "(a long value, not shown)".to_string()
    } else {
        format!("{value:?}")
    }
}

/// A field path as a result may show it: a key that would not be quoted in a message
/// (longer than 40 characters, or several lines: a key line pasted as a field name) is
/// replaced by `<long key>`.
pub fn shown_path(path: &str) -> std::borrow::Cow<'_, str> {
    let hidden = |segment: &str| {
        segment.chars().count() > MAX_QUOTED_VALUE_CHARS || segment.contains(['\n', '\r'])
    };
    if !path.split('.').any(hidden) {
        return std::borrow::Cow::Borrowed(path);
    }
    let shown: Vec<&str> = path
        .split('.')
        .map(|segment| {
            if hidden(segment) {
                "<long key>"
            } else {
                segment
            }
        })
        .collect();
    std::borrow::Cow::Owned(shown.join("."))
}

/// serde's messages quote the offending value (`invalid type: string "…", expected u32`,
/// ``unknown variant `…` ``). A value can be anything pasted into the wrong field, a private
/// key or a token among them, so a message quotes it only when it is short and on one line,
/// and otherwise only says that it is long.
fn redact_values(message: &str) -> String {
    // (what opens the value, what follows it, what replaces both)
    for (open, close, hidden) in [
        ("string \"", "\", expected", "a long string (not shown)"),
        (
            "value \"",
            "\", expected",
            "value (a long string, not shown)",
        ),
        ("`", "`, expected", "(a long value, not shown)"),
    ] {
        let Some(start) = message.find(open).map(|i| i + open.len()) else {
            continue;
        };
        let Some(end) = message.rfind(close).filter(|&end| end >= start) else {
            continue;
        };
        let quoted = &message[start..end];
        if quoted.chars().count() > MAX_QUOTED_VALUE_CHARS || quoted.contains("\\n") {
            let head = &message[..start - open.len()];
            let tail = &message[end + close.len() - ", expected".len()..];
            return format!("{head}{hidden}{tail}");
        }
    }
    message.to_string()
}

/// serde's wording of a wrong type or value (`invalid type: string "http", expected u32`)
/// in the user's terms: what the field takes, then what it found (`expected a whole number
/// between 0 and 4294967295, found the string "http"`). No Rust type names.
fn in_user_terms(message: &str) -> String {
    let Some(rest) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
    else {
        return message.to_string();
    };
    let Some((found, expected)) = rest.rsplit_once(", expected ") else {
        return message.to_string();
    };
    let expected_text = match expected {
        "u8" => "a whole number between 0 and 255".to_string(),
        "u16" => "a whole number between 0 and 65535".to_string(),
        "u32" => "a whole number between 0 and 4294967295".to_string(),
        "u64" => "a whole number between 0 and 18446744073709551615".to_string(),
        "i32" => "a whole number between -2147483648 and 2147483647".to_string(),
        "i64" => "a whole number between -9223372036854775808 and 9223372036854775807".to_string(),
        "f32" | "f64" => "a number".to_string(),
        "a boolean" => "true or false".to_string(),
        "a sequence" => "a list".to_string(),
        "a map" => "an object (a mapping of keys to values)".to_string(),
        other if other.starts_with("struct ") => {
            "an object (a mapping of keys to values)".to_string()
        }
        other => other.to_string(),
    };
    let found_text = if let Some(text) = found.strip_prefix("string ") {
        format!("the string {text}")
    } else if let Some(n) = found
        .strip_prefix("integer `")
        .or_else(|| found.strip_prefix("floating point `"))
    {
        format!("the number {}", n.trim_end_matches('`'))
    } else if let Some(b) = found.strip_prefix("boolean `") {
        b.trim_end_matches('`').to_string()
    } else {
        match found {
            "map" => "an object".to_string(),
            "sequence" => "a list".to_string(),
            "unit value" | "null" => "null (no value)".to_string(),
            other => other.to_string(),
        }
    };
    // A quoted number or boolean is a string in YAML: say how to write the value.
    let unquoted = found
        .strip_prefix("string \"")
        .and_then(|t| t.strip_suffix('"'))
        .filter(|t| {
            (expected == "a boolean" && matches!(*t, "true" | "false"))
                || (expected_text.starts_with("a whole number") && t.parse::<i128>().is_ok())
        });
    match unquoted {
        Some(_) => format!(
            "expected {expected_text}, found the string {} (write it without quotes)",
            found.trim_start_matches("string ")
        ),
        None => format!("expected {expected_text}, found {found_text}"),
    }
}

fn join_path(prefix: &str, rest: &str) -> String {
    match (prefix.is_empty(), rest.is_empty() || rest == ".") {
        (_, true) => prefix.to_string(),
        (true, false) => rest.to_string(),
        (false, false) if rest.starts_with('[') => format!("{prefix}{rest}"),
        (false, false) => format!("{prefix}.{rest}"),
    }
}

/// Splits serde's "unknown field `x`, expected `a` or `b`" into the field and the expected
/// names.
fn unknown_field(message: &str) -> Option<(&str, Vec<&str>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, rest) = rest.split_once('`')?;
    let expected = rest.split('`').skip(1).step_by(2).collect::<Vec<_>>();
    Some((field, expected))
}

/// Appends "did you mean `x`?" when one expected field is close to the unknown one.
fn with_suggestion(message: &str, field: &str, expected: &[&str]) -> String {
    let best = expected
        .iter()
        .map(|candidate| {
            (
                strsim::damerau_levenshtein(
                    &field.to_ascii_lowercase(),
                    &candidate.to_ascii_lowercase(),
                ),
                *candidate,
            )
        })
        .min();
    match best {
        Some((distance, candidate)) if distance <= 2 || candidate.eq_ignore_ascii_case(field) => {
            format!("{message} (did you mean `{candidate}`?)")
        }
        _ => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use networking::VirtualMeshSpec;
    use serde_json::json;

    #[test]
    fn long_keys_and_values_are_not_shown_in_paths_or_quotes() {
        let line = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7";
        assert_eq!(shown_path(&format!("data.{line}")), "data.<long key>");
        assert_eq!(shown_path("spec.meshes[0].name"), "spec.meshes[0].name");
        let result = crate::krm::KrmResult::error("x").with_field(format!("spec.{line}"));
        assert_eq!(result.field.unwrap().path, "spec.<long key>");
        assert_eq!(quoted("2026-11-01"), "\"2026-11-01\"");
        assert_eq!(quoted(&"k".repeat(44)), "(a long value, not shown)");
    }

    #[test]
    fn unknown_fields_name_their_path_and_a_suggestion() {
        let err = parse_resource::<VirtualMeshSpec>(
            &json!({"metadata": {"name": "vm"}, "spec": {"meshes": [{"nme": "a"}]}}),
            0,
        )
        .unwrap_err();
        assert_eq!(err.path, "spec.meshes[0].nme");
        assert!(
            err.message.contains("did you mean `name`?"),
            "{}",
            err.message
        );
    }

    #[test]
    fn unknown_top_level_fields_are_errors() {
        // A misspelt `spec` must not read as an empty spec.
        let err = parse_resource::<VirtualMeshSpec>(
            &json!({"metadata": {"name": "vm"}, "sepc": {"meshes": []}}),
            0,
        )
        .unwrap_err();
        assert_eq!(err.path, "sepc");
        assert!(
            err.message.contains("did you mean `spec`?"),
            "{}",
            err.message
        );
    }

    #[test]
    fn wrong_types_name_their_path() {
        let err = parse_resource::<VirtualMeshSpec>(
            &json!({"spec": {"federation": {"flatNetwork": "yes"}}}),
            0,
        )
        .unwrap_err();
        assert_eq!(err.path, "spec.federation.flatNetwork");
        assert_eq!(
            err.message,
            "expected true or false, found the string \"yes\""
        );
    }

    #[test]
    fn long_values_are_not_quoted_in_messages() {
        let key = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n";
        let err = parse_resource::<VirtualMeshSpec>(
            &json!({"spec": {"federation": {"flatNetwork": key}}}),
            0,
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "expected true or false, found a long string (not shown)"
        );
        let err = parse_resource::<VirtualMeshSpec>(
            &json!({"spec": {"globalAccessPolicy": "x".repeat(41)}}),
            0,
        )
        .unwrap_err();
        assert!(
            err.message.starts_with(
                "unknown value (a long string, not shown), expected one of MESH_DEFAULT"
            ),
            "{}",
            err.message
        );
        // Short values stay: they are what the user needs to find the mistake.
        let err = parse_resource::<VirtualMeshSpec>(
            &json!({"spec": {"federation": {"flatNetwork": "yes"}}}),
            0,
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "expected true or false, found the string \"yes\""
        );
    }

    #[test]
    fn wrong_types_say_what_the_field_takes_without_rust_type_names() {
        let cases = [
            (
                "invalid type: string \"http\", expected u32",
                "expected a whole number between 0 and 4294967295, found the string \"http\"",
            ),
            (
                "invalid type: string \"80\", expected u32",
                "expected a whole number between 0 and 4294967295, found the string \"80\" (write it without quotes)",
            ),
            (
                "invalid value: integer `-1`, expected u32",
                "expected a whole number between 0 and 4294967295, found the number -1",
            ),
            (
                "invalid type: string \"true\", expected a boolean",
                "expected true or false, found the string \"true\" (write it without quotes)",
            ),
            (
                "invalid type: map, expected a sequence",
                "expected a list, found an object",
            ),
            (
                "invalid type: sequence, expected struct ObjectRef",
                "expected an object (a mapping of keys to values), found a list",
            ),
        ];
        for (serde, ours) in cases {
            assert_eq!(in_user_terms(serde), ours);
        }
        let err = parse_resource::<crate::model::discovery::DestinationSpec>(
            &json!({"spec": {"kubeService": {"ports": [{"port": "http"}]}}}),
            0,
        )
        .unwrap_err();
        assert!(!err.message.contains("u32"), "{}", err.message);
    }

    #[test]
    fn enums_accept_names_and_numbers() {
        let r = parse_resource::<VirtualMeshSpec>(&json!({"spec": {"globalAccessPolicy": 1}}), 0)
            .unwrap();
        assert_eq!(
            r.spec.global_access_policy,
            networking::GlobalAccessPolicy::Enabled
        );
        let err =
            parse_resource::<VirtualMeshSpec>(&json!({"spec": {"globalAccessPolicy": "ON"}}), 0)
                .unwrap_err();
        assert_eq!(err.path, "spec.globalAccessPolicy");
        assert!(
            err.message.contains("MESH_DEFAULT, ENABLED, DISABLED"),
            "{}",
            err.message
        );
    }
}
