//! Differential tests of the fast YAML reader (`vmesh::yaml::fast`).
//!
//! For every input, the fast reader must either leave the input to serde-saphyr or produce
//! exactly what the serde-saphyr reader produces: the same values, raw spans, positions,
//! envelope, functionConfig and results. The reference is the reader as it was before the
//! fast path (`saphyr_resource_list(text, false)`), with vmesh's own earlier outputs cut to
//! their skeleton; the lean serde-saphyr read (items one at a time) must agree with it too.

mod common;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Map, Value, json};
use vmesh::krm::read::{droppable, paths, skeleton};
use vmesh::krm::{InputError, ResourceList};
use vmesh::yaml::raw::{self, RawSpan};

type Items = Vec<(Value, Option<RawSpan>, usize)>;
type Normal = Result<(String, Items, Option<Value>, Vec<Value>), String>;

fn normal(list: Result<ResourceList, InputError>) -> Normal {
    list.map(|l| {
        (
            format!("{:?}", l.envelope),
            l.items
                .into_iter()
                .map(|i| (i.value, i.raw, i.position))
                .collect(),
            l.function_config,
            l.results,
        )
    })
    .map_err(|e| e.0)
}

/// What the readers must produce: the full read, with droppable items cut to a skeleton
/// where they can be copied from the input.
fn expected(list: Result<ResourceList, InputError>) -> Normal {
    normal(list).map(|(envelope, items, config, results)| {
        let items = items
            .into_iter()
            .map(|(value, span, position)| match value {
                Value::Object(map) if span.is_some() && droppable(&map) => {
                    (skeleton(map), span, position)
                }
                value => (value, span, position),
            })
            .collect();
        (envelope, items, config, results)
    })
}

/// Checks that the readers agree on a ResourceList text; true when the fast path read it.
fn agree_list(text: &str) -> Result<bool, TestCaseError> {
    let want = expected(paths::saphyr_resource_list(text.to_string(), false));
    let lean = normal(paths::saphyr_resource_list(text.to_string(), true));
    prop_assert_eq!(&lean, &want, "lean serde-saphyr read differs on:\n{}", text);
    match paths::fast_resource_list(text.to_string()) {
        Err(_) => Ok(false),
        Ok(fast) => {
            prop_assert_eq!(&normal(fast), &want, "fast read differs on:\n{}", text);
            Ok(true)
        }
    }
}

/// Checks that the readers agree on a `---` stream; true when the fast path read it.
fn agree_stream(text: &str) -> Result<bool, TestCaseError> {
    let want = expected(paths::saphyr_stream(text.to_string(), false));
    let lean = normal(paths::saphyr_stream(text.to_string(), true));
    prop_assert_eq!(
        &lean,
        &want,
        "lean serde-saphyr stream read differs on:\n{}",
        text
    );
    match paths::fast_stream(text.to_string()) {
        Err(_) => Ok(false),
        Ok(fast) => {
            prop_assert_eq!(
                &normal(fast),
                &want,
                "fast stream read differs on:\n{}",
                text
            );
            Ok(true)
        }
    }
}

fn check_list(text: &str) -> bool {
    agree_list(text).unwrap_or_else(|e| panic!("{e}"))
}

fn check_stream(text: &str) -> bool {
    agree_stream(text).unwrap_or_else(|e| panic!("{e}"))
}

/// The items of a ResourceList as a `---` stream of their raw texts.
fn as_stream(list: &ResourceList) -> String {
    let mut out = String::new();
    for (i, item) in list.items.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        match item.raw {
            Some(span) => raw::append_reindented(&mut out, &list.text, span, 0),
            None => vmesh::yaml::emit_document(&mut out, &item.value),
        }
    }
    out
}

#[test]
fn every_case_and_golden_reads_fast_and_the_same() {
    let root = common::root();
    let mut files = Vec::new();
    for (dir, name) in [("testdata", "input.yaml"), ("golden", "output.yaml")] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path().join(name);
            if path.exists() {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() > 100, "found {} files", files.len());
    let mut fell_back = Vec::new();
    for path in &files {
        let text = common::read(path);
        if !check_list(&text) {
            fell_back.push(path.display().to_string());
        }
        if let Ok(list) = paths::saphyr_resource_list(text.clone(), false) {
            let stream = as_stream(&list);
            if !check_stream(&stream) {
                fell_back.push(format!("{} (as a stream)", path.display()));
            }
        }
    }
    assert!(
        fell_back.is_empty(),
        "the fast path left these to serde-saphyr: {fell_back:#?}"
    );
}

