//! Host adapters: how kpt, kustomize, Argo CD and a shell hand vmesh its input and read its
//! output. They only gather input, pick an [`OutputStyle`](crate::OutputStyle) and print;
//! all translation happens in [`crate::run`].
//!
//! Adapters never read the process environment or arguments themselves: `main` passes them
//! in, so every adapter can be tested in-process.

pub mod argocd;
pub mod discover;
pub mod ignore;
pub mod kustomize;
pub mod live;
pub mod outdir;
pub mod render;
pub mod source;

use crate::index::{DISCOVERY_GROUP, NETWORKING_GROUP};
use crate::krm::{Envelope, Item, KrmResult, ResourceList};
use crate::model::config::RenderConfig;
use serde_json::Value;

/// What an adapter prints and how the process exits.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reply {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Reply {
    /// A failure: nothing on stdout, the message on stderr, exit 1.
    pub fn fail(message: impl std::fmt::Display) -> Reply {
        Reply {
            stdout: String::new(),
            stderr: format!("vmesh: {}\n", one_line(message)),
            code: 1,
        }
    }

    /// A failed run: nothing on stdout, one line per result on stderr, exit 1.
    pub fn failed_run(results: &[KrmResult]) -> Reply {
        let errors = results
            .iter()
            .filter(|r| r.severity == crate::krm::Severity::Error)
            .count();
        let mut reply = Reply {
            stdout: String::new(),
            stderr: result_lines(results),
            code: 1,
        };
        reply
            .stderr
            .push_str(&format!("vmesh: {errors} error(s); nothing was rendered\n"));
        reply
    }

    /// Puts `notes` (lines gathered before the reply was made) in front of stderr.
    pub fn with_notes(mut self, notes: &str) -> Reply {
        self.stderr.insert_str(0, notes);
        self
    }

    /// Adds a `vmesh: note: …` line to stderr.
    pub fn note(&mut self, note: impl std::fmt::Display) {
        self.stderr
            .push_str(&format!("vmesh: note: {}\n", one_line(note)));
    }

    /// Adds a `vmesh: …` line to stderr.
    pub fn say(&mut self, line: impl std::fmt::Display) {
        self.stderr
            .push_str(&format!("vmesh: {}\n", one_line(line)));
    }
}

/// A message as one stderr line: file names with newlines cannot start lines of their own.
fn one_line(message: impl std::fmt::Display) -> String {
    crate::krm::results::escape_controls(&message.to_string()).into_owned()
}

/// Results as stderr lines (`KrmResult`'s `Display`), one per result.
/// One line on what a successful run rendered where, for a person reading stderr:
/// `vmesh: rendered 24 objects for 2 clusters (cluster-1: 12, cluster-2: 12); 1 warning`.
pub fn summary(outcome: &crate::Outcome) -> String {
    let total: usize = outcome.clusters.iter().map(|(_, n)| n).sum();
    let per_cluster: Vec<String> = outcome
        .clusters
        .iter()
        .map(|(cluster, n)| format!("{}: {n}", one_line(cluster)))
        .collect();
    let warnings = outcome
        .results
        .iter()
        .filter(|r| r.severity == crate::krm::Severity::Warning)
        .count();
    let clusters = match outcome.clusters.len() {
        1 => "1 cluster".to_string(),
        n => format!("{n} clusters"),
    };
    let warnings = match warnings {
        0 => "no warnings".to_string(),
        1 => "1 warning (see the results)".to_string(),
        n => format!("{n} warnings (see the results)"),
    };
    format!(
        "vmesh: rendered {total} objects for {clusters} ({}); {warnings}\n",
        per_cluster.join(", ")
    )
}

/// Whether a host that does not show results itself prints [`summary`]: `VMESH_SUMMARY=0`
/// silences it, `VMESH_SUMMARY=1` asks for it where it is off by default.
pub fn wants_summary(by_default: bool) -> bool {
    match std::env::var("VMESH_SUMMARY").as_deref() {
        Ok("0") => false,
        Ok("1") => true,
        _ => by_default,
    }
}

pub fn result_lines(results: &[KrmResult]) -> String {
    results.iter().map(|r| format!("{r}\n")).collect()
}

/// Settings a host gives on top of (and overriding) the configuration file: the flags of
/// `vmesh render`, the cluster Argo CD names. Values are the strings the user typed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Settings {
    pub cluster: Option<String>,
    pub templates: Option<String>,
    pub tls_mode: Option<String>,
    pub istio_api_version: Option<String>,
    pub endpoints: Option<String>,
    pub ca_seed: Option<String>,
    pub ca_not_before: Option<String>,
}

