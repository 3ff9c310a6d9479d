//! YAML in and out: parsing with limits ([`parse`]), block-style emission ([`emit`]) and
//! verbatim copies of input items ([`raw`]).

pub mod emit;
pub mod fast;
pub mod parse;
pub mod raw;

pub use emit::emit_document;
