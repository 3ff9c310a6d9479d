//! Plan: the derived state of one run — which VirtualMesh governs which mesh, each mesh's
//! east-west gateways, what every Destination is federated to, unique VIPs and access
//! rules. Everything here is validated; rendering only reads it.

pub mod access;
pub mod federation;
pub mod gateways;
pub mod membership;
pub mod messages;
pub mod names;
pub mod report;
pub mod selectors;
pub mod validate;
pub mod vip;

use crate::index::Inputs;
use crate::krm::{Item, Results};
use crate::model::Resource;
use crate::model::common::{ClusterObjectRef, ObjectRef};
use crate::model::config::{EndpointsMode, RenderConfig};
use crate::model::discovery::{DestinationSpec, IngressGatewayInfo, IstioMesh, KubeService};
use crate::model::networking::{GlobalAccessPolicy, TlsMode, VirtualMeshSpec};
use access::{Rule, TrustDomains};
use federation::{Federation, Keepalive, LocalEntry, ServicePort, ServingIdentities, Target};
use gateways::Gateway;
use membership::Membership;
use names::{format_duration, is_dns_label, is_dns_subdomain, parse_duration};
use report::Report;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::Arc;

/// Istio's control-plane namespace when a Mesh does not name one.
pub const DEFAULT_ISTIO_NAMESPACE: &str = "istio-system";
/// Kubernetes' cluster domain when no KubernetesCluster names one.
pub const DEFAULT_CLUSTER_DOMAIN: &str = "cluster.local";

/// An Istio mesh governed by a VirtualMesh.
#[derive(Debug, Clone)]
pub struct MeshPlan {
    pub mesh: ObjectRef,
    pub virtual_mesh: ObjectRef,
    /// The workload cluster of the mesh's outputs.
    pub cluster: String,
    /// Istio's control-plane namespace.
    pub namespace: String,
    pub gateways: Vec<Gateway>,
    /// The VirtualMesh groups two or more meshes (federation, Gateways).
    pub multi_mesh: bool,
    /// `globalAccessPolicy: ENABLED`.
    pub global_access: bool,
    pub hostname_suffix: String,
    /// Deprecated `Mesh.spec.istio.ingressGateways` (allow policies).
    pub ingress_gateways: Vec<IngressGatewayInfo>,
    pub trust_domain: String,
    pub istiod_service_account: String,
    /// The Mesh says its sidecars capture DNS (`smartDnsProxyingEnabled`).
    pub smart_dns: bool,
    /// Trust domains of the VirtualMesh's other meshes that differ from this one's, sorted:
    /// the peers this mesh's sidecars must accept.
    pub peer_trust_domains: Vec<String>,
}

/// An Istio Destination: its per-Destination DestinationRule and AuthorizationPolicy.
#[derive(Debug, Clone)]
pub struct DestinationPlan {
    pub destination: ObjectRef,
    pub service: ClusterObjectRef,
    pub workload_labels: BTreeMap<String, String>,
    pub local_fqdn: String,
    pub rules: Vec<std::sync::Arc<Rule>>,
}

/// The derived state of one run.
#[derive(Debug, Default)]
pub struct Plan {
    pub config: RenderConfig,
    pub tls_mode: TlsMode,
    pub membership: Membership,
    pub meshes: BTreeMap<ObjectRef, MeshPlan>,
    /// Federated Destinations, in Destination key order.
    pub federations: Vec<Federation>,
    /// Istio Destinations, in Destination key order.
    pub destinations: Vec<DestinationPlan>,
    /// VirtualMesh → its meshes and federated Destinations, for `writeStatus`.
    pub status: BTreeMap<ObjectRef, (Vec<ObjectRef>, Vec<ObjectRef>)>,
}

impl Plan {
    /// Validates the inputs and derives the plan. Problems go to `results`; the caller must
    /// not render when there are errors.
    pub fn build(
        inputs: &Inputs,
        items: &[Item],
        config: &RenderConfig,
        results: &mut Results,
    ) -> Plan {
        let mut report = Report::new(items, results);
        let mut plan = Plan {
            config: config.clone(),
            tls_mode: tls_mode(inputs, config, &mut report),
            ..Plan::default()
        };
        check_meshes(inputs, &mut report);
        membership::report_missing_meshes(inputs, &mut report);
        check_destinations(inputs, &mut report);
        plan.membership = membership::resolve(inputs, &mut report);
        for vm in inputs.virtual_meshes.values() {
            plan.add_virtual_mesh(inputs, vm, &mut report);
        }
        plan.add_federations(inputs, &mut report);
        plan.assign_vips(inputs, &mut report);
        plan.add_destinations(inputs, &mut report);
        validate::check(inputs, &plan, &mut report);
        plan
    }

