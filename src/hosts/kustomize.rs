//! kustomize: vmesh as a generator or a transformer, in the legacy exec-plugin form and in
//! the KRM exec-function form. The plugin config says which role vmesh plays:
//!
//! ```yaml
//! apiVersion: vmesh.dev/v1alpha1
//! kind: VirtualMeshGenerator      # or VirtualMeshTransformer
//! metadata:
//!   name: vmesh
//! inputs:                         # generator only: files and directories with the Gloo
//! - gloo-mesh/                    # Mesh resources, relative to the kustomization
//! spec:                           # the same settings as VirtualMeshRenderer's spec
//!   cluster: cluster-1            # required: one kustomize build is one cluster's manifests
//! ```
//!
//! - A **generator** reads its `inputs` itself and prints only the generated objects.
//!   kustomize's `namespace:` then applies to them, so the kustomization that lists the
//!   generator must not set `namespace:` (vmesh checks, and fails if it does).
//! - A **transformer** reads the Gloo Mesh resources from the kustomization's resources
//!   (marked `config.kubernetes.io/local-config: "true"`, so kustomize drops them from the
//!   build) and appends the generated objects. kustomize runs it after its own `namespace:`,
//!   `namePrefix:` and patches, so the objects keep their namespaces and names; the Gloo
//!   Mesh resources, which those builtins renamed, are read under their original names
//!   (kustomize records them in `internal.config.kubernetes.io/previousNames` and
//!   `previousNamespaces`). Every other resource and annotation passes through untouched.
//!
//! Legacy exec plugins get the config file as `argv[1]` (and in
//! `KUSTOMIZE_PLUGIN_CONFIG_STRING`), run in the kustomization directory
//! (`KUSTOMIZE_PLUGIN_CONFIG_ROOT`), and read and write plain `---` streams. KRM exec
//! functions (`config.kubernetes.io/function`) get a ResourceList whose functionConfig is the
//! same config; `main` hands those to [`krm_function`].

use super::source::{self, display};
use super::{Reply, resource_list};
use crate::krm::write::{OutputItem, write_resource_list};
use crate::krm::{
    self, Item, KrmResult, LOCAL_CONFIG_ANNOTATION, ResourceList, ResourceRef, Results,
};
use crate::model::config::{CONFIG_API_VERSION, CONFIG_KIND, RenderConfig};
use crate::{OutputStyle, RunOptions};
use serde_json::Value;
use std::path::{Path, PathBuf};

pub const GENERATOR_KIND: &str = "VirtualMeshGenerator";
pub const TRANSFORMER_KIND: &str = "VirtualMeshTransformer";
/// Where kustomize records the names a resource had before its transformers renamed it.
pub const PREVIOUS_NAMES: &str = "internal.config.kubernetes.io/previousNames";
pub const PREVIOUS_NAMESPACES: &str = "internal.config.kubernetes.io/previousNamespaces";
/// The files kustomize reads as a kustomization, in its order.
const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The role a plugin config gives vmesh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Read these files and directories (relative to the kustomization) and print the
    /// generated objects.
    Generator { inputs: Vec<String> },
    /// Read the resources kustomize passes and append the generated objects.
    Transformer,
}

/// A parsed `VirtualMeshGenerator` / `VirtualMeshTransformer`.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginConfig {
    pub role: Role,
    pub config: RenderConfig,
}

/// True for a `VirtualMeshGenerator` or `VirtualMeshTransformer` object.
pub fn is_plugin_config(value: &Value) -> bool {
    value["apiVersion"] == CONFIG_API_VERSION
        && (value["kind"] == GENERATOR_KIND || value["kind"] == TRANSFORMER_KIND)
}

