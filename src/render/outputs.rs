//! The outputs of a plan: what to render, for which cluster, from which template and
//! context. One function per output kind builds its context; the context is the documented
//! template interface (docs/templates.md).

use crate::certs::{CaCerts, Certificates, RootSecret};
use crate::model::common::ObjectRef;
use crate::model::common::ProtoEnum;
use crate::model::networking::TlsMode;
use crate::plan::federation::{EndpointEntry, Federation, LocalEntry, ServicePort};
use crate::plan::gateways::Gateway;
use crate::plan::names::sanitize_name;
use crate::plan::{DestinationPlan, MeshPlan, Plan};
use base64::Engine as _;
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Output kinds, each with its template and Kubernetes kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OutputKind {
    Gateway,
    ServiceEntryRemote,
    ServiceEntryLocal,
    DestinationRuleRemote,
    DestinationRuleFederatedLocal,
    DestinationRuleLocal,
    AuthorizationPolicyGlobal,
    AuthorizationPolicyGateway,
    AuthorizationPolicyDestination,
    SecretCaCerts,
    SecretRootCa,
    IstioSettings,
}

impl OutputKind {
    pub fn template(self) -> &'static str {
        match self {
            OutputKind::Gateway => "gateway.json",
            OutputKind::ServiceEntryRemote => "service-entry-remote.json",
            OutputKind::ServiceEntryLocal => "service-entry-local.json",
            OutputKind::DestinationRuleRemote => "destination-rule-remote.json",
            OutputKind::DestinationRuleFederatedLocal => "destination-rule-federated-local.json",
            OutputKind::DestinationRuleLocal => "destination-rule-local.json",
            OutputKind::AuthorizationPolicyGlobal => "authorization-policy-global.json",
            OutputKind::AuthorizationPolicyGateway => "authorization-policy-gateway.json",
            OutputKind::AuthorizationPolicyDestination => "authorization-policy-destination.json",
            OutputKind::SecretCaCerts => "secret-cacerts.json",
            OutputKind::SecretRootCa => "secret-root-ca.json",
            OutputKind::IstioSettings => "istio-settings.json",
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            OutputKind::Gateway => "Gateway",
            OutputKind::ServiceEntryRemote | OutputKind::ServiceEntryLocal => "ServiceEntry",
            OutputKind::DestinationRuleRemote
            | OutputKind::DestinationRuleFederatedLocal
            | OutputKind::DestinationRuleLocal => "DestinationRule",
            OutputKind::AuthorizationPolicyGlobal
            | OutputKind::AuthorizationPolicyGateway
            | OutputKind::AuthorizationPolicyDestination => "AuthorizationPolicy",
            OutputKind::SecretCaCerts | OutputKind::SecretRootCa => "Secret",
            OutputKind::IstioSettings => "ConfigMap",
        }
    }

    /// The apiVersion of the output, given the Istio (networking, security) apiVersions.
    pub fn api_version<'a>(self, istio: (&'a str, &'a str)) -> &'a str {
        match self.kind() {
            "AuthorizationPolicy" => istio.1,
            "Secret" | "ConfigMap" => "v1",
            _ => istio.0,
        }
    }
}

