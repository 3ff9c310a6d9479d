//! Messages about references, in the user's terms: the kind and `namespace/name` the user
//! wrote, what the input has instead ("did you mean"), and what to do. Gloo Mesh's own
//! text for the same problem goes beside the message (see [`Message`]), never into it.

use super::names::multierror;
pub use super::report::Message;
use crate::model::common::{ClusterObjectRef, ObjectRef};
use std::collections::BTreeSet;

/// How many names a message lists before it says "and N more".
const LISTED: usize = 5;

/// The candidate closest to `wanted`, when it is close enough to be the one the user
/// meant (a typo, a missing or extra dash, a changed letter case).
pub fn closest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wanted_lower = wanted.to_lowercase();
    candidates
        .into_iter()
        .filter(|c| *c != wanted)
        .map(|c| {
            let distance = strsim::damerau_levenshtein(&wanted_lower, &c.to_lowercase());
            (distance, c)
        })
        .filter(|(distance, c)| {
            let longer = wanted.chars().count().max(c.chars().count());
            *distance <= 2 || *distance * 4 <= longer
        })
        .fold(
            None,
            |best: Option<(usize, Option<&'a str>)>, (distance, c)| match best {
                Some((d, _)) if d < distance => best,
                // Two candidates equally close: neither is the one the user meant.
                Some((d, _)) if d == distance => Some((d, None)),
                _ => Some((distance, Some(c))),
            },
        )
        .and_then(|(_, c)| c)
}

/// `a, b, c` or `a, b, c, d, e and 3 more`.
pub fn listed<S: AsRef<str>>(names: &[S]) -> String {
    let shown: Vec<&str> = names.iter().take(LISTED).map(AsRef::as_ref).collect();
    let mut text = shown.join(", ");
    if names.len() > LISTED {
        text.push_str(&format!(" and {} more", names.len() - LISTED));
    }
    text
}

/// A Mesh reference (`spec.meshes[i]`, `spec.mesh`, a federation selector) that names no
/// Mesh of the input.
pub fn mesh_not_found<'a>(
    r: &ObjectRef,
    meshes: impl IntoIterator<Item = &'a ObjectRef>,
) -> Message {
    let meshes: Vec<&ObjectRef> = meshes.into_iter().collect();
    let gloo = format!("*v1.Mesh with id {} not found", r.key());
    let elsewhere: Vec<String> = meshes
        .iter()
        .filter(|m| m.name == r.name)
        .map(|m| m.namespace.clone())
        .collect();
    let text = if !elsewhere.is_empty() {
        format!(
            "no Mesh {r} in the input; a Mesh named {} is in namespace {}: did you mean namespace: {}?",
            r.name,
            listed(&elsewhere),
            elsewhere[0]
        )
    } else if meshes.is_empty() {
        format!(
            "no Mesh {r} in the input, which has no Meshes at all: add the Mesh resources (vmesh discover writes them) to the input"
        )
    } else {
        let names: Vec<String> = meshes.iter().map(|m| m.to_string()).collect();
        match closest(&r.to_string(), names.iter().map(String::as_str)) {
            Some(near) => format!("no Mesh {r} in the input; did you mean {near}?"),
            None => format!(
                "no Mesh {r} in the input (its Meshes: {}): name one of them, or add the Mesh",
                listed(&names)
            ),
        }
    };
    Message::new(text, gloo)
}

/// A Mesh reference without its name or namespace: one line, and the namespace of the
/// Mesh it likely means.
pub fn mesh_ref_incomplete<'a>(
    r: &ObjectRef,
    meshes: impl IntoIterator<Item = &'a ObjectRef>,
) -> Option<Message> {
    let missing = empty_fields(&[("name", &r.name), ("namespace", &r.namespace)]);
    if missing.is_empty() {
        return None;
    }
    let gloo = malformed("malformed meshRef", &missing);
    let text = if r.name.is_empty() && r.namespace.is_empty() {
        "this Mesh reference is empty: give the Mesh's name and namespace".to_string()
    } else if r.name.is_empty() {
        format!(
            "this Mesh reference has a namespace ({}) but no name: give the Mesh's name too",
            r.namespace
        )
    } else {
        let namespaces: BTreeSet<&str> = meshes
            .into_iter()
            .filter(|m| m.name == r.name)
            .map(|m| m.namespace.as_str())
            .collect();
        let hint = match namespaces.iter().next() {
            Some(ns) if namespaces.len() == 1 => format!(" (Mesh {} is in namespace {ns})", r.name),
            _ => String::new(),
        };
        format!(
            "the reference to Mesh {} has no namespace: add the Mesh's namespace{hint}; a reference has no default namespace",
            r.name
        )
    };
    Some(Message::new(text, gloo))
}

/// A Service as the user wrote it: `namespace/name in cluster c`.
pub fn service(r: &ClusterObjectRef) -> String {
    format!("{}/{} in cluster {}", r.namespace, r.name, r.cluster_name)
}

/// A `kubeServiceRefs` entry without name, namespace or clusterName.
pub fn service_ref_incomplete(r: &ClusterObjectRef) -> Option<Message> {
    let missing = service_ref_empty_fields(r);
    if missing.is_empty() {
        return None;
    }
    let gloo = malformed(
        "Invalid Destination selector: malformed kubeServiceRef",
        &missing,
    );
    let text = format!(
        "this Service reference has no {}: a kubeServiceRef names the Service by name, namespace and clusterName",
        or_list(&missing)
    );
    Some(Message::new(text, gloo))
}