#[test]
fn rerender_input_keeps_skeletons_of_vmesh_outputs_only() {
    let text = common::read(&common::root().join("golden/two-clusters/output.yaml"));
    let list = vmesh::krm::read_resource_list(text).unwrap();
    let mut cut = 0;
    for item in &list.items {
        let owned = vmesh::index::ownership(item.value.as_object().unwrap())
            == vmesh::index::Ownership::Generated;
        let secret = item.api_version() == "v1" && item.kind() == "Secret";
        if owned && !secret {
            cut += 1;
            assert!(item.raw.is_some());
            assert!(item.value.get("spec").is_none(), "{:?}", item.value);
            assert!(!item.name().is_empty());
            // Annotations but vmesh's own are dropped: no stage reads them, and they are most
            // of the size; vmesh.dev/ ones decide ownership.
            let annotations = item.value["metadata"]["annotations"].as_object().unwrap();
            assert!(
                annotations.keys().all(|k| k.starts_with("vmesh.dev/")),
                "{annotations:?}"
            );
            // A cluster's object, or the settings of a cluster's Istio installation.
            assert!(
                annotations.contains_key("vmesh.dev/cluster")
                    || annotations.contains_key("vmesh.dev/istio-settings-cluster")
            );
        } else {
            assert!(
                item.value.as_object().unwrap().len() > 3 || !owned,
                "kept whole"
            );
        }
    }
    assert!(cut > 0);
}

#[test]
fn anchors_tags_and_multi_line_scalars_fall_back_and_read_the_same() {
    let head = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n";
    let cases = [
        // anchors and aliases
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata: &m\n    name: a\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: *m\n",
        // merge keys
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n  data:\n    <<: {x: y}\n",
        // tags
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n  data:\n    x: !!str 1\n",
        "- !!map\n  apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n",
        // multi-line plain, quoted and flow
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n  data:\n    x: one\n      two\n",
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n  data:\n    x: \"one\n      two\"\n",
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n  data:\n    x: 'one\n\n      two'\n",
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n  data: {x: one,\n    y: two}\n",
        // indentation indicators, more-indented folded lines
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n  data:\n    x: |2\n       indented\n",
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n  data:\n    x: >\n      one\n        two\n      three\n",
        // complex keys, tabs, CRLF, floats
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n  data:\n    ? x\n    : y\n",
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n  data:\n    x:\ty\n",
        "- apiVersion: v1\r\n  kind: ConfigMap\r\n  metadata:\r\n    name: a\r\n",
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n  data:\n    x: 1.5\n    y: 0x1f\n    z: 1_000\n",
    ];
    for case in cases {
        let text = format!("{head}{case}");
        assert!(
            paths::fast_resource_list(text.clone()).is_err(),
            "fast path read:\n{text}"
        );
        check_list(&text);
        let list =
            vmesh::krm::read_resource_list(text.clone()).unwrap_or_else(|e| panic!("{e}:\n{text}"));
        assert_eq!(list.items[0].name(), "a", "{text}");
    }
    // The values come out as serde-saphyr reads them.
    // Only the item that uses the alias loses its verbatim copy; the one defining the
    // anchor reads the same on its own.
    let text = format!("{head}{}", cases[0]);
    let list = vmesh::krm::read_resource_list(text).unwrap();
    let copied: Vec<bool> = list.items.iter().map(|i| i.raw.is_some()).collect();
    assert_eq!(copied, [true, false]);
    let text = format!("{head}{}", cases[4]);
    let list = vmesh::krm::read_resource_list(text).unwrap();
    assert_eq!(list.items[0].value["data"]["x"], "one two");
    let text = format!("{head}{}", cases[cases.len() - 1]);
    let list = vmesh::krm::read_resource_list(text).unwrap();
    assert_eq!(
        list.items[0].value["data"],
        json!({"x": 1.5, "y": 31, "z": 1000})
    );
}

