//! `vmesh discover` through the real binary, on the kubectl-shaped dumps in
//! testdata/discover (written by testdata/discover/generate.py): goldens, determinism,
//! scope flags, every bad input, and discover → render end to end.
//!
//! `UPDATE_GOLDEN=1` rewrites golden/discover/*.yaml; read the diff before committing it.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CLUSTERS: &[&str] = &["cluster-1", "cluster-2", "cluster-3"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn vmesh(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vmesh"))
        .args(args)
        .current_dir(dir)
        .env_remove("KUBECONFIG")
        .output()
        .expect("vmesh runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn success(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed:\n{}",
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// Exit 1, nothing on stdout, and every expected fragment on stderr.
fn failure(output: &Output, expected: &[&str]) -> String {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "expected exit 1:\n{stderr}");
    assert!(
        output.stdout.is_empty(),
        "a failure printed:\n{}",
        text(&output.stdout)
    );
    for fragment in expected {
        assert!(stderr.contains(fragment), "{fragment:?} not in:\n{stderr}");
    }
    stderr
}

fn dump_arg(cluster: &str) -> String {
    format!("{cluster}=testdata/discover/{cluster}.yaml")
}

fn fixture(cluster: &str) -> String {
    common::read(&root().join(format!("testdata/discover/{cluster}.yaml")))
}

/// A dump's List as a value, to change it the way a cluster changes.
fn list(text: &str) -> Value {
    serde_saphyr::from_str_with_options(text, vmesh::yaml::parse::options()).unwrap()
}

fn yaml(value: &Value) -> String {
    let mut out = String::new();
    vmesh::yaml::emit::emit_document(&mut out, value);
    out
}

fn items(list: &mut Value) -> &mut Vec<Value> {
    list["items"].as_array_mut().unwrap()
}

fn is(object: &Value, kind: &str, name: &str) -> bool {
    object["kind"] == kind && object["metadata"]["name"] == name
}

/// Discovers `dump` as `cluster` from `dir/<cluster>.yaml` (so the header names the same
/// path whatever the test wrote) and returns stdout.
fn discover_text(dir: &Path, cluster: &str, dump: &str, extra: &[&str]) -> Output {
    std::fs::write(dir.join(format!("{cluster}.yaml")), dump).unwrap();
    let arg = format!("{cluster}={cluster}.yaml");
    let mut args = vec!["discover", "--dump", &arg];
    args.extend_from_slice(extra);
    vmesh(dir, &args)
}

#[test]
fn discovered_output_matches_the_goldens() {
    for cluster in CLUSTERS {
        let arg = dump_arg(cluster);
        let stdout = success(&vmesh(&root(), &["discover", "--dump", &arg]), cluster);
        let golden = root().join(format!("golden/discover/{cluster}.yaml"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
            std::fs::write(&golden, &stdout).unwrap();
        }
        let expected = common::read(&golden);
        if expected != stdout {
            let diff = similar::TextDiff::from_lines(&expected, &stdout)
                .unified_diff()
                .header("golden", "actual")
                .to_string();
            panic!(
                "{cluster}: output differs from {}:\n{diff}",
                golden.display()
            );
        }
        assert!(stdout.starts_with(&format!(
            "# Discovered by vmesh discover from dump testdata/discover/{cluster}.yaml: cluster {cluster}.\n# Inputs: sha256:"
        )));
        for object in documents(&stdout) {
            assert_eq!(
                object["metadata"]["annotations"]["config.kubernetes.io/local-config"], "true",
                "{cluster}: {object}"
            );
            let printed = object.to_string();
            for volatile in [
                "uid",
                "resourceVersion",
                "creationTimestamp",
                "managedFields",
                "10.96.",
            ] {
                assert!(
                    !printed.contains(volatile),
                    "{cluster}: {volatile} in {printed}"
                );
            }
        }
    }
}

#[test]
fn one_stream_holds_every_cluster_and_out_writes_one_file_each() {
    let dir = tempfile::tempdir().unwrap();
    let args: Vec<String> = CLUSTERS.iter().map(|c| dump_arg(c)).collect();
    let mut stream_args = vec!["discover"];
    for arg in &args {
        stream_args.extend(["--dump", arg]);
    }
    let stream = success(&vmesh(&root(), &stream_args), "stream");
    let goldens: Vec<String> = CLUSTERS
        .iter()
        .map(|c| common::read(&root().join(format!("golden/discover/{c}.yaml"))))
        .collect();
    assert_eq!(stream, goldens.join("---\n"));

    let out = dir.path().join("discovered");
    let out_arg = out.to_string_lossy().into_owned();
    let mut out_args = stream_args.clone();
    out_args.extend(["--out", &out_arg]);
    let first = vmesh(&root(), &out_args);
    success(&first, "--out");
    assert!(text(&first.stderr).contains("3 file(s) written, 0 unchanged"));
    for (cluster, golden) in CLUSTERS.iter().zip(&goldens) {
        assert_eq!(&common::read(&out.join(format!("{cluster}.yaml"))), golden);
    }
    let again = vmesh(&root(), &out_args);
    success(&again, "--out again");
    assert!(
        text(&again.stderr).contains("0 file(s) written, 3 unchanged"),
        "{}",
        text(&again.stderr)
    );
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 3, "no temporary files are left: {names:?}");
}

