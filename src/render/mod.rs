//! Render: turns the plan's outputs into YAML documents, one cluster at a time, clusters in
//! parallel. Every document is rendered from its template, re-parsed, given vmesh's
//! metadata, and emitted by the one YAML emitter.

pub mod engine;
pub mod outputs;

use crate::index::Inputs;
use crate::krm::{INDEX_ANNOTATION, PATH_ANNOTATION};
use crate::plan::Plan;
use crate::yaml::emit;
pub use engine::Engine;
use outputs::{Output, metadata};
use serde_json::{Map, Value};

/// The rendered documents of one cluster, in output order.
#[derive(Debug, Default)]
pub struct RenderedCluster {
    pub cluster: String,
    /// All documents, concatenated; each starts at an offset in `starts`.
    pub text: String,
    pub starts: Vec<usize>,
}

impl RenderedCluster {
    pub fn documents(&self) -> impl Iterator<Item = &str> {
        self.starts.iter().enumerate().map(|(i, start)| {
            let end = self.starts.get(i + 1).copied().unwrap_or(self.text.len());
            &self.text[*start..end]
        })
    }

    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }
}

/// How rendered documents are labelled.
#[derive(Debug, Clone, Copy)]
pub struct RenderOptions {
    /// Add kpt's path and index annotations (`clusters/<cluster>/…`).
    pub kpt_paths: bool,
}

/// Renders every output of the plan for the configured cluster (or all clusters). Returns
/// the clusters in name order, or the rendering errors.
pub fn render(
    plan: &Plan,
    inputs: &Inputs,
    certificates: &crate::certs::Certificates,
    engine: &Engine,
    options: RenderOptions,
) -> Result<Vec<RenderedCluster>, Vec<String>> {
    let mut all = outputs::outputs(plan, inputs, certificates, plan.config.cluster.as_deref());
    all.sort_by(|a, b| (a.cluster, a.sort_key()).cmp(&(b.cluster, b.sort_key())));
    let groups = group_by_cluster(&all);
    let api_versions = (
        plan.config.api_version().networking(),
        plan.config.api_version().security(),
    );

    let done = crate::parallel::in_parallel(&groups, |group| {
        render_cluster(group, plan, engine, api_versions, options)
    });
    let mut clusters = Vec::with_capacity(done.len());
    let mut errors = Vec::new();
    for result in done {
        match result {
            Ok(cluster) => clusters.push(cluster),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(clusters)
    } else {
        Err(errors)
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

fn render_cluster(
    outputs: &[Output],
    plan: &Plan,
    engine: &Engine,
    api_versions: (&str, &str),
    options: RenderOptions,
) -> Result<RenderedCluster, Vec<String>> {
    let mut rendered = RenderedCluster {
        cluster: outputs[0].cluster.to_string(),
        ..RenderedCluster::default()
    };
    let mut errors = Vec::new();
    let mut index_in_file = 0usize;
    for (i, output) in outputs.iter().enumerate() {
        let same_file = i > 0
            && outputs[i - 1].namespace == output.namespace
            && outputs[i - 1].kind.kind() == output.kind.kind();
        index_in_file = if same_file { index_in_file + 1 } else { 0 };
        match render_one(output, plan, engine, api_versions) {
            Ok(mut value) => {
                if options.kpt_paths {
                    set_path(&mut value, output, index_in_file);
                }
                rendered.starts.push(rendered.text.len());
                emit::emit_document(&mut rendered.text, &value);
            }
            Err(message) => errors.push(format!(
                "{} {}/{} for cluster {}: {message}",
                output.kind.kind(),
                output.namespace,
                output.name,
                output.cluster
            )),
        }
    }
    if errors.is_empty() {
        Ok(rendered)
    } else {
        Err(errors)
    }
}

fn render_one(
    output: &Output,
    plan: &Plan,
    engine: &Engine,
    api_versions: (&str, &str),
) -> Result<Value, String> {
    let meta = metadata(output);
    let mut context = outputs::context(output, plan, api_versions);
    context
        .as_object_mut()
        .expect("contexts are objects")
        .insert("metadata".into(), Value::Object(meta.clone()));
    let api_version = context["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut value = engine.render(
        output.kind.template(),
        minijinja::Value::from(minijinja::value::Serde(&context)),
    )?;
    let found = (
        value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or(""),
        value.get("kind").and_then(Value::as_str).unwrap_or(""),
    );
    if found != (api_version.as_str(), output.kind.kind()) {
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
    let target = object
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let target = target.as_object_mut().expect("made an object");
    for (key, wanted) in meta {
        match (key.as_str(), wanted) {
            ("labels" | "annotations", Value::Object(entries)) => {
                let map = target
                    .entry(key)
                    .or_insert_with(|| Value::Object(Map::new()));
                if !map.is_object() {
                    *map = Value::Object(Map::new());
                }
                let map = map.as_object_mut().expect("made an object");
                for (k, v) in entries {
                    map.insert(k, v);
                }
            }
            (_, wanted) => {
                target.insert(key, wanted);
            }
        }
    }
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
    annotations.insert(
        PATH_ANNOTATION.into(),
        Value::String(output_path(
            output.cluster,
            &output.namespace,
            output.kind.kind(),
        )),
    );
    annotations.insert(INDEX_ANNOTATION.into(), Value::String(index.to_string()));
}
