//! The template engine: embedded minijinja templates, optional user overrides, strict
//! undefined values, and a re-parse of every rendered document.

use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;
use std::path::Path;

/// Names of the embedded templates, one per output kind.
pub const TEMPLATE_NAMES: &[&str] = &[
    "authorization-policy-destination.json",
    "authorization-policy-gateway.json",
    "authorization-policy-global.json",
    "destination-rule-federated-local.json",
    "destination-rule-local.json",
    "destination-rule-remote.json",
    "gateway.json",
    "istio-settings.json",
    "secret-cacerts.json",
    "secret-root-ca.json",
    "service-entry-local.json",
    "service-entry-remote.json",
];

/// Compiled templates, shared read-only by the render threads.
pub struct Engine {
    env: Environment<'static>,
}

impl Engine {
    /// The embedded templates, each replaced by a file of the same name in `overrides`.
    pub fn new(overrides: Option<&Path>) -> Result<Engine, String> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        minijinja_embed::load_templates!(&mut env);
        if let Some(dir) = overrides {
            load_overrides(&mut env, dir)?;
        }
        Ok(Engine { env })
    }

    /// Renders `template` with `context` and parses the result, which must be one JSON
    /// object.
    pub fn render(&self, template: &str, context: minijinja::Value) -> Result<Value, String> {
        let tmpl = self
            .env
            .get_template(template)
            .map_err(|e| format!("template {template}: {e}"))?;
        let text = tmpl
            .render(context)
            .map_err(|e| format!("template {template}: {}", describe(&e)))?;
        let value: Value = serde_json::from_str(&text).map_err(|e| {
            format!("template {template} rendered invalid JSON ({e}); templates must produce one JSON object")
        })?;
        if !value.is_object() {
            return Err(format!(
                "template {template} rendered a {} instead of an object",
                kind_of(&value)
            ));
        }
        Ok(value)
    }
}

fn describe(error: &minijinja::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

fn load_overrides(env: &mut Environment<'static>, dir: &Path) -> Result<(), String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read template directory {}: {e}", dir.display()))?;
    let mut names: Vec<_> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        if !TEMPLATE_NAMES.contains(&name.as_str()) {
            return Err(format!(
                "template directory {}: {name:?} does not replace any template; the templates are {}",
                dir.display(),
                TEMPLATE_NAMES.join(", ")
            ));
        }
        let path = dir.join(&name);
        let source = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read template {}: {e}", path.display()))?;
        env.add_template_owned(name.clone(), source)
            .map_err(|e| format!("template {}: {}", path.display(), describe(&e)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_template_is_embedded() {
        let engine = Engine::new(None).unwrap();
        for name in TEMPLATE_NAMES {
            assert!(engine.env.get_template(name).is_ok(), "{name}");
        }
        assert_eq!(engine.env.templates().count(), TEMPLATE_NAMES.len());
    }

    #[test]
    fn an_override_that_replaces_nothing_is_an_error() {
        let dir = std::env::temp_dir().join(format!("vmesh-engine-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("gateway.yaml"), "{}").unwrap();
        let err = Engine::new(Some(&dir)).err().expect("a typo must not pass");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            err.contains("\"gateway.yaml\" does not replace any template"),
            "{err}"
        );
    }

    #[test]
    fn undefined_values_are_errors() {
        let engine = Engine::new(None).unwrap();
        let err = engine
            .render(
                "authorization-policy-global.json",
                minijinja::context! { apiVersion => "x" },
            )
            .unwrap_err();
        assert!(err.contains("undefined"), "{err}");
    }
}
