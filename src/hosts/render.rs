//! `vmesh render DIR… [--out OUT] [--cluster C] [--check]`: render a repository for CI and
//! for users without kpt, and the generate command of the Argo CD plugin.
//!
//! Inputs are read from files (see [`super::source`]); the configuration is the one
//! `VirtualMeshRenderer` found among them (or `--config FILE`), overridden by flags. Without
//! `--out` the generated objects are printed as a plain stream. With `--out`, every cluster's
//! objects are written to `OUT/<cluster>/<namespace>/<kind>.yaml` (the layout of kpt's
//! `clusters/` directory), files vmesh wrote earlier and no longer renders are removed, and
//! files vmesh did not write are never touched. `--check` writes nothing: it prints a
//! unified diff of what would change and exits 1 if anything would.

use super::outdir;
use super::source::{self, display};
use super::{Reply, Settings};
use crate::index::{MANAGED_BY_LABEL, MANAGED_BY_VALUE, Ownership, ownership};
use crate::krm::Item;
use crate::model::config::{CONFIG_API_VERSION, CONFIG_KIND, RenderConfig};
use crate::render::outputs::CLUSTER_ANNOTATION;
use crate::render::settings::{
    SETTINGS_ANNOTATION, SETTINGS_CLUSTER_ANNOTATION, SETTINGS_DIR, SETTINGS_FORMAT, settings_path,
};
use crate::{OutputStyle, RunOptions};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What `vmesh render` was asked to do.
#[derive(Debug, Default, Clone)]
pub struct RenderArgs {
    /// Files and directories to read (the current directory when empty).
    pub paths: Vec<PathBuf>,
    /// Write one directory per cluster here instead of printing a stream.
    pub out: Option<PathBuf>,
    /// Compare with `out` instead of writing it.
    pub check: bool,
    /// The configuration file, instead of the `VirtualMeshRenderer` found in the inputs.
    pub config: Option<PathBuf>,
    pub settings: Settings,
    /// Print exactly one cluster's slice and refuse an empty one (Argo CD).
    pub one_cluster: bool,
}

/// Runs `vmesh render`.
pub fn render(args: &RenderArgs) -> Reply {
    match prepare(args) {
        Ok((prepared, mut reply)) => match finish(args, prepared, &mut reply) {
            Ok(()) => reply,
            Err(failure) => failure.with_notes(&reply.stderr),
        },
        Err(reply) => reply,
    }
}

/// The inputs read and the run done; the reply so far carries the notes and results.
struct Prepared {
    stream: String,
    objects: usize,
    cluster: Option<String>,
    known_clusters: Vec<String>,
}

fn prepare(args: &RenderArgs) -> Result<(Prepared, Reply), Reply> {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let skip: Vec<PathBuf> = args.out.iter().cloned().collect();
    let mut source = source::read(Path::new(""), &paths, &skip).map_err(Reply::fail)?;
    let mut reply = Reply::default();
    for note in &source.notes {
        reply.note(note);
    }
    let found = source.take(CONFIG_API_VERSION, CONFIG_KIND);
    let (config, base_dir) = configuration(args, found, &mut reply)?;
    let config = args
        .settings
        .apply(config)
        .map_err(|e| Reply::fail(e).with_notes(&reply.stderr))?;
    if args.one_cluster && config.cluster.is_none() {
        return Err(Reply::fail("no cluster given").with_notes(&reply.stderr));
    }
    let list = super::resource_list(source.objects);
    if !super::has_virtual_mesh(&list.items) {
        let shown: Vec<String> = paths.iter().map(|p| display(p)).collect();
        return Err(Reply::fail(format!(
                "no VirtualMesh found in {}: nothing to render (is this the right directory, or is the VirtualMesh listed in {}?)",
                shown.join(", "),
                source::IGNORE_FILE
            )).with_notes(&reply.stderr));
    }
    let known_clusters = super::mesh_clusters(&list.items);
    let cluster = config.cluster.clone();
    let outcome = crate::run(
        list,
        &RunOptions {
            config: Some(config),
            base_dir,
            // With --out, the management items come too: each mesh's Istio settings are
            // written beside the clusters' directories.
            ..RunOptions::new(if args.out.is_some() {
                OutputStyle::GeneratedWithManagement
            } else {
                OutputStyle::GeneratedStream
            })
        },
    );
    if outcome.failed() {
        return Err(Reply::failed_run(&outcome.results).with_notes(&reply.stderr));
    }
    reply
        .stderr
        .push_str(&super::result_lines(&outcome.results));
    // Argo CD shows the manifests itself; a person running vmesh render gets one line.
    if !args.one_cluster && super::wants_summary(true) {
        reply.stderr.push_str(&super::summary(&outcome));
    }
    Ok((
        Prepared {
            objects: super::generated_objects(&outcome),
            stream: outcome.stdout,
            cluster,
            known_clusters,
        },
        reply,
    ))
}

