//! `networking.mesh.gloo.solo.io/v1`: VirtualMesh and AccessPolicy, and `settings.mesh.gloo.solo.io/v1`
//! Settings.

use super::common::{
    DestinationSelector, Empty, IdentitySelector, IngressGatewaySelector, ObjectRef, ProtoEnum,
    TcpKeepalive, null_as_default, proto_enum,
};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VirtualMeshSpec {
    #[serde(default, deserialize_with = "null_as_default")]
    pub meshes: Vec<ObjectRef>,
    #[serde(default)]
    pub mtls_config: Option<MtlsConfig>,
    #[serde(default)]
    pub federation: Option<Federation>,
    #[serde(default, deserialize_with = "proto_enum")]
    pub global_access_policy: GlobalAccessPolicy,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GlobalAccessPolicy {
    #[default]
    MeshDefault,
    Enabled,
    Disabled,
}

impl ProtoEnum for GlobalAccessPolicy {
    const VALUES: &'static [(Self, u64, &'static str)] = &[
        (GlobalAccessPolicy::MeshDefault, 0, "MESH_DEFAULT"),
        (GlobalAccessPolicy::Enabled, 1, "ENABLED"),
        (GlobalAccessPolicy::Disabled, 2, "DISABLED"),
    ];
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MtlsConfig {
    #[serde(default)]
    pub shared: Option<SharedTrust>,
    #[serde(default)]
    pub limited: Option<Empty>,
    #[serde(default)]
    pub auto_restart_pods: bool,
    #[serde(default)]
    pub rotation_verification_method: Option<RotationVerificationMethod>,
    #[serde(default, deserialize_with = "proto_enum")]
    pub rotation_strategy: RotationStrategy,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RotationVerificationMethod {
    #[serde(default)]
    pub none: Option<Empty>,
    #[serde(default)]
    pub manual: Option<Empty>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RotationStrategy {
    #[default]
    MultiRoot,
    None,
}

impl ProtoEnum for RotationStrategy {
    const VALUES: &'static [(Self, u64, &'static str)] = &[
        (RotationStrategy::MultiRoot, 0, "MULTI_ROOT"),
        (RotationStrategy::None, 1, "NONE"),
    ];
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SharedTrust {
    #[serde(default)]
    pub root_certificate_authority: Option<RootCertificateAuthority>,
    #[serde(default)]
    pub intermediate_certificate_authority: Option<IntermediateCertificateAuthority>,
    #[serde(default)]
    pub intermediate_cert_options: Option<CommonCertOptions>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RootCertificateAuthority {
    #[serde(default)]
    pub generated: Option<CommonCertOptions>,
    #[serde(default)]
    pub secret: Option<ObjectRef>,
}

/// `certificates.mesh.gloo.solo.io.CommonCertOptions`. `rsaKeySizeBytes` is a size in bits,
/// as Gloo Mesh uses it despite the name.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CommonCertOptions {
    #[serde(default)]
    pub ttl_days: u32,
    #[serde(default)]
    pub rsa_key_size_bytes: u32,
    #[serde(default)]
    pub org_name: String,
    #[serde(default)]
    pub secret_rotation_grace_period_ratio: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IntermediateCertificateAuthority {
    /// Vault settings are accepted as given (vmesh cannot act on them, see the certificates docs).
    #[serde(default)]
    pub vault: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Federation {
    #[serde(default, deserialize_with = "null_as_default")]
    pub east_west_ingress_gateway_selectors: Vec<IngressGatewaySelector>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub selectors: Vec<FederationSelector>,
    #[serde(default)]
    pub permissive: Option<Empty>,
    #[serde(default)]
    pub flat_network: bool,
    #[serde(default)]
    pub hostname_suffix: String,
    #[serde(default)]
    pub tcp_keepalive: Option<TcpKeepalive>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FederationSelector {
    #[serde(default, deserialize_with = "null_as_default")]
    pub destination_selectors: Vec<DestinationSelector>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub meshes: Vec<ObjectRef>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AccessPolicySpec {
    #[serde(default, deserialize_with = "null_as_default")]
    pub source_selector: Vec<IdentitySelector>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub destination_selector: Vec<DestinationSelector>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub allowed_paths: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub allowed_methods: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub allowed_ports: Vec<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SettingsSpec {
    #[serde(default)]
    pub mtls: Option<SettingsMtls>,
    /// Accepted and ignored: vmesh runs no extension servers.
    #[serde(default)]
    pub networking_extension_servers: Option<Value>,
    /// Accepted and ignored: discovery happens before vmesh.
    #[serde(default)]
    pub discovery: Option<Value>,
    /// Accepted and ignored: vmesh has no relay.
    #[serde(default)]
    pub relay: Option<Value>,
    /// Accepted and ignored.
    #[serde(default)]
    pub dashboard: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SettingsMtls {
    #[serde(default)]
    pub istio: Option<SettingsIstioMtls>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SettingsIstioMtls {
    #[serde(default, deserialize_with = "proto_enum")]
    pub tls_mode: TlsMode,
}

/// DestinationRule TLS mode (`TrafficPolicySpec.Policy.MTLS.Istio.TLSmode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TlsMode {
    #[default]
    Disable,
    Simple,
    IstioMutual,
}

impl ProtoEnum for TlsMode {
    const VALUES: &'static [(Self, u64, &'static str)] = &[
        (TlsMode::Disable, 0, "DISABLE"),
        (TlsMode::Simple, 1, "SIMPLE"),
        (TlsMode::IstioMutual, 2, "ISTIO_MUTUAL"),
    ];
}
