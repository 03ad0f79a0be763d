//! `lwm2m`: the command-line face of the lwm2m-rs SDK.
//!
//! Top of the layering (`core -> codec -> transport -> roles -> cli`). Each subcommand
//! lives in its own module and is a thin shell over the library crates.

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// LwM2M server, bootstrap server, device simulator and protocol tools.
#[derive(Debug, Parser)]
#[command(name = "lwm2m", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// More log output (-v info, -vv debug, -vvv trace). `RUST_LOG` overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect LwM2M paths and notification attributes.
    Inspect(inspect::InspectArgs),
    /// Decode and encode LwM2M payloads (TLV, SenML, LwM2M CBOR/JSON, text, CBOR, link format).
    Codec(codec::CodecArgs),
    /// CoAP client (get/post/put/delete/fetch/ipatch) and file server (serve).
    Coap(coap::CoapArgs),
}

mod coap;
mod codec;
mod hex;
mod inspect;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match cli.command {
        Command::Inspect(args) => inspect::run(&args),
        Command::Codec(args) => codec::run(&args),
        Command::Coap(args) => coap::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Logs go to stderr; `RUST_LOG` wins over `-v`.
fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
