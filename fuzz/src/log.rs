//! Target `log_answers`: what the provision log's clients decode from a hostile server — the
//! canonical records, signed tree heads and proofs of `juki_log` (bytes and text), a witness's
//! and an auditor's checks of two heads (`juki_log::{Witness, audit}`), and the resident's check
//! of a 開示請求 answer (`juki_net::citizen::verify`).
//!
//! The input goes whole to every decoder (`Record::decode`, `SignedTreeHead::from_bytes`,
//! `InclusionProof::from_bytes`, `ConsistencyProof::from_bytes`, and as UTF-8 to the `from_text`
//! of each) and, as JSON, to `DisclosureJson` and `citizen::verify` with the fixture's log key
//! against three [`Seen`]s: empty, witnessing the fixture's head of size [`SEEN_SIZE`], and
//! remembering resident A's disclosure at that size. An input of at least two signed heads
//! (`STH_LEN` bytes each) is also read as head a ‖ head b ‖ a consistency proof (none if empty)
//! for `audit` and a `Witness` that observes a then b.
//!
//! The fixture's log key signs only heads of the fixture's tree ([`Fixture`]), and the fuzzer
//! cannot sign: so a head that verifies is the fixture's tree at its size, and whatever a proof
//! proves against it must be the fixture's. Invariants:
//!
//! - no panic;
//! - whatever decodes encodes back to the same bytes (the text forms to the trimmed text);
//! - an inclusion or consistency proof that verifies against the fixture's roots is the
//!   fixture's own proof (the proof of a leaf or between two sizes is unique);
//! - `audit` and the witness agree; what they accept is signed heads of the fixture's tree, in
//!   order of size and time;
//! - an answer `verify` accepts has the fixture's head, every provision's receipt verifies
//!   (`Receipt::verify`), opens the fixture's leaf at its index, is the resident's and chains
//!   to the one before; what it accepts against a `Seen` it accepts against an empty one, and
//!   its head is never smaller than one seen.

use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use juki_log::monitor::Observed;
use juki_log::{
    audit, AuditAnchor, ConsistencyProof, FieldSet, InclusionProof, LogError, LogKey, MemoryStore,
    Opening, ProvisionRecord, QueryKind, Record, Salt, SignedTreeHead, Tree, TreeHead, Witness,
};
use juki_net::api::disclosure::{DisclosureJson, ProvisionJson, SinceJson};
use juki_net::api::log::HeadJson;
use juki_net::api::ResidentJson;
use juki_net::citizen::{self, Disclosure, Seen};
use p256::ecdsa::{SigningKey, VerifyingKey};

/// The length of a signed head's bytes (`SignedTreeHead::to_bytes`).
pub const STH_LEN: usize = 8 + 8 + 1 + 32 + 2 + 2 + 64;
/// Resident A's 住民票コード: three provisions in the fixture's log.
pub const RESIDENT_A: &str = "12345678903";
/// Resident B's: one provision.
pub const RESIDENT_B: &str = "12345678911";
/// The size of the head the second and third [`Seen`] hold.
pub const SEEN_SIZE: u64 = 3;

/// The log the fuzzer's answers are about: a fixed key, fixed openings (salts included) and the
/// tree of their leaves. Leaves: 0 A's first provision, 1 an audit anchor, 2 B's first, 3 A's
/// second (after 0), 4 an anchor, 5 A's third (after 3).
pub struct Fixture {
    /// The log key (from a fixed scalar).
    pub key: LogKey,
    /// Its public key.
    pub verifying: VerifyingKey,
    /// Leaf i's record and salt.
    pub openings: Vec<Opening>,
    /// The tree of their leaves.
    pub tree: Tree<MemoryStore>,
    /// The [`Seen`]s each answer is checked against.
    pub seens: [Seen; 3],
}

fn provision(id: u64, resident: &str, previous: Option<u64>) -> Record {
    Record::Provision(ProvisionRecord {
        id,
        resident: resident.into(),
        at: 1_767_225_600 + id as i64 * 60,
        agency: "日本年金機構".into(),
        requester: "CN=nenkin-01, serial 0a1b".into(),
        purpose: "年金給付".into(),
        query: if id % 2 == 1 {
            QueryKind::Code
        } else {
            QueryKind::FourInfo
        },
        fields: FieldSet::ALL,
        previous,
    })
}

fn anchor(count: u64) -> Record {
    Record::AuditAnchor(AuditAnchor {
        municipality: "131016".into(),
        head: [count as u8; 32],
        count,
        at: 1_767_225_600 + count as i64,
    })
}

