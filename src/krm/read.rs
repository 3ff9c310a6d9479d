//! Reading a ResourceList (or a plain `---` stream) into [`Item`]s.

use super::{Envelope, Item, ResourceList};
use crate::yaml::fast::{self, ParsedItem, Unsupported};
use crate::yaml::parse;
use crate::yaml::raw::{self, RawSpan};
use serde::Deserialize;
use serde::de::{Deserializer, SeqAccess, Visitor};
use serde_json::{Map, Value};
use serde_saphyr::Spanned;
use std::cell::Cell;
use std::rc::Rc;

/// Input that cannot be read at all. The message is complete and safe to show: it never
/// contains input text beyond a position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire<I> {
    #[serde(rename = "apiVersion")]
    api_version: Option<String>,
    kind: Option<String>,
    /// Accepted and ignored.
    #[serde(default)]
    #[allow(dead_code)]
    metadata: Option<Value>,
    #[serde(default = "none")]
    items: Option<I>,
    #[serde(rename = "functionConfig", default)]
    function_config: Option<Value>,
    #[serde(default)]
    results: Option<Vec<Value>>,
}

fn none<T>() -> Option<T> {
    None
}

const LIST_API_VERSIONS: &[&str] = &[
    "config.kubernetes.io/v1",
    "config.kubernetes.io/v1beta1",
    "config.kubernetes.io/v1alpha1",
];

/// A ResourceList document as read, before its envelope is checked.
struct ListParts {
    api_version: Option<String>,
    kind: Option<String>,
    items: Vec<Item>,
    function_config: Option<Value>,
    results: Option<Vec<Value>>,
}

/// Reads one ResourceList (or `kind: List`) document, the KRM function input.
///
/// Block-style input goes through the fast reader ([`crate::yaml::fast`]); anything it
/// leaves alone, and every error, through serde-saphyr. Either way, vmesh's own earlier
/// outputs are kept as a skeleton (see [`droppable`]).
pub fn read_resource_list(text: String) -> Result<ResourceList, InputError> {
    check_shape(&text)?;
    let parts = match fast_list(&text) {
        Ok(parts) => parts,
        Err(_) => saphyr_list(&text, true)?,
    };
    finish_list(parts, text)
}

fn fast_list(text: &str) -> Result<ListParts, Unsupported> {
    let doc = fast::read_list(text, &droppable, &|position, item| {
        let limit = item.next;
        fast_item(text, item, position, |t, start, column| {
            raw::block_item_span_until(t, start, column, limit)
        })
    })?;
    Ok(ListParts {
        api_version: doc.api_version,
        kind: doc.kind,
        items: doc.items,
        function_config: doc.function_config,
        results: doc.results,
    })
}

/// Reads the ResourceList with serde-saphyr. With `lean`, vmesh's own outputs are cut to
/// their skeleton one item at a time; when that turns out to lose a value that is needed
/// (an item without a raw span, or aliases anywhere), the input is read again in full.
fn saphyr_list(text: &str, lean: bool) -> Result<ListParts, InputError> {
    let copyable = copyable_lines(text);
    if lean && copyable {
        let (wire, uses_aliases) = saphyr_wire::<LeanItems>(text)?;
        if !uses_aliases {
            let items = wire.items.map(LeanItems::finish).unwrap_or_default();
            // A skeleton must be copied from the input whole; if any span is in doubt,
            // read again keeping every value.
            if let Some(mut items) = lean_items(text, items, false, raw::block_item_span)
                && super::verify::verify_lean_spans(text, &mut items)
            {
                cut_last(&mut items);
                return Ok(ListParts {
                    api_version: wire.api_version,
                    kind: wire.kind,
                    items,
                    function_config: wire.function_config,
                    results: wire.results,
                });
            }
        }
    }
    let (wire, uses_aliases) = saphyr_wire::<Vec<Spanned<Value>>>(text)?;
    let mut items: Vec<Item> = wire
        .items
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(position, spanned)| {
            let span = copyable
                .then(|| item_span(text, &spanned, raw::block_item_span))
                .flatten()
                .filter(|span| self_contained(text, span, uses_aliases));
            Item::new(spanned.value, span, position)
        })
        .collect();
    super::verify::verify_spans(text, &mut items);
    if lean {
        items.iter_mut().for_each(cut_if_droppable);
    }
    Ok(ListParts {
        api_version: wire.api_version,
        kind: wire.kind,
        items,
        function_config: wire.function_config,
        results: wire.results,
    })
}

