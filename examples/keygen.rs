//! Times RSA key generation: `cargo run --release --example keygen -- BITS COUNT`.
use std::time::Instant;
use vmesh::certs::derive::KeySource;
use vmesh::certs::keys::PrivateKey;

fn main() {
    let mut args = std::env::args().skip(1);
    let bits: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4096);
    let count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    for _ in 0..count {
        let start = Instant::now();
        let _key = PrivateKey::generate_rsa(&mut KeySource::random().rng(), bits).expect("key");
        println!("{bits} bits: {:?}", start.elapsed());
    }
}
