//! Reading YAML with explicit limits and Kubernetes-safe scalar typing.
//!
//! Every YAML read in vmesh goes through [`options`] (or through the fast reader,
//! [`super::fast`], which stays inside the same limits and leaves anything beyond them to
//! serde-saphyr), so the same limits apply to stdin, to files read by `vmesh render`, and
//! to the functionConfig. The limits are sized for the largest packages vmesh is built for
//! — re-rendering a 50 × 200 full mesh reads about 1 M objects and 1.1 GB of YAML — with
//! room to spare, and stop resource-amplifying input long before memory runs out.

use serde_saphyr::options::{AliasLimits, DuplicateKeyPolicy, MergeKeyPolicy};
use serde_saphyr::{Budget, Options};

/// Limits applied to every YAML input. Documented in the README ("Limits").
pub mod limits {
    /// Largest accepted input, in bytes (stdin or the sum of files of one render): 3 GiB,
    /// about three times the largest re-render. serde-saphyr keeps byte offsets in 32 bits
    /// (saturating at 4 GiB − 2), and raw item spans need exact offsets, so this must stay
    /// below 4 GiB.
    pub const MAX_INPUT_BYTES: usize = 3 << 30;
    const _: () = assert!(MAX_INPUT_BYTES < u32::MAX as usize - 1);
    /// Deepest nesting of mappings and sequences.
    pub const MAX_DEPTH: usize = 64;
    /// Most parser events in one input (a scalar, a mapping start, … each count one).
    /// vmesh's own output has about 75 000 per MB: 240 M at the size limit.
    pub const MAX_EVENTS: usize = 400_000_000;
    /// Most nodes in one input. vmesh's own output has about 63 000 per MB: 205 M at the
    /// size limit.
    pub const MAX_NODES: usize = 300_000_000;
    /// Largest single scalar, in bytes: no line may be longer, and the fast reader leaves
    /// longer block scalars to serde-saphyr.
    pub const MAX_SCALAR_BYTES: usize = 16 << 20;
    /// Most events replayed through aliases in one input (stops "billion laughs").
    pub const MAX_ALIAS_REPLAYED_EVENTS: usize = 100_000;
    /// Most aliases in one input.
    pub const MAX_ALIASES: usize = 10_000;
    /// Most documents in one stream (a 50 × 200 mesh written as a stream has about 1 M).
    pub const MAX_DOCUMENTS: usize = 4_000_000;
}

/// Parser options for every YAML read by vmesh: booleans only as YAML 1.2 spells them
/// (`true`, `True`, `TRUE`, `false`, …; `on` and `yes` stay strings), numbers with leading
/// zeros stay strings (`"0777"`), duplicate keys are errors, and the limits above.
pub fn options() -> Options {
    let mut budget = Budget::default();
    budget.max_reader_input_bytes = Some(limits::MAX_INPUT_BYTES);
    budget.max_depth = limits::MAX_DEPTH;
    budget.max_events = limits::MAX_EVENTS;
    budget.max_nodes = limits::MAX_NODES;
    budget.max_total_scalar_bytes = limits::MAX_INPUT_BYTES;
    budget.max_aliases = limits::MAX_ALIASES;
    budget.max_documents = limits::MAX_DOCUMENTS;

    let mut alias_limits = AliasLimits::default();
    alias_limits.max_total_replayed_events = limits::MAX_ALIAS_REPLAYED_EVENTS;

    let mut options = Options::default();
    options.budget = Some(budget);
    options.alias_limits = alias_limits;
    options.strict_booleans = true;
    options.leading_zero_numbers_as_strings = true;
    options.duplicate_keys = DuplicateKeyPolicy::Error;
    options.merge_keys = MergeKeyPolicy::Merge;
    options.emit_comments = false;
    options.with_snippet = false;
    options
}

/// Checks limits that the parser does not: input size and single-scalar size are checked on
/// the text, before parsing, so an oversized input costs nothing but a length check.
pub fn check_text(text: &str) -> Result<(), String> {
    if text.len() > limits::MAX_INPUT_BYTES {
        return Err(format!(
            "input is {} bytes; vmesh reads at most {} bytes",
            text.len(),
            limits::MAX_INPUT_BYTES
        ));
    }
    // The lines of `str::lines` (a `\r` before the `\n` is not counted), found with memchr.
    let bytes = text.as_bytes();
    let mut start = 0;
    for (line, end) in memchr::memchr_iter(b'\n', bytes)
        .chain(std::iter::once(bytes.len()))
        .enumerate()
    {
        let mut len = end - start;
        if len > limits::MAX_SCALAR_BYTES && end > start && bytes[end - 1] == b'\r' {
            len -= 1;
        }
        if len > limits::MAX_SCALAR_BYTES {
            return Err(format!(
                "line {} is longer than {} bytes",
                line + 1,
                limits::MAX_SCALAR_BYTES
            ));
        }
        start = end + 1;
    }
    Ok(())
}
