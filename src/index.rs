//! Index: sorts the input items into typed Gloo Mesh resources, vmesh's own earlier outputs,
//! and everything else (passed through untouched).

use crate::krm::{Item, KrmResult, Results};
use crate::model::common::ObjectRef;
use crate::model::discovery::{DestinationSpec, KubernetesClusterSpec, MeshSpec, WorkloadSpec};
use crate::model::networking::{AccessPolicySpec, SettingsSpec, VirtualMeshSpec};
use crate::model::{Resource, TypeError, parse_resource};
use std::collections::{BTreeMap, HashMap};

pub const NETWORKING_GROUP: &str = "networking.mesh.gloo.solo.io";
pub const DISCOVERY_GROUP: &str = "discovery.mesh.gloo.solo.io";
pub const SETTINGS_GROUP: &str = "settings.mesh.gloo.solo.io";
pub const MULTICLUSTER_GROUP: &str = "multicluster.solo.io";

/// Label that marks vmesh's outputs; items carrying it are regenerated on every run.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "vmesh";

/// Whether an object is one of vmesh's earlier outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// An object vmesh could have generated: one of its kinds, with its label and its
    /// annotations. It is dropped and rendered again.
    Generated,
    /// Carries vmesh's managed-by label but is not an object vmesh generates (a user's
    /// Deployment, a Secret that is not `cacerts`, an Istio object without vmesh's
    /// annotations): it is kept, with a warning, because dropping it would delete a file the
    /// user wrote.
    Labelled,
    /// Anything else.
    Foreign,
}

/// Decides [`Ownership`] from the fields every reader keeps: `apiVersion`, `kind`,
/// `metadata.name`, labels, the `vmesh.dev/` annotations and a Secret's `type`. The label
/// alone is not enough: anyone can write it, and what vmesh drops kpt deletes.
pub fn ownership(object: &serde_json::Map<String, serde_json::Value>) -> Ownership {
    let field = |key: &str| object.get(key).and_then(|v| v.as_str()).unwrap_or("");
    let metadata = object.get("metadata");
    let label = metadata
        .and_then(|m| m.get("labels"))
        .and_then(|l| l.get(MANAGED_BY_LABEL))
        .and_then(|v| v.as_str());
    if label != Some(MANAGED_BY_VALUE) {
        return Ownership::Foreign;
    }
    let annotation = |key: &str| {
        metadata
            .and_then(|m| m.get("annotations"))
            .and_then(|a| a.get(key))
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
    };
    use crate::render::outputs::{
        CLUSTER_ANNOTATION, DESTINATION_ANNOTATION, VIRTUAL_MESH_ANNOTATION,
    };
    let parent = annotation(VIRTUAL_MESH_ANNOTATION).is_some()
        || annotation(DESTINATION_ANNOTATION).is_some();
    let cluster = annotation(CLUSTER_ANNOTATION).is_some();
    let generated = parent
        && match (field("apiVersion"), field("kind")) {
            (
                "networking.istio.io/v1" | "networking.istio.io/v1beta1",
                "Gateway" | "ServiceEntry" | "DestinationRule",
            )
            | ("security.istio.io/v1" | "security.istio.io/v1beta1", "AuthorizationPolicy") => {
                cluster
            }
            ("v1", "Secret") => {
                let name = metadata
                    .and_then(|m| m.get("name"))
                    .and_then(|v| v.as_str());
                let cacerts = name == Some(crate::certs::CACERTS) && cluster;
                let root = field("type") == crate::certs::ROOT_SECRET_TYPE
                    && annotation(crate::krm::LOCAL_CONFIG_ANNOTATION) == Some("true");
                cacerts || root
            }
            // A mesh's Istio settings (render::settings), a management item.
            ("v1", "ConfigMap") => {
                annotation(crate::render::settings::SETTINGS_ANNOTATION)
                    == Some(crate::render::settings::SETTINGS_FORMAT)
                    && annotation(crate::render::settings::SETTINGS_CLUSTER_ANNOTATION).is_some()
            }
            _ => false,
        };
    if generated {
        Ownership::Generated
    } else {
        Ownership::Labelled
    }
}

