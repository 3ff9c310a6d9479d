//! What discovery reads of a cluster's objects, and nothing else: no replica counts, uids,
//! resource versions, timestamps, statuses (but load balancer ingress and node
//! addresses), or pods unless endpoints are asked for. Everything is sorted, so the facts —
//! and their hash — depend on the cluster's configuration, not on the order it was listed in.

use super::injection::{self, PodTemplate};
use super::objects::ClusterObjects;
use super::{DiscoverError, EndpointsMode, Options, describe};
use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

pub type Labels = BTreeMap<String, String>;

/// Annotations that say how an object was applied or rolled out, not what it is: copied
/// onto discovered resources they would change with every `kubectl apply` or restart, and
/// the KRM ones would tell kpt and kustomize things about the discovered file.
const VOLATILE_ANNOTATION_PREFIXES: &[&str] = &[
    "kubectl.kubernetes.io/",
    "deployment.kubernetes.io/",
    "config.kubernetes.io/",
    "internal.config.kubernetes.io/",
    "kustomize.config.k8s.io/",
    "argocd.argoproj.io/",
];

#[derive(Debug, Clone, Default, Serialize)]
pub struct Facts {
    pub cluster: String,
    /// Namespace name → labels. Not hashed: what they decide is each workload's revision.
    #[serde(skip)]
    pub namespaces: BTreeMap<String, Labels>,
    pub istiods: Vec<Istiod>,
    /// `namespace/name` → the `mesh` key of the istio ConfigMaps of the istiod namespaces.
    pub mesh_configs: BTreeMap<String, Option<String>>,
    /// Meshed workloads only: the others cannot change the output.
    pub workloads: Vec<WorkloadFacts>,
    /// Services that can be Destinations: with a selector, or annotated into the mesh.
    pub services: Vec<ServiceFacts>,
    /// Only when a NodePort Service or endpoints need them.
    pub nodes: Vec<NodeFacts>,
    /// `(namespace, name)` of the Services with a ServiceExport.
    pub exported: BTreeSet<(String, String)>,
    /// Only with [`EndpointsMode::Pods`].
    pub pods: Vec<PodFacts>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Istiod {
    pub namespace: String,
    pub name: String,
    pub revision: String,
    /// The image tag (or digest) of the pilot container.
    pub version: String,
    /// `spec.selector.matchLabels`, as Gloo Mesh's `installation.podLabels`.
    pub pod_labels: Labels,
    pub service_account: String,
    pub annotations: Labels,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct WorkloadFacts {
    /// `Deployment`, `StatefulSet` or `DaemonSet`.
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    pub pod_labels: Labels,
    pub service_account: String,
    /// The revision that injects its pods (see [`injection::revision`]); `None`: not meshed.
    pub revision: Option<String>,
    /// Named container ports of the pod template: name → number.
    pub container_ports: BTreeMap<String, u32>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ServiceFacts {
    pub namespace: String,
    pub name: String,
    pub labels: Labels,
    pub annotations: Labels,
    pub selector: Labels,
    /// `ClusterIP`, `NodePort`, `LoadBalancer` or `ExternalName`.
    pub service_type: String,
    pub ports: Vec<PortFacts>,
    pub external_ips: Vec<String>,
    /// Load balancer ingress, in the order the Service's status lists it.
    pub ingress: Vec<Address>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PortFacts {
    pub name: String,
    pub port: u32,
    pub protocol: String,
    pub app_protocol: String,
    pub target: TargetPort,
    pub node_port: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum TargetPort {
    Number(u32),
    Name(String),
}

impl Default for TargetPort {
    fn default() -> Self {
        TargetPort::Number(0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Address {
    Ip(String),
    DnsName(String),
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct NodeFacts {
    pub name: String,
    pub external_ips: Vec<String>,
    pub internal_ips: Vec<String>,
    pub zone: String,
    pub sub_zone: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PodFacts {
    pub namespace: String,
    pub name: String,
    pub ip: String,
    pub node: String,
    pub labels: Labels,
    /// Container port name → number, for Services with named target ports.
    pub container_ports: BTreeMap<String, u32>,
}

impl Facts {
    pub fn gather(
        cluster: &str,
        objects: &ClusterObjects,
        options: &Options,
    ) -> Result<Facts, DiscoverError> {
        let error =
            |object: Option<String>, message: String| DiscoverError::new(cluster, object, message);
        if !objects.listed.contains("Namespace") {
            return Err(error(
                None,
                "no Namespace objects: discovery needs the namespaces' injection labels (add namespaces to the kubectl get kinds)".into(),
            ));
        }
        if options.endpoints == EndpointsMode::Pods && !objects.listed.contains("Pod") {
            return Err(error(
                None,
                "endpoints from pods were asked for, but no Pod objects were given (add pods to the kubectl get kinds)".into(),
            ));
        }
        if options.only_exported && !objects.listed.contains("ServiceExport") {
            return Err(error(
                None,
                "only exported Services were asked for, but no ServiceExport objects were given (add serviceexports.multicluster.x-k8s.io to the kubectl get kinds); nothing but gateways would be discovered".into(),
            ));
        }
        let mut facts = Facts {
            cluster: cluster.to_string(),
            ..Facts::default()
        };
        for namespace in &objects.namespaces {
            facts
                .namespaces
                .insert(name(&namespace.metadata), labels(&namespace.metadata));
        }
        for deployment in &objects.deployments {
            let spec = Some(&deployment.spec);
            if let Some(istiod) = istiod(&deployment.metadata, spec.map(|s| &s.template)) {
                let mut istiod = istiod.map_err(|m| {
                    error(
                        Some(describe(
                            "Deployment",
                            &namespace(&deployment.metadata),
                            &name(&deployment.metadata),
                        )),
                        m,
                    )
                })?;
                istiod.pod_labels = spec
                    .and_then(|s| s.selector.match_labels.clone())
                    .unwrap_or_default();
                facts.istiods.push(istiod);
            }
        }
        facts
            .istiods
            .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        let istio_namespaces: BTreeSet<String> =
            facts.istiods.iter().map(|i| i.namespace.clone()).collect();
        let wanted_configs: BTreeSet<(String, String)> = facts
            .istiods
            .iter()
            .map(|i| (i.namespace.clone(), mesh_config_name(&i.revision)))
            .collect();
        for config_map in &objects.config_maps {
            let key = (namespace(&config_map.metadata), name(&config_map.metadata));
            if wanted_configs.contains(&key) {
                let mesh = config_map
                    .data
                    .as_ref()
                    .and_then(|d| d.get("mesh"))
                    .cloned();
                facts
                    .mesh_configs
                    .insert(format!("{}/{}", key.0, key.1), mesh);
            }
        }

        let in_scope = |ns: &str| istio_namespaces.contains(ns) || options.namespace_in_scope(ns);
        let mut add_workload =
            |kind: &'static str, meta: &ObjectMeta, template: Option<&PodTemplateSpec>| {
                let ns = namespace(meta);
                if !in_scope(&ns) {
                    return;
                }
                let template_meta = template.and_then(|t| t.metadata.as_ref());
                let pod_spec = template.and_then(|t| t.spec.as_ref());
                let revision = injection::revision(
                    facts.namespaces.get(&ns),
                    PodTemplate {
                        labels: template_meta.and_then(|m| m.labels.as_ref()),
                        annotations: template_meta.and_then(|m| m.annotations.as_ref()),
                        host_network: pod_spec.and_then(|s| s.host_network).unwrap_or(false),
                        has_proxy_container: pod_spec.is_some_and(has_proxy_container),
                    },
                );
                if revision.is_none() {
                    return; // not meshed: it cannot change the output
                }
                facts.workloads.push(WorkloadFacts {
                    kind,
                    namespace: ns,
                    name: name(meta),
                    pod_labels: template_meta
                        .and_then(|m| m.labels.clone())
                        .unwrap_or_default(),
                    service_account: pod_spec
                        .map(service_account)
                        .unwrap_or_else(|| "default".into()),
                    revision,
                    container_ports: pod_spec.map(named_container_ports).unwrap_or_default(),
                });
            };
        for d in &objects.deployments {
            add_workload("Deployment", &d.metadata, Some(&d.spec.template));
        }
        for s in &objects.stateful_sets {
            add_workload("StatefulSet", &s.metadata, Some(&s.spec.template));
        }
        for d in &objects.daemon_sets {
            add_workload("DaemonSet", &d.metadata, Some(&d.spec.template));
        }
        facts
            .workloads
            .sort_by(|a, b| (&a.namespace, &a.name, a.kind).cmp(&(&b.namespace, &b.name, b.kind)));

        for export in &objects.service_exports {
            facts
                .exported
                .insert((namespace(&export.metadata), name(&export.metadata)));
        }
        for service in &objects.services {
            let facts_of = service_facts(service).map_err(|m| {
                error(
                    Some(describe(
                        "Service",
                        &namespace(&service.metadata),
                        &name(&service.metadata),
                    )),
                    m,
                )
            })?;
            let gateway = is_gateway(&facts_of.selector, options);
            let can_be_destination = !facts_of.selector.is_empty()
                || facts_of
                    .annotations
                    .get(super::detect::DISCOVERY_ENABLED_ANNOTATION)
                    .is_some_and(|v| v == "true");
            let keep = can_be_destination
                && (gateway
                    || (in_scope(&facts_of.namespace)
                        && (!options.only_exported
                            || facts
                                .exported
                                .contains(&(facts_of.namespace.clone(), facts_of.name.clone())))));
            if keep {
                facts.services.push(facts_of);
            }
        }
        facts
            .services
            .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        if !options.only_exported {
            // Which Services are exported does not change this discovery.
            facts.exported.clear();
        }

        let needs_nodes = options.endpoints == EndpointsMode::Pods
            || facts.services.iter().any(|s| s.service_type == "NodePort");
        if needs_nodes {
            for node in &objects.nodes {
                facts.nodes.push(node_facts(node, options.endpoints));
            }
            facts.nodes.sort_by(|a, b| a.name.cmp(&b.name));
        }
        if options.endpoints == EndpointsMode::Pods {
            for pod in &objects.pods {
                if let Some(p) = pod_facts(pod)
                    && in_scope(&p.namespace)
                {
                    facts.pods.push(p);
                }
            }
            facts
                .pods
                .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        }
        Ok(facts)
    }

    /// `sha256:<hex>` of the facts: the same for two listings of an unchanged cluster.
    pub fn hash(&self) -> String {
        let bytes = serde_json::to_vec(self).expect("facts serialize");
        let digest = Sha256::digest(&bytes);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }
}

/// The ConfigMap holding an istiod revision's MeshConfig (`istio`, or `istio-<rev>`).
pub fn mesh_config_name(revision: &str) -> String {
    if revision == injection::DEFAULT_REVISION {
        "istio".to_string()
    } else {
        format!("istio-{revision}")
    }
}

/// A Service whose selector holds every label of one of the gateway label sets.
pub fn is_gateway(selector: &Labels, options: &Options) -> bool {
    options
        .gateway_labels
        .iter()
        .any(|wanted| !wanted.is_empty() && wanted.iter().all(|(k, v)| selector.get(k) == Some(v)))
}

fn name(meta: &ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

fn namespace(meta: &ObjectMeta) -> String {
    meta.namespace.clone().unwrap_or_default()
}

fn labels(meta: &ObjectMeta) -> Labels {
    meta.labels.clone().unwrap_or_default()
}

fn stable_annotations(meta: &ObjectMeta) -> Labels {
    meta.annotations
        .iter()
        .flatten()
        .filter(|(k, _)| {
            !VOLATILE_ANNOTATION_PREFIXES
                .iter()
                .any(|p| k.starts_with(p))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Gloo Mesh's istiod test: a Deployment named `istiod…` with a container whose image
/// names `istio` and `pilot`. `None`: not an istiod.
fn istiod(meta: &ObjectMeta, template: Option<&PodTemplateSpec>) -> Option<Result<Istiod, String>> {
    let deployment_name = name(meta);
    if !deployment_name.starts_with("istiod") {
        return None;
    }
    let spec = template?.spec.as_ref()?;
    let image = spec
        .containers
        .iter()
        .filter_map(|c| c.image.as_deref())
        .find(|image| image.contains("istio") && image.contains("pilot"))?;
    let template_labels = template
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.as_ref());
    let revision = meta
        .labels
        .as_ref()
        .and_then(|l| l.get(injection::REVISION_LABEL))
        .or_else(|| template_labels.and_then(|l| l.get(injection::REVISION_LABEL)))
        .cloned()
        .unwrap_or_else(|| injection::DEFAULT_REVISION.to_string());
    let version = match image_version(image) {
        Ok(version) => version,
        Err(message) => return Some(Err(message)),
    };
    Some(Ok(Istiod {
        namespace: namespace(meta),
        name: deployment_name,
        revision,
        version,
        pod_labels: Labels::new(),
        service_account: service_account(spec),
        annotations: stable_annotations(meta),
    }))
}

/// The tag of an image reference, or its digest when it has no tag (Gloo Mesh's rule).
fn image_version(image: &str) -> Result<String, String> {
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(format!(
            "the istiod image {image:?} is not an image reference"
        ));
    }
    // A tag follows the last ':' after the last '/' (a ':' before it is a registry port).
    let last_part = name.rsplit('/').next().unwrap_or(name);
    if let Some((_, tag)) = last_part.rsplit_once(':') {
        if tag.is_empty() {
            return Err(format!("the istiod image {image:?} has an empty tag"));
        }
        return Ok(tag.to_string());
    }
    Ok(digest.unwrap_or("").to_string())
}

fn named_container_ports(spec: &PodSpec) -> BTreeMap<String, u32> {
    spec.containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| Some((p.name.clone()?, u32::try_from(p.container_port).ok()?)))
        .collect()
}

fn has_proxy_container(spec: &PodSpec) -> bool {
    spec.containers
        .iter()
        .filter_map(|c| c.image.as_deref())
        .any(|image| image.contains("istio") && image.contains("proxy"))
}

/// The pod's service account: Kubernetes runs pods without one as `default`.
fn service_account(spec: &PodSpec) -> String {
    spec.service_account_name
        .clone()
        .or_else(|| spec.service_account.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".to_string())
}

fn service_facts(service: &k8s_openapi::api::core::v1::Service) -> Result<ServiceFacts, String> {
    let spec = service.spec.clone().unwrap_or_default();
    let mut ports = Vec::new();
    for (index, port) in spec.ports.iter().flatten().enumerate() {
        let number = |value: i32, field: &str| {
            u32::try_from(value)
                .ok()
                .filter(|n| *n <= 65535)
                .ok_or_else(|| format!("spec.ports[{index}].{field} {value} is not a port number"))
        };
        let port_number = number(port.port, "port")?;
        let target = match &port.target_port {
            // The API server defaults targetPort to port.
            None => TargetPort::Number(port_number),
            Some(IntOrString::Int(n)) => TargetPort::Number(number(*n, "targetPort")?),
            Some(IntOrString::String(s)) => match s.parse::<i32>() {
                Ok(n) => TargetPort::Number(number(n, "targetPort")?),
                Err(_) => TargetPort::Name(s.clone()),
            },
        };
        ports.push(PortFacts {
            name: port.name.clone().unwrap_or_default(),
            port: port_number,
            // The API server defaults the protocol to TCP.
            protocol: port.protocol.clone().unwrap_or_else(|| "TCP".into()),
            app_protocol: port.app_protocol.clone().unwrap_or_default(),
            target,
            node_port: port
                .node_port
                .map(|n| number(n, "nodePort"))
                .transpose()?
                .unwrap_or(0),
        });
    }
    let ingress = service
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|i| match (&i.ip, &i.hostname) {
            (Some(ip), _) if !ip.is_empty() => Some(Address::Ip(ip.clone())),
            (_, Some(host)) if !host.is_empty() => Some(Address::DnsName(host.clone())),
            _ => None,
        })
        .collect();
    Ok(ServiceFacts {
        namespace: namespace(&service.metadata),
        name: name(&service.metadata),
        labels: labels(&service.metadata),
        annotations: stable_annotations(&service.metadata),
        selector: spec.selector.unwrap_or_default(),
        service_type: spec.type_.unwrap_or_else(|| "ClusterIP".into()),
        ports,
        external_ips: spec.external_ips.unwrap_or_default(),
        ingress,
    })
}

fn node_facts(node: &k8s_openapi::api::core::v1::Node, endpoints: EndpointsMode) -> NodeFacts {
    let mut facts = NodeFacts {
        name: name(&node.metadata),
        ..NodeFacts::default()
    };
    for address in node
        .status
        .as_ref()
        .and_then(|s| s.addresses.as_ref())
        .into_iter()
        .flatten()
    {
        match address.type_.as_str() {
            "ExternalIP" => facts.external_ips.push(address.address.clone()),
            "InternalIP" => facts.internal_ips.push(address.address.clone()),
            _ => {}
        }
    }
    if endpoints == EndpointsMode::Pods {
        let label = |key: &str| {
            node.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(key))
                .cloned()
                .unwrap_or_default()
        };
        facts.zone = label("topology.kubernetes.io/zone");
        facts.sub_zone = label("topology.istio.io/subzone");
    }
    facts
}

/// A ready, running pod with an IP (what the Service's Endpoints list as addresses).
fn pod_facts(pod: &super::objects::Pod) -> Option<PodFacts> {
    let status = pod.status.as_ref()?;
    let ip = status.pod_ip.clone().filter(|ip| !ip.is_empty())?;
    let ready = status.phase.as_deref() == Some("Running")
        && status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == "True");
    if !ready || pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let spec = pod.spec.as_ref();
    let container_ports = spec
        .into_iter()
        .flat_map(|s| s.containers.iter())
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| Some((p.name.clone()?, u32::try_from(p.container_port).ok()?)))
        .collect();
    Some(PodFacts {
        namespace: namespace(&pod.metadata),
        name: name(&pod.metadata),
        ip,
        node: spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        labels: labels(&pod.metadata),
        container_ports,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_versions() {
        assert_eq!(
            image_version("docker.io/istio/pilot:1.20.3").unwrap(),
            "1.20.3"
        );
        assert_eq!(
            image_version("localhost:5000/istio/pilot:1.22.0-distroless").unwrap(),
            "1.22.0-distroless"
        );
        assert_eq!(image_version("localhost:5000/istio/pilot").unwrap(), "");
        assert_eq!(
            image_version("gcr.io/istio/pilot@sha256:abc").unwrap(),
            "sha256:abc"
        );
        assert_eq!(
            image_version("istio/pilot:1.9.5@sha256:abc").unwrap(),
            "1.9.5"
        );
        assert!(image_version("istio/pilot:").is_err());
        assert!(image_version("bad image").is_err());
    }

    #[test]
    fn gateway_selectors_need_every_label_of_one_set() {
        let options = Options::default();
        let selector = |pairs: &[(&str, &str)]| -> Labels {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(is_gateway(
            &selector(&[("istio", "eastwestgateway"), ("app", "x")]),
            &options
        ));
        assert!(is_gateway(
            &selector(&[("istio", "ingressgateway")]),
            &options
        ));
        assert!(!is_gateway(
            &selector(&[("app", "istio-ingressgateway")]),
            &options
        ));
        assert!(!is_gateway(&Labels::new(), &options));
    }

    #[test]
    fn volatile_annotations_are_dropped() {
        let meta = ObjectMeta {
            annotations: Some(BTreeMap::from([
                (
                    "kubectl.kubernetes.io/last-applied-configuration".to_string(),
                    "{}".to_string(),
                ),
                (
                    "deployment.kubernetes.io/revision".to_string(),
                    "3".to_string(),
                ),
                ("team".to_string(), "payments".to_string()),
            ])),
            ..ObjectMeta::default()
        };
        assert_eq!(
            stable_annotations(&meta),
            BTreeMap::from([("team".to_string(), "payments".to_string())])
        );
    }
}
