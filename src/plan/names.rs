//! Names, hostnames, durations and message formats shared by the planning steps.

use md5::{Digest, Md5};

/// Gloo Mesh's `SanitizeNameV2` (solo-io/k8s-utils): turns a string into a Kubernetes name
/// of at most 63 characters; longer names keep their first 31 characters plus an MD5 hash.
pub fn sanitize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '*' | '/' | '.' | ':' | '_' | ' ' => out.push('-'),
            '[' | ']' | '\n' | '"' | '\'' => {}
            c => out.push(c),
        }
    }
    if out.len() > 63 {
        let hash = Md5::digest(out.as_bytes());
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        let prefix = truncate_to_char_boundary(&out, 31);
        out = format!("{prefix}-{hex}");
        out = truncate_to_char_boundary(&out, 63).to_string();
    }
    out.replace('.', "-").to_lowercase()
}

fn truncate_to_char_boundary(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A DNS-1123 label: lowercase alphanumerics and `-`, starting and ending alphanumeric,
/// at most 63 characters.
pub fn is_dns_label(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// A DNS-1123 subdomain: dot-separated labels, at most 253 characters.
pub fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// A Kubernetes label value: empty, or at most 63 of `[A-Za-z0-9._-]`, alphanumeric at
/// both ends.
pub fn is_label_value(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.is_empty()
        || (bytes.len() <= 63
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && bytes[0].is_ascii_alphanumeric()
            && bytes[bytes.len() - 1].is_ascii_alphanumeric())
}

/// A Kubernetes object name (`IsDNS1123Subdomain` in k8s.io/apimachinery
/// pkg/util/validation): at most 253 characters of lowercase alphanumerics, `-` and `.`,
/// each dot-separated part starting and ending alphanumeric. Unlike `is_dns_subdomain`
/// (host names), a part may be longer than 63 characters.
pub fn is_object_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|part| {
            let bytes = part.as_bytes();
            !bytes.is_empty()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
                && bytes[0] != b'-'
                && bytes[bytes.len() - 1] != b'-'
        })
}

/// A DNS-1035 label (Kubernetes' rule for Service names, `ValidateServiceName` in
/// k8s.io/kubernetes pkg/apis/core/validation): a DNS-1123 label that starts with a letter.
pub fn is_dns1035_label(s: &str) -> bool {
    is_dns_label(s) && s.as_bytes()[0].is_ascii_lowercase()
}

/// A Kubernetes label key (`IsQualifiedName` in k8s.io/apimachinery
/// pkg/util/validation): an optional DNS-1123 subdomain prefix and `/`, then a name of at
/// most 63 of `[A-Za-z0-9._-]`, alphanumeric at both ends.
pub fn is_qualified_name(s: &str) -> bool {
    let (prefix, name) = match s.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, s),
    };
    if let Some(prefix) = prefix
        && (prefix.is_empty() || !is_dns_subdomain(prefix))
    {
        return false;
    }
    !name.is_empty() && is_label_value(name)
}

/// An Istio FQDN (`ValidateFQDN` in istio pkg/config/validation/agent): DNS-1123 labels,
/// at most 255 characters, and a top-level label that is not all digits (Istio refuses
/// numeric top-level domains).
pub fn is_istio_fqdn(s: &str) -> bool {
    s.len() <= 253 && is_dns_subdomain(s) && !numeric_top_level(s)
}

/// The last label of a dotted name is all digits (`example.123`).
pub fn numeric_top_level(s: &str) -> bool {
    let last = s.rsplit('.').next().unwrap_or("");
    !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit())
}

/// A cluster name vmesh can use as one path component (`clusters/<cluster>/…` in kpt's
/// path annotation, `OUT/<cluster>/` for `vmesh render --out`): ASCII letters, digits,
/// `.`, `_` and `-`, not starting with `.` (so never `.` or `..`), at most 253 bytes.
pub fn is_path_safe_cluster(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The longest Kubernetes object name (a DNS-1123 subdomain).
pub const MAX_NAME: usize = 253;

/// The names of the remote DestinationRules of federated Services, in the order given.
/// Gloo Mesh's readable `<svc>-<ns>-<cluster>` is kept where it is unique and fits;
/// Services whose readable names coincide (`a-b`/`c` and `a`/`b-c` in one cluster), or a
/// name over 253 characters, get `<readable, cut>-<8 hex of SHA-256 of the Service's key
/// name.namespace.cluster>` instead — every one of the colliding Services, so the name does
/// not depend on input order (docs/decisions.md).
pub fn remote_rule_names<'a>(
    services: impl Iterator<Item = &'a crate::model::common::ClusterObjectRef>,
) -> Vec<String> {
    use sha2::{Digest, Sha256};
    use std::collections::{BTreeSet, HashMap};
    let services: Vec<&crate::model::common::ClusterObjectRef> = services.collect();
    let readable: Vec<String> = services
        .iter()
        .map(|s| format!("{}-{}-{}", s.name, s.namespace, s.cluster_name))
        .collect();
    let mut keys_by_name: HashMap<&str, BTreeSet<String>> = HashMap::new();
    for (name, service) in readable.iter().zip(&services) {
        keys_by_name
            .entry(name.as_str())
            .or_default()
            .insert(service.key());
    }
    readable
        .iter()
        .zip(&services)
        .map(|(name, service)| {
            if name.len() <= MAX_NAME && keys_by_name[name.as_str()].len() == 1 {
                return name.clone();
            }
            let digest = Sha256::digest(service.key().as_bytes());
            let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
            let cut = truncate_to_char_boundary(name, MAX_NAME - 9).trim_end_matches(['-', '.']);
            format!("{cut}-{hash}")
        })
        .collect()
}

