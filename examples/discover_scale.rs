//! Discovery at scale: writes a kubectl-shaped dump of one large cluster, or times
//! discovering it against serde-saphyr parsing it.
//!
//! ```text
//! cargo run --release --example discover_scale -- generate SERVICES PODS_PER_SERVICE > dump.yaml
//! cargo run --release --example discover_scale -- parse dump.yaml      # serde-saphyr into a tree
//! cargo run --release --example discover_scale -- skim dump.yaml       # serde-saphyr keeping nothing
//! cargo run --release --example discover_scale -- discover dump.yaml   # read + discover
//! ```
//!
//! `parse` and `discover` print seconds; run them under `/usr/bin/time -v` for peak memory.
//! The dump has 50 injected namespaces, one Deployment and Service per service, and that
//! many pods each, with the fields a real `kubectl get pods -o yaml` carries (env, mounts,
//! probes, statuses), since most of a real dump is pods.

use serde_json::{Value, json};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["generate", services, pods] => generate(services.parse().unwrap(), pods.parse().unwrap()),
        ["parse", path] => {
            let text = std::fs::read_to_string(path).unwrap();
            let start = Instant::now();
            let parsed: Vec<Value> =
                serde_saphyr::from_str_multiple_with_options(&text, vmesh::yaml::parse::options())
                    .unwrap();
            println!("{:.3}", start.elapsed().as_secs_f64());
            drop(parsed);
        }
        ["skim", path] => {
            // serde-saphyr reading every event and keeping nothing: its own memory floor.
            let text = std::fs::read_to_string(path).unwrap();
            let start = Instant::now();
            let parsed = serde_saphyr::from_str_multiple_with_options::<
                serde::de::IgnoredAny,
                Vec<_>,
            >(&text, vmesh::yaml::parse::options())
            .unwrap();
            println!(
                "{:.3} ({} documents)",
                start.elapsed().as_secs_f64(),
                parsed.len()
            );
        }
        ["discover", path] => {
            let text = std::fs::read_to_string(path).unwrap();
            let start = Instant::now();
            let mut objects = vmesh::discover::ClusterObjects::default();
            objects.skip_pods = true;
            vmesh::discover::objects::read_dump(&text, path, &mut objects).unwrap();
            let found =
                vmesh::discover::discover("cluster-1", &objects, &Default::default()).unwrap();
            let text = vmesh::discover::output::cluster_text(&found, "dump");
            println!(
                "{:.3} ({} objects, {} bytes)",
                start.elapsed().as_secs_f64(),
                found.objects.len(),
                text.len()
            );
        }
        _ => {
            eprintln!(
                "usage: discover_scale generate SERVICES PODS_PER_SERVICE | parse DUMP | discover DUMP"
            );
            std::process::exit(2);
        }
    }
}

fn generate(services: usize, pods_per_service: usize) {
    let mut items = vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system", "labels": {"kubernetes.io/metadata.name": "istio-system"}}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "istio", "namespace": "istio-system"}, "data": {"mesh": "trustDomain: cluster.local\n"}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "istiod", "namespace": "istio-system", "labels": {"app": "istiod"}},
               "spec": {"selector": {"matchLabels": {"app": "istiod"}}, "template": {"metadata": {"labels": {"app": "istiod"}},
               "spec": {"serviceAccountName": "istiod", "containers": [{"name": "discovery", "image": "docker.io/istio/pilot:1.22.3"}]}}}}),
    ];
    let namespaces = 50;
    for n in 0..namespaces {
        items.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("team-{n}"), "labels": {"istio-injection": "enabled", "kubernetes.io/metadata.name": format!("team-{n}")}}}));
    }
    for s in 0..services {
        let namespace = format!("team-{}", s % namespaces);
        let app = format!("svc-{s}");
        items.push(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": app, "namespace": namespace, "uid": format!("uid-{s}"), "resourceVersion": "12345", "labels": {"app": app}},
            "spec": {"replicas": pods_per_service, "selector": {"matchLabels": {"app": app}},
                     "template": {"metadata": {"labels": {"app": app, "version": "v1"}},
                                  "spec": {"serviceAccountName": app, "containers": [{"name": "app", "image": format!("example.com/{app}:1.0.0"), "ports": [{"name": "http", "containerPort": 8080}]}]}}},
            "status": {"replicas": pods_per_service, "readyReplicas": pods_per_service}}));
        items.push(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": app, "namespace": namespace, "uid": format!("suid-{s}"), "labels": {"app": app}},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "selector": {"app": app},
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}, {"name": "grpc", "port": 9090, "protocol": "TCP", "targetPort": 9090}]},
            "status": {"loadBalancer": {}}}));
        for p in 0..pods_per_service {
            items.push(pod(&namespace, &app, s, p));
        }
    }
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}});
    let mut out = String::new();
    vmesh::yaml::emit::emit_document(&mut out, &list);
    print!("{out}");
}