/// vmesh's parser options, and a flag set once parsing has seen an anchor or an alias
/// (items read through aliases have no text of their own to copy).
fn options_noting_aliases() -> (serde_saphyr::Options, Rc<Cell<bool>>) {
    let uses_aliases = Rc::new(Cell::new(false));
    let flag = uses_aliases.clone();
    let options = parse::options().with_budget_report(move |report| {
        if report.aliases > 0 || report.anchors > 0 {
            flag.set(true);
        }
    });
    (options, uses_aliases)
}

/// The one document of a ResourceList, and whether the input uses anchors or aliases.
fn saphyr_wire<I>(text: &str) -> Result<(Wire<I>, bool), InputError>
where
    I: for<'de> Deserialize<'de>,
{
    let (options, uses_aliases) = options_noting_aliases();
    let docs: Vec<Wire<I>> =
        serde_saphyr::from_str_multiple_with_options(text, options).map_err(|e| {
            match super::explain::not_a_resource_list(text) {
                Some(message) => InputError(message),
                None => yaml_error("the ResourceList", &e, text),
            }
        })?;
    let wire = match docs.len() {
        1 => docs.into_iter().next().expect("one document"),
        0 => {
            return Err(InputError(format!(
                "input is empty: expected one ResourceList document on stdin{RENDER_HINT}"
            )));
        }
        n => {
            return Err(InputError(format!(
                "input has {n} YAML documents; expected exactly one ResourceList document{RENDER_HINT}"
            )));
        }
    };
    Ok((wire, uses_aliases.get()))
}

/// What a person who piped plain manifests into `vmesh` wants instead.
pub const RENDER_HINT: &str =
    "; to render YAML files of plain manifests, run `vmesh render FILE|DIR...` instead";

fn finish_list(parts: ListParts, text: String) -> Result<ResourceList, InputError> {
    let kind = parts.kind.unwrap_or_default();
    let api_version = parts.api_version.unwrap_or_default();
    match kind.as_str() {
        "ResourceList" if LIST_API_VERSIONS.contains(&api_version.as_str()) => {}
        "List" if api_version == "v1" || LIST_API_VERSIONS.contains(&api_version.as_str()) => {}
        "ResourceList" | "List" => {
            return Err(InputError(format!(
                "unsupported apiVersion {api_version:?} for kind {kind}; expected one of config.kubernetes.io/v1, v1beta1, v1alpha1 (or v1 for List)"
            )));
        }
        _ => {
            return Err(InputError(format!(
                "input is not a ResourceList: found kind {kind:?} (apiVersion {api_version:?}); a KRM function reads one ResourceList with `items`{RENDER_HINT}"
            )));
        }
    }
    check_items(&parts.items, &text)?;
    Ok(ResourceList {
        envelope: Envelope::List { api_version, kind },
        items: parts.items,
        function_config: parts.function_config,
        results: parts.results.unwrap_or_default(),
        text,
    })
}

/// Reads a plain `---` stream of objects (kustomize transformer input, files of a repo).
/// A stream that is a single ResourceList or List document is unwrapped.
pub fn read_stream(text: String) -> Result<ResourceList, InputError> {
    check_shape(&text)?;
    let docs = match fast_stream(&text) {
        Ok(docs) => docs,
        Err(_) => saphyr_stream(&text, true)?,
    };
    finish_stream(docs, text, read_resource_list)
}

