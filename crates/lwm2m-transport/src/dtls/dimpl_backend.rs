//! The [`DtlsBackend`] over the `dimpl` crate (pure Rust, sans-IO, RustCrypto provider).
//!
//! What `dimpl` 0.9 (with our patches in `vendor/dimpl/PATCHES.md`) gives: DTLS 1.2 with
//! TLS_PSK_WITH_AES_128_CCM_8, _AES_128_GCM_SHA256 and _AES_128_CBC_SHA256, and ECDHE_ECDSA with
//! AES-128-CCM-8, AES-128/256-GCM, ChaCha20-Poly1305 and AES-128-CBC-SHA256 (the CBC suites only
//! with Encrypt-then-MAC, RFC 7366); extended master secret; flight retransmission; a server that
//! starts after our stateless HelloVerifyRequest; RFC 7250 raw public keys with the ECDHE_ECDSA
//! suites; session resumption (RFC 5246 §7.3) with a bounded server cache ([`ResumptionCache`]);
//! certificate chains both ways. What it lacks (see `docs/dtls-evaluation.md`): Connection ID,
//! session tickets.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dimpl::crypto::Dtls12CipherSuite;
use dimpl::{Config, Dtls, DtlsCertificate, DtlsRawPublicKey, Output, PskResolver, ResumableSession, SessionCache};

use super::backend::{BackendOutput, BackendSession, DtlsBackend, ServerSessionKind};
use super::config::{CipherSuite, ClientConfig, ClientCredentials, HandshakeTiming, ServerConfig};
use super::error::{AlertDescription, CertificateError, DtlsError};
use super::identity::CredentialStore;

const NAME: &str = "dimpl";

thread_local! {
    /// The PSK lookup the server resolver made during the current `handle_packet` call.
    static PSK_LOOKUP: RefCell<Option<(Vec<u8>, bool)>> = const { RefCell::new(None) };
}

struct StoreResolver(AssertUnwindSafe<Arc<dyn CredentialStore>>);

impl PskResolver for StoreResolver {
    fn resolve(&self, identity: &[u8]) -> Option<Vec<u8>> {
        let key = if identity.len() <= super::MAX_PSK_IDENTITY_LEN { self.0.psk_key(identity) } else { None };
        let key = key.filter(|k| !k.is_empty() && k.len() <= super::MAX_PSK_KEY_LEN);
        PSK_LOOKUP.with(|cell| *cell.borrow_mut() = Some((identity.to_vec(), key.is_some())));
        key
    }
}

/// The server's bounded store of resumable sessions, shared by all sessions of one endpoint:
/// at most `max_entries` (the oldest is forgotten first), each for `lifetime` after its full
/// handshake. Resuming a PSK session asks the [`CredentialStore`] for the identity's key again
/// (a removed identity cannot resume); certificate and raw public key sessions present the
/// client's certificate or key to the endpoint's checks again.
///
/// A session is stored only if the endpoint's admission check accepts its peer (dimpl offers a
/// session when its Finished verifies, before the endpoint has judged the certificate) and its
/// certificate, chain or key take at most [`MAX_CACHED_PEER_BYTES`].
pub struct ResumptionCache {
    max_entries: usize,
    lifetime: Duration,
    inner: Mutex<CacheInner>,
    /// dimpl wants an unwind-safe cache; the check only reads the endpoint's configuration and
    /// credential store, as `StoreResolver` does.
    admit: Option<AssertUnwindSafe<Admission>>,
}

/// Whether a completed session's peer may be cached (the endpoint's certificate / raw public key
/// checks), at the instance's `now`.
type Admission = Arc<dyn Fn(&ResumableSession, Instant) -> bool + Send + Sync>;

/// Most bytes of peer certificate, chain or raw public key a cached session may hold.
pub const MAX_CACHED_PEER_BYTES: usize = 16 * 1024;

#[derive(Default)]
struct CacheInner {
    entries: HashMap<Vec<u8>, (Instant, ResumableSession)>,
    /// Insertion order (id, stored at); stale pairs are skipped.
    order: VecDeque<(Vec<u8>, Instant)>,
}

