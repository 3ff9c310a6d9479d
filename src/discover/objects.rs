//! The Kubernetes objects of one cluster, typed, as `kubectl get … -o yaml` prints them or
//! the API server lists them. Both sources come through [`ClusterObjects::add_document`].

use super::describe;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The kinds discovery reads: `(apiVersion, kind)`.
pub const KINDS: &[(&str, &str)] = &[
    ("v1", "Namespace"),
    ("v1", "Node"),
    ("v1", "Service"),
    ("v1", "ConfigMap"),
    ("v1", "Pod"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    (SERVICE_EXPORT_API_VERSION, "ServiceExport"),
];

/// Kubernetes MCS API (KEP-1645): "share this Service with the cluster set".
pub const SERVICE_EXPORT_API_VERSION: &str = "multicluster.x-k8s.io/v1alpha1";

/// A ServiceExport: only its name and namespace (the exported Service's) matter.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ServiceExport {
    #[serde(default)]
    pub metadata: ObjectMeta,
}

/// One cluster's objects. Order is the sources' order; discovery does not depend on it.
#[derive(Debug, Clone, Default)]
pub struct ClusterObjects {
    pub namespaces: Vec<Namespace>,
    pub nodes: Vec<Node>,
    pub services: Vec<Service>,
    pub config_maps: Vec<ConfigMap>,
    pub pods: Vec<Pod>,
    pub deployments: Vec<Deployment>,
    pub stateful_sets: Vec<StatefulSet>,
    pub daemon_sets: Vec<DaemonSet>,
    pub service_exports: Vec<ServiceExport>,
    /// Kinds whose list was read (a live list, or any object of the kind in a dump): an
    /// empty list of a kind that was listed is known to be empty.
    pub listed: BTreeSet<&'static str>,
    /// Objects of kinds discovery does not read, by kind (a dump of `kubectl get all`).
    pub ignored: BTreeMap<String, usize>,
    /// Pods are listed but not read: without `--endpoints pods` nothing of them is used,
    /// and they are most of a dump.
    pub skip_pods: bool,
    seen: BTreeSet<(&'static str, String, String)>,
}

impl ClusterObjects {
    /// Adds one document: a `v1` List (or a typed `…List` as the API returns it) or a single
    /// object. `place` names the document in messages (`cluster-1.yaml document 2`).
    pub fn add_document(&mut self, document: Value, place: &str) -> Result<(), String> {
        let Value::Object(mut map) = document else {
            return Err(format!(
                "{place} is not a Kubernetes object or List (found {}): expected what `kubectl get <kinds> -A -o yaml` prints",
                kind_of_value(&document)
            ));
        };
        let api_version = map
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let kind = map
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if api_version.is_empty() || kind.is_empty() {
            return Err(format!(
                "{place} has no apiVersion and kind: not kubectl output (expected a v1 List, as `kubectl get <kinds> -A -o yaml` prints)"
            ));
        }
        if kind == "ResourceList" {
            return Err(format!(
                "{place} is a KRM ResourceList, not kubectl output: give what `kubectl get <kinds> -A -o yaml` prints"
            ));
        }
        if let Some(item_kind) = kind.strip_suffix("List") {
            let Some(Value::Array(items)) = map.remove("items") else {
                if map.get("items").is_some_and(Value::is_null) || !map.contains_key("items") {
                    return Ok(()); // `items: null`: kubectl's empty List
                }
                return Err(format!("{place}: {kind} has no items sequence"));
            };
            for (index, item) in items.into_iter().enumerate() {
                let item_place = format!("{place} item {index}");
                // The API server's typed lists leave kind and apiVersion off their items.
                let item = match item {
                    Value::Object(mut object) if !item_kind.is_empty() => {
                        object
                            .entry("apiVersion")
                            .or_insert_with(|| Value::String(api_version.clone()));
                        object
                            .entry("kind")
                            .or_insert_with(|| Value::String(item_kind.to_string()));
                        Value::Object(object)
                    }
                    other => other,
                };
                self.add_object(item, &item_place)?;
            }
            return Ok(());
        }
        self.add_object(Value::Object(map), place)
    }

