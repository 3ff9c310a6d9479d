//! Checks every `cacerts` Secret with the real `openssl`: the chain verifies against
//! `root-cert.pem`, the key matches the certificate, and the intermediate carries what istiod
//! and Envoy need (CA:TRUE, keyCertSign, the SPIFFE SAN, validity inside the root's).

use base64::Engine as _;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn openssl(args: &[&str], dir: &Path) -> (bool, String) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed to check certificates (apt install openssl)");
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

fn decode(secret: &Value, key: &str) -> Vec<u8> {
    let text = secret["data"][key]
        .as_str()
        .unwrap_or_else(|| panic!("cacerts lacks {key}"));
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("data is base64")
}

/// Verifies one cacerts Secret; returns the problems found.
pub fn cacerts_problems(secret: &Value) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    for key in [
        "ca-cert.pem",
        "ca-key.pem",
        "root-cert.pem",
        "cert-chain.pem",
    ] {
        std::fs::write(dir.path().join(key), decode(secret, key)).unwrap();
    }
    let mut problems = Vec::new();
    let (ok, text) = openssl(
        &[
            "verify",
            "-CAfile",
            "root-cert.pem",
            "-untrusted",
            "cert-chain.pem",
            "ca-cert.pem",
        ],
        dir.path(),
    );
    if !ok || !text.contains("ca-cert.pem: OK") {
        problems.push(format!("openssl verify failed: {text}"));
    }
    let (_, cert_key) = openssl(
        &["x509", "-in", "ca-cert.pem", "-noout", "-pubkey"],
        dir.path(),
    );
    let (_, key_key) = openssl(&["pkey", "-in", "ca-key.pem", "-pubout"], dir.path());
    if cert_key.trim().is_empty() || cert_key != key_key {
        problems.push("ca-key.pem does not match ca-cert.pem".into());
    }
    let (_, text) = openssl(
        &["x509", "-in", "ca-cert.pem", "-noout", "-text"],
        dir.path(),
    );
    for needle in ["CA:TRUE", "Certificate Sign", "URI:spiffe://"] {
        if !text.contains(needle) {
            problems.push(format!("intermediate lacks {needle}"));
        }
    }
    let chain = String::from_utf8(decode(secret, "cert-chain.pem")).unwrap();
    let ca_cert = String::from_utf8(decode(secret, "ca-cert.pem")).unwrap();
    if !chain.starts_with(ca_cert.trim_end()) {
        problems.push("cert-chain.pem does not start with ca-cert.pem".into());
    }
    let end = |file: &str| {
        let (_, text) = openssl(
            &[
                "x509", "-in", file, "-noout", "-enddate", "-dateopt", "iso_8601",
            ],
            dir.path(),
        );
        text.trim().trim_start_matches("notAfter=").to_string()
    };
    // The first root of the bundle that verifies the chain is the chain's last certificate.
    let roots = String::from_utf8(decode(secret, "root-cert.pem")).unwrap();
    let chain_root = chain[chain.rfind("-----BEGIN CERTIFICATE-----").unwrap()..].to_string();
    std::fs::write(dir.path().join("chain-root.pem"), &chain_root).unwrap();
    if end("ca-cert.pem") > end("chain-root.pem") {
        problems.push("the intermediate outlives its root".into());
    }
    if !roots.contains(chain_root.trim_end()) {
        problems.push("root-cert.pem does not contain the chain's root".into());
    }
    problems
}

/// Every cacerts Secret of a rendered output passes [`cacerts_problems`].
pub fn assert_cacerts_valid(items: &[Value], case: &str) {
    for secret in items
        .iter()
        .filter(|i| i["kind"] == "Secret" && i["metadata"]["name"] == "cacerts")
    {
        let problems = cacerts_problems(secret);
        assert!(
            problems.is_empty(),
            "{case}: cacerts for cluster {}: {}",
            secret["metadata"]["annotations"]["vmesh.dev/cluster"],
            problems.join("; ")
        );
    }
}
