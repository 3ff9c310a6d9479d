//! The KRM function wire format: ResourceList in, ResourceList out (decisions D2).

pub mod explain;
pub mod item;
pub mod read;
pub mod results;
pub mod verify;
pub mod write;

pub use item::Item;
pub use read::{InputError, read_resource_list, read_stream};
pub use results::{KrmResult, ResourceRef, Results, Severity};
pub use write::{write_resource_list, write_results_only, write_stream};

/// Annotation kpt uses for the file an item lives in.
pub const PATH_ANNOTATION: &str = "internal.config.kubernetes.io/path";
/// Legacy twin of [`PATH_ANNOTATION`].
pub const LEGACY_PATH_ANNOTATION: &str = "config.kubernetes.io/path";
/// Annotation kpt uses for the document index inside that file.
pub const INDEX_ANNOTATION: &str = "internal.config.kubernetes.io/index";
/// Legacy twin of [`INDEX_ANNOTATION`].
pub const LEGACY_INDEX_ANNOTATION: &str = "config.kubernetes.io/index";
/// Marks a resource that only client-side tools consume and that is never applied.
pub const LOCAL_CONFIG_ANNOTATION: &str = "config.kubernetes.io/local-config";

/// How the input was wrapped, so the output can be wrapped the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Envelope {
    /// A `ResourceList` or `List` document with this apiVersion and kind.
    List { api_version: String, kind: String },
    /// A plain `---` stream of objects (kustomize's legacy transformer input).
    Stream,
}

impl Envelope {
    pub fn resource_list() -> Self {
        Envelope::List {
            api_version: "config.kubernetes.io/v1".to_string(),
            kind: "ResourceList".to_string(),
        }
    }
}

/// One parsed input: its items, its functionConfig and the text they were read from.
#[derive(Debug)]
pub struct ResourceList {
    pub envelope: Envelope,
    pub items: Vec<Item>,
    pub function_config: Option<serde_json::Value>,
    /// Results already present in the input: those of an earlier run, which vmesh drops
    /// (a re-render reports afresh).
    pub results: Vec<serde_json::Value>,
    /// The input text; raw item spans point into it.
    pub text: String,
}