/// The warning for an item that carries vmesh's label but is not vmesh's.
fn labelled_but_kept(item: &Item) -> KrmResult {
    at(
        item,
        KrmResult::warning(format!(
            "carries the label {MANAGED_BY_LABEL}: {MANAGED_BY_VALUE} but is not an object vmesh renders (an Istio Gateway, ServiceEntry, DestinationRule or AuthorizationPolicy, a cacerts or root CA Secret, or a mesh's Istio settings ConfigMap, with vmesh's vmesh.dev/ annotations); it is kept as it is: remove the label if vmesh did not write it"
        ))
        .with_field(format!("metadata.labels.{MANAGED_BY_LABEL}")),
    )
}

/// The typed inputs of one run. Maps are keyed by `ObjectRef`, so iteration follows Gloo
/// Mesh's key order (name, then namespace) and is independent of input order.
#[derive(Debug, Default)]
pub struct Inputs {
    pub virtual_meshes: BTreeMap<ObjectRef, Resource<VirtualMeshSpec>>,
    pub meshes: BTreeMap<ObjectRef, Resource<MeshSpec>>,
    pub destinations: BTreeMap<ObjectRef, Resource<DestinationSpec>>,
    pub workloads: BTreeMap<ObjectRef, Resource<WorkloadSpec>>,
    pub access_policies: BTreeMap<ObjectRef, Resource<AccessPolicySpec>>,
    pub settings: BTreeMap<ObjectRef, Resource<SettingsSpec>>,
    /// KubernetesCluster by cluster name.
    pub clusters: BTreeMap<String, Resource<KubernetesClusterSpec>>,
    /// v1 Secrets by reference (item index), for root CA lookups.
    pub secrets: BTreeMap<ObjectRef, usize>,
    /// Items vmesh generated on an earlier run (item indexes).
    pub owned: Vec<usize>,
}

impl Inputs {
    /// Sorts `items` and types the Gloo Mesh ones. Problems become error results; an item
    /// that cannot be typed is left out of the typed maps (the run fails anyway).
    pub fn index(items: &[Item], results: &mut Results) -> Inputs {
        let mut inputs = Inputs::default();
        let mut to_type: Vec<(usize, GlooKind)> = Vec::new();
        let mut seen: HashMap<(&str, &str, &str, &str), usize> = HashMap::new();
        for (index, item) in items.iter().enumerate() {
            match item.value.as_object().map_or(Ownership::Foreign, ownership) {
                Ownership::Generated => {
                    inputs.owned.push(index);
                    continue;
                }
                Ownership::Labelled => results.push(labelled_but_kept(item)),
                Ownership::Foreign => {}
            }
            let group = item.api_version().rsplit_once('/').map_or("", |(g, _)| g);
            let is_gloo = matches!(
                group,
                NETWORKING_GROUP | DISCOVERY_GROUP | SETTINGS_GROUP | MULTICLUSTER_GROUP
            );
            if is_gloo {
                let identity = (group, item.kind(), item.namespace(), item.name());
                if let Some(first) = seen.insert(identity, index) {
                    results.push(duplicate(item, &items[first]));
                    continue;
                }
            }
            match GlooKind::of(item) {
                Some(kind) => to_type.push((index, kind)),
                None => inputs.add_untyped(item, index, results),
            }
        }
        // Typing is most of the index's time, and items are independent: type them on every
        // core, then insert them in input order.
        let chunks: Vec<&[(usize, GlooKind)]> = to_type.chunks(TYPING_CHUNK).collect();
        let typed = crate::parallel::in_parallel(&chunks, |chunk| {
            chunk
                .iter()
                .map(|&(index, kind)| (index, Typed::parse(kind, &items[index].value, index)))
                .collect::<Vec<_>>()
        });
        for (index, typed) in typed.into_iter().flatten() {
            inputs.insert(typed, &items[index], results);
        }
        inputs
    }

