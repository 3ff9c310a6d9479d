//! A fast reader for the block-style YAML that KRM hosts send.
//!
//! serde-saphyr reads about 10 MB/s; a re-render reads vmesh's own output back, which is
//! hundreds of MB. This reader handles the subset of YAML that kpt, kustomize and vmesh
//! itself write, and produces exactly the `serde_json::Value`s serde-saphyr produces with
//! [`super::parse::options`]. Whatever it is not sure of makes it return [`Unsupported`], and
//! the caller reads the input with serde-saphyr instead: the fast path never produces an
//! error of its own, and never a value serde-saphyr would not produce.
//!
//! Supported:
//! - block mappings and sequences (`key:\n- a` and indented sequences, compact `- key: v`
//!   and `- - a`), comments, blank lines, `---` and `...` marker lines;
//! - single-line plain, single-quoted and double-quoted scalars; one-line flow collections
//!   (`{a: 1, b: [x, y]}`, `{}`, `[]`);
//! - literal and folded block scalars (`|`, `|-`, `|+`, `>`, `>-`, `>+`) without indentation
//!   indicators;
//! - plain scalars typed as serde-saphyr types them: null (`~`, `null`, `Null`, `NULL`,
//!   empty), booleans (`true`, `True`, `TRUE`, `false`, …), decimal integers that fit 64
//!   bits, and strings (`on`, `NO`, `0777`, `1.2.3`, …).
//!
//! Unsupported (the caller falls back): anchors, aliases, tags, directives, merge keys,
//! complex (`?`) keys, multi-line plain or quoted scalars, multi-line flow collections,
//! indentation indicators, tabs, carriage returns, control characters, byte-order marks,
//! non-ASCII line breaks, every number other than a plain decimal integer (floats, `+1`,
//! `0x1f`, `1_000`, `.inf`), keys that are null or integers in another spelling, duplicate
//! keys, and anything deeper, longer or larger than the limits allow.
//!
//! The reader works on the input text in place: it never copies more than the values it
//! builds, recursion is bounded by the nesting limit, and every loop advances through the
//! input. The items of a ResourceList are read on every core: a first pass finds the line
//! of each `- ` entry (only lines indented no deeper than the entries can start or end one),
//! and each job reads a run of entries, every one of which must end where the next begins.

use super::parse::limits;
use memchr::{memchr, memchr2};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::HashSet;

/// The fast path does not handle this input (the reason is for tests and debugging).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsupported(pub &'static str);

type R<T> = Result<T, Unsupported>;

/// Deepest nesting the fast path parses; deeper input goes to serde-saphyr, which applies
/// [`limits::MAX_DEPTH`] with its own way of counting.
const MAX_FAST_DEPTH: usize = limits::MAX_DEPTH - 4;
/// Longest implicit key the fast path accepts (serde-saphyr's scanner looks ahead 1024
/// characters for the `:` of a simple key).
const MAX_KEY_BYTES: usize = 1000;
/// Plain mapping keys with more entries than this are checked for duplicates with a hash set.
const LINEAR_DUPLICATE_SCAN: usize = 16;

/// Decides, once an item's `apiVersion`, `kind` and `metadata` have been read, whether the
/// rest of it needs to be built: `true` means the other entries are only checked.
pub type SkipRest<'f> = &'f (dyn Fn(&Map<String, Value>) -> bool + Sync);

/// One item of `items`, or one document of a stream.
#[derive(Debug)]
pub struct ParsedItem {
    pub value: Value,
    /// Byte offset where the item's node starts: its first key, or the `{` of a flow item.
    pub start: usize,
    /// Entries after `apiVersion`, `kind` and `metadata` were checked but not built.
    pub skipped: bool,
    /// Start of the first content line after the item (or the end of the input): the
    /// item's text, trailing comments included, lies before it.
    pub next: usize,
}

impl ParsedItem {
    /// An item read in full; `next` is set once the reader has passed it.
    fn whole(value: Value, start: usize) -> Self {
        ParsedItem {
            value,
            start,
            skipped: false,
            next: 0,
        }
    }
}

/// Turns each item, given its position among the items, into what the caller keeps, as soon
/// as it is read (so that what is dropped from an item is freed before the next one is
/// read). Items of a ResourceList are read on several threads at once.
pub type Finish<'f, T> = &'f (dyn Fn(usize, ParsedItem) -> R<T> + Sync);

/// Items read per parallel job, by text size: enough to outweigh the job's bookkeeping,
/// small enough that every core gets several jobs of a few-MB input.
const ITEMS_JOB_BYTES: usize = 128 * 1024;

/// The top level of a ResourceList document, typed as `read_resource_list` reads it.
#[derive(Debug)]
pub struct ListDocument<T> {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub items: Vec<T>,
    pub function_config: Option<Value>,
    pub results: Option<Vec<Value>>,
}

/// The top-level fields of a ResourceList (the reader rejects every other field).
const LIST_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "items",
    "functionConfig",
    "results",
];

/// Reads one ResourceList document.
pub fn read_list<T: Send>(
    text: &str,
    skip_rest: SkipRest<'_>,
    finish: Finish<'_, T>,
) -> R<ListDocument<T>> {
    let mut p = Parser::new(text)?;
    let mut doc = ListDocument {
        api_version: None,
        kind: None,
        items: Vec::new(),
        function_config: None,
        results: None,
    };
    if let Some((0, q)) = p.content_line()?
        && p.marker_at(q) == Some(Marker::Start)
    {
        p.next_line();
    }
    let (indent, q) = p.content_line()?.ok_or(Unsupported("no document"))?;
    if indent != 0 || p.marker_at(q).is_some() {
        return Err(Unsupported("document does not start with a mapping"));
    }
    p.enter(1)?;
    let mut seen: Vec<Cow<'_, str>> = Vec::new();
    let mut at = q;
    loop {
        let key = p.key_at(at)?;
        if !LIST_FIELDS.contains(&key.as_ref()) {
            return Err(Unsupported("unknown ResourceList field"));
        }
        if seen.contains(&key) {
            return Err(Unsupported("duplicate key"));
        }
        match key.as_ref() {
            "items" => doc.items = p.items_after_key(skip_rest, finish)?,
            field => {
                let value = p.value_after_indicator(0, false, 2, true)?;
                match field {
                    "apiVersion" => doc.api_version = envelope_string(value)?,
                    "kind" => doc.kind = envelope_string(value)?,
                    "functionConfig" => doc.function_config = non_null(value),
                    "results" => {
                        doc.results = match value {
                            Value::Null => None,
                            Value::Array(results) => Some(results),
                            _ => return Err(Unsupported("results is not a sequence")),
                        }
                    }
                    _ => {}
                }
            }
        }
        seen.push(key);
        match p.content_line()? {
            Some((0, q)) if p.marker_at(q).is_none() => at = q,
            Some((0, q)) => {
                p.end_of_stream_after(q)?;
                break;
            }
            None => break,
            Some(_) => return Err(Unsupported("unexpected indentation")),
        }
    }
    p.check_counts()?;
    Ok(doc)
}

