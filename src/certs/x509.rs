//! Building and reading the two certificates vmesh issues: a self-signed root CA and the
//! per-mesh intermediate CA istiod signs workload certificates with.
//!
//! Both follow Istio's `tools/certs` profile (istio.md §A.4/§A.6): basicConstraints CA:TRUE
//! (critical; `pathlen:0` on the intermediate), keyUsage digitalSignature + keyCertSign +
//! cRLSign (critical), subject and authority key identifiers, no extended key usage,
//! SHA-256 (SHA-384 for a P-384 issuer). The intermediate's issuer is the root's subject
//! copied byte for byte, so Go's chain building (which matches raw names) finds the root.

use super::keys::PrivateKey;
use sha2::{Digest, Sha256};
use spki::der::asn1::{Ia5String, OctetString};
use spki::der::oid::AssociatedOid;
use spki::der::{Decode, Encode};
use spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::{Certificate, TbsCertificate};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, KeyUsages, SubjectAltName,
    SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

/// What to put in a certificate vmesh issues.
#[derive(Debug, Clone)]
pub struct CertSpec {
    /// Subject organisation (`O=`).
    pub organization: String,
    /// SPIFFE URI SANs (intermediates only).
    pub uri_sans: Vec<String>,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    /// 16 bytes; the top bit is cleared so the serial is positive.
    pub serial: [u8; 16],
}

/// Issues a self-signed root CA certificate (DER).
pub fn self_signed_root(spec: &CertSpec, key: &PrivateKey) -> Result<Vec<u8>, String> {
    let subject = subject(&spec.organization)?;
    let profile = Profile {
        issuer: subject.clone(),
        subject,
        uri_sans: Vec::new(),
        path_len: None,
        authority_key_id: None,
    };
    build(profile, spec, key.spki(), key)
}

/// Issues an intermediate CA certificate (DER) for `subject_key`, signed by `issuer_key`,
/// whose certificate is `issuer_der`.
pub fn intermediate(
    spec: &CertSpec,
    subject_key: &PrivateKey,
    issuer_der: &[u8],
    issuer_key: &PrivateKey,
) -> Result<Vec<u8>, String> {
    let issuer = Certificate::from_der(issuer_der)
        .map_err(|e| format!("the root certificate cannot be decoded: {e}"))?;
    let profile = Profile {
        issuer: issuer.tbs_certificate().subject().clone(),
        subject: subject(&spec.organization)?,
        uri_sans: spec.uri_sans.clone(),
        path_len: Some(0),
        authority_key_id: subject_key_id(&issuer),
    };
    build(profile, spec, subject_key.spki(), issuer_key)
}

fn subject(organization: &str) -> Result<Name, String> {
    let escaped = organization
        .replace('\\', "\\\\")
        .replace(',', "\\,")
        .replace('+', "\\+");
    Name::from_str(&format!("O={escaped}"))
        .map_err(|e| format!("organization {organization:?} cannot be a certificate subject: {e}"))
}

struct Profile {
    issuer: Name,
    subject: Name,
    uri_sans: Vec<String>,
    path_len: Option<u8>,
    /// The issuer's subject key identifier: verifiers match it against the authority key
    /// identifier, whatever method the issuer's key identifier was computed with.
    authority_key_id: Option<OctetString>,
}

/// The subject key identifier extension of a certificate, if it has one.
fn subject_key_id(cert: &Certificate) -> Option<OctetString> {
    cert.tbs_certificate()
        .extensions()?
        .iter()
        .find(|e| e.extn_id == SubjectKeyIdentifier::OID)
        .and_then(|e| SubjectKeyIdentifier::from_der(e.extn_value.as_bytes()).ok())
        .map(|ski| ski.0)
}