#[test]
fn owned_items_next_to_aliases_are_copied_unless_they_use_one() {
    let text = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: networking.istio.io/v1\n  kind: ServiceEntry\n  metadata:\n    name: a\n    labels: &l\n      app.kubernetes.io/managed-by: vmesh\n    annotations:\n      vmesh.dev/cluster: c\n      vmesh.dev/virtual-mesh: g/vm\n  data: {x: y}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: b\n    labels: *l\n";
    check_list(text);
    let list = vmesh::krm::read_resource_list(text.to_string()).unwrap();
    // The owned item defines the anchor but uses no alias: its text can be copied, so it
    // is a skeleton; the item using the alias has its labels expanded.
    assert!(list.items[0].raw.is_some());
    assert!(list.items[1].raw.is_none());
    assert_eq!(
        list.items[1].label("app.kubernetes.io/managed-by"),
        Some("vmesh")
    );
    // A flow-style owned item cannot be copied, so it is kept whole too.
    let text = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- {apiVersion: networking.istio.io/v1, kind: ServiceEntry, metadata: {name: a, labels: {app.kubernetes.io/managed-by: vmesh}, annotations: {vmesh.dev/cluster: c, vmesh.dev/virtual-mesh: g/vm}}, data: {x: y}}\n";
    check_list(text);
    let list = vmesh::krm::read_resource_list(text.to_string()).unwrap();
    assert_eq!(list.items[0].value["data"]["x"], "y");
}

#[test]
fn hand_written_shapes_read_fast_and_the_same() {
    let head = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n";
    let item = "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n";
    let bodies = [
        "  data:\n    a: on\n    b: NO\n    c: 0777\n    d: ~\n    e: null\n    f: \"quoted: text\"\n    g: 'it''s'\n    h: a#b\n    i: x # comment\n    j: \"\"\n    k: ''\n    l: True\n    m: -12\n    n: 18446744073709551615\n    o: -9223372036854775808\n    p: 10.8.1.12\n    q: ünïcödé ☃\n    r: \"\\x41\\u00e9\\U0001F600\\t\\\\\"\n    s: b]c{d}\n    t: http://x:80/y\n    u:\n    v: -x\n",
        "  spec:\n    list:\n      - a\n      -   b\n      -\n        c: d\n      - - x\n        - y\n    flow: {a: 1, b: [x, 'y', \"z\"], c: {}, d: []}\n    empty: {}\n    none: []\n",
        "  data:\n    lit: |\n      line one\n        indented\n\n      # not a comment\n    strip: |-\n      x\n\n    keep: |+\n      x\n\n\n    folded: >\n      one\n      two\n\n      three\n    folded_strip: >-\n      a\n      b\n    after: z\n",
        "  # comment between keys\n\n  data:   # trailing\n    x: y\n# column zero comment\n    z: w\n",
        "  \"quoted key\": 1\n  'single': 2\n  \"\": 3\n  80: http\n  1.5: x\n  true: y\n",
    ];
    for body in bodies {
        let text = format!("{head}{item}{body}");
        assert!(check_list(&text), "fell back:\n{text}");
    }
    // Odd indentation, comments and markers around the document.
    let texts = [
        "# leading\n---\napiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n    -   apiVersion: v1\n        kind: ConfigMap\n        metadata:\n           name: a\n        data:\n             x: y\n    - apiVersion: v1\n      kind: ConfigMap\n      metadata: {name: b}\nfunctionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  data: {cluster: c}\n...\n# trailing\n",
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n-\n  apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\nresults:\n- message: x\n  severity: info\n",
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n",
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\nfunctionConfig: ~\n",
        "apiVersion: config.kubernetes.io/v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n",
    ];
    for text in texts {
        assert!(check_list(text), "fell back:\n{text}");
    }
    // Errors come from serde-saphyr, through the fallback.
    for text in [
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: A\n  metadata:\n    name: a\n    name: b\n",
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nextra: 1\nitems: []\n",
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- a: b: c\n",
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: A\n  metadata:\n    name: a\n  x: .inf\n",
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n---\napiVersion: v1\n",
    ] {
        assert!(
            paths::fast_resource_list(text.to_string()).is_err(),
            "{text}"
        );
        assert!(
            vmesh::krm::read_resource_list(text.to_string()).is_err(),
            "{text}"
        );
        check_list(text);
    }
    // Envelope errors are the same from both paths.
    for text in [
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
        "apiVersion: config.kubernetes.io/v9\nkind: ResourceList\nitems: []\n",
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n",
    ] {
        assert!(check_list(text), "fell back:\n{text}");
    }
}

