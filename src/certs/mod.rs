//! Shared trust (`mtlsConfig.shared`): the VirtualMesh root CA and each Istio mesh's
//! `cacerts` plug-in CA (decisions D7, istio.md §A).
//!
//! Certificates are the one output vmesh reuses instead of regenerating:
//! 1. a valid root and `cacerts` in the input (vmesh's own earlier output, fed back by kpt)
//!    are kept byte for byte unless their options changed or rotation is due;
//! 2. otherwise, with a `caSeed`, keys, serials and validity are derived from the seed, so
//!    stateless hosts render byte-identical certificates;
//! 3. otherwise keys are fresh, with a warning that every such render rotates the CA.
//!
//! A root change never breaks trust: from the previous `cacerts` vmesh renders Istio's
//! three-step transition (both roots trusted → intermediate re-signed → old root dropped),
//! one step per render.

pub mod derive;
pub mod keys;
pub mod x509;

use crate::index::Inputs;
use crate::krm::Item;
use crate::model::Resource;
use crate::model::common::ObjectRef;
use crate::model::networking::{CommonCertOptions, MtlsConfig, RotationStrategy, VirtualMeshSpec};
use crate::plan::report::{Message, Report};
use crate::plan::{MeshPlan, Plan};
use base64::Engine as _;
use derive::KeySource;
use keys::{PrivateKey, certificate_pem, pem_certificates};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};
use x509::{CertInfo, CertSpec};

/// Name of the Secret istiod reads its plug-in CA from.
pub const CACERTS: &str = "cacerts";
/// Type of Gloo Mesh's generated root CA Secret.
pub const ROOT_SECRET_TYPE: &str = "certificates.mesh.gloo.solo.io/generated_signing_cert";
/// Annotation with the options a certificate was issued with (reissue when they change).
pub const OPTIONS_ANNOTATION: &str = "vmesh.dev/certificate-options";
/// Annotation with the SHA-256 of the trust bundle (`root-cert.pem`).
pub const FINGERPRINT_ANNOTATION: &str = "vmesh.dev/ca-fingerprint";
/// Annotation with the root rotation step of a `cacerts` Secret.
pub const ROTATION_ANNOTATION: &str = "vmesh.dev/root-rotation";

const DEFAULT_TTL_DAYS: u32 = 365;
const DEFAULT_RSA_BITS: u32 = 4096;
/// The smallest and largest RSA keys vmesh generates (`rsaKeySizeBytes`, in bits).
const MIN_RSA_BITS: u32 = 2048;
const MAX_RSA_BITS: u32 = 8192;
const DEFAULT_ROOT_ORG: &str = "gloo-mesh";
const DEFAULT_INTERMEDIATE_ORG: &str = "Istio";
const DEFAULT_GRACE_RATIO: f64 = 0.1;
const DEFAULT_ISTIOD_SERVICE_ACCOUNT: &str = "istio-citadel";
const DEFAULT_TRUST_DOMAIN: &str = "cluster.local";
/// Fresh certificates start a minute in the past, for clocks that lag.
const CLOCK_SKEW: Duration = Duration::from_secs(60);
/// How far in the future a user's root CA (or a seeded `caNotBefore`) may start and still be
/// accepted: clocks of the rendering machine, istiod and the workloads differ by seconds, not
/// minutes (NTP), so five minutes covers skew without hiding a wrong date. istiod and
/// workloads refuse a certificate before its notBefore ("not yet valid").
pub const FUTURE_ALLOWANCE: Duration = Duration::from_secs(300);

/// What the host provides: the time and, when configured, the seed.
#[derive(Clone)]
pub struct CertEnv {
    pub now: SystemTime,
    pub seed: Option<Vec<u8>>,
    pub not_before: Option<SystemTime>,
}

/// Options of one certificate, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub ttl_days: u32,
    pub rsa_bits: u32,
    pub org: String,
    pub grace_ratio: f64,
}

impl Options {
    fn from(options: Option<&CommonCertOptions>, default_org: &str) -> Options {
        let o = options.cloned().unwrap_or_default();
        Options {
            ttl_days: if o.ttl_days == 0 {
                DEFAULT_TTL_DAYS
            } else {
                o.ttl_days
            },
            rsa_bits: if o.rsa_key_size_bytes == 0 {
                DEFAULT_RSA_BITS
            } else {
                o.rsa_key_size_bytes
            },
            org: if o.org_name.is_empty() {
                default_org.to_string()
            } else {
                o.org_name
            },
            grace_ratio: if o.secret_rotation_grace_period_ratio <= 0.0 {
                DEFAULT_GRACE_RATIO
            } else {
                o.secret_rotation_grace_period_ratio
            },
        }
    }

    /// The annotation value; a change means the certificate must be reissued.
    fn annotation(&self) -> String {
        format!(
            "ttlDays={};rsaKeySizeBits={};orgName={}",
            self.ttl_days, self.rsa_bits, self.org
        )
    }

    fn lifetime(&self) -> Duration {
        Duration::from_secs(u64::from(self.ttl_days) * 86_400)
    }
}

/// A root CA: its certificate and key.
pub struct RootCa {
    pub info: CertInfo,
    pub key: PrivateKey,
}

