//! `vmesh render`: the example repository `functions/gitops` (Gloo Mesh resources in
//! `meshes/`, the committed output in `clusters/`), written, checked and printed.

use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::Output;

fn vmesh(sandbox: &Sandbox, cwd: &Path, args: &[&str]) -> Output {
    run(sandbox.command("vmesh").args(args).current_dir(cwd))
}

fn gitops(sandbox: &Sandbox) -> PathBuf {
    sandbox.copy(&root().join("functions/gitops"), "gitops")
}

/// The files of one cluster directory joined as one stream, in path order: what the
/// stream of that cluster's objects must be.
pub fn slice(clusters: &Path, cluster: &str) -> String {
    tree(&clusters.join(cluster))
        .into_values()
        .collect::<Vec<_>>()
        .join("---\n")
}

#[test]
fn the_committed_example_output_is_up_to_date() {
    let sandbox = Sandbox::new();
    let repo = root();
    if std::env::var_os("UPDATE_EXPECTED").is_some() {
        let output = vmesh(
            &sandbox,
            &repo,
            &[
                "render",
                "functions/gitops/meshes",
                "--out",
                "functions/gitops/clusters",
            ],
        );
        assert_success(&output, "vmesh render --out");
    }
    let output = vmesh(
        &sandbox,
        &repo,
        &[
            "render",
            "functions/gitops/meshes",
            "--out",
            "functions/gitops/clusters",
            "--check",
        ],
    );
    assert_success(&output, "vmesh render --check on the committed example");
    assert_eq!(text(&output.stdout), "", "no diff");
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("vmesh: functions/gitops/clusters is up to date (12 file(s))"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "vmesh: note: functions/gitops/meshes/owners.yaml: not a Kubernetes resource file"
        ),
        "non-Kubernetes YAML is skipped with a note: {stderr}"
    );
}

#[test]
fn render_writes_the_layout_check_reports_drift_and_stale_files_go() {
    let sandbox = Sandbox::new();
    let repo = gitops(&sandbox);
    let committed = tree(&repo.join("clusters"));
    std::fs::remove_dir_all(repo.join("clusters")).unwrap();

    let output = vmesh(&sandbox, &repo, &["render", "meshes", "--out", "clusters"]);
    assert_success(&output, "vmesh render --out");
    assert_eq!(text(&output.stdout), "");
    assert_eq!(
        tree(&repo.join("clusters")),
        committed,
        "same layout and bytes as committed"
    );
    let again = vmesh(&sandbox, &repo, &["render", "meshes", "--out", "clusters"]);
    assert!(
        text(&again.stderr).contains("clusters: 0 file(s) written, 0 removed, 12 unchanged"),
        "{}",
        text(&again.stderr)
    );

    // Drift: the reviews Destination is gone and a gateway moved.
    remove_document(
        &repo.join("meshes/gloo-mesh/destinations.yaml"),
        "reviews-bookinfo-cluster-1",
    );
    let destinations = repo.join("meshes/gloo-mesh/destinations.yaml");
    let moved = std::fs::read_to_string(&destinations)
        .unwrap()
        .replace("35.4.5.6", "35.4.5.7");
    std::fs::write(&destinations, moved).unwrap();
    let check = vmesh(
        &sandbox,
        &repo,
        &["render", "meshes", "--out", "clusters", "--check"],
    );
    assert_eq!(check.status.code(), Some(1), "drift exits 1");
    let diff = text(&check.stdout);
    assert!(
        diff.contains("--- a/clusters/cluster-1/bookinfo/serviceentry.yaml\n+++ /dev/null"),
        "{diff}"
    );
    assert!(
        diff.contains("-  - address: 35.4.5.6\n+  - address: 35.4.5.7"),
        "{diff}"
    );
    assert!(
        text(&check.stderr).contains("clusters is out of date: "),
        "{}",
        text(&check.stderr)
    );
    assert_eq!(
        tree(&repo.join("clusters")),
        committed,
        "--check writes nothing"
    );

    let output = vmesh(&sandbox, &repo, &["render", "meshes", "--out", "clusters"]);
    assert_success(&output, "vmesh render --out after the change");
    assert!(
        !repo.join("clusters/cluster-1/bookinfo").exists(),
        "emptied directories go"
    );
    let check = vmesh(
        &sandbox,
        &repo,
        &["render", "meshes", "--out", "clusters", "--check"],
    );
    assert_success(&check, "--check after rendering");
}