    /// Items that are not typed: Secrets (root CA lookups), and the Gloo Mesh kinds vmesh
    /// does not translate or whose API version it does not read.
    fn add_untyped(&mut self, item: &Item, index: usize, results: &mut Results) {
        match (item.api_version(), item.kind()) {
            ("networking.mesh.gloo.solo.io/v1", "TrafficPolicy") => results.push(
                at(item, KrmResult::warning(
                    "TrafficPolicy is not translated by vmesh: no VirtualService or DestinationRule subsets are rendered from it",
                )),
            ),
            ("v1", "Secret") => {
                self.secrets
                    .insert(ObjectRef::new(item.name(), item.namespace()), index);
            }
            (api_version, kind @ ("VirtualMesh" | "Mesh" | "Destination" | "AccessPolicy" | "Workload"))
                if item.is_group(NETWORKING_GROUP) || item.is_group(DISCOVERY_GROUP) =>
            {
                results.push(at(
                    item,
                    KrmResult::error(format!(
                        "{kind} {api_version} is not supported; vmesh reads the v1 API (networking.mesh.gloo.solo.io/v1, discovery.mesh.gloo.solo.io/v1)"
                    ))
                    .with_field("apiVersion"),
                ));
            }
            _ => {}
        }
    }

    fn insert(&mut self, typed: Typed, item: &Item, results: &mut Results) {
        // Read under the names their references use (kustomize renames a transformer's
        // inputs before it sees them; a no-op under kpt). The item itself is not changed.
        let (name, namespace) = own_name(item);
        let key = || ObjectRef::new(&name, &namespace);
        let own = (name.clone(), namespace.clone());
        match typed {
            Typed::VirtualMesh(r) => insert(
                &mut self.virtual_meshes,
                key(),
                renamed(*r, &own),
                item,
                results,
            ),
            Typed::AccessPolicy(r) => insert(
                &mut self.access_policies,
                key(),
                renamed(r, &own),
                item,
                results,
            ),
            Typed::Mesh(r) => insert(&mut self.meshes, key(), renamed(*r, &own), item, results),
            Typed::Destination(r) => insert(
                &mut self.destinations,
                key(),
                renamed(r, &own),
                item,
                results,
            ),
            Typed::Workload(r) => {
                insert(&mut self.workloads, key(), renamed(r, &own), item, results)
            }
            Typed::Settings(r) => {
                insert(&mut self.settings, key(), renamed(r, &own), item, results)
            }
            Typed::KubernetesCluster(r) => insert(
                &mut self.clusters,
                item.name().to_string(),
                r,
                item,
                results,
            ),
        }
    }
}

/// Items typed per parallel job: enough to outweigh the job's bookkeeping.
const TYPING_CHUNK: usize = 64;

/// The Gloo Mesh kinds vmesh reads into typed resources.
#[derive(Debug, Clone, Copy)]
enum GlooKind {
    VirtualMesh,
    AccessPolicy,
    Mesh,
    Destination,
    Workload,
    Settings,
    KubernetesCluster,
}

impl GlooKind {
    fn of(item: &Item) -> Option<GlooKind> {
        Some(match (item.api_version(), item.kind()) {
            ("networking.mesh.gloo.solo.io/v1", "VirtualMesh") => GlooKind::VirtualMesh,
            ("networking.mesh.gloo.solo.io/v1", "AccessPolicy") => GlooKind::AccessPolicy,
            ("discovery.mesh.gloo.solo.io/v1", "Mesh") => GlooKind::Mesh,
            ("discovery.mesh.gloo.solo.io/v1", "Destination") => GlooKind::Destination,
            ("discovery.mesh.gloo.solo.io/v1", "Workload") => GlooKind::Workload,
            ("settings.mesh.gloo.solo.io/v1", "Settings") => GlooKind::Settings,
            ("multicluster.solo.io/v1alpha1", "KubernetesCluster") => GlooKind::KubernetesCluster,
            _ => return None,
        })
    }
}

/// One item read as its typed resource, or why it could not be.
enum Typed {
    // Boxed: few, and far larger than a Destination.
    VirtualMesh(Box<Result<Resource<VirtualMeshSpec>, TypeError>>),
    AccessPolicy(Result<Resource<AccessPolicySpec>, TypeError>),
    Mesh(Box<Result<Resource<MeshSpec>, TypeError>>),
    Destination(Result<Resource<DestinationSpec>, TypeError>),
    Workload(Result<Resource<WorkloadSpec>, TypeError>),
    Settings(Result<Resource<SettingsSpec>, TypeError>),
    KubernetesCluster(Result<Resource<KubernetesClusterSpec>, TypeError>),
}

