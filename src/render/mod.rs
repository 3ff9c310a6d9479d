//! Render: turns the plan's outputs into YAML documents, one cluster at a time, clusters in
//! parallel. Every document is rendered from its template, re-parsed, given vmesh's
//! metadata, and emitted by the one YAML emitter.

pub mod engine;
pub mod estimate;
pub mod outputs;
pub mod settings;

use crate::index::Inputs;
use crate::krm::{INDEX_ANNOTATION, PATH_ANNOTATION};
use crate::plan::Plan;
use crate::yaml::emit;
pub use engine::Engine;
use outputs::{Output, metadata};
use serde_json::{Map, Value};
use std::sync::OnceLock;

/// The rendered documents of one cluster, in output order.
#[derive(Debug, Default)]
pub struct RenderedCluster {
    pub cluster: String,
    /// The documents, in the pieces they were rendered in (a cluster rendered on several
    /// cores has several; they are written one after the other, never joined).
    pub pieces: Vec<RenderedPiece>,
}

/// Documents rendered into one buffer.
#[derive(Debug, Default)]
pub struct RenderedPiece {
    /// All documents, concatenated; each starts at an offset in `starts`.
    pub text: String,
    pub starts: Vec<usize>,
}

impl RenderedCluster {
    pub fn len(&self) -> usize {
        self.pieces.iter().map(|p| p.starts.len()).sum()
    }

