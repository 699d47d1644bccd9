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
use juki_net::citizen::{self, DisclosureError};
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
}

impl World {
    fn disclose(
        &self,
        sign: impl FnOnce(&[u8]) -> Result<String, String>,
    ) -> Result<citizen::Disclosure, DisclosureError> {
        citizen::request(
            &self.public,
            &self.dir.path().join("net/ca/ca.pem"),
            &self.key,
            sign,
        )
    }
}

fn world() -> World {
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
    // Resident 1: two provisions; resident 2: one.
    for n in [1, 1, 2] {
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
    // Another CA's certificate for the same key name.
    let rogue = JpkiCa::init(&w.dir.path().join("rogue"), juki_jpki::time::now().unwrap()).unwrap();
    let stranger = holder(&rogue, "JK-D1", Some(code(1).as_str()));
    refused(w.disclose(|c| Ok(stranger.answer(c))), 401, "not accepted");
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
    let r = citizen::request(&w.public, &foreign.path().join("ca.pem"), &w.key, |c| {
        Ok(two.answer(c))
    });
    assert!(matches!(r, Err(DisclosureError::Unreachable(_))), "{r:?}");
    assert!(CaDirectory::open(&w.dir.path().join("jpki")).is_ok());
}

#[test]
fn a_server_that_lies_is_caught_by_the_client() {
    let w = world();
    let one = holder(&w.ca, "JK-L1", Some(code(1).as_str()));
    // The honest answer, as the server's JSON, then altered the ways a lying server could.
    let honest = w.disclose(|c| Ok(one.answer(c))).unwrap();
    let json = juki_net::api::disclosure::DisclosureJson {
        resident: juki_net::api::ResidentJson::from_confirmation(
            &juki_net::register::Confirmation {
                resident: honest.resident.clone(),
                provision: 0,
            },
        ),
        head: honest.head.as_ref().map(|h| juki_net::api::log::HeadJson {
            size: h.head.size,
            root: hex::encode(h.head.root),
            timestamp: h.head.timestamp,
            sth: h.to_text(),
        }),
        provisions: honest
            .provisions
            .iter()
            .map(|p| juki_net::api::disclosure::ProvisionJson {
                index: p.receipt.proof.index,
                record: base64_of(&p.receipt.opening.record.encode().unwrap()),
                salt: hex::encode(p.receipt.opening.salt.0),
                proof: p.receipt.proof.to_text().unwrap(),
            })
            .collect(),
        pending: 0,
    };
    citizen::verify(json.clone(), &w.key).unwrap();
    // A record rewritten (another purpose): its proof fails.
    let mut altered = json.clone();
    let mut record = honest.provisions[0].record.clone();
    record.purpose = "恩給の裁定".into();
    altered.provisions[0].record =
        base64_of(&juki_log::Record::Provision(record).encode().unwrap());
    assert!(matches!(
        citizen::verify(altered, &w.key),
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
        citizen::verify(foreign, &w.key),
        Err(DisclosureError::Proof(_))
    ));
    // A head not signed by the log key.
    let other_key = juki_log::LogKey::generate().verifying_key();
    assert!(matches!(
        citizen::verify(json, &other_key),
        Err(DisclosureError::Proof(_))
    ));
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
