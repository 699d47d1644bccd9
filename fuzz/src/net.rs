//! Target `net_requests`: the national server's decoding of what a peer sends
//! (`juki_net::api`): the body of `POST /v1/updates` (JSON → validated updates of the
//! authenticated municipality) and of `POST /v1/residents/search`.
//!
//! The whole input goes to both decoders. Invariants: no panic; a batch that decodes has at most
//! `MAX_BATCH` updates, every one of the peer's municipality (never one the request names), with
//! a number from 1; and it encodes and decodes back to the same updates (what the server accepted
//! is what the client sends).

use juki_net::api::{self, decode_search, decode_updates, encode_updates};
use juki_net::register::MunicipalityCode;

/// The target.
pub fn net_requests(data: &[u8]) {
    let peer = MunicipalityCode::parse("131016").expect("千代田区's code");
    if let Ok(updates) = decode_updates(data, &peer) {
        assert!(updates.len() <= api::MAX_BATCH);
        for update in &updates {
            assert_eq!(update.municipality, peer, "the municipality is the peer's");
            assert!(update.seq >= 1);
        }
        let again = decode_updates(&encode_updates(&updates), &peer)
            .expect("an accepted batch, encoded again, decodes");
        assert_eq!(again, updates, "an accepted batch round-trips");
    }
    let _ = decode_search(data);
}

/// The seed corpus: a batch of every kind of update, refused batches, searches.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let info = r#"{"name": "住基 花子", "address": "東京都千代田区千代田1-1", "birth": "1980-04-01", "sex": "female"}"#;
    let code = "12345678903";
    let other = "12345678911";
    let event =
        |e: String, seq: u32| format!(r#"{{"seq": {seq}, "date": "2026-12-01", "event": {e}}}"#);
    let every_kind = [
        format!(r#"{{"kind": "new", "code": "{code}", "info": {info}}}"#),
        format!(r#"{{"kind": "amend", "code": "{code}", "info": {info}}}"#),
        format!(
            r#"{{"kind": "move_within", "code": "{code}", "address": "東京都千代田区永田町1-7-1"}}"#
        ),
        format!(r#"{{"kind": "move_out", "code": "{code}", "to": "271276"}}"#),
        format!(r#"{{"kind": "move_in", "code": "{code}", "info": {info}}}"#),
        format!(r#"{{"kind": "code_change", "old": "{code}", "new": "{other}"}}"#),
        format!(r#"{{"kind": "remove", "code": "{other}"}}"#),
    ]
    .into_iter()
    .zip(1..)
    .map(|(e, seq)| event(e, seq))
    .collect::<Vec<_>>()
    .join(",\n  ");
    vec![
        (
            "updates_every_kind.json",
            format!("{{\"updates\": [\n  {every_kind}\n]}}\n").into_bytes(),
        ),
        ("updates_empty.json", b"{\"updates\": []}\n".to_vec()),
        (
            "updates_unknown_field.json",
            format!(
                "{{\"municipality\": \"271276\", \"updates\": [{}]}}\n",
                event(format!(r#"{{"kind": "remove", "code": "{code}"}}"#), 1)
            )
            .into_bytes(),
        ),
        (
            "search.json",
            r#"{"name": "住基 花子", "birth": "1980-04-01", "sex": "female", "address": "東京都千代田区千代田1-1", "purpose": "年金・恩給の現況確認"}"#
                .as_bytes()
                .to_vec(),
        ),
    ]
}
