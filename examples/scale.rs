//! Scale generator for benchmarks: prints a ResourceList with N Istio meshes × M services.
//!
//! ```sh
//! cargo run --release --example scale -- 20 100 > /tmp/20x100.yaml
//! cargo run --release --example scale -- 4 50 --mtls > /tmp/4x50-mtls.yaml
//! ```
//!
//! Every mesh has a LoadBalancer east-west gateway; every service has two ports (HTTP and
//! gRPC) and two endpoints (versions v1 and v2, two zones). One VirtualMesh groups all meshes,
//! federates every Destination to every other mesh (`selectors: [{}]`) and enables
//! `globalAccessPolicy`. `--mtls` adds `mtlsConfig.shared` with a seeded root (the seed file
//! path is printed in the functionConfig; create it with `--seed-file`). `--rsa-bits` sets
//! the key size (default 4096).

use std::fmt::Write;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let meshes: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(4);
    let services: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(50);
    let mtls = args.iter().any(|a| a == "--mtls");
    let rsa_bits = args
        .iter()
        .position(|a| a == "--rsa-bits")
        .and_then(|i| args.get(i + 1))
        .and_then(|b| b.parse::<u32>().ok())
        .unwrap_or(4096);
    let seed_file = args
        .iter()
        .position(|a| a == "--seed-file")
        .and_then(|i| args.get(i + 1))
        .cloned();
    print!(
        "{}",
        generate(meshes, services, mtls, rsa_bits, seed_file.as_deref())
    );
}

fn generate(
    meshes: usize,
    services: usize,
    mtls: bool,
    rsa_bits: u32,
    seed_file: Option<&str>,
) -> String {
    let mut out = String::with_capacity(meshes * services * 1200);
    out.push_str("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n");
    out.push_str("- apiVersion: networking.mesh.gloo.solo.io/v1\n  kind: VirtualMesh\n  metadata:\n    name: scale\n    namespace: gloo-mesh\n  spec:\n    meshes:\n");
    for m in 0..meshes {
        let _ = writeln!(
            out,
            "    - name: istiod-istio-system-cluster-{m}\n      namespace: gloo-mesh"
        );
    }
    out.push_str(
        "    federation:\n      selectors:\n      - {}\n    globalAccessPolicy: ENABLED\n",
    );
    if mtls {
        let _ = write!(
            out,
            "    mtlsConfig:\n      shared:\n        rootCertificateAuthority:\n          generated:\n            rsaKeySizeBytes: {rsa_bits}\n        intermediateCertOptions:\n          rsaKeySizeBytes: {rsa_bits}\n"
        );
    }
    for m in 0..meshes {
        let _ = write!(
            out,
            "- apiVersion: discovery.mesh.gloo.solo.io/v1
  kind: Mesh
  metadata:
    name: istiod-istio-system-cluster-{m}
    namespace: gloo-mesh
  spec:
    istio:
      installation:
        namespace: istio-system
        cluster: cluster-{m}
        region: region-{r}
      trustDomain: cluster-{m}.local
      istiodServiceAccount: istiod
- apiVersion: discovery.mesh.gloo.solo.io/v1
  kind: Destination
  metadata:
    name: istio-eastwestgateway-istio-system-cluster-{m}
    namespace: gloo-mesh
  spec:
    mesh:
      name: istiod-istio-system-cluster-{m}
      namespace: gloo-mesh
    kubeService:
      ref:
        name: istio-eastwestgateway
        namespace: istio-system
        clusterName: cluster-{m}
      workloadSelectorLabels:
        app: istio-eastwestgateway
        istio: ingressgateway
      labels:
        app: istio-eastwestgateway
      ports:
      - port: 15443
        name: tls
        protocol: TCP
        targetPortNumber: 15443
      externalAddresses:
      - ip: 198.18.{a}.{b}
      serviceType: LOAD_BALANCER
",
            r = m % 3,
            a = m / 250,
            b = m % 250 + 1
        );
        for s in 0..services {
            let _ = write!(
                out,
                "- apiVersion: discovery.mesh.gloo.solo.io/v1
  kind: Destination
  metadata:
    name: svc-{s}-ns-{ns}-cluster-{m}
    namespace: gloo-mesh
  spec:
    mesh:
      name: istiod-istio-system-cluster-{m}
      namespace: gloo-mesh
    kubeService:
      ref:
        name: svc-{s}
        namespace: ns-{ns}
        clusterName: cluster-{m}
      workloadSelectorLabels:
        app: svc-{s}
      labels:
        app: svc-{s}
      ports:
      - port: 8080
        name: http
        protocol: TCP
        targetPortNumber: 8080
      - port: 9090
        name: grpc
        protocol: TCP
        targetPortNumber: 9090
      endpointSubsets:
      - endpoints:
        - ipAddress: 10.{m1}.{s1}.{s2}
          labels:
            app: svc-{s}
            version: v1
          subLocality:
            zone: zone-a
        - ipAddress: 10.{m1}.{s1}.{s3}
          labels:
            app: svc-{s}
            version: v2
          subLocality:
            zone: zone-b
        ports:
        - port: 8080
          name: http
          protocol: TCP
        - port: 9090
          name: grpc
          protocol: TCP
      serviceType: CLUSTER_IP
",
                ns = s % 10,
                m1 = m % 250,
                s1 = s / 120,
                s2 = (s % 120) * 2 + 1,
                s3 = (s % 120) * 2 + 2
            );
        }
    }
    if mtls {
        let seed = seed_file.unwrap_or("/tmp/vmesh-bench-seed.txt");
        let _ = write!(
            out,
            "functionConfig:\n  apiVersion: vmesh.dev/v1alpha1\n  kind: VirtualMeshRenderer\n  metadata:\n    name: vmesh\n  spec:\n    caSeed: file:{seed}\n    caNotBefore: \"2026-11-01T00:00:00Z\"\n"
        );
    }
    out
}