fn fast_stream(text: &str) -> Result<Vec<Item>, Unsupported> {
    fast::read_stream(text, &droppable, &|position, item| {
        fast_item(text, item, position, |t, start, _| {
            raw::document_span(t, start)
        })
    })
}

/// The documents of a stream read with serde-saphyr (null documents left out); `lean` as
/// for [`saphyr_list`].
fn saphyr_stream(text: &str, lean: bool) -> Result<Vec<Item>, InputError> {
    let find = |t: &str, start: usize, _: usize| raw::document_span(t, start);
    let copyable = copyable_lines(text);
    if lean && copyable {
        let (docs, uses_aliases) = saphyr_docs::<LeanItems>(text)?;
        if !uses_aliases && let Some(mut items) = lean_items(text, docs.finish(), true, find) {
            cut_last(&mut items);
            return Ok(items);
        }
    }
    let (docs, uses_aliases) = saphyr_docs::<Vec<Spanned<Value>>>(text)?;
    Ok(docs
        .into_iter()
        .filter(|doc| !doc.value.is_null())
        .enumerate()
        .map(|(position, doc)| {
            let span = copyable
                .then(|| item_span(text, &doc, find))
                .flatten()
                .filter(|span| self_contained(text, span, uses_aliases));
            item(doc.value, span, position, lean)
        })
        .collect())
}

/// Whether an item's text can be copied alone: always without aliases in the input;
/// with them, when the item itself uses none (its anchors, if any, stay harmless: a copy
/// defines them again, and the items that use them are written from their values).
fn self_contained(text: &str, span: &RawSpan, uses_aliases: bool) -> bool {
    !uses_aliases || !raw::uses_alias(&text[span.start..span.end])
}

fn saphyr_docs<C>(text: &str) -> Result<(C, bool), InputError>
where
    C: Default + Extend<Spanned<Value>>,
{
    let (options, uses_aliases) = options_noting_aliases();
    let docs: C = serde_saphyr::from_str_multiple_with_options::<Spanned<Value>, C>(text, options)
        .map_err(|e| yaml_error("the input stream", &e, text))?;
    Ok((docs, uses_aliases.get()))
}

fn finish_stream(
    items: Vec<Item>,
    text: String,
    read_list: impl FnOnce(String) -> Result<ResourceList, InputError>,
) -> Result<ResourceList, InputError> {
    if items.len() == 1
        && matches!(
            items[0].value.get("kind").and_then(Value::as_str),
            Some("ResourceList" | "List")
        )
        && items[0].value.get("items").is_some()
    {
        drop(items);
        return read_list(text);
    }
    check_items(&items, &text)?;
    Ok(ResourceList {
        envelope: Envelope::Stream,
        items,
        function_config: None,
        results: Vec::new(),
        text,
    })
}

/// True for an item that vmesh generated on an earlier run (see
/// [`crate::index::ownership`]) and whose value no stage reads: the run drops and
/// regenerates it. `v1` Secrets are kept whole (certificates are reused from them), and so
/// are ResourceList and List documents (a stream may be one).
pub fn droppable(item: &Map<String, Value>) -> bool {
    let field = |key: &str| item.get(key).and_then(Value::as_str).unwrap_or("");
    crate::index::ownership(item) == crate::index::Ownership::Generated
        && !(field("apiVersion") == "v1" && field("kind") == "Secret")
        && !matches!(field("kind"), "ResourceList" | "List")
}

