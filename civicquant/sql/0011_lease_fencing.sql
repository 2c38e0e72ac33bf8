-- Fenced leases: each taking of a lease gets a new generation (a fencing token), never
-- reused, even after the row is released and taken again. A holder's side effects (a
-- digest part reserved or recorded, a listen batch stored) check in their own transaction
-- that the lease is still theirs at that generation and unexpired, with the row share-locked
-- so that no take-over can commit in between.

CREATE SEQUENCE lease_generation;

ALTER TABLE leases ADD COLUMN generation bigint NOT NULL DEFAULT nextval('lease_generation');
