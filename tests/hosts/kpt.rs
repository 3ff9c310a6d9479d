//! kpt: the example package `functions/kpt` (a Kptfile pipeline with `exec: vmesh`),
//! replayed the way kpt's e2e harness runs its test packages, plus re-render, pruning,
//! failure and pass-through checks, all with the real `kpt`.

use crate::support::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn kpt(sandbox: &Sandbox, cwd: &Path, args: &[&str]) -> std::process::Output {
    require("kpt");
    run(sandbox.command("kpt").args(args).current_dir(cwd))
}

fn render(sandbox: &Sandbox, package: &Path) {
    let output = kpt(sandbox, package, &["fn", "render", ".", "--allow-exec"]);
    assert_success(&output, "kpt fn render");
}

/// The example package, copied into a sandbox and committed (as kpt's e2e harness does).
fn example(sandbox: &Sandbox) -> (PathBuf, String) {
    let package = sandbox.copy(&root().join("functions/kpt"), "kpt");
    let first = git_init(&package);
    (package, first)
}

#[test]
fn kpt_example_renders_its_expected_diff_and_a_second_render_changes_nothing() {
    let expected = root().join("functions/kpt/.expected");
    let config = std::fs::read_to_string(expected.join("config.yaml")).unwrap();
    assert!(
        config.contains("testType: render") && config.contains("allowExec: true"),
        "the example is a kpt e2e render case:\n{config}"
    );
    let sandbox = Sandbox::new();
    let (package, first) = example(&sandbox);
    render(&sandbox, &package);
    commit(&package, "second");
    let diff = git(&package, &["diff", &first, "HEAD"]);
    expect_file(&expected.join("diff.patch"), &diff);
    assert!(
        diff.contains("+++ b/clusters/cluster-1/istio-system/gateway.yaml")
            && diff.contains("+++ b/clusters/cluster-2/istio-system/serviceentry.yaml"),
        "outputs land in per-cluster files"
    );
    assert!(
        !diff.contains("b/app/") && !diff.contains("b/gloo-mesh/") && !diff.contains("b/Kptfile"),
        "the package's own files are untouched:\n{diff}"
    );

    render(&sandbox, &package);
    assert_eq!(
        status(&package),
        "",
        "a second kpt fn render changed the package"
    );
}