impl std::fmt::Debug for ResumptionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResumptionCache")
            .field("max_entries", &self.max_entries)
            .field("lifetime", &self.lifetime)
            .field("len", &self.len())
            .finish()
    }
}

impl ResumptionCache {
    /// An empty cache.
    pub fn new(max_entries: usize, lifetime: Duration) -> Self {
        Self { max_entries, lifetime, inner: Mutex::new(CacheInner::default()), admit: None }
    }

    /// Stores only sessions whose peer `admit` accepts.
    pub(crate) fn with_admission(mut self, admit: Admission) -> Self {
        self.admit = Some(AssertUnwindSafe(admit));
        self
    }

    /// Sessions stored now (some may have expired and not been dropped yet).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether no session is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl CacheInner {
    fn pop_oldest(&mut self) {
        while let Some((id, stored)) = self.order.pop_front() {
            if self.entries.get(&id).is_some_and(|(at, _)| *at == stored) {
                self.entries.remove(&id);
                return;
            }
        }
    }
}

impl SessionCache for ResumptionCache {
    fn store(&self, session_id: &[u8], session: ResumableSession, now: Instant) {
        if self.max_entries == 0 || session_id.is_empty() || session_id.len() > 32 {
            return;
        }
        let peer_bytes =
            session.peer_identity.as_ref().map_or(0, Vec::len) + session.peer_chain.iter().map(Vec::len).sum::<usize>();
        if peer_bytes > MAX_CACHED_PEER_BYTES || self.admit.as_ref().is_some_and(|admit| !(admit.0)(&session, now)) {
            return;
        }
        let mut inner = self.lock();
        // Expired sessions go first, then the oldest until there is room.
        while let Some((id, stored)) = inner.order.front().cloned() {
            let live = inner.entries.get(&id).is_some_and(|(at, _)| *at == stored);
            if live && now < stored + self.lifetime {
                break;
            }
            inner.order.pop_front();
            if live {
                inner.entries.remove(&id);
            }
        }
        while inner.entries.len() >= self.max_entries && !inner.entries.contains_key(session_id) {
            inner.pop_oldest();
        }
        inner.entries.insert(session_id.to_vec(), (now, session));
        inner.order.push_back((session_id.to_vec(), now));
        if inner.order.len() > 2 * self.max_entries + 16 {
            let CacheInner { entries, order } = &mut *inner;
            order.retain(|(id, at)| entries.get(id).is_some_and(|(stored, _)| stored == at));
        }
    }

    fn lookup(&self, session_id: &[u8], now: Instant) -> Option<ResumableSession> {
        let mut inner = self.lock();
        let (stored, session) = inner.entries.get(session_id)?;
        if now >= *stored + self.lifetime {
            inner.entries.remove(session_id);
            return None;
        }
        Some(session.clone())
    }
}

/// What a [`DimplBackend`] client keeps to resume a session: the server's session id and the
/// session's secrets.
#[derive(Clone)]
pub struct DimplResumption {
    session_id: Vec<u8>,
    session: ResumableSession,
}

impl std::fmt::Debug for DimplResumption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DimplResumption").field("session", &self.session).finish_non_exhaustive()
    }
}

struct FixedKey(Vec<u8>);

impl PskResolver for FixedKey {
    fn resolve(&self, _identity: &[u8]) -> Option<Vec<u8>> {
        Some(self.0.clone())
    }
}

