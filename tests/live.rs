//! `vmesh discover --context` against a real Kubernetes API server: etcd and
//! kube-apiserver are built from the Go module proxy (tests/live/build-servers.sh, once per
//! machine, see [`build_servers`]; needs `go`, `kubectl` and `openssl`) and started on
//! loopback; the offline fixtures are applied with kubectl; live discovery must give the
//! same objects and the same input hash as discovering the dumps. The discovering user has
//! only functions/discover/rbac.yaml's ClusterRole; a user without it is refused.

use serde_json::{Value, json};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Kills the servers when the test ends, however it ends.
struct Servers(Vec<Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(command: &mut Command, what: &str) -> Output {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The servers are built once per machine (not per clone): into
/// `$XDG_CACHE_HOME/vmesh/live-servers-<release>` (else `~/.cache/…`), or
/// `target/tmp/live-servers` when there is no home.
fn build_servers() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|d| !d.is_empty())
                .map(|home| PathBuf::from(home).join(".cache"))
        });
    let dir = match cache {
        Some(cache) => cache.join("vmesh/live-servers-v1.32.4-etcd-v3.5.16"),
        None => PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("live-servers"),
    };
    run(
        Command::new("sh")
            .arg(root().join("tests/live/build-servers.sh"))
            .arg(&dir),
        "building etcd and kube-apiserver (tests/live/build-servers.sh)",
    );
    dir
}

fn kubectl(kubeconfig: &Path, context: &str, args: &[&str]) -> Output {
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--context")
        .arg(context)
        .args(args)
        .output()
        .expect("kubectl runs")
}

/// The fixture's objects as a user would apply them: without what the API server sets
/// (uid, resourceVersion, timestamps, allocated cluster IPs, status).
fn appliable(item: &Value) -> Value {
    let mut item = item.clone();
    let metadata = item["metadata"].as_object_mut().unwrap();
    for key in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "managedFields",
        "generation",
    ] {
        metadata.remove(key);
    }
    let object = item.as_object_mut().unwrap();
    object.remove("status");
    if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
        spec.remove("clusterIP");
        spec.remove("clusterIPs");
    }
    item
}

struct Cluster<'a> {
    name: &'a str,
    kubeconfig: PathBuf,
}

