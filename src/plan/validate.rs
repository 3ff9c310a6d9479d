//! Validation before rendering: every name, namespace, label, host, address, port, path and
//! principal vmesh would write is held to the rule Kubernetes or Istio applies to it when
//! the object is applied. A violation is an error result on the *input* resource and field
//! it comes from, with what to change; nothing is rendered (fail closed), so a GitOps user
//! finds the problem in review, not hours later when a webhook or istiod refuses an object.
//!
//! Sources of the rules (read, not copied):
//! - Kubernetes: k8s.io/apimachinery `pkg/util/validation` (`IsDNS1123Label`,
//!   `IsDNS1123Subdomain`, `IsDNS1035Label`, `IsQualifiedName`, `IsValidLabelValue`);
//!   k8s.io/kubernetes `pkg/apis/core/validation` (`ValidateServiceName` is DNS-1035,
//!   `ValidateNamespaceName` is DNS-1123 label).
//! - Istio: `pkg/config/validation/agent` `ValidateFQDN` (DNS-1123 labels, no all-digit
//!   top-level domain); `pkg/config/validation` `ValidateAuthorizationPolicy` with
//!   `pkg/config/security` `CheckEmptyValues`, `CheckValidPathTemplate`, `ValidatePorts`;
//!   `ValidateServiceEntry` (endpoint addresses are IPs or FQDNs, never CIDRs).
//! - Envoy/BoringSSL: an SNI over 255 bytes cannot be sent (TLS `server_name` limit).

