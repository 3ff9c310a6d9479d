//! Checks every rendered object the way Istio would: the JSON Schemas of the Istio 1.30.3
//! CRDs (vendored in testdata/schemas) plus the webhook rules schemas cannot express
//! (shared/reference/istio.md §C, copied into docs/istio-rules.md).

use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::Path;
use std::sync::OnceLock;

fn validators() -> &'static HashMap<(String, String), jsonschema::Validator> {
    static VALIDATORS: OnceLock<HashMap<(String, String), jsonschema::Validator>> = OnceLock::new();
    VALIDATORS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/schemas");
        let mut map = HashMap::new();
        for entry in std::fs::read_dir(&dir).expect("testdata/schemas exists") {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let schema: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let validator = jsonschema::draft202012::options()
                .should_validate_formats(true)
                .build(&schema)
                .unwrap_or_else(|e| panic!("schema {name}: {e}"));
            let key = if name == "v1_Secret_cacerts" {
                ("v1".to_string(), "Secret".to_string())
            } else {
                // group_version_Kind
                let mut parts = name.rsplitn(3, '_');
                let kind = parts.next().unwrap().to_string();
                let version = parts.next().unwrap();
                let group = parts.next().unwrap();
                (format!("{group}/{version}"), kind)
            };
            map.insert(key, validator);
        }
        map
    })
}

/// Every problem Istio (or the API server) would have with `object`. Empty when valid.
pub fn problems(object: &Value) -> Vec<String> {
    let api_version = object["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let kind = object["kind"].as_str().unwrap_or_default().to_string();
    let mut found = Vec::new();
    if kind == "Secret" && object["metadata"]["name"] != "cacerts" {
        root_secret(object, &mut found);
        return found;
    }
    if kind == "ConfigMap" {
        istio_settings(object, &mut found);
        return found;
    }
    match validators().get(&(api_version.clone(), kind.clone())) {
        Some(validator) => {
            // Only paths, never the instance: Secrets hold keys.
            for error in validator.iter_errors(object) {
                found.push(format!(
                    "schema: violation at {} (rule {})",
                    error.instance_path(),
                    error.schema_path()
                ));
            }
        }
        None => found.push(format!("no schema for {api_version} {kind}")),
    }
    check_metadata(object, &mut found);
    let spec = &object["spec"];
    match kind.as_str() {
        "ServiceEntry" => service_entry(object, spec, &mut found),
        "DestinationRule" => destination_rule(spec, &mut found),
        "Gateway" => gateway(object, spec, &mut found),
        "AuthorizationPolicy" => authorization_policy(spec, &mut found),
        _ => {}
    }
    found
}

/// The generated root CA Secret is a management item: never applied, so no cluster schema;
/// check its shape instead.
fn root_secret(object: &Value, found: &mut Vec<String>) {
    let annotations = &object["metadata"]["annotations"];
    if annotations["config.kubernetes.io/local-config"] != "true" {
        found.push("a root CA Secret must be local-config".into());
    }
    if annotations.get("vmesh.dev/cluster").is_some() {
        found.push("a root CA Secret must not name a workload cluster".into());
    }
    for key in ["root-cert.pem", "key.pem"] {
        if object["data"][key].as_str().is_none_or(str::is_empty) {
            found.push(format!("root CA Secret lacks {key}"));
        }
    }
}

/// A mesh's Istio settings: a local-config ConfigMap for its cluster whose `values.yaml` is a
/// YAML mapping with a `meshConfig` (the Istio harness loads it with istiod's loader).
fn istio_settings(object: &Value, found: &mut Vec<String>) {
    let annotations = &object["metadata"]["annotations"];
    if annotations["config.kubernetes.io/local-config"] != "true" {
        found.push("Istio settings must be local-config".into());
    }
    if annotations["vmesh.dev/istio-settings"] != "istiod-helm-values" {
        found
            .push("a generated ConfigMap must be Istio settings (vmesh.dev/istio-settings)".into());
    }
    if annotations.get("vmesh.dev/cluster").is_some() {
        found.push("Istio settings are applied to no cluster: no vmesh.dev/cluster".into());
    }
    if annotations
        .get("vmesh.dev/istio-settings-cluster")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        found.push("Istio settings must name their cluster".into());
    }
    let values = object["data"]["values.yaml"].as_str().unwrap_or_default();
    match serde_saphyr::from_str::<Value>(values) {
        Ok(parsed) if parsed["meshConfig"].is_object() => {}
        Ok(_) => found.push("values.yaml has no meshConfig mapping".into()),
        Err(e) => found.push(format!("values.yaml is not YAML: {e}")),
    }
}