    fn add_virtual_mesh(
        &mut self,
        inputs: &Inputs,
        vm: &Resource<VirtualMeshSpec>,
        report: &mut Report,
    ) {
        let vm_ref = vm.object_ref();
        check_federation_fields(inputs, vm, report);
        let governed = self
            .membership
            .meshes
            .get(&vm_ref)
            .cloned()
            .unwrap_or_default();
        let multi_mesh = vm.spec.meshes.len() >= 2;
        let suffix = hostname_suffix(vm);
        for mesh_ref in &governed {
            let mesh = &inputs.meshes[mesh_ref];
            let Some(istio) = &mesh.spec.istio else {
                report.warning(
                    vm.item,
                    &mesh_field(vm, mesh_ref),
                    format!(
                        "Mesh {} is not an Istio mesh (type {}): vmesh renders only Istio configuration, so it gets no outputs and nothing is federated into it",
                        mesh_ref,
                        mesh.spec.type_name()
                    ),
                );
                continue;
            };
            let gateways = gateways::select(inputs, vm, mesh_ref, istio, report);
            if multi_mesh && gateways.is_empty() {
                report.error(
                    vm.item,
                    &mesh_field(vm, mesh_ref),
                    messages::Message::new(
                        format!(
                            "no east-west gateway for Mesh {mesh_ref}, so other clusters cannot reach it: select one of its Destinations (a NodePort or LoadBalancer Service with a \"tls\" port) in spec.federation.eastWestIngressGatewaySelectors"
                        ),
                        format!(
                            "no Destinations selected as ingress gateway for mesh {}. At least one must be selected.",
                            mesh_ref.key()
                        ),
                    ),
                );
            }
            self.meshes.insert(
                mesh_ref.clone(),
                MeshPlan {
                    mesh: mesh_ref.clone(),
                    virtual_mesh: vm_ref.clone(),
                    cluster: istio.installation.cluster.clone(),
                    namespace: istio_namespace(istio).to_string(),
                    gateways,
                    multi_mesh,
                    global_access: vm.spec.global_access_policy == GlobalAccessPolicy::Enabled,
                    hostname_suffix: suffix.clone(),
                    ingress_gateways: istio.ingress_gateways.clone(),
                    trust_domain: istio.trust_domain.clone(),
                    istiod_service_account: istio.istiod_service_account.clone(),
                    smart_dns: istio.smart_dns_proxying_enabled,
                    peer_trust_domains: Vec::new(),
                },
            );
            if multi_mesh
                && !istio.smart_dns_proxying_enabled
                && suffix == federation::DEFAULT_HOSTNAME_SUFFIX
            {
                report.warning(
                    mesh.item,
                    "spec.istio.smartDnsProxyingEnabled",
                    format!(
                        "DNS capture is off in this mesh, so federated hosts (*.{suffix}) resolve nowhere in cluster {}: Istio no longer ships a DNS server for them. Apply the Istio settings vmesh renders for this mesh (ConfigMap {}/{}, file istio-settings/{}.yaml under kpt: meshConfig.defaultConfig.proxyMetadata.ISTIO_META_DNS_CAPTURE)",
                        istio.installation.cluster,
                        mesh_ref.namespace,
                        istio_settings_name(mesh_ref),
                        istio.installation.cluster
                    ),
                );
            }
        }
        self.set_peer_trust_domains(&vm_ref);
        self.status.insert(vm_ref, (governed, Vec::new()));
    }

    /// Each mesh of a VirtualMesh must accept its peers' identities: the trust domains of
    /// the other meshes, where they differ from its own.
    fn set_peer_trust_domains(&mut self, vm_ref: &ObjectRef) {
        let domains: BTreeSet<String> = self
            .meshes
            .values()
            .filter(|m| &m.virtual_mesh == vm_ref && !m.trust_domain.is_empty())
            .map(|m| m.trust_domain.clone())
            .collect();
        for mesh in self
            .meshes
            .values_mut()
            .filter(|m| &m.virtual_mesh == vm_ref)
        {
            mesh.peer_trust_domains = domains
                .iter()
                .filter(|d| **d != mesh.trust_domain)
                .cloned()
                .collect();
        }
    }

    fn add_federations(&mut self, inputs: &Inputs, report: &mut Report) {
        let (candidates, target_lists) = federation_candidates(&self.meshes, inputs, report);
        let identities = ServingIdentities::new(inputs.workloads.values().map(|w| &w.spec));
        let built = self.build_federations(inputs, &candidates, &identities, report);
        let mut unreachable: BTreeSet<ObjectRef> = BTreeSet::new();
        for (candidate, federation) in candidates.iter().zip(built) {
            let Some(mut federation) = federation else {
                continue;
            };
            let mesh_plan = candidate.mesh_plan;
            if unreachable_gateways(mesh_plan, &federation)
                && unreachable.insert(mesh_plan.mesh.clone())
            {
                let vm = &inputs.virtual_meshes[&mesh_plan.virtual_mesh];
                report.error(
                    vm.item,
                    &mesh_field(vm, &mesh_plan.mesh),
                    format!(
                        "the east-west gateways of Mesh {} have no external addresses, so other clusters cannot reach its Destinations (first: {}): give the gateway Destinations their addresses (spec.kubeService.externalAddresses)",
                        mesh_plan.mesh,
                        candidate.destination_ref
                    ),
                );
            }
            if let Some(status) = self.status.get_mut(&mesh_plan.virtual_mesh) {
                status.1.push(candidate.destination_ref.clone());
            }
            federation.index = self.federations.len();
            self.federations.push(federation);
        }
        check_smart_dns(inputs, target_lists, report);
        let names = names::remote_rule_names(self.federations.iter().map(|f| &f.service));
        for (federation, name) in self.federations.iter_mut().zip(names) {
            federation.remote_rule_name = name;
        }
    }

