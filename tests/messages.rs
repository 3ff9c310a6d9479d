//! Messages a person can act on (issue 16): references in the user's terms with "did you
//! mean", one error per root cause, no Go or Rust type names or Gloo Mesh key formats in a
//! message, and Gloo Mesh's own text kept searchable in the `gloo-mesh-message` tag.

mod common;

use serde_json::Value;
use std::path::Path;
use vmesh::{OutputStyle, RunOptions};

fn two_clusters() -> String {
    std::fs::read_to_string(common::root().join("testdata/two-clusters/input.yaml")).unwrap()
}

fn errors(text: &str) -> Vec<Value> {
    let list = vmesh::krm::read_resource_list(text.to_string()).unwrap();
    let outcome = vmesh::run(
        list,
        &RunOptions {
            base_dir: Some(common::root()),
            ..RunOptions::new(OutputStyle::ResourceList)
        },
    );
    assert!(outcome.failed(), "the run should fail");
    let (_, results) = common::parse(&outcome.stdout);
    results
        .into_iter()
        .filter(|r| r["severity"] == "error")
        .collect()
}

/// The two-cluster example without its second Mesh (lines from `- ` of the Mesh to the
/// next item).
fn without_mesh(text: &str, name: &str) -> String {
    let mut out = Vec::new();
    let mut skipping = false;
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("- ") {
            let kind_mesh = line.contains("kind: Mesh")
                || lines.get(i + 1).is_some_and(|l| l.trim() == "kind: Mesh");
            let named = lines[i..]
                .iter()
                .take(6)
                .any(|l| l.trim() == format!("name: {name}"));
            skipping = kind_mesh && named;
        }
        if !skipping {
            out.push(*line);
        }
    }
    out.join("\n") + "\n"
}

#[test]
fn a_misspelt_mesh_is_named_with_the_mesh_meant_and_gloo_mesh_text_aside() {
    let text = two_clusters().replacen(
        "- name: istiod-istio-system-cluster-2\n",
        "- name: istiod-istio-system-cluster2\n",
        1,
    );
    let errors = errors(&text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let message = errors[0]["message"].as_str().unwrap();
    assert_eq!(
        message,
        "no Mesh gloo-mesh/istiod-istio-system-cluster2 in the input; did you mean gloo-mesh/istiod-istio-system-cluster-2?"
    );
    assert_eq!(
        errors[0]["tags"]["gloo-mesh-message"],
        "*v1.Mesh with id istiod-istio-system-cluster2.gloo-mesh. not found"
    );
}

#[test]
fn one_missing_mesh_is_one_error_naming_everything_that_points_at_it() {
    let text = without_mesh(&two_clusters(), "istiod-istio-system-cluster-2");
    assert!(
        !text.contains("name: istiod-istio-system-cluster-2\n    namespace: gloo-mesh\n  spec")
    );
    let errors = errors(&text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0]["resourceRef"]["kind"], "VirtualMesh");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("no Mesh gloo-mesh/istiod-istio-system-cluster-2 in the input")
            && message.ends_with(
                "(also named by Destination gloo-mesh/istio-ingressgateway-istio-system-cluster-2, Destination gloo-mesh/ratings-bookinfo-cluster-2)"
            ),
        "{message}"
    );
}

#[test]
fn a_mesh_ref_without_namespace_is_one_line_naming_the_namespace() {
    let text = two_clusters().replacen(
        "    - name: istiod-istio-system-cluster-2\n      namespace: gloo-mesh\n",
        "    - name: istiod-istio-system-cluster-2\n",
        1,
    );
    let errors = errors(&text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(!message.contains('\n'), "{message:?}");
    assert!(
        message.contains("(Mesh istiod-istio-system-cluster-2 is in namespace gloo-mesh)"),
        "{message}"
    );
    assert!(
        errors[0]["tags"]["gloo-mesh-message"]
            .as_str()
            .unwrap()
            .contains("'namespace' must be specified")
    );
}

/// Texts that need Gloo Mesh's or Rust's source to decode.
fn internal_terms(message: &str) -> Vec<String> {
    let mut found = Vec::new();
    for term in [
        "*v1.",
        "errors occurred",
        "error occurred",
        "expected u8",
        "expected u16",
        "expected u32",
        "expected u64",
        "expected i32",
        "expected i64",
        "invalid type:",
        "Invalid Destination selector",
        "authorization-policy-translator",
    ] {
        if message.contains(term) {
            found.push(term.to_string());
        }
    }
    // Gloo Mesh's keys: `name.namespace.` with the trailing dot.
    for word in message.split([' ', ',', ';', '(', ')']) {
        let parts: Vec<&str> = word.split('.').collect();
        if parts.len() == 3
            && parts[2].is_empty()
            && parts[..2]
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            && word.contains('-')
        {
            found.push(word.to_string());
        }
    }
    found
}

#[test]
fn no_golden_or_hostile_message_carries_internal_terms() {
    let root = common::root();
    let mut checked = 0;
    let mut bad = Vec::new();
    for entry in std::fs::read_dir(root.join("golden")).unwrap() {
        let path = entry.unwrap().path().join("output.yaml");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let (_, results) = common::parse(&text);
        for r in results {
            let message = r["message"].as_str().unwrap_or_default();
            checked += 1;
            let terms = internal_terms(message);
            if !terms.is_empty() {
                bad.push(format!("{}: {terms:?} in {message}", path.display()));
            }
        }
    }
    for entry in std::fs::read_dir(root.join("testdata/hostile")).unwrap() {
        let path = entry.unwrap().path().join("expected-error.txt");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for line in text.lines() {
            checked += 1;
            let terms = internal_terms(line);
            if !terms.is_empty() {
                bad.push(format!("{}: {terms:?} in {line}", path.display()));
            }
        }
    }
    // The check itself catches the texts issue 16 was about.
    assert_eq!(
        internal_terms("*v1.Mesh with id mesh-2.gloo-mesh. not found"),
        ["*v1.", "mesh-2.gloo-mesh."]
    );
    assert_eq!(
        internal_terms("invalid type: string \"http\", expected u32"),
        ["expected u32", "invalid type:"]
    );
    assert!(checked > 50, "only {checked} messages found");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert!(Path::new(&root).is_dir());
}