impl RootCa {
    pub fn pem(&self) -> String {
        certificate_pem(&self.info.der)
    }
}

/// A generated root to write as a management item (`local-config`, never in a cluster).
pub struct RootSecret {
    pub virtual_mesh: ObjectRef,
    pub name: String,
    pub namespace: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub options: String,
}

/// Prints which root it is, never the key.
impl std::fmt::Debug for RootSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RootSecret({}/{})", self.namespace, self.name)
    }
}

/// One mesh's `cacerts`.
pub struct CaCerts {
    pub mesh: ObjectRef,
    pub virtual_mesh: ObjectRef,
    pub cluster: String,
    pub namespace: String,
    pub ca_cert: String,
    pub ca_key: String,
    pub root_cert: String,
    pub cert_chain: String,
    pub fingerprint: String,
    pub options: String,
    pub rotation: &'static str,
}

/// Prints which mesh it is for, never the key.
impl std::fmt::Debug for CaCerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CaCerts({} in {}/{})",
            self.mesh.key(),
            self.cluster,
            self.namespace
        )
    }
}

impl CaCerts {
    /// The Secret's `data`, base64-encoded, in key order.
    pub fn data(&self) -> BTreeMap<&'static str, String> {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
        BTreeMap::from([
            ("ca-cert.pem", b64(&self.ca_cert)),
            ("ca-key.pem", b64(&self.ca_key)),
            ("cert-chain.pem", b64(&self.cert_chain)),
            ("root-cert.pem", b64(&self.root_cert)),
        ])
    }
}

/// The certificates of a run.
#[derive(Default)]
pub struct Certificates {
    pub roots: Vec<RootSecret>,
    pub cacerts: Vec<CaCerts>,
}

/// Resolves roots and issues (or reuses) every governed Istio mesh's `cacerts`. Problems go
/// to `report`; nothing is returned for a VirtualMesh with errors.
pub fn issue(
    inputs: &Inputs,
    items: &[Item],
    plan: &Plan,
    env: &CertEnv,
    report: &mut Report,
) -> Certificates {
    let previous = Previous::index(inputs, items);
    let mut certificates = Certificates::default();
    for (vm_ref, vm) in &inputs.virtual_meshes {
        let Some(mtls) = &vm.spec.mtls_config else {
            continue;
        };
        if !trust_model_ok(vm, mtls, report) {
            continue;
        }
        let meshes: Vec<&MeshPlan> = plan
            .meshes
            .values()
            .filter(|m| &m.virtual_mesh == vm_ref)
            .filter(|m| plan.config.cluster.as_ref().is_none_or(|c| c == &m.cluster))
            .collect();
        let shared = mtls.shared.as_ref().expect("checked by trust_model_ok");
        let Some((root, generated)) = root(vm, shared, inputs, items, &previous, env, report)
        else {
            continue;
        };
        if let Some(secret) = generated
            && plan.config.cluster.is_none()
        {
            certificates.roots.push(secret);
        }
        let options = Options::from(
            shared.intermediate_cert_options.as_ref(),
            DEFAULT_INTERMEDIATE_ORG,
        );
        // One cacerts per Istio installation namespace: istiod revisions side by side in
        // one namespace (a canary upgrade) read the same Secret.
        let mut groups: Vec<Vec<&MeshPlan>> = Vec::new();
        for mesh in meshes {
            match groups
                .iter_mut()
                .find(|g| g[0].cluster == mesh.cluster && g[0].namespace == mesh.namespace)
            {
                Some(group) => group.push(mesh),
                None => groups.push(vec![mesh]),
            }
        }
        let jobs: Vec<MeshJob> = groups
            .iter()
            .map(|group| {
                MeshJob::plan(
                    vm,
                    group,
                    &root,
                    &options,
                    mtls.rotation_strategy,
                    &previous,
                    env,
                    report,
                )
            })
            .collect();
        let issued = crate::parallel::in_parallel(&jobs, |job| job.issue(&root, &options, env));
        for (job, result) in jobs.iter().zip(issued) {
            match result {
                Ok(cacerts) => {
                    let info = pem_certificates(&cacerts.ca_cert)
                        .ok()
                        .and_then(|ders| CertInfo::parse(&ders[0]).ok());
                    if let Some(message) = info.and_then(|i| expiry_problem(&i, &options, env)) {
                        report.warning(
                            vm.item,
                            "spec.mtlsConfig.shared.intermediateCertOptions",
                            format!("mesh {} intermediate: {message}", job.mesh.mesh.key()),
                        );
                    }
                    certificates.cacerts.push(cacerts);
                }

                Err(message) => report.error(
                    vm.item,
                    "spec.mtlsConfig",
                    format!("mesh {}: {message}", job.mesh.mesh.key()),
                ),
            }
        }
        if env.seed.is_none() && jobs.iter().any(|j| j.fresh_random) {
            report.warning(
                vm.item,
                "spec.mtlsConfig",
                "certificates were issued with fresh random keys: a render that neither gets its previous output back (kpt) nor has a caSeed rotates the CA every time (see docs/certificates.md)",
            );
        }
    }
    certificates
}

