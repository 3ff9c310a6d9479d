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
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    files.sort();
    files
}

/// Both checks on every regression: an input that broke one stage may break the other.
#[test]
fn fuzz_regressions_keep_their_invariants() {
    let files: Vec<_> = ["read_resource_list", "pipeline"]
        .into_iter()
        .flat_map(files)
        .collect();
    assert!(!files.is_empty(), "no fuzz regressions found");
    for path in files {
        let data = std::fs::read(&path).unwrap();
        common::fuzz_checks::reader_round_trip(&data);
        if let Ok(text) = std::str::from_utf8(&data) {
            common::fuzz_checks::pipeline_invariants(text);
        }
    }
}
