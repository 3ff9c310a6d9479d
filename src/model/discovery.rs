//! `discovery.mesh.gloo.solo.io/v1`: Mesh, Destination and Workload as Gloo Mesh discovery
//! writes them (or as a user writes them by hand), and `multicluster.solo.io/v1alpha1`
//! KubernetesCluster.

use super::common::{ClusterObjectRef, ObjectRef, ProtoEnum, null_as_default, proto_enum};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MeshSpec {
    #[serde(default)]
    pub istio: Option<IstioMesh>,
    #[serde(default)]
    pub aws_app_mesh: Option<AwsAppMesh>,
    #[serde(default)]
    pub linkerd: Option<LinkerdMesh>,
    #[serde(default)]
    pub consul_connect: Option<InstalledMesh>,
    #[serde(default)]
    pub osm: Option<InstalledMesh>,
    /// Accepted for compatibility; vmesh has no agent and writes `cacerts` itself.
    #[serde(default)]
    pub agent_info: Option<AgentInfo>,
}

impl MeshSpec {
    /// The mesh type for messages: `istio`, `awsAppMesh`, …, or `unknown`.
    pub fn type_name(&self) -> &'static str {
        if self.istio.is_some() {
            "istio"
        } else if self.aws_app_mesh.is_some() {
            "awsAppMesh"
        } else if self.linkerd.is_some() {
            "linkerd"
        } else if self.consul_connect.is_some() {
            "consulConnect"
        } else if self.osm.is_some() {
            "osm"
        } else {
            "unknown"
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IstioMesh {
    #[serde(default)]
    pub installation: MeshInstallation,
    #[serde(default)]
    pub trust_domain: String,
    #[serde(default)]
    pub istiod_service_account: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub ingress_gateways: Vec<IngressGatewayInfo>,
    #[serde(default)]
    pub smart_dns_proxying_enabled: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MeshInstallation {
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub cluster: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub pod_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub region: String,
}

/// Deprecated `Mesh.spec.istio.ingressGateways[]`, still consumed as in Gloo Mesh.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IngressGatewayInfo {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub workload_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub external_address: String,
    #[serde(default)]
    pub dns_name: String,
    #[serde(default)]
    pub ip: String,
    #[serde(default)]
    pub external_tls_port: u32,
    #[serde(default)]
    pub tls_container_port: u32,
}

impl IngressGatewayInfo {
    /// The address used in names: `dnsName`, else `ip`, else the deprecated `externalAddress`.
    pub fn address(&self) -> &str {
        [&self.dns_name, &self.ip, &self.external_address]
            .into_iter()
            .find(|a| !a.is_empty())
            .map_or("", String::as_str)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AwsAppMesh {
    #[serde(default)]
    pub aws_name: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub aws_account_id: String,
    #[serde(default)]
    pub arn: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub clusters: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LinkerdMesh {
    #[serde(default)]
    pub installation: MeshInstallation,
    #[serde(default)]
    pub cluster_domain: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InstalledMesh {
    #[serde(default)]
    pub installation: MeshInstallation,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AgentInfo {
    #[serde(default)]
    pub agent_namespace: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DestinationSpec {
    #[serde(default)]
    pub kube_service: Option<KubeService>,
    /// Accepted; external services take no part in VirtualMesh translation.
    #[serde(default)]
    pub external_service: Option<serde_json::Value>,
    #[serde(default)]
    pub mesh: Option<ObjectRef>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubeService {
    #[serde(rename = "ref", default)]
    pub service_ref: ClusterObjectRef,
    #[serde(default, deserialize_with = "null_as_default")]
    pub workload_selector_labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub ports: Vec<KubeServicePort>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub subsets: BTreeMap<String, Subset>,
    #[serde(default)]
    pub region: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub endpoint_subsets: Vec<EndpointsSubset>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub external_addresses: Vec<ExternalAddress>,
    #[serde(default, deserialize_with = "proto_enum")]
    pub service_type: ServiceType,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ServiceType {
    #[default]
    ClusterIp,
    NodePort,
    LoadBalancer,
    ExternalName,
}

impl ProtoEnum for ServiceType {
    const VALUES: &'static [(Self, u64, &'static str)] = &[
        (ServiceType::ClusterIp, 0, "CLUSTER_IP"),
        (ServiceType::NodePort, 1, "NODE_PORT"),
        (ServiceType::LoadBalancer, 2, "LOAD_BALANCER"),
        (ServiceType::ExternalName, 3, "EXTERNAL_NAME"),
    ];
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubeServicePort {
    #[serde(default)]
    pub port: u32,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub protocol: String,
    #[serde(default)]
    pub app_protocol: String,
    #[serde(default)]
    pub target_port_name: String,
    #[serde(default)]
    pub target_port_number: u32,
    #[serde(default)]
    pub node_port: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subset {
    #[serde(default, deserialize_with = "null_as_default")]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointsSubset {
    #[serde(default, deserialize_with = "null_as_default")]
    pub endpoints: Vec<Endpoint>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub ports: Vec<EndpointPort>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Endpoint {
    #[serde(default)]
    pub ip_address: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub sub_locality: Option<SubLocality>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SubLocality {
    #[serde(default)]
    pub zone: String,
    #[serde(default)]
    pub sub_zone: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EndpointPort {
    #[serde(default)]
    pub port: u32,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub protocol: String,
    #[serde(default)]
    pub app_protocol: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExternalAddress {
    #[serde(default)]
    pub dns_name: String,
    #[serde(default)]
    pub ip: String,
}

impl ExternalAddress {
    /// `dnsName` if set, else `ip` (Gloo Mesh's order).
    pub fn address(&self) -> &str {
        if self.dns_name.is_empty() {
            &self.ip
        } else {
            &self.dns_name
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkloadSpec {
    #[serde(default)]
    pub kubernetes: Option<KubernetesWorkload>,
    #[serde(default)]
    pub mesh: Option<ObjectRef>,
    #[serde(default)]
    pub app_mesh: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubernetesWorkload {
    #[serde(default)]
    pub controller: ClusterObjectRef,
    #[serde(default, deserialize_with = "null_as_default")]
    pub pod_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub service_account_name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubernetesClusterSpec {
    #[serde(default)]
    pub secret_name: String,
    #[serde(default)]
    pub cluster_domain: String,
    #[serde(default)]
    pub provider_info: Option<serde_json::Value>,
}
