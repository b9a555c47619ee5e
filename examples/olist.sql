-- examples/olist.sql: loads the real Olist subset (Brazilian e-commerce,
-- 20,864 orders, 2016-09 .. 2018-10; see data/olist/README.md for the files
-- and the licence, CC BY-NC-SA 4.0, Olist) into schema "olist", and makes
-- view olist.order_experience, one row per order, to use as a strategy's
-- source.
--
-- Run (drops and recreates schema "olist"; prints nothing on success):
--
--   psql -X -q -v ON_ERROR_STOP=1 -d DB -v olist_dir=/path/to/olist -f examples/olist.sql
--
-- The CSV files are read by psql (client side, \copy), so the server needs no
-- access to them.  \copy does not expand psql variables, so the directory is
-- passed to it through an environment variable of psql that the shell running
-- "cat" (FROM PROGRAM, also client side) expands: any directory name works,
-- spaces and quotes included.  Unix clients only.
--
-- After loading, the row counts are checked against the subset's (an error
-- names the table that differs); -v olist_check=off skips that check, e.g.
-- to load the full Kaggle dataset.
--
-- Source timestamps are local Brazilian times without a time zone; the view
-- converts them with AT TIME ZONE 'America/Sao_Paulo'.

\if :{?olist_dir}
\else
\warn 'olist.sql: set the directory of the CSV files: psql -v olist_dir=/path/to/olist -f examples/olist.sql'
DO $$ BEGIN RAISE EXCEPTION 'olist.sql: variable olist_dir is not set'; END $$;
\endif
\if :{?olist_check}
\else
\set olist_check on
\endif

\setenv OLIST_SQL_DIR :olist_dir

BEGIN;
SET LOCAL client_min_messages = warning;

DROP SCHEMA IF EXISTS olist CASCADE;
CREATE SCHEMA olist;
COMMENT ON SCHEMA olist IS
    'Olist Brazilian e-commerce subset (CC BY-NC-SA 4.0, Olist), loaded by examples/olist.sql';

CREATE TABLE olist.customers (
    customer_id              text PRIMARY KEY,
    customer_unique_id       text NOT NULL,      -- the person
    customer_zip_code_prefix text NOT NULL,      -- text: leading zeros matter
    customer_city            text NOT NULL,
    customer_state           text NOT NULL
);

CREATE TABLE olist.orders (
    order_id                      text PRIMARY KEY,
    customer_id                   text NOT NULL REFERENCES olist.customers,
    order_status                  text NOT NULL,
    order_purchase_timestamp      timestamp without time zone NOT NULL,
    order_approved_at             timestamp without time zone,
    order_delivered_carrier_date  timestamp without time zone,
    order_delivered_customer_date timestamp without time zone,
    order_estimated_delivery_date timestamp without time zone
);

CREATE TABLE olist.order_items (
    order_id            text NOT NULL REFERENCES olist.orders,
    order_item_id       integer NOT NULL,
    product_id          text NOT NULL,
    seller_id           text NOT NULL,
    shipping_limit_date timestamp without time zone,
    price               numeric(12,2) NOT NULL,
    freight_value       numeric(12,2) NOT NULL,
    PRIMARY KEY (order_id, order_item_id)
);

CREATE TABLE olist.order_payments (
    order_id             text NOT NULL REFERENCES olist.orders,
    payment_sequential   integer NOT NULL,
    payment_type         text NOT NULL,
    payment_installments integer NOT NULL,
    payment_value        numeric(12,2) NOT NULL,
    PRIMARY KEY (order_id, payment_sequential)
);

CREATE TABLE olist.order_reviews (
    review_id               text NOT NULL,       -- repeats across orders
    order_id                text NOT NULL REFERENCES olist.orders,
    review_score            integer NOT NULL CHECK (review_score BETWEEN 1 AND 5),
    review_comment_title    text,
    review_comment_message  text,
    review_creation_date    timestamp without time zone NOT NULL,
    review_answer_timestamp timestamp without time zone,
    PRIMARY KEY (review_id, order_id)
);

