//! The traps of a newcomer's first hour (issue 16), each held by a test that fails if it
//! comes back: usage errors exit 1 as documented, bare `vmesh` at a terminal says what it
//! waits for, plain manifests piped into `vmesh` point to `vmesh render`.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn vmesh() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vmesh"))
}

fn run_with_stdin(mut command: Command, stdin: &str) -> Output {
    common::run_with_stdin(&mut command, stdin.as_bytes())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    for args in [
        &["--bogus"][..],
        &["render", "--nope"],
        &["no-such-command"],
        &["render", "--check"],
        &["schema", "NoSuchKind"],
    ] {
        let output = vmesh().args(args).stdin(Stdio::null()).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "vmesh {args:?}");
        assert!(
            text(&output.stderr).contains("error:"),
            "vmesh {args:?}: {}",
            text(&output.stderr)
        );
        assert!(output.stdout.is_empty(), "vmesh {args:?} printed on stdout");
    }
    for args in [
        &["--help"][..],
        &["--version"],
        &["render", "--help"],
        &["help"],
    ] {
        let output = vmesh().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "vmesh {args:?}");
        assert!(!output.stdout.is_empty());
    }
}

#[test]
fn help_and_readme_document_the_same_exit_codes() {
    let help = text(&vmesh().arg("--help").output().unwrap().stdout);
    assert!(help.contains("Exit codes:"), "{help}");
    assert!(help.contains("  0  success"), "{help}");
    assert!(help.contains("  1  any error"), "{help}");
    assert!(help.contains("a usage error"), "{help}");
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    assert!(readme.contains("**Exit codes** (the same list ends `vmesh --help`)"));
    assert!(readme.contains("a usage error (an unknown flag or command"));
    assert!(!readme.contains("every error exits 2"));
}

#[test]
fn bare_vmesh_at_a_terminal_says_what_it_waits_for() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: util-linux script (a pseudo-terminal) is not installed");
        return;
    }
    // `script` gives vmesh a terminal on stdin; /dev/null on script's own stdin ends it.
    let output = Command::new("timeout")
        .args([
            "20",
            "script",
            "-qec",
            env!("CARGO_BIN_EXE_vmesh"),
            "/dev/null",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let all = text(&output.stdout);
    let hint = all
        .lines()
        .find(|l| l.starts_with("vmesh: reading one KRM ResourceList from stdin"))
        .unwrap_or_else(|| panic!("no hint at a terminal:\n{all}"));
    assert!(hint.contains("`vmesh render FILE|DIR...`"), "{hint}");

    // Not at a terminal (kpt, kustomize, a pipe): no hint.
    let output = run_with_stdin(vmesh(), "");
    assert!(!text(&output.stderr).contains("reading one KRM ResourceList"));
}

#[test]
fn plain_manifests_on_stdin_point_to_vmesh_render() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("functions/gitops/meshes");
    let mut stream = String::new();
    let mut files: Vec<_> = std::fs::read_dir(&examples)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    for file in files {
        stream.push_str("---\n");
        stream.push_str(&std::fs::read_to_string(file).unwrap());
    }
    let single = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n";
    for input in [stream.as_str(), single] {
        let output = run_with_stdin(vmesh(), input);
        assert_eq!(output.status.code(), Some(1));
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains("run `vmesh render FILE|DIR...` instead"),
            "{stderr}"
        );
    }
}

/// The README's first command renders the example input: it must be an input the README
/// recommends (every Gloo Mesh resource local-config), so it renders without warnings.
#[test]
fn the_example_input_is_local_config_and_a_missing_annotation_is_a_warning_under_kpt() {
    let input = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/two-clusters/input.yaml"),
    )
    .unwrap();
    let output = run_with_stdin(vmesh(), &input);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(!text(&output.stdout).contains("not marked config.kubernetes.io/local-config"));

    let bare = input.replacen(
        "    name: istiod-istio-system-cluster-2\n    namespace: gloo-mesh\n    annotations:\n      config.kubernetes.io/local-config: \"true\"\n",
        "    name: istiod-istio-system-cluster-2\n    namespace: gloo-mesh\n",
        1,
    );
    assert_ne!(bare, input);
    let output = run_with_stdin(vmesh(), &bare);
    assert_eq!(output.status.code(), Some(0), "a warning, not a refusal");
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains(
            "Mesh gloo-mesh/istiod-istio-system-cluster-2 is not marked config.kubernetes.io/local-config"
        ),
        "{stdout}"
    );
}