/// hashicorp/go-multierror's text, as Gloo Mesh's validation messages carry it.
pub fn multierror(errors: &[String]) -> String {
    let head = match errors.len() {
        1 => "1 error occurred:".to_string(),
        n => format!("{n} errors occurred:"),
    };
    let mut text = head;
    for e in errors {
        text.push_str("\n\t* ");
        text.push_str(e);
    }
    text.push_str("\n\n");
    text
}

/// Parses a Go (`1m30s`, `250ms`) or proto-JSON (`1.5s`) duration into nanoseconds.
pub fn parse_duration(text: &str) -> Result<u128, String> {
    let invalid = || format!("invalid duration {text:?}: expected a form like 10s, 1m30s or 250ms");
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest.is_empty() || rest.starts_with('-') {
        return Err(invalid());
    }
    if rest == "0" {
        return Ok(0);
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let (number, tail) = rest.split_at(number_len);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(invalid()),
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() {
            return Err(invalid());
        }
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| invalid())?
        };
        let mut value = whole.checked_mul(scale).ok_or_else(invalid)?;
        let mut place = scale;
        for digit in fraction.chars() {
            place /= 10;
            value += u128::from(digit.to_digit(10).ok_or_else(invalid)?) * place;
        }
        total = total.checked_add(value).ok_or_else(invalid)?;
        rest = tail;
    }
    Ok(total)
}

/// Formats nanoseconds as the proto-JSON form Istio reads everywhere (`10s`, `0.25s`).
pub fn format_duration(nanos: u128) -> String {
    let seconds = nanos / 1_000_000_000;
    let fraction = nanos % 1_000_000_000;
    if fraction == 0 {
        format!("{seconds}s")
    } else {
        let digits = format!("{fraction:09}");
        format!("{seconds}.{}s", digits.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_matches_gloo_mesh() {
        assert_eq!(
            sanitize_name("istio-ingressgateway-istio-system-cluster-1.gloo-mesh"),
            "istio-ingressgateway-istio-system-cluster-1-gloo-mesh"
        );
        assert_eq!(sanitize_name("35.1.2.3"), "35-1-2-3");
        assert_eq!(
            sanitize_name(&"a".repeat(70)),
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-0f5c6c4e740bfcc08c3c26ccb2673d4"
        );
    }

    #[test]
    fn durations_parse_and_format() {
        assert_eq!(parse_duration("10s").unwrap(), 10_000_000_000);
        assert_eq!(parse_duration("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(parse_duration("0.25s").unwrap(), 250_000_000);
        assert_eq!(parse_duration("2s3ns").unwrap(), 2_000_000_003);
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("1x").is_err());
        assert_eq!(format_duration(90_000_000_000), "90s");
        assert_eq!(format_duration(250_000_000), "0.25s");
    }

    #[test]
    fn multierror_matches_hashicorp_format() {
        assert_eq!(
            multierror(&[
                "'name' must be specified'".into(),
                "'namespace' must be specified'".into()
            ]),
            "2 errors occurred:\n\t* 'name' must be specified'\n\t* 'namespace' must be specified'\n\n"
        );
    }

    #[test]
    fn remote_rule_names_are_readable_unless_they_collide_or_are_too_long() {
        use crate::model::common::ClusterObjectRef;
        let service = |name: &str, namespace: &str, cluster: &str| ClusterObjectRef {
            name: name.into(),
            namespace: namespace.into(),
            cluster_name: cluster.into(),
        };
        let a = service("a-b", "c", "cluster-1");
        let b = service("a", "b-c", "cluster-1");
        let other = service("echo", "apps", "cluster-1");
        let long = service(&"s".repeat(63), &"n".repeat(63), &"c".repeat(200));
        let names = remote_rule_names([&a, &b, &other, &a, &long].into_iter());
        assert_eq!(names[2], "echo-apps-cluster-1");
        assert_ne!(names[0], names[1]);
        assert!(names[0].starts_with("a-b-c-cluster-1-") && names[0].len() == 24);
        assert_eq!(names[0], names[3], "one Service, one name");
        assert!(names[4].len() <= MAX_NAME && !names[4].ends_with('-'));
        // Order does not matter.
        let reversed = remote_rule_names([&b, &a].into_iter());
        assert_eq!((&reversed[1], &reversed[0]), (&names[0], &names[1]));
    }

    #[test]
    fn dns_names() {
        assert!(is_dns_label("istio-system"));
        assert!(!is_dns_label("TCP"));
        assert!(!is_dns_label("a.b"));
        assert!(is_dns_subdomain("reviews.bookinfo.svc.cluster-1.global"));
        assert!(!is_dns_subdomain("a..b"));
        assert!(is_object_name(&format!("allow-{}", "a".repeat(80))));
        assert!(!is_object_name("Echo"));
        assert!(!is_object_name(&"a".repeat(254)));
        assert!(is_dns1035_label("echo"));
        assert!(!is_dns1035_label("1echo"));
        assert!(is_qualified_name("app.kubernetes.io/name"));
        assert!(is_qualified_name("Version_2"));
        assert!(!is_qualified_name("/app"));
        assert!(!is_qualified_name("a/b/c"));
        assert!(!is_qualified_name("app;rm"));
        assert!(is_istio_fqdn("echo.apps.svc.cluster-1.global"));
        assert!(!is_istio_fqdn("echo.apps.svc.cluster-1.123"));
        assert!(is_path_safe_cluster("gke_proj_us-east1_c1"));
        assert!(!is_path_safe_cluster("../../x"));
        assert!(!is_path_safe_cluster(".."));
        assert!(!is_path_safe_cluster("a/b"));
    }
}