impl BuilderProfile for Profile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        issuer_spk: SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let _ = tbs;
        let mut extensions = vec![
            extension(
                &BasicConstraints {
                    ca: true,
                    path_len_constraint: self.path_len,
                },
                true,
            )?,
            extension(
                &KeyUsage(
                    KeyUsages::DigitalSignature | KeyUsages::KeyCertSign | KeyUsages::CRLSign,
                ),
                true,
            )?,
            extension(
                &SubjectKeyIdentifier(key_identifier(spk.subject_public_key.raw_bytes())?),
                false,
            )?,
        ];
        if self.issuer != self.subject {
            let issuer_key_id = match &self.authority_key_id {
                Some(id) => id.clone(),
                None => key_identifier(issuer_spk.subject_public_key.raw_bytes())?,
            };
            let authority = AuthorityKeyIdentifier {
                key_identifier: Some(issuer_key_id),

                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            };
            extensions.push(extension(&authority, false)?);
        }
        if !self.uri_sans.is_empty() {
            let mut names = Vec::with_capacity(self.uri_sans.len());
            for uri in &self.uri_sans {
                names.push(GeneralName::UniformResourceIdentifier(Ia5String::new(uri)?));
            }
            extensions.push(extension(&SubjectAltName(names), false)?);
        }
        Ok(extensions)
    }
}

fn extension<T: Encode + AssociatedOid>(value: &T, critical: bool) -> spki::der::Result<Extension> {
    Ok(Extension {
        extn_id: T::OID,
        critical,
        extn_value: OctetString::new(value.to_der()?)?,
    })
}

/// RFC 7093 method 1: the leftmost 160 bits of the SHA-256 of the public key bits.
fn key_identifier(public_key: &[u8]) -> spki::der::Result<OctetString> {
    OctetString::new(&Sha256::digest(public_key)[..20])
}

fn build(
    profile: Profile,
    spec: &CertSpec,
    spki: SubjectPublicKeyInfoOwned,
    signer: &PrivateKey,
) -> Result<Vec<u8>, String> {
    let fail = |e: &dyn std::fmt::Display| format!("cannot build the certificate: {e}");
    let mut serial = spec.serial;
    serial[0] &= 0x7f;
    if serial.iter().all(|b| *b == 0) {
        serial[15] = 1;
    }
    let validity = Validity::new(time(spec.not_before)?, time(spec.not_after)?);
    let serial = SerialNumber::new(&serial).map_err(|e| fail(&e))?;
    let builder = CertificateBuilder::new(profile, serial, validity, spki).map_err(|e| fail(&e))?;
    let certificate = match signer {
        PrivateKey::Rsa(key) => {
            let signing = rsa::pkcs1v15::SigningKey::<Sha256>::new(key.as_ref().clone());
            builder.build::<_, rsa::pkcs1v15::Signature>(&signing)
        }
        PrivateKey::P256(key) => builder.build::<_, p256::ecdsa::DerSignature>(key),
        PrivateKey::P384(key) => builder.build::<_, p384::ecdsa::DerSignature>(key),
    }
    .map_err(|e| fail(&e))?;
    certificate.to_der().map_err(|e| fail(&e))
}

fn time(at: SystemTime) -> Result<Time, String> {
    let seconds = at
        .duration_since(UNIX_EPOCH)
        .map_err(|_| "time before 1970".to_string())?
        .as_secs();
    let date = spki::der::DateTime::from_unix_duration(Duration::from_secs(seconds))
        .map_err(|e| format!("time out of range: {e}"))?;
    Ok(Time::from(date))
}

/// What vmesh needs to know about a certificate it may reuse.
#[derive(Debug, Clone)]
pub struct CertInfo {
    pub der: Vec<u8>,
    pub subject: Vec<u8>,
    pub issuer: Vec<u8>,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    pub is_ca: bool,
    /// basicConstraints pathLenConstraint.
    pub path_len: Option<u8>,
    /// Whether keyUsage has keyCertSign; `None` without a keyUsage extension (then any
    /// use is allowed, as Go's and OpenSSL's verifiers read it).
    pub key_cert_sign: Option<bool>,
    pub public_key: Vec<u8>,
    pub uri_sans: Vec<String>,
    pub organization: String,
    /// Signature algorithm OID and signature, for checking who signed it.
    signature_algorithm: String,
    signature: Vec<u8>,
    tbs: Vec<u8>,
}