/// `vmesh kustomize install` in a HOME of its own: which directory it wrote, and which
/// vmesh the plugins run.
fn install(home: &Path, path: &std::ffi::OsStr, args: &[&str]) -> Output {
    vmesh()
        .args(["kustomize", "install"])
        .args(args)
        .env("HOME", home)
        .env("PATH", path)
        .env_remove("KUSTOMIZE_PLUGIN_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap()
}

#[test]
fn kustomize_install_says_where_and_links_the_vmesh_on_path() {
    let home = tempfile::tempdir().unwrap();
    let bin = home.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_vmesh"), bin.join("vmesh")).unwrap();
    let path = std::env::join_paths([&bin, Path::new("/usr/bin"), Path::new("/bin")]).unwrap();

    let output = install(home.path(), &path, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let plugins = home.path().join(".config/kustomize/plugin");
    let link = plugins.join("vmesh.dev/v1alpha1/virtualmeshtransformer/VirtualMeshTransformer");
    assert_eq!(std::fs::read_link(&link).unwrap(), bin.join("vmesh"));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "in {} (kustomize's default, ~/.config/kustomize/plugin)",
            plugins.display()
        )) && stderr.contains(&format!("linked to {}", bin.join("vmesh").display())),
        "{stderr}"
    );

    // --bin names another executable.
    let other = home.path().join("vmesh-2");
    std::fs::copy(env!("CARGO_BIN_EXE_vmesh"), &other).unwrap();
    let output = install(home.path(), &path, &["--bin", other.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(std::fs::read_link(&link).unwrap(), other);

    // No vmesh on PATH and no --bin: an error that says both ways out.
    let bare = std::env::join_paths([Path::new("/usr/bin"), Path::new("/bin")]).unwrap();
    let output = install(home.path(), &bare, &[]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("no vmesh on PATH") && stderr.contains("--bin"),
        "{stderr}"
    );
}

#[test]
fn a_successful_run_ends_with_a_summary_where_no_host_shows_results() {
    let input = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/two-clusters/input.yaml"),
    )
    .unwrap();
    // Piped, as kpt and kustomize run it: quiet (they show the results themselves).
    let output = run_with_stdin(vmesh(), &input);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(text(&output.stderr), "", "quiet under a host");
    // Asked for (or with stdout at a terminal): one line, objects per cluster, warnings.
    let mut asked = vmesh();
    asked.env("VMESH_SUMMARY", "1");
    let output = run_with_stdin(asked, &input);
    let stderr = text(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("vmesh: rendered ")
            && lines[0].contains(" objects for 2 clusters (cluster-1: ")
            && lines[0].contains(", cluster-2: "),
        "{stderr}"
    );

    // vmesh render: on by default (a person or CI reads its stderr), off with VMESH_SUMMARY=0.
    let meshes = Path::new(env!("CARGO_MANIFEST_DIR")).join("functions/gitops/meshes");
    let output = vmesh().arg("render").arg(&meshes).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stderr = text(&output.stderr);
    assert!(
        stderr
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("vmesh: rendered ") && l.contains("warning")),
        "{stderr}"
    );
    let output = vmesh()
        .arg("render")
        .arg(&meshes)
        .env("VMESH_SUMMARY", "0")
        .output()
        .unwrap();
    assert!(!text(&output.stderr).contains("vmesh: rendered "));
}

/// The README's first screen runs as written: its `vmesh render` lines succeed, print the
/// summary it quotes, write the files it lists, and the check finds the tree up to date.
#[test]
fn the_readme_first_screen_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let first = readme
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .unwrap();
    assert!(first.contains("cargo install --path ."), "{first}");
    assert!(first.contains("conformance/istio/check --vmesh"), "{first}");
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().join("clusters");
    let mut ran = 0;
    let lines: Vec<&str> = first.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(args) = line.strip_prefix("vmesh render ") else {
            continue;
        };
        let args: Vec<String> = args
            .split_whitespace()
            .map(|a| a.replace("/tmp/clusters", out_dir.to_str().unwrap()))
            .collect();
        let output = vmesh()
            .arg("render")
            .args(&args)
            .current_dir(root)
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{line}: {}",
            text(&output.stderr)
        );
        // A quoted output line right below the command must be what it prints.
        if let Some(quoted) = lines.get(i + 1).and_then(|l| l.trim().strip_prefix("#   ")) {
            assert!(
                text(&output.stderr).lines().any(|l| l == quoted),
                "README quotes {quoted:?}; vmesh printed:\n{}",
                text(&output.stderr)
            );
        }
        ran += 1;
    }
    assert_eq!(ran, 2, "{first}");
    let listed = lines
        .iter()
        .find_map(|l| l.strip_prefix("ls /tmp/clusters/cluster-1/istio-system  # "))
        .unwrap();
    let mut files: Vec<String> = std::fs::read_dir(out_dir.join("cluster-1/istio-system"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.join(" "), listed);
    // The top of OUT: a directory per cluster and the clusters' Istio settings.
    let listed_top = lines
        .iter()
        .find_map(|l| l.strip_prefix("ls /tmp/clusters                         # "))
        .unwrap();
    let mut top: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .collect();
    top.sort();
    assert_eq!(top.join(" "), listed_top);
}

/// A kpt package with Meshes and Destinations but no VirtualMesh used to render with exit 0
/// and no hint (and kpt then pruned every federated object); now it is refused, as every
/// other host refuses it, with the package's items back unchanged.
#[test]
fn a_package_without_a_virtual_mesh_is_refused() {
    let input = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/two-clusters/input.yaml"),
    )
    .unwrap();
    let start = input
        .find("- apiVersion: networking.mesh.gloo.solo.io/v1")
        .unwrap();
    let end = input
        .find("- apiVersion: discovery.mesh.gloo.solo.io/v1")
        .unwrap();
    let without = format!("{}{}", &input[..start], &input[end..]);
    assert!(!without.contains("kind: VirtualMesh"));
    let output = run_with_stdin(vmesh(), &without);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("no VirtualMesh among the Gloo Mesh resources"),
        "{}",
        text(&output.stdout)
    );
    assert!(
        !text(&output.stdout).contains("managed-by: vmesh"),
        "nothing rendered"
    );
    // A package without Gloo Mesh resources passes through without it (vmesh can sit in
    // any kpt pipeline).
    let plain = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n";
    let output = run_with_stdin(vmesh(), plain);
    assert_eq!(output.status.code(), Some(0));
    assert!(!text(&output.stdout).contains("no VirtualMesh"));
}
