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
/// Handshake type `hello_verify_request`.
const HANDSHAKE_HELLO_VERIFY_REQUEST: u8 = 3;
/// Handshake header length: type(1) length(3) message_seq(2) fragment_offset(3) fragment_length(3).
const HANDSHAKE_HEADER_LEN: usize = 12;
/// DTLS 1.0, the version a HelloVerifyRequest carries whatever is negotiated (RFC 6347 §4.2.1).
const DTLS_1_0: u16 = 0xfeff;
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

/// The fields of an unfragmented ClientHello a stateless server needs (RFC 6347 §4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientHelloView<'a> {
    /// The record sequence number (a HelloVerifyRequest echoes it).
    pub(crate) record_sequence: u64,
    /// The handshake message_seq: 0 for a first ClientHello, 1 after a HelloVerifyRequest.
    pub(crate) message_seq: u16,
    /// The client random.
    pub(crate) random: [u8; 32],
    /// The session id (0 to 32 bytes).
    pub(crate) session_id: &'a [u8],
    /// The cookie (empty in a first ClientHello).
    pub(crate) cookie: &'a [u8],
    /// The offered cipher suites, two bytes each, in the client's order of preference.
    pub(crate) cipher_suites: &'a [u8],
    /// The extensions block (each: type(2) length(2) data), empty if there is none.
    pub(crate) extensions: &'a [u8],
}

/// Extension `server_certificate_type` (RFC 7250 §3).
const EXTENSION_SERVER_CERTIFICATE_TYPE: u16 = 20;

impl ClientHelloView<'_> {
    /// The offered cipher suites' IANA values, in the client's order of preference.
    pub(crate) fn offered_suites(&self) -> impl Iterator<Item = u16> + '_ {
        self.cipher_suites.chunks_exact(2).map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
    }

    /// The certificate types the client accepts from the server (RFC 7250: 0 X.509, 2 raw
    /// public key), in its order of preference; `None` without the extension (X.509 only).
    pub(crate) fn server_certificate_types(&self) -> Option<&[u8]> {
        let mut rest = self.extensions;
        while let [t0, t1, l0, l1, tail @ ..] = rest {
            let len = usize::from(u16::from_be_bytes([*l0, *l1]));
            let data = tail.get(..len)?;
            if u16::from_be_bytes([*t0, *t1]) == EXTENSION_SERVER_CERTIFICATE_TYPE {
                let (count, types) = data.split_first()?;
                return types.get(..usize::from(*count));
            }
            rest = tail.get(len..)?;
        }
        None
    }
}

/// Parses the ClientHello that starts `datagram`, if it is a whole (unfragmented) one.
///
/// A fragmented first ClientHello is not parsed: like OpenSSL's stateless listener, the server
/// asks for the cookie only from ClientHellos that fit one record.
pub(crate) fn parse_client_hello(datagram: &[u8]) -> Option<ClientHelloView<'_>> {
    let (header, body) = records(datagram).next()?;
    if header.content_type != CONTENT_HANDSHAKE || header.epoch != 0 || !is_dtls_version(header.version) {
        return None;
    }
    let handshake = body.get(..HANDSHAKE_HEADER_LEN)?;
    let u24 = |b: &[u8]| (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2]);
    let length = u24(&handshake[1..4]);
    let fragment_offset = u24(&handshake[6..9]);
    let fragment_length = u24(&handshake[9..12]);
    if handshake[0] != HANDSHAKE_CLIENT_HELLO || fragment_offset != 0 || fragment_length != length {
        return None;
    }
    let hello = body.get(HANDSHAKE_HEADER_LEN..HANDSHAKE_HEADER_LEN + length)?;
    let random: [u8; 32] = hello.get(2..34)?.try_into().ok()?;
    let session_id_len = usize::from(*hello.get(34)?);
    if session_id_len > 32 {
        return None;
    }
    let session_id = hello.get(35..35 + session_id_len)?;
    let cookie_at = 35 + session_id_len;
    let cookie_len = usize::from(*hello.get(cookie_at)?);
    let cookie = hello.get(cookie_at + 1..cookie_at + 1 + cookie_len)?;
    let suites_at = cookie_at + 1 + cookie_len;
    let suites_len = usize::from(u16::from_be_bytes([*hello.get(suites_at)?, *hello.get(suites_at + 1)?]));
    if suites_len % 2 != 0 {
        return None;
    }
    let cipher_suites = hello.get(suites_at + 2..suites_at + 2 + suites_len)?;
    let compression_at = suites_at + 2 + suites_len;
    let compression_len = usize::from(*hello.get(compression_at)?);
    let extensions_at = compression_at + 1 + compression_len;
    let extensions = match hello.get(extensions_at..extensions_at + 2) {
        Some(&[l0, l1]) => {
            hello.get(extensions_at + 2..extensions_at + 2 + usize::from(u16::from_be_bytes([l0, l1])))?
        }
        _ => &[],
    };
    Some(ClientHelloView {
        record_sequence: header.sequence,
        message_seq: u16::from_be_bytes([handshake[4], handshake[5]]),
        random,
        session_id,
        cookie,
        cipher_suites,
        extensions,
    })
}

