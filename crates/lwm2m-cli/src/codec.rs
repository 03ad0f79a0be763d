//! `lwm2m codec`: decode and encode LwM2M payloads in every content format.
//!
//! `lwm2m codec decode --format senml-cbor --path /3/0 --hex 83A3...` prints the decoded
//! values; `--json` prints the stable JSON form, an array of
//! `{"path": "/3/0/0", "type": "string", "value": "ACME"}` entries (resource instances as
//! their own paths). `lwm2m codec encode --format tlv --path /3/0 --json '[...]'` reads the
//! same form and prints the payload as hex.
//!
//! Stable JSON value forms: string/corelnk as JSON strings, integer/time/unsigned/float as
//! JSON numbers, boolean as JSON booleans, **opaque as lowercase hex** (the same form as
//! `--hex`), objlnk as `"3:0"`. Type names: `string integer unsigned float boolean opaque
//! time objlnk corelnk`.

use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use clap::{Args, Subcommand};
use lwm2m_codec::link::{self, Link};
use lwm2m_codec::{Limits, decode, decode_composite, encode, encode_composite};
use lwm2m_core::{ContentFormat, DataType, ModelRegistry, Node, Objlnk, Path, Value};
use serde_json::{Value as Json, json};

/// Arguments of `lwm2m codec`.
#[derive(Debug, Args)]
pub(crate) struct CodecArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, Subcommand)]
enum What {
    /// Decode a payload and print its values.
    Decode {
        /// Content format: text, opaque, cbor, tlv, lwm2m-json, senml-json, senml-cbor, lwm2m-cbor, link (or a number).
        #[arg(long)]
        format: String,
        /// The path the payload was read from or written to (`/` for composite payloads).
        #[arg(long, default_value = "/")]
        path: String,
        /// The payload as hex (spaces allowed).
        #[arg(long, conflicts_with = "file", required_unless_present = "file")]
        hex: Option<String>,
        /// A file holding the payload bytes.
        #[arg(long)]
        file: Option<std::path::PathBuf>,
        /// Print the stable JSON form instead of the human form.
        #[arg(long)]
        json: bool,
    },
    /// Encode values given in the stable JSON form and print the payload as hex.
    Encode {
        /// Content format (as for decode; link is not a value format).
        #[arg(long)]
        format: String,
        /// The path of the node to encode (`/` for a composite payload).
        #[arg(long)]
        path: String,
        /// The values: `[{"path":"/3/0/0","type":"string","value":"ACME"}, ...]`.
        #[arg(long)]
        json: String,
    },
}

