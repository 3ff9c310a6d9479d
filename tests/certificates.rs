//! Shared trust end to end: reuse, rotation, transitions, errors and key hygiene. Every
//! `cacerts` produced here is checked with the real openssl.

mod common;

use base64::Engine as _;
use common::certs::cacerts_problems;
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};
use vmesh::{OutputStyle, RunOptions};

const DAY: u64 = 86_400;

/// The two-cluster example with `mtls` (YAML indented for `spec.mtlsConfig`), extra items
/// and an optional functionConfig spec.
fn input(mtls: &str, extra_items: &str, config: Option<&str>) -> String {
    let base = common::read(&common::root().join("testdata/two-clusters/input.yaml"));
    let mut text = base.replace(
        "    globalAccessPolicy: ENABLED\n",
        &format!("    globalAccessPolicy: ENABLED\n    mtlsConfig:\n{mtls}"),
    );
    text.push_str(extra_items);
    if let Some(spec) = config {
        text.push_str(&format!(
            "functionConfig:\n  apiVersion: vmesh.dev/v1alpha1\n  kind: VirtualMeshRenderer\n  metadata:\n    name: vmesh\n  spec:\n{spec}"
        ));
    }
    text
}

const SMALL_KEYS: &str = "      shared:
        rootCertificateAuthority:
          generated:
            rsaKeySizeBytes: 2048
            ttlDays: 3650
        intermediateCertOptions:
          rsaKeySizeBytes: 2048
          ttlDays: 730
";

fn run_at(text: &str, now: Option<SystemTime>, style: OutputStyle) -> vmesh::Outcome {
    let list = vmesh::krm::read_resource_list(text.to_string()).expect("input parses");
    vmesh::run(
        list,
        &RunOptions {
            base_dir: Some(common::root()),
            now,
            ..RunOptions::new(style)
        },
    )
}

fn run(text: &str) -> vmesh::Outcome {
    run_at(text, None, OutputStyle::ResourceList)
}

/// cacerts Secrets by cluster.
fn cacerts(stdout: &str) -> BTreeMap<String, Value> {
    let (items, _) = common::parse(stdout);
    items
        .into_iter()
        .filter(|i| i["kind"] == "Secret" && i["metadata"]["name"] == "cacerts")
        .map(|i| {
            let cluster = i["metadata"]["annotations"]["vmesh.dev/cluster"]
                .as_str()
                .unwrap()
                .to_string();
            (cluster, i)
        })
        .collect()
}

fn data(secret: &Value, key: &str) -> String {
    let text = secret["data"][key].as_str().unwrap();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap(),
    )
    .unwrap()
}

fn root_count(secret: &Value) -> usize {
    data(secret, "root-cert.pem")
        .matches("BEGIN CERTIFICATE")
        .count()
}

fn items_only(stdout: &str) -> Vec<Value> {
    common::parse(stdout).0
}

fn assert_ok(outcome: &vmesh::Outcome, what: &str) {
    let errors: Vec<String> = outcome
        .results
        .iter()
        .filter(|r| r.severity == vmesh::krm::Severity::Error)
        .map(|r| r.to_string())
        .collect();
    assert_eq!(outcome.exit_code, 0, "{what}: {errors:?}");
    for (cluster, secret) in cacerts(&outcome.stdout) {
        let problems = cacerts_problems(&secret);
        assert!(
            problems.is_empty(),
            "{what}: cluster {cluster}: {problems:?}"
        );
    }
}

#[test]
fn rerendering_reuses_unseeded_certificates_byte_for_byte() {
    let first = run(&input(SMALL_KEYS, "", None));
    assert_ok(&first, "first render");
    assert!(
        first
            .results
            .iter()
            .any(|r| r.message.contains("fresh random keys")),
        "an unseeded first render warns that it rotates the CA"
    );
    let second = run(&first.stdout);
    assert_ok(&second, "re-render");
    assert_eq!(
        items_only(&first.stdout),
        items_only(&second.stdout),
        "certificates were not reused"
    );
    assert!(
        !second
            .results
            .iter()
            .any(|r| r.message.contains("fresh random keys"))
    );
    assert_eq!(cacerts(&first.stdout).len(), 2);
}