#[test]
fn a_scaled_restarted_or_relisted_cluster_gives_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let original = fixture("cluster-1");
    let expected = success(
        &discover_text(dir.path(), "cluster-1", &original, &[]),
        "original",
    );

    // Scaled and restarted: replicas, statuses, resource versions, generations, the
    // rollout annotations `kubectl rollout restart` and the deployment controller write.
    let mut changed = list(&original);
    for object in items(&mut changed) {
        object["metadata"]["resourceVersion"] = "999999".into();
        object["metadata"]["uid"] = "00000000-0000-0000-0000-000000000000".into();
        object["metadata"]["generation"] = 9.into();
        if object["kind"] == "Deployment" || object["kind"] == "StatefulSet" {
            object["spec"]["replicas"] = 7.into();
            object["status"]["replicas"] = 7.into();
            object["status"]["readyReplicas"] = 5.into();
            object["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "4".into();
            object["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] =
                "2026-12-06T21:00:00Z".into();
        }
        if object["kind"] == "Node" {
            object["status"]["conditions"][0]["lastHeartbeatTime"] = "2026-12-06T22:00:00Z".into();
        }
    }
    let scaled = success(
        &discover_text(dir.path(), "cluster-1", &yaml(&changed), &[]),
        "scaled",
    );
    assert_eq!(scaled, expected, "scaling or restarting changed the output");

    // Listed in another order, or as one List per kind, or as single objects.
    let mut reversed = list(&original);
    items(&mut reversed).reverse();
    let relisted = success(
        &discover_text(dir.path(), "cluster-1", &yaml(&reversed), &[]),
        "reversed",
    );
    assert_eq!(
        relisted, expected,
        "the order of the dump changed the output"
    );
    let singles: Vec<String> = list(&original)["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(yaml)
        .collect();
    let stream = success(
        &discover_text(dir.path(), "cluster-1", &singles.join("---\n"), &[]),
        "stream of objects",
    );
    assert_eq!(stream, expected);

    // A real change is seen: the hash and the output change.
    let mut relabelled = list(&original);
    for object in items(&mut relabelled) {
        if is(object, "Service", "reviews") {
            object["metadata"]["labels"]["tier"] = "backend".into();
        }
    }
    let changed = success(
        &discover_text(dir.path(), "cluster-1", &yaml(&relabelled), &[]),
        "relabelled",
    );
    assert_ne!(changed, expected);
    assert_ne!(
        changed.lines().nth(1),
        expected.lines().nth(1),
        "the input hash must change"
    );
}

#[test]
fn scope_flags_choose_the_services() {
    let dir = tempfile::tempdir().unwrap();
    let original = fixture("cluster-1");
    let destinations = |output: &Output| -> Vec<String> {
        documents(&success(output, "scoped"))
            .into_iter()
            .filter(|o| o["kind"] == "Destination")
            .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    let all = destinations(&discover_text(dir.path(), "cluster-1", &original, &[]));
    assert_eq!(
        all,
        [
            "istio-eastwestgateway-istio-system-cluster-1",
            "productpage-bookinfo-cluster-1",
            "ratings-db-bookinfo-cluster-1",
            "reviews-bookinfo-cluster-1"
        ]
    );
    // Gateways stay: render needs them to federate.
    let exported = destinations(&discover_text(
        dir.path(),
        "cluster-1",
        &original,
        &["--only-exported"],
    ));
    assert_eq!(
        exported,
        [
            "istio-eastwestgateway-istio-system-cluster-1",
            "reviews-bookinfo-cluster-1"
        ]
    );
    failure(
        &discover_text(
            dir.path(),
            "cluster-2",
            &fixture("cluster-2"),
            &["--only-exported"],
        ),
        &[
            "cluster cluster-2: only exported Services were asked for, but no ServiceExport objects were given",
        ],
    );
    let excluded = destinations(&discover_text(
        dir.path(),
        "cluster-1",
        &original,
        &["--exclude-namespace", "bookinfo"],
    ));
    assert_eq!(excluded, ["istio-eastwestgateway-istio-system-cluster-1"]);
    let only = destinations(&discover_text(
        dir.path(),
        "cluster-1",
        &original,
        &["--namespace", "legacy"],
    ));
    assert_eq!(
        only,
        ["istio-eastwestgateway-istio-system-cluster-1"],
        "legacy has no injection"
    );
    // A ServiceExport's own changes do not matter unless --only-exported asks for them.
    let mut unexported = list(&original);
    items(&mut unexported).retain(|o| o["kind"] != "ServiceExport");
    let plain = success(
        &discover_text(dir.path(), "cluster-1", &yaml(&unexported), &[]),
        "unexported",
    );
    assert_eq!(
        plain,
        success(
            &discover_text(dir.path(), "cluster-1", &original, &[]),
            "original"
        )
    );
}

#[test]
fn gateway_labels_and_cluster_domain_are_flags() {
    let dir = tempfile::tempdir().unwrap();
    let output = discover_text(
        dir.path(),
        "cluster-1",
        &fixture("cluster-1"),
        &[
            "--gateway-labels",
            "istio=ingressgateway",
            "--cluster-domain",
            "corp.internal",
        ],
    );
    let objects = documents(&success(&output, "flags"));
    let mesh = objects.iter().find(|o| o["kind"] == "Mesh").unwrap();
    assert!(
        mesh["spec"]["istio"].get("ingressGateways").is_none(),
        "the east-west gateway no longer matches: {mesh}"
    );
    let cluster = objects
        .iter()
        .find(|o| o["kind"] == "KubernetesCluster")
        .unwrap();
    assert_eq!(cluster["spec"]["clusterDomain"], "corp.internal");
}

fn pod(name: &str, app: &str, version: &str, ip: &str, node: &str, ready: &str) -> Value {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "bookinfo", "labels": {"app": app, "version": version, "pod-template-hash": "5d8f7b9c4"}},
        "spec": {"nodeName": node, "containers": [{"name": app, "image": "x", "ports": [{"name": "http", "containerPort": 9080}]}]},
        "status": {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": ready}]}
    })
}

#[test]
fn endpoints_pods_lists_ready_pod_ips_and_stable_mode_ignores_pods() {
    let dir = tempfile::tempdir().unwrap();
    let original = fixture("cluster-1");
    let mut with_pods = list(&original);
    items(&mut with_pods).extend([
        pod(
            "reviews-v1-5d8f7b9c4-abcde",
            "reviews",
            "v1",
            "10.244.1.7",
            "c1-node-a",
            "True",
        ),
        pod(
            "reviews-v2-6c9d8e7f5-fghij",
            "reviews",
            "v2",
            "10.244.2.9",
            "c1-node-b",
            "True",
        ),
        pod(
            "reviews-v2-6c9d8e7f5-klmno",
            "reviews",
            "v2",
            "10.244.2.10",
            "c1-node-b",
            "False",
        ),
    ]);
    let stable = success(
        &discover_text(dir.path(), "cluster-1", &yaml(&with_pods), &[]),
        "stable",
    );
    let plain = success(
        &discover_text(dir.path(), "cluster-1", &original, &[]),
        "plain",
    );
    assert_eq!(
        stable, plain,
        "pods must not matter without --endpoints pods"
    );
    assert!(!stable.contains("10.244."));

    let pods = success(
        &discover_text(
            dir.path(),
            "cluster-1",
            &yaml(&with_pods),
            &["--endpoints", "pods"],
        ),
        "pods",
    );
    let objects = documents(&pods);
    let reviews = objects
        .iter()
        .find(|o| o["metadata"]["name"] == "reviews-bookinfo-cluster-1")
        .unwrap();
    let subsets = &reviews["spec"]["kubeService"]["endpointSubsets"];
    assert_eq!(
        subsets,
        &serde_json::json!([{
            "endpoints": [
                {"ipAddress": "10.244.1.7", "labels": {"app": "reviews", "version": "v1"}, "subLocality": {"zone": "zone-a"}},
                {"ipAddress": "10.244.2.9", "labels": {"app": "reviews", "version": "v2"}, "subLocality": {"zone": "zone-b"}}
            ],
            "ports": [{"port": 9080, "name": "http", "protocol": "TCP"}]
        }]),
        "the not-ready pod is no endpoint"
    );
    failure(
        &discover_text(dir.path(), "cluster-1", &original, &["--endpoints", "pods"]),
        &["cluster cluster-1: endpoints from pods were asked for, but no Pod objects were given"],
    );
}

/// Every bad input: exit 1, a message naming the cluster and the object, nothing printed
/// and nothing written — not even the files of the clusters that were fine.
#[test]
fn bad_input_names_the_cluster_and_object_and_writes_nothing() {
    let original = list(&fixture("cluster-1"));
    let edit = |change: &dyn Fn(&mut Vec<Value>)| {
        let mut changed = original.clone();
        change(items(&mut changed));
        yaml(&changed)
    };
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "not kubectl output",
            "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n".into(),
            vec!["cluster cluster-1: cluster-1.yaml is a KRM ResourceList, not kubectl output"],
        ),
        (
            "plain YAML",
            "clusters:\n- name: a\n".into(),
            vec![
                "cluster cluster-1: cluster-1.yaml has no apiVersion and kind: not kubectl output",
            ],
        ),
        (
            "not YAML",
            "apiVersion: v1\nkind: List\nitems: [\n".into(),
            vec!["cluster cluster-1: cluster-1.yaml is not kubectl YAML output"],
        ),
        (
            "discover output fed back",
            common::read(&root().join("golden/discover/cluster-1.yaml")),
            vec!["cluster cluster-1: cluster-1.yaml is vmesh discover output, not kubectl output"],
        ),
        (
            "a Gloo Mesh resource",
            "apiVersion: multicluster.solo.io/v1alpha1\nkind: KubernetesCluster\nmetadata:\n  name: c\n".into(),
            vec!["is a Gloo Mesh KubernetesCluster", "not the cluster's own objects"],
        ),
        (
            "no istiod",
            edit(&|items| items.retain(|o| !is(o, "Deployment", "istiod"))),
            vec!["cluster cluster-1: no istiod: no Deployment named istiod"],
        ),
        (
            "two istiods of one revision",
            edit(&|items| {
                let mut second = items
                    .iter()
                    .find(|o| is(o, "Deployment", "istiod"))
                    .unwrap()
                    .clone();
                second["metadata"]["namespace"] = "istio-canary".into();
                items.push(second);
            }),
            vec![
                "cluster cluster-1: Deployment istio-system/istiod: istiod revision \"default\" is also installed as Deployment istio-canary/istiod",
            ],
        ),
        (
            "no mesh config",
            edit(&|items| items.retain(|o| !is(o, "ConfigMap", "istio"))),
            vec![
                "cluster cluster-1: ConfigMap istio-system/istio: not found: istiod istio-system/istiod",
            ],
        ),
        (
            "a broken mesh config",
            edit(&|items| {
                for o in items.iter_mut().filter(|o| is(o, "ConfigMap", "istio")) {
                    o["data"]["mesh"] = "trustDomain: [unclosed\n".into();
                }
            }),
            vec!["cluster cluster-1: ConfigMap istio-system/istio: data.mesh: not YAML"],
        ),
        (
            "no namespaces",
            edit(&|items| items.retain(|o| o["kind"] != "Namespace")),
            vec!["cluster cluster-1: no Namespace objects"],
        ),
        (
            "an object twice",
            edit(&|items| {
                let copy = items
                    .iter()
                    .find(|o| is(o, "Service", "reviews"))
                    .unwrap()
                    .clone();
                items.push(copy);
            }),
            vec![
                "cluster cluster-1: cluster-1.yaml item",
                "Service bookinfo/reviews appears twice",
            ],
        ),
        (
            "a mistyped field",
            edit(&|items| {
                for o in items.iter_mut().filter(|o| is(o, "Service", "reviews")) {
                    o["spec"]["ports"][0]["port"] = "ninety".into();
                }
            }),
            vec![
                "cluster cluster-1: cluster-1.yaml item",
                "Service bookinfo/reviews: field spec.ports[0].port",
            ],
        ),
    ];
    for (case, dump, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cluster-1.yaml"), &dump).unwrap();
        std::fs::write(dir.path().join("cluster-2.yaml"), fixture("cluster-2")).unwrap();
        let output = vmesh(
            dir.path(),
            &[
                "discover",
                "--dump",
                "cluster-1=cluster-1.yaml",
                "--dump",
                "cluster-2=cluster-2.yaml",
                "--out",
                "out",
            ],
        );
        let stderr = failure(&output, &expected);
        assert!(stderr.contains("nothing was written"), "{case}: {stderr}");
        assert!(!dir.path().join("out").exists(), "{case}: out was created");
        // The same without --out: nothing on stdout (checked by `failure`).
        failure(
            &vmesh(
                dir.path(),
                &["discover", "--dump", "cluster-1=cluster-1.yaml"],
            ),
            &expected,
        );
    }

    let dir = tempfile::tempdir().unwrap();
    failure(
        &vmesh(
            dir.path(),
            &["discover", "--dump", "cluster-1=missing.yaml"],
        ),
        &["cluster cluster-1: cannot read missing.yaml"],
    );
    std::fs::write(dir.path().join("c.yaml"), fixture("cluster-1")).unwrap();
    failure(
        &vmesh(dir.path(), &["discover", "--dump", "Cluster_1=c.yaml"]),
        &["cluster Cluster_1: a cluster name must be a DNS label"],
    );
    failure(&vmesh(dir.path(), &["discover"]), &["nothing to discover"]);

    // A file vmesh discover did not write is never overwritten.
    std::fs::create_dir(dir.path().join("out")).unwrap();
    std::fs::write(dir.path().join("out/cluster-1.yaml"), "# mine\n").unwrap();
    failure(
        &vmesh(
            dir.path(),
            &["discover", "--dump", "cluster-1=c.yaml", "--out", "out"],
        ),
        &["out/cluster-1.yaml exists and was not written by vmesh discover"],
    );
    assert_eq!(
        common::read(&dir.path().join("out/cluster-1.yaml")),
        "# mine\n"
    );
}

