//! `vmesh render --out` on hostile trees (issue 14), with the real binary: links planted at
//! every path it writes, two runs at once, runs killed at random moments, a read-only
//! subdirectory, a full file system (RLIMIT_FSIZE), and linked inputs. Every case checks
//! that nothing outside OUT changed, that no file vmesh did not write changed, and that
//! OUT is entirely old or entirely new.
//!
//! Old and new: OUT starts as the render of the example repository without the `reviews`
//! Destination and with `tlsMode: DISABLE`; the inputs are then restored, so the new render
//! adds a directory, changes files and keeps others.

use crate::support::*;
use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Everything below `dir`: files with their text, links with their target, directories.
fn snapshot(dir: &Path, skip: &[&Path]) -> BTreeMap<String, String> {
    let mut entries = BTreeMap::new();
    let walker = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| !skip.contains(&e.path()));
    for entry in walker {
        let entry = entry.unwrap();
        let relative = entry
            .path()
            .strip_prefix(dir)
            .unwrap()
            .display()
            .to_string();
        let kind = entry.file_type();
        let value = if kind.is_symlink() {
            format!("-> {}", std::fs::read_link(entry.path()).unwrap().display())
        } else if kind.is_dir() {
            "<dir>".to_string()
        } else {
            std::fs::read_to_string(entry.path()).unwrap_or_else(|_| "<binary>".into())
        };
        entries.insert(relative, value);
    }
    entries
}

/// One hostile-tree case: a sandbox with the example repository, OUT holding the old render,
/// the inputs set to the new one, and a directory outside OUT that links may point into.
struct Tree {
    sandbox: Sandbox,
    repo: PathBuf,
    out: PathBuf,
    elsewhere: PathBuf,
    old: BTreeMap<String, String>,
    new: BTreeMap<String, String>,
}

impl Tree {
    fn new() -> Tree {
        Tree::with_namespaces(0)
    }

