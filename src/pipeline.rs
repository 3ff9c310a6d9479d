//! One run: read → index → validate/plan → render → write. Hosts (the KRM function,
//! `vmesh render`, kustomize, Argo CD) call [`run`] and only differ in how they read input
//! and print the outcome.

use crate::index::Inputs;
use crate::krm::write::OutputItem;
use crate::krm::{Envelope, KrmResult, ResourceList, Results, write_resource_list, write_stream};
use crate::model::config::RenderConfig;
use crate::plan::Plan;
use crate::render::{self, Engine, RenderOptions, RenderedCluster};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;

/// Argo CD's repo-server refuses generated manifests over 100 MB; warn well before that.
pub const SLICE_WARNING_BYTES: usize = 80 * 1024 * 1024;

/// How the outcome is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputStyle {
    /// A ResourceList with every item that was not vmesh's, then the generated items, then
    /// results (kpt, the KRM exec function form).
    ResourceList,
    /// A `---` stream of the generated items only (Argo CD, `vmesh render`).
    GeneratedStream,
    /// The generated items of every cluster and the management items (a mesh's Istio
    /// settings, the root CA Secret) as one `---` stream, for a host that files each where it
    /// belongs (`vmesh render --out`).
    GeneratedWithManagement,
    /// A `---` stream of the input items that are not vmesh's plus the generated items
    /// (kustomize transformer).
    FullStream,
}

/// What a host passes in besides the input.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Replaces the functionConfig when set (CLI flags of `vmesh render`).
    pub config: Option<RenderConfig>,
    pub style: OutputStyle,
    /// Base directory for a relative `templates` path and a `caSeed` file.
    pub base_dir: Option<std::path::PathBuf>,
    /// The current time (certificate validity and rotation); `None` reads the clock.
    pub now: Option<std::time::SystemTime>,
    /// The host carries the input items on towards a cluster (a kpt package goes to `kpt
    /// live apply`, a kustomize transformer's input to the build): a Gloo Mesh resource not
    /// marked local-config gets a warning, the same under every such host.
    pub carried_to_cluster: bool,
}

impl RunOptions {
    /// Output in `style`, with the input's functionConfig, no base directory, and the clock.
    pub fn new(style: OutputStyle) -> Self {
        RunOptions {
            config: None,
            style,
            base_dir: None,
            now: None,
            carried_to_cluster: false,
        }
    }
}

/// The outcome of a run: what to print on stdout, the results, and the exit code.
#[derive(Debug)]
pub struct Outcome {
    pub stdout: String,
    pub results: Vec<KrmResult>,
    pub exit_code: i32,
    /// Generated objects per cluster.
    pub clusters: Vec<(String, usize)>,
    /// How long each stage took (for `VMESH_TIMINGS` and the benchmarks).
    pub timings: Vec<(&'static str, std::time::Duration)>,
}

/// Records how long each stage of a run takes.
struct Stopwatch {
    last: std::time::Instant,
    laps: Vec<(&'static str, std::time::Duration)>,
}

impl Stopwatch {
    fn start() -> Self {
        Stopwatch {
            last: std::time::Instant::now(),
            laps: Vec::new(),
        }
    }

