//! Federation of one Destination: its federated hostname, the meshes it is federated to, its
//! ports, and the endpoints of its remote and local ServiceEntries.

use super::gateways::Gateway;
use crate::model::common::{ClusterObjectRef, ObjectRef};
use crate::model::config::EndpointsMode;
use crate::model::discovery::{
    Endpoint, KubeService, KubeServicePort, KubernetesWorkload, WorkloadSpec,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

/// Default `hostnameSuffix` (`hostutils.DefaultHostnameSuffix`).
pub const DEFAULT_HOSTNAME_SUFFIX: &str = "global";

/// A ServiceEntry port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePort {
    pub number: u32,
    pub name: String,
    pub protocol: String,
    /// The pod port, for the serving cluster's ServiceEntry with a workload selector.
    pub target_port: Option<u32>,
}

/// A ServiceEntry endpoint (Istio's WorkloadEntry fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointEntry {
    pub address: String,
    /// Port name → port, one entry per ServiceEntry port.
    pub ports: Vec<(String, u32)>,
    pub labels: BTreeMap<String, String>,
    pub locality: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Static,
    Dns,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Static => "STATIC",
            Resolution::Dns => "DNS",
        }
    }
}

/// The serving cluster's ServiceEntry for the federated hostname.
#[derive(Debug, Clone, PartialEq)]
pub enum LocalEntry {
    /// `endpoints: stable`: select the service's pods by label, in the service's namespace.
    Selector {
        namespace: String,
        labels: BTreeMap<String, String>,
        export_to: Vec<String>,
    },
    /// `endpoints: pods`: Gloo Mesh's pod-IP endpoints, in the mesh's namespace.
    Pods {
        endpoints: Vec<EndpointEntry>,
        resolution: Resolution,
        export_to: Vec<String>,
    },
}

/// TCP keepalive of cross-cluster DestinationRules, durations already normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keepalive {
    pub probes: u32,
    pub time: Option<String>,
    pub interval: Option<String>,
}

/// Where the outputs for an Istio mesh a Destination is federated to go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The mesh's workload cluster.
    pub cluster: String,
    /// The mesh's Istio control-plane namespace (the remote ServiceEntry and rule's).
    pub namespace: String,
}

/// Everything the renderer needs to federate one Destination.
#[derive(Debug, Clone, PartialEq)]
pub struct Federation {
    pub destination: ObjectRef,
    pub service: ClusterObjectRef,
    pub virtual_mesh: ObjectRef,
    pub source_mesh: ObjectRef,
    pub hostname: String,
    /// Name of the DestinationRule for `hostname` in every client cluster
    /// (`names::remote_rule_names`).
    pub remote_rule_name: String,
    /// Istio meshes the Destination is federated to, in key order. Destinations picked by
    /// the same federation selectors share one list.
    pub targets: Arc<[Target]>,
    pub ports: Vec<ServicePort>,
    pub remote_endpoints: Vec<EndpointEntry>,
    pub remote_resolution: Resolution,
    pub local: LocalEntry,
    pub keepalive: Option<Keepalive>,
    /// SPIFFE identities of the serving workloads, when the inputs' Workloads name them:
    /// the remote ServiceEntries' `subjectAltNames`, so a client checks it reached them.
    pub subject_alt_names: Vec<String>,
    /// The unique virtual IP of the remote ServiceEntries (assigned after all are known).
    pub vip: Ipv4Addr,
    /// Position in `Plan::federations` (the renderer caches per-federation contexts by it).
    pub index: usize,
}

/// Istio's trust domain when a mesh names none (MeshConfig `trustDomain`'s default).
pub const DEFAULT_TRUST_DOMAIN: &str = "cluster.local";

/// The inputs' Kubernetes Workloads, grouped by cluster and namespace, for the identities of
/// the pods a Service selects.
pub struct ServingIdentities<'a> {
    by_namespace: HashMap<(&'a str, &'a str), Vec<&'a KubernetesWorkload>>,
}

impl<'a> ServingIdentities<'a> {
    pub fn new(workloads: impl Iterator<Item = &'a WorkloadSpec>) -> Self {
        let mut by_namespace: HashMap<_, Vec<_>> = HashMap::new();
        for workload in workloads.filter_map(|w| w.kubernetes.as_ref()) {
            let controller = &workload.controller;
            by_namespace
                .entry((
                    controller.cluster_name.as_str(),
                    controller.namespace.as_str(),
                ))
                .or_default()
                .push(workload);
        }
        ServingIdentities { by_namespace }
    }