/// Reads a `---` stream of mappings; empty documents are left out, as serde-saphyr does.
pub fn read_stream<T>(text: &str, skip_rest: SkipRest<'_>, finish: Finish<'_, T>) -> R<Vec<T>> {
    let mut p = Parser::new(text)?;
    let mut docs = Vec::new();
    let mut after_end_marker = false;
    while let Some((indent, q)) = p.content_line()? {
        match p.marker_at(q) {
            Some(Marker::Start) if indent == 0 => {
                after_end_marker = false;
                p.next_line();
                continue;
            }
            Some(Marker::End) if indent == 0 => {
                after_end_marker = true;
                p.next_line();
                continue;
            }
            _ => {}
        }
        if indent != 0 || after_end_marker {
            return Err(Unsupported("document does not start with a mapping"));
        }
        let key = p
            .try_key(q)?
            .ok_or(Unsupported("document is not a mapping"))?;
        let mut doc = p.item_mapping(0, 1, skip_rest, q, key)?;
        let next = p.content_line()?;
        doc.next = p.pos;
        docs.push(finish(docs.len(), doc)?);
        if docs.len() >= limits::MAX_DOCUMENTS {
            return Err(Unsupported("too many documents"));
        }
        match next {
            None => break,
            Some((0, q)) if p.marker_at(q).is_some() => {}
            Some(_) => return Err(Unsupported("unexpected content after a document")),
        }
    }
    p.check_counts()?;
    Ok(docs)
}

/// apiVersion and kind are `Option<String>`: null is `None`; a number or a boolean is
/// left to serde-saphyr.
fn envelope_string(value: Value) -> R<Option<String>> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        _ => Err(Unsupported("envelope field is not a string")),
    }
}

fn non_null(value: Value) -> Option<Value> {
    (!value.is_null()).then_some(value)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Start,
    End,
}

/// A mapping key found on a line: its text and the position just after its `:`.
type Key<'a> = (Cow<'a, str>, usize);

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    /// Current byte; between block constructs always the start of a line.
    pos: usize,
    /// Start of the current content line (the last one [`Parser::content_line`] found).
    line_start: usize,
    /// End of the current content line: its `\n`, or the end of the input.
    eol: usize,
    /// Keys of the mappings being read whose values are not built, for the duplicate check:
    /// each mapping owns the part above the length it found on entry.
    keys: Vec<Cow<'a, str>>,
    nodes: usize,
    events: usize,
}

impl<'a> Parser<'a> {
    fn new(s: &'a str) -> R<Self> {
        check_bytes(s.as_bytes())?;
        Ok(Parser::within(s))
    }

    /// A parser over part of an input [`Parser::new`] has checked (offsets stay those of the
    /// whole input when the part is a prefix of it).
    fn within(s: &'a str) -> Self {
        Parser {
            s,
            b: s.as_bytes(),
            pos: 0,
            line_start: 0,
            eol: 0,
            keys: Vec::new(),
            nodes: 0,
            events: 0,
        }
    }

    fn line_end(&self, from: usize) -> usize {
        memchr(b'\n', &self.b[from..]).map_or(self.b.len(), |n| from + n)
    }

    /// Moves to the start of the line after the current content line.
    fn next_line(&mut self) {
        self.pos = (self.eol + 1).min(self.b.len());
    }

    /// True when nothing but a comment follows `at` on the current line, so that the value
    /// after an indicator or key lies on the lines below: then moves to the next line,
    /// counting the comment.
    fn value_is_below(&mut self, at: usize) -> bool {
        match self.byte(at) {
            Some(b'#') => self.events += 1,
            None | Some(b'\n') => {}
            Some(_) => return false,
        }
        self.next_line();
        true
    }

    fn byte(&self, at: usize) -> Option<u8> {
        self.b.get(at).copied()
    }

    /// True when `at` ends a token: a space, a line break or the end of the input.
    fn is_break_or_space(&self, at: usize) -> bool {
        matches!(self.byte(at), None | Some(b' ' | b'\n'))
    }

    fn skip_spaces(&self, at: usize) -> usize {
        let rest = self.b.get(at..).unwrap_or_default();
        at + rest.iter().position(|&c| c != b' ').unwrap_or(rest.len())
    }

    /// Skips blank and comment lines from the line start `pos`. Returns the indentation and
    /// the first content byte of the next content line, which becomes the current line
    /// (`pos` stays at its start), or `None` at the end of the input.
    fn content_line(&mut self) -> R<Option<(usize, usize)>> {
        loop {
            if self.pos >= self.b.len() {
                return Ok(None);
            }
            let q = self.skip_spaces(self.pos);
            match self.byte(q) {
                None => {
                    self.pos = q;
                    return Ok(None);
                }
                Some(b'\n') => self.pos = q + 1,
                Some(b'#') => {
                    self.events += 1;
                    self.pos = (self.line_end(q) + 1).min(self.b.len());
                }
                Some(_) => {
                    self.line_start = self.pos;
                    self.eol = self.line_end(q);
                    return Ok(Some((q - self.pos, q)));
                }
            }
        }
    }

    /// A `---` or `...` line at `at` (column 0 of the current line), with nothing after it
    /// but a comment.
    fn marker_at(&self, at: usize) -> Option<Marker> {
        if at != self.line_start {
            return None;
        }
        let marker = match self.b.get(at..at + 3)? {
            b"---" => Marker::Start,
            b"..." => Marker::End,
            _ => return None,
        };
        if !self.is_break_or_space(at + 3) {
            return None;
        }
        let rest = self.skip_spaces(at + 3);
        match self.byte(rest) {
            None | Some(b'\n') => Some(marker),
            Some(b'#') if rest > at + 3 => Some(marker),
            // `--- value` starts a document on the marker line: not handled here.
            _ => None,
        }
    }

    /// After the only document of a ResourceList: an optional `...` and nothing else.
    fn end_of_stream_after(&mut self, marker: usize) -> R<()> {
        if self.marker_at(marker) != Some(Marker::End) {
            return Err(Unsupported("more than one document"));
        }
        self.next_line();
        match self.content_line()? {
            None => Ok(()),
            Some(_) => Err(Unsupported("content after the document end")),
        }
    }

    fn enter(&mut self, depth: usize) -> R<()> {
        if depth > MAX_FAST_DEPTH {
            return Err(Unsupported("nesting too deep"));
        }
        self.nodes += 1;
        self.events += 2;
        Ok(())
    }

    fn scalar_node(&mut self) {
        self.nodes += 1;
        self.events += 1;
    }

    /// serde-saphyr counts every node and event; stay below its limits with a margin for
    /// the stream and document events.
    fn check_counts(&self) -> R<()> {
        if self.nodes + 16 >= limits::MAX_NODES || self.events + 16 >= limits::MAX_EVENTS {
            return Err(Unsupported("too many nodes"));
        }
        Ok(())
    }

    /// A `- ` (or `-` at the end of a line) sequence entry indicator at `at`.
    fn is_entry_dash(&self, at: usize) -> bool {
        self.byte(at) == Some(b'-') && self.is_break_or_space(at + 1)
    }

    // ---- block structure ------------------------------------------------------------

