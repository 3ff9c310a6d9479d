//! Hostile inputs (issue 6): every `testdata/hostile/<case>/` runs the real `vmesh` binary
//! with a time limit and an address-space cap, and must end in exit 1 with exactly the errors
//! listed in the case's `expected-error.txt`, on stdout (results) and stderr, and with no data
//! lost: a readable input's items come back unchanged, an unreadable one gives a ResourceList
//! with results only.
//!
//! `expected-error.txt` holds one error result per line, written as vmesh prints results:
//! `[error] Kind/namespace/name (file#index) field.path: message`, with newlines in a message
//! written as `\n` and tabs as `\t`. Large inputs are generated here (see [`generated`]) rather
//! than committed; such cases have no `input.yaml`.
//!
//! Inputs that carry [`PLANTED`] (a marker inside Secret data and private keys) must not leak
//! it, in plain or base64 form, into any result, stderr, or anything but the unchanged items.

use serde_json::Value;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one case may run (debug build, one of two shared cores).
const TIME_LIMIT: Duration = Duration::from_secs(60);
/// Address space per case, in KiB: far above what any case needs (a few hundred MiB at most),
/// far below what a regression that expanded an alias bomb or copied input per nesting level
/// would take.
const MEMORY_LIMIT_KIB: u64 = 1 << 20;

/// The marker planted in Secret data and keys of the secret-leak cases.
pub const PLANTED: &str = "PLANTEDxKEYxMATERIALx0123456789";

const HEADER: &str = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n";
const CONFIG_MAP: &str = "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n  data:\n";

/// Input that is written to vmesh's stdin: bytes, or a head followed by a chunk many times
/// (for inputs too large to build in memory).
enum Input {
    Bytes(Vec<u8>),
    Repeat {
        head: Vec<u8>,
        chunk: Vec<u8>,
        count: usize,
    },
}

/// Cases whose input is generated here. Each has a directory with `expected-error.txt`.
const GENERATED: &[&str] = &[
    "deep-nesting-block",
    "deep-nesting-flow",
    "huge-scalar-line",
    "huge-block-scalar",
    "long-key",
    "invalid-utf8",
    "too-many-aliases",
    "oversized-input",
    "ca-seed-fifo",
    "many-meshes",
    "access-policy-many",
];

#[path = "../benches/support/scale.rs"]
mod scale;

/// One mesh (in a VirtualMesh of its own, as a package needs one), `n` Destinations and one
/// AccessPolicy from `n` service accounts to all of them: each Destination's
/// AuthorizationPolicy lists every service account, n² principals.
fn access_policy_many(n: usize) -> String {
    let mut s = format!(
        "{HEADER}- apiVersion: discovery.mesh.gloo.solo.io/v1\n  kind: Mesh\n  metadata: {{name: mesh-1, namespace: gloo-mesh}}\n  spec:\n    istio:\n      installation: {{namespace: istio-system, cluster: cluster-1}}\n      trustDomain: cluster.local\n      istiodServiceAccount: istiod\n- apiVersion: networking.mesh.gloo.solo.io/v1\n  kind: VirtualMesh\n  metadata: {{name: vm, namespace: gloo-mesh}}\n  spec:\n    meshes: [{{name: mesh-1, namespace: gloo-mesh}}]\n"
    );
    for i in 0..n {
        s.push_str(&format!(
            "- apiVersion: discovery.mesh.gloo.solo.io/v1\n  kind: Destination\n  metadata: {{name: svc-{i}, namespace: gloo-mesh}}\n  spec:\n    mesh: {{name: mesh-1, namespace: gloo-mesh}}\n    kubeService:\n      ref: {{name: svc-{i}, namespace: apps, clusterName: cluster-1}}\n      workloadSelectorLabels: {{app: svc-{i}}}\n      ports:\n      - {{port: 80, name: http, protocol: TCP}}\n"
        ));
    }
    s.push_str("- apiVersion: networking.mesh.gloo.solo.io/v1\n  kind: AccessPolicy\n  metadata: {name: everyone, namespace: gloo-mesh}\n  spec:\n    sourceSelector:\n    - kubeServiceAccountRefs:\n        serviceAccounts:\n");
    for i in 0..n {
        s.push_str(&format!(
            "        - {{name: service-account-{i}, namespace: apps, clusterName: cluster-1}}\n"
        ));
    }
    s.push_str("    destinationSelector:\n    - kubeServiceMatcher: {namespaces: [apps]}\n");
    s
}

