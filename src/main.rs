//! The `vmesh` binary: thin adapters from hosts (kpt, kustomize, Argo CD, a shell) to
//! [`vmesh::run`]. Everything here reads the process's arguments, environment and stdin,
//! hands them to [`vmesh::hosts`], and prints what comes back.

use clap::{Args, Parser, Subcommand, ValueEnum};

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use vmesh::hosts::{self, Reply, Settings, kustomize};
use vmesh::krm::{self, KrmResult};
use vmesh::{OutputStyle, RunOptions};

/// A failed allocation ends the run with an error result, not an abort.
#[global_allocator]
static ALLOCATOR: vmesh::alloc::FailClosed = vmesh::alloc::FailClosed;

const ABOUT: &str = "Renders Gloo Mesh VirtualMeshes into the Istio configuration of every cluster: \
federated ServiceEntries, DestinationRules, east-west Gateways, AuthorizationPolicies and cacerts.";

const LONG_ABOUT: &str = "\
Renders Gloo Mesh VirtualMeshes (with their Meshes and Destinations) into the Istio
configuration of every cluster: federated ServiceEntries, DestinationRules, east-west
Gateways, AuthorizationPolicies and cacerts. It runs inside the tools a GitOps repository
already uses: as a KRM function under kpt, as a kustomize plugin, as an Argo CD config
management plugin, or on its own with `vmesh render`.

With no command, vmesh is a KRM function: one ResourceList on stdin, one on stdout.";

const EXAMPLES: &str = "\
Examples:
  # kpt: a package whose Kptfile runs `exec: vmesh` (functions/kpt)
  kpt fn render my-package --allow-exec
  kpt fn eval my-package --exec vmesh --fn-config my-package/vmesh.yaml

  # kustomize: install the exec plugins once, then build as usual
  vmesh kustomize install
  kubectl kustomize --enable-alpha-plugins functions/kustomize/generator

  # A repository without kpt (CI, Argo CD): one directory per cluster, or a drift check
  vmesh render functions/gitops/meshes --out functions/gitops/clusters --check

  # The functionConfig's JSON Schema
  vmesh schema

Exit codes:
  0  success (warnings and info results allowed; --help and --version too)
  1  any error: input that cannot be read, errors in the resources or the configuration,
     a usage error (an unknown flag or command), drift found by `vmesh render --check`,
     an internal error; the reason is on stderr (and in the results of a ResourceList)";

const FN_ABOUT: &str = "\
Reads one ResourceList on stdin and writes one ResourceList on stdout (the KRM function
contract). Items vmesh does not own pass through unchanged; vmesh's own earlier outputs are
replaced; generated items are placed in clusters/<cluster>/<namespace>/<kind>.yaml. Any
error: exit 1, the input items unchanged, and error results.

The functionConfig is a vmesh.dev/v1alpha1 VirtualMeshRenderer (or a ConfigMap with the
same keys); kustomize's KRM exec-function form may pass a VirtualMeshGenerator or
VirtualMeshTransformer instead (see `vmesh kustomize --help`).";

const FN_EXAMPLES: &str = "\
Examples:
  kpt fn eval my-package --exec vmesh --fn-config my-package/vmesh.yaml
  kpt fn source my-package | vmesh | kpt fn sink rendered-package
  vmesh < testdata/two-clusters/input.yaml";

const RENDER_ABOUT: &str = "\
Reads the Gloo Mesh resources in files and directories (like `kpt fn source`: *.yaml and
*.yml, hidden entries and .krmignore'd paths skipped, non-Kubernetes YAML skipped with a
note), renders them, and prints the generated objects as a plain YAML stream, or writes
them to OUT/<cluster>/<namespace>/<kind>.yaml. Files under OUT that vmesh wrote and no
longer renders are removed; other files are never touched. --check writes nothing, prints
a unified diff of what would change, and exits 1 if anything would.

The settings come from the one VirtualMeshRenderer found among the inputs (or --config),
overridden by the flags below; relative paths in it resolve against its directory.
Any error: exit 1, nothing on stdout, one line per problem on stderr.

