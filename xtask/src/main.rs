//! `cargo xtask`: project automation (code generation, developer tasks).
//!
//! Run `cargo xtask help` for the list of tasks.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("help" | "--help" | "-h") => {
            println!("cargo xtask <task>\n\ntasks:\n  help       this list");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("unknown task {other:?}; run `cargo xtask help`");
            ExitCode::from(2)
        }
    }
}
