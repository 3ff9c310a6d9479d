//! `vmesh discover`: reads each cluster's objects from kubectl dumps (or, through
//! [`super::live`], from kubeconfig contexts), discovers them with [`crate::discover`], and
//! prints one YAML stream or writes `OUT/<cluster>.yaml`.
//!
//! All clusters are read and discovered before anything is printed or written: any error
//! is exit 1 with nothing on stdout and no file changed, so a partial discovery never
//! looks complete. Files are replaced atomically (a temporary file created exclusively in
//! OUT, then renamed), symlinks are never followed, and only files that start with the
//! discover header are overwritten.

use super::Reply;
use super::source::display;
use crate::discover::output::{self, HEADER_PREFIX};
use crate::discover::{self as discovery, ClusterObjects, Options};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where one cluster's objects come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// kubectl output files, read in order.
    Dumps(Vec<PathBuf>),
    /// A kubeconfig context, read live.
    Context(String),
}

/// What `vmesh discover` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct DiscoverArgs {
    /// `CLUSTER=PATH` pairs, as given.
    pub dumps: Vec<(String, PathBuf)>,
    /// `(context, cluster)` pairs.
    pub contexts: Vec<(String, String)>,
    /// The kubeconfig file for contexts (else `$KUBECONFIG` or `~/.kube/config`).
    pub kubeconfig: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub options: Options,
}

/// Reads a live cluster: a context's name, the kubeconfig and whether pods are needed in,
/// the objects out.
pub type LiveReader<'a> = &'a dyn Fn(&str, Option<&Path>, bool) -> Result<ClusterObjects, String>;

/// Runs `vmesh discover`.
pub fn discover(args: &DiscoverArgs, live: LiveReader<'_>) -> Reply {
    let sources = match sources(args) {
        Ok(sources) => sources,
        Err(message) => return Reply::fail(message),
    };
    let mut texts: Vec<(String, String)> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    let mut reply = Reply::default();
    for (cluster, source) in &sources {
        let read = match source {
            Source::Dumps(paths) => read_dumps(
                paths,
                args.options.endpoints != discovery::EndpointsMode::Pods,
            ),
            Source::Context(context) => live(
                context,
                args.kubeconfig.as_deref(),
                args.options.endpoints == discovery::EndpointsMode::Pods,
            ),
        };
        let objects = match read {
            Ok(objects) => objects,
            Err(message) => {
                errors.push(format!("cluster {cluster}: {message}"));
                continue;
            }
        };
        match discovery::discover(cluster, &objects, &args.options) {
            Ok(found) => {
                for warning in &found.warnings {
                    reply.say(format!("warning: {warning}"));
                }
                texts.push((
                    cluster.clone(),
                    output::cluster_text(&found, &origin(source)),
                ));
            }
            Err(error) => errors.push(error.to_string()),
        }
    }
    if !errors.is_empty() {
        let mut failure = Reply::fail(format!(
            "{} cluster(s) could not be discovered; nothing was written",
            errors.len()
        ));
        let lines: String = errors.iter().map(|e| format!("vmesh: {e}\n")).collect();
        failure.stderr.insert_str(0, &lines);
        return failure.with_notes(&reply.stderr);
    }
    match &args.out {
        None => {
            let all: Vec<String> = texts.into_iter().map(|(_, t)| t).collect();
            reply.stdout = output::stream_text(&all);
            reply
        }
        Some(dir) => match write_files(dir, &texts) {
            Ok(written) => {
                reply.say(format!(
                    "{}: {written} file(s) written, {} unchanged",
                    display(dir),
                    texts.len() - written
                ));
                reply
            }
            Err(message) => Reply::fail(message).with_notes(&reply.stderr),
        },
    }
}

/// Each cluster's source, sorted by cluster; a cluster named twice is an error, except
/// for several dumps of one cluster (read together).
fn sources(args: &DiscoverArgs) -> Result<BTreeMap<String, Source>, String> {
    if args.dumps.is_empty() && args.contexts.is_empty() {
        return Err(
            "nothing to discover: give --dump CLUSTER=PATH or --context CONTEXT[=CLUSTER]".into(),
        );
    }
    let mut sources: BTreeMap<String, Source> = BTreeMap::new();
    for (cluster, path) in &args.dumps {
        match sources
            .entry(cluster.clone())
            .or_insert_with(|| Source::Dumps(Vec::new()))
        {
            Source::Dumps(paths) => paths.push(path.clone()),
            Source::Context(context) => {
                return Err(format!(
                    "cluster {cluster} is given both as a dump and as context {context}"
                ));
            }
        }
    }
    for (context, cluster) in &args.contexts {
        if let Some(existing) = sources.insert(cluster.clone(), Source::Context(context.clone())) {
            let what = match existing {
                Source::Dumps(_) => "a dump".to_string(),
                Source::Context(other) => format!("context {other}"),
            };
            return Err(format!(
                "cluster {cluster} is given both as context {context} and as {what}"
            ));
        }
    }
    Ok(sources)
}

