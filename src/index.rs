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
            if item.label(MANAGED_BY_LABEL) == Some(MANAGED_BY_VALUE) {
                inputs.owned.push(index);
                continue;
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
        let key = || ObjectRef::new(item.name(), item.namespace());
        match typed {
            Typed::VirtualMesh(r) => insert(&mut self.virtual_meshes, key(), *r, item, results),
            Typed::AccessPolicy(r) => insert(&mut self.access_policies, key(), r, item, results),
            Typed::Mesh(r) => insert(&mut self.meshes, key(), *r, item, results),
            Typed::Destination(r) => insert(&mut self.destinations, key(), r, item, results),
            Typed::Workload(r) => insert(&mut self.workloads, key(), r, item, results),
            Typed::Settings(r) => insert(&mut self.settings, key(), r, item, results),
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
    result.resource_ref = Some(item.resource_ref());
    result.file = item.file_ref();
    if result.file.is_none() {
        result = result.with_tag("item", item.position.to_string());
    }
    result
}