/// Starts a kube-apiserver on loopback, storing under its own etcd prefix, and writes a
/// kubeconfig with three contexts: `admin` (system:masters), `discoverer` (bound by the
/// test to the shipped ClusterRole) and `nobody` (no permissions).
fn start_apiserver(
    servers: &Path,
    work: &Path,
    etcd: &str,
    name: &str,
    children: &mut Servers,
) -> PathBuf {
    let dir = work.join(name);
    std::fs::create_dir_all(dir.join("certs")).unwrap();
    run(
        Command::new("openssl")
            .args(["genrsa", "-out"])
            .arg(dir.join("sa.key"))
            .arg("2048"),
        "openssl genrsa",
    );
    run(
        Command::new("openssl")
            .args(["rsa", "-pubout", "-in"])
            .arg(dir.join("sa.key"))
            .arg("-out")
            .arg(dir.join("sa.pub")),
        "openssl rsa -pubout",
    );
    std::fs::write(
        dir.join("tokens.csv"),
        "admin-token,admin,1,\"system:masters\"\ndiscover-token,discoverer,2\nnobody-token,nobody,3\n",
    )
    .unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.join("apiserver.log")).unwrap();
    let child = Command::new(servers.join("kube-apiserver"))
        .arg(format!("--etcd-servers={etcd}"))
        .arg(format!("--etcd-prefix=/vmesh-{name}"))
        .arg("--bind-address=127.0.0.1")
        .arg("--advertise-address=10.0.0.1")
        .arg(format!("--secure-port={port}"))
        .arg(format!("--cert-dir={}", dir.join("certs").display()))
        .arg(format!(
            "--token-auth-file={}",
            dir.join("tokens.csv").display()
        ))
        .arg("--authorization-mode=RBAC")
        .arg("--service-account-issuer=https://kubernetes.default.svc.cluster.local")
        .arg(format!(
            "--service-account-key-file={}",
            dir.join("sa.pub").display()
        ))
        .arg(format!(
            "--service-account-signing-key-file={}",
            dir.join("sa.key").display()
        ))
        .arg("--service-cluster-ip-range=10.96.0.0/16")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("kube-apiserver starts");
    children.0.push(child);
    let kubeconfig = dir.join("kubeconfig.yaml");
    let user = |token: &str| json!({"token": token});
    let context = |user: &str| json!({"name": user, "context": {"cluster": name, "user": user}});
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": format!("https://127.0.0.1:{port}"), "insecure-skip-tls-verify": true}}],
        "users": [
            {"name": "admin", "user": user("admin-token")},
            {"name": "discoverer", "user": user("discover-token")},
            {"name": "nobody", "user": user("nobody-token")}
        ],
        "contexts": [context("admin"), context("discoverer"), context("nobody")],
        "current-context": "admin"
    });
    std::fs::write(&kubeconfig, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    let started = Instant::now();
    loop {
        let ready = kubectl(&kubeconfig, "admin", &["get", "--raw", "/readyz"]);
        if ready.status.success() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "kube-apiserver for {name} is not ready after 120 s:\n{}",
            std::fs::read_to_string(dir.join("apiserver.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    kubeconfig
}

/// Applies the fixture of `cluster` (and its statuses, which only the status subresource
/// takes) and the shipped RBAC, bound to the `discoverer` user.
fn apply_fixture(cluster: &Cluster, work: &Path) {
    let kc = &cluster.kubeconfig;
    let ok = |output: Output, what: &str| {
        assert!(
            output.status.success(),
            "{}: {what}:\n{}",
            cluster.name,
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let crd = root().join("testdata/discover/serviceexport-crd.yaml");
    ok(
        kubectl(kc, "admin", &["apply", "-f", crd.to_str().unwrap()]),
        "the ServiceExport CRD",
    );
    ok(
        kubectl(
            kc,
            "admin",
            &[
                "wait",
                "--for=condition=established",
                "--timeout=60s",
                "crd/serviceexports.multicluster.x-k8s.io",
            ],
        ),
        "the CRD established",
    );
    let rbac = std::fs::read_to_string(root().join("functions/discover/rbac.yaml"))
        .unwrap()
        .replace(
            "- kind: ServiceAccount\n  name: vmesh-discover\n  namespace: gloo-mesh",
            "- kind: User\n  name: discoverer\n  apiGroup: rbac.authorization.k8s.io",
        );
    assert!(
        rbac.contains("name: discoverer"),
        "the binding's subject was not replaced"
    );
    let rbac_path = work.join(format!("{}-rbac.yaml", cluster.name));
    std::fs::write(&rbac_path, rbac).unwrap();
    ok(
        kubectl(kc, "admin", &["apply", "-f", rbac_path.to_str().unwrap()]),
        "rbac.yaml",
    );

    let text =
        std::fs::read_to_string(root().join(format!("testdata/discover/{}.yaml", cluster.name)))
            .unwrap();
    let dump: Value =
        serde_saphyr::from_str_with_options(&text, vmesh::yaml::parse::options()).unwrap();
    let items = dump["items"].as_array().unwrap();
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items.iter().map(appliable).collect::<Vec<_>>()});
    let list_path = work.join(format!("{}-objects.json", cluster.name));
    std::fs::write(&list_path, serde_json::to_string(&list).unwrap()).unwrap();
    ok(
        kubectl(kc, "admin", &["apply", "-f", list_path.to_str().unwrap()]),
        "the fixture's objects",
    );
    for item in items {
        let status = &item["status"];
        let has_status = match item["kind"].as_str() {
            Some("Node") => true,
            Some("Service") => status["loadBalancer"]["ingress"].is_array(),
            _ => false,
        };
        if !has_status {
            continue;
        }
        let kind = item["kind"].as_str().unwrap().to_lowercase();
        let name = item["metadata"]["name"].as_str().unwrap();
        let patch = json!({"status": status}).to_string();
        let mut args = vec![
            "patch",
            &kind,
            name,
            "--subresource=status",
            "--type=merge",
            "-p",
            &patch,
        ];
        let namespace = item["metadata"]["namespace"].as_str().unwrap_or("");
        if !namespace.is_empty() {
            args.extend(["-n", namespace]);
        }
        ok(
            kubectl(kc, "admin", &args),
            &format!("the status of {kind} {name}"),
        );
    }
}

fn vmesh(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vmesh"))
        .args(args)
        .current_dir(dir)
        .env_remove("KUBECONFIG")
        .output()
        .expect("vmesh runs")
}

#[test]
fn live_discovery_gives_what_the_dumps_give() {
    let servers_dir = build_servers();
    let work = tempfile::tempdir().unwrap();
    let mut servers = Servers(Vec::new());
    let (client, peer) = (free_port(), free_port());
    let etcd_url = format!("http://127.0.0.1:{client}");
    let etcd_log = std::fs::File::create(work.path().join("etcd.log")).unwrap();
    servers.0.push(
        Command::new(servers_dir.join("etcd"))
            .arg(format!("--data-dir={}", work.path().join("etcd").display()))
            .arg(format!("--listen-client-urls={etcd_url}"))
            .arg(format!("--advertise-client-urls={etcd_url}"))
            .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer}"))
            .arg(format!(
                "--initial-advertise-peer-urls=http://127.0.0.1:{peer}"
            ))
            .arg(format!("--initial-cluster=default=http://127.0.0.1:{peer}"))
            .arg("--unsafe-no-fsync")
            .stdout(Stdio::null())
            .stderr(etcd_log)
            .spawn()
            .expect("etcd starts"),
    );

    for name in ["cluster-1", "cluster-2", "cluster-3"] {
        let kubeconfig = start_apiserver(&servers_dir, work.path(), &etcd_url, name, &mut servers);
        let cluster = Cluster { name, kubeconfig };
        apply_fixture(&cluster, work.path());
        let kc = cluster.kubeconfig.to_string_lossy().into_owned();

        let context = format!("discoverer={name}");
        let live = vmesh(
            work.path(),
            &["discover", "--kubeconfig", &kc, "--context", &context],
        );
        assert!(
            live.status.success(),
            "{name}: live discovery failed:\n{}",
            String::from_utf8_lossy(&live.stderr)
        );
        let live = String::from_utf8(live.stdout).unwrap();
        let offline =
            std::fs::read_to_string(root().join(format!("golden/discover/{name}.yaml"))).unwrap();
        assert_eq!(
            live.lines().next().unwrap(),
            format!("# Discovered by vmesh discover from context discoverer: cluster {name}.")
        );
        let body = |text: &str| text.lines().skip(1).collect::<Vec<_>>().join("\n");
        let (live_body, offline_body) = (body(&live), body(&offline));
        if live_body != offline_body {
            let diff = similar::TextDiff::from_lines(&offline_body, &live_body)
                .unified_diff()
                .header("offline", "live")
                .to_string();
            panic!("{name}: live discovery differs from the offline golden:\n{diff}");
        }

        // Without the ClusterRole: refused, named, nothing written.
        let nobody = format!("nobody={name}");
        let out = work.path().join(format!("{name}-refused"));
        let refused = vmesh(
            work.path(),
            &[
                "discover",
                "--kubeconfig",
                &kc,
                "--context",
                &nobody,
                "--out",
                out.to_str().unwrap(),
            ],
        );
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!("cluster {name}: context nobody: listing Namespaces (/api/v1/namespaces) is forbidden")),
            "{stderr}"
        );
        assert!(!out.exists());
    }
}
