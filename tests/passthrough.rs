//! Pass-through: every input item vmesh does not own must come out byte for byte (only
//! re-indented to the output's list indentation), keeping comments, key order, quoting and
//! block scalars — in successful runs and in failed ones.

mod common;

use common::{read, root, run_function};

/// The items of a ResourceList text, each as its own text de-indented to column 0 (the
/// `- ` of the list entry removed), in order.
fn item_texts(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let start = lines
        .iter()
        .position(|l| l.trim_end() == "items:")
        .expect("a block `items:` list")
        + 1;
    let end = lines[start..]
        .iter()
        .position(|l| {
            !l.starts_with(' ') && !l.starts_with('-') && !l.starts_with('#') && l.trim() != ""
        })
        .map_or(lines.len(), |n| start + n);
    let body = &lines[start..end];
    let indent = body
        .iter()
        .filter_map(|l| {
            let trimmed = l.trim_start_matches(' ');
            trimmed.starts_with("- ").then(|| l.len() - trimmed.len())
        })
        .min()
        .expect("at least one item");
    let mut items: Vec<String> = Vec::new();
    for line in body {
        let is_entry = line.len() > indent + 1
            && line[..indent].bytes().all(|b| b == b' ')
            && line[indent..].starts_with("- ");
        if is_entry {
            items.push(line[indent + 2..].to_string());
        } else if let Some(current) = items.last_mut() {
            let cut = (indent + 2).min(line.len() - line.trim_start_matches(' ').len());
            current.push_str(&line[cut..]);
        }
    }
    items
}

fn assert_passed_through(input: &str, output: &str, what: &str) {
    let produced = item_texts(output);
    for item in item_texts(input) {
        assert!(
            produced.contains(&item),
            "{what}: this input item is not in the output byte for byte:\n{item}\n--- output ---\n{output}"
        );
    }
}

fn passthrough_input() -> String {
    read(&root().join("testdata/passthrough/input.yaml"))
}

#[test]
fn items_pass_through_byte_for_byte() {
    let input = passthrough_input();
    let outcome = run_function(&input);
    assert_eq!(outcome.exit_code, 0, "{}", outcome.stdout);
    let inputs = item_texts(&input);
    assert_eq!(inputs.len(), 7, "the case's seven items are found");
    assert!(inputs.iter().any(|i| i.contains("enabled: \"on\"")));
    assert!(
        inputs
            .iter()
            .any(|i| i.contains("# a comment between keys"))
    );
    assert_passed_through(&input, &outcome.stdout, "passthrough");
    // The case's one Destination gets no local DestinationRule under the default
    // ISTIO_MUTUAL (auto mTLS does that), so the copied items are the whole output.
    assert_eq!(item_texts(&outcome.stdout).len(), 7);
}

#[test]
fn items_pass_through_from_another_list_indentation() {
    // kustomize and some editors indent list entries under `items:`.
    let input = passthrough_input();
    let (head, items) = input.split_once("items:\n").unwrap();
    let indented: String = items
        .split_inclusive('\n')
        .map(|l| {
            if l.trim().is_empty() {
                l.to_string()
            } else {
                format!("  {l}")
            }
        })
        .collect();
    let input = format!("{head}items:\n{indented}");
    let outcome = run_function(&input);
    assert_eq!(outcome.exit_code, 0, "{}", outcome.stdout);
    assert_passed_through(&input, &outcome.stdout, "indented input");
}

#[test]
fn a_failed_run_returns_every_item_byte_for_byte() {
    let input = passthrough_input().replace(
        "- apiVersion: discovery.mesh.gloo.solo.io/v1\n  kind: Mesh\n",
        "- apiVersion: networking.mesh.gloo.solo.io/v1\n  kind: VirtualMesh\n  metadata:\n    name: broken\n    namespace: gloo-mesh\n  spec:\n    meshes:\n    - {name: missing, namespace: gloo-mesh}\n- apiVersion: discovery.mesh.gloo.solo.io/v1\n  kind: Mesh\n",
    );
    let outcome = run_function(&input);
    assert_eq!(outcome.exit_code, 1, "{}", outcome.stdout);
    assert_eq!(item_texts(&input).len(), 8);
    assert_eq!(item_texts(&outcome.stdout), item_texts(&input));
}

#[test]
fn item_texts_splits_and_dedents() {
    let text =
        "kind: ResourceList\nitems:\n- a: 1\n  b:\n  - c\n# note\n- d: |\n    x\nresults: []\n";
    assert_eq!(item_texts(text), ["a: 1\nb:\n- c\n# note\n", "d: |\n  x\n"]);
}

/// One item using an anchor, an alias and a merge key does not cost the other items their
/// verbatim copy: every item that uses no alias itself still comes out byte for byte.
#[test]
fn items_without_aliases_pass_through_when_another_item_uses_them() {
    let input = passthrough_input().replace(
        "items:\n",
        "items:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: defaults\n    namespace: apps\n  data: &defaults {level: 'info', mode: \"fast\"}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: derived\n    namespace: apps\n  data:\n    <<: *defaults\n    extra: x\n",
    );
    let outcome = run_function(&input);
    assert_eq!(outcome.exit_code, 0, "{}", outcome.stdout);
    let inputs = item_texts(&input);
    let without_alias: Vec<&String> = inputs.iter().filter(|i| !i.contains('*')).collect();
    assert_eq!(without_alias.len(), inputs.len() - 1);
    let produced = item_texts(&outcome.stdout);
    for item in without_alias {
        assert!(
            produced.contains(item),
            "this item is not in the output byte for byte:\n{item}\n--- output ---\n{}",
            outcome.stdout
        );
    }
    // The item with the alias is written from its value, the merge resolved.
    assert!(
        outcome.stdout.contains("name: derived"),
        "{}",
        outcome.stdout
    );
}