    /// Reads the mapping key at `at` and moves `pos` past its `:`.
    fn key_at(&mut self, at: usize) -> R<Cow<'a, str>> {
        let (key, after) = self
            .try_key(at)?
            .ok_or(Unsupported("expected a mapping key"))?;
        self.scalar_node();
        self.pos = after;
        Ok(key)
    }

    /// If the current line holds a mapping entry at `at`, its key and the position after
    /// the `:`.
    fn try_key(&self, at: usize) -> R<Option<Key<'a>>> {
        let b = self.b;
        match b[at] {
            // A flow collection; one used as a key (`{a: 1}: b`) is rejected after it.
            b'[' | b'{' => Ok(None),
            b'"' | b'\'' => {
                let (key, end) = self.quoted(at)?;
                if self.byte(end) == Some(b':') && self.is_break_or_space(end + 1) {
                    if end - at > MAX_KEY_BYTES {
                        return Err(Unsupported("long key"));
                    }
                    if key == "<<" {
                        return Err(Unsupported("merge key"));
                    }
                    Ok(Some((key, end + 1)))
                } else {
                    Ok(None)
                }
            }
            _ => {
                let end = self.eol;
                let mut i = at;
                while let Some(n) = memchr2(b':', b'#', &b[i..end]) {
                    let j = i + n;
                    if b[j] == b'#' {
                        if j > at && b[j - 1] == b' ' {
                            return Ok(None);
                        }
                    } else if j + 1 == end || b[j + 1] == b' ' {
                        let key = &self.s[at..j];
                        check_plain_key(key)?;
                        return Ok(Some((Cow::Borrowed(key), j + 1)));
                    }
                    i = j + 1;
                }
                Ok(None)
            }
        }
    }

    /// A block node whose first line starts at `at` (a content byte at column `col`).
    fn block_node(&mut self, at: usize, col: usize, depth: usize, build: bool) -> R<Value> {
        if self.is_entry_dash(at) {
            self.pos = at;
            self.block_sequence(col, depth, build)
        } else if let Some(key) = self.try_key(at)? {
            Ok(self.block_mapping(col, depth, build, None, key)?.0)
        } else {
            Err(Unsupported("scalar on a line of its own"))
        }
    }

    /// The value after a `key:` or a `- ` whose parent collection sits at column `parent`;
    /// `pos` is just past the indicator. Leaves `pos` at a line start.
    fn value_after_indicator(
        &mut self,
        parent: usize,
        in_sequence: bool,
        depth: usize,
        build: bool,
    ) -> R<Value> {
        let p = self.skip_spaces(self.pos);
        if self.value_is_below(p) {
            return match self.content_line()? {
                Some((indent, q)) if indent > parent => self.block_node(q, indent, depth, build),
                Some((indent, q)) if indent == parent && !in_sequence && self.is_entry_dash(q) => {
                    self.pos = q;
                    self.block_sequence(indent, depth, build)
                }
                _ => {
                    self.scalar_node();
                    Ok(Value::Null)
                }
            };
        }
        if p == self.pos {
            return Err(Unsupported("no space after an indicator"));
        }
        self.pos = p;
        let col = p - self.line_start;
        if self.is_entry_dash(p) {
            if !in_sequence {
                return Err(Unsupported("sequence entry after a key"));
            }
            return self.block_sequence(col, depth, build);
        }
        if in_sequence && let Some(key) = self.try_key(p)? {
            return Ok(self.block_mapping(col, depth, build, None, key)?.0);
        }
        self.inline_value(parent, depth, build)
    }

    /// A block sequence whose first `-` is at `pos`, column `col`.
    fn block_sequence(&mut self, col: usize, depth: usize, build: bool) -> R<Value> {
        self.enter(depth)?;
        let mut seq = Vec::new();
        loop {
            self.pos += 1;
            let value = self.value_after_indicator(col, true, depth + 1, build)?;
            if build {
                seq.push(value);
            }
            match self.content_line()? {
                Some((indent, q)) if indent == col && self.is_entry_dash(q) => self.pos = q,
                Some((indent, _)) if indent <= col => break,
                None => break,
                Some(_) => return Err(Unsupported("unexpected indentation")),
            }
        }
        Ok(if build {
            Value::Array(seq)
        } else {
            Value::Null
        })
    }

    /// A block mapping at column `col` whose first key, on the current line, is `first`.
    /// With `item`, the mapping is an item: once its apiVersion, kind and metadata are
    /// read, `item` says whether the other entries are built. Returns the mapping and
    /// whether entries were skipped.
    fn block_mapping(
        &mut self,
        col: usize,
        depth: usize,
        build: bool,
        item: Option<SkipRest<'_>>,
        first: Key<'a>,
    ) -> R<(Value, bool)> {
        self.enter(depth)?;
        let mut map = Map::new();
        // Keys whose values are not built (all of them when `build` is false) go on the
        // shared stack above `base`, or into a set when there are many.
        let base = self.keys.len();
        let mut many: Option<HashSet<Cow<'a, str>>> = None;
        let mut skipping = false;
        let mut skipped = false;
        // apiVersion, kind and metadata seen (items only).
        let mut identity = [false; 3];
        let (mut key, mut after) = first;
        loop {
            self.scalar_node();
            self.pos = after;
            let field = match key.as_ref() {
                "apiVersion" => Some(0),
                "kind" => Some(1),
                "metadata" => Some(2),
                _ => None,
            };
            let build_value = build && (!skipping || field.is_some());
            let value = self.value_after_indicator(col, false, depth + 1, build_value)?;
            let unbuilt = match &many {
                Some(set) => set.contains(&key),
                None => self.keys.len() > base && self.keys[base..].contains(&key),
            };
            if unbuilt {
                return Err(Unsupported("duplicate key"));
            }
            if build_value {
                if map.insert(key.into_owned(), value).is_some() {
                    return Err(Unsupported("duplicate key"));
                }
                if let (Some(skip_rest), Some(field)) = (item, field) {
                    identity[field] = true;
                    if !skipping && identity == [true; 3] {
                        skipping = skip_rest(&map);
                    }
                }
            } else {
                if map.contains_key(key.as_ref()) {
                    return Err(Unsupported("duplicate key"));
                }
                skipped = true;
                match &mut many {
                    Some(set) => {
                        set.insert(key);
                    }
                    None => {
                        self.keys.push(key);
                        if self.keys.len() - base > LINEAR_DUPLICATE_SCAN {
                            many = Some(self.keys.drain(base..).collect());
                        }
                    }
                }
            }
            match self.content_line()? {
                Some((indent, q)) if indent == col => {
                    if self.marker_at(q).is_some() {
                        break;
                    }
                    (key, after) = self
                        .try_key(q)?
                        .ok_or(Unsupported("expected a mapping key"))?;
                }
                Some((indent, _)) if indent < col => break,
                None => break,
                Some(_) => return Err(Unsupported("unexpected indentation")),
            }
        }
        self.keys.truncate(base);
        let value = if build {
            Value::Object(map)
        } else {
            Value::Null
        };
        Ok((value, skipped && item.is_some()))
    }

    /// An item mapping at column `col` starting at `start` with the key `first`, built
    /// except where `skip_rest` says not.
    fn item_mapping(
        &mut self,
        col: usize,
        depth: usize,
        skip_rest: SkipRest<'_>,
        start: usize,
        first: Key<'a>,
    ) -> R<ParsedItem> {
        let (value, skipped) = self.block_mapping(col, depth, true, Some(skip_rest), first)?;
        Ok(ParsedItem {
            value,
            start,
            skipped,
            next: 0,
        })
    }

    /// The value of the top-level `items:`: a block sequence of items, `[]`, or nothing.
    fn items_after_key<T: Send>(
        &mut self,
        skip_rest: SkipRest<'_>,
        finish: Finish<'_, T>,
    ) -> R<Vec<T>> {
        let p = self.skip_spaces(self.pos);
        if !self.value_is_below(p) {
            if self.byte(p) == Some(b'[') && p > self.pos {
                return match self.value_after_indicator(0, false, 2, true)? {
                    Value::Array(items) if items.is_empty() => Ok(Vec::new()),
                    _ => Err(Unsupported("flow items")),
                };
            }
            return Err(Unsupported("items is not a block sequence"));
        }
        let col = match self.content_line()? {
            Some((indent, q)) if self.is_entry_dash(q) => {
                self.pos = q;
                indent
            }
            Some((indent, _)) if indent > 0 => {
                return Err(Unsupported("items is not a block sequence"));
            }
            // `items:` with nothing: serde reads `None`, the reader no items.
            _ => {
                self.scalar_node();
                return Ok(Vec::new());
            }
        };
        self.enter(2)?;
        let (entries, end) = self.entry_lines(col);
        let jobs = items_jobs(&entries, end);
        let text = self.s;
        let read = crate::parallel::in_parallel(&jobs, |job| {
            let mut items = Vec::with_capacity(job.lines.len());
            let mut parser = Parser::within(&text[..job.end]);
            for (i, &line) in job.lines.iter().enumerate() {
                let item_end = job.lines.get(i + 1).copied().unwrap_or(job.end);
                items.push(parser.item_at(line, item_end, col, skip_rest, |item| {
                    finish(job.first + i, item)
                })?);
            }
            Ok((items, parser.nodes, parser.events))
        });
        let mut items = Vec::with_capacity(entries.len());
        for job in read {
            let (mut read, nodes, events) = job?;
            items.append(&mut read);
            self.nodes += nodes;
            self.events += events;
        }
        self.pos = end;
        Ok(items)
    }

    /// The lines of the entries of a block sequence at column `col` whose first entry is
    /// on the current line: where each entry's line starts, and where the first line after
    /// the sequence starts (or the end of the input). Only lines indented by `col` or less
    /// decide: every other line of an entry is indented deeper, blank, or a comment.
    fn entry_lines(&self, col: usize) -> (Vec<usize>, usize) {
        let mut entries = vec![self.line_start];
        let mut line = (self.eol + 1).min(self.b.len());
        while line < self.b.len() {
            let q = self.skip_spaces(line);
            let content = !matches!(self.byte(q), None | Some(b'\n' | b'#'));
            if content && q - line <= col {
                if q - line < col || !self.is_entry_dash(q) {
                    return (entries, line);
                }
                entries.push(line);
            }
            line = (self.line_end(q) + 1).min(self.b.len());
        }
        (entries, self.b.len())
    }

    /// Reads the entry whose `- ` is the first content of the line at `line` and passes it
    /// to `finish`; nothing but blank and comment lines may follow it before `end`.
    fn item_at<T>(
        &mut self,
        line: usize,
        end: usize,
        col: usize,
        skip_rest: SkipRest<'_>,
        finish: impl FnOnce(ParsedItem) -> R<T>,
    ) -> R<T> {
        self.pos = line;
        match self.content_line()? {
            Some((indent, q)) if indent == col && self.is_entry_dash(q) => self.pos = q + 1,
            _ => return Err(Unsupported("not a sequence entry")),
        }
        let mut item = self.item_entry(col, skip_rest)?;
        if self.content_line()?.is_some() && self.pos != end {
            return Err(Unsupported("unexpected indentation"));
        }
        item.next = self.pos;
        finish(item)
    }

    /// One `- ` entry of `items` (`pos` just past the `-`).
    fn item_entry(&mut self, col: usize, skip_rest: SkipRest<'_>) -> R<ParsedItem> {
        let p = self.skip_spaces(self.pos);
        if self.value_is_below(p) {
            return match self.content_line()? {
                Some((indent, q)) if indent > col => {
                    if let Some(key) = self.try_key(q)? {
                        return self.item_mapping(indent, 3, skip_rest, q, key);
                    }
                    let value = self.block_node(q, indent, 3, true)?;
                    Ok(ParsedItem::whole(value, q))
                }
                _ => {
                    self.scalar_node();
                    Ok(ParsedItem::whole(Value::Null, p))
                }
            };
        }
        if p == self.pos {
            return Err(Unsupported("no space after an indicator"));
        }
        if let Some(key) = self.try_key(p)? {
            return self.item_mapping(p - self.line_start, 3, skip_rest, p, key);
        }
        let value = self.value_after_indicator(col, true, 3, true)?;
        Ok(ParsedItem::whole(value, p))
    }

    /// A scalar, flow collection or block scalar starting at `pos`, after `key: ` or `- `
    /// of a collection at column `parent`. Leaves `pos` at the next line start.
    fn inline_value(&mut self, parent: usize, depth: usize, build: bool) -> R<Value> {
        let p = self.pos;
        match self.b[p] {
            b'"' | b'\'' => {
                let (text, end) = self.quoted(p)?;
                self.scalar_node();
                self.end_of_line_after(end)?;
                Ok(if build {
                    Value::String(text.into_owned())
                } else {
                    Value::Null
                })
            }
            b'[' | b'{' => {
                let mut flow = Flow {
                    end: self.eol,
                    parser: self,
                    at: p,
                };
                let value = flow.node(depth, build)?;
                let at = flow.at;
                self.end_of_line_after(at)?;
                Ok(value)
            }
            b'|' | b'>' => {
                let text = self.block_scalar(parent)?;
                self.scalar_node();
                Ok(if build {
                    Value::String(text)
                } else {
                    Value::Null
                })
            }
            c if is_indicator(c) || (c == b'-' && !dash_starts_plain(self.b, p)) => {
                Err(Unsupported("indicator"))
            }
            _ => {
                let end = self.eol;
                let b = self.b;
                let mut stop = end;
                let mut i = p;
                while let Some(n) = memchr2(b':', b'#', &b[i..end]) {
                    let j = i + n;
                    if b[j] == b'#' {
                        if b[j - 1] == b' ' {
                            stop = j;
                            self.events += 1;
                            break;
                        }
                    } else if j + 1 == end || b[j + 1] == b' ' {
                        return Err(Unsupported("mapping value in a plain scalar"));
                    }
                    i = j + 1;
                }
                let text = self.s[p..stop].trim_end_matches(' ');
                self.scalar_node();
                self.next_line();
                if build {
                    plain_value(text)
                } else {
                    check_plain_value(text).map(|()| Value::Null)
                }
            }
        }
    }

    /// After a scalar or flow collection ending before `at`: only spaces and a comment may
    /// follow on the line. Moves to the next line.
    fn end_of_line_after(&mut self, at: usize) -> R<()> {
        let q = self.skip_spaces(at);
        match self.byte(q) {
            None | Some(b'\n') => {}
            Some(b'#') if q > at => self.events += 1,
            _ => return Err(Unsupported("content after a scalar")),
        }
        self.next_line();
        Ok(())
    }

    /// A quoted scalar at `at` that ends on the current line: its text and the position
    /// after the closing quote.
    fn quoted(&self, at: usize) -> R<(Cow<'a, str>, usize)> {
        if self.b[at] == b'\'' {
            single_quoted(self.s, at, self.eol)
        } else {
            double_quoted(self.s, at, self.eol)
        }
    }

    /// A literal or folded block scalar whose header is at `pos`, the value of a collection
    /// at column `parent`. Leaves `pos` at the first line after it.
    fn block_scalar(&mut self, parent: usize) -> R<String> {
        let b = self.b;
        let literal = b[self.pos] == b'|';
        let mut at = self.pos + 1;
        let chomp = match self.byte(at) {
            Some(b'-') => {
                at += 1;
                Chomp::Strip
            }
            Some(b'+') => {
                at += 1;
                Chomp::Keep
            }
            _ => Chomp::Clip,
        };
        self.end_of_line_after(at)?;
        // Leading empty lines, then the first content line fixes the indentation.
        let mut leading_empty = 0usize;
        let mut leading_spaces = 0usize;
        let indent = loop {
            if self.pos >= b.len() {
                return Err(Unsupported("empty block scalar"));
            }
            let q = self.skip_spaces(self.pos);
            match self.byte(q) {
                Some(b'\n') => {
                    leading_empty += 1;
                    leading_spaces = leading_spaces.max(q - self.pos);
                    self.pos = q + 1;
                }
                None => return Err(Unsupported("empty block scalar")),
                Some(_) => break q - self.pos,
            }
        };
        if indent <= parent || leading_spaces > indent {
            return Err(Unsupported("block scalar indentation"));
        }
        let mut out = String::new();
        for _ in 0..leading_empty {
            out.push('\n');
        }
        // Empty lines since the last content line.
        let mut pending_empty = 0usize;
        let mut any_content = false;
        while self.pos < b.len() {
            let line_end = self.line_end(self.pos);
            let q = self.skip_spaces(self.pos);
            let spaces = q - self.pos;
            if q == line_end {
                if spaces > indent {
                    return Err(Unsupported("whitespace line in a block scalar"));
                }
                if line_end == b.len() {
                    // Spaces at the very end of the input, without a line break.
                    return Err(Unsupported("block scalar at the end of the input"));
                }
                pending_empty += 1;
                self.pos = line_end + 1;
                continue;
            }
            if spaces < indent {
                break;
            }
            if line_end == b.len() {
                return Err(Unsupported("block scalar without a final line break"));
            }
            let content = &self.s[self.pos + indent..line_end];
            if any_content {
                if literal {
                    out.push('\n');
                    for _ in 0..pending_empty {
                        out.push('\n');
                    }
                } else if pending_empty == 0 {
                    out.push(' ');
                } else {
                    for _ in 0..pending_empty {
                        out.push('\n');
                    }
                }
            } else if !literal && pending_empty > 0 {
                return Err(Unsupported("folded block scalar with leading empty lines"));
            } else {
                for _ in 0..pending_empty {
                    out.push('\n');
                }
            }
            if !literal && content.starts_with(' ') {
                return Err(Unsupported("more-indented line in a folded block scalar"));
            }
            out.push_str(content);
            if out.len() > limits::MAX_SCALAR_BYTES {
                return Err(Unsupported("block scalar too large"));
            }
            any_content = true;
            pending_empty = 0;
            self.pos = line_end + 1;
        }
        match chomp {
            Chomp::Strip => {}
            Chomp::Clip => out.push('\n'),
            Chomp::Keep => {
                for _ in 0..=pending_empty {
                    out.push('\n');
                }
            }
        }
        Ok(out)
    }
}

