//! Witnesses, the auditor and residents' receipts over a real log.

use juki_log::monitor::Observed;
use juki_log::{
    audit, AuditAnchor, FieldSet, LogError, LogKey, MemoryStore, Opening, ProvisionRecord,
    QueryKind, Receipt, SignedTreeHead, Tree, TreeHead, Witness,
};

fn provision(id: u64) -> ProvisionRecord {
    ProvisionRecord {
        id,
        resident: format!("{:011}", 10_000_000_000 + id),
        at: 1_767_225_600 + id as i64,
        agency: "日本年金機構".into(),
        requester: "CN=nenkin-01".into(),
        purpose: "年金給付".into(),
        query: QueryKind::Code,
        fields: FieldSet::ALL,
        previous: id.checked_sub(1),
    }
}

struct Log {
    key: LogKey,
    tree: Tree<MemoryStore>,
    openings: Vec<Opening>,
}

impl Log {
    fn new() -> Self {
        Log {
            key: LogKey::generate(),
            tree: Tree::open(MemoryStore::new()).unwrap(),
            openings: Vec::new(),
        }
    }

    fn append(&mut self, count: u64) {
        for _ in 0..count {
            let opening = if self.openings.len() % 10 == 9 {
                Opening::new(AuditAnchor {
                    municipality: "131016".into(),
                    head: [self.openings.len() as u8; 32],
                    count: self.openings.len() as u64,
                    at: 1_767_225_600,
                })
            } else {
                Opening::new(provision(self.openings.len() as u64))
            };
            self.tree.append(opening.leaf().unwrap().hash()).unwrap();
            self.openings.push(opening);
        }
    }

    fn head(&self, timestamp: u64) -> SignedTreeHead {
        self.key.sign(TreeHead {
            size: self.tree.size(),
            root: self.tree.root(),
            timestamp,
        })
    }
}

#[test]
fn a_witness_follows_an_honest_log() {
    let mut log = Log::new();
    let mut witness = Witness::new(log.key.verifying_key());
    log.append(5);
    assert_eq!(
        witness.observe(&log.head(1000), None).unwrap(),
        Observed::First
    );
    for (step, count) in [1u64, 7, 50, 3].into_iter().enumerate() {
        let old = witness.latest().unwrap().head.size;
        log.append(count);
        let new = log.head(2000 + step as u64);
        let proof = log.tree.consistency_proof(old, new.head.size).unwrap();
        let observed = witness.observe(&new, Some(&proof)).unwrap();
        assert_eq!(
            observed,
            Observed::Advanced {
                from: old,
                to: new.head.size
            }
        );
    }
    // Re-signed later, same tree.
    let again = log.head(9000);
    assert_eq!(witness.observe(&again, None).unwrap(), Observed::Same);
    assert_eq!(witness.latest().unwrap().head.timestamp, 9000);
    // A witness resumes from the head it kept, as text.
    let kept = SignedTreeHead::from_text(&witness.latest().unwrap().to_text()).unwrap();
    let resumed = Witness::resume(log.key.verifying_key(), kept).unwrap();
    assert_eq!(resumed.latest(), witness.latest());
    assert!(Witness::resume(LogKey::generate().verifying_key(), again).is_err());
}