impl Typed {
    fn parse(kind: GlooKind, value: &serde_json::Value, index: usize) -> Typed {
        match kind {
            GlooKind::VirtualMesh => Typed::VirtualMesh(Box::new(parse_resource(value, index))),
            GlooKind::AccessPolicy => Typed::AccessPolicy(parse_resource(value, index)),
            GlooKind::Mesh => Typed::Mesh(Box::new(parse_resource(value, index))),
            GlooKind::Destination => Typed::Destination(parse_resource(value, index)),
            GlooKind::Workload => Typed::Workload(parse_resource(value, index)),
            GlooKind::Settings => Typed::Settings(parse_resource(value, index)),
            GlooKind::KubernetesCluster => Typed::KubernetesCluster(parse_resource(value, index)),
        }
    }
}

fn insert<K: Ord, S>(
    map: &mut BTreeMap<K, Resource<S>>,
    key: K,
    typed: Result<Resource<S>, TypeError>,
    item: &Item,
    results: &mut Results,
) {
    match typed {
        Ok(resource) => {
            map.insert(key, resource);
        }
        Err(TypeError { path, message }) => {
            results.push(at(item, KrmResult::error(message).with_field(path)));
        }
    }
}

fn duplicate(item: &Item, first: &Item) -> KrmResult {
    // Name the document too when both copies are in one file (or it is not the first).
    let same_file = item.file_ref().map(|f| f.path) == first.file_ref().map(|f| f.path);
    let place = |i: &Item| match i.file_ref() {
        Some(f) if f.index > 0 || same_file => format!("{} (document {})", f.path, f.index),
        Some(f) => f.path,
        None => format!("item {}", i.position),
    };
    at(
        item,
        KrmResult::error(format!(
            "duplicate {} {}/{}: also defined at {}; each resource may be given once",
            item.kind(),
            item.namespace(),
            item.name(),
            place(first)
        )),
    )
}

/// Attaches the item's resourceRef and file to a result.
pub fn at(item: &Item, mut result: KrmResult) -> KrmResult {
    let mut resource_ref = item.resource_ref();
    // The resource's own name, as its file gives it, not the one kustomize's builtins gave
    // it (namePrefix:, namespace:) before a transformer saw it.
    let (name, namespace) = own_name(item);
    resource_ref.name = name;
    resource_ref.namespace = namespace;
    result.resource_ref = Some(resource_ref);
    result.file = item.file_ref().or_else(|| origin_file(item));
    if result.file.is_none() {
        result = result.with_tag("item", item.position.to_string());
    }
    result
}

/// A typed resource under its own name (see [`own_name`]).
fn renamed<S>(
    typed: Result<Resource<S>, TypeError>,
    (name, namespace): &(String, String),
) -> Result<Resource<S>, TypeError> {
    typed.map(|mut r| {
        r.meta.name = Some(name.clone());
        if !namespace.is_empty() {
            r.meta.namespace = Some(namespace.clone());
        }
        r
    })
}