/// What an output is made from.
#[derive(Debug, Clone, Copy)]
pub enum Source<'p> {
    Gateway(&'p MeshPlan, &'p Gateway),
    RemoteServiceEntry(&'p Federation),
    LocalServiceEntry(&'p Federation),
    /// A federated Destination's DestinationRule in a client cluster; `true` when the client
    /// cluster is the serving cluster (two meshes in one cluster).
    RemoteDestinationRule(&'p Federation, bool),
    FederatedLocalDestinationRule(&'p Federation),
    LocalDestinationRule(&'p DestinationPlan),
    GlobalAccess(&'p MeshPlan),
    AllowGateway(&'p BTreeMap<String, String>),
    DestinationAccess(&'p DestinationPlan),
    CaCerts(&'p CaCerts),
    RootCa(&'p RootSecret),
    IstioSettings(&'p MeshPlan),
}

/// One object to render.
#[derive(Debug, Clone)]
pub struct Output<'p> {
    pub kind: OutputKind,
    /// The workload cluster; empty for management items (never applied to a cluster).
    pub cluster: &'p str,
    pub namespace: String,
    pub name: String,
    pub virtual_mesh: Option<&'p ObjectRef>,
    pub destination: Option<&'p ObjectRef>,
    pub source: Source<'p>,
}

impl Output<'_> {
    /// Order inside a cluster: namespace, kind, name (and so by output file).
    pub fn sort_key(&self) -> (&str, &str, &str) {
        (&self.namespace, self.kind.kind(), &self.name)
    }
}

/// Every output of the plan for `cluster` (all clusters when `None`).
pub fn outputs<'p>(
    plan: &'p Plan,
    certificates: &'p Certificates,
    cluster: Option<&str>,
) -> Vec<Output<'p>> {
    let wanted = |c: &str| cluster.is_none_or(|w| w == c);
    let mut out = Vec::new();
    certificate_outputs(certificates, &wanted, &mut out);
    for mesh in plan.meshes.values() {
        if wanted(&mesh.cluster) {
            mesh_outputs(plan, mesh, &mut out);
        }
    }
    for federation in &plan.federations {
        federation_outputs(plan, federation, &wanted, &mut out);
    }
    for destination in &plan.destinations {
        if wanted(&destination.service.cluster_name) {
            destination_outputs(plan, destination, &mut out);
        }
    }
    out
}

fn certificate_outputs<'p>(
    certificates: &'p Certificates,
    wanted: &dyn Fn(&str) -> bool,
    out: &mut Vec<Output<'p>>,
) {
    for root in &certificates.roots {
        out.push(Output {
            kind: OutputKind::SecretRootCa,
            cluster: "",
            namespace: root.namespace.clone(),
            name: root.name.clone(),
            virtual_mesh: Some(&root.virtual_mesh),
            destination: None,
            source: Source::RootCa(root),
        });
    }
    for cacerts in certificates.cacerts.iter().filter(|c| wanted(&c.cluster)) {
        out.push(Output {
            kind: OutputKind::SecretCaCerts,
            cluster: &cacerts.cluster,
            namespace: cacerts.namespace.clone(),
            name: crate::certs::CACERTS.to_string(),
            virtual_mesh: Some(&cacerts.virtual_mesh),
            destination: None,
            source: Source::CaCerts(cacerts),
        });
    }
}

fn mesh_outputs<'p>(plan: &'p Plan, mesh: &'p MeshPlan, out: &mut Vec<Output<'p>>) {
    let base = |kind, namespace: &str, name: String, source| Output {
        kind,
        cluster: &mesh.cluster,
        namespace: namespace.to_string(),
        name,
        virtual_mesh: Some(&mesh.virtual_mesh),
        destination: None,
        source,
    };
    if mesh.multi_mesh {
        // Settings for the cluster's Istio installation are a management item (no workload
        // cluster): never in a stream, an Argo CD application or a kustomize build.
        out.push(Output {
            cluster: "",
            ..base(
                OutputKind::IstioSettings,
                &mesh.mesh.namespace,
                crate::plan::istio_settings_name(&mesh.mesh),
                Source::IstioSettings(mesh),
            )
        });
        // A mesh that serves no federated host needs no east-west Gateway.
        let serves = plan
            .federations
            .iter()
            .any(|f| f.source_mesh == mesh.mesh && !f.targets.is_empty());
        for gateway in mesh
            .gateways
            .iter()
            .filter(|g| g.container_port != 0 && serves)
        {
            let name = sanitize_name(&format!(
                "{}-{}",
                gateway.destination.name, gateway.destination.namespace
            ));
            // In the gateway's own namespace: with PILOT_SCOPE_GATEWAY_TO_NAMESPACE istiod
            // reads only the Gateways of the gateway pods' namespace.
            out.push(base(
                OutputKind::Gateway,
                &gateway.service.namespace,
                name,
                Source::Gateway(mesh, gateway),
            ));
        }
    }
    if !mesh.global_access {
        return;
    }
    out.push(base(
        OutputKind::AuthorizationPolicyGlobal,
        &mesh.namespace,
        "global-access-control".to_string(),
        Source::GlobalAccess(mesh),
    ));
    let mut allowed: Vec<(&str, &BTreeMap<String, String>)> = Vec::new();
    for info in &mesh.ingress_gateways {
        let address = info.address();
        let suffix = if address.is_empty() {
            &info.name
        } else {
            address
        };
        let name = format!("allow-ingress-gateway-{}", sanitize_name(suffix));
        allowed.push((&mesh.namespace, &info.workload_labels));
        out.push(base(
            OutputKind::AuthorizationPolicyGateway,
            &mesh.namespace,
            name,
            Source::AllowGateway(&info.workload_labels),
        ));
    }
    for gateway in &mesh.gateways {
        let namespace = gateway.service.namespace.as_str();
        if allowed.contains(&(namespace, &gateway.workload_labels)) {
            continue;
        }
        allowed.push((namespace, &gateway.workload_labels));
        let name = sanitize_name(&format!("allow-east-west-gateway-{}", gateway.service.name));
        out.push(base(
            OutputKind::AuthorizationPolicyGateway,
            namespace,
            name,
            Source::AllowGateway(&gateway.workload_labels),
        ));
    }
}

fn federation_outputs<'p>(
    plan: &'p Plan,
    federation: &'p Federation,
    wanted: &dyn Fn(&str) -> bool,
    out: &mut Vec<Output<'p>>,
) {
    let Some(source_mesh) = plan.meshes.get(&federation.source_mesh) else {
        return;
    };
    for target in federation.targets.iter() {
        let cluster = target.cluster.as_str();
        if !wanted(cluster) {
            continue;
        }
        let namespace = target.namespace.clone();
        let same_cluster = cluster == federation.service.cluster_name;
        out.push(Output {
            kind: OutputKind::ServiceEntryRemote,
            cluster,
            namespace: namespace.clone(),
            name: federation.hostname.clone(),
            virtual_mesh: Some(&federation.virtual_mesh),
            destination: Some(&federation.destination),
            source: Source::RemoteServiceEntry(federation),
        });
        // A mesh in the serving cluster itself gets Gloo Mesh's rule for the cluster-local
        // host, which is a local rule like any other (see `Plan::renders_local_rules`).
        if same_cluster && !plan.renders_local_rules() {
            continue;
        }
        out.push(Output {
            kind: OutputKind::DestinationRuleRemote,
            cluster,
            namespace,
            name: federation.remote_rule_name.clone(),
            virtual_mesh: Some(&federation.virtual_mesh),
            destination: Some(&federation.destination),
            source: Source::RemoteDestinationRule(federation, same_cluster),
        });
    }
    if !wanted(&source_mesh.cluster) {
        return;
    }
    let local_namespace = match &federation.local {
        LocalEntry::Selector { namespace, .. } => namespace.clone(),
        LocalEntry::Pods { .. } => source_mesh.namespace.clone(),
    };
    out.push(Output {
        kind: OutputKind::ServiceEntryLocal,
        cluster: &source_mesh.cluster,
        namespace: local_namespace,
        name: federation.hostname.clone(),
        virtual_mesh: Some(&federation.virtual_mesh),
        destination: Some(&federation.destination),
        source: Source::LocalServiceEntry(federation),
    });
    if !federation.targets.is_empty() {
        out.push(Output {
            kind: OutputKind::DestinationRuleFederatedLocal,
            cluster: &source_mesh.cluster,
            namespace: source_mesh.namespace.clone(),
            name: federation.hostname.clone(),
            virtual_mesh: Some(&federation.virtual_mesh),
            destination: Some(&federation.destination),
            source: Source::FederatedLocalDestinationRule(federation),
        });
    }
}

fn destination_outputs<'p>(
    plan: &Plan,
    destination: &'p DestinationPlan,
    out: &mut Vec<Output<'p>>,
) {
    let base = |kind, source| Output {
        kind,
        cluster: &destination.service.cluster_name,
        namespace: destination.service.namespace.clone(),
        name: destination.service.name.clone(),
        virtual_mesh: None,
        destination: Some(&destination.destination),
        source,
    };
    if plan.renders_local_rules() {
        out.push(base(
            OutputKind::DestinationRuleLocal,
            Source::LocalDestinationRule(destination),
        ));
    }
    if !destination.rules.is_empty() {
        out.push(base(
            OutputKind::AuthorizationPolicyDestination,
            Source::DestinationAccess(destination),
        ));
    }
}

/// Labels and annotations vmesh puts on (and enforces in) every generated object.
pub fn metadata(output: &Output) -> Map<String, Value> {
    let mut labels = Map::new();
    labels.insert(
        crate::index::MANAGED_BY_LABEL.to_string(),
        json!(crate::index::MANAGED_BY_VALUE),
    );
    labels.insert(
        "owner.networking.mesh.gloo.solo.io".into(),
        json!("gloo-mesh"),
    );
    let mut annotations = Map::new();
    if let OutputKind::DestinationRuleRemote = output.kind
        && let Source::RemoteDestinationRule(federation, _) = output.source
    {
        annotations.insert(
            "federation.networking.mesh.gloo.solo.io".into(),
            json!(federation.service.key()),
        );
    }
    let parent = match (output.virtual_mesh, output.destination) {
        (Some(vm), _) => Some(("networking.mesh.gloo.solo.io/v1, Kind=VirtualMesh", vm)),
        (None, Some(d)) => Some(("discovery.mesh.gloo.solo.io/v1, Kind=Destination", d)),
        (None, None) => None,
    };
    if let Some((gvk, parent)) = parent {
        annotations.insert(
            "parents.networking.mesh.gloo.solo.io".into(),
            Value::String(parents_annotation(gvk, parent)),
        );
    }
    if output.cluster.is_empty() {
        annotations.insert(crate::krm::LOCAL_CONFIG_ANNOTATION.into(), json!("true"));
    } else {
        annotations.insert(CLUSTER_ANNOTATION.into(), json!(output.cluster));
    }
    if let Source::IstioSettings(mesh) = output.source {
        annotations.insert(
            super::settings::SETTINGS_ANNOTATION.into(),
            json!(super::settings::SETTINGS_FORMAT),
        );
        annotations.insert(
            super::settings::SETTINGS_CLUSTER_ANNOTATION.into(),
            json!(mesh.cluster),
        );
    }
    match output.source {
        Source::CaCerts(c) => {
            annotations.insert(
                crate::certs::FINGERPRINT_ANNOTATION.into(),
                json!(c.fingerprint),
            );
            annotations.insert(crate::certs::OPTIONS_ANNOTATION.into(), json!(c.options));
            annotations.insert(crate::certs::ROTATION_ANNOTATION.into(), json!(c.rotation));
        }
        Source::RootCa(r) => {
            annotations.insert(crate::certs::OPTIONS_ANNOTATION.into(), json!(r.options));
        }
        _ => {}
    }
    if let Some(d) = output.destination {
        annotations.insert(
            DESTINATION_ANNOTATION.into(),
            json!(format!("{}/{}", d.namespace, d.name)),
        );
    }
    if let Some(vm) = output.virtual_mesh {
        annotations.insert(
            VIRTUAL_MESH_ANNOTATION.into(),
            json!(format!("{}/{}", vm.namespace, vm.name)),
        );
    }
    let mut meta = Map::new();
    meta.insert("name".into(), json!(output.name));
    meta.insert("namespace".into(), json!(output.namespace));
    meta.insert("labels".into(), Value::Object(labels));
    meta.insert("annotations".into(), Value::Object(annotations));
    meta
}

/// Gloo Mesh's parents annotation: `{"<GVK>":[{"name":"…","namespace":"…"}]}` (the same
/// JSON serde_json writes, without building a value for it).
fn parents_annotation(gvk: &str, parent: &ObjectRef) -> String {
    let quoted = |s: &str| serde_json::to_string(s).expect("strings serialize");
    format!(
        "{{{}:[{{\"name\":{},\"namespace\":{}}}]}}",
        quoted(gvk),
        quoted(&parent.name),
        quoted(&parent.namespace)
    )
}

/// The workload cluster an object must be applied to (D4).
pub const CLUSTER_ANNOTATION: &str = "vmesh.dev/cluster";
/// The VirtualMesh an object was rendered for.
pub const VIRTUAL_MESH_ANNOTATION: &str = "vmesh.dev/virtual-mesh";
/// The Destination an object was rendered for.
pub const DESTINATION_ANNOTATION: &str = "vmesh.dev/destination";

/// The template context of an output (without `metadata`, added by the caller): the
/// [`common_context`] plus the [`source_context`].
pub fn context(output: &Output, plan: &Plan, api_versions: (&str, &str)) -> Value {
    let mut ctx = serde_json::to_value(source_context(output, plan)).expect("contexts serialize");
    let map = ctx.as_object_mut().expect("contexts are objects");
    let common =
        serde_json::to_value(common_context(output, api_versions)).expect("contexts serialize");
    if let Value::Object(common) = common {
        map.extend(common);
    }
    ctx
}

/// The keys every template gets: `apiVersion`, `cluster`, `virtualMesh`, `destination`,
/// and `metadata` (set by the renderer).
#[derive(Serialize)]
pub struct CommonContext<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'a str,
    cluster: &'a str,
    #[serde(rename = "virtualMesh")]
    virtual_mesh: Option<RefContext<'a>>,
    destination: Option<RefContext<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<&'a Map<String, Value>>,
}

#[derive(Serialize)]
struct RefContext<'a> {
    name: &'a str,
    namespace: &'a str,
}