#[test]
fn discovered_resources_read_and_render_in_process() {
    let mut items = Vec::new();
    for cluster in CLUSTERS {
        let mut objects = vmesh::discover::ClusterObjects::default();
        vmesh::discover::objects::read_dump(&fixture(cluster), cluster, &mut objects).unwrap();
        let found = vmesh::discover::discover(cluster, &objects, &Default::default()).unwrap();
        items.extend(found.objects);
    }
    items.push(virtual_mesh());
    let list = vmesh::hosts::resource_list(items);
    let outcome = vmesh::run(
        list,
        &vmesh::RunOptions::new(vmesh::OutputStyle::GeneratedStream),
    );
    let errors: Vec<String> = outcome
        .results
        .iter()
        .filter(|r| r.severity == vmesh::krm::Severity::Error)
        .map(|r| r.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(outcome.stdout.contains("kind: ServiceEntry"));
}

fn virtual_mesh() -> Value {
    serde_json::json!({
        "apiVersion": "networking.mesh.gloo.solo.io/v1",
        "kind": "VirtualMesh",
        "metadata": {"name": "virtual-mesh", "namespace": "gloo-mesh", "annotations": {"config.kubernetes.io/local-config": "true"}},
        "spec": {
            "meshes": [
                {"name": "istiod-istio-system-cluster-1", "namespace": "gloo-mesh"},
                {"name": "istiod-1-22-istio-system-cluster-2", "namespace": "gloo-mesh"},
                {"name": "istiod-istio-system-cluster-3", "namespace": "gloo-mesh"}
            ],
            "federation": {"selectors": [{}]},
            "globalAccessPolicy": "ENABLED"
        }
    })
}

/// discover → commit a VirtualMesh beside the output → `vmesh render`: every cluster's
/// Services reach the others, and every rendered object passes Istio's schemas and rules.
#[test]
fn discover_then_render_federates_every_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("meshes");
    std::fs::create_dir(&repo).unwrap();
    let mut args = vec!["discover".to_string()];
    for cluster in CLUSTERS {
        args.push("--dump".into());
        args.push(dump_arg(cluster));
    }
    args.push("--out".into());
    args.push(repo.join("discovered").to_string_lossy().into_owned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    success(&vmesh(&root(), &args), "discover");
    std::fs::write(repo.join("virtual-mesh.yaml"), yaml(&virtual_mesh())).unwrap();

    let rendered = success(&vmesh(dir.path(), &["render", "meshes"]), "render");
    let objects = documents(&rendered);
    common::assert_valid_istio(&objects, "discover-render");
    let hosts_in = |cluster: &str| -> Vec<String> {
        objects
            .iter()
            .filter(|o| {
                o["kind"] == "ServiceEntry"
                    && o["metadata"]["annotations"]["vmesh.dev/cluster"] == cluster
            })
            .flat_map(|o| o["spec"]["hosts"].as_array().unwrap().clone())
            .map(|h| h.as_str().unwrap().to_string())
            .collect()
    };
    for (cluster, expected) in [
        ("cluster-1", "reviews.bookinfo.svc.cluster-2.global"),
        ("cluster-1", "checkout.shop.svc.cluster-3.global"),
        ("cluster-2", "reviews.bookinfo.svc.cluster-1.global"),
        ("cluster-3", "node-agent.monitoring.svc.cluster-2.global"),
    ] {
        let hosts = hosts_in(cluster);
        assert!(
            hosts.iter().any(|h| h == expected),
            "{cluster} lacks {expected}: {hosts:?}"
        );
    }
    // Workloads outside the mesh are not federated anywhere.
    assert!(!rendered.contains("inventory.legacy"));
    assert!(!rendered.contains("details.bookinfo"));
    assert!(!rendered.contains("cart.shop"));
}

/// The documents of a YAML stream (comments and empty documents skipped).
fn documents(stream: &str) -> Vec<Value> {
    let parsed: Vec<Value> =
        serde_saphyr::from_str_multiple_with_options(stream, vmesh::yaml::parse::options())
            .unwrap();
    parsed.into_iter().filter(|d| !d.is_null()).collect()
}

/// Two revisions in one cluster: each workload goes to the istiod that injects it, and a
/// revision no istiod serves (an `istioctl tag`) is a warning, never a guessed mesh.
#[test]
fn each_workload_goes_to_the_revision_that_injects_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut dump = list(&fixture("cluster-1"));
    let objects = items(&mut dump);
    let mut canary = objects
        .iter()
        .find(|o| is(o, "Deployment", "istiod"))
        .unwrap()
        .clone();
    canary["metadata"]["name"] = "istiod-canary".into();
    canary["metadata"]["labels"]["istio.io/rev"] = "canary".into();
    canary["spec"]["selector"]["matchLabels"]["istio.io/rev"] = "canary".into();
    canary["spec"]["template"]["metadata"]["labels"]["istio.io/rev"] = "canary".into();
    let mut config = objects
        .iter()
        .find(|o| is(o, "ConfigMap", "istio"))
        .unwrap()
        .clone();
    config["metadata"]["name"] = "istio-canary".into();
    config["data"]["mesh"] = "trustDomain: canary.local\n".into();
    let workload = |namespace: &str, revision: &str| -> Vec<Value> {
        let mut ns = objects
            .iter()
            .find(|o| is(o, "Namespace", "legacy"))
            .unwrap()
            .clone();
        ns["metadata"]["name"] = namespace.into();
        ns["metadata"]["labels"] = serde_json::json!({"istio.io/rev": revision});
        let mut deployment = objects
            .iter()
            .find(|o| is(o, "Deployment", "inventory"))
            .unwrap()
            .clone();
        deployment["metadata"]["namespace"] = namespace.into();
        let mut service = objects
            .iter()
            .find(|o| is(o, "Service", "inventory"))
            .unwrap()
            .clone();
        service["metadata"]["namespace"] = namespace.into();
        vec![ns, deployment, service]
    };
    let added: Vec<Value> = [canary, config]
        .into_iter()
        .chain(workload("shop-canary", "canary"))
        .chain(workload("shop-tagged", "prod"))
        .collect();
    objects.extend(added);
    let output = discover_text(dir.path(), "cluster-1", &yaml(&dump), &[]);
    let stdout = success(&output, "two revisions");
    let found = documents(&stdout);
    let mesh_of = |name: &str| -> String {
        let object = found
            .iter()
            .find(|o| o["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in:\n{stdout}"));
        object["spec"]["mesh"]["name"].as_str().unwrap().to_string()
    };
    assert_eq!(
        mesh_of("inventory-shop-canary-cluster-1"),
        "istiod-canary-istio-system-cluster-1"
    );
    assert_eq!(
        mesh_of("reviews-bookinfo-cluster-1"),
        "istiod-istio-system-cluster-1"
    );
    let canary_mesh = found
        .iter()
        .find(|o| o["metadata"]["name"] == "istiod-canary-istio-system-cluster-1")
        .unwrap();
    assert_eq!(canary_mesh["spec"]["istio"]["trustDomain"], "canary.local");
    assert!(
        !stdout.contains("shop-tagged"),
        "a workload of an unknown revision was discovered"
    );
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("cluster cluster-1: Deployment shop-tagged/inventory: not discovered: its pods are injected by istiod revision \"prod\", and no istiod of that revision was found"),
        "{stderr}"
    );
}

