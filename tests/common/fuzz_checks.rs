//! The properties the fuzz targets check, shared with `tests/fuzz_regressions.rs`, which runs
//! them over every input a fuzz run found (`fuzz/regressions/<target>/`). Each panics with
//! the offending text when a property fails.

use serde_json::Value;
use std::time::{Duration, SystemTime};
use vmesh::krm::read::paths;
use vmesh::krm::write::OutputItem;
use vmesh::krm::{Severity, read_resource_list, read_stream, write_resource_list, write_stream};
use vmesh::{OutputStyle, RunOptions};

/// The ResourceList reader on any bytes: no panic, and what it accepts survives being written
/// back unchanged (the failure path of every run) and read again with the same values.
pub fn reader_round_trip(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(list) = read_resource_list(text.to_string()) {
        let mut out = String::new();
        write_resource_list(
            &mut out,
            &list.envelope,
            &list.text,
            list.items.iter().map(OutputItem::Input),
            list.function_config.as_ref(),
            &[],
        );
        let again = read_resource_list(out.clone())
            .unwrap_or_else(|e| panic!("written ResourceList does not read back: {e}\n{out}"));
        assert_eq!(again.items.len(), list.items.len(), "{out}");
        assert_eq!(again.function_config, list.function_config, "{out}");
        // vmesh's own outputs are read as skeletons, and which ones depends on the text;
        // what must survive is every item's full value.
        let before = full_values(text);
        let after = full_values(&out);
        for (before, after) in before.iter().zip(&after) {
            assert_eq!(before, after, "item changed on the way through:\n{out}");
        }
    }
    if let Ok(list) = read_stream(text.to_string())
        // A stream of one List document is unwrapped on reading; not a round trip.
        && !list.items.iter().any(|i| matches!(i.kind(), "List" | "ResourceList"))
    {
        let mut out = String::new();
        write_stream(
            &mut out,
            &list.text,
            list.items.iter().map(OutputItem::Input),
        );
        match read_stream(out.clone()) {
            Ok(_) => {
                let full = |text: &str| {
                    paths::saphyr_stream(text.to_string(), false)
                        .map(|l| l.items.into_iter().map(|i| i.value).collect::<Vec<_>>())
                        .unwrap_or_else(|e| panic!("{e}\n{text}"))
                };
                assert_eq!(
                    full(text),
                    full(&out),
                    "stream changed on the way through:\n{out}"
                );
            }
            Err(e) if !list.items.is_empty() => {
                panic!("written stream does not read back: {e}\n{out}")
            }
            Err(_) => {}
        }
    }
}

/// The items of a ResourceList read in full (no skeletons).
fn full_values(text: &str) -> Vec<Value> {
    paths::saphyr_resource_list(text.to_string(), false)
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
        .items
        .into_iter()
        .map(|i| i.value)
        .collect()
}

fn options(style: OutputStyle) -> RunOptions {
    RunOptions {
        now: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000)),
        ..RunOptions::new(style)
    }
}

fn values(text: &str) -> (Vec<Value>, Option<Value>) {
    let list = read_resource_list(text.to_string())
        .unwrap_or_else(|e| panic!("vmesh's output does not read back: {e}\n{text}"));
    (
        list.items.into_iter().map(|i| i.value).collect(),
        list.function_config,
    )
}

/// The whole pipeline on a ResourceList text:
/// - the exit code is 1 exactly when there is an error result;
/// - a failed run returns every input item and the functionConfig unchanged, and the stream
///   outputs print nothing;
/// - a successful run's output reads back, and rendering it again changes nothing.
///
/// Input that is not a readable ResourceList is skipped (the reader's target covers it).
pub fn pipeline_invariants(input: &str) {
    let Ok(list) = read_resource_list(input.to_string()) else {
        return;
    };
    let input_items = full_values(input);
    let input_config = list.function_config.clone();
    let outcome = vmesh::run(list, &options(OutputStyle::ResourceList));
    let has_errors = outcome
        .results
        .iter()
        .any(|r| r.severity == Severity::Error);
    assert_eq!(
        outcome.exit_code != 0,
        has_errors,
        "exit code vs results:\n{input}"
    );
    let (_, out_config) = values(&outcome.stdout);
    assert_eq!(out_config, input_config, "functionConfig changed:\n{input}");
    if has_errors {
        assert_eq!(
            full_values(&outcome.stdout),
            input_items,
            "a failed run changed the items:\n{input}"
        );
        for style in [OutputStyle::GeneratedStream, OutputStyle::FullStream] {
            let list = read_resource_list(input.to_string()).expect("read above");
            let streamed = vmesh::run(list, &options(style));
            assert!(
                streamed.failed() && streamed.stdout.is_empty(),
                "{style:?} printed output for a failed run:\n{input}"
            );
        }
        return;
    }
    let list = read_resource_list(outcome.stdout.clone()).expect("read above");
    let again = vmesh::run(list, &options(OutputStyle::ResourceList));
    if again.stdout != outcome.stdout {
        panic!(
            "rendering the output again changed it:\n--- input\n{input}\n--- first\n{}\n--- second\n{}",
            outcome.stdout, again.stdout
        );
    }
}
