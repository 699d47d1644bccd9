-- The verifiable provision log (docs/log.md): every provision and every counter's audit anchor
-- becomes a leaf of an RFC 9162 Merkle tree whose heads the server signs. The leaves are salted
-- commitments: the salt stays here, with the record; the tree reveals nothing.

-- A provision gets its salt and leaf when the appender logs it (one writer, in id order).
ALTER TABLE provision
    ADD COLUMN salt bytea CHECK (length(salt) = 32),
    ADD COLUMN leaf_index bigint UNIQUE CHECK (leaf_index >= 0),
    ADD CONSTRAINT provision_logged_with_salt CHECK ((salt IS NULL) = (leaf_index IS NULL));

-- What the appender has still to log, in id order.
CREATE INDEX provision_unlogged ON provision (id) WHERE leaf_index IS NULL;

-- 開示 reads a resident's provisions through provision_resident_time (V1): a few rows each.

-- A municipal counter's audit-trail head, anchored so that the counter cannot rewrite its trail
-- unnoticed.
CREATE TABLE audit_anchor (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    municipality char(6) NOT NULL,
    head         bytea NOT NULL CHECK (length(head) = 32),
    records      bigint NOT NULL CHECK (records > 0),
    anchored_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    salt         bytea CHECK (length(salt) = 32),
    leaf_index   bigint UNIQUE CHECK (leaf_index >= 0),
    CHECK ((salt IS NULL) = (leaf_index IS NULL))
);
CREATE INDEX audit_anchor_unlogged ON audit_anchor (id) WHERE leaf_index IS NULL;
CREATE INDEX audit_anchor_municipality ON audit_anchor (municipality, id);

-- The tree: the hashes of perfect subtrees only, (level, idx) = leaves [idx·2^level,
-- (idx+1)·2^level). Insert-only: a node never changes once complete.
CREATE TABLE log_node (
    level smallint NOT NULL CHECK (level BETWEEN 0 AND 63),
    idx   bigint   NOT NULL CHECK (idx >= 0),
    hash  bytea    NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
);

-- Every signed tree head, written in the transaction that adds its leaves: the log's size is
-- the largest.
CREATE TABLE log_head (
    size      bigint PRIMARY KEY CHECK (size > 0),
    root      bytea NOT NULL CHECK (length(root) = 32),
    signed_at timestamptz NOT NULL,
    sth       bytea NOT NULL
);