impl CertInfo {
    pub fn parse(der: &[u8]) -> Result<CertInfo, String> {
        let cert = Certificate::from_der(der)
            .map_err(|e| format!("not a valid X.509 certificate: {e}"))?;
        let tbs = cert.tbs_certificate();
        let validity = tbs.validity();
        let mut is_ca = false;
        let mut path_len = None;
        let mut key_cert_sign = None;
        let mut uri_sans = Vec::new();
        for ext in tbs.extensions().into_iter().flatten() {
            if ext.extn_id == BasicConstraints::OID {
                if let Ok(bc) = BasicConstraints::from_der(ext.extn_value.as_bytes()) {
                    is_ca = bc.ca;
                    path_len = bc.path_len_constraint;
                }
            } else if ext.extn_id == KeyUsage::OID {
                if let Ok(ku) = KeyUsage::from_der(ext.extn_value.as_bytes()) {
                    key_cert_sign = Some(ku.0.contains(KeyUsages::KeyCertSign));
                }
            } else if ext.extn_id == SUBJECT_ALT_NAME
                && let Ok(san) = SubjectAltName::from_der(ext.extn_value.as_bytes())
            {
                for name in san.0 {
                    if let GeneralName::UniformResourceIdentifier(uri) = name {
                        uri_sans.push(uri.to_string());
                    }
                }
            }
        }
        let encode = |e: spki::der::Error| format!("certificate field cannot be encoded: {e}");
        Ok(CertInfo {
            der: der.to_vec(),
            subject: tbs.subject().to_der().map_err(encode)?,
            issuer: tbs.issuer().to_der().map_err(encode)?,
            not_before: validity.not_before.to_system_time(),
            not_after: validity.not_after.to_system_time(),
            is_ca,
            path_len,
            key_cert_sign,
            public_key: tbs.subject_public_key_info().to_der().map_err(encode)?,
            uri_sans,
            organization: organization(tbs.subject()),
            signature_algorithm: cert.signature_algorithm().oid.to_string(),
            signature: cert.signature().raw_bytes().to_vec(),
            tbs: tbs.to_der().map_err(encode)?,
        })
    }

    /// True when `issuer` signed this certificate (its name and key).
    pub fn signed_by(&self, issuer: &CertInfo) -> bool {
        self.issuer == issuer.subject
            && verify(
                &issuer.public_key,
                &self.signature_algorithm,
                &self.tbs,
                &self.signature,
            )
    }

    /// Fraction of the lifetime still ahead at `now` (negative once expired).
    pub fn remaining_fraction(&self, now: SystemTime) -> f64 {
        let lifetime = seconds_between(self.not_before, self.not_after).max(1.0);
        seconds_between(now, self.not_after) / lifetime
    }

    /// SHA-256 of the DER, as `sha256:<hex>`.
    pub fn fingerprint(&self) -> String {
        format!("sha256:{}", hex(&Sha256::digest(&self.der)))
    }
}

const SUBJECT_ALT_NAME: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("2.5.29.17");

fn organization(name: &Name) -> String {
    const ORGANIZATION: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("2.5.4.10");
    for rdn in name.iter_rdn() {
        for atv in rdn.iter() {
            if atv.oid == ORGANIZATION
                && let Ok(s) = atv.value.decode_as::<spki::der::asn1::Utf8StringRef<'_>>()
            {
                return s.to_string();
            }
            if atv.oid == ORGANIZATION
                && let Ok(s) = atv
                    .value
                    .decode_as::<spki::der::asn1::PrintableStringRef<'_>>()
            {
                return s.to_string();
            }
        }
    }
    String::new()
}