--argocd is the generate command of the Argo CD plugin (functions/argocd/plugin.yaml): it
prints one cluster's slice, the cluster named by the Application's plugin parameter
`cluster` (PARAM_CLUSTER) or plugin env `CLUSTER` (ARGOCD_ENV_CLUSTER); if both are set
they must agree. An empty slice is an error, never an empty stream.";

const RENDER_EXAMPLES: &str = "\
Examples:
  # Write (or check) one directory per cluster
  vmesh render functions/gitops/meshes --out /tmp/clusters
  vmesh render functions/gitops/meshes --out functions/gitops/clusters --check
  # Print one cluster's objects
  vmesh render functions/gitops/meshes --cluster cluster-2
  # As Argo CD runs it, in the Application's source directory
  cd functions/gitops/meshes && PARAM_CLUSTER=cluster-1 vmesh render --argocd";

const DISCOVER_ABOUT: &str = "\
Discovers what vmesh renders from, per cluster: the Istio Mesh (istiod, its revision, version,
trust domain, DNS capture, east-west gateways), a Destination per Service backed by meshed
workloads, a Workload per meshed Deployment, StatefulSet or DaemonSet, and a
KubernetesCluster, following Gloo Mesh's discovery. Commit the output and render from it.

Sources: --dump CLUSTER=PATH reads what this prints (any order, one or more files):
  kubectl get namespaces,nodes,services,configmaps,deployments,statefulsets,daemonsets -A -o yaml
(add pods for --endpoints pods, and serviceexports.multicluster.x-k8s.io for --only-exported);
--context reads the same kinds through a kubeconfig context, read-only
(functions/discover/rbac.yaml is the ClusterRole it needs).

The output is stable: sorted, no uids, versions, timestamps or pod IPs (unless
--endpoints pods), so an unchanged cluster gives the same bytes and scaling or restarting
a workload changes nothing. Every object is config.kubernetes.io/local-config; each
cluster's text starts with a header naming its source and a hash of the inputs read.
Any error: exit 1, nothing printed or written, one line per problem on stderr.";

const DISCOVER_EXAMPLES: &str = "\
Examples:
  # Offline, from kubectl dumps: one stream, or one file per cluster
  vmesh discover --dump cluster-1=testdata/discover/cluster-1.yaml --dump cluster-2=testdata/discover/cluster-2.yaml
  vmesh discover --dump cluster-1=testdata/discover/cluster-1.yaml --out /tmp/discovered
  # Live, through kubeconfig contexts (read-only)
  vmesh discover --context kind-east=cluster-1 --context kind-west=cluster-2 --out meshes/discovered";

const KUSTOMIZE_ABOUT: &str = "\
vmesh as a kustomize exec plugin. The plugin config's kind decides the role:
  VirtualMeshGenerator    reads the Gloo Mesh files listed in `inputs:` and generates one
                          cluster's objects (list it in a kustomization without `namespace:`)
  VirtualMeshTransformer  reads the Gloo Mesh resources (local-config) among the
                          kustomization's resources and appends one cluster's objects; they
                          keep their namespaces and names, whatever `namespace:` says
Both take the VirtualMeshRenderer settings under `spec:`; `spec.cluster` is required.

`vmesh kustomize install` links the vmesh on PATH (or --bin) into kustomize's plugin
directory ($KUSTOMIZE_PLUGIN_HOME, $XDG_CONFIG_HOME/kustomize/plugin or
~/.config/kustomize/plugin; --plugin-home) as both kinds, and says where;
kustomize then runs it as `<plugin dir>/vmesh.dev/v1alpha1/<kind>/<Kind> <config file>`,
which vmesh recognises. The KRM exec-function form (the config annotated with
config.kubernetes.io/function: {exec: {path: vmesh}}) works with standalone
`kustomize build --enable-alpha-plugins --enable-exec` (kubectl kustomize skips it).";

const KUSTOMIZE_EXAMPLES: &str = "\
Examples:
  vmesh kustomize install
  kubectl kustomize --enable-alpha-plugins functions/kustomize/generator
  kubectl kustomize --enable-alpha-plugins functions/kustomize/overlay";

