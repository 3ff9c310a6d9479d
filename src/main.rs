//! The `vmesh` binary: thin adapters from hosts (kpt, kustomize, Argo CD, a shell) to
//! [`vmesh::run`].

use clap::{Parser, Subcommand};
use std::io::{Read, Write};
use std::process::ExitCode;
use vmesh::krm::{self, KrmResult};
use vmesh::{OutputStyle, RunOptions};

const ABOUT: &str = "Renders Gloo Mesh VirtualMeshes into the Istio configuration of every cluster: \
federated ServiceEntries, DestinationRules, east-west Gateways and AuthorizationPolicies.";

const FN_HELP: &str = "\
Reads one ResourceList on stdin and writes one ResourceList on stdout (the KRM function
contract). Items vmesh does not own pass through unchanged; vmesh's own earlier outputs are
replaced. Any error: exit 1, the input items unchanged, and error results.

Examples:
  kpt fn eval my-package --exec vmesh
  kpt fn source my-package | vmesh | kpt fn sink out
  vmesh < testdata/two-clusters/input.yaml";

#[derive(Parser)]
#[command(name = "vmesh", version, about = ABOUT, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run as a KRM function: ResourceList on stdin, ResourceList on stdout (the default).
    #[command(long_about = FN_HELP)]
    Fn,
    /// Print the JSON Schema of the functionConfig (vmesh.dev/v1alpha1 VirtualMeshRenderer).
    #[command(
        long_about = "Print the JSON Schema of the functionConfig.\n\nExample:\n  vmesh schema > virtualmeshrenderer.schema.json"
    )]
    Schema,
}

fn main() -> ExitCode {
    install_panic_hook();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Fn) {
        Command::Fn => run_function(),
        Command::Schema => {
            let schema = vmesh::model::config::json_schema();
            println!(
                "{}",
                serde_json::to_string_pretty(&schema).expect("schema serializes")
            );
            ExitCode::SUCCESS
        }
    }
}

/// A panic is a bug: report it as an error result on stdout (so kpt shows it and writes
/// nothing) and exit 1. The message never contains input data.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let result = KrmResult::internal_error(info.location());
        let mut out = String::new();
        krm::write_results_only(&mut out, std::slice::from_ref(&result));
        let _ = std::io::stdout().write_all(out.as_bytes());
        eprintln!("vmesh: {}", result.message);
        std::process::exit(1);
    }));
}

fn run_function() -> ExitCode {
    let text = match read_stdin() {
        Ok(text) => text,
        Err(message) => return input_failure(&message),
    };
    let started = std::time::Instant::now();
    let list = match krm::read_resource_list(text) {
        Ok(list) => list,
        Err(error) => return input_failure(&error.0),
    };
    let parsed = started.elapsed();
    let options = RunOptions {
        config: None,
        style: OutputStyle::ResourceList,
        base_dir: std::env::current_dir().ok(),
        now: None,
    };
    let outcome = vmesh::run(list, &options);
    if std::env::var_os("VMESH_TIMINGS").is_some() {
        eprintln!("vmesh timing: parse {parsed:?}");
        for (stage, duration) in &outcome.timings {
            eprintln!("vmesh timing: {stage} {duration:?}");
        }
    }

    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(outcome.stdout.as_bytes())
        .and_then(|_| stdout.flush())
        .is_err()
    {
        eprintln!("vmesh: cannot write to stdout");
        return ExitCode::FAILURE;
    }
    if outcome.failed() {
        let errors = outcome
            .results
            .iter()
            .filter(|r| r.severity == krm::Severity::Error)
            .count();
        eprintln!("vmesh: {errors} error(s); nothing was rendered (see the results)");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn read_stdin() -> Result<String, String> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .take(vmesh::yaml::parse::limits::MAX_INPUT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read stdin: {e}"))?;
    if bytes.len() > vmesh::yaml::parse::limits::MAX_INPUT_BYTES {
        return Err(format!(
            "input is larger than {} bytes",
            vmesh::yaml::parse::limits::MAX_INPUT_BYTES
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "input is not valid UTF-8 (byte {}); YAML input must be UTF-8",
            e.utf8_error().valid_up_to()
        )
    })
}

/// Input that cannot be read: an error result on stdout (no items, so nothing can be
/// mistaken for an empty package) and the message on stderr.
fn input_failure(message: &str) -> ExitCode {
    let mut out = String::new();
    krm::write_results_only(&mut out, &[KrmResult::error(message)]);
    let _ = std::io::stdout().write_all(out.as_bytes());
    eprintln!("vmesh: {message}");
    ExitCode::FAILURE
}
