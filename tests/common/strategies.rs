//! The proptest strategies of valid multi-cluster topologies: the property tests
//! (`tests/properties.rs`) draw from them, and the Istio conformance test
//! (`tests/istio_conformance.rs`) draws a fixed-seed sample.

use super::topology::{
    AccessPolicy, Address, Cluster, Federation, Gateway, Port, Service, Topology, VirtualMesh,
};
use proptest::prelude::*;

fn port() -> impl Strategy<Value = Port> {
    (
        prop::sample::select(vec![80u16, 443, 8080, 9080, 5432, 53]),
        prop::sample::select(vec![
            ("http", "TCP"),
            ("grpc", "TCP"),
            ("tcp", "TCP"),
            ("dns", "UDP"),
        ]),
    )
        .prop_map(|(number, (name, protocol))| Port {
            number,
            name: format!("{name}-{number}"),
            protocol,
        })
}

fn service() -> impl Strategy<Value = Service> {
    (
        prop::sample::select(vec!["reviews", "ratings", "details", "echo"]),
        prop::sample::select(vec!["bookinfo", "apps"]),
        prop::collection::btree_map(any::<u8>(), port(), 1..3),
        prop::bool::weighted(0.85),
        0u8..3,
    )
        .prop_map(|(name, namespace, ports, selector_labels, versions)| {
            // Distinct port numbers: one number with one protocol per Service.
            let mut ports: Vec<Port> = ports.into_values().collect();
            ports.sort_by_key(|p| p.number);
            ports.dedup_by_key(|p| p.number);
            Service {
                name: name.to_string(),
                namespace: namespace.to_string(),
                ports,
                selector_labels,
                versions,
            }
        })
}

fn gateway() -> impl Strategy<Value = Gateway> {
    (
        prop::sample::select(vec![15443u16, 443]),
        prop::option::of(30000u16..32767),
        prop_oneof![
            (1u8..=223, any::<u8>(), any::<u8>(), 1u8..=254).prop_map(|(a, b, c, d)| {
                // Keep clear of 127/8 and 240.240/16; the address only needs to be routable.
                Address::Ip([if a == 127 { 35 } else { a }, b, c, d])
            }),
            prop::sample::select(vec!["gw.example.com", "east-west.cluster.example"])
                .prop_map(|s| Address::Dns(s.to_string())),
        ],
    )
        .prop_map(|(port, node_port, address)| Gateway {
            port,
            node_port,
            address,
        })
}

fn cluster() -> impl Strategy<Value = Cluster> {
    // Every mesh has a gateway: a federated mesh without one is an error.
    (gateway(), prop::collection::vec(service(), 0..4)).prop_map(|(gateway, mut services)| {
        // One Destination per Service name and namespace in a cluster.
        services.sort_by(|a, b| (&a.name, &a.namespace).cmp(&(&b.name, &b.namespace)));
        services.dedup_by(|a, b| a.name == b.name && a.namespace == b.namespace);
        Cluster {
            gateway: Some(gateway),
            services,
        }
    })
}

fn federation() -> impl Strategy<Value = Federation> {
    prop_oneof![
        Just(Federation::None),
        Just(Federation::All),
        Just(Federation::Permissive),
        prop::sample::select(vec!["bookinfo", "apps"])
            .prop_map(|ns| Federation::Namespaces(vec![ns.to_string()])),
    ]
}

