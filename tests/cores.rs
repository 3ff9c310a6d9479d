//! vmesh reads items, types them, plans federations and renders on every core, merging in
//! input order: its output must not depend on how many cores it has. The same inputs run
//! on all cores and pinned to one (`taskset -c 0`, where every stage runs on the calling
//! thread) must print the same bytes, for a full render and for one cluster's slice.

mod common;

use common::topology::{
    Address, Cluster, Federation, Gateway, Port, Service, Topology, VirtualMesh, resource_list,
};
use std::io::Write;
use std::process::{Command, Stdio};

/// Large enough for several jobs in every parallel stage (reader jobs of 128 KB, typing and
/// federation chunks of 64 items) and more clusters than cores.
fn topology() -> Topology {
    let clusters = 8;
    let services = (0..100)
        .map(|n| Service {
            name: format!("svc-{n}"),
            namespace: if n % 2 == 0 { "apps" } else { "bookinfo" }.to_string(),
            ports: vec![Port {
                number: 8080,
                name: "http".to_string(),
                protocol: "TCP",
            }],
            selector_labels: true,
            versions: (n % 3) as u8,
        })
        .collect::<Vec<_>>();
    Topology {
        clusters: (0..clusters)
            .map(|i| Cluster {
                gateway: Some(Gateway {
                    port: 15443,
                    node_port: None,
                    address: Address::Ip([10, 0, i as u8, 1]),
                }),
                services: services.clone(),
            })
            .collect(),
        virtual_meshes: vec![VirtualMesh {
            name: "everything".to_string(),
            meshes: (0..clusters).collect(),
            federation: Federation::All,
            global_access: true,
            hostname_suffix: None,
            created: None,
        }],
        access_policies: Vec::new(),
        pass_through: 200,
    }
}

fn run(input: &str, pinned: bool) -> Vec<u8> {
    let mut command = if pinned {
        let mut c = Command::new("taskset");
        c.args(["-c", "0", env!("CARGO_BIN_EXE_vmesh")]);
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_vmesh"))
    };
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start vmesh{}: {e}",
                if pinned {
                    " under taskset (util-linux) — this test needs it"
                } else {
                    ""
                }
            )
        });
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let text = input.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let output = child.wait_with_output().expect("vmesh runs");
    writer
        .join()
        .expect("writer thread")
        .expect("input written");
    assert!(
        output.status.success(),
        "vmesh failed (pinned: {pinned}): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[test]
fn output_is_the_same_on_one_core_and_on_all() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert!(
        cores > 1,
        "this test compares one core with several, and the machine has one"
    );
    let full = resource_list(&topology().items());
    assert!(full.len() > 4 * 128 * 1024, "input of {} bytes", full.len());
    let slice = format!(
        "{full}functionConfig:\n  apiVersion: vmesh.dev/v1alpha1\n  kind: VirtualMeshRenderer\n  metadata:\n    name: vmesh\n  spec:\n    cluster: cluster-3\n"
    );
    for (name, input) in [("full render", &full), ("slice", &slice)] {
        let everywhere = run(input, false);
        let pinned = run(input, true);
        assert!(
            everywhere.len() > input.len(),
            "{name}: vmesh rendered nothing"
        );
        assert!(everywhere == pinned, "{name}: output differs on one core");
        // Reading the output back (kpt's re-render) is the reader's largest job.
        assert!(
            run(&String::from_utf8(everywhere).unwrap(), true)
                == run(&String::from_utf8(pinned).unwrap(), false),
            "{name}: re-render differs on one core"
        );
    }
}