fn check_metadata(object: &Value, found: &mut Vec<String>) {
    let meta = &object["metadata"];
    for forbidden in [
        "internal.istio.io/webhook-always-reject",
        "internal.istio.io/parents",
        "internal.istio.io/parent-namespace",
    ] {
        if meta["annotations"].get(forbidden).is_some() {
            found.push(format!("annotation {forbidden} is rejected by istiod"));
        }
    }
    if let Some(labels) = meta["labels"].as_object() {
        for (k, v) in labels {
            if !label_value(v.as_str().unwrap_or("")) {
                found.push(format!("label {k}={v} is not a valid label value"));
            }
        }
    }
}

fn label_value(s: &str) -> bool {
    let b = s.as_bytes();
    b.is_empty()
        || (b.len() <= 63
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric())
}

fn dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// Istio's `ValidateWildcardDomain`: a wildcard first label allowed, other labels DNS-1123
/// labels, the top-level label not all-numeric.
fn wildcard_domain(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() || host.len() > 255 {
        return false;
    }
    let labels: Vec<&str> = host.split('.').collect();
    for (i, label) in labels.iter().enumerate() {
        let ok = if i == 0 && label.starts_with('*') {
            *label == "*" || dns_label(label[1..].trim_start_matches('-')) || label[1..].is_empty()
        } else {
            dns_label(&label.to_ascii_lowercase())
        };
        if !ok {
            return false;
        }
    }
    !labels.last().unwrap().chars().all(|c| c.is_ascii_digit())
}

fn ports_in_range(values: &Value) -> bool {
    values.as_u64().is_some_and(|p| (1..=65535).contains(&p))
}

fn export_to(spec: &Value, allow_tilde: bool, found: &mut Vec<String>) {
    let Some(list) = spec["exportTo"].as_array() else {
        return;
    };
    let mut seen = HashSet::new();
    for value in list {
        let v = value.as_str().unwrap_or("");
        if !seen.insert(v) {
            found.push(format!("exportTo has {v:?} twice"));
        }
        let ok = v == "." || v == "*" || (allow_tilde && v == "~") || dns_label(v);
        if !ok {
            found.push(format!("exportTo value {v:?} is not ., * or a namespace"));
        }
        if (v == "*" || v == "~") && list.len() > 1 {
            found.push(format!("exportTo {v:?} cannot be combined"));
        }
    }
}