    fn lap(&mut self, stage: &'static str) {
        let now = std::time::Instant::now();
        self.laps.push((stage, now - self.last));
        self.last = now;
    }
}

impl Outcome {
    pub fn failed(&self) -> bool {
        self.exit_code != 0
    }
}

/// Runs vmesh over one parsed input.
pub fn run(list: ResourceList, options: &RunOptions) -> Outcome {
    let mut watch = Stopwatch::start();
    let mut outcome = run_stages(list, options, &mut watch);
    watch.lap("write");
    outcome.timings = watch.laps;
    outcome
}

/// A warning for a Gloo Mesh resource that is not marked local-config, naming it by its
/// own name (the one its file gives it, before kustomize's `namePrefix:` or `namespace:`)
/// and its file (kpt's path annotation, or kustomize's `config.kubernetes.io/origin`), as
/// `index::at` names every resource.
pub fn not_local_config(item: &crate::krm::Item) -> Option<KrmResult> {
    use crate::index::{DISCOVERY_GROUP, MULTICLUSTER_GROUP, NETWORKING_GROUP, SETTINGS_GROUP};
    use crate::krm::LOCAL_CONFIG_ANNOTATION;
    let gloo = [
        NETWORKING_GROUP,
        DISCOVERY_GROUP,
        SETTINGS_GROUP,
        MULTICLUSTER_GROUP,
    ]
    .iter()
    .any(|g| item.is_group(g));
    if !gloo || item.annotation(LOCAL_CONFIG_ANNOTATION) == Some("true") {
        return None;
    }
    let (name, namespace) = crate::index::own_name(item);
    let shown = if namespace.is_empty() {
        name
    } else {
        format!("{namespace}/{name}")
    };
    Some(crate::index::at(
        item,
        KrmResult::warning(format!(
            "{} {shown} is not marked {LOCAL_CONFIG_ANNOTATION}: \"true\", so it would be applied to the cluster with the rendered objects (kpt live apply of the package, kubectl apply of the kustomize build): add the annotation; vmesh reads the resource either way",
            item.kind()
        ))
        .with_field(format!("metadata.annotations.{LOCAL_CONFIG_ANNOTATION}")),
    ))
}

fn run_stages(mut list: ResourceList, options: &RunOptions, watch: &mut Stopwatch) -> Outcome {
    let mut results = Results::default();
    let config = match &options.config {
        Some(config) => Ok(config.clone()),
        None => crate::config::from_function_config(list.function_config.as_ref()),
    };
    let config = match config {
        Ok(config) => config,
        Err(result) => {
            results.push(*result);
            return failure(&list, results, options.style);
        }
    };
    if options.carried_to_cluster {
        for item in &list.items {
            if let Some(warning) = not_local_config(item) {
                results.push(warning);
            }
        }
    }
    let inputs = Inputs::index(&list.items, &mut results);
    watch.lap("index");
    if options.carried_to_cluster
        && inputs.virtual_meshes.is_empty()
        && (!inputs.meshes.is_empty() || !inputs.destinations.is_empty())
    {
        // Refused as every host that reads files refuses it: a VirtualMesh left out by
        // mistake would make kpt prune every federated object and cacerts of the package.
        results.push(KrmResult::error(
            "no VirtualMesh among the Gloo Mesh resources: nothing would be federated between clusters and every earlier output would be pruned, so nothing is rendered (vmesh render, Argo CD and kustomize refuse such inputs too); add the VirtualMesh, or check that its file is not in .krmignore",
        ));
        return failure(&list, results, options.style);
    }
    let plan = Plan::build(&inputs, &list.items, &config, &mut results);
    watch.lap("plan");
    // Before certificates and templates: the output a plan implies can be the square of
    // the input, and must be refused before it is rendered (or keys are generated for it).
    if !results.has_errors() {
        let estimate = render::estimate::estimate(&plan, &inputs);
        for (message, field) in render::estimate::over_limits(&config, &estimate, false) {
            results.push(KrmResult::error(message).with_field(field));
        }
        if results.has_errors() {
            return failure(&list, results, options.style);
        }
    }
    let env = cert_env(&config, options);
    if let Err(message) = &env {
        // The message names the setting it is about.
        let field = if message.starts_with("functionConfig: caNotBefore") {
            "spec.caNotBefore"
        } else {
            "spec.caSeed"
        };
        results.push(KrmResult::error(message.clone()).with_field(field));
    }
    if results.has_errors() {
        // Report certificate problems too (all errors of a run together), issuing nothing.
        let now = options.now.unwrap_or_else(std::time::SystemTime::now);
        let mut report = crate::plan::report::Report::new(&list.items, &mut results);
        crate::certs::check(&inputs, &list.items, now, &mut report);
        return failure(&list, results, options.style);
    }
    let Ok(env) = env else {
        return failure(&list, results, options.style);
    };
    let certificates = {
        let mut report = crate::plan::report::Report::new(&list.items, &mut results);
        crate::certs::issue(&inputs, &list.items, &plan, &env, &mut report)
    };
    watch.lap("certificates");
    if results.has_errors() {
        return failure(&list, results, options.style);
    }
    let limits = render::engine::TemplateLimits {
        fuel: config.template_fuel(),
        max_output: config.template_output_bytes(),
    };
    let templates = templates_dir(&config, options.base_dir.as_deref());
    let engine = match Engine::with_limits(templates.as_deref(), limits) {
        Ok(engine) => engine,
        Err(message) => {
            results.push(KrmResult::error(message).with_field("spec.templates"));
            return failure(&list, results, options.style);
        }
    };
    for (index, message) in render::conflicting_inputs(&plan, &inputs, &certificates, &list.items) {
        results.push(crate::index::at(
            &list.items[index],
            KrmResult::error(message),
        ));
    }
    if results.has_errors() {
        return failure(&list, results, options.style);
    }
    let render_options = RenderOptions {
        kpt_paths: options.style == OutputStyle::ResourceList,
    };

    let clusters = match render::render(&plan, &certificates, &engine, render_options) {
        Ok(clusters) => clusters,
        Err(errors) => {
            // With overrides, a template error points at the setting that brought them in.
            let field = if config.templates.is_some() {
                "spec.templates"
            } else {
                ""
            };
            results.extend(
                errors
                    .into_iter()
                    .map(|e| KrmResult::error(e).with_field(field)),
            );
            return failure(&list, results, options.style);
        }
    };
    watch.lap("render");
    if let Some(message) = empty_slice(&config, &inputs, &list.items, &clusters) {
        results.push(KrmResult::error(message).with_field("spec.cluster"));
        return failure(&list, results, options.style);
    }
    // The estimate is a lower bound; the exact sizes must keep the same limits.
    let exact = clusters
        .iter()
        .map(|c| {
            let size = render::estimate::Estimate {
                objects: c.len() as u64,
                bytes: c.bytes() as u64,
            };
            (c.cluster.clone(), size)
        })
        .collect();
    for (message, field) in render::estimate::over_limits(&config, &exact, true) {
        results.push(KrmResult::error(message).with_field(field));
    }
    if results.has_errors() {
        return failure(&list, results, options.style);
    }
    report_sizes(&clusters, &mut results);

    let mut unstamped = Vec::new();
    crate::certs::stamp_workloads(&mut list.items, &inputs, &certificates, &mut unstamped);
    for (index, message) in unstamped {
        results.push(crate::index::at(
            &list.items[index],
            KrmResult::warning(message),
        ));
    }
    let outcome = success(&mut list, &inputs, &plan, clusters, results, options.style);
    crate::parallel::drop_in_background((list, inputs, plan, certificates));
    outcome
}

/// Why a run that names a cluster (`spec.cluster`) and renders nothing for it must fail:
/// every host would read the empty slice as "this cluster has no configuration" — kpt deletes
/// every rendered file of the package, Argo CD prunes the cluster. A run without
/// VirtualMeshes is exempt, so vmesh can sit in any kpt pipeline.
fn empty_slice(
    config: &RenderConfig,
    inputs: &Inputs,
    items: &[crate::krm::Item],
    clusters: &[RenderedCluster],
) -> Option<String> {
    let cluster = config.cluster.as_deref()?;
    if inputs.virtual_meshes.is_empty() {
        return None;
    }
    let rendered = clusters
        .iter()
        .any(|c| c.cluster == cluster && !c.is_empty());
    (!rendered)
        .then(|| crate::hosts::empty_slice_message(cluster, &crate::hosts::mesh_clusters(items)))
}

/// The time, the seed (read from where `caSeed` says) and the seeded validity start.
fn cert_env(config: &RenderConfig, options: &RunOptions) -> Result<crate::certs::CertEnv, String> {
    let now = options.now.unwrap_or_else(std::time::SystemTime::now);
    let seed = match config.ca_seed.as_deref() {
        None => None,
        Some(location) => Some(read_seed(location, options.base_dir.as_deref())?),
    };
    let not_before = match config.ca_not_before.as_deref() {
        None => None,
        Some(text) => {
            // Quoted by the rule every message keeps (a seed pasted here must not leak),
            // and without the time parser's own text, which quotes the input again.
            let shown = crate::model::quoted(text);
            let at: jiff::Timestamp = text.parse().map_err(|_| {
                format!(
                    "functionConfig: caNotBefore {shown} is not an RFC 3339 time (like \"2026-11-01T00:00:00Z\")"
                )
            })?;
            let seconds = u64::try_from(at.as_second())
                .map_err(|_| format!("functionConfig: caNotBefore {shown} is before 1970"))?;
            let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds);
            // Certificates that start later than now are refused by istiod and workloads
            // ("not yet valid"); a few minutes of clock skew are allowed.
            if at > now + crate::certs::FUTURE_ALLOWANCE {
                return Err(format!(
                    "functionConfig: caNotBefore {shown} is in the future (this render's clock says {}; more than {} minutes of skew): istiod and workloads would refuse the derived certificates as not yet valid. Set caNotBefore to a time that has passed",
                    crate::certs::rfc3339(now),
                    crate::certs::FUTURE_ALLOWANCE.as_secs() / 60
                ));
            }
            Some(at)
        }
    };
    if seed.is_some() && not_before.is_none() {
        return Err("functionConfig: caSeed needs caNotBefore, the validity start of the derived certificates, so that renders are reproducible".into());
    }
    Ok(crate::certs::CertEnv {
        now,
        seed,
        not_before,
    })
}

/// Reads the seed from `env:NAME` or `file:PATH`. The seed never appears in a message.
fn read_seed(location: &str, base: Option<&Path>) -> Result<Vec<u8>, String> {
    let text = if let Some(name) = location.strip_prefix("env:") {
        std::env::var(name).map_err(|_| {
            format!("functionConfig: caSeed: environment variable {name} is not set")
        })?
    } else if let Some(path) = location.strip_prefix("file:") {
        let resolved = match base {
            Some(base) if Path::new(path).is_relative() => base.join(path),
            _ => Path::new(path).to_path_buf(),
        };
        read_seed_file(&resolved).map_err(|e| format!("functionConfig: caSeed: {location} {e}"))?
    } else {
        // Not quoted: a seed pasted here by mistake must not end up in a result.
        return Err(
            "functionConfig: caSeed must be env:NAME or file:PATH, naming where the seed is kept (the seed itself never goes into the functionConfig)"
                .into(),
        );
    };
    let seed = text.trim();
    if seed.len() < 32 {
        return Err(format!(
            "functionConfig: caSeed from {location} is {} bytes; a seed needs at least 32 (e.g. `openssl rand -hex 32`)",
            seed.len()
        ));
    }
    Ok(seed.as_bytes().to_vec())
}

/// The most a seed file may hold: a seed is 32 to a few hundred bytes.
pub const MAX_SEED_FILE_BYTES: u64 = 64 * 1024;

/// Reads a seed file that must be a regular file of at most [`MAX_SEED_FILE_BYTES`].
/// Opened without blocking (a FIFO would wait for a writer forever) and checked with
/// `fstat` before reading (`/dev/zero` never ends). Errors finish "caSeed: file:PATH …".
fn read_seed_file(path: &Path) -> Result<String, String> {
    use std::io::Read;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| format!("cannot be read: {}", e.kind()))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot be read: {}", e.kind()))?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_char_device() {
            "a character device"
        } else if kind.is_block_device() {
            "a block device"
        } else if kind.is_socket() {
            "a socket"
        } else if kind.is_dir() {
            "a directory"
        } else {
            "not a file"
        };
        return Err(format!(
            "is {what}, not a regular file; keep the seed in a file (a mounted Secret works) or use env:NAME"
        ));
    }
    if meta.len() > MAX_SEED_FILE_BYTES {
        return Err(format!(
            "is {} bytes; a seed file holds at most {MAX_SEED_FILE_BYTES} bytes (a seed is 32 bytes or more, e.g. `openssl rand -hex 32`)",
            meta.len()
        ));
    }
    let mut text = String::new();
    // The size may change after fstat: never read more than the limit.
    file.take(MAX_SEED_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot be read: {}", e.kind()))?;
    if text.len() as u64 > MAX_SEED_FILE_BYTES {
        return Err(format!(
            "grew past {MAX_SEED_FILE_BYTES} bytes while it was read"
        ));
    }
    Ok(text)
}

