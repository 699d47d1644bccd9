//! Tree heads and their signatures by the log key.
//!
//! The signed bytes are a context string and then RFC 9162 §4.10 `TreeHeadDataV2`:
//!
//! ```text
//! "juki-log/v1 tree head\0"                     context (22 bytes), never transmitted
//! u64 timestamp                                  milliseconds since the Unix epoch
//! u64 tree_size
//! u8 32, root_hash[32]                           opaque NodeHash<32..2^8-1>
//! u16 0                                          sth_extensions: none
//! ```
//!
//! The context keeps a log-key signature from meaning anything else. The signature is ECDSA
//! P-256 with SHA-256, 64 bytes `r ‖ s` with low `s` (so each head has one signature). A
//! signed head is `TreeHeadDataV2 ‖ u16 64 ‖ signature` (RFC 9162 §4.10's `signature<1..2^16-1>`),
//! and as text the base64 of that.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use rand_core::OsRng;

use crate::codec::{Reader, Writer};
use crate::error::{malformed, LogError, Result};
use crate::hash::{Hash, HASH_LEN};
use crate::proof::unbase64;

const CONTEXT: &[u8] = b"juki-log/v1 tree head\0";
const SIGNATURE_LEN: usize = 64;

/// What the log says about itself at one moment: its size and root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TreeHead {
    /// The number of leaves.
    pub size: u64,
    /// The Merkle tree hash of those leaves.
    pub root: Hash,
    /// When the log produced the head, in milliseconds since the Unix epoch.
    pub timestamp: u64,
}

impl TreeHead {
    /// `TreeHeadDataV2`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u64(self.timestamp);
        w.u64(self.size);
        w.u8(HASH_LEN as u8);
        w.bytes(&self.root);
        w.u16(0);
        w.0
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        const WHAT: &str = "tree head";
        let timestamp = r.u64()?;
        let size = r.u64()?;
        if usize::from(r.u8()?) != HASH_LEN {
            return Err(malformed(WHAT, "root hash is not 32 bytes"));
        }
        let root = r.array()?;
        if r.u16()? != 0 {
            return Err(malformed(WHAT, "extensions are not supported"));
        }
        Ok(TreeHead {
            size,
            root,
            timestamp,
        })
    }

    /// Decodes `TreeHeadDataV2`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new("tree head", bytes);
        let head = Self::read(&mut r)?;
        r.finish()?;
        Ok(head)
    }

    fn signed_message(&self) -> Vec<u8> {
        let mut m = CONTEXT.to_vec();
        m.extend_from_slice(&self.to_bytes());
        m
    }
}

impl std::fmt::Display for TreeHead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "size {} root {} time {} ms",
            self.size,
            hex::encode(self.root),
            self.timestamp
        )
    }
}

/// A tree head with the log key's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTreeHead {
    /// The head.
    pub head: TreeHead,
    signature: Signature,
}

impl SignedTreeHead {
    /// Checks the signature with the log's public key.
    pub fn verify(&self, key: &VerifyingKey) -> Result<()> {
        // ring verifies about four times as fast as p256 here; every monitor and resident
        // checks every head.
        let point = key.to_encoded_point(false);
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            point.as_bytes(),
        )
        .verify(&self.head.signed_message(), &self.signature())
        .map_err(|_| LogError::BadSignature)
    }

    /// The signature, `r ‖ s`.
    pub fn signature(&self) -> [u8; SIGNATURE_LEN] {
        self.signature.to_bytes().into()
    }

    /// `TreeHeadDataV2 ‖ u16 64 ‖ r ‖ s`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer(self.head.to_bytes());
        w.u16(SIGNATURE_LEN as u16);
        w.bytes(&self.signature());
        w.0
    }

    /// Decodes [`SignedTreeHead::to_bytes`] (the signature is not checked: see
    /// [`SignedTreeHead::verify`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "signed tree head";
        let mut r = Reader::new(WHAT, bytes);
        let head = TreeHead::read(&mut r)?;
        if usize::from(r.u16()?) != SIGNATURE_LEN {
            return Err(malformed(WHAT, "signature is not 64 bytes"));
        }
        let raw: [u8; SIGNATURE_LEN] = r.array()?;
        r.finish()?;
        let signature =
            Signature::from_slice(&raw).map_err(|_| malformed(WHAT, "signature out of range"))?;
        // Low s only: one encoding per head.
        if signature.normalize_s().is_some() {
            return Err(malformed(WHAT, "signature with high s"));
        }
        Ok(SignedTreeHead { head, signature })
    }

    /// The base64 of [`SignedTreeHead::to_bytes`], for files and JSON.
    pub fn to_text(&self) -> String {
        B64.encode(self.to_bytes())
    }

    /// Decodes [`SignedTreeHead::to_text`].
    pub fn from_text(text: &str) -> Result<Self> {
        Self::from_bytes(&unbase64("signed tree head", text)?)
    }
}