/// Opt-in annotation of a Deployment, StatefulSet or DaemonSet in the package: restart it
/// when the trust bundle of its cluster changes.
pub const RESTART_ANNOTATION: &str = "vmesh.dev/restart-on-ca-change";

/// `autoRestartPods`: without a controller nothing restarts pods, so vmesh writes the trust
/// bundle's fingerprint into the pod template of every opted-in workload of the cluster; a
/// new root changes the template and the GitOps sync rolls the pods. Items whose stamp is
/// already current are left untouched (copied verbatim).
pub fn stamp_workloads(
    items: &mut [Item],
    inputs: &Inputs,
    certificates: &Certificates,
    report_items: &mut Vec<(usize, String)>,
) {
    let auto_restart: Vec<&ObjectRef> = inputs
        .virtual_meshes
        .iter()
        .filter(|(_, vm)| {
            vm.spec
                .mtls_config
                .as_ref()
                .is_some_and(|m| m.auto_restart_pods)
        })
        .map(|(r, _)| r)
        .collect();
    let fingerprints: BTreeMap<&str, &str> = certificates
        .cacerts
        .iter()
        .filter(|c| auto_restart.contains(&&c.virtual_mesh))
        .map(|c| (c.cluster.as_str(), c.fingerprint.as_str()))
        .collect();
    for (index, item) in items.iter_mut().enumerate() {
        let workload = item.api_version() == "apps/v1"
            && matches!(item.kind(), "Deployment" | "StatefulSet" | "DaemonSet");
        if !workload || item.annotation(RESTART_ANNOTATION) != Some("true") {
            continue;
        }
        let cluster = item
            .annotation(crate::render::outputs::CLUSTER_ANNOTATION)
            .unwrap_or("");
        let Some(fingerprint) = fingerprints.get(cluster).copied() else {
            report_items.push((
                index,
                format!("opted in to restarts on CA changes, but no VirtualMesh with autoRestartPods issues cacerts for cluster {cluster:?} (set the vmesh.dev/cluster annotation)"),
            ));
            continue;
        };
        let current = item
            .value
            .pointer("/spec/template/metadata/annotations/vmesh.dev~1ca-fingerprint")
            .and_then(|v| v.as_str());
        if current == Some(fingerprint) {
            continue;
        }
        let fingerprint = fingerprint.to_string();
        let Some(template) = item
            .value_mut()
            .pointer_mut("/spec/template")
            .and_then(|t| t.as_object_mut())
        else {
            continue;
        };
        let metadata = template
            .entry("metadata")
            .or_insert_with(|| serde_json::json!({}));
        if let Some(metadata) = metadata.as_object_mut() {
            let annotations = metadata
                .entry("annotations")
                .or_insert_with(|| serde_json::json!({}));
            if let Some(annotations) = annotations.as_object_mut() {
                annotations.insert(
                    FINGERPRINT_ANNOTATION.to_string(),
                    serde_json::Value::String(fingerprint),
                );
            }
        }
    }
}

fn trust_model_ok(vm: &Resource<VirtualMeshSpec>, mtls: &MtlsConfig, report: &mut Report) -> bool {
    if mtls.limited.is_some() {
        report.error(
            vm.item,
            "spec.mtlsConfig.limited",
            Message::new(
                "limited trust (each mesh keeps its own root) is not supported: vmesh gives the VirtualMesh's meshes one shared root of trust; use mtlsConfig.shared instead",
                format!(
                    "limited trust not supported in version {} of Gloo Mesh",
                    env!("CARGO_PKG_VERSION")
                ),
            ),
        );
        return false;
    }
    let Some(shared) = &mtls.shared else {
        report.error(
            vm.item,
            "spec.mtlsConfig",
            Message::new(
                "mtlsConfig names no trust model, so vmesh cannot issue the meshes' cacerts: set mtlsConfig.shared (with rootCertificateAuthority.generated or .secret)",
                "must specify trust model to use for issuing certificates",
            ),
        );
        return false;
    };
    let options = [
        (
            "spec.mtlsConfig.shared.rootCertificateAuthority.generated.rsaKeySizeBytes",
            shared
                .root_certificate_authority
                .as_ref()
                .and_then(|r| r.generated.as_ref()),
        ),
        (
            "spec.mtlsConfig.shared.intermediateCertOptions.rsaKeySizeBytes",
            shared.intermediate_cert_options.as_ref(),
        ),
    ];
    let mut sizes_ok = true;
    for (field, options) in options {
        let bits = options.map_or(0, |o| o.rsa_key_size_bytes);
        // 0 is the default (4096). Generating a key takes time that grows with the cube of
        // its size: 16384 bits already takes minutes.
        if bits != 0 && !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
            report.error(
                vm.item,
                field,
                format!(
                    "{bits} is not a key size vmesh generates: rsaKeySizeBytes is a size in bits (as Gloo Mesh reads it) from {MIN_RSA_BITS} to {MAX_RSA_BITS}; the default is {DEFAULT_RSA_BITS}"
                ),
            );
            sizes_ok = false;
        }
    }
    if !sizes_ok {
        return false;
    }
    if shared.intermediate_certificate_authority.is_some() {
        report.error(
            vm.item,
            "spec.mtlsConfig.shared.intermediateCertificateAuthority",
            "intermediateCertificateAuthority (Vault) is not supported: vmesh issues certificates offline and cannot request them from Vault; use rootCertificateAuthority",
        );
        return false;
    }
    true
}

