//! The ResourceList reader on arbitrary bytes: it must never panic, and whatever it accepts
//! must survive being written back (the failure path of every run: items unchanged) and read
//! again with the same values. Seeds: the golden and hostile inputs.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../tests/common/fuzz_checks.rs"]
mod fuzz_checks;

fuzz_target!(|data: &[u8]| fuzz_checks::reader_round_trip(data));