/// The national server's log key: signs tree heads.
pub struct LogKey(SigningKey);

impl LogKey {
    /// A fresh key (tests, and a new log's setup).
    pub fn generate() -> Self {
        LogKey(SigningKey::random(&mut OsRng))
    }

    /// The key from a signing key kept elsewhere (e.g. a PKCS#8 file).
    pub fn from_signing_key(key: SigningKey) -> Self {
        LogKey(key)
    }

    /// The public key monitors and residents verify with.
    pub fn verifying_key(&self) -> VerifyingKey {
        *self.0.verifying_key()
    }

    /// Signs a head.
    pub fn sign(&self, head: TreeHead) -> SignedTreeHead {
        let signature: Signature = self.0.sign(&head.signed_message());
        let signature = signature.normalize_s().unwrap_or(signature);
        SignedTreeHead { head, signature }
    }
}

impl std::fmt::Debug for LogKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogKey(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head() -> TreeHead {
        TreeHead {
            size: 1_000_003,
            root: [0xab; 32],
            timestamp: 1_767_225_600_123,
        }
    }

    #[test]
    fn signed_heads_round_trip_and_verify() {
        let key = LogKey::generate();
        let sth = key.sign(head());
        sth.verify(&key.verifying_key()).unwrap();
        let bytes = sth.to_bytes();
        assert_eq!(bytes.len(), 8 + 8 + 1 + 32 + 2 + 2 + 64);
        assert_eq!(SignedTreeHead::from_bytes(&bytes).unwrap(), sth);
        let text = sth.to_text();
        assert_eq!(
            SignedTreeHead::from_text(&format!("{text}\n")).unwrap(),
            sth
        );
        assert_eq!(TreeHead::from_bytes(&head().to_bytes()).unwrap(), head());
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let key = LogKey::generate();
        let bytes = key.sign(head()).to_bytes();
        let vk = key.verifying_key();
        for i in 0..bytes.len() {
            for bit in [0x01u8, 0x80] {
                let mut bad = bytes.clone();
                bad[i] ^= bit;
                // Either it no longer decodes or it no longer verifies.
                if let Ok(sth) = SignedTreeHead::from_bytes(&bad) {
                    assert!(
                        matches!(sth.verify(&vk), Err(LogError::BadSignature)),
                        "byte {i}"
                    );
                }
            }
        }
        let other = LogKey::generate().verifying_key();
        assert!(key.sign(head()).verify(&other).is_err());
    }

    #[test]
    fn malformed_heads_are_refused() {
        let bytes = LogKey::generate().sign(head()).to_bytes();
        for len in 0..bytes.len() {
            assert!(SignedTreeHead::from_bytes(&bytes[..len]).is_err());
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(SignedTreeHead::from_bytes(&longer).is_err());
        assert!(SignedTreeHead::from_text("not base64!").is_err());
        // An extension is refused rather than ignored.
        let mut ext = head().to_bytes();
        let n = ext.len();
        ext[n - 1] = 1;
        assert!(TreeHead::from_bytes(&ext).is_err());
    }

    #[test]
    fn high_s_signatures_are_refused() {
        let sth = LogKey::generate().sign(head());
        let sig = Signature::from_slice(&sth.signature()).unwrap();
        let (r, s) = sig.split_scalars();
        let high = Signature::from_scalars(r, -*s).unwrap();
        let mut bytes = sth.head.to_bytes();
        bytes.extend_from_slice(&64u16.to_be_bytes());
        bytes.extend_from_slice(&high.to_bytes());
        assert!(SignedTreeHead::from_bytes(&bytes).is_err());
    }
}
