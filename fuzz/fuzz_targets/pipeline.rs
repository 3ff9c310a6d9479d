//! The whole pipeline (read → index → plan → render → write) on structured inputs: a
//! generated multi-cluster topology or one of the golden inputs, then damaged by a few
//! mutations (fields deleted, renamed or set to odd values, items duplicated or swapped),
//! shuffled, optionally with a functionConfig. Raw bytes would rarely get past the parser;
//! these reach validation and translation.
//!
//! Checked on every input, besides "no panic": `pipeline_invariants` in
//! tests/common/fuzz_checks.rs (exit code agrees with the results, a failed run returns the
//! items unchanged and the stream outputs print nothing, rendering the output again changes
//! nothing). A crash's input is printed as YAML (the Debug form of `Case`): save that as
//! `fuzz/regressions/pipeline/<name>.yaml` and tests/fuzz_regressions.rs replays it.
//!
//! Certificates are left out (no `mtlsConfig`): RSA key generation takes seconds and would
//! starve the fuzzer; tests/certificates.rs covers them.
#![no_main]

use arbitrary::{Arbitrary, Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};
use std::sync::OnceLock;
use vmesh::krm::read_resource_list;

#[allow(dead_code)]
#[path = "../../tests/common/fuzz_checks.rs"]
mod fuzz_checks;

#[allow(dead_code)]
#[path = "../../tests/common/topology.rs"]
mod topology;
use topology::{
    AccessPolicy, Address, Cluster, Federation, Gateway, Port, Service, Topology, VirtualMesh,
};

/// Golden inputs without certificates, templates or seeds: (items, functionConfig).
fn goldens() -> &'static [(Vec<Value>, Option<Value>)] {
    static GOLDENS: OnceLock<Vec<(Vec<Value>, Option<Value>)>> = OnceLock::new();
    GOLDENS.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
        let mut cases: Vec<_> = std::fs::read_dir(&dir)
            .expect("testdata exists")
            .filter_map(|e| {
                let text = std::fs::read_to_string(e.ok()?.path().join("input.yaml")).ok()?;
                let heavy = ["mtlsConfig", "caSeed", "templates:"]
                    .iter()
                    .any(|w| text.contains(w));
                let list = read_resource_list(text).ok().filter(|_| !heavy)?;
                Some((
                    list.items.into_iter().map(|i| i.value).collect(),
                    list.function_config,
                ))
            })
            .collect();
        cases.sort_by_key(|(items, _)| serde_json::to_string(items).unwrap());
        cases
    })
}

const NAMES: &[&str] = &[
    "reviews",
    "ratings",
    "echo",
    "a",
    "istio-ingressgateway",
    "x.y",
    "-",
    "UPPER",
    "",
];
const NAMESPACES: &[&str] = &[
    "bookinfo",
    "apps",
    "istio-system",
    "default",
    "gloo-mesh",
    "",
];
const SUFFIXES: &[&str] = &[
    "global",
    "mesh.internal",
    "",
    "bad_suffix",
    "a.global",
    "-x.",
    "a..b",
    "*.global",
];
const ADDRESSES: &[&str] = &[
    "gw.example.com",
    "",
    "-bad-",
    "a..b",
    "2001:db8::1",
    "*.x",
    "10.0.0.1",
    "localhost",
];
const PORT_NAMES: &[&str] = &["http", "tcp", "grpc", "", "tls", "HTTP", "http-web", "udp"];
const PROTOCOLS: &[&str] = &["TCP", "UDP", "SCTP", "", "tcp", "HTTP"];
const KEYS: &[&str] = &[
    "selectors",
    "meshes",
    "name",
    "namespace",
    "clusterName",
    "ports",
    "port",
    "labels",
    "workloadSelectorLabels",
    "externalAddresses",
    "ip",
    "dns",
    "permissive",
    "hostnameSuffix",
    "eastWestIngressGatewaySelectors",
    "destinationSelectors",
    "kubeServiceMatcher",
    "kubeServiceRefs",
    "services",
    "sourceSelector",
    "destinationSelector",
    "allowedPorts",
    "allowedPaths",
    "allowedMethods",
    "kubeIdentityMatcher",
    "kubeServiceAccountRefs",
    "serviceAccounts",
    "ingressGateways",
    "tcpKeepalive",
    "time",
    "interval",
    "probes",
    "smartDnsProxyingEnabled",
    "trustDomain",
    "istiodServiceAccount",
    "installation",
    "cluster",
    "endpointSubsets",
    "endpoints",
    "ipAddress",
    "nodePort",
    "targetPortName",
    "targetPortNumber",
    "serviceType",
    "subLocality",
    "zone",
    "region",
    "portName",
    "globalAccessPolicy",
    "federation",
    "flatNetwork",
    "podLabels",
    "externalTlsPort",
    "tlsContainerPort",
    "creationTimestamp",
    "annotations",
    "mesh",
    "kubeService",
    "ref",
    "appProtocol",
    "clusters",
    "spec",
    "status",
    "metadata",
    "kind",
    "apiVersion",
];