impl<'a> RefContext<'a> {
    fn new(r: &'a ObjectRef) -> Self {
        RefContext {
            name: &r.name,
            namespace: &r.namespace,
        }
    }
}

pub fn common_context<'a>(
    output: &'a Output,
    api_versions: (&'a str, &'a str),
) -> CommonContext<'a> {
    CommonContext {
        api_version: output.kind.api_version(api_versions),
        cluster: output.cluster,
        virtual_mesh: output.virtual_mesh.map(RefContext::new),
        destination: output.destination.map(RefContext::new),
        metadata: None,
    }
}

/// The keys of one output kind, from what the output is made of. For a federated
/// Destination they are the same in every client cluster, so the renderer computes them once.
pub fn source_context<'p>(output: &Output<'p>, plan: &'p Plan) -> SourceContext<'p> {
    let json = match output.source {
        Source::RemoteServiceEntry(f) => {
            return SourceContext::RemoteServiceEntry(RemoteServiceEntryContext {
                hostname: &f.hostname,
                addresses: [f.vip.to_string()],
                ports: ports(&f.ports, false),
                resolution: f.remote_resolution.as_str(),
                endpoints: endpoints(&f.remote_endpoints),
                subject_alt_names: &f.subject_alt_names,
                service: ServiceContext::new(f),
            });
        }
        Source::RemoteDestinationRule(f, same_cluster) => {
            let host = if same_cluster {
                plan.local_fqdn(&f.destination).unwrap_or(&f.hostname)
            } else {
                &f.hostname
            };
            let keepalive = if same_cluster { None } else { keepalive(f) };
            return SourceContext::DestinationRule(DestinationRuleContext::new(
                host, plan, keepalive, f,
            ));
        }
        Source::FederatedLocalDestinationRule(f) => {
            return SourceContext::DestinationRule(DestinationRuleContext::new(
                &f.hostname,
                plan,
                keepalive(f),
                f,
            ));
        }
        Source::Gateway(mesh, gateway) => json!({
            "hosts": served_hosts(plan, mesh),
            "gateway": gateway_context(gateway),
            "mesh": {"name": mesh.mesh.name, "namespace": mesh.mesh.namespace},
        }),
        Source::LocalServiceEntry(f) => local_service_entry(f),
        Source::LocalDestinationRule(d) => json!({
            "host": d.local_fqdn,
            "tlsMode": plan.tls_mode.as_str(),
        }),
        Source::GlobalAccess(_) => json!({}),
        Source::AllowGateway(labels) => json!({ "workloadLabels": labels }),
        Source::DestinationAccess(d) => json!({
            "workloadLabels": d.workload_labels,
            "rules": rules(&d.rules),
        }),
        Source::CaCerts(c) => json!({
            "data": c.data(),
            "fingerprint": c.fingerprint,
            "rotation": c.rotation,
            "mesh": {"name": c.mesh.name, "namespace": c.mesh.namespace},
        }),
        Source::RootCa(r) => {
            let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
            json!({ "data": {"key.pem": b64(&r.key_pem), "root-cert.pem": b64(&r.cert_pem)} })
        }
        Source::IstioSettings(mesh) => json!({
            "values": super::settings::helm_values(mesh),
            "trustDomain": mesh.trust_domain,
            "peerTrustDomains": mesh.peer_trust_domains,
            "mesh": {"name": mesh.mesh.name, "namespace": mesh.mesh.namespace},
        }),
    };
    SourceContext::Json(json)
}

