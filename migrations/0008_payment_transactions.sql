-- Every transaction the gateway reports is kept, whatever it does to the payment: the one that
-- pays the booking (`applied`), a decline, an amount that does not match (`flagged`, kept for a
-- person to look at) and a second capture of a payment or booking that was paid already
-- (`duplicate`). A captured amount that does not pay for tickets is refunded through the provider;
-- `refund_status` follows that refund.
CREATE TABLE payment_transactions (
    id              UUID PRIMARY KEY,
    payment_id      UUID NOT NULL REFERENCES payments (id) ON DELETE RESTRICT,
    provider        TEXT NOT NULL,
    transaction_id  TEXT NOT NULL,
    -- what the gateway reported
    status          TEXT NOT NULL CHECK (status IN ('succeeded', 'failed')),
    amount          BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    outcome         TEXT NOT NULL CHECK (outcome IN ('applied', 'declined', 'flagged', 'duplicate')),
    refund_status   TEXT CHECK (refund_status IN ('pending', 'succeeded')),
    refund_reason   TEXT,
    refunded_at     TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- money that was captured and does not pay for tickets is always on its way back
    CHECK (outcome NOT IN ('flagged', 'duplicate') OR status <> 'succeeded' OR refund_status IS NOT NULL)
);
CREATE UNIQUE INDEX payment_transactions_key ON payment_transactions (provider, transaction_id);
CREATE INDEX payment_transactions_payment_idx ON payment_transactions (payment_id, created_at);
CREATE INDEX payment_transactions_refund_idx ON payment_transactions (id) WHERE refund_status = 'pending';
CREATE TRIGGER payment_transactions_updated_at BEFORE UPDATE ON payment_transactions
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- the transactions that settled payments before this table existed
INSERT INTO payment_transactions (id, payment_id, provider, transaction_id, status, amount, currency,
                                  outcome, refund_status, created_at)
SELECT gen_random_uuid(), p.id, p.provider, p.transaction_id,
       CASE WHEN p.status = 'failed' THEN 'failed' ELSE 'succeeded' END, p.price, p.currency,
       CASE p.status WHEN 'failed' THEN 'declined' WHEN 'flagged' THEN 'flagged' ELSE 'applied' END,
       CASE p.status WHEN 'refunded' THEN 'succeeded' WHEN 'flagged' THEN 'pending' END,
       coalesce(p.paid_at, p.updated_at)
FROM payments p WHERE p.transaction_id IS NOT NULL;
-- the money of a flagged payment goes back (payments' outbox consumer refunds it), and the
-- payment no longer blocks its booking: it is open again for the correct amount
INSERT INTO outbox (subject, aggregate_id, payload)
SELECT 'payments.refund_requested', p.id,
       jsonb_build_object('transaction', t.id, 'payment_id', p.id, 'booking_id', p.booking_id,
                          'user_id', p.user_id, 'amount', t.amount, 'currency', t.currency,
                          'reason', 'the amount did not match the booking')
FROM payment_transactions t JOIN payments p ON p.id = t.payment_id WHERE t.refund_status = 'pending';
UPDATE payments SET status = 'pending', transaction_id = NULL WHERE status = 'flagged';

-- A payment closed without money (another payment of its booking was paid, or it was replaced)
-- is `cancelled`.
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check
    CHECK (status IN ('pending', 'succeeded', 'failed', 'refunded', 'flagged', 'cancelled'));

-- One booking has at most one open payment: concurrent checkouts answer the same one. Earlier
-- duplicates keep their newest.
UPDATE payments p SET status = 'cancelled'
WHERE p.status = 'pending' AND EXISTS (
    SELECT 1 FROM payments q WHERE q.booking_id = p.booking_id AND q.status = 'pending' AND q.id > p.id);
CREATE UNIQUE INDEX payments_one_open_key ON payments (booking_id) WHERE status = 'pending';
