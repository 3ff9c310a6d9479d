//! How much a plan will render, per cluster, computed from the plan alone (no template, no
//! allocation per object), so that a run over its output limits stops before the expensive
//! work: one VirtualMesh over a thousand meshes, or one AccessPolicy over thousands of
//! service accounts and Destinations, renders gigabytes from a megabyte of input.
//!
//! Byte counts are lower bounds: a fixed floor per object (the smallest object vmesh renders
//! is larger) plus the parts that grow with the input (host names, endpoints, ports,
//! principals). A run refused by the estimate would have been refused by the exact count
//! after rendering, which is checked too.

use crate::index::Inputs;
use crate::plan::Plan;
use crate::plan::federation::LocalEntry;
use std::collections::{BTreeMap, BTreeSet};

/// Objects and bytes one cluster (or the run) will get.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    pub objects: u64,
    pub bytes: u64,
}

impl Estimate {
    fn add(&mut self, bytes: usize) {
        self.objects += 1;
        self.bytes += bytes as u64;
    }
}

/// The smallest object vmesh renders (an AuthorizationPolicy with an empty spec) is about
/// 560 bytes of YAML; every object carries the same metadata.
const OBJECT_FLOOR: usize = 520;
/// A `cacerts` Secret holds four PEM blocks, base64-encoded: several kilobytes.
const CACERTS_FLOOR: usize = 4_000;
/// One endpoint or port entry of a ServiceEntry.
const ENTRY_FLOOR: usize = 30;

/// The estimate per workload cluster (management items under `""`), for the configured
/// cluster only when the plan is a slice.
pub fn estimate(plan: &Plan, inputs: &Inputs) -> BTreeMap<String, Estimate> {
    let wanted = |c: &str| plan.config.cluster.as_deref().is_none_or(|w| w == c);
    let mut by_cluster: BTreeMap<String, Estimate> = BTreeMap::new();
    let mut at = |cluster: &str, bytes: usize| {
        if !wanted(cluster) && !cluster.is_empty() {
            return;
        }
        match by_cluster.get_mut(cluster) {
            Some(estimate) => estimate.add(bytes),
            None => {
                let mut estimate = Estimate::default();
                estimate.add(bytes);
                by_cluster.insert(cluster.to_string(), estimate);
            }
        }
    };
    // Only a mesh that serves a federated host gets east-west Gateways.
    let serving: std::collections::BTreeSet<_> = plan
        .federations
        .iter()
        .filter(|f| !f.targets.is_empty())
        .map(|f| &f.source_mesh)
        .collect();
    for mesh in plan.meshes.values() {
        let shared_trust = inputs
            .virtual_meshes
            .get(&mesh.virtual_mesh)
            .and_then(|vm| vm.spec.mtls_config.as_ref())
            .is_some_and(|m| m.shared.is_some());
        if shared_trust {
            at(&mesh.cluster, CACERTS_FLOOR);
        }
        if mesh.multi_mesh && serving.contains(&mesh.mesh) {
            for _ in mesh.gateways.iter().filter(|g| g.container_port != 0) {
                at(&mesh.cluster, OBJECT_FLOOR);
            }
        }
        if mesh.global_access {
            at(&mesh.cluster, OBJECT_FLOOR);
            // One allow policy per gateway workload, as the renderer dedupes them.
            let mut allowed: BTreeSet<(&str, &BTreeMap<String, String>)> = BTreeSet::new();
            for info in &mesh.ingress_gateways {
                allowed.insert((mesh.namespace.as_str(), &info.workload_labels));
                at(&mesh.cluster, OBJECT_FLOOR);
            }
            for gateway in &mesh.gateways {
                if allowed.insert((gateway.service.namespace.as_str(), &gateway.workload_labels)) {
                    at(&mesh.cluster, OBJECT_FLOOR);
                }
            }
        }
    }
    for federation in &plan.federations {
        let host = federation.hostname.len();
        let entries = federation.ports.len() + federation.remote_endpoints.len();
        for target in federation.targets.iter() {
            at(
                &target.cluster,
                OBJECT_FLOOR + 2 * host + entries * ENTRY_FLOOR,
            );
            if target.cluster != federation.service.cluster_name || plan.renders_local_rules() {
                at(&target.cluster, OBJECT_FLOOR + host);
            }
        }
        let Some(source) = plan.meshes.get(&federation.source_mesh) else {
            continue;
        };
        let local_ports = match &federation.local {
            LocalEntry::Selector { .. } => federation.ports.len(),
            LocalEntry::Pods { endpoints, .. } => federation.ports.len() + endpoints.len(),
        };
        at(
            &source.cluster,
            OBJECT_FLOOR + 2 * host + local_ports * ENTRY_FLOOR,
        );
        if !federation.targets.is_empty() {
            at(&source.cluster, OBJECT_FLOOR + host);
        }
    }
    for destination in &plan.destinations {
        let cluster = destination.service.cluster_name.as_str();
        if plan.renders_local_rules() {
            at(cluster, OBJECT_FLOOR + destination.local_fqdn.len());
        }
        if !destination.rules.is_empty() {
            at(cluster, OBJECT_FLOOR + rules_bytes(destination));
        }
    }
    by_cluster
}