#[derive(Parser)]
#[command(name = "vmesh", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run as a KRM function: ResourceList on stdin, ResourceList on stdout (the default).
    #[command(long_about = FN_ABOUT, after_long_help = FN_EXAMPLES)]
    Fn,
    /// Render Gloo Mesh resources read from files: print a stream, or write one directory per cluster.
    #[command(long_about = RENDER_ABOUT, after_long_help = RENDER_EXAMPLES)]
    Render(Box<RenderCli>),
    /// Install or run vmesh as a kustomize exec plugin (generator or transformer).
    #[command(long_about = KUSTOMIZE_ABOUT, after_long_help = KUSTOMIZE_EXAMPLES)]
    Kustomize {
        #[command(subcommand)]
        action: KustomizeAction,
    },
    /// Discover the Mesh, Destination and Workload inputs from kubectl dumps or kubeconfig contexts.
    #[command(long_about = DISCOVER_ABOUT, after_long_help = DISCOVER_EXAMPLES)]
    Discover(Box<DiscoverCli>),
    /// Print the JSON Schema of a kind vmesh reads (default: the functionConfig), for editors.
    #[command(long_about = SCHEMA_ABOUT, after_long_help = SCHEMA_EXAMPLES)]
    Schema {
        #[arg(
            default_value = "VirtualMeshRenderer",
            value_parser = clap::builder::PossibleValuesParser::new(SCHEMA_KINDS)
        )]
        kind: String,
    },
}

/// Every kind `vmesh schema` describes: vmesh's configs, then the Gloo Mesh kinds it reads.
const SCHEMA_KINDS: [&str; 10] = [
    "VirtualMeshRenderer",
    "VirtualMeshGenerator",
    "VirtualMeshTransformer",
    "VirtualMesh",
    "AccessPolicy",
    "Mesh",
    "Destination",
    "Workload",
    "Settings",
    "KubernetesCluster",
];

const SCHEMA_ABOUT: &str = "\
Print the JSON Schema of a kind vmesh reads: the functionConfig VirtualMeshRenderer
(default), the kustomize plugin configs, or a Gloo Mesh kind (VirtualMesh, AccessPolicy,
Mesh, Destination, Workload, Settings, KubernetesCluster). The Gloo Mesh schemas are read
off vmesh's own typed model, so an editor using them (the Kubernetes YAML language server)
flags exactly the unknown fields and wrong types a render would refuse.";

const SCHEMA_EXAMPLES: &str = "\
Examples:
  vmesh schema > virtualmeshrenderer.schema.json
  vmesh schema VirtualMeshGenerator
  vmesh schema VirtualMesh > .schemas/virtualmesh.json
  # then, first line of a VirtualMesh file (yaml-language-server modeline):
  # yaml-language-server: $schema=.schemas/virtualmesh.json";

#[derive(Args)]
struct RenderCli {
    /// Files and directories to read [default: .]
    paths: Vec<PathBuf>,
    /// Write OUT/<cluster>/<namespace>/<kind>.yaml instead of printing a stream
    #[arg(long, value_name = "OUT")]
    out: Option<PathBuf>,
    /// Write nothing; print a diff against OUT and exit 1 if it is out of date
    #[arg(long, requires = "out")]
    check: bool,
    /// The VirtualMeshRenderer to use instead of the one among the inputs
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Argo CD generate command: one cluster's slice, the cluster from PARAM_CLUSTER or ARGOCD_ENV_CLUSTER
    #[arg(long, conflicts_with_all = ["out", "check", "cluster"])]
    argocd: bool,
    /// Emit only this cluster's objects
    #[arg(long, value_name = "CLUSTER")]
    cluster: Option<String>,
    /// Directory of template overrides
    #[arg(long, value_name = "DIR")]
    templates: Option<String>,
    /// Default DestinationRule TLS mode (e.g. ISTIO_MUTUAL)
    #[arg(long, value_name = "MODE")]
    tls_mode: Option<String>,
    /// API version of the Istio outputs: v1 or v1beta1
    #[arg(long, value_name = "VERSION")]
    istio_api_version: Option<String>,
    /// ServiceEntry endpoints: stable or pods
    #[arg(long, value_name = "MODE")]
    endpoints: Option<String>,
    /// Where to read the certificate seed: env:NAME or file:PATH
    #[arg(long, value_name = "LOCATION")]
    ca_seed: Option<String>,
    /// Validity start (RFC 3339) of certificates derived from the seed
    #[arg(long, value_name = "TIME")]
    ca_not_before: Option<String>,
}

