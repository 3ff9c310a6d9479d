//! Host tests: vmesh driven by the real kpt and `kubectl kustomize`, the Argo CD generate
//! command run as the CMP server runs it, and `vmesh render` over the example repository.
//! They use the example packages in `functions/` and check them against their expected
//! output; `UPDATE_EXPECTED=1 cargo test --test hosts` rewrites the expected files.

mod argocd;
mod cli;
mod hostile_tree;
mod kpt;
mod kustomize;
mod render;
mod same_verdict;
mod support;