#[test]
fn streams_read_fast_and_the_same() {
    let texts = [
        "apiVersion: v1\nkind: A\nmetadata: {name: a}\n---\napiVersion: v1\nkind: B\nmetadata:\n  name: b\n  labels:\n    app.kubernetes.io/managed-by: vmesh\nspec:\n  x: 1\n",
        "---\n# only a comment\n---\napiVersion: v1\nkind: A\nmetadata: {name: a}\n...\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  labels: {app.kubernetes.io/managed-by: vmesh}\ndata: {a: b}\n",
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: A\n  metadata: {name: a}\n",
    ];
    for text in texts {
        assert!(check_stream(text), "fell back:\n{text}");
    }
}

// ---- generated inputs ----------------------------------------------------------------

const TRICKY: &[&str] = &[
    "on",
    "off",
    "NO",
    "yes",
    "Y",
    "n",
    "true",
    "True",
    "FALSE",
    "null",
    "Null",
    "~",
    "",
    " ",
    "0777",
    "-0777",
    "+0777",
    "0",
    "-0",
    "+1",
    "1.10",
    "1e3",
    "1E3",
    "1_000",
    "0x1f",
    "0X1F",
    "0o17",
    "0b11",
    ".5",
    "5.",
    ".inf",
    "-.inf",
    ".nan",
    "+.nan",
    "inf",
    "nan",
    "-1",
    "12abc",
    "10.8.1.12",
    "1.2.3",
    "2001-12-14",
    "1:20",
    "quoted: text",
    "it's",
    "'",
    "\"",
    "#",
    "a #b",
    "a#b",
    "# lead",
    "x:",
    ":x",
    "-x",
    "- x",
    "--",
    "---",
    "...",
    "? x",
    "*.global",
    "&a",
    "!t",
    "%p",
    "@a",
    "`b",
    "|",
    ">",
    "[a]",
    "{a}",
    "a,b",
    "a]",
    "ünïcödé",
    "☃",
    "😀",
    "\u{a0}nbsp",
    "tab\there",
    "line\nbreak",
    "trail\n",
    "two\n\n",
    "\n",
    "cr\r\n",
    "\u{85}",
    "\u{2028}",
    "\u{feff}",
    "bell\u{7}",
    "  lead",
    "trail  ",
    "a: b",
    "<<",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
];

fn tricky() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(TRICKY).prop_map(String::from),
        2 => "[a-z][a-z0-9.-]{0,10}",
        2 => "[ -~]{0,12}",
        1 => "[\\PC\n]{0,10}",
        1 => any::<String>().prop_map(|s| s.chars().take(8).collect()),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z][a-zA-Z0-9./-]{0,12}",
        1 => tricky(),
    ]
}

/// Scalars of every type. Floats are rare: the fast path leaves every input with one to
/// serde-saphyr, and the tests should exercise the fast path too.
fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => Just(Value::Null),
        4 => any::<bool>().prop_map(Value::Bool),
        4 => any::<i64>().prop_map(Value::from),
        4 => any::<u64>().prop_map(Value::from),
        1 => prop::sample::select(vec![0.5, 1.1, 1e3, -2.25, 1e300, 0.0, 100.0])
            .prop_map(Value::from),
        24 => tricky().prop_map(Value::String),
    ]
}

fn tree() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..5)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// A Kubernetes-looking item: apiVersion, kind and metadata (sometimes vmesh's label)
/// among other fields, in varying order.
fn item() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec![
            ("v1", "ConfigMap"),
            ("v1", "Secret"),
            ("networking.istio.io/v1", "ServiceEntry"),
            ("apps/v1", "Deployment"),
            ("v1", "List"),
        ]),
        "[a-z][a-z0-9-]{0,8}",
        any::<bool>(),
        prop::collection::vec((key(), tree()), 0..4),
        tree(),
        0usize..4,
    )
        .prop_map(|((api, kind), name, owned, extra, spec, at)| {
            let mut metadata = Map::new();
            metadata.insert("name".into(), json!(name));
            metadata.insert("namespace".into(), json!("ns"));
            if owned {
                metadata.insert(
                    "labels".into(),
                    json!({"app.kubernetes.io/managed-by": "vmesh", "x": "y"}),
                );
                metadata.insert(
                    "annotations".into(),
                    json!({"vmesh.dev/cluster": "c", "vmesh.dev/virtual-mesh": "g/vm"}),
                );
            }
            metadata.insert("uid".into(), json!("u"));
            let mut fields: Vec<(String, Value)> = vec![
                ("apiVersion".into(), json!(api)),
                ("kind".into(), json!(kind)),
                ("metadata".into(), Value::Object(metadata)),
            ];
            let spec_at = at.min(fields.len());
            fields.insert(spec_at, ("spec".into(), spec));
            for (k, v) in extra {
                if !fields.iter().any(|(f, _)| *f == k) {
                    fields.push((k, v));
                }
            }
            Value::Object(fields.into_iter().collect())
        })
}

