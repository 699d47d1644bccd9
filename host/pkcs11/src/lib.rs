//! juki's PKCS#11 module (`libjuki_pkcs11.so`): the JPKI AP of a juki card in a PC/SC reader as
//! two read-only tokens, for software written by others (OpenSC's pkcs11-tool, NSS, OpenSSL
//! through libp11, OpenSSH's `ssh -I`). docs/pkcs11.md tells what a consumer sees.
//!
//! - Slots: two per PC/SC reader, `2i` the authentication token (利用者証明用, PIN = the auth
//!   PIN) and `2i + 1` the signing token (署名用, PIN = the sign password).
//! - Objects: the certificates, the CA certificates, the EC P-256 public keys and private keys
//!   that sign on the card (`CKM_ECDSA`, `CKM_ECDSA_SHA256`).
//!
//! `ffi` holds the C ABI and all the `unsafe`; `token` the state and logic, in safe Rust.

mod der;
mod ffi;
mod token;