    /// The SPIFFE identities (`spiffe://<trust domain>/ns/<ns>/sa/<account>`, Istio's
    /// `spiffe.MustGenSpiffeURI`) of the pods behind the Service, sorted. Where the
    /// Destination lists endpoints, each endpoint's account is that of a Workload whose pod
    /// labels the endpoint carries; otherwise the Workloads the Service's selector selects
    /// (their pod labels include the selector's, as Kubernetes selects pods). `Ok(empty)`
    /// when no Workload is known; `Err(address)` names an endpoint no Workload accounts for,
    /// when others are known: the accounts are then incomplete, and a list that left one out
    /// would make the client refuse that pod.
    pub fn subject_alt_names(
        &self,
        service: &KubeService,
        trust_domain: &str,
    ) -> Result<Vec<String>, String> {
        let reference = &service.service_ref;
        let workloads: &[&KubernetesWorkload] = self
            .by_namespace
            .get(&(
                reference.cluster_name.as_str(),
                reference.namespace.as_str(),
            ))
            .map_or(&[], Vec::as_slice);
        let endpoints: Vec<&Endpoint> = service
            .endpoint_subsets
            .iter()
            .flat_map(|s| &s.endpoints)
            .collect();
        let mut accounts: BTreeSet<&str> = BTreeSet::new();
        let mut uncovered = None;
        if endpoints.is_empty() {
            if !service.workload_selector_labels.is_empty() {
                accounts.extend(
                    workloads
                        .iter()
                        .filter(|w| includes(&w.pod_labels, &service.workload_selector_labels))
                        .map(|w| account_of(w)),
                );
            }
        } else {
            for endpoint in endpoints {
                let mut found = false;
                for w in workloads.iter().filter(|w| {
                    !w.pod_labels.is_empty() && includes(&endpoint.labels, &w.pod_labels)
                }) {
                    accounts.insert(account_of(w));
                    found = true;
                }
                if !found && uncovered.is_none() {
                    uncovered = Some(endpoint.ip_address.clone());
                }
            }
        }
        if let Some(address) = uncovered {
            return if accounts.is_empty() {
                Ok(Vec::new())
            } else {
                Err(address)
            };
        }
        let trust_domain = if trust_domain.is_empty() {
            DEFAULT_TRUST_DOMAIN
        } else {
            trust_domain
        };
        Ok(accounts
            .into_iter()
            .map(|account| {
                format!(
                    "spiffe://{trust_domain}/ns/{}/sa/{account}",
                    reference.namespace
                )
            })
            .collect())
    }
}

