//! 開示請求 through the server's public listener (TLS 1.3, no client certificate) and the real
//! register and log, with a software key standing in for the card (the PC/SC run with a real
//! card is `host/cli/tests/network_pcsc.rs`): the resident sees exactly their own provisions,
//! each verified; refused — an answer relayed from another connection, replayed, from a revoked
//! certificate, from another CA, from a certificate the CA never linked to a resident; and a
//! server answer that lies (another resident's provision, an altered record) is caught by the
//! client.

mod common;

use common::*;
use juki_jpki::auth::{self, Answer};
use juki_jpki::ca::{CaDirectory, CertRequest, JpkiCa, RevocationReason};
use juki_jpki::CertKind;
use juki_net::api::disclosure::{DisclosureJson, ProvisionJson, SinceJson};
use juki_net::citizen::{self, DisclosureError, Seen};
use juki_net::client::NetClient;
use juki_net::local::LocalNetwork;
use juki_net::pki::Role;
use juki_net::provision_log::{load_public_key, LOG_PUB_FILE};
use juki_net::register::Event;
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::SigningKey;

/// A resident's authentication key and certificate, as a card would hold them.
struct Holder {
    key: SigningKey,
    cert: x509_cert::Certificate,
    serial: String,
}

impl Holder {
    fn answer(&self, challenge: &[u8]) -> String {
        let signature = self.key.sign_prehash(&auth::digest(challenge)).unwrap();
        Answer {
            signature,
            certificate: self.cert.clone(),
        }
        .to_pem()
        .unwrap()
    }
}

fn holder(ca: &JpkiCa, card: &str, resident: Option<&str>) -> Holder {
    holder_at(ca, card, resident, juki_jpki::time::now().unwrap())
}

/// A holder whose certificate was issued at `issued` (3 years' validity).
fn holder_at(ca: &JpkiCa, card: &str, resident: Option<&str>, issued: i64) -> Holder {
    let key = SigningKey::random(&mut rand_core::OsRng);
    let four = info("開示 花子", "東京都千代田区1");
    let (record, cert) = ca
        .issue(
            &CertRequest {
                kind: CertKind::Auth,
                card_serial: card,
                resident,
                public_key: key.verifying_key(),
                four_info: &four,
                municipality: "千代田区",
                card_expires: date(2036, 1, 1),
            },
            issued,
        )
        .unwrap();
    Holder {
        key,
        cert,
        serial: record.serial,
    }
}

struct World {
    net: LocalNetwork,
    dir: tempfile::TempDir,
    ca: JpkiCa,
    public: String,
    key: p256::ecdsa::VerifyingKey,
    pension: NetClient,
}

impl World {
    fn disclose(
        &self,
        sign: impl FnOnce(&[u8]) -> Result<String, String>,
    ) -> Result<citizen::Disclosure, DisclosureError> {
        self.disclose_after(&Seen::new(), sign)
    }

    /// A returning client: the answer must agree with what it `seen`.
    fn disclose_after(
        &self,
        seen: &Seen,
        sign: impl FnOnce(&[u8]) -> Result<String, String>,
    ) -> Result<citizen::Disclosure, DisclosureError> {
        citizen::request(
            &self.public,
            &self.dir.path().join("net/ca/ca.pem"),
            &self.key,
            seen,
            sign,
        )
    }

    /// [`rebuild_log_tree`], logged at once; the residents' listener comes back on a new port.
    fn rebuild_tree(&mut self) {
        rebuild_log_tree(&mut self.net);
        self.net.append_log().unwrap();
        self.public = self
            .net
            .serve_residents(&self.dir.path().join("jpki"))
            .unwrap();
    }
}

