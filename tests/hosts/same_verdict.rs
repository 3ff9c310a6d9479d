//! One input, every host, one verdict (issue 16): the same Gloo Mesh resources, one Mesh
//! without `config.kubernetes.io/local-config`, go through the real kpt, the real
//! `kubectl kustomize` (transformer), kustomize's KRM exec-function form and `vmesh
//! render`. Where the inputs travel on towards a cluster (kpt, the transformer) the run
//! accepts them with the same warning, naming the Mesh by its own name, not kustomize's;
//! `vmesh render` prints only generated objects and accepts it silently. An unknown
//! cluster fails on every host.

use crate::support::*;
use std::path::Path;

const MESH_1_ANNOTATED: &str = "  name: istiod-istio-system-cluster-1\n  namespace: gloo-mesh\n  annotations:\n    config.kubernetes.io/local-config: \"true\"\n";
const MESH_1_BARE: &str = "  name: istiod-istio-system-cluster-1\n  namespace: gloo-mesh\n";
const WARNING: &str =
    "Mesh gloo-mesh/istiod-istio-system-cluster-1 is not marked config.kubernetes.io/local-config";

fn strip_annotation(meshes: &Path) {
    let text = std::fs::read_to_string(meshes).unwrap();
    assert!(text.contains(MESH_1_ANNOTATED), "{}", meshes.display());
    std::fs::write(meshes, text.replacen(MESH_1_ANNOTATED, MESH_1_BARE, 1)).unwrap();
}

#[test]
fn a_mesh_without_local_config_is_the_same_warning_under_kpt_and_kustomize() {
    require("kpt");
    require("kubectl");
    let sandbox = Sandbox::new();

    // kpt: the package goes on to `kpt live apply`.
    let package = sandbox.copy(&root().join("functions/kpt"), "kpt");
    strip_annotation(&package.join("gloo-mesh/meshes.yaml"));
    git_init(&package);
    let output = run(sandbox
        .command("kpt")
        .args(["fn", "render", ".", "--allow-exec"])
        .current_dir(&package));
    assert_success(&output, "kpt fn render");
    let kpt_text = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert!(
        kpt_text.contains("[warning]") && kpt_text.contains(WARNING),
        "{kpt_text}"
    );

    // kustomize, legacy transformer: the build accepts it (kustomize shows a plugin's
    // stderr only when it fails) and carries the Mesh on, under kustomize's name.
    let kustomize = sandbox.copy(&root().join("functions/kustomize"), "kustomize");
    strip_annotation(&kustomize.join("gloo-mesh/meshes.yaml"));
    let plugins = sandbox.path().join("plugins");
    assert_success(
        &run(sandbox
            .command("vmesh")
            .args(["kustomize", "install", "--plugin-home"])
            .arg(&plugins)),
        "vmesh kustomize install",
    );
    let output = kustomize_build(&sandbox, &kustomize.join("transformer"), &plugins);
    assert_success(&output, "kubectl kustomize (transformer)");
    let build = text(&output.stdout);
    assert!(
        build.contains("name: team-istiod-istio-system-cluster-1"),
        "the build carries the Mesh:\n{build}"
    );

    // The same transformer as kustomize runs its KRM exec-function form: the warning is a
    // result, with the Mesh's own name, although kustomize renamed it.
    let list = format!(
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: discovery.mesh.gloo.solo.io/v1\n  kind: Mesh\n  metadata:\n    name: team-istiod-istio-system-cluster-1\n    namespace: apps\n    annotations:\n      internal.config.kubernetes.io/previousNames: istiod-istio-system-cluster-1,istiod-istio-system-cluster-1\n      internal.config.kubernetes.io/previousNamespaces: gloo-mesh,gloo-mesh\n      config.kubernetes.io/origin: |\n        path: ../gloo-mesh/meshes.yaml\n  spec:\n    istio:\n      installation: {{namespace: istio-system, cluster: cluster-1}}\n- apiVersion: networking.mesh.gloo.solo.io/v1\n  kind: VirtualMesh\n  metadata:\n    name: vm\n    namespace: gloo-mesh\n    annotations:\n      config.kubernetes.io/local-config: \"true\"\n  spec:\n    meshes:\n    - {{name: istiod-istio-system-cluster-1, namespace: gloo-mesh}}\n    globalAccessPolicy: ENABLED\n- apiVersion: discovery.mesh.gloo.solo.io/v1\n  kind: Destination\n  metadata:\n    name: reviews\n    namespace: gloo-mesh\n    annotations:\n      config.kubernetes.io/local-config: \"true\"\n  spec:\n    mesh: {{name: istiod-istio-system-cluster-1, namespace: gloo-mesh}}\n    kubeService:\n      ref: {{name: reviews, namespace: bookinfo, clusterName: cluster-1}}\n      workloadSelectorLabels: {{app: reviews}}\n      ports:\n      - {{port: 9080, name: http, protocol: TCP}}\nfunctionConfig:\n{}",
        indent(
            &std::fs::read_to_string(root().join("functions/kustomize/transformer/vmesh.yaml"))
                .unwrap()
        )
    );
    let output = crate::kpt::run_with_stdin(
        sandbox.command("vmesh").current_dir(sandbox.path()),
        list.as_bytes(),
    );
    assert_success(&output, "vmesh (KRM transformer)");
    let results = text(&output.stdout);
    assert!(results.contains(WARNING), "{results}");
    assert!(
        results.contains("name: istiod-istio-system-cluster-1")
            && results.contains("path: ../gloo-mesh/meshes.yaml")
            && !results.contains("team-istiod-istio-system-cluster-1 is not marked"),
        "named by its own name and file:\n{results}"
    );

    // vmesh render prints only generated objects: accepted, no warning.
    let output = run(sandbox
        .command("vmesh")
        .args(["render", "--cluster", "cluster-1"])
        .arg(kustomize.join("gloo-mesh")));
    assert_success(&output, "vmesh render");
    assert!(
        !text(&output.stderr).contains("not marked"),
        "{}",
        text(&output.stderr)
    );

    // An unknown cluster fails on every host.
    let config = package.join("vmesh.yaml");
    let original = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        original.replace("spec: {}", "spec:\n  cluster: cluster-9"),
    )
    .unwrap();
    let output = run(sandbox
        .command("kpt")
        .args(["fn", "render", ".", "--allow-exec"])
        .current_dir(&package));
    assert!(!output.status.success(), "kpt accepted cluster-9");
    let transformer = kustomize.join("transformer/vmesh.yaml");
    let text_config = std::fs::read_to_string(&transformer).unwrap();
    std::fs::write(&transformer, text_config.replace("cluster-1", "cluster-9")).unwrap();
    let output = kustomize_build(&sandbox, &kustomize.join("transformer"), &plugins);
    assert!(!output.status.success(), "kustomize accepted cluster-9");
    let output = run(sandbox
        .command("vmesh")
        .args(["render", "--cluster", "cluster-9"])
        .arg(kustomize.join("gloo-mesh")));
    assert_fails(&output, "cluster \"cluster-9\" has no outputs");
}

fn indent(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("  {l}\n"))
        .collect()
}

/// `kubectl kustomize` of `dir` with vmesh's plugins (and no user plugin home).
fn kustomize_build(sandbox: &Sandbox, dir: &Path, plugins: &Path) -> std::process::Output {
    run(sandbox
        .command("kubectl")
        .args(["kustomize", "--enable-alpha-plugins"])
        .arg(dir)
        .env("KUSTOMIZE_PLUGIN_HOME", plugins)
        .env_remove("XDG_CONFIG_HOME"))
}
