-- acquire_lease --
-- Take the lease in one statement when it is free, expired, or already ours; returns the row only if we hold it.
-- A new holder gets a new generation (the fencing token); the same holder keeps its own.
INSERT INTO leases AS l (name, holder, acquired_at, heartbeat_at, expires_at)
VALUES (%(name)s, %(holder)s, now(), now(), now() + make_interval(secs => %(ttl_seconds)s))
ON CONFLICT (name) DO UPDATE
    SET holder = EXCLUDED.holder,
        acquired_at = CASE WHEN l.holder = EXCLUDED.holder THEN l.acquired_at ELSE now() END,
        heartbeat_at = now(),
        expires_at = EXCLUDED.expires_at,
        generation = CASE WHEN l.holder = EXCLUDED.holder THEN l.generation
                          ELSE nextval('lease_generation') END
    WHERE l.expires_at <= now() OR l.holder = EXCLUDED.holder
RETURNING name, holder, acquired_at, heartbeat_at, expires_at, generation;

-- renew_lease --
-- Extend a lease we hold; no row means it was taken over after expiring.
UPDATE leases
SET heartbeat_at = now(), expires_at = now() + make_interval(secs => %(ttl_seconds)s)
WHERE name = %(name)s AND holder = %(holder)s
RETURNING expires_at;

-- check_lease_fence --
-- Inside a side effect's transaction: the lease is still ours, at our generation, unexpired; the row stays share-locked until commit, so no take-over commits in between.
-- The server ends the session if the transaction then sits idle for a lease TTL: a holder cut off mid-transaction would otherwise keep the lock, and every take-over waiting on it, until its network came back.
SELECT generation,
       set_config('idle_in_transaction_session_timeout', %(idle_timeout)s, true) AS idle_timeout
FROM leases
WHERE name = %(name)s AND holder = %(holder)s AND generation = %(generation)s
  AND expires_at > now()
FOR SHARE;

-- release_lease --
-- Give a lease up; only its holder can.
DELETE FROM leases WHERE name = %(name)s AND holder = %(holder)s;

-- get_lease --
-- One lease as it stands, with whether it has expired.
SELECT name, holder, acquired_at, heartbeat_at, expires_at, generation,
       expires_at <= now() AS expired
FROM leases WHERE name = %(name)s;

-- all_leases --
-- Every lease, for health.
SELECT name, holder, acquired_at, heartbeat_at, expires_at, expires_at <= now() AS expired
FROM leases ORDER BY name;