/// What is kept of a droppable item: `apiVersion`, `kind` and `metadata` with only `name`,
/// `namespace`, `labels` and the `vmesh.dev/` annotations — enough to see it as vmesh's
/// ([`crate::index::ownership`] decides again on the skeleton) and drop it (no stage reads
/// the other annotations of vmesh's own outputs, and they are most of a skeleton's size).
/// Its text is still copied from the input when a run fails.
pub fn skeleton(item: Map<String, Value>) -> Value {
    let mut kept = Map::with_capacity(3);
    for (key, value) in item {
        match key.as_str() {
            "apiVersion" | "kind" => {
                kept.insert(key, value);
            }
            "metadata" => {
                let value = match value {
                    Value::Object(metadata) => {
                        let fields = ["name", "namespace", "labels"];
                        let n = metadata
                            .keys()
                            .filter(|k| fields.contains(&k.as_str()) || *k == "annotations")
                            .count();
                        let mut slim = Map::with_capacity(n);
                        for (k, v) in metadata {
                            if fields.contains(&k.as_str()) {
                                slim.insert(k, compact(v));
                            } else if k == "annotations" {
                                slim.insert(k, own_annotations(v));
                            }
                        }
                        Value::Object(slim)
                    }
                    other => other,
                };
                kept.insert(key, value);
            }
            _ => {}
        }
    }
    Value::Object(kept)
}

/// Only vmesh's own (`vmesh.dev/`) annotations, which decide ownership.
fn own_annotations(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut kept = Map::with_capacity(3);
            kept.extend(map.into_iter().filter(|(k, _)| k.starts_with("vmesh.dev/")));
            Value::Object(kept)
        }
        other => other,
    }
}

/// A mapping rebuilt at its exact size (maps grow by doubling while they are read; a
/// skeleton is kept for the whole run, for each of up to a million items).
fn compact(value: Value) -> Value {
    match value {
        Value::Object(map) if map.len() > 1 => {
            let mut exact = Map::with_capacity(map.len());
            exact.extend(map);
            Value::Object(exact)
        }
        other => other,
    }
}

/// An item read in full; with `lean`, cut to its skeleton when it is droppable and can be
/// copied from the input.
fn item(value: Value, span: Option<RawSpan>, position: usize, lean: bool) -> Item {
    let mut item = Item::new(value, span, position);
    if lean {
        cut_if_droppable(&mut item);
    }
    item
}

/// Cuts the item to its skeleton when it is droppable and its text can be copied from the
/// input (its raw span has been checked).
fn cut_if_droppable(item: &mut Item) {
    if item.raw.is_some()
        && let Value::Object(map) = &mut item.value
        && droppable(map)
    {
        item.value = skeleton(std::mem::take(map));
    }
}

/// An item of the fast path with its span; a droppable one becomes a skeleton.
fn fast_item(
    text: &str,
    item: ParsedItem,
    position: usize,
    find: impl Fn(&str, usize, usize) -> Option<RawSpan>,
) -> Result<Item, Unsupported> {
    let span = if item.value.is_object() {
        span_at(text, item.start, &find)
    } else {
        None
    };
    if span.is_none() && item.skipped {
        return Err(Unsupported("skipped an item without a raw span"));
    }
    let mut item = Item::new(item.value, span, position);
    cut_if_droppable(&mut item);
    Ok(item)
}

/// One element of `items` (or one stream document) read by serde-saphyr: droppable ones are
/// already cut to a skeleton.
struct LeanItem {
    value: Value,
    offset: Option<u64>,
    cut: bool,
}

impl From<Spanned<Value>> for LeanItem {
    fn from(spanned: Spanned<Value>) -> Self {
        let offset = spanned.defined.span().byte_offset();
        match spanned.value {
            Value::Object(map) if droppable(&map) => LeanItem {
                value: skeleton(map),
                offset,
                cut: true,
            },
            value => LeanItem {
                value,
                offset,
                cut: false,
            },
        }
    }
}

/// A sequence of items deserialized one element at a time, so that reading a large
/// re-render holds about two full items at once. Every item but the last is cut as soon as
/// the next one is read; the last is kept whole, so that its span can be checked against
/// its full value ([`super::verify::verify_lean_spans`]).
#[derive(Default)]
struct LeanItems {
    cut: Vec<LeanItem>,
    last: Option<Spanned<Value>>,
}

impl LeanItems {
    fn push(&mut self, item: Spanned<Value>) {
        if let Some(previous) = self.last.replace(item) {
            self.cut.push(LeanItem::from(previous));
        }
    }

