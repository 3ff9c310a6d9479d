//! East-west gateway selection per mesh (Gloo Mesh's `getAppliedEastWestIngressGateways`).

use super::report::{Message, Report};
use super::selectors;
use crate::index::Inputs;
use crate::model::Resource;
use crate::model::common::{ClusterObjectRef, ObjectRef};
use crate::model::discovery::{DestinationSpec, IstioMesh, KubeService, ServiceType};
use crate::model::networking::VirtualMeshSpec;
use std::collections::BTreeMap;

/// Default east-west port name (`defaults.IstioGatewayTlsPortName`).
pub const DEFAULT_PORT_NAME: &str = "tls";

/// One east-west gateway applied to a mesh.
#[derive(Debug, Clone, PartialEq)]
pub struct Gateway {
    /// The gateway's Destination (`metadata.name/namespace`).
    pub destination: ObjectRef,
    /// The gateway's Kubernetes Service.
    pub service: ClusterObjectRef,
    /// Labels of the gateway pods (the Gateway's and AuthorizationPolicy's selector).
    pub workload_labels: BTreeMap<String, String>,
    /// Addresses clients in other clusters dial (DNS names or IPs), in discovery order.
    pub addresses: Vec<String>,
    /// Port clients dial: the NodePort or the load balancer port.
    pub destination_port: u32,
    /// Port the gateway pods listen on.
    pub container_port: u32,
    /// The gateway Service's own port: what a selector Gateway's server names, since Istio
    /// reads a server port as a Service port when the gateway's Service has it
    /// (`pilot/pkg/model/gateway.go` `resolvePorts`).
    pub service_port: u32,
}

/// Selects the east-west gateways of one Istio mesh for its VirtualMesh. Errors go to the
/// VirtualMesh; the list is empty when nothing could be selected.
pub fn select(
    inputs: &Inputs,
    vm: &Resource<VirtualMeshSpec>,
    mesh_ref: &ObjectRef,
    mesh: &IstioMesh,
    report: &mut Report,
) -> Vec<Gateway> {
    let mesh_destinations: Vec<(&ObjectRef, &Resource<DestinationSpec>, &KubeService)> = inputs
        .destinations
        .iter()
        .filter(|(_, d)| d.spec.mesh.as_ref() == Some(mesh_ref))
        .filter_map(|(r, d)| d.spec.kube_service.as_ref().map(|ks| (r, d, ks)))
        .collect();

    let gateway_selectors = vm
        .spec
        .federation
        .as_ref()
        .map(|f| f.east_west_ingress_gateway_selectors.as_slice())
        .unwrap_or_default();

    let mut gateways = Vec::new();
    for (dest_ref, _, service) in &mesh_destinations {
        for (i, selector) in gateway_selectors.iter().enumerate() {
            if !selectors::any_matches(&selector.destination_selectors, service) {
                continue;
            }
            let field = format!("spec.federation.eastWestIngressGatewaySelectors[{i}]");
            if service.workload_selector_labels.is_empty() {
                report.error(
                    vm.item,
                    &field,
                    Message::new(
                        format!(
                            "Destination {dest_ref} is selected as east-west gateway, but its Service has no workloadSelectorLabels, so the Gateway would select every gateway pod: give the Destination its pods' labels (spec.kubeService.workloadSelectorLabels)"
                        ),
                        format!(
                            "attempting to select ingress gateway destination {} with no selector labels",
                            dest_ref.key()
                        ),
                    ),
                );
                break;
            }
            let port_name = if selector.port_name.is_empty() {
                DEFAULT_PORT_NAME
            } else {
                &selector.port_name
            };
            match build(dest_ref, service, port_name) {
                Some(gateway) => gateways.push(gateway),
                None => report.error(
                    vm.item,
                    &field,
                    port_error(port_name, &dest_ref.to_string()),
                ),
            }
            break;
        }
    }
    if !gateways.is_empty() {
        return gateways;
    }

    // Fallback 1: the deprecated Mesh.spec.istio.ingressGateways.
    for info in &mesh.ingress_gateways {
        let wanted = ClusterObjectRef {
            name: info.name.clone(),
            namespace: info.namespace.clone(),
            cluster_name: mesh.installation.cluster.clone(),
        };
        if let Some((dest_ref, _, service)) = mesh_destinations
            .iter()
            .find(|(_, _, s)| s.service_ref == wanted)
        {
            if service.workload_selector_labels.is_empty() {
                // The Gateway's selector would be empty and match every gateway pod.
                report.error(
                    vm.item,
                    "spec.meshes",
                    Message::new(
                        format!(
                            "Destination {dest_ref}, an east-west gateway by the deprecated spec.istio.ingressGateways of Mesh {mesh_ref}, has no workloadSelectorLabels, so the Gateway would select every gateway pod: give the Destination its pods' labels (spec.kubeService.workloadSelectorLabels)"
                        ),
                        format!(
                            "attempting to select ingress gateway destination {} with no selector labels",
                            dest_ref.key()
                        ),
                    ),
                );
                continue;
            }
            gateways.push(Gateway {
                destination: (*dest_ref).clone(),
                service: service.service_ref.clone(),
                workload_labels: service.workload_selector_labels.clone(),
                addresses: addresses(service),
                destination_port: info.external_tls_port,
                container_port: info.tls_container_port,
                // The Service port in front of the TLS container port; without one, Istio
                // takes the server port as the pod's own.
                service_port: service
                    .ports
                    .iter()
                    .find(|p| {
                        super::federation::target_port(p, service) == Some(info.tls_container_port)
                    })
                    .map_or(info.tls_container_port, |p| p.port),
            });
        }
    }
    if !gateways.is_empty() {
        return gateways;
    }

    // Fallback 2: the first Destination of the mesh with `istio: ingressgateway` pods.
    if let Some((dest_ref, _, service)) = mesh_destinations.iter().find(|(_, _, s)| {
        s.workload_selector_labels.get("istio").map(String::as_str) == Some("ingressgateway")
    }) {
        match build(dest_ref, service, DEFAULT_PORT_NAME) {
            Some(gateway) => gateways.push(gateway),
            None => report.error(
                vm.item,
                "spec.meshes",
                port_error(
                    DEFAULT_PORT_NAME,
                    &format!("{dest_ref} (the default gateway of Mesh {mesh_ref})"),
                ),
            ),
        }
    }
    gateways
}

