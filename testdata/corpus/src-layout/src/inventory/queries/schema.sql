CREATE TABLE items (name TEXT);
INSERT INTO items VALUES ('bolt'), ('nut');
