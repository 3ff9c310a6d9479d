//! Private keys: RSA (generated here, or read), ECDSA P-256 and P-384 (read from a
//! user-provided root). Keys are written in the forms Istio reads: PKCS#1 for RSA, SEC 1
//! for EC.

use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
use rsa::rand_core::TryCryptoRng;
use spki::SubjectPublicKeyInfoOwned;
use spki::der::Decode;
use std::fmt;

/// A CA private key.
pub enum PrivateKey {
    Rsa(Box<rsa::PrivateKey>),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
}

/// Never prints key material.
impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.algorithm())
    }
}

/// Why an encrypted key (PKCS#8 `ENCRYPTED PRIVATE KEY`, or a legacy PEM key with
/// `Proc-Type: 4,ENCRYPTED`) cannot be used, and what to do.
const ENCRYPTED: &str = "the key is encrypted with a passphrase; decrypt it first (e.g. `openssl pkey -in key.pem -out plain.pem`): vmesh runs unattended and cannot ask for one";

impl PrivateKey {
    /// A new RSA key of `bits` bits from `rng`.
    pub fn generate_rsa<R: TryCryptoRng + ?Sized>(
        rng: &mut R,
        bits: usize,
    ) -> Result<Self, String> {
        rsa::PrivateKey::new(rng, bits)
            .map(|k| PrivateKey::Rsa(Box::new(k)))
            .map_err(|e| format!("cannot generate a {bits}-bit RSA key: {e}"))
    }

    /// Reads the first key of a PEM text: PKCS#1 (`RSA PRIVATE KEY`), SEC 1
    /// (`EC PRIVATE KEY`, P-256 or P-384) or PKCS#8 (`PRIVATE KEY`). Errors never quote the
    /// key.
    pub fn from_pem(text: &str) -> Result<Self, String> {
        let label = first_pem_label(text).ok_or("no PEM block found")?;
        let block = pem_block(text, label).ok_or("the PEM block is not terminated")?;
        // OpenSSL's legacy encryption marks the block with headers (`Proc-Type:
        // 4,ENCRYPTED`, `DEK-Info: …`); the body then is not a key anyone can decode.
        if block
            .lines()
            .any(|l| l.starts_with("Proc-Type:") && l.contains("ENCRYPTED"))
        {
            return Err(ENCRYPTED.to_string());
        }
        match label {
            "RSA PRIVATE KEY" => rsa::PrivateKey::from_pkcs1_pem(block)
                .map(|k| PrivateKey::Rsa(Box::new(k)))
                .map_err(|_| "the PKCS#1 RSA key cannot be decoded".to_string()),
            "EC PRIVATE KEY" => p256::SecretKey::from_sec1_pem(block)
                .map(|k| PrivateKey::P256(k.into()))
                .or_else(|_| {
                    p384::SecretKey::from_sec1_pem(block).map(|k| PrivateKey::P384(k.into()))
                })
                .map_err(|_| {
                    "the EC key cannot be decoded (vmesh reads P-256 and P-384 keys)".to_string()
                }),
            "PRIVATE KEY" => rsa::PrivateKey::from_pkcs8_pem(block)
                .map(|k| PrivateKey::Rsa(Box::new(k)))
                .or_else(|_| {
                    p256::SecretKey::from_pkcs8_pem(block).map(|k| PrivateKey::P256(k.into()))
                })
                .or_else(|_| {
                    p384::SecretKey::from_pkcs8_pem(block).map(|k| PrivateKey::P384(k.into()))
                })
                .map_err(|_| {
                    "the PKCS#8 key cannot be decoded (vmesh reads RSA, P-256 and P-384 keys)"
                        .to_string()
                }),
            "ENCRYPTED PRIVATE KEY" => Err(ENCRYPTED.to_string()),
            other => Err(format!("expected a private key PEM block, found {other:?}")),
        }
    }

    /// The RSA modulus size in bits; `None` for EC keys (their curve fixes the size).
    pub fn rsa_bits(&self) -> Option<usize> {
        use rsa::traits::PublicKeyParts;
        match self {
            PrivateKey::Rsa(k) => Some(k.n().bit_width() as usize),
            _ => None,
        }
    }