/// An unreachable API server or an unknown context: exit 1 naming the cluster, context and
/// kind, never the credentials, and nothing written (no server needed for this one).
#[test]
fn an_unreachable_context_names_it_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // bound and released: nothing listens there
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: east\n  cluster:\n    server: https://127.0.0.1:{port}\n    insecure-skip-tls-verify: true\ncontexts:\n- name: east\n  context:\n    cluster: east\n    user: east\nusers:\n- name: east\n  user:\n    token: very-secret-token\ncurrent-context: east\n"
    );
    std::fs::write(dir.path().join("kubeconfig"), kubeconfig).unwrap();
    std::fs::write(dir.path().join("c2.yaml"), fixture("cluster-2")).unwrap();
    let args = [
        "discover",
        "--kubeconfig",
        "kubeconfig",
        "--context",
        "east=cluster-1",
        "--dump",
        "cluster-2=c2.yaml",
        "--out",
        "out",
    ];
    let stderr = failure(
        &vmesh(dir.path(), &args),
        &[
            "cluster cluster-1: context east: cannot list Namespaces (/api/v1/namespaces)",
            "nothing was written",
        ],
    );
    assert!(!stderr.contains("very-secret-token"), "{stderr}");
    assert!(!dir.path().join("out").exists());
    failure(
        &vmesh(
            dir.path(),
            &[
                "discover",
                "--kubeconfig",
                "kubeconfig",
                "--context",
                "west",
            ],
        ),
        &["cluster west: context west:"],
    );
}

#[test]
fn the_dump_examples_in_vmesh_discover_help_run_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let help = success(
        &vmesh(&root(), &["discover", "--help"]),
        "vmesh discover --help",
    );
    let examples: Vec<String> = help
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("vmesh discover --dump"))
        .map(|l| {
            l.replace(
                "/tmp/discovered",
                &dir.path().join("discovered").to_string_lossy(),
            )
        })
        .collect();
    assert_eq!(examples.len(), 2, "{help}");
    for example in &examples {
        let args: Vec<&str> = example.split_whitespace().skip(1).collect();
        let stdout = success(&vmesh(&root(), &args), example);
        if !example.contains("--out") {
            assert!(
                stdout.contains("kind: Mesh"),
                "{example} printed:\n{stdout}"
            );
        }
    }
    assert!(dir.path().join("discovered/cluster-1.yaml").is_file());
    assert!(help.contains("kubectl get namespaces,nodes,services,configmaps,deployments,statefulsets,daemonsets -A -o yaml"));
}
