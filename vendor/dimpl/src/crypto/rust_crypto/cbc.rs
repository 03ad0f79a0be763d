//! lwm2m-rs patch: AES-128-CBC with HMAC-SHA-256 in the Encrypt-then-MAC record form
//! (RFC 7366), for TLS_PSK_WITH_AES_128_CBC_SHA256 and TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256.
//!
//! A protected fragment is `IV (16) || AES-CBC(plaintext || padding) || MAC (32)`, with
//! `MAC = HMAC-SHA-256(mac_key, seq_num || type || version || length || IV || ciphertext)` where
//! `length` is the length of `IV || ciphertext` (RFC 7366 §3). The MAC is verified, in constant
//! time, before anything is decrypted, so padding is never examined for a forged record (no
//! padding oracle, no Lucky13 timing).
//!
//! The engine treats the whole fragment as "ciphertext" (explicit nonce length 0, no fixed IV):
//! this cipher takes the record's `seq_num || type || version` from the AAD the engine passes
//! and ignores its length field, which the engine derives for AEAD suites. The per-record IV is
//! `AES(key, seq_num || 0^8)`: unique per record (DTLS never reuses a sequence number within an
//! epoch) and unpredictable without the key, the IV generation NIST SP 800-38A Appendix C
//! describes.

use aes::Aes128;
use ::hmac::{Hmac, Mac};
use aes::cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use ::sha2::Sha256;

use crate::buffer::{Buf, TmpBuf};
use crate::crypto::{Aad, Cipher, Nonce};
use crate::{CryptoError, CryptoOperation};

type HmacSha256 = Hmac<Sha256>;

const BLOCK: usize = 16;
const MAC_LEN: usize = 32;

/// Largest plaintext of one record (RFC 6347 §4.1, DTLSPlaintext.length).
const MAX_PLAINTEXT: usize = 1 << 14;

/// Wire overhead beyond the plaintext at most: IV, a full block of padding, MAC.
pub(super) const MAX_OVERHEAD: usize = BLOCK + BLOCK + MAC_LEN;

/// AES-128-CBC + HMAC-SHA-256, Encrypt-then-MAC.
pub(super) struct CbcHmacSha256 {
    aes: Box<Aes128>,
    mac_key: [u8; MAC_LEN],
}

impl std::fmt::Debug for CbcHmacSha256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CbcHmacSha256").finish_non_exhaustive()
    }
}

impl CbcHmacSha256 {
    pub(super) fn new(mac_key: &[u8], key: &[u8]) -> Result<Self, CryptoError> {
        if key.len() != 16 {
            return Err(CryptoError::OperationFailed(CryptoOperation::CreateCipher));
        }
        let mac_key: [u8; MAC_LEN] = mac_key
            .try_into()
            .map_err(|_| CryptoError::OperationFailed(CryptoOperation::CreateCipher))?;
        let aes = Aes128::new_from_slice(key)
            .map_err(|_| CryptoError::OperationFailed(CryptoOperation::CreateCipher))?;
        Ok(Self {
            aes: Box::new(aes),
            mac_key,
        })
    }

    /// `seq_num (8) || type (1) || version (2)` of the record the AAD describes.
    fn header(aad: &Aad) -> Result<[u8; 11], CryptoError> {
        aad.get(..11)
            .and_then(|h| h.try_into().ok())
            .ok_or(CryptoError::OperationFailed(CryptoOperation::Encrypt))
    }

    fn mac(&self, header: &[u8; 11], iv_and_ciphertext: &[u8]) -> Result<HmacSha256, CryptoError> {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.mac_key)
            .map_err(|_| CryptoError::OperationFailed(CryptoOperation::ComputeHmac))?;
        mac.update(header);
        mac.update(&(iv_and_ciphertext.len() as u16).to_be_bytes());
        mac.update(iv_and_ciphertext);
        Ok(mac)
    }

    fn iv(&self, header: &[u8; 11]) -> [u8; BLOCK] {
        let mut block = Array::from([0u8; BLOCK]);
        block[..8].copy_from_slice(&header[..8]);
        self.aes.encrypt_block(&mut block);
        block.into()
    }
}