fn dimpl_suite(suite: CipherSuite) -> Dtls12CipherSuite {
    match suite {
        CipherSuite::PskAes128Ccm8 => Dtls12CipherSuite::PSK_AES128_CCM_8,
        CipherSuite::PskAes128GcmSha256 => Dtls12CipherSuite::PSK_AES128_GCM_SHA256,
        CipherSuite::PskAes128CbcSha256 => Dtls12CipherSuite::PSK_AES128_CBC_SHA256,
        CipherSuite::EcdheEcdsaAes128CbcSha256 => Dtls12CipherSuite::ECDHE_ECDSA_AES128_CBC_SHA256,
        CipherSuite::EcdheEcdsaAes128Ccm8 => Dtls12CipherSuite::ECDHE_ECDSA_AES128_CCM_8,
        CipherSuite::EcdheEcdsaAes128GcmSha256 => Dtls12CipherSuite::ECDHE_ECDSA_AES128_GCM_SHA256,
        CipherSuite::EcdheEcdsaAes256GcmSha384 => Dtls12CipherSuite::ECDHE_ECDSA_AES256_GCM_SHA384,
        CipherSuite::EcdheEcdsaChacha20Poly1305Sha256 => Dtls12CipherSuite::ECDHE_ECDSA_CHACHA20_POLY1305_SHA256,
    }
}

/// The configured suites usable with (`psk`) or without a pre-shared key, in dimpl's terms.
fn suites(configured: &[CipherSuite], psk: bool) -> Result<Vec<Dtls12CipherSuite>, DtlsError> {
    let usable: Vec<_> = configured.iter().filter(|s| s.is_psk() == psk).map(|s| dimpl_suite(*s)).collect();
    if usable.is_empty() {
        let mode = if psk { "PSK" } else { "certificate" };
        return Err(DtlsError::InvalidConfig(format!("no {mode} cipher suite configured (cipher_suites)")));
    }
    Ok(usable)
}

fn protocol(error: &dimpl::Error) -> DtlsError {
    match error {
        dimpl::Error::CertificateError(dimpl::CertificateError::RawPublicKeyNotNegotiated) => {
            DtlsError::Certificate(CertificateError::RawPublicKeyNotNegotiated)
        }
        dimpl::Error::SecurityError(dimpl::SecurityError::FatalAlert { description }) => {
            DtlsError::PeerAlert(AlertDescription(*description))
        }
        _ => DtlsError::Protocol { backend: NAME, reason: format!("{error:?}") },
    }
}

fn raw_public_key(key: &super::RawPublicKeyPair) -> DtlsRawPublicKey {
    DtlsRawPublicKey { public_key: key.public_key().der().to_vec(), private_key: key.private_key_der().to_vec() }
}

/// The `dimpl` backend.
#[derive(Debug, Clone, Copy, Default)]
pub struct DimplBackend;

/// Prepared server state of [`DimplBackend`].
pub struct DimplServerContext {
    /// PSK sessions (present when a PSK suite is configured).
    psk: Option<Arc<Config>>,
    /// Certificate sessions (present with a certificate and an ECDHE suite).
    certificate: Option<(Arc<Config>, DtlsCertificate)>,
    /// Raw public key sessions (present with a raw public key and an ECDHE suite).
    raw_public_key: Option<(Arc<Config>, DtlsRawPublicKey)>,
    /// Sessions kept for resumption (absent when `max_resumable_sessions` is 0).
    resumption: Option<Arc<ResumptionCache>>,
}

impl DimplServerContext {
    /// The session cache of this server, if resumption is enabled.
    pub fn resumption_cache(&self) -> Option<&ResumptionCache> {
        self.resumption.as_deref()
    }
}

impl std::fmt::Debug for DimplServerContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DimplServerContext")
            .field("psk", &self.psk.is_some())
            .field("certificate", &self.certificate.is_some())
            .field("raw_public_key", &self.raw_public_key.is_some())
            .finish()
    }
}

fn builder(timing: &HandshakeTiming, mtu: usize) -> dimpl::ConfigBuilder {
    Config::builder()
        .mtu(mtu)
        .flight_start_rto(timing.initial_retransmit)
        .flight_retries(timing.max_retransmissions)
        .handshake_timeout(timing.handshake_timeout)
        .with_crypto_provider(dimpl::crypto::rust_crypto::default_provider())
}

impl DtlsBackend for DimplBackend {
    type Session = DimplSession;
    type ServerContext = DimplServerContext;
    type ClientContext = DimplClientContext;
    type Resumption = DimplResumption;