    fn finish(self) -> Vec<LeanItem> {
        let mut items = self.cut;
        if let Some(last) = self.last {
            items.push(LeanItem {
                offset: last.defined.span().byte_offset(),
                value: last.value,
                cut: false,
            });
        }
        items
    }
}

impl Extend<Spanned<Value>> for LeanItems {
    fn extend<T: IntoIterator<Item = Spanned<Value>>>(&mut self, iter: T) {
        for item in iter {
            self.push(item);
        }
    }
}

impl<'de> Deserialize<'de> for LeanItems {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ItemsVisitor;
        impl<'de> Visitor<'de> for ItemsVisitor {
            type Value = LeanItems;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a sequence")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LeanItems, A::Error> {
                let mut items = LeanItems::default();
                while let Some(item) = seq.next_element::<Spanned<Value>>()? {
                    items.push(item);
                }
                Ok(items)
            }
        }
        deserializer.deserialize_seq(ItemsVisitor)
    }
}

/// Cuts the last item of a lean read, kept whole until its span was checked.
fn cut_last(items: &mut [Item]) {
    if let Some(last) = items.last_mut() {
        cut_if_droppable(last);
    }
}

/// Items from serde-saphyr's lean read with their spans (null ones left out when
/// `documents`: a stream's empty documents), or `None` when an item was cut but cannot be
/// copied from the input.
fn lean_items(
    text: &str,
    items: Vec<LeanItem>,
    documents: bool,
    find: impl Fn(&str, usize, usize) -> Option<RawSpan>,
) -> Option<Vec<Item>> {
    items
        .into_iter()
        .filter(|item| !(documents && item.value.is_null()))
        .enumerate()
        .map(|(position, item)| {
            let span = if item.value.is_object() {
                item.offset
                    .and_then(|o| usize::try_from(o).ok())
                    .and_then(|start| span_at(text, start, &find))
            } else {
                None
            };
            if item.cut && span.is_none() {
                return None;
            }
            Some(Item::new(item.value, span, position))
        })
        .collect()
}

fn item_span(
    text: &str,
    spanned: &Spanned<Value>,
    find: impl Fn(&str, usize, usize) -> Option<RawSpan>,
) -> Option<RawSpan> {
    if !spanned.value.is_object() {
        return None;
    }
    let start = usize::try_from(spanned.defined.span().byte_offset()?).ok()?;
    span_at(text, start, &find)
}

/// Whether items of `text` can be copied line by line: its lines end in `\n` (or `\r\n`)
/// only. A lone `\r` also ends a YAML line, and a copy re-indented at `\n`s alone would
/// no longer be the same YAML; such input is re-emitted from its values instead. (The fast
/// reader refuses carriage returns and non-ASCII line breaks altogether.)
fn copyable_lines(text: &str) -> bool {
    let bytes = text.as_bytes();
    let lone_cr = memchr::memchr_iter(b'\r', bytes).any(|i| bytes.get(i + 1) != Some(&b'\n'));
    !lone_cr && !text.contains(['\u{85}', '\u{2028}', '\u{2029}'])
}

/// The raw span of an object item whose node starts at byte `start`.
fn span_at(
    text: &str,
    start: usize,
    find: &impl Fn(&str, usize, usize) -> Option<RawSpan>,
) -> Option<RawSpan> {
    let line_start = text.get(..start)?.rfind('\n').map_or(0, |n| n + 1);
    let column = start - line_start;
    if !text[line_start..start]
        .bytes()
        .all(|b| b == b' ' || b == b'-')
    {
        return None;
    }
    find(text, start, column)
}

/// Each reader on its own, for the differential tests and benchmarks.
#[doc(hidden)]
pub mod paths {
    use super::*;

