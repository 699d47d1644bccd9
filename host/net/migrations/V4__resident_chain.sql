-- The resident's chain (docs/log.md): each logged provision names the leaf of the same
-- resident's previous one, so that a provision withheld or deleted leaves a gap the resident's
-- own client sees. Set by the appender with salt and leaf_index.
ALTER TABLE provision
    ADD COLUMN previous_leaf bigint CHECK (previous_leaf >= 0),
    ADD CONSTRAINT provision_previous_before CHECK (previous_leaf < leaf_index);

-- The appender's lookup of each resident's newest logged provision.
CREATE INDEX provision_resident_leaf ON provision (resident, leaf_index)
    WHERE leaf_index IS NOT NULL;