#[derive(Args)]
struct DiscoverCli {
    /// A cluster's kubectl dump: `kubectl get <kinds> -A -o yaml` output (repeatable; several files of one cluster are read together)
    #[arg(long, value_name = "CLUSTER=PATH", value_parser = hosts::discover::parse_dump)]
    dump: Vec<(String, PathBuf)>,
    /// A kubeconfig context to read live, read-only; the cluster name defaults to the context's (repeatable)
    #[arg(long, value_name = "CONTEXT[=CLUSTER]", value_parser = hosts::discover::parse_context)]
    context: Vec<(String, String)>,
    /// The kubeconfig for --context [default: $KUBECONFIG, else ~/.kube/config]
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Write OUT/<cluster>.yaml instead of printing a stream
    #[arg(long, value_name = "OUT")]
    out: Option<PathBuf>,
    /// Discover Services and workloads only in this namespace (repeatable)
    #[arg(long, value_name = "NAMESPACE")]
    namespace: Vec<String>,
    /// Never discover Services and workloads in this namespace (repeatable)
    #[arg(long, value_name = "NAMESPACE")]
    exclude_namespace: Vec<String>,
    /// Discover only Services that have a multicluster.x-k8s.io ServiceExport
    #[arg(long)]
    only_exported: bool,
    /// The clusters' DNS domain, written into each KubernetesCluster
    #[arg(long, value_name = "DOMAIN", default_value = vmesh::discover::DEFAULT_CLUSTER_DOMAIN)]
    cluster_domain: String,
    /// Labels a gateway Service's selector must hold, one set per flag [default: istio=eastwestgateway and istio=ingressgateway]
    #[arg(long, value_name = "KEY=VALUE[,KEY=VALUE]", value_parser = hosts::discover::parse_labels)]
    gateway_labels: Vec<std::collections::BTreeMap<String, String>>,
    /// The gateway port that carries cross-cluster mTLS
    #[arg(long, value_name = "NAME", default_value = vmesh::discover::DEFAULT_GATEWAY_TLS_PORT)]
    gateway_tls_port: String,
    /// Destination endpoint subsets: stable (none) or pods (ready pods' IPs; changes with every restart)
    #[arg(long, value_enum, default_value_t = EndpointsFlag::Stable)]
    endpoints: EndpointsFlag,
    /// Namespace of the discovered resources
    #[arg(long, value_name = "NAMESPACE", default_value = vmesh::discover::DEFAULT_OUTPUT_NAMESPACE)]
    output_namespace: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum EndpointsFlag {
    Stable,
    Pods,
}

#[derive(Subcommand)]
enum KustomizeAction {
    /// Link vmesh into kustomize's plugin directory as VirtualMeshGenerator and VirtualMeshTransformer
    Install {
        /// The plugin directory [default: kustomize's: $KUSTOMIZE_PLUGIN_HOME, $XDG_CONFIG_HOME/kustomize/plugin, ~/.config/kustomize/plugin]
        #[arg(long, value_name = "DIR")]
        plugin_home: Option<PathBuf>,
        /// The vmesh executable to link [default: the `vmesh` found on PATH]
        #[arg(long, value_name = "PATH")]
        bin: Option<PathBuf>,
    },
    /// Run as a legacy exec plugin with this config file (what kustomize does)
    Plugin {
        /// The plugin config file
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    install_panic_hook();
    return_large_buffers_to_the_system();

    let args: Vec<OsString> = std::env::args_os().collect();
    if let Some(config) = legacy_plugin_config(&args) {
        if args.len() > 2 {
            return print(Reply::fail(
                "vmesh takes no plugin arguments (argsOneLiner, argsFromFile): put its settings under spec in the plugin config",
            ));
        }
        return print(kustomize_plugin(&config));
    }
    // Usage errors exit 1 like every other error (clap's own code is 2); help and version
    // go to stdout with exit 0.
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command.unwrap_or(Command::Fn) {
        Command::Fn => run_function(),
        Command::Render(render) => print(run_render(*render)),
        Command::Discover(discover) => print(run_discover(*discover)),
        Command::Kustomize { action } => match action {
            KustomizeAction::Install { plugin_home, bin } => {
                print(install_plugins(plugin_home, bin))
            }
            KustomizeAction::Plugin { config } => print(kustomize_plugin(&config)),
        },
        Command::Schema { kind } => {
            let schema = match kind.as_str() {
                "VirtualMeshRenderer" => vmesh::model::config::json_schema(),
                "VirtualMeshGenerator" => kustomize::json_schema(kustomize::GENERATOR_KIND),
                "VirtualMeshTransformer" => kustomize::json_schema(kustomize::TRANSFORMER_KIND),
                gloo => vmesh::model::schema::resource_schema(gloo)
                    .expect("clap admits only the kinds vmesh describes"),
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&schema).expect("schema serializes")
            );
            ExitCode::SUCCESS
        }
    }
}

/// kustomize runs a legacy exec plugin as `<plugin path> <config file>` with
/// `KUSTOMIZE_PLUGIN_CONFIG_ROOT` set: that is vmesh's cue to act as the plugin.
fn legacy_plugin_config(args: &[OsString]) -> Option<PathBuf> {
    std::env::var_os("KUSTOMIZE_PLUGIN_CONFIG_ROOT")?;
    let first = Path::new(args.get(1)?);
    let subcommand = matches!(
        first.to_str(),
        Some("fn" | "render" | "discover" | "kustomize" | "schema" | "help")
    );
    (!subcommand && first.is_file()).then(|| first.to_path_buf())
}

fn kustomize_plugin(config: &Path) -> Reply {
    let text = match std::fs::read_to_string(config) {
        Ok(text) => text,
        Err(e) => match std::env::var("KUSTOMIZE_PLUGIN_CONFIG_STRING") {
            Ok(text) => text,
            Err(_) => {
                return Reply::fail(format!(
                    "cannot read the plugin config {}: {e}",
                    config.display()
                ));
            }
        },
    };
    let root = std::env::var_os("KUSTOMIZE_PLUGIN_CONFIG_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("."));
    let stdin = match read_stdin() {
        Ok(stdin) => stdin,
        Err(message) => return Reply::fail(message),
    };
    kustomize::legacy_plugin(&text, &root, stdin)
}

fn run_render(cli: RenderCli) -> Reply {
    if cli.argocd {
        let env = |name: &str| std::env::var(name).ok();
        return hosts::argocd::generate(cli.paths, &env);
    }
    let args = hosts::render::RenderArgs {
        paths: cli.paths,
        out: cli.out,
        check: cli.check,
        config: cli.config,
        settings: Settings {
            cluster: cli.cluster,
            templates: cli.templates,
            tls_mode: cli.tls_mode,
            istio_api_version: cli.istio_api_version,
            endpoints: cli.endpoints,
            ca_seed: cli.ca_seed,
            ca_not_before: cli.ca_not_before,
        },
        one_cluster: false,
    };
    hosts::render::render(&args)
}

fn run_discover(cli: DiscoverCli) -> Reply {
    let defaults = vmesh::discover::Options::default();
    let args = hosts::discover::DiscoverArgs {
        dumps: cli.dump,
        contexts: cli.context,
        kubeconfig: cli.kubeconfig,
        out: cli.out,
        options: vmesh::discover::Options {
            cluster_domain: cli.cluster_domain,
            gateway_labels: if cli.gateway_labels.is_empty() {
                defaults.gateway_labels
            } else {
                cli.gateway_labels
            },
            gateway_tls_port: cli.gateway_tls_port,
            endpoints: match cli.endpoints {
                EndpointsFlag::Stable => vmesh::discover::EndpointsMode::Stable,
                EndpointsFlag::Pods => vmesh::discover::EndpointsMode::Pods,
            },
            namespaces: cli.namespace,
            exclude_namespaces: cli.exclude_namespace,
            only_exported: cli.only_exported,
            output_namespace: cli.output_namespace,
        },
    };
    hosts::discover::discover(&args, &hosts::live::read_context)
}

/// Links the `vmesh` on PATH (or `--bin`) into kustomize's plugin directory under both
/// plugin kinds, and says where: the directory is not one a user would guess.
fn install_plugins(plugin_home: Option<PathBuf>, bin: Option<PathBuf>) -> Reply {
    let (home, why) = match plugin_home {
        Some(home) => (home, "--plugin-home".to_string()),
        None => match default_plugin_home() {
            Some(found) => found,
            None => {
                return Reply::fail(
                    "cannot tell where kustomize looks for plugins: set --plugin-home, KUSTOMIZE_PLUGIN_HOME or HOME",
                );
            }
        },
    };
    // The vmesh users run, not whichever binary ran this (a `cargo run` build): the link
    // then follows upgrades of the vmesh on PATH.
    let exe = match bin {
        Some(bin) => bin,
        None => match on_path("vmesh") {
            Some(found) => found,
            None => {
                return Reply::fail(
                    "no vmesh on PATH to link: install vmesh on PATH (e.g. cargo install --path .), or name the executable with --bin",
                );
            }
        },
    };
    let exe = if exe.is_absolute() {
        exe
    } else {
        match std::env::current_dir() {
            Ok(dir) => dir.join(exe),
            Err(e) => return Reply::fail(format!("cannot resolve {}: {e}", exe.display())),
        }
    };
    if !exe.is_file() {
        return Reply::fail(format!("{} is not a file", exe.display()));
    }
    let mut reply = Reply::default();
    for kind in [kustomize::GENERATOR_KIND, kustomize::TRANSFORMER_KIND] {
        let dir = home
            .join("vmesh.dev/v1alpha1")
            .join(kind.to_ascii_lowercase());
        let link = dir.join(kind);
        let result = std::fs::create_dir_all(&dir).and_then(|()| {
            match std::fs::remove_file(&link) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            std::os::unix::fs::symlink(&exe, &link)
        });
        if let Err(e) = result {
            return Reply::fail(format!("cannot link {}: {e}", link.display()));
        }
        reply
            .stdout
            .push_str(&format!("{} -> {}\n", link.display(), exe.display()));
    }
    reply.stderr.push_str(&format!(
        "vmesh: installed the kustomize plugins VirtualMeshGenerator and VirtualMeshTransformer in {} ({why}), linked to {}; run kustomize with --enable-alpha-plugins\n",
        home.display(),
        exe.display()
    ));
    reply
}

/// The first executable file named `name` in PATH's directories.
fn on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// kustomize's plugin directory: the first that exists of $KUSTOMIZE_PLUGIN_HOME,
/// $XDG_CONFIG_HOME/kustomize/plugin, ~/.config/kustomize/plugin, ~/kustomize/plugin (as
/// kustomize looks), else the first of them that is set; with where it came from.
fn default_plugin_home() -> Option<(PathBuf, String)> {
    let env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let home = env("HOME");
    let candidates: Vec<(PathBuf, &str)> = [
        (env("KUSTOMIZE_PLUGIN_HOME"), "$KUSTOMIZE_PLUGIN_HOME"),
        (
            env("XDG_CONFIG_HOME").map(|d| d.join("kustomize/plugin")),
            "$XDG_CONFIG_HOME/kustomize/plugin",
        ),
        (
            home.as_ref().map(|h| h.join(".config/kustomize/plugin")),
            "kustomize's default, ~/.config/kustomize/plugin",
        ),
        (
            home.as_ref().map(|h| h.join("kustomize/plugin")),
            "kustomize's fallback, ~/kustomize/plugin",
        ),
    ]
    .into_iter()
    .filter_map(|(dir, why)| dir.map(|d| (d, why)))
    .collect();
    candidates
        .iter()
        .find(|(d, _)| d.is_dir())
        .or(candidates.first())
        .map(|(d, why)| (d.clone(), why.to_string()))
}

fn print(reply: Reply) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(reply.stdout.as_bytes())
        .and_then(|_| stdout.flush())
        .is_err()
    {
        eprintln!("vmesh: cannot write to stdout");
        return ExitCode::FAILURE;
    }
    eprint!("{}", reply.stderr);
    ExitCode::from(u8::try_from(reply.code).unwrap_or(1))
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

/// Printed when `vmesh` (the KRM function) is started with a terminal on stdin: a person,
/// not kpt or kustomize, is waiting for it.
const TERMINAL_HINT: &str = "vmesh: reading one KRM ResourceList from stdin (end it with Ctrl-D); to render YAML files, run `vmesh render FILE|DIR...` (see `vmesh --help`)";

fn run_function() -> ExitCode {
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprintln!("{TERMINAL_HINT}");
    }
    let text = match read_stdin() {
        Ok(text) => text,
        Err(message) => return input_failure(&message),
    };
    let started = std::time::Instant::now();
    let mut list = match krm::read_resource_list(text) {
        Ok(list) => list,
        Err(error) => return input_failure(&error.0),
    };
    let parsed = started.elapsed();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let (stdout, exit_code, results, summary) = match &list.function_config {
        Some(config) if kustomize::is_plugin_config(config) => {
            let (stdout, code) = kustomize::krm_function(list, &cwd);
            (stdout, code, None, String::new())
        }
        _ => {
            // Gloo Mesh inputs renamed by kustomize's builtins (KRM transformer form) are
            // read under their original names; a no-op under kpt.
            kustomize::restore_original_names(&mut list.items);
            let base_dir = config_dir(list.function_config.as_ref()).unwrap_or(cwd);
            let options = RunOptions {
                base_dir: Some(base_dir),
                // kpt carries the package (these items) to `kpt live apply`.
                carried_to_cluster: true,
                ..RunOptions::new(OutputStyle::ResourceList)
            };
            let outcome = vmesh::run(list, &options);
            if std::env::var_os("VMESH_TIMINGS").is_some() {
                eprintln!("vmesh timing: parse {parsed:?}");
                for (stage, duration) in &outcome.timings {
                    eprintln!("vmesh timing: {stage} {duration:?}");
                }
            }
            // kpt and kustomize show the results themselves and pipe stdout; a person who
            // ran vmesh at a terminal gets one line on what was rendered where.
            let at_terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
            let summary = if hosts::wants_summary(at_terminal) {
                hosts::summary(&outcome)
            } else {
                String::new()
            };
            (
                outcome.stdout,
                outcome.exit_code,
                Some(outcome.results),
                summary,
            )
        }
    };
    let mut out = std::io::stdout().lock();
    if out
        .write_all(stdout.as_bytes())
        .and_then(|_| out.flush())
        .is_err()
    {
        eprintln!("vmesh: cannot write to stdout");
        return ExitCode::FAILURE;
    }
    if exit_code != 0 {
        let errors = results.map_or(String::new(), |results| {
            let n = results
                .iter()
                .filter(|r| r.severity == krm::Severity::Error)
                .count();
            format!("{n} error(s); ")
        });
        eprintln!("vmesh: {errors}nothing was rendered (see the results)");
        return ExitCode::FAILURE;
    }
    eprint!("{summary}");
    ExitCode::SUCCESS
}

/// The directory of the functionConfig file under `kpt fn render`, which annotates it with
/// the package's absolute path and the file's path in it: relative paths in the config
/// (templates, a seed file) then resolve against the config file, wherever kpt runs.
fn config_dir(config: Option<&serde_json::Value>) -> Option<PathBuf> {
    let annotations = config?.get("metadata")?.get("annotations")?;
    let package = annotations
        .get("internal.config.kubernetes.io/package-path")?
        .as_str()?;
    let file = annotations
        .get(krm::PATH_ANNOTATION)
        .and_then(|p| p.as_str())
        .unwrap_or("");
    let dir = Path::new(package).join(Path::new(file).parent().unwrap_or(Path::new("")));
    dir.is_dir().then_some(dir)
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

/// glibc raises its mmap threshold after the first large free, after which big buffers come
/// from the heap and are never returned: the rendered text of every cluster would stay
/// resident next to the output it was copied into. A fixed threshold keeps buffers above
/// 4 MiB in their own mappings, freed as soon as they are written.
fn return_large_buffers_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; it is called before any other thread
    // exists and with a valid parameter.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}