    /// The fast reader alone: `Err` when it leaves the input to serde-saphyr.
    pub fn fast_resource_list(
        text: String,
    ) -> Result<Result<ResourceList, InputError>, Unsupported> {
        if let Err(error) = check_shape(&text) {
            return Ok(Err(error));
        }
        let parts = fast_list(&text)?;
        Ok(finish_list(parts, text))
    }

    /// serde-saphyr alone; `lean: false` keeps every value (the reader before the fast path).
    pub fn saphyr_resource_list(text: String, lean: bool) -> Result<ResourceList, InputError> {
        check_shape(&text)?;
        let parts = saphyr_list(&text, lean)?;
        finish_list(parts, text)
    }

    /// The fast stream reader alone.
    pub fn fast_stream(text: String) -> Result<Result<ResourceList, InputError>, Unsupported> {
        if let Err(error) = check_shape(&text) {
            return Ok(Err(error));
        }
        let docs = super::fast_stream(&text)?;
        Ok(finish_stream(docs, text, |text| {
            fast_resource_list(text).unwrap_or_else(|_| Err(InputError("unsupported".into())))
        }))
    }

    /// serde-saphyr alone for streams.
    pub fn saphyr_stream(text: String, lean: bool) -> Result<ResourceList, InputError> {
        check_shape(&text)?;
        let docs = super::saphyr_stream(&text, lean)?;
        finish_stream(docs, text, |text| saphyr_resource_list(text, lean))
    }
}

/// Rejects inputs vmesh refuses to parse at all: oversized text, and JSON (vmesh's hosts all
/// send block-style YAML; JSON would come back rewritten in flow style).
fn check_shape(text: &str) -> Result<(), InputError> {
    parse::check_text(text).map_err(InputError)?;
    let first = text
        .lines()
        .map(str::trim_start)
        .find(|l| !l.is_empty() && !l.starts_with('#') && *l != "---");
    if let Some(line) = first
        && (line.starts_with('{') || line.starts_with('['))
    {
        return Err(InputError(
            "input is JSON (or flow-style YAML); vmesh reads block-style YAML, as kpt and kustomize send it".into(),
        ));
    }
    Ok(())
}

/// Every item must be a Kubernetes object: a mapping with apiVersion, kind and metadata.name.
fn check_items(items: &[Item], text: &str) -> Result<(), InputError> {
    // No scalar is longer than the text it was read from (escapes and folding only
    // shorten), so a short input needs no search for long strings.
    let may_hold_long_strings = text.len() > crate::yaml::parse::limits::MAX_SCALAR_BYTES;
    for item in items {
        if !item.value.is_object() {
            return Err(InputError(format!(
                "item {} is not a mapping; every item must be a Kubernetes object",
                item.position
            )));
        }
        let missing: Vec<&str> = [
            ("apiVersion", item.api_version().is_empty()),
            ("kind", item.kind().is_empty()),
            ("metadata.name", item.name().is_empty()),
        ]
        .iter()
        .filter(|(_, missing)| *missing)
        .map(|(field, _)| *field)
        .collect();
        let place = || match item.file_ref() {
            Some(f) => format!("{} (index {})", f.path, f.index),
            None => format!("item {}", item.position),
        };
        if !missing.is_empty() {
            return Err(InputError(format!(
                "{} has no {}; every item must be a Kubernetes object",
                place(),
                missing.join(", ")
            )));
        }
        if !may_hold_long_strings {
            continue;
        }
        if let Some((path, len)) = super::explain::oversized_scalar(&item.value) {
            return Err(InputError(format!(
                "{} ({} {}) {path}: a {len}-byte string; vmesh reads strings of at most {} bytes (Kubernetes stores objects of at most 1.5 MiB)",
                place(),
                item.kind(),
                item.name(),
                crate::yaml::parse::limits::MAX_SCALAR_BYTES
            )));
        }
    }
    Ok(())
}