/// Builds a HelloVerifyRequest record answering `hello` with `cookie` (at most 255 bytes).
///
/// The record sequence number and message_seq echo the ClientHello's (RFC 6347 §4.2.1 and
/// §4.2.2), so a stateless server needs nothing but the ClientHello to answer it.
pub(crate) fn hello_verify_request(hello: &ClientHelloView<'_>, cookie: &[u8]) -> Vec<u8> {
    let cookie = cookie.get(..cookie.len().min(255)).unwrap_or_default();
    let body_len = 2 + 1 + cookie.len();
    let fragment_len = HANDSHAKE_HEADER_LEN + body_len;
    let mut out = Vec::with_capacity(RECORD_HEADER_LEN + fragment_len);
    out.push(CONTENT_HANDSHAKE);
    out.extend_from_slice(&DTLS_1_0.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&hello.record_sequence.to_be_bytes()[2..]);
    out.extend_from_slice(&(fragment_len as u16).to_be_bytes());
    out.push(HANDSHAKE_HELLO_VERIFY_REQUEST);
    out.extend_from_slice(&(body_len as u32).to_be_bytes()[1..]);
    out.extend_from_slice(&hello.message_seq.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&(body_len as u32).to_be_bytes()[1..]);
    out.extend_from_slice(&DTLS_1_0.to_be_bytes());
    out.push(cookie.len() as u8);
    out.extend_from_slice(cookie);
    out
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

    /// A ClientHello record as a DTLS 1.2 client sends it: record sequence 5, message_seq 1,
    /// a 3-byte session id, a 4-byte cookie, one cipher suite, null compression, no extensions.
    fn client_hello() -> Vec<u8> {
        let mut hello = vec![0xfe, 0xfd];
        hello.extend_from_slice(&[9; 32]);
        hello.extend_from_slice(&[3, 1, 2, 3]);
        hello.extend_from_slice(&[4, 0xc0, 0x0c, 0x0c, 0x1e]);
        hello.extend_from_slice(&[0, 4, 0xc0, 0xae, 0xc0, 0xa8, 1, 0]);
        // Extensions: extended_master_secret (empty), server_certificate_type [RPK, X.509].
        hello.extend_from_slice(&[0, 11, 0, 23, 0, 0, 0, 20, 0, 3, 2, 2, 0]);
        let len = hello.len() as u32;
        let mut handshake = vec![HANDSHAKE_CLIENT_HELLO];
        handshake.extend_from_slice(&len.to_be_bytes()[1..]);
        handshake.extend_from_slice(&[0, 1, 0, 0, 0]);
        handshake.extend_from_slice(&len.to_be_bytes()[1..]);
        handshake.extend_from_slice(&hello);
        let mut record = vec![CONTENT_HANDSHAKE, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 5];
        record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
        record.extend_from_slice(&handshake);
        record
    }

    #[test]
    fn client_hello_fields_and_hello_verify_request() {
        let datagram = client_hello();
        let hello = parse_client_hello(&datagram).unwrap();
        assert_eq!(hello.record_sequence, 5);
        assert_eq!(hello.message_seq, 1);
        assert_eq!(hello.random, [9; 32]);
        assert_eq!(hello.session_id, &[1, 2, 3]);
        assert_eq!(hello.cookie, &[0xc0, 0x0c, 0x0c, 0x1e]);
        assert_eq!(hello.offered_suites().collect::<Vec<_>>(), [0xc0ae, 0xc0a8]);
        assert_eq!(hello.server_certificate_types(), Some(&[2, 0][..]));

        let hvr = hello_verify_request(&hello, &[0xaa; 32]);
        let (header, body) = records(&hvr).next().unwrap();
        assert_eq!((header.content_type, header.version, header.epoch, header.sequence), (22, 0xfeff, 0, 5));
        assert_eq!(body.len(), 12 + 3 + 32);
        assert_eq!(&body[..12], &[3, 0, 0, 35, 0, 1, 0, 0, 0, 0, 0, 35]);

        let mut plain = datagram.clone();
        let cut = plain.len() - 13; // drop the extensions block (2-byte length + 11 bytes)
        plain.truncate(cut);
        let body_len = plain.len() - 13 - 12;
        let record_len = (plain.len() - 13) as u16;
        plain[11..13].copy_from_slice(&record_len.to_be_bytes());
        plain[13 + 1..13 + 4].copy_from_slice(&(body_len as u32).to_be_bytes()[1..]);
        plain[13 + 9..13 + 12].copy_from_slice(&(body_len as u32).to_be_bytes()[1..]);
        let plain = parse_client_hello(&plain).unwrap();
        assert_eq!((plain.extensions, plain.server_certificate_types()), (&[][..], None));
        assert_eq!(&body[12..15], &[0xfe, 0xff, 32]);
        assert_eq!(&body[15..], &[0xaa; 32]);
    }

    #[test]
    fn fragmented_or_malformed_client_hellos_are_not_parsed() {
        let datagram = client_hello();
        for cut in 0..datagram.len() {
            assert_eq!(parse_client_hello(&datagram[..cut]), None, "cut at {cut}");
        }
        let mut fragment = datagram.clone();
        fragment[13 + 8] = 1; // fragment_offset 1
        assert_eq!(parse_client_hello(&fragment), None);
        let mut long_session = datagram.clone();
        long_session[13 + 12 + 34] = 33;
        assert_eq!(parse_client_hello(&long_session), None);
        let mut encrypted = datagram;
        encrypted[4] = 1;
        assert_eq!(parse_client_hello(&encrypted), None);
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
