//! Reading Kubernetes objects from files and directories (`vmesh render`, the kustomize
//! generator's `inputs`), the way `kpt fn source` reads a package.
//!
//! - Directories are walked in name order; `*.yaml` / `*.yml` files are read, hidden files
//!   and directories (`.git`, `.github`, …) are skipped, and `.krmignore` files are honoured.
//!   A file named explicitly is always read.
//! - YAML that is not a Kubernetes object (no `apiVersion`/`kind`, no `metadata.name`, a
//!   `Kustomization`) is skipped with a note. YAML that does not parse is an error: skipping
//!   it could drop a VirtualMesh and prune its outputs. List such files in `.krmignore`.
//! - Every object gets kpt's `internal.config.kubernetes.io/path` and `/index` annotations,
//!   so results name the file and document they came from.

use super::ignore::Rules;
use crate::krm::{INDEX_ANNOTATION, PATH_ANNOTATION};
use crate::yaml::parse;
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The name of the ignore file kpt uses.
pub const IGNORE_FILE: &str = ".krmignore";

/// What was read: the objects (in walk order) and notes about what was skipped.
#[derive(Debug, Default)]
pub struct Source {
    pub objects: Vec<Value>,
    pub notes: Vec<String>,
}

impl Source {
    /// Removes and returns the objects of one `apiVersion` and `kind`.
    pub fn take(&mut self, api_version: &str, kind: &str) -> Vec<Value> {
        let (taken, kept) = std::mem::take(&mut self.objects)
            .into_iter()
            .partition(|o| o["apiVersion"] == api_version && o["kind"] == kind);
        self.objects = kept;
        taken
    }
}

/// Reads every path (a file or a directory), relative to `base`; messages and path
/// annotations show paths as given, without `base`. `skip` lists directories never to
/// enter (the output directory of `vmesh render`). Errors are complete messages.
pub fn read(base: &Path, paths: &[PathBuf], skip: &[PathBuf]) -> Result<Source, String> {
    let skip: Vec<PathBuf> = skip.iter().filter_map(|p| p.canonicalize().ok()).collect();
    let mut source = Source::default();
    let mut bytes = 0usize;
    let shown = |file: &Path| display(file.strip_prefix(base).unwrap_or(file));
    for path in paths {
        let path = base.join(path);
        let metadata =
            std::fs::metadata(&path).map_err(|e| format!("cannot read {}: {e}", shown(&path)))?;
        let files = if metadata.is_dir() {
            walk(&path, &skip)?
        } else {
            vec![path]
        };
        for file in files {
            read_file(&file, &shown(&file), &mut source, &mut bytes)?;
        }
    }
    Ok(source)
}

/// The YAML files below `root`, in name order, without hidden or `.krmignore`d entries.
fn walk(root: &Path, skip: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let rules: RefCell<HashMap<PathBuf, Option<Rules>>> = RefCell::new(HashMap::new());
    let error: RefCell<Option<String>> = RefCell::new(None);
    let mut files = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| {
            if entry.depth() == 0 {
                return true;
            }
            let name = entry.file_name().to_string_lossy();
            if name.starts_with('.') {
                return false;
            }
            let is_dir = entry.file_type().is_dir();
            if is_dir
                && !skip.is_empty()
                && entry.path().canonicalize().is_ok_and(|p| skip.contains(&p))
            {
                return false;
            }
            match ignored(root, entry.path(), is_dir, &rules) {
                Ok(ignored) => !ignored,
                Err(e) => {
                    error.borrow_mut().get_or_insert(e);
                    false
                }
            }
        });
    let canonical_root = root
        .canonicalize()
        .map_err(|e| format!("cannot read {}: {e}", display(root)))?;
    for entry in walker {
        let entry = entry.map_err(|e| format!("cannot walk {}: {e}", display(root)))?;
        let yaml = entry
            .path()
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml");
        let file_type = entry.file_type();
        let read = if file_type.is_symlink() {
            followed_link(&canonical_root, root, entry.path(), yaml)?
        } else {
            file_type.is_file() && yaml
        };
        if read {
            files.push(entry.into_path());
        }
    }
    match error.into_inner() {
        Some(e) => Err(e),
        None => Ok(files),
    }
}

/// Whether to read the link at `link`: a link to a YAML file inside the walked directory
/// is read like the file (kpt reads such files too). Any other link that could hold
/// resources (to a directory, outside the directory, to nothing) is an error: skipping it
/// would silently drop its resources and prune their outputs.
fn followed_link(
    canonical_root: &Path,
    root: &Path,
    link: &Path,
    yaml: bool,
) -> Result<bool, String> {
    let way_out = format!("list it in {IGNORE_FILE} if it holds no resources to render");
    let Ok(target) = link.canonicalize() else {
        if !yaml {
            return Ok(false);
        }
        return Err(format!(
            "{} is a symbolic link to nothing; fix or remove it, or {way_out}",
            display(link)
        ));
    };
    if target.is_dir() {
        return Err(format!(
            "{} is a symbolic link to a directory ({}); vmesh does not follow directory links: name the directory itself, or {way_out}",
            display(link),
            display(&target)
        ));
    }
    if !yaml {
        return Ok(false);
    }
    if !target.starts_with(canonical_root) {
        return Err(format!(
            "{} is a symbolic link to {}, outside {}; vmesh reads links only within the directory it reads: copy the file in, or {way_out}",
            display(link),
            display(&target),
            display(root)
        ));
    }
    Ok(true)
}