/// A kind-specific template context. The contexts that repeat in every client cluster of
/// a federated Destination (most of a large render) are typed, so that they serialize
/// straight into the template engine's values; the others are built as JSON.
#[derive(Serialize)]
#[serde(untagged)]
pub enum SourceContext<'p> {
    RemoteServiceEntry(RemoteServiceEntryContext<'p>),
    /// A federated Destination's rule, in a client cluster or its own.
    DestinationRule(DestinationRuleContext<'p>),
    Json(Value),
}

#[derive(Serialize)]
pub struct RemoteServiceEntryContext<'p> {
    hostname: &'p str,
    addresses: [String; 1],
    ports: Vec<PortContext<'p>>,
    resolution: &'static str,
    endpoints: Vec<EndpointContext<'p>>,
    #[serde(rename = "subjectAltNames")]
    subject_alt_names: &'p [String],
    service: ServiceContext<'p>,
}

#[derive(Serialize)]
pub struct DestinationRuleContext<'p> {
    host: &'p str,
    #[serde(rename = "tlsMode")]
    tls_mode: &'static str,
    #[serde(rename = "tcpKeepalive")]
    tcp_keepalive: Option<KeepaliveContext<'p>>,
    service: ServiceContext<'p>,
}

impl<'p> DestinationRuleContext<'p> {
    fn new(
        host: &'p str,
        plan: &Plan,
        tcp_keepalive: Option<KeepaliveContext<'p>>,
        f: &'p Federation,
    ) -> Self {
        DestinationRuleContext {
            host,
            tls_mode: federated_tls_mode(plan, host, f),
            tcp_keepalive,
            service: ServiceContext::new(f),
        }
    }
}