fn templates_dir(config: &RenderConfig, base: Option<&Path>) -> Option<std::path::PathBuf> {
    let dir = Path::new(config.templates.as_deref()?);
    Some(match base {
        Some(base) if dir.is_relative() => base.join(dir),
        _ => dir.to_path_buf(),
    })
}

fn report_sizes(clusters: &[RenderedCluster], results: &mut Results) {
    for cluster in clusters.iter().filter(|c| !c.cluster.is_empty()) {
        let bytes = cluster.bytes();
        let message = format!(
            "cluster {}: {} objects, {} bytes of YAML",
            cluster.cluster,
            cluster.len(),
            bytes
        );
        results.push(KrmResult::info(message).with_tag("cluster", cluster.cluster.clone()));
        if bytes > SLICE_WARNING_BYTES {
            results.push(
                KrmResult::warning(format!(
                    "cluster {}'s slice is {} MB; Argo CD refuses generated manifests over 100 MB: narrow the federation selectors or split the slice",
                    cluster.cluster,
                    bytes / (1024 * 1024)
                ))
                .with_tag("cluster", cluster.cluster.clone()),
            );
        }
    }
}

/// On any error the input goes back unchanged with the results (ResourceList), or nothing
/// is printed (streams): no host may mistake a failed run for "delete everything". Hosts
/// that fail a run before calling [`run`] answer with it too.
pub fn failure(list: &ResourceList, results: Results, style: OutputStyle) -> Outcome {
    let results = results.into_sorted();
    let mut stdout = String::new();
    if style == OutputStyle::ResourceList {
        write_resource_list(
            &mut stdout,
            &list.envelope,
            &list.text,
            list.items.iter().map(OutputItem::Input),
            list.function_config.as_ref(),
            &results,
        );
    }
    Outcome {
        stdout,
        results,
        exit_code: 1,
        clusters: Vec::new(),
        timings: Vec::new(),
    }
}

