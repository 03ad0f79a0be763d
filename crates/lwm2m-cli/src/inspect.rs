//! `lwm2m inspect`: explain LwM2M paths and attribute queries, with the core's errors.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use lwm2m_core::{AlternateRoot, Attribute, NotificationAttributes, Path};

/// Arguments of `lwm2m inspect`.
#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, Subcommand)]
enum What {
    /// Parse a path (`/3/0/1`), optionally under an alternate root (`--root /lwm2m`).
    Path {
        /// The path.
        path: String,
        /// Alternate root the path is under.
        #[arg(long)]
        root: Option<String>,
    },
    /// Parse a Write-Attributes query (`pmin=10&pmax=60&gt=50`).
    Attributes {
        /// The query.
        query: String,
    },
}

pub(crate) fn run(args: &InspectArgs) -> anyhow::Result<ExitCode> {
    match &args.what {
        What::Path { path, root } => {
            let root = AlternateRoot::parse(root.as_deref().unwrap_or("/"))?;
            let segments: Vec<&str> = path.trim_start_matches('/').split('/').filter(|s| !s.is_empty()).collect();
            let parsed: Path = root.strip(segments)?;
            println!("path:  {parsed}");
            println!("level: {}", parsed.level().name());
            if let Some(parent) = parsed.parent() {
                println!("parent: {parent}");
            }
            println!("uri:   {}", root.join(&parsed));
        }
        What::Attributes { query } => {
            let items = Attribute::parse_query(query)?;
            let mut attrs = NotificationAttributes::default();
            attrs.apply(&items)?;
            for item in &items {
                if item.is_unset() {
                    println!("{}: unset", item.name());
                } else {
                    println!("{item}");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