/// Reads a plugin config; problems are error results naming the field.
pub fn parse_config(value: &Value) -> Result<PluginConfig, Box<KrmResult>> {
    let kind = value["kind"].as_str().unwrap_or("").to_string();
    let fail = |path: &str, message: String| {
        let mut result = KrmResult::error(format!("{kind}: {message}")).with_field(path);
        result.resource_ref = Some(ResourceRef {
            api_version: value["apiVersion"].as_str().unwrap_or("").to_string(),
            kind: kind.clone(),
            name: value["metadata"]["name"].as_str().unwrap_or("").to_string(),
            namespace: value["metadata"]["namespace"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        });
        Box::new(result)
    };
    if !is_plugin_config(value) {
        return Err(fail(
            "kind",
            format!(
                "expected {CONFIG_API_VERSION} {GENERATOR_KIND} or {TRANSFORMER_KIND}, not {} {kind}",
                value["apiVersion"].as_str().unwrap_or("")
            ),
        ));
    }
    let generator = kind == GENERATOR_KIND;
    let map = value.as_object().expect("checked above");
    for key in map.keys() {
        let known = matches!(key.as_str(), "apiVersion" | "kind" | "metadata" | "spec")
            || (key == "inputs" && generator);
        if !known {
            let hint = if key == "inputs" {
                format!(
                    " (inputs belong to a {GENERATOR_KIND}; a transformer reads the kustomization's resources)"
                )
            } else {
                String::new()
            };
            return Err(fail(key, format!("unknown field `{key}`{hint}")));
        }
    }
    let config = match map.get("spec") {
        None | Some(Value::Null) => RenderConfig::default(),
        Some(spec) => crate::model::parse_at::<RenderConfig>(spec, "spec")
            .map_err(|e| fail(&e.path, e.message))?,
    };
    if config.cluster.as_deref().is_none_or(str::is_empty) {
        return Err(fail(
            "spec.cluster",
            "spec.cluster is required: one kustomize build renders one cluster's manifests".into(),
        ));
    }
    let role = if generator {
        let inputs = match map.get("inputs") {
            Some(Value::Array(list)) if !list.is_empty() => list
                .iter()
                .enumerate()
                .map(|(i, v)| match v.as_str() {
                    Some(s) if !s.is_empty() => Ok(s.to_string()),
                    _ => Err(fail(
                        &format!("inputs.{i}"),
                        "every input must be a non-empty path".into(),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => {
                return Err(fail(
                    "inputs",
                    "inputs must list the files or directories (relative to the kustomization) that hold the Gloo Mesh resources".into(),
                ));
            }
        };
        Role::Generator { inputs }
    } else {
        Role::Transformer
    };
    Ok(PluginConfig { role, config })
}

/// The legacy exec plugin: `config_text` is the plugin config kustomize passed, `root` the
/// kustomization directory, `stdin` what kustomize piped in.
pub fn legacy_plugin(config_text: &str, root: &Path, stdin: String) -> Reply {
    let value: Value =
        match serde_saphyr::from_str_with_options(config_text, crate::yaml::parse::options()) {
            Ok(value) => value,
            Err(e) => {
                return Reply::fail(crate::krm::explain::yaml_error(
                    "the plugin config",
                    &e,
                    config_text,
                ));
            }
        };
    let plugin = match parse_config(&value) {
        Ok(plugin) => plugin,
        Err(result) => return Reply::failed_run(&[*result]),
    };
    match &plugin.role {
        Role::Generator { inputs } => {
            if !stdin.trim().is_empty() {
                return Reply::fail(format!(
                    "{GENERATOR_KIND} received resources on stdin: it is listed under `transformers:`. List it under `generators:`, or use kind {TRANSFORMER_KIND}"
                ));
            }
            if let Err(message) = check_no_namespace(root) {
                return Reply::fail(message);
            }
            let (list, notes) = read_inputs(root, inputs);
            let notes: String = notes
                .iter()
                .map(|n| format!("vmesh: note: {n}\n"))
                .collect();
            let list = match list {
                Ok(list) => list,
                Err(message) => return Reply::fail(message).with_notes(&notes),
            };
            let known = super::mesh_clusters(&list.items);
            let outcome = crate::run(
                list,
                &options(plugin.config.clone(), OutputStyle::GeneratedStream, root),
            );
            if outcome.failed() {
                return Reply::failed_run(&outcome.results).with_notes(&notes);
            }
            if super::generated_objects(&outcome) == 0 {
                let message = super::empty_slice_message(plugin_cluster(&plugin), &known);
                return Reply::fail(message).with_notes(&notes);
            }
            Reply {
                stdout: outcome.stdout,
                stderr: super::result_lines(&outcome.results),
                code: 0,
            }
            .with_notes(&notes)
        }
        Role::Transformer => {
            let mut list = match krm::read_stream(stdin) {
                Ok(list) => list,
                Err(e) => {
                    return Reply::fail(format!("cannot read the resources kustomize sent: {e}"));
                }
            };
            if let Err(results) = prepare_transformer_input(&mut list, &plugin.config) {
                return Reply::failed_run(&results.into_sorted());
            }
            let outcome = crate::run(list, &options(plugin.config, OutputStyle::FullStream, root));
            if outcome.failed() {
                return Reply::failed_run(&outcome.results);
            }
            Reply {
                stdout: outcome.stdout,
                stderr: super::result_lines(&outcome.results),
                code: 0,
            }
        }
    }
}

fn plugin_cluster(plugin: &PluginConfig) -> &str {
    plugin.config.cluster.as_deref().unwrap_or("")
}

fn options(config: RenderConfig, style: OutputStyle, base: &Path) -> RunOptions {
    RunOptions {
        config: Some(config),
        base_dir: Some(base.to_path_buf()),
        // A transformer's input items go on into the build; a generator's never do.
        carried_to_cluster: style != OutputStyle::GeneratedStream,
        ..RunOptions::new(style)
    }
}

/// Reads a generator's inputs (relative to `root`) into a ResourceList. Returns the notes
/// about what was skipped either way. vmesh's own configs among the inputs are left out
/// with a note: the plugin config is the configuration.
fn read_inputs(root: &Path, inputs: &[String]) -> (Result<ResourceList, String>, Vec<String>) {
    let paths: Vec<PathBuf> = inputs.iter().map(PathBuf::from).collect();
    let mut source = match source::read(root, &paths, &[]) {
        Ok(source) => source,
        Err(message) => return (Err(message), Vec::new()),
    };
    for kind in [CONFIG_KIND, GENERATOR_KIND, TRANSFORMER_KIND] {
        for config in source.take(CONFIG_API_VERSION, kind) {
            source.notes.push(format!(
                "{} is ignored: the {GENERATOR_KIND}'s spec is the configuration",
                config["metadata"]["annotations"][krm::PATH_ANNOTATION]
                    .as_str()
                    .unwrap_or(kind)
            ));
        }
    }
    let list = resource_list(source.objects);
    if !super::has_virtual_mesh(&list.items) {
        let shown: Vec<String> = paths.iter().map(|p| display(p)).collect();
        let message = format!(
            "no VirtualMesh found in the {GENERATOR_KIND}'s inputs ({}): nothing to generate",
            shown.join(", ")
        );
        return (Err(message), source.notes);
    }
    (Ok(list), source.notes)
}

/// A generator's objects go through the `namespace:` of the kustomization that lists it,
/// which would move Istio's mesh-wide resources out of the mesh's namespace.
fn check_no_namespace(root: &Path) -> Result<(), String> {
    let Some(file) = KUSTOMIZATION_FILES
        .iter()
        .map(|name| root.join(name))
        .find(|p| p.is_file())
    else {
        return Ok(());
    };
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("cannot read {}: {e}", display(&file)))?;
    let value: Value = serde_saphyr::from_str_with_options(&text, crate::yaml::parse::options())
        .unwrap_or(Value::Null);
    match value.get("namespace").and_then(Value::as_str) {
        Some(namespace) if !namespace.is_empty() => Err(format!(
            "{} sets `namespace: {namespace}`, which kustomize also applies to generated objects: Istio's mesh-wide resources would leave the mesh's namespace. \
List the {GENERATOR_KIND} in a kustomization without `namespace:` (next to the one with it, both listed by a parent without `namespace:`), \
or use {TRANSFORMER_KIND} in this one: kustomize adds a transformer's objects after its own `namespace:`",
            display(&file)
        )),
        _ => Ok(()),
    }
}

/// Checks that the Gloo Mesh resources are local-config and reads them under the names
/// they had before kustomize's builtins renamed them. Also checks that the cluster is one
/// the Meshes name (a transformer's output is never empty, so a misspelt cluster would
/// otherwise pass silently).
fn prepare_transformer_input(
    list: &mut ResourceList,
    config: &RenderConfig,
) -> Result<(), Results> {
    // A Gloo Mesh resource that is not local-config gets the same warning as under kpt,
    // from the run (RunOptions::carried_to_cluster).
    let mut problems = Results::default();
    restore_original_names(&mut list.items);
    if !super::has_virtual_mesh(&list.items) {
        problems.push(KrmResult::error(format!(
            "{TRANSFORMER_KIND}: no VirtualMesh among the {} resources kustomize sent; list the Gloo Mesh files under `resources:` (marked {LOCAL_CONFIG_ANNOTATION}: \"true\")",
            list.items.len()
        )));
    } else if let Some(cluster) = &config.cluster {
        let known = super::mesh_clusters(&list.items);
        if !known.contains(cluster) {
            problems.push(
                KrmResult::error(super::empty_slice_message(cluster, &known))
                    .with_field("spec.cluster"),
            );
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Gives local-config items renamed by kustomize (namespace:, namePrefix:, nameSuffix:)
/// their original name and namespace back, from kustomize's own records. Local-config items
/// are inputs of client-side tools, never applied, so their original names are the ones
/// their references use. A no-op for items kustomize did not rename (and under kpt).
pub fn restore_original_names(items: &mut [Item]) {
    for item in items.iter_mut() {
        if item.annotation(LOCAL_CONFIG_ANNOTATION) != Some("true") {
            continue;
        }
        let first = |key: &str| {
            item.annotation(key)
                .and_then(|v| v.split(',').next())
                .map(str::to_string)
        };
        let (name, namespace) = (first(PREVIOUS_NAMES), first(PREVIOUS_NAMESPACES));
        let changes: Vec<(&str, String)> = [("name", name), ("namespace", namespace)]
            .into_iter()
            .filter_map(|(key, original)| {
                let original = original.filter(|o| !o.is_empty())?;
                let current = item.value["metadata"][key].as_str().unwrap_or("");
                (current != original).then_some((key, original))
            })
            .collect();
        if changes.is_empty() {
            continue;
        }
        if let Some(metadata) = item.value_mut()["metadata"].as_object_mut() {
            for (key, original) in changes {
                metadata.insert(key.to_string(), Value::String(original));
            }
        }
    }
}

/// The KRM exec-function form: `list.function_config` is a plugin config. Prints a
/// ResourceList; on any error, the input items unchanged with the results (exit 1).
pub fn krm_function(mut list: ResourceList, cwd: &Path) -> (String, i32) {
    let config_value = list.function_config.clone().unwrap_or(Value::Null);
    let plugin = match parse_config(&config_value) {
        Ok(plugin) => plugin,
        Err(result) => {
            let mut results = Results::default();
            results.push(*result);
            return krm_failure(&list, results);
        }
    };
    match &plugin.role {
        Role::Generator { inputs } => {
            // Notes about skipped files become info results: stderr is not the place for
            // them in a ResourceList host.
            let (files, notes) = read_inputs(cwd, inputs);
            let mut results = Results::default();
            results.extend(notes.into_iter().map(KrmResult::info));
            let files = match files {
                Ok(files) => files,
                Err(message) => {
                    results.push(KrmResult::error(message));
                    return krm_failure(&list, results);
                }
            };
            let known = super::mesh_clusters(&files.items);
            let outcome = crate::run(
                files,
                &options(plugin.config.clone(), OutputStyle::GeneratedStream, cwd),
            );
            let generated_objects = super::generated_objects(&outcome);
            results.extend(outcome.results);
            if outcome.exit_code != 0 {
                return krm_failure(&list, results);
            }
            if generated_objects == 0 {
                results.push(KrmResult::error(super::empty_slice_message(
                    plugin_cluster(&plugin),
                    &known,
                )));
                return krm_failure(&list, results);
            }
            // The config kustomize echoes as the only item (local-config, dropped by
            // kustomize), then the generated objects.
            let mut out = String::new();
            let generated = super::split_stream(&outcome.stdout);
            write_resource_list(
                &mut out,
                &list.envelope,
                &list.text,
                list.items
                    .iter()
                    .map(OutputItem::Input)
                    .chain(generated.into_iter().map(OutputItem::Rendered)),
                list.function_config.as_ref(),
                &results.into_sorted(),
            );
            (out, 0)
        }
        Role::Transformer => {
            if let Err(results) = prepare_transformer_input(&mut list, &plugin.config) {
                return krm_failure(&list, results);
            }
            let outcome = crate::run(
                list,
                &options(plugin.config.clone(), OutputStyle::ResourceList, cwd),
            );
            (outcome.stdout, outcome.exit_code)
        }
    }
}

fn krm_failure(list: &ResourceList, results: Results) -> (String, i32) {
    let outcome = crate::pipeline::failure(list, results, OutputStyle::ResourceList);
    (outcome.stdout, outcome.exit_code)
}

/// The JSON Schema of a plugin config kind: VirtualMeshRenderer's, with the kind (and for
/// the generator, `inputs`).
pub fn json_schema(kind: &str) -> Value {
    let mut schema = crate::model::config::json_schema();
    schema["title"] = Value::from(kind);
    schema["$id"] = Value::from(format!("https://vmesh.dev/schemas/v1alpha1/{kind}.json"));
    schema["properties"]["kind"] = serde_json::json!({"const": kind});
    schema["properties"]["spec"]["required"] = serde_json::json!(["cluster"]);
    schema["required"] = serde_json::json!(["apiVersion", "kind", "spec"]);
    if kind == GENERATOR_KIND {
        schema["description"] = Value::from(
            "kustomize generator config of vmesh (legacy exec plugin or KRM exec function): reads the Gloo Mesh resources in `inputs` and generates one cluster's Istio configuration.",
        );
        schema["properties"]["inputs"] = serde_json::json!({
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "minLength": 1},
            "description": "Files and directories (relative to the kustomization) holding the Gloo Mesh resources."
        });
        schema["required"] = serde_json::json!(["apiVersion", "kind", "inputs", "spec"]);
    } else {
        schema["description"] = Value::from(
            "kustomize transformer config of vmesh (legacy exec plugin or KRM exec function): reads the Gloo Mesh resources among the kustomization's resources (local-config) and appends one cluster's Istio configuration.",
        );
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_kind_decides_the_role_and_spec_is_checked() {
        let generator = parse_config(&json!({
            "apiVersion": "vmesh.dev/v1alpha1", "kind": "VirtualMeshGenerator",
            "metadata": {"name": "v"}, "inputs": ["gloo/"], "spec": {"cluster": "c1"}
        }))
        .unwrap();
        assert_eq!(
            generator.role,
            Role::Generator {
                inputs: vec!["gloo/".into()]
            }
        );
        let transformer = parse_config(&json!({
            "apiVersion": "vmesh.dev/v1alpha1", "kind": "VirtualMeshTransformer",
            "metadata": {"name": "v"}, "spec": {"cluster": "c1", "tlsMode": "SIMPLE"}
        }))
        .unwrap();
        assert_eq!(transformer.role, Role::Transformer);
        let err = parse_config(&json!({
            "apiVersion": "vmesh.dev/v1alpha1", "kind": "VirtualMeshTransformer",
            "metadata": {"name": "v"}, "inputs": ["x"], "spec": {"cluster": "c1"}
        }))
        .unwrap_err();
        assert!(
            err.message
                .contains("inputs belong to a VirtualMeshGenerator"),
            "{}",
            err.message
        );
        let err = parse_config(&json!({
            "apiVersion": "vmesh.dev/v1alpha1", "kind": "VirtualMeshGenerator",
            "metadata": {"name": "v"}, "inputs": ["x"], "spec": {}
        }))
        .unwrap_err();
        assert_eq!(err.field.unwrap().path, "spec.cluster");
        let err = parse_config(&json!({
            "apiVersion": "vmesh.dev/v1alpha1", "kind": "VirtualMeshGenerator",
            "metadata": {"name": "v"}, "spec": {"cluster": "c1"}
        }))
        .unwrap_err();
        assert_eq!(err.field.unwrap().path, "inputs");
        let err = parse_config(&json!({
            "apiVersion": "vmesh.dev/v1alpha1", "kind": "VirtualMeshGenerator",
            "metadata": {"name": "v"}, "inputs": ["x"], "spec": {"cluster": "c1", "clustr": "x"}
        }))
        .unwrap_err();
        assert_eq!(err.field.unwrap().path, "spec.clustr");
    }

    #[test]
    fn original_names_come_back_for_local_config_items_only() {
        let text = "\
apiVersion: discovery.mesh.gloo.solo.io/v1
kind: Mesh
metadata:
  name: team-m
  namespace: apps
  annotations:
    config.kubernetes.io/local-config: \"true\"
    internal.config.kubernetes.io/previousNames: m,m
    internal.config.kubernetes.io/previousNamespaces: gloo-mesh,apps
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: team-cm
  namespace: apps
  annotations:
    internal.config.kubernetes.io/previousNames: cm,cm
    internal.config.kubernetes.io/previousNamespaces: default,apps
";
        let mut list = krm::read_stream(text.to_string()).unwrap();
        restore_original_names(&mut list.items);
        assert_eq!(list.items[0].name(), "m");
        assert_eq!(list.items[0].namespace(), "gloo-mesh");
        assert!(list.items[0].raw.is_none(), "a changed item is re-emitted");
        assert_eq!(list.items[1].name(), "team-cm");
        assert!(list.items[1].raw.is_some(), "other items stay verbatim");
    }
}