    /// Bytes of YAML of all documents.
    pub fn bytes(&self) -> usize {
        self.pieces.iter().map(|p| p.text.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How rendered documents are labelled.
#[derive(Debug, Clone, Copy)]
pub struct RenderOptions {
    /// Add kpt's path and index annotations (`clusters/<cluster>/…`).
    pub kpt_paths: bool,
}

/// Input items that vmesh does not own but that have the identity of an object it would
/// write (kind, namespace, name) for the same cluster — a hand-written DestinationRule named
/// like the Service, say. Applying both would make one silently overwrite the other, so each
/// is an error: `(item index, message)`. An input without `vmesh.dev/cluster` counts for
/// every cluster.
pub fn conflicting_inputs(
    plan: &Plan,
    inputs: &Inputs,
    certificates: &crate::certs::Certificates,
    items: &[crate::krm::Item],
) -> Vec<(usize, String)> {
    let owned: std::collections::HashSet<usize> = inputs.owned.iter().copied().collect();
    let mut by_identity: std::collections::HashMap<(&str, &str, &str), Vec<usize>> =
        std::collections::HashMap::new();
    for (index, item) in items.iter().enumerate() {
        let istio = item.is_group("networking.istio.io") || item.is_group("security.istio.io");
        let cacerts = item.api_version() == "v1"
            && item.kind() == "Secret"
            && item.name() == crate::certs::CACERTS;
        if (istio || cacerts) && !owned.contains(&index) {
            by_identity
                .entry((item.kind(), item.namespace(), item.name()))
                .or_default()
                .push(index);
        }
    }
    if by_identity.is_empty() {
        return Vec::new();
    }
    let mut conflicts = Vec::new();
    for output in outputs::outputs(plan, certificates, plan.config.cluster.as_deref()) {
        let key = (
            output.kind.kind(),
            output.namespace.as_str(),
            output.name.as_str(),
        );
        for &index in by_identity.get(&key).into_iter().flatten() {
            let cluster = items[index].annotation(outputs::CLUSTER_ANNOTATION);
            if cluster.is_none_or(|c| c == output.cluster) {
                conflicts.push((
                    index,
                    format!(
                        "vmesh renders {} {}/{} for cluster {} and would overwrite this one, which it does not own; rename it, delete it, or scope it to other clusters with the vmesh.dev/cluster annotation",
                        output.kind.kind(),
                        output.namespace,
                        output.name,
                        output.cluster
                    ),
                ));
            }
        }
    }
    conflicts.sort();
    conflicts.dedup();
    conflicts
}

/// Renders every output of the plan for the configured cluster (or all clusters). Returns
/// the clusters in name order, or the rendering errors.
pub fn render(
    plan: &Plan,
    certificates: &crate::certs::Certificates,
    engine: &Engine,
    options: RenderOptions,
) -> Result<Vec<RenderedCluster>, Vec<String>> {
    let mut all = outputs::outputs(plan, certificates, plan.config.cluster.as_deref());
    all.sort_by(|a, b| (a.cluster, a.sort_key()).cmp(&(b.cluster, b.sort_key())));
    let api_versions = (
        plan.config.api_version().networking(),
        plan.config.api_version().security(),
    );
    let all = dedup(all, plan, api_versions)?;
    let groups = group_by_cluster(&all);
    let jobs = split_for_cores(&groups);

    let cache = ContextCache::new(plan);
    let done = crate::parallel::in_parallel(&jobs, |job| {
        render_piece(
            job.outputs,
            job.first_index_in_file,
            plan,
            engine,
            &cache,
            api_versions,
            options,
        )
        .map(|rendered| (job.group, rendered))
    });
    let mut clusters: Vec<RenderedCluster> = Vec::with_capacity(groups.len());
    let mut last_group = usize::MAX;
    let mut errors = Vec::new();
    for result in done {
        match result {
            Ok((group, piece)) => {
                if group != last_group {
                    last_group = group;
                    clusters.push(RenderedCluster {
                        cluster: groups[group][0].cluster.to_string(),
                        pieces: Vec::new(),
                    });
                }
                let cluster = clusters.last_mut().expect("pushed above");
                cluster.pieces.push(piece);
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    crate::parallel::drop_in_background(cache);
    if errors.is_empty() {
        Ok(clusters)
    } else {
        Err(errors)
    }
}

/// Outputs with the same cluster, namespace, kind and name (two meshes of one cluster in
/// one namespace, e.g. two Istio revisions) would be two objects of one name: identical
/// ones are emitted once, different ones are an error. `all` is sorted.
fn dedup<'p>(
    all: Vec<Output<'p>>,
    plan: &Plan,
    api_versions: (&str, &str),
) -> Result<Vec<Output<'p>>, Vec<String>> {
    let content = |o: &Output| {
        (
            metadata(o),
            outputs::context(o, plan, api_versions),
            o.kind.template(),
        )
    };
    let mut kept: Vec<Output<'p>> = Vec::with_capacity(all.len());
    let mut errors = Vec::new();
    for output in all {
        if let Some(last) = kept.last()
            && last.cluster == output.cluster
            && last.sort_key() == output.sort_key()
        {
            if content(last) != content(&output) {
                errors.push(format!(
                    "{} {}/{} for cluster {} would be rendered twice with different content (for {} and {}); give the meshes of one cluster different namespaces",
                    output.kind.kind(),
                    output.namespace,
                    output.name,
                    output.cluster,
                    describe_source(last),
                    describe_source(&output),
                ));
            }
            continue;
        }
        kept.push(output);
    }
    if errors.is_empty() {
        Ok(kept)
    } else {
        Err(errors)
    }
}

fn describe_source(output: &Output) -> String {
    match (output.destination, output.virtual_mesh) {
        (Some(d), _) => format!("Destination {}", d.key()),
        (None, Some(vm)) => format!("VirtualMesh {}", vm.key()),
        (None, None) => "vmesh".to_string(),
    }
}

fn group_by_cluster<'a, 'p>(all: &'a [Output<'p>]) -> Vec<&'a [Output<'p>]> {
    let mut groups = Vec::new();
    let mut start = 0;
    for i in 1..=all.len() {
        if i == all.len() || all[i].cluster != all[start].cluster {
            if start < i {
                groups.push(&all[start..i]);
            }
            start = i;
        }
    }
    groups
}

/// A piece of one cluster's outputs to render on one core.
struct Job<'a, 'p> {
    /// Index of the cluster's group.
    group: usize,
    outputs: &'a [Output<'p>],
    /// kpt's index of the first output within its file (outputs before it in the same file
    /// belong to the previous piece).
    first_index_in_file: usize,
}

/// One job per cluster when there are at least as many clusters as cores; otherwise (one
/// cluster's slice, say) each cluster is cut into pieces so that every core has work.
fn split_for_cores<'a, 'p>(groups: &[&'a [Output<'p>]]) -> Vec<Job<'a, 'p>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pieces_per_group = if groups.len() >= cores { 1 } else { 4 * cores };
    let mut jobs = Vec::new();
    for (group, outputs) in groups.iter().enumerate() {
        let size = outputs.len().div_ceil(pieces_per_group).max(1);
        let mut index_in_file = 0usize;
        for (i, output) in outputs.iter().enumerate() {
            if i > 0 {
                index_in_file = next_index_in_file(&outputs[i - 1], output, index_in_file);
            }
            if i % size == 0 {
                jobs.push(Job {
                    group,
                    outputs: &outputs[i..(i + size).min(outputs.len())],
                    first_index_in_file: index_in_file,
                });
            }
        }
    }
    jobs
}

