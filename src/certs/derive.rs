//! Where key material comes from: a seed (HKDF-SHA256 → ChaCha20, reproducible) or the
//! operating system.

use hkdf::Hkdf;
use rand_chacha::ChaCha20Rng;
use rsa::rand_core::SeedableRng;
use sha2::{Digest, Sha256};

/// Salt of every derivation; changing it changes every seeded certificate.
const SALT: &[u8] = b"vmesh.dev/certificates/v1";

/// Randomness for one certificate: its key and its serial number.
pub struct KeySource {
    key_seed: [u8; 32],
    serial: [u8; 16],
}

impl KeySource {
    /// Derived from `seed` and `info` (what the certificate is): the same inputs always give
    /// the same key and serial, different `info` give unrelated ones.
    pub fn seeded(seed: &[u8], info: &str) -> KeySource {
        let hkdf = Hkdf::<Sha256>::new(Some(SALT), seed);
        let mut key_seed = [0u8; 32];
        let mut serial = [0u8; 16];
        hkdf.expand(format!("key|{info}").as_bytes(), &mut key_seed)
            .expect("32 bytes is a valid HKDF-SHA256 length");
        hkdf.expand(format!("serial|{info}").as_bytes(), &mut serial)
            .expect("16 bytes is a valid HKDF-SHA256 length");
        KeySource { key_seed, serial }
    }

    /// Fresh randomness from the operating system.
    pub fn random() -> KeySource {
        let mut key_seed = [0u8; 32];
        let mut serial = [0u8; 16];
        getrandom::fill(&mut key_seed).expect("the operating system provides randomness");
        getrandom::fill(&mut serial).expect("the operating system provides randomness");
        KeySource { key_seed, serial }
    }

    pub fn rng(&mut self) -> ChaCha20Rng {
        ChaCha20Rng::from_seed(self.key_seed)
    }

    pub fn serial(&self) -> [u8; 16] {
        self.serial
    }
}

/// SHA-256 over the DER certificates of a trust bundle, as `sha256:<hex>`.
pub fn bundle_fingerprint(bundle: &[Vec<u8>]) -> String {
    let mut hash = Sha256::new();
    for der in bundle {
        hash.update(der);
    }
    format!("sha256:{}", super::x509::hex(&hash.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_sources_are_reproducible_and_distinct() {
        let a = KeySource::seeded(b"0123456789abcdef0123456789abcdef", "root|ns|vm");
        let b = KeySource::seeded(b"0123456789abcdef0123456789abcdef", "root|ns|vm");
        let c = KeySource::seeded(b"0123456789abcdef0123456789abcdef", "root|ns|other");
        assert_eq!(a.key_seed, b.key_seed);
        assert_eq!(a.serial, b.serial);
        assert_ne!(a.key_seed, c.key_seed);
        assert_ne!(KeySource::random().key_seed, KeySource::random().key_seed);
    }
}