/// The server's answer for a verified disclosure, as JSON again (to alter it as a lying server
/// would).
fn as_json(d: &citizen::Disclosure) -> DisclosureJson {
    DisclosureJson {
        resident: juki_net::api::ResidentJson::from_confirmation(
            &juki_net::register::Confirmation {
                resident: d.resident.clone(),
                provision: 0,
            },
        ),
        head: d.head.as_ref().map(|h| juki_net::api::log::HeadJson {
            size: h.head.size,
            root: hex::encode(h.head.root),
            timestamp: h.head.timestamp,
            sth: h.to_text(),
        }),
        provisions: d
            .provisions
            .iter()
            .map(|p| ProvisionJson {
                index: p.receipt.proof.index,
                record: base64_of(&p.receipt.opening.record.encode().unwrap()),
                salt: hex::encode(p.receipt.opening.salt.0),
                proof: p.receipt.proof.to_text().unwrap(),
            })
            .collect(),
        pending: 0,
        consistency: Vec::new(),
    }
}

fn world() -> World {
    world_with(&[1, 1, 2])
}

/// Residents 1 and 2, with a provision to 日本年金機構 for each of `provided`, in order.
fn world_with(provided: &[u64]) -> World {
    let dir = tempfile::tempdir().unwrap();
    let mut net = LocalNetwork::start(&dir.path().join("net")).unwrap();
    let ca = JpkiCa::init(&dir.path().join("jpki"), juki_jpki::time::now().unwrap()).unwrap();
    let public = net.serve_residents(&dir.path().join("jpki")).unwrap();
    let node = |name: &str, role: Role| {
        NetClient::from_dir(&net.node(name, &role).unwrap(), &net.address()).unwrap()
    };
    let mut chiyoda = node("chiyoda", Role::Municipality(common::chiyoda()));
    let mut pension = node(
        "pension",
        Role::Agency {
            name: "日本年金機構".into(),
            purposes: vec![PURPOSE.into()],
        },
    );
    let updates: Vec<_> = (1..=2)
        .map(|n| {
            update(
                &common::chiyoda(),
                n,
                Event::New {
                    code: code(n),
                    info: info(&format!("開示 {n}"), "東京都千代田区1"),
                },
            )
        })
        .collect();
    chiyoda.send_updates(&updates).unwrap();
    for &n in provided {
        pension.confirm(&code(n), PURPOSE).unwrap();
    }
    net.append_log().unwrap();
    let key = load_public_key(&net.server_dir().join(LOG_PUB_FILE)).unwrap();
    World {
        net,
        dir,
        ca,
        public,
        key,
        pension,
    }
}