fn pod(namespace: &str, app: &str, s: usize, p: usize) -> Value {
    let name = format!("{app}-7d9f8c6b5d-{p:05}");
    let env: Vec<Value> = (0..12)
        .map(|i| json!({"name": format!("SETTING_{i}"), "value": format!("value-{i}-for-{app}")}))
        .collect();
    let condition = |kind: &str| json!({"type": kind, "status": "True", "lastProbeTime": null, "lastTransitionTime": "2026-11-02T09:14:07Z"});
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": format!("pod-{s}-{p}"), "resourceVersion": "99999",
                     "creationTimestamp": "2026-11-02T09:14:07Z", "generateName": format!("{app}-7d9f8c6b5d-"),
                     "labels": {"app": app, "version": "v1", "pod-template-hash": "7d9f8c6b5d", "security.istio.io/tlsMode": "istio"},
                     "annotations": {"kubectl.kubernetes.io/default-container": "app", "prometheus.io/port": "15020", "sidecar.istio.io/status": "{\"initContainers\":[\"istio-init\"],\"containers\":[\"istio-proxy\"],\"volumes\":[\"istio-envoy\",\"istio-data\",\"istio-podinfo\",\"istio-token\",\"istiod-ca-cert\"]}"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{app}-7d9f8c6b5d"), "uid": "rs", "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"serviceAccountName": app, "nodeName": format!("node-{}", p % 40), "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
                 "containers": [
                    {"name": "app", "image": format!("example.com/{app}:1.0.0"), "imagePullPolicy": "IfNotPresent", "env": env,
                     "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                     "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080, "scheme": "HTTP"}, "periodSeconds": 10, "failureThreshold": 3},
                     "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
                     "volumeMounts": [{"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}]},
                    {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.22.3", "args": ["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local"],
                     "ports": [{"name": "http-envoy-prom", "containerPort": 15090, "protocol": "TCP"}],
                     "volumeMounts": [{"name": "istio-envoy", "mountPath": "/etc/istio/proxy"}, {"name": "istio-data", "mountPath": "/var/lib/istio/data"}]}],
                 "volumes": [{"name": "istio-envoy", "emptyDir": {"medium": "Memory"}}, {"name": "istio-data", "emptyDir": {}},
                             {"name": "kube-api-access", "projected": {"defaultMode": 420, "sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}]}}]},
        "status": {"phase": "Running", "podIP": format!("10.{}.{}.{}", s % 250, p % 250, (s / 250) % 250), "hostIP": "10.0.0.1", "qosClass": "Burstable", "startTime": "2026-11-02T09:14:07Z",
                   "conditions": [condition("Initialized"), condition("Ready"), condition("ContainersReady"), condition("PodScheduled")],
                   "containerStatuses": [
                      {"name": "app", "ready": true, "restartCount": 0, "started": true, "image": format!("example.com/{app}:1.0.0"), "imageID": format!("example.com/{app}@sha256:0123456789abcdef"), "containerID": format!("containerd://{s}{p}"), "state": {"running": {"startedAt": "2026-11-02T09:14:09Z"}}, "lastState": {}},
                      {"name": "istio-proxy", "ready": true, "restartCount": 0, "started": true, "image": "docker.io/istio/proxyv2:1.22.3", "imageID": "docker.io/istio/proxyv2@sha256:fedcba9876543210", "containerID": format!("containerd://p{s}{p}"), "state": {"running": {"startedAt": "2026-11-02T09:14:08Z"}}, "lastState": {}}]}})
}
