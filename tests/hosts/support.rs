//! What the host tests share: a sandbox with `vmesh` on PATH, the real tools, git, and
//! expected files that `UPDATE_EXPECTED=1` rewrites (read the diff before committing it).

use serde_json::Value;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A temporary directory with `bin/vmesh` linked to the binary under test.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_vmesh"), bin.join("vmesh")).unwrap();
        Sandbox { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// PATH with the sandbox's `bin` first, so hosts find `vmesh` as users install it.
    pub fn path_env(&self) -> OsString {
        let mut paths = vec![self.path().join("bin")];
        paths.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        std::env::join_paths(paths).unwrap()
    }

    /// Copies `src` (a directory) to `<sandbox>/<name>` and returns the copy's path.
    pub fn copy(&self, src: &Path, name: &str) -> PathBuf {
        let dst = self.path().join(name);
        copy_dir(src, &dst);
        dst
    }

    /// A command for `program` with the sandbox's PATH.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command.env("PATH", self.path_env());
        command
    }
}

pub fn copy_dir(src: &Path, dst: &Path) {
    for entry in walkdir::WalkDir::new(src) {
        let entry = entry.unwrap();
        let target = dst.join(entry.path().strip_prefix(src).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target)
                .unwrap_or_else(|e| panic!("copy {}: {e}", entry.path().display()));
        }
    }
}

/// Fails loudly when a host tool the tests drive is missing: these tests never skip.
pub fn require(tool: &str) {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|dir| dir.join(tool).is_file());
    assert!(
        found,
        "`{tool}` is not on PATH: the host tests run the real {tool} (kpt 1.0.0-beta.56, kubectl v1.32 with kustomize v5.5) and never skip; install it"
    );
}

/// Runs a command and returns its output; panics if it cannot start.
pub fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Panics with the command's output unless it succeeded.
pub fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
}

/// A failed run as vmesh answers one: exit 1, nothing on stdout, `message` on stderr.
pub fn assert_fails(output: &Output, message: &str) {
    let stderr = text(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "expected exit 1; stderr:\n{stderr}"
    );
    assert_eq!(text(&output.stdout), "", "a failed run printed output");
    assert!(
        stderr.contains(message),
        "stderr lacks {message:?}:\n{stderr}"
    );
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = run(Command::new("git")
        .args([
            "-c",
            "user.name=none",
            "-c",
            "user.email=none",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_DIFF_OPTS", "")
        .env("GIT_CONFIG_NOSYSTEM", "1"));
    assert_success(&output, &format!("git {}", args.join(" ")));
    text(&output.stdout)
}

/// `git init` + commit everything (kpt's e2e harness does this first); returns the commit.
pub fn git_init(dir: &Path) -> String {
    git(dir, &["init", "-q"]);
    commit(dir, "first")
}

pub fn commit(dir: &Path, message: &str) -> String {
    git(dir, &["add", "--all"]);
    git(dir, &["commit", "-q", "--allow-empty", "-m", message]);
    git(dir, &["rev-parse", "--short", "HEAD"])
        .trim()
        .to_string()
}

/// Uncommitted changes, as `git status --porcelain` lists them.
pub fn status(dir: &Path) -> String {
    git(dir, &["status", "--porcelain", "--untracked-files=all"])
}

/// Compares `actual` with the file at `path`, or rewrites it under `UPDATE_EXPECTED=1`.
pub fn expect_file(path: &Path, actual: &str) {
    if std::env::var_os("UPDATE_EXPECTED").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with UPDATE_EXPECTED=1 to create it, and review it",
            path.display()
        )
    });
    if expected != actual {
        let diff = similar::TextDiff::from_lines(&expected, actual)
            .unified_diff()
            .context_radius(3)
            .header("expected", "actual")
            .to_string();
        panic!(
            "{} differs (UPDATE_EXPECTED=1 rewrites it; review the diff):\n{diff}",
            path.display()
        );
    }
}

/// Parses a YAML stream (or file) into its non-empty documents.
pub fn documents(text: &str) -> Vec<Value> {
    let docs: Vec<Value> =
        serde_saphyr::from_str_multiple_with_options(text, vmesh::yaml::parse::options())
            .unwrap_or_else(|e| panic!("not a YAML stream: {e}\n{text}"));
    docs.into_iter().filter(|d| !d.is_null()).collect()
}

/// Every file below `dir` (but `.git`), by relative path, with its text.
pub fn tree(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for entry in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".git")
    {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let relative = entry.path().strip_prefix(dir).unwrap();
            files.insert(
                relative.to_string_lossy().into_owned(),
                std::fs::read_to_string(entry.path()).unwrap_or_default(),
            );
        }
    }
    files
}

/// The objects of every file below `dir`, keyed by `cluster kind namespace/name`.
pub fn objects(dir: &Path) -> BTreeMap<String, Value> {
    let mut all = BTreeMap::new();
    for (path, text) in tree(dir) {
        if !path.ends_with(".yaml") {
            continue;
        }
        for object in documents(&text) {
            let key = object_key(&object);
            assert!(
                all.insert(key.clone(), object).is_none(),
                "{key} appears twice (in {path})"
            );
        }
    }
    all
}

pub fn object_key(object: &Value) -> String {
    format!(
        "{} {} {}/{}",
        object["metadata"]["annotations"]["vmesh.dev/cluster"]
            .as_str()
            .unwrap_or("-"),
        object["kind"].as_str().unwrap_or(""),
        object["metadata"]["namespace"].as_str().unwrap_or(""),
        object["metadata"]["name"].as_str().unwrap_or("")
    )
}

pub fn is_generated(object: &Value) -> bool {
    object["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "vmesh"
}

/// Removes from a multi-document file the document whose `metadata.name` is `name`.
pub fn remove_document(path: &Path, name: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let kept: Vec<&str> = text
        .split("\n---\n")
        .filter(|doc| !doc.contains(&format!("\n  name: {name}\n")))
        .collect();
    assert_ne!(
        kept.len(),
        text.split("\n---\n").count(),
        "{} has no document named {name}",
        path.display()
    );
    std::fs::write(path, kept.join("\n---\n")).unwrap();
}