    /// Each Destination's federation depends on nothing but its own inputs: built on every
    /// core, each job with results of its own, and returned in the candidates' order.
    fn build_federations(
        &self,
        inputs: &Inputs,
        candidates: &[Candidate],
        identities: &ServingIdentities,
        report: &mut Report,
    ) -> Vec<Option<Federation>> {
        let chunks: Vec<&[Candidate]> = candidates.chunks(FEDERATION_CHUNK).collect();
        let items = report.items();
        let built = crate::parallel::in_parallel(&chunks, |chunk| {
            let mut results = Results::default();
            let mut report = Report::new(items, &mut results);
            let federations: Vec<Option<Federation>> = chunk
                .iter()
                .map(|c| self.federation(inputs, c, identities, &mut report))
                .collect();
            (federations, results)
        });
        let mut federations = Vec::with_capacity(candidates.len());
        for (built, results) in built {
            report.results.append(results);
            federations.extend(built);
        }
        federations
    }

    fn federation(
        &self,
        inputs: &Inputs,
        candidate: &Candidate,
        identities: &ServingIdentities,
        report: &mut Report,
    ) -> Option<Federation> {
        let Candidate {
            destination,
            service,
            mesh_plan,
            ..
        } = *candidate;
        let targets = candidate.targets.clone();
        let mode = self.config.endpoints_mode();
        let hostname =
            federation::federated_hostname(&service.service_ref, &mesh_plan.hostname_suffix);
        if !is_dns_subdomain(&hostname) {
            report.error(
                destination.item,
                "spec.kubeService.ref",
                format!("federated hostname {hostname:?} is not a valid DNS name (names, namespace and cluster must be DNS-1123 labels)"),
            );
            return None;
        }
        if mode == EndpointsMode::Stable && service.workload_selector_labels.is_empty() {
            report.warning(
                destination.item,
                "spec.kubeService.workloadSelectorLabels",
                "not federated: the Service selects no pods by label, and `endpoints: stable` locates a Service's pods by its selector (use `endpoints: pods` for selector-less Services)",
            );
            return None;
        }
        let ports = service_ports(destination, service, mode, report);
        if ports.is_empty() {
            // A ServiceEntry without ports is refused by Istio's validation, and one whose
            // ports were all left out carries nothing.
            report.warning(
                destination.item,
                "spec.kubeService.ports",
                "not federated: the Service has no port that east-west gateways can carry (TCP-based ports only); add one, or leave the Destination out of the VirtualMesh's federation selectors",
            );
            return None;
        }
        let port_names: Vec<String> = ports.iter().map(|p| p.name.clone()).collect();
        let mesh = &inputs.meshes[&mesh_plan.mesh];
        let region = if service.region.is_empty() {
            mesh.spec
                .istio
                .as_ref()
                .map_or("", |i| i.installation.region.as_str())
        } else {
            service.region.as_str()
        };
        let remote_endpoints =
            federation::remote_endpoints(mode, &mesh_plan.gateways, service, region, &port_names);
        let remote_resolution =
            match federation::resolution(remote_endpoints.iter().map(|e| &e.address)) {
                Ok(r) => r,
                Err(message) => {
                    let addresses: Vec<&str> = mesh_plan
                        .gateways
                        .iter()
                        .flat_map(|g| g.addresses.iter().map(String::as_str))
                        .collect();
                    report.error(
                        destination.item,
                        "spec.kubeService",
                        format!(
                            "{message} (the east-west gateway addresses of Mesh {}: {})",
                            mesh_plan.mesh,
                            addresses.join(", ")
                        ),
                    );
                    return None;
                }
            };
        // The serving ServiceEntry must be visible to the east-west gateways: an
        // AUTO_PASSTHROUGH chain exists only for hosts in the gateway's sidecar scope
        // (DefaultSidecarScopeForGateway), so it is exported to their namespaces too.
        let local_namespace = match mode {
            EndpointsMode::Stable => &service.service_ref.namespace,
            EndpointsMode::Pods => &mesh_plan.namespace,
        };
        let mut export_to = vec![".".to_string()];
        for gateway in &mesh_plan.gateways {
            let ns = &gateway.service.namespace;
            if ns != local_namespace && !export_to.contains(ns) {
                export_to.push(ns.clone());
            }
        }
        let local = match mode {
            EndpointsMode::Stable => LocalEntry::Selector {
                namespace: service.service_ref.namespace.clone(),
                labels: service.workload_selector_labels.clone(),
                export_to,
            },
            EndpointsMode::Pods => {
                let endpoints = federation::pod_endpoints(service, &port_names);
                if endpoints.is_empty() {
                    // `endpoints: pods` copies the endpoints discovery saw; with none
                    // (an ExternalName Service, a workload scaled to zero) every remote
                    // ServiceEntry would route to nothing.
                    report.warning(
                        destination.item,
                        "spec.kubeService.endpointSubsets",
                        "not federated: the Service has no endpoints, and `endpoints: pods` federates the pods discovery saw (scale the workload up and discover again, or use `endpoints: stable`, which follows the Service's selector)",
                    );
                    return None;
                }
                match federation::resolution(endpoints.iter().map(|e| &e.address)) {
                    Ok(resolution) => LocalEntry::Pods {
                        endpoints,
                        resolution,
                        export_to,
                    },
                    Err(message) => {
                        report.error(
                            destination.item,
                            "spec.kubeService.endpointSubsets",
                            message,
                        );
                        return None;
                    }
                }
            }
        };
        let subject_alt_names = identities
            .subject_alt_names(service, &mesh_plan.trust_domain)
            .unwrap_or_else(|address| {
                report.warning(
                    destination.item,
                    "spec.kubeService.endpointSubsets",
                    format!(
                        "clients in other clusters will not check the server's identity: endpoint {address} matches no Workload (no Workload's podLabels are all among its labels), so the accounts that serve this Service are not all known; list every Workload behind it, as vmesh discover does"
                    ),
                );
                Vec::new()
            });
        let vm = &inputs.virtual_meshes[&mesh_plan.virtual_mesh];
        Some(Federation {
            destination: destination.object_ref(),
            service: service.service_ref.clone(),
            virtual_mesh: mesh_plan.virtual_mesh.clone(),
            source_mesh: mesh_plan.mesh.clone(),
            hostname,
            remote_rule_name: String::new(),
            targets,
            ports,
            remote_endpoints,
            remote_resolution,
            local,
            keepalive: keepalive(vm),
            subject_alt_names,
            vip: Ipv4Addr::UNSPECIFIED,
            index: 0,
        })
    }

