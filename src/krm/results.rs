//! KRM function results: the one way vmesh reports problems (decisions D6).

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

/// What a result is about: the KRM `resourceRef`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ResourceRef {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct FieldRef {
    pub path: String,
}

/// Where the resource came from: `internal.config.kubernetes.io/path` and `/index`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct FileRef {
    pub path: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub index: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KrmResult {
    pub message: String,
    pub severity: Severity,
    #[serde(rename = "resourceRef", skip_serializing_if = "Option::is_none")]
    pub resource_ref: Option<ResourceRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<FieldRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<FileRef>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

impl KrmResult {
    pub fn new(severity: Severity, message: impl Into<String>) -> Self {
        KrmResult {
            message: message.into(),
            severity,
            resource_ref: None,
            field: None,
            file: None,
            tags: BTreeMap::new(),
        }
    }

    pub fn error(message: impl Into<String>) -> Self {
        Self::new(Severity::Error, message)
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, message)
    }

    pub fn info(message: impl Into<String>) -> Self {
        Self::new(Severity::Info, message)
    }

    /// The result a panic becomes (the binary's panic hook): where vmesh failed and what to
    /// do. It never carries the panic's own message, which may quote input data.
    pub fn internal_error(location: Option<&std::panic::Location<'_>>) -> Self {
        let at = location
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        Self::error(format!(
            "internal error{at}: vmesh panicked; nothing was rendered. This is a bug: please report it with the input that caused it"
        ))
    }

    pub fn with_field(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        // The same rule as messages: a long key (a key line pasted as a field name) is not
        // shown.
        let path = crate::model::shown_path(&path).into_owned();
        if !path.is_empty() {
            self.field = Some(FieldRef { path });
        }
        self
    }

    pub fn with_tag(mut self, key: &str, value: impl Into<String>) -> Self {
        self.tags.insert(key.to_string(), value.into());
        self
    }

    /// Sort key that keeps results stable whatever order the checks ran in.
    fn sort_key(&self) -> impl Ord + '_ {
        (
            self.severity,
            &self.file,
            &self.resource_ref,
            &self.field,
            &self.message,
        )
    }
}

/// `text` with control characters written as escapes (`\n`, `\t`, `\u{1b}`): a file or
/// object name with a newline must not start a line of its own on stderr, where it could
/// pass for another result (`[error] …`) or hide one.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

impl fmt::Display for KrmResult {
    /// The form printed on stderr: `[error] Kind/ns/name (file) spec.x: message`, on one
    /// line whatever the names and the message hold.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = escape_controls;
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        };
        write!(f, "[{severity}]")?;
        if let Some(r) = &self.resource_ref {
            if r.namespace.is_empty() {
                write!(f, " {}/{}", e(&r.kind), e(&r.name))?;
            } else {
                write!(f, " {}/{}/{}", e(&r.kind), e(&r.namespace), e(&r.name))?;
            }
        }
        if let Some(file) = &self.file {
            if file.index == 0 {
                write!(f, " ({})", e(&file.path))?;
            } else {
                write!(f, " ({}#{})", e(&file.path), file.index)?;
            }
        }
        if let Some(field) = &self.field {
            write!(f, " {}", e(&field.path))?;
        }
        write!(f, ": {}", e(&self.message))
    }
}

/// The results of one run, in the order they are reported.
#[derive(Debug, Default, Clone)]
pub struct Results(Vec<KrmResult>);

impl Results {
    pub fn push(&mut self, result: KrmResult) {
        self.0.push(result);
    }

    /// Moves every result of `other` here.
    pub fn append(&mut self, mut other: Results) {
        self.0.append(&mut other.0);
    }

    pub fn extend(&mut self, results: impl IntoIterator<Item = KrmResult>) {
        self.0.extend(results);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|r| r.severity == Severity::Error)
    }

    pub fn iter(&self) -> impl Iterator<Item = &KrmResult> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Sorted, duplicates removed: the order results are written in.
    pub fn into_sorted(mut self) -> Vec<KrmResult> {
        self.0.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        self.0.dedup();
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_with_a_newline_cannot_forge_a_line() {
        let mut result = KrmResult::warning("it is kept\n[error] forged");
        result.file = Some(FileRef {
            path: "x.yaml\n[error] VirtualMesh/a/b: forged".into(),
            index: 0,
        });
        let line = result.to_string();
        assert_eq!(line.lines().count(), 1, "{line}");
        assert!(line.contains("x.yaml\\n[error]"), "{line}");
        assert_eq!(escape_controls("a\tb\u{1b}c"), "a\\tb\\u{1b}c");
    }

    #[test]
    fn a_panic_becomes_one_error_result_without_its_message() {
        let result = KrmResult::internal_error(Some(std::panic::Location::caller()));
        assert_eq!(result.severity, Severity::Error);
        assert!(
            result
                .message
                .starts_with(&format!("internal error at {}:", file!())),
            "{}",
            result.message
        );
        let mut out = String::new();
        crate::krm::write_results_only(&mut out, std::slice::from_ref(&result));
        let list: serde_json::Value = serde_saphyr::from_str(&out).unwrap();
        assert_eq!(list["kind"], "ResourceList");
        assert!(list.get("items").is_none(), "{out}");
        assert_eq!(list["results"][0]["severity"], "error");
        assert_eq!(list["results"][0]["message"], result.message.as_str());
    }
}