fn pick<'a>(u: &mut Unstructured<'_>, choices: &[&'a str]) -> Result<String> {
    if u.ratio(1, 8)? {
        let s: String = u.arbitrary()?;
        return Ok(s.chars().take(64).collect());
    }
    Ok(u.choose(choices)?.to_string())
}

fn odd_value(u: &mut Unstructured<'_>) -> Result<Value> {
    Ok(match u.int_in_range(0..=30)? {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(0),
        3 => json!(-1),
        4 => json!(65536),
        5 => json!(4_294_967_296u64),
        6 => json!(1.5),
        7 => json!(""),
        8 => json!({}),
        9 => json!([]),
        10 => json!([{}]),
        11 => json!("x".repeat(300)),
        12 => json!(u.arbitrary::<i64>()?),
        13 => json!(u.arbitrary::<u16>()?),
        14 => json!(pick(u, KEYS)?),
        15 => json!(pick(u, SUFFIXES)?),
        16 => json!(pick(u, ADDRESSES)?),
        17 => json!(pick(u, PORT_NAMES)?),
        18 => json!(pick(u, PROTOCOLS)?),
        19 => json!(pick(u, NAMES)?),
        20 => json!(pick(u, NAMESPACES)?),
        21 => json!(pick(
            u,
            &[
                "ENABLED",
                "DISABLED",
                "MESH_DEFAULT",
                "NODE_PORT",
                "LOAD_BALANCER",
                "CLUSTER_IP"
            ]
        )?),
        22 => json!(pick(
            u,
            &["mesh-0", "mesh-1", "cluster-0", "cluster-1", "vm"]
        )?),
        23 => json!({"name": pick(u, &["mesh-0", "mesh-1", "nope"])?, "namespace": "gloo-mesh"}),
        24 => json!(pick(
            u,
            &["10s", "0.25s", "1ms", "0s", "-1s", "1.5ms", "forever"]
        )?),
        25 => json!({"app": pick(u, NAMES)?}),
        26 => json!([{"kubeServiceMatcher": {"labels": {"app": pick(u, NAMES)?}}}]),
        27 => json!(pick(u, &["on", "yes", "0777", "1e3", "~", "null", ".nan"])?),
        28 => json!(u.arbitrary::<f64>()?),
        _ => json!(
            u.arbitrary::<String>()?
                .chars()
                .take(64)
                .collect::<String>()
        ),
    })
}

