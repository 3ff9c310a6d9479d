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
    /// The most text one render may write (`maxTemplateOutputBytes`).
    max_output: usize,
}

/// What bounds one template render: a user's template override may loop or allocate
/// without end, and must fail with a message instead.
#[derive(Debug, Clone, Copy)]
pub struct TemplateLimits {
    /// minijinja fuel per render (`templateFuel`): it counts instructions and the bytes of
    /// strings and lists a template builds, and refuses an allocation before it happens.
    pub fuel: u64,
    pub max_output: u64,
}

impl Default for TemplateLimits {
    fn default() -> Self {
        TemplateLimits {
            fuel: crate::model::config::limits::TEMPLATE_FUEL,
            max_output: crate::model::config::limits::TEMPLATE_OUTPUT_BYTES,
        }
    }
}

impl Engine {
    /// The embedded templates, each replaced by a file of the same name in `overrides`.
    pub fn new(overrides: Option<&Path>) -> Result<Engine, String> {
        Engine::with_limits(overrides, TemplateLimits::default())
    }

    /// [`Engine::new`] with explicit limits.
    pub fn with_limits(overrides: Option<&Path>, limits: TemplateLimits) -> Result<Engine, String> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(limits.fuel));
        minijinja_embed::load_templates!(&mut env);
        if let Some(dir) = overrides {
            load_overrides(&mut env, dir)?;
        }
        Ok(Engine {
            env,
            max_output: usize::try_from(limits.max_output).unwrap_or(usize::MAX),
        })
    }

    /// Renders `template` with `context` and parses the result, which must be one JSON
    /// object.
    pub fn render(&self, template: &str, context: minijinja::Value) -> Result<Value, String> {
        let tmpl = self
            .env
            .get_template(template)
            .map_err(|e| format!("template {template}: {e}"))?;
        let mut out = Capped {
            text: Vec::new(),
            max: self.max_output,
            over: false,
        };
        if let Err(e) = tmpl.render_captured_to(context, &mut out).map(drop) {
            if out.over {
                return Err(format!(
                    "template {template} wrote more than {} bytes (maxTemplateOutputBytes in the functionConfig raises the limit)",
                    self.max_output
                ));
            }
            if e.kind() == minijinja::ErrorKind::OutOfFuel {
                return Err(format!(
                    "template {template} ran out of fuel: it takes more steps or memory than any object needs (a loop without end?); templateFuel in the functionConfig raises the limit"
                ));
            }
            return Err(format!("template {template}: {}", describe(&e)));
        }
        let text = String::from_utf8(out.text)
            .map_err(|_| format!("template {template} wrote text that is not UTF-8"))?;
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

/// A sink that refuses to grow past `max` bytes, so that a template writing without end
/// fails at the limit instead of exhausting memory.
struct Capped {
    text: Vec<u8>,
    max: usize,
    over: bool,
}

impl std::io::Write for Capped {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.text.len().saturating_add(bytes.len()) > self.max {
            self.over = true;
            return Err(std::io::Error::other("template output limit"));
        }
        self.text.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
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

    fn engine_with(name: &str, template: &str, limits: TemplateLimits) -> Engine {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(name), template).unwrap();
        Engine::with_limits(Some(dir.path()), limits).unwrap()
    }

    #[test]
    fn a_template_that_loops_or_allocates_without_end_runs_out_of_fuel() {
        let name = "gateway.json";
        for template in [
            "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}{}",
            "{% set x = 'x' * 1000000000 %}{}",
            "{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{}",
        ] {
            let engine = engine_with(name, template, TemplateLimits::default());
            let err = engine.render(name, minijinja::context! {}).unwrap_err();
            assert!(
                err.contains("ran out of fuel") || err.contains("too large"),
                "{template}: {err}"
            );
        }
    }

    #[test]
    fn a_template_that_writes_too_much_is_stopped_at_the_limit() {
        let name = "gateway.json";
        let limits = TemplateLimits {
            max_output: 1000,
            ..TemplateLimits::default()
        };
        let engine = engine_with(name, "{% for i in range(2000) %}x{% endfor %}", limits);
        let err = engine.render(name, minijinja::context! {}).unwrap_err();
        assert!(err.contains("wrote more than 1000 bytes"), "{err}");
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