impl Settings {
    /// `base` with every given setting replaced, checked as the functionConfig is.
    pub fn apply(&self, base: RenderConfig) -> Result<RenderConfig, String> {
        let overrides = [
            ("cluster", "--cluster", &self.cluster),
            ("templates", "--templates", &self.templates),
            ("tlsMode", "--tls-mode", &self.tls_mode),
            (
                "istioApiVersion",
                "--istio-api-version",
                &self.istio_api_version,
            ),
            ("endpoints", "--endpoints", &self.endpoints),
            ("caSeed", "--ca-seed", &self.ca_seed),
            ("caNotBefore", "--ca-not-before", &self.ca_not_before),
        ];
        if overrides.iter().all(|(_, _, v)| v.is_none()) {
            return Ok(base);
        }
        let mut spec = serde_json::to_value(&base).expect("RenderConfig serializes");
        let map = spec.as_object_mut().expect("RenderConfig is a mapping");
        for (key, _, value) in &overrides {
            if let Some(value) = value {
                map.insert((*key).to_string(), Value::String(value.clone()));
            }
        }
        crate::model::parse_at::<RenderConfig>(&spec, "").map_err(|e| {
            let flag = overrides
                .iter()
                .find(|(key, _, _)| e.path == *key)
                .map_or(e.path.as_str(), |(_, flag, _)| flag);
            format!("{flag}: {}", e.message)
        })
    }
}

/// A ResourceList of objects read by a host (files, a stream), for [`crate::run`].
pub fn resource_list(objects: Vec<Value>) -> ResourceList {
    ResourceList {
        envelope: Envelope::resource_list(),
        items: objects
            .into_iter()
            .enumerate()
            .map(|(position, value)| Item::new(value, None, position))
            .collect(),
        function_config: None,
        results: Vec::new(),
        text: String::new(),
    }
}

/// True when the items hold at least one VirtualMesh: without one there is nothing to
/// render, and a host that prints a plain stream must not print an empty one.
pub fn has_virtual_mesh(items: &[Item]) -> bool {
    items
        .iter()
        .any(|i| i.is_group(NETWORKING_GROUP) && i.kind() == "VirtualMesh")
}

/// The workload clusters named by the Mesh items (`spec.<mesh type>.installation.cluster`),
/// sorted: what an "unknown cluster" message lists.
pub fn mesh_clusters(items: &[Item]) -> Vec<String> {
    let mut clusters: Vec<String> = items
        .iter()
        .filter(|i| i.is_group(DISCOVERY_GROUP) && i.kind() == "Mesh")
        .filter_map(|i| i.value.get("spec")?.as_object().cloned())
        .flat_map(|spec| {
            spec.values()
                .filter_map(|mesh| mesh.pointer("/installation/cluster")?.as_str())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    clusters.sort();
    clusters.dedup();
    clusters
}

/// Why a host that prints one cluster's slice has nothing to print.
pub fn empty_slice_message(cluster: &str, known: &[String]) -> String {
    let known = if known.is_empty() {
        "the Meshes name no cluster".to_string()
    } else {
        format!("clusters in the Meshes: {}", known.join(", "))
    };
    format!(
        "cluster {cluster:?} has no outputs ({known}); refusing to print an empty slice, which a GitOps host would read as \"delete everything\""
    )
}

/// Number of generated objects that belong to a workload cluster.
pub fn generated_objects(outcome: &crate::Outcome) -> usize {
    outcome
        .clusters
        .iter()
        .filter(|(cluster, _)| !cluster.is_empty())
        .map(|(_, n)| n)
        .sum()
}

/// The documents of a `---` stream written by vmesh's emitter, which writes block YAML
/// whose only column-0 `---` lines are document separators.
pub fn split_stream(text: &str) -> Vec<&str> {
    let mut documents = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line == "---\n" {
            if offset > start {
                documents.push(&text[start..offset]);
            }
            start = offset + line.len();
        }
        offset += line.len();
    }
    if text.len() > start {
        documents.push(&text[start..]);
    }
    documents
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_override_the_config_and_name_the_flag_on_errors() {
        let base = RenderConfig {
            cluster: Some("a".into()),
            write_status: true,
            ..RenderConfig::default()
        };
        let settings = Settings {
            cluster: Some("b".into()),
            istio_api_version: Some("v1beta1".into()),
            ..Settings::default()
        };
        let merged = settings.apply(base.clone()).unwrap();
        assert_eq!(merged.cluster.as_deref(), Some("b"));
        assert!(merged.write_status);
        assert_eq!(
            merged.api_version(),
            crate::model::config::IstioApiVersion::V1beta1
        );
        assert_eq!(Settings::default().apply(base.clone()).unwrap(), base);
        let err = Settings {
            tls_mode: Some("MUTUALLY".into()),
            ..Settings::default()
        }
        .apply(base)
        .unwrap_err();
        assert!(err.starts_with("--tls-mode: "), "{err}");
    }

    #[test]
    fn split_stream_splits_on_separator_lines_only() {
        let text = "a: 1\nb: |\n  ---\n---\nc: 2\n";
        assert_eq!(split_stream(text), ["a: 1\nb: |\n  ---\n", "c: 2\n"]);
        assert!(split_stream("").is_empty());
    }
}
