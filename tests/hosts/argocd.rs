//! Argo CD: the generate command of `functions/argocd/plugin.yaml`, run the way the CMP
//! server runs it for `functions/argocd/application.yaml`: in the Application's source
//! directory of a fresh copy of the repository, with the CMP environment and nothing else.

use crate::render::slice;
use crate::support::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Output;

fn read_yaml(path: &Path) -> Value {
    documents(&std::fs::read_to_string(path).unwrap()).remove(0)
}

/// The plugin config, checked the way the CMP server validates it.
fn plugin() -> Value {
    let plugin = read_yaml(&root().join("functions/argocd/plugin.yaml"));
    assert_eq!(plugin["apiVersion"], "argoproj.io/v1alpha1");
    assert_eq!(plugin["kind"], "ConfigManagementPlugin");
    assert!(
        plugin["metadata"]["name"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
    );
    assert!(
        plugin["spec"]["generate"]["command"]
            .as_array()
            .is_some_and(|c| !c.is_empty()),
        "spec.generate.command is required"
    );
    plugin
}

/// The Application's settings as the CMP server exports them, `overrides` on top.
struct App {
    repo: PathBuf,
    path: String,
    env: Vec<(String, String)>,
}

fn application(sandbox: &Sandbox) -> App {
    let app = read_yaml(&root().join("functions/argocd/application.yaml"));
    let source = &app["spec"]["source"];
    assert_eq!(
        source["plugin"]["name"],
        plugin()["metadata"]["name"],
        "the Application names the plugin"
    );
    // The repo-server hands the plugin a copy of the whole repository.
    let repo = sandbox.path().join("repo");
    copy_dir(&root().join("functions"), &repo.join("functions"));
    let parameters = source["plugin"]["parameters"].clone();
    let mut env: Vec<(String, String)> = vec![
        (
            "ARGOCD_APP_NAME".into(),
            app["metadata"]["name"].as_str().unwrap().into(),
        ),
        ("ARGOCD_APP_NAMESPACE".into(), "istio-system".into()),
        (
            "ARGOCD_APP_PROJECT_NAME".into(),
            app["spec"]["project"].as_str().unwrap().into(),
        ),
        (
            "ARGOCD_APP_REVISION".into(),
            "4f1c7a9d2e6b8c0a1f3e5d7c9b2a4e6f8d0c1b3a".into(),
        ),
        ("ARGOCD_APP_REVISION_SHORT".into(), "4f1c7a9".into()),
        ("ARGOCD_APP_REVISION_SHORT_8".into(), "4f1c7a9d".into()),
        (
            "ARGOCD_APP_SOURCE_PATH".into(),
            source["path"].as_str().unwrap().into(),
        ),
        (
            "ARGOCD_APP_SOURCE_REPO_URL".into(),
            source["repoURL"].as_str().unwrap().into(),
        ),
        (
            "ARGOCD_APP_SOURCE_TARGET_REVISION".into(),
            source["targetRevision"].as_str().unwrap().into(),
        ),
        ("KUBE_VERSION".into(), "1.32.4".into()),
        (
            "KUBE_API_VERSIONS".into(),
            "v1,apps/v1,networking.istio.io/v1,security.istio.io/v1".into(),
        ),
        ("ARGOCD_APP_PARAMETERS".into(), parameters.to_string()),
    ];
    for parameter in parameters.as_array().unwrap() {
        let name = parameter["name"]
            .as_str()
            .unwrap()
            .to_uppercase()
            .replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "_");
        env.push((
            format!("PARAM_{name}"),
            parameter["string"].as_str().unwrap().into(),
        ));
    }
    App {
        repo,
        path: source["path"].as_str().unwrap().into(),
        env,
    }
}

/// Runs spec.generate.command + args as the CMP server does: argv as written, cwd the
/// Application's path, the sidecar's environment plus the Application's.
fn generate(sandbox: &Sandbox, app: &App) -> Output {
    let plugin = plugin();
    let generate = &plugin["spec"]["generate"];
    let argv: Vec<String> = generate["command"]
        .as_array()
        .unwrap()
        .iter()
        .chain(generate["args"].as_array().into_iter().flatten())
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    let mut command = sandbox.command(&argv[0]);
    command
        .args(&argv[1..])
        .current_dir(app.repo.join(&app.path))
        .env_clear()
        .env("PATH", sandbox.path_env())
        .env("HOME", sandbox.path())
        .envs(app.env.iter().map(|(k, v)| (k, v)));
    run(&mut command)
}