#[derive(Clone, Copy)]
enum Chomp {
    Strip,
    Clip,
    Keep,
}

/// A one-line flow collection, read between `at` and the line end `end`.
struct Flow<'p, 'a> {
    parser: &'p mut Parser<'a>,
    end: usize,
    at: usize,
}

impl<'a> Flow<'_, 'a> {
    fn byte(&self) -> R<u8> {
        if self.at < self.end {
            Ok(self.parser.b[self.at])
        } else {
            Err(Unsupported("flow collection continues on the next line"))
        }
    }

    fn skip_spaces(&mut self) {
        while self.at < self.end && self.parser.b[self.at] == b' ' {
            self.at += 1;
        }
    }

    /// After an entry of a flow collection closed by `close`: true at the end of the
    /// collection, false after a `,` that another entry follows.
    fn entry_end(&mut self, close: u8, syntax: &'static str) -> R<bool> {
        self.skip_spaces();
        match self.byte()? {
            b',' => {
                self.at += 1;
                self.skip_spaces();
                let next = self.byte()?;
                if next == close || next == b',' {
                    return Err(Unsupported("empty flow entry"));
                }
                Ok(false)
            }
            b if b == close => {
                self.at += 1;
                Ok(true)
            }
            _ => Err(Unsupported(syntax)),
        }
    }

    fn node(&mut self, depth: usize, build: bool) -> R<Value> {
        match self.byte()? {
            b'[' => self.sequence(depth, build),
            b'{' => self.mapping(depth, build),
            _ => {
                let value = self.scalar(build)?;
                if self.at < self.end && self.parser.b[self.at] == b':' {
                    return Err(Unsupported("implicit mapping in a flow sequence"));
                }
                Ok(value)
            }
        }
    }

    fn scalar(&mut self, build: bool) -> R<Value> {
        self.parser.scalar_node();
        match self.byte()? {
            b'"' | b'\'' => {
                let text = self.quoted()?;
                Ok(if build {
                    Value::String(text.into_owned())
                } else {
                    Value::Null
                })
            }
            _ => {
                let text = self.plain()?;
                if build {
                    plain_value(text)
                } else {
                    check_plain_value(text).map(|()| Value::Null)
                }
            }
        }
    }

    fn quoted(&mut self) -> R<Cow<'a, str>> {
        let s = self.parser.s;
        let (text, after) = if self.parser.b[self.at] == b'\'' {
            single_quoted(s, self.at, self.end)?
        } else {
            double_quoted(s, self.at, self.end)?
        };
        self.at = after;
        Ok(text)
    }

    /// A plain scalar inside a flow collection: up to `,`, a bracket, a `:` indicator or the
    /// line end.
    fn plain(&mut self) -> R<&'a str> {
        let s: &'a str = self.parser.s;
        let b = s.as_bytes();
        let start = self.at;
        let first = b[start];
        if is_indicator(first) || (first == b'-' && !dash_starts_plain(b, start)) {
            return Err(Unsupported("indicator in a flow collection"));
        }
        let mut i = start;
        while i < self.end {
            match b[i] {
                b',' | b'[' | b']' | b'{' | b'}' => break,
                // `:` ends the scalar before a space or a flow indicator; `2001:db8::1` is
                // one scalar.
                b':' if i + 1 == self.end
                    || matches!(b[i + 1], b' ' | b',' | b'[' | b']' | b'{' | b'}') =>
                {
                    break;
                }
                b'#' => return Err(Unsupported("# in a flow collection")),
                _ => i += 1,
            }
        }
        let text = s[start..i].trim_end_matches(' ');
        if text.is_empty() {
            return Err(Unsupported("empty flow scalar"));
        }
        self.at = i;
        Ok(text)
    }

    fn sequence(&mut self, depth: usize, build: bool) -> R<Value> {
        self.parser.enter(depth)?;
        self.at += 1;
        self.skip_spaces();
        let mut seq = Vec::new();
        if self.byte()? == b']' {
            self.at += 1;
            return Ok(if build {
                Value::Array(seq)
            } else {
                Value::Null
            });
        }
        loop {
            let value = self.node(depth + 1, build)?;
            if build {
                seq.push(value);
            }
            if self.entry_end(b']', "flow sequence syntax")? {
                break;
            }
        }
        Ok(if build {
            Value::Array(seq)
        } else {
            Value::Null
        })
    }

    fn mapping(&mut self, depth: usize, build: bool) -> R<Value> {
        self.parser.enter(depth)?;
        self.at += 1;
        self.skip_spaces();
        let mut map = Map::new();
        let base = self.parser.keys.len();
        if self.byte()? == b'}' {
            self.at += 1;
            return Ok(if build {
                Value::Object(map)
            } else {
                Value::Null
            });
        }
        loop {
            self.parser.scalar_node();
            let key: Cow<'a, str> = match self.byte()? {
                b'"' | b'\'' => {
                    let key = self.quoted()?;
                    if key.len() > MAX_KEY_BYTES || key == "<<" {
                        return Err(Unsupported("flow key"));
                    }
                    key
                }
                _ => {
                    let key = self.plain()?;
                    check_plain_key(key)?;
                    Cow::Borrowed(key)
                }
            };
            if !(self.byte()? == b':'
                && self.at + 1 < self.end
                && self.parser.b[self.at + 1] == b' ')
            {
                return Err(Unsupported("flow mapping entry without `: `"));
            }
            self.at += 2;
            self.skip_spaces();
            if matches!(self.byte()?, b',' | b'}') {
                return Err(Unsupported("empty flow value"));
            }
            let value = self.node(depth + 1, build)?;
            if build {
                if map.contains_key(key.as_ref()) {
                    return Err(Unsupported("duplicate key"));
                }
                map.insert(key.into_owned(), value);
            } else {
                if self.parser.keys[base..].contains(&key) {
                    return Err(Unsupported("duplicate key"));
                }
                self.parser.keys.push(key);
            }
            if self.entry_end(b'}', "flow mapping syntax")? {
                break;
            }
        }
        self.parser.keys.truncate(base);
        Ok(if build {
            Value::Object(map)
        } else {
            Value::Null
        })
    }
}