    fn assign_vips(&mut self, inputs: &Inputs, report: &mut Report) {
        let services: BTreeMap<ObjectRef, ClusterObjectRef> = self
            .federations
            .iter()
            .map(|f| (f.destination.clone(), f.service.clone()))
            .collect();
        let (assigned, moved) = vip::assign(&services);
        for federation in &mut self.federations {
            federation.vip = assigned[&federation.destination];
        }
        for m in moved {
            let item = inputs.destinations[&m.destination].item;
            let why = match &m.collides_with {
                Some(other) => format!("it collides with Destination {other}"),
                None => "it lies in istiod's auto-allocation range 240.240.0.0/16".to_string(),
            };
            report.warning(
                item,
                "spec.kubeService.ref",
                format!(
                    "virtual IP {} (Gloo Mesh's address) moved to {}: {why}",
                    m.gloo_address, m.address
                ),
            );
        }
    }

    fn add_destinations(&mut self, inputs: &Inputs, report: &mut Report) {
        let trust_domains = TrustDomains::new(inputs);
        let policy_rules = access::policy_rules(inputs, &trust_domains, report);
        for (dest_ref, destination) in &inputs.destinations {
            let Some(service) = &destination.spec.kube_service else {
                continue;
            };
            let is_istio = destination
                .spec
                .mesh
                .as_ref()
                .and_then(|m| inputs.meshes.get(m))
                .is_some_and(|m| m.spec.istio.is_some());
            if !is_istio {
                continue;
            }
            let domain = inputs
                .clusters
                .get(&service.service_ref.cluster_name)
                .map(|c| c.spec.cluster_domain.as_str())
                .filter(|d| !d.is_empty())
                .unwrap_or(DEFAULT_CLUSTER_DOMAIN);
            let mut rules = access::rules_for(inputs, service, &policy_rules);
            if !rules.is_empty() && service.workload_selector_labels.is_empty() {
                // An AuthorizationPolicy without a selector applies to every workload of
                // the namespace: the policy would restrict far more than this Service.
                report.warning(
                    destination.item,
                    "spec.kubeService.workloadSelectorLabels",
                    format!(
                        "no AuthorizationPolicy rendered for AccessPolicies {}: the Service selects no pods by label, and a policy without a selector would apply to every workload in namespace {}",
                        rules
                            .iter()
                            .map(|r| r.policy.to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                        service.service_ref.namespace
                    ),
                );
                rules.clear();
            }
            self.destinations.push(DestinationPlan {
                destination: dest_ref.clone(),
                service: service.service_ref.clone(),
                workload_labels: service.workload_selector_labels.clone(),
                local_fqdn: format!(
                    "{}.{}.svc.{domain}",
                    service.service_ref.name, service.service_ref.namespace
                ),
                rules,
            });
        }
    }

    /// Whether a DestinationRule for a Service's cluster-local host is rendered. Not for
    /// `ISTIO_MUTUAL`: Istio's auto mTLS already sends Istio mTLS to every endpoint with a
    /// sidecar and plaintext to the others, while a rule that sets ISTIO_MUTUAL forces mTLS
    /// onto every endpoint and so breaks in-mesh calls to sidecar-less pods and to gateway
    /// ports that expect plaintext (Istio's `cluster_builder` applies a rule's TLS to all
    /// endpoints; auto mTLS adds a transport socket match on `tlsMode: istio`). Other modes
    /// are the user's explicit choice and are rendered as Gloo Mesh does.
    pub fn renders_local_rules(&self) -> bool {
        self.tls_mode != TlsMode::IstioMutual
    }

    /// The local FQDN of a Destination's Service (for hosts seen from its own cluster).
    pub fn local_fqdn(&self, destination: &ObjectRef) -> Option<&str> {
        self.destinations
            .binary_search_by(|d| d.destination.cmp(destination))
            .ok()
            .map(|i| self.destinations[i].local_fqdn.as_str())
    }
}

/// `spec.meshes[i]` of the entry that names `mesh_ref`.
fn mesh_field(vm: &Resource<VirtualMeshSpec>, mesh_ref: &ObjectRef) -> String {
    vm.spec
        .meshes
        .iter()
        .position(|m| m == mesh_ref)
        .map_or_else(
            || "spec.meshes".to_string(),
            |i| format!("spec.meshes[{i}]"),
        )
}

pub fn istio_namespace(istio: &IstioMesh) -> &str {
    if istio.installation.namespace.is_empty() {
        DEFAULT_ISTIO_NAMESPACE
    } else {
        &istio.installation.namespace
    }
}

fn hostname_suffix(vm: &Resource<VirtualMeshSpec>) -> String {
    vm.spec
        .federation
        .as_ref()
        .map(|f| f.hostname_suffix.as_str())
        .filter(|s| !s.is_empty())
        .unwrap_or(federation::DEFAULT_HOSTNAME_SUFFIX)
        .to_string()
}

/// Which federation rules of the VirtualMesh pick `service`, as indexes into
/// `federation.selectors` (up to the first that federates to every mesh). Empty when none
/// does, or when the VirtualMesh federates by `permissive` alone.
fn selected_federation_rules(vm: &Resource<VirtualMeshSpec>, service: &KubeService) -> Vec<usize> {
    let Some(federation) = &vm.spec.federation else {
        return Vec::new();
    };
    let mut selected = Vec::new();
    for (index, selector) in federation.selectors.iter().enumerate() {
        if selectors::any_matches(&selector.destination_selectors, service) {
            selected.push(index);
            if selector.meshes.is_empty() {
                break;
            }
        }
    }
    selected
}

/// The Destinations to federate, in key order, with the meshes each is federated to; and
/// the target lists, for the smart DNS check. The meshes a Destination is federated to
/// depend only on its mesh and on which federation selectors pick it: resolved once per
/// such pair and shared by all.
fn federation_candidates<'a>(
    meshes: &'a BTreeMap<ObjectRef, MeshPlan>,
    inputs: &'a Inputs,
    report: &mut Report,
) -> (Vec<Candidate<'a>>, Vec<TargetList>) {
    let mut warned_targets: BTreeSet<(ObjectRef, ObjectRef)> = BTreeSet::new();
    let mut target_lists: HashMap<(&ObjectRef, Vec<usize>), TargetList> = HashMap::new();
    let mut candidates = Vec::new();
    for (dest_ref, destination) in &inputs.destinations {
        let Some(service) = &destination.spec.kube_service else {
            continue;
        };
        let Some(mesh_ref) = &destination.spec.mesh else {
            continue;
        };
        let Some(mesh_plan) = meshes.get(mesh_ref) else {
            continue;
        };
        let vm = &inputs.virtual_meshes[&mesh_plan.virtual_mesh];
        let list = target_lists
            .entry((mesh_ref, selected_federation_rules(vm, service)))
            .or_insert_with_key(|(own, selected)| {
                TargetList::resolve(
                    inputs,
                    vm,
                    own,
                    selected,
                    mesh_plan,
                    &mut warned_targets,
                    report,
                )
            });
        list.destinations += 1;
        if !list.targets.is_empty() {
            candidates.push(Candidate {
                destination_ref: dest_ref,
                destination,
                service,
                mesh_plan,
                targets: list.targets.clone(),
            });
        }
    }
    (candidates, target_lists.into_values().collect())
}