#[test]
fn rotation_due_reissues_the_intermediate_under_the_same_root() {
    // Render 700 of the intermediate's 730 days ago: less than 10% of its life is left now.
    let past = SystemTime::now() - Duration::from_secs(700 * DAY);
    let old = run_at(
        &input(SMALL_KEYS, "", None),
        Some(past),
        OutputStyle::ResourceList,
    );
    assert_eq!(old.exit_code, 0);
    let renewed = run(&old.stdout);
    assert_ok(&renewed, "renewal");
    let (before, after) = (cacerts(&old.stdout), cacerts(&renewed.stdout));
    for cluster in ["cluster-1", "cluster-2"] {
        assert_ne!(
            data(&before[cluster], "ca-cert.pem"),
            data(&after[cluster], "ca-cert.pem"),
            "{cluster}: not reissued"
        );
        assert_eq!(
            data(&before[cluster], "root-cert.pem"),
            data(&after[cluster], "root-cert.pem"),
            "{cluster}: root changed"
        );
    }
    // And a render well inside the lifetime keeps everything.
    let recent = SystemTime::now() - Duration::from_secs(100 * DAY);
    let young = run_at(
        &input(SMALL_KEYS, "", None),
        Some(recent),
        OutputStyle::ResourceList,
    );
    let kept = run(&young.stdout);
    assert_eq!(cacerts(&young.stdout), cacerts(&kept.stdout));
}

#[test]
fn changed_options_reissue_the_intermediate() {
    let first = run(&input(SMALL_KEYS, "", None));
    let changed = first
        .stdout
        .replace("          ttlDays: 730\n", "          ttlDays: 400\n");
    assert_ne!(changed, first.stdout, "the test must change the options");
    let second = run(&changed);
    assert_ok(&second, "options changed");
    let (before, after) = (cacerts(&first.stdout), cacerts(&second.stdout));
    assert_ne!(
        data(&before["cluster-1"], "ca-cert.pem"),
        data(&after["cluster-1"], "ca-cert.pem")
    );
    assert_eq!(
        data(&before["cluster-1"], "root-cert.pem"),
        data(&after["cluster-1"], "root-cert.pem")
    );
    assert_eq!(
        after["cluster-1"]["metadata"]["annotations"]["vmesh.dev/certificate-options"],
        "ttlDays=400;rsaKeySizeBits=2048;orgName=Istio"
    );
}

