//! Fuzzes the CoAP-over-TCP frame parser (RFC 8323 §3): every frame that parses must encode and
//! parse back to the same frame; a stream is parsed frame by frame until an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lwm2m_transport::tcp::Frame;

const MAX: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok((frame, used)) = Frame::parse(rest, MAX) {
        let bytes = frame.to_bytes().expect("a parsed frame encodes");
        assert_eq!(bytes.len(), frame.encoded_len());
        let (again, n) = Frame::parse(&bytes, MAX).expect("an encoded frame parses");
        assert_eq!(n, bytes.len());
        assert_eq!(again, frame);
        let Some(next) = rest.get(used..) else { break };
        if used == 0 {
            break;
        }
        rest = next;
    }
});
