//! Discovery: the Kubernetes objects of one cluster in, the Gloo Mesh discovery resources
//! vmesh renders from out (Mesh, Destination, Workload, KubernetesCluster), following Gloo
//! Mesh 1.x's detectors (`pkg/mesh-discovery/translation/`) where GitOps allows it.
//!
//! Nothing here does I/O. The stages, each with a plain data type at its boundary:
//!
//! ```text
//! kubectl text / API lists ──► objects::ClusterObjects ──► facts::Facts ──► detect::Found ──► output text
//!        (read_documents)        typed k8s-openapi        what matters,      Mesh, Workload,    sorted YAML
//!                                                          sorted, hashed     Destination        with header
//! ```
//!
//! Offline dumps and the live API feed the same [`objects::ClusterObjects::add_document`],
//! so both sources give the same bytes for the same cluster. [`facts::Facts`] keeps only
//! what discovery reads, with no volatile data (replicas, uids, versions, timestamps, pod
//! IPs unless asked for), so a scaled or restarted Deployment changes neither the output nor
//! the input hash recorded in its header.

pub mod detect;
pub mod facts;
pub mod injection;
pub mod objects;
pub mod output;

use std::collections::BTreeMap;
use std::fmt;

pub use objects::ClusterObjects;

/// Cluster domain written into KubernetesCluster when none is given.
pub const DEFAULT_CLUSTER_DOMAIN: &str = "cluster.local";
/// Namespace of the discovered resources (Gloo Mesh's `$POD_NAMESPACE` default).
pub const DEFAULT_OUTPUT_NAMESPACE: &str = "gloo-mesh";
/// Gloo Mesh's default east-west TLS port name (`defaults.IstioGatewayTlsPortName`).
pub const DEFAULT_GATEWAY_TLS_PORT: &str = "tls";

/// Whether Destinations carry endpoint subsets (pod IPs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EndpointsMode {
    /// No pod IPs: the output changes only when the cluster's configuration does.
    #[default]
    Stable,
    /// Ready pods' IPs as endpoint subsets, like Gloo Mesh (changes with every restart).
    Pods,
}

/// What to discover and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `spec.clusterDomain` of the KubernetesCluster.
    pub cluster_domain: String,
    /// A Service in the istiod namespace whose selector holds every label of one of these
    /// sets is an ingress (east-west) gateway.
    pub gateway_labels: Vec<BTreeMap<String, String>>,
    /// The gateway port that carries cross-cluster mTLS.
    pub gateway_tls_port: String,
    pub endpoints: EndpointsMode,
    /// Discover Services and workloads only in these namespaces (all when empty).
    pub namespaces: Vec<String>,
    /// Never discover Services and workloads in these namespaces.
    pub exclude_namespaces: Vec<String>,
    /// Discover only Services with a `multicluster.x-k8s.io` ServiceExport.
    pub only_exported: bool,
    /// Namespace of the discovered resources.
    pub output_namespace: String,
}

impl Default for Options {
    fn default() -> Self {
        let labels = |value: &str| BTreeMap::from([("istio".to_string(), value.to_string())]);
        Options {
            cluster_domain: DEFAULT_CLUSTER_DOMAIN.to_string(),
            gateway_labels: vec![labels("eastwestgateway"), labels("ingressgateway")],
            gateway_tls_port: DEFAULT_GATEWAY_TLS_PORT.to_string(),
            endpoints: EndpointsMode::Stable,
            namespaces: Vec::new(),
            exclude_namespaces: Vec::new(),
            only_exported: false,
            output_namespace: DEFAULT_OUTPUT_NAMESPACE.to_string(),
        }
    }
}

impl Options {
    /// Services and workloads of `namespace` are discovered (the istiod namespaces and
    /// gateways are always: render needs them).
    pub fn namespace_in_scope(&self, namespace: &str) -> bool {
        (self.namespaces.is_empty() || self.namespaces.iter().any(|n| n == namespace))
            && !self.exclude_namespaces.iter().any(|n| n == namespace)
    }
}

/// A problem that stops discovery of a cluster: which cluster, which object, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoverError {
    pub cluster: String,
    /// The object it is about, e.g. `Deployment istio-system/istiod`.
    pub object: Option<String>,
    pub message: String,
}

impl DiscoverError {
    pub fn new(cluster: &str, object: Option<String>, message: impl Into<String>) -> Self {
        DiscoverError {
            cluster: cluster.to_string(),
            object,
            message: message.into(),
        }
    }
}

impl fmt::Display for DiscoverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cluster {}: ", self.cluster)?;
        if let Some(object) = &self.object {
            write!(f, "{object}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for DiscoverError {}

/// One cluster's discovery: the objects, in output order, and what they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterDiscovery {
    pub cluster: String,
    /// `sha256:<hex>` of the facts discovery read (see [`facts::Facts::hash`]).
    pub input_hash: String,
    pub objects: Vec<serde_json::Value>,
    /// Things found but not discovered (a gateway without an address, a workload whose
    /// revision has no istiod): said on stderr, never silently dropped.
    pub warnings: Vec<String>,
}

/// Discovers one cluster. `cluster` must be a DNS label: it becomes part of every name.
pub fn discover(
    cluster: &str,
    objects: &ClusterObjects,
    options: &Options,
) -> Result<ClusterDiscovery, DiscoverError> {
    if !crate::plan::names::is_dns_label(cluster) {
        return Err(DiscoverError::new(
            cluster,
            None,
            "a cluster name must be a DNS label (lowercase letters, digits and '-', at most 63 characters): it becomes part of every discovered name",
        ));
    }
    let facts = facts::Facts::gather(cluster, objects, options)?;
    let input_hash = facts.hash();
    let found = detect::detect(&facts, options)?;
    Ok(ClusterDiscovery {
        cluster: cluster.to_string(),
        input_hash,
        objects: output::objects(&found, options),
        warnings: found.warnings,
    })
}

/// Prints the discovered object as `Kind namespace/name` for messages.
pub fn describe(kind: &str, namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        format!("{kind} {name}")
    } else {
        format!("{kind} {namespace}/{name}")
    }
}
