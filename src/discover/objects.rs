//! The Kubernetes objects of one cluster, typed, as `kubectl get … -o yaml` prints them or
//! the API server lists them. Both sources come through [`ClusterObjects::add_document`].

use super::describe;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
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

/// A Pod, as far as endpoint discovery reads it. Pods are most of a dump; typing only
/// these fields keeps a large dump's pods small.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Pod {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: Option<PodSpec>,
    #[serde(default)]
    pub status: Option<PodStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default)]
    pub node_name: Option<String>,
    #[serde(default)]
    pub containers: Vec<PodContainer>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct PodContainer {
    #[serde(default)]
    pub ports: Option<Vec<k8s_openapi::api::core::v1::ContainerPort>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    #[serde(default)]
    pub phase: Option<String>,
    #[serde(default, rename = "podIP")]
    pub pod_ip: Option<String>,
    #[serde(default)]
    pub conditions: Option<Vec<PodCondition>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct PodCondition {
    #[serde(default, rename = "type")]
    pub type_: String,
    #[serde(default)]
    pub status: String,
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
    /// Pods are listed but not kept: without `--endpoints pods` nothing of them is used.
    pub skip_pods: bool,
    seen: BTreeSet<(&'static str, String, String)>,
}

/// An object typed by its apiVersion and kind, or counted as one discovery does not read.
/// Boxed: the types differ in size by kilobytes, and a large List holds tens of thousands.
#[derive(Debug, Clone)]
pub enum TypedObject {
    Namespace(Box<Namespace>),
    Node(Box<Node>),
    Service(Box<Service>),
    ConfigMap(Box<ConfigMap>),
    Pod(Box<Pod>),
    Deployment(Box<Deployment>),
    StatefulSet(Box<StatefulSet>),
    DaemonSet(Box<DaemonSet>),
    ServiceExport(Box<ServiceExport>),
    /// `apiVersion kind` of an object discovery does not read.
    Ignored(String),
}

/// A typed object with its identity, for duplicate checks and messages.
#[derive(Debug, Clone)]
pub struct Read {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    pub object: TypedObject,
}

/// Types one object (no place in messages: the caller adds it).
pub fn type_object(object: Value) -> Result<Read, String> {
    let text = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or("");
    let (api_version, kind) = (text("apiVersion").to_string(), text("kind").to_string());
    if api_version.is_empty() || kind.is_empty() {
        return Err("has no apiVersion and kind: not a Kubernetes object".into());
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
            "is a Gloo Mesh {kind}: this is discovery output or a Gloo Mesh resource, not the cluster's own objects"
        ));
    }
    let Some(&(_, known_kind)) = KINDS.iter().find(|(v, k)| *v == api_version && *k == kind) else {
        return Ok(Read {
            kind: "",
            namespace: String::new(),
            name: String::new(),
            object: TypedObject::Ignored(format!("{api_version} {kind}")),
        });
    };
    let metadata = object.get("metadata");
    let field = |key: &str| {
        metadata
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (namespace, name) = (field("namespace"), field("name"));
    if name.is_empty() {
        return Err(format!("{known_kind} has no metadata.name"));
    }
    let at = |e: String| format!("{}: {e}", describe(known_kind, &namespace, &name));
    let object = match known_kind {
        "Namespace" => TypedObject::Namespace(Box::new(typed(object).map_err(at)?)),
        "Node" => TypedObject::Node(Box::new(typed(object).map_err(at)?)),
        "Service" => TypedObject::Service(Box::new(typed(object).map_err(at)?)),
        "ConfigMap" => TypedObject::ConfigMap(Box::new(typed(object).map_err(at)?)),
        "Pod" => TypedObject::Pod(Box::new(typed(object).map_err(at)?)),
        "Deployment" => TypedObject::Deployment(Box::new(typed(object).map_err(at)?)),
        "StatefulSet" => TypedObject::StatefulSet(Box::new(typed(object).map_err(at)?)),
        "DaemonSet" => TypedObject::DaemonSet(Box::new(typed(object).map_err(at)?)),
        "ServiceExport" => TypedObject::ServiceExport(Box::new(typed(object).map_err(at)?)),
        _ => unreachable!("every kind in KINDS is typed"),
    };
    Ok(Read {
        kind: known_kind,
        namespace,
        name,
        object,
    })
}

impl ClusterObjects {
    /// Adds one document: a `v1` List (or a typed `…List` as the API returns it) or a single
    /// object. `place` names the document in messages (`cluster-1.yaml document 2`).
    pub fn add_document(&mut self, document: Value, place: &str) -> Result<(), String> {
        let Value::Object(mut map) = document else {
            return Err(not_an_object(place, kind_of_value(&document)));
        };
        let items = map.remove("items");
        let header = document_header(&map, items.is_some(), place)?;
        let Some(item_kind) = header else {
            return self.add_object(Value::Object(map), place);
        };
        let items = match items {
            None | Some(Value::Null) => return Ok(()), // `items: null`: kubectl's empty List
            Some(Value::Array(items)) => items,
            Some(_) => return Err(format!("{place}: its items are not a sequence")),
        };
        let api_version = map.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        for (index, item) in items.into_iter().enumerate() {
            let item = with_list_kind(item, api_version, &item_kind);
            self.add_object(item, &format!("{place} item {index}"))?;
        }
        Ok(())
    }

    /// Adds one object, typed by its apiVersion and kind; others are counted and ignored.
    pub fn add_object(&mut self, object: Value, place: &str) -> Result<(), String> {
        let read = type_object(object).map_err(|e| format!("{place}: {e}"))?;
        self.insert(read, place)
    }

    /// Adds an object typed by [`type_object`].
    pub fn insert(&mut self, read: Read, place: &str) -> Result<(), String> {
        if let TypedObject::Ignored(kind) = read.object {
            *self.ignored.entry(kind).or_default() += 1;
            return Ok(());
        }
        self.listed.insert(read.kind);
        if read.kind == "Pod" && self.skip_pods {
            return Ok(());
        }
        if !self
            .seen
            .insert((read.kind, read.namespace.clone(), read.name.clone()))
        {
            return Err(format!(
                "{place}: {} appears twice; a dump holds each object of a cluster once (are two clusters' dumps given for one cluster?)",
                describe(read.kind, &read.namespace, &read.name)
            ));
        }
        match read.object {
            TypedObject::Namespace(o) => self.namespaces.push(*o),
            TypedObject::Node(o) => self.nodes.push(*o),
            TypedObject::Service(o) => self.services.push(*o),
            TypedObject::ConfigMap(o) => self.config_maps.push(*o),
            TypedObject::Pod(o) => self.pods.push(*o),
            TypedObject::Deployment(o) => self.deployments.push(*o),
            TypedObject::StatefulSet(o) => self.stateful_sets.push(*o),
            TypedObject::DaemonSet(o) => self.daemon_sets.push(*o),
            TypedObject::ServiceExport(o) => self.service_exports.push(*o),
            TypedObject::Ignored(_) => unreachable!("counted above"),
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

fn not_an_object(place: &str, found: &str) -> String {
    format!(
        "{place} is not a Kubernetes object or List (found {found}): expected what `kubectl get <kinds> -A -o yaml` prints"
    )
}

/// Checks a document's apiVersion and kind; `Some(item kind)` for a List (empty for `v1
/// List`, whose items name their own kind), `None` for a single object.
fn document_header(
    map: &Map<String, Value>,
    has_items: bool,
    place: &str,
) -> Result<Option<String>, String> {
    let text = |key: &str| map.get(key).and_then(Value::as_str).unwrap_or("");
    let (api_version, kind) = (text("apiVersion"), text("kind"));
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
    match kind.strip_suffix("List") {
        Some(item_kind) => Ok(Some(item_kind.to_string())),
        None if has_items => Err(format!("{place}: a {kind} with items is not a List")),
        None => Ok(None),
    }
}

/// The API server's typed lists leave kind and apiVersion off their items.
fn with_list_kind(item: Value, api_version: &str, item_kind: &str) -> Value {
    match item {
        Value::Object(mut object) if !item_kind.is_empty() => {
            object
                .entry("apiVersion")
                .or_insert_with(|| Value::String(api_version.to_string()));
            object
                .entry("kind")
                .or_insert_with(|| Value::String(item_kind.to_string()));
            Value::Object(object)
        }
        other => other,
    }
}

/// One document of a dump, read so that each List item is typed as soon as it is parsed:
/// a dump is mostly one large List, and its tree is never held whole.
#[derive(Default)]
struct DumpDocument {
    /// What the document is when it is not a mapping (`a string`, …); `nothing` when empty.
    not_a_mapping: Option<&'static str>,
    /// The document's keys but `items`.
    rest: Map<String, Value>,
    /// A List's items: typed, or the item itself when it names no kind (typed once the
    /// List's kind is known), or why it cannot be typed.
    items: Option<Vec<Result<Item, String>>>,
}

enum Item {
    Typed(Read),
    Kindless(Value),
}

impl<'de> Deserialize<'de> for DumpDocument {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DocumentVisitor)
    }
}

struct DocumentVisitor;

impl DocumentVisitor {
    fn other(found: &'static str) -> DumpDocument {
        DumpDocument {
            not_a_mapping: Some(found),
            ..DumpDocument::default()
        }
    }
}

impl<'de> serde::de::Visitor<'de> for DocumentVisitor {
    type Value = DumpDocument;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a Kubernetes object or List")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<DumpDocument, A::Error> {
        let mut document = DumpDocument::default();
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" {
                document.items = Some(map.next_value::<Items>()?.0);
            } else {
                let value: Value = map.next_value()?;
                document.rest.insert(key, value);
            }
        }
        Ok(document)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<DumpDocument, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Self::other("a sequence"))
    }

    fn visit_unit<E>(self) -> Result<DumpDocument, E> {
        Ok(Self::other("nothing"))
    }

    fn visit_none<E>(self) -> Result<DumpDocument, E> {
        Ok(Self::other("nothing"))
    }

    fn visit_bool<E>(self, _: bool) -> Result<DumpDocument, E> {
        Ok(Self::other("a boolean"))
    }

    fn visit_i64<E>(self, _: i64) -> Result<DumpDocument, E> {
        Ok(Self::other("a number"))
    }

    fn visit_u64<E>(self, _: u64) -> Result<DumpDocument, E> {
        Ok(Self::other("a number"))
    }

    fn visit_f64<E>(self, _: f64) -> Result<DumpDocument, E> {
        Ok(Self::other("a number"))
    }

    fn visit_str<E>(self, _: &str) -> Result<DumpDocument, E> {
        Ok(Self::other("a string"))
    }
}