/// Earlier `cacerts` and generated roots found in the input (vmesh's own outputs).
struct Previous<'a> {
    /// (cluster, namespace) → the `cacerts` item.
    cacerts: BTreeMap<(String, String), &'a Item>,
    /// (namespace, name) → generated root Secret item.
    roots: BTreeMap<(String, String), &'a Item>,
}

impl<'a> Previous<'a> {
    fn index(inputs: &Inputs, items: &'a [Item]) -> Previous<'a> {
        let mut previous = Previous {
            cacerts: BTreeMap::new(),
            roots: BTreeMap::new(),
        };
        for &i in &inputs.owned {
            let item = &items[i];
            if item.api_version() != "v1" || item.kind() != "Secret" {
                continue;
            }
            if item.name() == CACERTS {
                let cluster = item
                    .annotation(crate::render::outputs::CLUSTER_ANNOTATION)
                    .unwrap_or("");
                previous
                    .cacerts
                    .insert((cluster.to_string(), item.namespace().to_string()), item);
            } else if item.value.get("type").and_then(|t| t.as_str()) == Some(ROOT_SECRET_TYPE) {
                previous.roots.insert(
                    (item.namespace().to_string(), item.name().to_string()),
                    item,
                );
            }
        }
        previous
    }
}

/// Checks, without issuing anything or generating a key, what [`issue`] would refuse before
/// it starts: the trust model and a user's root CA Secret. A run that fails earlier (an
/// invalid plan, an unreadable seed) calls this so that these problems are reported with the
/// others, not one failed run later.
pub fn check(inputs: &Inputs, items: &[Item], now: SystemTime, report: &mut Report) {
    let env = CertEnv {
        now,
        seed: None,
        not_before: None,
    };
    for vm in inputs.virtual_meshes.values() {
        let Some(mtls) = &vm.spec.mtls_config else {
            continue;
        };
        if !trust_model_ok(vm, mtls, report) {
            continue;
        }
        let secret_ref = mtls
            .shared
            .as_ref()
            .and_then(|s| s.root_certificate_authority.as_ref())
            .and_then(|r| r.secret.as_ref());
        if let Some(secret_ref) = secret_ref {
            user_root(vm, secret_ref, inputs, items, &env, report);
        }
    }
}

/// Decodes `data[key]` of a Secret to text.
fn secret_text(data: &serde_json::Value, key: &str) -> Result<String, String> {
    let encoded = data
        .get(key)
        .and_then(|v| v.as_str())
        .ok_or_else(|| format!("has no data key {key:?}"))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| format!("data key {key:?} is not valid base64"))?;
    String::from_utf8(bytes).map_err(|_| format!("data key {key:?} is not PEM text"))
}

/// The VirtualMesh's root CA: a user Secret, a reusable earlier generated root, or a new
/// one (seeded or random). Returns the root and, when generated, the Secret to write.
fn root(
    vm: &Resource<VirtualMeshSpec>,
    shared: &crate::model::networking::SharedTrust,
    inputs: &Inputs,
    items: &[Item],
    previous: &Previous,
    env: &CertEnv,
    report: &mut Report,
) -> Option<(RootCa, Option<RootSecret>)> {
    let source = shared.root_certificate_authority.as_ref();
    if let Some(secret_ref) = source.and_then(|s| s.secret.as_ref()) {
        return user_root(vm, secret_ref, inputs, items, env, report).map(|root| (root, None));
    }
    let options = Options::from(source.and_then(|s| s.generated.as_ref()), DEFAULT_ROOT_ORG);
    let name = format!("{}.{}", vm.name(), vm.namespace());
    let namespace = vm.namespace().to_string();
    let kept = previous
        .roots
        .get(&(namespace.clone(), name.clone()))
        .and_then(|item| reusable_root(item, &options, env).ok());
    let root = match kept {
        Some(root) => root,
        None => {
            let field = "spec.mtlsConfig.shared.rootCertificateAuthority";
            let source = match &env.seed {
                Some(seed) => KeySource::seeded(
                    seed,
                    &format!(
                        "root|{}|{}|{}|{}",
                        vm.namespace(),
                        vm.name(),
                        options.annotation(),
                        validity_epoch(env)
                    ),
                ),
                None => KeySource::random(),
            };
            match new_root(&options, source, env) {
                Ok(root) => root,
                Err(message) => {
                    report.error(vm.item, field, message);
                    return None;
                }
            }
        }
    };
    if let Some(message) = expiry_problem(&root.info, &options, env) {
        report.warning(
            vm.item,
            "spec.mtlsConfig.shared.rootCertificateAuthority",
            format!("root CA: {message}"),
        );
    }
    let secret = RootSecret {
        virtual_mesh: vm.object_ref(),
        name,
        namespace,
        cert_pem: root.pem(),
        key_pem: root.key.to_pem(),
        options: options.annotation(),
    };
    Some((root, Some(secret)))
}