impl Fixture {
    fn new() -> Fixture {
        let signing = SigningKey::from_bytes(&[0x5a; 32].into()).expect("a valid scalar");
        let key = LogKey::from_signing_key(signing);
        let records = [
            provision(1, RESIDENT_A, None),
            anchor(10),
            provision(2, RESIDENT_B, None),
            provision(3, RESIDENT_A, Some(0)),
            anchor(20),
            provision(5, RESIDENT_A, Some(3)),
        ];
        let openings: Vec<Opening> = records
            .into_iter()
            .zip(1u8..)
            .map(|(record, i)| Opening {
                record,
                salt: Salt([i; 32]),
            })
            .collect();
        let mut tree = Tree::open(MemoryStore::new()).expect("an empty tree");
        for o in &openings {
            tree.append(o.leaf().expect("a valid record").hash())
                .expect("appended");
        }
        let mut fixture = Fixture {
            verifying: key.verifying_key(),
            key,
            openings,
            tree,
            seens: Default::default(),
        };
        let mut witnessed = Seen::new();
        witnessed.witness(fixture.head(SEEN_SIZE));
        let mut remembered = Seen::new();
        let shown = citizen::verify(
            fixture.answer(RESIDENT_A, SEEN_SIZE, &[]),
            &fixture.verifying,
            &remembered,
        )
        .expect("the fixture's own answer verifies");
        remembered.remember(&shown);
        fixture.seens = [Seen::new(), witnessed, remembered];
        fixture
    }

    /// The signed head of the tree at `size` (a later time for a larger tree).
    pub fn head(&self, size: u64) -> SignedTreeHead {
        self.key.sign(TreeHead {
            size,
            root: self.tree.root_at(size).expect("a size of the tree"),
            timestamp: 1_767_225_600_000 + size * 1000,
        })
    }

    /// The honest answer to `resident`'s 開示請求 at tree size `size` (none: the empty log),
    /// with a consistency proof from each of `since`.
    pub fn answer(&self, resident: &str, size: u64, since: &[u64]) -> DisclosureJson {
        let head = (size > 0).then(|| {
            let sth = self.head(size);
            HeadJson {
                size,
                root: hex::encode(sth.head.root),
                timestamp: sth.head.timestamp,
                sth: sth.to_text(),
            }
        });
        let provisions = (0..size)
            .zip(&self.openings)
            .filter(|(_, o)| matches!(&o.record, Record::Provision(p) if p.resident == resident))
            .map(|(index, o)| ProvisionJson {
                index,
                record: B64.encode(o.record.encode().expect("a valid record")),
                salt: hex::encode(o.salt.0),
                proof: self
                    .tree
                    .inclusion_proof(index, size)
                    .and_then(|p| p.to_text())
                    .expect("a leaf of the tree"),
            })
            .collect();
        let consistency = since
            .iter()
            .map(|&old| SinceJson {
                size: old,
                proof: self
                    .tree
                    .consistency_proof(old, size)
                    .and_then(|p| p.to_text())
                    .expect("two sizes of the tree"),
            })
            .collect();
        DisclosureJson {
            resident: ResidentJson {
                code: resident.into(),
                name: "住基 花子".into(),
                birth: "1980-04-01".into(),
                sex: "female".into(),
                address: "東京都千代田区千代田1-1".into(),
                municipality: "131016".into(),
                status: "registered".into(),
                moving_to: None,
                replaced_by: None,
                changed_on: "2026-12-01".into(),
                provision: 0,
            },
            head,
            provisions,
            pending: 0,
            consistency,
        }
    }

    /// The head verifies with the fixture's key: it must be one the fixture signed.
    fn assert_signed_here(&self, head: &SignedTreeHead) {
        assert!(
            head.head.size <= self.tree.size()
                && self.tree.root_at(head.head.size).ok() == Some(head.head.root),
            "a head verified under the log key is not the fixture's tree: {}",
            head.head
        );
    }
}

/// The fixture, made once per process.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(Fixture::new)
}

/// The target.
pub fn log_answers(data: &[u8]) {
    let f = fixture();
    decoders(f, data);
    if data.len() >= 2 * STH_LEN {
        witness_and_audit(f, data);
    }
    if let Ok(answer) = serde_json::from_slice::<DisclosureJson>(data) {
        disclosure(f, answer);
    }
}