use super::names::{
    is_dns_label, is_dns_subdomain, is_dns1035_label, is_label_value, is_object_name,
    is_path_safe_cluster, is_qualified_name, numeric_top_level, sanitize_name,
};
use super::report::Report;
use super::{DEFAULT_CLUSTER_DOMAIN, Plan};
use crate::index::Inputs;
use crate::model::common::ObjectRef;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The longest SNI a TLS client sends (RFC 6066 `HostName` is at most 2^16-1 bytes, but
/// BoringSSL, which Envoy uses, refuses a `server_name` over 255 bytes).
pub const MAX_SNI_BYTES: usize = 255;

/// Runs every check; problems go to `report`.
pub fn check(inputs: &Inputs, plan: &Plan, report: &mut Report) {
    check_destinations(inputs, report);
    check_meshes(inputs, report);
    check_virtual_meshes(inputs, report);
    check_access_policies(inputs, report);
    check_gateways(inputs, plan, report);
    check_federated_hosts(inputs, plan, report);
}

fn check_destinations(inputs: &Inputs, report: &mut Report) {
    for destination in inputs.destinations.values() {
        let Some(service) = &destination.spec.kube_service else {
            continue;
        };
        let r = &service.service_ref;
        let what = "the Destination's workload selector";
        if !r.name.is_empty() && !is_dns1035_label(&r.name) {
            report.error(
                destination.item,
                "spec.kubeService.ref.name",
                format!(
                    "Service name {} is not a name Kubernetes gives a Service (a DNS-1035 label: at most 63 lowercase letters, digits and '-', starting with a letter): vmesh names the Service's DestinationRule and AuthorizationPolicy after it. Write the Service's real name",
                    crate::model::quoted(&r.name)
                ),
            );
        }
        if !r.namespace.is_empty() && !is_dns_label(&r.namespace) {
            report.error(
                destination.item,
                "spec.kubeService.ref.namespace",
                format!(
                    "namespace {} is not a Kubernetes namespace name (a DNS-1123 label: at most 63 lowercase letters, digits and '-'): vmesh writes objects into it. Write the Service's real namespace",
                    crate::model::quoted(&r.namespace)
                ),
            );
        }
        if !r.cluster_name.is_empty() && !is_path_safe_cluster(&r.cluster_name) {
            report.error(
                destination.item,
                "spec.kubeService.ref.clusterName",
                cluster_message(&r.cluster_name),
            );
        }
        check_labels(
            &service.workload_selector_labels,
            destination.item,
            "spec.kubeService.workloadSelectorLabels",
            what,
            report,
        );
        // A Destination belongs to the mesh of its Service's cluster: outputs of the
        // Destination go to the mesh's cluster, its Service lives in another.
        if let Some(mesh_ref) = &destination.spec.mesh
            && let Some(mesh) = inputs.meshes.get(mesh_ref)
            && let Some(istio) = &mesh.spec.istio
            && !istio.installation.cluster.is_empty()
            && !r.cluster_name.is_empty()
            && istio.installation.cluster != r.cluster_name
        {
            report.error(
                destination.item,
                "spec.mesh",
                format!(
                    "Mesh {} is installed in cluster {}, but the Destination's Service is in cluster {}: a Service belongs to the mesh of its own cluster, and vmesh would wire ServiceEntries of one cluster to endpoints of the other. Set spec.mesh to the mesh of cluster {} (or correct spec.kubeService.ref.clusterName)",
                    mesh_ref,
                    istio.installation.cluster,
                    r.cluster_name,
                    r.cluster_name
                ),
            );
        }
    }
}

fn cluster_message(cluster: &str) -> String {
    format!(
        "cluster name {} cannot name a folder of the output: vmesh writes each cluster's objects under clusters/<cluster>/ (kpt's path annotation, vmesh render --out), so a cluster name may hold only ASCII letters, digits, '.', '_' and '-', may not start with '.', and has at most 253 characters. Rename the cluster (the KubernetesCluster, the Meshes' spec.istio.installation.cluster and the Destinations' spec.kubeService.ref.clusterName)",
        crate::model::quoted(cluster)
    )
}

/// Labels of a workload selector: keys are Kubernetes label keys and values Kubernetes
/// label values, since a pod can carry no other (a selector with anything else matches
/// nothing, and its text is written into YAML other tools read).
fn check_labels(
    labels: &BTreeMap<String, String>,
    item: usize,
    field: &str,
    what: &str,
    report: &mut Report,
) {
    for (key, value) in labels {
        if !is_qualified_name(key) {
            report.error(
                item,
                &crate::model::shown_path(&format!("{field}.{key}")),
                format!(
                    "label key {} of {what} is not a Kubernetes label key (an optional DNS subdomain and '/', then at most 63 of letters, digits, '-', '_' and '.', alphanumeric at both ends): no pod carries it, so the selector would match nothing. Write the pods' real label key",
                    crate::model::quoted(key)
                ),
            );
        }
        if !is_label_value(value) {
            report.error(
                item,
                &crate::model::shown_path(&format!("{field}.{key}")),
                format!(
                    "label value {} of {what} is not a Kubernetes label value (at most 63 of letters, digits, '-', '_' and '.', alphanumeric at both ends): no pod carries it, so the selector would match nothing. Write the pods' real label value",
                    crate::model::quoted(value)
                ),
            );
        }
    }
}

fn check_meshes(inputs: &Inputs, report: &mut Report) {
    for (mesh_ref, mesh) in &inputs.meshes {
        let Some(istio) = &mesh.spec.istio else {
            continue;
        };
        let cluster = &istio.installation.cluster;
        if !cluster.is_empty() && !is_path_safe_cluster(cluster) {
            report.error(
                mesh.item,
                "spec.istio.installation.cluster",
                cluster_message(cluster),
            );
        }
        let namespace = &istio.installation.namespace;
        if !namespace.is_empty() && !is_dns_label(namespace) {
            report.error(
                mesh.item,
                "spec.istio.installation.namespace",
                format!(
                    "Istio's namespace {} is not a Kubernetes namespace name (a DNS-1123 label): vmesh writes cacerts and AuthorizationPolicies there. Write the namespace istiod runs in",
                    crate::model::quoted(namespace)
                ),
            );
        }
        let trust_domain = &istio.trust_domain;
        if !trust_domain.is_empty() && !is_trust_domain(trust_domain) {
            report.error(
                mesh.item,
                "spec.istio.trustDomain",
                format!(
                    "trust domain {} is not one Istio accepts (DNS labels of letters, digits and '-', separated by dots; ValidateTrustDomain): istiod would refuse the mesh config vmesh renders for it, and every principal of its AuthorizationPolicies carries it. Write the mesh's meshConfig.trustDomain",
                    crate::model::quoted(trust_domain)
                ),
            );
        }
        let account = &istio.istiod_service_account;
        if !account.is_empty() && !is_object_name(account) {
            report.error(
                mesh.item,
                "spec.istio.istiodServiceAccount",
                format!(
                    "istiod's service account {} is not a Kubernetes ServiceAccount name (a DNS-1123 subdomain): it goes into the SPIFFE identity of the mesh's intermediate CA. Write istiod's real ServiceAccount",
                    crate::model::quoted(account)
                ),
            );
        }
        for (i, gateway) in istio.ingress_gateways.iter().enumerate() {
            check_labels(
                &gateway.workload_labels,
                mesh.item,
                &format!("spec.istio.ingressGateways[{i}].workloadLabels"),
                &format!("ingress gateway {i} of Mesh {}", mesh_ref),
                report,
            );
            let address = gateway.address();
            let name = sanitize_name(if address.is_empty() {
                &gateway.name
            } else {
                address
            });
            let policy = format!("allow-ingress-gateway-{name}");
            if !is_object_name(&policy) {
                report.error(
                    mesh.item,
                    &format!("spec.istio.ingressGateways[{i}]"),
                    format!(
                        "the AuthorizationPolicy vmesh names after this gateway ({}) would not be a Kubernetes name (a DNS-1123 subdomain): write the gateway's dnsName, ip or name as Kubernetes does",
                        crate::model::quoted(&policy)
                    ),
                );
            }
        }
        let settings = super::istio_settings_name(mesh_ref);
        if !is_object_name(&settings) || !is_dns_label(&mesh_ref.namespace) {
            report.error(
                mesh.item,
                "metadata.name",
                format!(
                    "vmesh writes this mesh's Istio settings as ConfigMap {}/{}, which is not a Kubernetes name: give the Mesh a DNS-1123 name and namespace (lowercase letters, digits, '-' and '.')",
                    crate::model::quoted(&mesh_ref.namespace),
                    crate::model::quoted(&settings)
                ),
            );
        }
    }
}

fn check_virtual_meshes(inputs: &Inputs, report: &mut Report) {
    for vm in inputs.virtual_meshes.values() {
        let Some(federation) = &vm.spec.federation else {
            continue;
        };
        let suffix = &federation.hostname_suffix;
        // Checked here only once the suffix is a DNS name (check_federation_fields reports
        // the rest).
        if is_dns_subdomain(suffix) && numeric_top_level(suffix) {
            report.error(
                vm.item,
                "spec.federation.hostnameSuffix",
                format!(
                    "hostname suffix {} ends in an all-digit label: Istio refuses hosts whose top-level domain is all digits (ValidateFQDN), so every federated ServiceEntry, DestinationRule and Gateway would be rejected. End the suffix with a label that holds a letter (mesh.internal, say)",
                    crate::model::quoted(suffix)
                ),
            );
        }
    }
}

/// AccessPolicy values as Istio's `ValidateAuthorizationPolicy` checks them in the
/// AuthorizationPolicy they become (`pkg/config/security`): no empty value anywhere,
/// path templates `{*}`/`{**}` only as whole segments with `{**}` last and literal
/// segments around them, ports 1–65535 (Istio's `ValidatePorts` allows up to 65535; vmesh
/// refuses 0 too, which no connection has).
fn check_access_policies(inputs: &Inputs, report: &mut Report) {
    for policy in inputs.access_policies.values() {
        let spec = &policy.spec;
        let what = "the AuthorizationPolicy the webhook would reject is then missing, and with globalAccessPolicy ENABLED the Destination denies everything";
        for (i, path) in spec.allowed_paths.iter().enumerate() {
            if let Err(problem) = path_problem(path) {
                report.error(
                    policy.item,
                    &format!("spec.allowedPaths[{i}]"),
                    format!(
                        "path {} {problem} (Istio's CheckEmptyValues, CheckValidPathTemplate): {what}. Write an exact path, a prefix or suffix with one '*', or whole segments {{*}} and a final {{**}}",
                        crate::model::quoted(path)
                    ),
                );
            }
        }
        for (i, method) in spec.allowed_methods.iter().enumerate() {
            if method.is_empty() {
                report.error(
                    policy.item,
                    &format!("spec.allowedMethods[{i}]"),
                    format!("an empty method is not allowed (Istio's CheckEmptyValues): {what}. Remove it or write a method such as GET"),
                );
            }
        }
        for (i, port) in spec.allowed_ports.iter().enumerate() {
            if !(1..=65535).contains(port) {
                report.error(
                    policy.item,
                    &format!("spec.allowedPorts[{i}]"),
                    format!("port {port} is out of range 1-65535 (Istio's ValidatePorts): {what}. Write the Service port clients call"),
                );
            }
        }
        for (i, selector) in spec.source_selector.iter().enumerate() {
            if let Some(matcher) = &selector.kube_identity_matcher {
                for (j, ns) in matcher.namespaces.iter().enumerate() {
                    if !is_dns_label(ns) {
                        report.error(
                            policy.item,
                            &format!("spec.sourceSelector[{i}].kubeIdentityMatcher.namespaces[{j}]"),
                            format!(
                                "{} is not a Kubernetes namespace name (a DNS-1123 label; Istio refuses an empty one): no workload is in it. Write the namespace of the clients",
                                crate::model::quoted(ns)
                            ),
                        );
                    }
                }
                for (j, cluster) in matcher.clusters.iter().enumerate() {
                    if cluster.is_empty() {
                        report.error(
                            policy.item,
                            &format!("spec.sourceSelector[{i}].kubeIdentityMatcher.clusters[{j}]"),
                            "an empty cluster name matches no cluster: remove it, or write the clients' cluster",
                        );
                    }
                }
            }
            if let Some(refs) = &selector.kube_service_account_refs {
                for (j, sa) in refs.service_accounts.iter().enumerate() {
                    let field = format!(
                        "spec.sourceSelector[{i}].kubeServiceAccountRefs.serviceAccounts[{j}]"
                    );
                    if !sa.namespace.is_empty() && !is_dns_label(&sa.namespace) {
                        report.error(
                            policy.item,
                            &format!("{field}.namespace"),
                            format!(
                                "{} is not a Kubernetes namespace name (a DNS-1123 label): the principal would match no workload. Write the service account's namespace",
                                crate::model::quoted(&sa.namespace)
                            ),
                        );
                    }
                    if !sa.name.is_empty() && !is_object_name(&sa.name) {
                        report.error(
                            policy.item,
                            &format!("{field}.name"),
                            format!(
                                "{} is not a Kubernetes ServiceAccount name (a DNS-1123 subdomain): the principal would match no workload. Write the service account's name",
                                crate::model::quoted(&sa.name)
                            ),
                        );
                    }
                }
            }
        }
    }
}

/// Istio's rules for an AuthorizationPolicy `paths` value (`pkg/config/security`
/// `CheckEmptyValues`, `CheckValidPathTemplate`).
pub fn path_problem(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("is empty, which Istio does not allow");
    }
    let template = path.contains("{*}") || path.contains("{**}");
    let mut match_any = false;
    for segment in path.trim_matches('/').split('/') {
        if segment == "{*}" || segment == "{**}" {
            if match_any {
                return Err("has an operator after {**}, which must be the last");
            }
            match_any = segment == "{**}";
            continue;
        }
        if segment.contains(['{', '}']) {
            return Err("has '{' or '}' outside a whole-segment {*} or {**}");
        }
        if template && !is_path_literal(segment) {
            return Err("has a segment with characters a path template cannot hold");
        }
    }
    Ok(())
}

