//! Property tests over generated valid topologies (1–3 clusters, gateways by IP or DNS name,
//! services with TCP/UDP ports and endpoint versions, VirtualMeshes with every federation
//! mode, AccessPolicies, pass-through items). For each, rendering
//! - succeeds, and every generated object passes the Istio schemas and rules;
//! - is deterministic (two runs, byte-identical output);
//! - is independent of item order (a shuffled input renders the same generated objects and
//!   results, and keeps every pass-through item);
//! - is idempotent (rendering the output again changes nothing).
//!
//! Case counts are modest so that CI stays fast; `PROPTEST_CASES=1000 cargo test --test
//! properties` runs more.

mod common;

use common::topology::{
    AccessPolicy, Address, Cluster, Federation, Gateway, Port, Service, Topology, VirtualMesh,
    resource_list,
};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::Value;

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
fn topology() -> impl Strategy<Value = Topology> {
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

fn generated(text: &str) -> Vec<Value> {
    let (items, _) = common::parse(text);
    common::generated(&items).into_iter().cloned().collect()
}

/// Results without their item-position tags (positions change when items move).
fn results(text: &str) -> Vec<Value> {
    common::parse(text)
        .1
        .into_iter()
        .map(|mut r| {
            r.as_object_mut().unwrap().remove("tags");
            r
        })
        .collect()
}

fn passed_through(text: &str) -> Vec<String> {
    let (items, _) = common::parse(text);
    let mut kept: Vec<String> = items
        .iter()
        .filter(|i| {
            i.pointer("/metadata/labels/app.kubernetes.io~1managed-by")
                .and_then(Value::as_str)
                != Some("vmesh")
        })
        .map(|i| serde_json::to_string(i).unwrap())
        .collect();
    kept.sort();
    kept
}

proptest! {
    #![proptest_config(Config { cases: 64, failure_persistence: None, ..Config::default() })]

    #[test]
    fn rendering_is_valid_deterministic_order_independent_and_idempotent(
        topology in topology(),
        order in any::<prop::sample::Index>(),
        rotate in any::<prop::sample::Index>(),
    ) {
        let items = topology.items();
        let input = resource_list(&items);
        let first = common::run_function(&input);
        let errors: Vec<&str> = first
            .results
            .iter()
            .filter(|r| r.severity == vmesh::krm::Severity::Error)
            .map(|r| r.message.as_str())
            .collect();
        prop_assert!(errors.is_empty(), "a valid topology failed: {errors:#?}\n{input}");
        prop_assert_eq!(first.exit_code, 0);

        let (out_items, _) = common::parse(&first.stdout);
        common::assert_valid_istio(&out_items, "property");

        // Deterministic.
        let second = common::run_function(&input);
        prop_assert_eq!(&second.stdout, &first.stdout, "two runs differ");

        // Order-independent: reverse, then rotate by a drawn amount, then swap a drawn pair.
        let mut shuffled = items.clone();
        shuffled.reverse();
        let len = shuffled.len();
        shuffled.rotate_left(rotate.index(len));
        let i = order.index(len);
        shuffled.swap(0, i);
        let other = common::run_function(&resource_list(&shuffled));
        prop_assert_eq!(generated(&other.stdout), generated(&first.stdout), "generated objects depend on input order");
        prop_assert_eq!(results(&other.stdout), results(&first.stdout), "results depend on input order");
        prop_assert_eq!(passed_through(&other.stdout), passed_through(&first.stdout));

        // Idempotent.
        let again = common::run_function(&first.stdout);
        prop_assert_eq!(&again.stdout, &first.stdout, "rendering the output again changed it");
    }
}
