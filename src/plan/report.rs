//! Attaching results to the input items they are about.

use crate::index::at;
use crate::krm::{Item, KrmResult, Results};

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

    pub fn error(&mut self, item: usize, field: &str, message: impl Into<String>) {
        self.push(item, KrmResult::error(message).with_field(field));
    }

    pub fn warning(&mut self, item: usize, field: &str, message: impl Into<String>) {
        self.push(item, KrmResult::warning(message).with_field(field));
    }

    pub fn info(&mut self, item: usize, field: &str, message: impl Into<String>) {
        self.push(item, KrmResult::info(message).with_field(field));
    }

    fn push(&mut self, item: usize, result: KrmResult) {
        self.results.push(at(&self.items[item], result));
    }
}
