//! Secure messaging (ISO/IEC 7816-4 §10) for the counter's session: key agreement at counter
//! authentication, then every command and response protected, in both directions.
//!
//! - **Keys**: EXTERNAL AUTHENTICATE carries the counter's ephemeral P-256 key (signed with the
//!   challenge by the counter's certified key); the card answers its own ephemeral key. Both
//!   sides compute ECDH and derive with HKDF-SHA-256 (salt: the challenge; info: `"juki sm v2"` ‖
//!   counter key ‖ card key ‖ the digest the card signed, [`crate::cvc::card_auth_digest`]) a
//!   16-byte AES encryption key and a 16-byte AES-CMAC key: the keys belong to this one mutually
//!   authenticated exchange.
//! - **Send sequence counter** (SSC, 16 bytes, big-endian), starting at 0: incremented before
//!   every protected command and before every protected response, on both sides, so a replayed,
//!   dropped or reordered APDU fails its MAC.
//! - **Command**: CLA with bits `0C` (SM, header authenticated); data objects `87` (padding
//!   indicator `01` ‖ AES-128-CBC of the ISO/IEC 7816-4-padded data, IV = AES(K_enc, SSC)), `97`
//!   (Le, one or two bytes) and `8E` (the first 8 bytes of AES-CMAC(K_mac, SSC ‖ padded header ‖
//!   `87` ‖ `97`, padded)).
//! - **Response**: `87` (encrypted data, if any) ‖ `99 02 SW1 SW2` ‖ `8E` (MAC over SSC ‖ `87` ‖
//!   `99`, padded), with the same status word outside.
//!
//! Both halves live here, the card's ([`SecureChannel::unwrap_command`], [`SecureChannel::wrap_response`])
//! and the host's ([`SecureChannel::wrap_command`], [`SecureChannel::unwrap_response`]): one implementation,
//! so the two cannot disagree. No allocation: outputs go into caller buffers.

use aes::cipher::block_padding::Iso7816;
use aes::cipher::{BlockDecryptMut, BlockEncrypt, BlockEncryptMut, KeyInit, KeyIvInit};
use aes::Aes128;
use cmac::{Cmac, Mac};
use heapless::Vec;
use hkdf::Hkdf;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use crate::apdu::CommandApdu;
use crate::tlv;
use crate::MAX_COMMAND_DATA;

/// CLA bits of a protected command (secure messaging, header authenticated).
pub const CLA_SM: u8 = 0x0C;
/// Length of the MAC data object's value.
pub const MAC_LEN: usize = 8;
/// The HKDF info prefix.
pub const INFO: &[u8] = b"juki sm v2";
/// SEC1 uncompressed P-256 point length.
pub const POINT_LEN: usize = 65;
/// Room a protected command needs beyond its plain data: `87 82 LL LL 01` + a padding block,
/// `97 02 Le Le`, `8E 08` + MAC.
pub const OVERHEAD: usize = 5 + 16 + 4 + 2 + MAC_LEN;

/// Largest protected data field (a whole plain command of [`MAX_COMMAND_DATA`] bytes, wrapped).
pub const MAX_WRAPPED: usize = MAX_COMMAND_DATA + OVERHEAD;

const TAG_DATA: u16 = 0x87;
const TAG_LE: u16 = 0x97;
const TAG_SW: u16 = 0x99;
const TAG_MAC: u16 = 0x8E;

/// Why a protected APDU was refused. The card answers `6988` and ends the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmError {
    /// Data objects missing, repeated, out of order or malformed.
    Malformed,
    /// The MAC does not verify (tampered, replayed or reordered).
    BadMac,
    /// The padding of the decrypted data is wrong.
    BadPadding,
    /// A buffer is too small.
    TooLong,
}

/// The session keys and send sequence counter of one counter session. Wiped when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct SecureChannel {
    enc: [u8; 16],
    mac: [u8; 16],
    ssc: u128,
}

impl core::fmt::Debug for SecureChannel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SecureChannel")
            .field("ssc", &self.ssc)
            .finish_non_exhaustive()
    }
}