/// Gloo Mesh's text, then the Destination it is about (Gloo Mesh's text does not say).
fn port_error(port_name: &str, destination: &str) -> Message {
    Message::new(
        format!(
            "Destination {destination} cannot be an east-west gateway: it needs a port named {port_name:?} with a target port, on a NodePort or LoadBalancer Service (if the gateway's TLS port has another name, set portName in the gateway selector)"
        ),
        format!(
            "ingress gateway destination port info could not be determined for tls port name: {port_name}"
        ),
    )
}

/// Gloo Mesh's `buildAppliedIngressGateway`: both ports must be known and non-zero, so only
/// NodePort and LoadBalancer Services can be gateways.
fn build(dest_ref: &ObjectRef, service: &KubeService, port_name: &str) -> Option<Gateway> {
    let port = service.ports.iter().find(|p| p.name == port_name)?;
    // A port without a target is a Gloo Mesh error (containerPort 0), not the Service port.
    let container_port = if port.target_port_name.is_empty() && port.target_port_number == 0 {
        0
    } else {
        super::federation::target_port(port, service).unwrap_or(0)
    };
    let destination_port = match service.service_type {
        ServiceType::NodePort => port.node_port,
        ServiceType::LoadBalancer => port.port,
        _ => 0,
    };
    (container_port != 0 && destination_port != 0).then(|| Gateway {
        destination: dest_ref.clone(),
        service: service.service_ref.clone(),
        workload_labels: service.workload_selector_labels.clone(),
        addresses: addresses(service),
        destination_port,
        container_port,
        service_port: port.port,
    })
}

fn addresses(service: &KubeService) -> Vec<String> {
    service
        .external_addresses
        .iter()
        .map(|a| a.address().to_string())
        .filter(|a| !a.is_empty())
        .collect()
}
