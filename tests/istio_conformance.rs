//! The Istio conformance harness (`conformance/istio/check`) over every golden input, every
//! example package in `functions/`, and 20 topologies drawn with a fixed seed from the
//! property tests' generator; and over deliberately broken renders, each of which it must
//! catch at the right step.
//!
//! A failure the harness reports must be listed in `conformance/istio/known-failures.txt`
//! (case, step, reason); a listed failure that no longer happens fails the test too, so the
//! list can only shrink. Go must be installed: the harness imports Istio's Go packages, and
//! this test fails (it never skips) when `go` is missing.

mod common;

use common::strategies::topology;
use common::topology::resource_list;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn check_script() -> PathBuf {
    common::root().join("conformance/istio/check")
}

/// Runs the harness; returns its JSON reports and its printed table.
fn run_check(args: &[&str], inputs: &[PathBuf]) -> (Vec<Value>, String) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let json_path = dir.path().join("reports.json");
    let output = Command::new("bash")
        .arg(check_script())
        .args(args)
        .arg("--json")
        .arg(&json_path)
        .args(inputs)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", check_script().display()));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let text = std::fs::read_to_string(&json_path).unwrap_or_else(|e| {
        panic!(
            "the harness wrote no report ({e}); exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            output.status.code()
        )
    });
    let reports: Vec<Value> = serde_json::from_str(&text).expect("the harness's JSON report");
    let code = output.status.code();
    let any_failure = reports.iter().any(|r| !failures(r).is_empty());
    assert_eq!(
        code,
        Some(i32::from(any_failure)),
        "exit code must say whether anything failed\n{stdout}\n{stderr}"
    );
    (reports, stdout)
}

fn failures(report: &Value) -> Vec<&Value> {
    report["failures"]
        .as_array()
        .map(|f| f.iter().collect())
        .unwrap_or_default()
}

fn vmesh() -> &'static str {
    env!("CARGO_BIN_EXE_vmesh")
}

/// The name a report goes by in the known-failures list.
fn case_name(input: &str) -> String {
    let root = common::root();
    let path = Path::new(input);
    let relative = path.strip_prefix(&root).unwrap_or(path);
    let text = relative.to_string_lossy();
    if let Some(rest) = text.strip_prefix("testdata/") {
        return rest.trim_end_matches("/input.yaml").to_string();
    }
    if let Some(name) = path.file_name().and_then(|n| n.to_str())
        && name.starts_with("topology-")
    {
        return name.trim_end_matches(".yaml").to_string();
    }
    text.into_owned()
}

/// `case step reason…` lines; `#` starts a comment.
fn known_failures() -> BTreeMap<(String, String), String> {
    let path = common::root().join("conformance/istio/known-failures.txt");
    let text = std::fs::read_to_string(&path).expect("conformance/istio/known-failures.txt");
    let mut known = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let (case, step) = (words.next(), words.next());
        let reason = words.collect::<Vec<_>>().join(" ");
        let (Some(case), Some(step), false) = (case, step, reason.is_empty()) else {
            panic!("known-failures.txt line {}: want `case step reason`", n + 1);
        };
        assert!(
            known
                .insert((case.to_string(), step.to_string()), reason)
                .is_none(),
            "known-failures.txt line {}: {case} {step} is listed twice",
            n + 1
        );
    }
    known
}

/// 20 topologies from the property tests' generator, with a fixed seed.
fn sample_topologies(dir: &Path) -> Vec<PathBuf> {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = topology();
    (0..20)
        .map(|i| {
            let tree = strategy.new_tree(&mut runner).expect("a topology");
            let text = resource_list(&tree.current().items());
            let path = dir.join(format!("topology-{i:02}.yaml"));
            std::fs::write(&path, text).expect("write a topology");
            path
        })
        .collect()
}

fn corpus(topologies: &Path) -> Vec<PathBuf> {
    let root = common::root();
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(root.join("testdata"))
        .expect("testdata")
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("input.yaml"))
        .filter(|p| p.is_file())
        .collect();
    inputs.sort();
    inputs.push(root.join("functions/kpt"));
    inputs.push(root.join("functions/gitops/meshes"));
    inputs.extend(sample_topologies(topologies));
    inputs
}