/// YAML indicators that cannot start a plain scalar here (`-` is checked separately: it
/// may start one when a non-space follows, as in `-1`).
/// A run of consecutive sequence entries read by one parallel job.
struct ItemsJob<'e> {
    /// Position of the first entry among all entries.
    first: usize,
    /// Where each entry's line starts.
    lines: &'e [usize],
    /// Where the last entry's text ends (the next entry's line, or the sequence's end).
    end: usize,
}

/// Cuts the entries starting at `lines` (the sequence ends at `end`) into jobs of about
/// [`ITEMS_JOB_BYTES`] of text.
fn items_jobs(lines: &[usize], end: usize) -> Vec<ItemsJob<'_>> {
    let mut jobs = Vec::new();
    let mut first = 0;
    for i in 1..=lines.len() {
        let job_end = lines.get(i).copied().unwrap_or(end);
        if i == lines.len() || job_end - lines[first] >= ITEMS_JOB_BYTES {
            jobs.push(ItemsJob {
                first,
                lines: &lines[first..i],
                end: job_end,
            });
            first = i;
        }
    }
    jobs
}

fn is_indicator(c: u8) -> bool {
    matches!(
        c,
        b'?' | b':'
            | b','
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'#'
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
    )
}

/// A `-` at `at` starts a plain scalar the fast path reads (`-1`, `-x`, `-.5`); other
/// spellings (`--`, `-:`, `-,`) are left to serde-saphyr.
fn dash_starts_plain(b: &[u8], at: usize) -> bool {
    b.get(at + 1)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'.')
}