fn set(app: &mut App, name: &str, value: Option<&str>) {
    app.env.retain(|(k, _)| k != name);
    if let Some(value) = value {
        app.env.push((name.into(), value.into()));
    }
}

#[test]
fn generate_prints_the_applications_cluster_slice_as_a_plain_stream() {
    let sandbox = Sandbox::new();
    let app = application(&sandbox);
    let output = generate(&sandbox, &app);
    assert_success(&output, "the plugin's generate command");
    let stdout = text(&output.stdout);
    assert_eq!(
        stdout,
        slice(&root().join("functions/gitops/clusters"), "cluster-1"),
        "the Application's slice: what `vmesh render --out` commits for cluster-1"
    );
    let objects = documents(&stdout);
    assert!(objects.len() >= 9);
    for object in &objects {
        let key = object_key(object);
        assert!(
            object["apiVersion"].is_string()
                && object["kind"].is_string()
                && object["metadata"]["name"].is_string(),
            "{key}: not an object Argo CD can apply"
        );
        assert_ne!(object["kind"], "ResourceList");
        assert_eq!(
            object["metadata"]["annotations"]["vmesh.dev/cluster"], "cluster-1",
            "{key}"
        );
    }
    assert!(
        !stdout.contains("config.kubernetes.io/"),
        "no kpt/kustomize annotations"
    );
    assert!(!stdout.contains("results:"), "no results");
}

#[test]
fn the_plugin_env_can_name_the_cluster_instead_and_both_must_agree() {
    let sandbox = Sandbox::new();
    let mut app = application(&sandbox);
    set(&mut app, "PARAM_CLUSTER", None);
    set(&mut app, "ARGOCD_APP_PARAMETERS", Some("[]"));
    set(&mut app, "ARGOCD_ENV_CLUSTER", Some("cluster-2"));
    let output = generate(&sandbox, &app);
    assert_success(&output, "generate with ARGOCD_ENV_CLUSTER");
    assert_eq!(
        text(&output.stdout),
        slice(&root().join("functions/gitops/clusters"), "cluster-2")
    );

    set(&mut app, "PARAM_CLUSTER", Some("cluster-1"));
    set(
        &mut app,
        "ARGOCD_APP_PARAMETERS",
        Some(&json!([{"name": "cluster", "string": "cluster-1"}]).to_string()),
    );
    let output = generate(&sandbox, &app);
    assert_fails(&output, "disagree");
}

#[test]
fn failures_exit_non_zero_with_a_reason_and_never_an_empty_stream() {
    let sandbox = Sandbox::new();
    let mut app = application(&sandbox);

    set(&mut app, "PARAM_CLUSTER", Some("cluster-9"));
    assert_fails(
        &generate(&sandbox, &app),
        "cluster \"cluster-9\" has no outputs (clusters in the Meshes: cluster-1, cluster-2)",
    );

    set(&mut app, "PARAM_CLUSTER", None);
    assert_fails(
        &generate(&sandbox, &app),
        "no cluster: set the plugin parameter `cluster`",
    );

    set(&mut app, "PARAM_CLUSTER", Some("cluster-1"));
    let vm = app.repo.join(&app.path).join("gloo-mesh/virtualmesh.yaml");
    let text_before = std::fs::read_to_string(&vm).unwrap();
    std::fs::write(
        &vm,
        text_before.replace("globalAccessPolicy: ENABLED", "globalAccessPolicy: MAYBE"),
    )
    .unwrap();
    assert_fails(
        &generate(&sandbox, &app),
        "(gloo-mesh/virtualmesh.yaml) spec.globalAccessPolicy",
    );

    std::fs::write(&vm, "").unwrap();
    assert_fails(&generate(&sandbox, &app), "no VirtualMesh found in .");
}