#[test]
fn render_never_deletes_or_overwrites_files_it_did_not_write() {
    let sandbox = Sandbox::new();
    let repo = gitops(&sandbox);
    let user_files = [
        ("clusters/README.md", "# rendered by vmesh\n"),
        ("clusters/cluster-1/kustomization.yaml", "resources: []\n"),
        (
            "clusters/cluster-1/istio-system/telemetry.yaml",
            "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata:\n  name: mesh-default\n  namespace: istio-system\n",
        ),
        (
            "clusters/cluster-9/istio-system/gateway.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
        ),
    ];
    for (path, content) in user_files {
        std::fs::create_dir_all(repo.join(path).parent().unwrap()).unwrap();
        std::fs::write(repo.join(path), content).unwrap();
    }
    remove_document(
        &repo.join("meshes/gloo-mesh/destinations.yaml"),
        "reviews-bookinfo-cluster-1",
    );
    let output = vmesh(&sandbox, &repo, &["render", "meshes", "--out", "clusters"]);
    assert_success(&output, "vmesh render --out");
    for (path, content) in user_files {
        assert_eq!(
            std::fs::read_to_string(repo.join(path)).unwrap(),
            content,
            "{path}"
        );
    }
    let check = vmesh(
        &sandbox,
        &repo,
        &["render", "meshes", "--out", "clusters", "--check"],
    );
    assert_success(&check, "user files are not drift");

    // A user file where vmesh would write: refused, left alone.
    let gateway = repo.join("clusters/cluster-2/istio-system/gateway.yaml");
    std::fs::write(
        &gateway,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mine\n",
    )
    .unwrap();
    let output = vmesh(&sandbox, &repo, &["render", "meshes", "--out", "clusters"]);
    assert_fails(
        &output,
        "clusters/cluster-2/istio-system/gateway.yaml exists and was not written by vmesh",
    );
    assert!(
        std::fs::read_to_string(&gateway)
            .unwrap()
            .contains("name: mine")
    );
}

#[test]
fn render_prints_streams_and_one_clusters_slice() {
    let sandbox = Sandbox::new();
    let repo = gitops(&sandbox);
    let clusters = repo.join("clusters");
    let all = vmesh(&sandbox, &repo, &["render", "meshes"]);
    assert_success(&all, "vmesh render");
    assert_eq!(
        text(&all.stdout),
        format!(
            "{}---\n{}",
            slice(&clusters, "cluster-1"),
            slice(&clusters, "cluster-2")
        )
    );
    let one = vmesh(
        &sandbox,
        &repo.join("meshes"),
        &["render", "--cluster", "cluster-2"],
    );
    assert_success(&one, "vmesh render --cluster");
    assert_eq!(text(&one.stdout), slice(&clusters, "cluster-2"));

    let written = vmesh(
        &sandbox,
        &repo,
        &[
            "render",
            "meshes",
            "--cluster",
            "cluster-2",
            "--out",
            "only",
        ],
    );
    assert_success(&written, "vmesh render --cluster --out");
    assert_eq!(tree(&repo.join("only")).len(), 6);
    assert!(
        repo.join("only/cluster-2/istio-system/gateway.yaml")
            .is_file()
    );

    let unknown = vmesh(
        &sandbox,
        &repo,
        &["render", "meshes", "--cluster", "cluster-9"],
    );
    // Never an empty stream with exit 0.
    assert_fails(
        &unknown,
        "cluster \"cluster-9\" has no outputs (clusters in the Meshes: cluster-1, cluster-2)",
    );
}