/// Every decoder on the whole input: canonical forms, and proofs checked against the fixture.
fn decoders(f: &Fixture, data: &[u8]) {
    if let Ok(record) = Record::decode(data) {
        assert_eq!(record.encode().expect("a decoded record encodes"), data);
    }
    if let Ok(head) = SignedTreeHead::from_bytes(data) {
        assert_eq!(
            head.to_bytes(),
            data,
            "a signed head re-encodes to its bytes"
        );
        signed_head(f, &head);
    }
    if let Ok(proof) = InclusionProof::from_bytes(data) {
        assert_eq!(proof.to_bytes().expect("encodes"), data);
        inclusion(f, &proof);
    }
    if let Ok(proof) = ConsistencyProof::from_bytes(data) {
        assert_eq!(proof.to_bytes().expect("encodes"), data);
        consistency(f, &proof);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(head) = SignedTreeHead::from_text(text) {
        assert_eq!(
            head.to_text(),
            text.trim(),
            "a signed head's text is canonical"
        );
        signed_head(f, &head);
    }
    if let Ok(proof) = InclusionProof::from_text(text) {
        assert_eq!(proof.to_text().expect("encodes"), text.trim());
        inclusion(f, &proof);
    }
    if let Ok(proof) = ConsistencyProof::from_text(text) {
        assert_eq!(proof.to_text().expect("encodes"), text.trim());
        consistency(f, &proof);
    }
}

fn signed_head(f: &Fixture, head: &SignedTreeHead) {
    if head.verify(&f.verifying).is_ok() {
        f.assert_signed_here(head);
    }
}

/// A proof for sizes of the fixture's tree that verifies is the tree's own proof.
fn inclusion(f: &Fixture, proof: &InclusionProof) {
    let (Some(opening), Ok(root)) = (
        f.openings.get(proof.index as usize),
        f.tree.root_at(proof.size),
    ) else {
        return;
    };
    let leaf = opening.leaf().expect("a valid record").hash();
    let verified = proof.verify(&leaf, &root).is_ok();
    assert_own(proof, verified, "inclusion", || {
        f.tree.inclusion_proof(proof.index, proof.size)
    });
}

fn consistency(f: &Fixture, proof: &ConsistencyProof) {
    let (Ok(old), Ok(new)) = (
        f.tree.root_at(proof.old_size),
        f.tree.root_at(proof.new_size),
    ) else {
        return;
    };
    let verified = proof.verify(&old, &new).is_ok();
    assert_own(proof, verified, "consistency", || {
        f.tree.consistency_proof(proof.old_size, proof.new_size)
    });
}

/// A proof that verified against the fixture's hashes is the one the fixture's tree makes.
fn assert_own<P: PartialEq + std::fmt::Debug>(
    proof: &P,
    verified: bool,
    what: &str,
    own: impl FnOnce() -> juki_log::Result<P>,
) {
    if verified {
        assert_eq!(
            Some(proof),
            own().as_ref().ok(),
            "a forged {what} proof verifies"
        );
    }
}

/// head a ‖ head b ‖ consistency proof: the auditor and a witness agree, and accept only the
/// fixture's heads in order.
fn witness_and_audit(f: &Fixture, data: &[u8]) {
    let (Ok(a), Ok(b)) = (
        SignedTreeHead::from_bytes(&data[..STH_LEN]),
        SignedTreeHead::from_bytes(&data[STH_LEN..2 * STH_LEN]),
    ) else {
        return;
    };
    let rest = &data[2 * STH_LEN..];
    let proof = match rest {
        [] => None,
        bytes => match ConsistencyProof::from_bytes(bytes) {
            Ok(p) => Some(p),
            Err(_) => return,
        },
    };
    let key = f.verifying;
    let audited = audit(&key, &a, &b, proof.as_ref());
    let mut witness = Witness::new(key);
    let first = witness.observe(&a, None);
    assert_eq!(
        first.is_ok(),
        Witness::resume(key, a.clone()).is_ok(),
        "a witness's first head is the one it can resume from"
    );
    let Ok(first) = first else {
        assert!(witness.latest().is_none(), "a refused head is not kept");
        assert!(
            audited.is_err(),
            "audit accepted a head the witness refused"
        );
        return;
    };
    assert_eq!(first, Observed::First);
    f.assert_signed_here(&a);
    let second = witness.observe(&b, proof.as_ref());
    match &second {
        Ok(observed) => {
            f.assert_signed_here(&b);
            assert_eq!(witness.latest(), Some(&b));
            assert!(b.head.timestamp >= a.head.timestamp, "time went backwards");
            let expected = if a.head.size == b.head.size {
                Observed::Same
            } else {
                Observed::Advanced {
                    from: a.head.size,
                    to: b.head.size,
                }
            };
            assert_eq!(*observed, expected);
        }
        Err(_) => assert_eq!(witness.latest(), Some(&a), "a refused head is not kept"),
    }
    if a.head.size <= b.head.size {
        assert_eq!(
            audited.is_ok(),
            second.is_ok(),
            "audit and the witness disagree: {audited:?}, {second:?}"
        );
    } else {
        assert!(
            b.verify(&key).is_err() || matches!(second, Err(LogError::OlderSize { .. })),
            "a witness took a smaller head: {second:?}"
        );
        let reversed = audit(&key, &b, &a, proof.as_ref());
        assert_eq!(
            audited.is_ok(),
            reversed.is_ok(),
            "audit depends on the order"
        );
    }
}

/// The resident's check of an answer, against each [`Seen`].
fn disclosure(f: &Fixture, answer: DisclosureJson) {
    let results: Vec<Option<Disclosure>> = f
        .seens
        .iter()
        .map(|seen| citizen::verify(answer.clone(), &f.verifying, seen).ok())
        .collect();
    for (seen, result) in f.seens.iter().zip(&results) {
        let Some(d) = result else {
            continue;
        };
        assert!(
            results[0].is_some(),
            "an answer accepted against what was seen is refused against nothing seen"
        );
        accepted(f, d, seen);
    }
}

/// What `verify` accepted is the fixture's log, and the resident's.
fn accepted(f: &Fixture, d: &Disclosure, seen: &Seen) {
    if let Some(head) = &d.head {
        f.assert_signed_here(head);
    }
    let size = d.head.as_ref().map_or(0, |h| h.head.size);
    for old in seen.heads() {
        assert!(
            old.head.size <= size,
            "a disclosure smaller than a head seen"
        );
    }
    if let Some(last) = seen.last_leaf(d.resident.code.as_str()) {
        assert!(
            d.provisions.iter().any(|p| p.receipt.proof.index == last),
            "a provision shown before is missing"
        );
    }
    let mut previous = None;
    for p in &d.provisions {
        let receipt = &p.receipt;
        if let Err(e) = receipt.verify(&f.verifying) {
            panic!(
                "an accepted provision's receipt does not verify (leaf {}): {e}",
                receipt.proof.index
            );
        }
        assert_eq!(
            Some(&receipt.head),
            d.head.as_ref(),
            "a receipt of another head"
        );
        assert_eq!(receipt.opening.record, Record::Provision(p.record.clone()));
        assert_eq!(p.record.resident, d.resident.code.as_str());
        assert_eq!(
            f.openings.get(receipt.proof.index as usize),
            Some(&receipt.opening),
            "an accepted provision is not the log's leaf {}",
            receipt.proof.index
        );
        assert_eq!(p.record.previous, previous, "the chain has a gap");
        previous = Some(receipt.proof.index);
    }
}

/// The seed corpus: canonical records of both kinds, signed heads and proofs (bytes and text),
/// two heads with the proof between them for the witness, and honest answers that verify.
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let f = fixture();
    let size = f.tree.size();
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |name: String, data: Vec<u8>| out.push((name, data));
    for (i, o) in f.openings.iter().enumerate().take(4) {
        let kind = match &o.record {
            Record::Provision(p) if p.previous.is_some() => "provision_chained",
            Record::Provision(_) => "provision_first",
            Record::AuditAnchor(_) => "anchor",
        };
        add(
            format!("record_{i}_{kind}.bin"),
            o.record.encode().expect("a valid record"),
        );
    }
    for s in [SEEN_SIZE, size] {
        add(format!("head_{s}.bin"), f.head(s).to_bytes());
    }
    add(
        format!("head_{size}.txt"),
        f.head(size).to_text().into_bytes(),
    );
    let inclusion = |i| f.tree.inclusion_proof(i, size).expect("a leaf");
    let consistency = f
        .tree
        .consistency_proof(SEEN_SIZE, size)
        .expect("two sizes");
    add(
        format!("inclusion_0_{size}.bin"),
        inclusion(0).to_bytes().expect("encodes"),
    );
    add(
        format!("inclusion_3_{size}.txt"),
        inclusion(3).to_text().expect("encodes").into_bytes(),
    );
    add(
        format!("consistency_{SEEN_SIZE}_{size}.bin"),
        consistency.to_bytes().expect("encodes"),
    );
    add(
        format!("consistency_{SEEN_SIZE}_{size}.txt"),
        consistency.to_text().expect("encodes").into_bytes(),
    );
    let (old, new) = (f.head(SEEN_SIZE).to_bytes(), f.head(size).to_bytes());
    add(
        format!("witness_{SEEN_SIZE}_{size}.bin"),
        [&old[..], &new, &consistency.to_bytes().expect("encodes")].concat(),
    );
    add(
        format!("witness_{size}_{size}.bin"),
        [&new[..], &new].concat(),
    );
    let json = |a: DisclosureJson| serde_json::to_vec(&a).expect("JSON");
    add(
        format!("answer_a_{size}.json"),
        json(f.answer(RESIDENT_A, size, &[SEEN_SIZE])),
    );
    add(
        format!("answer_a_{SEEN_SIZE}.json"),
        json(f.answer(RESIDENT_A, SEEN_SIZE, &[])),
    );
    add(
        format!("answer_b_{size}.json"),
        json(f.answer(RESIDENT_B, size, &[SEEN_SIZE])),
    );
    add(
        "answer_empty_log.json".into(),
        json(f.answer(RESIDENT_A, 0, &[])),
    );
    out
}