/// A valid topology: every Mesh in at most one VirtualMesh, every gateway with an address.
pub fn topology() -> impl Strategy<Value = Topology> {
    prop::collection::vec(cluster(), 1..4)
        .prop_flat_map(|clusters| {
            let n = clusters.len();
            (
                Just(clusters),
                // For each mesh: no VirtualMesh, or VirtualMesh 0 or 1.
                prop::collection::vec(prop::option::weighted(0.85, 0usize..2), n),
                prop::collection::vec(
                    (
                        federation(),
                        any::<bool>(),
                        // Another suffix needs smart DNS proxying in every target mesh.
                        prop::option::of(Just("global")),
                        prop::option::of(0u32..1_000_000),
                    ),
                    2,
                ),
                prop::collection::vec(
                    (
                        prop::sample::select(vec!["reviews", "ratings", "details", "echo"]),
                        prop::option::of(prop::sample::select(vec!["bookinfo", "apps"])),
                        prop::bool::ANY,
                    ),
                    0..3,
                ),
                0usize..3,
            )
        })
        .prop_map(|(clusters, membership, vms, policies, pass_through)| {
            let virtual_meshes = vms
                .into_iter()
                .enumerate()
                .map(
                    |(v, (federation, global_access, suffix, created))| VirtualMesh {
                        name: format!("vm-{v}"),
                        meshes: membership
                            .iter()
                            .enumerate()
                            .filter(|(_, m)| **m == Some(v))
                            .map(|(i, _)| i)
                            .collect(),
                        federation,
                        global_access,
                        hostname_suffix: suffix.map(str::to_string),
                        created,
                    },
                )
                .filter(|vm| !vm.meshes.is_empty())
                .collect();
            let access_policies = policies
                .into_iter()
                .enumerate()
                .map(|(i, (app, source, get_only))| AccessPolicy {
                    name: format!("allow-{i}"),
                    source_namespaces: source.into_iter().map(str::to_string).collect(),
                    app: app.to_string(),
                    methods: if get_only { vec!["GET".into()] } else { vec![] },
                })
                .collect();
            Topology {
                clusters,
                virtual_meshes,
                access_policies,
                pass_through,
            }
        })
}

/// Values Kubernetes or Istio refuse somewhere (and a few they accept), for hostile inputs.
pub const HOSTILE_VALUES: &[&str] = &[
    "Echo",
    "e_cho",
    "échø",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "../../x",
    "x;y>z",
    "",
    "123",
    "a.b",
    "-a",
    "a-",
    "mesh.123",
    "a/b",
    "/p/{*}x",
    "lb_1.example.com",
    "10.0.0.0/8",
    "ok-name",
    "local",
];

/// A valid topology with one to three values replaced by hostile ones: a Service's name or
/// namespace, a VirtualMesh's hostname suffix, a gateway's DNS address, an AccessPolicy's
/// method or source namespace.
pub fn hostile_topology() -> impl Strategy<Value = (Topology, Vec<String>)> {
    (
        topology(),
        prop::collection::vec(
            (
                0usize..6,
                any::<prop::sample::Index>(),
                prop::sample::select(HOSTILE_VALUES),
            ),
            1..4,
        ),
    )
        .prop_map(|(mut topology, mutations)| {
            let mut applied = Vec::new();
            for (target, which, value) in mutations {
                let value = value.to_string();
                let services: Vec<(usize, usize)> = topology
                    .clusters
                    .iter()
                    .enumerate()
                    .flat_map(|(c, cl)| (0..cl.services.len()).map(move |s| (c, s)))
                    .collect();
                let gateways: Vec<usize> = (0..topology.clusters.len())
                    .filter(|&c| topology.clusters[c].gateway.is_some())
                    .collect();
                match target {
                    0 | 1 if !services.is_empty() => {
                        let (c, s) = services[which.index(services.len())];
                        let service = &mut topology.clusters[c].services[s];
                        if target == 0 {
                            service.name = value.clone();
                        } else {
                            service.namespace = value.clone();
                        }
                        applied.push(format!("service {target} = {value:?}"));
                    }
                    2 if !topology.virtual_meshes.is_empty() => {
                        let n = topology.virtual_meshes.len();
                        topology.virtual_meshes[which.index(n)].hostname_suffix =
                            Some(value.clone());
                        applied.push(format!("hostnameSuffix = {value:?}"));
                    }
                    3 if !gateways.is_empty() => {
                        let c = gateways[which.index(gateways.len())];
                        if let Some(g) = &mut topology.clusters[c].gateway {
                            g.address = Address::Dns(value.clone());
                        }
                        applied.push(format!("gateway address = {value:?}"));
                    }
                    4 | 5 if !topology.access_policies.is_empty() => {
                        let n = topology.access_policies.len();
                        let policy = &mut topology.access_policies[which.index(n)];
                        if target == 4 {
                            policy.methods.push(value.clone());
                        } else {
                            policy.source_namespaces.push(value.clone());
                        }
                        applied.push(format!("policy {target} = {value:?}"));
                    }
                    _ => {}
                }
            }
            (topology, applied)
        })
}
