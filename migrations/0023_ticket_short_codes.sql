-- Each ticket's short code, what a person types at the door when its QR will not scan:
-- "K7QF-9M2X", the first 40 bits of SHA-256 of its signed code in Crockford base32, unique
-- within its event. A code whose short code another ticket of the event has already takes the
-- hash of '<code>#1' (then #2...), as issuance does (`tickets::code::short_code` is the same
-- derivation in Rust, and a test holds the two to each other).
CREATE FUNCTION ticket_short_code(code TEXT, attempt INT) RETURNS TEXT
LANGUAGE SQL IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT substr(s.c, 1, 4) || '-' || substr(s.c, 5, 4)
    FROM (
        SELECT string_agg(
                   substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((h.bits >> (35 - 5 * i)) & 31)::int + 1, 1),
                   '' ORDER BY i) AS c
        FROM (
            SELECT ('x' || encode(substring(
                       sha256(convert_to(CASE WHEN attempt = 0 THEN code ELSE code || '#' || attempt END, 'UTF8'))
                       FROM 1 FOR 5), 'hex'))::bit(40)::bigint AS bits
        ) h, generate_series(0, 7) AS i
    ) s
$$;

ALTER TABLE tickets ADD COLUMN short_code TEXT;
UPDATE tickets SET short_code = ticket_short_code(code, 0);
UPDATE tickets t SET short_code = ticket_short_code(t.code, 1)
FROM (SELECT id, row_number() OVER (PARTITION BY event_id, short_code ORDER BY id) AS n FROM tickets) d
WHERE d.id = t.id AND d.n > 1;
ALTER TABLE tickets ALTER COLUMN short_code SET NOT NULL;
CREATE UNIQUE INDEX tickets_event_short_code_key ON tickets (event_id, short_code);