    /// Adds one object, typed by its apiVersion and kind; others are counted and ignored.
    pub fn add_object(&mut self, object: Value, place: &str) -> Result<(), String> {
        let text = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or("");
        let (api_version, kind) = (text("apiVersion").to_string(), text("kind").to_string());
        if api_version.is_empty() || kind.is_empty() {
            return Err(format!(
                "{place} has no apiVersion and kind: not a Kubernetes object"
            ));
        }
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        if matches!(
            group,
            crate::index::DISCOVERY_GROUP
                | crate::index::NETWORKING_GROUP
                | crate::index::SETTINGS_GROUP
                | crate::index::MULTICLUSTER_GROUP
        ) {
            return Err(format!(
                "{place} is a Gloo Mesh {kind}: this is discovery output or a Gloo Mesh resource, not the cluster's own objects"
            ));
        }
        let Some(&(_, known_kind)) = KINDS.iter().find(|(v, k)| *v == api_version && *k == kind)
        else {
            *self
                .ignored
                .entry(format!("{api_version} {kind}"))
                .or_default() += 1;
            return Ok(());
        };
        if known_kind == "Pod" && self.skip_pods {
            self.listed.insert(known_kind);
            return Ok(());
        }
        let metadata = object.get("metadata");
        let field = |key: &str| {
            metadata
                .and_then(|m| m.get(key))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let (namespace, name) = (field("namespace"), field("name"));
        let what = describe(known_kind, &namespace, &name);
        if name.is_empty() {
            return Err(format!("{place}: {known_kind} has no metadata.name"));
        }
        if !self
            .seen
            .insert((known_kind, namespace.clone(), name.clone()))
        {
            return Err(format!(
                "{place}: {what} appears twice; a dump holds each object of a cluster once (are two clusters' dumps given for one cluster?)"
            ));
        }
        self.listed.insert(known_kind);
        let at = |e: String| format!("{place}: {what}: {e}");
        match known_kind {
            "Namespace" => self.namespaces.push(typed(object).map_err(at)?),
            "Node" => self.nodes.push(typed(object).map_err(at)?),
            "Service" => self.services.push(typed(object).map_err(at)?),
            "ConfigMap" => self.config_maps.push(typed(object).map_err(at)?),
            "Pod" => self.pods.push(typed(object).map_err(at)?),
            "Deployment" => self.deployments.push(typed(object).map_err(at)?),
            "StatefulSet" => self.stateful_sets.push(typed(object).map_err(at)?),
            "DaemonSet" => self.daemon_sets.push(typed(object).map_err(at)?),
            "ServiceExport" => self.service_exports.push(typed(object).map_err(at)?),
            _ => unreachable!("every kind in KINDS is typed"),
        }
        Ok(())
    }

    /// Marks a kind as listed even though it has no objects (a live list that came back empty).
    pub fn mark_listed(&mut self, kind: &str) {
        if let Some(&(_, known)) = KINDS.iter().find(|(_, k)| *k == kind) {
            self.listed.insert(known);
        }
    }
}

/// Reads a dump's text (YAML or JSON: a List, a stream of Lists, or single objects) into
/// `objects`. `source` names the dump in messages.
pub fn read_dump(text: &str, source: &str, objects: &mut ClusterObjects) -> Result<(), String> {
    crate::yaml::parse::check_text(text).map_err(|e| format!("{source}: {e}"))?;
    if text.starts_with(super::output::HEADER_PREFIX) {
        return Err(format!(
            "{source} is vmesh discover output, not kubectl output: give what `kubectl get <kinds> -A -o yaml` prints"
        ));
    }
    let documents: Vec<Value> =
        serde_saphyr::from_str_multiple_with_options(text, crate::yaml::parse::options()).map_err(
            |e| {
                format!(
                    "{source} is not kubectl YAML output: {}",
                    e.to_string().lines().next().unwrap_or("")
                )
            },
        )?;
    let documents: Vec<Value> = documents.into_iter().filter(|d| !d.is_null()).collect();
    if documents.is_empty() {
        return Err(format!(
            "{source} holds no objects: expected what `kubectl get <kinds> -A -o yaml` prints"
        ));
    }
    let several = documents.len() > 1;
    for (index, document) in documents.into_iter().enumerate() {
        let place = if several {
            format!("{source} document {index}")
        } else {
            source.to_string()
        };
        objects.add_document(document, &place)?;
    }
    Ok(())
}

fn typed<T: DeserializeOwned>(object: Value) -> Result<T, String> {
    serde_path_to_error::deserialize(object).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            inner.to_string()
        } else {
            format!("field {path}: {inner}")
        }
    })
}

fn kind_of_value(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<ClusterObjects, String> {
        let mut objects = ClusterObjects::default();
        read_dump(text, "dump.yaml", &mut objects).map(|()| objects)
    }

    #[test]
    fn reads_lists_streams_and_single_objects() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata:\n    name: a\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n";
        let objects = read(text).unwrap();
        assert_eq!(objects.namespaces.len(), 2);
        assert!(objects.listed.contains("Namespace"));
    }

    #[test]
    fn typed_lists_give_their_items_a_kind() {
        let text = r#"{"apiVersion": "v1", "kind": "NamespaceList", "items": [{"metadata": {"name": "a"}}]}"#;
        assert_eq!(read(text).unwrap().namespaces.len(), 1);
    }

    #[test]
    fn other_kinds_are_counted_not_read() {
        let text = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  key: c2VjcmV0\n";
        let objects = read(text).unwrap();
        assert_eq!(objects.ignored.get("v1 Secret"), Some(&1));
    }

    #[test]
    fn what_is_not_kubectl_output_is_refused() {
        for (text, expected) in [
            ("just a string\n", "is not a Kubernetes object or List"),
            ("a: 1\n", "has no apiVersion and kind"),
            (
                "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n",
                "KRM ResourceList",
            ),
            (
                "apiVersion: discovery.mesh.gloo.solo.io/v1\nkind: Mesh\nmetadata:\n  name: m\n",
                "Gloo Mesh Mesh",
            ),
            ("key: [unclosed\n", "is not kubectl YAML output"),
            ("", "holds no objects"),
            (
                "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata:\n    name: s\n    namespace: n\n  spec:\n    ports: 80\n",
                "dump.yaml item 0: Service n/s: field spec.ports",
            ),
            (
                "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n",
                "Namespace a appears twice",
            ),
        ] {
            let error = read(text).unwrap_err();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }
}
