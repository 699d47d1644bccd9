//! The client's check of a disclosure: nothing the server answered is believed until the head
//! is signed by the log key, consistent with every head this client (or a witness) saw before,
//! each provision is the resident's own and included in the head, and the resident's chain
//! (`ProvisionRecord::previous`) has no gap and still holds the newest leaf shown before.

use base64::Engine as _;
use juki_log::{ConsistencyProof, InclusionProof, Opening, Receipt, Record, Salt, SignedTreeHead};
use p256::ecdsa::VerifyingKey;

use super::{DisclosedProvision, Disclosure, DisclosureError, Seen};
use crate::api::disclosure::DisclosureJson;

fn bad(e: &dyn std::fmt::Display) -> DisclosureError {
    DisclosureError::BadAnswer(e.to_string())
}

fn proof_err(message: String) -> DisclosureError {
    DisclosureError::Proof(message)
}

/// Checks everything the server answered against the log and against what was `seen` before
/// believing any of it.
pub fn verify(
    answer: DisclosureJson,
    log_key: &VerifyingKey,
    seen: &Seen,
) -> Result<Disclosure, DisclosureError> {
    let resident = answer
        .resident
        .to_confirmation()
        .map_err(|e| bad(&e))?
        .resident;
    let head = answer
        .head
        .as_ref()
        .map(|h| SignedTreeHead::from_text(&h.sth))
        .transpose()
        .map_err(|e| bad(&e))?;
    if let Some(head) = &head {
        head.verify(log_key).map_err(|e| proof_err(e.to_string()))?;
    }
    consistent_with_seen(&answer, head.as_ref(), seen)?;
    let mut provisions: Vec<DisclosedProvision> = Vec::new();
    for p in &answer.provisions {
        let head = head
            .clone()
            .ok_or_else(|| proof_err("provisions without a signed head".into()))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&p.record)
            .map_err(|e| bad(&e))?;
        let Record::Provision(record) = Record::decode(&bytes).map_err(|e| bad(&e))? else {
            return Err(proof_err(format!("leaf {} is not a provision", p.index)));
        };
        if record.resident != resident.code.as_str() {
            return Err(proof_err(format!(
                "leaf {} is another resident's provision",
                p.index
            )));
        }
        // The chain: the first names no leaf before it, each next one the one before.
        let expected = provisions.last().map(|q| q.receipt.proof.index);
        if record.previous != expected {
            return Err(proof_err(match record.previous {
                Some(before) => format!(
                    "a provision is missing: leaf {} names leaf {before} as the resident's \
                     previous provision, which the answer does not hold",
                    p.index
                ),
                None => format!(
                    "leaf {} claims to be the resident's first provision after leaf {}",
                    p.index,
                    expected.unwrap_or_default()
                ),
            }));
        }
        let salt: [u8; 32] = hex::decode(&p.salt)
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| bad(&"a salt is not 32 bytes"))?;
        let proof = InclusionProof::from_text(&p.proof).map_err(|e| bad(&e))?;
        if proof.index != p.index {
            return Err(proof_err(format!(
                "the proof of leaf {} is for leaf {}",
                p.index, proof.index
            )));
        }
        let receipt = Receipt {
            opening: Opening {
                record: Record::Provision(record.clone()),
                salt: Salt(salt),
            },
            proof,
            head,
        };
        // The head's signature was checked above: what is left of `Receipt::verify` is the
        // inclusion of this record's leaf, against the head's size and root.
        if receipt.proof.size != receipt.head.head.size {
            return Err(proof_err(format!(
                "leaf {}: the proof is for another size",
                p.index
            )));
        }
        let leaf = receipt.opening.leaf().map_err(|e| bad(&e))?.hash();
        receipt
            .proof
            .verify(&leaf, &receipt.head.head.root)
            .map_err(|e| proof_err(format!("leaf {}: {e}", p.index)))?;
        provisions.push(DisclosedProvision { record, receipt });
    }
    // The chain's newest end has nothing after it to name it: what was shown before must
    // still be there.
    if let Some(last) = seen.last_leaf(resident.code.as_str()) {
        if !provisions.iter().any(|p| p.receipt.proof.index == last) {
            return Err(DisclosureError::Log(format!(
                "the provision at leaf {last}, shown to this client before, is missing"
            )));
        }
    }
    Ok(Disclosure {
        resident,
        head,
        provisions,
        pending: answer.pending,
    })
}

/// The answer's head is the same tree as every head seen before, only grown: equal roots at
/// equal size, a consistency proof from a smaller one, never smaller.
fn consistent_with_seen(
    answer: &DisclosureJson,
    head: Option<&SignedTreeHead>,
    seen: &Seen,
) -> Result<(), DisclosureError> {
    let size = head.map_or(0, |h| h.head.size);
    for old in seen.heads() {
        let fork = |why: &str| {
            DisclosureError::Log(format!(
                "the log is not the one seen before (size {}, root {}): {why}",
                old.head.size,
                hex::encode(&old.head.root[..8])
            ))
        };
        match (old.head.size, head) {
            (0, _) => {}
            (_, None) => return Err(fork("the log is now empty")),
            (n, Some(_)) if n > size => {
                return Err(fork(&format!("the log now has only {size} leaves")))
            }
            (n, Some(h)) if n == size => {
                if old.head.root != h.head.root {
                    return Err(fork("another tree of the same size"));
                }
            }
            (n, Some(h)) => {
                let text = answer
                    .consistency
                    .iter()
                    .find(|c| c.size == n)
                    .ok_or_else(|| fork("no consistency proof in the answer"))?;
                let proof = ConsistencyProof::from_text(&text.proof).map_err(|e| bad(&e))?;
                if proof.old_size != n || proof.new_size != size {
                    return Err(fork("the consistency proof is for other sizes"));
                }
                proof
                    .verify(&old.head.root, &h.head.root)
                    .map_err(|e| fork(&e.to_string()))?;
            }
        }
    }
    Ok(())
}
