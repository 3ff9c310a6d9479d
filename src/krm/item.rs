//! One resource of a ResourceList, with cheap accessors for the fields vmesh routes on.

use super::results::{FileRef, ResourceRef};
use super::{INDEX_ANNOTATION, LEGACY_INDEX_ANNOTATION, LEGACY_PATH_ANNOTATION, PATH_ANNOTATION};
use crate::yaml::raw::RawSpan;
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Item {
    pub value: Value,
    /// Where the item's text lies in the input, when it can be copied verbatim.
    pub raw: Option<RawSpan>,
    /// Position in the input list (0-based), for messages when no file is known.
    pub position: usize,
}

impl Item {
    pub fn new(value: Value, raw: Option<RawSpan>, position: usize) -> Self {
        Item {
            value,
            raw,
            position,
        }
    }

    pub fn api_version(&self) -> &str {
        self.value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    pub fn kind(&self) -> &str {
        self.value.get("kind").and_then(Value::as_str).unwrap_or("")
    }

    pub fn name(&self) -> &str {
        self.metadata_str("name")
    }

    pub fn namespace(&self) -> &str {
        self.metadata_str("namespace")
    }

    fn metadata_str(&self, key: &str) -> &str {
        self.value
            .get("metadata")
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.value
            .get("metadata")?
            .get("annotations")?
            .get(key)?
            .as_str()
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.value
            .get("metadata")?
            .get("labels")?
            .get(key)?
            .as_str()
    }

    /// True for `group/version` or `version` apiVersions of the given group.
    pub fn is_group(&self, group: &str) -> bool {
        match self.api_version().rsplit_once('/') {
            Some((g, _)) => g == group,
            None => group.is_empty(),
        }
    }

    pub fn resource_ref(&self) -> ResourceRef {
        ResourceRef {
            api_version: self.api_version().to_string(),
            kind: self.kind().to_string(),
            name: self.name().to_string(),
            namespace: self.namespace().to_string(),
        }
    }

    pub fn file_ref(&self) -> Option<FileRef> {
        let path = self
            .annotation(PATH_ANNOTATION)
            .or_else(|| self.annotation(LEGACY_PATH_ANNOTATION))?;
        let index = self
            .annotation(INDEX_ANNOTATION)
            .or_else(|| self.annotation(LEGACY_INDEX_ANNOTATION))
            .and_then(|i| i.parse().ok())
            .unwrap_or(0);
        Some(FileRef {
            path: path.to_string(),
            index,
        })
    }

    /// Marks the item as changed: it is re-emitted from its value instead of copied.
    pub fn value_mut(&mut self) -> &mut Value {
        self.raw = None;
        &mut self.value
    }
}
