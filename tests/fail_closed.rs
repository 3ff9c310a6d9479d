//! Fail closed for stream hosts too: for every input that reads but fails (the golden error
//! cases and the readable hostile cases), the stream outputs (`vmesh render`, Argo CD, the
//! kustomize transformer) print nothing at all, and the ResourceList output carries every
//! input item unchanged.

mod common;

use std::path::Path;
use vmesh::{OutputStyle, RunOptions};

fn failing_inputs() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut inputs = Vec::new();
    for dir in [root.clone(), root.join("hostile")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let case = entry.unwrap().path();
            let name = case.file_name().unwrap().to_string_lossy().into_owned();
            // Error cases only: the others may issue certificates, which is slow here.
            if dir == root && !name.starts_with("error-") && !name.starts_with("certs-error-") {
                continue;
            }
            let path = case.join("input.yaml");
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            if vmesh::krm::read_resource_list(text.clone()).is_ok() {
                inputs.push((path.display().to_string(), text));
            }
        }
    }
    inputs.sort();
    inputs
}

fn run(text: &str, style: OutputStyle) -> vmesh::Outcome {
    let list = vmesh::krm::read_resource_list(text.to_string()).unwrap();
    vmesh::run(
        list,
        &RunOptions {
            base_dir: Some(common::root()),
            ..RunOptions::new(style)
        },
    )
}

#[test]
fn failed_runs_print_no_stream_and_return_every_item() {
    let mut failing = 0;
    for (path, text) in failing_inputs() {
        let outcome = run(&text, OutputStyle::ResourceList);
        if !outcome.failed() {
            continue;
        }
        failing += 1;
        assert_eq!(
            common::parse(&outcome.stdout).0,
            common::parse(&text).0,
            "{path}: items changed"
        );
        for style in [OutputStyle::GeneratedStream, OutputStyle::FullStream] {
            let streamed = run(&text, style);
            assert!(streamed.failed(), "{path}: {style:?} did not fail");
            assert_eq!(streamed.stdout, "", "{path}: {style:?} printed output");
        }
    }
    // 29 golden error cases and the readable hostile ones: make sure they were found.
    assert!(failing >= 30, "only {failing} failing inputs found");
}
