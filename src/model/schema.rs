//! JSON Schemas of the Gloo Mesh kinds vmesh reads, for editors (the Kubernetes YAML
//! language server) to catch a misspelt field before a render.
//!
//! The schemas are not written by hand: they are read off the typed model itself, by
//! asking its deserializers what they accept. A probe value at a field path makes serde
//! say which fields a struct has (`unknown field …, expected one of …`), which type a
//! field takes (`invalid type: map, expected a sequence`), which names an enum has, and
//! whether `null` is accepted. A schema therefore cannot drift from what vmesh reads.

use super::TypeError;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

const PROBE: &str = "__vmesh_schema_probe__";
/// Deep enough for every Gloo Mesh kind; a recursive type would stop here.
const MAX_DEPTH: usize = 16;

#[derive(Clone)]
enum Step {
    Field(String),
    Item,
    Value,
}

/// A Gloo Mesh kind vmesh reads: `(kind, apiVersion, schema of its spec)`.
pub type GlooKind = (&'static str, &'static str, fn() -> Value);

/// The Gloo Mesh kinds vmesh reads.
pub fn gloo_kinds() -> Vec<GlooKind> {
    use super::discovery::{DestinationSpec, KubernetesClusterSpec, MeshSpec, WorkloadSpec};
    use super::networking::{AccessPolicySpec, SettingsSpec, VirtualMeshSpec};
    vec![
        (
            "VirtualMesh",
            "networking.mesh.gloo.solo.io/v1",
            spec_schema::<VirtualMeshSpec>,
        ),
        (
            "AccessPolicy",
            "networking.mesh.gloo.solo.io/v1",
            spec_schema::<AccessPolicySpec>,
        ),
        (
            "Mesh",
            "discovery.mesh.gloo.solo.io/v1",
            spec_schema::<MeshSpec>,
        ),
        (
            "Destination",
            "discovery.mesh.gloo.solo.io/v1",
            spec_schema::<DestinationSpec>,
        ),
        (
            "Workload",
            "discovery.mesh.gloo.solo.io/v1",
            spec_schema::<WorkloadSpec>,
        ),
        (
            "Settings",
            "settings.mesh.gloo.solo.io/v1",
            spec_schema::<SettingsSpec>,
        ),
        (
            "KubernetesCluster",
            "multicluster.solo.io/v1alpha1",
            spec_schema::<KubernetesClusterSpec>,
        ),
    ]
}

/// The whole resource's schema for `kind`, or `None` when vmesh does not read it.
pub fn resource_schema(kind: &str) -> Option<Value> {
    let (kind, api_version, spec) = gloo_kinds()
        .into_iter()
        .find(|(k, _, _)| k.eq_ignore_ascii_case(kind))?;
    Some(json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("https://vmesh.dev/schemas/{api_version}/{kind}.json"),
        "title": kind,
        "description": format!("Gloo Mesh {kind} ({api_version}) as vmesh reads it: unknown fields and wrong types are errors. Generated from vmesh's typed model (vmesh schema {kind})."),
        "type": "object",
        "required": ["apiVersion", "kind", "metadata"],
        "additionalProperties": false,
        "properties": {
            "apiVersion": {"const": api_version},
            "kind": {"const": kind},
            "metadata": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "namespace": {"type": "string"},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "annotations": {"type": "object", "additionalProperties": {"type": "string"}}
                }
            },
            "spec": spec(),
            "status": {}
        }
    }))
}

fn spec_schema<T: DeserializeOwned>() -> Value {
    explore::<T>(&[], 0)
}

/// Builds a value that holds `leaf` at `path` (fields, list items, map values).
fn build(path: &[Step], leaf: Value) -> Value {
    match path.split_first() {
        None => leaf,
        Some((Step::Field(name), rest)) => json!({ name.clone(): build(rest, leaf) }),
        Some((Step::Item, rest)) => json!([build(rest, leaf)]),
        Some((Step::Value, rest)) => json!({ "k": build(rest, leaf) }),
    }
}

/// serde's error for `value` (raw text, with its path), `None` when it is accepted.
fn error<T: DeserializeOwned>(value: Value) -> Option<TypeError> {
    serde_path_to_error::deserialize::<_, T>(value)
        .err()
        .map(|e| TypeError {
            path: e.path().to_string(),
            message: e.inner().to_string(),
        })
}

fn path_text(path: &[Step]) -> String {
    let mut text = String::new();
    for step in path {
        match step {
            Step::Field(name) => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(name);
            }
            Step::Item => text.push_str("[0]"),
            Step::Value => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push('k');
            }
        }
    }
    if text.is_empty() {
        ".".to_string()
    } else {
        text
    }
}

