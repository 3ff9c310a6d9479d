#!/usr/bin/env python3
"""Writes the kubectl dumps under testdata/discover/ (run from the repository root).

Objects kubectl can generate (namespaces, deployments, services, configmaps) come from
`kubectl create ... --dry-run=client -o json`; the rest is added by hand where kubectl
cannot make it offline: StatefulSets and DaemonSets (from a generated Deployment), Nodes,
ServiceExports, statuses (load balancer ingress, replicas) and the metadata a live API
server adds (uid, resourceVersion, creationTimestamp, managedFields), so the fixtures carry
the volatile fields discovery must ignore. Every object is then printed by kubectl itself
(`kubectl label --local -o yaml`) and the items assembled into a v1 List exactly as
`kubectl get <kinds> -A -o yaml` prints it.
"""

import hashlib
import json
import subprocess
import sys

ISTIO = "1.22.3"


def kubectl(*args, stdin=None):
    return subprocess.run(
        ["kubectl", *args], input=stdin, capture_output=True, text=True, check=True
    ).stdout


def create(*args):
    return json.loads(kubectl("create", *args, "--dry-run=client", "-o", "json"))


def live_metadata(obj, cluster):
    """What the API server adds: volatile, and ignored by discovery."""
    meta = obj["metadata"]
    key = f"{cluster}/{obj['kind']}/{meta.get('namespace', '')}/{meta['name']}"
    digest = hashlib.sha256(key.encode()).hexdigest()
    meta["uid"] = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
    meta["resourceVersion"] = str(int(digest[:6], 16))
    meta["creationTimestamp"] = "2026-11-02T09:14:07Z"
    meta["managedFields"] = [
        {
            "apiVersion": obj["apiVersion"],
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:labels": {".": {}}}},
            "manager": "kubectl-create",
            "operation": "Update",
            "time": "2026-11-02T09:14:07Z",
        }
    ]
    return obj


def namespace(name, **labels):
    obj = create("namespace", name)
    # The API server labels every namespace with its name.
    obj["metadata"]["labels"] = {"kubernetes.io/metadata.name": name, **labels}
    obj["spec"] = {"finalizers": ["kubernetes"]}
    obj["status"] = {"phase": "Active"}
    return obj


