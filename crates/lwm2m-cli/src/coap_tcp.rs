//! `lwm2m coap` over TCP and TLS (RFC 8323): `coap+tcp://` and `coaps+tcp://` URIs for the
//! client, `lwm2m coap serve --tcp` / `--tls --cert PEM --key PEM [--ca PEM]` for the file server.
//!
//! A child module of `coap`, so output format, `--json` and exit codes are the UDP client's:
//! 0 for 2.xx, 1 for 4.xx/5.xx, 2 for no response or a transport error (a refused connection, a
//! failed TLS handshake such as an untrusted certificate) with a one-line reason on stderr. `--non`
//! has no meaning over TCP (no message types) and is ignored.
//!
//! The server serves the same tree as the UDP `serve` (it reuses its path resolution and
//! `/.well-known/core` listing): GET (with Observe: files are polled for changes), PUT/POST
//! (create or replace) and DELETE. With `--tls`, a `--ca` makes it ask clients for certificates
//! verified against that CA; the client's certificate name is logged with each request.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::{Context, anyhow, bail};
use clap::Args;
use lwm2m_transport::tcp::driver::{self, ConnectionHandle, Handler, NotFound, Responder};
use lwm2m_transport::tcp::{ConnectionConfig, IncomingRequest, tls};
use lwm2m_transport::wire::BlockOption;
use lwm2m_transport::{Code, ObservationId, ObserveRequest, OptionNumber, Request};

use super::{FileServer, RequestArgs, ServeArgs, build_request, exit_for, fail};

/// Certificate options shared by the secure modes (`coaps+tcp://`, `serve --tls`).
#[derive(Debug, Args, Default)]
pub(crate) struct CertArgs {
    /// PEM file of CA certificates: the client verifies the server against it; a TLS server
    /// uses it to verify (optional) client certificates.
    #[arg(long, value_name = "PEM")]
    pub(crate) ca: Option<PathBuf>,
    /// PEM certificate chain to present (server certificate, or a client certificate).
    #[arg(long, value_name = "PEM", requires = "key")]
    pub(crate) cert: Option<PathBuf>,
    /// PEM private key of --cert.
    #[arg(long, value_name = "PEM", requires = "cert")]
    pub(crate) key: Option<PathBuf>,
}

/// Stream modes of `lwm2m coap serve`.
#[derive(Debug, Args, Default)]
pub(crate) struct StreamServeArgs {
    /// Serve CoAP over TCP (RFC 8323, `coap+tcp://`) instead of UDP.
    #[arg(long, conflicts_with = "tls")]
    pub(crate) tcp: bool,
    /// Serve CoAP over TLS (`coaps+tcp://`); needs --cert and --key.
    #[arg(long, requires = "cert")]
    pub(crate) tls: bool,
}

/// True for the URI schemes this module handles.
pub(crate) fn is_stream_uri(uri: &str) -> bool {
    uri.starts_with("coap+tcp://") || uri.starts_with("coaps+tcp://")
}

/// Splits a `coap+tcp://` / `coaps+tcp://` URI with the UDP parser (same host, path and query
/// rules); the default port is 5683 for TCP and 5684 for TLS (RFC 8323 §8).
fn parse_stream_uri(uri: &str) -> anyhow::Result<(bool, super::CoapUri)> {
    let (secure, rest) = if let Some(r) = uri.strip_prefix("coaps+tcp://") {
        (true, r)
    } else if let Some(r) = uri.strip_prefix("coap+tcp://") {
        (false, r)
    } else {
        bail!("{uri:?} is not a coap+tcp:// or coaps+tcp:// URI");
    };
    let mut parsed = super::parse_uri(&format!("coap://{rest}"))?;
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host_end = authority.rfind(']').map_or(0, |i| i + 1);
    let explicit_port = authority[host_end..].contains(':');
    if secure && !explicit_port {
        parsed.port = 5684;
    }
    Ok((secure, parsed))
}

