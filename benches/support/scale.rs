//! The scale topology of the benchmarks: N Istio meshes × M services (see
//! `examples/scale.rs` for the command-line generator and `benches/render.rs`).

use std::fmt::Write;

/// A ResourceList with `meshes` Istio meshes of `services` services each. Every mesh has a
/// LoadBalancer east-west gateway; every service two ports (HTTP, gRPC) and two endpoints
/// (v1, v2 in two zones). One VirtualMesh federates everything to every mesh and enables
/// `globalAccessPolicy`. With `mtls`, `mtlsConfig.shared` with a generated root of
/// `rsa_bits`; with a `seed_file`, a functionConfig that derives the certificates from it.
pub fn generate(
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
    if let Some(seed) = seed_file {
        let _ = write!(
            out,
            "functionConfig:\n  apiVersion: vmesh.dev/v1alpha1\n  kind: VirtualMeshRenderer\n  metadata:\n    name: vmesh\n  spec:\n    caSeed: file:{seed}\n    caNotBefore: \"2026-11-01T00:00:00Z\"\n"
        );
    }
    out
}
