//! Property tests over generated valid topologies (1–3 clusters, gateways by IP or DNS name,
//! services with TCP/UDP ports and endpoint versions, VirtualMeshes with every federation
//! mode, AccessPolicies, pass-through items). For each, rendering
//! - succeeds, and every generated object passes the Istio schemas and rules;
//! - is deterministic (two runs, byte-identical output);
//! - is independent of item order (a shuffled input renders the same generated objects and
//!   results, and keeps every pass-through item);
//! - is idempotent (rendering the output again changes nothing).
//!
//! Case counts are modest so that CI stays fast; `PROPTEST_CASES=1000 cargo test --test
//! properties` runs more.

mod common;

use common::strategies::topology;
use common::topology::resource_list;
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::Value;

fn generated(text: &str) -> Vec<Value> {
    let (items, _) = common::parse(text);
    common::generated(&items).into_iter().cloned().collect()
}

/// Results without their item-position tags (positions change when items move).
fn results(text: &str) -> Vec<Value> {
    common::parse(text)
        .1
        .into_iter()
        .map(|mut r| {
            r.as_object_mut().unwrap().remove("tags");
            r
        })
        .collect()
}

fn passed_through(text: &str) -> Vec<String> {
    let (items, _) = common::parse(text);
    let mut kept: Vec<String> = items
        .iter()
        .filter(|i| {
            i.pointer("/metadata/labels/app.kubernetes.io~1managed-by")
                .and_then(Value::as_str)
                != Some("vmesh")
        })
        .map(|i| serde_json::to_string(i).unwrap())
        .collect();
    kept.sort();
    kept
}

proptest! {
    #![proptest_config(Config { cases: 64, failure_persistence: None, ..Config::default() })]

    #[test]
    fn rendering_is_valid_deterministic_order_independent_and_idempotent(
        topology in topology(),
        order in any::<prop::sample::Index>(),
        rotate in any::<prop::sample::Index>(),
    ) {
        let items = topology.items();
        let input = resource_list(&items);
        let first = common::run_function(&input);
        let errors: Vec<&str> = first
            .results
            .iter()
            .filter(|r| r.severity == vmesh::krm::Severity::Error)
            .map(|r| r.message.as_str())
            .collect();
        prop_assert!(errors.is_empty(), "a valid topology failed: {errors:#?}\n{input}");
        prop_assert_eq!(first.exit_code, 0);

        let (out_items, _) = common::parse(&first.stdout);
        common::assert_valid_istio(&out_items, "property");

        // Deterministic.
        let second = common::run_function(&input);
        prop_assert_eq!(&second.stdout, &first.stdout, "two runs differ");

        // Order-independent: reverse, then rotate by a drawn amount, then swap a drawn pair.
        let mut shuffled = items.clone();
        shuffled.reverse();
        let len = shuffled.len();
        shuffled.rotate_left(rotate.index(len));
        let i = order.index(len);
        shuffled.swap(0, i);
        let other = common::run_function(&resource_list(&shuffled));
        prop_assert_eq!(generated(&other.stdout), generated(&first.stdout), "generated objects depend on input order");
        prop_assert_eq!(results(&other.stdout), results(&first.stdout), "results depend on input order");
        prop_assert_eq!(passed_through(&other.stdout), passed_through(&first.stdout));

        // Idempotent.
        let again = common::run_function(&first.stdout);
        prop_assert_eq!(&again.stdout, &first.stdout, "rendering the output again changed it");
    }
}
