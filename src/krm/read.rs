//! Reading a ResourceList (or a plain `---` stream) into [`Item`]s.

use super::{Envelope, Item, ResourceList};
use crate::yaml::parse;
use crate::yaml::raw::{self, RawSpan};
use serde::Deserialize;
use serde_json::Value;
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
struct Wire {
    #[serde(rename = "apiVersion")]
    api_version: Option<String>,
    kind: Option<String>,
    #[serde(default)]
    metadata: Option<Value>,
    #[serde(default)]
    items: Option<Vec<Spanned<Value>>>,
    #[serde(rename = "functionConfig", default)]
    function_config: Option<Value>,
    #[serde(default)]
    results: Option<Vec<Value>>,
}

const LIST_API_VERSIONS: &[&str] = &[
    "config.kubernetes.io/v1",
    "config.kubernetes.io/v1beta1",
    "config.kubernetes.io/v1alpha1",
];

/// Reads one ResourceList (or `kind: List`) document, the KRM function input.
pub fn read_resource_list(text: String) -> Result<ResourceList, InputError> {
    check_shape(&text)?;
    let uses_aliases = Rc::new(Cell::new(false));
    let flag = uses_aliases.clone();
    let options = parse::options().with_budget_report(move |report| {
        if report.aliases > 0 || report.anchors > 0 {
            flag.set(true);
        }
    });
    let docs: Vec<Wire> =
        serde_saphyr::from_str_multiple_with_options(&text, options).map_err(|e| {
            match super::explain::not_a_resource_list(&text) {
                Some(message) => InputError(message),
                None => yaml_error("the ResourceList", &e, &text),
            }
        })?;
    let wire = match docs.len() {
        1 => docs.into_iter().next().expect("one document"),
        0 => {
            return Err(InputError(
                "input is empty: expected one ResourceList document on stdin".into(),
            ));
        }
        n => {
            return Err(InputError(format!(
                "input has {n} YAML documents; expected exactly one ResourceList document"
            )));
        }
    };
    let kind = wire.kind.unwrap_or_default();
    let api_version = wire.api_version.unwrap_or_default();
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
                "input is not a ResourceList: found kind {kind:?} (apiVersion {api_version:?}); a KRM function reads one ResourceList with `items`"
            )));
        }
    }
    let _ = wire.metadata;
    let copy_raw = !uses_aliases.get();
    let mut items = wire
        .items
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(position, spanned)| {
            let span = copy_raw
                .then(|| item_span(&text, &spanned, raw::block_item_span))
                .flatten();
            Item::new(spanned.value, span, position)
        })
        .collect::<Vec<_>>();
    super::verify::verify_spans(&text, &mut items);
    check_items(&items)?;
    Ok(ResourceList {
        envelope: Envelope::List { api_version, kind },
        items,
        function_config: wire.function_config,
        results: wire.results.unwrap_or_default(),
        text,
    })
}

/// Reads a plain `---` stream of objects (kustomize transformer input, files of a repo).
/// A stream that is a single ResourceList or List document is unwrapped.
pub fn read_stream(text: String) -> Result<ResourceList, InputError> {
    check_shape(&text)?;
    let uses_aliases = Rc::new(Cell::new(false));
    let flag = uses_aliases.clone();
    let options = parse::options().with_budget_report(move |report| {
        if report.aliases > 0 || report.anchors > 0 {
            flag.set(true);
        }
    });
    let docs: Vec<Spanned<Value>> = serde_saphyr::from_str_multiple_with_options(&text, options)
        .map_err(|e| yaml_error("the input stream", &e, &text))?;
    if docs.len() == 1
        && matches!(
            docs[0].value.get("kind").and_then(Value::as_str),
            Some("ResourceList" | "List")
        )
        && docs[0].value.get("items").is_some()
    {
        return read_resource_list(text);
    }
    let copy_raw = !uses_aliases.get();
    let items = docs
        .into_iter()
        .filter(|doc| !doc.value.is_null())
        .enumerate()
        .map(|(position, doc)| {
            let span = copy_raw
                .then(|| item_span(&text, &doc, |t, start, _| raw::document_span(t, start)))
                .flatten();
            Item::new(doc.value, span, position)
        })
        .collect::<Vec<_>>();
    check_items(&items)?;
    Ok(ResourceList {
        envelope: Envelope::Stream,
        items,
        function_config: None,
        results: Vec::new(),
        text,
    })
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
    let line_start = text[..start].rfind('\n').map_or(0, |n| n + 1);
    let column = start - line_start;
    if !text[line_start..start]
        .bytes()
        .all(|b| b == b' ' || b == b'-')
    {
        return None;
    }
    find(text, start, column)
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
fn check_items(items: &[Item]) -> Result<(), InputError> {
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
    fn aliases_disable_verbatim_copies() {
        let rl = read(
            "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: &m {name: a}\n- apiVersion: v1\n  kind: Secret\n  metadata: *m\n",
        )
        .unwrap();
        assert!(rl.items.iter().all(|i| i.raw.is_none()));
        assert_eq!(rl.items[1].name(), "a");
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