fn topology(u: &mut Unstructured<'_>) -> Result<Topology> {
    let n_clusters = u.int_in_range(0..=4)?;
    let mut clusters = Vec::new();
    for _ in 0..n_clusters {
        let gateway = if u.ratio(4, 5)? {
            Some(Gateway {
                port: *u.choose(&[15443, 443, 0, 65535, 80, 15443])?,
                node_port: if u.ratio(1, 3)? {
                    Some(u.int_in_range(30000..=32767)?)
                } else {
                    None
                },
                address: if u.ratio(3, 4)? {
                    Address::Ip(u.arbitrary()?)
                } else {
                    Address::Dns(pick(u, ADDRESSES)?)
                },
            })
        } else {
            None
        };
        let mut services = Vec::new();
        for _ in 0..u.int_in_range(0..=4)? {
            let mut ports = Vec::new();
            for _ in 0..u.int_in_range(0..=3)? {
                ports.push(Port {
                    number: *u.choose(&[9080, 80, 0, 65535, 53, 15443, 8080])?,
                    name: pick(u, PORT_NAMES)?,
                    protocol: u.choose(&["TCP", "UDP", "SCTP", "", "tcp"])?,
                });
            }
            services.push(Service {
                name: pick(u, NAMES)?,
                namespace: pick(u, NAMESPACES)?,
                ports,
                selector_labels: u.ratio(4, 5)?,
                versions: u.int_in_range(0..=3)?,
            });
        }
        clusters.push(Cluster { gateway, services });
    }
    let mut virtual_meshes = Vec::new();
    for _ in 0..u.int_in_range(0..=3)? {
        let mut meshes = Vec::new();
        for _ in 0..u.int_in_range(0..=4)? {
            meshes.push(u.int_in_range(0..=n_clusters)?);
        }
        virtual_meshes.push(VirtualMesh {
            name: pick(u, &["vm", "vm-2", "virtual-mesh"])?,
            meshes,
            federation: match u.int_in_range(0..=3)? {
                0 => Federation::None,
                1 => Federation::All,
                2 => Federation::Permissive,
                _ => Federation::Namespaces(vec![pick(u, NAMESPACES)?]),
            },
            global_access: u.arbitrary()?,
            hostname_suffix: if u.ratio(1, 3)? {
                Some(pick(u, SUFFIXES)?)
            } else {
                None
            },
            created: u.arbitrary()?,
        });
    }
    let mut access_policies = Vec::new();
    for _ in 0..u.int_in_range(0..=3)? {
        access_policies.push(AccessPolicy {
            name: pick(u, &["ap1", "ap2", "allow"])?,
            source_namespaces: if u.arbitrary()? {
                vec![pick(u, NAMESPACES)?]
            } else {
                Vec::new()
            },
            app: pick(u, NAMES)?,
            methods: if u.arbitrary()? {
                vec![pick(u, &["GET", "POST", "", "get"])?]
            } else {
                Vec::new()
            },
        });
    }
    Ok(Topology {
        clusters,
        virtual_meshes,
        access_policies,
        pass_through: u.int_in_range(0..=2)?,
    })
}

fn function_config(u: &mut Unstructured<'_>) -> Result<Option<Value>> {
    if !u.ratio(1, 3)? {
        return Ok(None);
    }
    let mut spec = Map::new();
    if u.arbitrary()? {
        spec.insert(
            "cluster".into(),
            json!(pick(u, &["cluster-0", "cluster-1", "nope"])?),
        );
    }
    if u.arbitrary()? {
        spec.insert(
            "istioApiVersion".into(),
            json!(pick(u, &["v1", "v1beta1"])?),
        );
    }
    if u.arbitrary()? {
        spec.insert("endpoints".into(), json!(pick(u, &["stable", "pods"])?));
    }
    if u.arbitrary()? {
        spec.insert(
            "tlsMode".into(),
            json!(pick(u, &["ISTIO_MUTUAL", "DISABLE", "SIMPLE", "MUTUAL"])?),
        );
    }
    if u.arbitrary()? {
        spec.insert("writeStatus".into(), json!(u.arbitrary::<bool>()?));
    }
    Ok(Some(json!({
        "apiVersion": "vmesh.dev/v1alpha1",
        "kind": "VirtualMeshRenderer",
        "metadata": {"name": "vmesh"},
        "spec": Value::Object(spec),
    })))
}