/// Plain keys the fast path reads as the strings serde-saphyr gives serde_json: not null
/// (an error there), not a merge key, not an integer spelled other than plainly (serde-saphyr
/// compares integer keys by value when it looks for duplicates), and without flow
/// indicators.
fn check_plain_key(key: &str) -> R<()> {
    // `[`/`{` and `]`/`}` differ from each other only in bit 5; checked without branches.
    let flow_indicator = key.bytes().fold(false, |acc, c| {
        acc | ((c | 0x20) == b'{') | ((c | 0x20) == b'}') | (c == b',')
    });
    if flow_indicator {
        return Err(Unsupported("flow indicator in a key"));
    }
    let bytes = key.as_bytes();
    let Some(&first) = bytes.first() else {
        return Err(Unsupported("empty key"));
    };
    if is_indicator(first) || first == b'-' || bytes[bytes.len() - 1] == b' ' {
        return Err(Unsupported("plain key syntax"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(Unsupported("long key"));
    }
    if matches!(key, "~" | "null" | "Null" | "NULL" | "<<") {
        return Err(Unsupported("null or merge key"));
    }
    if (first.is_ascii_digit() || first == b'+')
        && could_be_int(key)
        && simple_integer(key).is_none()
    {
        return Err(Unsupported("integer key"));
    }
    Ok(())
}

/// How serde-saphyr types a plain scalar for an untyped target with vmesh's options
/// (strict booleans, leading-zero numbers as strings).
enum Plain {
    Null,
    Bool(bool),
    /// A decimal integer: `0`, `[1-9][0-9]*` or `-[1-9][0-9]*` within 64 bits.
    Int(Value),
    String,
}

/// Types a plain scalar as serde-saphyr does, or gives up on numbers that are not plain
/// decimal integers.
fn classify_plain(text: &str) -> R<Plain> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Plain::Null),
        "true" | "True" | "TRUE" => return Ok(Plain::Bool(true)),
        "false" | "False" | "FALSE" => return Ok(Plain::Bool(false)),
        _ => {}
    }
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    // serde-saphyr's integers start with a digit (after the sign); its floats with a digit
    // or a `.`, except Rust's `inf` and `nan`, which are not finite and so stay strings.
    match unsigned.as_bytes().first() {
        Some(c) if c.is_ascii_digit() || *c == b'.' => {}
        _ => return Ok(Plain::String),
    }
    // Spellings serde-saphyr keeps as strings before trying numbers.
    let uppercase_radix = matches!(unsigned.as_bytes(), [b'0', b'X' | b'O' | b'B', ..]);
    let signed_nan = text.len() > unsigned.len() && matches!(unsigned, ".nan" | ".NaN" | ".NAN");
    if uppercase_radix || signed_nan || leading_zero_decimal(text) {
        return Ok(Plain::String);
    }
    if let Some(value) = simple_integer(text) {
        return Ok(Plain::Int(value));
    }
    if could_be_int(text) || text.parse::<f64>().is_ok() || non_finite_spelling(unsigned) {
        return Err(Unsupported("number other than a decimal integer"));
    }
    Ok(Plain::String)
}

/// The value serde-saphyr gives a plain scalar.
fn plain_value(text: &str) -> R<Value> {
    Ok(match classify_plain(text)? {
        Plain::Null => Value::Null,
        Plain::Bool(b) => Value::Bool(b),
        Plain::Int(value) => value,
        Plain::String => Value::String(text.to_string()),
    })
}

/// [`plain_value`] without building the value.
fn check_plain_value(text: &str) -> R<()> {
    classify_plain(text).map(|_| ())
}

/// `0`, `[1-9][0-9]*` or `-[1-9][0-9]*` within 64 bits: the integers whose spelling is
/// their canonical value.
fn simple_integer(text: &str) -> Option<Value> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(digits) => (true, digits),
        None => (false, text),
    };
    let bytes = digits.as_bytes();
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if bytes[0] == b'0' && (bytes.len() > 1 || negative) {
        return None;
    }
    if negative {
        text.parse::<i64>().ok().map(Value::from)
    } else {
        digits.parse::<u64>().ok().map(Value::from)
    }
}

