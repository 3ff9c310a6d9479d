//! Gloo Mesh's detectors over [`Facts`]: the Istio mesh of each istiod, a Workload per
//! meshed controller, a Destination per Service backed by meshed workloads.

use super::facts::{
    Address, Facts, Istiod, Labels, PodFacts, PortFacts, ServiceFacts, TargetPort, WorkloadFacts,
    is_gateway, mesh_config_name,
};
use super::injection::DEFAULT_REVISION;
use super::{DiscoverError, EndpointsMode, Options, describe};
use crate::plan::names::sanitize_name;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Service annotation that puts a Service in its cluster's mesh without backing workloads.
pub const DISCOVERY_ENABLED_ANNOTATION: &str = "discovery.mesh.gloo.solo.io/enabled";
/// Pod labels that say which rollout a pod belongs to, not what it is (Gloo's skipped labels).
const SUBSET_SKIPPED_LABELS: &[&str] =
    &["pod-template-hash", "service.istio.io/canonical-revision"];

/// What was discovered in one cluster, each list sorted by name.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub cluster: String,
    pub meshes: Vec<Discovered<MeshSpecOut>>,
    pub workloads: Vec<Discovered<WorkloadSpecOut>>,
    pub destinations: Vec<Discovered<DestinationSpecOut>>,
    pub warnings: Vec<String>,
}