/// kpt's index of `output` within its file (one file per namespace and kind, in output
/// order), given the index of the output before it.
fn next_index_in_file(previous: &Output, output: &Output, previous_index: usize) -> usize {
    let same_file =
        previous.namespace == output.namespace && previous.kind.kind() == output.kind.kind();
    if same_file { previous_index + 1 } else { 0 }
}

/// Renders a run of one cluster's outputs: the whole cluster, or the part one core takes.
fn render_piece(
    outputs: &[Output],
    first_index_in_file: usize,
    plan: &Plan,
    engine: &Engine,
    cache: &ContextCache,
    api_versions: (&str, &str),
    options: RenderOptions,
) -> Result<RenderedPiece, Vec<String>> {
    let mut rendered = RenderedPiece::default();
    let mut errors = Vec::new();
    let mut index_in_file = first_index_in_file;
    for (i, output) in outputs.iter().enumerate() {
        if i > 0 {
            index_in_file = next_index_in_file(&outputs[i - 1], output, index_in_file);
        }
        match render_one(output, plan, engine, cache, api_versions) {
            Ok(mut value) => {
                if options.kpt_paths {
                    set_path(&mut value, output, index_in_file);
                }
                rendered.starts.push(rendered.text.len());
                emit::emit_document(&mut rendered.text, &value);
            }
            Err(message) => {
                errors.push(format!(
                    "{} {}/{} for cluster {}: {message}",
                    output.kind.kind(),
                    output.namespace,
                    output.name,
                    output.cluster
                ));
                // One error per piece is enough to fix a template, and a template that
                // runs out of fuel would burn its fuel again on every further object.
                break;
            }
        }
    }
    if errors.is_empty() {
        Ok(rendered)
    } else {
        Err(errors)
    }
}

/// Template contexts that are the same in every client cluster, computed once per federated
/// Destination on first use (a remote ServiceEntry or DestinationRule repeats in every
/// cluster the Destination is federated to).
struct ContextCache {
    remote_service_entries: Vec<OnceLock<minijinja::Value>>,
    remote_destination_rules: Vec<OnceLock<minijinja::Value>>,
}

impl ContextCache {
    fn new(plan: &Plan) -> Self {
        let slots = || {
            (0..plan.federations.len())
                .map(|_| OnceLock::new())
                .collect()
        };
        ContextCache {
            remote_service_entries: slots(),
            remote_destination_rules: slots(),
        }
    }

    /// The kind-specific context of `output`, from the cache where it repeats.
    fn source_context(&self, output: &Output, plan: &Plan) -> minijinja::Value {
        let slot = match output.source {
            outputs::Source::RemoteServiceEntry(f) => Some(&self.remote_service_entries[f.index]),
            outputs::Source::RemoteDestinationRule(f, false) => {
                Some(&self.remote_destination_rules[f.index])
            }
            _ => None,
        };
        let compute = || to_template_value(&outputs::source_context(output, plan));
        match slot {
            Some(slot) => slot.get_or_init(compute).clone(),
            None => compute(),
        }
    }
}

fn to_template_value(value: &impl serde::Serialize) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(value))
}

