//! Just enough of the DTLS 1.2 record layer (RFC 6347 §4.1) to route datagrams before the backend
//! sees them: record headers, "is this a ClientHello", plaintext alerts.
//!
//! Everything here is a bounds-checked view over untrusted bytes; nothing panics on any input.

/// Content type `alert`.
pub(crate) const CONTENT_ALERT: u8 = 21;
/// Content type `handshake`.
pub(crate) const CONTENT_HANDSHAKE: u8 = 22;
/// Handshake type `client_hello`.
const HANDSHAKE_CLIENT_HELLO: u8 = 1;
/// Handshake type `server_hello`.
const HANDSHAKE_SERVER_HELLO: u8 = 2;
/// Record header length: type(1) version(2) epoch(2) sequence(6) length(2).
pub(crate) const RECORD_HEADER_LEN: usize = 13;

/// One record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordHeader {
    pub(crate) content_type: u8,
    pub(crate) version: u16,
    pub(crate) epoch: u16,
    pub(crate) sequence: u64,
}

/// Iterates the records of a datagram; stops at the first truncated record.
pub(crate) fn records(datagram: &[u8]) -> impl Iterator<Item = (RecordHeader, &[u8])> {
    let mut rest = datagram;
    std::iter::from_fn(move || {
        let header = rest.get(..RECORD_HEADER_LEN)?;
        let len = usize::from(u16::from_be_bytes([header[11], header[12]]));
        let body = rest.get(RECORD_HEADER_LEN..RECORD_HEADER_LEN + len)?;
        let mut seq = [0u8; 8];
        seq[2..].copy_from_slice(&header[5..11]);
        let record = RecordHeader {
            content_type: header[0],
            version: u16::from_be_bytes([header[1], header[2]]),
            epoch: u16::from_be_bytes([header[3], header[4]]),
            sequence: u64::from_be_bytes(seq),
        };
        rest = &rest[RECORD_HEADER_LEN + len..];
        Some((record, body))
    })
}

fn is_dtls_version(version: u16) -> bool {
    // DTLS 1.0 (0xfeff) is used in the record version of a first ClientHello; DTLS 1.2 is 0xfefd.
    version == 0xfeff || version == 0xfefd
}

/// Whether the datagram starts with a plaintext handshake record carrying (a fragment of) a ClientHello.
pub(crate) fn starts_with_client_hello(datagram: &[u8]) -> bool {
    records(datagram).next().is_some_and(|(h, body)| {
        h.content_type == CONTENT_HANDSHAKE
            && is_dtls_version(h.version)
            && h.epoch == 0
            && body.len() >= 12
            && body.first() == Some(&HANDSHAKE_CLIENT_HELLO)
    })
}

/// For a datagram starting with an unfragmented ClientHello: the length of its cookie.
///
/// ClientHello body (RFC 6347 §4.2.1): version(2) random(32) session_id<0..32> cookie<0..255> ...,
/// after the 12-byte DTLS handshake header.
pub(crate) fn client_hello_cookie_len(datagram: &[u8]) -> Option<usize> {
    let (_, body) = records(datagram).next()?;
    let fragment_offset = body.get(6..9)?;
    if fragment_offset != [0, 0, 0] {
        return None;
    }
    let session_id_len = usize::from(*body.get(12 + 34)?);
    body.get(12 + 35 + session_id_len).map(|len| usize::from(*len))
}

/// For a datagram starting with an unfragmented ClientHello: its client random.
pub(crate) fn client_hello_random(datagram: &[u8]) -> Option<[u8; 32]> {
    let (_, body) = records(datagram).next()?;
    if body.get(6..9)? != [0, 0, 0] {
        return None;
    }
    body.get(14..46)?.try_into().ok()
}

/// Whether the datagram contains a plaintext ServerHello (our server answered a cookie-bearing ClientHello).
pub(crate) fn contains_server_hello(datagram: &[u8]) -> bool {
    records(datagram).any(|(h, body)| {
        h.content_type == CONTENT_HANDSHAKE && h.epoch == 0 && body.first() == Some(&HANDSHAKE_SERVER_HELLO)
    })
}

/// Whether any record of the datagram is in an epoch above 0 (encrypted).
pub(crate) fn has_encrypted_record(datagram: &[u8]) -> bool {
    records(datagram).any(|(h, _)| h.epoch > 0)
}

/// A plaintext fatal alert in the datagram (only meaningful during a handshake).
pub(crate) fn plaintext_fatal_alert(datagram: &[u8]) -> Option<u8> {
    records(datagram).find_map(|(h, body)| match (h.content_type, h.epoch, body) {
        (CONTENT_ALERT, 0, [2, description]) => Some(*description),
        _ => None,
    })
}

/// The highest epoch-0 record sequence number in the datagram.
pub(crate) fn max_plaintext_sequence(datagram: &[u8]) -> Option<u64> {
    records(datagram).filter(|(h, _)| h.epoch == 0).map(|(h, _)| h.sequence).max()
}

/// Builds a plaintext (epoch 0) fatal alert record.
pub(crate) fn fatal_alert_record(sequence: u64, description: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(RECORD_HEADER_LEN + 2);
    out.push(CONTENT_ALERT);
    out.extend_from_slice(&0xfefd_u16.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&sequence.to_be_bytes()[2..]);
    out.extend_from_slice(&2u16.to_be_bytes());
    out.extend_from_slice(&[2, description]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_round_trip() {
        let record = fatal_alert_record(7, 51);
        assert_eq!(plaintext_fatal_alert(&record), Some(51));
        assert_eq!(max_plaintext_sequence(&record), Some(7));
        assert!(!starts_with_client_hello(&record));
    }

    #[test]
    fn truncated_and_garbage_input_never_panics() {
        let mut record = fatal_alert_record(1, 40);
        record.extend_from_slice(&[22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff]);
        for cut in 0..record.len() {
            let _ = records(&record[..cut]).count();
            let _ = starts_with_client_hello(&record[..cut]);
            let _ = plaintext_fatal_alert(&record[..cut]);
        }
        assert_eq!(records(&record).count(), 1, "the truncated second record is not yielded");
    }
}
