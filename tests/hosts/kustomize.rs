//! kustomize: the examples in `functions/kustomize` built with the real
//! `kubectl kustomize --enable-alpha-plugins` (legacy exec plugins), and the KRM
//! exec-function form fed the ResourceList kustomize would send (kubectl's kustomize cannot
//! run exec functions: it has no `--enable-exec`).

use crate::kpt::run_with_stdin;
use crate::support::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

fn examples() -> PathBuf {
    root().join("functions/kustomize")
}

/// `vmesh kustomize install` into the sandbox: the plugin directory kustomize then uses.
fn install(sandbox: &Sandbox) -> PathBuf {
    let home = sandbox.path().join("plugins");
    let output = run(sandbox
        .command("vmesh")
        .args(["kustomize", "install", "--plugin-home"])
        .arg(&home));
    assert_success(&output, "vmesh kustomize install");
    assert!(
        text(&output.stdout).contains("virtualmeshgenerator/VirtualMeshGenerator ->"),
        "{}",
        text(&output.stdout)
    );
    home
}

fn build(sandbox: &Sandbox, plugins: &Path, dir: &Path) -> Output {
    require("kubectl");
    run(sandbox
        .command("kubectl")
        .args(["kustomize", "--enable-alpha-plugins"])
        .arg(dir)
        .env("KUSTOMIZE_PLUGIN_HOME", plugins)
        .env_remove("XDG_CONFIG_HOME"))
}

fn build_ok(sandbox: &Sandbox, plugins: &Path, dir: &Path) -> String {
    let output = build(sandbox, plugins, dir);
    assert_success(&output, &format!("kubectl kustomize {}", dir.display()));
    text(&output.stdout)
}

fn build_fails(sandbox: &Sandbox, plugins: &Path, dir: &Path) -> String {
    let output = build(sandbox, plugins, dir);
    assert!(
        !output.status.success(),
        "kubectl kustomize {} succeeded:\n{}",
        dir.display(),
        text(&output.stdout)
    );
    assert_eq!(text(&output.stdout), "", "a failed build printed manifests");
    text(&output.stderr)
}

/// Every generated object stays in a mesh or service namespace, with the cluster's
/// annotation. Local-config items (the mesh's Istio settings) are not part of the build:
/// kustomize drops them from its output.
fn assert_istio_objects(objects: &[Value], cluster: &str, prefix: &str) {
    let generated: Vec<&Value> = objects
        .iter()
        .filter(|o| is_generated(o))
        .filter(|o| o["metadata"]["annotations"]["config.kubernetes.io/local-config"] != "true")
        .collect();
    assert!(
        generated.len() >= 9,
        "too few generated objects: {}",
        generated.len()
    );
    for object in generated {
        let key = object_key(object);
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or("");
        assert!(
            namespace == "istio-system" || namespace == "bookinfo",
            "{key}: left the mesh's namespaces"
        );
        assert_eq!(
            object["metadata"]["annotations"]["vmesh.dev/cluster"], cluster,
            "{key}"
        );
        let name = object["metadata"]["name"].as_str().unwrap();
        assert!(
            name.starts_with(prefix),
            "{key}: expected the prefix {prefix:?}"
        );
    }
}

/// A kustomize build carries no kpt or kustomize bookkeeping annotations.
fn assert_clean_build(output: &str) {
    for marker in [
        "config.kubernetes.io/path",
        "config.kubernetes.io/index",
        "kustomize.config.k8s.io",
        "internal.config.kubernetes.io",
    ] {
        assert!(!output.contains(marker), "{marker} in the build:\n{output}");
    }
}

fn no_gloo_resources(objects: &[Value]) {
    for object in objects {
        let api_version = object["apiVersion"].as_str().unwrap_or("");
        assert!(
            !api_version.contains("mesh.gloo.solo.io") && !api_version.contains("vmesh.dev"),
            "{}: a Gloo Mesh or vmesh config object in the build",
            object_key(object)
        );
    }
}

#[test]
fn generator_builds_one_clusters_istio_configuration() {
    let sandbox = Sandbox::new();
    let plugins = install(&sandbox);
    let output = build_ok(&sandbox, &plugins, &examples().join("generator"));
    expect_file(&examples().join("generator/expected.yaml"), &output);
    assert_clean_build(&output);
    let objects = documents(&output);
    assert!(
        objects.iter().all(is_generated),
        "a generator prints only its objects"
    );
    assert_istio_objects(&objects, "cluster-1", "");
    no_gloo_resources(&objects);
}

