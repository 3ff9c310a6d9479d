//! Shapes shared by the Gloo Mesh resources (`api/common/v1`, skv2 `core.proto`).
//!
//! Every struct rejects unknown fields: a typo in a selector must be an error, not a
//! silently ignored field that federates everything.

use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::fmt;

/// Reference to a management-plane object (Mesh, VirtualMesh, Secret).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectRef {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
}

impl ObjectRef {
    pub fn new(name: &str, namespace: &str) -> Self {
        ObjectRef {
            name: name.to_string(),
            namespace: namespace.to_string(),
        }
    }

    /// Gloo Mesh's key for a management-plane object: `name.namespace.` (trailing dot).
    pub fn key(&self) -> String {
        format!("{}.{}.", self.name, self.namespace)
    }

    /// Orders like [`ObjectRef::key`] (Gloo Mesh's listing order) without building keys.
    pub fn key_cmp(&self, other: &ObjectRef) -> std::cmp::Ordering {
        self.key_bytes().cmp(other.key_bytes())
    }

    fn key_bytes(&self) -> impl Iterator<Item = u8> + '_ {
        let dot = std::iter::once(b'.');
        self.name
            .bytes()
            .chain(dot.clone())
            .chain(self.namespace.bytes())
            .chain(dot)
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Reference to an object in a workload cluster (Kubernetes Service, ServiceAccount).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterObjectRef {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub cluster_name: String,
}

impl ClusterObjectRef {
    /// Gloo Mesh's key: `name.namespace.cluster`.
    pub fn key(&self) -> String {
        format!("{}.{}.{}", self.name, self.namespace, self.cluster_name)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DestinationSelector {
    #[serde(default)]
    pub kube_service_matcher: Option<KubeServiceMatcher>,
    #[serde(default)]
    pub kube_service_refs: Option<KubeServiceRefs>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubeServiceMatcher {
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub namespaces: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub clusters: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubeServiceRefs {
    #[serde(default, deserialize_with = "null_as_default")]
    pub services: Vec<ClusterObjectRef>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkloadSelector {
    #[serde(default)]
    pub kube_workload_matcher: Option<KubeServiceMatcher>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IdentitySelector {
    #[serde(default)]
    pub kube_identity_matcher: Option<KubeIdentityMatcher>,
    #[serde(default)]
    pub kube_service_account_refs: Option<KubeServiceAccountRefs>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubeIdentityMatcher {
    #[serde(default, deserialize_with = "null_as_default")]
    pub namespaces: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub clusters: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubeServiceAccountRefs {
    #[serde(default, deserialize_with = "null_as_default")]
    pub service_accounts: Vec<ClusterObjectRef>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IngressGatewaySelector {
    #[serde(default, deserialize_with = "null_as_default")]
    pub destination_selectors: Vec<DestinationSelector>,
    /// Name of the gateway Service port that carries east-west TLS; default `tls`.
    #[serde(default)]
    pub port_name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TcpKeepalive {
    #[serde(default)]
    pub probes: u32,
    /// Proto-JSON duration, e.g. `10s`.
    #[serde(default)]
    pub time: Option<String>,
    #[serde(default)]
    pub interval: Option<String>,
}

/// `google.protobuf.Empty`: only `{}` (or null) is accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// Proto3 JSON writes null for unset repeated and map fields; read those as empty.
pub fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A proto enum: its values with their numbers and JSON names.
pub trait ProtoEnum: Copy + Default + PartialEq + 'static {
    const VALUES: &'static [(Self, u64, &'static str)];

    fn as_str(self) -> &'static str {
        Self::VALUES
            .iter()
            .find(|(value, _, _)| *value == self)
            .map_or("", |(_, _, name)| name)
    }

    fn names() -> String {
        Self::VALUES
            .iter()
            .map(|(_, _, name)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Reads a proto enum given by name, or by number as proto3 JSON allows; null is the default.
pub fn proto_enum<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: ProtoEnum,
{
    use serde::de::Error;
    let value = serde_json::Value::deserialize(deserializer)?;
    let found = match &value {
        serde_json::Value::Null => return Ok(T::default()),
        serde_json::Value::String(s) => T::VALUES.iter().find(|(_, _, name)| name == s),
        serde_json::Value::Number(n) => T::VALUES
            .iter()
            .find(|(_, number, _)| Some(*number) == n.as_u64()),
        _ => None,
    };
    found.map(|(v, _, _)| *v).ok_or_else(|| {
        D::Error::custom(format!(
            "unknown value {value}, expected one of {}",
            T::names()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_is_the_order_of_gloo_keys() {
        let refs = [
            ObjectRef::new("a", "ns"),
            ObjectRef::new("a.b", "ns"),
            ObjectRef::new("a", "b"),
            ObjectRef::new("ab", "a"),
            ObjectRef::new("a-", "z"),
        ];
        for x in &refs {
            for y in &refs {
                assert_eq!(x.key_cmp(y), x.key().cmp(&y.key()), "{x} vs {y}");
            }
        }
    }
}
