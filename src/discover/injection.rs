//! Which istiod revision injects a pod template's sidecar, by Istio's own rules (the
//! sidecar injector's webhook selectors and its per-pod policy), read from the namespace
//! labels and the pod template instead of from running pods as Gloo Mesh does.

use std::collections::BTreeMap;

/// Namespace label: `enabled` injects with the default revision, anything else never.
pub const INJECTION_LABEL: &str = "istio-injection";
/// Namespace or pod label naming the revision that injects.
pub const REVISION_LABEL: &str = "istio.io/rev";
/// Pod label (or, with less weight, annotation): `"false"` opts out, `"true"` opts in.
pub const INJECT_KEY: &str = "sidecar.istio.io/inject";
/// The revision of an istiod without a revision label.
pub const DEFAULT_REVISION: &str = "default";

/// What injection needs to know about a pod template.
#[derive(Debug, Clone, Copy, Default)]
pub struct PodTemplate<'a> {
    pub labels: Option<&'a BTreeMap<String, String>>,
    pub annotations: Option<&'a BTreeMap<String, String>>,
    pub host_network: bool,
    /// A container already runs Istio's proxy (`istio` and `proxy` in its image: Gloo
    /// Mesh's sidecar test), as gateways installed by istioctl do.
    pub has_proxy_container: bool,
}

/// The revision whose istiod manages pods of this template in a namespace with these
/// labels, or `None` when the pods run without Istio's proxy.
pub fn revision(
    namespace_labels: Option<&BTreeMap<String, String>>,
    pod: PodTemplate<'_>,
) -> Option<String> {
    fn label<'a>(labels: Option<&'a BTreeMap<String, String>>, key: &str) -> Option<&'a str> {
        labels.and_then(|l| l.get(key)).map(String::as_str)
    }
    let pod_revision = label(pod.labels, REVISION_LABEL);
    let namespace_revision = label(namespace_labels, REVISION_LABEL);
    if pod.has_proxy_container {
        let revision = pod_revision
            .or(namespace_revision)
            .unwrap_or(DEFAULT_REVISION);
        return Some(revision.to_string());
    }
    // The injector never injects host-network pods.
    if pod.host_network {
        return None;
    }
    // The pod label decides; the deprecated annotation only when the label is absent.
    let pod_inject = label(pod.labels, INJECT_KEY).or_else(|| label(pod.annotations, INJECT_KEY));
    if pod_inject == Some("false") {
        return None;
    }
    match label(namespace_labels, INJECTION_LABEL) {
        Some("enabled") => return Some(DEFAULT_REVISION.to_string()),
        // `disabled` (or any other value) excludes the namespace from every webhook.
        Some(_) => return None,
        None => {}
    }
    if let Some(revision) = namespace_revision {
        return Some(revision.to_string());
    }
    // Object selectors only see labels: the annotation cannot opt a pod in.
    if let Some(revision) = pod_revision {
        return Some(revision.to_string());
    }
    (label(pod.labels, INJECT_KEY) == Some("true")).then(|| DEFAULT_REVISION.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn rev(
        ns: &[(&str, &str)],
        labels: &[(&str, &str)],
        annotations: &[(&str, &str)],
    ) -> Option<String> {
        let (ns, labels, annotations) = (map(ns), map(labels), map(annotations));
        revision(
            Some(&ns),
            PodTemplate {
                labels: Some(&labels),
                annotations: Some(&annotations),
                ..PodTemplate::default()
            },
        )
    }

    #[test]
    fn namespace_labels_inject() {
        let some = |s: &str| Some(s.to_string());
        assert_eq!(
            rev(&[("istio-injection", "enabled")], &[], &[]),
            some("default")
        );
        assert_eq!(rev(&[("istio.io/rev", "1-20")], &[], &[]), some("1-20"));
        assert_eq!(rev(&[], &[], &[]), None);
        assert_eq!(
            rev(
                &[("istio-injection", "disabled")],
                &[("sidecar.istio.io/inject", "true")],
                &[]
            ),
            None
        );
        // istio-injection wins over istio.io/rev on a namespace.
        assert_eq!(
            rev(
                &[("istio-injection", "enabled"), ("istio.io/rev", "1-20")],
                &[],
                &[]
            ),
            some("default")
        );
    }

    #[test]
    fn pods_opt_out_and_in() {
        let some = |s: &str| Some(s.to_string());
        let enabled = [("istio-injection", "enabled")];
        assert_eq!(
            rev(&enabled, &[("sidecar.istio.io/inject", "false")], &[]),
            None
        );
        assert_eq!(
            rev(&enabled, &[], &[("sidecar.istio.io/inject", "false")]),
            None
        );
        // The label outweighs the annotation.
        assert_eq!(
            rev(
                &enabled,
                &[("sidecar.istio.io/inject", "true")],
                &[("sidecar.istio.io/inject", "false")]
            ),
            some("default")
        );
        assert_eq!(
            rev(&[], &[("sidecar.istio.io/inject", "true")], &[]),
            some("default")
        );
        assert_eq!(rev(&[], &[], &[("sidecar.istio.io/inject", "true")]), None);
        assert_eq!(rev(&[], &[("istio.io/rev", "canary")], &[]), some("canary"));
    }

    #[test]
    fn host_network_is_never_injected_but_a_proxy_container_is_meshed() {
        let ns = map(&[("istio-injection", "enabled")]);
        let pod = PodTemplate {
            host_network: true,
            ..PodTemplate::default()
        };
        assert_eq!(revision(Some(&ns), pod), None);
        let labels = map(&[("istio.io/rev", "1-20")]);
        let gateway = PodTemplate {
            labels: Some(&labels),
            has_proxy_container: true,
            ..PodTemplate::default()
        };
        assert_eq!(revision(None, gateway), Some("1-20".to_string()));
    }
}
