//! Multi-cluster topologies described by a few numbers and names, turned into ResourceList
//! inputs. Shared by the property tests (`tests/properties.rs`, where proptest draws valid
//! topologies) and the pipeline fuzz target (`fuzz/fuzz_targets/pipeline.rs`, which draws
//! any topology and then damages it), so both reach translation rather than the parser.
//!
//! Cluster `i` has one Istio Mesh `mesh-<i>` in `gloo-mesh`, installed in `istio-system` of
//! `cluster-<i>` with trust domain `cluster-<i>.local`.

use serde_json::{Map, Value, json};

#[derive(Debug, Clone)]
pub struct Topology {
    pub clusters: Vec<Cluster>,
    pub virtual_meshes: Vec<VirtualMesh>,
    pub access_policies: Vec<AccessPolicy>,
    /// Unrelated ConfigMaps that must pass through untouched.
    pub pass_through: usize,
}

#[derive(Debug, Clone)]
pub struct Cluster {
    pub gateway: Option<Gateway>,
    pub services: Vec<Service>,
}

/// The cluster's east-west gateway Destination (`istio: ingressgateway`, port `tls`).
#[derive(Debug, Clone)]
pub struct Gateway {
    pub port: u16,
    pub node_port: Option<u16>,
    pub address: Address,
}

#[derive(Debug, Clone)]
pub enum Address {
    Ip([u8; 4]),
    Dns(String),
}

#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub namespace: String,
    pub ports: Vec<Port>,
    /// Pod labels (`app: <name>`): without them the Service is not federated in stable mode.
    pub selector_labels: bool,
    /// Endpoint versions (`version: v<n>` label sets), 0 for none.
    pub versions: u8,
}

#[derive(Debug, Clone)]
pub struct Port {
    pub number: u16,
    pub name: String,
    pub protocol: &'static str,
}

#[derive(Debug, Clone)]
pub struct VirtualMesh {
    pub name: String,
    /// Cluster indexes whose Mesh the VirtualMesh groups.
    pub meshes: Vec<usize>,
    pub federation: Federation,
    pub global_access: bool,
    pub hostname_suffix: Option<String>,
    /// Seconds after 2024-01-01 of `creationTimestamp`, when set.
    pub created: Option<u32>,
}

#[derive(Debug, Clone)]
pub enum Federation {
    None,
    /// `selectors: [{}]`: every Destination to every mesh.
    All,
    Permissive,
    /// Destinations of these namespaces only.
    Namespaces(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct AccessPolicy {
    pub name: String,
    /// Source namespaces; empty means any source.
    pub source_namespaces: Vec<String>,
    /// The `app` label of the Destinations it applies to.
    pub app: String,
    pub methods: Vec<String>,
}

pub fn mesh_name(cluster: usize) -> String {
    format!("mesh-{cluster}")
}

pub fn cluster_name(cluster: usize) -> String {
    format!("cluster-{cluster}")
}

impl Topology {
    /// The input items, in a fixed order (meshes, destinations, VirtualMeshes, policies,
    /// pass-through).
    pub fn items(&self) -> Vec<Value> {
        let mut items = Vec::new();
        for (i, cluster) in self.clusters.iter().enumerate() {
            items.push(mesh(i));
            if let Some(gateway) = &cluster.gateway {
                items.push(gateway_destination(i, gateway));
            }
            for service in &cluster.services {
                items.push(service_destination(i, service));
            }
        }
        for vm in &self.virtual_meshes {
            items.push(virtual_mesh(vm));
        }
        for policy in &self.access_policies {
            items.push(access_policy(policy));
        }
        for n in 0..self.pass_through {
            items.push(json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": format!("unrelated-{n}"), "namespace": "apps"},
                "data": {"flag": "on", "mode": "0777", "n": n.to_string()},
            }));
        }
        items
    }
}

/// A ResourceList document holding `items`, as block YAML.
pub fn resource_list(items: &[Value]) -> String {
    let list = json!({
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": items,
    });
    let mut out = String::new();
    vmesh::yaml::emit_document(&mut out, &list);
    out
}

fn meta(name: &str) -> Value {
    json!({"name": name, "namespace": "gloo-mesh"})
}

fn mesh(i: usize) -> Value {
    json!({
        "apiVersion": "discovery.mesh.gloo.solo.io/v1",
        "kind": "Mesh",
        "metadata": meta(&mesh_name(i)),
        "spec": {"istio": {
            "installation": {"namespace": "istio-system", "cluster": cluster_name(i)},
            "trustDomain": format!("{}.local", cluster_name(i)),
            "istiodServiceAccount": "istiod",
        }},
    })
}