#[test]
fn kpt_fn_eval_and_a_source_sink_pipe_write_what_render_writes() {
    let sandbox = Sandbox::new();
    let (rendered, _) = example(&sandbox);
    render(&sandbox, &rendered);

    let evaluated = sandbox.copy(&root().join("functions/kpt"), "eval");
    let output = kpt(
        &sandbox,
        &evaluated,
        &[
            "fn",
            "eval",
            ".",
            "--exec",
            "vmesh",
            "--fn-config",
            "vmesh.yaml",
        ],
    );
    assert_success(&output, "kpt fn eval --exec vmesh");
    assert_eq!(tree(&evaluated), tree(&rendered), "eval and render differ");

    // kpt fn source | vmesh | kpt fn sink: the ResourceList through kpt's own reader/writer.
    let source = kpt(
        &sandbox,
        sandbox.path(),
        &["fn", "source", "eval", "--fn-config", "eval/vmesh.yaml"],
    );
    assert_success(&source, "kpt fn source");
    let mut vmesh = sandbox.command("vmesh");
    let function = run_with_stdin(&mut vmesh, &source.stdout);
    assert_success(&function, "vmesh on kpt fn source's output");
    let mut sink = sandbox.command("kpt");
    sink.args(["fn", "sink", "sunk"])
        .current_dir(sandbox.path());
    assert_success(&run_with_stdin(&mut sink, &function.stdout), "kpt fn sink");
    let sunk = tree(&sandbox.path().join("sunk"));
    let clusters = |t: &std::collections::BTreeMap<String, String>| {
        t.iter()
            .filter(|(p, _)| p.starts_with("clusters/"))
            .map(|(p, t)| (p.clone(), t.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(clusters(&sunk), clusters(&tree(&rendered)));
    assert_eq!(clusters(&sunk).len(), 10);
}

pub fn run_with_stdin(command: &mut std::process::Command, stdin: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// Removing an input and re-rendering deletes exactly the outputs that came from it, and
/// leaves the package as a fresh render of the new inputs would.
fn assert_prunes(
    setup: impl Fn(&Path),
    edit: impl Fn(&Path),
    gone: impl Fn(&Value) -> bool,
    what: &str,
) {
    let sandbox = Sandbox::new();
    let (package, _) = example(&sandbox);
    setup(&package);
    render(&sandbox, &package);
    commit(&package, "rendered");
    let before = objects(&package.join("clusters"));

    edit(&package);
    render(&sandbox, &package);
    let after = objects(&package.join("clusters"));
    let removed: Vec<&String> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    let expected: Vec<&String> = before
        .iter()
        .filter(|(_, o)| gone(o))
        .map(|(k, _)| k)
        .collect();
    assert!(
        !expected.is_empty(),
        "{what}: the example has outputs to prune"
    );
    assert_eq!(removed, expected, "{what}: pruned objects");
    for (key, object) in &after {
        if object["kind"] == "Gateway" {
            // An east-west Gateway lists the hosts its cluster serves: it follows them.
            continue;
        }
        assert_eq!(
            Some(object),
            before.get(key),
            "{what}: {key} changed or appeared"
        );
    }
    // ... and no Gateway still passes through a host that no ServiceEntry has any more.
    let hosts_after: BTreeSet<&str> = after
        .values()
        .filter(|o| o["kind"] == "ServiceEntry")
        .filter_map(|o| o["spec"]["hosts"][0].as_str())
        .collect();
    for host in before
        .values()
        .filter(|o| gone(o) && o["kind"] == "ServiceEntry")
        .filter_map(|o| o["spec"]["hosts"][0].as_str())
        .filter(|h| !hosts_after.contains(h))
    {
        for gateway in after.values().filter(|o| o["kind"] == "Gateway") {
            assert!(
                !gateway.to_string().contains(&format!("\"{host}\"")),
                "{what}: a Gateway still lists {host}"
            );
        }
    }
    let changed = status(&package);
    assert!(
        changed.lines().all(|l| l.contains("clusters/")
            || l.contains("gloo-mesh/")
            || l.contains("istio-settings/")),
        "{what}: files outside the outputs changed:\n{changed}"
    );

    // The same as rendering the edited package from scratch.
    let fresh = sandbox.copy(&package, "fresh");
    std::fs::remove_dir_all(fresh.join("clusters")).unwrap();
    render(&sandbox, &fresh);
    assert_eq!(
        tree(&fresh),
        tree(&package),
        "{what}: differs from a fresh render"
    );
}

#[test]
fn removing_a_destination_and_re_rendering_deletes_exactly_its_outputs() {
    assert_prunes(
        |_| {},
        |package| {
            remove_document(
                &package.join("gloo-mesh/destinations.yaml"),
                "reviews-bookinfo-cluster-1",
            )
        },
        |o| {
            o["metadata"]["annotations"]["vmesh.dev/destination"]
                == "gloo-mesh/reviews-bookinfo-cluster-1"
        },
        "Destination removed",
    );
}

/// A third cluster joins the example's VirtualMesh, is rendered, then leaves again.
const THIRD_MESH: &str = "---
apiVersion: discovery.mesh.gloo.solo.io/v1
kind: Mesh
metadata:
  name: istiod-istio-system-cluster-3
  namespace: gloo-mesh
  annotations:
    config.kubernetes.io/local-config: \"true\"
spec:
  istio:
    installation:
      namespace: istio-system
      cluster: cluster-3
    trustDomain: cluster-3.local
    istiodServiceAccount: istiod
---
apiVersion: discovery.mesh.gloo.solo.io/v1
kind: Destination
metadata:
  name: istio-ingressgateway-istio-system-cluster-3
  namespace: gloo-mesh
  annotations:
    config.kubernetes.io/local-config: \"true\"
spec:
  mesh:
    name: istiod-istio-system-cluster-3
    namespace: gloo-mesh
  kubeService:
    ref:
      name: istio-ingressgateway
      namespace: istio-system
      clusterName: cluster-3
    workloadSelectorLabels:
      istio: ingressgateway
    ports:
    - port: 15443
      name: tls
      protocol: TCP
      targetPortNumber: 15443
    externalAddresses:
    - ip: 35.7.8.9
    serviceType: LOAD_BALANCER
";

#[test]
fn removing_a_mesh_and_re_rendering_deletes_exactly_its_outputs() {
    let member = "  - name: istiod-istio-system-cluster-3\n    namespace: gloo-mesh\n";
    let vm = |package: &Path| package.join("gloo-mesh/virtualmesh.yaml");
    assert_prunes(
        |package| {
            std::fs::write(package.join("gloo-mesh/cluster-3.yaml"), THIRD_MESH).unwrap();
            let text = std::fs::read_to_string(vm(package)).unwrap().replace(
                "    namespace: gloo-mesh\n  federation:",
                &format!("    namespace: gloo-mesh\n{member}  federation:"),
            );
            assert!(text.contains(member));
            std::fs::write(vm(package), text).unwrap();
        },
        |package| {
            std::fs::remove_file(package.join("gloo-mesh/cluster-3.yaml")).unwrap();
            let text = std::fs::read_to_string(vm(package))
                .unwrap()
                .replace(member, "");
            std::fs::write(vm(package), text).unwrap();
        },
        // Everything in cluster-3, and what the other clusters had for reaching it.
        |o| serde_json::to_string(o).unwrap().contains("cluster-3"),
        "Mesh removed",
    );
}

#[test]
fn errors_are_kpt_results_and_nothing_is_written() {
    let sandbox = Sandbox::new();
    let (package, _) = example(&sandbox);
    render(&sandbox, &package);
    commit(&package, "rendered");
    let vm = package.join("gloo-mesh/virtualmesh.yaml");
    let broken = std::fs::read_to_string(&vm)
        .unwrap()
        .replace("name: istiod-istio-system-cluster-2", "name: no-such-mesh");
    std::fs::write(&vm, broken).unwrap();
    commit(&package, "broken");

    let results = sandbox.path().join("results");
    let output = kpt(
        &sandbox,
        &package,
        &[
            "fn",
            "render",
            ".",
            "--allow-exec",
            "--results-dir",
            results.to_str().unwrap(),
        ],
    );
    assert!(
        !output.status.success(),
        "kpt fn render succeeded on a broken VirtualMesh"
    );
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("[FAIL] \"vmesh\"")
            && stderr.contains("[error] networking.mesh.gloo.solo.io/v1/VirtualMesh/gloo-mesh/virtual-mesh spec.meshes[1]"),
        "kpt shows vmesh's error results:\n{stderr}"
    );
    let results = std::fs::read_to_string(results.join("results.yaml")).unwrap();
    let results: Value = documents(&results).remove(0);
    let items = &results["items"][0]["results"];
    let error = items
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["severity"] == "error")
        .unwrap_or_else(|| panic!("no error result in {results}"));
    assert_eq!(
        error["file"]["path"], "gloo-mesh/virtualmesh.yaml",
        "{error}"
    );
    assert_eq!(error["resourceRef"]["kind"], "VirtualMesh");
    assert_eq!(status(&package), "", "a failed render wrote files");
}

/// A config naming a cluster no Mesh has would render an empty slice; kpt would take the
/// empty success as "delete every rendered file". It must fail, and leave every file of the
/// package (rendered ones included) as it was.
#[test]
fn a_config_naming_an_unknown_cluster_fails_and_keeps_every_file() {
    let sandbox = Sandbox::new();
    let (package, _) = example(&sandbox);
    render(&sandbox, &package);
    commit(&package, "rendered");
    let before = tree(&package);
    assert!(
        before.keys().any(|p| p.starts_with("clusters/cluster-1/")),
        "the first render wrote cluster files: {:?}",
        before.keys()
    );
    let config = package.join("vmesh.yaml");
    let original = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        original.replace("spec: {}", "spec:\n  cluster: cluster-9"),
    )
    .unwrap();
    commit(&package, "unknown cluster");
    let before = tree(&package);

    let output = kpt(&sandbox, &package, &["fn", "render", ".", "--allow-exec"]);
    assert!(
        !output.status.success(),
        "kpt fn render succeeded with an unknown cluster:\n{}",
        text_of(&output)
    );
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(
            "cluster \"cluster-9\" has no outputs (clusters in the Meshes: cluster-1, cluster-2)"
        ),
        "kpt shows why:\n{stderr}"
    );
    assert_eq!(status(&package), "", "a failed render changed the package");
    assert_eq!(
        tree(&package),
        before,
        "a failed render changed the package"
    );
}