/// The configuration (`--config`, or the one VirtualMeshRenderer among the inputs) and the
/// directory its relative paths are resolved against (the config file's).
fn configuration(
    args: &RenderArgs,
    found: Vec<Value>,
    reply: &mut Reply,
) -> Result<(RenderConfig, Option<PathBuf>), Reply> {
    let value = match &args.config {
        Some(file) => {
            let shown = display(file);
            for other in found.iter().map(path_of).filter(|p| *p != shown) {
                reply.note(format!("{other} is ignored: --config {shown} is used"));
            }
            let fail = |message: String| {
                Reply::fail(format!("cannot read {shown}: {message}")).with_notes(&reply.stderr)
            };
            let text = std::fs::read_to_string(file).map_err(|e| fail(e.to_string()))?;
            let mut value: Value =
                serde_saphyr::from_str_with_options(&text, crate::yaml::parse::options()).map_err(
                    |e| {
                        let message = crate::krm::explain::yaml_error("it", &e, &text);
                        fail(message.trim_start_matches("cannot read it: ").to_string())
                    },
                )?;
            if let Some(metadata) = value.get_mut("metadata").and_then(Value::as_object_mut) {
                let annotations = metadata
                    .entry("annotations")
                    .or_insert_with(|| Value::Object(Default::default()));
                if let Some(annotations) = annotations.as_object_mut() {
                    annotations.insert(crate::krm::PATH_ANNOTATION.into(), Value::String(shown));
                }
            }
            value
        }
        None => match found.len() {
            0 => return Ok((RenderConfig::default(), None)),
            1 => found.into_iter().next().expect("one config"),
            _ => {
                let paths: Vec<String> = found.iter().map(path_of).collect();
                return Err(Reply::fail(format!(
                        "found {} {CONFIG_KIND} configurations ({}); keep one, pass --config FILE, or list the others in {}",
                        found.len(),
                        paths.join(", "),
                        source::IGNORE_FILE
                    )).with_notes(&reply.stderr));
            }
        },
    };
    let path = PathBuf::from(path_of(&value));
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    match crate::config::from_function_config(Some(&value)) {
        Ok(config) => Ok((config, Some(dir))),
        Err(result) => {
            let mut result = *result;
            result.file = Item::new(value, None, 0).file_ref();
            Err(Reply::failed_run(&[result]).with_notes(&reply.stderr))
        }
    }
}

fn path_of(object: &Value) -> String {
    object["metadata"]["annotations"][crate::krm::PATH_ANNOTATION]
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn finish(args: &RenderArgs, prepared: Prepared, reply: &mut Reply) -> Result<(), Reply> {
    let Some(out) = &args.out else {
        if prepared.objects == 0 {
            return Err(Reply::fail(match &prepared.cluster {
                Some(cluster) => super::empty_slice_message(cluster, &prepared.known_clusters),
                None => "the VirtualMeshes render no objects; refusing to print an empty stream, which a GitOps host would read as \"delete everything\"".to_string(),
            }));
        }
        reply.stdout = prepared.stream;
        return Ok(());
    };
    if let Some(cluster) = &prepared.cluster
        && prepared.objects == 0
    {
        return Err(Reply::fail(super::empty_slice_message(
            cluster,
            &prepared.known_clusters,
        )));
    }
    let wanted = files(&prepared.stream).map_err(Reply::fail)?;
    let scope = Scope {
        out,
        cluster: prepared.cluster.as_deref(),
    };
    if args.check {
        if outdir::interrupted(out).map_err(Reply::fail)? {
            return Err(Reply::fail(format!(
                "{} holds an update an interrupted vmesh render left; run the same command without --check to complete or roll it back",
                display(out)
            )));
        }
        let existing = scope.existing(&wanted, reply)?;
        return check(out, &wanted, &existing, reply);
    }
    if !out.exists() {
        std::fs::create_dir_all(out)
            .map_err(|e| Reply::fail(format!("cannot create {}: {e}", display(out))))?;
    }
    let lock = outdir::lock(out).map_err(Reply::fail)?;
    for note in outdir::recover(out, &lock).map_err(Reply::fail)? {
        reply.note(note);
    }
    let existing = scope.existing(&wanted, reply)?;
    write(out, &wanted, &existing, &lock, reply).map_err(Reply::fail)
}

/// The part of OUT one run owns: every cluster directory, or one with `--cluster`.
struct Scope<'a> {
    out: &'a Path,
    cluster: Option<&'a str>,
}