/// RFC 3986 `pchar` without percent-decoding, as Istio's `validLiteral` has it.
fn is_path_literal(segment: &str) -> bool {
    !segment.is_empty()
        && segment.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'.'
                        | b'_'
                        | b'~'
                        | b'%'
                        | b'!'
                        | b'$'
                        | b'&'
                        | b'\''
                        | b'('
                        | b')'
                        | b'+'
                        | b','
                        | b';'
                        | b':'
                        | b'@'
                        | b'='
                )
        })
}

/// East-west gateway addresses become remote ServiceEntry endpoints: an IP (STATIC) or a
/// host name (DNS), which Istio's `ValidateServiceEntry` holds to `ValidateFQDN`. A CIDR or
/// a name with `_` is neither.
fn check_gateways(inputs: &Inputs, plan: &Plan, report: &mut Report) {
    let mut seen: Vec<&ObjectRef> = Vec::new();
    for mesh in plan.meshes.values().filter(|m| m.multi_mesh) {
        for gateway in &mesh.gateways {
            if seen.contains(&&gateway.destination) {
                continue;
            }
            seen.push(&gateway.destination);
            let Some(destination) = inputs.destinations.get(&gateway.destination) else {
                continue;
            };
            let Some(service) = &destination.spec.kube_service else {
                continue;
            };
            for (i, address) in service.external_addresses.iter().enumerate() {
                let field = format!("spec.kubeService.externalAddresses[{i}]");
                let Some((which, problem)) = address_problem(&address.ip, &address.dns_name) else {
                    continue;
                };
                let value = if which == "ip" {
                    &address.ip
                } else {
                    &address.dns_name
                };
                report.error(
                    destination.item,
                    &format!("{field}.{which}"),
                    format!(
                        "{} cannot be an endpoint address ({problem}): other clusters reach the east-west gateway of mesh {} at it. Write the load balancer's single IP under ip, or its DNS name under dnsName",
                        crate::model::quoted(value),
                        mesh.mesh
                    ),
                );
            }
            let name = sanitize_name(&format!(
                "{}-{}",
                gateway.destination.name, gateway.destination.namespace
            ));
            if !is_object_name(&name) {
                report.error(
                    destination.item,
                    "metadata.name",
                    format!(
                        "vmesh names the east-west Gateway of this Destination {}, which is not a Kubernetes name (a DNS-1123 subdomain): give the Destination a lowercase DNS-1123 name and namespace",
                        crate::model::quoted(&name)
                    ),
                );
            }
        }
    }
}