fn render_one(
    output: &Output,
    plan: &Plan,
    engine: &Engine,
    cache: &ContextCache,
    api_versions: (&str, &str),
) -> Result<Value, String> {
    let meta = metadata(output);
    let mut common = outputs::common_context(output, api_versions);
    common.metadata = Some(&meta);
    let api_version = output.kind.api_version(api_versions);
    let context = minijinja::context! {
        ..to_template_value(&common),
        ..cache.source_context(output, plan)
    };
    let mut value = engine.render(output.kind.template(), context)?;

    let found = (
        value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or(""),
        value.get("kind").and_then(Value::as_str).unwrap_or(""),
    );
    if found != (api_version, output.kind.kind()) {
        return Err(format!(
            "template {} produced {} {}; expected {} {}",
            output.kind.template(),
            found.0,
            found.1,
            api_version,
            output.kind.kind()
        ));
    }
    enforce_metadata(&mut value, meta);
    Ok(value)
}

/// Puts vmesh's name, namespace, labels and annotations over whatever the template wrote,
/// keeping the template's own additions.
fn enforce_metadata(value: &mut Value, meta: Map<String, Value>) {
    let object = value.as_object_mut().expect("checked to be an object");
    // The embedded templates write the context's metadata as it is: nothing to merge.
    if let Some(Value::Object(written)) = object.get("metadata")
        && *written == meta
        && written.keys().eq(meta.keys())
    {
        return;
    }

    let mut template = match object.shift_remove("metadata") {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    };
    // vmesh's keys first (name, namespace, labels, annotations), whatever order the
    // template wrote its metadata in; then the template's other keys.
    let mut merged = Map::new();
    for (key, wanted) in meta {
        let value = match (key.as_str(), wanted) {
            ("labels" | "annotations", Value::Object(entries)) => {
                let mut map = match template.shift_remove(&key) {
                    Some(Value::Object(map)) => map,
                    _ => Map::new(),
                };
                for (k, v) in entries {
                    map.insert(k, v);
                }
                Value::Object(map)
            }
            (_, wanted) => {
                template.shift_remove(&key);
                wanted
            }
        };
        merged.insert(key, value);
    }
    merged.extend(template);
    let mut rebuilt = Map::new();
    for (key, value) in std::mem::take(object) {
        if key == "kind" {
            rebuilt.insert(key, value);
            rebuilt.insert(
                "metadata".into(),
                Value::Object(std::mem::take(&mut merged)),
            );
        } else {
            rebuilt.insert(key, value);
        }
    }
    if !merged.is_empty() {
        rebuilt.insert("metadata".into(), Value::Object(merged));
    }
    *object = rebuilt;
}

/// kpt path of a generated object: one file per cluster, namespace and kind; management
/// items (no cluster) under `management/`.
pub fn output_path(cluster: &str, namespace: &str, kind: &str) -> String {
    let kind = kind.to_ascii_lowercase();
    if cluster.is_empty() {
        format!("management/{namespace}/{kind}.yaml")
    } else {
        format!("clusters/{cluster}/{namespace}/{kind}.yaml")
    }
}

fn set_path(value: &mut Value, output: &Output, index: usize) {
    let annotations = value["metadata"]["annotations"]
        .as_object_mut()
        .expect("enforce_metadata made annotations");
    let path = match output.source {
        outputs::Source::IstioSettings(mesh) => settings::settings_path(&mesh.cluster),
        _ => output_path(output.cluster, &output.namespace, output.kind.kind()),
    };
    annotations.insert(PATH_ANNOTATION.into(), Value::String(path));
    annotations.insert(INDEX_ANNOTATION.into(), Value::String(index.to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn vmesh_metadata_comes_first_and_wins() {
        let mut value = json!({
            "apiVersion": "v", "kind": "K",
            "metadata": {"labels": {"team": "a", "app.kubernetes.io/managed-by": "x"}, "name": "t", "finalizers": ["f"]},
            "spec": {}
        });
        let meta = json!({"name": "n", "namespace": "ns",
            "labels": {"app.kubernetes.io/managed-by": "vmesh"}, "annotations": {"a": "b"}});
        enforce_metadata(&mut value, meta.as_object().unwrap().clone());
        let keys: Vec<&String> = value["metadata"].as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["name", "namespace", "labels", "annotations", "finalizers"]
        );
        assert_eq!(value["metadata"]["name"], "n");
        assert_eq!(value["metadata"]["labels"]["team"], "a");
        assert_eq!(
            value["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "vmesh"
        );
        let top: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(top, ["apiVersion", "kind", "metadata", "spec"]);
    }
}
