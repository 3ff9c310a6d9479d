//! Every input a fuzz run found a bug with, replayed through the same checks the fuzz targets
//! make (tests/common/fuzz_checks.rs): `fuzz/regressions/read_resource_list/*` (raw bytes) and
//! `fuzz/regressions/pipeline/*` (ResourceList texts, as the pipeline target prints a crash).

mod common;

use std::path::Path;

fn files(target: &str) -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && !p.ends_with("README.md"))
        .collect();
    files.sort();
    files
}

#[test]
fn reader_regressions_read_back_unchanged() {
    let files = files("read_resource_list");
    assert!(!files.is_empty(), "no reader regressions found");
    for path in files {
        let data = std::fs::read(&path).unwrap();
        common::fuzz_checks::reader_round_trip(&data);
        if let Ok(text) = std::str::from_utf8(&data) {
            common::fuzz_checks::pipeline_invariants(text);
        }
    }
}

#[test]
fn pipeline_regressions_keep_their_invariants() {
    for path in files("pipeline") {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            vmesh::krm::read_resource_list(text.clone()).is_ok(),
            "{}: a pipeline regression must be a readable ResourceList",
            path.display()
        );
        common::fuzz_checks::reader_round_trip(text.as_bytes());
        common::fuzz_checks::pipeline_invariants(&text);
    }
}