/// A trust domain as Istio's `ValidateTrustDomain` (pkg/config/validation/agent) accepts it:
/// labels of `[A-Za-z0-9-]`, alphanumeric at both ends, at most 63 characters, separated by
/// dots (a final dot allowed).
pub fn is_trust_domain(domain: &str) -> bool {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    !domain.is_empty()
        && domain.split('.').all(|label| {
            let bytes = label.as_bytes();
            !bytes.is_empty()
                && bytes.len() <= 63
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
                && bytes[0] != b'-'
                && bytes[bytes.len() - 1] != b'-'
        })
}

/// What is wrong with a gateway's external address, as `(field, problem)`: `dnsName` wins
/// over `ip` (Gloo Mesh's order); an IP must parse, a name must pass Istio's `ValidateFQDN`.
pub fn address_problem(ip: &str, dns_name: &str) -> Option<(&'static str, &'static str)> {
    if !dns_name.is_empty() {
        return (!super::names::is_istio_fqdn(dns_name)).then_some((
            "dnsName",
            "Istio accepts only DNS-1123 labels with a top-level label that is not all digits (ValidateFQDN)",
        ));
    }
    if ip.is_empty() || ip.parse::<IpAddr>().is_ok() {
        return None;
    }
    Some((
        "ip",
        if ip.contains('/') {
            "a CIDR is a range, not an address"
        } else {
            "it is not an IPv4 or IPv6 address"
        },
    ))
}