/// `lwm2m coap <method> coap+tcp://...` / `coaps+tcp://...`.
pub(crate) async fn client(method: Code, args: &RequestArgs) -> anyhow::Result<ExitCode> {
    let (secure, uri) = match parse_stream_uri(&args.uri) {
        Ok(u) => u,
        Err(e) => return Ok(fail(e)),
    };
    let mut request = match build_request(method, args, &uri) {
        Ok(r) => r,
        Err(e) => return Ok(fail(e)),
    };
    let mut config = ConnectionConfig { seed: super::seed_from_os(), ..ConnectionConfig::default() };
    if let Some(size) = args.block_size {
        let szx = super::block_szx(size)?;
        config.block_szx = szx;
        let early = BlockOption { num: 0, more: false, szx };
        request.options.set_uint(OptionNumber::BLOCK2, early.encode());
    }
    let limit = args.timeout.map_or(Duration::from_secs(93), Duration::from_secs_f64);
    config.request_timeout = limit;
    let addr = match super::resolve(&uri).await {
        Ok(a) => a,
        Err(reason) => return Ok(fail(reason)),
    };
    let connecting = async {
        if secure {
            let tls = client_tls(&args.tls)?;
            tls::connect(addr, &uri.host, tls, config, NotFound).await.map_err(anyhow::Error::from)
        } else {
            driver::connect(addr, config, NotFound).await.with_context(|| format!("cannot connect to {addr}"))
        }
    };
    let handle = match tokio::time::timeout(limit, connecting).await {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => return Ok(fail(format!("{e:#}"))),
        Err(_) => return Ok(fail(format!("no connection within {} s", limit.as_secs_f64()))),
    };
    let code = if args.observe {
        observe(&handle, request, args).await
    } else {
        match handle.request(request).await {
            Ok(response) => {
                super::print_response(&response, args.json);
                exit_for(&response)
            }
            Err(e) => fail(e),
        }
    };
    handle.release();
    let _ = tokio::time::timeout(Duration::from_millis(500), handle.closed()).await;
    Ok(code)
}

fn client_tls(certs: &CertArgs) -> anyhow::Result<Arc<tls::rustls::ClientConfig>> {
    let ca = certs.ca.as_ref().ok_or_else(|| anyhow!("coaps+tcp:// needs --ca PEM to verify the server"))?;
    let roots = tls::load_roots(ca)?;
    let client_cert = match (&certs.cert, &certs.key) {
        (Some(c), Some(k)) => Some((tls::load_certificates(c)?, tls::load_private_key(k)?)),
        _ => None,
    };
    Ok(tls::client_config(roots, client_cert)?)
}

async fn observe(handle: &ConnectionHandle, request: Request, args: &RequestArgs) -> ExitCode {
    let mut obs = match handle.observe(request).await {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    super::print_response(&obs.response, args.json);
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
            Some(Some(n)) => {
                seen += 1;
                super::print_response(&n, args.json);
            }
        }
    }
    obs.cancel(true);
    code
}

// ------------------------------------------------------------------ file server

/// An observed file: where to notify, and the stamp last notified.
#[derive(Debug, Clone)]
struct Watched {
    path: PathBuf,
    stamp: Option<(SystemTime, u64)>,
    connection: ConnectionHandle,
}

/// Observations of all connections, keyed by connection serial and observation id (ids are per
/// connection).
type WatchMap = Arc<Mutex<HashMap<(u64, ObservationId), Watched>>>;

/// The UDP file server's tree logic, for one TCP/TLS connection.
struct StreamFileServer {
    files: Arc<FileServer>,
    watched: WatchMap,
    serial: u64,
}

impl Handler for StreamFileServer {
    fn handle(&mut self, incoming: IncomingRequest, responder: Responder) {
        if let Some(id) = &incoming.identity {
            tracing::info!(identity = ?id, path = %incoming.request.options.uri_path(), "request");
        }
        let request = incoming.request;
        let path = match self.files.route(&request) {
            Ok(p) => p,
            Err(response) => {
                responder.respond(*response);
                return;
            }
        };
        let watched = self.watched.clone();
        let serial = self.serial;
        let observe = incoming.observe;
        tokio::spawn(async move {
            let register = || {
                if let ObserveRequest::Register(id) = observe
                    && let Ok(mut map) = watched.lock()
                {
                    let connection = responder.connection();
                    map.insert((serial, id), Watched { path: path.clone(), stamp: super::stamp(&path), connection });
                }
            };
            let response = super::answer_file(request.method, &path, &request.payload, register).await;
            responder.respond(response);
        });
    }