/// Every intermediate in use in `a` or `b` must verify against every cluster's trust bundle
/// in `a` and in `b`: then no two workloads lose trust while clusters apply the change one by
/// one.
fn assert_no_trust_gap(a: &BTreeMap<String, Value>, b: &BTreeMap<String, Value>, step: &str) {
    let dir = tempfile::tempdir().unwrap();
    for (i, (ca_cluster, ca_secret)) in a.iter().chain(b.iter()).enumerate() {
        std::fs::write(
            dir.path().join(format!("ca{i}.pem")),
            data(ca_secret, "ca-cert.pem"),
        )
        .unwrap();
        std::fs::write(
            dir.path().join(format!("chain{i}.pem")),
            data(ca_secret, "cert-chain.pem"),
        )
        .unwrap();
        for (j, (bundle_cluster, bundle_secret)) in a.iter().chain(b.iter()).enumerate() {
            std::fs::write(
                dir.path().join(format!("bundle{j}.pem")),
                data(bundle_secret, "root-cert.pem"),
            )
            .unwrap();
            let out = Command::new("openssl")
                .args([
                    "verify",
                    "-CAfile",
                    &format!("bundle{j}.pem"),
                    "-untrusted",
                    &format!("chain{i}.pem"),
                    &format!("ca{i}.pem"),
                ])
                .current_dir(dir.path())
                .output()
                .expect("openssl must be installed");
            assert!(
                out.status.success(),
                "{step}: the intermediate of {ca_cluster} does not verify against the bundle of {bundle_cluster}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn a_new_root_rolls_out_in_three_steps_without_a_trust_gap() {
    let start = run(&input(SMALL_KEYS, "", None));
    assert_ok(&start, "start");
    // New root options make the generated root due for replacement.
    let changed = start
        .stdout
        .replace("          ttlDays: 3650\n", "          ttlDays: 3000\n");
    assert_ne!(changed, start.stdout);

    let step1 = run(&changed);
    assert_ok(&step1, "step 1");
    let (s0, s1) = (cacerts(&start.stdout), cacerts(&step1.stdout));
    for cluster in ["cluster-1", "cluster-2"] {
        assert_eq!(
            root_count(&s1[cluster]),
            2,
            "step 1 trusts old and new roots"
        );
        assert_eq!(
            data(&s0[cluster], "ca-cert.pem"),
            data(&s1[cluster], "ca-cert.pem"),
            "step 1 keeps signing"
        );
        assert_eq!(
            s1[cluster]["metadata"]["annotations"]["vmesh.dev/root-rotation"],
            "step-1-of-3-distribute"
        );
    }
    assert!(
        step1
            .results
            .iter()
            .any(|r| r.message.contains("root rotation step 1 of 3"))
    );
    assert_no_trust_gap(&s0, &s1, "step 0 → 1");

    let step2 = run(&step1.stdout);
    assert_ok(&step2, "step 2");
    let s2 = cacerts(&step2.stdout);
    for cluster in ["cluster-1", "cluster-2"] {
        assert_eq!(root_count(&s2[cluster]), 2);
        assert_ne!(
            data(&s1[cluster], "ca-cert.pem"),
            data(&s2[cluster], "ca-cert.pem"),
            "step 2 re-signs"
        );
        assert_eq!(
            s2[cluster]["metadata"]["annotations"]["vmesh.dev/root-rotation"],
            "step-2-of-3-sign"
        );
    }
    assert_no_trust_gap(&s1, &s2, "step 1 → 2");

    let step3 = run(&step2.stdout);
    assert_ok(&step3, "step 3");
    let s3 = cacerts(&step3.stdout);
    for cluster in ["cluster-1", "cluster-2"] {
        assert_eq!(root_count(&s3[cluster]), 1, "step 3 drops the old root");
        assert_eq!(
            data(&s2[cluster], "ca-cert.pem"),
            data(&s3[cluster], "ca-cert.pem")
        );
        assert_eq!(
            s3[cluster]["metadata"]["annotations"]["vmesh.dev/root-rotation"],
            "step-3-of-3-cleanup"
        );
    }
    assert_no_trust_gap(&s2, &s3, "step 2 → 3");

    let steady = run(&step3.stdout);
    assert_ok(&steady, "steady");
    let s4 = cacerts(&steady.stdout);
    for cluster in ["cluster-1", "cluster-2"] {
        assert_eq!(
            s4[cluster]["metadata"]["annotations"]["vmesh.dev/root-rotation"],
            "none"
        );
        assert_eq!(
            data(&s3[cluster], "ca-cert.pem"),
            data(&s4[cluster], "ca-cert.pem")
        );
    }
    assert_eq!(
        items_only(&steady.stdout).len(),
        items_only(&run(&steady.stdout).stdout).len()
    );
}

#[test]
fn rotation_strategy_none_replaces_the_root_at_once() {
    let mtls = format!("{SMALL_KEYS}      rotationStrategy: NONE\n");
    let start = run(&input(&mtls, "", None));
    let changed = start
        .stdout
        .replace("          ttlDays: 3650\n", "          ttlDays: 3000\n");
    let next = run(&changed);
    assert_ok(&next, "outright");
    for secret in cacerts(&next.stdout).values() {
        assert_eq!(root_count(secret), 1);
        assert_eq!(
            secret["metadata"]["annotations"]["vmesh.dev/root-rotation"],
            "none"
        );
    }
    assert_ne!(
        cacerts(&start.stdout)["cluster-1"],
        cacerts(&next.stdout)["cluster-1"]
    );
}

#[test]
fn seeded_renders_depend_only_on_the_seed() {
    let config = |seed: &str| {
        format!("    caSeed: file:{seed}\n    caNotBefore: \"2026-11-01T00:00:00Z\"\n")
    };
    let a = run(&input(
        SMALL_KEYS,
        "",
        Some(&config("testdata/certs-generated-seeded/seed.txt")),
    ));
    let b = run(&input(
        SMALL_KEYS,
        "",
        Some(&config("testdata/certs-generated-seeded/seed.txt")),
    ));
    let c = run(&input(
        SMALL_KEYS,
        "",
        Some(&config("testdata/certs-provided-rsa/seed.txt")),
    ));
    assert_ok(&a, "seeded");
    assert_eq!(a.stdout.replace(&a.stdout, ""), "");
    assert_eq!(
        items_only(&a.stdout),
        items_only(&b.stdout),
        "same seed, same bytes"
    );
    assert_ne!(
        cacerts(&a.stdout)["cluster-1"],
        cacerts(&c.stdout)["cluster-1"],
        "another seed, other keys"
    );
    assert!(
        !a.results
            .iter()
            .any(|r| r.message.contains("fresh random keys"))
    );
}

#[test]
fn shared_without_a_root_source_generates_a_4096_bit_gloo_mesh_root() {
    // No rootCertificateAuthority: a root is generated with the defaults (4096 bits, 365 days,
    // O=gloo-mesh). Intermediates are kept at 2048 bits so the suite stays fast; their
    // defaults are checked by the certs unit tests.
    let mtls = "      shared:\n        intermediateCertOptions:\n          rsaKeySizeBytes: 2048\n";
    let outcome = run(&input(mtls, "", None));
    assert_ok(&outcome, "shared without root source");
    let secret = &cacerts(&outcome.stdout)["cluster-1"];
    let dir = tempfile::tempdir().unwrap();
    for (file, key) in [("ca.pem", "ca-cert.pem"), ("root.pem", "root-cert.pem")] {
        std::fs::write(dir.path().join(file), data(secret, key)).unwrap();
    }
    let text = |file: &str| {
        let out = Command::new("openssl")
            .args(["x509", "-in", file, "-noout", "-text"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let (ca, root) = (text("ca.pem"), text("root.pem"));
    assert!(
        root.contains("(4096 bit)"),
        "the root's default key size is 4096 bits"
    );
    assert!(ca.contains("(2048 bit)"));

    assert!(
        root.contains("Subject: O=gloo-mesh") || root.contains("Subject: O = gloo-mesh"),
        "{root}"
    );
    assert!(ca.contains("Subject: O=Istio") || ca.contains("Subject: O = Istio"));
    assert!(ca.contains("URI:spiffe://cluster.local/ns/istio-system/sa/istiod"));
    let (items, _) = common::parse(&outcome.stdout);
    let root_secret = items
        .iter()
        .find(|i| i["type"] == "certificates.mesh.gloo.solo.io/generated_signing_cert")
        .expect("the generated root is kept in the package");
    assert_eq!(
        root_secret["metadata"]["annotations"]["config.kubernetes.io/local-config"],
        "true"
    );
    assert!(
        root_secret["metadata"]["annotations"]
            .get("vmesh.dev/cluster")
            .is_none()
    );
}

#[test]
fn the_root_key_never_reaches_a_cluster_slice_or_a_stream() {
    let sliced = run(&input(SMALL_KEYS, "", Some("    cluster: cluster-1\n")));
    assert_ok(&sliced, "slice");
    let (items, _) = common::parse(&sliced.stdout);
    let generated = common::generated(&items);
    // The slice holds the cluster's objects and the settings of its Istio installation.
    assert!(generated.iter().all(|i| {
        let annotations = &i["metadata"]["annotations"];
        annotations["vmesh.dev/cluster"] == "cluster-1"
            || annotations["vmesh.dev/istio-settings-cluster"] == "cluster-1"
    }));
    assert!(!sliced.stdout.contains("generated_signing_cert"));
    assert_eq!(cacerts(&sliced.stdout).len(), 1);

    let stream = run_at(
        &input(SMALL_KEYS, "", None),
        None,
        OutputStyle::GeneratedStream,
    );
    assert_eq!(stream.exit_code, 0);
    assert!(stream.stdout.contains("name: cacerts"));
    assert!(
        !stream.stdout.contains("generated_signing_cert"),
        "stream outputs carry no management item"
    );
    assert!(!stream.stdout.contains("local-config"));
}

fn secret_item(name: &str, data: &[(&str, &str)]) -> String {
    let mut text = format!(
        "- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: {name}\n    namespace: gloo-mesh\n  data:\n"
    );
    for (key, value) in data {
        text.push_str(&format!(
            "    {key}: {}\n",
            base64::engine::general_purpose::STANDARD.encode(value)
        ));
    }
    text
}

const USER_ROOT: &str = "      shared:
        rootCertificateAuthority:
          secret:
            name: root-ca
            namespace: gloo-mesh
        intermediateCertOptions:
          rsaKeySizeBytes: 2048
";

/// Root material made with openssl for one test.
fn openssl_root(key_args: &[&str], ca: bool) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (command, options) = key_args.split_first().unwrap();
    let status = Command::new("openssl")
        .arg(command)
        .args(["-out", "key.pem"])
        .args(options)
        .current_dir(dir.path())
        .stderr(Stdio::null())
        .status()
        .expect("openssl must be installed");

    assert!(status.success());
    let constraints = if ca {
        "basicConstraints=critical,CA:TRUE"
    } else {
        "basicConstraints=critical,CA:FALSE"
    };
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-new",
            "-key",
            "key.pem",
            "-subj",
            "/O=Test/CN=Test Root",
            "-days",
            "30",
            "-addext",
            constraints,
            "-out",
            "cert.pem",
        ])
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
    (read("cert.pem"), read("key.pem"))
}

#[test]
fn user_roots_in_every_key_format_issue_verifiable_cacerts() {
    let formats: [&[&str]; 4] = [
        &["genrsa", "-traditional", "2048"],
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ],
        &["ecparam", "-name", "prime256v1", "-genkey", "-noout"],
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
        ],
    ];
    for format in formats {
        let (cert, key) = openssl_root(format, true);
        let extra = secret_item("root-ca", &[("root-cert.pem", &cert), ("key.pem", &key)]);
        let outcome = run(&input(USER_ROOT, &extra, None));
        assert_ok(&outcome, &format!("{format:?}"));
        assert_eq!(cacerts(&outcome.stdout).len(), 2);
        assert!(
            !outcome.stdout.contains("generated_signing_cert"),
            "a user root is not copied into the output"
        );
    }
}

/// Runs `text`, expects failure with an error result containing `needle`.
fn assert_error(text: &str, needle: &str) {
    let outcome = run(text);
    assert_eq!(
        outcome.exit_code, 1,
        "expected an error containing {needle:?}"
    );
    assert!(
        outcome
            .results
            .iter()
            .any(|r| r.severity == vmesh::krm::Severity::Error && r.message.contains(needle)),
        "no error contains {needle:?}: {:?}",
        outcome
            .results
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
    );
    assert!(
        cacerts(&outcome.stdout).is_empty(),
        "a failed run renders no cacerts"
    );
}

#[test]
fn bad_trust_configuration_gives_clear_errors() {
    // In the user's terms; Gloo Mesh's texts stay in the gloo-mesh-message tag.
    assert_error(
        &input("      limited: {}\n", "", None),
        "limited trust (each mesh keeps its own root) is not supported",
    );
    assert_error(
        &input("      autoRestartPods: true\n", "", None),
        "mtlsConfig names no trust model",
    );
    assert_error(
        &input(
            "      shared:\n        intermediateCertificateAuthority:\n          vault:\n            caPath: pki/root\n",
            "",
            None,
        ),
        "intermediateCertificateAuthority (Vault) is not supported",
    );
    assert_error(
        &input(USER_ROOT, "", None),
        "root CA Secret gloo-mesh/root-ca is not in the input",
    );
    let (cert, key) = openssl_root(&["genrsa", "-traditional", "2048"], true);
    let (other_cert, _) = openssl_root(&["genrsa", "-traditional", "2048"], true);
    let (leaf_cert, leaf_key) = openssl_root(&["genrsa", "-traditional", "2048"], false);
    let cases = [
        (
            secret_item("root-ca", &[("root-cert.pem", &cert)]),
            "has no data key \"key.pem\"",
        ),
        (
            secret_item(
                "root-ca",
                &[("root-cert.pem", "garbage"), ("key.pem", &key)],
            ),
            "no CERTIFICATE PEM block found",
        ),
        (
            secret_item(
                "root-ca",
                &[
                    ("root-cert.pem", &cert),
                    (
                        "key.pem",
                        "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
                    ),
                ],
            ),
            "the PKCS#1 RSA key cannot be decoded",
        ),
        (
            secret_item(
                "root-ca",
                &[("root-cert.pem", &other_cert), ("key.pem", &key)],
            ),
            "does not match the certificate",
        ),
        (
            secret_item(
                "root-ca",
                &[("root-cert.pem", &leaf_cert), ("key.pem", &leaf_key)],
            ),
            "is not a CA",
        ),
    ];
    for (extra, needle) in cases {
        assert_error(&input(USER_ROOT, &extra, None), needle);
    }
    let cacerts_root = USER_ROOT.replace("name: root-ca", "name: cacerts");
    assert_error(
        &input(&cacerts_root, "", None),
        "cannot be a cacerts Secret",
    );
}

/// A root made with openssl with the given extensions (`-addext` values, basicConstraints
/// among them), valid from now.
fn openssl_root_with(key_args: &[&str], extensions: &[&str]) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (command, options) = key_args.split_first().unwrap();
    let status = Command::new("openssl")
        .arg(command)
        .args(["-out", "key.pem"])
        .args(options)
        .current_dir(dir.path())
        .stderr(Stdio::null())
        .status()
        .expect("openssl must be installed");
    assert!(status.success());
    let mut req = Command::new("openssl");
    req.args([
        "req",
        "-x509",
        "-new",
        "-key",
        "key.pem",
        "-subj",
        "/O=Test/CN=Test Root",
        "-days",
        "30",
        "-out",
        "cert.pem",
    ]);
    for extension in extensions {
        req.args(["-addext", extension]);
    }
    assert!(req.current_dir(dir.path()).status().unwrap().success());
    let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
    (read("cert.pem"), read("key.pem"))
}

