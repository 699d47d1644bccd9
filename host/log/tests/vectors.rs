//! Published vectors: transparency-dev/merkle's verification probes (tests/vectors) and its
//! reference roots, nodes and proofs for the 8 leaves of `testonly/constants.go`.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use juki_log::{verify_consistency, verify_inclusion, Hash, MemoryStore, NodeId, Store, Tree};
use serde_json::Value;

fn hd(s: &str) -> Hash {
    hex::decode(s).unwrap().try_into().unwrap()
}

const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// `RootHashes()`, by size from 0.
const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// `NodeHashes()`: by level, then index.
const NODES: [&[&str]; 4] = [
    &[
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    &[
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    &[
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    &["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
];

/// `TestRefInclusionProof`: (index, size, proof).
const INCLUSION: &[(u64, u64, &[&str])] = &[
    (0, 1, &[]),
    (
        0,
        2,
        &["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"],
    ),
    (
        1,
        2,
        &["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

/// `TestRefConsistencyProof`: (old size, new size, proof).
const CONSISTENCY: &[(u64, u64, &[&str])] = &[
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

fn reference_tree() -> Tree<MemoryStore> {
    let mut tree = Tree::open(MemoryStore::new()).unwrap();
    for leaf in LEAVES {
        tree.append(juki_log::leaf_hash(&hex::decode(leaf).unwrap()))
            .unwrap();
    }
    tree
}

#[test]
fn roots_nodes_and_proofs_match_the_reference() {
    let tree = reference_tree();
    for (size, root) in ROOTS.iter().enumerate() {
        assert_eq!(tree.root_at(size as u64).unwrap(), hd(root), "root {size}");
    }
    assert_eq!(tree.root(), hd(ROOTS[8]));
    for (level, nodes) in NODES.iter().enumerate() {
        for (index, node) in nodes.iter().enumerate() {
            let id = NodeId::new(level as u8, index as u64);
            assert_eq!(tree.store().node(id).unwrap(), hd(node), "{id:?}");
        }
    }
    for (index, size, want) in INCLUSION {
        let proof = tree.inclusion_proof(*index, *size).unwrap();
        let want: Vec<Hash> = want.iter().map(|h| hd(h)).collect();
        assert_eq!(proof.path, want, "inclusion {index} in {size}");
    }
    for (old, new, want) in CONSISTENCY {
        let proof = tree.consistency_proof(*old, *new).unwrap();
        let want: Vec<Hash> = want.iter().map(|h| hd(h)).collect();
        assert_eq!(proof.path, want, "consistency {old} to {new}");
    }
}

fn probes(dir: &str) -> Vec<(PathBuf, Value)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, Value)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "json") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path, serde_json::from_str(&text).unwrap()));
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/transparency-dev");
    let mut out = Vec::new();
    walk(&root.join(dir), &mut out);
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// A base64 field as a hash. The probes use some values that are not 32 bytes ("don't care",
/// "WrongRoot"), which this crate's `[u8; 32]` hashes cannot hold; they stand in as their own
/// hash, which keeps what the probes rely on: equal values stay equal, and differ from any
/// real hash. (Only a leaf hash of another length is refused by the reference verifier itself,
/// as it is here by the type: see `leaf`.)
fn hash(v: &Value) -> Hash {
    let raw = B64.decode(v.as_str().unwrap_or_default()).unwrap();
    match raw.clone().try_into() {
        Ok(h) => h,
        Err(_) => juki_log::leaf_hash(&raw),
    }
}

/// A leaf hash, `None` when it is not 32 bytes.
fn leaf(v: &Value) -> Option<Hash> {
    B64.decode(v.as_str().unwrap_or_default())
        .unwrap()
        .try_into()
        .ok()
}

fn path(v: &Value) -> Vec<Hash> {
    match v {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().map(hash).collect(),
        _ => panic!("proof is not an array"),
    }
}

#[test]
fn every_inclusion_probe_gives_the_expected_answer() {
    let all = probes("inclusion");
    assert!(all.len() > 90, "only {} probes found", all.len());
    let (mut passes, mut fails) = (0, 0);
    for (file, p) in all {
        let want_err = p["wantErr"].as_bool().unwrap();
        let verdict = leaf(&p["leafHash"]).is_some_and(|leaf| {
            verify_inclusion(
                p["leafIdx"].as_u64().unwrap(),
                p["treeSize"].as_u64().unwrap(),
                &leaf,
                &path(&p["proof"]),
                &hash(&p["root"]),
            )
            .is_ok()
        });
        assert_eq!(verdict, !want_err, "{}", file.display());
        if verdict {
            passes += 1
        } else {
            fails += 1
        }
    }
    assert!(passes > 0 && fails > 0);
}

#[test]
fn every_consistency_probe_gives_the_expected_answer() {
    let all = probes("consistency");
    assert!(all.len() > 90, "only {} probes found", all.len());
    let (mut passes, mut fails) = (0, 0);
    for (file, p) in all {
        let want_err = p["wantErr"].as_bool().unwrap();
        let verdict = verify_consistency(
            p["size1"].as_u64().unwrap(),
            p["size2"].as_u64().unwrap(),
            &path(&p["proof"]),
            &hash(&p["root1"]),
            &hash(&p["root2"]),
        )
        .is_ok();
        assert_eq!(verdict, !want_err, "{}", file.display());
        if verdict {
            passes += 1
        } else {
            fails += 1
        }
    }
    assert!(passes > 0 && fails > 0);
}
