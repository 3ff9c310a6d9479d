//! The command line: help texts with real examples, `vmesh schema` against the example
//! configs, and the example packages' shared inputs.

use crate::support::*;
use std::path::Path;

fn help(sandbox: &Sandbox, args: &[&str]) -> String {
    let output = run(sandbox.command("vmesh").args(args).arg("--help"));
    assert_success(&output, &format!("vmesh {} --help", args.join(" ")));
    text(&output.stdout)
}

#[test]
fn every_help_shows_examples_that_name_real_files() {
    let sandbox = Sandbox::new();
    for args in [
        &[][..],
        &["fn"],
        &["render"],
        &["discover"],
        &["kustomize"],
        &["schema"],
    ] {
        let help = help(&sandbox, args);
        assert!(
            help.contains("Examples:"),
            "vmesh {args:?} --help has no examples:\n{help}"
        );
        // Every repository path an example names exists.
        for word in help.split_whitespace() {
            let path = word.trim_end_matches([',', ')', ';']);
            if path.starts_with("functions/") || path.starts_with("testdata/") {
                assert!(
                    root().join(path).exists(),
                    "vmesh {args:?} --help names {path}, which does not exist"
                );
            }
        }
    }
}

#[test]
fn the_examples_in_vmesh_render_help_run_as_written() {
    let sandbox = Sandbox::new();
    let help = help(&sandbox, &["render"]);
    let examples: Vec<&str> = help
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("vmesh render ") || l.starts_with("cd functions/"))
        .collect();
    assert_eq!(examples.len(), 4, "{help}");
    for example in examples {
        let example = example.replace(
            "/tmp/clusters",
            &sandbox.path().join("out").to_string_lossy(),
        );
        let output = run(sandbox
            .command("sh")
            .args(["-c", &example])
            .current_dir(root()));
        assert_success(&output, &example);
        if !example.contains("--out") {
            assert!(!output.stdout.is_empty(), "{example} printed nothing");
        }
    }
    assert!(
        sandbox
            .path()
            .join("out/cluster-1/istio-system/gateway.yaml")
            .is_file()
    );
}

fn schema(sandbox: &Sandbox, kind: &str) -> jsonschema::Validator {
    let output = run(sandbox.command("vmesh").args(["schema", kind]));
    assert_success(&output, "vmesh schema");
    let schema: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

fn assert_valid(validator: &jsonschema::Validator, path: &str) {
    let config = documents(&std::fs::read_to_string(root().join(path)).unwrap()).remove(0);
    let errors: Vec<String> = validator
        .iter_errors(&config)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{path}: {errors:?}");
}

#[test]
fn schemas_accept_every_example_config_and_reject_unknown_keys() {
    let sandbox = Sandbox::new();
    let renderer = schema(&sandbox, "VirtualMeshRenderer");
    assert_valid(&renderer, "functions/kpt/vmesh.yaml");
    assert_valid(&renderer, "functions/gitops/meshes/vmesh.yaml");
    let generator = schema(&sandbox, "VirtualMeshGenerator");
    assert_valid(&generator, "functions/kustomize/generator/vmesh.yaml");
    assert_valid(&generator, "functions/kustomize/krm-generator/vmesh.yaml");
    let transformer = schema(&sandbox, "VirtualMeshTransformer");
    assert_valid(&transformer, "functions/kustomize/transformer/vmesh.yaml");
    assert_valid(
        &transformer,
        "functions/kustomize/krm-transformer/vmesh.yaml",
    );

    let wrong = serde_json::json!({
        "apiVersion": "vmesh.dev/v1alpha1", "kind": "VirtualMeshTransformer",
        "metadata": {"name": "v"}, "inputs": ["x"], "spec": {"cluster": "c"}
    });
    assert!(!transformer.is_valid(&wrong), "a transformer has no inputs");
    assert!(
        !generator.is_valid(&serde_json::json!({
            "apiVersion": "vmesh.dev/v1alpha1", "kind": "VirtualMeshGenerator",
            "metadata": {"name": "v"}, "inputs": ["x"], "spec": {}
        })),
        "a generator needs a cluster"
    );
    let default = run(sandbox.command("vmesh").arg("schema"));
    assert!(text(&default.stdout).contains("\"const\": \"VirtualMeshRenderer\""));
}

#[test]
fn legacy_plugin_arguments_are_refused() {
    let sandbox = Sandbox::new();
    let config = root().join("functions/kustomize/transformer/vmesh.yaml");
    let output = run(sandbox.command("vmesh").arg(&config).arg("extra").env(
        "KUSTOMIZE_PLUGIN_CONFIG_ROOT",
        root().join("functions/kustomize/transformer"),
    ));
    assert_fails(&output, "vmesh takes no plugin arguments");
}

/// The examples carry their own copies of the same Gloo Mesh resources (a kpt package must
/// hold its inputs); they must not drift apart.
#[test]
fn the_examples_share_the_same_gloo_mesh_inputs() {
    let reference = tree(&root().join("functions/kpt/gloo-mesh"));
    assert_eq!(reference.len(), 3);
    for copy in [
        "functions/kustomize/gloo-mesh",
        "functions/gitops/meshes/gloo-mesh",
    ] {
        let mut files = tree(&root().join(copy));
        files.remove("kustomization.yaml");
        assert_eq!(
            files, reference,
            "{copy} differs from functions/kpt/gloo-mesh"
        );
    }
    assert!(Path::new(&root().join("functions/metadata.yaml")).is_file());
}