/// An item's name and namespace before kustomize renamed it (kustomize records them first
/// in `internal.config.kubernetes.io/previousNames` / `previousNamespaces`); its own
/// otherwise. kpt never sets these annotations.
pub fn own_name(item: &Item) -> (String, String) {
    let first = |key: &str| {
        item.annotation(key)
            .and_then(|v| v.split(',').next())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    (
        first("internal.config.kubernetes.io/previousNames")
            .unwrap_or_else(|| item.name().to_string()),
        first("internal.config.kubernetes.io/previousNamespaces")
            .unwrap_or_else(|| item.namespace().to_string()),
    )
}

/// The file kustomize records in `config.kubernetes.io/origin` (`buildMetadata:
/// [originAnnotations]`), for items without kpt's path annotation.
fn origin_file(item: &Item) -> Option<crate::krm::results::FileRef> {
    let origin = item.annotation("config.kubernetes.io/origin")?;
    let path = origin
        .lines()
        .find_map(|l| l.trim().strip_prefix("path: "))?;
    Some(crate::krm::results::FileRef {
        path: path.trim().trim_matches(['"', '\'']).to_string(),
        index: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(api_version: &str, kind: &str, name: &str, annotations: Value) -> Value {
        json!({
            "apiVersion": api_version,
            "kind": kind,
            "metadata": {
                "name": name,
                "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE},
                "annotations": annotations,
            },
        })
    }

    fn of(value: &Value) -> Ownership {
        ownership(value.as_object().unwrap())
    }

    use serde_json::Value;

    #[test]
    fn only_vmesh_kinds_with_vmesh_annotations_are_generated() {
        let own = json!({"vmesh.dev/cluster": "c", "vmesh.dev/virtual-mesh": "g/vm"});
        for (api, kind) in [
            ("networking.istio.io/v1", "ServiceEntry"),
            ("networking.istio.io/v1beta1", "DestinationRule"),
            ("networking.istio.io/v1", "Gateway"),
            ("security.istio.io/v1", "AuthorizationPolicy"),
        ] {
            assert_eq!(
                of(&object(api, kind, "x", own.clone())),
                Ownership::Generated
            );
            // Without the cluster or the parent annotation it is a user's object.
            let partial = json!({"vmesh.dev/cluster": "c"});
            assert_eq!(of(&object(api, kind, "x", partial)), Ownership::Labelled);
        }
        assert_eq!(
            of(&object("v1", "Secret", "cacerts", own.clone())),
            Ownership::Generated
        );
        assert_eq!(
            of(&object("v1", "Secret", "db-password", own.clone())),
            Ownership::Labelled
        );
        let mut root = object(
            "v1",
            "Secret",
            "root",
            json!({"vmesh.dev/virtual-mesh": "g/vm", crate::krm::LOCAL_CONFIG_ANNOTATION: "true"}),
        );
        assert_eq!(of(&root), Ownership::Labelled, "a root needs its type");
        root["type"] = json!(crate::certs::ROOT_SECRET_TYPE);
        assert_eq!(of(&root), Ownership::Generated);
        assert_eq!(
            of(&object("apps/v1", "Deployment", "web", own.clone())),
            Ownership::Labelled
        );
        let mut unlabelled = object("networking.istio.io/v1", "ServiceEntry", "x", own);
        unlabelled["metadata"]["labels"] = json!({});
        assert_eq!(of(&unlabelled), Ownership::Foreign);
    }

    /// A user's Deployment carrying vmesh's label is kept (kpt would delete its file if it
    /// were dropped), with a warning naming it; vmesh's own ServiceEntry is dropped.
    #[test]
    fn a_labelled_user_object_is_kept_with_a_warning() {
        let text = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    name: web\n    namespace: apps\n    labels:\n      app.kubernetes.io/managed-by: vmesh\n    annotations:\n      internal.config.kubernetes.io/path: apps/web.yaml\n- apiVersion: networking.istio.io/v1\n  kind: ServiceEntry\n  metadata:\n    name: old\n    namespace: istio-system\n    labels:\n      app.kubernetes.io/managed-by: vmesh\n    annotations:\n      vmesh.dev/cluster: c\n      vmesh.dev/virtual-mesh: g/vm\n";
        let list = crate::krm::read_resource_list(text.to_string()).unwrap();
        let outcome = crate::run(
            list,
            &crate::RunOptions::new(crate::OutputStyle::ResourceList),
        );
        assert_eq!(outcome.exit_code, 0, "{:?}", outcome.results);
        assert!(outcome.stdout.contains("name: web"), "{}", outcome.stdout);
        assert!(!outcome.stdout.contains("name: old"), "{}", outcome.stdout);
        let warning = outcome
            .results
            .iter()
            .find(|r| r.severity == crate::krm::Severity::Warning)
            .expect("a warning");
        assert!(
            warning.message.contains("it is kept"),
            "{}",
            warning.message
        );
        assert_eq!(warning.resource_ref.as_ref().unwrap().name, "web");
        assert_eq!(warning.file.as_ref().unwrap().path, "apps/web.yaml");
    }
}
