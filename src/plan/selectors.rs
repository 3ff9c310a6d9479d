//! Destination selectors: matching (Gloo Mesh's `SelectorMatchesDestination`) and the
//! validation of `kubeServiceRefs`.

use super::messages::{self, Message};
use crate::model::common::{ClusterObjectRef, DestinationSelector, KubeServiceMatcher};
use crate::model::discovery::KubeService;
use std::collections::HashSet;

/// An empty list matches every Destination; otherwise any selector may match.
pub fn any_matches(selectors: &[DestinationSelector], service: &KubeService) -> bool {
    selectors.is_empty() || selectors.iter().any(|s| matches(s, service))
}

/// A selector matches through its matcher or its refs; `{}` (neither) matches nothing.
pub fn matches(selector: &DestinationSelector, service: &KubeService) -> bool {
    let by_matcher = selector
        .kube_service_matcher
        .as_ref()
        .is_some_and(|m| matcher_matches(m, service));
    let by_ref = selector
        .kube_service_refs
        .as_ref()
        .is_some_and(|refs| refs.services.contains(&service.service_ref));
    by_matcher || by_ref
}

fn matcher_matches(matcher: &KubeServiceMatcher, service: &KubeService) -> bool {
    let r = &service.service_ref;
    (matcher.namespaces.is_empty() || matcher.namespaces.contains(&r.namespace))
        && (matcher.clusters.is_empty() || matcher.clusters.contains(&r.cluster_name))
        && matcher
            .labels
            .iter()
            .all(|(k, v)| service.labels.get(k) == Some(v))
}

/// Problems with `kubeServiceRefs` in `selectors`: `(field path below prefix, message)`.
/// Gloo Mesh's texts (`Invalid Destination selector: …`) go beside the messages.
pub fn check_service_refs(
    selectors: &[DestinationSelector],
    prefix: &str,
    known: &HashSet<ClusterObjectRef>,
) -> Vec<(String, Message)> {
    let mut problems = Vec::new();
    for (i, selector) in selectors.iter().enumerate() {
        let Some(refs) = &selector.kube_service_refs else {
            continue;
        };
        for (j, service) in refs.services.iter().enumerate() {
            let field = format!("{prefix}[{i}].kubeServiceRefs.services[{j}]");
            let message = if let Some(message) = messages::service_ref_incomplete(service) {
                message
            } else if !known.contains(service) {
                // Sorted, so the suggestion does not depend on the set's order.
                let mut candidates: Vec<&ClusterObjectRef> = known.iter().collect();
                candidates.sort();
                messages::destination_not_found(service, candidates)
            } else {
                continue;
            };
            problems.push((field, message));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::common::KubeServiceRefs;
    use std::collections::BTreeMap;

    fn service(name: &str, ns: &str, cluster: &str, labels: &[(&str, &str)]) -> KubeService {
        KubeService {
            service_ref: ClusterObjectRef {
                name: name.into(),
                namespace: ns.into(),
                cluster_name: cluster.into(),
            },
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            ..KubeService::default()
        }
    }

    #[test]
    fn empty_list_matches_all_and_empty_selector_matches_nothing() {
        let s = service("a", "ns", "c1", &[]);
        assert!(any_matches(&[], &s));
        assert!(!any_matches(&[DestinationSelector::default()], &s));
    }

    #[test]
    fn matcher_needs_every_label_and_listed_namespace_and_cluster() {
        let s = service("a", "ns", "c1", &[("app", "a"), ("tier", "web")]);
        let sel = |labels: &[(&str, &str)], ns: &[&str], clusters: &[&str]| DestinationSelector {
            kube_service_matcher: Some(KubeServiceMatcher {
                labels: labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                namespaces: ns.iter().map(|s| s.to_string()).collect(),
                clusters: clusters.iter().map(|s| s.to_string()).collect(),
            }),
            kube_service_refs: None,
        };
        assert!(matches(&sel(&[("app", "a")], &["ns"], &["c1"]), &s));
        assert!(!matches(&sel(&[("app", "b")], &[], &[]), &s));
        assert!(!matches(&sel(&[], &["other"], &[]), &s));
        assert!(!matches(&sel(&[], &[], &["c2"]), &s));
    }

    #[test]
    fn refs_are_checked_with_gloo_messages() {
        let selectors = vec![DestinationSelector {
            kube_service_matcher: None,
            kube_service_refs: Some(KubeServiceRefs {
                services: vec![
                    ClusterObjectRef::default(),
                    ClusterObjectRef {
                        name: "nonexistent-svc".into(),
                        namespace: "nonexistent-svc".into(),
                        cluster_name: "svc-cluster".into(),
                    },
                ],
            }),
        }];
        let problems = check_service_refs(&selectors, "spec.x", &HashSet::new());
        assert_eq!(problems[0].0, "spec.x[0].kubeServiceRefs.services[0]");
        // One line in the user's terms; Gloo Mesh's multi-line text only beside it.
        assert_eq!(
            problems[0].1.text,
            "this Service reference has no name, namespace or clusterName: a kubeServiceRef names the Service by name, namespace and clusterName"
        );
        assert_eq!(
            problems[0].1.gloo.as_deref(),
            Some(
                "Invalid Destination selector: malformed kubeServiceRef: 3 errors occurred:\n\t* 'name' must be specified'\n\t* 'namespace' must be specified'\n\t* 'clusterName' must be specified'\n\n"
            )
        );
        assert!(problems[1].1.text.starts_with(
            "no Destination in the input is for Service nonexistent-svc/nonexistent-svc in cluster svc-cluster"
        ));
        assert_eq!(
            problems[1].1.gloo.as_deref(),
            Some(
                "Invalid Destination selector: Destination nonexistent-svc.nonexistent-svc.svc-cluster not found"
            )
        );
    }
}
