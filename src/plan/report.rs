//! Attaching results to the input items they are about.

use crate::index::at;
use crate::krm::{Item, KrmResult, Results, Severity};

/// The tag that keeps Gloo Mesh's own text of a problem searchable, beside vmesh's message.
pub const GLOO_MESH_MESSAGE_TAG: &str = "gloo-mesh-message";

/// A result's message in the user's terms, and Gloo Mesh's text for the same problem when
/// it has one (it goes to the `gloo-mesh-message` tag, never into the message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub gloo: Option<String>,
}

impl Message {
    pub fn new(text: impl Into<String>, gloo: impl Into<String>) -> Self {
        Message {
            text: text.into(),
            gloo: Some(gloo.into()),
        }
    }

    fn result(self, severity: Severity) -> KrmResult {
        let result = KrmResult::new(severity, self.text);
        match self.gloo {
            Some(gloo) => result.with_tag(GLOO_MESH_MESSAGE_TAG, gloo),
            None => result,
        }
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Message { text, gloo: None }
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Message::from(text.to_string())
    }
}

/// Collects results for items of the input, filling in resourceRef and file.
pub struct Report<'a> {
    items: &'a [Item],
    pub results: &'a mut Results,
}

impl<'a> Report<'a> {
    pub fn new(items: &'a [Item], results: &'a mut Results) -> Self {
        Report { items, results }
    }

    /// The input items (for a report of its own on another thread).
    pub fn items(&self) -> &'a [Item] {
        self.items
    }

    pub fn error(&mut self, item: usize, field: &str, message: impl Into<Message>) {
        self.push(
            item,
            message.into().result(Severity::Error).with_field(field),
        );
    }

    pub fn warning(&mut self, item: usize, field: &str, message: impl Into<Message>) {
        self.push(
            item,
            message.into().result(Severity::Warning).with_field(field),
        );
    }

    pub fn info(&mut self, item: usize, field: &str, message: impl Into<Message>) {
        self.push(
            item,
            message.into().result(Severity::Info).with_field(field),
        );
    }

    fn push(&mut self, item: usize, result: KrmResult) {
        self.results.push(at(&self.items[item], result));
    }
}