/// User roots that istiod or the workloads would refuse are errors on the root Secret, each
/// saying what to change; the same root with the problem fixed renders (so each check is
/// what refuses it).
#[test]
fn user_roots_istio_would_refuse_are_errors() {
    let rsa = ["genrsa", "-traditional", "2048"];
    let ca = "basicConstraints=critical,CA:TRUE";
    let usage = "keyUsage=critical,keyCertSign,cRLSign";
    let render = |cert: &str, key: &str, now: Option<SystemTime>| {
        let extra = secret_item("root-ca", &[("root-cert.pem", cert), ("key.pem", key)]);
        run_at(
            &input(USER_ROOT, &extra, None),
            now,
            OutputStyle::ResourceList,
        )
    };
    let refused = |outcome: &vmesh::Outcome, needle: &str| {
        assert_eq!(outcome.exit_code, 1, "{needle}");
        let error = outcome
            .results
            .iter()
            .find(|r| r.severity == vmesh::krm::Severity::Error && r.message.contains(needle));
        let error = error.unwrap_or_else(|| panic!("{needle}: {:?}", outcome.results));
        assert_eq!(
            error.resource_ref.as_ref().unwrap().kind,
            "Secret",
            "{needle}"
        );
    };

    let (cert, key) = openssl_root_with(&rsa, &[ca, usage]);
    assert_ok(&render(&cert, &key, None), "a root with keyCertSign");
    // The same root an hour before it starts: not yet valid.
    let an_hour_ago = SystemTime::now() - std::time::Duration::from_secs(3600);
    refused(
        &render(&cert, &key, Some(an_hour_ago)),
        "is not valid before",
    );
    // Within the clock-skew allowance it is accepted.
    let a_minute_ago = SystemTime::now() - std::time::Duration::from_secs(60);
    assert_ok(
        &render(&cert, &key, Some(a_minute_ago)),
        "one minute of skew",
    );

    let (cert, key) = openssl_root_with(&rsa, &["basicConstraints=critical,CA:TRUE,pathlen:0"]);
    refused(&render(&cert, &key, None), "pathlen:0");
    let (cert, key) = openssl_root_with(&rsa, &["basicConstraints=critical,CA:TRUE,pathlen:1"]);
    assert_ok(
        &render(&cert, &key, None),
        "pathlen:1 leaves room for the intermediate",
    );

    let (cert, key) = openssl_root_with(&rsa, &[ca, "keyUsage=critical,digitalSignature"]);
    refused(&render(&cert, &key, None), "lacks keyCertSign");

    let (cert, key) = openssl_root_with(&["genrsa", "-traditional", "1024"], &[ca]);
    refused(&render(&cert, &key, None), "a 1024-bit RSA key is outside");

    // A CA certificate signed by another root is no trust anchor.
    let (issuer_cert, issuer_key) = openssl_root_with(&rsa, &[ca, usage]);
    let dir = tempfile::tempdir().unwrap();
    let write = |f: &str, text: &str| std::fs::write(dir.path().join(f), text).unwrap();
    write("issuer.pem", &issuer_cert);
    write("issuer-key.pem", &issuer_key);
    write(
        "ext.cnf",
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n",
    );
    let openssl = |args: &[&str]| {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .stderr(Stdio::null())
            .status()
            .expect("openssl must be installed");
        assert!(status.success(), "openssl {args:?}");
    };
    openssl(&["genrsa", "-traditional", "-out", "key.pem", "2048"]);
    openssl(&[
        "req",
        "-new",
        "-key",
        "key.pem",
        "-subj",
        "/O=Test/CN=Sub CA",
        "-out",
        "sub.csr",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "sub.csr",
        "-CA",
        "issuer.pem",
        "-CAkey",
        "issuer-key.pem",
        "-CAcreateserial",
        "-days",
        "30",
        "-extfile",
        "ext.cnf",
        "-out",
        "cert.pem",
    ]);
    let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
    refused(
        &render(&read("cert.pem"), &read("key.pem"), None),
        "is not self-signed",
    );
}