#[test]
fn every_render_passes_istio_or_is_a_known_failure() {
    let topologies = tempfile::tempdir().expect("temporary directory");
    let inputs = corpus(topologies.path());
    let (reports, table) = run_check(&["--vmesh", vmesh(), "--quiet"], &inputs);
    assert_eq!(reports.len(), inputs.len(), "one report per input");
    let judged = reports
        .iter()
        .filter(|r| r["refusedByVmesh"].is_null())
        .count();
    assert!(
        judged >= 30,
        "only {judged} inputs rendered: the corpus lost its renders"
    );

    let mut seen = BTreeMap::new();
    for report in &reports {
        let case = case_name(report["input"].as_str().unwrap_or_default());
        for failure in failures(report) {
            let step = failure["step"].as_str().unwrap_or_default().to_string();
            seen.entry((case.clone(), step)).or_insert_with(|| {
                format!(
                    "{} {}: {}",
                    failure["cluster"].as_str().unwrap_or_default(),
                    failure["subject"].as_str().unwrap_or_default(),
                    failure["message"].as_str().unwrap_or_default()
                )
            });
        }
    }
    let known = known_failures();
    let new: Vec<String> = seen
        .iter()
        .filter(|(key, _)| !known.contains_key(*key))
        .map(|((case, step), example)| format!("{case} {step}: {example}"))
        .collect();
    let fixed: Vec<String> = known
        .keys()
        .filter(|key| !seen.contains_key(*key))
        .map(|(case, step)| format!("{case} {step}"))
        .collect();
    assert!(
        new.is_empty() && fixed.is_empty(),
        "Istio's verdict changed.\nNew failures (fix vmesh, or list them with a reason):\n  {}\n\
         Listed failures that no longer happen (remove them from known-failures.txt):\n  {}\n\n{table}",
        new.join("\n  "),
        fixed.join("\n  ")
    );
}

// --- Broken renders: each must be caught, at its step. ---