/// A user's file whose objects carry vmesh's managed-by label but are not objects vmesh
/// renders stays in the package, byte for byte, and kpt shows a warning naming it.
#[test]
fn a_users_object_with_vmeshs_label_is_kept_with_a_warning() {
    let sandbox = Sandbox::new();
    let (package, _) = example(&sandbox);
    let user = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db # mine\n  namespace: apps\n  labels:\n    app.kubernetes.io/managed-by: vmesh\nstringData:\n  password: hunter2\n";
    std::fs::write(package.join("app/db.yaml"), user).unwrap();
    commit(&package, "user secret");
    let output = kpt(&sandbox, &package, &["fn", "render", ".", "--allow-exec"]);
    assert_success(&output, "kpt fn render");
    assert_eq!(
        std::fs::read_to_string(package.join("app/db.yaml")).unwrap(),
        user,
        "kpt dropped or changed the user's file"
    );
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("Secret/apps/db") && stderr.contains("it is kept as it is"),
        "kpt shows the warning:\n{stderr}"
    );
}

fn text_of(output: &std::process::Output) -> String {
    format!("{}{}", text(&output.stdout), text(&output.stderr))
}

/// kpt's own e2e packages for comment, order, null and quoting preservation come back
/// exactly as they were, under both `kpt fn render` and `kpt fn eval`.
#[test]
fn kpt_e2e_preservation_packages_pass_through_unchanged() {
    let fixtures = root().join("tests/hosts/fixtures/kpt-e2e");
    let sandbox = Sandbox::new();
    for case in [
        "fn-render/preserve-comments",
        "fn-render/preserve-order-null-values",
        "fn-eval/preserve-comments",
        "fn-eval/preserve-order-null-values",
    ] {
        let package = sandbox.copy(&fixtures.join(case), &case.replace('/', "-"));
        git_init(&package);
        let output = if case.starts_with("fn-render") {
            kpt(&sandbox, &package, &["fn", "render", ".", "--allow-exec"])
        } else {
            kpt(&sandbox, &package, &["fn", "eval", ".", "--exec", "vmesh"])
        };
        assert_success(&output, case);
        assert!(
            text(&output.stderr).contains("[PASS] \"vmesh\""),
            "{case}: vmesh ran"
        );
        assert_eq!(status(&package), "", "{case}: vmesh changed the package");
    }

    // The same resources next to Gloo Mesh inputs: outputs are added, they stay as they were.
    let package = sandbox.copy(&fixtures.join("fn-render/preserve-comments"), "mixed");
    copy_dir(
        &root().join("functions/kpt/gloo-mesh"),
        &package.join("gloo-mesh"),
    );
    git_init(&package);
    let output = kpt(&sandbox, &package, &["fn", "render", ".", "--allow-exec"]);
    assert_success(&output, "render of the mixed package");
    let changed = status(&package);
    assert!(changed.contains("?? clusters/cluster-1/"), "{changed}");
    assert!(
        changed
            .lines()
            .all(|l| l.starts_with("?? clusters/") || l.starts_with("?? istio-settings/")),
        "only new outputs:\n{changed}"
    );
}