/// Whether the `.krmignore` files from `root` down to `path`'s directory ignore `path`.
fn ignored(
    root: &Path,
    path: &Path,
    is_dir: bool,
    cache: &RefCell<HashMap<PathBuf, Option<Rules>>>,
) -> Result<bool, String> {
    let mut verdict = false;
    let mut dir = root.to_path_buf();
    let relative = path.strip_prefix(root).expect("walk stays below its root");
    let parts: Vec<_> = relative.components().collect();
    for depth in 0..parts.len() {
        if depth > 0 {
            dir.push(parts[depth - 1]);
        }
        let mut cache = cache.borrow_mut();
        let rules = match cache.get(&dir) {
            Some(rules) => rules,
            None => {
                let file = dir.join(IGNORE_FILE);
                let rules = match std::fs::read_to_string(&file) {
                    Ok(text) => Some(Rules::parse(&text)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => return Err(format!("cannot read {}: {e}", display(&file))),
                };
                cache.entry(dir.clone()).or_insert(rules)
            }
        };
        if let Some(rules) = rules {
            let below: Vec<String> = parts[depth..]
                .iter()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if let Some(v) = rules.verdict(&below.join("/"), is_dir) {
                verdict = v;
            }
        }
    }
    Ok(verdict)
}

fn read_file(
    path: &Path,
    shown: &str,
    source: &mut Source,
    bytes: &mut usize,
) -> Result<(), String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    *bytes += text.len();
    if *bytes > parse::limits::MAX_INPUT_BYTES {
        return Err(format!(
            "the inputs are larger than {} bytes",
            parse::limits::MAX_INPUT_BYTES
        ));
    }
    let text = String::from_utf8(text).map_err(|e| {
        format!(
            "{shown} is not UTF-8 (byte {}); list it in {IGNORE_FILE} if it is not a Kubernetes resource file",
            e.utf8_error().valid_up_to()
        )
    })?;
    parse::check_text(&text).map_err(|e| format!("{shown}: {e}"))?;
    let docs: Vec<Value> = serde_saphyr::from_str_multiple_with_options(&text, parse::options())
        .map_err(|e| {
            format!(
                "{}; list it in {IGNORE_FILE} if it is not a Kubernetes resource file",
                crate::krm::explain::yaml_error(shown, &e, &text)
            )
        })?;
    let mut skipped = Vec::new();
    let mut kept = 0;
    let kustomization = path.file_name().is_some_and(|n| {
        ["kustomization.yaml", "kustomization.yml"].contains(&&*n.to_string_lossy())
    });
    for (index, doc) in docs.into_iter().enumerate() {
        if kustomization {
            skipped.push(format!(
                "document {index} is a kustomization, not a resource"
            ));
            continue;
        }
        match object(doc) {
            Ok(Some(mut object)) => {
                annotate(&mut object, shown, index);
                source.objects.push(object);
                kept += 1;
            }
            Ok(None) => {}
            Err(reason) => skipped.push(format!("document {index} {reason}")),
        }
    }
    if !skipped.is_empty() {
        let what = if kept == 0 {
            "not a Kubernetes resource file".to_string()
        } else {
            format!("{} document(s) skipped", skipped.len())
        };
        source
            .notes
            .push(format!("{shown}: {what} ({})", skipped.join("; ")));
    }
    Ok(())
}

/// The document as a Kubernetes object, `None` for an empty document, or why it is not one.
fn object(doc: Value) -> Result<Option<Value>, &'static str> {
    let map = match doc {
        Value::Null => return Ok(None),
        Value::Object(map) => map,
        _ => return Err("is not a mapping"),
    };
    let text = |key: &str| map.get(key).and_then(Value::as_str).unwrap_or("");
    if text("apiVersion").is_empty() || text("kind").is_empty() {
        return Err("has no apiVersion or kind");
    }
    if text("kind") == "Kustomization" || text("kind") == "Component" {
        return Err("is a kustomization, not a resource");
    }
    if matches!(text("kind"), "List" | "ResourceList") {
        return Err("is a List; vmesh reads objects as separate documents");
    }
    let name = map
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str);
    if name.is_none_or(str::is_empty) {
        return Err("has no metadata.name");
    }
    Ok(Some(Value::Object(map)))
}

fn annotate(object: &mut Value, path: &str, index: usize) {
    let metadata = object
        .as_object_mut()
        .expect("objects are mappings")
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(metadata) = metadata.as_object_mut() else {
        return;
    };
    let annotations = metadata
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(annotations) = annotations.as_object_mut() {
        annotations.insert(PATH_ANNOTATION.into(), Value::String(path.to_string()));
        annotations.insert(INDEX_ANNOTATION.into(), Value::String(index.to_string()));
    }
}