/// A List's items, each typed as it is read.
struct Items(Vec<Result<Item, String>>);

impl<'de> Deserialize<'de> for Items {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ItemsVisitor;
        impl<'de> serde::de::Visitor<'de> for ItemsVisitor {
            type Value = Items;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a sequence of objects")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Items, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Value>()? {
                    let names_kind = item.get("kind").is_some_and(Value::is_string);
                    items.push(if names_kind {
                        type_object(item).map(Item::Typed)
                    } else {
                        Ok(Item::Kindless(item))
                    });
                }
                Ok(Items(items))
            }
            fn visit_unit<E>(self) -> Result<Items, E> {
                Ok(Items(Vec::new()))
            }
            fn visit_none<E>(self) -> Result<Items, E> {
                Ok(Items(Vec::new()))
            }
        }
        deserializer.deserialize_any(ItemsVisitor)
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
    let documents: Vec<DumpDocument> =
        serde_saphyr::from_str_multiple_with_options(text, crate::yaml::parse::options()).map_err(
            |e| {
                format!(
                    "{source} is not kubectl YAML output: {}",
                    e.to_string().lines().next().unwrap_or("")
                )
            },
        )?;
    let documents: Vec<DumpDocument> = documents
        .into_iter()
        .filter(|d| d.not_a_mapping != Some("nothing"))
        .collect();
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
        if let Some(found) = document.not_a_mapping {
            return Err(not_an_object(&place, found));
        }
        let header = document_header(&document.rest, document.items.is_some(), &place)?;
        let (Some(item_kind), Some(items)) = (header, document.items) else {
            objects.add_object(Value::Object(document.rest), &place)?;
            continue;
        };
        let api_version = document
            .rest
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        for (index, item) in items.into_iter().enumerate() {
            let item_place = format!("{place} item {index}");
            match item.map_err(|e| format!("{item_place}: {e}"))? {
                Item::Typed(read) => objects.insert(read, &item_place)?,
                Item::Kindless(value) => {
                    objects
                        .add_object(with_list_kind(value, api_version, &item_kind), &item_place)?;
                }
            }
        }
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
    fn kindless_items_take_the_list_kind_whatever_the_key_order() {
        let text = "apiVersion: v1\nitems:\n- metadata:\n    name: a\nkind: NamespaceList\n";
        assert_eq!(read(text).unwrap().namespaces.len(), 1);
        let empty = read("apiVersion: v1\nkind: List\nitems: null\n").unwrap();
        assert!(empty.namespaces.is_empty());
        let error =
            read("apiVersion: v1\nkind: Namespace\nitems: []\nmetadata:\n  name: a\n").unwrap_err();
        assert!(
            error.contains("a Namespace with items is not a List"),
            "{error}"
        );
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
