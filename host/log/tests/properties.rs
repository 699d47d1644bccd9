//! The tree against a direct transcription of RFC 9162 §2.1 (recursive MTH, PATH and PROOF
//! over the list of leaves), for every tree of 1 to 70 leaves: every proof is the reference's,
//! verifies, and stops verifying when any bit of it changes.

use juki_log::{
    leaf_hash, node_hash, nodes_for_consistency, nodes_for_inclusion, nodes_for_root,
    verify_consistency, verify_inclusion, Hash, MemoryStore, NodeMap, Store, Tree,
};

const MAX: u64 = 70;

fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => juki_log::empty_root(),
        1 => d[0],
        n => {
            let k = split(n);
            node_hash(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

fn ref_path(m: usize, d: &[Hash]) -> Vec<Hash> {
    if d.len() <= 1 {
        return Vec::new();
    }
    let k = split(d.len());
    if m < k {
        let mut p = ref_path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = ref_path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

fn ref_subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { Vec::new() } else { vec![mth(d)] };
    }
    let k = split(n);
    if m <= k {
        let mut p = ref_subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = ref_subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect()
}

fn tree(d: &[Hash]) -> Tree<MemoryStore> {
    let mut t = Tree::open(MemoryStore::new()).unwrap();
    for h in d {
        t.append(*h).unwrap();
    }
    t
}

fn flipped(h: &Hash, bit: usize) -> Hash {
    let mut h = *h;
    h[bit / 8] ^= 1 << (bit % 8);
    h
}

#[test]
fn roots_match_the_rfc_at_every_size() {
    let d = leaves(MAX);
    let t = tree(&d);
    for m in 0..=MAX as usize {
        assert_eq!(t.root_at(m as u64).unwrap(), mth(&d[..m]), "size {m}");
        assert_eq!(tree(&d[..m]).root(), mth(&d[..m]), "frontier root {m}");
    }
    assert!(t.root_at(MAX + 1).is_err());
}

#[test]
fn every_inclusion_proof_verifies_and_any_flipped_bit_fails() {
    let d = leaves(MAX);
    let t = tree(&d);
    for n in 1..=MAX {
        let root = mth(&d[..n as usize]);
        for i in 0..n {
            let leaf = d[i as usize];
            let proof = t.inclusion_proof(i, n).unwrap();
            assert_eq!(proof.path, ref_path(i as usize, &d[..n as usize]));
            proof.verify(&leaf, &root).unwrap();
            for e in 0..proof.path.len() {
                for bit in 0..256 {
                    let mut bad = proof.path.clone();
                    bad[e] = flipped(&bad[e], bit);
                    assert!(verify_inclusion(i, n, &leaf, &bad, &root).is_err());
                }
            }
            for bit in 0..256 {
                assert!(proof.verify(&flipped(&leaf, bit), &root).is_err());
                assert!(proof.verify(&leaf, &flipped(&root, bit)).is_err());
            }
            // Another index or size, a shorter or longer path.
            for other in [i ^ 1, i + 1, i.wrapping_sub(1)] {
                if other != i && other < n && d[other as usize] != leaf {
                    assert!(verify_inclusion(other, n, &leaf, &proof.path, &root).is_err());
                }
            }
            // The same path for a larger size can lead to the same root (the bits of i and
            // n - 1 agree); what it cannot do is lead to the larger tree's root, and a signed
            // head binds the size to its root.
            if n < MAX {
                let larger = mth(&d[..n as usize + 1]);
                assert!(verify_inclusion(i, n + 1, &leaf, &proof.path, &larger).is_err());
            }
            if !proof.path.is_empty() {
                let short = &proof.path[..proof.path.len() - 1];
                assert!(verify_inclusion(i, n, &leaf, short, &root).is_err());
            }
            let mut long = proof.path.clone();
            long.push(leaf);
            assert!(verify_inclusion(i, n, &leaf, &long, &root).is_err());
        }
        assert!(t.inclusion_proof(n, n).is_err());
    }
}

#[test]
fn every_consistency_proof_verifies_and_a_wrong_root_fails() {
    let d = leaves(MAX);
    let t = tree(&d);
    for n in 1..=MAX {
        let new_root = mth(&d[..n as usize]);
        for m in 1..=n {
            let old_root = mth(&d[..m as usize]);
            let proof = t.consistency_proof(m, n).unwrap();
            let want = if m == n {
                Vec::new()
            } else {
                ref_subproof(m as usize, &d[..n as usize], true)
            };
            assert_eq!(proof.path, want, "{m} to {n}");
            proof.verify(&old_root, &new_root).unwrap();
            // Every bit of each root and of every proof hash.
            for bit in 0..256 {
                assert!(proof.verify(&flipped(&old_root, bit), &new_root).is_err());
                assert!(proof.verify(&old_root, &flipped(&new_root, bit)).is_err());
            }
            for e in 0..proof.path.len() {
                for bit in 0..256 {
                    let mut bad = proof.path.clone();
                    bad[e] = flipped(&bad[e], bit);
                    assert!(verify_consistency(m, n, &bad, &old_root, &new_root).is_err());
                }
            }
            // The root of another old size.
            if m > 1 {
                let other = mth(&d[..m as usize - 1]);
                assert!(proof.verify(&other, &new_root).is_err());
            }
            if m < n {
                assert!(verify_consistency(m, n, &[], &old_root, &new_root).is_err());
                let short = &proof.path[..proof.path.len() - 1];
                assert!(verify_consistency(m, n, short, &old_root, &new_root).is_err());
            }
            let mut long = proof.path.clone();
            long.push(old_root);
            assert!(verify_consistency(m, n, &long, &old_root, &new_root).is_err());
        }
        assert!(t.consistency_proof(0, n).is_err());
        assert!(t.consistency_proof(n + 1, n).is_err());
    }
    assert!(t.consistency_proof(1, MAX + 1).is_err());
}

/// A server fetches exactly the nodes a proof needs, then builds it from them alone.
#[test]
fn proofs_from_prefetched_nodes_are_the_same() {
    let d = leaves(MAX);
    let t = tree(&d);
    let fetch = |ids: Vec<juki_log::NodeId>, size: u64| NodeMap {
        size,
        nodes: ids
            .into_iter()
            .map(|id| (id, t.store().node(id).unwrap()))
            .collect(),
    };
    for n in 1..=MAX {
        let log = 64 - n.leading_zeros() as usize;
        let ids = nodes_for_root(n).unwrap();
        assert!(ids.len() <= log);
        let map = Tree::open(fetch(ids, n)).unwrap();
        assert_eq!(map.root(), t.root_at(n).unwrap());
        for i in 0..n {
            let ids = nodes_for_inclusion(i, n).unwrap();
            assert!(ids.len() <= 2 * log, "{} nodes for {i} in {n}", ids.len());
            let map = fetch(ids, n);
            let proof = juki_log::tree::inclusion_proof_with(&mut |id| map.node(id), i, n);
            assert_eq!(proof.unwrap(), t.inclusion_proof(i, n).unwrap());
        }
        for m in 1..=n {
            let ids = nodes_for_consistency(m, n).unwrap();
            assert!(ids.len() <= 2 * log, "{} nodes for {m} to {n}", ids.len());
            let map = fetch(ids, n);
            let proof = juki_log::tree::consistency_proof_with(&mut |id| map.node(id), m, n);
            assert_eq!(proof.unwrap(), t.consistency_proof(m, n).unwrap());
        }
    }
}

#[test]
fn reopening_and_batches_give_the_same_tree() {
    let d = leaves(MAX);
    let one_by_one = tree(&d);
    let mut batched = Tree::open(MemoryStore::new()).unwrap();
    let mut at = 0;
    for chunk in [1usize, 2, 3, 5, 8, 13, 38] {
        // Reopen from the store each time: only the frontier is read back.
        let store = batched.store().clone();
        batched = Tree::open(store).unwrap();
        assert_eq!(batched.append_batch(&d[at..at + chunk]).unwrap(), at as u64);
        at += chunk;
    }
    assert_eq!(at as u64, MAX);
    assert_eq!(batched.root(), one_by_one.root());
    assert_eq!(
        batched.store().node_count(),
        one_by_one.store().node_count()
    );
}

#[test]
fn proof_encodings_round_trip_and_refuse_garbage() {
    let d = leaves(MAX);
    let t = tree(&d);
    let inc = t.inclusion_proof(37, 61).unwrap();
    let con = t.consistency_proof(13, 61).unwrap();
    let inc_bytes = inc.to_bytes().unwrap();
    let con_bytes = con.to_bytes().unwrap();
    assert_eq!(inc_bytes.len(), 17 + 32 * inc.path.len());
    assert_eq!(
        juki_log::InclusionProof::from_bytes(&inc_bytes).unwrap(),
        inc
    );
    assert_eq!(
        juki_log::InclusionProof::from_text(&inc.to_text().unwrap()).unwrap(),
        inc
    );
    assert_eq!(
        juki_log::ConsistencyProof::from_bytes(&con_bytes).unwrap(),
        con
    );
    assert_eq!(
        juki_log::ConsistencyProof::from_text(&con.to_text().unwrap()).unwrap(),
        con
    );
    for len in 0..inc_bytes.len() {
        assert!(juki_log::InclusionProof::from_bytes(&inc_bytes[..len]).is_err());
    }
    let mut long = con_bytes.clone();
    long.push(0);
    assert!(juki_log::ConsistencyProof::from_bytes(&long).is_err());
}