    fn name(&self) -> &'static str {
        NAME
    }

    fn prepare_server(&self, config: &ServerConfig) -> Result<DimplServerContext, DtlsError> {
        if config.certificate.is_some() && config.client_trust.is_none() {
            return Err(DtlsError::InvalidConfig(
                "certificate mode needs trust anchors for client certificates (client_trust)".into(),
            ));
        }
        // One dimpl config per security mode: a dimpl server authenticates one way, so the
        // endpoint picks the mode from each ClientHello (`ServerSessionKind`).
        let psk_suites: Vec<_> = config.cipher_suites.iter().filter(|s| s.is_psk()).map(|s| dimpl_suite(*s)).collect();
        let ecdhe_suites: Vec<_> =
            config.cipher_suites.iter().filter(|s| !s.is_psk()).map(|s| dimpl_suite(*s)).collect();
        let limits = &config.limits;
        let admission_config = config.clone();
        let admit: Admission =
            Arc::new(move |session, now| super::server::admits_cached_peer(&admission_config, session, now));
        let resumption = (limits.max_resumable_sessions > 0).then(|| {
            Arc::new(
                ResumptionCache::new(limits.max_resumable_sessions, limits.resumption_lifetime).with_admission(admit),
            )
        });
        let build = |b: dimpl::ConfigBuilder| {
            // One cache for all modes: an entry records its mode and suite, and dimpl resumes
            // it only in a session of the same kind.
            let b = match &resumption {
                Some(cache) => b.with_session_cache(cache.clone()),
                None => b,
            };
            // Our endpoint answers cookie-less ClientHellos statelessly (dtls::cookie).
            b.use_server_cookie(false).build().map(Arc::new).map_err(|e| DtlsError::InvalidConfig(format!("{e:?}")))
        };
        let psk = if psk_suites.is_empty() {
            None
        } else {
            let resolver = Arc::new(StoreResolver(AssertUnwindSafe(config.credentials.clone())));
            Some(build(
                builder(&config.timing, config.mtu).dtls12_cipher_suites(&psk_suites).with_psk_server(None, resolver),
            )?)
        };
        let ecdhe = || {
            build(
                builder(&config.timing, config.mtu)
                    .dtls12_cipher_suites(&ecdhe_suites)
                    .require_client_certificate(true),
            )
        };
        if let Some(certificate) = &config.certificate {
            certificate.check_chain()?;
        }
        let certificate = match (&config.certificate, ecdhe_suites.is_empty()) {
            (Some(c), false) => Some((
                ecdhe()?,
                DtlsCertificate {
                    certificate: c.certificate_der().to_vec(),
                    private_key: c.private_key_der().to_vec(),
                    chain: c.chain_der().to_vec(),
                },
            )),
            _ => None,
        };
        let raw_public_key = match (&config.raw_public_key, ecdhe_suites.is_empty()) {
            (Some(key), false) => Some((ecdhe()?, raw_public_key(key))),
            _ => None,
        };
        if psk.is_none() && certificate.is_none() && raw_public_key.is_none() {
            return Err(DtlsError::InvalidConfig(
                "no usable cipher suite configured (cipher_suites; ECDHE_ECDSA suites need a certificate or a raw public key)"
                    .into(),
            ));
        }
        Ok(DimplServerContext { psk, certificate, raw_public_key, resumption })
    }

    fn new_server_session(
        &self,
        context: &DimplServerContext,
        now: Instant,
        next_record_sequence: u64,
        kind: ServerSessionKind,
    ) -> Result<DimplSession, DtlsError> {
        let (psk, cert, rpk) = (&context.psk, &context.certificate, &context.raw_public_key);
        // The endpoint asks only for kinds the config has; fall back in a fixed order otherwise.
        let mut dtls = match (kind, psk, cert, rpk) {
            (ServerSessionKind::Psk, Some(config), _, _) => Dtls::new_12_psk(config.clone(), now),
            (ServerSessionKind::RawPublicKey, _, _, Some((config, key))) | (_, None, None, Some((config, key))) => {
                Dtls::new_12_raw_public_key(config.clone(), key.clone(), now).map_err(|e| protocol(&e))?
            }
            (_, _, Some((config, cert)), _) => Dtls::new_12(config.clone(), cert.clone(), now),
            (_, Some(config), None, _) => Dtls::new_12_psk(config.clone(), now),
            (_, None, None, None) => {
                return Err(DtlsError::InvalidConfig("the server has no credentials".into()));
            }
        };
        dtls.set_active(false);
        if !dtls.continue_after_stateless_hello_verify(next_record_sequence) {
            return Err(DtlsError::Protocol {
                backend: NAME,
                reason: "the server session cannot start after a stateless HelloVerifyRequest".into(),
            });
        }
        DimplSession::start(dtls, now, true)
    }

    fn prepare_client(&self, config: &ClientConfig) -> Result<DimplClientContext, DtlsError> {
        match &config.credentials {
            ClientCredentials::Psk(psk) => {
                let built = builder(&config.timing, config.mtu)
                    .with_psk_client(psk.identity().to_vec(), Arc::new(FixedKey(psk.key().to_vec())))
                    .dtls12_cipher_suites(&suites(&config.cipher_suites, true)?)
                    .build()
                    .map_err(|e| DtlsError::InvalidConfig(format!("{e:?}")))?;
                Ok(DimplClientContext { config: Arc::new(built), certificate: None, raw_public_key: None })
            }
            ClientCredentials::RawPublicKey { key, .. } => {
                let built = builder(&config.timing, config.mtu)
                    .dtls12_cipher_suites(&suites(&config.cipher_suites, false)?)
                    .build()
                    .map_err(|e| DtlsError::InvalidConfig(format!("{e:?}")))?;
                Ok(DimplClientContext {
                    config: Arc::new(built),
                    certificate: None,
                    raw_public_key: Some(raw_public_key(key)),
                })
            }
            ClientCredentials::Certificate { certificate, .. } => {
                certificate.check_chain()?;
                let built = builder(&config.timing, config.mtu)
                    .dtls12_cipher_suites(&suites(&config.cipher_suites, false)?)
                    .build()
                    .map_err(|e| DtlsError::InvalidConfig(format!("{e:?}")))?;
                let cert = DtlsCertificate {
                    certificate: certificate.certificate_der().to_vec(),
                    private_key: certificate.private_key_der().to_vec(),
                    chain: certificate.chain_der().to_vec(),
                };
                Ok(DimplClientContext { config: Arc::new(built), certificate: Some(cert), raw_public_key: None })
            }
        }
    }

    fn new_client_session(
        &self,
        context: &DimplClientContext,
        now: Instant,
        resume: Option<&DimplResumption>,
    ) -> Result<DimplSession, DtlsError> {
        let mut dtls = match (&context.certificate, &context.raw_public_key) {
            (_, Some(key)) => {
                Dtls::new_12_raw_public_key(context.config.clone(), key.clone(), now).map_err(|e| protocol(&e))?
            }
            (Some(cert), None) => Dtls::new_12(context.config.clone(), cert.clone(), now),
            (None, None) => Dtls::new_12_psk(context.config.clone(), now),
        };
        if let Some(resume) = resume {
            dtls.set_active(true);
            // Refused only for an id or secret of the wrong size; then it is a full handshake.
            let _ = dtls.offer_session(&resume.session_id, resume.session.clone());
        }
        DimplSession::start(dtls, now, false)
    }

    fn resumption(&self, session: &DimplSession) -> Option<DimplResumption> {
        let (session_id, session) = session.dtls.resumable_session()?;
        Some(DimplResumption { session_id, session })
    }
}

