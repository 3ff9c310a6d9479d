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
