//! `lwm2m coap`: a CoAP client for poking at devices, and `lwm2m coap serve`, a CoAP file
//! server, both on the `lwm2m-transport` engine.
//!
//! Exit status of the client: 0 for a 2.xx response, 1 for 4.xx/5.xx, 2 when no response came
//! (timeout, reset, transport error, bad arguments) with the reason on stderr.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::{Context, anyhow, bail};
use bytes::Bytes;
use clap::{Args, Subcommand};
use lwm2m_core::ContentFormat;
use lwm2m_transport::driver::{self, Handle, Handler, NotFound, Responder};
use lwm2m_transport::wire::{OptionFormat, szx_of_size};
use lwm2m_transport::{Code, Config, IncomingRequest, ObservationId, ObserveRequest, OptionNumber, Request, Response};

/// CoAP over TCP and TLS (`coap+tcp://`, `coaps+tcp://`, `serve --tcp` / `--tls`).
#[path = "coap_tcp.rs"]
mod tcp;

/// CoAP over DTLS (`coaps://`, `serve --dtls`).
#[path = "coap_dtls.rs"]
mod dtls;

/// Arguments of `lwm2m coap`.
#[derive(Debug, Args)]
pub(crate) struct CoapArgs {
    /// Boxed: the request and serve options are large, and `Command` holds this by value.
    #[command(subcommand)]
    command: Box<CoapCommand>,
}

#[derive(Debug, Subcommand)]
enum CoapCommand {
    /// Send a GET request.
    Get(RequestArgs),
    /// Send a POST request.
    Post(RequestArgs),
    /// Send a PUT request.
    Put(RequestArgs),
    /// Send a DELETE request.
    Delete(RequestArgs),
    /// Send a FETCH request (RFC 8132).
    Fetch(RequestArgs),
    /// Send an iPATCH request (RFC 8132).
    Ipatch(RequestArgs),
    /// Serve the files of a directory over CoAP (GET, PUT, POST, DELETE, Observe, block-wise).
    Serve(ServeArgs),
}

/// Options of a CoAP request.
#[derive(Debug, Args)]
struct RequestArgs {
    /// Target, e.g. `coap://127.0.0.1:5683/3/0?x=1` (`coap://[::1]/a` for IPv6); `coaps://` (DTLS,
    /// default port 5684) needs --psk-identity with --psk-key/--psk-key-text, --rpk with
    /// --rpk-peer, or --ca, --cert and --key.
    uri: String,
    /// Accept option: a content-format number or name (`text`, `tlv`, `senml-cbor`, ...).
    #[arg(long)]
    accept: Option<String>,
    /// Content-Format of the payload: a number or name.
    #[arg(long)]
    content_format: Option<String>,
    /// Payload as text.
    #[arg(long, group = "body")]
    payload: Option<String>,
    /// Payload as hex (`0a1b...`).
    #[arg(long, group = "body")]
    hex: Option<String>,
    /// Payload read from a file.
    #[arg(long, group = "body")]
    file: Option<PathBuf>,
    /// Block size for block-wise transfers both ways (16, 32, ..., 1024); also asks the server
    /// to use it for the response (early negotiation).
    #[arg(long)]
    block_size: Option<usize>,
    /// Register an observation and print notifications.
    #[arg(long)]
    observe: bool,
    /// With --observe: stop after N notifications (not counting the registration response).
    #[arg(long, requires = "observe")]
    count: Option<u64>,
    /// With --observe: stop after S seconds.
    #[arg(long, requires = "observe")]
    duration: Option<f64>,
    /// Send the request as NON instead of CON.
    #[arg(long)]
    non: bool,
    /// Give up waiting for the response after S seconds (default: the CoAP retransmission
    /// limits, at most 93 s).
    #[arg(long)]
    timeout: Option<f64>,
    /// Print one JSON object per response/notification.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    tls: tcp::CertArgs,
    #[command(flatten)]
    psk: dtls::PskArgs,
    #[command(flatten)]
    rpk: dtls::RpkArgs,
    #[command(flatten)]
    cert_usage: dtls::CertUsageArgs,
}

