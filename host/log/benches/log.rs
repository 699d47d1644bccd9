//! The log's costs: appending (leaf hashes, and whole provisions with their commitments), and
//! at 10k, 100k, 1M and 10M leaves the inclusion and consistency proofs' sizes, generation from
//! the in-memory store and verification, each verification beside its floor (the bare SHA-256
//! of the node hashes it performs).
//!
//! One tree of the largest size is built once (10M leaves: ~640 MB of nodes) and the smaller
//! sizes are its prefixes, which the store serves as they were. `JUKI_LOG_BENCH_MAX` lowers
//! the largest size (e.g. 1000000).

#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use juki_log::{
    leaf_hash, node_hash, verify_consistency, verify_inclusion, FieldSet, Hash, MemoryStore,
    Opening, ProvisionRecord, QueryKind, Tree,
};

const SIZES: [u64; 4] = [10_000, 100_000, 1_000_000, 10_000_000];

fn max_size() -> u64 {
    std::env::var("JUKI_LOG_BENCH_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000)
}

fn provision(id: u64) -> ProvisionRecord {
    ProvisionRecord {
        id,
        resident: format!("{:011}", id % 100_000_000_000),
        at: 1_767_225_600 + id as i64,
        agency: "日本年金機構".into(),
        requester: "CN=nenkin-01, serial 0a1b".into(),
        purpose: "年金給付".into(),
        query: QueryKind::Code,
        fields: FieldSet::ALL,
        previous: id.checked_sub(1),
    }
}

/// The node hashes the RFC 9162 §2.1.4.2 verifier performs for this proof (two per step that
/// extends both roots, one otherwise): the floor's count.
fn consistency_hashes(old: u64, new: u64, path_len: usize) -> usize {
    let mut rest = path_len;
    if !old.is_power_of_two() {
        rest -= 1;
    }
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let mut count = 0;
    for _ in 0..rest {
        if f & 1 == 1 || f == s {
            count += 2;
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            count += 1;
        }
        f >>= 1;
        s >>= 1;
    }
    count
}

fn bench(c: &mut Criterion) {
    let max = max_size();
    let sizes: Vec<u64> = SIZES.into_iter().filter(|s| *s <= max).collect();

    // Build once, timing the appends (batches of 1000, as a server commits a second's worth).
    let mut tree = Tree::open(MemoryStore::new()).expect("empty store");
    let started = Instant::now();
    let mut batch = Vec::with_capacity(1000);
    for i in 0..max {
        batch.push(leaf_hash(&i.to_be_bytes()));
        if batch.len() == 1000 || i + 1 == max {
            tree.append_batch(&batch).expect("append");
            batch.clear();
        }
    }
    let built = started.elapsed();
    println!(
        "built {max} leaves in {:.2} s: {:.0} appends/s ({:.0} ns each, leaf hashing included); {} nodes stored",
        built.as_secs_f64(),
        max as f64 / built.as_secs_f64(),
        built.as_nanos() as f64 / max as f64,
        tree.store().node_count()
    );

    let mut g = c.benchmark_group("append");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    // Appending one leaf hash to the big tree (clone-free: the tree keeps growing).
    let mut n = 0u64;
    g.bench_function("leaf hash, one at a time", |b| {
        b.iter(|| {
            n += 1;
            tree.append(leaf_hash(&n.to_le_bytes())).expect("append")
        })
    });
    // The server's whole cost per provision: salt, encode, commit, leaf hash, append.
    g.bench_function("provision (salt + commitment + leaf + append)", |b| {
        b.iter(|| {
            n += 1;
            let opening = Opening::new(provision(n));
            let leaf = opening.leaf().expect("valid record").hash();
            tree.append(leaf).expect("append")
        })
    });
    g.bench_function("floor: one node hash", |b| {
        let (x, y) = ([1u8; 32], [2u8; 32]);
        b.iter(|| node_hash(black_box(&x), black_box(&y)))
    });
    g.finish();

    let mut g = c.benchmark_group("proofs");
    g.sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for &size in &sizes {
        let root = tree.root_at(size).expect("root");
        // A leaf in the middle, and an old size that is not a power of two.
        let index = size / 2 + 12_345 % size;
        let leaf = leaf_hash(&index.to_be_bytes());
        let inc = tree.inclusion_proof(index, size).expect("inclusion");
        let old = size - size / 3 - 7;
        let old_root = tree.root_at(old).expect("old root");
        let con = tree.consistency_proof(old, size).expect("consistency");
        verify_inclusion(index, size, &leaf, &inc.path, &root).expect("verifies");
        verify_consistency(old, size, &con.path, &old_root, &root).expect("verifies");

        // Sizes over every leaf of a sample, for the spread.
        let (mut min, mut maxlen) = (usize::MAX, 0);
        for k in 0..1000u64 {
            let i = k * (size / 1000);
            let len = tree.inclusion_proof(i, size).expect("inclusion").path.len();
            min = min.min(len);
            maxlen = maxlen.max(len);
        }
        let con_hashes = consistency_hashes(old, size, con.path.len());
        println!(
            "size {size}: log2 = {:.1}; inclusion proof {} hashes = {} bytes (1000 leaves: {min}..{maxlen} hashes), encoded {} bytes; \
             consistency {old}->{size}: {} hashes = {} bytes, encoded {} bytes, verifier computes {con_hashes} node hashes",
            (size as f64).log2(),
            inc.path.len(),
            32 * inc.path.len(),
            inc.to_bytes().expect("encodes").len(),
            con.path.len(),
            32 * con.path.len(),
            con.to_bytes().expect("encodes").len(),
        );

        g.bench_function(format!("{size}/inclusion: generate"), |b| {
            b.iter(|| {
                tree.inclusion_proof(black_box(index), size)
                    .expect("inclusion")
            })
        });
        g.bench_function(format!("{size}/inclusion: verify"), |b| {
            b.iter(|| verify_inclusion(black_box(index), size, &leaf, &inc.path, &root))
        });
        let n_inc = inc.path.len();
        g.bench_function(
            format!("{size}/inclusion: floor ({n_inc} node hashes)"),
            |b| {
                b.iter(|| {
                    let mut h: Hash = leaf;
                    for p in &inc.path {
                        h = node_hash(black_box(p), &h);
                    }
                    h
                })
            },
        );
        g.bench_function(format!("{size}/consistency: generate"), |b| {
            b.iter(|| {
                tree.consistency_proof(black_box(old), size)
                    .expect("consistency")
            })
        });
        g.bench_function(format!("{size}/consistency: verify"), |b| {
            b.iter(|| verify_consistency(black_box(old), size, &con.path, &old_root, &root))
        });
        g.bench_function(
            format!("{size}/consistency: floor ({con_hashes} node hashes)"),
            |b| {
                b.iter(|| {
                    let mut h: Hash = old_root;
                    for _ in 0..con_hashes {
                        h = node_hash(black_box(&h), &root);
                    }
                    h
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