impl Scope<'_> {
    /// The files vmesh wrote in scope, keyed by their path below OUT, after refusing links
    /// on every path it would write and files at those paths it did not write.
    fn existing(
        &self,
        wanted: &BTreeMap<PathBuf, String>,
        reply: &mut Reply,
    ) -> Result<BTreeMap<PathBuf, String>, Reply> {
        let out = self.out;
        for path in wanted.keys() {
            outdir::refuse_links(out, path).map_err(Reply::fail)?;
        }
        let (dir, depth, prefix) = match self.cluster {
            Some(cluster) => (out.join(cluster), 2, PathBuf::from(cluster)),
            None => (out.to_path_buf(), 3, PathBuf::new()),
        };
        let owned = owned_files(&dir, depth, reply)?;
        let mut existing: BTreeMap<PathBuf, String> = owned
            .into_iter()
            .map(|(path, text)| (prefix.join(path), text))
            .collect();
        // The Istio settings: every cluster's, or the one cluster's with --cluster.
        let settings_dir = out.join(SETTINGS_DIR);
        let settings = owned_files(&settings_dir, 1, reply)?;
        let own_settings = self.cluster.map(|c| PathBuf::from(format!("{c}.yaml")));
        for (path, text) in settings {
            if own_settings.as_ref().is_none_or(|own| *own == path) {
                existing.insert(Path::new(SETTINGS_DIR).join(path), text);
            }
        }
        for path in wanted.keys() {
            let full = out.join(path);
            if std::fs::symlink_metadata(&full).is_ok() && !existing.contains_key(path) {
                return Err(Reply::fail(format!(
                    "{} exists and was not written by vmesh (not every object in it is one vmesh renders, with the label {MANAGED_BY_LABEL}: {MANAGED_BY_VALUE} and vmesh's vmesh.dev/ annotations); move it out of {}",
                    display(&full),
                    display(out)
                )));
            }
        }
        Ok(existing)
    }
}

/// The files `--out` holds for a generated stream: `<cluster>/<namespace>/<kind>.yaml`,
/// each with its documents in output order.
fn files(stream: &str) -> Result<BTreeMap<PathBuf, String>, String> {
    let mut files: BTreeMap<PathBuf, String> = BTreeMap::new();
    for document in super::split_stream(stream) {
        let value: Value =
            serde_saphyr::from_str_with_options(document, crate::yaml::parse::options())
                .map_err(|e| format!("internal error: a generated document does not parse: {e}"))?;
        let annotations = &value["metadata"]["annotations"];
        if annotations[SETTINGS_ANNOTATION].as_str() == Some(SETTINGS_FORMAT) {
            let cluster = annotations[SETTINGS_CLUSTER_ANNOTATION]
                .as_str()
                .unwrap_or("");
            if !safe_component(cluster) {
                return Err(format!(
                    "cannot write the Istio settings of cluster {cluster:?}: the name is not usable as a file name"
                ));
            }
            add_document(&mut files, PathBuf::from(settings_path(cluster)), document);
            continue;
        }
        let cluster = annotations[CLUSTER_ANNOTATION].as_str().unwrap_or("");
        if cluster.is_empty() {
            // A management item that is no cluster's and no settings (the root CA Secret,
            // whose private key has no place in a rendered tree).
            continue;
        }
        if cluster == SETTINGS_DIR {
            return Err(format!(
                "cannot write cluster {cluster}: OUT/{SETTINGS_DIR}/ holds every cluster's Istio settings; render this cluster alone with --cluster into another OUT, or rename it"
            ));
        }
        let namespace = value["metadata"]["namespace"].as_str().unwrap_or("");
        let kind = value["kind"].as_str().unwrap_or("");
        for (what, part) in [
            ("cluster", cluster),
            ("namespace", namespace),
            ("kind", kind),
        ] {
            if !safe_component(part) {
                return Err(format!(
                    "cannot write {kind} {namespace}/{}: its {what} {part:?} is not usable as a directory or file name",
                    value["metadata"]["name"].as_str().unwrap_or("")
                ));
            }
        }
        let kpt_path = crate::render::output_path(cluster, namespace, kind);
        let path = PathBuf::from(kpt_path.strip_prefix("clusters/").unwrap_or(&kpt_path));
        add_document(&mut files, path, document);
    }
    Ok(files)
}

fn add_document(files: &mut BTreeMap<PathBuf, String>, path: PathBuf, document: &str) {
    let text = files.entry(path).or_default();
    if !text.is_empty() {
        text.push_str("---\n");
    }
    text.push_str(document);
}

