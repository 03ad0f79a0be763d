//! Fuzzes the CoAP message parser (RFC 7252 §3): a datagram that validates must convert to the
//! owned form, emit, and parse back to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lwm2m_transport::{BlockOption, Message, MessageRepr, OptionNumber};

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = Message::new_checked(data) else { return };
    for (number, value) in msg.options() {
        if matches!(number, OptionNumber::BLOCK1 | OptionNumber::BLOCK2)
            && let Some(raw) = lwm2m_transport::wire::decode_uint(value)
        {
            let _ = BlockOption::decode(raw);
        }
    }
    let repr = MessageRepr::parse(&msg);
    let mut out = vec![0u8; repr.encoded_len()];
    let n = repr.emit(&mut out).expect("a validated message emits");
    assert_eq!(n, out.len());
    let again = MessageRepr::from_bytes(&out).expect("an emitted message validates");
    assert_eq!(repr, again);
});
