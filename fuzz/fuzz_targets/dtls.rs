//! Fuzzes the DTLS 1.2 endpoints (record routing, the stateless cookie, the dimpl state machines)
//! with a real client and server in memory: the first byte picks PSK, certificate or raw public
//! key mode (the server has all three credentials) and whether the client offers only the CBC
//! suites (Encrypt-then-MAC records) or its default AEAD ones; then the input decides, step by step,
//! whether the client's or the server's pending datagrams are delivered (possibly with bytes
//! flipped), or raw bytes are injected into either side from the client's or a stranger's
//! address.
#![no_main]

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use lwm2m_transport::dtls::{
    CertifiedKey, CipherSuite, ClientConfig, ClientCredentials, DtlsClient, DtlsServer, MemoryCredentialStore,
    PskCredential,
    RawPublicKeyPair, ServerConfig, TrustAnchors,
};

/// A CA, server and client certificates, and server and client raw public keys.
struct Keys {
    ca: Vec<u8>,
    server_cert: CertifiedKey,
    client_cert: CertifiedKey,
    server_rpk: RawPublicKeyPair,
    client_rpk: RawPublicKeyPair,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap().der().to_vec();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let leaf = |name: &str| {
            let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
            let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
            params.distinguished_name.push(rcgen::DnType::CommonName, name);
            let cert = params.signed_by(&key, &issuer).unwrap();
            CertifiedKey::from_der(cert.der().to_vec(), key.serialize_der())
        };
        let rpk = || {
            let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
            RawPublicKeyPair::from_private_key_der(&key.serialize_der()).unwrap()
        };
        Keys { server_cert: leaf("server.example"), client_cert: leaf("client"), ca, server_rpk: rpk(), client_rpk: rpk() }
    })
}

fn flip(datagram: &mut [u8], at: u8, mask: u8) {
    if !datagram.is_empty() {
        let i = usize::from(at) % datagram.len();
        datagram[i] ^= mask;
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, data)) = data.split_first() else { return };
    let keys = keys();
    let credential = PskCredential::new(b"fuzz", b"0123456789abcdef").unwrap();
    let store = MemoryCredentialStore::new();
    store.insert_psk(&credential, None);
    store.insert_raw_public_key(keys.client_rpk.public_key(), Some("fuzz-rpk"));
    let mut config = ServerConfig::raw_public_key(Arc::new(store), keys.server_rpk.clone());
    config.certificate = Some(keys.server_cert.clone());
    config.client_trust = Some(TrustAnchors::from_der(vec![keys.ca.clone()]));
    let mut server = DtlsServer::new(config).unwrap();
    let credentials = match mode % 3 {
        0 => ClientCredentials::Psk(credential),
        1 => ClientCredentials::Certificate {
            certificate: keys.client_cert.clone(),
            server_trust: TrustAnchors::from_der(vec![keys.ca.clone()]),
            server_name: Some("server.example".into()),
        },
        _ => ClientCredentials::RawPublicKey {
            key: keys.client_rpk.clone(),
            server_key: keys.server_rpk.public_key().clone(),
        },
    };
    let start = Instant::now();
    let mut now = start;
    let mut client_config = ClientConfig::new(credentials);
    if (mode / 3) % 2 == 1 {
        client_config.cipher_suites = vec![CipherSuite::PskAes128CbcSha256, CipherSuite::EcdheEcdsaAes128CbcSha256];
    }
    let mut client = DtlsClient::new(client_config, now).unwrap();
    let _ = client.send(b"hello");
    let client_addr: SocketAddr = "192.0.2.1:5684".parse().unwrap();
    let stranger: SocketAddr = "192.0.2.2:5684".parse().unwrap();
    let mut rest = data;
    while let [op, a, b, tail @ ..] = rest {
        rest = tail;
        match op % 6 {
            0 => {
                while let Some(mut d) = client.poll_transmit() {
                    flip(&mut d, *a, *b);
                    server.handle_datagram(now, client_addr, &d);
                }
            }
            1 => {
                while let Some(mut t) = server.poll_transmit() {
                    flip(&mut t.payload, *a, *b);
                    client.handle_datagram(now, &t.payload);
                }
            }
            2 | 3 => {
                let len = usize::from(*a).min(rest.len());
                let (raw, tail) = rest.split_at(len);
                rest = tail;
                let from = if *b & 1 == 0 { client_addr } else { stranger };
                server.handle_datagram(now, from, raw);
                if op % 6 == 3 {
                    client.handle_datagram(now, raw);
                }
            }
            4 => {
                now += Duration::from_millis(u64::from(*a) * 40);
                server.handle_timeout(now);
                client.handle_timeout(now);
            }
            _ => {
                let _ = client.send(&[*a, *b]);
                if let Some(peer) = (*b & 1 == 0).then_some(client_addr) {
                    let _ = server.send(now, peer, &[*a]);
                }
            }
        }
        while server.poll_event().is_some() {}
        while client.poll_event().is_some() {}
    }
});