/// Federated hosts: the SNI a client sends must fit BoringSSL's limit, and the host must
/// not be a Kubernetes Service name of a cluster that sees it.
fn check_federated_hosts(inputs: &Inputs, plan: &Plan, report: &mut Report) {
    let domain_of = |cluster: &str| -> &str {
        inputs
            .clusters
            .get(cluster)
            .map(|c| c.spec.cluster_domain.as_str())
            .filter(|d| !d.is_empty())
            .unwrap_or(DEFAULT_CLUSTER_DOMAIN)
    };
    for federation in &plan.federations {
        let Some(destination) = inputs.destinations.get(&federation.destination) else {
            continue;
        };
        let vm = &federation.virtual_mesh;
        // Istio's SNI for a federated call: `outbound_.<port>_._.<host>` (model.BuildDNSSrvSubsetKey).
        if let Some(port) = federation.ports.iter().map(|p| p.number).max() {
            let sni = format!("outbound_.{port}_._.{}", federation.hostname);
            if sni.len() > MAX_SNI_BYTES {
                report.error(
                    destination.item,
                    "spec.kubeService.ref",
                    format!(
                        "the SNI of federated host {} on port {port} ({} bytes, outbound_.{port}_._.<host>) is longer than the {MAX_SNI_BYTES} bytes BoringSSL sends, so no client could connect: shorten the Service name, namespace or cluster name, or VirtualMesh {} spec.federation.hostnameSuffix, by {} characters",
                        federation.hostname,
                        sni.len(),
                        vm,
                        sni.len() - MAX_SNI_BYTES
                    ),
                );
            }
        }
        // `<svc>.<ns>.svc.<cluster>.<suffix>` is the Kubernetes name of Service <svc>/<ns>
        // wherever `<cluster>.<suffix>` is the cluster domain: istiod then keeps the
        // Kubernetes Service and drops the ServiceEntry (sidecar.go appendSidecarServices).
        let domain_part = federated_domain(federation);
        let mut clusters: Vec<&str> = federation
            .targets
            .iter()
            .map(|t| t.cluster.as_str())
            .collect();
        clusters.push(&federation.service.cluster_name);
        clusters.sort_unstable();
        clusters.dedup();
        for cluster in clusters {
            let domain = domain_of(cluster);
            if domain_part == domain {
                report.error(
                    destination.item,
                    "spec.kubeService.ref.clusterName",
                    format!(
                        "federated host {} is the Kubernetes name of Service {}/{} in cluster {cluster} (its cluster domain is {domain}): Istio prefers the Kubernetes Service, so the federation would do nothing there. Change VirtualMesh {} spec.federation.hostnameSuffix so that <cluster>.<suffix> is no cluster's domain",
                        federation.hostname,
                        federation.service.namespace,
                        federation.service.name,
                        vm
                    ),
                );
                break;
            }
        }
    }
}