#[test]
fn krmignore_is_honoured_and_errors_print_nothing() {
    let sandbox = Sandbox::new();
    let repo = gitops(&sandbox);
    // The ignored draft references a Mesh that does not exist: read, it fails the render.
    std::fs::remove_file(repo.join("meshes/.krmignore")).unwrap();
    let output = vmesh(&sandbox, &repo, &["render", "meshes", "--out", "clusters"]);
    assert_fails(
        &output,
        "[error] VirtualMesh/gloo-mesh/virtual-mesh-v2 (meshes/drafts/virtualmesh-v2.yaml) spec.meshes[0]",
    );
    assert_fails(&output, "vmesh: 1 error(s); nothing was rendered");
    assert_eq!(
        tree(&repo.join("clusters")),
        tree(&root().join("functions/gitops/clusters")),
        "a failed render writes nothing"
    );

    // YAML that does not parse is an error that names the file and the way out.
    std::fs::write(
        repo.join("meshes/values.yaml"),
        "replicas: {{ .Values.replicas }}\n",
    )
    .unwrap();
    std::fs::write(repo.join("meshes/.krmignore"), "drafts/\n").unwrap();
    let output = vmesh(&sandbox, &repo, &["render", "meshes"]);
    assert_fails(&output, "cannot read meshes/values.yaml");
    assert_fails(&output, ".krmignore");
    std::fs::write(repo.join("meshes/.krmignore"), "drafts/\nvalues.yaml\n").unwrap();
    assert_success(
        &vmesh(&sandbox, &repo, &["render", "meshes"]),
        "values.yaml ignored",
    );

    // Nothing to render at all.
    let output = vmesh(&sandbox, &repo, &["render", "clusters"]);
    assert_fails(&output, "no VirtualMesh found in clusters");
}

#[test]
fn flags_override_the_configuration_found_in_the_inputs() {
    let sandbox = Sandbox::new();
    let repo = gitops(&sandbox);
    let output = vmesh(
        &sandbox,
        &repo,
        &[
            "render",
            "meshes",
            "--cluster",
            "cluster-1",
            "--istio-api-version",
            "v1beta1",
            "--tls-mode",
            "SIMPLE",
        ],
    );
    assert_success(&output, "vmesh render with flags");
    let objects = documents(&text(&output.stdout));
    assert!(
        objects
            .iter()
            .all(|o| o["apiVersion"].as_str().unwrap().ends_with("/v1beta1"))
    );
    assert!(text(&output.stdout).contains("mode: SIMPLE"));

    let bad = vmesh(
        &sandbox,
        &repo,
        &["render", "meshes", "--tls-mode", "MUTUALLY"],
    );
    assert_fails(&bad, "vmesh: --tls-mode: ");

    // Two configurations are ambiguous; --config picks one.
    std::fs::copy(
        repo.join("meshes/vmesh.yaml"),
        repo.join("meshes/gloo-mesh/vmesh-2.yaml"),
    )
    .unwrap();
    let two = vmesh(&sandbox, &repo, &["render", "meshes"]);
    assert_fails(&two, "found 2 VirtualMeshRenderer configurations");
    let chosen = vmesh(
        &sandbox,
        &repo,
        &["render", "meshes", "--config", "meshes/vmesh.yaml"],
    );
    assert_success(&chosen, "--config");

    std::fs::write(
        repo.join("meshes/gloo-mesh/vmesh-2.yaml"),
        "apiVersion: vmesh.dev/v1alpha1\nkind: VirtualMeshRenderer\nmetadata:\n  name: x\nspec:\n  clustr: a\n",
    )
    .unwrap();
    let bad = vmesh(
        &sandbox,
        &repo,
        &[
            "render",
            "meshes",
            "--config",
            "meshes/gloo-mesh/vmesh-2.yaml",
        ],
    );
    assert_fails(
        &bad,
        "(meshes/gloo-mesh/vmesh-2.yaml) spec.clustr: functionConfig: unknown field",
    );
}