/// A `kubeServiceRefs` entry whose Service has no Destination in the input.
pub fn destination_not_found<'a>(
    r: &ClusterObjectRef,
    known: impl IntoIterator<Item = &'a ClusterObjectRef>,
) -> Message {
    let known: Vec<&ClusterObjectRef> = known.into_iter().collect();
    let gloo = format!(
        "Invalid Destination selector: Destination {} not found",
        r.key()
    );
    let clusters: BTreeSet<&str> = known.iter().map(|k| k.cluster_name.as_str()).collect();
    let mut text = format!("no Destination in the input is for Service {}", service(r));
    let same_service: Vec<&str> = known
        .iter()
        .filter(|k| k.name == r.name && k.namespace == r.namespace)
        .map(|k| k.cluster_name.as_str())
        .collect();
    if !clusters.contains(r.cluster_name.as_str()) && !clusters.is_empty() {
        let all: Vec<&str> = clusters.iter().copied().collect();
        text.push_str(&format!(
            "; no Destination is in cluster {} at all (clusters: {})",
            r.cluster_name,
            listed(&all)
        ));
    }
    let names: Vec<String> = known.iter().map(|k| service(k)).collect();
    if let [cluster] = same_service[..] {
        text.push_str(&format!(
            "; did you mean {}?",
            service(&ClusterObjectRef {
                cluster_name: cluster.to_string(),
                ..r.clone()
            })
        ));
    } else if !same_service.is_empty() {
        text.push_str(&format!(
            "; the Service has Destinations in clusters {}",
            listed(&same_service)
        ));
    } else if let Some(near) = closest(&service(r), names.iter().map(String::as_str)) {
        text.push_str(&format!("; did you mean {near}?"));
    } else {
        text.push_str(
            ": name a Service that has a Destination (vmesh discover writes them), or add its Destination",
        );
    }
    Message::new(text, gloo)
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The names of the fields that are empty, in the order given.
fn empty_fields<'a>(fields: &[(&'a str, &str)]) -> Vec<&'a str> {
    fields
        .iter()
        .filter(|(_, value)| value.is_empty())
        .map(|(field, _)| *field)
        .collect()
}

/// The empty fields of a Service reference (name, namespace, clusterName).
pub fn service_ref_empty_fields(r: &ClusterObjectRef) -> Vec<&'static str> {
    empty_fields(&[
        ("name", &r.name),
        ("namespace", &r.namespace),
        ("clusterName", &r.cluster_name),
    ])
}

/// Gloo Mesh's text for a reference with fields missing (go-multierror's list).
fn malformed(what: &str, missing: &[&str]) -> String {
    let problems: Vec<String> = missing
        .iter()
        .map(|field| format!("'{field}' must be specified'"))
        .collect();
    format!("{what}: {}", multierror(&problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mesh(name: &str, ns: &str) -> ObjectRef {
        ObjectRef::new(name, ns)
    }

    #[test]
    fn a_missing_mesh_suggests_the_nearest_and_keeps_gloo_mesh_text_aside() {
        let meshes = [
            mesh("istiod-istio-system-cluster-1", "gloo-mesh"),
            mesh("istiod-istio-system-cluster-2", "gloo-mesh"),
        ];
        let m = mesh_not_found(&mesh("istiod-istio-system-cluster2", "gloo-mesh"), &meshes);
        assert_eq!(
            m.text,
            "no Mesh gloo-mesh/istiod-istio-system-cluster2 in the input; did you mean gloo-mesh/istiod-istio-system-cluster-2?"
        );
        assert_eq!(
            m.gloo.as_deref(),
            Some("*v1.Mesh with id istiod-istio-system-cluster2.gloo-mesh. not found")
        );
        assert!(!m.text.contains("*v1.") && !m.text.contains("gloo-mesh."));
    }

    #[test]
    fn a_mesh_in_another_namespace_is_named_with_its_namespace() {
        let meshes = [mesh("mesh-1", "gloo-mesh")];
        let m = mesh_not_found(&mesh("mesh-1", "default"), &meshes);
        assert!(
            m.text.contains("did you mean namespace: gloo-mesh?"),
            "{}",
            m.text
        );
    }

    #[test]
    fn a_ref_without_namespace_is_one_line_with_the_likely_namespace() {
        let meshes = [mesh("mesh-1", "gloo-mesh")];
        let m = mesh_ref_incomplete(&mesh("mesh-1", ""), &meshes).unwrap();
        assert!(!m.text.contains('\n'));
        assert!(
            m.text.contains("(Mesh mesh-1 is in namespace gloo-mesh)"),
            "{}",
            m.text
        );
        assert!(m.gloo.unwrap().contains("'namespace' must be specified"));
        assert!(mesh_ref_incomplete(&mesh("a", "b"), &meshes).is_none());
    }

    #[test]
    fn a_missing_destination_names_the_cluster_it_has() {
        let known = [ClusterObjectRef {
            name: "reviews".into(),
            namespace: "bookinfo".into(),
            cluster_name: "cluster-1".into(),
        }];
        let wanted = ClusterObjectRef {
            cluster_name: "cluster1".into(),
            ..known[0].clone()
        };
        let m = destination_not_found(&wanted, &known);
        assert_eq!(
            m.text,
            "no Destination in the input is for Service bookinfo/reviews in cluster cluster1; no Destination is in cluster cluster1 at all (clusters: cluster-1); did you mean bookinfo/reviews in cluster cluster-1?"
        );
    }

    #[test]
    fn far_names_are_not_suggested() {
        assert_eq!(closest("reviews", ["ratings", "details"]), None);
        assert_eq!(
            closest("ratings-v1", ["ratings-v2", "details"]),
            Some("ratings-v2")
        );
    }
}