/// The principals and namespaces of a Destination's AuthorizationPolicy: one list item
/// each (`- <text>` on its own indented line).
fn rules_bytes(destination: &crate::plan::DestinationPlan) -> usize {
    destination
        .rules
        .iter()
        .flat_map(|rule| rule.from.iter().flatten())
        .flat_map(|source| source.principals.iter().chain(&source.namespaces))
        .map(|text| text.len() + 8)
        .sum()
}

/// The limits a run's estimate (or its exact size, after rendering) must stay within, with
/// the functionConfig key of each.
pub fn over_limits(
    config: &crate::model::config::RenderConfig,
    clusters: &BTreeMap<String, Estimate>,
    exact: bool,
) -> Vec<(String, &'static str)> {
    let about = if exact { "" } else { "at least " };
    let mut problems = Vec::new();
    let mut total = Estimate::default();
    for (cluster, estimate) in clusters {
        total.objects += estimate.objects;
        total.bytes += estimate.bytes;
        if cluster.is_empty() {
            continue;
        }
        if estimate.bytes > config.output_bytes_per_cluster() {
            problems.push((
                format!(
                    "cluster {cluster} would get {about}{} bytes of output ({} objects), over the limit of {} bytes per cluster (Argo CD refuses more than 100 MB per application): narrow the VirtualMesh's federation or the AccessPolicies' selectors, split the meshes into several VirtualMeshes, or raise maxOutputBytesPerCluster in the functionConfig",
                    estimate.bytes,
                    estimate.objects,
                    config.output_bytes_per_cluster()
                ),
                "spec.maxOutputBytesPerCluster",
            ));
        }
        if estimate.objects > config.output_objects_per_cluster() {
            problems.push((
                format!(
                    "cluster {cluster} would get {} objects, over the limit of {} per cluster: narrow the VirtualMesh's federation, or raise maxOutputObjectsPerCluster in the functionConfig",
                    estimate.objects,
                    config.output_objects_per_cluster()
                ),
                "spec.maxOutputObjectsPerCluster",
            ));
        }
    }
    if total.bytes > config.output_bytes() {
        problems.push((
            format!(
                "the run would render {about}{} bytes of output ({} objects in {} clusters), over the limit of {} bytes per run (output grows with meshes × federated Destinations): narrow the VirtualMesh's federation, render one cluster at a time (spec.cluster), or raise maxOutputBytes in the functionConfig",
                total.bytes,
                total.objects,
                clusters.keys().filter(|c| !c.is_empty()).count(),
                config.output_bytes()
            ),
            "spec.maxOutputBytes",
        ));
    }
    if total.objects > config.output_objects() {
        problems.push((
            format!(
                "the run would render {} objects, over the limit of {} per run: narrow the VirtualMesh's federation, render one cluster at a time (spec.cluster), or raise maxOutputObjects in the functionConfig",
                total.objects,
                config.output_objects()
            ),
            "spec.maxOutputObjects",
        ));
    }
    problems
}