fn success(
    list: &mut ResourceList,
    inputs: &Inputs,
    plan: &Plan,
    clusters: Vec<RenderedCluster>,
    results: Results,
    style: OutputStyle,
) -> Outcome {
    if plan.config.write_status {
        write_status(list, inputs, plan);
    }
    let owned: BTreeSet<usize> = inputs.owned.iter().copied().collect();
    let kept = list
        .items
        .iter()
        .enumerate()
        .filter(|(i, _)| !owned.contains(i))
        .map(|(_, item)| OutputItem::Input(item));
    let counts: Vec<(String, usize)> = clusters
        .iter()
        .filter(|c| !c.cluster.is_empty())
        .map(|c| (c.cluster.clone(), c.len()))
        .collect();
    // Room for everything up front: pages are only touched as they are written, and each
    // cluster's buffer is freed once written, so the output is never held twice.
    let rendered_bytes: usize = clusters.iter().map(|c| c.bytes() + 3 * c.len()).sum();
    let generated = clusters
        .into_iter()
        .filter(|c| {
            matches!(
                style,
                OutputStyle::ResourceList | OutputStyle::GeneratedWithManagement
            ) || !c.cluster.is_empty()
        })
        .flat_map(|c| c.pieces)
        .map(|piece| OutputItem::Batch(piece.text, piece.starts));
    let results = results.into_sorted();
    let mut stdout = String::with_capacity(list.text.len() + rendered_bytes + rendered_bytes / 8);
    match style {
        OutputStyle::ResourceList => {
            let envelope = match &list.envelope {
                Envelope::Stream => Envelope::resource_list(),
                other => other.clone(),
            };
            write_resource_list(
                &mut stdout,
                &envelope,
                &list.text,
                kept.chain(generated),
                list.function_config.as_ref(),
                &results,
            );
        }
        OutputStyle::FullStream => write_stream(&mut stdout, &list.text, kept.chain(generated)),
        OutputStyle::GeneratedStream | OutputStyle::GeneratedWithManagement => {
            write_stream(&mut stdout, &list.text, generated)
        }
    }
    Outcome {
        stdout,
        results,
        exit_code: 0,
        clusters: counts,
        timings: Vec::new(),
    }
}