#[test]
fn a_witness_refuses_each_kind_of_bad_head_and_stays_put() {
    let mut log = Log::new();
    log.append(10);
    let mut witness = Witness::new(log.key.verifying_key());
    let first = log.head(1000);
    witness.observe(&first, None).unwrap();

    // Fork: another tree of the same size (other salts), signed by the same key.
    let mut other = Log::new();
    other.append(10);
    let forked = log.key.sign(TreeHead {
        size: 10,
        root: other.tree.root(),
        timestamp: 1500,
    });
    assert!(matches!(
        witness.observe(&forked, None),
        Err(LogError::Fork { size: 10 })
    ));

    log.append(6);
    let newer = log.head(2000);
    let proof = log.tree.consistency_proof(10, 16).unwrap();

    // Not signed by the log key.
    let stranger = LogKey::generate().sign(newer.head);
    assert!(matches!(
        witness.observe(&stranger, Some(&proof)),
        Err(LogError::BadSignature)
    ));
    // No proof, a proof for other sizes, a proof that does not hold.
    assert!(matches!(
        witness.observe(&newer, None),
        Err(LogError::BadConsistencyProof(_))
    ));
    let wrong_sizes = log.tree.consistency_proof(9, 16).unwrap();
    assert!(matches!(
        witness.observe(&newer, Some(&wrong_sizes)),
        Err(LogError::BadConsistencyProof(_))
    ));
    let mut tampered = proof.clone();
    tampered.path[0][0] ^= 1;
    assert!(matches!(
        witness.observe(&newer, Some(&tampered)),
        Err(LogError::BadConsistencyProof(_))
    ));
    // A larger tree dated before the head already seen.
    let backdated = log.head(999);
    assert!(matches!(
        witness.observe(&backdated, Some(&proof)),
        Err(LogError::TimeBackwards {
            seen: 1000,
            got: 999
        })
    ));
    // A forked larger tree: the proof from the witness's head cannot hold.
    other.append(6);
    let other_newer = log.key.sign(TreeHead {
        size: 16,
        root: other.tree.root(),
        timestamp: 2000,
    });
    let other_proof = other.tree.consistency_proof(10, 16).unwrap();
    assert!(witness.observe(&other_newer, Some(&other_proof)).is_err());
    // None of that moved the witness.
    assert_eq!(witness.latest(), Some(&first));

    witness.observe(&newer, Some(&proof)).unwrap();
    // And now the old head is older.
    assert!(matches!(
        witness.observe(&first, None),
        Err(LogError::OlderSize { seen: 16, got: 10 })
    ));
}

#[test]
fn the_auditor_checks_any_two_heads_in_either_order() {
    let mut log = Log::new();
    log.append(3);
    let a = log.head(100);
    log.append(40);
    let b = log.head(200);
    let vk = log.key.verifying_key();
    let proof = log.tree.consistency_proof(3, 43).unwrap();
    audit(&vk, &a, &b, Some(&proof)).unwrap();
    audit(&vk, &b, &a, Some(&proof)).unwrap();
    audit(&vk, &b, &b, None).unwrap();
    assert!(audit(&vk, &a, &b, None).is_err());
    assert!(audit(&LogKey::generate().verifying_key(), &a, &b, Some(&proof)).is_err());
    let backwards = log.head(50);
    assert!(matches!(
        audit(&vk, &a, &backwards, Some(&proof)),
        Err(LogError::TimeBackwards { .. })
    ));
}

#[test]
fn a_resident_verifies_each_receipt_and_nothing_else() {
    let mut log = Log::new();
    log.append(37);
    let head = log.head(5000);
    let vk = log.key.verifying_key();
    for index in [0u64, 8, 9, 36] {
        let receipt = Receipt {
            opening: log.openings[index as usize].clone(),
            proof: log.tree.inclusion_proof(index, 37).unwrap(),
            head: head.clone(),
        };
        receipt.verify(&vk).unwrap();

        // Another record under the same salt, another salt, another leaf's proof.
        let mut other = receipt.clone();
        if let juki_log::Record::Provision(p) = &mut other.opening.record {
            p.purpose = "税".into();
        } else if let juki_log::Record::AuditAnchor(a) = &mut other.opening.record {
            a.count += 1;
        }
        assert!(other.verify(&vk).is_err());
        let mut other = receipt.clone();
        other.opening.salt.0[0] ^= 1;
        assert!(other.verify(&vk).is_err());
        let mut other = receipt.clone();
        other.proof = log.tree.inclusion_proof((index + 1) % 37, 37).unwrap();
        assert!(other.verify(&vk).is_err());
        // A proof for an older head than the one attached.
        let mut other = receipt.clone();
        other.proof = log.tree.inclusion_proof(index, 36.max(index + 1)).unwrap();
        if other.proof.size != 37 {
            assert!(other.verify(&vk).is_err());
        }
        assert!(receipt.verify(&LogKey::generate().verifying_key()).is_err());
    }
}
