//! The host's precomputed multiples of the P-256 generator (the card core's
//! [`BasepointTable`], 19 KB, built once per process in about 2 ms): the counter's signature of
//! the card's challenge and its ephemeral key for the secure-messaging session multiply the
//! generator with it, about 2.5× faster than without ([`juki_card::keys`], the same functions
//! the card uses, byte-identical to the p256 crate's signatures).
//!
//! The CLI calls [`warm_up`] when a counter command starts, so the table is built on the other
//! core while the clerk types the operator's password; a library user that does not gets it at
//! the first counter authentication.

use std::sync::OnceLock;

use juki_card::basepoint::BasepointTable;

static TABLE: OnceLock<Box<BasepointTable>> = OnceLock::new();

/// The table, built at the first call.
pub fn table() -> &'static BasepointTable {
    TABLE.get_or_init(|| Box::new(BasepointTable::new()))
}

/// Builds the table in a background thread (returns at once; a no-op once built).
pub fn warm_up() {
    if TABLE.get().is_none() {
        // Best effort: without the thread the table is built at its first use.
        let _ = std::thread::Builder::new()
            .name("juki-generator-table".into())
            .spawn(|| {
                table();
            });
    }
}