pub(crate) fn run(args: &CodecArgs) -> anyhow::Result<ExitCode> {
    match &args.what {
        What::Decode { format, path, hex, file, json } => {
            let format: ContentFormat = format.parse()?;
            let payload = match (hex, file) {
                (Some(h), _) => crate::hex::parse(h)?,
                (None, Some(f)) => std::fs::read(f).with_context(|| format!("reading {}", f.display()))?,
                (None, None) => bail!("give the payload with --hex or --file"),
            };
            if format == ContentFormat::LINK_FORMAT {
                let links = link::parse(&payload, &Limits::default())?;
                print_links(&links, *json);
                return Ok(ExitCode::SUCCESS);
            }
            let path: Path = path.parse()?;
            let entries: Vec<(Path, Value)> = if path.is_root() {
                decode_composite(format, &payload, model(), &Limits::default())?
            } else {
                let node = decode(format, &path, &payload, model(), &Limits::default())?;
                node.to_entries(&path)?.into_iter().map(|(p, v)| (p, v.clone())).collect()
            };
            if *json {
                let arr: Vec<Json> = entries.iter().map(|(p, v)| entry_json(p, v)).collect();
                println!("{}", serde_json::to_string_pretty(&Json::Array(arr))?);
            } else {
                for (p, v) in &entries {
                    let name = name_of(p).map(|n| format!("  ({n})")).unwrap_or_default();
                    println!("{p} = {} [{}]{name}", human(v), type_name(v.data_type()));
                }
            }
        }
        What::Encode { format, path, json } => {
            let format: ContentFormat = format.parse()?;
            let path: Path = path.parse()?;
            let entries = parse_entries(json)?;
            let bytes = if path.is_root() {
                let refs: Vec<(Path, &Value)> = entries.iter().map(|(p, v)| (*p, v)).collect();
                encode_composite(format, &refs)?
            } else {
                let node = Node::from_entries(&path, entries)?;
                encode(format, &path, &node)?
            };
            println!("{}", crate::hex::encode(&bytes));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn type_name(t: DataType) -> &'static str {
    match t {
        DataType::String => "string",
        DataType::Integer => "integer",
        DataType::UnsignedInteger => "unsigned",
        DataType::Float => "float",
        DataType::Boolean => "boolean",
        DataType::Opaque => "opaque",
        DataType::Time => "time",
        DataType::Objlnk => "objlnk",
        DataType::Corelnk => "corelnk",
        DataType::None => "none",
    }
}

fn human(v: &Value) -> String {
    match v {
        Value::String(s) | Value::Corelnk(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

fn name_of(p: &Path) -> Option<String> {
    let r = model().resource(p.object_id()?, p.resource_id()?)?;
    Some(r.name.to_string())
}

fn entry_json(p: &Path, v: &Value) -> Json {
    let value = match v {
        Value::String(s) | Value::Corelnk(s) => json!(s.as_str()),
        Value::Integer(i) | Value::Time(i) => json!(i),
        Value::UnsignedInteger(u) => json!(u),
        Value::Float(f) => json!(f),
        Value::Boolean(b) => json!(b),
        Value::Opaque(b) => json!(crate::hex::encode(b)),
        Value::Objlnk(l) => json!(l.to_string()),
    };
    json!({"path": p.to_string(), "type": type_name(v.data_type()), "value": value})
}

fn parse_entries(text: &str) -> anyhow::Result<Vec<(Path, Value)>> {
    let items: Vec<Json> = serde_json::from_str(text).context("--json must be a JSON array of entries")?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let ctx = || format!("entry {i}");
            let path: Path =
                item["path"].as_str().ok_or_else(|| anyhow!("missing \"path\"")).with_context(ctx)?.parse()?;
            let ty = item["type"].as_str().ok_or_else(|| anyhow!("missing \"type\"")).with_context(ctx)?;
            let v = &item["value"];
            let bad = || anyhow!("{path}: value {v} is not a valid {ty}");
            let value = match ty {
                "string" => Value::String(v.as_str().ok_or_else(bad)?.into()),
                "corelnk" => Value::Corelnk(v.as_str().ok_or_else(bad)?.into()),
                "integer" => Value::Integer(v.as_i64().ok_or_else(bad)?),
                "time" => Value::Time(v.as_i64().ok_or_else(bad)?),
                "unsigned" => Value::UnsignedInteger(v.as_u64().ok_or_else(bad)?),
                "float" => Value::Float(v.as_f64().ok_or_else(bad)?),
                "boolean" => Value::Boolean(v.as_bool().ok_or_else(bad)?),
                "opaque" => Value::Opaque(crate::hex::parse(v.as_str().ok_or_else(bad)?)?),
                "objlnk" => Value::Objlnk(v.as_str().ok_or_else(bad)?.parse::<Objlnk>()?),
                other => bail!(
                    "{path}: unknown type {other:?} (string integer unsigned float boolean opaque time objlnk corelnk)"
                ),
            };
            Ok((path, value))
        })
        .collect()
}

fn print_links(links: &[Link], as_json: bool) {
    if as_json {
        let arr: Vec<Json> = links
            .iter()
            .map(|l| {
                let params: Vec<Json> = l.params.iter().map(|p| json!({"name": p.name, "value": p.value})).collect();
                json!({"target": l.target, "params": params})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&Json::Array(arr)).unwrap_or_default());
    } else {
        for l in links {
            println!("{l}");
        }
    }
}

/// The object model used to type values: the generated registry of all OMA objects.
fn model() -> &'static (dyn ModelRegistry + Send + Sync) {
    lwm2m_objects::registry()
}