fn reusable_root(item: &Item, options: &Options, env: &CertEnv) -> Result<RootCa, String> {
    if item.annotation(OPTIONS_ANNOTATION) != Some(options.annotation().as_str()) {
        return Err("options changed".into());
    }
    let data = item.value.get("data").ok_or("no data")?;
    let cert = pem_certificates(&secret_text(data, "root-cert.pem")?)?;
    let key = PrivateKey::from_pem(&secret_text(data, "key.pem")?)?;
    let info = CertInfo::parse(&cert[0])?;
    if info.public_key != key.public_key_der()
        || !info.is_ca
        || info.remaining_fraction(env.now) <= options.grace_ratio
    {
        return Err("not reusable".into());
    }
    Ok(RootCa { info, key })
}

fn new_root(options: &Options, mut source: KeySource, env: &CertEnv) -> Result<RootCa, String> {
    let key = PrivateKey::generate_rsa(&mut source.rng(), options.rsa_bits as usize)?;
    let not_before = validity_start(env);
    let spec = CertSpec {
        organization: options.org.clone(),
        uri_sans: Vec::new(),
        not_before,
        not_after: not_before + options.lifetime(),
        serial: source.serial(),
    };
    let der = x509::self_signed_root(&spec, &key)?;
    Ok(RootCa {
        info: CertInfo::parse(&der)?,
        key,
    })
}

fn validity_start(env: &CertEnv) -> SystemTime {
    match (&env.seed, env.not_before) {
        (Some(_), Some(at)) => at,
        _ => {
            let at = env.now - CLOCK_SKEW;
            let secs = at
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
        }
    }
}

