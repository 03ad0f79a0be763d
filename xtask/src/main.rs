//! `cargo xtask`: project automation (code generation, developer tasks).
//!
//! Run `cargo xtask help` for the list of tasks.

use std::process::ExitCode;

mod codegen;

const HELP: &str = "cargo xtask <task>

tasks:
  codegen [--registry DIR] [--check]
             regenerate crates/lwm2m-objects/src/generated from the OMA registry's
             object definitions (default ../shared/oma-registry, or $LWM2M_REGISTRY_DIR);
             --check only reports whether the committed code is stale
  help       this list";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("help" | "--help" | "-h") => {
            println!("{HELP}");
            ExitCode::SUCCESS
        }
        Some("codegen") => match codegen::run(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
        Some(other) => {
            eprintln!("unknown task {other:?}; run `cargo xtask help`");
            ExitCode::from(2)
        }
    }
}
