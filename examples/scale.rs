//! Scale generator for benchmarks: prints a ResourceList with N Istio meshes × M services.
//!
//! ```sh
//! cargo run --release --example scale -- 20 100 > /tmp/20x100.yaml
//! cargo run --release --example scale -- 4 50 --mtls > /tmp/4x50-mtls.yaml
//! ```
//!
//! Every mesh has a LoadBalancer east-west gateway; every service has two ports (HTTP and
//! gRPC) and two endpoints (versions v1 and v2, two zones). One VirtualMesh groups all meshes,
//! federates every Destination to every other mesh (`selectors: [{}]`) and enables
//! `globalAccessPolicy`. `--mtls` adds `mtlsConfig.shared` with a generated root;
//! `--seed-file FILE` adds a functionConfig deriving the certificates from FILE (create it,
//! at least 32 bytes); `--rsa-bits` sets the key size (default 4096).

#[path = "../benches/support/scale.rs"]
mod scale;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let meshes: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(4);
    let services: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(50);
    let mtls = args.iter().any(|a| a == "--mtls");
    let rsa_bits = args
        .iter()
        .position(|a| a == "--rsa-bits")
        .and_then(|i| args.get(i + 1))
        .and_then(|b| b.parse::<u32>().ok())
        .unwrap_or(4096);
    let seed_file = args
        .iter()
        .position(|a| a == "--seed-file")
        .and_then(|i| args.get(i + 1))
        .cloned();
    print!(
        "{}",
        scale::generate(meshes, services, mtls, rsa_bits, seed_file.as_deref())
    );
}