    /// With `extra` more Destinations, each in a namespace of its own: a few hundred files,
    /// so that a kill often lands while files are switched.
    fn with_namespaces(extra: usize) -> Tree {
        let sandbox = Sandbox::new();
        let repo = sandbox.copy(&root().join("functions/gitops"), "repo");
        let file = repo.join("meshes/gloo-mesh/destinations.yaml");
        let text = read(&file);
        let reviews = format!(
            "---\n{}\n",
            text.split("\n---\n")
                .find(|d| d.contains("name: reviews-bookinfo-cluster-1\n"))
                .expect("the reviews Destination")
                .trim_end()
        );
        let mut grown = text.clone();
        for i in 0..extra {
            grown.push_str(&format!(
                "\n{}",
                reviews
                    .replace(
                        "name: reviews-bookinfo-cluster-1",
                        &format!("name: reviews-ns-{i}-cluster-1")
                    )
                    .replace("namespace: bookinfo", &format!("namespace: ns-{i}"))
            ));
        }
        std::fs::write(&file, grown).unwrap();
        let out = sandbox.path().join("out");
        let elsewhere = sandbox.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("victim.yaml"), "the victim's file\n").unwrap();
        let destinations = repo.join("meshes/gloo-mesh/destinations.yaml");
        let config = repo.join("meshes/vmesh.yaml");
        let (all, settings) = (read(&destinations), read(&config));
        let scratch = sandbox.path().join("scratch");
        assert_success(&render(&repo, &scratch, &[]), "the new render");
        let new = snapshot(&scratch, &[]);
        remove_document(&destinations, "reviews-bookinfo-cluster-1");
        std::fs::write(&config, settings.replace("ISTIO_MUTUAL", "DISABLE")).unwrap();
        assert_success(&render(&repo, &out, &[]), "the old render");
        let old = snapshot(&out, &[]);
        std::fs::write(&destinations, all).unwrap();
        std::fs::write(&config, settings).unwrap();
        std::fs::remove_dir_all(&scratch).unwrap();
        assert_ne!(old, new);
        assert!(new.contains_key("cluster-1/bookinfo") && !old.contains_key("cluster-1/bookinfo"));
        Tree {
            sandbox,
            repo,
            out,
            elsewhere,
            old,
            new,
        }
    }

    /// Everything in the sandbox but OUT and the sandbox's own bin.
    fn outside(&self) -> BTreeMap<String, String> {
        let bin = self.sandbox.path().join("bin");
        snapshot(self.sandbox.path(), &[&self.out, &bin])
    }

    fn out_now(&self) -> BTreeMap<String, String> {
        snapshot(&self.out, &[])
    }

    fn run(&self, extra: &[&str]) -> Output {
        render(&self.repo, &self.out, extra)
    }

    /// OUT must be exactly `expected`, nothing outside it may have changed.
    fn assert_out(
        &self,
        expected: &BTreeMap<String, String>,
        outside: &BTreeMap<String, String>,
        what: &str,
    ) {
        assert_eq!(
            &self.outside(),
            outside,
            "{what}: something outside OUT changed"
        );
        let now = self.out_now();
        if &now != expected {
            let which = if now == self.old {
                "old"
            } else if now == self.new {
                "new"
            } else {
                "neither old nor new"
            };
            panic!(
                "{what}: OUT is {which}:\n{:#?}",
                now.keys().collect::<Vec<_>>()
            );
        }
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn vmesh_command(repo: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vmesh"));
    command
        .args(["render", "meshes", "--out"])
        .arg(out)
        .args(extra)
        .current_dir(repo);
    command
}

fn render(repo: &Path, out: &Path, extra: &[&str]) -> Output {
    run(&mut vmesh_command(repo, out, extra))
}

fn assert_refused(output: &Output, message: &str, what: &str) {
    let stderr = text(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{what}: not refused:\n{stderr}"
    );
    assert!(
        stderr.contains(message),
        "{what}: stderr lacks {message:?}:\n{stderr}"
    );
}

#[test]
fn links_planted_at_every_path_vmesh_writes_are_refused_and_nothing_moves() {
    type Plant = fn(&Tree);
    let cases: [(&str, Plant, &str); 6] = [
        (
            "a cluster directory linked elsewhere",
            |t| {
                copy_dir(&t.out.join("cluster-1"), &t.elsewhere.join("c1"));
                std::fs::remove_dir_all(t.out.join("cluster-1")).unwrap();
                symlink(t.elsewhere.join("c1"), t.out.join("cluster-1")).unwrap();
            },
            "cluster-1 is a symbolic link",
        ),
        (
            "a namespace directory linked elsewhere",
            |t| {
                let ns = t.out.join("cluster-1/istio-system");
                copy_dir(&ns, &t.elsewhere.join("ns"));
                std::fs::remove_dir_all(&ns).unwrap();
                symlink(t.elsewhere.join("ns"), &ns).unwrap();
            },
            "istio-system is a symbolic link",
        ),
        (
            "a directory the run creates, linked elsewhere",
            |t| {
                std::fs::create_dir(t.elsewhere.join("empty")).unwrap();
                symlink(t.elsewhere.join("empty"), t.out.join("cluster-1/bookinfo")).unwrap();
            },
            "bookinfo is a symbolic link",
        ),
        (
            "a file the run replaces, linked elsewhere",
            |t| {
                let file = t.out.join("cluster-1/istio-system/destinationrule.yaml");
                std::fs::remove_file(&file).unwrap();
                symlink(t.elsewhere.join("victim.yaml"), file).unwrap();
            },
            "destinationrule.yaml is a symbolic link",
        ),
        (
            "the lock file linked elsewhere",
            |t| symlink(t.elsewhere.join("victim.yaml"), t.out.join(".vmesh.lock")).unwrap(),
            ".vmesh.lock is a symbolic link",
        ),
        (
            "a staging name planted as a link",
            |t| {
                symlink(
                    t.elsewhere.join("victim.yaml"),
                    t.out.join(".vmesh-staging-1-00"),
                )
                .unwrap()
            },
            "is not a staging directory vmesh made",
        ),
    ];
    for (what, plant, message) in cases {
        let tree = Tree::new();
        plant(&tree);
        let (outside, before) = (tree.outside(), tree.out_now());
        let output = tree.run(&[]);
        assert_refused(&output, message, what);
        tree.assert_out(&before, &outside, what);
    }
}

/// The temporary names earlier versions wrote through are a user's files like any other.
#[test]
fn files_at_old_temporary_names_are_left_alone() {
    let tree = Tree::new();
    let dir = tree.out.join("cluster-1/istio-system");
    symlink(
        tree.elsewhere.join("victim.yaml"),
        dir.join("destinationrule.yaml.vmesh-tmp"),
    )
    .unwrap();
    std::fs::write(dir.join("serviceentry.yaml.vmesh-tmp"), "mine\n").unwrap();
    let outside = tree.outside();
    assert_success(&tree.run(&[]), "vmesh render --out");
    let mut expected = tree.new.clone();
    for (name, value) in [
        (
            "destinationrule.yaml.vmesh-tmp",
            format!("-> {}", tree.elsewhere.join("victim.yaml").display()),
        ),
        ("serviceentry.yaml.vmesh-tmp", "mine\n".to_string()),
    ] {
        expected.insert(format!("cluster-1/istio-system/{name}"), value);
    }
    tree.assert_out(&expected, &outside, "old temporary names");
}

#[test]
fn two_runs_at_once_never_mix_and_one_says_why_it_stopped() {
    for round in 0..6 {
        let tree = Tree::new();
        let outside = tree.outside();
        let children: Vec<_> = (0..2)
            .map(|_| {
                vmesh_command(&tree.repo, &tree.out, &[])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outputs: Vec<Output> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        let mut succeeded = 0;
        for output in &outputs {
            if output.status.success() {
                succeeded += 1;
            } else {
                assert_refused(output, "another vmesh render is writing", "the losing run");
            }
        }
        assert!(succeeded >= 1, "round {round}: neither run succeeded");
        tree.assert_out(&tree.new, &outside, &format!("round {round}"));
    }
}

/// A small deterministic generator: the delays differ per round, and a failure prints the
/// seed that reproduces it.
fn delays(seed: u64, count: usize, max: Duration) -> Vec<Duration> {
    let mut state = seed | 1;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            max.mul_f64((state % 10_000) as f64 / 10_000.0)
        })
        .collect()
}

/// Whether a run has begun to write OUT.
fn writing_began(out: &Path) -> bool {
    out.join("cluster-1/bookinfo").exists()
        || std::fs::read_dir(out).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".vmesh-staging-")
            })
        })
}