/// Options of `lwm2m coap serve`.
#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on (`127.0.0.1:5683`, `[::]:5683`; port 0 picks a free one).
    #[arg(long, default_value = "[::]:5683")]
    bind: SocketAddr,
    /// Directory whose files are served.
    #[arg(long)]
    root: PathBuf,
    /// How often observed files are checked for changes, in milliseconds.
    #[arg(long, default_value_t = 200)]
    poll_ms: u64,
    #[command(flatten)]
    stream: tcp::StreamServeArgs,
    #[command(flatten)]
    stream_certs: tcp::CertArgs,
    #[command(flatten)]
    dtls: dtls::DtlsServeArgs,
}

pub(crate) fn run(args: &CoapArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("tokio runtime")?;
    match args.command.as_ref() {
        CoapCommand::Serve(serve_args) => runtime.block_on(serve(serve_args)),
        CoapCommand::Get(a) => runtime.block_on(client(Code::GET, a)),
        CoapCommand::Post(a) => runtime.block_on(client(Code::POST, a)),
        CoapCommand::Put(a) => runtime.block_on(client(Code::PUT, a)),
        CoapCommand::Delete(a) => runtime.block_on(client(Code::DELETE, a)),
        CoapCommand::Fetch(a) => runtime.block_on(client(Code::FETCH, a)),
        CoapCommand::Ipatch(a) => runtime.block_on(client(Code::IPATCH, a)),
    }
}

/// A parsed `coap://` or `coaps://` URI.
#[derive(Debug, PartialEq, Eq)]
struct CoapUri {
    /// `coaps://` (DTLS).
    secure: bool,
    host: String,
    port: u16,
    path: Vec<String>,
    query: Vec<String>,
}

fn percent_decode(s: &str) -> anyhow::Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or_else(|| anyhow!("truncated percent-escape in {s:?}"))?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| anyhow!("bad percent-escape %{hex} in {s:?}"))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| anyhow!("percent-escapes in {s:?} are not UTF-8"))
}

fn parse_uri(uri: &str) -> anyhow::Result<CoapUri> {
    let (secure, rest) = match uri.split_once("://") {
        Some(("coap", rest)) => (false, rest),
        Some(("coaps", rest)) => (true, rest),
        Some((scheme, _)) => bail!("unknown URI scheme {scheme:?} (expected coap:// or coaps://)"),
        None => bail!("{uri:?} is not a coap:// URI"),
    };
    // RFC 7252 §6.1 and §6.2: 5683 for coap, 5684 for coaps.
    let default_port = if secure { 5684 } else { 5683 };
    let (authority, path_query) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => match rest.find('?') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        },
    };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(|| anyhow!("unclosed [ in {uri:?}"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().with_context(|| format!("bad port {p:?}"))?,
            None if after.is_empty() => default_port,
            None => bail!("junk after ] in {uri:?}"),
        };
        (h.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().with_context(|| format!("bad port {p:?}"))?),
            None => (authority.to_string(), default_port),
        }
    };
    if host.is_empty() {
        bail!("no host in {uri:?}");
    }
    let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
    let path = path.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect::<anyhow::Result<Vec<_>>>()?;
    let query = query.split('&').filter(|s| !s.is_empty()).map(percent_decode).collect::<anyhow::Result<Vec<_>>>()?;
    Ok(CoapUri { secure, host, port, path, query })
}

fn parse_format(s: &str) -> anyhow::Result<ContentFormat> {
    s.parse::<ContentFormat>().map_err(|e| anyhow!("{e}"))
}

/// The first address `uri`'s host resolves to, or the one-line reason it does not.
async fn resolve(uri: &CoapUri) -> Result<std::net::SocketAddr, String> {
    match tokio::net::lookup_host((uri.host.as_str(), uri.port)).await {
        Ok(mut addrs) => addrs.next().ok_or_else(|| format!("{} resolves to no address", uri.host)),
        Err(e) => Err(format!("cannot resolve {}: {e}", uri.host)),
    }
}

