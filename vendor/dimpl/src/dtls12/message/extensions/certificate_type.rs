//! lwm2m-rs patch: the RFC 7250 `client_certificate_type` (19) and `server_certificate_type`
//! (20) extensions.
//!
//! In a ClientHello each carries a list of certificate types the client can send (client_…) or
//! accept (server_…): `CertificateType types<1..2^8-1>`. In a ServerHello each carries the one
//! type the server selected.

use nom::Err;
use nom::IResult;
use nom::bytes::complete::take;
use nom::error::{Error, ErrorKind};
use nom::number::complete::be_u8;

use crate::buffer::Buf;

/// CertificateType X509 (RFC 7250 §3): a certificate chain, the default.
pub const CERTIFICATE_TYPE_X509: u8 = 0;
/// CertificateType RawPublicKey (RFC 7250 §3): a single SubjectPublicKeyInfo.
pub const CERTIFICATE_TYPE_RAW_PUBLIC_KEY: u8 = 2;

/// What a ClientHello's certificate type list offers (only the types this crate knows).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CertificateTypeOffer {
    /// X509 is in the list.
    pub x509: bool,
    /// RawPublicKey is in the list.
    pub raw_public_key: bool,
}

impl CertificateTypeOffer {
    /// Parses the ClientHello form: a one-byte length and at least one type, nothing after.
    pub fn parse(input: &[u8]) -> IResult<&[u8], CertificateTypeOffer> {
        let (rest, len) = be_u8(input)?;
        if len == 0 {
            return Err(Err::Failure(Error::new(input, ErrorKind::LengthValue)));
        }
        let (rest, types) = take(len)(rest)?;
        if !rest.is_empty() {
            return Err(Err::Failure(Error::new(rest, ErrorKind::LengthValue)));
        }
        Ok((
            rest,
            CertificateTypeOffer {
                x509: types.contains(&CERTIFICATE_TYPE_X509),
                raw_public_key: types.contains(&CERTIFICATE_TYPE_RAW_PUBLIC_KEY),
            },
        ))
    }

    /// Writes the ClientHello form offering exactly one type.
    pub fn serialize_single(certificate_type: u8, output: &mut Buf) {
        output.push(1);
        output.push(certificate_type);
    }
}

/// Parses the ServerHello form: exactly one type.
pub fn parse_selected(input: &[u8]) -> IResult<&[u8], u8> {
    let (rest, selected) = be_u8(input)?;
    if !rest.is_empty() {
        return Err(Err::Failure(Error::new(rest, ErrorKind::LengthValue)));
    }
    Ok((rest, selected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_hello_form() {
        let (_, offer) = CertificateTypeOffer::parse(&[2, 0, 2]).unwrap();
        assert_eq!(
            offer,
            CertificateTypeOffer {
                x509: true,
                raw_public_key: true
            }
        );
        let (_, offer) = CertificateTypeOffer::parse(&[1, 1]).unwrap();
        assert_eq!(offer, CertificateTypeOffer::default());
        let mut out = Buf::new();
        CertificateTypeOffer::serialize_single(CERTIFICATE_TYPE_RAW_PUBLIC_KEY, &mut out);
        assert_eq!(&*out, &[1, 2]);
    }

    #[test]
    fn client_hello_form_rejects_bad_lengths() {
        assert!(CertificateTypeOffer::parse(&[]).is_err());
        assert!(CertificateTypeOffer::parse(&[0]).is_err());
        assert!(CertificateTypeOffer::parse(&[2, 2]).is_err());
        assert!(CertificateTypeOffer::parse(&[1, 2, 0]).is_err());
    }

    #[test]
    fn server_hello_form() {
        assert_eq!(parse_selected(&[2]).unwrap().1, 2);
        assert!(parse_selected(&[]).is_err());
        assert!(parse_selected(&[2, 0]).is_err());
    }
}