#[test]
fn a_run_killed_at_random_moments_leaves_old_or_new_and_the_next_run_recovers() {
    // How long a run takes here, to spread the kills over it (not an assertion).
    let probe = Tree::with_namespaces(100);
    let started = std::time::Instant::now();
    assert_success(&probe.run(&[]), "a full run");
    let span = started.elapsed().mul_f64(1.5);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let short = Duration::from_millis(30);
    let rounds = delays(seed, 10, span)
        .into_iter()
        .zip(delays(!seed, 10, short));
    for (round, (delay, in_writing)) in rounds.enumerate() {
        // Even rounds: a moment of the whole run. Odd rounds: a moment after writing began
        // (the staging directory, or with an older vmesh the new directory, appeared).
        let writing = round % 2 == 1;
        let what = if writing {
            format!("round {round} (seed {seed}, kill {in_writing:?} after writing began)")
        } else {
            format!("round {round} (seed {seed}, kill after {delay:?})")
        };
        let tree = Tree::with_namespaces(100);
        let outside = tree.outside();
        let mut child = vmesh_command(&tree.repo, &tree.out, &[])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        if writing {
            while !writing_began(&tree.out) && child.try_wait().unwrap().is_none() {
                std::thread::yield_now();
            }
            std::thread::sleep(in_writing);
        } else {
            std::thread::sleep(delay);
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // What the next run does first: recover under the lock.
        {
            let lock = vmesh::hosts::outdir::lock(&tree.out).unwrap();
            vmesh::hosts::outdir::recover(&tree.out, &lock).unwrap();
            let mut now = tree.out_now();
            now.remove(".vmesh.lock");
            assert!(
                now == tree.old || now == tree.new,
                "{what}: OUT is neither old nor new: {:#?}",
                now.keys().collect::<Vec<_>>()
            );
            assert_eq!(
                tree.outside(),
                outside,
                "{what}: something outside OUT changed"
            );
        }
        assert_success(&tree.run(&[]), &format!("{what}: the next run"));
        tree.assert_out(&tree.new, &outside, &what);
    }
}

/// As root, permissions do not stop writes: the run drops to `nobody`, who owns OUT except
/// one directory.
#[test]
fn a_read_only_subdirectory_fails_the_run_and_changes_nothing() {
    let tree = Tree::new();
    let locked = tree.out.join("cluster-2/istio-system");
    // SAFETY: geteuid has no preconditions.
    let root_user = unsafe { libc::geteuid() } == 0;
    let mut command = if root_user {
        for dir in [tree.sandbox.path(), &tree.repo] {
            std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
        }
        for entry in walkdir::WalkDir::new(&tree.out) {
            let entry = entry.unwrap();
            if !entry.path().starts_with(&locked) {
                std::os::unix::fs::lchown(entry.path(), Some(65534), Some(65534)).unwrap();
            }
        }
        let mut command = Command::new("setpriv");
        command
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                env!("CARGO_BIN_EXE_vmesh"),
            ])
            .args(["render", "meshes", "--out"])
            .arg(&tree.out)
            .current_dir(&tree.repo);
        command
    } else {
        std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o555))
            .unwrap();
        vmesh_command(&tree.repo, &tree.out, &[])
    };
    let outside = tree.outside();
    let output = run(&mut command);
    assert_refused(&output, "Permission denied", "a read-only subdirectory");
    assert!(
        text(&output.stderr).contains("nothing was changed"),
        "{}",
        text(&output.stderr)
    );
    tree.assert_out(&tree.old, &outside, "a read-only subdirectory");
}