#[test]
fn a_resident_sees_exactly_their_own_provisions_and_nothing_else_gets_in() {
    let w = world();
    let one = holder(&w.ca, "JK-D1", Some(code(1).as_str()));
    let two = holder(&w.ca, "JK-D2", Some(code(2).as_str()));
    let d = w.disclose(|c| Ok(one.answer(c))).unwrap();
    assert_eq!(d.resident.code, code(1));
    assert_eq!(d.provisions.len(), 2);
    assert!(d
        .provisions
        .iter()
        .all(|p| p.record.resident == code(1).as_str() && p.record.purpose == PURPOSE));
    assert_eq!(d.pending, 0);
    let d = w.disclose(|c| Ok(two.answer(c))).unwrap();
    assert_eq!((d.resident.code.clone(), d.provisions.len()), (code(2), 1));
    // The disclosure is not a provision: nothing new was recorded.
    assert_eq!(
        w.net
            .block_on(w.net.register().provisions_of(&code(1)))
            .unwrap()
            .len(),
        2
    );

    let refused = |r: Result<citizen::Disclosure, DisclosureError>, status: u16, text: &str| match r
    {
        Err(DisclosureError::Refused { status: s, message }) if s == status => {
            assert!(message.contains(text), "{message}")
        }
        other => panic!("expected {status} ({text}), got {other:?}"),
    };
    // Relayed: the card signed for another connection (another binding).
    refused(
        w.disclose(|c| {
            let mut other = c.to_vec();
            let n = other.len();
            other[n - 1] ^= 1;
            Ok(one.answer(&other))
        }),
        401,
        "not accepted",
    );
    // Replayed: an answer that was accepted once, presented again.
    let mut kept = String::new();
    w.disclose(|c| {
        kept = one.answer(c);
        Ok(kept.clone())
    })
    .unwrap();
    refused(w.disclose(|_| Ok(kept.clone())), 401, "not accepted");
    // Another CA's certificate for the same card and resident: not what the JPKI CA issued.
    let rogue = JpkiCa::init(&w.dir.path().join("rogue"), juki_jpki::time::now().unwrap()).unwrap();
    let stranger = holder(&rogue, "JK-D1", Some(code(1).as_str()));
    refused(w.disclose(|c| Ok(stranger.answer(c))), 401, "no record");
    // The genuine certificate with a key of the attacker's (the card's key is not theirs).
    let thief = Holder {
        key: SigningKey::random(&mut rand_core::OsRng),
        cert: one.cert.clone(),
        serial: one.serial.clone(),
    };
    refused(w.disclose(|c| Ok(thief.answer(c))), 401, "not accepted");
    // A certificate forged from the genuine one with the attacker's key (its serial the
    // victim's, the CA's signature now wrong): not the certificate the CA recorded.
    let mut forged = one.cert.clone();
    let spki = p256::pkcs8::EncodePublicKey::to_public_key_der(thief.key.verifying_key()).unwrap();
    forged.tbs_certificate.subject_public_key_info =
        x509_cert::der::Decode::from_der(spki.as_bytes()).unwrap();
    let forger = Holder {
        cert: forged,
        ..thief
    };
    refused(
        w.disclose(|c| Ok(forger.answer(c))),
        401,
        "not the authentication certificate the CA recorded",
    );
    // Expired: issued four years ago for three.
    let old = holder_at(
        &w.ca,
        "JK-D4",
        Some(code(1).as_str()),
        juki_jpki::time::now().unwrap() - 4 * 365 * 86_400,
    );
    refused(w.disclose(|c| Ok(old.answer(c))), 401, "expired");
    // A certificate the CA issued before it recorded subscribers.
    let unlinked = holder(&w.ca, "JK-D3", None);
    refused(w.disclose(|c| Ok(unlinked.answer(c))), 403, "issued again");
    // Revoked (the card suspended): refused at once, from the CA's records.
    w.ca.revoke(
        &one.serial,
        RevocationReason::Suspended,
        juki_jpki::time::now().unwrap(),
    )
    .unwrap();
    refused(w.disclose(|c| Ok(one.answer(c))), 401, "revoked");
    // Malformed: a clear 400.
    refused(w.disclose(|_| Ok("not an answer".into())), 400, "answer");
    // The server's certificate must be the network's.
    let foreign = tempfile::tempdir().unwrap();
    juki_net::pki::NetworkCa::init(foreign.path(), juki_net::pki::now()).unwrap();
    let r = citizen::request(
        &w.public,
        &foreign.path().join("ca.pem"),
        &w.key,
        &Seen::new(),
        |c| Ok(two.answer(c)),
    );
    assert!(matches!(r, Err(DisclosureError::Unreachable(_))), "{r:?}");
    assert!(CaDirectory::open(&w.dir.path().join("jpki")).is_ok());
}