/// The seeded validity start in Unix seconds: part of every derivation, so advancing
/// `caNotBefore` gives new keys, not only new dates.
fn validity_epoch(env: &CertEnv) -> u64 {
    validity_start(env)
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn expiry_problem(info: &CertInfo, options: &Options, env: &CertEnv) -> Option<String> {
    let left = info.remaining_fraction(env.now);
    if left <= 0.0 {
        Some(
            "the certificate has expired; advance caNotBefore (seeded) or remove it to reissue"
                .into(),
        )
    } else if left <= options.grace_ratio && env.seed.is_some() {
        Some(format!(
            "rotation is due ({:.0}% of the lifetime left); advance caNotBefore to rotate",
            left * 100.0
        ))
    } else {
        None
    }
}

/// The user's root CA Secret (`rootCertificateAuthority.secret`).
fn user_root(
    vm: &Resource<VirtualMeshSpec>,
    secret_ref: &ObjectRef,
    inputs: &Inputs,
    items: &[Item],
    env: &CertEnv,
    report: &mut Report,
) -> Option<RootCa> {
    let field = "spec.mtlsConfig.shared.rootCertificateAuthority.secret";
    if secret_ref.name.is_empty() || secret_ref.namespace.is_empty() {
        report.error(
            vm.item,
            field,
            "the root CA Secret reference needs a name and a namespace",
        );
        return None;
    }
    if secret_ref.name == CACERTS {
        report.error(vm.item, field, "the root CA Secret cannot be a cacerts Secret: that is the per-cluster plug-in CA vmesh writes");
        return None;
    }
    let Some(&index) = inputs.secrets.get(secret_ref) else {
        report.error(
            vm.item,
            field,
            {
                let secrets: Vec<String> = inputs.secrets.keys().map(ToString::to_string).collect();
                match crate::plan::messages::closest(
                    &secret_ref.to_string(),
                    secrets.iter().map(String::as_str),
                ) {
                    Some(near) => format!(
                        "root CA Secret {secret_ref} is not in the input; did you mean {near}?"
                    ),
                    None => format!(
                        "root CA Secret {secret_ref} is not in the input: add it (marked config.kubernetes.io/local-config: \"true\", so it never reaches a cluster), or use rootCertificateAuthority.generated"
                    ),
                }
            },
        );
        return None;
    };
    let item = &items[index];
    match read_user_root(item, env) {
        Ok(root) => Some(root),
        Err(message) => {
            // One error, on the Secret (the thing to fix), naming the VirtualMesh that uses
            // it: not a second one on the VirtualMesh for the same cause.
            report.error(
                index,
                "data",
                format!(
                    "root CA Secret {secret_ref} (the root CA of VirtualMesh {}) {message}",
                    vm.object_ref()
                ),
            );
            None
        }
    }
}

fn read_user_root(item: &Item, env: &CertEnv) -> Result<RootCa, String> {
    let text = |key: &str| -> Result<String, String> {
        if let Some(s) = item
            .value
            .pointer(&format!("/stringData/{key}"))
            .and_then(|v| v.as_str())
        {
            return Ok(s.to_string());
        }
        let data = item
            .value
            .get("data")
            .ok_or_else(|| format!("has no data key {key:?}"))?;
        secret_text(data, key)
    };
    let certificates = pem_certificates(&text("root-cert.pem")?)
        .map_err(|e| format!("data key \"root-cert.pem\": {e}"))?;
    let key = PrivateKey::from_pem(&text("key.pem")?)
        .map_err(|e| format!("data key \"key.pem\": {e}"))?;
    let info = CertInfo::parse(&certificates[0])
        .map_err(|e| format!("data key \"root-cert.pem\": {e}"))?;
    if !info.is_ca {
        return Err("data key \"root-cert.pem\": the certificate is not a CA (basicConstraints CA:TRUE is missing)".into());
    }
    if info.public_key != key.public_key_der() {
        return Err(
            "data key \"key.pem\" does not match the certificate in \"root-cert.pem\"".into(),
        );
    }
    root_problem(&info, &key, env.now)?;
    Ok(RootCa { info, key })
}

/// A user-provided root as istiod and the workloads will use it: the trust anchor of every
/// chain (self-signed), allowed to sign the intermediate vmesh issues and, through it, the
/// workload certificates (no pathLenConstraint 0; keyCertSign when keyUsage is present — Go's
/// `CheckSignatureFrom` and OpenSSL refuse otherwise), valid now (not before its notBefore,
/// with `FUTURE_ALLOWANCE` for clock skew; not expired), and a key of a size vmesh signs with
/// (RSA 2048-8192 bits; EC keys are P-256 or P-384, the only curves read).
fn root_problem(info: &CertInfo, key: &PrivateKey, now: SystemTime) -> Result<(), String> {
    let cert = "data key \"root-cert.pem\"";
    if let Some(bits) = key.rsa_bits()
        && !(MIN_RSA_BITS as usize..=MAX_RSA_BITS as usize).contains(&bits)
    {
        return Err(format!(
            "data key \"key.pem\": a {bits}-bit RSA key is outside the {MIN_RSA_BITS}-{MAX_RSA_BITS} bits vmesh accepts (shorter keys are refused by current TLS stacks, longer ones make every signature slow); use a root with a key in that range, or an EC P-256/P-384 key"
        ));
    }
    if !info.signed_by(info) {
        return Err(format!(
            "{cert}: the certificate is not self-signed (or is signed with an algorithm vmesh cannot check): root-cert.pem is every workload's trust anchor, so it must be the root itself. Put the top certificate of the chain and its key in the Secret"
        ));
    }
    if info.path_len == Some(0) {
        return Err(format!(
            "{cert}: basicConstraints pathlen:0 forbids any CA below the root, but vmesh signs each mesh's intermediate with it (istiod would load cacerts, then every workload chain fails \"too many intermediates for path length constraint\"). Reissue the root without pathlen, or with pathlen of at least 1"
        ));
    }
    if info.key_cert_sign == Some(false) {
        return Err(format!(
            "{cert}: keyUsage lacks keyCertSign, so the root may not sign certificates (Go's CheckSignatureFrom refuses it as a parent, and istiod cannot load cacerts). Reissue the root with keyUsage keyCertSign (and cRLSign)"
        ));
    }
    if info.not_before > now + FUTURE_ALLOWANCE {
        return Err(format!(
            "{cert}: the certificate is not valid before {} (more than {} minutes after this render's clock, {}): istiod and workloads would refuse it as not yet valid. Use a root whose notBefore has passed, or check the clock",
            rfc3339(info.not_before),
            FUTURE_ALLOWANCE.as_secs() / 60,
            rfc3339(now)
        ));
    }
    if info.remaining_fraction(now) <= 0.0 {
        return Err(format!("{cert}: the certificate has expired"));
    }
    Ok(())
}

/// A time as RFC 3339 in UTC, to the second.
pub fn rfc3339(at: SystemTime) -> String {
    jiff::Timestamp::try_from(at)
        .map(|t| t.round(jiff::Unit::Second).unwrap_or(t).to_string())
        .unwrap_or_else(|_| "(a time out of range)".into())
}

/// istiod's SPIFFE identity in a mesh, which its intermediate CA carries.
fn istiod_san(mesh: &MeshPlan) -> String {
    let trust_domain = if mesh.trust_domain.is_empty() {
        DEFAULT_TRUST_DOMAIN
    } else {
        &mesh.trust_domain
    };
    let service_account = if mesh.istiod_service_account.is_empty() {
        DEFAULT_ISTIOD_SERVICE_ACCOUNT
    } else {
        &mesh.istiod_service_account
    };
    format!(
        "spiffe://{trust_domain}/ns/{}/sa/{service_account}",
        mesh.namespace
    )
}

/// What to do for one mesh: the identity its intermediate must carry and its previous state.
struct MeshJob<'a> {
    /// The first (key order) of the meshes installed in one namespace of one cluster: every
    /// istiod revision there reads the same `cacerts`.
    mesh: &'a MeshPlan,
    virtual_mesh: ObjectRef,
    /// istiod's identity in each of those meshes, sorted: all go into the intermediate.
    sans: Vec<String>,
    step: Step,
    fresh_random: bool,
    seed_info: String,
}

