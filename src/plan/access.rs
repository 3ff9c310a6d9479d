//! AccessPolicies → the rules of each Destination's AuthorizationPolicy (Gloo Mesh's
//! `authorization_policy_translator.go`, with decisions D5's fix for empty sources).

use super::messages;
use super::report::{Message, Report};
use crate::index::Inputs;
use crate::model::Resource;
use crate::model::common::{IdentitySelector, ObjectRef};
use crate::model::discovery::KubeService;
use crate::model::networking::AccessPolicySpec;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One `from` entry of an AuthorizationPolicy rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
}

/// The `to.operation` of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Operation {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
}

/// One AuthorizationPolicy rule, from one AccessPolicy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    #[serde(skip)]
    pub policy: ObjectRef,
    /// `None`: any source (the `from` field is omitted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Vec<Source>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Operation>,
}

/// Trust domains by cluster, from the Istio meshes of the input.
pub struct TrustDomains {
    /// Cluster → trust domain of the last (key order) Istio mesh installed there.
    by_cluster: BTreeMap<String, String>,
    /// Every distinct trust domain, in mesh key order (for "any cluster").
    all: Vec<String>,
}

impl TrustDomains {
    pub fn new(inputs: &Inputs) -> Self {
        let mut by_cluster = BTreeMap::new();
        let mut all: Vec<String> = Vec::new();
        for mesh in inputs.meshes.values() {
            let Some(istio) = &mesh.spec.istio else {
                continue;
            };
            by_cluster.insert(
                istio.installation.cluster.clone(),
                istio.trust_domain.clone(),
            );
            if !istio.trust_domain.is_empty() && !all.contains(&istio.trust_domain) {
                all.push(istio.trust_domain.clone());
            }
        }
        TrustDomains { by_cluster, all }
    }

    /// The trust domains of `cluster`; an empty cluster means every cluster.
    /// A principal names a trust domain, not a cluster: a selector that names `cluster` also
    /// matches the same namespace and account in every other cluster whose mesh shares its
    /// trust domain. Err names those clusters (none of them named by the selector).
    fn scoped_to(&self, cluster: &str, named: &[&str]) -> Result<(), String> {
        let Some(td) = self.by_cluster.get(cluster).filter(|td| !td.is_empty()) else {
            return Ok(());
        };
        let others: Vec<&str> = self
            .by_cluster
            .iter()
            .filter(|(c, d)| *d == td && c.as_str() != cluster && !named.contains(&c.as_str()))
            .map(|(c, _)| c.as_str())
            .collect();
        if others.is_empty() {
            return Ok(());
        }
        Err(format!(
            "names cluster {cluster}, but its mesh shares trust domain {td} with cluster(s) {}: an Istio principal carries the trust domain, not the cluster, so the AuthorizationPolicy would let the same workloads of {} in too. Give each cluster's mesh its own trust domain (Mesh spec.istio.trustDomain and the Istio installation's meshConfig.trustDomain), or name every one of these clusters",
            others.join(", "),
            others.join(", ")
        ))
    }

    fn of(&self, cluster: &str) -> Result<Vec<String>, Message> {
        if cluster.is_empty() {
            if self.all.is_empty() {
                return Err(Message::new(
                    "no Istio Mesh in the input names a trust domain, so no principal can be written for a service account in any cluster: set spec.istio.trustDomain on the Meshes (vmesh discover reads it from each istiod)",
                    "authorization-policy-translator: Trust domain not found for any cluster",
                ));
            }
            return Ok(self.all.clone());
        }
        let gloo = format!(
            "authorization-policy-translator: Trust domain not found for cluster {cluster}"
        );
        match self.by_cluster.get(cluster) {
            Some(td) if !td.is_empty() => Ok(vec![td.clone()]),
            Some(_) => Err(Message::new(
                format!(
                    "the Istio Mesh of cluster {cluster} names no trust domain, so no principal can be written for its service accounts: set spec.istio.trustDomain on that Mesh"
                ),
                gloo,
            )),
            None => {
                let clusters: Vec<&str> = self.by_cluster.keys().map(String::as_str).collect();
                let hint = match messages::closest(cluster, clusters.iter().copied()) {
                    Some(near) => format!("; did you mean {near}?"),
                    None => format!(
                        " (clusters with an Istio Mesh: {})",
                        messages::listed(&clusters)
                    ),
                };
                Err(Message::new(
                    format!("no Istio Mesh in the input is installed in cluster {cluster}{hint}"),
                    gloo,
                ))
            }
        }
    }
}

/// The rule of every AccessPolicy, computed once; a policy that cannot be translated gets
/// an error result and no rule.
pub fn policy_rules(
    inputs: &Inputs,
    trust_domains: &TrustDomains,
    report: &mut Report,
) -> BTreeMap<ObjectRef, Arc<Rule>> {
    let known = inputs
        .destinations
        .values()
        .filter_map(|d| {
            d.spec
                .kube_service
                .as_ref()
                .map(|ks| ks.service_ref.clone())
        })
        .collect();
    let mut rules = BTreeMap::new();
    for (policy_ref, policy) in &inputs.access_policies {
        let problems = super::selectors::check_service_refs(
            &policy.spec.destination_selector,
            "spec.destinationSelector",
            &known,
        );
        for (field, message) in &problems {
            report.error(policy.item, field, message.clone());
        }
        match rule(policy_ref, policy, trust_domains) {
            Ok(rule) if problems.is_empty() => {
                rules.insert(policy_ref.clone(), Arc::new(rule));
            }
            Ok(_) => {}
            Err(errors) => {
                for (field, message) in errors {
                    report.error(policy.item, &field, message);
                }
            }
        }
    }
    rules
}