/// A mesh of a multi-mesh VirtualMesh whose east-west gateways have no address a
/// Destination's remote endpoints could use.
fn unreachable_gateways(mesh_plan: &MeshPlan, federation: &Federation) -> bool {
    mesh_plan.multi_mesh
        && !mesh_plan.gateways.is_empty()
        && federation.remote_endpoints.is_empty()
        && mesh_plan.gateways.iter().all(|g| g.addresses.is_empty())
}

/// A custom hostname suffix needs Istio's smart DNS proxying in every mesh the
/// Destinations are federated to: one error per VirtualMesh and mesh without it.
fn check_smart_dns(inputs: &Inputs, target_lists: Vec<TargetList>, report: &mut Report) {
    let mut smart_dns: BTreeMap<(ObjectRef, ObjectRef), usize> = BTreeMap::new();
    for list in target_lists {
        for target in list.without_smart_dns {
            *smart_dns
                .entry((list.virtual_mesh.clone(), target))
                .or_default() += list.destinations;
        }
    }
    for ((vm_ref, target), count) in smart_dns {
        let vm = &inputs.virtual_meshes[&vm_ref];
        report.error(
            vm.item,
            "spec.federation.hostnameSuffix",
            messages::Message::new(
                format!(
                    "Mesh {target} does not have smart DNS proxying enabled, and a custom hostnameSuffix needs it in every mesh Destinations are federated to ({count} are federated to this one): set spec.istio.smartDnsProxyingEnabled on the Mesh (and DNS capture in its Istio), or remove hostnameSuffix"
                ),
                format!(
                    "mesh {} does not have smart DNS proxying enabled (hostname suffix can only be specified for federated Destination if Istio's smart DNS proxying is enabled)",
                    target.key()
                ),
            ),
        );
    }
}

