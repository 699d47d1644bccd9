-- 転入転出の特例: a 転入 completes the 転出 at the municipality the resident left. That
-- municipality learns it from here, in order (docs/network.md, "Departures").
CREATE TABLE departure (
    -- The cursor a municipality reads from: strictly increasing in commit order per reader is
    -- not needed, only "every row after the last one seen", which an identity gives within
    -- one municipality's reads because rows are only appended.
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The municipality left, and the one moved to.
    from_municipality char(6) NOT NULL REFERENCES municipality (code),
    to_municipality   char(6) NOT NULL REFERENCES municipality (code),
    resident        char(11) NOT NULL REFERENCES resident (code),
    -- The resident's version after the 転入, and its date (異動日).
    version         bigint NOT NULL,
    effective_on    date NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);

-- A municipality's departures after its cursor.
CREATE INDEX departure_from ON departure (from_municipality, id);
