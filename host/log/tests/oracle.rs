//! ct-merkle (an independent RFC 6962 implementation) as an oracle: for every tree of 1 to 70
//! leaves, the same root, byte-identical proofs for the current size, and each library accepts
//! the other's proofs.

use ct_merkle::mem_backed_tree::MemoryBackedTree;
use ct_merkle::{ConsistencyProof as CtConsistency, InclusionProof as CtInclusion, RootHash};
use juki_log::{leaf_hash, MemoryStore, Tree};
use sha2_11::Sha256;

#[test]
fn ct_merkle_agrees_on_roots_and_proofs() {
    let mut ct = MemoryBackedTree::<Sha256, Vec<u8>>::new();
    let mut ours = Tree::open(MemoryStore::new()).unwrap();
    let mut roots = Vec::new();
    for n in 1..=70u64 {
        let item = format!("provision {n}").into_bytes();
        ours.append(leaf_hash(&item)).unwrap();
        ct.push(item);
        let ct_root = ct.root();
        assert_eq!(ct_root.as_bytes().as_slice(), ours.root(), "root {n}");
        roots.push(ct_root.clone());

        for i in 0..n {
            let proof = ours.inclusion_proof(i, n).unwrap();
            let ct_proof = ct.prove_inclusion(i as usize);
            assert_eq!(ct_proof.as_bytes(), proof.path.concat(), "{i} in {n}");
            let from_ours = CtInclusion::<Sha256>::try_from_bytes(proof.path.concat()).unwrap();
            let item = ct.get(i as usize).unwrap();
            ct_root.verify_inclusion(item, i, &from_ours).unwrap();
        }
        for m in 1..n {
            let proof = ours.consistency_proof(m, n).unwrap();
            let ct_proof = ct.prove_consistency((n - m) as usize);
            assert_eq!(ct_proof.as_bytes(), proof.path.concat(), "{m} to {n}");
            let from_ours = CtConsistency::<Sha256>::try_from_bytes(proof.path.concat()).unwrap();
            let old: &RootHash<Sha256> = &roots[m as usize - 1];
            ct_root.verify_consistency(old, &from_ours).unwrap();
        }
    }
}