/// Renders the harness's base case: two clusters, one trust domain, DNS capture on, a
/// generated root, and an AccessPolicy that lets the harness's client call reviews.
fn base_render() -> Value {
    let input = common::root().join("conformance/istio/testdata/base.yaml");
    let output = Command::new(vmesh())
        .stdin(std::fs::File::open(&input).expect("base.yaml"))
        .output()
        .expect("run vmesh");
    assert!(
        output.status.success(),
        "the base case must render: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_saphyr::from_slice(&output.stdout).expect("vmesh's output")
}

fn judge_rendered(list: &Value) -> Vec<Value> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("rendered.json");
    std::fs::write(&path, serde_json::to_string(list).expect("json")).expect("write");
    let (reports, _) = run_check(&["--rendered", "--quiet"], &[path]);
    reports[0]["failures"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn items(list: &mut Value) -> &mut Vec<Value> {
    list["items"].as_array_mut().expect("items")
}

fn is(item: &Value, cluster: &str, kind: &str, name: &str) -> bool {
    item["kind"] == kind
        && item["metadata"]["name"] == name
        && item["metadata"]["annotations"]["vmesh.dev/cluster"] == cluster
}

fn assert_caught(failures: &[Value], cluster: &str, step: &str) {
    assert!(
        failures
            .iter()
            .any(|f| f["cluster"] == cluster && f["step"] == step),
        "want a {step} failure in {cluster}, got {}",
        serde_json::to_string_pretty(failures).unwrap_or_default()
    );
}

const REMOTE_HOST: &str = "reviews.bookinfo.svc.cluster-1.global";

#[test]
fn the_base_case_passes() {
    let failures = judge_rendered(&base_render());
    assert!(
        failures.is_empty(),
        "the base case must pass Istio: {failures:#?}"
    );
}

#[test]
fn a_wrong_endpoint_port_is_caught_outbound() {
    let mut list = base_render();
    let mut changed = 0;
    for item in items(&mut list) {
        if is(item, "cluster-2", "ServiceEntry", REMOTE_HOST) {
            for endpoint in item["spec"]["endpoints"].as_array_mut().expect("endpoints") {
                endpoint["ports"]["http"] = json!(15444);
                changed += 1;
            }
        }
    }
    assert!(changed > 0, "the remote ServiceEntry has endpoints");
    assert_caught(&judge_rendered(&list), "cluster-2", "outbound");
}

#[test]
fn a_missing_remote_service_entry_is_caught() {
    let mut list = base_render();
    let before = items(&mut list).len();
    items(&mut list).retain(|item| !is(item, "cluster-2", "ServiceEntry", REMOTE_HOST));
    assert_eq!(items(&mut list).len(), before - 1);
    // Without it, the host does not resolve: the call never leaves the client.
    assert_caught(&judge_rendered(&list), "cluster-2", "dns");
}

#[test]
fn a_missing_serving_service_entry_is_caught_at_the_gateway() {
    let mut list = base_render();
    let before = items(&mut list).len();
    items(&mut list).retain(|item| !is(item, "cluster-1", "ServiceEntry", REMOTE_HOST));
    assert_eq!(items(&mut list).len(), before - 1);
    assert_caught(&judge_rendered(&list), "cluster-1", "gateway");
}

#[test]
fn cacerts_from_another_root_are_caught() {
    let mut list = base_render();
    let other = base_render();
    let foreign = other["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|item| is(item, "cluster-2", "Secret", "cacerts"))
        .cloned()
        .expect("a cacerts for cluster-2");
    let mut replaced = 0;
    for item in items(&mut list) {
        if is(item, "cluster-2", "Secret", "cacerts") {
            *item = foreign.clone();
            replaced += 1;
        }
    }
    assert_eq!(replaced, 1);
    let failures = judge_rendered(&list);
    assert!(
        failures.iter().any(|f| f["step"] == "ca"),
        "want a ca failure, got {failures:#?}"
    );
}

#[test]
fn an_authorization_policy_that_denies_the_caller_is_caught() {
    let mut list = base_render();
    items(&mut list).push(json!({
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {
            "name": "deny-everyone",
            "namespace": "bookinfo",
            "labels": {"app.kubernetes.io/managed-by": "vmesh"},
            "annotations": {"vmesh.dev/cluster": "cluster-1"}
        },
        "spec": {"selector": {"matchLabels": {"app": "reviews"}}, "action": "DENY", "rules": [{}]}
    }));
    assert_caught(&judge_rendered(&list), "cluster-1", "authz");
}

#[test]
fn an_object_istio_rejects_is_caught_by_validation() {
    let mut list = base_render();
    for item in items(&mut list) {
        if is(item, "cluster-2", "ServiceEntry", REMOTE_HOST) {
            item["spec"]["hosts"] = json!(["*"]);
        }
    }
    assert_caught(&judge_rendered(&list), "cluster-2", "validate");
}

/// Issue 12 item 7: a DestinationRule that sets ISTIO_MUTUAL for a Service's local host
/// forces TLS onto pods without a sidecar; vmesh renders none, and one added is caught.
#[test]
fn a_local_rule_that_forces_mtls_is_caught() {
    let mut list = base_render();
    items(&mut list).push(json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {
            "name": "reviews",
            "namespace": "bookinfo",
            "labels": {"app.kubernetes.io/managed-by": "vmesh"},
            "annotations": {"vmesh.dev/cluster": "cluster-1"}
        },
        "spec": {
            "host": "reviews.bookinfo.svc.cluster.local",
            "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}
        }
    }));
    assert_caught(&judge_rendered(&list), "cluster-1", "local");
}

fn remote_service_entry(list: &mut Value) -> &mut Value {
    items(list)
        .iter_mut()
        .find(|item| is(item, "cluster-2", "ServiceEntry", REMOTE_HOST))
        .expect("the remote ServiceEntry")
}

/// Issue 12 item 13: the remote ServiceEntry names the serving account the Workload gives;
/// a wrong one makes the client refuse the real server, and none checks no identity.
#[test]
fn the_server_identity_is_set_and_a_wrong_or_missing_one_is_caught() {
    let mut list = base_render();
    assert_eq!(
        remote_service_entry(&mut list)["spec"]["subjectAltNames"],
        json!(["spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews"])
    );
    remote_service_entry(&mut list)["spec"]["subjectAltNames"] =
        json!(["spiffe://cluster.local/ns/bookinfo/sa/someone-else"]);
    assert_caught(&judge_rendered(&list), "cluster-2", "identity");

    let mut list = base_render();
    let spec = remote_service_entry(&mut list)["spec"]
        .as_object_mut()
        .expect("spec");
    spec.remove("subjectAltNames");
    assert_caught(&judge_rendered(&list), "cluster-2", "identity");
}

#[test]
fn the_harness_refuses_to_judge_nothing() {
    let output = Command::new("bash")
        .arg(check_script())
        .arg("--rendered")
        .output()
        .expect("run check");
    assert_eq!(output.status.code(), Some(2), "no input is a usage error");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("usage: check"), "{stderr}");
}