/// The block size exponent of `--block-size`.
fn block_szx(size: usize) -> anyhow::Result<u8> {
    szx_of_size(size).ok_or_else(|| anyhow!("--block-size {size} is not one of 16, 32, ..., 1024"))
}

fn fail(reason: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {reason}");
    ExitCode::from(2)
}

/// The CoAP request for a parsed URI and the payload/format arguments (shared by every transport).
fn build_request(method: Code, args: &RequestArgs, uri: &CoapUri) -> anyhow::Result<Request> {
    let mut request = Request::new(method);
    if uri.host.parse::<IpAddr>().is_err() {
        request.options.push(OptionNumber::URI_HOST, uri.host.as_bytes());
    }
    for seg in &uri.path {
        request.options.push(OptionNumber::URI_PATH, seg.as_bytes());
    }
    for q in &uri.query {
        request.options.push(OptionNumber::URI_QUERY, q.as_bytes());
    }
    if let Some(a) = &args.accept {
        request.options.set_uint(OptionNumber::ACCEPT, u32::from(parse_format(a)?.number()));
    }
    if let Some(cf) = &args.content_format {
        request.options.set_content_format(parse_format(cf)?);
    }
    request.payload = if let Some(p) = &args.payload {
        Bytes::from(p.clone().into_bytes())
    } else if let Some(h) = &args.hex {
        Bytes::from(crate::hex::parse(h)?)
    } else if let Some(f) = &args.file {
        Bytes::from(std::fs::read(f).with_context(|| format!("reading {}", f.display()))?)
    } else {
        Bytes::new()
    };
    Ok(request)
}

async fn client(method: Code, args: &RequestArgs) -> anyhow::Result<ExitCode> {
    if tcp::is_stream_uri(&args.uri) {
        return tcp::client(method, args).await;
    }
    let uri = match parse_uri(&args.uri) {
        Ok(u) => u,
        Err(e) => return Ok(fail(e)),
    };
    if !uri.secure && args.psk.any() {
        return Ok(fail("--psk-identity/--psk-key are for coaps:// URIs"));
    }
    if !uri.secure && args.rpk.any() {
        return Ok(fail("--rpk/--rpk-peer are for coaps:// URIs"));
    }
    let addr = match resolve(&uri).await {
        Ok(a) => a,
        Err(reason) => return Ok(fail(reason)),
    };
    let mut request = build_request(method, args, &uri)?;
    request.confirmable = !args.non;
    let mut config = Config { seed: seed_from_os(), ..Config::default() };
    if let Some(size) = args.block_size {
        let szx = block_szx(size)?;
        config.block_szx = szx;
        config.request_block2_szx = Some(szx);
    }
    let limit = args.timeout.map(Duration::from_secs_f64);
    let handle = if uri.secure {
        let dtls_config = match dtls::client_config(&args.psk, &args.rpk, &args.tls, &args.cert_usage, &uri.host, limit)
        {
            Ok(c) => c,
            Err(e) => return Ok(fail(format!("{e:#}"))),
        };
        match dtls::connect(addr, dtls_config).await {
            Ok(socket) => driver::spawn(socket, config, NotFound),
            Err(reason) => return Ok(fail(reason)),
        }
    } else {
        let bind: SocketAddr = if addr.is_ipv6() { "[::]:0".parse()? } else { "0.0.0.0:0".parse()? };
        let socket = match tokio::net::UdpSocket::bind(bind).await {
            Ok(s) => s,
            Err(e) => return Ok(fail(format!("cannot bind {bind}: {e}"))),
        };
        driver::spawn(socket, config, NotFound)
    };
    let code = if args.observe {
        observe(&handle, addr, request, args, limit).await
    } else {
        match bounded(limit, handle.request(addr, request)).await {
            Ok(response) => {
                print_response(&response, args.json);
                exit_for(&response)
            }
            Err(e) => fail(e),
        }
    };
    handle.shutdown().await;
    Ok(code)
}

/// Why the client gave up, for stderr.
#[derive(Debug)]
enum Failure {
    Driver(driver::Error),
    Deadline(Duration),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Driver(e) => write!(f, "{e}"),
            Failure::Deadline(d) => write!(f, "no response within the --timeout of {} s", d.as_secs_f64()),
        }
    }
}