    fn observer_removed(&mut self, observation: ObservationId) {
        if let Ok(mut map) = self.watched.lock() {
            map.remove(&(self.serial, observation));
        }
    }
}

/// Notifies observers of files whose modification time or size changed.
async fn watch(watched: WatchMap, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let snapshot: Vec<((u64, ObservationId), Watched)> = match watched.lock() {
            Ok(map) => map.iter().map(|(k, v)| (*k, v.clone())).collect(),
            Err(_) => return,
        };
        for (key, w) in snapshot {
            let Some((now, response)) = super::changed_file(&w.path, w.stamp).await else { continue };
            let gone = !response.code.is_success() || w.connection.notify(key.1, response).is_err();
            if let Ok(mut map) = watched.lock() {
                if gone {
                    map.remove(&key);
                } else if let Some(entry) = map.get_mut(&key) {
                    entry.stamp = now;
                }
            }
        }
    }
}

/// `lwm2m coap serve --tcp` / `--tls`.
pub(crate) async fn serve(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let root = args.root.canonicalize().with_context(|| format!("--root {}", args.root.display()))?;
    if !root.is_dir() {
        bail!("--root {} is not a directory", root.display());
    }
    let tls_config = if args.stream.tls {
        let certs = &args.stream_certs;
        let (Some(cert), Some(key)) = (&certs.cert, &certs.key) else { bail!("--tls needs --cert PEM and --key PEM") };
        let client_ca = certs.ca.as_deref().map(tls::load_roots).transpose()?;
        Some(tls::server_config(tls::load_certificates(cert)?, tls::load_private_key(key)?, client_ca)?)
    } else {
        None
    };
    let listener =
        tokio::net::TcpListener::bind(args.bind).await.with_context(|| format!("binding TCP {}", args.bind))?;
    let local: SocketAddr = listener.local_addr()?;
    let scheme = if tls_config.is_some() { "coaps+tcp" } else { "coap+tcp" };
    println!("listening on {scheme}://{local}");
    let _ = std::io::stdout().flush();
    let watched: WatchMap = Arc::default();
    let files = Arc::new(FileServer { root, watched: Arc::default() });
    let config = ConnectionConfig { seed: super::seed_from_os(), ..ConnectionConfig::default() };
    let watcher = tokio::spawn(watch(watched.clone(), Duration::from_millis(args.poll_ms.max(10))));
    let mut serial = 0u64;
    let make_handler = move |_peer: SocketAddr| {
        serial += 1;
        StreamFileServer { files: files.clone(), watched: watched.clone(), serial }
    };
    let server = async {
        match tls_config {
            Some(tls_config) => tls::serve(listener, tls_config, config, make_handler).await,
            None => driver::serve(listener, config, make_handler).await,
        }
    };
    tokio::select! {
        r = server => r.context("accepting connections")?,
        r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
    }
    watcher.abort();
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stream_uris_with_default_ports() {
        let (secure, u) = parse_stream_uri("coap+tcp://127.0.0.1/a?x").unwrap();
        assert!(!secure);
        assert_eq!(
            (u.host.as_str(), u.port, u.path.clone(), u.query.clone()),
            ("127.0.0.1", 5683, vec!["a".into()], vec!["x".into()])
        );
        let (secure, u) = parse_stream_uri("coaps+tcp://[::1]/a").unwrap();
        assert!(secure);
        assert_eq!(u.port, 5684);
        let (_, u) = parse_stream_uri("coaps+tcp://localhost:7000").unwrap();
        assert_eq!(u.port, 7000);
        assert!(parse_stream_uri("coap://x/").is_err());
        assert!(is_stream_uri("coaps+tcp://x") && !is_stream_uri("coaps://x"));
    }
}