def deployment(name, ns, image, labels, replicas=2, sa=None, template_labels=None,
               template_annotations=None, kind="Deployment", metadata_labels=None, ports=None):
    obj = create("deployment", name, f"--image={image}", "-n", ns, f"--replicas={replicas}")
    obj["metadata"]["labels"] = dict(metadata_labels or labels)
    obj["spec"]["selector"] = {"matchLabels": dict(labels)}
    template = obj["spec"]["template"]
    template["metadata"]["labels"] = {**labels, **(template_labels or {})}
    if template_annotations:
        template["metadata"]["annotations"] = dict(template_annotations)
    if sa:
        template["spec"]["serviceAccountName"] = sa
    if ports:
        template["spec"]["containers"][0]["ports"] = [
            {"containerPort": number, "name": port_name, "protocol": "TCP"} for port_name, number in ports
        ]
    obj["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "3"}
    obj["status"] = {
        "availableReplicas": replicas,
        "observedGeneration": 4,
        "readyReplicas": replicas,
        "replicas": replicas,
        "updatedReplicas": replicas,
    }
    if kind == "StatefulSet":
        obj["kind"] = "StatefulSet"
        del obj["spec"]["strategy"]
        obj["spec"]["serviceName"] = name
        obj["metadata"].pop("annotations")
        obj["status"] = {"availableReplicas": replicas, "currentReplicas": replicas, "replicas": replicas}
    elif kind == "DaemonSet":
        obj["kind"] = "DaemonSet"
        del obj["spec"]["strategy"]
        del obj["spec"]["replicas"]
        obj["metadata"].pop("annotations")
        obj["status"] = {"currentNumberScheduled": 3, "desiredNumberScheduled": 3, "numberReady": 3}
    return obj


def service(name, ns, kind, ports, selector, labels=None, annotations=None, ingress=None):
    """ports: (name, port, target, node_port, app_protocol)."""
    obj = create("service", kind, name, "-n", ns, f"--tcp={ports[0][1]}")
    spec = obj["spec"]
    if selector:
        spec["selector"] = dict(selector)
    else:
        spec.pop("selector", None)
    spec["ports"] = []
    for port_name, port, target, node_port, app_protocol in ports:
        entry = {"name": port_name, "port": port, "protocol": "TCP", "targetPort": target}
        if node_port:
            entry["nodePort"] = node_port
        if app_protocol:
            entry["appProtocol"] = app_protocol
        spec["ports"].append(entry)
    # What the API server allocates.
    digest = hashlib.sha256(f"{ns}/{name}".encode()).digest()
    spec["clusterIP"] = f"10.96.{digest[0]}.{digest[1]}"
    spec["clusterIPs"] = [spec["clusterIP"]]
    spec["sessionAffinity"] = "None"
    spec["internalTrafficPolicy"] = "Cluster"
    if kind in ("nodeport", "loadbalancer"):
        spec["externalTrafficPolicy"] = "Cluster"
    obj["metadata"]["labels"] = dict(labels if labels is not None else selector)
    if annotations:
        obj["metadata"]["annotations"] = dict(annotations)
    obj["status"] = {"loadBalancer": {"ingress": ingress} if ingress else {}}
    return obj


def configmap(name, ns, mesh):
    obj = create("configmap", name, "-n", ns, f"--from-literal=mesh={mesh}",
                 "--from-literal=meshNetworks=networks: {}")
    return obj


def node(name, internal, external=None, zone="zone-a"):
    addresses = [{"address": internal, "type": "InternalIP"}, {"address": name, "type": "Hostname"}]
    if external:
        addresses.insert(0, {"address": external, "type": "ExternalIP"})
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "labels": {
                "kubernetes.io/hostname": name,
                "topology.kubernetes.io/region": "region-1",
                "topology.kubernetes.io/zone": zone,
            },
            "name": name,
        },
        "spec": {"podCIDR": "10.244.0.0/24"},
        "status": {
            "addresses": addresses,
            "conditions": [{"lastHeartbeatTime": "2026-12-06T20:00:00Z", "status": "True", "type": "Ready"}],
            "nodeInfo": {"kubeletVersion": "v1.32.4"},
        },
    }


def service_export(name, ns):
    return {
        "apiVersion": "multicluster.x-k8s.io/v1alpha1",
        "kind": "ServiceExport",
        "metadata": {"name": name, "namespace": ns},
        "status": {"conditions": [{"lastTransitionTime": "2026-11-02T09:14:07Z", "status": "True", "type": "Valid"}]},
    }


def istiod(ns, revision=None, sa="istiod"):
    name = f"istiod-{revision}" if revision else "istiod"
    labels = {"app": "istiod", "istio": "pilot"}
    if revision:
        labels["istio.io/rev"] = revision
    meta_labels = {**labels, "istio.io/rev": revision or "default", "operator.istio.io/component": "Pilot"}
    return deployment(name, ns, f"docker.io/istio/pilot:{ISTIO}", labels, replicas=1, sa=sa,
                      metadata_labels=meta_labels,
                      template_labels={"sidecar.istio.io/inject": "false"})


def gateway(name, ns, istio_label, revision=None):
    labels = {"app": name, "istio": istio_label}
    template_labels = {"istio.io/rev": revision or "default"}
    return deployment(name, ns, f"docker.io/istio/proxyv2:{ISTIO}", labels, sa=f"{name}-service-account",
                      template_labels=template_labels)


def system(cluster_objects):
    """What every cluster has: the system namespaces and the API server's Service."""
    return [
        namespace("kube-system"),
        namespace("kube-public"),
        namespace("kube-node-lease"),
        service("kubernetes", "default", "clusterip", [("https", 443, 6443, None, None)], {},
                labels={"component": "apiserver", "provider": "kubernetes"}),
    ] + cluster_objects


GATEWAY_PORTS = [
    ("status-port", 15021, 15021, None, None),
    ("tls", 15443, 15443, None, None),
    ("tls-istiod", 15012, 15012, None, None),
]


def with_node_ports(ports, first):
    return [(n, p, t, first + i, a) for i, (n, p, t, _, a) in enumerate(ports)]