/// A federated host's rule is ISTIO_MUTUAL whatever the local TLS mode: the east-west
/// gateway's AUTO_PASSTHROUGH chains match Istio's SNI and ALPN, which only ISTIO_MUTUAL sends
/// (SIMPLE, MUTUAL and DISABLE send none, `cluster_tls.go`). The serving cluster's rule for
/// the local hostname (two meshes in one cluster) keeps the configured mode.
fn federated_tls_mode(plan: &Plan, host: &str, f: &Federation) -> &'static str {
    if host == f.hostname {
        TlsMode::IstioMutual.as_str()
    } else {
        plan.tls_mode.as_str()
    }
}

#[derive(Serialize)]
struct ServiceContext<'p> {
    name: &'p str,
    namespace: &'p str,
    #[serde(rename = "clusterName")]
    cluster_name: &'p str,
}

impl<'p> ServiceContext<'p> {
    fn new(f: &'p Federation) -> Self {
        ServiceContext {
            name: &f.service.name,
            namespace: &f.service.namespace,
            cluster_name: &f.service.cluster_name,
        }
    }
}

/// A ServiceEntry endpoint: `ports` maps port names to numbers, in the ports' order.
#[derive(Serialize)]
struct EndpointContext<'p> {
    address: &'p str,
    ports: PortMap<'p>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: &'p BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    locality: Option<&'p str>,
}