/// A path as the user wrote it, without a leading `./`.
pub fn display(path: &Path) -> String {
    let text = path.to_string_lossy();
    let text = text.strip_prefix("./").unwrap_or(&text);
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n";

    #[test]
    fn walks_in_name_order_and_annotates_paths() {
        let dir = tree(&[
            ("b.yaml", CM),
            ("a/x.yml", &format!("{CM}---\n{CM}")),
            ("notes.txt", CM),
        ]);
        let source = read(Path::new(""), &[dir.path().to_path_buf()], &[]).unwrap();
        let paths: Vec<String> = source
            .objects
            .iter()
            .map(|o| {
                let a = &o["metadata"]["annotations"];
                let path = a[PATH_ANNOTATION].as_str().unwrap();
                let rel = path.rsplit_once(dir.path().file_name().unwrap().to_str().unwrap());
                format!(
                    "{}#{}",
                    rel.unwrap().1,
                    a[INDEX_ANNOTATION].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(paths, ["/a/x.yml#0", "/a/x.yml#1", "/b.yaml#0"]);
        assert!(source.notes.is_empty(), "{:?}", source.notes);
    }

    #[test]
    fn skips_hidden_ignored_and_non_kubernetes_yaml_with_notes() {
        let dir = tree(&[
            (".github/ci.yaml", "on: push\n"),
            (".krmignore", "drafts/\n*.tmp.yaml\n"),
            ("drafts/x.yaml", "{{ broken"),
            ("sub/.krmignore", "local.yaml\n"),
            ("sub/local.yaml", "{{ broken"),
            ("y.tmp.yaml", "{{ broken"),
            ("values.yaml", "replicas: 3\n"),
            (
                "kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n",
            ),
            ("mixed.yaml", &format!("{CM}---\nfoo: bar\n---\n")),
        ]);
        let source = read(Path::new(""), &[dir.path().to_path_buf()], &[]).unwrap();
        assert_eq!(source.objects.len(), 1);
        let notes = source.notes.join("\n");
        assert!(
            notes.contains(
                "values.yaml: not a Kubernetes resource file (document 0 has no apiVersion or kind)"
            ),
            "{notes}"
        );
        assert!(
            notes.contains(
                "kustomization.yaml: not a Kubernetes resource file (document 0 is a kustomization"
            ),
            "{notes}"
        );
        assert!(
            notes.contains(
                "mixed.yaml: 1 document(s) skipped (document 1 has no apiVersion or kind)"
            ),
            "{notes}"
        );
        assert_eq!(source.notes.len(), 3, "{notes}");
    }

    #[test]
    fn broken_yaml_is_an_error_that_names_the_file_and_the_way_out() {
        let dir = tree(&[("chart/templates/x.yaml", "a: {{ .Values.x }}\n")]);
        let err = read(Path::new(""), &[dir.path().to_path_buf()], &[]).unwrap_err();
        assert!(err.contains("chart/templates/x.yaml"), "{err}");
        assert!(err.contains(".krmignore"), "{err}");
    }

    #[test]
    fn links_inside_are_read_and_links_that_leave_are_refused() {
        let dir = tree(&[("real/a.yaml", CM)]);
        let outside = tree(&[("b.yaml", CM)]);
        std::os::unix::fs::symlink(dir.path().join("real/a.yaml"), dir.path().join("vm.yaml"))
            .unwrap();
        let source = read(Path::new(""), &[dir.path().to_path_buf()], &[]).unwrap();
        assert_eq!(source.objects.len(), 2, "the link is read like its file");
        let links: [(&Path, &str, &str); 3] = [
            (&outside.path().join("b.yaml"), "x.yaml", "outside"),
            (outside.path(), "sub", "a directory"),
            (Path::new("/nonexistent/vmesh"), "gone.yaml", "to nothing"),
        ];
        for (target, name, says) in links {
            let dir = tree(&[("real/a.yaml", CM)]);
            std::os::unix::fs::symlink(target, dir.path().join(name)).unwrap();
            let err = read(Path::new(""), &[dir.path().to_path_buf()], &[]).unwrap_err();
            assert!(err.contains(name) && err.contains(says), "{err}");
        }
    }

    #[test]
    fn skips_the_output_directory_and_reads_named_files() {
        let dir = tree(&[("in/a.yaml", CM), ("in/out/b.yaml", CM), ("c.txt", CM)]);
        let source = read(
            dir.path(),
            &[PathBuf::from("in"), PathBuf::from("c.txt")],
            &[dir.path().join("in/out")],
        )
        .unwrap();
        let path = &source.objects[0]["metadata"]["annotations"][PATH_ANNOTATION];
        assert_eq!(path, "in/a.yaml", "paths are shown relative to the base");
        assert_eq!(source.objects.len(), 2);
        let missing = read(dir.path(), &[PathBuf::from("nope")], &[]).unwrap_err();
        assert!(
            missing.contains("cannot read") && missing.contains("nope"),
            "{missing}"
        );
    }
}