fn yaml_error(what: &str, error: &serde_saphyr::Error, text: &str) -> InputError {
    InputError(super::explain::yaml_error(what, error, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<ResourceList, InputError> {
        read_resource_list(text.to_string())
    }

    /// Found by the reader fuzz target: a lone `\r` ends a YAML line, so copying the item
    /// re-indented at `\n`s would change its structure.
    #[test]
    fn items_with_lone_carriage_returns_are_not_copied() {
        let text = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n  data:\r    x: y\n    z: w\n";
        let list = read(text).unwrap();
        assert!(list.items[0].raw.is_none());
        assert_eq!(list.items[0].value["data"]["z"], "w");
        assert!(copyable_lines("a: 1\r\nb: 2\r\n"));
        assert!(!copyable_lines("a: 1\u{2028}b: 2\n"));
    }

    #[test]
    fn reads_items_function_config_and_spans() {
        let rl = read(
            "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n  data:\n    x: 'on'\nfunctionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: c}\n",
        )
        .unwrap();
        assert_eq!(rl.items.len(), 1);
        assert_eq!(rl.items[0].value["data"]["x"], "on");
        let span = rl.items[0].raw.unwrap();
        assert!(rl.text[span.start..span.end].starts_with("apiVersion: v1\n"));
        assert!(rl.text[span.start..span.end].ends_with("x: 'on'\n"));
        assert!(rl.function_config.is_some());
    }

    #[test]
    fn keeps_scalar_types_kubernetes_would_keep() {
        let rl = read(
            "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n  data: {a: NO, b: 0777, c: on, d: 1.10}\n",
        )
        .unwrap();
        let data = &rl.items[0].value["data"];
        assert_eq!(data["a"], "NO");
        assert_eq!(data["b"], "0777");
        assert_eq!(data["c"], "on");
        assert_eq!(data["d"], 1.1);
    }

    #[test]
    fn rejects_non_resource_lists_with_a_clear_message() {
        let err = read("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n").unwrap_err();
        assert!(err.0.contains("not a ResourceList"), "{err}");
        let err = read("{\"kind\": \"ResourceList\", \"items\": []}").unwrap_err();
        assert!(err.0.contains("JSON"), "{err}");
        let err = read(
            "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n---\nkind: X\n",
        )
        .unwrap_err();
        assert!(err.0.contains("2 YAML documents"), "{err}");
    }

    #[test]
    fn only_items_that_use_an_alias_lose_their_verbatim_copy() {
        let rl = read(
            "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: &m {name: a}\n- apiVersion: v1\n  kind: Secret\n  metadata: *m\n- apiVersion: v1\n  kind: ConfigMap # mine\n  metadata: {name: c}\n  data: {hosts: '*.global', x: \"a * b\"}\n",
        )
        .unwrap();
        let copied: Vec<bool> = rl.items.iter().map(|i| i.raw.is_some()).collect();
        assert_eq!(copied, [true, false, true]);
        assert_eq!(rl.items[1].name(), "a");
    }

    #[test]
    fn alias_tokens_are_found_wherever_yaml_allows_them() {
        for text in [
            "a: *x\n",
            "- *x\n",
            "<<: *x\n",
            "a: [b, *x]\n",
            "a: {b: *x}\n",
            "a: !!str *x\n",
            "*x : 1\n",
        ] {
            assert!(raw::uses_alias(text), "{text}");
        }
        for text in ["hosts: ['*.global']\n", "a: \"b*c\"\n", "a: b*\n"] {
            assert!(!raw::uses_alias(text), "{text}");
        }
    }

    #[test]
    fn streams_are_read_document_by_document() {
        let rl = read_stream("apiVersion: v1\nkind: A\nmetadata: {name: a}\n---\napiVersion: v1\nkind: B\nmetadata: {name: b}\n".into()).unwrap();
        assert_eq!(rl.envelope, Envelope::Stream);
        assert_eq!(rl.items.len(), 2);
        let span = rl.items[1].raw.unwrap();
        assert_eq!(
            &rl.text[span.start..span.end],
            "apiVersion: v1\nkind: B\nmetadata: {name: b}\n"
        );
    }
}