fn service_entry(object: &Value, spec: &Value, found: &mut Vec<String>) {
    let hosts = spec["hosts"].as_array().cloned().unwrap_or_default();
    if hosts.is_empty() {
        found.push("ServiceEntry needs at least one host".into());
    }
    for h in &hosts {
        let h = h.as_str().unwrap_or("");
        if h == "*" || !wildcard_domain(h) {
            found.push(format!("ServiceEntry host {h:?} is invalid"));
        }
    }
    for a in spec["addresses"].as_array().into_iter().flatten() {
        let a = a.as_str().unwrap_or("");
        let ip = a.split('/').next().unwrap_or("");
        if ip.parse::<IpAddr>().is_err() {
            found.push(format!("address {a:?} is not an IP or CIDR"));
        }
    }
    let ports = spec["ports"].as_array().cloned().unwrap_or_default();
    let mut names = HashSet::new();
    let mut numbers = HashSet::new();
    const PROTOCOLS: &[&str] = &[
        "HTTP",
        "HTTPS",
        "GRPC",
        "GRPC-WEB",
        "HTTP2",
        "HTTP_PROXY",
        "TCP",
        "TLS",
        "UDP",
        "MONGO",
        "REDIS",
        "MYSQL",
    ];
    for p in &ports {
        let name = p["name"].as_str().unwrap_or("");
        if !dns_label(name) {
            found.push(format!("port name {name:?} is not a DNS-1123 label"));
        }
        if !names.insert(name.to_string()) {
            found.push(format!("duplicate port name {name:?}"));
        }
        if !numbers.insert(p["number"].as_u64()) {
            found.push(format!("duplicate port number {}", p["number"]));
        }
        if !ports_in_range(&p["number"]) {
            found.push(format!("port number {} out of range", p["number"]));
        }
        if let Some(proto) = p["protocol"].as_str()
            && !PROTOCOLS.contains(&proto.to_ascii_uppercase().as_str())
        {
            found.push(format!("protocol {proto:?} is not one Istio knows"));
        }
        if !p["targetPort"].is_null() && !ports_in_range(&p["targetPort"]) {
            found.push(format!("targetPort {} out of range", p["targetPort"]));
        }
    }
    let resolution = spec["resolution"].as_str().unwrap_or("NONE");
    let endpoints = spec["endpoints"].as_array().cloned().unwrap_or_default();
    if !spec["workloadSelector"].is_null() && !endpoints.is_empty() {
        found.push("workloadSelector and endpoints are exclusive".into());
    }
    if resolution == "NONE" && !spec["workloadSelector"].is_null() {
        found.push("workloadSelector with resolution NONE is ignored by Istio".into());
    }
    for e in &endpoints {
        let address = e["address"].as_str().unwrap_or("");
        match resolution {
            "STATIC" if address.parse::<IpAddr>().is_err() => {
                found.push(format!("STATIC endpoint address {address:?} is not an IP"))
            }
            "DNS" | "DNS_ROUND_ROBIN"
                if address.parse::<IpAddr>().is_err() && !wildcard_domain(address) =>
            {
                found.push(format!(
                    "DNS endpoint address {address:?} is neither IP nor FQDN"
                ))
            }
            _ => {}
        }
        for (name, port) in e["ports"].as_object().into_iter().flatten() {
            if !names.contains(name) {
                found.push(format!("endpoint port {name:?} is not a ServiceEntry port"));
            }
            if !ports_in_range(port) {
                found.push(format!("endpoint port {port} out of range"));
            }
        }
        for (k, v) in e["labels"].as_object().into_iter().flatten() {
            if k.is_empty() || !label_value(v.as_str().unwrap_or("")) {
                found.push(format!("endpoint label {k}={v} is invalid"));
            }
        }
        if let Some(locality) = e["locality"].as_str()
            && (locality.is_empty() || locality.starts_with('/') || locality.split('/').count() > 3)
        {
            found.push(format!("locality {locality:?} is not region/zone/subzone"));
        }
    }
    if resolution != "NONE" && hosts.len() > 1 {
        for p in &ports {
            let proto = p["protocol"].as_str().unwrap_or("").to_ascii_uppercase();
            if ![
                "HTTP",
                "HTTPS",
                "GRPC",
                "GRPC-WEB",
                "HTTP2",
                "HTTP_PROXY",
                "TLS",
            ]
            .contains(&proto.as_str())
            {
                found.push("multiple hosts with non-HTTP, non-TLS ports".into());
            }
        }
    }
    if spec["addresses"].as_array().is_none_or(|a| a.is_empty())
        && resolution != "NONE"
        && spec["workloadSelector"].is_null()
        && ports.iter().any(|p| {
            p["protocol"]
                .as_str()
                .is_none_or(|x| x.eq_ignore_ascii_case("TCP"))
        })
    {
        found.push("TCP ports without addresses".into());
    }
    let _ = object;
    export_to(spec, true, found);
}

fn check_duration(text: &str, what: &str, found: &mut Vec<String>) {
    // Accept the forms vmesh writes: `<seconds>[.<fraction>]s`.
    let Some(number) = text.strip_suffix('s') else {
        found.push(format!("{what} {text:?} is not a seconds duration"));
        return;
    };
    match number.parse::<f64>() {
        Ok(seconds)
            if seconds >= 0.001 && ((seconds * 1000.0).round() - seconds * 1000.0).abs() < 1e-6 => {
        }
        _ => found.push(format!(
            "{what} {text:?} must be >= 1ms and whole milliseconds"
        )),
    }
}

fn destination_rule(spec: &Value, found: &mut Vec<String>) {
    let host = spec["host"].as_str().unwrap_or("");
    if !wildcard_domain(host) {
        found.push(format!("DestinationRule host {host:?} is invalid"));
    }
    let mut subset_names = HashSet::new();
    for s in spec["subsets"].as_array().into_iter().flatten() {
        let name = s["name"].as_str().unwrap_or("");
        if !dns_label(name) || !subset_names.insert(name.to_string()) {
            found.push(format!("subset name {name:?} invalid or duplicate"));
        }
    }
    let policy = &spec["trafficPolicy"];
    if let Some(map) = policy.as_object() {
        if map.is_empty() {
            found.push("trafficPolicy must set at least one field".into());
        }
        if let Some(pool) = policy.get("connectionPool") {
            if pool.get("http").is_none() && pool.get("tcp").is_none() {
                found.push("connectionPool must set http or tcp".into());
            }
            if let Some(keepalive) = pool.pointer("/tcp/tcpKeepalive") {
                for field in ["time", "interval"] {
                    if let Some(t) = keepalive[field].as_str() {
                        check_duration(t, field, found);
                    }
                }
            }
        }
        if let Some(tls) = policy.get("tls")
            && tls["mode"] == "ISTIO_MUTUAL"
            && tls.as_object().is_some_and(|m| m.len() > 1)
        {
            found.push("ISTIO_MUTUAL must not set other TLS fields".into());
        }
    }
    if !spec["workloadSelector"].is_null()
        && spec["exportTo"]
            .as_array()
            .is_some_and(|l| l.iter().any(|v| v != "."))
    {
        found.push(
            "a DestinationRule with workloadSelector may only be exported to its namespace".into(),
        );
    }
    export_to(spec, false, found);
}