/// A superset of what serde-saphyr's integer parser accepts: a sign, then a digit, then
/// digits, hex digits, radix letters and underscores.
fn could_be_int(text: &str) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    unsigned.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && unsigned
            .bytes()
            .all(|c| c.is_ascii_hexdigit() || matches!(c, b'_' | b'x' | b'X' | b'o' | b'O'))
}

fn non_finite_spelling(unsigned: &str) -> bool {
    matches!(
        unsigned,
        ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF"
    )
}

/// serde-saphyr's `leading_zero_decimal`: `0127`, `+0127`, `-0127`.
fn leading_zero_decimal(text: &str) -> bool {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    digits.len() > 1 && digits.starts_with('0') && digits.bytes().all(|b| b.is_ascii_digit())
}

/// A single-quoted scalar at `at` closing before `end`: its text and the position after it.
fn single_quoted(s: &str, at: usize, end: usize) -> R<(Cow<'_, str>, usize)> {
    let b = s.as_bytes();
    let mut i = at + 1;
    let mut owned: Option<String> = None;
    loop {
        let n = memchr(b'\'', &b[i..end]).ok_or(Unsupported("multi-line quoted scalar"))?;
        let j = i + n;
        if j + 1 < end && b[j + 1] == b'\'' {
            owned.get_or_insert_with(String::new).push_str(&s[i..=j]);
            i = j + 2;
            continue;
        }
        let text = match owned {
            Some(mut text) => {
                text.push_str(&s[i..j]);
                Cow::Owned(text)
            }
            None => Cow::Borrowed(&s[at + 1..j]),
        };
        return Ok((text, j + 1));
    }
}

/// A double-quoted scalar at `at` closing before `end`: its text and the position after it.
fn double_quoted(s: &str, at: usize, end: usize) -> R<(Cow<'_, str>, usize)> {
    let b = s.as_bytes();
    let mut i = at + 1;
    let mut owned: Option<String> = None;
    loop {
        let n = memchr2(b'"', b'\\', &b[i..end]).ok_or(Unsupported("multi-line quoted scalar"))?;
        let j = i + n;
        if b[j] == b'"' {
            let text = match owned {
                Some(mut text) => {
                    text.push_str(&s[i..j]);
                    Cow::Owned(text)
                }
                None => Cow::Borrowed(&s[at + 1..j]),
            };
            return Ok((text, j + 1));
        }
        let text = owned.get_or_insert_with(String::new);
        text.push_str(&s[i..j]);
        let escape = *b
            .get(j + 1)
            .filter(|_| j + 1 < end)
            .ok_or(Unsupported("escaped line break"))?;
        let mut next = j + 2;
        let c = match escape {
            b'0' => '\0',
            b'a' => '\u{7}',
            b'b' => '\u{8}',
            b't' => '\t',
            b'n' => '\n',
            b'v' => '\u{b}',
            b'f' => '\u{c}',
            b'r' => '\r',
            b'e' => '\u{1b}',
            b' ' => ' ',
            b'"' => '"',
            b'/' => '/',
            b'\\' => '\\',
            b'N' => '\u{85}',
            b'_' => '\u{a0}',
            b'L' => '\u{2028}',
            b'P' => '\u{2029}',
            b'x' | b'u' | b'U' => {
                let digits = match escape {
                    b'x' => 2,
                    b'u' => 4,
                    _ => 8,
                };
                let hex = s
                    .get(next..next + digits)
                    .filter(|_| next + digits <= end)
                    .ok_or(Unsupported("short escape"))?;
                if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                    return Err(Unsupported("bad escape"));
                }
                next += digits;
                u32::from_str_radix(hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or(Unsupported("bad escape"))?
            }
            _ => return Err(Unsupported("unknown escape")),
        };
        text.push(c);
        i = next;
    }
}