/// A full file system, as a file-size limit: writes past it fail with EFBIG (SIGXFSZ is
/// ignored so that the write returns the error instead of killing the run).
#[test]
fn a_full_file_system_fails_the_run_and_changes_nothing() {
    let tree = Tree::new();
    let outside = tree.outside();
    let mut command = Command::new("sh");
    command
        .args([
            "-c",
            "trap '' XFSZ; ulimit -f 2 && exec \"$0\" \"$@\"",
            env!("CARGO_BIN_EXE_vmesh"),
        ])
        .args(["render", "meshes", "--out"])
        .arg(&tree.out)
        .current_dir(&tree.repo);
    let output = run(&mut command);
    assert_refused(&output, "File too large", "a full file system");
    tree.assert_out(&tree.old, &outside, "a full file system");
}

#[test]
fn linked_inputs_are_read_within_the_directory_and_refused_outside_it() {
    // Within: the VirtualMesh kept in a hidden directory of meshes/, linked into place.
    let tree = Tree::new();
    let meshes = tree.repo.join("meshes");
    std::fs::create_dir(meshes.join(".store")).unwrap();
    let vm = meshes.join("gloo-mesh/virtualmesh.yaml");
    std::fs::rename(&vm, meshes.join(".store/virtualmesh.yaml")).unwrap();
    symlink("../.store/virtualmesh.yaml", &vm).unwrap();
    let outside = tree.outside();
    assert_success(&tree.run(&[]), "a VirtualMesh linked within the directory");
    tree.assert_out(&tree.new, &outside, "a linked VirtualMesh");

    // Outside: refused loudly, naming the link, never "no VirtualMesh found".
    let tree = Tree::new();
    let vm = tree.repo.join("meshes/gloo-mesh/virtualmesh.yaml");
    std::fs::rename(&vm, tree.elsewhere.join("virtualmesh.yaml")).unwrap();
    symlink(tree.elsewhere.join("virtualmesh.yaml"), &vm).unwrap();
    let outside = tree.outside();
    let output = tree.run(&[]);
    assert_refused(
        &output,
        "gloo-mesh/virtualmesh.yaml is a symbolic link to",
        "a VirtualMesh linked from outside",
    );
    assert!(
        !text(&output.stderr).contains("no VirtualMesh found"),
        "{}",
        text(&output.stderr)
    );
    tree.assert_out(&tree.old, &outside, "a VirtualMesh linked from outside");
}

/// A file name with a newline cannot inject a line of its own (a fake `[error]`) into
/// stderr: names are escaped in every stderr line.
#[test]
fn a_file_name_with_a_newline_cannot_forge_a_stderr_line() {
    let tree = Tree::new();
    let name = "notes\n[error] VirtualMesh: forged.yaml";
    std::fs::write(tree.repo.join("meshes").join(name), "replicas: 3\n").unwrap();
    let output = tree.run(&[]);
    assert_success(&output, "vmesh render with an odd file name");
    let stderr = text(&output.stderr);
    assert!(
        stderr.lines().all(|l| l.starts_with("vmesh: ")
            || l.starts_with("[info]")
            || l.starts_with("[warning] ")),
        "a line was forged:\n{stderr}"
    );
    assert!(
        !stderr.lines().any(|l| l.starts_with("[error]")),
        "a line was forged:\n{stderr}"
    );
    assert!(stderr.contains("notes\\n[error] VirtualMesh"), "{stderr}");
}

/// What a killed run left is completed or rolled back by the next run, which says so;
/// `--check` refuses to compare such a tree.
#[test]
fn check_refuses_an_interrupted_tree_and_the_next_run_recovers_it() {
    let tree = Tree::new();
    let staging = tree.out.join(".vmesh-staging-1-00");
    std::fs::create_dir_all(staging.join("new/cluster-1/istio-system")).unwrap();
    std::fs::write(
        staging.join("journal"),
        "vmesh-journal 1\nwrite cluster-1/istio-system/gateway.yaml\n",
    )
    .unwrap();
    std::fs::write(
        staging.join("new/cluster-1/istio-system/gateway.yaml"),
        "half\n",
    )
    .unwrap();
    let outside = tree.outside();
    let check = tree.run(&["--check"]);
    assert_refused(
        &check,
        "holds an update an interrupted vmesh render left",
        "--check",
    );
    let output = tree.run(&[]);
    assert_success(&output, "the next run");
    assert!(
        text(&output.stderr).contains("rolled back the update an interrupted run had begun"),
        "{}",
        text(&output.stderr)
    );
    tree.assert_out(&tree.new, &outside, "after recovery");
}
