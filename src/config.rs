//! Reading the functionConfig (D3): `vmesh.dev/v1alpha1` `VirtualMeshRenderer` with `spec`,
//! or a ConfigMap with the same keys under `data`.

use crate::krm::{KrmResult, ResourceRef};
use crate::model::config::{CONFIG_API_VERSION, CONFIG_KIND, RenderConfig};
use crate::model::{TypeError, parse_at};
use serde_json::{Map, Value};

/// Reads the functionConfig; `None` (or an empty kpt `function-input` ConfigMap) is the
/// default configuration.
pub fn from_function_config(config: Option<&Value>) -> Result<RenderConfig, Box<KrmResult>> {
    let Some(config) = config else {
        return Ok(RenderConfig::default());
    };
    if !config.is_object() {
        let found = match config {
            Value::Array(_) => "a list",
            Value::String(_) => "a string",
            Value::Number(_) => "a number",
            Value::Bool(_) => "a boolean",
            _ => "null",
        };
        return Err(Box::new(KrmResult::error(format!(
            "functionConfig is {found}, not an object; expected {CONFIG_API_VERSION} {CONFIG_KIND} or a v1 ConfigMap"
        ))));
    }
    let api_version = config
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = config.get("kind").and_then(Value::as_str).unwrap_or("");
    let reference = ResourceRef {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        name: config
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        namespace: config
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    };
    let fail = |path: String, message: String| {
        let mut result = KrmResult::error(format!("functionConfig: {message}")).with_field(path);
        result.resource_ref = Some(reference.clone());
        Box::new(result)
    };
    match (api_version, kind) {
        (CONFIG_API_VERSION, CONFIG_KIND) => {
            check_top_level(config, &["apiVersion", "kind", "metadata", "spec"])
                .map_err(|f| fail(f.clone(), format!("unknown field `{f}`")))?;
            match config.get("spec") {
                None | Some(Value::Null) => Ok(RenderConfig::default()),
                Some(spec) => parse_at::<RenderConfig>(spec, "spec")
                    .map_err(|TypeError { path, message }| fail(path, message)),
            }
        }
        ("v1", "ConfigMap") => {
            let data = config
                .get("data")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let typed =
                config_map_values(&data).map_err(|(key, m)| fail(format!("data.{key}"), m))?;
            parse_at::<RenderConfig>(&typed, "data")
                .map_err(|TypeError { path, message }| fail(path, message))
        }
        ("", _) | (_, "") => Err(fail(
            "kind".into(),
            format!(
                "the functionConfig has no apiVersion or kind; expected {CONFIG_API_VERSION} {CONFIG_KIND} or a v1 ConfigMap"
            ),
        )),
        _ => Err(fail(
            "kind".into(),
            format!(
                "unsupported functionConfig {api_version} {kind}; expected {CONFIG_API_VERSION} {CONFIG_KIND} or a v1 ConfigMap"
            ),
        )),
    }
}

fn check_top_level(config: &Value, allowed: &[&str]) -> Result<(), String> {
    match config.as_object() {
        Some(map) => match map.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(k.clone()),
            None => Ok(()),
        },
        None => Ok(()),
    }
}

/// ConfigMap values are strings; turn `"true"`/`"false"` into booleans for `writeStatus`.
fn config_map_values(data: &Map<String, Value>) -> Result<Value, (String, String)> {
    let mut typed = Map::new();
    for (key, value) in data {
        let value = match (key.as_str(), value) {
            ("writeStatus", Value::String(s)) => match s.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                other => {
                    return Err((
                        key.clone(),
                        format!("writeStatus must be \"true\" or \"false\", not {other:?}"),
                    ));
                }
            },
            (
                "maxOutputBytesPerCluster"
                | "maxOutputBytes"
                | "maxOutputObjectsPerCluster"
                | "maxOutputObjects"
                | "templateFuel"
                | "maxTemplateOutputBytes",
                Value::String(s),
            ) => match s.parse::<u64>() {
                Ok(n) => Value::from(n),
                Err(_) => {
                    return Err((
                        key.clone(),
                        format!("{key} must be a whole number of at least 1, like \"1000\""),
                    ));
                }
            },
            (_, v) => v.clone(),
        };
        typed.insert(key.clone(), value);
    }
    Ok(Value::Object(typed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn custom_kind_and_config_map_read_the_same_settings() {
        let a = from_function_config(Some(&json!({
            "apiVersion": "vmesh.dev/v1alpha1", "kind": "VirtualMeshRenderer",
            "metadata": {"name": "r"},
            "spec": {"cluster": "c1", "tlsMode": "SIMPLE", "writeStatus": true}
        })))
        .unwrap();
        let b = from_function_config(Some(&json!({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "function-input"},
            "data": {"cluster": "c1", "tlsMode": "SIMPLE", "writeStatus": "true"}
        })))
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.cluster.as_deref(), Some("c1"));
    }

    #[test]
    fn a_function_config_of_the_wrong_shape_says_so() {
        let err = from_function_config(Some(&json!(5))).unwrap_err();
        assert_eq!(
            err.message,
            "functionConfig is a number, not an object; expected vmesh.dev/v1alpha1 VirtualMeshRenderer or a v1 ConfigMap"
        );
        assert!(err.resource_ref.is_none());
        let err = from_function_config(Some(&json!({"spec": {}}))).unwrap_err();
        assert!(
            err.message.contains("has no apiVersion or kind"),
            "{}",
            err.message
        );
    }

    #[test]
    fn unknown_keys_are_errors_with_a_suggestion() {
        let err = from_function_config(Some(&json!({
            "apiVersion": "vmesh.dev/v1alpha1", "kind": "VirtualMeshRenderer",
            "metadata": {"name": "r"}, "spec": {"clustr": "c1"}
        })))
        .unwrap_err();
        assert_eq!(err.field.unwrap().path, "spec.clustr");
        assert!(
            err.message.contains("did you mean `cluster`"),
            "{}",
            err.message
        );
    }
}
