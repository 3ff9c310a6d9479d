//! Writing the output: one block-style ResourceList document (or a `---` stream).

use super::results::KrmResult;
use super::{Envelope, Item};
use crate::yaml::emit;
use crate::yaml::raw;
use serde_json::Value;

/// One item of the output: a copy of an input item, or a document vmesh rendered (already
/// emitted as block YAML at column 0).
pub enum OutputItem<'a> {
    Input(&'a Item),
    Rendered(&'a str),
    /// Several rendered documents in one owned buffer (each starts at an offset): written,
    /// then freed, so the output and the rendered text do not both stay in memory.
    Batch(String, Vec<usize>),
}

impl OutputItem<'_> {
    /// The documents of a batch, or the item itself.
    fn for_each_document(self, mut write: impl FnMut(OutputItem<'_>)) {
        match self {
            OutputItem::Batch(text, starts) => {
                for (i, start) in starts.iter().enumerate() {
                    let end = starts.get(i + 1).copied().unwrap_or(text.len());
                    write(OutputItem::Rendered(&text[*start..end]));
                }
            }
            single => write(single),
        }
    }
}

/// Writes `apiVersion`, `kind`, `items`, `functionConfig` and `results` (D2: one document,
/// block style, no trailing `---`).
pub fn write_resource_list<'a>(
    out: &mut String,
    envelope: &Envelope,
    input_text: &str,
    items: impl IntoIterator<Item = OutputItem<'a>>,
    function_config: Option<&Value>,
    results: &[KrmResult],
) {
    let (api_version, kind) = match envelope {
        Envelope::List { api_version, kind } => (api_version.as_str(), kind.as_str()),
        Envelope::Stream => ("config.kubernetes.io/v1", "ResourceList"),
    };
    out.push_str("apiVersion: ");
    out.push_str(api_version);
    out.push_str("\nkind: ");
    out.push_str(kind);
    out.push('\n');
    let mut items = items.into_iter().peekable();
    if items.peek().is_none() {
        out.push_str("items: []\n");
    } else {
        out.push_str("items:\n");
        for item in items {
            item.for_each_document(|document| {
                out.push_str("- ");
                write_item_body(out, input_text, document, 0);
            });
        }
    }
    if let Some(config) = function_config {
        out.push_str("functionConfig:");
        write_nested(out, config);
    }
    let all_results: Vec<Value> = results
        .iter()
        .map(|r| serde_json::to_value(r).expect("results serialize"))
        .collect();
    if !all_results.is_empty() {
        out.push_str("results:");
        write_nested(out, &Value::Array(all_results));
    }
}

/// A ResourceList with no items at all, only results: the answer to input that could not be
/// read. Hosts see the results and the failed exit code; there is no item list to misread.
pub fn write_results_only(out: &mut String, results: &[KrmResult]) {
    out.push_str("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n");
    let results: Vec<Value> = results
        .iter()
        .map(|r| serde_json::to_value(r).expect("results serialize"))
        .collect();
    if !results.is_empty() {
        out.push_str("results:");
        write_nested(out, &Value::Array(results));
    }
}

/// Writes items as a plain `---`-separated stream (kustomize, Argo CD).
pub fn write_stream<'a>(
    out: &mut String,
    input_text: &str,
    items: impl IntoIterator<Item = OutputItem<'a>>,
) {
    let mut first = true;
    for item in items {
        item.for_each_document(|document| {
            if !first {
                out.push_str("---\n");
            }
            first = false;
            match document {
                OutputItem::Input(input) => match input.raw {
                    Some(span) => raw::append_reindented(out, input_text, span, 0),
                    None => emit::emit_document(out, &input.value),
                },
                OutputItem::Rendered(text) => out.push_str(text),
                OutputItem::Batch(..) => unreachable!("batches are split into documents"),
            }
        });
    }
}

/// The body of a `- ` sequence entry at column `indent`.
fn write_item_body(out: &mut String, input_text: &str, item: OutputItem<'_>, indent: usize) {
    match item {
        OutputItem::Input(input) => match (input.raw, &input.value) {
            (Some(span), _) => raw::append_reindented(out, input_text, span, indent + 2),
            (None, Value::Object(map)) if !map.is_empty() => {
                emit::emit_mapping(out, map, indent + 2)
            }
            (None, other) => emit::emit_document(out, other),
        },
        OutputItem::Rendered(text) => {
            for (n, line) in text.split_inclusive('\n').enumerate() {
                if n > 0 && line != "\n" {
                    emit::push_indent(out, indent + 2);
                }

                out.push_str(line);
            }
        }
        OutputItem::Batch(..) => unreachable!("batches are split into documents"),
    }
}

/// A top-level key's value, after `key:` has been written.
fn write_nested(out: &mut String, value: &Value) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push_str("\n  ");
            emit::emit_mapping(out, map, 2);
        }
        Value::Array(seq) if !seq.is_empty() => {
            out.push('\n');
            emit::emit_sequence(out, seq, 0);
        }
        other => {
            out.push(' ');
            emit::emit_document(out, other);
        }
    }
}