async fn bounded<T>(
    limit: Option<Duration>,
    fut: impl std::future::Future<Output = Result<T, driver::Error>>,
) -> Result<T, Failure> {
    match limit {
        Some(l) => match tokio::time::timeout(l, fut).await {
            Ok(r) => r.map_err(Failure::Driver),
            Err(_) => Err(Failure::Deadline(l)),
        },
        None => fut.await.map_err(Failure::Driver),
    }
}

async fn observe(
    handle: &Handle<SocketAddr>,
    addr: SocketAddr,
    request: Request,
    args: &RequestArgs,
    limit: Option<Duration>,
) -> ExitCode {
    let mut obs = match bounded(limit, handle.observe(addr, request)).await {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    print_response(&obs.response, args.json);
    let code = exit_for(&obs.response);
    if obs.response.options.observe().is_none() {
        if code == ExitCode::SUCCESS {
            eprintln!("note: the server did not register the observation (no Observe option in the response)");
        }
        return code;
    }
    let deadline = args.duration.map(|d| tokio::time::Instant::now() + Duration::from_secs_f64(d));
    let mut seen = 0u64;
    while args.count.is_none_or(|c| seen < c) {
        let next = async {
            match deadline {
                Some(d) => tokio::time::timeout_at(d, obs.next()).await.ok(),
                None => Some(obs.next().await),
            }
        };
        match next.await {
            None => break,
            Some(None) => {
                eprintln!("observation ended by the server");
                break;
            }
            Some(Some(Ok(n))) => {
                seen += 1;
                print_response(&n, args.json);
            }
            Some(Some(Err(e))) => {
                eprintln!("error: observation failed: {e:?}");
                return ExitCode::from(2);
            }
        }
    }
    obs.cancel(true);
    // Give the deregistration a moment to go out.
    tokio::time::sleep(Duration::from_millis(50)).await;
    code
}

fn exit_for(response: &Response) -> ExitCode {
    if response.code.is_success() { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

/// A per-process seed for tokens and message ids (RFC 7252 §5.3.1 wants unpredictable tokens).
fn seed_from_os() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.write_u32(std::process::id());
    h.finish()
}

fn printable(bytes: &[u8]) -> Option<&str> {
    let s = std::str::from_utf8(bytes).ok()?;
    s.chars().all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t')).then_some(s)
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn option_name(n: OptionNumber) -> String {
    n.name().map_or_else(|| n.0.to_string(), str::to_string)
}

/// An option value for display: (text, json).
fn option_value(n: OptionNumber, v: &[u8]) -> (String, String) {
    match n.format().map(|f| f.0) {
        Some(OptionFormat::Uint) => {
            let x = lwm2m_transport::wire::decode_uint(v).unwrap_or(0);
            let text = match n {
                OptionNumber::CONTENT_FORMAT | OptionNumber::ACCEPT => {
                    let cf = ContentFormat::from(x as u16);
                    match cf.media_type() {
                        Some(m) => format!("{m} ({x})"),
                        None => format!("{x}"),
                    }
                }
                OptionNumber::BLOCK1 | OptionNumber::BLOCK2 => format!("{}/{}/{}", x >> 4, (x >> 3) & 1, 16 << (x & 7)),
                _ => x.to_string(),
            };
            (text, x.to_string())
        }
        Some(OptionFormat::String) => {
            let s = String::from_utf8_lossy(v).into_owned();
            (s.clone(), json_string(&s))
        }
        Some(OptionFormat::Empty) => (String::new(), "true".into()),
        _ => (format!("0x{}", crate::hex::encode(v)), json_string(&crate::hex::encode(v))),
    }
}

fn print_response(response: &Response, json: bool) {
    let mut out = String::new();
    if json {
        let mut grouped: Vec<(OptionNumber, Vec<String>)> = Vec::new();
        for o in &response.options {
            let (_, j) = option_value(o.number, &o.value);
            match grouped.last_mut() {
                Some((n, vals)) if *n == o.number => vals.push(j),
                _ => grouped.push((o.number, vec![j])),
            }
        }
        let opts: Vec<String> = grouped
            .into_iter()
            .map(|(n, vals)| {
                let v = if n.is_repeatable() { format!("[{}]", vals.join(",")) } else { vals.join(",") };
                format!("{}:{v}", json_string(&option_name(n)))
            })
            .collect();
        let text = printable(&response.payload).map_or_else(|| "null".to_string(), json_string);
        let _ = writeln!(
            out,
            "{{\"code\":\"{}.{:02}\",\"options\":{{{}}},\"payload_hex\":\"{}\",\"payload_text\":{}}}",
            response.code.class(),
            response.code.detail(),
            opts.join(","),
            crate::hex::encode(&response.payload),
            text
        );
    } else {
        let reason = response.code.response_code().map_or("", lwm2m_core::ResponseCode::reason);
        let _ = writeln!(out, "{}.{:02} {reason}", response.code.class(), response.code.detail());
        for o in &response.options {
            let (t, _) = option_value(o.number, &o.value);
            let _ = writeln!(out, "{}: {t}", option_name(o.number));
        }
        if !response.payload.is_empty() {
            out.push('\n');
            match printable(&response.payload) {
                Some(s) => {
                    out.push_str(s);
                    if !s.ends_with('\n') {
                        out.push('\n');
                    }
                }
                None => {
                    let _ = writeln!(out, "{}", crate::hex::encode(&response.payload));
                }
            }
        }
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
}

// ------------------------------------------------------------------ file server

/// A file a client observes, with the modification stamp last notified.
#[derive(Debug, Clone)]
struct Watched {
    path: PathBuf,
    stamp: Option<(SystemTime, u64)>,
}

type WatchMap = Arc<Mutex<HashMap<ObservationId, Watched>>>;

/// Serves a directory: see `lwm2m coap serve --help`.
struct FileServer {
    root: PathBuf,
    watched: WatchMap,
}

/// Largest file served or stored (files above it get 4.13).
const MAX_FILE: u64 = 64 << 20;

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    m.is_file().then(|| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
}

fn text_response(code: Code, text: &str) -> Response {
    Response::with_payload(code, ContentFormat::TEXT, Bytes::from(text.to_string()))
}

fn format_for(path: &Path) -> ContentFormat {
    match path.extension().and_then(|e| e.to_str()) {
        Some("txt" | "text") => ContentFormat::TEXT,
        Some("json") => ContentFormat(50),
        Some("cbor") => ContentFormat::CBOR,
        Some("wlnk" | "lnk") => ContentFormat::LINK_FORMAT,
        _ => ContentFormat::OPAQUE,
    }
}

impl FileServer {
    /// The file for a Uri-Path, refusing anything that could leave the root.
    fn resolve(&self, request: &Request) -> Result<PathBuf, (Code, &'static str)> {
        let mut path = self.root.clone();
        let mut any = false;
        for seg in request.options.get_all(OptionNumber::URI_PATH) {
            let seg = std::str::from_utf8(seg).map_err(|_| (Code::BAD_REQUEST, "path is not UTF-8"))?;
            if seg.is_empty() || seg == "." || seg == ".." || seg.contains(['/', '\\', '\0']) {
                return Err((Code::FORBIDDEN, "path traversal refused"));
            }
            path.push(seg);
            any = true;
        }
        if !any {
            return Err((Code::NOT_FOUND, "no file named (try /.well-known/core)"));
        }
        // Symlinks must not lead out of the root either.
        if let Ok(real) = path.canonicalize()
            && !real.starts_with(&self.root)
        {
            return Err((Code::FORBIDDEN, "path leaves the served directory"));
        }
        Ok(path)
    }

    fn link_format(&self) -> Response {
        let mut links = Vec::new();
        let mut stack = vec![(self.root.clone(), String::new())];
        while let Some((dir, prefix)) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Ok(ft) = entry.file_type() else { continue };
                let uri = format!("{prefix}/{name}");
                if ft.is_dir() && links.len() < 10_000 {
                    stack.push((entry.path(), uri));
                } else if ft.is_file() {
                    links.push(format!("<{uri}>;ct={};obs", format_for(&entry.path()).number()));
                }
            }
        }
        links.sort();
        Response::with_payload(Code::CONTENT, ContentFormat::LINK_FORMAT, Bytes::from(links.join(",")))
    }

    /// The file a request is about, or the answer to give at once (discovery, a refused path).
    /// Shared by the UDP, DTLS, TCP and TLS servers.
    pub(crate) fn route(&self, request: &Request) -> Result<PathBuf, Box<Response>> {
        let segs: Vec<&[u8]> = request.options.get_all(OptionNumber::URI_PATH).collect();
        if segs == [&b".well-known"[..], &b"core"[..]] {
            return Err(Box::new(if request.method == Code::GET {
                self.link_format()
            } else {
                Response::new(Code::METHOD_NOT_ALLOWED)
            }));
        }
        self.resolve(request).map_err(|(code, why)| Box::new(text_response(code, why)))
    }
}

/// Carries out GET, PUT/POST or DELETE on the file at `path`; `on_read` runs after a
/// successful GET (the caller registers an observation there).
pub(crate) async fn answer_file(method: Code, path: &Path, payload: &[u8], on_read: impl FnOnce()) -> Response {
    match method {
        Code::GET => match tokio::fs::metadata(path).await {
            Ok(m) if m.is_file() && m.len() > MAX_FILE => Response::new(Code::REQUEST_ENTITY_TOO_LARGE),
            Ok(m) if m.is_file() => match tokio::fs::read(path).await {
                Ok(body) => {
                    on_read();
                    Response::with_payload(Code::CONTENT, format_for(path), Bytes::from(body))
                }
                Err(e) => text_response(Code::INTERNAL_SERVER_ERROR, &e.to_string()),
            },
            _ => Response::new(Code::NOT_FOUND),
        },
        Code::PUT | Code::POST => {
            let existed = tokio::fs::metadata(path).await.is_ok();
            let write = async {
                if let Some(parent) = path.parent() {
                    tokio::fs::create_dir_all(parent).await?;
                }
                tokio::fs::write(path, payload).await
            };
            match write.await {
                Ok(()) if existed => Response::new(Code::CHANGED),
                Ok(()) => Response::new(Code::CREATED),
                Err(e) => text_response(Code::INTERNAL_SERVER_ERROR, &e.to_string()),
            }
        }
        Code::DELETE => match tokio::fs::remove_file(path).await {
            Ok(()) => Response::new(Code::DELETED),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Response::new(Code::NOT_FOUND),
            Err(e) => text_response(Code::INTERNAL_SERVER_ERROR, &e.to_string()),
        },
        _ => Response::new(Code::METHOD_NOT_ALLOWED),
    }
}

/// For an observed file whose stamp (modification time, size) is no longer `last`: the new
/// stamp and the notification (the content, or 4.04 when the file is gone). `None` if unchanged.
pub(crate) async fn changed_file(
    path: &Path,
    last: Option<(SystemTime, u64)>,
) -> Option<(Option<(SystemTime, u64)>, Response)> {
    let now = stamp(path);
    if now == last {
        return None;
    }
    let response = match tokio::fs::read(path).await {
        Ok(body) if now.is_some() => Response::with_payload(Code::CONTENT, format_for(path), Bytes::from(body)),
        _ => Response::new(Code::NOT_FOUND),
    };
    Some((now, response))
}

impl Handler<SocketAddr> for FileServer {
    fn handle(&mut self, incoming: IncomingRequest<SocketAddr>, responder: Responder<SocketAddr>) {
        let request = incoming.request;
        let path = match self.route(&request) {
            Ok(p) => p,
            Err(response) => {
                responder.respond(*response);
                return;
            }
        };
        let watched = self.watched.clone();
        let observe = incoming.observe;
        tokio::spawn(async move {
            let register = || {
                if let ObserveRequest::Register(id) = observe
                    && let Ok(mut map) = watched.lock()
                {
                    map.insert(id, Watched { path: path.clone(), stamp: stamp(&path) });
                }
            };
            responder.respond(answer_file(request.method, &path, &request.payload, register).await);
        });
    }

    fn observer_removed(&mut self, observation: ObservationId) {
        if let Ok(mut map) = self.watched.lock() {
            map.remove(&observation);
        }
    }
}

/// Notifies observers of files whose modification time or size changed.
async fn watch(handle: Handle<SocketAddr>, watched: WatchMap, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let snapshot: Vec<(ObservationId, Watched)> = match watched.lock() {
            Ok(map) => map.iter().map(|(k, v)| (*k, v.clone())).collect(),
            Err(_) => return,
        };
        for (id, w) in snapshot {
            let Some((now, response)) = changed_file(&w.path, w.stamp).await else { continue };
            let gone = !response.code.is_success();
            if let Ok(mut map) = watched.lock() {
                if gone {
                    map.remove(&id);
                } else if let Some(entry) = map.get_mut(&id) {
                    entry.stamp = now;
                }
            }
            if handle.notify(id, response, false).is_err() {
                return;
            }
        }
    }
}

async fn serve(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    if args.stream.tcp || args.stream.tls {
        return tcp::serve(args).await;
    }
    let root = args.root.canonicalize().with_context(|| format!("--root {}", args.root.display()))?;
    if !root.is_dir() {
        bail!("--root {} is not a directory", root.display());
    }
    let watched: WatchMap = Arc::default();
    let server = FileServer { root, watched: watched.clone() };
    let config = Config { seed: seed_from_os(), ..Config::default() };
    let mut failures = None;
    let handle = if args.dtls.dtls {
        let socket = dtls::bind(args.bind, &args.dtls, &args.stream_certs).await?;
        println!("listening on coaps://{}", socket.local_addr()?);
        failures = Some(tokio::spawn(dtls::report_failures(socket.clone())));
        driver::spawn(socket, config, server)
    } else {
        if args.dtls.psk.any() {
            bail!("--psk-identity/--psk-key need --dtls");
        }
        if args.dtls.rpk.any() {
            bail!("--rpk/--rpk-peer need --dtls");
        }
        let socket = tokio::net::UdpSocket::bind(args.bind).await.with_context(|| format!("binding {}", args.bind))?;
        println!("listening on coap://{}", socket.local_addr()?);
        driver::spawn(socket, config, server)
    };
    let _ = std::io::stdout().flush();
    let watcher = tokio::spawn(watch(handle.clone(), watched, Duration::from_millis(args.poll_ms.max(10))));
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    watcher.abort();
    if let Some(f) = failures {
        f.abort();
    }
    // Let answers still owed and unacknowledged confirmable messages finish.
    handle.shutdown_gracefully(Duration::from_secs(2)).await;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_uris() {
        let u = parse_uri("coap://[::1]:5700/a/b%20c?x=1&y").unwrap();
        assert_eq!(
            u,
            CoapUri {
                secure: false,
                host: "::1".into(),
                port: 5700,
                path: vec!["a".into(), "b c".into()],
                query: vec!["x=1".into(), "y".into()]
            }
        );
        let u = parse_uri("coap://example.com").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.path.len()), ("example.com", 5683, 0));
        let u = parse_uri("coaps://x/a").unwrap();
        assert_eq!((u.secure, u.port), (true, 5684));
        assert_eq!(parse_uri("coaps://[::1]:6000").unwrap().port, 6000);
        assert!(parse_uri("coap+udp://x/").is_err());
        assert!(parse_uri("http://x/").is_err());
        assert!(parse_uri("coap://x:99999/").is_err());
        assert!(parse_uri("coap://x/%zz").is_err());
    }

    #[test]
    fn json_escapes() {
        assert_eq!(json_string("a\"b\\\n\u{1}"), "\"a\\\"b\\\\\\n\\u0001\"");
        assert_eq!(crate::hex::parse("0a ff").unwrap(), vec![10, 255]);
        assert!(crate::hex::parse("abc").is_err());
    }
}