/// The benchmarks' scale topology, for the test below.
#[cfg(test)]
#[path = "../../benches/support/scale.rs"]
mod scale;

#[cfg(test)]
mod tests {
    use super::*;

    /// The estimate must be a lower bound (so it never refuses a run that fits) and close
    /// enough to be useful (so a run far over the limit stops before rendering).
    fn compare(text: String) {
        let list = crate::krm::read_resource_list(text).unwrap();
        let mut results = crate::krm::Results::default();
        let inputs = Inputs::index(&list.items, &mut results);
        let config = crate::config::from_function_config(list.function_config.as_ref()).unwrap();
        let plan = Plan::build(&inputs, &list.items, &config, &mut results);
        assert!(!results.has_errors());
        let estimate = estimate(&plan, &inputs);
        let outcome = crate::run(
            list,
            &crate::RunOptions::new(crate::OutputStyle::GeneratedStream),
        );
        assert_eq!(outcome.exit_code, 0, "{:?}", outcome.results);
        let objects: u64 = estimate.values().map(|e| e.objects).sum();
        let rendered: u64 = outcome.clusters.iter().map(|(_, n)| *n as u64).sum();
        let bytes: u64 = estimate.values().map(|e| e.bytes).sum();
        let actual = outcome.stdout.len() as u64;
        assert!(
            objects <= rendered,
            "{objects} objects estimated, {rendered} rendered"
        );
        assert!(
            objects * 10 >= rendered * 9,
            "{objects} objects estimated, {rendered} rendered"
        );
        assert!(
            bytes <= actual,
            "{bytes} bytes estimated, {actual} rendered"
        );
        assert!(
            bytes * 2 >= actual,
            "{bytes} bytes estimated, {actual} rendered"
        );
    }

    /// The limits are the functionConfig's: a run refused at a low limit renders once it
    /// is raised, and a ConfigMap gives them as strings.
    #[test]
    fn limits_are_set_in_the_function_config() {
        let input = super::scale::generate(2, 2, false, 2048, None);
        let run = |spec: &str| {
            let text = format!(
                "{input}functionConfig:\n  apiVersion: vmesh.dev/v1alpha1\n  kind: VirtualMeshRenderer\n  metadata:\n    name: vmesh\n  spec:\n{spec}"
            );
            let list = crate::krm::read_resource_list(text).unwrap();
            crate::run(
                list,
                &crate::RunOptions::new(crate::OutputStyle::GeneratedStream),
            )
        };
        let refused = run("    maxOutputObjectsPerCluster: 3\n");
        assert_eq!(refused.exit_code, 1);
        let message = &refused.results[0].message;
        assert!(
            message.contains("over the limit of 3 per cluster"),
            "{message}"
        );
        assert_eq!(
            refused.results[0].field.as_ref().unwrap().path,
            "spec.maxOutputObjectsPerCluster"
        );
        assert!(refused.stdout.is_empty());
        let refused = run("    maxOutputBytes: 1000\n");
        assert!(
            refused.results[0].message.contains("maxOutputBytes"),
            "{:?}",
            refused.results
        );
        assert_eq!(run("    maxOutputObjectsPerCluster: 100000\n").exit_code, 0);

        let config_map = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"maxOutputBytes": "4096", "templateFuel": "10"}});
        let config = crate::config::from_function_config(Some(&config_map)).unwrap();
        assert_eq!((config.output_bytes(), config.template_fuel()), (4096, 10));
        let bad = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"maxOutputBytes": "lots"}});
        let err = crate::config::from_function_config(Some(&bad)).unwrap_err();
        assert!(err.message.contains("whole number"), "{}", err.message);
    }

    #[test]
    fn the_estimate_is_a_useful_lower_bound() {
        compare(super::scale::generate(6, 5, false, 2048, None));
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
        for case in [
            "access-policy",
            "two-clusters",
            "destination-federation-pods",
        ] {
            compare(std::fs::read_to_string(root.join(case).join("input.yaml")).unwrap());
        }
    }
}