/// Follows `path` (indexes into objects' keys or arrays' elements) from `root` as far as it
/// goes, then changes what it reached.
fn mutate(root: &mut Value, u: &mut Unstructured<'_>) -> Result<()> {
    let depth = u.int_in_range(0..=6)?;
    let mut node = root;
    for _ in 0..depth {
        let len = match &*node {
            Value::Object(map) => map.len(),
            Value::Array(seq) => seq.len(),
            _ => 0,
        };
        if len == 0 {
            break;
        }
        let i = u.int_in_range(0..=len - 1)?;
        node = match node {
            Value::Object(map) => map.values_mut().nth(i).expect("in range"),
            Value::Array(seq) => &mut seq[i],
            _ => unreachable!(),
        };
    }
    match u.int_in_range(0..=4)? {
        // Replace the node.
        0 => *node = odd_value(u)?,
        // Delete one child.
        1 => match node {
            Value::Object(map) if !map.is_empty() => {
                let i = u.int_in_range(0..=map.len() - 1)?;
                let key = map.keys().nth(i).expect("in range").clone();
                map.shift_remove(&key);
            }
            Value::Array(seq) if !seq.is_empty() => {
                let i = u.int_in_range(0..=seq.len() - 1)?;
                seq.remove(i);
            }
            _ => {}
        },
        // Rename one key (a misspelling, another real field, or anything).
        2 => {
            if let Value::Object(map) = node
                && !map.is_empty()
            {
                let i = u.int_in_range(0..=map.len() - 1)?;
                let key = map.keys().nth(i).expect("in range").clone();
                let value = map.shift_remove(&key).expect("present");
                let new_key = match u.int_in_range(0..=2)? {
                    0 => format!("{key}s"),
                    1 => key.chars().skip(1).collect(),
                    _ => pick(u, KEYS)?,
                };
                map.insert(new_key, value);
            }
        }
        // Add a field.
        3 => {
            if let Value::Object(map) = node {
                map.insert(pick(u, KEYS)?, odd_value(u)?);
            } else if let Value::Array(seq) = node {
                let copy = seq.first().cloned().unwrap_or(Value::Null);
                seq.push(copy);
            }
        }
        // Duplicate an element of an array.
        _ => {
            if let Value::Array(seq) = node
                && !seq.is_empty()
            {
                let i = u.int_in_range(0..=seq.len() - 1)?;
                seq.push(seq[i].clone());
            }
        }
    }
    Ok(())
}

struct Case {
    items: Vec<Value>,
    config: Option<Value>,
}

impl<'a> Arbitrary<'a> for Case {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let goldens = goldens();
        let (mut items, mut config) = if u.ratio(1, 2)? || goldens.is_empty() {
            (topology(u)?.items(), None)
        } else {
            let (items, config) = u.choose(goldens)?;
            (items.clone(), config.clone())
        };
        if u.ratio(1, 2)? {
            config = function_config(u)?;
        }
        for _ in 0..u.int_in_range(0..=6)? {
            if items.is_empty() {
                break;
            }
            match u.int_in_range(0..=9)? {
                0 => {
                    let i = u.int_in_range(0..=items.len() - 1)?;
                    items.push(items[i].clone());
                }
                1 => {
                    let (i, j) = (
                        u.int_in_range(0..=items.len() - 1)?,
                        u.int_in_range(0..=items.len() - 1)?,
                    );
                    items[i] = items[j].clone();
                }
                _ => {
                    let i = u.int_in_range(0..=items.len() - 1)?;
                    mutate(&mut items[i], u)?;
                }
            }
        }
        // Shuffle (Fisher-Yates driven by the input).
        for i in (1..items.len()).rev() {
            let j = u.int_in_range(0..=i)?;
            items.swap(i, j);
        }
        Ok(Case { items, config })
    }
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&text(self))
    }
}

fn text(case: &Case) -> String {
    let mut list = json!({
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": case.items,
    });
    if let Some(config) = &case.config {
        list["functionConfig"] = config.clone();
    }
    let mut out = String::new();
    vmesh::yaml::emit_document(&mut out, &list);
    out
}

fuzz_target!(|case: Case| {
    let input = text(&case);
    if let Err(e) = read_resource_list(input.clone()) {
        // Mutations may leave an item without apiVersion, kind or name: refused as a whole.
        // Anything else means vmesh's own emitter wrote YAML its reader refuses.
        assert!(
            e.0.contains("every item must be a Kubernetes object"),
            "emitted input does not read back: {e}\n{input}"
        );
        return;
    }
    fuzz_checks::pipeline_invariants(&input);
});
