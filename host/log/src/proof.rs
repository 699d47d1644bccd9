//! Inclusion and consistency proofs, their verification as RFC 9162 §2.1.3.2 and §2.1.4.2
//! state it (a verifier needs only the proof, the hashes and the sizes, never the tree), and
//! their encodings.
//!
//! Encoding (big-endian): `u64 index ‖ u64 size ‖ u8 count ‖ count × 32-byte hash` for an
//! inclusion proof, `u64 old_size ‖ u64 new_size ‖ u8 count ‖ hashes` for a consistency proof
//! (RFC 9162 §4.12 / §4.13 carry the same fields, with a log id the signed head supplies here).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use crate::codec::{Reader, Writer};
use crate::error::{malformed, LogError, Result};
use crate::hash::{node_hash, Hash};

/// No proof in a tree of fewer than 2⁶³ leaves has more hashes than this.
const MAX_PATH: usize = 128;

/// `PATH(index, D[size])`: the sibling hashes from the leaf up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// The leaf's index.
    pub index: u64,
    /// The tree size the proof is for.
    pub size: u64,
    /// The audit path, deepest first.
    pub path: Vec<Hash>,
}

/// `PROOF(old_size, D[new_size])`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// The older tree's size.
    pub old_size: u64,
    /// The newer tree's size.
    pub new_size: u64,
    /// The proof's hashes.
    pub path: Vec<Hash>,
}

fn inclusion_fail(why: &str) -> LogError {
    LogError::BadInclusionProof(why.into())
}

fn consistency_fail(why: &str) -> LogError {
    LogError::BadConsistencyProof(why.into())
}

/// RFC 9162 §2.1.3.2: does `path` lead from `leaf` at `index` to `root` of a tree of `size`?
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    path: &[Hash],
    root: &Hash,
) -> Result<()> {
    if index >= size {
        return Err(inclusion_fail("leaf index beyond the tree size"));
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if snode == 0 {
            return Err(inclusion_fail("proof longer than the path"));
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            // A right-edge node with no right sibling: climb until it is a right child.
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(inclusion_fail("proof shorter than the path"));
    }
    if r != *root {
        return Err(inclusion_fail("the path leads to another root"));
    }
    Ok(())
}

/// RFC 9162 §2.1.4.2: is the tree of `new_size` with `new_root` the tree of `old_size` with
/// `old_root` plus appended leaves? Equal sizes need equal roots and an empty proof; from the
/// empty tree nothing can be proven (any tree extends it), so `old_size` 0 is refused.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    path: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<()> {
    if old_size == 0 || old_size > new_size {
        return Err(consistency_fail("sizes out of order"));
    }
    if old_size == new_size {
        if !path.is_empty() {
            return Err(consistency_fail(
                "a proof between equal sizes must be empty",
            ));
        }
        if old_root != new_root {
            return Err(consistency_fail("equal sizes with different roots"));
        }
        return Ok(());
    }
    // Step 1.
    let Some((first, rest)) = path.split_first() else {
        return Err(consistency_fail("empty proof"));
    };
    // Step 2: a perfect old tree is itself the first node of the path.
    let (seed, rest) = if old_size.is_power_of_two() {
        (old_root, path)
    } else {
        (first, rest)
    };
    // Steps 3 and 4.
    let (mut fnode, mut snode) = (old_size - 1, new_size - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    // Step 5.
    let (mut fr, mut sr) = (*seed, *seed);
    // Step 6.
    for c in rest {
        if snode == 0 {
            return Err(consistency_fail("proof longer than the path"));
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    // Step 7.
    if snode != 0 {
        return Err(consistency_fail("proof shorter than the path"));
    }
    if fr != *old_root {
        return Err(consistency_fail("the proof does not lead to the old root"));
    }
    if sr != *new_root {
        return Err(consistency_fail("the proof does not lead to the new root"));
    }
    Ok(())
}

impl InclusionProof {
    /// Verifies the proof for `leaf` (a leaf hash) against `root`.
    pub fn verify(&self, leaf: &Hash, root: &Hash) -> Result<()> {
        verify_inclusion(self.index, self.size, leaf, &self.path, root)
    }

    /// The binary encoding.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        encode(self.index, self.size, &self.path)
    }

    /// Decodes the binary encoding.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (index, size, path) = decode("inclusion proof", bytes)?;
        Ok(InclusionProof { index, size, path })
    }

    /// The encoding in base64 (for JSON and files).
    pub fn to_text(&self) -> Result<String> {
        Ok(B64.encode(self.to_bytes()?))
    }

    /// Decodes [`InclusionProof::to_text`].
    pub fn from_text(text: &str) -> Result<Self> {
        Self::from_bytes(&unbase64("inclusion proof", text)?)
    }
}

impl ConsistencyProof {
    /// Verifies the proof between `old_root` and `new_root`.
    pub fn verify(&self, old_root: &Hash, new_root: &Hash) -> Result<()> {
        verify_consistency(self.old_size, self.new_size, &self.path, old_root, new_root)
    }

    /// The binary encoding.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        encode(self.old_size, self.new_size, &self.path)
    }

    /// Decodes the binary encoding.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (old_size, new_size, path) = decode("consistency proof", bytes)?;
        Ok(ConsistencyProof {
            old_size,
            new_size,
            path,
        })
    }

    /// The encoding in base64.
    pub fn to_text(&self) -> Result<String> {
        Ok(B64.encode(self.to_bytes()?))
    }

    /// Decodes [`ConsistencyProof::to_text`].
    pub fn from_text(text: &str) -> Result<Self> {
        Self::from_bytes(&unbase64("consistency proof", text)?)
    }
}

pub(crate) fn unbase64(what: &'static str, text: &str) -> Result<Vec<u8>> {
    B64.decode(text.trim())
        .map_err(|e| malformed(what, format!("base64: {e}")))
}

fn encode(a: u64, b: u64, path: &[Hash]) -> Result<Vec<u8>> {
    let count = u8::try_from(path.len())
        .ok()
        .filter(|c| usize::from(*c) <= MAX_PATH)
        .ok_or_else(|| malformed("proof", "too many hashes"))?;
    let mut w = Writer::new();
    w.u64(a);
    w.u64(b);
    w.u8(count);
    for h in path {
        w.bytes(h);
    }
    Ok(w.0)
}

fn decode(what: &'static str, bytes: &[u8]) -> Result<(u64, u64, Vec<Hash>)> {
    let mut r = Reader::new(what, bytes);
    let a = r.u64()?;
    let b = r.u64()?;
    let count = usize::from(r.u8()?);
    if count > MAX_PATH {
        return Err(malformed(what, "too many hashes"));
    }
    let path = (0..count).map(|_| r.array()).collect::<Result<Vec<_>>>()?;
    r.finish()?;
    Ok((a, b, path))
}
