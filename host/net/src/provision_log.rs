//! The verifiable provision log on the national server (docs/log.md): every provision of
//! 本人確認情報 and every municipal counter's audit anchor becomes a leaf of an RFC 9162 Merkle
//! tree kept in PostgreSQL (`log_node`: perfect subtrees only, insert-only), and each batch ends
//! with a tree head signed by the log key (`log_head`).
//!
//! One writer: [`ProvisionLog::append_pending`] takes a transaction-scoped advisory lock, so two
//! server processes on one database never append at once; the frontier (the right edge of the
//! tree) is kept in memory between batches and reloaded whenever the database says another size.
//! A leaf is a salted commitment (`juki_log::leaf`): the salt is written beside the record in the
//! same transaction as the nodes and the signed head, so what is logged, the tree and the head
//! cannot disagree after a crash.
//!
//! Reading is for every node of the network (the tree reveals nothing): the latest head, a head
//! of any size, consistency and inclusion proofs, and the entries of a range recomputed from the
//! records themselves — what lets a monitor see that a record was altered or dropped.

use std::collections::HashMap;
use std::sync::Arc;

use deadpool_postgres::GenericClient;
use juki_log::{
    nodes_for_consistency, nodes_for_inclusion, tree, AuditAnchor, ConsistencyProof, FieldSet,
    Frontier, InclusionProof, Leaf, LogError, LogKey, NodeId, NodeMap, Opening, ProvisionRecord,
    QueryKind, Record, Salt, SignedTreeHead, TreeHead,
};
use p256::ecdsa::VerifyingKey;
use tokio::sync::Mutex;
use tokio_postgres::{IsolationLevel, Row};

use crate::db::{Db, DbError};

/// The log's private key in the server's node directory (PKCS#8 PEM, 0600).
pub const LOG_KEY_FILE: &str = "log.key";
/// The log's public key (SPKI PEM): what every monitor is given with `ca.pem`.
pub const LOG_PUB_FILE: &str = "log.pub";
/// How often the server's appender logs what waits.
pub const APPEND_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// The log key of the server node `dir` (`log.key`), made on first use with its public half
/// `log.pub`; `true` when it was made now.
pub fn load_or_create_key(dir: &std::path::Path) -> std::io::Result<(LogKey, bool)> {
    use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
    let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
    let path = dir.join(LOG_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(pem) => {
            let pem = zeroize::Zeroizing::new(pem);
            let key = p256::ecdsa::SigningKey::from_pkcs8_pem(&pem)
                .map_err(|e| invalid(format!("{}: {e}", path.display())))?;
            Ok((LogKey::from_signing_key(key), false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
            let pem = key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| invalid(e.to_string()))?;
            let public = key
                .verifying_key()
                .to_public_key_pem(LineEnding::LF)
                .map_err(|e| invalid(e.to_string()))?;
            juki_host::private_dir::write_new(&path, pem.as_bytes())?;
            juki_host::private_dir::write_new_public(&dir.join(LOG_PUB_FILE), public.as_bytes())?;
            Ok((LogKey::from_signing_key(key), true))
        }
        Err(e) => Err(e),
    }
}

/// Reads a log public key (`log.pub`, SPKI PEM).
pub fn load_public_key(path: &std::path::Path) -> std::io::Result<VerifyingKey> {
    use p256::pkcs8::DecodePublicKey;
    let pem = std::fs::read_to_string(path)?;
    VerifyingKey::from_public_key_pem(&pem).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })
}

/// Key of the advisory lock of the one appender.
const APPEND_LOCK: i64 = 0x6a75_6b69_6c6f_6701;
/// Most records logged in one batch.
pub const MAX_BATCH: i64 = 10_000;
/// Most entries answered at once.
pub const MAX_ENTRIES: u64 = 10_000;

