//! The Istio install settings a mesh needs for vmesh's federation to carry traffic, as values
//! for Istio's `istiod` Helm chart (the common install path), one comment per setting saying
//! why. vmesh cannot change an Istio installation; it renders what to apply, and the Istio
//! harness uses exactly these settings as the cluster's mesh config.

use crate::plan::MeshPlan;
use std::fmt::Write as _;

/// The data key of the settings ConfigMap.
pub const VALUES_KEY: &str = "values.yaml";

/// Marks the settings ConfigMap (its value names the format of [`VALUES_KEY`]).
pub const SETTINGS_ANNOTATION: &str = "vmesh.dev/istio-settings";
pub const SETTINGS_FORMAT: &str = "istiod-helm-values";

/// The workload cluster whose Istio installation the settings are for. Not
/// `vmesh.dev/cluster`: the settings are a management item, applied to no cluster.
pub const SETTINGS_CLUSTER_ANNOTATION: &str = "vmesh.dev/istio-settings-cluster";

/// The directory of every cluster's settings, beside `clusters/` in a kpt package and beside
/// the clusters' directories in `vmesh render --out`.
pub const SETTINGS_DIR: &str = "istio-settings";

/// Path of a mesh's settings: one file per cluster, outside any cluster's directory so that
/// nothing that syncs a cluster's directory applies them.
pub fn settings_path(cluster: &str) -> String {
    format!("{SETTINGS_DIR}/{cluster}.yaml")
}

/// The Helm values text for one mesh. Strings are quoted as JSON, which YAML reads as the
/// same string, so no trust domain can change the document's shape.
pub fn helm_values(mesh: &MeshPlan) -> String {
    let quote = |s: &str| serde_json::to_string(s).expect("strings serialize");
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Istio settings that federation by VirtualMesh {}/{} needs in cluster {}\n\
         # (mesh {}/{}, istiod in namespace {}).\n\
         # Merge them into the values of Istio's istiod Helm chart, e.g.:\n\
         #   helm upgrade istiod istio/istiod -n {} --reuse-values -f values.yaml",
        mesh.virtual_mesh.namespace,
        mesh.virtual_mesh.name,
        mesh.cluster,
        mesh.mesh.namespace,
        mesh.mesh.name,
        mesh.namespace,
        mesh.namespace,
    );
    out.push_str("meshConfig:\n");
    if !mesh.trust_domain.is_empty() {
        let _ = writeln!(
            out,
            "  # The mesh's own identity, as its Mesh resource says: workload certificates and\n  \
             # AuthorizationPolicy principals use it.\n  \
             trustDomain: {}",
            quote(&mesh.trust_domain)
        );
    }
    if !mesh.peer_trust_domains.is_empty() {
        out.push_str(
            "  # Accept peers from the other meshes' trust domains. A sidecar accepts peer\n  \
             # certificates of its own trust domain only (TrustDomainsForValidation), so without\n  \
             # this every federated call fails the TLS handshake. Unlike trustDomainAliases,\n  \
             # these do not rewrite AuthorizationPolicy principals: a policy that names one\n  \
             # mesh's trust domain still means that mesh only.\n  \
             caCertificates:\n  - trustDomains:\n",
        );
        for domain in &mesh.peer_trust_domains {
            let _ = writeln!(out, "    - {}", quote(domain));
        }
    }
    out.push_str(
        "  defaultConfig:\n    proxyMetadata:\n      \
         # Sidecars answer DNS for ServiceEntry hosts. Federated hosts exist in no Kubernetes\n      \
         # DNS and Istio no longer ships a DNS server for them: without capture they do not\n      \
         # resolve.\n      \
         ISTIO_META_DNS_CAPTURE: \"true\"\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::common::ObjectRef;

    fn mesh(trust_domain: &str, peers: &[&str]) -> MeshPlan {
        MeshPlan {
            mesh: ObjectRef::new("istiod-istio-system-c1", "gloo-mesh"),
            virtual_mesh: ObjectRef::new("vm", "gloo-mesh"),
            cluster: "c1".into(),
            namespace: "istio-system".into(),
            gateways: Vec::new(),
            multi_mesh: true,
            global_access: false,
            hostname_suffix: "global".into(),
            ingress_gateways: Vec::new(),
            trust_domain: trust_domain.into(),
            istiod_service_account: "istiod".into(),
            smart_dns: false,
            peer_trust_domains: peers.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn parsed(text: &str) -> serde_json::Value {
        serde_saphyr::from_str(text).expect("the values are YAML")
    }

    #[test]
    fn values_carry_trust_domain_peers_and_dns_capture() {
        let values = parsed(&helm_values(&mesh("c1.local", &["c2.local", "c3.local"])));
        assert_eq!(values["meshConfig"]["trustDomain"], "c1.local");
        assert_eq!(
            values["meshConfig"]["caCertificates"][0]["trustDomains"],
            serde_json::json!(["c2.local", "c3.local"])
        );
        assert_eq!(
            values["meshConfig"]["defaultConfig"]["proxyMetadata"]["ISTIO_META_DNS_CAPTURE"],
            "true"
        );
    }

    #[test]
    fn one_trust_domain_needs_no_peers() {
        let values = parsed(&helm_values(&mesh("cluster.local", &[])));
        assert!(values["meshConfig"].get("caCertificates").is_none());
    }

    #[test]
    fn a_hostile_trust_domain_stays_a_string() {
        let values = parsed(&helm_values(&mesh("a\n  evil: true", &["b: c"])));
        assert_eq!(values["meshConfig"]["trustDomain"], "a\n  evil: true");
        assert!(values["meshConfig"].get("evil").is_none());
        assert_eq!(
            values["meshConfig"]["caCertificates"][0]["trustDomains"][0],
            "b: c"
        );
    }
}
