//! vmesh's own configuration: the functionConfig (`vmesh.dev/v1alpha1` `VirtualMeshRenderer`,
//! or a ConfigMap with the same keys under `data`), decisions D3.

use super::common::{ProtoEnum, proto_enum};
use super::networking::TlsMode;
use serde::{Deserialize, Serialize};

pub const CONFIG_API_VERSION: &str = "vmesh.dev/v1alpha1";
pub const CONFIG_KIND: &str = "VirtualMeshRenderer";

/// The settings of one render. `Default` is what vmesh does with no configuration.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RenderConfig {
    /// Emit only the items for this workload cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Directory of template overrides (file names as the embedded templates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templates: Option<String>,
    /// Default DestinationRule TLS mode; overrides a Settings resource.
    #[serde(
        default,
        deserialize_with = "optional_tls_mode",
        serialize_with = "serialize_tls_mode",
        skip_serializing_if = "Option::is_none"
    )]
    pub tls_mode: Option<TlsMode>,
    /// `v1` (default, Istio ≥ 1.22) or `v1beta1` (older Istio).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub istio_api_version: Option<IstioApiVersion>,
    /// `stable` (default: no pod IPs in Git) or `pods` (Gloo Mesh's exact pod-IP endpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<EndpointsMode>,
    /// Write a VirtualMeshStatus into each VirtualMesh item.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub write_status: bool,
    /// Where to read the secret seed of reproducible certificates: `env:NAME` or
    /// `file:PATH` (never the seed itself: the functionConfig lives in Git).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_seed: Option<String>,
    /// Validity start (RFC 3339) of certificates derived from `caSeed`; advance it to rotate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_not_before: Option<String>,
    /// Limits on what one run may produce (README, "Limits"), checked against an estimate
    /// from the plan before anything is rendered. Unset: the defaults in [`limits`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_bytes_per_cluster: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_objects_per_cluster: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_objects: Option<u64>,
    /// minijinja fuel for one template render: instructions and bytes allocated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_fuel: Option<u64>,
    /// The most text one template render may write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_template_output_bytes: Option<u64>,
}

/// The default limits and the functionConfig keys that raise them.
pub mod limits {
    /// A bit above Argo CD's 100 MB per application, so that kpt and `vmesh render` can
    /// still render a slice Argo CD would refuse (vmesh warns at 80 MB).
    pub const OUTPUT_BYTES_PER_CLUSTER: u64 = 128 << 20;
    /// kpt holds a package several times over; beyond this a run is a mistake more often
    /// than a mesh (the 50 × 200 benchmark renders 1.1 GB).
    pub const OUTPUT_BYTES: u64 = 2 << 30;
    /// istiod struggles with tens of thousands of ServiceEntries long before this.
    pub const OUTPUT_OBJECTS_PER_CLUSTER: u64 = 200_000;
    pub const OUTPUT_OBJECTS: u64 = 4_000_000;
    /// One fuel is one template instruction or 64 bytes of strings, lists and output the
    /// template builds (minijinja's accounting), so this allows about 64 MB per object.
    /// The embedded templates print values vmesh built: a few dozen fuel per object, a few
    /// thousand for an AuthorizationPolicy over thousands of service accounts.
    pub const TEMPLATE_FUEL: u64 = 1_000_000;
    /// One rendered object (Kubernetes stores at most 1.5 MiB per object).
    pub const TEMPLATE_OUTPUT_BYTES: u64 = 16 << 20;
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum IstioApiVersion {
    #[default]
    #[serde(rename = "v1")]
    V1,
    #[serde(rename = "v1beta1")]
    V1beta1,
}

impl IstioApiVersion {
    pub fn networking(self) -> &'static str {
        match self {
            IstioApiVersion::V1 => "networking.istio.io/v1",
            IstioApiVersion::V1beta1 => "networking.istio.io/v1beta1",
        }
    }

