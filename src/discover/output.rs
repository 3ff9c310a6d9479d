//! The discovered resources as objects and as the text `vmesh discover` writes: one YAML
//! stream per cluster, behind a comment header that says what it was discovered from.

use super::detect::{Discovered, Found};
use super::facts::Labels;
use super::{ClusterDiscovery, Options};
use crate::krm::LOCAL_CONFIG_ANNOTATION;
use serde::Serialize;
use serde_json::{Map, Value, json};

/// The first line of every file `vmesh discover` writes; `--out` overwrites only files
/// that start with it.
pub const HEADER_PREFIX: &str = "# Discovered by vmesh discover";

pub const DISCOVERY_API_VERSION: &str = "discovery.mesh.gloo.solo.io/v1";
pub const CLUSTER_API_VERSION: &str = "multicluster.solo.io/v1alpha1";
/// Gloo Mesh's discovered-resource labels (`labelutils.ClusterLabels`).
pub const OWNER_LABEL: &str = "owner.discovery.mesh.gloo.solo.io";
pub const CLUSTER_LABEL: &str = "cluster.discovery.mesh.gloo.solo.io";

/// The cluster's objects in output order: the KubernetesCluster, then Meshes,
/// Destinations and Workloads, each sorted by name.
pub fn objects(found: &Found, options: &Options) -> Vec<Value> {
    let mut objects = Vec::new();
    let cluster = &found.cluster;
    objects.push(object(
        CLUSTER_API_VERSION,
        "KubernetesCluster",
        cluster,
        &Labels::new(),
        cluster,
        options,
        json!({"clusterDomain": options.cluster_domain}),
    ));
    let mut add = |kind: &str, discovered: &Discovered<_>, spec: Value| {
        objects.push(object(
            DISCOVERY_API_VERSION,
            kind,
            &discovered.name,
            &discovered.annotations,
            cluster,
            options,
            spec,
        ));
    };
    for mesh in &found.meshes {
        add("Mesh", &erase(mesh), to_value(&mesh.spec));
    }
    for destination in &found.destinations {
        add(
            "Destination",
            &erase(destination),
            to_value(&destination.spec),
        );
    }
    for workload in &found.workloads {
        add("Workload", &erase(workload), to_value(&workload.spec));
    }
    objects
}

/// The name and annotations of a discovered resource, whatever its spec.
fn erase<S>(discovered: &Discovered<S>) -> Discovered<()> {
    Discovered {
        name: discovered.name.clone(),
        annotations: discovered.annotations.clone(),
        spec: (),
    }
}

fn to_value<S: Serialize>(spec: &S) -> Value {
    serde_json::to_value(spec).expect("discovered specs serialize")
}

fn object(
    api_version: &str,
    kind: &str,
    name: &str,
    source_annotations: &Labels,
    cluster: &str,
    options: &Options,
    spec: Value,
) -> Value {
    let mut labels = Map::new();
    labels.insert(CLUSTER_LABEL.into(), json!(cluster));
    labels.insert(OWNER_LABEL.into(), json!(options.output_namespace));
    let mut annotations: Labels = source_annotations.clone();
    annotations.insert(LOCAL_CONFIG_ANNOTATION.into(), "true".into());
    let mut metadata = Map::new();
    metadata.insert("name".into(), json!(name));
    metadata.insert("namespace".into(), json!(options.output_namespace));
    metadata.insert("labels".into(), Value::Object(labels));
    metadata.insert("annotations".into(), json!(annotations));
    json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": metadata,
        "spec": spec,
    })
}

/// One cluster's text: the header, then its objects as a YAML stream. `origin` says where
/// the objects came from (`dump cluster-1.yaml`, `context kind-east`); it is printed in a
/// comment, so it never holds credentials.
pub fn cluster_text(discovery: &ClusterDiscovery, origin: &str) -> String {
    let origin: String = origin
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    let mut text = format!(
        "{HEADER_PREFIX} from {origin}: cluster {}.\n# Inputs: {} (the objects discovery read, volatile fields excluded).\n# Do not edit: run vmesh discover again; it overwrites this file.\n",
        discovery.cluster, discovery.input_hash
    );
    for (i, object) in discovery.objects.iter().enumerate() {
        if i > 0 {
            text.push_str("---\n");
        }
        crate::yaml::emit::emit_document(&mut text, object);
    }
    text
}

/// Several clusters' texts as one stream, in the order given.
pub fn stream_text(texts: &[String]) -> String {
    texts.join("---\n")
}