/// Why the log could not answer.
#[derive(Debug, thiserror::Error)]
pub enum LogStoreError {
    /// The database failed.
    #[error(transparent)]
    Database(#[from] DbError),
    /// A proof or encoding failed (a size beyond the log, …).
    #[error(transparent)]
    Log(#[from] LogError),
    /// Asked for something the log does not have (a size never signed, a range beyond it).
    #[error("{0}")]
    NotFound(String),
    /// The stored log disagrees with itself (a node missing, a record that no longer encodes).
    #[error("the provision log is inconsistent: {0}")]
    Corrupt(String),
}

impl From<tokio_postgres::Error> for LogStoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        LogStoreError::Database(DbError::Postgres(e))
    }
}

type Result<T, E = LogStoreError> = std::result::Result<T, E>;

/// One leaf recomputed from its record: what a monitor compares with the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The leaf's index.
    pub index: u64,
    /// The leaf (kind and commitment), from the record and its salt.
    pub leaf: Leaf,
}

/// A logged record with its opening and place.
#[derive(Debug, Clone)]
pub struct Logged {
    /// The record and its salt.
    pub opening: Opening,
    /// Its leaf index.
    pub index: u64,
}

/// A resident's provisions as the log proves them ([`ProvisionLog::disclosure`]).
#[derive(Debug, Clone)]
pub struct Disclosed {
    /// The head every proof is for (`None` while the log is empty).
    pub head: Option<SignedTreeHead>,
    /// Each logged provision with its inclusion proof, in leaf order.
    pub provisions: Vec<(Logged, InclusionProof)>,
    /// For each size asked (`0 < old < head's size`), the consistency proof from it to the
    /// head.
    pub consistency: Vec<(u64, ConsistencyProof)>,
    /// The resident's provisions not in that head yet.
    pub pending: u64,
}

/// An anchor as recorded: logged or still waiting for the appender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorRow {
    /// The anchor's number.
    pub id: i64,
    /// The record.
    pub anchor: AuditAnchor,
    /// The salt and leaf index, once logged.
    pub logged: Option<(Salt, u64)>,
}

/// The server's provision log.
#[derive(Clone)]
pub struct ProvisionLog {
    db: Db,
    key: Arc<LogKey>,
    frontier: Arc<Mutex<Option<Frontier>>>,
}

impl std::fmt::Debug for ProvisionLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProvisionLog").finish_non_exhaustive()
    }
}

fn corrupt(what: impl std::fmt::Display) -> LogStoreError {
    LogStoreError::Corrupt(what.to_string())
}

fn index_of(v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| corrupt(format!("a negative index {v}")))
}

fn sql_index(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| LogStoreError::NotFound(format!("{v} is beyond any log")))
}

fn salt_of(bytes: &[u8]) -> Result<Salt> {
    bytes
        .try_into()
        .map(Salt)
        .map_err(|_| corrupt("a salt is not 32 bytes"))
}

const PROVISION_COLUMNS: &str = "id, resident, floor(extract(epoch FROM provided_at))::bigint, \
     agency, requester, purpose, query, fields, salt, leaf_index, previous_leaf";

/// A provision row (in [`PROVISION_COLUMNS`] order) as the log's record.
fn provision_record(row: &Row) -> Result<ProvisionRecord> {
    let id: i64 = row.get(0);
    let query: &str = row.get(6);
    let fields: Vec<String> = row.get(7);
    Ok(ProvisionRecord {
        id: index_of(id)?,
        resident: row.get::<_, String>(1).trim().to_string(),
        at: row.get(2),
        agency: row.get(3),
        requester: row.get(4),
        purpose: row.get(5),
        query: match query {
            "code" => QueryKind::Code,
            "four_info" => QueryKind::FourInfo,
            other => return Err(corrupt(format!("provision {id}: query {other:?}"))),
        },
        fields: FieldSet::from_names(&fields)?,
        previous: row.get::<_, Option<i64>>(10).map(index_of).transpose()?,
    })
}