/// Writes Gloo Mesh's VirtualMeshStatus into each VirtualMesh item (D6, `writeStatus`).
fn write_status(list: &mut ResourceList, inputs: &Inputs, plan: &Plan) {
    for (vm_ref, vm) in &inputs.virtual_meshes {
        let (meshes, destinations) = plan.status.get(vm_ref).cloned().unwrap_or_default();
        let accepted = |refs: &[crate::model::common::ObjectRef]| {
            let mut map = serde_json::Map::new();
            let mut keys: Vec<String> = refs.iter().map(|r| r.key()).collect();
            keys.sort();
            for key in keys {
                map.insert(key, json!({"state": "ACCEPTED"}));
            }
            Value::Object(map)
        };
        let status = json!({
            "observedGeneration": vm.meta.generation.unwrap_or(0),
            "state": "ACCEPTED",
            "meshes": accepted(&meshes),
            "destinations": accepted(&destinations),
        });
        if let Some(object) = list.items[vm.item].value_mut().as_object_mut() {
            object.insert("status".into(), status);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run whose plan fails still reports certificate problems (decisions: every error of
    /// a run at once), without issuing anything.
    #[test]
    fn certificate_errors_are_reported_with_plan_errors() {
        let text = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: discovery.mesh.gloo.solo.io/v1\n  kind: Mesh\n  metadata: {name: m, namespace: gloo-mesh}\n  spec:\n    istio:\n      installation: {namespace: istio-system}\n- apiVersion: networking.mesh.gloo.solo.io/v1\n  kind: VirtualMesh\n  metadata: {name: vm, namespace: gloo-mesh}\n  spec:\n    meshes: [{name: m, namespace: gloo-mesh}]\n    mtlsConfig:\n      shared:\n        rootCertificateAuthority:\n          secret: {name: missing, namespace: gloo-mesh}\n";
        let list = crate::krm::read_resource_list(text.to_string()).unwrap();
        let outcome = run(list, &RunOptions::new(OutputStyle::ResourceList));
        let errors: Vec<&str> = outcome
            .results
            .iter()
            .filter(|r| r.severity == crate::krm::Severity::Error)
            .map(|r| r.message.as_str())
            .collect();
        assert_eq!(outcome.exit_code, 1);
        assert!(
            errors.iter().any(|m| m.contains("must name the cluster")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|m| m.contains("root CA Secret gloo-mesh/missing is not in the input")),
            "{errors:?}"
        );
    }
}
