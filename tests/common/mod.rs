//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod certs;
pub mod fuzz_checks;
pub mod istio;
pub mod strategies;
pub mod topology;

use serde_json::Value;
use std::path::{Path, PathBuf};
use vmesh::{Outcome, OutputStyle, RunOptions};

/// Runs `command` with `stdin` written to its standard input, and collects its output.
pub fn run_with_stdin(command: &mut std::process::Command, stdin: &[u8]) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs vmesh's KRM function on a ResourceList text, as the binary does.
pub fn run_function(text: &str) -> Outcome {
    match vmesh::krm::read_resource_list(text.to_string()) {
        Ok(list) => vmesh::run(
            list,
            &RunOptions {
                base_dir: Some(root()),
                ..RunOptions::new(OutputStyle::ResourceList)
            },
        ),
        Err(e) => panic!("input does not parse: {e}"),
    }
}

/// Parses a ResourceList text into its items and results.
pub fn parse(text: &str) -> (Vec<Value>, Vec<Value>) {
    let value: Value = serde_saphyr::from_str_with_options(text, vmesh::yaml::parse::options())
        .unwrap_or_else(|e| panic!("output is not YAML: {e}\n{text}"));
    let items = value["items"].as_array().cloned().unwrap_or_default();
    let results = value["results"].as_array().cloned().unwrap_or_default();
    (items, results)
}

/// Items vmesh generated (carrying its managed-by label).
pub fn generated(items: &[Value]) -> Vec<&Value> {
    items
        .iter()
        .filter(|i| {
            i.pointer("/metadata/labels/app.kubernetes.io~1managed-by")
                .and_then(Value::as_str)
                == Some("vmesh")
        })
        .collect()
}

/// Checks every generated object against the Istio schemas and rules; panics with all
/// problems found.
pub fn assert_valid_istio(items: &[Value], case: &str) {
    let mut all = Vec::new();
    for object in generated(items) {
        for problem in istio::problems(object) {
            all.push(format!(
                "{} {}/{}: {problem}",
                object["kind"].as_str().unwrap_or(""),
                object["metadata"]["namespace"].as_str().unwrap_or(""),
                object["metadata"]["name"].as_str().unwrap_or("")
            ));
        }
    }
    assert!(
        all.is_empty(),
        "{case}: rendered objects Istio would reject:\n{}",
        all.join("\n")
    );
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
