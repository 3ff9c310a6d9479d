//! `cargo bench`: vmesh's render against the YAML floor at the scale tiers, in process.
//!
//! For each tier (N meshes × M services, see `support/scale.rs`) it measures, best of a few
//! runs: the full render (read + run, as the binary does), the YAML floor (serde-saphyr
//! parsing the same input plus emitting the same output, nothing else), one cluster's
//! slice, and a re-render over vmesh's own output. It prints one Markdown table row per
//! tier. `bench/run.sh` adds peak memory (a separate process per measurement), the host tools
//! (kpt, kustomize) and certificates.
//!
//! Tiers: 4x50 and 20x100 always; set VMESH_BENCH_LARGE=1 for 50x200 (about 1 M objects).

#[path = "support/scale.rs"]
mod scale;

use std::time::{Duration, Instant};
use vmesh::{OutputStyle, RunOptions};

fn render(text: &str) -> (Duration, vmesh::Outcome) {
    let start = Instant::now();
    let list = vmesh::krm::read_resource_list(text.to_string()).expect("input parses");
    let outcome = vmesh::run(list, &RunOptions::new(OutputStyle::ResourceList));
    assert_eq!(
        outcome.exit_code,
        0,
        "render failed: {:?}",
        outcome.results.first()
    );
    (start.elapsed(), outcome)
}

fn best<T>(runs: usize, mut f: impl FnMut() -> (Duration, T)) -> (Duration, T) {
    let mut best = f();
    for _ in 1..runs {
        let next = f();
        if next.0 < best.0 {
            best = next;
        }
    }
    best
}

fn floor(input: &str, output: &str) -> Duration {
    let options = vmesh::yaml::parse::options;
    let start = Instant::now();
    let parsed: serde_json::Value =
        serde_saphyr::from_str_with_options(input, options()).expect("input parses");
    let parse = start.elapsed();
    drop(parsed);
    let tree: serde_json::Value =
        serde_saphyr::from_str_with_options(output, options()).expect("output parses");
    let start = Instant::now();
    let text = serde_saphyr::to_string(&tree).expect("output emits");
    assert!(!text.is_empty());
    parse + start.elapsed()
}

fn slice_input(input: &str) -> String {
    format!(
        "{input}functionConfig:\n  apiVersion: vmesh.dev/v1alpha1\n  kind: VirtualMeshRenderer\n  metadata:\n    name: vmesh\n  spec:\n    cluster: cluster-0\n"
    )
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this with no argument:
    // then only check that the smallest tier renders.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let mut tiers = vec![(4, 50), (20, 100)];
    if std::env::var_os("VMESH_BENCH_LARGE").is_some() {
        tiers.push((50, 200));
    }
    if !benchmarking {
        let input = scale::generate(2, 5, false, 2048, None);
        let (_, outcome) = render(&input);
        assert!(outcome.stdout.contains("kind: ServiceEntry"));
        return;
    }
    println!(
        "| tier | objects | output MB | render s | floor s | render/floor | slice s | slice/full | re-render s | µs/object |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (meshes, services) in tiers {
        let input = scale::generate(meshes, services, false, 4096, None);
        let runs = if meshes * services > 5_000 { 1 } else { 3 };
        let (full, outcome) = best(runs, || render(&input));
        let objects: usize = outcome.clusters.iter().map(|(_, n)| n).sum();
        let floor = floor(&input, &outcome.stdout);
        let sliced = slice_input(&input);
        let (slice, _) = best(runs, || render(&sliced));
        let (rerender, _) = render(&outcome.stdout);
        println!(
            "| {meshes}x{services} | {objects} | {:.1} | {:.3} | {:.3} | {:.2} | {:.3} | {:.1}% | {:.3} | {:.1} |",
            outcome.stdout.len() as f64 / 1e6,
            full.as_secs_f64(),
            floor.as_secs_f64(),
            full.as_secs_f64() / floor.as_secs_f64(),
            slice.as_secs_f64(),
            100.0 * slice.as_secs_f64() / full.as_secs_f64(),
            rerender.as_secs_f64(),
            full.as_secs_f64() * 1e6 / objects as f64,
        );
    }
}