/// The root rotation step (or steady state) to render for a mesh.
enum Step {
    /// Issue a new intermediate under the current root; bundle = current root only.
    Fresh,
    /// Keep the previous `cacerts` byte for byte.
    Keep(Box<PreviousCaCerts>),
    /// Step 1: previous signing material, bundle = previous roots + new root.
    Distribute(Box<PreviousCaCerts>),
    /// Step 2: new intermediate under the new root, bundle still old + new.
    Sign(Box<PreviousCaCerts>),
    /// Step 3: bundle = new root only; the intermediate (already under it) is kept.
    Cleanup(Box<PreviousCaCerts>),
    /// A root change that no step can carry: an error unless rotationStrategy is NONE.
    Refuse(String),
}

struct PreviousCaCerts {
    ca_cert: String,
    ca_key: String,
    cert_chain: String,
    roots: Vec<Vec<u8>>,
    intermediate: CertInfo,
    key_matches: bool,
    /// The options it was issued with (its annotation).
    options: String,
}

impl PreviousCaCerts {
    fn read(item: &Item) -> Result<PreviousCaCerts, String> {
        let data = item.value.get("data").ok_or("no data")?;
        let ca_cert = secret_text(data, "ca-cert.pem")?;
        let ca_key = secret_text(data, "ca-key.pem")?;
        let cert_chain = secret_text(data, "cert-chain.pem")?;
        let roots = pem_certificates(&secret_text(data, "root-cert.pem")?)?;
        let intermediate = CertInfo::parse(&pem_certificates(&ca_cert)?[0])?;
        let key_matches = PrivateKey::from_pem(&ca_key)
            .is_ok_and(|k| k.public_key_der() == intermediate.public_key);
        Ok(PreviousCaCerts {
            ca_cert,
            ca_key,
            cert_chain,
            roots,
            intermediate,
            key_matches,
            options: item
                .annotation(OPTIONS_ANNOTATION)
                .unwrap_or("")
                .to_string(),
        })
    }
}

impl<'a> MeshJob<'a> {
    #[allow(clippy::too_many_arguments)]
    fn plan(
        vm: &Resource<VirtualMeshSpec>,
        meshes: &[&'a MeshPlan],
        root: &RootCa,
        options: &Options,
        strategy: RotationStrategy,
        previous: &Previous,
        env: &CertEnv,
        report: &mut Report,
    ) -> MeshJob<'a> {
        let mesh = meshes[0];
        let mut sans: Vec<String> = meshes.iter().map(|m| istiod_san(m)).collect();
        sans.sort();
        sans.dedup();
        let san = sans.join(",");
        let prior = previous
            .cacerts
            .get(&(mesh.cluster.clone(), mesh.namespace.clone()))
            .and_then(|item| PreviousCaCerts::read(item).ok());

        let step = match prior {
            None => Step::Fresh,
            Some(prior) => Self::step(prior, root, options, &sans, strategy, env),
        };
        let field = "spec.mtlsConfig";
        let what = format!("mesh {} (cluster {})", mesh.mesh.key(), mesh.cluster);
        match &step {
            Step::Distribute(_) => report.info(vm.item, field, format!("{what}: root rotation step 1 of 3: root-cert.pem now trusts the old and the new root, signing is unchanged; apply it everywhere, let workloads pick up the new bundle, then render again")),
            Step::Sign(_) => report.info(vm.item, field, format!("{what}: root rotation step 2 of 3: the intermediate is re-signed by the new root, both roots stay trusted; apply it, wait for workload certificates to renew, then render again")),
            Step::Cleanup(_) => report.info(vm.item, field, format!("{what}: root rotation step 3 of 3: the old root is dropped from root-cert.pem")),
            Step::Fresh | Step::Keep(_) | Step::Refuse(_) => {}
        }
        let fresh_random = matches!(step, Step::Fresh | Step::Sign(_)) && env.seed.is_none();
        let seed_info = format!(
            "intermediate|{}|{}|{}|{}|{}|{}|{}",
            mesh.mesh.namespace,
            mesh.mesh.name,
            mesh.cluster,
            root.info.fingerprint(),
            san,
            options.annotation(),
            validity_epoch(env)
        );
        MeshJob {
            mesh,
            virtual_mesh: vm.object_ref(),
            sans,
            step,
            fresh_random,
            seed_info,
        }
    }

    /// Decides the step from the previous `cacerts` and the current root.
    fn step(
        prior: PreviousCaCerts,
        root: &RootCa,
        options: &Options,
        sans: &[String],
        strategy: RotationStrategy,
        env: &CertEnv,
    ) -> Step {
        let trusts_current = prior.roots.contains(&root.info.der);
        let signed_by_current = prior.intermediate.signed_by(&root.info);
        let usable = prior.key_matches && prior.intermediate.remaining_fraction(env.now) > 0.0;
        if !trusts_current {
            // The root changed. Told to (rotationStrategy NONE), replace it at once;
            // otherwise distribute the new root first, which needs the previous signing
            // material to keep working meanwhile.
            if strategy == RotationStrategy::None {
                return Step::Fresh;
            }
            if !usable {
                return Step::Refuse(
                    "the root CA changes, but the previous cacerts cannot carry the transition (its intermediate has expired or does not match its key): replacing the root at once would break trust between clusters; set mtlsConfig.rotationStrategy: NONE to do it anyway".into(),
                );
            }
            return Step::Distribute(Box::new(prior));
        }
        if !signed_by_current {
            return Step::Sign(Box::new(prior));
        }
        if prior.roots.len() > 1 {
            return Step::Cleanup(Box::new(prior));
        }
        let reusable = usable
            && prior.intermediate.uri_sans == sans
            && prior.options == options.annotation()
            && prior.intermediate.remaining_fraction(env.now) > options.grace_ratio
            && prior.intermediate.not_after <= root.info.not_after;

        if reusable {
            Step::Keep(Box::new(prior))
        } else {
            Step::Fresh
        }
    }