\copy olist.customers FROM PROGRAM 'cat -- "$OLIST_SQL_DIR/olist_customers_dataset.csv"' WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')
\copy olist.orders FROM PROGRAM 'cat -- "$OLIST_SQL_DIR/olist_orders_dataset.csv"' WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')
\copy olist.order_items FROM PROGRAM 'cat -- "$OLIST_SQL_DIR/olist_order_items_dataset.csv"' WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')
\copy olist.order_payments FROM PROGRAM 'cat -- "$OLIST_SQL_DIR/olist_order_payments_dataset.csv"' WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')
\copy olist.order_reviews FROM PROGRAM 'cat -- "$OLIST_SQL_DIR/olist_order_reviews_dataset.csv"' WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')

CREATE INDEX ON olist.customers (customer_unique_id);
CREATE INDEX ON olist.orders (customer_id);
CREATE INDEX ON olist.orders (order_delivered_customer_date);
CREATE INDEX ON olist.order_reviews (order_id);

-- One row per order.  buyer_id is the person (customer_unique_id; a
-- customer_id is one per order), market the buyer's state, money in BRL.
-- order_value is the items' price plus freight (NULL when the order has no
-- items), items their number (0 when none); rating is the lowest review score
-- and reviewed_at when the buyer answered the review that gave it
-- (review_answer_timestamp; the earliest answer if that score was given
-- twice; NULL when no review).  Not review_creation_date: that is when the
-- survey was sent, before the buyer rated, and a backtest must not see a
-- rating before it existed.
CREATE VIEW olist.order_experience AS
SELECT o.order_id,
       c.customer_unique_id AS buyer_id,
       c.customer_state AS market,
       'BRL'::text AS currency,
       o.order_status AS status,
       o.order_purchase_timestamp AT TIME ZONE 'America/Sao_Paulo' AS ordered_at,
       o.order_estimated_delivery_date AT TIME ZONE 'America/Sao_Paulo' AS promised_at,
       o.order_delivered_customer_date AT TIME ZONE 'America/Sao_Paulo' AS delivered_at,
       i.order_value,
       coalesce(i.items, 0) AS items,
       r.rating,
       r.reviewed_at
FROM olist.orders AS o
JOIN olist.customers AS c ON c.customer_id = o.customer_id
LEFT JOIN (SELECT order_id, sum(price + freight_value) AS order_value,
                  count(*)::integer AS items
           FROM olist.order_items
           GROUP BY order_id) AS i ON i.order_id = o.order_id
LEFT JOIN (SELECT DISTINCT ON (order_id) order_id, review_score AS rating,
                  review_answer_timestamp AT TIME ZONE 'America/Sao_Paulo' AS reviewed_at
           FROM olist.order_reviews
           ORDER BY order_id, review_score, review_answer_timestamp, review_id) AS r
       ON r.order_id = o.order_id;

COMMENT ON VIEW olist.order_experience IS
    'One row per Olist order: buyer = customer_unique_id, market = state, BRL; rating = lowest review score, reviewed_at = when the buyer answered that review';

\if :olist_check
DO $$
DECLARE
    t text;
    expected bigint;
    got bigint;
BEGIN
    FOR t, expected IN
        VALUES ('customers', 20864), ('orders', 20864), ('order_items', 23670),
               ('order_payments', 21850), ('order_reviews', 20795),
               ('order_experience', 20864)
    LOOP
        EXECUTE format('SELECT count(*) FROM olist.%I', t) INTO got;
        IF got <> expected THEN
            RAISE EXCEPTION 'olist.sql: olist.% has % rows, expected %', t, got, expected
                USING HINT = 'Is olist_dir the Olist subset of data/olist? -v olist_check=off skips this check.';
        END IF;
    END LOOP;
END
$$;
\endif

COMMIT;

\setenv OLIST_SQL_DIR

ANALYZE olist.customers, olist.orders, olist.order_items, olist.order_payments, olist.order_reviews;