impl Drop for SecureChannel {
    fn drop(&mut self) {
        self.enc.zeroize();
        self.mac.zeroize();
    }
}

/// The first data object of `data`: (tag, value, rest).
fn split_first(data: &[u8]) -> Result<(u16, &[u8], &[u8]), SmError> {
    let mut reader = tlv::Reader::new(data);
    let obj = reader.read().map_err(|_| SmError::Malformed)?;
    Ok((obj.tag, obj.value, reader.remaining()))
}

/// ISO/IEC 7816-4 padding of `len` bytes to the next multiple of 16 (always at least one byte).
fn padded_len(len: usize) -> usize {
    (len / 16 + 1) * 16
}

fn pad_block(header: &[u8; 4]) -> [u8; 16] {
    let [a, b, c, d] = *header;
    [a, b, c, d, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
}

impl SecureChannel {
    /// Derives the session from the ECDH shared secret `z`, the card's `challenge`, both
    /// ephemeral public keys and the `transcript` digest of the mutual authentication.
    pub fn derive(
        z: &[u8],
        challenge: &[u8],
        counter_key: &[u8; POINT_LEN],
        card_key: &[u8; POINT_LEN],
        transcript: &[u8; 32],
    ) -> SecureChannel {
        let hk = Hkdf::<Sha256>::new(Some(challenge), z);
        let mut okm = [0u8; 32];
        // 32 bytes are far below HKDF-SHA-256's limit: expand cannot fail.
        let _ = hk.expand_multi_info(&[INFO, counter_key, card_key, transcript], &mut okm);
        let mut enc = [0u8; 16];
        let mut mac = [0u8; 16];
        let (a, b) = okm.split_at(16);
        enc.copy_from_slice(a);
        mac.copy_from_slice(b);
        okm.zeroize();
        SecureChannel { enc, mac, ssc: 0 }
    }

    /// The send sequence counter (for tests and diagnostics).
    pub fn ssc(&self) -> u128 {
        self.ssc
    }

    fn next(&mut self) -> [u8; 16] {
        self.ssc = self.ssc.wrapping_add(1);
        self.ssc.to_be_bytes()
    }

    fn iv(&self, ssc: &[u8; 16]) -> [u8; 16] {
        let cipher = Aes128::new(&self.enc.into());
        let mut block = (*ssc).into();
        cipher.encrypt_block(&mut block);
        block.into()
    }

    /// AES-CMAC over SSC ‖ `parts` ‖ ISO padding, truncated to 8 bytes.
    fn mac(&self, ssc: &[u8; 16], parts: &[&[u8]]) -> [u8; MAC_LEN] {
        let mut m = match <Cmac<Aes128> as KeyInit>::new_from_slice(&self.mac) {
            Ok(m) => m,
            Err(_) => return [0; MAC_LEN],
        };
        m.update(ssc);
        let mut len = 0;
        for p in parts {
            m.update(p);
            len += p.len();
        }
        let pad = padded_len(len) - len;
        let mut padding = [0u8; 16];
        if let Some(first) = padding.first_mut() {
            *first = 0x80;
        }
        m.update(padding.get(..pad).unwrap_or(&[]));
        let full = m.finalize().into_bytes();
        let mut out = [0u8; MAC_LEN];
        if let Some(src) = full.get(..MAC_LEN) {
            out.copy_from_slice(src);
        }
        out
    }

    /// Encrypts `plain` into a `87` data object appended to `out`.
    fn encrypt_into<const N: usize>(
        &self,
        ssc: &[u8; 16],
        plain: &[u8],
        out: &mut Vec<u8, N>,
    ) -> Result<(), SmError> {
        let start = out.len();
        out.extend_from_slice(plain).map_err(|_| SmError::TooLong)?;
        self.encrypt_in_place(ssc, out, start)
    }

    /// Turns the plain data at `buf[start..]` into a `87` data object (header, indicator `01`,
    /// the padded ciphertext) in place.
    fn encrypt_in_place<const N: usize>(
        &self,
        ssc: &[u8; 16],
        buf: &mut Vec<u8, N>,
        start: usize,
    ) -> Result<(), SmError> {
        let n = buf.len().checked_sub(start).ok_or(SmError::TooLong)?;
        let clen = padded_len(n);
        let header = tlv::encode_header(TAG_DATA, clen + 1).map_err(|_| SmError::TooLong)?;
        let data = start + header.len() + 1;
        buf.resize(data + clen, 0).map_err(|_| SmError::TooLong)?;
        buf.copy_within(start..start + n, data);
        buf.get_mut(start..start + header.len())
            .ok_or(SmError::TooLong)?
            .copy_from_slice(&header);
        *buf.get_mut(data - 1).ok_or(SmError::TooLong)? = 0x01;
        let cipher = buf.get_mut(data..).ok_or(SmError::TooLong)?;
        cbc::Encryptor::<Aes128>::new(&self.enc.into(), &self.iv(ssc).into())
            .encrypt_padded_mut::<Iso7816>(cipher, n)
            .map_err(|_| SmError::TooLong)?;
        Ok(())
    }

    /// Decrypts the value of a `87` data object (indicator byte first) into `out`.
    fn decrypt_into<const N: usize>(
        &self,
        ssc: &[u8; 16],
        value: &[u8],
        out: &mut Vec<u8, N>,
    ) -> Result<(), SmError> {
        let (&indicator, cipher) = value.split_first().ok_or(SmError::Malformed)?;
        if indicator != 0x01 || cipher.is_empty() || cipher.len() % 16 != 0 {
            return Err(SmError::Malformed);
        }
        out.clear();
        out.extend_from_slice(cipher)
            .map_err(|_| SmError::TooLong)?;
        let n = cbc::Decryptor::<Aes128>::new(&self.enc.into(), &self.iv(ssc).into())
            .decrypt_padded_mut::<Iso7816>(out.as_mut_slice())
            .map_err(|_| SmError::BadPadding)?
            .len();
        out.truncate(n);
        Ok(())
    }

    // ---- the card's half ----

    /// Checks and decrypts a protected command (CLA with [`CLA_SM`]); the plain command data
    /// goes into `plain`, and the returned command borrows it. Any failure ends the session at
    /// the caller (`6988`).
    pub fn unwrap_command<'b, const N: usize>(
        &mut self,
        apdu: &CommandApdu<'_>,
        plain: &'b mut Vec<u8, N>,
    ) -> Result<CommandApdu<'b>, SmError> {
        let ssc = self.next();
        let mut rest = apdu.data;
        let mut data_obj: Option<(&[u8], &[u8])> = None; // (whole TLV, value)
        let mut le_obj: Option<(&[u8], &[u8])> = None;
        let mut mac_obj: Option<&[u8]> = None;
        while !rest.is_empty() {
            let (tag, value, tail) = split_first(rest)?;
            let whole = rest
                .get(..rest.len() - tail.len())
                .ok_or(SmError::Malformed)?;
            match tag {
                TAG_DATA if data_obj.is_none() && le_obj.is_none() && mac_obj.is_none() => {
                    data_obj = Some((whole, value));
                }
                TAG_LE if le_obj.is_none() && mac_obj.is_none() => le_obj = Some((whole, value)),
                TAG_MAC if mac_obj.is_none() => mac_obj = Some(value),
                _ => return Err(SmError::Malformed),
            }
            rest = tail;
        }
        let mac = mac_obj.ok_or(SmError::Malformed)?;
        let cla = apdu.cla & !CLA_SM;
        let header = [apdu.cla, apdu.ins, apdu.p1, apdu.p2];
        let expected = self.mac(
            &ssc,
            &[
                &pad_block(&header),
                data_obj.map(|d| d.0).unwrap_or(&[]),
                le_obj.map(|l| l.0).unwrap_or(&[]),
            ],
        );
        if mac.len() != MAC_LEN || !bool::from(expected.ct_eq(mac)) {
            return Err(SmError::BadMac);
        }
        plain.clear();
        if let Some((_, value)) = data_obj {
            self.decrypt_into(&ssc, value, plain)?;
            if plain.len() > MAX_COMMAND_DATA {
                return Err(SmError::TooLong);
            }
        }
        let ne = match le_obj.map(|l| l.1) {
            None => 0,
            Some([0]) => 256,
            Some([b]) => usize::from(*b),
            Some([0, 0]) => 65_536,
            Some([h, l]) => usize::from(u16::from_be_bytes([*h, *l])),
            Some(_) => return Err(SmError::Malformed),
        };
        Ok(CommandApdu {
            cla,
            ins: apdu.ins,
            p1: apdu.p1,
            p2: apdu.p2,
            data: plain.as_slice(),
            ne,
            extended: apdu.extended,
        })
    }

    /// Protects a response in place: `buf` holds the plain response data and becomes `87` (if
    /// there was data), `99` with `sw`, `8E`. In place, so the card needs no second response
    /// buffer on its stack (docs/performance.md, "Memory").
    pub fn wrap_response<const N: usize>(
        &mut self,
        buf: &mut Vec<u8, N>,
        sw: u16,
    ) -> Result<(), SmError> {
        let ssc = self.next();
        if !buf.is_empty() {
            self.encrypt_in_place(&ssc, buf, 0)?;
        }
        let sw_obj = [0x99, 0x02, (sw >> 8) as u8, sw as u8];
        buf.extend_from_slice(&sw_obj)
            .map_err(|_| SmError::TooLong)?;
        let mac = self.mac(&ssc, &[buf.as_slice()]);
        buf.extend_from_slice(&[0x8E, MAC_LEN as u8])
            .map_err(|_| SmError::TooLong)?;
        buf.extend_from_slice(&mac).map_err(|_| SmError::TooLong)?;
        Ok(())
    }

    // ---- the host's half ----

    /// The counter's half of the key agreement: the session from its ephemeral `secret` (whose
    /// public key `counter_key` it sent) and the card's answer, verified before
    /// ([`crate::cvc::verify_card_answer`]). A host without the p256 crate's ECDH derives
    /// the same with [`SecureChannel::derive`].
    pub fn agree(
        secret: &p256::NonZeroScalar,
        challenge: &[u8],
        counter_key: &[u8; POINT_LEN],
        card: &crate::cvc::CardAnswer<'_>,
    ) -> Result<SecureChannel, SmError> {
        let card_key =
            <[u8; POINT_LEN]>::try_from(card.ephemeral).map_err(|_| SmError::Malformed)?;
        let point = p256::PublicKey::from_sec1_bytes(&card_key).map_err(|_| SmError::Malformed)?;
        let shared = p256::ecdh::diffie_hellman(secret, point.as_affine());
        Ok(SecureChannel::derive(
            shared.raw_secret_bytes(),
            challenge,
            counter_key,
            &card_key,
            &card.digest,
        ))
    }

    /// Protects a plain command: returns the protected CLA and writes the protected data field
    /// into `out` (send it with Le `00`, or extended `00 00`, for the protected response).
    pub fn wrap_command<const N: usize>(
        &mut self,
        header: [u8; 4],
        data: &[u8],
        ne: usize,
        out: &mut Vec<u8, N>,
    ) -> Result<u8, SmError> {
        let ssc = self.next();
        let cla = header[0] | CLA_SM;
        let [_, ins, p1, p2] = header;
        out.clear();
        if !data.is_empty() {
            self.encrypt_into(&ssc, data, out)?;
        }
        let data_end = out.len();
        match ne {
            0 => Ok(()),
            1..=255 => out.extend_from_slice(&[0x97, 0x01, ne as u8]),
            256 => out.extend_from_slice(&[0x97, 0x01, 0x00]),
            65_536 => out.extend_from_slice(&[0x97, 0x02, 0x00, 0x00]),
            n => {
                let n = u16::try_from(n).map_err(|_| SmError::TooLong)?;
                let [h, l] = n.to_be_bytes();
                out.extend_from_slice(&[0x97, 0x02, h, l])
            }
        }
        .map_err(|_| SmError::TooLong)?;
        let (data_obj, le_obj) = out.split_at(data_end);
        let mac = self.mac(&ssc, &[&pad_block(&[cla, ins, p1, p2]), data_obj, le_obj]);
        out.extend_from_slice(&[0x8E, MAC_LEN as u8])
            .map_err(|_| SmError::TooLong)?;
        out.extend_from_slice(&mac).map_err(|_| SmError::TooLong)?;
        Ok(cla)
    }

    /// Checks and decrypts a protected response (its data field): the plain data goes into
    /// `plain`; returns the status word from `99`.
    pub fn unwrap_response<const N: usize>(
        &mut self,
        response: &[u8],
        plain: &mut Vec<u8, N>,
    ) -> Result<u16, SmError> {
        let ssc = self.next();
        let mut rest = response;
        let mut data_obj: Option<&[u8]> = None;
        let mut sw_obj: Option<&[u8]> = None;
        let mut mac_obj: Option<&[u8]> = None;
        let mut maced_len = 0;
        while !rest.is_empty() {
            let (tag, value, tail) = split_first(rest)?;
            match tag {
                TAG_DATA if data_obj.is_none() && sw_obj.is_none() => data_obj = Some(value),
                TAG_SW if sw_obj.is_none() && mac_obj.is_none() => sw_obj = Some(value),
                TAG_MAC if mac_obj.is_none() && sw_obj.is_some() => mac_obj = Some(value),
                _ => return Err(SmError::Malformed),
            }
            if mac_obj.is_none() {
                maced_len = response.len() - tail.len();
            }
            rest = tail;
        }
        let (Some(sw), Some(mac)) = (sw_obj, mac_obj) else {
            return Err(SmError::Malformed);
        };
        let maced = response.get(..maced_len).ok_or(SmError::Malformed)?;
        let expected = self.mac(&ssc, &[maced]);
        if mac.len() != MAC_LEN || !bool::from(expected.ct_eq(mac)) {
            return Err(SmError::BadMac);
        }
        let sw = match sw {
            [a, b] => u16::from_be_bytes([*a, *b]),
            _ => return Err(SmError::Malformed),
        };
        plain.clear();
        if let Some(value) = data_obj {
            self.decrypt_into(&ssc, value, plain)?;
        }
        Ok(sw)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn pair() -> (SecureChannel, SecureChannel) {
        let k1 = [4u8; POINT_LEN];
        let k2 = [5u8; POINT_LEN];
        let s = SecureChannel::derive(&[9u8; 32], &[1u8; 16], &k1, &k2, &[0; 32]);
        (s.clone(), s)
    }

    fn round_trip(host: &mut SecureChannel, card: &mut SecureChannel, data: &[u8], ne: usize) {
        let mut wrapped: Vec<u8, MAX_WRAPPED> = Vec::new();
        let cla = host
            .wrap_command([0x00, 0xD6, 0x01, 0x02], data, ne, &mut wrapped)
            .unwrap();
        assert_eq!(cla, 0x0C);
        let apdu = CommandApdu {
            cla,
            ins: 0xD6,
            p1: 1,
            p2: 2,
            data: &wrapped,
            ne: 256,
            extended: false,
        };
        let mut plain: Vec<u8, { MAX_COMMAND_DATA + 16 }> = Vec::new();
        let inner = card.unwrap_command(&apdu, &mut plain).unwrap();
        assert_eq!((inner.cla, inner.ins, inner.p1, inner.p2), (0, 0xD6, 1, 2));
        assert_eq!(inner.data, data);
        assert_eq!(inner.ne, ne);
        let mut resp: Vec<u8, 2200> = Vec::from_slice(data).unwrap();
        card.wrap_response(&mut resp, 0x6283).unwrap();
        let mut back: Vec<u8, 2200> = Vec::new();
        assert_eq!(host.unwrap_response(&resp, &mut back).unwrap(), 0x6283);
        assert_eq!(back.as_slice(), data);
    }

    #[test]
    fn commands_and_responses_round_trip() {
        let (mut host, mut card) = pair();
        for (len, ne) in [
            (0, 0),
            (1, 256),
            (15, 0),
            (16, 65_536),
            (17, 300),
            (2048, 0),
        ] {
            let data: std::vec::Vec<u8> = (0..len).map(|i| i as u8).collect();
            round_trip(&mut host, &mut card, &data, ne);
        }
        assert_eq!(host.ssc(), 12);
        assert_eq!(card.ssc(), 12);
    }

    #[test]
    fn tampered_replayed_and_reordered_commands_fail() {
        let (mut host, mut card) = pair();
        let mut first: Vec<u8, MAX_WRAPPED> = Vec::new();
        host.wrap_command([0, 0xD6, 0, 0], b"new address", 0, &mut first)
            .unwrap();
        let mut second: Vec<u8, MAX_WRAPPED> = Vec::new();
        host.wrap_command([0, 0xD6, 0, 0], b"second", 0, &mut second)
            .unwrap();
        fn apdu(data: &[u8]) -> CommandApdu<'_> {
            CommandApdu {
                cla: 0x0C,
                ins: 0xD6,
                p1: 0,
                p2: 0,
                data,
                ne: 0,
                extended: false,
            }
        }
        let mut plain: Vec<u8, { MAX_COMMAND_DATA + 16 }> = Vec::new();
        // Reordered: the second before the first.
        let mut c = card.clone();
        assert_eq!(
            c.unwrap_command(&apdu(&second), &mut plain).err(),
            Some(SmError::BadMac)
        );
        // Tampered ciphertext, tampered header.
        let mut bad = first.clone();
        bad[6] ^= 1;
        let mut c = card.clone();
        assert_eq!(
            c.unwrap_command(&apdu(&bad), &mut plain).err(),
            Some(SmError::BadMac)
        );
        let mut c = card.clone();
        let other = CommandApdu {
            p1: 1,
            ..apdu(&first)
        };
        assert_eq!(
            c.unwrap_command(&other, &mut plain).err(),
            Some(SmError::BadMac)
        );
        // In order: fine; replayed: refused.
        assert_eq!(
            card.unwrap_command(&apdu(&first), &mut plain).unwrap().data,
            b"new address"
        );
        let mut resp: Vec<u8, 64> = Vec::new();
        card.wrap_response(&mut resp, 0x9000).unwrap();
        assert_eq!(
            card.unwrap_command(&apdu(&first), &mut plain).err(),
            Some(SmError::BadMac)
        );
        // No MAC, or garbage.
        let mut c = SecureChannel::derive(&[9u8; 32], &[1u8; 16], &[4; 65], &[5; 65], &[0; 32]);
        assert_eq!(
            c.unwrap_command(&apdu(&[0x87, 0x02, 0x01, 0x00]), &mut plain)
                .err(),
            Some(SmError::Malformed)
        );
        assert_eq!(
            c.unwrap_command(&apdu(&[0xFF]), &mut plain).err(),
            Some(SmError::Malformed)
        );
    }

    #[test]
    fn tampered_responses_fail_and_keys_differ_per_session() {
        let (mut host, mut card) = pair();
        let mut resp: Vec<u8, 128> = Vec::from_slice(b"public key").unwrap();
        card.wrap_response(&mut resp, 0x9000).unwrap();
        let mut bad = resp.clone();
        let n = bad.len();
        bad[n - 12] ^= 0x01; // the 99 status word
        let mut back: Vec<u8, 128> = Vec::new();
        assert_eq!(
            host.clone().unwrap_response(&bad, &mut back).err(),
            Some(SmError::BadMac)
        );
        assert_eq!(host.unwrap_response(&resp, &mut back).unwrap(), 0x9000);
        let a = SecureChannel::derive(&[9u8; 32], &[1u8; 16], &[4; 65], &[5; 65], &[0; 32]);
        let b = SecureChannel::derive(&[9u8; 32], &[2u8; 16], &[4; 65], &[5; 65], &[0; 32]);
        assert_ne!(a, b, "another challenge, other keys");
        let c = SecureChannel::derive(&[9u8; 32], &[1u8; 16], &[4; 65], &[5; 65], &[1; 32]);
        assert_ne!(a, c, "another transcript, other keys");
    }
}