/// Destinations federated per parallel job.
const FEDERATION_CHUNK: usize = 64;

/// A Destination to federate, and the meshes to federate it to.
struct Candidate<'a> {
    destination_ref: &'a ObjectRef,
    destination: &'a Resource<DestinationSpec>,
    service: &'a KubeService,
    mesh_plan: &'a MeshPlan,
    targets: Arc<[Target]>,
}

/// Gloo Mesh's `getFederatedToMeshes`: the meshes (other than `own`) that the `selected`
/// federation rules federate to, in key order; with no selectors, `permissive` federates to
/// every mesh of the VirtualMesh.
fn federated_to<'a>(
    vm: &'a Resource<VirtualMeshSpec>,
    own: &ObjectRef,
    selected: &[usize],
) -> Vec<&'a ObjectRef> {
    let Some(federation) = &vm.spec.federation else {
        return Vec::new();
    };
    let mut targets: BTreeSet<&ObjectRef> = BTreeSet::new();
    if federation.selectors.is_empty() && federation.permissive.is_some() {
        targets.extend(&vm.spec.meshes);
    }
    for selector in selected.iter().map(|&i| &federation.selectors[i]) {
        if selector.meshes.is_empty() {
            targets.extend(&vm.spec.meshes);
        } else {
            targets.extend(&selector.meshes);
        }
    }
    let mut sorted: Vec<&ObjectRef> = targets.into_iter().filter(|m| *m != own).collect();
    sorted.sort_by(|a, b| a.key_cmp(b));
    sorted
}

/// The Istio meshes Destinations of one mesh, picked by the same federation rules, are
/// federated to.
struct TargetList {
    virtual_mesh: ObjectRef,
    targets: Arc<[Target]>,
    /// Targets without smart DNS proxying, which a custom hostname suffix needs.
    without_smart_dns: Vec<ObjectRef>,
    /// How many Destinations use the list.
    destinations: usize,
}

impl TargetList {
    fn resolve(
        inputs: &Inputs,
        vm: &Resource<VirtualMeshSpec>,
        own: &ObjectRef,
        selected: &[usize],
        mesh_plan: &MeshPlan,
        warned_targets: &mut BTreeSet<(ObjectRef, ObjectRef)>,
        report: &mut Report,
    ) -> TargetList {
        let last_label = mesh_plan.hostname_suffix.rsplit('.').next().unwrap_or("");
        let custom_suffix = last_label != federation::DEFAULT_HOSTNAME_SUFFIX;
        let mut targets = Vec::new();
        let mut without_smart_dns = Vec::new();
        for target in federated_to(vm, own, selected) {
            let Some(target_mesh) = inputs.meshes.get(target) else {
                continue;
            };
            let Some(istio) = &target_mesh.spec.istio else {
                if warned_targets.insert((vm.object_ref(), target.clone())) {
                    report.warning(
                        vm.item,
                        "spec.federation",
                        format!(
                            "Destinations are not federated into Mesh {}: it is not an Istio mesh (type {}) and vmesh renders only Istio configuration",
                            target,
                            target_mesh.spec.type_name()
                        ),
                    );
                }
                continue;
            };
            if custom_suffix && !istio.smart_dns_proxying_enabled {
                without_smart_dns.push(target.clone());
            }
            targets.push(Target {
                cluster: istio.installation.cluster.clone(),
                namespace: istio_namespace(istio).to_string(),
            });
        }
        TargetList {
            virtual_mesh: vm.object_ref(),
            targets: targets.into(),
            without_smart_dns,
            destinations: 0,
        }
    }
}

fn keepalive(vm: &Resource<VirtualMeshSpec>) -> Option<Keepalive> {
    let k = vm.spec.federation.as_ref()?.tcp_keepalive.as_ref()?;
    let normal = |d: &Option<String>| {
        d.as_deref()
            .and_then(|text| parse_duration(text).ok())
            .map(format_duration)
    };
    Some(Keepalive {
        probes: k.probes,
        time: normal(&k.time),
        interval: normal(&k.interval),
    })
}