fn seconds_between(a: SystemTime, b: SystemTime) -> f64 {
    match b.duration_since(a) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Verifies a signature made with SHA-256/RSA, ECDSA P-256/SHA-256 or P-384/SHA-384.
fn verify(public_key_der: &[u8], algorithm: &str, message: &[u8], signature: &[u8]) -> bool {
    use rsa::pkcs8::DecodePublicKey;
    use rsa::signature::Verifier;
    use rsa::signature::hazmat::PrehashVerifier;
    use sha2::{Digest, Sha384, Sha512};
    fn rsa_verify<D>(public_key_der: &[u8], message: &[u8], signature: &[u8]) -> bool
    where
        D: Digest + spki::der::oid::AssociatedOid,
    {
        rsa::PublicKey::from_public_key_der(public_key_der)
            .ok()
            .and_then(|key| {
                let signature = rsa::pkcs1v15::Signature::try_from(signature).ok()?;
                rsa::pkcs1v15::VerifyingKey::<D>::new(key)
                    .verify(message, &signature)
                    .ok()
            })
            .is_some()
    }
    // ECDSA signs a hash; the curve is the key's, the hash the algorithm's (OpenSSL signs
    // with SHA-256 whatever the curve, so P-384 keys with SHA-256 are common).
    let ec_hash = match algorithm {
        "1.2.840.113549.1.1.11" => return rsa_verify::<Sha256>(public_key_der, message, signature),
        "1.2.840.113549.1.1.12" => return rsa_verify::<Sha384>(public_key_der, message, signature),
        "1.2.840.113549.1.1.13" => return rsa_verify::<Sha512>(public_key_der, message, signature),
        "1.2.840.10045.4.3.2" => Sha256::digest(message).to_vec(),
        "1.2.840.10045.4.3.3" => Sha384::digest(message).to_vec(),
        "1.2.840.10045.4.3.4" => Sha512::digest(message).to_vec(),
        _ => return false,
    };
    if let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_der(public_key_der) {
        return p256::ecdsa::DerSignature::from_bytes(signature)
            .ok()
            .and_then(|s| p256::ecdsa::Signature::try_from(s).ok())
            .is_some_and(|s| key.verify_prehash(&ec_hash, &s).is_ok());
    }
    if let Ok(key) = p384::ecdsa::VerifyingKey::from_public_key_der(public_key_der) {
        return p384::ecdsa::DerSignature::from_bytes(signature)
            .ok()
            .and_then(|s| p384::ecdsa::Signature::try_from(s).ok())
            .is_some_and(|s| key.verify_prehash(&ec_hash, &s).is_ok());
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rsa::rand_core::SeedableRng;

    fn spec(org: &str, san: Option<&str>, serial: u8) -> CertSpec {
        let start = UNIX_EPOCH + Duration::from_secs(1_790_000_000);
        CertSpec {
            organization: org.into(),
            uri_sans: san.map(str::to_string).into_iter().collect(),
            not_before: start,
            not_after: start + Duration::from_secs(86_400 * 30),
            serial: [serial; 16],
        }
    }

    #[test]
    fn intermediate_chains_to_root_and_carries_the_san() {
        let mut rng = ChaCha20Rng::from_seed([1; 32]);
        let root_key = PrivateKey::generate_rsa(&mut rng, 1024).unwrap();
        let root = self_signed_root(&spec("gloo-mesh", None, 1), &root_key).unwrap();
        let int_key = PrivateKey::generate_rsa(&mut rng, 1024).unwrap();
        let san = "spiffe://cluster.local/ns/istio-system/sa/istiod";
        let int = intermediate(&spec("Istio", Some(san), 2), &int_key, &root, &root_key).unwrap();
        let root_info = CertInfo::parse(&root).unwrap();
        let int_info = CertInfo::parse(&int).unwrap();
        assert!(root_info.signed_by(&root_info));
        assert!(int_info.signed_by(&root_info));
        assert!(!root_info.signed_by(&int_info));
        assert!(int_info.is_ca);
        assert_eq!(int_info.uri_sans, vec![san.to_string()]);
        assert_eq!(int_info.organization, "Istio");
        assert_eq!(int_info.public_key, int_key.public_key_der());
    }

    #[test]
    fn ec_roots_sign_deterministically() {
        let key = PrivateKey::P256(p256::ecdsa::SigningKey::from_slice(&[9; 32]).unwrap());
        let a = self_signed_root(&spec("o", None, 3), &key).unwrap();
        let b = self_signed_root(&spec("o", None, 3), &key).unwrap();
        assert_eq!(a, b);
        let info = CertInfo::parse(&a).unwrap();
        assert!(info.signed_by(&info));
    }
}