/// Each cluster's Istio settings go to `OUT/istio-settings/<cluster>.yaml`, beside the
/// clusters' directories (nothing that syncs `OUT/<cluster>/` applies them), as the same
/// ConfigMap kpt writes; `--cluster` touches that cluster's file only; a cluster named like
/// the settings directory is refused rather than mixed into it.
#[test]
fn render_writes_each_clusters_istio_settings_beside_the_clusters() {
    let sandbox = Sandbox::new();
    let repo = gitops(&sandbox);
    std::fs::remove_dir_all(repo.join("clusters")).unwrap();
    let output = vmesh(&sandbox, &repo, &["render", "meshes", "--out", "clusters"]);
    assert_success(&output, "vmesh render --out");
    let written = tree(&repo.join("clusters"));
    for cluster in ["cluster-1", "cluster-2"] {
        let settings = &written[&format!("istio-settings/{cluster}.yaml")];
        assert!(
            settings.contains(&format!("vmesh.dev/istio-settings-cluster: {cluster}\n"))
                && settings.contains("ISTIO_META_DNS_CAPTURE: \"true\""),
            "{settings}"
        );
        assert!(
            !written
                .keys()
                .any(|path| path.starts_with(&format!("{cluster}/")) && path.contains("settings")),
            "no settings inside a cluster's directory: {:?}",
            written.keys()
        );
    }
    // The same objects as the kpt package's ResourceList output.
    let kpt_style = vmesh(&sandbox, &repo, &["render", "meshes"]);
    assert_success(&kpt_style, "vmesh render");
    assert!(
        !text(&kpt_style.stdout).contains("kind: ConfigMap"),
        "a printed stream (Argo CD) carries no settings"
    );

    // --cluster: a stale settings file of another cluster stays, this cluster's is rewritten.
    let other = repo.join("clusters/istio-settings/cluster-1.yaml");
    let mine = repo.join("clusters/istio-settings/cluster-2.yaml");
    let other_before = std::fs::read_to_string(&other).unwrap();
    std::fs::write(&mine, "# hand-edited\n").unwrap();
    let slice_args = [
        "render",
        "meshes",
        "--cluster",
        "cluster-2",
        "--out",
        "clusters",
    ];
    let sliced = vmesh(&sandbox, &repo, &slice_args);
    // A file vmesh did not write (a comment only) is never overwritten.
    assert_fails(
        &sliced,
        "istio-settings/cluster-2.yaml exists and was not written by vmesh",
    );
    std::fs::remove_file(&mine).unwrap();
    let sliced = vmesh(&sandbox, &repo, &slice_args);
    assert_success(&sliced, "vmesh render --cluster --out");
    assert_eq!(std::fs::read_to_string(&other).unwrap(), other_before);
    assert_eq!(
        std::fs::read_to_string(&mine).unwrap(),
        written["istio-settings/cluster-2.yaml"]
    );
}

#[test]
fn a_cluster_named_like_the_settings_directory_is_refused_with_out() {
    let sandbox = Sandbox::new();
    let repo = gitops(&sandbox);
    for file in [
        "meshes/gloo-mesh/meshes.yaml",
        "meshes/gloo-mesh/destinations.yaml",
        "meshes/gloo-mesh/virtualmesh.yaml",
    ] {
        let path = repo.join(file);
        let renamed = std::fs::read_to_string(&path)
            .unwrap()
            .replace("cluster-2", "istio-settings");
        std::fs::write(&path, renamed).unwrap();
    }
    let before = tree(&repo.join("clusters"));
    let output = vmesh(&sandbox, &repo, &["render", "meshes", "--out", "clusters"]);
    assert_fails(
        &output,
        "cannot write cluster istio-settings: OUT/istio-settings/ holds every cluster's Istio settings",
    );
    assert_eq!(tree(&repo.join("clusters")), before, "nothing written");
}
