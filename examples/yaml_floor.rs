//! The YAML floor of a render: what serde-saphyr alone needs to parse the input and emit the
//! output, nothing else. `cargo run --release --example yaml_floor -- INPUT OUTPUT` prints
//! `parse_seconds emit_seconds`.
//!
//! The output is parsed first (not timed) so that the emit step writes the very same tree.

use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (input, output) = match args.as_slice() {
        [input, output] => (input, output),
        _ => {
            eprintln!("usage: yaml_floor INPUT OUTPUT");
            std::process::exit(2);
        }
    };
    let input = std::fs::read_to_string(input).expect("input readable");
    let output = std::fs::read_to_string(output).expect("output readable");

    let start = Instant::now();
    let parsed: serde_json::Value =
        serde_saphyr::from_str_with_options(&input, vmesh::yaml::parse::options())
            .expect("input parses");
    let parse = start.elapsed();
    drop(parsed);

    let tree: serde_json::Value =
        serde_saphyr::from_str_with_options(&output, vmesh::yaml::parse::options())
            .expect("output parses");
    let start = Instant::now();
    let text = serde_saphyr::to_string(&tree).expect("output emits");
    let emit = start.elapsed();
    assert!(!text.is_empty());
    println!("{:.3} {:.3}", parse.as_secs_f64(), emit.as_secs_f64());
}