fn read_dumps(paths: &[PathBuf], skip_pods: bool) -> Result<ClusterObjects, String> {
    let mut objects = ClusterObjects::default();
    objects.skip_pods = skip_pods;
    for path in paths {
        let shown = display(path);
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            format!(
                "{shown} is not UTF-8 text (byte {}): not kubectl YAML output",
                e.utf8_error().valid_up_to()
            )
        })?;
        discovery::objects::read_dump(&text, &shown, &mut objects)?;
    }
    Ok(objects)
}

fn origin(source: &Source) -> String {
    match source {
        Source::Dumps(paths) => {
            let shown: Vec<String> = paths.iter().map(|p| display(p)).collect();
            format!("dump {}", shown.join(", "))
        }
        Source::Context(context) => format!("context {context}"),
    }
}

/// Writes `dir/<cluster>.yaml` for every text; returns how many files changed. Every
/// target is checked before the first is written.
fn write_files(dir: &Path, texts: &[(String, String)]) -> Result<usize, String> {
    let shown_dir = display(dir);
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(format!(
                "{shown_dir} is a symbolic link; vmesh discover writes only into a real directory"
            ));
        }
        Ok(meta) if !meta.is_dir() => {
            return Err(format!("{shown_dir} exists and is not a directory"));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {shown_dir}: {e}"))?;
        }
        Err(e) => return Err(format!("cannot read {shown_dir}: {e}")),
    }
    let mut changed: Vec<(PathBuf, &str)> = Vec::new();
    for (cluster, text) in texts {
        let target = dir.join(format!("{cluster}.yaml"));
        let shown = display(&target);
        match std::fs::symlink_metadata(&target) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => changed.push((target, text)),
            Err(e) => return Err(format!("cannot read {shown}: {e}")),
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(format!(
                    "{shown} is a symbolic link; vmesh discover never writes through one"
                ));
            }
            Ok(meta) if !meta.is_file() => return Err(format!("{shown} exists and is not a file")),
            Ok(_) => {
                let existing =
                    std::fs::read(&target).map_err(|e| format!("cannot read {shown}: {e}"))?;
                if !existing.starts_with(HEADER_PREFIX.as_bytes()) {
                    return Err(format!(
                        "{shown} exists and was not written by vmesh discover (it does not start with {HEADER_PREFIX:?}); move it out of {shown_dir}"
                    ));
                }
                if existing != text.as_bytes() {
                    changed.push((target, text));
                }
            }
        }
    }
    let mut temporaries: Vec<(PathBuf, PathBuf)> = Vec::new();
    let result = (|| {
        for (target, text) in &changed {
            let temporary = write_temporary(dir, target, text)?;
            temporaries.push((temporary, target.clone()));
        }
        for (temporary, target) in &temporaries {
            std::fs::rename(temporary, target)
                .map_err(|e| format!("cannot replace {}: {e}", display(target)))?;
        }
        Ok(changed.len())
    })();
    if result.is_err() {
        for (temporary, _) in &temporaries {
            let _ = std::fs::remove_file(temporary);
        }
    }
    result
}

/// A new file beside `target` holding `text`, created exclusively (`O_EXCL`, never through
/// a symlink) and flushed to disk.
fn write_temporary(dir: &Path, target: &Path, text: &str) -> Result<PathBuf, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let base = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for attempt in 0..100u32 {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random)
            .map_err(|e| format!("no randomness for a temporary name: {e}"))?;
        let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let temporary = dir.join(format!(".{base}.{suffix}.vmesh-tmp"));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&temporary);
        match file {
            Ok(mut file) => {
                let written = file
                    .write_all(text.as_bytes())
                    .and_then(|()| file.sync_all());
                if let Err(e) = written {
                    let _ = std::fs::remove_file(&temporary);
                    return Err(format!("cannot write {}: {e}", display(&temporary)));
                }
                return Ok(temporary);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 99 => continue,
            Err(e) => {
                return Err(format!(
                    "cannot create a temporary file in {}: {e}",
                    display(dir)
                ));
            }
        }
    }
    Err(format!(
        "cannot create a temporary file in {}",
        display(dir)
    ))
}