    /// The key as PEM: PKCS#1 for RSA, SEC 1 for EC.
    pub fn to_pem(&self) -> String {
        let text = match self {
            PrivateKey::Rsa(k) => k.to_pkcs1_pem(LineEnding::LF).map(|z| z.to_string()),
            PrivateKey::P256(k) => p256::SecretKey::from(k.as_nonzero_scalar())
                .to_sec1_pem(LineEnding::LF)
                .map(|z| z.to_string())
                .map_err(|_| rsa::pkcs1::Error::Crypto),
            PrivateKey::P384(k) => p384::SecretKey::from(k.as_nonzero_scalar())
                .to_sec1_pem(LineEnding::LF)
                .map(|z| z.to_string())
                .map_err(|_| rsa::pkcs1::Error::Crypto),
        };
        text.expect("an in-memory key always encodes")
    }

    /// The DER SubjectPublicKeyInfo of the public key.
    pub fn public_key_der(&self) -> Vec<u8> {
        let document = match self {
            PrivateKey::Rsa(k) => k.to_public_key().to_public_key_der(),
            PrivateKey::P256(k) => k.verifying_key().to_public_key_der(),
            PrivateKey::P384(k) => k.verifying_key().to_public_key_der(),
        };
        document
            .expect("a public key always encodes")
            .as_bytes()
            .to_vec()
    }

    pub fn spki(&self) -> SubjectPublicKeyInfoOwned {
        SubjectPublicKeyInfoOwned::from_der(&self.public_key_der()).expect("encoded just above")
    }

    pub fn algorithm(&self) -> &'static str {
        match self {
            PrivateKey::Rsa(_) => "RSA",
            PrivateKey::P256(_) => "ECDSA P-256",
            PrivateKey::P384(_) => "ECDSA P-384",
        }
    }
}

fn first_pem_label(text: &str) -> Option<&str> {
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let end = text[start..].find("-----")?;
    Some(&text[start..start + end])
}

/// The text of the first PEM block with `label`, markers included.
fn pem_block<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)?;
    let stop = text[start..].find(&end)? + start + end.len();
    Some(&text[start..stop])
}

/// Every certificate (DER) of a PEM bundle, in order.
pub fn pem_certificates(text: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut certificates = Vec::new();
    let mut rest = text;
    while let Some(block) = pem_block(rest, "CERTIFICATE") {
        let (label, der) = spki::der::pem::decode_vec(block.as_bytes())
            .map_err(|_| "a CERTIFICATE block is not valid base64/DER".to_string())?;
        debug_assert_eq!(label, "CERTIFICATE");
        certificates.push(der);
        let consumed = rest.find(block).expect("found above") + block.len();
        rest = &rest[consumed..];
    }
    if certificates.is_empty() {
        return Err("no CERTIFICATE PEM block found".into());
    }
    Ok(certificates)
}

/// One certificate as PEM.
pub fn certificate_pem(der: &[u8]) -> String {
    spki::der::pem::encode_string("CERTIFICATE", spki::der::pem::LineEnding::LF, der)
        .expect("a DER certificate always encodes")
}

#[cfg(test)]
mod tests {
    #[test]
    fn encrypted_keys_are_reported_as_encrypted() {
        let legacy = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,0011\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        let pkcs8 =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        for text in [legacy, pkcs8] {
            let Err(err) = super::PrivateKey::from_pem(text) else {
                panic!("an encrypted key was read");
            };
            assert!(
                err.contains("encrypted") && err.contains("decrypt it first"),
                "{err}"
            );
        }
    }

    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rsa::rand_core::SeedableRng;

    #[test]
    fn rsa_keys_round_trip_through_pkcs1_and_pkcs8() {
        let mut rng = ChaCha20Rng::from_seed([7; 32]);
        let key = PrivateKey::generate_rsa(&mut rng, 1024).unwrap();
        let pem = key.to_pem();
        assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let again = PrivateKey::from_pem(&pem).unwrap();
        assert_eq!(again.public_key_der(), key.public_key_der());
        let PrivateKey::Rsa(inner) = &key else {
            unreachable!()
        };
        let pkcs8 =
            rsa::pkcs8::EncodePrivateKey::to_pkcs8_pem(inner.as_ref(), LineEnding::LF).unwrap();
        assert_eq!(
            PrivateKey::from_pem(&pkcs8).unwrap().public_key_der(),
            key.public_key_der()
        );
    }

    #[test]
    fn errors_never_quote_the_key() {
        let bogus =
            "-----BEGIN RSA PRIVATE KEY-----\nU0VDUkVUU0VDUkVU\n-----END RSA PRIVATE KEY-----\n";
        let err = PrivateKey::from_pem(bogus).unwrap_err();
        assert!(!err.contains("U0VDUkVU"), "{err}");
        assert!(PrivateKey::from_pem("nothing here").is_err());
    }
}
