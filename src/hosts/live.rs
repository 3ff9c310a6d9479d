//! Live discovery: lists the kinds discovery reads through a kubeconfig context (the
//! `kube` crate: kubeconfig, exec credentials, TLS), read-only, and feeds each page of
//! each list to [`ClusterObjects::add_document`] — the same path a kubectl dump takes, so
//! both give the same bytes for the same cluster. Only `get`/`list` requests are made
//! (functions/discover/rbac.yaml grants exactly those).

use crate::discover::ClusterObjects;
use std::path::Path;

/// A list request: the kind, its collection path, and whether a 404 (the CRD is not
/// installed) means "none".
#[cfg(feature = "live")]
struct Listing {
    kind: &'static str,
    path: &'static str,
    optional: bool,
}

#[cfg(feature = "live")]
const CLUSTER_LISTS: &[Listing] = &[
    Listing {
        kind: "Namespace",
        path: "/api/v1/namespaces",
        optional: false,
    },
    Listing {
        kind: "Node",
        path: "/api/v1/nodes",
        optional: false,
    },
    Listing {
        kind: "Service",
        path: "/api/v1/services",
        optional: false,
    },
    Listing {
        kind: "Deployment",
        path: "/apis/apps/v1/deployments",
        optional: false,
    },
    Listing {
        kind: "StatefulSet",
        path: "/apis/apps/v1/statefulsets",
        optional: false,
    },
    Listing {
        kind: "DaemonSet",
        path: "/apis/apps/v1/daemonsets",
        optional: false,
    },
    Listing {
        kind: "ServiceExport",
        path: "/apis/multicluster.x-k8s.io/v1alpha1/serviceexports",
        optional: true,
    },
];

#[cfg(feature = "live")]
const POD_LIST: Listing = Listing {
    kind: "Pod",
    path: "/api/v1/pods",
    optional: false,
};

/// Objects per page: large clusters are listed in pages, as kubectl does.
#[cfg(feature = "live")]
const PAGE_SIZE: usize = 500;

/// Reads a cluster through `context` of the kubeconfig (`kubeconfig`, else `$KUBECONFIG`,
/// else `~/.kube/config`). Pods are listed only when `pods` is set (`--endpoints pods`).
#[cfg(feature = "live")]
pub fn read_context(
    context: &str,
    kubeconfig: Option<&Path>,
    pods: bool,
) -> Result<ClusterObjects, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the client runtime: {e}"))?;
    runtime.block_on(read(context, kubeconfig, pods))
}

#[cfg(not(feature = "live"))]
pub fn read_context(
    context: &str,
    _kubeconfig: Option<&Path>,
    _pods: bool,
) -> Result<ClusterObjects, String> {
    Err(format!(
        "context {context}: this vmesh was built without the `live` feature; use --dump with kubectl output"
    ))
}

#[cfg(feature = "live")]
async fn read(
    context: &str,
    kubeconfig: Option<&Path>,
    pods: bool,
) -> Result<ClusterObjects, String> {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let file = match kubeconfig {
        Some(path) => Kubeconfig::read_from(path).map_err(|e| {
            format!(
                "cannot read kubeconfig {}: {}",
                super::source::display(path),
                chain(&e)
            )
        })?,
        None => {
            Kubeconfig::read().map_err(|e| format!("cannot read the kubeconfig: {}", chain(&e)))?
        }
    };
    let options = KubeConfigOptions {
        context: Some(context.to_string()),
        ..KubeConfigOptions::default()
    };
    let config = kube::Config::from_custom_kubeconfig(file, &options)
        .await
        .map_err(|e| format!("context {context}: {}", chain(&e)))?;
    let client =
        kube::Client::try_from(config).map_err(|e| format!("context {context}: {}", chain(&e)))?;
    let mut objects = ClusterObjects::default();
    for listing in CLUSTER_LISTS {
        list(
            &client,
            context,
            listing,
            listing.path.to_string(),
            &mut objects,
        )
        .await?;
    }
    if pods {
        list(
            &client,
            context,
            &POD_LIST,
            POD_LIST.path.to_string(),
            &mut objects,
        )
        .await?;
    }
    // ConfigMaps only where an istiod runs: discovery reads nothing else of them.
    let istio_namespaces: std::collections::BTreeSet<String> = objects
        .deployments
        .iter()
        .filter(|d| {
            d.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with("istiod"))
        })
        .filter_map(|d| d.metadata.namespace.clone())
        .collect();
    let config_maps = Listing {
        kind: "ConfigMap",
        path: "",
        optional: false,
    };
    for namespace in istio_namespaces {
        let path = format!("/api/v1/namespaces/{namespace}/configmaps");
        list(&client, context, &config_maps, path, &mut objects).await?;
    }
    objects.mark_listed("ConfigMap");
    Ok(objects)
}

/// Lists every page of one collection into `objects`.
#[cfg(feature = "live")]
async fn list(
    client: &kube::Client,
    context: &str,
    listing: &Listing,
    path: String,
    objects: &mut ClusterObjects,
) -> Result<(), String> {
    let mut token: Option<String> = None;
    let mut page = 0;
    loop {
        let mut url = format!("{path}?limit={PAGE_SIZE}");
        if let Some(token) = &token {
            url.push_str("&continue=");
            url.push_str(&percent_encode(token));
        }
        let request = http::Request::get(&url)
            .header("Accept", "application/json")
            .body(Vec::new())
            .map_err(|e| {
                format!(
                    "context {context}: cannot build the {} list request: {e}",
                    listing.kind
                )
            })?;
        let text = match client.request_text(request).await {
            Ok(text) => text,
            Err(kube::Error::Api(status)) if status.code == 404 && listing.optional => {
                return Ok(()); // the CRD is not installed: there are none
            }
            Err(kube::Error::Api(status)) if status.code == 403 || status.code == 401 => {
                return Err(format!(
                    "context {context}: listing {}s ({path}) is forbidden: {} (grant the read-only ClusterRole in functions/discover/rbac.yaml)",
                    listing.kind, status.message
                ));
            }
            Err(e) => {
                return Err(format!(
                    "context {context}: cannot list {}s ({path}): {}",
                    listing.kind,
                    chain(&e)
                ));
            }
        };
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            format!(
                "context {context}: the {} list is not JSON: {e}",
                listing.kind
            )
        })?;
        token = value
            .pointer("/metadata/continue")
            .and_then(|c| c.as_str())
            .filter(|c| !c.is_empty())
            .map(str::to_string);
        let place = format!("context {context} {} list page {page}", listing.kind);
        objects.add_document(value, &place)?;
        objects.mark_listed(listing.kind);
        page += 1;
        if token.is_none() {
            return Ok(());
        }
    }
}

/// An error and its causes on one line (kube's errors keep the useful part in sources).
#[cfg(feature = "live")]
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(feature = "live")]
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
