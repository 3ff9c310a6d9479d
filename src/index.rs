//! Index: sorts the input items into typed Gloo Mesh resources, vmesh's own earlier outputs,
//! and everything else (passed through untouched).

use crate::krm::{Item, KrmResult, Results};
use crate::model::common::ObjectRef;
use crate::model::discovery::{DestinationSpec, KubernetesClusterSpec, MeshSpec, WorkloadSpec};
use crate::model::networking::{AccessPolicySpec, SettingsSpec, VirtualMeshSpec};
use crate::model::{Resource, TypeError, parse_resource};
use serde::de::DeserializeOwned;
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
        let mut seen: HashMap<(String, String, String, String), usize> = HashMap::new();
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
                let identity = (
                    group.to_string(),
                    item.kind().to_string(),
                    item.namespace().to_string(),
                    item.name().to_string(),
                );
                if let Some(first) = seen.insert(identity, index) {
                    results.push(duplicate(item, &items[first]));
                    continue;
                }
            }
            inputs.add(item, index, results);
        }
        inputs
    }

    fn add(&mut self, item: &Item, index: usize, results: &mut Results) {
        let key = ObjectRef::new(item.name(), item.namespace());
        match (item.api_version(), item.kind()) {
            ("networking.mesh.gloo.solo.io/v1", "VirtualMesh") => {
                insert(&mut self.virtual_meshes, key, item, index, results)
            }
            ("networking.mesh.gloo.solo.io/v1", "AccessPolicy") => {
                insert(&mut self.access_policies, key, item, index, results)
            }
            ("networking.mesh.gloo.solo.io/v1", "TrafficPolicy") => results.push(
                at(item, KrmResult::warning(
                    "TrafficPolicy is not translated by vmesh: no VirtualService or DestinationRule subsets are rendered from it",
                )),
            ),
            ("discovery.mesh.gloo.solo.io/v1", "Mesh") => {
                insert(&mut self.meshes, key, item, index, results)
            }
            ("discovery.mesh.gloo.solo.io/v1", "Destination") => {
                insert(&mut self.destinations, key, item, index, results)
            }
            ("discovery.mesh.gloo.solo.io/v1", "Workload") => {
                insert(&mut self.workloads, key, item, index, results)
            }
            ("settings.mesh.gloo.solo.io/v1", "Settings") => {
                insert(&mut self.settings, key, item, index, results)
            }
            ("multicluster.solo.io/v1alpha1", "KubernetesCluster") => {
                let mut clusters = BTreeMap::new();
                insert(&mut clusters, item.name().to_string(), item, index, results);
                self.clusters.extend(clusters);
            }
            ("v1", "Secret") => {
                self.secrets.insert(key, index);
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
}

fn insert<K: Ord, S: DeserializeOwned + Default>(
    map: &mut BTreeMap<K, Resource<S>>,
    key: K,
    item: &Item,
    index: usize,
    results: &mut Results,
) {
    match parse_resource::<S>(&item.value, index) {
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