/// The Service ports as ServiceEntry ports; SCTP ports are left out with a warning.
fn service_ports(
    destination: &Resource<DestinationSpec>,
    service: &KubeService,
    mode: EndpointsMode,
    report: &mut Report,
) -> Vec<ServicePort> {
    let mut ports = Vec::new();
    for (i, port) in service.ports.iter().enumerate() {
        if port.protocol.eq_ignore_ascii_case("UDP") {
            report.warning(
                destination.item,
                &format!("spec.kubeService.ports[{i}]"),
                "UDP port left out of the federated ServiceEntries: east-west gateways carry TLS over TCP only",
            );
            continue;
        }
        let Some(protocol) = federation::port_protocol(port) else {
            report.warning(
                destination.item,
                &format!("spec.kubeService.ports[{i}]"),
                "SCTP port left out of the federated ServiceEntries: Istio does not carry SCTP",
            );
            continue;
        };
        let target_port = federation::target_port(port, service);
        if mode == EndpointsMode::Stable && target_port.is_none() {
            report.warning(
                destination.item,
                &format!("spec.kubeService.ports[{i}].targetPortName"),
                format!(
                    "target port {:?} is not among the endpoint ports, so the serving cluster's ServiceEntry uses the Service port {}",
                    port.target_port_name, port.port
                ),
            );
        }
        ports.push(ServicePort {
            number: port.port,
            name: federation::port_name(port),
            protocol,
            target_port,
        });
    }
    ports
}

/// Default DestinationRule TLS mode: functionConfig, else the Settings resource, else
/// `ISTIO_MUTUAL`.
fn tls_mode(inputs: &Inputs, config: &RenderConfig, report: &mut Report) -> TlsMode {
    let mut settings = inputs.settings.values();
    let first = settings.next();
    for extra in settings {
        report.error(
            extra.item,
            "",
            format!(
                "more than one Settings resource: vmesh reads only one (it reads {}), so remove this one or merge it into that one",
                first.map(|s| s.object_ref().to_string()).unwrap_or_default()
            ),
        );
    }
    if let Some(mode) = config.tls_mode {
        return mode;
    }
    let Some(settings) = first else {
        return TlsMode::IstioMutual;
    };
    let mode = settings
        .spec
        .mtls
        .as_ref()
        .and_then(|m| m.istio.as_ref())
        .map(|i| i.tls_mode)
        .unwrap_or_default();
    if mode == TlsMode::Disable {
        report.warning(
            settings.item,
            "spec.mtls.istio.tlsMode",
            "local DestinationRules get TLS mode DISABLE (Settings without an Istio TLS mode means DISABLE, as in Gloo Mesh); the rules of federated hosts stay ISTIO_MUTUAL, which AUTO_PASSTHROUGH gateways need",
        );
    }
    mode
}

/// The name of the ConfigMap that carries a mesh's Istio settings (docs/decisions.md).
pub fn istio_settings_name(mesh: &ObjectRef) -> String {
    names::sanitize_name(&format!("vmesh-istio-settings-{}", mesh.name))
}

fn check_meshes(inputs: &Inputs, report: &mut Report) {
    for mesh in inputs.meshes.values() {
        if let Some(istio) = &mesh.spec.istio
            && istio.installation.cluster.is_empty()
        {
            report.error(
                mesh.item,
                "spec.istio.installation.cluster",
                "an Istio Mesh must name the cluster it is installed in; its outputs go there",
            );
        }
        let gateways = mesh
            .spec
            .istio
            .as_ref()
            .map_or(&[][..], |i| i.ingress_gateways.as_slice());
        for (i, gateway) in gateways.iter().enumerate() {
            for (field, port) in [
                ("externalTlsPort", gateway.external_tls_port),
                ("tlsContainerPort", gateway.tls_container_port),
            ] {
                if !(1..=65535).contains(&port) {
                    report.error(
                        mesh.item,
                        &format!("spec.istio.ingressGateways[{i}].{field}"),
                        format!("{field} {port} is out of range 1-65535"),
                    );
                }
            }
        }
    }
}

fn check_destinations(inputs: &Inputs, report: &mut Report) {
    let mut services: BTreeMap<&ClusterObjectRef, &ObjectRef> = BTreeMap::new();
    for (dest_ref, destination) in &inputs.destinations {
        let Some(service) = &destination.spec.kube_service else {
            continue;
        };
        let r = &service.service_ref;
        if r.name.is_empty() || r.namespace.is_empty() || r.cluster_name.is_empty() {
            let missing = messages::service_ref_empty_fields(r);
            report.error(
                destination.item,
                "spec.kubeService.ref",
                format!(
                    "the Destination's Service reference has no {}: name, namespace and clusterName must all be set",
                    missing.join(", ")
                ),
            );
        } else if let Some(other) = services.insert(r, dest_ref) {
            report.error(
                destination.item,
                "spec.kubeService.ref",
                format!(
                    "Service {} already has Destination {other}; a Service may have one Destination: remove one of the two",
                    messages::service(r)
                ),
            );
        }
        match &destination.spec.mesh {
            None => report.warning(
                destination.item,
                "spec.mesh",
                "the Destination names no mesh, so it takes part in no VirtualMesh",
            ),
            Some(mesh) => {
                if let Some(message) = messages::mesh_ref_incomplete(mesh, inputs.meshes.keys()) {
                    report.error(destination.item, "spec.mesh", message);
                }
                // A Mesh not in the input is reported once, by report_missing_meshes.
            }
        }
        for (i, subset) in service.endpoint_subsets.iter().enumerate() {
            for (j, port) in subset.ports.iter().enumerate() {
                if !(1..=65535).contains(&port.port) {
                    report.error(
                        destination.item,
                        &format!("spec.kubeService.endpointSubsets[{i}].ports[{j}].port"),
                        format!("port {} is out of range 1-65535", port.port),
                    );
                }
            }
        }
        let mut names = HashSet::new();
        let mut numbers = HashSet::new();
        for (i, port) in service.ports.iter().enumerate() {
            let field = format!("spec.kubeService.ports[{i}]");
            if port.port == 0 || port.port > 65535 {
                report.error(
                    destination.item,
                    &format!("{field}.port"),
                    format!("port {} is out of range 1-65535", port.port),
                );
            }
            for (name, value) in [
                ("targetPortNumber", port.target_port_number),
                ("nodePort", port.node_port),
            ] {
                if value > 65535 {
                    report.error(
                        destination.item,
                        &format!("{field}.{name}"),
                        format!("{name} {value} is out of range 1-65535"),
                    );
                }
            }
            let name = federation::port_name(port);
            if !is_dns_label(&name) {
                report.error(
                    destination.item,
                    &format!("{field}.name"),
                    format!("port name {name:?} is not a DNS-1123 label, which Istio requires"),
                );
            }
            if !names.insert(name.clone()) {
                report.error(
                    destination.item,
                    &format!("{field}.name"),
                    format!("duplicate port name {name:?}"),
                );
            }
            // Kubernetes allows one number with two protocols (53/TCP and 53/UDP); only
            // the same number and protocol twice is malformed.
            let protocol = if port.protocol.is_empty() {
                "TCP".to_string()
            } else {
                port.protocol.to_ascii_uppercase()
            };
            if !numbers.insert((port.port, protocol.clone())) {
                report.error(
                    destination.item,
                    &format!("{field}.port"),
                    format!("duplicate port {}/{protocol}", port.port),
                );
            }
        }
    }
}