/// Every label of `selector` is in `labels` with the same value.
fn includes(labels: &BTreeMap<String, String>, selector: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// A pod that names no service account runs as the namespace's `default`.
fn account_of(workload: &KubernetesWorkload) -> &str {
    match workload.service_account_name.as_str() {
        "" => "default",
        account => account,
    }
}

/// `<svc>.<ns>.svc.<cluster>.<suffix>` (`hostutils.BuildFederatedFQDN`).
pub fn federated_hostname(service: &ClusterObjectRef, suffix: &str) -> String {
    format!(
        "{}.{}.svc.{}.{}",
        service.name, service.namespace, service.cluster_name, suffix
    )
}

/// The Istio protocol of a Kubernetes Service port (Istio's `kube.ConvertProtocol`, with
/// Gloo Mesh's fallback to the Kubernetes protocol). `None` for SCTP, which Istio cannot carry.
pub fn port_protocol(port: &KubeServicePort) -> Option<String> {
    let k8s_protocol = if port.protocol.is_empty() {
        "TCP"
    } else {
        port.protocol.as_str()
    };
    if k8s_protocol.eq_ignore_ascii_case("UDP") {
        return Some("UDP".into());
    }
    if k8s_protocol.eq_ignore_ascii_case("SCTP") {
        return None;
    }
    let name = if port.app_protocol.is_empty() {
        port.name.as_str()
    } else {
        match port.app_protocol.as_str() {
            "kubernetes.io/h2c" => return Some("HTTP2".into()),
            "kubernetes.io/ws" => return Some("HTTP".into()),
            "kubernetes.io/wss" => return Some("HTTPS".into()),
            other => other,
        }
    };
    if name.to_ascii_lowercase().starts_with("grpc-web") {
        return Some("GRPC-Web".into());
    }
    let prefix = name.split('-').next().unwrap_or("");
    let known = match prefix.to_ascii_lowercase().as_str() {
        "tcp" => Some("TCP"),
        "udp" => Some("UDP"),
        "grpc" => Some("GRPC"),
        "http" => Some("HTTP"),
        "http_proxy" => Some("HTTP_PROXY"),
        "http2" => Some("HTTP2"),
        "https" => Some("HTTPS"),
        "tls" => Some("TLS"),
        "mongo" => Some("Mongo"),
        "redis" => Some("Redis"),
        "mysql" => Some("MySQL"),
        _ if matches!(port.port, 25 | 53 | 3306 | 27017) => Some("TCP"),
        _ => None,
    };
    Some(known.unwrap_or(k8s_protocol).to_string())
}

/// The ServiceEntry port name: the Service port's name, else its protocol in lowercase
/// (Gloo Mesh used the protocol as is; Istio requires a DNS-1123 label).
pub fn port_name(port: &KubeServicePort) -> String {
    if port.name.is_empty() {
        let protocol = if port.protocol.is_empty() {
            "TCP"
        } else {
            &port.protocol
        };
        protocol.to_ascii_lowercase()
    } else {
        port.name.clone()
    }
}

/// The pod port behind a Service port: its number, or its name resolved through the
/// Destination's endpoint ports. Kubernetes names an endpoint port after the *Service* port
/// (the EndpointSlice controller copies `ServicePort.name`), so that name is looked up first;
/// inputs written by Gloo Mesh's discovery may name it after the container port instead,
/// which is looked up next.
pub fn target_port(port: &KubeServicePort, service: &KubeService) -> Option<u32> {
    if port.target_port_number != 0 {
        return Some(port.target_port_number);
    }
    if port.target_port_name.is_empty() {
        return Some(port.port);
    }
    let endpoint_port = |name: &str| {
        service
            .endpoint_subsets
            .iter()
            .flat_map(|s| &s.ports)
            .find(|p| p.name == name && p.port != 0)
            .map(|p| p.port)
    };
    endpoint_port(&port.name).or_else(|| endpoint_port(&port.target_port_name))
}

/// Remote endpoints: one per gateway address and per distinct label set of the
/// Destination's endpoints (`stable`), or one per gateway address and pod (`pods`).
pub fn remote_endpoints(
    mode: EndpointsMode,
    gateways: &[Gateway],
    service: &KubeService,
    region: &str,
    port_names: &[String],
) -> Vec<EndpointEntry> {
    let mut entries = Vec::new();
    for gateway in gateways {
        let ports: Vec<(String, u32)> = port_names
            .iter()
            .map(|n| (n.clone(), gateway.destination_port))
            .collect();
        for address in &gateway.addresses {
            match mode {
                EndpointsMode::Stable => {
                    let groups = label_groups(service, region);
                    if groups.is_empty() {
                        entries.push(EndpointEntry {
                            address: address.clone(),
                            ports: ports.clone(),
                            labels: BTreeMap::new(),
                            locality: None,
                        });
                    }
                    for (labels, locality) in groups {
                        entries.push(EndpointEntry {
                            address: address.clone(),
                            ports: ports.clone(),
                            labels,
                            locality,
                        });
                    }
                }
                EndpointsMode::Pods => {
                    for endpoint in service.endpoint_subsets.iter().flat_map(|s| &s.endpoints) {
                        entries.push(EndpointEntry {
                            address: address.clone(),
                            ports: ports.clone(),
                            labels: endpoint.labels.clone(),
                            locality: None,
                        });
                    }
                }
            }
        }
    }
    entries
}

/// Distinct endpoint label sets, sorted, each with the locality all of its endpoints share.
fn label_groups(
    service: &KubeService,
    region: &str,
) -> Vec<(BTreeMap<String, String>, Option<String>)> {
    let mut groups: BTreeMap<&BTreeMap<String, String>, BTreeSet<Option<String>>> = BTreeMap::new();
    for endpoint in service.endpoint_subsets.iter().flat_map(|s| &s.endpoints) {
        groups
            .entry(&endpoint.labels)
            .or_default()
            .insert(locality(region, endpoint));
    }
    groups
        .into_iter()
        .map(|(labels, localities)| {
            let shared = match localities.len() {
                1 => localities.into_iter().next().flatten(),
                _ => None,
            };
            (labels.clone(), shared)
        })
        .collect()
}

/// Istio locality `region/zone/subzone`, when the region is known.
fn locality(region: &str, endpoint: &Endpoint) -> Option<String> {
    if region.is_empty() {
        return None;
    }
    let mut text = region.to_string();
    if let Some(sub) = &endpoint.sub_locality
        && !sub.zone.is_empty()
    {
        text.push('/');
        text.push_str(&sub.zone);
        if !sub.sub_zone.is_empty() {
            text.push('/');
            text.push_str(&sub.sub_zone);
        }
    }
    Some(text)
}

/// Gloo Mesh's local pod-IP endpoints (`endpoints: pods`), keyed by the ServiceEntry's port
/// names.
/// Istio's label for an endpoint with a sidecar. The east-west gateway's AUTO_PASSTHROUGH
/// clusters keep only endpoints that carry it (`EndpointsWithMTLSFilter` in
/// `pilot/pkg/xds/endpoints`), since it cannot see whether passed-through traffic is mTLS:
/// a serving ServiceEntry's pod endpoints without it receive nothing.
pub const TLS_MODE_LABEL: &str = "security.istio.io/tlsMode";

pub fn pod_endpoints(service: &KubeService, port_names: &[String]) -> Vec<EndpointEntry> {
    let mut entries = Vec::new();
    for subset in &service.endpoint_subsets {
        let ports: Vec<(String, u32)> = subset
            .ports
            .iter()
            .map(|p| {
                let name = if p.name.is_empty() {
                    let protocol = if p.protocol.is_empty() {
                        "TCP"
                    } else {
                        &p.protocol
                    };
                    protocol.to_ascii_lowercase()
                } else {
                    p.name.clone()
                };
                (name, p.port)
            })
            .filter(|(name, _)| port_names.contains(name))
            .collect();
        for endpoint in &subset.endpoints {
            let mut labels = endpoint.labels.clone();
            labels.insert(TLS_MODE_LABEL.to_string(), "istio".to_string());
            entries.push(EndpointEntry {
                address: endpoint.ip_address.clone(),
                ports: ports.clone(),
                labels,
                locality: None,
            });
        }
    }
    entries
}

/// `ResolutionForEndpointIpVersions`: DNS when an address is a hostname, STATIC otherwise;
/// a hostname together with an IPv6 address is an error.
pub fn resolution(
    addresses: impl IntoIterator<Item = impl AsRef<str>>,
) -> Result<Resolution, String> {
    let mut hostname = false;
    let mut ipv6 = false;
    for address in addresses {
        let address = address.as_ref();
        match address.parse::<IpAddr>() {
            Ok(_) if address.matches(':').count() >= 2 => ipv6 = true,
            Ok(_) => {}
            Err(_) => hostname = true,
        }
    }
    match (hostname, ipv6) {
        (true, true) => Err("endpoints contain both ipv6 and hostname addresses".into()),
        (true, false) => Ok(Resolution::Dns),
        _ => Ok(Resolution::Static),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(number: u32, name: &str, protocol: &str, app: &str) -> KubeServicePort {
        KubeServicePort {
            port: number,
            name: name.into(),
            protocol: protocol.into(),
            app_protocol: app.into(),
            ..KubeServicePort::default()
        }
    }

    #[test]
    fn protocols_follow_istio_conversion() {
        let p = |n, name, proto, app| port_protocol(&port(n, name, proto, app));
        assert_eq!(p(9080, "http", "TCP", "").as_deref(), Some("HTTP"));
        assert_eq!(p(9080, "http2-x", "TCP", "").as_deref(), Some("HTTP2"));
        assert_eq!(
            p(9080, "grpc-web-x", "TCP", "").as_deref(),
            Some("GRPC-Web")
        );
        assert_eq!(p(9080, "foo", "TCP", "https").as_deref(), Some("HTTPS"));
        assert_eq!(p(53, "dns", "UDP", "").as_deref(), Some("UDP"));
        assert_eq!(p(3306, "db", "TCP", "").as_deref(), Some("TCP"));
        assert_eq!(p(1234, "", "TCP", "").as_deref(), Some("TCP"));
        assert_eq!(
            p(1234, "x", "TCP", "kubernetes.io/h2c").as_deref(),
            Some("HTTP2")
        );
        assert_eq!(p(1234, "x", "SCTP", ""), None);
    }

    #[test]
    fn unnamed_ports_are_named_after_their_protocol_in_lowercase() {
        assert_eq!(port_name(&port(1234, "", "TCP", "")), "tcp");
        assert_eq!(port_name(&port(1234, "http", "TCP", "")), "http");
    }

    #[test]
    fn resolution_rules_match_gloo_tests() {
        assert_eq!(resolution(["1.2.3.4"]), Ok(Resolution::Static));
        assert_eq!(
            resolution(["1.2.3.4", "2001:db8::1"]),
            Ok(Resolution::Static)
        );
        assert_eq!(resolution(["::ffff:1.2.3.4"]), Ok(Resolution::Static));
        assert_eq!(
            resolution(["1.2.3.4", "lb.example.com"]),
            Ok(Resolution::Dns)
        );
        assert!(resolution(["2001:db8::1", "lb.example.com"]).is_err());
        assert_eq!(resolution(Vec::<String>::new()), Ok(Resolution::Static));
    }
}