fn resource_list() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(item(), 0..5),
        prop::option::of(tree()),
    )
        .prop_map(|(items, config)| {
            let mut list = Map::new();
            list.insert("apiVersion".into(), json!("config.kubernetes.io/v1"));
            list.insert("kind".into(), json!("ResourceList"));
            list.insert("items".into(), Value::Array(items));
            if let Some(config) = config {
                list.insert("functionConfig".into(), config);
            }
            Value::Object(list)
        })
}

/// A small deterministic generator of style choices for the hand-written emitter.
struct Choices(u64);

impl Choices {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// A YAML emitter with varying style: indentation widths, indented and non-indented
/// sequences, quoting styles, block scalars with every chomping indicator, flow
/// collections, comments and blank lines. Its output need not mean the value it was given
/// (or be valid YAML at all): the readers only have to agree on it.
struct Variant {
    out: String,
    c: Choices,
}

impl Variant {
    fn document(value: &Value, seed: u64) -> String {
        let mut v = Variant {
            out: String::new(),
            c: Choices(seed | 1),
        };
        if v.c.one_in(4) {
            v.out.push_str("# leading comment\n");
        }
        if v.c.one_in(4) {
            v.out.push_str("---\n");
        }
        match value {
            Value::Object(map) => v.mapping(map, 0),
            other => v.out.push_str(&format!("{other}\n")),
        }
        if v.c.one_in(6) {
            v.out.push_str("...\n");
        }
        v.out
    }

    fn pad(&mut self, n: usize) {
        for _ in 0..n {
            self.out.push(' ');
        }
    }

    fn maybe_comment_lines(&mut self, indent: usize) {
        if self.c.one_in(12) {
            let at = self.c.below(indent as u64 + 3) as usize;
            self.pad(at);
            self.out.push_str("# a comment line\n");
        }
        if self.c.one_in(15) {
            self.out.push('\n');
        }
    }

    fn eol(&mut self) {
        if self.c.one_in(10) {
            self.out.push_str(" # trailing");
        }
        self.out.push('\n');
    }

    /// A mapping whose first key is at the cursor and other keys at `indent`.
    fn mapping(&mut self, map: &Map<String, Value>, indent: usize) {
        for (i, (key, value)) in map.iter().enumerate() {
            if i > 0 {
                self.maybe_comment_lines(indent);
                self.pad(indent);
            }
            self.key(key);
            self.out.push(':');
            self.value(value, indent);
        }
    }

    fn key(&mut self, key: &str) {
        if vmesh::yaml::emit::is_plain_safe(key) && !self.c.one_in(6) {
            self.out.push_str(key);
        } else {
            self.quoted(key);
        }
    }

