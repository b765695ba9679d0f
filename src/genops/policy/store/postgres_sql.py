"""The PostgreSQL schema of the policy store: tables plus PL/pgSQL functions, so each reserve,
settle and rate-window step is one round trip and one transaction.

Budget steps lock the counter row (`SELECT ... FOR UPDATE`); rate windows take a transaction
advisory lock on the window's key. Both are safe across connections and hosts. Bump
`SCHEMA_VERSION` when a function changes (functions are replaced under an advisory lock).
"""

SCHEMA_VERSION = 1
SCHEMA_LOCK_KEY = 0x67656E6F7050  # "genopP"

TABLES = (
    """CREATE TABLE IF NOT EXISTS genops_policy_schema (version INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS genops_budget_counters (
        policy TEXT NOT NULL, scope TEXT NOT NULL, period_start TIMESTAMPTZ NOT NULL,
        period_end TIMESTAMPTZ NOT NULL, spent BIGINT NOT NULL, reserved BIGINT NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (policy, scope, period_start))""",
    """CREATE TABLE IF NOT EXISTS genops_budget_reservations (
        id TEXT PRIMARY KEY, policy TEXT NOT NULL, scope TEXT NOT NULL, period_start TIMESTAMPTZ NOT NULL,
        amount BIGINT NOT NULL, expires_at DOUBLE PRECISION NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS genops_budget_reservations_key
        ON genops_budget_reservations (policy, scope, period_start, expires_at)""",
    """CREATE TABLE IF NOT EXISTS genops_budget_overrides (
        policy TEXT NOT NULL, scope TEXT NOT NULL, limit_nano BIGINT NOT NULL, until DOUBLE PRECISION NOT NULL,
        created_at DOUBLE PRECISION NOT NULL, reason TEXT, PRIMARY KEY (policy, scope))""",
    """CREATE TABLE IF NOT EXISTS genops_rate_events (
        key TEXT NOT NULL, id TEXT NOT NULL, ts DOUBLE PRECISION NOT NULL, weight BIGINT NOT NULL,
        PRIMARY KEY (key, id))""",
    "CREATE INDEX IF NOT EXISTS genops_rate_events_ts ON genops_rate_events (key, ts)",
    """CREATE TABLE IF NOT EXISTS genops_alert_claims (
        policy TEXT NOT NULL, scope TEXT NOT NULL, period_start TIMESTAMPTZ NOT NULL, threshold TEXT NOT NULL,
        claimed_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (policy, scope, period_start, threshold))""",
)

