-- The national register of 本人確認情報 (docs/network.md, "National register (PostgreSQL)").
-- Codes are fixed-width text (char(11), char(6)): the value the documents print, compared
-- byte for byte (the database is created in the C locale by pg_cluster.rs; the register never
-- relies on a collation's order beyond equality).

-- One row per municipality that has ever delivered: the delivery state.
CREATE TABLE municipality (
    code        char(6) PRIMARY KEY CHECK (code ~ '^[0-9]{6}$'),
    -- The last delivery sequence number applied; the next one must be last_seq + 1.
    last_seq    bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The current 本人確認情報 of every resident, one row per 住民票コード ever used.
CREATE TABLE resident (
    code          char(11) PRIMARY KEY CHECK (code ~ '^[0-9]{11}$'),
    name          text NOT NULL,
    birth         date NOT NULL,
    sex           char(1) NOT NULL CHECK (sex IN ('1', '2', '9')),
    address       text NOT NULL,
    -- The municipality that holds the resident's 住民票 (地方公共団体コード).
    municipality  char(6) NOT NULL REFERENCES municipality (code),
    status        text NOT NULL
                  CHECK (status IN ('registered', 'moving_out', 'removed', 'code_replaced')),
    -- A pending 転出: the destination named in the 転出届.
    moving_to     char(6) CHECK ((status = 'moving_out') = (moving_to IS NOT NULL)),
    -- 住民票コードの変更: the code that replaced this one.
    replaced_by   char(11) REFERENCES resident (code)
                  CHECK ((status = 'code_replaced') = (replaced_by IS NOT NULL)),
    -- Number of changes recorded for this code (its history rows are numbered 1..version).
    version       bigint NOT NULL CHECK (version >= 1),
    -- Date of the last change (異動日).
    changed_on    date NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- 4-info search: equality on name and birth date narrows 125 million rows to a handful; sex and
-- address are checked on those rows (an index on all four would be twice the size for no gain).
CREATE INDEX resident_name_birth ON resident (name, birth);
-- A municipality's residents, in code order (paging, the consistency checker).
CREATE INDEX resident_municipality ON resident (municipality, code);

-- Every change of every resident: the 異動情報.
CREATE TABLE resident_history (
    resident      char(11) NOT NULL REFERENCES resident (code),
    version       bigint NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('new', 'amend', 'move_within', 'move_out',
                                                'move_in', 'code_change', 'remove')),
    effective_on  date NOT NULL,
    -- The municipality whose delivery made the change, and that delivery's number.
    municipality  char(6) NOT NULL,
    seq           bigint NOT NULL,
    -- The 4 info before (NULL for a new code) and after.
    old_name      text,
    old_birth     date,
    old_sex       char(1),
    old_address   text,
    new_name      text NOT NULL,
    new_birth     date NOT NULL,
    new_sex       char(1) NOT NULL,
    new_address   text NOT NULL,
    -- 転出: the destination; 転入: the municipality left.
    other_municipality char(6),
    -- 住民票コードの変更: the other code (the new one on the old code's row, and the reverse).
    other_code    char(11),
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    -- A resident's history in order: the primary key is the lookup index.
    PRIMARY KEY (resident, version)
);

-- Every delivery applied: its outcome, returned again when the same number comes twice.
CREATE TABLE delivery (
    municipality  char(6) NOT NULL REFERENCES municipality (code),
    seq           bigint NOT NULL CHECK (seq >= 1),
    -- SHA-256 of the update's canonical encoding: the same number with other content is refused.
    digest        bytea NOT NULL,
    kind          text NOT NULL,
    resident      char(11) NOT NULL,
    version       bigint NOT NULL,
    applied_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (municipality, seq)
);

-- 本人確認情報の提供: every provision to an agency.
CREATE TABLE provision (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident      char(11) NOT NULL REFERENCES resident (code),
    provided_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    agency        text NOT NULL,
    -- The requesting identity (the node certificate's subject and serial).
    requester     text NOT NULL,
    purpose       text NOT NULL,
    -- How the agency asked: by 住民票コード or by the 4 info.
    query         text NOT NULL CHECK (query IN ('code', 'four_info')),
    -- The items provided.
    fields        text[] NOT NULL
);

-- A resident's provisions in time order (what the next issue shows the resident).
CREATE INDEX provision_resident_time ON provision (resident, provided_at);