impl<'p> EndpointContext<'p> {
    fn new(e: &'p EndpointEntry) -> Self {
        EndpointContext {
            address: &e.address,
            ports: PortMap(&e.ports),
            labels: &e.labels,
            locality: e.locality.as_deref(),
        }
    }
}

struct PortMap<'p>(&'p [(String, u32)]);

impl Serialize for PortMap<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(name, port)| (name, port)))
    }
}

/// The federated hosts a mesh serves, sorted: its east-west gateways pass through these
/// only. A wildcard (`*.global`) would also relay SNI for hosts other clusters serve (their
/// remote ServiceEntries are visible to the gateway), making every gateway an open relay
/// into the other clusters.
fn served_hosts<'p>(plan: &'p Plan, mesh: &MeshPlan) -> Vec<&'p str> {
    let mut hosts: Vec<&str> = plan
        .federations
        .iter()
        .filter(|f| f.source_mesh == mesh.mesh && !f.targets.is_empty())
        .map(|f| f.hostname.as_str())
        .collect();
    hosts.sort_unstable();
    hosts.dedup();
    hosts
}

fn gateway_context(g: &Gateway) -> Value {
    json!({
        "destination": {"name": g.destination.name, "namespace": g.destination.namespace},
        "service": {"name": g.service.name, "namespace": g.service.namespace, "clusterName": g.service.cluster_name},
        "workloadLabels": g.workload_labels,
        "addresses": g.addresses,
        "destinationPort": g.destination_port,
        "containerPort": g.container_port,
        "servicePort": g.service_port,
    })
}