#[test]
fn a_server_that_lies_is_caught_by_the_client() {
    let w = world();
    let one = holder(&w.ca, "JK-L1", Some(code(1).as_str()));
    // The honest answer, as the server's JSON, then altered the ways a lying server could.
    let honest = w.disclose(|c| Ok(one.answer(c))).unwrap();
    let json = as_json(&honest);
    citizen::verify(json.clone(), &w.key, &Seen::new()).unwrap();
    // A record rewritten (another purpose): its proof fails.
    let mut altered = json.clone();
    let mut record = honest.provisions[0].record.clone();
    record.purpose = "恩給の裁定".into();
    altered.provisions[0].record =
        base64_of(&juki_log::Record::Provision(record).encode().unwrap());
    assert!(matches!(
        citizen::verify(altered, &w.key, &Seen::new()),
        Err(DisclosureError::Proof(_))
    ));
    // Another resident's provision slipped in.
    let logged2 = w
        .net
        .block_on(w.net.log().provisions_of(code(2).as_str()))
        .unwrap();
    let mut foreign = json.clone();
    foreign
        .provisions
        .push(juki_net::api::disclosure::ProvisionJson {
            index: logged2[0].index,
            record: base64_of(&logged2[0].opening.record.encode().unwrap()),
            salt: hex::encode(logged2[0].opening.salt.0),
            proof: foreign.provisions[0].proof.clone(),
        });
    assert!(matches!(
        citizen::verify(foreign, &w.key, &Seen::new()),
        Err(DisclosureError::Proof(_))
    ));
    // A head not signed by the log key.
    let other_key = juki_log::LogKey::generate().verifying_key();
    assert!(matches!(
        citizen::verify(json, &other_key, &Seen::new()),
        Err(DisclosureError::Proof(_))
    ));
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn the_residents_chain_shows_a_provision_withheld_or_deleted() {
    // Leaves: 0 resident 1 (first), 1 resident 2, 2 resident 1 (after 0), 3 resident 1 (after 2).
    let w = world_with(&[1, 2, 1, 1]);
    let one = holder(&w.ca, "JK-C1", Some(code(1).as_str()));
    let honest = w.disclose(|c| Ok(one.answer(c))).unwrap();
    let chain: Vec<(u64, Option<u64>)> = honest
        .provisions
        .iter()
        .map(|p| (p.receipt.proof.index, p.record.previous))
        .collect();
    assert_eq!(chain, [(0, None), (2, Some(0)), (3, Some(2))]);
    let json = as_json(&honest);
    let refused_proof =
        |json: DisclosureJson, seen: &Seen| match citizen::verify(json, &w.key, seen) {
            Err(DisclosureError::Proof(m)) => m,
            other => panic!("a withheld provision was not caught: {other:?}"),
        };
    // Withheld from the answer, first or in the middle: the next one names it.
    for gap in [0, 1] {
        let mut withheld = json.clone();
        withheld.provisions.remove(gap);
        assert!(refused_proof(withheld, &Seen::new()).contains("missing"));
    }
    // Reordered: each names the one before it.
    let mut reordered = json.clone();
    reordered.provisions.swap(1, 2);
    refused_proof(reordered, &Seen::new());
    // Withheld at the newest end: a client with no history cannot tell (the monitors can) —
    // a client that was shown it before can.
    let mut tail = json.clone();
    tail.provisions.pop();
    citizen::verify(tail.clone(), &w.key, &Seen::new()).unwrap();
    let mut seen = Seen::new();
    seen.remember(&honest);
    match citizen::verify(tail, &w.key, &seen) {
        Err(DisclosureError::Log(m)) => assert!(m.contains("leaf 3"), "{m}"),
        other => panic!("a provision shown before and now withheld was not caught: {other:?}"),
    }

    // The same through the real server, the rows deleted in PostgreSQL.
    w.net
        .sql("DELETE FROM provision WHERE leaf_index = 3")
        .unwrap();
    match w.disclose_after(&seen, |c| Ok(one.answer(c))) {
        Err(DisclosureError::Log(m)) => assert!(m.contains("leaf 3"), "{m}"),
        other => panic!("a deleted provision shown before was not caught: {other:?}"),
    }
    w.net
        .sql("DELETE FROM provision WHERE leaf_index = 0")
        .unwrap();
    match w.disclose(|c| Ok(one.answer(c))) {
        Err(DisclosureError::Proof(m)) => assert!(m.contains("leaf 0"), "{m}"),
        other => panic!("a deleted provision was not caught: {other:?}"),
    }
}

#[test]
fn a_forked_or_rolled_back_log_is_caught_by_a_client_that_saw_a_head_or_was_given_one() {
    let mut w = world();
    let one = holder(&w.ca, "JK-F1", Some(code(1).as_str()));
    let two = holder(&w.ca, "JK-F2", Some(code(2).as_str()));
    // Client A sees the log at size 3; the log grows and A's next answer proves it grew from
    // what A saw.
    let first = w.disclose(|c| Ok(one.answer(c))).unwrap();
    let seen_head = first.head.clone().unwrap();
    assert_eq!(seen_head.head.size, 3);
    let mut a = Seen::new();
    a.remember(&first);
    w.pension.confirm(&code(2), PURPOSE).unwrap();
    w.net.append_log().unwrap();
    let grown = w.disclose_after(&a, |c| Ok(one.answer(c))).unwrap();
    assert_eq!(grown.head.as_ref().unwrap().head.size, 4);
    a.remember(&grown);

    // A server that answers without the consistency proof, or with one for another tree.
    let mut json = as_json(&grown);
    let mut older = Seen::new();
    older.witness(seen_head.clone());
    let log_refused = |json: DisclosureJson, seen: &Seen| {
        assert!(
            matches!(
                citizen::verify(json, &w.key, seen),
                Err(DisclosureError::Log(_))
            ),
            "not refused"
        )
    };
    log_refused(json.clone(), &older);
    let proof = w
        .net
        .block_on(w.net.log().consistency(2, 4))
        .unwrap()
        .to_text()
        .unwrap();
    json.consistency = vec![SinceJson { size: 3, proof }];
    log_refused(json, &older);

    // The server rebuilds its tree: the same size, another root. A sees the fork at once.
    w.rebuild_tree();
    match w.disclose_after(&a, |c| Ok(one.answer(c))) {
        Err(DisclosureError::Log(m)) => assert!(m.contains("another tree"), "{m}"),
        other => panic!("a fork was not caught: {other:?}"),
    }
    // Client B, who never saw the log, believes the fork alone; given A's head (a witness),
    // it does not — at the same size, and after the fork grew.
    let b = w.disclose(|c| Ok(two.answer(c))).unwrap();
    assert_eq!(b.head.as_ref().unwrap().head.size, 4);
    let mut witnessed = Seen::new();
    witnessed.witness(a.heads()[0].clone());
    assert!(matches!(
        w.disclose_after(&witnessed, |c| Ok(two.answer(c))),
        Err(DisclosureError::Log(_))
    ));
    w.pension.confirm(&code(1), PURPOSE).unwrap();
    w.net.append_log().unwrap();
    match w.disclose_after(&witnessed, |c| Ok(two.answer(c))) {
        Err(DisclosureError::Log(m)) => assert!(m.contains("size 4"), "{m}"),
        other => panic!("a grown fork was not caught: {other:?}"),
    }

    // Rolled back: the newest leaf and its head removed, an older head served again.
    let at5 = w.disclose(|c| Ok(two.answer(c))).unwrap();
    assert_eq!(at5.head.as_ref().unwrap().head.size, 5);
    let mut b_seen = Seen::new();
    b_seen.remember(&at5);
    w.net.stop_server();
    w.net
        .sql(
            "DELETE FROM log_head WHERE size > 4; \
         DELETE FROM log_node WHERE (idx + 1) * (1 << level) > 4; \
         DELETE FROM provision WHERE leaf_index >= 4;",
        )
        .unwrap();
    w.net.start_server().unwrap();
    w.public = w.net.serve_residents(&w.dir.path().join("jpki")).unwrap();
    let rolled = w.disclose(|c| Ok(two.answer(c))).unwrap();
    assert_eq!(rolled.head.as_ref().unwrap().head.size, 4);
    match w.disclose_after(&b_seen, |c| Ok(two.answer(c))) {
        Err(DisclosureError::Log(m)) => assert!(m.contains("only 4 leaves"), "{m}"),
        other => panic!("a rolled-back log was not caught: {other:?}"),
    }
}

#[test]
fn the_state_file_is_private_and_carries_what_was_seen() {
    let w = world();
    let one = holder(&w.ca, "JK-S1", Some(code(1).as_str()));
    let d = w.disclose(|c| Ok(one.answer(c))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state/juki/disclosure.json");
    assert_eq!(
        Seen::load(&file).unwrap(),
        Seen::new(),
        "no file: nothing seen"
    );
    let mut seen = Seen::new();
    seen.remember(&d);
    seen.save(&file).unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(file.parent().unwrap()), 0o700);
    let loaded = Seen::load(&file).unwrap();
    assert_eq!(loaded, seen);
    assert_eq!(loaded.last_leaf(code(1).as_str()), Some(1));
    assert_eq!(loaded.sizes(), [3]);
    // Garbage, or another version: refused, never taken as "nothing seen".
    std::fs::write(&file, "{}").unwrap();
    assert!(Seen::load(&file).is_err());
    std::fs::write(&file, r#"{"version":2}"#).unwrap();
    assert!(Seen::load(&file).is_err());
}