def cluster_1():
    """Default revision, LoadBalancer IP gateway, DNS capture, one namespace without injection."""
    mesh = "trustDomain: cluster-1.local\ndefaultConfig:\n  proxyMetadata:\n    ISTIO_META_DNS_CAPTURE: \"true\"\n    ISTIO_META_DNS_AUTO_ALLOCATE: \"true\"\n"
    return [
        namespace("default"),
        namespace("istio-system"),
        namespace("bookinfo", **{"istio-injection": "enabled"}),
        namespace("legacy"),
        node("c1-node-a", "10.0.1.10", "35.1.0.10"),
        node("c1-node-b", "10.0.1.11", "35.1.0.11", zone="zone-b"),
        istiod("istio-system"),
        configmap("istio", "istio-system", mesh),
        gateway("istio-eastwestgateway", "istio-system", "eastwestgateway"),
        service("istio-eastwestgateway", "istio-system", "loadbalancer", with_node_ports(GATEWAY_PORTS, 30021),
                {"app": "istio-eastwestgateway", "istio": "eastwestgateway"},
                labels={"app": "istio-eastwestgateway", "istio": "eastwestgateway", "topology.istio.io/network": "network-1"},
                ingress=[{"ip": "35.1.2.3", "ipMode": "VIP"}]),
        service("istiod", "istio-system", "clusterip",
                [("grpc-xds", 15010, 15010, None, None), ("https-dns", 15012, 15012, None, None)],
                {"app": "istiod", "istio": "pilot"}),
        deployment("reviews-v1", "bookinfo", "docker.io/istio/examples-bookinfo-reviews-v1:1.20.2",
                   {"app": "reviews", "version": "v1"}, sa="bookinfo-reviews"),
        deployment("reviews-v2", "bookinfo", "docker.io/istio/examples-bookinfo-reviews-v2:1.20.2",
                   {"app": "reviews", "version": "v2"}, sa="bookinfo-reviews"),
        service("reviews", "bookinfo", "clusterip", [("http", 9080, 9080, None, None)],
                {"app": "reviews"}, labels={"app": "reviews", "service": "reviews"},
                annotations={"kubectl.kubernetes.io/last-applied-configuration": "{\"kind\":\"Service\"}",
                             "team": "bookinfo"}),
        deployment("productpage-v1", "bookinfo", "docker.io/istio/examples-bookinfo-productpage-v1:1.20.2",
                   {"app": "productpage", "version": "v1"}, sa="bookinfo-productpage", ports=[("http", 9080)]),
        service("productpage", "bookinfo", "clusterip", [("http", 9080, "http", None, "http")],
                {"app": "productpage"}),
        deployment("ratings-db", "bookinfo", "docker.io/library/mysql:8.4",
                   {"app": "ratings-db"}, replicas=1, kind="StatefulSet"),
        service("ratings-db", "bookinfo", "clusterip", [("tcp-mysql", 3306, 3306, None, "mysql")],
                {"app": "ratings-db"}),
        # Opted out by its pod label: no Workload, so its Service is no Destination.
        deployment("details-v1", "bookinfo", "docker.io/istio/examples-bookinfo-details-v1:1.20.2",
                   {"app": "details"}, template_labels={"sidecar.istio.io/inject": "false"}),
        service("details", "bookinfo", "clusterip", [("http", 9080, 9080, None, None)], {"app": "details"}),
        # No injection in this namespace.
        deployment("inventory", "legacy", "docker.io/library/nginx:1.27", {"app": "inventory"}),
        service("inventory", "legacy", "clusterip", [("http", 80, 80, None, None)], {"app": "inventory"}),
        service_export("reviews", "bookinfo"),
    ]