#[test]
fn the_sidecar_patch_adds_the_plugin_container_and_the_image_carries_its_config() {
    require("kubectl");
    let sandbox = Sandbox::new();
    let dir = sandbox.path().join("argocd");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(
        root().join("functions/argocd/argocd-repo-server-patch.yaml"),
        dir.join("patch.yaml"),
    )
    .unwrap();
    // The parts of Argo CD's own repo-server Deployment the patch relies on.
    std::fs::write(
        dir.join("repo-server.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: argocd-repo-server\nspec:\n  template:\n    spec:\n      containers:\n      - name: argocd-repo-server\n        image: quay.io/argoproj/argocd:v3.0.0\n      volumes:\n      - name: var-files\n        emptyDir: {}\n      - name: plugins\n        emptyDir: {}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("kustomization.yaml"),
        "resources:\n- repo-server.yaml\npatches:\n- path: patch.yaml\n",
    )
    .unwrap();
    let output = run(sandbox.command("kubectl").args(["kustomize"]).arg(&dir));
    assert_success(&output, "kubectl kustomize with the sidecar patch");
    let deployment = documents(&text(&output.stdout)).remove(0);
    let spec = &deployment["spec"]["template"]["spec"];
    let containers = spec["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 2, "the repo-server and the vmesh sidecar");
    let sidecar = containers.iter().find(|c| c["name"] == "vmesh").unwrap();
    assert_eq!(sidecar["command"][0], "/var/run/argocd/argocd-cmp-server");
    assert_eq!(sidecar["securityContext"]["runAsUser"], 999);
    let mounts: Vec<&str> = sidecar["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap())
        .collect();
    for path in ["/var/run/argocd", "/home/argocd/cmp-server/plugins", "/tmp"] {
        assert!(mounts.contains(&path), "{path} is not mounted: {mounts:?}");
    }
    let volumes = spec["volumes"].as_array().unwrap();
    assert!(volumes.iter().any(|v| v["name"] == "vmesh-tmp"));

    // The image (functions/Dockerfile) puts plugin.yaml where the CMP server reads it and
    // vmesh on the PATH the generate command uses. Static checks: no docker daemon here.
    let dockerfile = std::fs::read_to_string(root().join("functions/Dockerfile")).unwrap();
    assert!(
        dockerfile.contains(
            "COPY functions/argocd/plugin.yaml /home/argocd/cmp-server/config/plugin.yaml"
        )
    );
    assert!(
        dockerfile.contains("/usr/local/bin/vmesh")
            && dockerfile.contains("ENV PATH=/usr/local/bin")
    );
    assert_eq!(plugin()["spec"]["generate"]["command"][0], "vmesh");
}

/// Argo CD renders from Git alone: with a seed (from the sidecar's environment, as the
/// patch provides it), certificates are the same on every generate; without one, the
/// configured seed is missing and nothing is printed.
#[test]
fn seeded_certificates_are_identical_on_every_generate() {
    let sandbox = Sandbox::new();
    let mut app = application(&sandbox);
    let dir = app.repo.join(&app.path);
    let vm = dir.join("gloo-mesh/virtualmesh.yaml");
    let text_before = std::fs::read_to_string(&vm).unwrap();
    std::fs::write(
        &vm,
        text_before.replace(
            "  globalAccessPolicy: ENABLED\n",
            "  globalAccessPolicy: ENABLED\n  mtlsConfig:\n    shared:\n      rootCertificateAuthority:\n        generated:\n          rsaKeySizeBytes: 2048\n      intermediateCertOptions:\n        rsaKeySizeBytes: 2048\n",
        ),
    )
    .unwrap();
    let config = dir.join("vmesh.yaml");
    let text_before = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!(
            "{text_before}  caSeed: env:VMESH_CA_SEED\n  caNotBefore: \"2026-11-01T00:00:00Z\"\n"
        ),
    )
    .unwrap();

    assert_fails(&generate(&sandbox, &app), "VMESH_CA_SEED is not set");

    set(
        &mut app,
        "VMESH_CA_SEED",
        Some("8f2c4e6a0b1d3f5e7a9c2b4d6f8e0a1c3e5b7d9f1a2c4e6b8d0f2a4c6e8b0d2f"),
    );
    let first = generate(&sandbox, &app);
    assert_success(&first, "generate with a seed");
    let second = generate(&sandbox, &app);
    assert_success(&second, "generate again");
    assert_eq!(
        text(&first.stdout),
        text(&second.stdout),
        "certificates changed between generates"
    );
    let objects = documents(&text(&first.stdout));
    let secrets: Vec<&Value> = objects.iter().filter(|o| o["kind"] == "Secret").collect();
    assert_eq!(
        secrets.len(),
        1,
        "cluster-1's cacerts, and no root CA Secret"
    );
    assert_eq!(secrets[0]["metadata"]["name"], "cacerts");
    assert_eq!(secrets[0]["metadata"]["namespace"], "istio-system");
    assert!(secrets[0]["data"]["ca-key.pem"].is_string());
}