/// Checks the VirtualMesh fields Gloo Mesh leaves unchecked but Istio rejects later.
fn check_federation_fields(inputs: &Inputs, vm: &Resource<VirtualMeshSpec>, report: &mut Report) {
    let Some(federation) = &vm.spec.federation else {
        return;
    };
    if federation.permissive.is_some() {
        let message = if federation.selectors.is_empty() {
            "`permissive` is deprecated: it federates every Destination to every mesh, as `selectors: [{}]` does"
        } else {
            "`permissive` is ignored because `selectors` are set (Gloo Mesh honours the deprecated field only without selectors)"
        };
        report.warning(vm.item, "spec.federation.permissive", message);
    }
    if federation.flat_network {
        report.warning(
            vm.item,
            "spec.federation.flatNetwork",
            "flatNetwork has no effect (a Gloo Mesh Enterprise feature): traffic between clusters goes through the east-west gateways",
        );
    }
    let suffix = &federation.hostname_suffix;
    if !suffix.is_empty() && !is_dns_subdomain(suffix) {
        report.error(
            vm.item,
            "spec.federation.hostnameSuffix",
            format!("hostname suffix {suffix:?} is not a valid DNS name (lowercase labels separated by dots)"),
        );
    }
    if let Some(k) = &federation.tcp_keepalive {
        for (field, value) in [("time", &k.time), ("interval", &k.interval)] {
            let Some(text) = value else { continue };
            let problem = match parse_duration(text) {
                Err(message) => Some(message),
                Ok(n) if n < 1_000_000 => Some(format!(
                    "duration {text:?} is shorter than 1ms, which Istio rejects"
                )),
                Ok(n) if n % 1_000_000 != 0 => Some(format!(
                    "duration {text:?} is not a whole number of milliseconds, which Istio rejects"
                )),
                Ok(_) => None,
            };
            if let Some(message) = problem {
                report.error(
                    vm.item,
                    &format!("spec.federation.tcpKeepalive.{field}"),
                    message,
                );
            }
        }
    }
    for (i, selector) in federation.selectors.iter().enumerate() {
        for (j, mesh) in selector.meshes.iter().enumerate() {
            if !vm.spec.meshes.contains(mesh) {
                report.error(
                    vm.item,
                    &format!("spec.federation.selectors[{i}].meshes[{j}]"),
                    messages::Message::new(
                        format!(
                            "Mesh {mesh} is not one of this VirtualMesh's spec.meshes ({}); a federation selector can only name the VirtualMesh's own meshes: add it to spec.meshes or name one of them",
                            messages::listed(&vm.spec.meshes.iter().map(ToString::to_string).collect::<Vec<_>>())
                        ),
                        format!("Mesh {} is not one of this VirtualMesh's meshes; all referenced Meshes must exist in this VirtualMesh", mesh.key()),
                    ),
                );
            }
        }
    }
    let known: HashSet<ClusterObjectRef> = inputs
        .destinations
        .values()
        .filter_map(|d| d.spec.kube_service.as_ref().map(|k| k.service_ref.clone()))
        .collect();
    for (i, selector) in federation
        .east_west_ingress_gateway_selectors
        .iter()
        .enumerate()
    {
        let prefix =
            format!("spec.federation.eastWestIngressGatewaySelectors[{i}].destinationSelectors");
        for (field, message) in
            selectors::check_service_refs(&selector.destination_selectors, &prefix, &known)
        {
            report.error(vm.item, &field, message);
        }
    }
}