/// The rules of every AccessPolicy that selects `service`, in AccessPolicy key order.
/// Shared, not copied: one policy over thousands of service accounts and Destinations
/// would otherwise hold its principals once per Destination, the square of the input.
pub fn rules_for(
    inputs: &Inputs,
    service: &KubeService,
    policy_rules: &BTreeMap<ObjectRef, Arc<Rule>>,
) -> Vec<Arc<Rule>> {
    policy_rules
        .iter()
        .filter(|(policy_ref, _)| {
            inputs.access_policies.get(*policy_ref).is_some_and(|p| {
                super::selectors::any_matches(&p.spec.destination_selector, service)
            })
        })
        .map(|(_, rule)| at_target_ports(rule, service).map_or_else(|| Arc::clone(rule), Arc::new))
        .collect()
}

/// `allowedPorts` are the ports a client calls, the Service's; an AuthorizationPolicy's
/// `ports` are matched against the connection's destination port at the workload, which is
/// the Service port's target (`pilot/pkg/security/authz/model` `destination_port`). A port
/// the Service does not have is kept as written. `None` when no port changes, so the rule
/// (and its principals) stays shared.
fn at_target_ports(rule: &Rule, service: &KubeService) -> Option<Rule> {
    let target_of = |port: &str| {
        service
            .ports
            .iter()
            .find(|p| p.port.to_string() == port)
            .and_then(|p| super::federation::target_port(p, service))
            .map(|t| t.to_string())
            .filter(|t| t != port)
    };
    let ports = &rule.to.as_ref()?.ports;
    if ports.iter().all(|p| target_of(p).is_none()) {
        return None;
    }
    let mut rule = rule.clone();
    if let Some(to) = &mut rule.to {
        for port in &mut to.ports {
            if let Some(target) = target_of(port) {
                *port = target;
            }
        }
    }
    Some(rule)
}

fn rule(
    policy_ref: &ObjectRef,
    policy: &Resource<AccessPolicySpec>,
    trust_domains: &TrustDomains,
) -> Result<Rule, Vec<(String, Message)>> {
    let spec = &policy.spec;
    let mut sources = Vec::new();
    let mut any_source = spec.source_selector.is_empty();
    let mut errors = Vec::new();
    for (i, selector) in spec.source_selector.iter().enumerate() {
        match source(selector, trust_domains) {
            Ok(Some(mut more)) => sources.append(&mut more),
            Ok(None) => any_source = true,
            Err(message) => errors.push((format!("spec.sourceSelector[{i}]"), message)),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let operation = Operation {
        paths: spec.allowed_paths.clone(),
        methods: spec.allowed_methods.clone(),
        ports: spec.allowed_ports.iter().map(u32::to_string).collect(),
    };
    let has_operation =
        !(operation.paths.is_empty() && operation.methods.is_empty() && operation.ports.is_empty());
    Ok(Rule {
        policy: policy_ref.clone(),
        from: (!any_source).then_some(sources),
        to: has_operation.then_some(operation),
    })
}

/// The sources one selector allows; `None` when it allows any source. Namespaces and
/// principals go into separate sources: inside one source Istio ANDs them.
fn source(
    selector: &IdentitySelector,
    trust_domains: &TrustDomains,
) -> Result<Option<Vec<Source>>, Message> {
    let mut principals = Vec::new();
    let mut namespaces = Vec::new();
    let mut constrained = false;
    if let Some(matcher) = &selector.kube_identity_matcher
        && !(matcher.clusters.is_empty() && matcher.namespaces.is_empty())
    {
        constrained = true;
        if matcher.clusters.is_empty() {
            namespaces.extend(matcher.namespaces.iter().cloned());
        } else {
            let named: Vec<&str> = matcher.clusters.iter().map(String::as_str).collect();
            for cluster in &matcher.clusters {
                trust_domains
                    .scoped_to(cluster, &named)
                    .map_err(|e| format!("kubeIdentityMatcher {e}"))?;
                for td in trust_domains.of(cluster)? {
                    if matcher.namespaces.is_empty() {
                        principals.push(format!("{td}/ns/*"));
                    }
                    for ns in &matcher.namespaces {
                        principals.push(format!("{td}/ns/{ns}/sa/*"));
                    }
                }
            }
        }
    }
    if let Some(refs) = &selector.kube_service_account_refs {
        for (j, sa) in refs.service_accounts.iter().enumerate() {
            constrained = true;
            if sa.namespace.is_empty() {
                return Err(format!(
                    "kubeServiceAccountRefs.serviceAccounts[{j}]: namespace must be set (an Istio principal cannot match a service account in any namespace)"
                )
                .into());
            }
            let name = if sa.name.is_empty() {
                "*"
            } else {
                sa.name.as_str()
            };
            if !sa.cluster_name.is_empty() {
                trust_domains
                    .scoped_to(&sa.cluster_name, &[])
                    .map_err(|e| format!("kubeServiceAccountRefs.serviceAccounts[{j}] {e}"))?;
            }
            for td in trust_domains.of(&sa.cluster_name)? {
                principals.push(format!("{td}/ns/{}/sa/{name}", sa.namespace));
            }
        }
    }
    if !constrained {
        return Ok(None);
    }
    dedup(&mut principals);
    let mut sources = Vec::new();
    if !principals.is_empty() {
        sources.push(Source {
            principals,
            namespaces: Vec::new(),
        });
    }
    if !namespaces.is_empty() {
        sources.push(Source {
            principals: Vec::new(),
            namespaces,
        });
    }
    Ok(Some(sources))
}

fn dedup(values: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    values.retain(|v| seen.insert(v.clone()));
}