fn explore<T: DeserializeOwned>(path: &[Step], depth: usize) -> Value {
    if depth > MAX_DEPTH {
        return json!({});
    }
    let here = path_text(path);
    let probe_key = {
        let mut p = path.to_vec();
        p.push(Step::Field(PROBE.to_string()));
        path_text(&p)
    };
    let schema = match error::<T>(build(path, json!({ PROBE: 0 }))) {
        // Anything goes here (an untyped value).
        None => json!({}),
        Some(e) if e.path == probe_key => {
            if let Some(fields) = struct_fields(&e.message) {
                let mut properties = Map::new();
                for field in fields {
                    let mut p = path.to_vec();
                    p.push(Step::Field(field.clone()));
                    properties.insert(field, explore::<T>(&p, depth + 1));
                }
                json!({"type": "object", "additionalProperties": false, "properties": properties})
            } else {
                // A map: its values are typed.
                let mut p = path.to_vec();
                p.push(Step::Value);
                json!({"type": "object", "additionalProperties": explore::<T>(&p, depth + 1)})
            }
        }
        Some(e) if e.path == here || (here == "." && e.path.is_empty()) => {
            scalar::<T>(path, &e.message, depth)
        }
        // The probe failed somewhere else: say nothing rather than something wrong.
        Some(_) => json!({}),
    };
    if !path.is_empty() && error::<T>(build(path, Value::Null)).is_none() && schema != json!({}) {
        json!({"anyOf": [schema, {"type": "null"}]})
    } else {
        schema
    }
}

/// `unknown field `x`, expected one of `a`, `b`` (or `expected `a``, or no fields).
fn struct_fields(message: &str) -> Option<Vec<String>> {
    let rest = message.strip_prefix(&format!("unknown field `{PROBE}`"))?;
    Some(
        rest.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect(),
    )
}

/// The schema of a non-object field from serde's "expected …".
fn scalar<T: DeserializeOwned>(path: &[Step], message: &str, depth: usize) -> Value {
    if let Some(names) = message
        .strip_prefix("unknown value ")
        .and_then(|m| m.split_once(", expected one of "))
        .map(|(_, names)| names)
    {
        // A proto enum: its JSON names, or its numbers.
        let names: Vec<&str> = names.split(", ").collect();
        return json!({"anyOf": [{"enum": names}, {"type": "integer", "minimum": 0}]});
    }
    let Some((_, expected)) = message.rsplit_once(", expected ") else {
        return json!({});
    };
    let whole = |min: i128, max: i128| json!({"type": "integer", "minimum": min, "maximum": max});
    match expected {
        "a boolean" => json!({"type": "boolean"}),
        "u8" => whole(0, u8::MAX.into()),
        "u16" => whole(0, u16::MAX.into()),
        "u32" => whole(0, u32::MAX.into()),
        "u64" => whole(0, u64::MAX.into()),
        "i32" => whole(i32::MIN.into(), i32::MAX.into()),
        "i64" => whole(i64::MIN.into(), i64::MAX.into()),
        "f32" | "f64" => json!({"type": "number"}),
        "a sequence" => {
            let mut p = path.to_vec();
            p.push(Step::Item);
            json!({"type": "array", "items": explore::<T>(&p, depth + 1)})
        }
        "a string" | "a borrowed string" => {
            // An enum of strings says so when given one it does not know.
            match error::<T>(build(path, json!(PROBE))) {
                Some(e) => match e.message.split_once("expected one of ") {
                    Some((_, names)) => {
                        let names: Vec<String> = names
                            .split(", ")
                            .map(|n| n.trim_matches('`').to_string())
                            .collect();
                        json!({"enum": names})
                    }
                    None => json!({"type": "string"}),
                },
                None => json!({"type": "string"}),
            }
        }
        _ => json!({}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_schema_with_its_fields() {
        for (kind, _, _) in gloo_kinds() {
            let schema = resource_schema(kind).unwrap();
            assert_eq!(schema["title"], kind);
            assert_eq!(schema["properties"]["spec"]["type"], "object", "{kind}");
        }
        let vm = resource_schema("VirtualMesh").unwrap();
        let federation = &vm["properties"]["spec"]["properties"]["federation"];
        let text = federation.to_string();
        assert!(
            text.contains("hostnameSuffix") && text.contains("eastWestIngressGatewaySelectors")
        );
        assert!(resource_schema("Deployment").is_none());
    }
}