#[test]
fn seed_configuration_errors_name_the_setting() {
    let check = |spec: &str, needle: &str| {
        let outcome = run(&input(SMALL_KEYS, "", Some(spec)));
        assert_eq!(outcome.exit_code, 1, "{spec}");
        let error = outcome.results.iter().find(|r| r.message.contains(needle));
        assert!(error.is_some(), "{needle}: {:?}", outcome.results);
        // A bad time is about caNotBefore; everything else about caSeed.
        let field = if needle.contains("RFC 3339") || needle.contains("in the future") {
            "spec.caNotBefore"
        } else {
            "spec.caSeed"
        };
        assert_eq!(error.unwrap().field.as_ref().unwrap().path, field);
    };
    check(
        "    caSeed: env:VMESH_TEST_SEED_THAT_IS_NOT_SET\n    caNotBefore: \"2026-11-01T00:00:00Z\"\n",
        "is not set",
    );
    check(
        "    caSeed: file:testdata/certs-generated-seeded/seed.txt\n",
        "caSeed needs caNotBefore",
    );
    check(
        "    caSeed: file:README.md\n    caNotBefore: yesterday\n",
        "not an RFC 3339 time",
    );
    // A 44-character seed pasted into caNotBefore is not quoted back (the 40-character rule).
    let pasted = "c2VlZC1zZWVkLXNlZWQtc2VlZC1zZWVkLXNlZWQtc2Vl";
    let outcome = run(&input(
        SMALL_KEYS,
        "",
        Some(&format!(
            "    caSeed: file:testdata/certs-generated-seeded/seed.txt\n    caNotBefore: {pasted}\n"
        )),
    ));
    let texts = format!("{:?}", outcome.results);
    assert!(
        texts.contains("caNotBefore (a long value, not shown)"),
        "{texts}"
    );
    assert!(!texts.contains(pasted), "{texts}");
    // Certificates that start after now are "not yet valid" in istiod and every workload.
    check(
        "    caSeed: file:testdata/certs-generated-seeded/seed.txt\n    caNotBefore: \"2099-01-01T00:00:00Z\"\n",
        "is in the future",
    );
    check(
        "    caSeed: plain-text-seed\n    caNotBefore: \"2026-11-01T00:00:00Z\"\n",
        "must be env:NAME or file:PATH",
    );
    let short = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(short.path(), "too short").unwrap();
    check(
        &format!(
            "    caSeed: file:{}\n    caNotBefore: \"2026-11-01T00:00:00Z\"\n",
            short.path().display()
        ),
        "needs at least 32",
    );
}