/// A FIFO no one writes to, for the `ca-seed-fifo` case (created on first use; relative
/// to the crate root, which is the working directory of the tests).
fn ca_seed_fifo() -> String {
    let fifo = "testdata/hostile/ca-seed-fifo/seed.fifo";
    if !Path::new(fifo).exists() {
        let status = Command::new("mkfifo")
            .arg(fifo)
            .status()
            .expect("mkfifo runs");
        assert!(status.success(), "mkfifo {fifo}");
    }
    std::fs::read_to_string("testdata/hostile/ca-seed-dev-zero/input.yaml")
        .expect("the dev-zero case")
        .replace(
            "# caSeed naming /dev/zero, which never ends: refused before reading (not a regular file).",
            "# caSeed naming a FIFO, which would block forever: refused before reading.",
        )
        .replace("file:/dev/zero", &format!("file:{fifo}"))
}

fn generated(case: &str) -> Option<(Input, u64)> {
    let text = |s: String| Input::Bytes(s.into_bytes());
    let input = match case {
        // 100 levels of block mappings.
        "deep-nesting-block" => {
            let mut s = format!("{HEADER}{CONFIG_MAP}");
            let mut indent = "    ".to_string();
            for level in 0..100 {
                s.push_str(&format!("{indent}k{level}:\n"));
                indent.push_str("  ");
            }
            s.push_str(&format!("{indent}v\n"));
            text(s)
        }
        // 100,000 nested flow sequences on one line.
        "deep-nesting-flow" => text(format!(
            "{HEADER}{CONFIG_MAP}    x: {}{}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        )),
        // One 20 MiB line.
        "huge-scalar-line" => text(format!(
            "{HEADER}{CONFIG_MAP}    x: \"{}\"\n",
            "a".repeat(20 << 20)
        )),
        // A 17 MiB block scalar in 1 KiB lines: no single line is long.
        "huge-block-scalar" => {
            let line = format!("      {}\n", "b".repeat(1023));
            text(format!(
                "{HEADER}{CONFIG_MAP}    x: |\n{}",
                line.repeat(17 * 1024)
            ))
        }
        // A 2,000-character plain key.
        "long-key" => text(format!("{HEADER}{CONFIG_MAP}    {}: v\n", "k".repeat(2000))),
        // Latin-1 bytes where UTF-8 is required.
        "invalid-utf8" => {
            let mut bytes = format!("{HEADER}{CONFIG_MAP}    x: \"caf").into_bytes();
            bytes.extend_from_slice(b"\xe9\"\n");
            Input::Bytes(bytes)
        }
        // 10,001 aliases of one scalar: each expands to one node, but there are too many.
        "too-many-aliases" => {
            let mut s = format!("{HEADER}{CONFIG_MAP}    a: &a x\n    list:\n");
            s.push_str(&"    - *a\n".repeat(10_001));
            text(s)
        }
        // The input limit and a bit, streamed: vmesh stops reading at its limit. Reading up
        // to the limit (3 GiB) grows a buffer to the next power of two, hence the larger cap
        // for this case.
        "oversized-input" => {
            let chunk = format!("{}\n", "# padding ".repeat(6553)).into_bytes();
            let count = vmesh::yaml::parse::limits::MAX_INPUT_BYTES / chunk.len() + 2;
            return Some((
                Input::Repeat {
                    head: HEADER.as_bytes().to_vec(),
                    chunk,
                    count,
                },
                5 << 20,
            ));
        }
        "ca-seed-fifo" => text(ca_seed_fifo()),
        // One VirtualMesh federating 1,100 meshes with one service each: 2.4 MB of input
        // would render about 4.8 million objects, 4 GB.
        "many-meshes" => text(scale::generate(1100, 1, false, 2048, None)),
        // 4,000 service accounts over 4,000 Destinations: 16 million principals.
        "access-policy-many" => text(access_policy_many(4000)),
        _ => return None,
    };
    Some((input, MEMORY_LIMIT_KIB))
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

/// Runs the vmesh binary on `input` under `ulimit -v`, killing it after [`TIME_LIMIT`].
fn run_vmesh(input: Input, memory_kib: u64) -> Result<Run, String> {
    let started = Instant::now();
    let mut child = Command::new("sh")
        .args([
            "-c",
            "ulimit -v \"$1\" && exec \"$2\"",
            "sh",
            &memory_kib.to_string(),
            env!("CARGO_BIN_EXE_vmesh"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start vmesh: {e}"))?;
    let mut stdin = child.stdin.take().expect("piped");
    // vmesh may stop reading early (over the size limit): a broken pipe is expected then.
    let writer = std::thread::spawn(move || match input {
        Input::Bytes(bytes) => {
            let _ = stdin.write_all(&bytes);
        }
        Input::Repeat { head, chunk, count } => {
            if stdin.write_all(&head).is_ok() {
                for _ in 0..count {
                    if stdin.write_all(&chunk).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let reader = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = reader(Box::new(child.stdout.take().expect("piped")));
    let stderr = reader(Box::new(child.stderr.take().expect("piped")));
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if started.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("vmesh did not finish within {TIME_LIMIT:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = writer.join();
    Ok(Run {
        code: status.code(),
        stdout: stdout.join().expect("reader"),
        stderr: stderr.join().expect("reader"),
        elapsed: started.elapsed(),
    })
}

/// A result as vmesh prints it on stderr, on one line.
fn describe(result: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let mut line = format!("[{}]", s(&result["severity"]));
    if let Some(r) = result.get("resourceRef") {
        if s(&r["namespace"]).is_empty() {
            line.push_str(&format!(" {}/{}", s(&r["kind"]), s(&r["name"])));
        } else {
            line.push_str(&format!(
                " {}/{}/{}",
                s(&r["kind"]),
                s(&r["namespace"]),
                s(&r["name"])
            ));
        }
    }
    if let Some(file) = result.get("file") {
        match file["index"].as_u64().unwrap_or(0) {
            0 => line.push_str(&format!(" ({})", s(&file["path"]))),
            n => line.push_str(&format!(" ({}#{n})", s(&file["path"]))),
        }
    }
    if let Some(field) = result.get("field") {
        line.push_str(&format!(" {}", s(&field["path"])));
    }
    line.push_str(": ");
    line.push_str(&s(&result["message"]));
    line.replace('\n', "\\n").replace('\t', "\\t")
}

fn parse_yaml(text: &str) -> Result<Value, String> {
    serde_saphyr::from_str_with_options(text, vmesh::yaml::parse::options())
        .map_err(|e| e.to_string())
}

fn hostile_case(expected_path: &Path) -> datatest_stable::Result<()> {
    let dir = expected_path.parent().expect("case directory");
    let case = dir.file_name().unwrap().to_string_lossy().into_owned();
    let root = dir.parent().expect("testdata/hostile");
    for name in GENERATED {
        assert!(
            root.join(name).join("expected-error.txt").is_file(),
            "generated case {name} has no testdata/hostile/{name}/expected-error.txt"
        );
    }
    let expected: Vec<String> = std::fs::read_to_string(expected_path)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    let input_path = dir.join("input.yaml");
    let (input, memory) = match (input_path.is_file(), generated(&case)) {
        (true, None) => (Input::Bytes(std::fs::read(&input_path)?), MEMORY_LIMIT_KIB),
        (false, Some(generated)) => generated,
        (true, Some(_)) => return Err(format!("{case}: both input.yaml and a generator").into()),
        (false, None) => return Err(format!("{case}: no input.yaml and no generator").into()),
    };
    // What vmesh should return for the items: the input's, when it is a readable ResourceList.
    let input_items = match &input {
        Input::Bytes(bytes) => std::str::from_utf8(bytes)
            .ok()
            .and_then(|text| vmesh::krm::read_resource_list(text.to_string()).ok())
            .map(|list| {
                list.items
                    .into_iter()
                    .map(|item| item.value)
                    .collect::<Vec<_>>()
            }),
        Input::Repeat { .. } => None,
    };
    let planted = match &input {
        Input::Bytes(bytes) => String::from_utf8_lossy(bytes).contains(PLANTED),
        Input::Repeat { .. } => false,
    };

    let run = run_vmesh(input, memory).map_err(|e| format!("{case}: {e}"))?;
    let context = || {
        format!(
            "{case}: exit {:?} after {:?}\n--- stderr\n{}\n--- stdout (first 2000 bytes)\n{}",
            run.code,
            run.elapsed,
            run.stderr,
            run.stdout.chars().take(2000).collect::<String>()
        )
    };
    if run.code != Some(1) {
        return Err(format!("expected exit code 1\n{}", context()).into());
    }
    let output = parse_yaml(&run.stdout)
        .map_err(|e| format!("stdout is not one YAML document: {e}\n{}", context()))?;
    if output["kind"].as_str().is_none_or(|k| !k.ends_with("List")) {
        return Err(format!("stdout is not a ResourceList\n{}", context()).into());
    }
    match (&input_items, output.get("items")) {
        (Some(items), Some(Value::Array(out))) if out == items => {}
        (Some(_), _) => {
            return Err(format!(
                "a failed run must return the input items unchanged\n{}",
                context()
            )
            .into());
        }
        (None, None) => {}
        (None, Some(_)) => {
            return Err(format!(
                "unreadable input: stdout must hold results only, no items\n{}",
                context()
            )
            .into());
        }
    }
    let results = output["results"].as_array().cloned().unwrap_or_default();
    if planted {
        check_no_leak(&case, &results, &run.stderr)?;
    }
    let errors: Vec<String> = results
        .iter()
        .filter(|r| r["severity"] == "error")
        .map(describe)
        .collect();
    if errors != expected {
        let diff = similar::TextDiff::from_lines(
            format!("{}\n", expected.join("\n")),
            format!("{}\n", errors.join("\n")),
        )
        .unified_diff()
        .header("expected-error.txt", "actual")
        .to_string();
        return Err(format!("{case}: error results differ:\n{diff}\n{}", context()).into());
    }
    // stderr: one line, the error itself when the input could not be read, else the count.
    let stderr: Vec<&str> = run.stderr.lines().collect();
    let ok = match (&input_items, errors.as_slice()) {
        (None, [_]) => {
            let message = results
                .iter()
                .find(|r| r["severity"] == "error")
                .and_then(|r| r["message"].as_str())
                .unwrap_or_default();
            stderr == [format!("vmesh: {message}")]
        }
        (Some(_), _) => {
            stderr.len() == 1 && stderr[0].contains(&format!("{} error(s)", errors.len()))
        }
        (None, _) => false,
    };
    if !ok {
        return Err(format!("stderr is not the expected one line\n{}", context()).into());
    }
    Ok(())
}

/// The planted marker must not appear in results or stderr, in plain text or in any of the
/// three base64 alignments it can have inside Secret data.
fn check_no_leak(case: &str, results: &[Value], stderr: &str) -> datatest_stable::Result<()> {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::STANDARD;
    let mut needles = vec![PLANTED.to_string()];
    for pad in 0..3 {
        let encoded = engine.encode(format!("{}{PLANTED}", "x".repeat(pad)));
        // Skip the characters that depend on the padding prefix.
        needles.push(encoded[4..encoded.len() - 4].to_string());
    }
    let results_text = serde_json::to_string(results)?;
    for needle in &needles {
        for (what, text) in [("results", results_text.as_str()), ("stderr", stderr)] {
            if text.contains(needle.as_str()) {
                return Err(format!("{case}: {what} leak planted key material ({needle})").into());
            }
        }
    }
    Ok(())
}

datatest_stable::harness! {
    { test = hostile_case, root = "testdata/hostile", pattern = r"^[^/]+/expected-error\.txt$" },
}
