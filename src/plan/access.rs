//! AccessPolicies → the rules of each Destination's AuthorizationPolicy (Gloo Mesh's
//! `authorization_policy_translator.go`, with decisions D5's fix for empty sources).

use super::report::Report;
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
    fn of(&self, cluster: &str) -> Result<Vec<String>, String> {
        if cluster.is_empty() {
            if self.all.is_empty() {
                return Err(
                    "authorization-policy-translator: Trust domain not found for any cluster (no Istio Mesh names a trustDomain)".into(),
                );
            }
            return Ok(self.all.clone());
        }
        match self.by_cluster.get(cluster) {
            Some(td) if !td.is_empty() => Ok(vec![td.clone()]),
            _ => Err(format!(
                "authorization-policy-translator: Trust domain not found for cluster {cluster}"
            )),
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
            Err((field, message)) => report.error(policy.item, &field, message),
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
        .map(|(_, rule)| Arc::clone(rule))
        .collect()
}

fn rule(
    policy_ref: &ObjectRef,
    policy: &Resource<AccessPolicySpec>,
    trust_domains: &TrustDomains,
) -> Result<Rule, (String, String)> {
    let spec = &policy.spec;
    let mut sources = Vec::new();
    let mut any_source = spec.source_selector.is_empty();
    for (i, selector) in spec.source_selector.iter().enumerate() {
        let field = format!("spec.sourceSelector[{i}]");
        match source(selector, trust_domains).map_err(|m| (field, m))? {
            Some(mut more) => sources.append(&mut more),
            None => any_source = true,
        }
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
) -> Result<Option<Vec<Source>>, String> {
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
            for cluster in &matcher.clusters {
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
                ));
            }
            let name = if sa.name.is_empty() {
                "*"
            } else {
                sa.name.as_str()
            };
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
