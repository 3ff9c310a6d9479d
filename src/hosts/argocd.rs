//! The Argo CD config management plugin (CMP v2): `vmesh render --argocd` is the plugin's
//! generate command. The CMP server runs it in the Application's source directory (a fresh
//! copy of the repository) with the Application's settings in the environment.
//!
//! The cluster whose slice is printed comes from the Application:
//! - the plugin parameter `cluster` (`spec.source.plugin.parameters`, seen as `PARAM_CLUSTER`),
//! - or the plugin environment variable `CLUSTER` (`spec.source.plugin.env`, seen as
//!   `ARGOCD_ENV_CLUSTER`).
//!
//! Neither silently wins over the other: if both are set they must agree, because printing
//! another cluster's slice would make Argo CD prune this cluster's configuration.

use super::Reply;
use super::render::{RenderArgs, render};
use std::path::PathBuf;

/// The plugin parameter naming the cluster, as the CMP server exports it.
pub const CLUSTER_PARAMETER: &str = "PARAM_CLUSTER";
/// The plugin environment variable naming the cluster, as the CMP server exports it.
pub const CLUSTER_ENV: &str = "ARGOCD_ENV_CLUSTER";

/// The cluster the Application asks for, from the CMP environment.
pub fn cluster(env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let get = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    match (get(CLUSTER_PARAMETER), get(CLUSTER_ENV)) {
        (Some(p), Some(e)) if p != e => Err(format!(
            "the plugin parameter cluster ({CLUSTER_PARAMETER}={p}) and the plugin env CLUSTER ({CLUSTER_ENV}={e}) disagree; set one of them"
        )),
        (Some(cluster), _) | (None, Some(cluster)) => Ok(cluster),
        (None, None) => Err(format!(
            "no cluster: set the plugin parameter `cluster` in the Application (spec.source.plugin.parameters, seen as {CLUSTER_PARAMETER}) or the plugin env `CLUSTER` (spec.source.plugin.env, seen as {CLUSTER_ENV})"
        )),
    }
}

/// The generate command: one cluster's generated objects as a plain stream, or a non-zero
/// exit with the reason on stderr. Never an empty stream with exit 0.
pub fn generate(paths: Vec<PathBuf>, env: &dyn Fn(&str) -> Option<String>) -> Reply {
    let cluster = match cluster(env) {
        Ok(cluster) => cluster,
        Err(message) => return Reply::fail(message),
    };
    let mut args = RenderArgs {
        paths,
        one_cluster: true,
        ..RenderArgs::default()
    };
    args.settings.cluster = Some(cluster);
    render(&args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn parameter_or_env_names_the_cluster_and_they_must_agree() {
        assert_eq!(cluster(&env(&[("PARAM_CLUSTER", "c1")])), Ok("c1".into()));
        assert_eq!(
            cluster(&env(&[("ARGOCD_ENV_CLUSTER", "c2")])),
            Ok("c2".into())
        );
        assert_eq!(
            cluster(&env(&[
                ("PARAM_CLUSTER", "c1"),
                ("ARGOCD_ENV_CLUSTER", "c1")
            ])),
            Ok("c1".into())
        );
        let both = cluster(&env(&[
            ("PARAM_CLUSTER", "c1"),
            ("ARGOCD_ENV_CLUSTER", "c2"),
        ]));
        assert!(both.unwrap_err().contains("disagree"));
        let none = cluster(&env(&[("PARAM_CLUSTER", " ")])).unwrap_err();
        assert!(none.contains("PARAM_CLUSTER") && none.contains("ARGOCD_ENV_CLUSTER"));
    }
}