/// vmesh's validation rules where Istio is the authority (src/plan/validate.rs) and Istio's
/// own validators give the same verdict on every value of
/// `conformance/istio/testdata/verdicts.json`: the harness's TestVerdicts checks Istio's side,
/// the unit test `plan::validate::tests::verdicts_agree_with_istio` vmesh's.
#[test]
fn istio_agrees_with_the_verdicts_vmesh_applies() {
    let dir = common::root().join("conformance/istio");
    let bin = dir.join(".bin/conformance.test");
    let built = Command::new("go")
        .args(["test", "-c", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(&dir)
        .status()
        .expect("go (the harness needs Go; see the README)");
    assert!(built.success(), "the harness does not build");
    let output = Command::new(&bin)
        .args(["-test.run", "^TestVerdicts$"])
        .arg(dir.join("testdata/verdicts.json"))
        .output()
        .expect("run the harness");
    assert!(
        output.status.success(),
        "Istio disagrees with a verdict:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Issue 13's property through Istio itself: 20 hostile topologies (the property tests'
/// `hostile_topology`, fixed seed) are either refused by vmesh or render objects that pass
/// every step of the harness, Istio's validators first.
#[test]
fn hostile_values_are_refused_or_pass_istio() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[13; 32]),
    );
    let strategy = common::strategies::hostile_topology();
    let inputs: Vec<PathBuf> = (0..20)
        .map(|i| {
            let tree = strategy.new_tree(&mut runner).expect("a topology");
            let path = dir.path().join(format!("hostile-{i:02}.yaml"));
            std::fs::write(&path, resource_list(&tree.current().0.items())).expect("write");
            path
        })
        .collect();
    let (reports, table) = run_check(&["--vmesh", vmesh(), "--quiet"], &inputs);
    let rendered = reports
        .iter()
        .filter(|r| r["refusedByVmesh"].is_null())
        .count();
    eprintln!("{rendered} of {} hostile inputs rendered", inputs.len());
    let failed: Vec<String> = reports
        .iter()
        .flat_map(|r| {
            failures(r).into_iter().map(move |f| {
                format!(
                    "{} {} {}: {}",
                    r["input"].as_str().unwrap_or_default(),
                    f["step"].as_str().unwrap_or_default(),
                    f["subject"].as_str().unwrap_or_default(),
                    f["message"].as_str().unwrap_or_default()
                )
            })
        })
        .collect();
    assert!(
        failed.is_empty(),
        "vmesh rendered objects Istio refuses:\n  {}\n\n{table}",
        failed.join("\n  ")
    );
    assert!(
        rendered > 0 && rendered < inputs.len(),
        "the sample should hold both refused and rendered inputs ({rendered} of {} rendered)",
        inputs.len()
    );
}