/// A discovered resource: its name, the source object's annotations, and its spec.
#[derive(Debug, Clone, Default)]
pub struct Discovered<S> {
    pub name: String,
    pub annotations: Labels,
    pub spec: S,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ObjectRefOut {
    pub name: String,
    pub namespace: String,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterObjectRefOut {
    pub name: String,
    pub namespace: String,
    pub cluster_name: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct MeshSpecOut {
    pub istio: IstioOut,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IstioOut {
    pub installation: InstallationOut,
    pub trust_domain: String,
    pub istiod_service_account: String,
    pub smart_dns_proxying_enabled: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ingress_gateways: Vec<IngressGatewayOut>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallationOut {
    pub namespace: String,
    pub cluster: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_labels: Labels,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressGatewayOut {
    pub name: String,
    pub namespace: String,
    pub workload_labels: Labels,
    pub external_address: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dns_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ip: String,
    pub external_tls_port: u32,
    pub tls_container_port: u32,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadSpecOut {
    pub mesh: ObjectRefOut,
    pub kubernetes: KubernetesWorkloadOut,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesWorkloadOut {
    pub controller: ClusterObjectRefOut,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_labels: Labels,
    pub service_account_name: String,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DestinationSpecOut {
    pub mesh: ObjectRefOut,
    pub kube_service: KubeServiceOut,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeServiceOut {
    #[serde(rename = "ref")]
    pub service_ref: ClusterObjectRefOut,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub workload_selector_labels: Labels,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortOut>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub subsets: BTreeMap<String, SubsetOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub endpoint_subsets: Vec<EndpointSubsetOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub external_addresses: Vec<ExternalAddressOut>,
    pub service_type: &'static str,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PortOut {
    pub port: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub protocol: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub app_protocol: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target_port_name: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub target_port_number: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub node_port: u32,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SubsetOut {
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct EndpointSubsetOut {
    pub endpoints: Vec<EndpointOut>,
    pub ports: Vec<EndpointPortOut>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointOut {
    pub ip_address: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_locality: Option<SubLocalityOut>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubLocalityOut {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub zone: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sub_zone: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointPortOut {
    pub port: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub protocol: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub app_protocol: String,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAddressOut {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dns_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ip: String,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Gloo Mesh's `DiscoveredResourceName`: `SanitizeNameV2("<name>-<namespace>-<cluster>")`.
pub fn discovered_name(name: &str, namespace: &str, cluster: &str) -> String {
    sanitize_name(&format!("{name}-{namespace}-{cluster}"))
}

/// A mesh found in the cluster, with what workloads need to refer to it.
struct MeshFound<'a> {
    istiod: &'a Istiod,
    reference: ObjectRefOut,
}

pub fn detect(facts: &Facts, options: &Options) -> Result<Found, DiscoverError> {
    let cluster = facts.cluster.as_str();
    let error =
        |object: String, message: String| DiscoverError::new(cluster, Some(object), message);
    let mut found = Found {
        cluster: cluster.to_string(),
        ..Found::default()
    };
    if facts.istiods.is_empty() {
        return Err(DiscoverError::new(
            cluster,
            None,
            "no istiod: no Deployment named istiod… runs an Istio pilot image (is Istio installed, and were deployments listed in all namespaces, with -A?)",
        ));
    }
    // Two control planes of one revision would both inject (and configure) every
    // namespace labelled for it: which mesh a workload is in cannot be told.
    for (i, first) in facts.istiods.iter().enumerate() {
        if let Some(second) = facts.istiods[i + 1..]
            .iter()
            .find(|o| o.revision == first.revision)
        {
            return Err(error(
                describe("Deployment", &second.namespace, &second.name),
                format!(
                    "istiod revision {:?} is also installed as Deployment {}/{}: two istiods of one revision fight over every namespace labelled for it; remove one, or give it its own istio.io/rev",
                    first.revision, first.namespace, first.name
                ),
            ));
        }
    }

    let mut meshes: Vec<MeshFound> = Vec::new();
    for istiod in &facts.istiods {
        let name = discovered_name(&istiod.name, &istiod.namespace, cluster);
        let config_name = mesh_config_name(&istiod.revision);
        let config_ref = describe("ConfigMap", &istiod.namespace, &config_name);
        let mesh_text = match facts
            .mesh_configs
            .get(&format!("{}/{config_name}", istiod.namespace))
        {
            None => {
                return Err(error(
                    config_ref,
                    format!(
                        "not found: istiod {}/{} (revision {}) reads its MeshConfig from it; add configmaps to the kubectl get kinds",
                        istiod.namespace, istiod.name, istiod.revision
                    ),
                ));
            }
            Some(None) => {
                return Err(error(
                    config_ref,
                    "has no data.mesh key (the MeshConfig istiod reads)".into(),
                ));
            }
            Some(Some(text)) => text,
        };
        let mesh_config = MeshConfig::parse(mesh_text)
            .map_err(|m| error(config_ref.clone(), format!("data.mesh: {m}")))?;
        let ingress_gateways = facts
            .services
            .iter()
            .filter(|s| s.namespace == istiod.namespace && is_gateway(&s.selector, options))
            .filter_map(|s| match ingress_gateway(s, facts, options) {
                Ok(gateway) => Some(gateway),
                Err(why) => {
                    found.warnings.push(format!(
                        "cluster {cluster}: {}: not listed as an ingress gateway of Mesh {name}: {why}",
                        describe("Service", &s.namespace, &s.name)
                    ));
                    None
                }
            })
            .collect();
        found.meshes.push(Discovered {
            name: name.clone(),
            annotations: istiod.annotations.clone(),
            spec: MeshSpecOut {
                istio: IstioOut {
                    installation: InstallationOut {
                        namespace: istiod.namespace.clone(),
                        cluster: cluster.to_string(),
                        pod_labels: istiod.pod_labels.clone(),
                        version: istiod.version.clone(),
                    },
                    trust_domain: mesh_config.trust_domain,
                    istiod_service_account: istiod.service_account.clone(),
                    smart_dns_proxying_enabled: mesh_config.dns_capture,
                    ingress_gateways,
                },
            },
        });
        meshes.push(MeshFound {
            istiod,
            reference: ObjectRefOut {
                name,
                namespace: options.output_namespace.clone(),
            },
        });
    }

    // Workloads, with the mesh each is in.
    let mut meshed: Vec<(&WorkloadFacts, Discovered<WorkloadSpecOut>)> = Vec::new();
    for workload in &facts.workloads {
        let Some(revision) = &workload.revision else {
            continue;
        };
        let mesh = meshes
            .iter()
            .find(|m| &m.istiod.revision == revision)
            // A default tag may point at a revisioned istiod: with one istiod, it is that.
            .or_else(|| (revision == DEFAULT_REVISION && meshes.len() == 1).then(|| &meshes[0]));
        let Some(mesh) = mesh else {
            found.warnings.push(format!(
                "cluster {cluster}: {}: not discovered: its pods are injected by istiod revision {revision:?}, and no istiod of that revision was found",
                describe(workload.kind, &workload.namespace, &workload.name)
            ));
            continue;
        };
        let name = format!(
            "{}-{}",
            discovered_name(&workload.name, &workload.namespace, cluster),
            workload.kind.to_lowercase()
        );
        meshed.push((
            workload,
            Discovered {
                name,
                annotations: Labels::new(),
                spec: WorkloadSpecOut {
                    mesh: mesh.reference.clone(),
                    kubernetes: KubernetesWorkloadOut {
                        controller: ClusterObjectRefOut {
                            name: workload.name.clone(),
                            namespace: workload.namespace.clone(),
                            cluster_name: cluster.to_string(),
                        },
                        pod_labels: workload.pod_labels.clone(),
                        service_account_name: workload.service_account.clone(),
                    },
                },
            },
        ));
    }
    meshed.sort_by(|a, b| a.1.name.cmp(&b.1.name));

    for service in &facts.services {
        let backing: Vec<&(&WorkloadFacts, Discovered<WorkloadSpecOut>)> = meshed
            .iter()
            .filter(|(w, _)| {
                w.namespace == service.namespace && selects(&service.selector, &w.pod_labels)
            })
            .collect();
        let annotated = service
            .annotations
            .get(DISCOVERY_ENABLED_ANNOTATION)
            .map(String::as_str)
            == Some("true");
        let mesh = if annotated {
            // Gloo Mesh assumes one mesh per cluster here; prefer the default revision's.
            meshes
                .iter()
                .find(|m| m.istiod.revision == DEFAULT_REVISION)
                .or(meshes.first())
                .map(|m| m.reference.clone())
        } else {
            backing.first().map(|(_, w)| w.spec.mesh.clone())
        };
        let Some(mesh) = mesh else {
            continue;
        };
        let kube_service = KubeServiceOut {
            service_ref: ClusterObjectRefOut {
                name: service.name.clone(),
                namespace: service.namespace.clone(),
                cluster_name: cluster.to_string(),
            },
            workload_selector_labels: service.selector.clone(),
            labels: service.labels.clone(),
            ports: service
                .ports
                .iter()
                .map(|p| port_out(p, &backing))
                .collect(),
            subsets: subsets(backing.iter().map(|(w, _)| &w.pod_labels)),
            endpoint_subsets: if options.endpoints == EndpointsMode::Pods {
                endpoint_subsets(service, facts, &backing)
            } else {
                Vec::new()
            },
            external_addresses: external_addresses(service, facts),
            service_type: service_type(&service.service_type),
        };
        found.destinations.push(Discovered {
            name: discovered_name(&service.name, &service.namespace, cluster),
            annotations: service.annotations.clone(),
            spec: DestinationSpecOut { mesh, kube_service },
        });
    }
    found.workloads = meshed.into_iter().map(|(_, w)| w).collect();
    found.destinations.sort_by(|a, b| a.name.cmp(&b.name));
    check_unique_names(
        cluster,
        "Destination",
        found
            .destinations
            .iter()
            .map(|d| (&d.name, &d.spec.kube_service.service_ref)),
    )?;
    check_unique_names(
        cluster,
        "Workload",
        found
            .workloads
            .iter()
            .map(|w| (&w.name, &w.spec.kubernetes.controller)),
    )?;
    Ok(found)
}

/// Sanitising can give two objects one name (`a.b` and `a-b`): refuse rather than drop one.
fn check_unique_names<'a>(
    cluster: &str,
    kind: &str,
    named: impl Iterator<Item = (&'a String, &'a ClusterObjectRefOut)>,
) -> Result<(), DiscoverError> {
    let mut seen: BTreeMap<&String, &ClusterObjectRefOut> = BTreeMap::new();
    for (name, source) in named {
        if let Some(first) = seen.insert(name, source) {
            return Err(DiscoverError::new(
                cluster,
                Some(format!("{}/{}", source.namespace, source.name)),
                format!(
                    "discovers as {kind} {name}, the name {}/{} also discovers as (Gloo Mesh's name sanitising maps both to it); rename one",
                    first.namespace, first.name
                ),
            ));
        }
    }
    Ok(())
}

/// A Service selects pods whose labels hold all of its (non-empty) selector.
fn selects(selector: &Labels, labels: &Labels) -> bool {
    !selector.is_empty()
        && !labels.is_empty()
        && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// A Service port. A named target port is written as the number the backing workloads'
/// pod templates give that name when they all agree (stable, and what render needs
/// without endpoints); else as the name, as Gloo Mesh writes it.
fn port_out(
    port: &PortFacts,
    backing: &[&(&WorkloadFacts, Discovered<WorkloadSpecOut>)],
) -> PortOut {
    let (target_port_name, target_port_number) = match &port.target {
        TargetPort::Number(n) => (String::new(), *n),
        TargetPort::Name(name) => {
            let numbers: std::collections::BTreeSet<Option<&u32>> = backing
                .iter()
                .map(|(w, _)| w.container_ports.get(name))
                .collect();
            match numbers.into_iter().collect::<Vec<_>>().as_slice() {
                [Some(number)] => (String::new(), **number),
                _ => (name.clone(), 0),
            }
        }
    };
    PortOut {
        port: port.port,
        name: port.name.clone(),
        protocol: port.protocol.clone(),
        app_protocol: port.app_protocol.clone(),
        target_port_name,
        target_port_number,
        node_port: port.node_port,
    }
}

fn service_type(kubernetes: &str) -> &'static str {
    match kubernetes {
        "NodePort" => "NODE_PORT",
        "LoadBalancer" => "LOAD_BALANCER",
        "ExternalName" => "EXTERNAL_NAME",
        _ => "CLUSTER_IP",
    }
}

/// Pod-label keys with more than one value across the backing workloads.
fn subsets<'a>(pod_labels: impl Iterator<Item = &'a Labels>) -> BTreeMap<String, SubsetOut> {
    let mut values: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
    for labels in pod_labels {
        for (key, value) in labels {
            if !SUBSET_SKIPPED_LABELS.contains(&key.as_str()) {
                values.entry(key).or_default().insert(value);
            }
        }
    }
    values
        .into_iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(k, v)| {
            (
                k.to_string(),
                SubsetOut {
                    values: v.into_iter().map(str::to_string).collect(),
                },
            )
        })
        .collect()
}

/// The addresses clients outside the cluster reach a NodePort Service at: every node's
/// external IPs, or, in a cluster whose nodes have none (kind, private clusters), their
/// internal IPs. Sorted by node name, so rescheduled pods change nothing.
fn node_addresses(facts: &Facts) -> Vec<String> {
    let external: Vec<String> = facts
        .nodes
        .iter()
        .flat_map(|n| n.external_ips.iter().cloned())
        .collect();
    if !external.is_empty() {
        return external;
    }
    facts
        .nodes
        .iter()
        .flat_map(|n| n.internal_ips.iter().cloned())
        .collect()
}

fn external_addresses(service: &ServiceFacts, facts: &Facts) -> Vec<ExternalAddressOut> {
    let ip = |ip: &String| ExternalAddressOut {
        ip: ip.clone(),
        ..ExternalAddressOut::default()
    };
    let mut addresses: Vec<ExternalAddressOut> = service.external_ips.iter().map(ip).collect();
    match service.service_type.as_str() {
        "NodePort" => addresses.extend(node_addresses(facts).iter().map(ip)),
        "LoadBalancer" => addresses.extend(service.ingress.iter().map(|a| match a {
            Address::Ip(address) => ip(address),
            Address::DnsName(name) => ExternalAddressOut {
                dns_name: name.clone(),
                ..ExternalAddressOut::default()
            },
        })),
        _ => {}
    }
    addresses
}

/// The deprecated `Mesh.spec.istio.ingressGateways[]` entry of a gateway Service, as Gloo
/// Mesh's mesh detector builds it (one address), or why there is none.
fn ingress_gateway(
    service: &ServiceFacts,
    facts: &Facts,
    options: &Options,
) -> Result<IngressGatewayOut, String> {
    let tls = service
        .ports
        .iter()
        .find(|p| p.name == options.gateway_tls_port)
        .ok_or_else(|| format!("it has no port named {:?}", options.gateway_tls_port))?;
    let (external_tls_port, address) = match service.service_type.as_str() {
        "NodePort" => {
            let address = node_addresses(facts)
                .into_iter()
                .next()
                .map(Address::Ip)
                .or_else(|| service.external_ips.first().cloned().map(Address::Ip))
                .ok_or("it is a NodePort Service, and no Node has an ExternalIP or InternalIP address (add nodes to the kubectl get kinds)")?;
            (tls.node_port, address)
        }
        "LoadBalancer" => {
            let address = service
                .ingress
                .first()
                .cloned()
                .or_else(|| service.external_ips.first().cloned().map(Address::Ip))
                .ok_or("its load balancer reports no ingress address yet (status.loadBalancer.ingress), and it has no externalIPs")?;
            (tls.port, address)
        }
        other => {
            return Err(format!(
                "its type {other} is neither NodePort nor LoadBalancer"
            ));
        }
    };
    let tls_container_port = match &tls.target {
        TargetPort::Name(name) => {
            return Err(format!(
                "its {} port's target port is named ({name:?}); Gloo Mesh's detector supports only numbers",
                options.gateway_tls_port
            ));
        }
        TargetPort::Number(0) => tls.port,
        TargetPort::Number(n) => *n,
    };
    let (dns_name, ip, external_address) = match address {
        Address::Ip(ip) => (String::new(), ip.clone(), ip),
        Address::DnsName(name) => (name.clone(), String::new(), name),
    };
    Ok(IngressGatewayOut {
        name: service.name.clone(),
        namespace: service.namespace.clone(),
        workload_labels: service.selector.clone(),
        external_address,
        dns_name,
        ip,
        external_tls_port,
        tls_container_port,
    })
}

/// Ready pods the Service selects, grouped by the ports they serve (as Endpoints are).
fn endpoint_subsets(
    service: &ServiceFacts,
    facts: &Facts,
    backing: &[&(&WorkloadFacts, Discovered<WorkloadSpecOut>)],
) -> Vec<EndpointSubsetOut> {
    let mut by_ports: BTreeMap<Vec<EndpointPortOut>, Vec<EndpointOut>> = BTreeMap::new();
    let pods = facts
        .pods
        .iter()
        .filter(|p| p.namespace == service.namespace && selects(&service.selector, &p.labels));
    for pod in pods {
        let ports = endpoint_ports(service, pod);
        if ports.is_empty() {
            continue;
        }
        let labels = backing
            .iter()
            .find(|(w, _)| pod.name.starts_with(&format!("{}-", w.name)))
            .map(|(w, _)| w.pod_labels.clone())
            .unwrap_or_default();
        let node = facts.nodes.iter().find(|n| n.name == pod.node);
        let sub_locality = node
            .filter(|n| !n.zone.is_empty() || !n.sub_zone.is_empty())
            .map(|n| SubLocalityOut {
                zone: n.zone.clone(),
                sub_zone: n.sub_zone.clone(),
            });
        by_ports.entry(ports).or_default().push(EndpointOut {
            ip_address: pod.ip.clone(),
            labels,
            sub_locality,
        });
    }
    by_ports
        .into_iter()
        .map(|(ports, mut endpoints)| {
            endpoints.sort_by(|a, b| a.ip_address.cmp(&b.ip_address));
            EndpointSubsetOut { endpoints, ports }
        })
        .collect()
}

fn endpoint_ports(service: &ServiceFacts, pod: &PodFacts) -> Vec<EndpointPortOut> {
    service
        .ports
        .iter()
        .filter_map(|p| {
            let port = match &p.target {
                TargetPort::Number(0) => p.port,
                TargetPort::Number(n) => *n,
                TargetPort::Name(name) => *pod.container_ports.get(name)?,
            };
            Some(EndpointPortOut {
                port,
                name: p.name.clone(),
                protocol: p.protocol.clone(),
                app_protocol: p.app_protocol.clone(),
            })
        })
        .collect()
}

/// What discovery reads of an istiod's MeshConfig.
#[derive(Debug, PartialEq)]
struct MeshConfig {
    trust_domain: String,
    dns_capture: bool,
}

impl MeshConfig {
    fn parse(text: &str) -> Result<MeshConfig, String> {
        let value: Value = serde_saphyr::from_str_with_options(text, crate::yaml::parse::options())
            .map_err(|e| format!("not YAML: {}", e.to_string().lines().next().unwrap_or("")))?;
        let value = match value {
            Value::Null => Value::Object(Default::default()),
            Value::Object(_) => value,
            _ => return Err("not a MeshConfig mapping".into()),
        };
        let trust_domain = match value.get("trustDomain") {
            None | Some(Value::Null) => super::DEFAULT_CLUSTER_DOMAIN.to_string(),
            Some(Value::String(s)) if s.is_empty() => super::DEFAULT_CLUSTER_DOMAIN.to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err("trustDomain is not a string".into()),
        };
        let capture = value
            .pointer("/defaultConfig/proxyMetadata/ISTIO_META_DNS_CAPTURE")
            .unwrap_or(&Value::Null);
        let dns_capture = matches!(capture, Value::Bool(true)) || capture.as_str() == Some("true");
        Ok(MeshConfig {
            trust_domain,
            dns_capture,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mesh_config_reads_trust_domain_and_dns_capture() {
        let config = MeshConfig::parse(
            "trustDomain: cluster-2.local\ndefaultConfig:\n  proxyMetadata:\n    ISTIO_META_DNS_CAPTURE: \"true\"\n",
        )
        .unwrap();
        assert_eq!(
            config,
            MeshConfig {
                trust_domain: "cluster-2.local".into(),
                dns_capture: true
            }
        );
        // Istio's defaults: trust domain cluster.local, no DNS capture.
        let config = MeshConfig::parse("accessLogFile: /dev/stdout\n").unwrap();
        assert_eq!(
            config,
            MeshConfig {
                trust_domain: "cluster.local".into(),
                dns_capture: false
            }
        );
        assert!(MeshConfig::parse("- a\n").is_err());
        assert!(MeshConfig::parse("trustDomain: [x\n").is_err());
        assert!(MeshConfig::parse("trustDomain: {a: 1}\n").is_err());
    }

    fn facts_with(workloads: &[&str]) -> Facts {
        let mut facts = Facts {
            cluster: "c1".into(),
            istiods: vec![Istiod {
                namespace: "istio-system".into(),
                name: "istiod".into(),
                revision: DEFAULT_REVISION.into(),
                ..Istiod::default()
            }],
            ..Facts::default()
        };
        facts
            .mesh_configs
            .insert("istio-system/istio".into(), Some(String::new()));
        for name in workloads {
            facts.workloads.push(WorkloadFacts {
                kind: "Deployment",
                namespace: "web".into(),
                name: name.to_string(),
                revision: Some(DEFAULT_REVISION.into()),
                ..WorkloadFacts::default()
            });
        }
        facts
    }

    #[test]
    fn names_that_sanitise_alike_are_an_error() {
        let found = detect(&facts_with(&["web-v1", "web-v2"]), &Options::default()).unwrap();
        assert_eq!(found.workloads[0].name, "web-v1-web-c1-deployment");
        let error = detect(&facts_with(&["web-v1", "web.v1"]), &Options::default()).unwrap_err();
        assert_eq!(error.object.as_deref(), Some("web/web.v1"));
        assert!(error.message.contains("discovers as Workload web-v1-web-c1-deployment, the name web/web-v1 also discovers as"), "{error}");
    }

    #[test]
    fn a_missing_or_empty_mesh_config_is_an_error() {
        let mut facts = facts_with(&[]);
        facts.mesh_configs.clear();
        let error = detect(&facts, &Options::default()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "cluster c1: ConfigMap istio-system/istio: not found: istiod istio-system/istiod (revision default) reads its MeshConfig from it; add configmaps to the kubectl get kinds"
        );
        facts.mesh_configs.insert("istio-system/istio".into(), None);
        let error = detect(&facts, &Options::default()).unwrap_err();
        assert!(
            error.to_string().contains("has no data.mesh key"),
            "{error}"
        );
    }

    #[test]
    fn subsets_are_label_keys_with_several_values() {
        let v1: Labels = [
            ("app", "reviews"),
            ("version", "v1"),
            ("pod-template-hash", "a"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut v2 = v1.clone();
        v2.insert("version".into(), "v2".into());
        v2.insert("pod-template-hash".into(), "b".into());
        let found = subsets([&v1, &v2].into_iter());
        assert_eq!(found.keys().collect::<Vec<_>>(), ["version"]);
        assert_eq!(found["version"].values, ["v1", "v2"]);
    }

    #[test]
    fn selectors_need_labels_on_both_sides() {
        let labels = |pairs: &[(&str, &str)]| -> Labels {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(selects(
            &labels(&[("app", "a")]),
            &labels(&[("app", "a"), ("v", "1")])
        ));
        assert!(!selects(
            &labels(&[("app", "a"), ("v", "2")]),
            &labels(&[("app", "a"), ("v", "1")])
        ));
        assert!(!selects(&Labels::new(), &labels(&[("app", "a")])));
    }
}