/// Prepared client state of [`DimplBackend`].
pub struct DimplClientContext {
    config: Arc<Config>,
    certificate: Option<DtlsCertificate>,
    raw_public_key: Option<DtlsRawPublicKey>,
}

impl std::fmt::Debug for DimplClientContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DimplClientContext")
            .field("certificate", &self.certificate.is_some())
            .field("raw_public_key", &self.raw_public_key.is_some())
            .finish()
    }
}

/// A [`BackendSession`] over one `dimpl::Dtls`.
pub struct DimplSession {
    dtls: Dtls,
    buffer: Vec<u8>,
    outputs: VecDeque<BackendOutput>,
    timeout: Option<Instant>,
    psk_lookup: Option<(Vec<u8>, bool)>,
    server: bool,
}

impl std::fmt::Debug for DimplSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DimplSession").field("dtls", &self.dtls).field("timeout", &self.timeout).finish()
    }
}

impl DimplSession {
    fn start(mut dtls: Dtls, now: Instant, server: bool) -> Result<Self, DtlsError> {
        dtls.set_active(!server);
        let mut session =
            Self { dtls, buffer: vec![0; 2048], outputs: VecDeque::new(), timeout: None, psk_lookup: None, server };
        // dimpl needs a first timeout call to seed its clock (and, on a client, to emit the ClientHello).
        session.dtls.handle_timeout(now).map_err(|e| protocol(&e))?;
        session.drain();
        Ok(session)
    }

