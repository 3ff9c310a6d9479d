//! A panic in the real binary becomes exit 1 and one error line, not Rust's exit 101 and a
//! message that may quote input. No test-only trigger exists in the binary, so this uses a
//! panic that release builds really have: `println!` panics when stdout is a pipe whose reader
//! has gone (Rust ignores SIGPIPE, the write fails with EPIPE). The hook's stdout text is
//! checked by `KrmResult::internal_error`'s unit test (stdout is the broken pipe here).

use std::process::{Command, Stdio};

#[test]
fn a_panic_exits_1_with_an_internal_error() {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let output = Command::new(env!("CARGO_BIN_EXE_vmesh"))
        .arg("schema")
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("vmesh runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {stderr}");
    // The location is where the panic was raised (here inside std's `println!`).
    assert!(
        lines[0].starts_with("vmesh: internal error at ")
            && lines[0].contains(": vmesh panicked; nothing was rendered."),
        "{stderr}"
    );
    // The panic's own message ("failed printing to stdout: Broken pipe") is not repeated.
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
}

#[path = "../benches/support/scale.rs"]
mod scale;

/// Out of memory (a memory cap tighter than the output limits assume) is exit 1 with an
/// error result and one stderr line, not Rust's abort (exit 134, empty stdout).
#[test]
fn running_out_of_memory_exits_1_with_an_error_result() {
    use std::io::Write;
    // 120 meshes render about 60 MB and need several times that; 120 MB of address space
    // cannot hold it.
    let input = scale::generate(120, 1, false, 2048, None);
    let mut child = Command::new("sh")
        .args([
            "-c",
            "ulimit -v 120000 && exec \"$0\"",
            env!("CARGO_BIN_EXE_vmesh"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vmesh runs");
    let mut stdin = child.stdin.take().expect("piped");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let output = child.wait_with_output().expect("vmesh ends");
    let _ = writer.join();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        stderr
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("vmesh: out of memory")),
        "{stderr}"
    );
    assert!(
        stdout.ends_with("results:\n- message: \"vmesh ran out of memory; nothing was rendered. Give it more memory, or lower the output limits (maxOutputBytes, maxOutputBytesPerCluster) so that runs this large are refused early\"\n  severity: error\n"),
        "{}",
        &stdout[stdout.len().saturating_sub(500)..]
    );
}