#[test]
fn key_material_never_appears_in_results_or_stderr() {
    // A recognisable "key" that cannot be parsed, and a certificate that is not a CA.
    let marker = "VMESHSECRETMARKER";
    let bogus_key = format!(
        "-----BEGIN RSA PRIVATE KEY-----\n{marker}{marker}\n-----END RSA PRIVATE KEY-----\n"
    );
    let (cert, _) = openssl_root(&["genrsa", "-traditional", "2048"], true);
    let extra = secret_item(
        "root-ca",
        &[("root-cert.pem", &cert), ("key.pem", &bogus_key)],
    );
    let text = input(USER_ROOT, &extra, None);
    let output = common::run_with_stdin(
        &mut Command::new(env!("CARGO_BIN_EXE_vmesh")),
        text.as_bytes(),
    );
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let results = &stdout[stdout.find("\nresults:").expect("results are written")..];
    let encoded_marker = base64::engine::general_purpose::STANDARD.encode(&bogus_key);
    for haystack in [results, &String::from_utf8_lossy(&output.stderr)] {
        assert!(!haystack.contains(marker), "key text leaked: {haystack}");
        assert!(
            !haystack.contains(&encoded_marker[..40]),
            "encoded key leaked"
        );
        assert!(!haystack.contains("BEGIN RSA PRIVATE KEY"), "PEM leaked");
    }
    assert!(results.contains("cannot be decoded"));
}