impl Cipher for CbcHmacSha256 {
    fn encrypt(&mut self, data: &mut Buf, aad: Aad, _nonce: Nonce) -> Result<(), CryptoError> {
        let header = Self::header(&aad)?;
        let plaintext_len = data.len();
        // DTLSPlaintext.length is at most 2^14; beyond it the u16 lengths below would wrap.
        if plaintext_len > MAX_PLAINTEXT {
            return Err(CryptoError::OperationFailed(CryptoOperation::Encrypt));
        }
        // TLS padding: pad_len + 1 bytes of value pad_len bring the length to whole blocks.
        let pad_len = (BLOCK - (plaintext_len + 1) % BLOCK) % BLOCK;
        let body_len = plaintext_len + pad_len + 1;
        // Make room for the IV in front: IV || plaintext || padding.
        data.resize(BLOCK + body_len, pad_len as u8);
        data.copy_within(0..plaintext_len, BLOCK);
        let iv = self.iv(&header);
        data[..BLOCK].copy_from_slice(&iv);
        let mut previous = iv;
        for chunk in data[BLOCK..].chunks_exact_mut(BLOCK) {
            let mut block = Array::from([0u8; BLOCK]);
            for (b, (p, c)) in block.iter_mut().zip(previous.iter().zip(chunk.iter())) {
                *b = p ^ c;
            }
            self.aes.encrypt_block(&mut block);
            chunk.copy_from_slice(&block);
            previous = block.into();
        }
        let tag = self.mac(&header, data)?.finalize().into_bytes();
        data.extend_from_slice(&tag);
        Ok(())
    }

    fn decrypt(
        &mut self,
        fragment: &mut TmpBuf,
        aad: Aad,
        _nonce: Nonce,
    ) -> Result<(), CryptoError> {
        let failed = CryptoError::OperationFailed(CryptoOperation::Decrypt);
        let header = Self::header(&aad).map_err(|_| failed.clone())?;
        let total = fragment.len();
        // IV, at least one block, MAC; the ciphertext is whole blocks.
        if total < BLOCK + BLOCK + MAC_LEN || (total - MAC_LEN) % BLOCK != 0 {
            return Err(failed);
        }
        let mac_at = total - MAC_LEN;
        {
            let bytes = fragment.as_ref();
            // Constant-time comparison (`verify_slice`), before any decryption.
            self.mac(&header, &bytes[..mac_at])?
                .verify_slice(&bytes[mac_at..])
                .map_err(|_| failed.clone())?;
        }
        let bytes = fragment.as_mut();
        let mut previous: [u8; BLOCK] = bytes[..BLOCK].try_into().map_err(|_| failed.clone())?;
        for chunk in bytes[BLOCK..mac_at].chunks_exact_mut(BLOCK) {
            let this: [u8; BLOCK] = (&*chunk).try_into().map_err(|_| failed.clone())?;
            let mut block = Array::from(this);
            self.aes.decrypt_block(&mut block);
            for (c, (b, p)) in chunk.iter_mut().zip(block.iter().zip(previous.iter())) {
                *c = b ^ p;
            }
            previous = this;
        }
        // The MAC held, so the padding is the sender's: check it plainly.
        let pad_len = usize::from(bytes[mac_at - 1]);
        let body_len = mac_at - BLOCK;
        if pad_len + 1 > body_len
            || bytes[mac_at - 1 - pad_len..mac_at]
                .iter()
                .any(|b| usize::from(*b) != pad_len)
        {
            return Err(failed);
        }
        let plaintext_len = body_len - pad_len - 1;
        bytes.copy_within(BLOCK..BLOCK + plaintext_len, 0);
        fragment.truncate(plaintext_len);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtls12::message::{ContentType, Sequence};

    fn aad(seq: u64) -> Aad {
        Aad::new_dtls12(
            ContentType::ApplicationData,
            Sequence {
                epoch: 1,
                sequence_number: seq,
            },
            0,
        )
    }

    #[test]
    fn round_trip_every_padding_length_and_tamper_detection() {
        let mut cipher = CbcHmacSha256::new(&[7; 32], &[9; 16]).unwrap();
        for len in 0..40usize {
            let plaintext: Vec<u8> = (0..len as u8).collect();
            let mut buf = Buf::new();
            buf.extend_from_slice(&plaintext);
            cipher.encrypt(&mut buf, aad(len as u64), Nonce([0; 12])).unwrap();
            assert_eq!((buf.len() - MAC_LEN) % BLOCK, 0);
            assert!(buf.len() <= len + MAX_OVERHEAD);
            let mut wire = buf.to_vec();
            let mut tmp = TmpBuf::new(&mut wire);
            cipher.decrypt(&mut tmp, aad(len as u64), Nonce([0; 12])).unwrap();
            assert_eq!(tmp.as_ref(), &plaintext[..]);

            for flip in [0, BLOCK, buf.len() - 1] {
                let mut bad = buf.to_vec();
                bad[flip] ^= 1;
                let mut tmp = TmpBuf::new(&mut bad);
                assert!(cipher.decrypt(&mut tmp, aad(len as u64), Nonce([0; 12])).is_err());
            }
            let mut wire = buf.to_vec();
            let mut tmp = TmpBuf::new(&mut wire);
            assert!(
                cipher.decrypt(&mut tmp, aad(len as u64 + 1), Nonce([0; 12])).is_err(),
                "another sequence number"
            );
        }
        let mut too_long = Buf::new();
        too_long.resize(MAX_PLAINTEXT + 1, 7);
        assert!(cipher.encrypt(&mut too_long, aad(0), Nonce([0; 12])).is_err());
    }
}