FUNCTIONS = (
    """CREATE OR REPLACE FUNCTION genops_budget_limit(p_policy TEXT, p_scope TEXT, p_limit BIGINT, p_now DOUBLE PRECISION)
    RETURNS BIGINT LANGUAGE sql STABLE AS $$
        SELECT COALESCE((SELECT o.limit_nano FROM genops_budget_overrides o
                         WHERE o.policy = p_policy AND o.scope IN (p_scope, '*') AND o.until > p_now
                         ORDER BY o.scope = '*' LIMIT 1), p_limit)
    $$""",
    """CREATE OR REPLACE FUNCTION genops_budget_reserve(
        p_policy TEXT, p_scope TEXT, p_period TIMESTAMPTZ, p_amount BIGINT, p_limit BIGINT,
        p_now DOUBLE PRECISION, p_expires DOUBLE PRECISION, p_id TEXT)
    RETURNS TABLE (r_status INTEGER, r_spent BIGINT, r_reserved BIGINT, r_limit BIGINT)
    LANGUAGE plpgsql AS $$
    DECLARE
        c_spent BIGINT; c_reserved BIGINT; expired BIGINT; lim BIGINT;
    BEGIN
        SELECT c.spent, c.reserved INTO c_spent, c_reserved FROM genops_budget_counters c
            WHERE c.policy = p_policy AND c.scope = p_scope AND c.period_start = p_period FOR UPDATE;
        IF NOT FOUND THEN
            RETURN QUERY SELECT -1, 0::BIGINT, 0::BIGINT, 0::BIGINT; RETURN;
        END IF;
        WITH d AS (DELETE FROM genops_budget_reservations r
                   WHERE r.policy = p_policy AND r.scope = p_scope AND r.period_start = p_period
                     AND r.expires_at <= p_now RETURNING r.amount)
        SELECT COALESCE(SUM(d.amount), 0) INTO expired FROM d;
        c_reserved := GREATEST(c_reserved - expired, 0);
        lim := genops_budget_limit(p_policy, p_scope, p_limit, p_now);
        IF c_spent + c_reserved + p_amount > lim THEN
            IF expired > 0 THEN
                UPDATE genops_budget_counters c SET reserved = c_reserved, updated_at = p_now
                    WHERE c.policy = p_policy AND c.scope = p_scope AND c.period_start = p_period;
            END IF;
            RETURN QUERY SELECT 0, c_spent, c_reserved, lim; RETURN;
        END IF;
        IF p_amount > 0 THEN
            INSERT INTO genops_budget_reservations (id, policy, scope, period_start, amount, expires_at)
                VALUES (p_id, p_policy, p_scope, p_period, p_amount, p_expires);
        END IF;
        UPDATE genops_budget_counters c SET reserved = c_reserved + p_amount, updated_at = p_now
            WHERE c.policy = p_policy AND c.scope = p_scope AND c.period_start = p_period;
        RETURN QUERY SELECT 1, c_spent, c_reserved + p_amount, lim;
    END $$""",
    """CREATE OR REPLACE FUNCTION genops_budget_settle(
        p_policy TEXT, p_scope TEXT, p_period TIMESTAMPTZ, p_id TEXT, p_amount BIGINT, p_limit BIGINT,
        p_now DOUBLE PRECISION)
    RETURNS TABLE (r_status INTEGER, r_before BIGINT, r_after BIGINT, r_limit BIGINT)
    LANGUAGE plpgsql AS $$
    DECLARE
        c_spent BIGINT; held BIGINT := 0; actual BIGINT;
    BEGIN
        SELECT c.spent INTO c_spent FROM genops_budget_counters c
            WHERE c.policy = p_policy AND c.scope = p_scope AND c.period_start = p_period FOR UPDATE;
        IF NOT FOUND THEN
            RETURN QUERY SELECT -1, 0::BIGINT, 0::BIGINT, 0::BIGINT; RETURN;
        END IF;
        IF p_id IS NOT NULL THEN
            DELETE FROM genops_budget_reservations r WHERE r.id = p_id RETURNING r.amount INTO held;
            held := COALESCE(held, 0);
        END IF;
        actual := COALESCE(p_amount, held);
        UPDATE genops_budget_counters c
            SET spent = c.spent + actual, reserved = GREATEST(c.reserved - held, 0), updated_at = p_now
            WHERE c.policy = p_policy AND c.scope = p_scope AND c.period_start = p_period;
        RETURN QUERY SELECT 1, c_spent, c_spent + actual, genops_budget_limit(p_policy, p_scope, p_limit, p_now);
    END $$""",
    """CREATE OR REPLACE FUNCTION genops_rate_acquire(
        p_key TEXT, p_now DOUBLE PRECISION, p_window DOUBLE PRECISION, p_weight BIGINT,
        p_max_requests BIGINT, p_max_tokens BIGINT, p_id TEXT)
    RETURNS TABLE (r_ok BOOLEAN, r_count BIGINT, r_tokens BIGINT)
    LANGUAGE plpgsql AS $$
    DECLARE
        n BIGINT; tok BIGINT;
    BEGIN
        PERFORM pg_advisory_xact_lock(hashtextextended('genops_rate:' || p_key, 0));
        DELETE FROM genops_rate_events e WHERE e.key = p_key AND e.ts <= p_now - p_window;
        SELECT COUNT(*), COALESCE(SUM(e.weight), 0) INTO n, tok FROM genops_rate_events e WHERE e.key = p_key;
        IF (p_max_requests IS NOT NULL AND n + 1 > p_max_requests)
           OR (p_max_tokens IS NOT NULL AND tok + p_weight > p_max_tokens) THEN
            RETURN QUERY SELECT FALSE, n, tok; RETURN;
        END IF;
        INSERT INTO genops_rate_events (key, id, ts, weight) VALUES (p_key, p_id, p_now, p_weight);
        RETURN QUERY SELECT TRUE, n + 1, tok + p_weight;
    END $$""",
)