/// Characters the fast path leaves to serde-saphyr wherever they appear: tabs, carriage
/// returns and other control characters, DEL, C1 controls (NEL among them), the Unicode
/// line and paragraph separators, byte-order marks and the non-characters U+FFFE/U+FFFF.
fn check_bytes(b: &[u8]) -> R<()> {
    const CHUNK: usize = 64;
    let mut at = 0;
    while at < b.len() {
        let chunk = &b[at..(at + CHUNK).min(b.len())];
        // Printable ASCII and line breaks only: the common case, checked without branches.
        let unusual = chunk.iter().fold(false, |acc, &c| {
            acc | ((c < 0x20) & (c != b'\n')) | (c >= 0x7f)
        });
        if unusual {
            for (i, &c) in chunk.iter().enumerate() {
                if (0x20..0x7f).contains(&c) || c == b'\n' {
                    continue;
                }
                let i = at + i;
                let bad = match c {
                    0..=0x1f | 0x7f => true,
                    0xc2 => b[i + 1] < 0xa0,
                    0xe2 => b[i + 1] == 0x80 && matches!(b[i + 2], 0xa8 | 0xa9),
                    0xef => {
                        (b[i + 1] == 0xbb && b[i + 2] == 0xbf)
                            || (b[i + 1] == 0xbf && matches!(b[i + 2], 0xbe | 0xbf))
                    }
                    _ => false,
                };
                if bad {
                    return Err(Unsupported("character left to serde-saphyr"));
                }
            }
        }
        at += CHUNK;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_skip(_: &Map<String, Value>) -> bool {
        false
    }

    /// The fast reading of a one-document stream, or why it was left to serde-saphyr.
    fn fast(doc: &str) -> R<Value> {
        let mut docs = read_stream(doc, &no_skip, &|_, item| Ok(item))?;
        assert_eq!(docs.len(), 1, "{doc}");
        Ok(docs.remove(0).value)
    }

    fn saphyr(doc: &str) -> Value {
        serde_saphyr::from_str_with_options(doc, super::super::parse::options()).unwrap()
    }

    #[test]
    fn plain_scalars_are_typed_as_serde_saphyr_types_them() {
        for scalar in [
            "~",
            "null",
            "Null",
            "NULL",
            "true",
            "True",
            "TRUE",
            "false",
            "False",
            "FALSE",
            "on",
            "off",
            "yes",
            "no",
            "NO",
            "y",
            "n",
            "0",
            "7",
            "-7",
            "1234567890",
            "18446744073709551615",
            "-9223372036854775808",
            "0777",
            "-0777",
            "+0777",
            "00",
            "0X1F",
            "0O17",
            "0B11",
            "+.nan",
            "-.nan",
            "inf",
            "nan",
            "infinity",
            "10.8.1.12",
            "1.2.3",
            "2001-12-14",
            "1:20",
            "0xyz",
            "a-b",
            "-x",
            "x-",
            "cluster.local/ns/x/sa/*",
            "a#b",
            "ünïcödé",
            "a, b",
            "a]",
            "x{{y}}",
        ] {
            let doc = format!("k: {scalar}\n");
            assert_eq!(fast(&doc), Ok(saphyr(&doc)), "{scalar}");
        }
    }

    #[test]
    fn numbers_other_than_decimal_integers_are_left_to_serde_saphyr() {
        for scalar in [
            "1.5",
            "1.10",
            ".5",
            "5.",
            "1e3",
            "1E3",
            "-1.5e-3",
            "0x1f",
            "0o17",
            "0b11",
            "1_000",
            "+1",
            "-0",
            ".inf",
            "-.inf",
            ".nan",
            "18446744073709551616",
            "-9223372036854775809",
            // Strings to serde-saphyr, but close enough to numbers that the fast path does
            // not decide.
            "12abc",
        ] {
            let doc = format!("k: {scalar}\n");
            assert!(fast(&doc).is_err(), "{scalar}");
        }
    }

    #[test]
    fn keys_that_serde_saphyr_would_compare_as_numbers_or_reject_are_left_to_it() {
        for key in [
            "~", "null", "<<", "0x1", "-0", "+1", "1_0", "? a", "[a]", "{a: b}", "a,b", "-1", "*a",
            "&a b", "!t k", "01",
        ] {
            let doc = format!("{key}: v\n");
            assert!(fast(&doc).is_err(), "{key}");
        }
        for key in ["1", "1.5", "true", "on", "a b", "a:b", "\"\"", "'x'"] {
            let doc = format!("{key}: v\n");
            assert_eq!(fast(&doc), Ok(saphyr(&doc)), "{key}");
        }
    }

    #[test]
    fn double_quoted_escapes_match() {
        let doc =
            "k: \"\\0\\a\\b\\t\\n\\v\\f\\r\\e\\ \\\"\\/\\\\\\N\\_\\L\\P\\x41\\u00e9\\U0001F600\"\n";
        assert_eq!(fast(doc), Ok(saphyr(doc)));
        for bad in ["\"\\q\"", "\"\\x4\"", "\"\\ud800\"", "\"open"] {
            assert!(fast(&format!("k: {bad}\n")).is_err(), "{bad}");
        }
    }

    #[test]
    fn block_scalars_match() {
        for doc in [
            "k: |\n  a\n   b\n\n  c\n",
            "k: |-\n  a\n\n",
            "k: |+\n  a\n\n\nz: 1\n",
            "k: >\n  a\n  b\n\n  c\n",
            "k: >-\n  a\n  b\n",
            "k: >+\n  a\n\n",
            "k: |\n\n  a\n",
            "k: | # comment\n  # not a comment\n",
            "k:\n- |\n  a\n- b\n",
        ] {
            assert_eq!(fast(doc), Ok(saphyr(doc)), "{doc}");
        }
        for doc in [
            "k: |2\n   a\n",
            "k: >\n  a\n   b\n",
            "k: |\n",
            "k: |\n  a",
            "k: |\n   \n  a\n",
        ] {
            assert!(fast(doc).is_err(), "{doc}");
        }
    }

    #[test]
    fn hostile_input_is_left_to_serde_saphyr_without_deep_recursion() {
        let deep_flow = format!("k: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(fast(&deep_flow), Err(Unsupported("nesting too deep")));
        let mut deep_block = String::new();
        for level in 0..200 {
            deep_block.push_str(&" ".repeat(level));
            deep_block.push_str("k:\n");
        }
        assert_eq!(fast(&deep_block), Err(Unsupported("nesting too deep")));
        let long_key = format!("{}: v\n", "k".repeat(MAX_KEY_BYTES + 1));
        assert!(fast(&long_key).is_err());
        let wide = format!("k: [{}a]\n", "a, ".repeat(10_000));
        assert!(fast(&wide).is_ok());
        for text in [
            "k: v\r\n",
            "k:\tv\n",
            "\u{feff}k: v\n",
            "k: \u{85}\n",
            "k: \u{7f}\n",
        ] {
            assert_eq!(
                fast(text),
                Err(Unsupported("character left to serde-saphyr")),
                "{text:?}"
            );
        }
    }

    #[test]
    fn skipped_entries_are_checked_but_not_built() {
        let doc = "apiVersion: v1\nkind: A\nmetadata: {name: a}\nspec:\n  x: [1, 2]\n  y: z\n";
        let docs = read_stream(doc, &|_| true, &|_, item| Ok(item)).unwrap();
        assert!(docs[0].skipped);
        assert_eq!(docs[0].value.get("spec"), None);
        assert_eq!(docs[0].value["metadata"]["name"], "a");
        // A duplicate key or an unsupported scalar in a skipped entry still falls back.
        for bad in [
            "  x: 1\n  x: 2\n",
            "  x: 1.5\n",
            "  x: &a b\n",
            "  x: y: z\n",
        ] {
            let doc = format!("apiVersion: v1\nkind: A\nmetadata: {{name: a}}\nspec:\n{bad}");
            assert!(
                read_stream(&doc, &|_| true, &|_, item| Ok(item)).is_err(),
                "{bad}"
            );
        }
    }

    /// A ResourceList whose items span many parallel jobs, with what could mislead a
    /// splitter: comments and blank lines at every column between items, block scalars
    /// with lines that look like entries, nested sequences at the items' column + 2.
    fn many_items(items_column: usize, count: usize) -> String {
        let pad = " ".repeat(items_column);
        let mut doc =
            String::from("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n");
        for i in 0..count {
            doc.push_str(&format!(
                "{pad}- apiVersion: v1\n{pad}  kind: ConfigMap\n{pad}  metadata:\n{pad}    name: c{i}\n\
                 # a comment at column 0\n\n{pad}  data:\n{pad}    script: |\n{pad}      - not an item {i}\n\
                 \n{pad}      # not a comment\n{pad}    list:\n{pad}    - a\n{pad}    - {i}\n{pad}  # trailing\n"
            ));
        }
        doc.push_str("functionConfig:\n  a: b\n");
        doc
    }

    #[test]
    fn items_read_in_parallel_jobs_are_the_items_serde_saphyr_reads() {
        for column in [0, 2] {
            let doc = many_items(column, 3_000);
            assert!(
                doc.len() > 4 * ITEMS_JOB_BYTES,
                "the items need several jobs"
            );
            let list = read_list(&doc, &no_skip, &|position, item| Ok((position, item))).unwrap();
            let expected = saphyr(&doc);
            let expected = expected["items"].as_array().unwrap();
            assert_eq!(list.items.len(), expected.len());
            for (i, ((position, item), want)) in list.items.iter().zip(expected).enumerate() {
                assert_eq!(*position, i);
                assert_eq!(&item.value, want, "item {i}");
                // Each item's text ends where the next item's line starts.
                let rest = &doc[item.next..];
                let next_line = format!("{}- apiVersion", " ".repeat(column));
                assert!(
                    rest.starts_with(&next_line) || rest.starts_with("functionConfig:"),
                    "item {i} ends before {:?}",
                    &rest[..rest.len().min(30)]
                );
            }
            assert_eq!(list.function_config.unwrap()["a"], "b");
        }
    }

    #[test]
    fn a_stray_line_inside_any_job_leaves_the_list_to_serde_saphyr() {
        let doc = many_items(0, 3_000);
        assert!(read_list(&doc, &no_skip, &|_, item| Ok(item)).is_ok());
        // A line indented less than the item's keys but more than its `- `.
        let at = doc.len() / 2;
        let line = at + doc[at..].find("\n- apiVersion").unwrap() + 1;
        let broken = format!("{} stray: x\n{}", &doc[..line], &doc[line..]);
        assert!(read_list(&broken, &no_skip, &|_, item| Ok(item)).is_err());
    }
}