const ANCHOR_COLUMNS: &str =
    "id, municipality, head, records, floor(extract(epoch FROM anchored_at))::bigint, salt, leaf_index";

fn anchor_row(row: &Row) -> Result<AnchorRow> {
    let head: Vec<u8> = row.get(2);
    let records: i64 = row.get(3);
    let salt: Option<Vec<u8>> = row.get(5);
    let index: Option<i64> = row.get(6);
    Ok(AnchorRow {
        id: row.get(0),
        anchor: AuditAnchor {
            municipality: row.get::<_, String>(1).trim().to_string(),
            head: head
                .try_into()
                .map_err(|_| corrupt("an anchored head is not 32 bytes"))?,
            count: index_of(records)?,
            at: row.get(4),
        },
        logged: match (salt, index) {
            (Some(s), Some(i)) => Some((salt_of(&s)?, index_of(i)?)),
            _ => None,
        },
    })
}

/// Reads the nodes `ids` in one query.
async fn fetch_nodes(client: &impl GenericClient, size: u64, ids: &[NodeId]) -> Result<NodeMap> {
    let levels: Vec<i16> = ids.iter().map(|n| i16::from(n.level)).collect();
    let idxs = ids
        .iter()
        .map(|n| sql_index(n.index))
        .collect::<Result<Vec<i64>>>()?;
    // A cached statement: a string query is parsed on every call (one more round trip).
    let statement = client
        .prepare_cached(
            "SELECT n.level, n.idx, n.hash FROM unnest($1::smallint[], $2::bigint[]) AS q(level, idx) \
             JOIN log_node n ON n.level = q.level AND n.idx = q.idx",
        )
        .await?;
    let rows = client.query(&statement, &[&levels, &idxs]).await?;
    let mut nodes = HashMap::with_capacity(rows.len());
    for row in rows {
        let level: i16 = row.get(0);
        let idx: i64 = row.get(1);
        let hash: Vec<u8> = row.get(2);
        let level = u8::try_from(level).map_err(|_| corrupt("a node level"))?;
        let hash = hash
            .try_into()
            .map_err(|_| corrupt("a node is not 32 bytes"))?;
        nodes.insert(NodeId::new(level, index_of(idx)?), hash);
    }
    if nodes.len() != ids.len() {
        return Err(corrupt(format!(
            "{} of the {} nodes needed at size {size} are missing",
            ids.len() - nodes.len(),
            ids.len()
        )));
    }
    Ok(NodeMap { size, nodes })
}

/// What waits in `table` (`provision` or `audit_anchor`, read as `columns`), oldest first, at
/// most [`MAX_BATCH`], locked for this batch.
async fn unlogged(
    tx: &impl GenericClient,
    table: &'static str,
    columns: &'static str,
) -> Result<Vec<Row>> {
    Ok(tx
        .query(
            &format!(
                "SELECT {columns} FROM {table} WHERE leaf_index IS NULL \
                 ORDER BY id LIMIT $1 FOR UPDATE"
            ),
            &[&MAX_BATCH],
        )
        .await?)
}