fn gateway_destination(i: usize, gateway: &Gateway) -> Value {
    let mut port =
        json!({"port": gateway.port, "name": "tls", "protocol": "TCP", "targetPortNumber": 15443});
    let service_type = match gateway.node_port {
        Some(node_port) => {
            port["nodePort"] = json!(node_port);
            "NODE_PORT"
        }
        None => "LOAD_BALANCER",
    };
    let address = match &gateway.address {
        Address::Ip([a, b, c, d]) => json!({"ip": format!("{a}.{b}.{c}.{d}")}),
        Address::Dns(name) => json!({"dnsName": name}),
    };
    json!({
        "apiVersion": "discovery.mesh.gloo.solo.io/v1",
        "kind": "Destination",
        "metadata": meta(&format!("istio-ingressgateway-istio-system-{}", cluster_name(i))),
        "spec": {
            "mesh": meta(&mesh_name(i)),
            "kubeService": {
                "ref": {"name": "istio-ingressgateway", "namespace": "istio-system", "clusterName": cluster_name(i)},
                "workloadSelectorLabels": {"app": "istio-ingressgateway", "istio": "ingressgateway"},
                "labels": {"app": "istio-ingressgateway", "istio": "ingressgateway"},
                "ports": [port],
                "externalAddresses": [address],
                "serviceType": service_type,
            },
        },
    })
}

fn service_destination(i: usize, service: &Service) -> Value {
    let ports: Vec<Value> = service
        .ports
        .iter()
        .map(|p| json!({"port": p.number, "name": p.name, "protocol": p.protocol, "targetPortNumber": p.number}))
        .collect();
    let mut kube = Map::new();
    kube.insert(
        "ref".into(),
        json!({"name": service.name, "namespace": service.namespace, "clusterName": cluster_name(i)}),
    );
    if service.selector_labels {
        kube.insert(
            "workloadSelectorLabels".into(),
            json!({"app": service.name}),
        );
    }
    kube.insert("labels".into(), json!({"app": service.name}));
    kube.insert("ports".into(), Value::Array(ports.clone()));
    if service.versions > 0 {
        let endpoints: Vec<Value> = (0..service.versions)
            .map(|v| {
                json!({
                    "ipAddress": format!("10.{i}.{v}.1"),
                    "labels": {"app": service.name, "version": format!("v{v}")},
                })
            })
            .collect();
        let ports: Vec<Value> = service
            .ports
            .iter()
            .map(|p| json!({"port": p.number, "name": p.name, "protocol": p.protocol}))
            .collect();
        kube.insert(
            "endpointSubsets".into(),
            json!([{"endpoints": endpoints, "ports": ports}]),
        );
    }
    kube.insert("serviceType".into(), json!("CLUSTER_IP"));
    json!({
        "apiVersion": "discovery.mesh.gloo.solo.io/v1",
        "kind": "Destination",
        "metadata": meta(&format!("{}-{}-{}", service.name, service.namespace, cluster_name(i))),
        "spec": {"mesh": meta(&mesh_name(i)), "kubeService": Value::Object(kube)},
    })
}

fn virtual_mesh(vm: &VirtualMesh) -> Value {
    let mut metadata = meta(&vm.name);
    if let Some(seconds) = vm.created {
        let at = jiff::Timestamp::from_second(1_704_067_200 + i64::from(seconds))
            .expect("a 2024 timestamp");
        metadata["creationTimestamp"] = json!(at.to_string());
    }
    let mut spec = Map::new();
    spec.insert(
        "meshes".into(),
        Value::Array(vm.meshes.iter().map(|&m| meta(&mesh_name(m))).collect()),
    );
    let mut federation = Map::new();
    match &vm.federation {
        Federation::None => {}
        Federation::All => {
            federation.insert("selectors".into(), json!([{}]));
        }
        Federation::Permissive => {
            federation.insert("permissive".into(), json!({}));
        }
        Federation::Namespaces(namespaces) => {
            federation.insert(
                "selectors".into(),
                json!([{"destinationSelectors": [{"kubeServiceMatcher": {"namespaces": namespaces}}]}]),
            );
        }
    }
    if let Some(suffix) = &vm.hostname_suffix {
        federation.insert("hostnameSuffix".into(), json!(suffix));
    }
    if !federation.is_empty() {
        spec.insert("federation".into(), Value::Object(federation));
    }
    spec.insert(
        "globalAccessPolicy".into(),
        json!(if vm.global_access {
            "ENABLED"
        } else {
            "DISABLED"
        }),
    );
    json!({
        "apiVersion": "networking.mesh.gloo.solo.io/v1",
        "kind": "VirtualMesh",
        "metadata": metadata,
        "spec": Value::Object(spec),
    })
}

fn access_policy(policy: &AccessPolicy) -> Value {
    let source = if policy.source_namespaces.is_empty() {
        json!({})
    } else {
        json!({"kubeIdentityMatcher": {"namespaces": policy.source_namespaces}})
    };
    let mut spec = json!({
        "sourceSelector": [source],
        "destinationSelector": [{"kubeServiceMatcher": {"labels": {"app": policy.app}}}],
    });
    if !policy.methods.is_empty() {
        spec["allowedMethods"] = json!(policy.methods);
    }
    json!({
        "apiVersion": "networking.mesh.gloo.solo.io/v1",
        "kind": "AccessPolicy",
        "metadata": meta(&policy.name),
        "spec": spec,
    })
}