    fn drain(&mut self) {
        loop {
            match self.dtls.poll_output(&mut self.buffer) {
                Output::Packet(p) => self.outputs.push_back(BackendOutput::Transmit(p.to_vec())),
                Output::BufferTooSmall { needed } => self.buffer.resize(needed, 0),
                Output::Timeout(t) => {
                    self.timeout = Some(t);
                    break;
                }
                Output::Connected => self.outputs.push_back(BackendOutput::Connected),
                Output::PeerCert(der) => {
                    let leaf = der.to_vec();
                    let intermediates = self.dtls.peer_certificate_chain();
                    self.outputs.push_back(BackendOutput::PeerCertificate { leaf, intermediates });
                }
                Output::PeerRawPublicKey(der) => self.outputs.push_back(BackendOutput::PeerRawPublicKey(der.to_vec())),
                Output::ApplicationData(d) => self.outputs.push_back(BackendOutput::ApplicationData(d.to_vec())),
                Output::CloseNotify => self.outputs.push_back(BackendOutput::CloseNotify),
                _ => {}
            }
        }
    }
}

impl DimplSession {
    /// Names a server-side failure after the PSK lookup when that explains it: an unknown
    /// identity (dimpl then continues with a random key so timing does not leak it, and fails
    /// at the client's Finished), or a known identity whose Finished does not decrypt (wrong key).
    fn classify(&self, error: &dimpl::Error) -> DtlsError {
        match (&self.psk_lookup, error) {
            (Some((identity, false)), _) => {
                DtlsError::UnknownPskIdentity { identity: String::from_utf8_lossy(identity).into_owned() }
            }
            (Some((identity, true)), dimpl::Error::CryptoError(_) | dimpl::Error::SecurityError(_)) => {
                DtlsError::BadPsk { identity: String::from_utf8_lossy(identity).into_owned() }
            }
            _ => protocol(error),
        }
    }
}