    /// Issues (or assembles) the mesh's `cacerts`.
    fn issue(&self, root: &RootCa, options: &Options, env: &CertEnv) -> Result<CaCerts, String> {
        let root_pem = root.pem();
        let (ca_cert, ca_key, cert_chain, bundle, rotation) = match &self.step {
            Step::Refuse(message) => return Err(message.clone()),
            Step::Keep(p) => (
                p.ca_cert.clone(),
                p.ca_key.clone(),
                p.cert_chain.clone(),
                vec![root.info.der.clone()],
                "none",
            ),
            Step::Distribute(p) => {
                let mut bundle = p.roots.clone();
                bundle.push(root.info.der.clone());
                (
                    p.ca_cert.clone(),
                    p.ca_key.clone(),
                    p.cert_chain.clone(),
                    bundle,
                    "step-1-of-3-distribute",
                )
            }
            Step::Cleanup(p) => (
                p.ca_cert.clone(),
                p.ca_key.clone(),
                p.cert_chain.clone(),
                vec![root.info.der.clone()],
                "step-3-of-3-cleanup",
            ),
            Step::Fresh | Step::Sign(_) => {
                let (cert, key) = self.new_intermediate(root, options, env)?;
                let chain = format!("{cert}{root_pem}");
                let (bundle, rotation) = match &self.step {
                    Step::Sign(p) => (p.roots.clone(), "step-2-of-3-sign"),
                    _ => (vec![root.info.der.clone()], "none"),
                };
                (cert, key, chain, bundle, rotation)
            }
        };
        if env.seed.is_some() && matches!(self.step, Step::Fresh | Step::Sign(_)) {
            let info = CertInfo::parse(&pem_certificates(&ca_cert)?[0])?;
            if info.remaining_fraction(env.now) <= 0.0 {
                return Err(
                    "the intermediate derived from caSeed has already expired; advance caNotBefore"
                        .into(),
                );
            }
        }
        let root_cert: String = bundle.iter().map(|der| certificate_pem(der)).collect();

        Ok(CaCerts {
            mesh: self.mesh.mesh.clone(),
            virtual_mesh: self.virtual_mesh.clone(),
            cluster: self.mesh.cluster.clone(),
            namespace: self.mesh.namespace.clone(),
            ca_cert,
            ca_key,
            root_cert,
            cert_chain,
            fingerprint: derive::bundle_fingerprint(&bundle),
            options: options.annotation(),
            rotation,
        })
    }

    fn new_intermediate(
        &self,
        root: &RootCa,
        options: &Options,
        env: &CertEnv,
    ) -> Result<(String, String), String> {
        let mut source = match &env.seed {
            Some(seed) => KeySource::seeded(seed, &self.seed_info),
            None => KeySource::random(),
        };
        let key = PrivateKey::generate_rsa(&mut source.rng(), options.rsa_bits as usize)?;
        let not_before = validity_start(env).max(root.info.not_before);
        let spec = CertSpec {
            organization: options.org.clone(),
            uri_sans: self.sans.clone(),
            not_before,
            not_after: (not_before + options.lifetime()).min(root.info.not_after),
            serial: source.serial(),
        };
        let der = x509::intermediate(&spec, &key, &root.info.der, &root.key)?;
        Ok((certificate_pem(&der), key.to_pem()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_gloo_mesh() {
        let root = Options::from(None, DEFAULT_ROOT_ORG);
        assert_eq!(
            (root.ttl_days, root.rsa_bits, root.org.as_str()),
            (365, 4096, "gloo-mesh")
        );
        assert_eq!(root.grace_ratio, 0.1);
        let intermediate = Options::from(
            Some(&CommonCertOptions::default()),
            DEFAULT_INTERMEDIATE_ORG,
        );
        assert_eq!(
            (
                intermediate.ttl_days,
                intermediate.rsa_bits,
                intermediate.org.as_str()
            ),
            (365, 4096, "Istio")
        );
        let given = CommonCertOptions {
            ttl_days: 90,
            rsa_key_size_bytes: 2048,
            org_name: "acme".into(),
            secret_rotation_grace_period_ratio: 0.25,
        };
        let o = Options::from(Some(&given), DEFAULT_ROOT_ORG);
        assert_eq!(
            (o.ttl_days, o.rsa_bits, o.org.as_str(), o.grace_ratio),
            (90, 2048, "acme", 0.25)
        );
        assert_eq!(
            o.annotation(),
            "ttlDays=90;rsaKeySizeBits=2048;orgName=acme"
        );
    }
}