/// The leaf of the newest logged provision of each resident of `rows` (provision rows) who
/// has one.
async fn newest_leaves(tx: &impl GenericClient, rows: &[Row]) -> Result<HashMap<String, u64>> {
    let mut residents: Vec<String> = rows
        .iter()
        .map(|r| r.get::<_, String>(1).trim().to_string())
        .collect();
    residents.sort_unstable();
    residents.dedup();
    let found = tx
        .query(
            "SELECT r, (SELECT max(leaf_index) FROM provision p \
                        WHERE p.resident = r AND p.leaf_index IS NOT NULL) \
             FROM unnest($1::char(11)[]) AS r",
            &[&residents],
        )
        .await?;
    let mut newest = HashMap::with_capacity(found.len());
    for row in found {
        if let Some(leaf) = row.get::<_, Option<i64>>(1) {
            newest.insert(row.get::<_, String>(0).trim().to_string(), index_of(leaf)?);
        }
    }
    Ok(newest)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl ProvisionLog {
    /// The log on `db`, its heads signed by `key`.
    pub fn new(db: Db, key: LogKey) -> ProvisionLog {
        ProvisionLog {
            db,
            key: Arc::new(key),
            frontier: Arc::new(Mutex::new(None)),
        }
    }

    /// The key monitors check the heads with.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Logs what waits — provisions, then anchors, each in id order, at most [`MAX_BATCH`] —
    /// and signs the new head, all in one transaction. `None` when nothing waited or another
    /// appender holds the lock.
    pub async fn append_pending(&self) -> Result<Option<SignedTreeHead>> {
        let mut cached = self.frontier.lock().await;
        let mut client = self.db.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .await?;
        let locked: bool = tx
            .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&APPEND_LOCK])
            .await?
            .get(0);
        if !locked {
            return Ok(None);
        }
        let (size, last_time) = match tx
            .query_opt(
                "SELECT size, sth FROM log_head ORDER BY size DESC LIMIT 1",
                &[],
            )
            .await?
        {
            Some(row) => {
                let sth: Vec<u8> = row.get(1);
                let sth = SignedTreeHead::from_bytes(&sth)?;
                (index_of(row.get(0))?, sth.head.timestamp)
            }
            None => (0, 0),
        };
        // The frontier of another size than the database's (another process appended, or a
        // batch failed after the frontier moved) is read again.
        let mut frontier = match cached.take() {
            Some(f) if f.size() == size => f,
            _ => {
                let ids = Frontier::node_ids(size);
                let map = fetch_nodes(&tx, size, &ids).await?;
                let hashes = ids
                    .iter()
                    .map(|id| {
                        map.nodes
                            .get(id)
                            .copied()
                            .ok_or_else(|| corrupt("frontier"))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Frontier::from_hashes(size, hashes)?
            }
        };
        let provisions = unlogged(&tx, "provision", PROVISION_COLUMNS).await?;
        let anchors = unlogged(&tx, "audit_anchor", ANCHOR_COLUMNS).await?;
        if provisions.is_empty() && anchors.is_empty() {
            *cached = Some(frontier);
            return Ok(None);
        }
        let mut nodes = Vec::new();
        let mut logged = |record: Record, frontier: &mut Frontier| -> Result<(Vec<u8>, i64)> {
            let opening = Opening::new(record);
            let index = frontier.size();
            frontier.append(opening.leaf()?.hash(), &mut nodes)?;
            Ok((opening.salt.0.to_vec(), sql_index(index)?))
        };
        // Each resident's chain goes on from their newest logged provision.
        let mut newest = newest_leaves(&tx, &provisions).await?;
        let (mut p_ids, mut p_salts, mut p_idx, mut p_prev) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for row in &provisions {
            let mut record = provision_record(row)?;
            record.previous = newest.get(&record.resident).copied();
            let previous = record.previous.map(sql_index).transpose()?;
            let resident = record.resident.clone();
            let (salt, index) = logged(Record::Provision(record), &mut frontier)?;
            newest.insert(resident, index_of(index)?);
            p_ids.push(row.get::<_, i64>(0));
            p_salts.push(salt);
            p_idx.push(index);
            p_prev.push(previous);
        }
        let (mut a_ids, mut a_salts, mut a_idx) = (Vec::new(), Vec::new(), Vec::new());
        for row in &anchors {
            let a = anchor_row(row)?;
            let (salt, index) = logged(Record::AuditAnchor(a.anchor), &mut frontier)?;
            a_ids.push(a.id);
            a_salts.push(salt);
            a_idx.push(index);
        }
        tx.execute(
            "UPDATE provision t SET salt = u.salt, leaf_index = u.idx, previous_leaf = u.previous \
             FROM unnest($1::bigint[], $2::bytea[], $3::bigint[], $4::bigint[]) \
                  AS u(id, salt, idx, previous) \
             WHERE t.id = u.id",
            &[&p_ids, &p_salts, &p_idx, &p_prev],
        )
        .await?;
        tx.execute(
            "UPDATE audit_anchor t SET salt = u.salt, leaf_index = u.idx \
             FROM unnest($1::bigint[], $2::bytea[], $3::bigint[]) AS u(id, salt, idx) \
             WHERE t.id = u.id",
            &[&a_ids, &a_salts, &a_idx],
        )
        .await?;
        let levels: Vec<i16> = nodes.iter().map(|(n, _)| i16::from(n.level)).collect();
        let idxs = nodes
            .iter()
            .map(|(n, _)| sql_index(n.index))
            .collect::<Result<Vec<i64>>>()?;
        let hashes: Vec<Vec<u8>> = nodes.iter().map(|(_, h)| h.to_vec()).collect();
        tx.execute(
            "INSERT INTO log_node (level, idx, hash) \
             SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])",
            &[&levels, &idxs, &hashes],
        )
        .await?;
        // A head is never older than the one before it (a clock set back must not make
        // monitors refuse the log).
        let head = TreeHead {
            size: frontier.size(),
            root: frontier.root(),
            timestamp: now_ms().max(last_time),
        };
        let sth = self.key.sign(head);
        tx.execute(
            "INSERT INTO log_head (size, root, signed_at, sth) \
             VALUES ($1, $2, to_timestamp($3::float8 / 1000), $4)",
            &[
                &sql_index(head.size)?,
                &head.root.to_vec(),
                &(head.timestamp as f64),
                &sth.to_bytes(),
            ],
        )
        .await?;
        tx.commit().await?;
        *cached = Some(frontier);
        Ok(Some(sth))
    }

    /// The latest signed head (`None` before the first leaf).
    pub async fn latest_head(&self) -> Result<Option<SignedTreeHead>> {
        let client = self.db.client().await?;
        let row = client
            .query_opt("SELECT sth FROM log_head ORDER BY size DESC LIMIT 1", &[])
            .await?;
        row.map(|r| Ok(SignedTreeHead::from_bytes(&r.get::<_, Vec<u8>>(0))?))
            .transpose()
    }

    /// The head signed for `size`, if the log signed one.
    pub async fn head_at(&self, size: u64) -> Result<Option<SignedTreeHead>> {
        let client = self.db.client().await?;
        let row = client
            .query_opt(
                "SELECT sth FROM log_head WHERE size = $1",
                &[&sql_index(size)?],
            )
            .await?;
        row.map(|r| Ok(SignedTreeHead::from_bytes(&r.get::<_, Vec<u8>>(0))?))
            .transpose()
    }

    async fn current_size(&self, client: &impl GenericClient) -> Result<u64> {
        let size: Option<i64> = client
            .query_one("SELECT max(size) FROM log_head", &[])
            .await?
            .get(0);
        size.map_or(Ok(0), index_of)
    }

    async fn within(&self, client: &impl GenericClient, size: u64) -> Result<()> {
        let current = self.current_size(client).await?;
        if size > current {
            return Err(LogStoreError::NotFound(format!(
                "the log has {current} leaves, not {size}"
            )));
        }
        Ok(())
    }

    /// The consistency proof from size `old` to size `new` (0 < old ≤ new ≤ the log's size).
    pub async fn consistency(&self, old: u64, new: u64) -> Result<ConsistencyProof> {
        let client = self.db.client().await?;
        self.within(&client, new).await?;
        let map = fetch_nodes(&client, new, &nodes_for_consistency(old, new)?).await?;
        Ok(tree::consistency_proof_with(
            &mut |id| juki_log::Store::node(&map, id),
            old,
            new,
        )?)
    }

    /// The inclusion proof of leaf `index` in the tree of `size` leaves.
    pub async fn inclusion(&self, index: u64, size: u64) -> Result<InclusionProof> {
        let client = self.db.client().await?;
        self.within(&client, size).await?;
        let map = fetch_nodes(&client, size, &nodes_for_inclusion(index, size)?).await?;
        Ok(tree::inclusion_proof_with(
            &mut |id| juki_log::Store::node(&map, id),
            index,
            size,
        )?)
    }

    /// What a resident's disclosure needs, on one connection: their logged provisions with the
    /// latest head and each one's inclusion proof for it (the nodes of all proofs in one
    /// query), and how many of their provisions are not in that head yet; with the
    /// consistency proofs to that head from each of the sizes `since` the resident's client
    /// has seen (those it can prove: `0 < old < size`).
    pub async fn disclosure(&self, resident: &str, since: &[u64]) -> Result<Disclosed> {
        let client = self.db.client().await?;
        // Both queries pipelined on the one connection: one round trip.
        let rows_sql = format!(
            "SELECT {PROVISION_COLUMNS} FROM provision WHERE resident = $1 \
             ORDER BY leaf_index NULLS LAST"
        );
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&resident];
        let (head_sql, rows_sql) = tokio::join!(
            client.prepare_cached("SELECT sth FROM log_head ORDER BY size DESC LIMIT 1"),
            client.prepare_cached(rows_sql.as_str()),
        );
        let (head_sql, rows_sql) = (head_sql?, rows_sql?);
        let (head, rows) = tokio::join!(
            client.query_opt(&head_sql, &[]),
            client.query(&rows_sql, &params),
        );
        let head = head?
            .map(|r| SignedTreeHead::from_bytes(&r.get::<_, Vec<u8>>(0)))
            .transpose()?;
        let rows = rows?;
        let size = head.as_ref().map_or(0, |h| h.head.size);
        let mut logged = Vec::new();
        let mut pending = 0;
        for row in &rows {
            match (
                row.get::<_, Option<Vec<u8>>>(8),
                row.get::<_, Option<i64>>(9),
            ) {
                // Logged after the head was read: shown next time.
                (Some(salt), Some(index)) if index_of(index)? < size => logged.push(Logged {
                    opening: Opening {
                        record: Record::Provision(provision_record(row)?),
                        salt: salt_of(&salt)?,
                    },
                    index: index_of(index)?,
                }),
                _ => pending += 1,
            }
        }
        let mut ids = Vec::new();
        for l in &logged {
            for id in nodes_for_inclusion(l.index, size)? {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        let olds: Vec<u64> = since
            .iter()
            .copied()
            .filter(|old| *old > 0 && *old < size)
            .collect();
        for old in &olds {
            for id in nodes_for_consistency(*old, size)? {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        let map = fetch_nodes(&client, size, &ids).await?;
        let consistency = olds
            .iter()
            .map(|old| {
                Ok((
                    *old,
                    tree::consistency_proof_with(
                        &mut |id| juki_log::Store::node(&map, id),
                        *old,
                        size,
                    )?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let proofs = logged
            .iter()
            .map(|l| {
                Ok(tree::inclusion_proof_with(
                    &mut |id| juki_log::Store::node(&map, id),
                    l.index,
                    size,
                )?)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Disclosed {
            head,
            provisions: logged.into_iter().zip(proofs).collect(),
            consistency,
            pending,
        })
    }

    /// The leaves `[from, to)` recomputed from their records and salts — not read from the
    /// tree: a record altered or dropped in the database shows as a leaf that differs from the
    /// tree's, or as a missing index. At most [`MAX_ENTRIES`]; a leaf without a record is
    /// simply absent (the monitor notices the gap).
    pub async fn entries(&self, from: u64, to: u64) -> Result<Vec<Entry>> {
        if to < from || to - from > MAX_ENTRIES {
            return Err(LogStoreError::NotFound(format!(
                "entries [{from}, {to}): at most {MAX_ENTRIES} at a time"
            )));
        }
        let client = self.db.client().await?;
        self.within(&client, to).await?;
        let (from, to) = (sql_index(from)?, sql_index(to)?);
        let mut entries = Vec::new();
        for row in client
            .query(
                &format!(
                    "SELECT {PROVISION_COLUMNS} FROM provision \
                     WHERE leaf_index >= $1 AND leaf_index < $2"
                ),
                &[&from, &to],
            )
            .await?
        {
            let salt: Vec<u8> = row.get(8);
            let opening = Opening {
                record: Record::Provision(provision_record(&row)?),
                salt: salt_of(&salt)?,
            };
            entries.push(Entry {
                index: index_of(row.get(9))?,
                leaf: opening.leaf()?,
            });
        }
        for row in client
            .query(
                &format!(
                    "SELECT {ANCHOR_COLUMNS} FROM audit_anchor \
                     WHERE leaf_index >= $1 AND leaf_index < $2"
                ),
                &[&from, &to],
            )
            .await?
        {
            let a = anchor_row(&row)?;
            if let Some((salt, index)) = a.logged {
                let opening = Opening {
                    record: Record::AuditAnchor(a.anchor),
                    salt,
                };
                entries.push(Entry {
                    index,
                    leaf: opening.leaf()?,
                });
            }
        }
        entries.sort_by_key(|e| e.index);
        Ok(entries)
    }

    /// A resident's logged provisions, oldest first, with the salts that open them.
    pub async fn provisions_of(&self, resident: &str) -> Result<Vec<Logged>> {
        Ok(self.provisions_and_pending(resident).await?.0)
    }

    /// A resident's logged provisions (as [`ProvisionLog::provisions_of`]) and the number not
    /// logged yet, in one query.
    pub async fn provisions_and_pending(&self, resident: &str) -> Result<(Vec<Logged>, u64)> {
        let client = self.db.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {PROVISION_COLUMNS} FROM provision WHERE resident = $1 \
                     ORDER BY leaf_index NULLS LAST"
                ),
                &[&resident],
            )
            .await?;
        let mut logged = Vec::new();
        let mut pending = 0;
        for row in &rows {
            let (Some(salt), Some(index)) = (
                row.get::<_, Option<Vec<u8>>>(8),
                row.get::<_, Option<i64>>(9),
            ) else {
                pending += 1;
                continue;
            };
            logged.push(Logged {
                opening: Opening {
                    record: Record::Provision(provision_record(row)?),
                    salt: salt_of(&salt)?,
                },
                index: index_of(index)?,
            });
        }
        Ok((logged, pending))
    }

    /// Records a counter's audit-chain head (`records` records ending in `head`); the appender
    /// logs it with the next batch. Its number.
    pub async fn anchor(&self, municipality: &str, head: &[u8; 32], records: u64) -> Result<i64> {
        let client = self.db.client().await?;
        let row = client
            .query_one(
                "INSERT INTO audit_anchor (municipality, head, records) VALUES ($1, $2, $3) \
                 RETURNING id",
                &[&municipality, &head.to_vec(), &sql_index(records)?],
            )
            .await?;
        Ok(row.get(0))
    }

    /// A municipality's anchors, oldest first.
    pub async fn anchors_of(&self, municipality: &str) -> Result<Vec<AnchorRow>> {
        let client = self.db.client().await?;
        client
            .query(
                &format!(
                    "SELECT {ANCHOR_COLUMNS} FROM audit_anchor WHERE municipality = $1 ORDER BY id"
                ),
                &[&municipality],
            )
            .await?
            .iter()
            .map(anchor_row)
            .collect()
    }
}

/// Appends what waits every `every` until `shutdown` completes; a failed batch is tried again at
/// the next tick (nothing is lost: the records stay unlogged). `on_error` hears each failure.
pub async fn run_appender(
    log: ProvisionLog,
    every: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()>,
    on_error: impl Fn(&LogStoreError),
) {
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tick.tick() => {
                if let Err(e) = log.append_pending().await {
                    on_error(&e);
                }
            }
        }
    }
}