    fn quoted(&mut self, s: &str) {
        if !s.contains('\n') && s.chars().all(|c| c >= ' ' && c != '\u{7f}') && self.c.one_in(2) {
            self.out.push('\'');
            self.out.push_str(&s.replace('\'', "''"));
            self.out.push('\'');
            return;
        }
        self.out.push('"');
        for ch in s.chars() {
            match ch {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                '\t' if self.c.one_in(2) => self.out.push_str("\\t"),
                c if (c as u32) < 0x20 || c == '\u{7f}' || ('\u{80}'..='\u{9f}').contains(&c) => {
                    self.out.push_str(&format!("\\x{:02x}", c as u32))
                }
                '\u{2028}' => self.out.push_str("\\L"),
                '\u{feff}' => self.out.push_str("\\ufeff"),
                c if !c.is_ascii() && self.c.one_in(4) => {
                    self.out.push_str(&format!("\\U{:08x}", c as u32))
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }

    /// After `key:` of a mapping at `indent`.
    fn value(&mut self, value: &Value, indent: usize) {
        match value {
            Value::Object(map) if !map.is_empty() && !self.c.one_in(5) => {
                self.eol();
                self.maybe_comment_lines(indent);
                let inner = indent + 1 + self.c.below(4) as usize;
                self.pad(inner);
                self.mapping(map, inner);
            }
            Value::Array(seq) if !seq.is_empty() && !self.c.one_in(5) => {
                self.eol();
                let at = if self.c.one_in(2) {
                    indent
                } else {
                    indent + 1 + self.c.below(3) as usize
                };
                self.pad(at);
                self.sequence(seq, at);
            }
            leaf => self.leaf(leaf, indent),
        }
    }

    /// A value after `key:` or `-` that is written on the same line: a flow collection, a
    /// block scalar or a plain or quoted scalar.
    fn leaf(&mut self, value: &Value, indent: usize) {
        self.out.push(' ');
        match value {
            Value::Object(_) | Value::Array(_) => {
                self.flow(value);
                self.eol();
            }
            Value::String(s) if s.contains('\n') || self.c.one_in(8) => {
                self.block_scalar(s, indent);
            }
            scalar => {
                self.scalar(scalar);
                self.eol();
            }
        }
    }

    /// A sequence whose first `-` is at the cursor and the others at `indent`.
    fn sequence(&mut self, seq: &[Value], indent: usize) {
        for (i, item) in seq.iter().enumerate() {
            if i > 0 {
                self.maybe_comment_lines(indent);
                self.pad(indent);
            }
            self.out.push('-');
            match item {
                Value::Object(map) if !map.is_empty() && !self.c.one_in(6) => {
                    if self.c.one_in(5) {
                        self.eol();
                        let inner = indent + 1 + self.c.below(3) as usize;
                        self.pad(inner);
                        self.mapping(map, inner);
                    } else {
                        let gap = 1 + self.c.below(3) as usize;
                        self.pad(gap);
                        self.mapping(map, indent + 1 + gap);
                    }
                }
                Value::Array(inner) if !inner.is_empty() && !self.c.one_in(6) => {
                    self.out.push(' ');
                    self.sequence(inner, indent + 2);
                }
                leaf => self.leaf(leaf, indent),
            }
        }
    }

    fn scalar(&mut self, value: &Value) {
        match value {
            Value::Null => {
                let spelling = ["null", "~", "", "Null", "NULL"][self.c.below(5) as usize];
                self.out.push_str(spelling);
            }
            Value::Bool(b) => {
                let spelling = match (b, self.c.below(3)) {
                    (true, 0) => "true",
                    (true, 1) => "True",
                    (true, _) => "TRUE",
                    (false, 0) => "false",
                    (false, 1) => "False",
                    (false, _) => "FALSE",
                };
                self.out.push_str(spelling);
            }
            Value::Number(n) => self.out.push_str(&n.to_string()),
            Value::String(s) => {
                if self.c.one_in(5) && !s.contains(['\n', '#', ':']) && !s.is_empty() {
                    // Plain whatever it means: the readers must agree on it.
                    self.out.push_str(s);
                } else if vmesh::yaml::emit::is_plain_safe(s) && !self.c.one_in(4) {
                    self.out.push_str(s);
                } else {
                    self.quoted(s);
                }
            }
            other => self.flow(other),
        }
    }

    fn flow(&mut self, value: &Value) {
        match value {
            Value::Array(seq) => {
                self.out.push('[');
                for (i, v) in seq.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(if self.c.one_in(3) { "," } else { ", " });
                    }
                    self.flow(v);
                }
                self.out.push(']');
            }
            Value::Object(map) => {
                self.out.push('{');
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    self.key(k);
                    self.out.push_str(": ");
                    self.flow(v);
                }
                self.out.push('}');
            }
            Value::String(s) => {
                if vmesh::yaml::emit::is_plain_safe(s)
                    && !s.contains([',', '[', ']', '{', '}'])
                    && !self.c.one_in(4)
                {
                    self.out.push_str(s);
                } else {
                    self.quoted(s);
                }
            }
            scalar => self.scalar(scalar),
        }
    }