#[test]
fn transformer_keeps_istio_namespaces_and_names_under_namespace_and_name_prefix() {
    let sandbox = Sandbox::new();
    let plugins = install(&sandbox);
    let dir = examples().join("transformer");
    let output = build_ok(&sandbox, &plugins, &dir);
    expect_file(&dir.join("expected.yaml"), &output);
    assert_clean_build(&output);
    let objects = documents(&output);
    assert_istio_objects(&objects, "cluster-1", "");
    no_gloo_resources(&objects);
    let apps: Vec<&Value> = objects.iter().filter(|o| !is_generated(o)).collect();
    assert_eq!(apps.len(), 2, "the app's ConfigMap and Deployment");
    for app in apps {
        assert_eq!(app["metadata"]["namespace"], "apps", "{}", object_key(app));
        assert!(
            app["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with("team-")
        );
    }

    // The plugin layout checked into functions/kustomize/plugin (wrapper scripts that run
    // `vmesh` from PATH) builds the same.
    let layout = build_ok(&sandbox, &examples().join("plugin"), &dir);
    assert_eq!(
        layout, output,
        "functions/kustomize/plugin differs from `vmesh kustomize install`"
    );
}

#[test]
fn overlay_patches_generated_objects_and_name_references_still_resolve() {
    let sandbox = Sandbox::new();
    let plugins = install(&sandbox);
    let dir = examples().join("overlay");
    let output = build_ok(&sandbox, &plugins, &dir);
    expect_file(&dir.join("expected.yaml"), &output);
    assert_clean_build(&output);
    let objects = documents(&output);
    assert_istio_objects(&objects, "cluster-1", "prod-");
    let find = |kind: &str| {
        objects
            .iter()
            .find(|o| o["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind}"))
    };
    assert_eq!(
        find("Gateway")["metadata"]["labels"]["team"],
        "mesh",
        "patch on a generated object"
    );
    assert_eq!(find("Gateway")["metadata"]["namespace"], "istio-system");
    assert_eq!(
        find("ConfigMap")["data"]["tier"],
        "prod",
        "patch on an app object"
    );
    assert_eq!(
        find("Deployment")["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]
            ["name"],
        "prod-team-reviews-settings",
        "kustomize's name references survive vmesh (its annotations pass through)"
    );
}

/// A copy of `functions/kustomize` to break in a test.
fn copy_examples(sandbox: &Sandbox) -> PathBuf {
    sandbox.copy(&examples(), "kustomize")
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no {from:?}", path.display());
    std::fs::write(path, text.replace(from, to)).unwrap();
}

#[test]
fn generator_in_a_kustomization_with_namespace_fails_with_the_way_out() {
    let sandbox = Sandbox::new();
    let plugins = install(&sandbox);
    let copy = copy_examples(&sandbox);
    edit(
        &copy.join("generator/kustomization.yaml"),
        "generators:",
        "namespace: apps\ngenerators:",
    );
    let stderr = build_fails(&sandbox, &plugins, &copy.join("generator"));
    assert!(
        stderr.contains("sets `namespace: apps`") && stderr.contains("VirtualMeshTransformer"),
        "{stderr}"
    );
}

#[test]
fn errors_fail_the_build_with_vmesh_messages() {
    let sandbox = Sandbox::new();
    let plugins = install(&sandbox);
    let copy = copy_examples(&sandbox);

    // An invalid VirtualMesh: both roles fail with the error result on stderr.
    let vm = copy.join("gloo-mesh/virtualmesh.yaml");
    edit(
        &vm,
        "name: istiod-istio-system-cluster-2",
        "name: no-such-mesh",
    );
    for role in ["generator", "transformer"] {
        let stderr = build_fails(&sandbox, &plugins, &copy.join(role));
        assert!(
            stderr.contains("[error] VirtualMesh/gloo-mesh/virtual-mesh")
                && stderr.contains("no-such-mesh")
                && stderr.contains("nothing was rendered"),
            "{role}: {stderr}"
        );
    }
    edit(
        &vm,
        "name: no-such-mesh",
        "name: istiod-istio-system-cluster-2",
    );

    // A misspelt cluster, in either role.
    for role in ["generator", "transformer"] {
        let config = copy.join(role).join("vmesh.yaml");
        edit(&config, "cluster: cluster-1", "cluster: cluster-9");
        let stderr = build_fails(&sandbox, &plugins, &copy.join(role));
        assert!(
            stderr.contains(
                "cluster \"cluster-9\" has no outputs (clusters in the Meshes: cluster-1, cluster-2)"
            ),
            "{role}: {stderr}"
        );
        edit(&config, "cluster: cluster-9", "cluster: cluster-1");
    }

    // Gloo Mesh resources that kustomize would emit.
    edit(
        &copy.join("gloo-mesh/meshes.yaml"),
        "    config.kubernetes.io/local-config: \"true\"\nspec:\n  istio:\n    installation:\n      namespace: istio-system\n      cluster: cluster-1",
        "    team: mesh\nspec:\n  istio:\n    installation:\n      namespace: istio-system\n      cluster: cluster-1",
    );
    // The same verdict as under kpt (tests/hosts/same_verdict.rs): accepted with a warning
    // (which kustomize shows only when a plugin fails); the build carries the Mesh on, and
    // vmesh still reads it under its own name (the VirtualMesh's reference resolves).
    let built = build_ok(&sandbox, &plugins, &copy.join("transformer"));
    assert!(
        built.contains("name: team-istiod-istio-system-cluster-1"),
        "{built}"
    );
    edit(
        &copy.join("gloo-mesh/meshes.yaml"),
        "    team: mesh\nspec:\n  istio:\n    installation:\n      namespace: istio-system\n      cluster: cluster-1",
        "    config.kubernetes.io/local-config: \"true\"\nspec:\n  istio:\n    installation:\n      namespace: istio-system\n      cluster: cluster-1",
    );

    // The roles swapped: each config kind refuses the other list.
    let as_transformer = copy.join("misplaced-generator");
    std::fs::create_dir(&as_transformer).unwrap();
    std::fs::copy(
        copy.join("generator/vmesh.yaml"),
        as_transformer.join("vmesh.yaml"),
    )
    .unwrap();
    std::fs::copy(
        copy.join("transformer/app.yaml"),
        as_transformer.join("app.yaml"),
    )
    .unwrap();
    std::fs::write(
        as_transformer.join("kustomization.yaml"),
        "resources:\n- app.yaml\ntransformers:\n- vmesh.yaml\n",
    )
    .unwrap();
    let stderr = build_fails(&sandbox, &plugins, &as_transformer);
    assert!(stderr.contains("listed under `transformers:`"), "{stderr}");
    let as_generator = copy.join("misplaced-transformer");
    std::fs::create_dir(&as_generator).unwrap();
    std::fs::copy(
        copy.join("transformer/vmesh.yaml"),
        as_generator.join("vmesh.yaml"),
    )
    .unwrap();
    std::fs::write(
        as_generator.join("kustomization.yaml"),
        "generators:\n- vmesh.yaml\n",
    )
    .unwrap();
    let stderr = build_fails(&sandbox, &plugins, &as_generator);
    assert!(
        stderr.contains("no VirtualMesh among the 0 resources"),
        "{stderr}"
    );
}

/// The annotations kyaml's reader and kustomize's function runner add to every item of
/// the ResourceList (`kio.ByteReader` indexes, `runtimeutil.FunctionFilter.setIds` ids).
fn reader_annotations(index: usize) -> Vec<(String, String)> {
    vec![
        ("config.kubernetes.io/index".into(), format!("'{index}'")),
        (
            "internal.config.kubernetes.io/index".into(),
            format!("'{index}'"),
        ),
        (
            "internal.config.kubernetes.io/id".into(),
            format!("'{}'", index + 1),
        ),
        ("config.k8s.io/id".into(), format!("'{}'", index + 1)),
    ]
}

/// `doc` (block YAML with metadata at column 0) with annotations appended.
fn annotate(doc: &str, extra: &[(String, String)]) -> String {
    let lines: Vec<&str> = doc.lines().collect();
    let extra: Vec<String> = extra.iter().map(|(k, v)| format!("    {k}: {v}")).collect();
    let mut out: Vec<String> = Vec::new();
    match lines.iter().position(|l| *l == "  annotations:") {
        Some(start) => {
            let end = (start + 1..lines.len())
                .find(|&i| {
                    let l = lines[i];
                    !l.trim().is_empty() && l.len() - l.trim_start().len() <= 2
                })
                .unwrap_or(lines.len());
            out.extend(lines[..end].iter().map(|l| l.to_string()));
            out.extend(extra);
            out.extend(lines[end..].iter().map(|l| l.to_string()));
        }
        None => {
            let metadata = lines.iter().position(|l| *l == "metadata:").unwrap();
            out.extend(lines[..=metadata].iter().map(|l| l.to_string()));
            out.push("  annotations:".into());
            out.extend(extra);
            out.extend(lines[metadata + 1..].iter().map(|l| l.to_string()));
        }
    }
    out.join("\n") + "\n"
}

/// The ResourceList kustomize's exec-function runner writes: items and functionConfig,
/// block style, as kyaml's `ByteWriter` wraps them.
fn wrap(items: &[String], function_config: &str) -> String {
    let indent = |doc: &str, first: &str| {
        doc.lines()
            .enumerate()
            .map(|(i, l)| match (i, l.is_empty()) {
                (0, _) => format!("{first}{l}\n"),
                (_, true) => "\n".to_string(),
                _ => format!("  {l}\n"),
            })
            .collect::<String>()
    };
    let mut out = String::from("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n");
    for item in items {
        out.push_str(&indent(item, "- "));
    }
    out.push_str("functionConfig:\n");
    out.push_str(&indent(function_config, "  "));
    out
}

/// The plugin config as kustomize hands it to an exec function: with local-config set.
fn function_config(dir: &Path) -> String {
    let config = std::fs::read_to_string(dir.join("vmesh.yaml")).unwrap();
    annotate(
        &config,
        &[(
            "config.kubernetes.io/local-config".into(),
            "\"true\"".into(),
        )],
    )
}

/// Runs vmesh as kustomize runs an exec function (cwd = the kustomization directory), on
/// `input`; checks the answer against `expected.yaml` and returns its items.
fn run_function(sandbox: &Sandbox, dir: &Path, input: &str) -> Vec<Value> {
    expect_file(&dir.join("resourcelist.yaml"), input);
    let mut vmesh = sandbox.command("vmesh");
    vmesh.current_dir(dir);
    let output = run_with_stdin(&mut vmesh, input.as_bytes());
    assert_success(
        &output,
        &format!("vmesh on {}/resourcelist.yaml", dir.display()),
    );
    let stdout = text(&output.stdout);
    expect_file(&dir.join("expected.yaml"), &stdout);
    let list = documents(&stdout).remove(0);
    assert_eq!(list["kind"], "ResourceList");
    assert!(
        list["results"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|r| r["severity"] != "error"),
        "{stdout}"
    );
    list["items"].as_array().unwrap().clone()
}

#[test]
fn krm_exec_transformer_answers_the_resource_list_kustomize_sends() {
    let sandbox = Sandbox::new();
    let dir = examples().join("krm-transformer");
    // What kustomize pipes to a transformer of this kustomization, taken from the real
    // kubectl kustomize with a probe plugin in vmesh's place (the KRM runner sends the
    // same resources, annotated by kyaml's reader).
    let probe = sandbox.path().join("probe");
    let plugin = probe.join("probe.dev/v1/probe/Probe");
    std::fs::create_dir_all(plugin.parent().unwrap()).unwrap();
    let captured = sandbox.path().join("stdin.yaml");
    std::fs::write(&plugin, format!("#!/bin/sh\ntee {}\n", captured.display())).unwrap();
    std::fs::set_permissions(&plugin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let copy = sandbox.copy(&examples(), "kustomize");
    let kustomization = copy.join("krm-transformer");
    std::fs::write(
        kustomization.join("probe.yaml"),
        "apiVersion: probe.dev/v1\nkind: Probe\nmetadata:\n  name: probe\n",
    )
    .unwrap();
    edit(
        &kustomization.join("kustomization.yaml"),
        "- vmesh.yaml",
        "- probe.yaml",
    );
    build_ok(&sandbox, &probe, &kustomization);
    let stream = std::fs::read_to_string(&captured).unwrap();
    let items: Vec<String> = stream
        .split("---\n")
        .filter(|d| !d.trim().is_empty())
        .enumerate()
        .map(|(i, doc)| annotate(doc, &reader_annotations(i)))
        .collect();
    let input = wrap(&items, &function_config(&dir));

    let out = run_function(&sandbox, &dir, &input);
    assert_istio_objects(&out, "cluster-2", "");
    // The app's ConfigMap comes back byte for byte, kustomize's annotations included.
    let config_map = items
        .iter()
        .find(|i| i.contains("kind: ConfigMap"))
        .unwrap();
    let indented: String = config_map
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("- {l}\n")
            } else {
                format!("  {l}\n")
            }
        })
        .collect();
    let stdout = std::fs::read_to_string(dir.join("expected.yaml")).unwrap();
    assert!(
        stdout.contains(&indented),
        "the ConfigMap changed:\n{indented}"
    );
    assert!(indented.contains("kustomize.config.k8s.io/id"));
    // The Gloo Mesh inputs are read under their original names.
    let mesh = out.iter().find(|o| o["kind"] == "VirtualMesh").unwrap();
    assert_eq!(mesh["metadata"]["name"], "virtual-mesh");
    assert_eq!(mesh["metadata"]["namespace"], "gloo-mesh");
}

#[test]
fn krm_exec_generator_answers_the_resource_list_kustomize_sends() {
    let sandbox = Sandbox::new();
    let dir = examples().join("krm-generator");
    // A generator gets its own config as the only item, and as functionConfig.
    let config = function_config(&dir);
    let input = wrap(&[annotate(&config, &reader_annotations(0))], &config);
    let out = run_function(&sandbox, &dir, &input);
    assert_eq!(
        out[0]["kind"], "VirtualMeshGenerator",
        "the echoed config comes first"
    );
    assert_eq!(
        out[0]["metadata"]["annotations"]["config.kubernetes.io/local-config"],
        "true"
    );
    let generated: Vec<Value> = out[1..].to_vec();
    assert!(generated.iter().all(is_generated));
    assert_istio_objects(&generated, "cluster-2", "");
}