/// `<cluster>.<suffix>` of a federated host `<svc>.<ns>.svc.<cluster>.<suffix>`.
fn federated_domain(federation: &super::federation::Federation) -> &str {
    let prefix = federation.service.name.len() + federation.service.namespace.len() + 6;
    federation.hostname.get(prefix..).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Verdicts of Istio's `CheckValidPathTemplate` and `CheckEmptyValues` on the same paths
    /// (pkg/config/security security_test.go has these shapes).
    #[test]
    fn paths_follow_istio() {
        for ok in [
            "/",
            "/api",
            "/api/*",
            "*.html",
            "/a/{*}/b",
            "/a/{**}",
            "/a/{*}/{**}",
            "/api/{**}/v1",
        ] {
            assert_eq!(path_problem(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "/a/{**}/{*}",
            "/a{*}",
            "/a/{x}",
            "/{*}/b c",
            "/{**}/{**}",
        ] {
            assert!(path_problem(bad).is_err(), "{bad}");
        }
    }

    /// The values of conformance/istio/testdata/verdicts.json, whose `valid` is Istio's own
    /// verdict (the harness's TestVerdicts checks it with Istio's validators): vmesh accepts
    /// exactly those, except where `vmeshStricter` says it refuses a value Istio accepts.
    #[test]
    fn verdicts_agree_with_istio() {
        let text = include_str!("../../conformance/istio/testdata/verdicts.json");
        let all: serde_json::Value = serde_json::from_str(text).unwrap();
        let cases = |key: &str| -> Vec<(serde_json::Value, String, bool)> {
            all[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    let vmesh = c["valid"].as_bool().unwrap()
                        && !c["vmeshStricter"].as_bool().unwrap_or(false);
                    (
                        c["value"].clone(),
                        c["field"].as_str().unwrap_or("").to_string(),
                        vmesh,
                    )
                })
                .collect()
        };
        let text_of = |v: &serde_json::Value| v.as_str().unwrap().to_string();
        for (value, _, valid) in cases("paths") {
            assert_eq!(path_problem(&text_of(&value)).is_ok(), valid, "{value}");
        }
        for (value, _, valid) in cases("methods") {
            assert_eq!(!text_of(&value).is_empty(), valid, "{value}");
        }
        for (value, _, valid) in cases("ports") {
            let port = value.as_u64().unwrap();
            assert_eq!((1..=65535).contains(&port), valid, "{value}");
        }
        for (value, _, valid) in cases("namespaces") {
            assert_eq!(is_dns_label(&text_of(&value)), valid, "{value}");
        }
        for (value, _, valid) in cases("hostnameSuffixes") {
            let suffix = text_of(&value);
            let vmesh = is_dns_subdomain(&suffix) && !numeric_top_level(&suffix);
            assert_eq!(vmesh, valid, "{value}");
        }
        for (value, _, valid) in cases("trustDomains") {
            assert_eq!(is_trust_domain(&text_of(&value)), valid, "{value}");
        }
        for (value, field, valid) in cases("gatewayAddresses") {
            let address = text_of(&value);
            let problem = if field == "ip" {
                address_problem(&address, "")
            } else {
                address_problem("", &address)
            };
            assert_eq!(problem.is_none(), valid, "{value}");
        }
    }
}