    /// A literal or folded block scalar of the lines of `s`, the value of a collection at
    /// `indent`.
    fn block_scalar(&mut self, s: &str, indent: usize) {
        let style = ["|", "|-", "|+", ">", ">-", ">+"][self.c.below(6) as usize];
        self.out.push_str(style);
        self.eol();
        let at = indent + 1 + self.c.below(3) as usize;
        let body = s.strip_suffix('\n').unwrap_or(s);
        for line in body.split('\n') {
            if !line.is_empty() || self.c.one_in(3) {
                self.pad(at);
            }
            self.out.push_str(line);
            self.out.push('\n');
        }
        if self.c.one_in(4) {
            self.out.push('\n');
        }
    }
}

/// Small edits that may make the text invalid, or mean something else.
fn mutate(text: &str, seed: u64) -> String {
    let mut c = Choices(seed | 1);
    let mut out = text.to_string();
    for _ in 0..=c.below(3) {
        if out.is_empty() {
            break;
        }
        let mut at = c.below(out.len() as u64) as usize;
        while !out.is_char_boundary(at) {
            at -= 1;
        }
        match c.below(5) {
            0 => {
                let ch = [
                    " ", ":", "#", "'", "\"", "-", "\n", "- ", ": ", "  ", "{", "[", "&a ", "|",
                ][c.below(14) as usize];
                out.insert_str(at, ch);
            }
            1 => {
                let mut end = at + 1;
                while end < out.len() && !out.is_char_boundary(end) {
                    end += 1;
                }
                out.replace_range(at..end.min(out.len()), "");
            }
            2 => {
                let line_start = out[..at].rfind('\n').map_or(0, |n| n + 1);
                out.insert(line_start, ' ');
            }
            3 => {
                let line_start = out[..at].rfind('\n').map_or(0, |n| n + 1);
                if out[line_start..].starts_with(' ') {
                    out.remove(line_start);
                }
            }
            _ => {
                let line_start = out[..at].rfind('\n').map_or(0, |n| n + 1);
                let line_end = out[at..].find('\n').map_or(out.len(), |n| at + n + 1);
                let line = out[line_start..line_end].to_string();
                out.insert_str(line_start, &line);
            }
        }
    }
    out
}

proptest! {
    // PROPTEST_CASES raises the count for a longer search.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(400),
        ..ProptestConfig::default()
    })]

    #[test]
    fn vmesh_emitter_output_reads_the_same(list in resource_list()) {
        let mut text = String::new();
        vmesh::yaml::emit_document(&mut text, &list);
        agree_list(&text)?;
    }

    #[test]
    fn hand_written_variants_read_the_same(list in resource_list(), seed in any::<u64>()) {
        let text = Variant::document(&list, seed);
        agree_list(&text)?;
    }

    #[test]
    fn mutated_variants_read_the_same(list in resource_list(), seed in any::<u64>(), edit in any::<u64>()) {
        let text = mutate(&Variant::document(&list, seed), edit);
        agree_list(&text)?;
    }

    #[test]
    fn generated_streams_read_the_same(items in prop::collection::vec(item(), 0..4), seed in any::<u64>(), edit in any::<u64>()) {
        let mut text = String::new();
        for (i, item) in items.iter().enumerate() {
            if i > 0 || seed % 3 == 0 {
                text.push_str("---\n");
            }
            text.push_str(&Variant::document(item, seed.wrapping_add(i as u64)));
        }
        agree_stream(&text)?;
        if edit % 2 == 0 {
            agree_stream(&mutate(&text, edit))?;
        }
    }
}

#[test]
fn the_fast_path_reads_most_generated_inputs() {
    // Guard against a fast path that silently falls back on everything.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut emitted, mut variants) = (0, 0);
    for _ in 0..200 {
        let list = resource_list().new_tree(&mut runner).unwrap().current();
        let mut text = String::new();
        vmesh::yaml::emit_document(&mut text, &list);
        emitted += usize::from(agree_list(&text).unwrap());
        let text = Variant::document(&list, runner.rng().next_u64());
        variants += usize::from(agree_list(&text).unwrap());
    }
    assert!(
        emitted > 100,
        "fast path read {emitted} of 200 emitted inputs"
    );
    assert!(
        variants > 40,
        "fast path read {variants} of 200 hand-written inputs"
    );
}