fn safe_component(part: &str) -> bool {
    !part.is_empty()
        && part != "."
        && part != ".."
        && part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The `*.yaml` files `depth` levels below `dir` that vmesh wrote, with their text, keyed
/// by their path below `dir`. A file that carries vmesh's label but is not vmesh's is left
/// alone, with a note. Links are not followed (walkdir's default), so a linked file is never
/// vmesh's.
fn owned_files(
    dir: &Path,
    depth: usize,
    reply: &mut Reply,
) -> Result<BTreeMap<PathBuf, String>, Reply> {
    let mut owned = BTreeMap::new();
    if !dir.exists() {
        return Ok(owned);
    }
    let walker = walkdir::WalkDir::new(dir)
        .min_depth(depth)
        .max_depth(depth)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walker {
        let entry = entry.map_err(|e| Reply::fail(format!("cannot walk {}: {e}", display(dir))))?;
        if !entry.file_type().is_file() || entry.path().extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path())
            .map_err(|e| Reply::fail(format!("cannot read {}: {e}", display(entry.path()))))?;
        let relative = entry.path().strip_prefix(dir).expect("below dir");
        match written_by_vmesh(&text) {
            Ownership::Generated => {
                owned.insert(relative.to_path_buf(), text);
            }
            Ownership::Labelled => reply.note(format!(
                "{} carries the label {MANAGED_BY_LABEL}: {MANAGED_BY_VALUE} but not every object in it is one vmesh renders; it is left alone",
                display(entry.path())
            )),
            Ownership::Foreign => {}
        }
    }
    Ok(owned)
}

/// Whether vmesh wrote a file: every document is an object vmesh renders
/// ([`crate::index::ownership`]). A file with vmesh's label on something vmesh does not
/// render is [`Ownership::Labelled`]: it is left alone, with a note.
fn written_by_vmesh(text: &str) -> Ownership {
    let parsed: Result<Vec<Value>, _> =
        serde_saphyr::from_str_multiple_with_options(text, crate::yaml::parse::options());
    let Ok(documents) = parsed else {
        return Ownership::Foreign;
    };
    let owners: Vec<Ownership> = documents
        .iter()
        .filter(|d| !d.is_null())
        .map(|d| d.as_object().map_or(Ownership::Foreign, ownership))
        .collect();
    if !owners.is_empty() && owners.iter().all(|o| *o == Ownership::Generated) {
        Ownership::Generated
    } else if owners.iter().any(|o| *o != Ownership::Foreign) {
        Ownership::Labelled
    } else {
        Ownership::Foreign
    }
}

fn check(
    out: &Path,
    wanted: &BTreeMap<PathBuf, String>,
    existing: &BTreeMap<PathBuf, String>,
    reply: &mut Reply,
) -> Result<(), Reply> {
    let paths: BTreeSet<&PathBuf> = wanted.keys().chain(existing.keys()).collect();
    let mut diff = String::new();
    let mut changed = 0;
    for path in paths {
        let old = existing.get(path).map_or("", String::as_str);
        let new = wanted.get(path).map_or("", String::as_str);
        if old == new {
            continue;
        }
        changed += 1;
        let shown = display(&out.join(path));
        let a = if existing.contains_key(path) {
            format!("a/{shown}")
        } else {
            "/dev/null".to_string()
        };
        let b = if wanted.contains_key(path) {
            format!("b/{shown}")
        } else {
            "/dev/null".to_string()
        };
        diff.push_str(&format!(
            "{}",
            similar::TextDiff::from_lines(old, new)
                .unified_diff()
                .context_radius(3)
                .header(&a, &b)
        ));
    }
    if changed == 0 {
        reply.say(format!(
            "{} is up to date ({} file(s))",
            display(out),
            wanted.len()
        ));
        return Ok(());
    }
    let mut failure = Reply::fail(format!(
        "{} is out of date: {changed} file(s) differ from what vmesh renders; run the same command without --check and commit the result",
        display(out)
    ));
    failure.stdout = diff;
    Err(failure)
}

/// Writes the changed files and removes the ones vmesh no longer renders, as one
/// transaction (see [`outdir`]).
fn write(
    out: &Path,
    wanted: &BTreeMap<PathBuf, String>,
    existing: &BTreeMap<PathBuf, String>,
    lock: &outdir::Lock,
    reply: &mut Reply,
) -> Result<(), String> {
    let writes: Vec<(PathBuf, &str)> = wanted
        .iter()
        .filter(|(path, text)| existing.get(*path) != Some(*text))
        .map(|(path, text)| (path.clone(), text.as_str()))
        .collect();
    let removes: Vec<PathBuf> = existing
        .keys()
        .filter(|p| !wanted.contains_key(*p))
        .cloned()
        .collect();
    if !writes.is_empty() || !removes.is_empty() {
        outdir::apply(out, &writes, &removes, lock)?;
    }
    reply.say(format!(
        "{}: {} file(s) written, {} removed, {} unchanged",
        display(out),
        writes.len(),
        removes.len(),
        wanted.len() - writes.len()
    ));
    Ok(())
}
