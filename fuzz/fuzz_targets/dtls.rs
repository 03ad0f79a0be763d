//! Fuzzes the DTLS 1.2 endpoints (record routing, the stateless cookie, the dimpl state machines)
//! with a real PSK client and server in memory: the input decides, step by step, whether the
//! client's or the server's pending datagrams are delivered (possibly with bytes flipped), or
//! raw bytes are injected into either side from the client's or a stranger's address.
#![no_main]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use lwm2m_transport::dtls::{ClientConfig, DtlsClient, DtlsServer, MemoryCredentialStore, PskCredential, ServerConfig};

fn flip(datagram: &mut [u8], at: u8, mask: u8) {
    if !datagram.is_empty() {
        let i = usize::from(at) % datagram.len();
        datagram[i] ^= mask;
    }
}

fuzz_target!(|data: &[u8]| {
    let credential = PskCredential::new(b"fuzz", b"0123456789abcdef").unwrap();
    let store = MemoryCredentialStore::new();
    store.insert_psk(&credential, None);
    let mut server = DtlsServer::new(ServerConfig::psk(Arc::new(store))).unwrap();
    let start = Instant::now();
    let mut now = start;
    let mut client = DtlsClient::new(ClientConfig::psk(credential), now).unwrap();
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