fn gateway(object: &Value, spec: &Value, found: &mut Vec<String>) {
    let name = object["metadata"]["name"].as_str().unwrap_or("");
    if !dns_label(name) {
        found.push(format!("Gateway name {name:?} must be a DNS-1123 label"));
    }
    let servers = spec["servers"].as_array().cloned().unwrap_or_default();
    if servers.is_empty() {
        found.push("Gateway needs a server".into());
    }
    let mut port_names = HashSet::new();
    for s in &servers {
        let hosts = s["hosts"].as_array().cloned().unwrap_or_default();
        if hosts.is_empty() {
            found.push("Gateway server needs a host".into());
        }
        for h in hosts {
            let h = h.as_str().unwrap_or("");
            let dns = h.split_once('/').map_or(h, |(_, d)| d);
            if !(dns == "*" || wildcard_domain(dns))
                || dns.contains('*') && !dns.starts_with("*.") && dns != "*"
            {
                found.push(format!("Gateway host {h:?} is invalid"));
            }
        }
        let port = &s["port"];
        let pname = port["name"].as_str().unwrap_or("");
        if pname.is_empty() || !port_names.insert(pname.to_string()) {
            found.push(format!("Gateway port name {pname:?} missing or not unique"));
        }
        if !ports_in_range(&port["number"]) {
            found.push("Gateway port number out of range".into());
        }
        if port.get("targetPort").is_some() {
            found.push("Gateway port must not set targetPort".into());
        }
        let proto = port["protocol"].as_str().unwrap_or("").to_ascii_uppercase();
        if (proto == "HTTPS" || proto == "TLS") && s.get("tls").is_none() {
            found.push("HTTPS/TLS Gateway servers need tls".into());
        }
    }
    for (k, v) in spec["selector"].as_object().into_iter().flatten() {
        let v = v.as_str().unwrap_or("");
        if k.is_empty() || k.contains('*') || v.contains('*') {
            found.push(format!("selector {k}={v} is invalid"));
        }
    }
}

fn authorization_policy(spec: &Value, found: &mut Vec<String>) {
    let action = spec["action"].as_str().unwrap_or("ALLOW");
    if action == "DENY" && spec.get("rules").is_none() {
        found.push("DENY needs rules".into());
    }
    for (k, v) in spec
        .pointer("/selector/matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let v = v.as_str().unwrap_or("");
        if k.is_empty() || k.contains('*') || v.contains('*') {
            found.push(format!("selector {k}={v} is invalid"));
        }
    }
    for rule in spec["rules"].as_array().into_iter().flatten() {
        for (field, inner) in [("from", "source"), ("to", "operation")] {
            let Some(list) = rule.get(field) else {
                continue;
            };
            let list = list.as_array().cloned().unwrap_or_default();
            if list.is_empty() {
                found.push(format!("`{field}` must not be an empty list"));
            }
            for entry in list {
                match entry.get(inner).and_then(Value::as_object) {
                    Some(m) if !m.is_empty() => {
                        for values in m.values() {
                            for v in values.as_array().into_iter().flatten() {
                                if v.as_str().is_some_and(str::is_empty) {
                                    found.push(format!("empty string in {field}.{inner}"));
                                }
                            }
                        }
                    }
                    _ => found.push(format!("`{field}.{inner}` must not be empty")),
                }
            }
        }
        for p in rule
            .pointer("/to/0/operation/ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let ok = p
                .as_str()
                .and_then(|s| s.parse::<u32>().ok())
                .is_some_and(|n| n <= 65535);
            if !ok {
                found.push(format!("operation port {p} is not a decimal port"));
            }
        }
        for source in rule["from"].as_array().into_iter().flatten() {
            for p in source
                .pointer("/source/principals")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if p.as_str().is_some_and(|s| s.starts_with("spiffe://")) {
                    found.push("principals must not carry spiffe://".into());
                }
            }
        }
    }
}