fn local_service_entry(f: &Federation) -> Value {
    match &f.local {
        LocalEntry::Selector {
            labels, export_to, ..
        } => json!({
            "hostname": f.hostname,
            "ports": ports(&f.ports, true),
            "resolution": "STATIC",
            // The federated VIP: without an address, every sidecar that sees this entry
            // would send all traffic of a TCP port to it (a 0.0.0.0:<port> listener) when
            // Istio's address auto-allocation is off.
            "addresses": [f.vip.to_string()],
            "workloadSelector": {"labels": labels},
            "endpoints": Value::Null,
            "exportTo": export_to,
            "service": ServiceContext::new(f),
        }),
        LocalEntry::Pods {
            endpoints: eps,
            resolution,
            export_to,
        } => json!({
            "hostname": f.hostname,
            "ports": ports(&f.ports, false),
            "resolution": resolution.as_str(),
            // The VIP of the remote ServiceEntries: Istio warns about TCP ports without
            // addresses (Gloo Mesh wrote none here).
            "addresses": [f.vip.to_string()],
            "workloadSelector": Value::Null,
            "endpoints": endpoints(eps),
            "exportTo": export_to,
            "service": ServiceContext::new(f),
        }),
    }
}

#[derive(Serialize)]
struct PortContext<'a> {
    number: u32,
    name: &'a str,
    protocol: &'a str,
    #[serde(rename = "targetPort", skip_serializing_if = "Option::is_none")]
    target_port: Option<u32>,
}

fn ports(ports: &[ServicePort], with_target: bool) -> Vec<PortContext<'_>> {
    ports
        .iter()
        .map(|p| PortContext {
            number: p.number,
            name: &p.name,
            protocol: &p.protocol,
            target_port: if with_target { p.target_port } else { None },
        })
        .collect()
}

fn endpoints(entries: &[EndpointEntry]) -> Vec<EndpointContext<'_>> {
    entries.iter().map(EndpointContext::new).collect()
}

/// AccessPolicy rules in Istio's shape: `from: [{source}]`, `to: [{operation}]`; a rule
/// with neither is `{}` (it matches every request).
fn rules(rules: &[std::sync::Arc<crate::plan::access::Rule>]) -> Value {
    Value::Array(
        rules
            .iter()
            .map(|rule| {
                let mut m = Map::new();
                if let Some(from) = &rule.from {
                    let sources: Vec<Value> = from.iter().map(|s| json!({ "source": s })).collect();
                    m.insert("from".into(), Value::Array(sources));
                }
                if let Some(to) = &rule.to {
                    m.insert("to".into(), json!([{ "operation": to }]));
                }
                Value::Object(m)
            })
            .collect(),
    )
}

#[derive(Serialize)]
pub struct KeepaliveContext<'p> {
    #[serde(skip_serializing_if = "is_zero")]
    probes: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    time: Option<&'p str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    interval: Option<&'p str>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The Destination's TCP keepalive, `None` when it sets nothing.
fn keepalive(f: &Federation) -> Option<KeepaliveContext<'_>> {
    let k = f.keepalive.as_ref()?;
    let context = KeepaliveContext {
        probes: k.probes,
        time: k.time.as_deref(),
        interval: k.interval.as_deref(),
    };
    let empty = context.probes == 0 && context.time.is_none() && context.interval.is_none();
    (!empty).then_some(context)
}
