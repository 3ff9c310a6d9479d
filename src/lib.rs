//! vmesh renders Gloo Mesh VirtualMeshes into the Istio configuration of every cluster.
//!
//! Data flows one way: [`krm`] reads the ResourceList, [`index`] types the inputs, [`plan`]
//! validates them and derives the state (memberships, gateways, federation), [`render`]
//! turns the plan into documents from templates, and [`pipeline`] writes the outcome.
//! Nothing here touches stdin, files or the environment except [`hosts`].

pub mod alloc;
pub mod certs;
pub mod config;
pub mod discover;
pub mod hosts;
pub mod index;
pub mod krm;
pub mod model;
pub mod parallel;
pub mod pipeline;
pub mod plan;
pub mod render;
pub mod yaml;

pub use pipeline::{Outcome, OutputStyle, RunOptions, run};
