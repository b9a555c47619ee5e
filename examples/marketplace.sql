-- examples/marketplace.sql: a deterministic sample marketplace to try the
-- compensation extension on.
--
-- (Re)creates schema "marketplace" (DROP SCHEMA ... CASCADE first!) with
--   marketplace.buyers            about rows/3 buyers (segments vip/regular/new)
--   marketplace.orders            :rows orders in 6 markets and 5 currencies
--                                 (BR/BRL, US/USD, DE/EUR, FR/EUR, JP/JPY,
--                                 BH/BHD), 50 sellers, ordered 2026-01-01 ..
--                                 2026-11-20 UTC, about 20% delivered late
--   marketplace.reviews           ratings 1..5 of delivered orders; late
--                                 orders get lower ratings; a few revised
--   marketplace.order_experience  view, one row per order: order, buyer
--                                 segment, lowest rating (the usual "source"
--                                 of a strategy)
--   marketplace.purchases         repeat purchases (buyer_id, at, value,
--   marketplace.support_contacts  currency) and support contacts (buyer_id,
--                                 at): empty until generate_outcomes() runs
--   marketplace.generate_outcomes(repeat_points, contact_ratio)
--                                 fills them around each buyer's assignment,
--                                 with a planted effect of compensation
--
-- Outcomes with a planted effect.  Whether a buyer is compensated is known
-- only once compensation.apply() has run, so the outcomes are made by a
-- function the demo and the tests call after apply:
--
--   SELECT * FROM marketplace.generate_outcomes(repeat_points => 0.04,
--                                               contact_ratio => 0.7);
--
-- It reads compensation.decisions (the extension must be installed) and
-- replaces the rows of the two tables.  A buyer's reference time t is the
-- assigned_at of their first decision with an arm, of any strategy (ties:
-- at, order key), or the snapshot for the others; the buyer is compensated
-- when that first arm is 'treatment' (intention to treat: a later void
-- changes nothing).  Each buyer has, in each of the two 30-day windows
-- (t - 30 days, t] ("before") and (t, t + 30 days] ("after"):
--   - at most one purchase: with probability p = 0.10 (new), 0.15
--     (regular) or 0.30 (vip) + 0.10 u, u a per-buyer draw, the same in both
--     windows; after t, p + repeat_points for a compensated buyer;
--   - 0 .. 3 support contacts: each of 3 chances with probability
--     c = 0.05 + 0.30 u', the same in both windows; after t, c *
--     contact_ratio for a compensated buyer.
-- So, over the draws, a compensated buyer's repeat rate within 30 days is
-- exactly repeat_points higher (+4 points by default) and their mean number
-- of contacts exactly contact_ratio times (-30% by default) what it would
-- have been; the per-buyer propensities make "before" predict "after" (the
-- covariate of effect()'s CUPED estimate).  repeat_points must keep
-- p + repeat_points within [0, 1] (-0.10 .. 0.60) and contact_ratio within
-- [0, 2].  The draws are u(b, 40 .. 49) of the buyer's number b with the
-- seed given to this script, so the outcomes are deterministic given the
-- decisions.  compensation.effect() should recover the planted values:
--
--   SELECT * FROM compensation.effect('late_delivery_v1', 'marketplace.purchases',
--                                     '{"buyer": "buyer_id", "at": "at"}', '30 days');
--
-- Run (rows = number of orders, default 20000; seed = any integer, default 42):
--
--   psql -X -v ON_ERROR_STOP=1 -v rows=20000 -v seed=42 -f examples/marketplace.sql
--
-- The data is a snapshot taken at 2026-11-20 00:00 UTC: nothing was delivered
-- or reviewed after it (an order that would have been delivered later is still
-- "shipped"); only promised_at may lie beyond it.
--
-- Determinism: the same rows and seed give byte-identical data on any machine,
-- with any plan, parallel or not.  No random() or setseed(): every
-- pseudo-random draw is u(n, k), a pure function of a row number n, the seed
-- and a stream number k (hashint8extended, whose result does not depend on
-- byte order), mapped to [0,1) with 52 bits.  Only exact IEEE operations are
-- applied to draws (+, -, *, /, floor, comparisons: no exp, ln or pow, whose
-- last bit may differ between C libraries); money is made in integer minor
-- units, timestamps in integer seconds from 2026-01-01 00:00 UTC, and neither
-- depends on the session's TimeZone.  The same buyer's attributes are
-- recomputed from the buyer number where an order needs them.
--
-- 2,000,000 orders load in about 30 seconds on 2 cores.

\if :{?rows}
\else
\set rows 20000
\endif
\if :{?seed}
\else
\set seed 42
\endif

\set QUIET on

-- Normalise (and validate: an error stops the script) the two parameters.
SELECT :'rows'::bigint AS rows, :'seed'::bigint AS seed,
       (:'rows'::bigint BETWEEN 1 AND 999999999
        AND abs(:'seed'::bigint) <= 1000000000000000) AS mp_args_ok \gset
\if :mp_args_ok
\else
DO $$ BEGIN RAISE EXCEPTION 'marketplace.sql: rows must be in 1 .. 999999999 and seed in -10^15 .. 10^15'; END $$;
\endif

BEGIN;
SET LOCAL client_min_messages = warning;
SET LOCAL maintenance_work_mem = '256MB';

DROP SCHEMA IF EXISTS marketplace CASCADE;
CREATE SCHEMA marketplace;
COMMENT ON SCHEMA marketplace IS 'Sample marketplace made by examples/marketplace.sql';

-- ---------------------------------------------------------------------------
-- Helpers (session-temporary; all inlined by the planner).
-- ---------------------------------------------------------------------------

-- u(n, k): the k-th uniform draw in [0,1) for row number n (k < 64).
CREATE FUNCTION pg_temp.mp_u(n bigint, k integer) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ((hashint8extended(n, :seed * 64 + k) >> 11) & 4503599627370495)::double precision
           / 4503599627370496::double precision;

-- Seconds from 2026-01-01 00:00 UTC to a timestamptz (pure time arithmetic:
-- independent of TimeZone).
CREATE FUNCTION pg_temp.mp_ts(s bigint) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN timestamptz '2026-01-01 00:00:00+00' + s * interval '1 second';

CREATE FUNCTION pg_temp.mp_buyer_id(b bigint) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN 'buy_' || lpad(b::text, 9, '0');

CREATE FUNCTION pg_temp.mp_order_id(i bigint) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN 'ord_' || lpad(i::text, 9, '0');

-- Buyer market from draw u(b, 1): BR 40%, US 20%, DE 15%, FR 10%, JP 10%, BH 5%.
CREATE FUNCTION pg_temp.mp_market(u double precision) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN u < 0.40 THEN 'BR' WHEN u < 0.60 THEN 'US'
                WHEN u < 0.75 THEN 'DE' WHEN u < 0.85 THEN 'FR'
                WHEN u < 0.95 THEN 'JP' ELSE 'BH' END;

-- Buyer segment from draw u(b, 2): vip 5%, regular 75%, new 20%.
CREATE FUNCTION pg_temp.mp_segment(u double precision) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN u < 0.05 THEN 'vip' WHEN u < 0.80 THEN 'regular' ELSE 'new' END;

-- Buyer creation, in seconds from 2026-01-01 UTC, from draw u(b, 3): new
-- buyers joined during 2026 (before 2026-11-20), the others in 2022 .. 2025.
CREATE FUNCTION pg_temp.mp_created_s(segment text, u double precision) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN segment = 'new' THEN floor(u * 27907200)::bigint
                ELSE -126230400 + floor(u * 126230400)::bigint END;

-- Rating from a draw, by delivery class: 0 on time or early, 1 late by 1..20
-- days, 2 later than that.
CREATE FUNCTION pg_temp.mp_rating(u double precision, class integer) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE class
        WHEN 0 THEN CASE WHEN u < 0.03 THEN 1 WHEN u < 0.06 THEN 2 WHEN u < 0.14 THEN 3
                         WHEN u < 0.36 THEN 4 ELSE 5 END
        WHEN 1 THEN CASE WHEN u < 0.25 THEN 1 WHEN u < 0.45 THEN 2 WHEN u < 0.65 THEN 3
                         WHEN u < 0.82 THEN 4 ELSE 5 END
        ELSE        CASE WHEN u < 0.55 THEN 1 WHEN u < 0.75 THEN 2 WHEN u < 0.88 THEN 3
                         WHEN u < 0.95 THEN 4 ELSE 5 END
    END;

-- ---------------------------------------------------------------------------
-- Tables (keys and indexes are added after the load: much faster).
-- ---------------------------------------------------------------------------

CREATE TABLE marketplace.buyers (
    buyer_id   text        NOT NULL,
    market     text        NOT NULL,
    segment    text        NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE marketplace.orders (
    order_id     text        NOT NULL,
    buyer_id     text        NOT NULL,
    seller_id    text        NOT NULL,
    market       text        NOT NULL,
    currency     text        NOT NULL,
    status       text        NOT NULL,
    ordered_at   timestamptz NOT NULL,
    promised_at  timestamptz,
    delivered_at timestamptz,
    order_value  numeric     NOT NULL,
    items        integer     NOT NULL
);

CREATE TABLE marketplace.reviews (
    review_id   text        NOT NULL,
    order_id    text        NOT NULL,
    rating      integer     NOT NULL CHECK (rating BETWEEN 1 AND 5),
    reviewed_at timestamptz NOT NULL
);

-- ---------------------------------------------------------------------------
-- Buyers: b = 1 .. round(rows/3); draws u(b, 1..3).
-- ---------------------------------------------------------------------------

INSERT INTO marketplace.buyers (buyer_id, market, segment, created_at)
SELECT pg_temp.mp_buyer_id(b), pg_temp.mp_market(u_market), segment,
       pg_temp.mp_ts(pg_temp.mp_created_s(segment, u_created))
FROM (SELECT b, pg_temp.mp_u(b, 1) AS u_market,
             pg_temp.mp_segment(pg_temp.mp_u(b, 2)) AS segment,
             pg_temp.mp_u(b, 3) AS u_created
      FROM generate_series(1::bigint, greatest(1, round(:rows / 3.0))::bigint) AS g(b)
      OFFSET 0) AS s;

-- ---------------------------------------------------------------------------
-- Orders: i = 1 .. rows; draws u(i, 11..23), and the buyer's u(b, 1..3).
-- Times are in seconds from 2026-01-01 00:00 UTC; the snapshot is at
-- 27907200 (2026-11-20 00:00 UTC).  Each "OFFSET 0" keeps the planner from
-- flattening a stage, so that each draw is computed once per row.
-- ---------------------------------------------------------------------------

INSERT INTO marketplace.orders
    (order_id, buyer_id, seller_id, market, currency, status, ordered_at,
     promised_at, delivered_at, order_value, items)
SELECT pg_temp.mp_order_id(i), pg_temp.mp_buyer_id(b),
       'sel_' || lpad(seller::text, 3, '0'),
       market, currency,
       CASE WHEN status = 'delivered' AND delivered_s > 27907200 THEN 'shipped' ELSE status END,
       pg_temp.mp_ts(ordered_s),
       CASE WHEN u_no_promise >= 0.02 THEN pg_temp.mp_ts(promised_s) END,
       CASE WHEN status = 'delivered' AND delivered_s <= 27907200 THEN pg_temp.mp_ts(delivered_s) END,
       -- exact in the currency's minor unit (ISO 4217: JPY 0, BHD 3, others 2)
       CASE currency WHEN 'JPY' THEN value_units::numeric
                     WHEN 'BHD' THEN value_units * 0.001
                     ELSE value_units * 0.01 END,
       items
FROM (
    SELECT i, b, market, currency, seller, status, ordered_s, promised_s, u_no_promise, items,
           -- delivery relative to the promise, by class (see the thresholds below)
           CASE WHEN u_class < late_p * 0.1      -- very late: 21..60 days
                    THEN promised_s + (21 + floor(u_days * 40)::bigint) * 86400 + floor(u_sec * 86400)::bigint
                WHEN u_class < late_p             -- late: 1..20 days
                    THEN promised_s + (1 + floor(u_days * 20)::bigint) * 86400 + floor(u_sec * 86400)::bigint
                WHEN u_class < late_p + 0.33      -- early: 1..3 days before
                    THEN promised_s - (1 + floor(u_days * 3)::bigint) * 86400 - floor(u_sec * 86400)::bigint
                ELSE promised_s - floor(u_sec * 86400)::bigint  -- on the promised day
           END AS delivered_s,
           -- order value: lo .. hi minor units, right-skewed (vip buyers spend more)
           lo + floor((hi - lo + 1) * CASE WHEN segment = 'vip' THEN u_v1 * u_v2
                                           ELSE u_v1 * u_v2 * u_v3 END)::bigint AS value_units
    FROM (
        SELECT i, b, market, segment, seller, promise_days, u_no_promise, u_class, u_days, u_sec,
               u_v1, u_v2, u_v3,
               CASE market WHEN 'BR' THEN 'BRL' WHEN 'US' THEN 'USD' WHEN 'DE' THEN 'EUR'
                           WHEN 'FR' THEN 'EUR' WHEN 'JP' THEN 'JPY' ELSE 'BHD' END AS currency,
               CASE market WHEN 'BR' THEN 1500 WHEN 'US' THEN 500 WHEN 'DE' THEN 500
                           WHEN 'FR' THEN 500 WHEN 'JP' THEN 500 ELSE 2000 END AS lo,
               CASE market WHEN 'BR' THEN 250000 WHEN 'US' THEN 50000 WHEN 'DE' THEN 45000
                           WHEN 'FR' THEN 45000 WHEN 'JP' THEN 50000 ELSE 190000 END AS hi,
               CASE WHEN u_status < 0.905 THEN 'delivered' WHEN u_status < 0.945 THEN 'shipped'
                    WHEN u_status < 0.975 THEN 'canceled' ELSE 'processing' END AS status,
               -- five sellers (7, 17, ..., 47) deliver late far more often
               CASE WHEN seller % 10 = 7 THEN 0.47 ELSE 0.19 END::double precision AS late_p,
               -- 1 item 63%, 2 16%, 3 12%, 4 9%
               1 + floor(4 * u_items * u_items * u_items)::integer AS items,
               ordered_s,
               ordered_s + promise_days * 86400 AS promised_s
        FROM (
            SELECT i, b, market, segment, u_status, u_no_promise, u_class, u_days, u_sec,
                   u_v1, u_v2, u_v3, u_items,
                   -- 50 sellers, mildly skewed towards the low numbers
                   1 + floor(50 * u_seller * (1 + u_seller) / 2)::integer AS seller,
                   5 + floor(u_promise * 11)::bigint AS promise_days,
                   -- ordered after the buyer joined, before the snapshot
                   start_s + floor(u_time * (27907200 - start_s))::bigint AS ordered_s
            FROM (
                SELECT i, b, pg_temp.mp_market(u_market) AS market, segment,
                       greatest(0, pg_temp.mp_created_s(segment, u_created)) AS start_s,
                       u_time, u_seller, u_status, u_promise, u_no_promise, u_class, u_days, u_sec,
                       u_v1, u_v2, u_v3, u_items
                FROM (
                    SELECT i, b,
                           pg_temp.mp_u(b, 1) AS u_market,
                           pg_temp.mp_segment(pg_temp.mp_u(b, 2)) AS segment,
                           pg_temp.mp_u(b, 3) AS u_created,
                           pg_temp.mp_u(i, 12) AS u_time,
                           pg_temp.mp_u(i, 13) AS u_seller,
                           pg_temp.mp_u(i, 14) AS u_status,
                           pg_temp.mp_u(i, 15) AS u_promise,
                           pg_temp.mp_u(i, 16) AS u_no_promise,
                           pg_temp.mp_u(i, 17) AS u_class,
                           pg_temp.mp_u(i, 18) AS u_days,
                           pg_temp.mp_u(i, 19) AS u_sec,
                           pg_temp.mp_u(i, 20) AS u_v1,
                           pg_temp.mp_u(i, 21) AS u_v2,
                           pg_temp.mp_u(i, 22) AS u_v3,
                           pg_temp.mp_u(i, 23) AS u_items
                    FROM (SELECT i, 1 + floor(pg_temp.mp_u(i, 11)
                                              * greatest(1, round(:rows / 3.0))::bigint)::bigint AS b
                          FROM generate_series(1::bigint, :rows::bigint) AS g(i)
                          OFFSET 0) AS s0
                    OFFSET 0) AS s1
                OFFSET 0) AS s2
            OFFSET 0) AS s3
        OFFSET 0) AS s4
    OFFSET 0) AS s5;

-- ---------------------------------------------------------------------------
-- Reviews of delivered orders; draws u(i, 31..36) of the order's number i.
-- About 70% of delivered orders are reviewed (80% of late ones, 68% of the
-- others), 0 .. 7 days after delivery; 4% of those are revised 1 .. 14 days
-- later with a fresh rating.  Nothing is reviewed after the snapshot.
-- ---------------------------------------------------------------------------

INSERT INTO marketplace.reviews (review_id, order_id, rating, reviewed_at)
SELECT 'rev_' || substr(order_id, 5) || '_' || n, order_id,
       pg_temp.mp_rating(CASE n WHEN 1 THEN u_rating1 ELSE u_rating2 END, class),
       pg_temp.mp_ts(CASE n WHEN 1 THEN reviewed1_s ELSE reviewed2_s END)
FROM (
    SELECT order_id, class, u_rating1, u_rating2,
           u_review < CASE class WHEN 0 THEN 0.68 ELSE 0.80 END AS reviewed,
           u_revised < 0.04 AS revised,
           reviewed1_s, reviewed1_s + 86400 + floor(u_delay2 * 13 * 86400)::bigint AS reviewed2_s
    FROM (
        SELECT order_id,
               CASE WHEN late_s >= 21 * 86400 THEN 2 WHEN late_s > 0 THEN 1 ELSE 0 END AS class,
               delivered_s + floor(u_delay1 * 7 * 86400)::bigint AS reviewed1_s,
               u_review, u_rating1, u_revised, u_rating2, u_delay2
        FROM (SELECT order_id, delivered_s, late_s,
                     pg_temp.mp_u(i, 31) AS u_review,
                     pg_temp.mp_u(i, 32) AS u_rating1,
                     pg_temp.mp_u(i, 33) AS u_delay1,
                     pg_temp.mp_u(i, 34) AS u_revised,
                     pg_temp.mp_u(i, 35) AS u_rating2,
                     pg_temp.mp_u(i, 36) AS u_delay2
              FROM (SELECT order_id, substr(order_id, 5)::bigint AS i,
                           extract(epoch FROM delivered_at - timestamptz '2026-01-01 00:00:00+00')::bigint
                               AS delivered_s,
                           coalesce(extract(epoch FROM delivered_at - promised_at)::bigint, 0) AS late_s
                    FROM marketplace.orders
                    WHERE status = 'delivered'
                    OFFSET 0) AS d0
              OFFSET 0) AS d1
        OFFSET 0) AS d2
    OFFSET 0) AS d3
CROSS JOIN (VALUES (1), (2)) AS v(n)
WHERE reviewed
  AND (n = 1 OR revised)
  AND CASE n WHEN 1 THEN reviewed1_s ELSE reviewed2_s END <= 27907200;

-- ---------------------------------------------------------------------------
-- Keys and indexes.
-- ---------------------------------------------------------------------------

ALTER TABLE marketplace.buyers ADD PRIMARY KEY (buyer_id);
ALTER TABLE marketplace.orders ADD PRIMARY KEY (order_id);
ALTER TABLE marketplace.reviews ADD PRIMARY KEY (review_id);
ALTER TABLE marketplace.orders ADD FOREIGN KEY (buyer_id) REFERENCES marketplace.buyers;
ALTER TABLE marketplace.reviews ADD FOREIGN KEY (order_id) REFERENCES marketplace.orders;
CREATE INDEX ON marketplace.orders (buyer_id);
CREATE INDEX ON marketplace.orders (delivered_at);
CREATE INDEX ON marketplace.reviews (order_id);

-- ---------------------------------------------------------------------------
-- The source view: one row per order.  rating is the order's LOWEST review
-- rating (NULL when not reviewed) and reviewed_at the time of that review
-- (the earliest one if the lowest rating was given twice), i.e. when the buyer
-- expressed the experience a review strategy reacts to.
-- ---------------------------------------------------------------------------

CREATE VIEW marketplace.order_experience AS
SELECT o.order_id, o.buyer_id, o.seller_id, o.market, o.currency, o.status,
       o.ordered_at, o.promised_at, o.delivered_at, o.order_value, o.items,
       b.segment, r.rating, r.reviewed_at
FROM marketplace.orders AS o
JOIN marketplace.buyers AS b ON b.buyer_id = o.buyer_id
LEFT JOIN LATERAL (SELECT rv.rating, rv.reviewed_at
                   FROM marketplace.reviews AS rv
                   WHERE rv.order_id = o.order_id
                   ORDER BY rv.rating, rv.reviewed_at, rv.review_id
                   LIMIT 1) AS r ON true;

COMMENT ON VIEW marketplace.order_experience IS
    'One row per order: rating is the lowest review rating, reviewed_at the time of that review';

-- ---------------------------------------------------------------------------
-- Outcomes: repeat purchases and support contacts, made after apply() by
-- marketplace.generate_outcomes() (see the header).  The seed is kept in
-- marketplace.settings, as psql variables do not reach a function body.
-- ---------------------------------------------------------------------------

CREATE TABLE marketplace.settings (seed bigint NOT NULL);
INSERT INTO marketplace.settings VALUES (:seed);

CREATE TABLE marketplace.purchases (
    buyer_id text        NOT NULL REFERENCES marketplace.buyers,
    at       timestamptz NOT NULL,
    value    numeric     NOT NULL,
    currency text        NOT NULL
);

CREATE TABLE marketplace.support_contacts (
    buyer_id text        NOT NULL REFERENCES marketplace.buyers,
    at       timestamptz NOT NULL
);

CREATE INDEX ON marketplace.purchases (buyer_id, at);
CREATE INDEX ON marketplace.support_contacts (buyer_id, at);

COMMENT ON TABLE marketplace.purchases IS
    'Repeat purchases around each buyer''s assignment, made by generate_outcomes() with a planted effect';
COMMENT ON TABLE marketplace.support_contacts IS
    'Support contacts around each buyer''s assignment, made by generate_outcomes() with a planted effect';

CREATE FUNCTION marketplace.generate_outcomes(repeat_points double precision DEFAULT 0.04,
                                              contact_ratio double precision DEFAULT 0.7)
RETURNS TABLE (purchases bigint, contacts bigint, compensated_buyers bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    seed bigint := (SELECT s.seed FROM marketplace.settings AS s);
BEGIN
    IF repeat_points IS NULL OR repeat_points < -0.10 OR repeat_points > 0.60
       OR contact_ratio IS NULL OR contact_ratio < 0 OR contact_ratio > 2 THEN
        RAISE EXCEPTION 'generate_outcomes: repeat_points must be in -0.10 .. 0.60 and contact_ratio in 0 .. 2'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    TRUNCATE marketplace.purchases, marketplace.support_contacts;
    -- one row per buyer: number b, reference time t (seconds from
    -- 2026-01-01 UTC, whole seconds), compensated, and the draws
    CREATE TEMP TABLE mp_outcome_buyers ON COMMIT DROP AS
    SELECT buyer_id, currency, t, compensated,
           -- u(b, k) as in marketplace.sql: 52 bits of hashint8extended
           ((hashint8extended(b, seed * 64 + 40) >> 11) & 4503599627370495)::double precision
               / 4503599627370496 AS u_repeat,
           ((hashint8extended(b, seed * 64 + 41) >> 11) & 4503599627370495)::double precision
               / 4503599627370496 AS u_buy_before,
           ((hashint8extended(b, seed * 64 + 42) >> 11) & 4503599627370495)::double precision
               / 4503599627370496 AS u_buy_after,
           ((hashint8extended(b, seed * 64 + 43) >> 11) & 4503599627370495)::double precision
               / 4503599627370496 AS u_time_before,
           ((hashint8extended(b, seed * 64 + 44) >> 11) & 4503599627370495)::double precision
               / 4503599627370496 AS u_time_after,
           ((hashint8extended(b, seed * 64 + 45) >> 11) & 4503599627370495)::double precision
               / 4503599627370496 AS u_value,
           ((hashint8extended(b, seed * 64 + 46) >> 11) & 4503599627370495)::double precision
               / 4503599627370496 AS u_contact,
           CASE segment WHEN 'vip' THEN 0.30 WHEN 'regular' THEN 0.15 ELSE 0.10 END::double precision AS p_base
      FROM (SELECT by0.buyer_id, substr(by0.buyer_id, 5)::bigint AS b, by0.segment,
                   CASE by0.market WHEN 'BR' THEN 'BRL' WHEN 'US' THEN 'USD' WHEN 'DE' THEN 'EUR'
                                   WHEN 'FR' THEN 'EUR' WHEN 'JP' THEN 'JPY' ELSE 'BHD' END AS currency,
                   coalesce(floor(extract(epoch FROM f.assigned_at - timestamptz '2026-01-01 00:00:00+00'))::bigint,
                            27907200) AS t,
                   coalesce(f.arm = 'treatment', false) AS compensated
              FROM marketplace.buyers AS by0
              LEFT JOIN (SELECT DISTINCT ON (d.buyer) d.buyer, d.assigned_at, d.arm
                           FROM compensation.decisions AS d
                          WHERE d.arm IS NOT NULL
                          ORDER BY d.buyer, d.assigned_at, d.at, d.order_key) AS f
                ON f.buyer = by0.buyer_id) AS s;

    -- purchases: window w = 0 before t, 1 after; at most one each
    INSERT INTO marketplace.purchases (buyer_id, at, value, currency)
    SELECT buyer_id,
           timestamptz '2026-01-01 00:00:00+00'
             + (CASE w WHEN 0 THEN t - floor(u_time_before * 2592000)::bigint
                       ELSE t + 1 + floor(u_time_after * 2592000)::bigint END) * interval '1 second',
           -- 5.00 .. 204.99 in the buyer's currency (whole units for JPY: x100)
           CASE currency WHEN 'JPY' THEN (500 + floor(u_value * 20000)::bigint)::numeric
                         ELSE (500 + floor(u_value * 20000)::bigint) * 0.01 END,
           currency
      FROM mp_outcome_buyers CROSS JOIN (VALUES (0), (1)) AS v(w)
     WHERE CASE w WHEN 0 THEN u_buy_before < p_base + 0.10 * u_repeat
                  ELSE u_buy_after < p_base + 0.10 * u_repeat
                                     + CASE WHEN compensated THEN repeat_points ELSE 0 END END;

    -- contacts: 3 chances in each window, draws u(b, 47 + chance) for the
    -- chance and its time (two halves of one 52-bit draw would correlate)
    INSERT INTO marketplace.support_contacts (buyer_id, at)
    SELECT buyer_id,
           timestamptz '2026-01-01 00:00:00+00'
             + (CASE w WHEN 0 THEN t - floor(u_time * 2592000)::bigint
                       ELSE t + 1 + floor(u_time * 2592000)::bigint END) * interval '1 second'
      FROM (SELECT buyer_id, t, w, compensated, u_contact,
                   ((hashint8extended(substr(buyer_id, 5)::bigint * 8 + w * 4 + chance, seed * 64 + 47) >> 11)
                    & 4503599627370495)::double precision / 4503599627370496 AS u_chance,
                   ((hashint8extended(substr(buyer_id, 5)::bigint * 8 + w * 4 + chance, seed * 64 + 48) >> 11)
                    & 4503599627370495)::double precision / 4503599627370496 AS u_time
              FROM mp_outcome_buyers
             CROSS JOIN (VALUES (0), (1)) AS v(w)
             CROSS JOIN (VALUES (0), (1), (2)) AS c(chance)) AS s
     WHERE u_chance < (0.05 + 0.30 * u_contact)
                      * CASE WHEN w = 1 AND compensated THEN contact_ratio ELSE 1 END;

    RETURN QUERY
    SELECT (SELECT count(*) FROM marketplace.purchases),
           (SELECT count(*) FROM marketplace.support_contacts),
           (SELECT count(*) FROM mp_outcome_buyers WHERE compensated);
    DROP TABLE mp_outcome_buyers;
END
$fn$;

COMMENT ON FUNCTION marketplace.generate_outcomes(double precision, double precision) IS
    'Fills purchases and support_contacts around each buyer''s first assignment (compensation.decisions), with a planted effect: + repeat_points of 30-day repeat rate and contact_ratio times the contacts for compensated buyers';

COMMIT;

ANALYZE marketplace.buyers, marketplace.orders, marketplace.reviews;

SELECT format('marketplace: %s buyers, %s orders, %s reviews (rows=%s, seed=%s)',
              (SELECT count(*) FROM marketplace.buyers),
              (SELECT count(*) FROM marketplace.orders),
              (SELECT count(*) FROM marketplace.reviews), :rows, :seed) AS mp_summary \gset
\echo :mp_summary