impl BackendSession for DimplSession {
    fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) -> Result<(), DtlsError> {
        self.dtls.handle_timeout(now).map_err(|e| protocol(&e))?;
        if self.server {
            PSK_LOOKUP.with(|cell| cell.borrow_mut().take());
        }
        let result = self.dtls.handle_packet(datagram);
        if self.server
            && let Some(lookup) = PSK_LOOKUP.with(|cell| cell.borrow_mut().take())
        {
            self.psk_lookup = Some(lookup);
        }
        self.drain();
        result.map_err(|e| self.classify(&e))
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), DtlsError> {
        let result = self.dtls.handle_timeout(now);
        self.drain();
        result.map_err(|e| match e {
            dimpl::Error::Timeout(_) => DtlsError::HandshakeTimeout(Default::default()),
            other => protocol(&other),
        })
    }

    fn poll_output(&mut self) -> Option<BackendOutput> {
        self.outputs.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.timeout
    }

    fn send(&mut self, data: &[u8]) -> Result<(), DtlsError> {
        let result = self.dtls.send_application_data(data);
        self.drain();
        result.map(|_| ()).map_err(|e| protocol(&e))
    }

    fn close(&mut self) {
        let _ = self.dtls.close();
        self.drain();
    }

    fn psk_lookup(&self) -> Option<(&[u8], bool)> {
        self.psk_lookup.as_ref().map(|(id, known)| (id.as_slice(), *known))
    }

    fn is_resumed(&self) -> bool {
        self.dtls.is_resumed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(byte: u8) -> ResumableSession {
        ResumableSession {
            cipher_suite: Dtls12CipherSuite::PSK_AES128_CCM_8,
            master_secret: vec![byte; 48],
            extended_master_secret: true,
            psk_identity: Some(vec![byte]),
            peer_identity: None,
            peer_chain: Vec::new(),
            raw_public_key: false,
        }
    }

    #[test]
    fn resumption_cache_keeps_the_newest_entries_up_to_its_limit() {
        let cache = ResumptionCache::new(2, Duration::from_secs(60));
        let now = Instant::now();
        for id in 1..=3u8 {
            cache.store(&[id; 32], session(id), now + Duration::from_secs(u64::from(id)));
        }
        assert_eq!(cache.len(), 2);
        let later = now + Duration::from_secs(5);
        assert_eq!(cache.lookup(&[1; 32], later), None, "the oldest is forgotten");
        assert_eq!(cache.lookup(&[2; 32], later), Some(session(2)));
        assert_eq!(cache.lookup(&[3; 32], later), Some(session(3)));
        // Storing the same id again replaces it without evicting another.
        cache.store(&[3; 32], session(9), later);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.lookup(&[3; 32], later), Some(session(9)));
        // Ids of a wrong size are not stored; many stores keep the order queue bounded.
        cache.store(&[], session(4), later);
        cache.store(&[7; 33], session(4), later);
        assert_eq!(cache.len(), 2);
        for i in 0..1000u32 {
            let mut id = [0u8; 32];
            id[..4].copy_from_slice(&i.to_be_bytes());
            cache.store(&id, session(1), later);
        }
        assert_eq!(cache.len(), 2);
        assert!(cache.lock().order.len() <= 2 * 2 + 16);
    }

    #[test]
    fn resumption_cache_stores_only_admitted_peers_of_bounded_size() {
        let now = Instant::now();
        // The endpoint's check refuses the peer (e.g. a certificate it rejected after dimpl
        // had already verified the Finished): nothing is cached.
        let refusing: Admission = Arc::new(|_, _| false);
        let cache = ResumptionCache::new(10, Duration::from_secs(60)).with_admission(refusing);
        let mut with_peer = session(1);
        with_peer.peer_identity = Some(vec![0x30; 500]);
        cache.store(&[1; 32], with_peer.clone(), now);
        assert!(cache.is_empty());

        // An admitted peer is cached unless its certificate and chain exceed the byte cap.
        let admitting: Admission = Arc::new(|s, _| s.peer_identity.is_some());
        let cache = ResumptionCache::new(10, Duration::from_secs(60)).with_admission(admitting);
        cache.store(&[2; 32], with_peer.clone(), now);
        assert_eq!(cache.lookup(&[2; 32], now), Some(with_peer.clone()));
        let mut padded = with_peer;
        padded.peer_chain = vec![vec![0x30; 4096]; 4];
        cache.store(&[3; 32], padded, now);
        assert_eq!(cache.lookup(&[3; 32], now), None, "over MAX_CACHED_PEER_BYTES");
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn resumption_cache_entries_expire() {
        let cache = ResumptionCache::new(10, Duration::from_secs(60));
        let now = Instant::now();
        cache.store(&[1; 32], session(1), now);
        assert!(cache.lookup(&[1; 32], now + Duration::from_secs(59)).is_some());
        assert_eq!(cache.lookup(&[1; 32], now + Duration::from_secs(60)), None);
        assert!(cache.is_empty(), "an expired entry found by lookup is dropped");
        // Expired entries are dropped when storing, too.
        cache.store(&[2; 32], session(2), now);
        cache.store(&[3; 32], session(3), now + Duration::from_secs(61));
        assert_eq!(cache.len(), 1);
        // Disabled cache.
        let off = ResumptionCache::new(0, Duration::from_secs(60));
        off.store(&[1; 32], session(1), now);
        assert!(off.is_empty());
    }
}