#[test]
fn auto_restart_stamps_opted_in_workloads_with_the_bundle_fingerprint() {
    let mtls = format!("{SMALL_KEYS}      autoRestartPods: true\n");
    let workload = "- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: reviews-v1
    namespace: bookinfo
    annotations:
      vmesh.dev/cluster: cluster-1
      vmesh.dev/restart-on-ca-change: 'true'
  spec:
    template:
      metadata:
        labels: {app: reviews}
      spec:
        containers: [{name: reviews, image: reviews:v1}]
";
    let first = run(&input(&mtls, workload, None));
    assert_ok(&first, "stamp");
    let (items, _) = common::parse(&first.stdout);
    let deployment = items.iter().find(|i| i["kind"] == "Deployment").unwrap();
    let stamp =
        &deployment["spec"]["template"]["metadata"]["annotations"]["vmesh.dev/ca-fingerprint"];
    let fingerprint =
        &cacerts(&first.stdout)["cluster-1"]["metadata"]["annotations"]["vmesh.dev/ca-fingerprint"];
    assert_eq!(stamp, fingerprint);
    assert!(stamp.as_str().unwrap().starts_with("sha256:"));
    let again = run(&first.stdout);
    assert_eq!(
        first.stdout.split("\nresults:").next(),
        again.stdout.split("\nresults:").next(),
        "a current stamp is not rewritten"
    );

    // Without autoRestartPods nothing is stamped.
    let plain = run(&input(SMALL_KEYS, workload, None));
    let (items, _) = common::parse(&plain.stdout);
    let deployment = items.iter().find(|i| i["kind"] == "Deployment").unwrap();
    assert!(
        deployment["spec"]["template"]["metadata"]
            .get("annotations")
            .is_none()
    );
}

#[test]
fn a_root_change_without_usable_signing_material_is_refused_unless_told() {
    // Issued 800 days ago: the 730-day intermediates have expired, the root has not.
    let past = SystemTime::now() - Duration::from_secs(800 * DAY);
    let old = run_at(
        &input(SMALL_KEYS, "", None),
        Some(past),
        OutputStyle::ResourceList,
    );
    assert_eq!(old.exit_code, 0);
    let new_root = old
        .stdout
        .replace("          ttlDays: 3650\n", "          ttlDays: 3000\n");
    let refused = run(&new_root);
    assert_eq!(refused.exit_code, 1);
    assert!(
        refused
            .results
            .iter()
            .any(|r| r.message.contains("cannot carry the transition")),
        "{:?}",
        refused.results
    );
    let told = new_root.replace(
        "      shared:\n",
        "      rotationStrategy: NONE\n      shared:\n",
    );
    assert_ne!(told, new_root);
    let replaced = run(&told);
    assert_ok(&replaced, "rotationStrategy NONE");
    for secret in cacerts(&replaced.stdout).values() {
        assert_eq!(root_count(secret), 1);
    }
}