def cluster_2():
    """A revisioned istiod (1-22), LoadBalancer hostname gateway, istio: ingressgateway."""
    mesh = "trustDomain: cluster-2.local\naccessLogFile: /dev/stdout\n"
    return [
        namespace("default"),
        namespace("istio-system"),
        namespace("bookinfo", **{"istio.io/rev": "1-22"}),
        namespace("monitoring"),
        node("c2-node-a", "10.0.2.10"),
        istiod("istio-system", revision="1-22"),
        configmap("istio-1-22", "istio-system", mesh),
        gateway("istio-ingressgateway", "istio-system", "ingressgateway", revision="1-22"),
        service("istio-ingressgateway", "istio-system", "loadbalancer",
                [("http2", 80, 8080, 30080, None), ("tls", 15443, 15443, 30443, None)],
                {"app": "istio-ingressgateway", "istio": "ingressgateway"},
                ingress=[{"hostname": "a1b2c3d4-1234567890.us-east-1.elb.amazonaws.com"}]),
        deployment("reviews-v3", "bookinfo", "docker.io/istio/examples-bookinfo-reviews-v3:1.20.2",
                   {"app": "reviews", "version": "v3"}, sa="bookinfo-reviews"),
        service("reviews", "bookinfo", "clusterip", [("http", 9080, 9080, None, None)],
                {"app": "reviews"}, labels={"app": "reviews", "service": "reviews"}),
        # Opted in by pod labels in a namespace without injection labels.
        deployment("node-agent", "monitoring", "docker.io/library/busybox:1.36", {"app": "node-agent"},
                   template_labels={"istio.io/rev": "1-22"}, kind="DaemonSet"),
        service("node-agent", "monitoring", "clusterip", [("http-metrics", 9100, "metrics", None, None)],
                {"app": "node-agent"}),
    ]


def cluster_3():
    """Istio's default trust domain (none configured), NodePort gateway."""
    mesh = "accessLogFile: /dev/stdout\nenableAutoMtls: true\n"
    return [
        namespace("default"),
        namespace("istio-system"),
        namespace("shop", **{"istio-injection": "enabled"}),
        node("c3-node-b", "192.168.3.11", "203.0.113.11"),
        node("c3-node-a", "192.168.3.10", "203.0.113.10"),
        istiod("istio-system"),
        configmap("istio", "istio-system", mesh),
        gateway("istio-eastwestgateway", "istio-system", "eastwestgateway"),
        service("istio-eastwestgateway", "istio-system", "nodeport", with_node_ports(GATEWAY_PORTS, 31021),
                {"app": "istio-eastwestgateway", "istio": "eastwestgateway"}),
        deployment("checkout", "shop", "example.com/shop/checkout:2.4.0", {"app": "checkout"}, sa="checkout"),
        service("checkout", "shop", "clusterip", [("grpc", 8080, 8080, None, "grpc")], {"app": "checkout"},
                labels={"app": "checkout", "tier": "backend"}),
        # Opted out by the (deprecated) annotation.
        deployment("cart", "shop", "example.com/shop/cart:1.0.0", {"app": "cart"},
                   template_annotations={"sidecar.istio.io/inject": "false"}),
        service("cart", "shop", "clusterip", [("http", 80, 8080, None, None)], {"app": "cart"}),
    ]


def dump(cluster, objects):
    """The objects as `kubectl get ... -A -o yaml` prints them: a v1 List, kinds grouped."""
    order = ["Namespace", "Node", "ConfigMap", "Service", "Deployment", "StatefulSet", "DaemonSet", "ServiceExport"]
    objects = sorted(objects, key=lambda o: (order.index(o["kind"]), o["metadata"].get("namespace", ""), o["metadata"]["name"]))
    lines = ["apiVersion: v1", "items:"]
    for obj in objects:
        if obj["kind"] not in ("Node", "ServiceExport"):
            live_metadata(obj, cluster)
        text = kubectl("label", "--local", "-f", "-", "vmesh-fixture-", "-o", "yaml", stdin=json.dumps(obj))
        for i, line in enumerate(text.rstrip("\n").split("\n")):
            lines.append(("- " if i == 0 else "  ") + line)
    lines += ["kind: List", "metadata:", '  resourceVersion: ""']
    return "\n".join(lines) + "\n"


def main():
    for cluster, objects in [("cluster-1", cluster_1()), ("cluster-2", cluster_2()), ("cluster-3", cluster_3())]:
        objects = system(objects)
        with open(f"testdata/discover/{cluster}.yaml", "w") as f:
            f.write(dump(cluster, objects))
    print("wrote testdata/discover/cluster-{1,2,3}.yaml", file=sys.stderr)


main()
