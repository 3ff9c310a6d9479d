//! A safety net for verbatim copies: an item's raw span is found by indentation alone
//! ([`crate::yaml::raw::block_item_span`]), and YAML lets some lines of an item sit left of its
//! keys (the continuation of a flow collection or of a quoted scalar). A span cut short there
//! would copy half an item and drop the rest: data loss, or output that is no longer YAML.
//! Every span is therefore checked, and an item whose span fails is re-emitted from its
//! parsed value instead.
//!
//! - When the next item has a span too, the text between the two must be blank lines,
//!   comments and the next item's `- `: anything else belongs to this item.
//! - Otherwise (the last item, or one followed by a flow item) the span's text is parsed
//!   again and must give the item's full value.

use super::Item;
use crate::yaml::raw;
use serde_json::Value;

/// Drops the raw span of every item whose span does not hold the whole item (every item
/// holds its full value).
pub fn verify_spans(text: &str, items: &mut [Item]) {
    check(text, items, false);
}

/// [`verify_spans`] for items of which vmesh's own outputs, all but the last item, are
/// already cut to a skeleton ([`super::read::skeleton`]). A skeleton's text is its only full
/// copy: false when a skeleton's span fails or cannot be checked, and the caller must read
/// the input again keeping every value.
pub fn verify_lean_spans(text: &str, items: &mut [Item]) -> bool {
    check(text, items, true)
}

fn check(text: &str, items: &mut [Item], lean: bool) -> bool {
    let last = items.len().saturating_sub(1);
    for i in 0..items.len() {
        let Some(span) = items[i].raw else {
            continue;
        };
        // A skeleton stands for a value that is no longer in memory.
        let cut = lean && i != last && is_droppable(&items[i].value);
        let complete = match items.get(i + 1).and_then(|next| next.raw) {
            Some(next) => {
                let line_start = text[..next.start].rfind('\n').map_or(0, |n| n + 1);
                line_start >= span.end && text[span.end..line_start].lines().all(gap_line)
            }
            None if cut => return false,
            None => reparses_to(text, span, &items[i].value),
        };
        if !complete {
            if cut {
                return false;
            }
            items[i].raw = None;
        }
    }
    true
}

/// A line that may sit between two items: blank, a comment, or the next item's `-` alone
/// on its line (its content starts on the line after).
fn gap_line(line: &str) -> bool {
    let content = line.trim_start_matches(' ');
    let content = content
        .strip_prefix('-')
        .filter(|rest| rest.is_empty() || rest.starts_with([' ', '#']))
        .map_or(content, |rest| rest.trim_start_matches(' '));
    content.trim_end().is_empty() || content.starts_with('#')
}

fn is_droppable(value: &Value) -> bool {
    value.as_object().is_some_and(super::read::droppable)
}

fn reparses_to(text: &str, span: raw::RawSpan, value: &Value) -> bool {
    let mut copy = String::new();
    raw::append_reindented(&mut copy, text, span, 0);
    serde_saphyr::from_str_with_options::<Value>(&copy, crate::yaml::parse::options())
        .is_ok_and(|parsed| parsed == *value)
}

#[cfg(test)]
mod tests {
    use crate::krm::read_resource_list;
    use crate::krm::write::OutputItem;
    use crate::krm::write_resource_list;

    /// The list written back as a failed run writes it (every item unchanged).
    fn written(list: &crate::krm::ResourceList) -> String {
        let mut out = String::new();
        write_resource_list(
            &mut out,
            &list.envelope,
            &list.text,
            list.items.iter().map(OutputItem::Input),
            None,
            &[],
        );
        out
    }

    fn values(list: &crate::krm::ResourceList) -> Vec<serde_json::Value> {
        list.items.iter().map(|i| i.value.clone()).collect()
    }

    /// Found by the read_resource_list fuzz target: a flow mapping continued at column 0.
    #[test]
    fn items_with_lines_left_of_their_keys_are_copied_whole() {
        for text in [
            // Not the last item: caught by the gap before the next item.
            "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: A\n  metadata: {name: a\n, namespace: n}\n  data: {x: y}\n- apiVersion: v1\n  kind: B\n  metadata: {name: b}\n",
            // The last item: caught by parsing the span again.
            "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: A\n  metadata: {name: a\n, namespace: n}\n  data: \"one\ntwo\"\n",
        ] {
            let list = read_resource_list(text.to_string()).unwrap();
            assert!(list.items[0].raw.is_none(), "{text}");
            let out = written(&list);
            let again = read_resource_list(out.clone()).unwrap_or_else(|e| panic!("{e}\n{out}"));
            assert_eq!(values(&again), values(&list), "{out}");
        }
    }

    /// Found by the read_resource_list fuzz target: a stream document whose mapping is
    /// indented was copied with its first line moved to column 0 and the others not.
    #[test]
    fn indented_stream_documents_are_copied_whole() {
        let text = "# comment\n  apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n---\napiVersion: v1\nkind: B\nmetadata: {name: b}\n";
        let list = crate::krm::read_stream(text.to_string()).unwrap();
        let mut out = String::new();
        crate::krm::write_stream(
            &mut out,
            &list.text,
            list.items.iter().map(OutputItem::Input),
        );
        assert!(
            out.starts_with("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"),
            "{out}"
        );
        let again = crate::krm::read_stream(out.clone()).unwrap_or_else(|e| panic!("{e}\n{out}"));
        assert_eq!(values(&again), values(&list), "{out}");
    }

    /// vmesh's own output, last in the list, with a flow mapping continued at column 0: its
    /// span falls short, and a skeleton would lose the rest, so it is kept whole.
    #[test]
    fn a_last_owned_item_whose_span_falls_short_is_kept_whole() {
        let text = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: networking.istio.io/v1\n  kind: ServiceEntry\n  metadata:\n    name: a\n    labels:\n      app.kubernetes.io/managed-by: vmesh\n    annotations:\n      vmesh.dev/cluster: c\n      vmesh.dev/virtual-mesh: g/vm\n  data: {x: y\n, z: w}\n";
        let list = read_resource_list(text.to_string()).unwrap();
        assert!(list.items[0].raw.is_none());
        assert_eq!(list.items[0].value["data"]["z"], "w");
        let out = written(&list);
        let again = crate::krm::read::paths::saphyr_resource_list(out.clone(), false).unwrap();
        assert_eq!(again.items[0].value, list.items[0].value, "{out}");
    }

    #[test]
    fn ordinary_items_keep_their_verbatim_copies() {
        let list = read_resource_list(
            "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: A\n  metadata:\n    name: a # note\n\n# between\n- apiVersion: v1\n  kind: B\n  metadata:\n    name: 'b'\n".to_string(),
        )
        .unwrap();
        assert!(list.items.iter().all(|i| i.raw.is_some()));
    }
}