    pub fn security(self) -> &'static str {
        match self {
            IstioApiVersion::V1 => "security.istio.io/v1",
            IstioApiVersion::V1beta1 => "security.istio.io/v1beta1",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EndpointsMode {
    #[default]
    Stable,
    Pods,
}

fn optional_tls_mode<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<TlsMode>, D::Error> {
    proto_enum(d).map(Some)
}

fn serialize_tls_mode<S: serde::Serializer>(
    mode: &Option<TlsMode>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match mode {
        Some(mode) => serializer.serialize_str(mode.as_str()),
        None => serializer.serialize_none(),
    }
}

impl RenderConfig {
    pub fn api_version(&self) -> IstioApiVersion {
        self.istio_api_version.unwrap_or_default()
    }

    pub fn endpoints_mode(&self) -> EndpointsMode {
        self.endpoints.unwrap_or_default()
    }

    pub fn output_bytes_per_cluster(&self) -> u64 {
        self.max_output_bytes_per_cluster
            .unwrap_or(limits::OUTPUT_BYTES_PER_CLUSTER)
    }

    pub fn output_bytes(&self) -> u64 {
        self.max_output_bytes.unwrap_or(limits::OUTPUT_BYTES)
    }

    pub fn output_objects_per_cluster(&self) -> u64 {
        self.max_output_objects_per_cluster
            .unwrap_or(limits::OUTPUT_OBJECTS_PER_CLUSTER)
    }

    pub fn output_objects(&self) -> u64 {
        self.max_output_objects.unwrap_or(limits::OUTPUT_OBJECTS)
    }

    pub fn template_fuel(&self) -> u64 {
        self.template_fuel.unwrap_or(limits::TEMPLATE_FUEL)
    }

    pub fn template_output_bytes(&self) -> u64 {
        self.max_template_output_bytes
            .unwrap_or(limits::TEMPLATE_OUTPUT_BYTES)
    }
}

/// The JSON Schema of the functionConfig, printed by `vmesh schema`.
pub fn json_schema() -> serde_json::Value {
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://vmesh.dev/schemas/v1alpha1/VirtualMeshRenderer.json",
        "title": "VirtualMeshRenderer",
        "description": "functionConfig of the vmesh KRM function. A ConfigMap with the same keys under `data` (string values) is accepted too.",
        "type": "object",
        "required": ["apiVersion", "kind"],
        "additionalProperties": false,
        "properties": {
            "apiVersion": {"const": CONFIG_API_VERSION},
            "kind": {"const": CONFIG_KIND},
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "cluster": {"type": "string", "description": "Emit only the items for this workload cluster (its slice)."},
                    "templates": {"type": "string", "description": "Directory of template overrides; a file named like an embedded template replaces it."},
                    "tlsMode": {"enum": TlsMode::VALUES.iter().map(|v| v.2).collect::<Vec<_>>(), "description": "Default DestinationRule TLS mode; overrides a Settings resource. Default ISTIO_MUTUAL."},
                    "istioApiVersion": {"enum": ["v1", "v1beta1"], "description": "API version of the Istio outputs. Default v1 (Istio >= 1.22)."},
                    "endpoints": {"enum": ["stable", "pods"], "description": "stable (default): ServiceEntries depend on Services, never on pod IPs. pods: Gloo Mesh's pod-IP endpoints."},
                    "writeStatus": {"type": "boolean", "description": "Write a VirtualMeshStatus into each VirtualMesh. Default false."},
                    "caSeed": {"type": "string", "pattern": "^(env|file):.+$", "description": "Where to read the secret seed of reproducible certificates: env:NAME or file:PATH. Keys, serials and validity are then derived from it."},
                    "caNotBefore": {"type": "string", "format": "date-time", "description": "Validity start (RFC 3339) of certificates derived from caSeed; advance it to rotate them."},
                    "maxOutputBytesPerCluster": {"type": "integer", "minimum": 1, "description": "Refuse a run whose estimated output for one cluster is larger. Default 134217728 (128 MiB; Argo CD refuses more than 100 MB per application)."},
                    "maxOutputBytes": {"type": "integer", "minimum": 1, "description": "Refuse a run whose estimated output is larger. Default 2147483648 (2 GiB)."},
                    "maxOutputObjectsPerCluster": {"type": "integer", "minimum": 1, "description": "Refuse a run that would render more objects for one cluster. Default 200000."},
                    "maxOutputObjects": {"type": "integer", "minimum": 1, "description": "Refuse a run that would render more objects. Default 4000000."},
                    "templateFuel": {"type": "integer", "minimum": 1, "description": "Fuel of one template render (one fuel is one instruction or 64 bytes built or written). Default 1000000."},
                    "maxTemplateOutputBytes": {"type": "integer", "minimum": 1, "description": "The most text one template render may write. Default 16777216 (16 MiB)."}
                }
            }
        }
    })
}