/// Parses `CLUSTER=PATH`.
pub fn parse_dump(text: &str) -> Result<(String, PathBuf), String> {
    match text.split_once('=') {
        Some((cluster, path)) if !cluster.is_empty() && !path.is_empty() => {
            Ok((cluster.to_string(), PathBuf::from(path)))
        }
        _ => Err(format!(
            "--dump {text:?}: expected CLUSTER=PATH, e.g. cluster-1=cluster-1.yaml"
        )),
    }
}

/// Parses `CONTEXT[=CLUSTER]`; the cluster defaults to the context's name.
pub fn parse_context(text: &str) -> Result<(String, String), String> {
    let (context, cluster) = text.split_once('=').unwrap_or((text, text));
    if context.is_empty() || cluster.is_empty() {
        return Err(format!(
            "--context {text:?}: expected CONTEXT or CONTEXT=CLUSTER"
        ));
    }
    Ok((context.to_string(), cluster.to_string()))
}

/// Parses a gateway label set `KEY=VALUE[,KEY=VALUE…]`.
pub fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut labels = BTreeMap::new();
    for pair in text.split(',') {
        match pair.split_once('=') {
            Some((key, value)) if !key.is_empty() => {
                labels.insert(key.to_string(), value.to_string());
            }
            _ => {
                return Err(format!(
                    "--gateway-labels {text:?}: expected KEY=VALUE[,KEY=VALUE…]"
                ));
            }
        }
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_live(_: &str, _: Option<&Path>, _: bool) -> Result<ClusterObjects, String> {
        Err("no live clusters in unit tests".into())
    }

    #[test]
    fn flags_parse() {
        assert_eq!(
            parse_dump("c1=a.yaml").unwrap(),
            ("c1".into(), PathBuf::from("a.yaml"))
        );
        assert!(parse_dump("a.yaml").is_err());
        assert_eq!(
            parse_context("kind-east").unwrap(),
            ("kind-east".into(), "kind-east".into())
        );
        assert_eq!(
            parse_context("kind-east=east").unwrap(),
            ("kind-east".into(), "east".into())
        );
        assert!(parse_context("=east").is_err());
        assert_eq!(
            parse_labels("istio=eastwestgateway,app=x").unwrap().len(),
            2
        );
        assert!(parse_labels("istio").is_err());
    }

    #[test]
    fn a_cluster_from_two_sources_is_refused() {
        let args = DiscoverArgs {
            dumps: vec![("c1".into(), "a.yaml".into())],
            contexts: vec![("ctx".into(), "c1".into())],
            ..DiscoverArgs::default()
        };
        let reply = discover(&args, &no_live);
        assert_eq!(reply.code, 1);
        assert!(
            reply.stderr.contains("cluster c1 is given both"),
            "{}",
            reply.stderr
        );
    }

    #[test]
    fn out_never_overwrites_foreign_files_or_follows_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let texts = vec![("c1".to_string(), format!("{HEADER_PREFIX} from x\n"))];
        std::fs::write(dir.path().join("c1.yaml"), "mine\n").unwrap();
        let error = write_files(dir.path(), &texts).unwrap_err();
        assert!(
            error.contains("was not written by vmesh discover"),
            "{error}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("c1.yaml")).unwrap(),
            "mine\n"
        );

        std::fs::remove_file(dir.path().join("c1.yaml")).unwrap();
        std::fs::write(dir.path().join("elsewhere"), "keep\n").unwrap();
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), dir.path().join("c1.yaml"))
            .unwrap();
        let error = write_files(dir.path(), &texts).unwrap_err();
        assert!(error.contains("symbolic link"), "{error}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("elsewhere")).unwrap(),
            "keep\n"
        );

        std::fs::remove_file(dir.path().join("c1.yaml")).unwrap();
        assert_eq!(write_files(dir.path(), &texts).unwrap(), 1);
        assert_eq!(
            write_files(dir.path(), &texts).unwrap(),
            0,
            "unchanged files are not rewritten"
        );
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!names.iter().any(|n| n.contains("vmesh-tmp")), "{names:?}");
    }
}
