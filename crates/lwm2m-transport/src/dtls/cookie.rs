//! Stateless HelloVerifyRequest cookies (RFC 6347 §4.2.1).
//!
//! The server answers a ClientHello that has no valid cookie with a HelloVerifyRequest built
//! here and keeps nothing: the cookie is `HMAC-SHA256(secret, peer address, client random,
//! session id)`, so only a client that can receive datagrams at its source address can come back
//! with it, and a flood of spoofed ClientHellos costs CPU for one HMAC each and no memory.
//!
//! The secret rotates every [`SECRET_LIFETIME`]; cookies made with the current or the previous
//! secret are accepted, so a cookie stays valid for at least one lifetime.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::error::DtlsError;
use super::record::ClientHelloView;

/// How long one secret makes cookies before the next replaces it.
pub(crate) const SECRET_LIFETIME: Duration = Duration::from_secs(30);

/// Length of our cookies (DTLS 1.2 allows up to 255 bytes).
pub(crate) const COOKIE_LEN: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// One HMAC key, a full SHA-256 block long.
type Secret = [u8; 64];

/// The cookie secrets of one server endpoint.
pub(crate) struct CookieJar {
    current: Secret,
    previous: Secret,
    rotated_at: Option<Instant>,
}

impl std::fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CookieJar").field("rotated_at", &self.rotated_at).finish_non_exhaustive()
    }
}

fn random_secret() -> Result<Secret, DtlsError> {
    let mut secret = [0u8; 64];
    getrandom::fill(&mut secret)
        .map_err(|e| DtlsError::InvalidConfig(format!("no randomness for the cookie secret: {e}")))?;
    Ok(secret)
}

fn mac(secret: &Secret, peer: SocketAddr, hello: &ClientHelloView<'_>) -> HmacSha256 {
    let mut mac = <HmacSha256 as KeyInit>::new(&(*secret).into());
    let ip = match peer.ip() {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    };
    mac.update(&ip);
    mac.update(&peer.port().to_be_bytes());
    mac.update(&hello.random);
    mac.update(&[hello.session_id.len() as u8]);
    mac.update(hello.session_id);
    mac
}

impl CookieJar {
    /// A jar with fresh random secrets.
    pub(crate) fn new() -> Result<Self, DtlsError> {
        Ok(Self { current: random_secret()?, previous: random_secret()?, rotated_at: None })
    }

    /// Rotates the secret if the current one is older than [`SECRET_LIFETIME`].
    pub(crate) fn rotate(&mut self, now: Instant) {
        match self.rotated_at {
            None => self.rotated_at = Some(now),
            Some(at) if now.saturating_duration_since(at) >= SECRET_LIFETIME => {
                if let Ok(fresh) = random_secret() {
                    self.previous = std::mem::replace(&mut self.current, fresh);
                    self.rotated_at = Some(now);
                }
            }
            Some(_) => {}
        }
    }

    /// The cookie for this ClientHello from `peer`.
    pub(crate) fn cookie(&self, peer: SocketAddr, hello: &ClientHelloView<'_>) -> [u8; COOKIE_LEN] {
        mac(&self.current, peer, hello).finalize().into_bytes().into()
    }

    /// Whether the ClientHello carries a cookie this jar made for `peer` (constant-time compare).
    pub(crate) fn verify(&self, peer: SocketAddr, hello: &ClientHelloView<'_>) -> bool {
        hello.cookie.len() == COOKIE_LEN
            && (mac(&self.current, peer, hello).verify_slice(hello.cookie).is_ok()
                || mac(&self.previous, peer, hello).verify_slice(hello.cookie).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello<'a>(random: [u8; 32], cookie: &'a [u8]) -> ClientHelloView<'a> {
        ClientHelloView {
            record_sequence: 0,
            message_seq: 0,
            random,
            session_id: &[],
            cookie,
            cipher_suites: &[],
            extensions: &[],
        }
    }

    #[test]
    fn cookie_binds_address_random_and_secret_generation() {
        let mut jar = CookieJar::new().unwrap();
        let t0 = Instant::now();
        jar.rotate(t0);
        let peer: SocketAddr = "192.0.2.1:5684".parse().unwrap();
        let cookie = jar.cookie(peer, &hello([7; 32], &[]));
        assert!(jar.verify(peer, &hello([7; 32], &cookie)));
        assert!(!jar.verify("192.0.2.1:5685".parse().unwrap(), &hello([7; 32], &cookie)), "other port");
        assert!(!jar.verify("192.0.2.2:5684".parse().unwrap(), &hello([7; 32], &cookie)), "other address");
        assert!(!jar.verify(peer, &hello([8; 32], &cookie)), "other client random");
        assert!(!jar.verify(peer, &hello([7; 32], &cookie[..31])), "truncated");
        assert!(!jar.verify(peer, &hello([7; 32], &[])), "no cookie");

        jar.rotate(t0 + SECRET_LIFETIME);
        assert!(jar.verify(peer, &hello([7; 32], &cookie)), "previous secret still accepted");
        jar.rotate(t0 + SECRET_LIFETIME * 2);
        assert!(!jar.verify(peer, &hello([7; 32], &cookie)), "two rotations later the cookie is stale");
    }
}
