-- test/pgtap/oracle_effect.sql — compensation.effect() and the t quantile
-- against references (issue #13, item 4).
--
-- 1. student_t_quantile: the closed forms for df 1, 2 and 4
--      df 1: tan(pi (p - 1/2));  df 2: (2p - 1) / sqrt(2p(1 - p));
--      df 4: a = 4p(1 - p), q = cos(acos(sqrt a) / 3) / sqrt a,
--            t = sign(p - 1/2) 2 sqrt(q - 1)
--    and the root of the regularized incomplete beta tail for other df
--    (including non-integer and huge ones), all evaluated with mpmath at 50
--    digits at the exact binary value of p and df, pasted here: relative
--    error <= 1e-12, absolute at p = 0.5.
-- 2. effect() on two generated experiments (oe_small: 4 + 3 buyers;
--    oe_large: 20,000 buyers, 80% treated, some with a second decision
--    later, outcome rows on and just beyond the window edges) against
--      - plain SQL: per-buyer sums with a LEFT JOIN and FILTER, arms taken
--        from the generator (not from the decisions), means with avg, Welch
--        with var_samp and the usual formula, theta as
--        sum((x - mean x)(y - mean y)) / sum((x - mean x)^2);  means exact,
--        the rest within 1e-9 relative;
--      - SciPy 1.10 (numpy var/cov, scipy.stats.t.ppf, ttest_ind), computed
--        once from the same per-buyer values and pasted: within 1e-9;
--    and "by", as_of (open windows left out) and the period.
-- 3. cost and ROI on a real apply() over the marketplace: the cost is the
--    grants not voided; a voided grant keeps its buyer in treatment.
-- Everything is rolled back.

BEGIN;
SET LOCAL client_min_messages = warning;
SET LOCAL TimeZone = 'UTC';

SELECT plan(34);

-- ---------------------------------------------------------------------------
-- 1. the t quantile
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE tq_ref (p float8, df float8, ref float8, kind text);
INSERT INTO tq_ref VALUES
	(0.975::float8, 1::float8, 12.706204736174693314::float8, 'closed'),
	(0.8::float8, 1::float8, 1.376381920471173942::float8, 'closed'),
	(0.999::float8, 1::float8, 318.3088389855501632::float8, 'closed'),
	(0.6::float8, 1::float8, 0.32491969623290624903::float8, 'closed'),
	(0.001::float8, 1::float8, -318.3088389855504393::float8, 'closed'),
	(0.025::float8, 1::float8, -12.706204736174703938::float8, 'closed'),
	(0.999999::float8, 1::float8, 318309.88617359026169::float8, 'closed'),
	(0.975::float8, 2::float8, 4.3026527297494617894::float8, 'closed'),
	(0.8::float8, 2::float8, 1.0606601717798215319::float8, 'closed'),
	(0.999::float8, 2::float8, 22.32712477011986549::float8, 'closed'),
	(0.6::float8, 2::float8, 0.28867513459481281549::float8, 'closed'),
	(0.001::float8, 2::float8, -22.327124770119875202::float8, 'closed'),
	(0.025::float8, 2::float8, -4.3026527297494637234::float8, 'closed'),
	(0.999999::float8, 2::float8, 707.10572051576712459::float8, 'closed'),
	(0.975::float8, 4::float8, 2.7764451051977934898::float8, 'closed'),
	(0.8::float8, 4::float8, 0.94096457723518136434::float8, 'closed'),
	(0.999::float8, 4::float8, 7.1731822197823067839::float8, 'closed'),
	(0.6::float8, 4::float8, 0.270722294707597363::float8, 'closed'),
	(0.001::float8, 4::float8, -7.1731822197823084392::float8, 'closed'),
	(0.025::float8, 4::float8, -2.7764451051977943036::float8, 'closed'),
	(0.999999::float8, 4::float8, 41.577854150151498845::float8, 'closed'),
	(0.975::float8, 3::float8, 3.1824463052837084359::float8, 'mpmath'),
	(0.8::float8, 3::float8, 0.97847231236330465242::float8, 'mpmath'),
	(0.999::float8, 3::float8, 10.214531852407383456::float8, 'mpmath'),
	(0.6::float8, 3::float8, 0.27667066233268984701::float8, 'mpmath'),
	(0.001::float8, 3::float8, -10.214531852407386477::float8, 'mpmath'),
	(0.975::float8, 5::float8, 2.5705818356363147828::float8, 'mpmath'),
	(0.8::float8, 5::float8, 0.91954378024082621301::float8, 'mpmath'),
	(0.999::float8, 5::float8, 5.8934295313560089535::float8, 'mpmath'),
	(0.6::float8, 5::float8, 0.26718086570414506569::float8, 'mpmath'),
	(0.001::float8, 5::float8, -5.8934295313560101001::float8, 'mpmath'),
	(0.975::float8, 10::float8, 2.2281388519862742245::float8, 'mpmath'),
	(0.8::float8, 10::float8, 0.87905782855058886168::float8, 'mpmath'),
	(0.999::float8, 10::float8, 4.1437004940465891091::float8, 'mpmath'),
	(0.6::float8, 10::float8, 0.26018482949208017615::float8, 'mpmath'),
	(0.001::float8, 10::float8, -4.1437004940465896532::float8, 'mpmath'),
	(0.975::float8, 30::float8, 2.0422724563012378878::float8, 'mpmath'),
	(0.8::float8, 30::float8, 0.85376726147129778982::float8, 'mpmath'),
	(0.999::float8, 30::float8, 3.3851848668293047853::float8, 'mpmath'),
	(0.6::float8, 30::float8, 0.25560536495191271444::float8, 'mpmath'),
	(0.001::float8, 30::float8, -3.3851848668293051155::float8, 'mpmath'),
	(0.975::float8, 2.5::float8, 3.5746548420036817607::float8, 'mpmath'),
	(0.8::float8, 2.5::float8, 1.0101638747222389413::float8, 'mpmath'),
	(0.999::float8, 2.5::float8, 13.822193110865959679::float8, 'mpmath'),
	(0.6::float8, 2.5::float8, 0.28145951274854759175::float8, 'mpmath'),
	(0.001::float8, 2.5::float8, -13.822193110865964523::float8, 'mpmath'),
	(0.975::float8, 7.3::float8, 2.3450667365477030519::float8, 'mpmath'),
	(0.8::float8, 7.3::float8, 0.89367135718022713789::float8, 'mpmath'),
	(0.999::float8, 7.3::float8, 4.6888659935383731039::float8, 'mpmath'),
	(0.6::float8, 7.3::float8, 0.26275680525071923678::float8, 'mpmath'),
	(0.001::float8, 7.3::float8, -4.6888659935383738216::float8, 'mpmath'),
	(0.975::float8, 0.5::float8, 164.5576734804882408::float8, 'mpmath'),
	(0.8::float8, 0.5::float8, 2.5127179536659200956::float8, 'mpmath'),
	(0.999::float8, 0.5::float8, 102849.11563017537133::float8, 'mpmath'),
	(0.6::float8, 0.5::float8, 0.39797542678479058738::float8, 'mpmath'),
	(0.001::float8, 0.5::float8, -102849.11563017554975::float8, 'mpmath'),
	(0.975::float8, 100::float8, 1.9839715185235518946::float8, 'mpmath'),
	(0.8::float8, 100::float8, 0.84523042449101624117::float8, 'mpmath'),
	(0.999::float8, 100::float8, 3.1737394937387826548::float8, 'mpmath'),
	(0.6::float8, 100::float8, 0.25402218245822775892::float8, 'mpmath'),
	(0.001::float8, 100::float8, -3.1737394937387829323::float8, 'mpmath'),
	(0.975::float8, 1000::float8, 1.9623390808264081039::float8, 'mpmath'),
	(0.8::float8, 1000::float8, 0.84198082216242871548::float8, 'mpmath'),
	(0.999::float8, 1000::float8, 3.098402163912922647::float8, 'mpmath'),
	(0.6::float8, 1000::float8, 0.25341451583949870728::float8, 'mpmath'),
	(0.001::float8, 1000::float8, -3.0984021639129229065::float8, 'mpmath'),
	(0.975::float8, 35.82844729982798::float8, 2.0284312392931347184::float8, 'mpmath'),
	(0.8::float8, 35.82844729982798::float8, 0.85176889030575877971::float8, 'mpmath'),
	(0.999::float8, 35.82844729982798::float8, 3.3338658840139163224::float8, 'mpmath'),
	(0.6::float8, 35.82844729982798::float8, 0.25523646773190511276::float8, 'mpmath'),
	(0.001::float8, 35.82844729982798::float8, -3.3338658840139166394::float8, 'mpmath'),
	(0.975::float8, 6054.6536641478215::float8, 1.9603558711122279245::float8, 'mpmath'),
	(0.8::float8, 6054.6536641478215::float8, 0.84168060365894345734::float8, 'mpmath'),
	(0.999::float8, 6054.6536641478215::float8, 3.0915789368611421107::float8, 'mpmath'),
	(0.6::float8, 6054.6536641478215::float8, 0.25335823569579247126::float8, 'mpmath'),
	(0.001::float8, 6054.6536641478215::float8, -3.0915789368611423686::float8, 'mpmath'),
	(0.975::float8, 100000::float8, 1.9599877075346092587::float8, 'mpmath'),
	(0.8::float8, 100000::float8, 0.84162482799690100547::float8, 'mpmath'),
	(0.999::float8, 100000::float8, 3.0903138094272373499::float8, 'mpmath'),
	(0.6::float8, 100000::float8, 0.25334777715717988552::float8, 'mpmath'),
	(0.001::float8, 100000::float8, -3.0903138094272376076::float8, 'mpmath'),
	(0.975::float8, 999999::float8, 1.9599663568164789346::float8, 'mpmath'),
	(0.8::float8, 999999::float8, 0.84162159301434361228::float8, 'mpmath'),
	(0.999::float8, 999999::float8, 3.0902404563246695217::float8, 'mpmath'),
	(0.6::float8, 999999::float8, 0.25334717053790902412::float8, 'mpmath'),
	(0.001::float8, 999999::float8, -3.0902404563246697793::float8, 'mpmath'),
	(0.975::float8, 1000001::float8, 1.9599663568117343808::float8, 'mpmath'),
	(0.8::float8, 1000001::float8, 0.84162159301362472984::float8, 'mpmath'),
	(0.999::float8, 1000001::float8, 3.0902404563083691849::float8, 'mpmath'),
	(0.6::float8, 1000001::float8, 0.25334717053777422002::float8, 'mpmath'),
	(0.001::float8, 1000001::float8, -3.0902404563083694425::float8, 'mpmath'),
	(0.975::float8, 1e8::float8, 1.9599640082627664408::float8, 'mpmath'),
	(0.8::float8, 1e8::float8, 0.84162123716732360013::float8, 'mpmath'),
	(0.999::float8, 1e8::float8, 3.090232387669105382::float8, 'mpmath'),
	(0.6::float8, 1e8::float8, 0.25334710380982005438::float8, 'mpmath'),
	(0.001::float8, 1e8::float8, -3.0902323876691056396::float8, 'mpmath');

SELECT is((SELECT count(*) FROM tq_ref
			WHERE kind = 'closed' AND abs(compensation.student_t_quantile(p, df) / ref - 1) > 1e-12), 0::bigint,
		  'student_t_quantile: ' || (SELECT count(*) FROM tq_ref WHERE kind = 'closed')
		  || ' closed-form values (df 1, 2, 4) within 1e-12 relative');
SELECT is((SELECT string_agg(format('p=%s df=%s got %s want %s', p, df,
									compensation.student_t_quantile(p, df), ref), '; ')
			 FROM tq_ref WHERE kind = 'mpmath' AND abs(compensation.student_t_quantile(p, df) / ref - 1) > 1e-12), NULL,
		  'student_t_quantile: ' || (SELECT count(*) FROM tq_ref WHERE kind = 'mpmath')
		  || ' high-precision values (df 0.5 .. 1e8) within 1e-12 relative');
SELECT ok((SELECT bool_and(abs(compensation.student_t_quantile(0.5, df)) <= 1e-12)
			 FROM unnest('{0.5, 1, 2, 3, 4, 7.3, 1000, 1e6, 1e8}'::float8[]) AS d(df)),
		  'student_t_quantile(0.5, df) = 0 within 1e-12 (absolute)');

-- ---------------------------------------------------------------------------
-- 2. effect() against plain SQL and SciPy
-- ---------------------------------------------------------------------------
CREATE FUNCTION pg_temp.oe_u(n bigint, k integer) RETURNS double precision
	LANGUAGE sql IMMUTABLE
	RETURN ((hashint8extended(n, 7700 + k) >> 11) & 4503599627370495)::double precision / 4503599627370496;

SELECT count(compensation.define_strategy(name, $${
	"scenario": "late_delivery", "source": "marketplace.order_experience",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "delivered_at",
			 "value": "order_value", "currency": "currency", "market": "market"},
	"when": {"col": "status", "op": "=", "value": "delivered"},
	"amount": {"type": "fixed", "value": 5},
	"instrument": "voucher", "program": "delivery", "holdout": 0.2}$$)) AS oe_defined
  FROM (VALUES ('oe_large'), ('oe_small')) AS v(name) \gset

-- buyers: oe_large 20,000 (80% treatment), oe_small 7 (4 + 3); markets M0..M2
CREATE TEMP TABLE oe_buyer AS
SELECT s.name AS strategy, s.strategy_id, b, 'oe_' || s.name || '_' || b AS buyer,
	   CASE WHEN s.name = 'oe_small' THEN b <= 4 ELSE pg_temp.oe_u(b, 1) < 0.8 END AS treated,
	   'M' || (b % 3) AS market,
	   timestamptz '2026-06-01 00:00:00+00' + (b % 50) * interval '1 day' + (b % 13) * interval '1 hour' AS t0,
	   floor(pg_temp.oe_u(b, 2) * 100) / 10 AS propensity
  FROM compensation.strategy AS s
  JOIN LATERAL generate_series(1, CASE s.name WHEN 'oe_small' THEN 7 ELSE 20000 END) AS g(b) ON true
 WHERE s.name IN ('oe_large', 'oe_small');

-- decisions: one per buyer at t0; every 7th buyer also a later one (same arm)
INSERT INTO compensation.candidate_outcome
	(strategy_id, order_key, version, program, exclusive_group, buyer, market, at, outcome, arm,
	 assigned_at, currency, amount_minor, budget_id, run_id, as_of)
SELECT strategy_id, 'o' || n || '_' || buyer, 1, 'delivery', 'oe', buyer, market,
	   t0 + (n - 1) * interval '10 days' - interval '1 day',
	   CASE WHEN treated THEN 'granted' ELSE 'holdout' END,
	   CASE WHEN treated THEN 'treatment' ELSE 'holdout' END,
	   t0 + (n - 1) * interval '10 days', 'EUR', 500, NULL, 1, t0 + (n - 1) * interval '10 days'
  FROM oe_buyer CROSS JOIN generate_series(1, 2) AS g(n)
 WHERE n = 1 OR b % 7 = 0;

-- outcome rows (value numeric(10,2)); within = 90 days
CREATE TEMP TABLE oe_outcome (buyer_ref text, happened timestamptz, amount numeric(10,2));
INSERT INTO oe_outcome
SELECT buyer, t0 + d * interval '1 day', v
  FROM oe_buyer,
	   LATERAL (VALUES
		(-5, propensity + floor(pg_temp.oe_u(b, 3) * 300) / 100),	-- before
		(-40, propensity / 2),										-- before
		(3, propensity + CASE WHEN treated THEN 0.5 ELSE 0 END
			+ floor(pg_temp.oe_u(b, 4) * 400) / 100),				-- after
		(60, propensity / 3 + floor(pg_temp.oe_u(b, 5) * 100) / 100),	-- after
		(100, 1000), (-100, 1000)									-- outside the window
	   ) AS o(d, v)
 WHERE d NOT IN (-40, 60) OR b % 3 <> 1;	-- some buyers have fewer rows
-- on the window edges: at t0 counts before, at t0 + 90 days after
INSERT INTO oe_outcome
SELECT buyer, t0, 1 FROM oe_buyer WHERE b % 11 = 0
UNION ALL
SELECT buyer, t0 + interval '90 days', 2 FROM oe_buyer WHERE b % 11 = 0
UNION ALL	-- just outside: t0 - 90 days, t0 + 90 days + 1 microsecond
SELECT buyer, t0 - interval '90 days', 500 FROM oe_buyer WHERE b % 11 = 0
UNION ALL
SELECT buyer, t0 + interval '90 days 0.000001 seconds', 500 FROM oe_buyer WHERE b % 11 = 0;

CREATE TEMP TABLE oe_plain AS
SELECT ob.strategy, ob.treated, ob.market,
	   coalesce(sum(o.amount) FILTER (WHERE o.happened > ob.t0 AND o.happened <= ob.t0 + interval '90 days'), 0) AS y,
	   coalesce(sum(o.amount) FILTER (WHERE o.happened > ob.t0 - interval '90 days' AND o.happened <= ob.t0), 0) AS x
  FROM oe_buyer AS ob
  LEFT JOIN oe_outcome AS o ON o.buyer_ref = ob.buyer
 GROUP BY ob.strategy, ob.buyer, ob.treated, ob.market;

-- the plain-SQL statistics, per strategy
CREATE TEMP TABLE oe_stats AS
SELECT strategy, treated_n, control_n, treated_mean, control_mean, difference,
	   sqrt(v1 + v0) AS std_error,
	   (v1 + v0) ^ 2 / (v1 ^ 2 / (treated_n - 1) + v0 ^ 2 / (control_n - 1)) AS df,
	   theta, cuped_difference, sqrt(c1 + c0) AS cuped_std_error,
	   (c1 + c0) ^ 2 / (c1 ^ 2 / (treated_n - 1) + c0 ^ 2 / (control_n - 1)) AS cuped_df
  FROM (SELECT p.strategy,
			   count(*) FILTER (WHERE treated) AS treated_n, count(*) FILTER (WHERE NOT treated) AS control_n,
			   avg(y) FILTER (WHERE treated) AS treated_mean, avg(y) FILTER (WHERE NOT treated) AS control_mean,
			   avg(y) FILTER (WHERE treated) - avg(y) FILTER (WHERE NOT treated) AS difference,
			   (var_samp(y) FILTER (WHERE treated) / count(*) FILTER (WHERE treated))::float8 AS v1,
			   (var_samp(y) FILTER (WHERE NOT treated) / count(*) FILTER (WHERE NOT treated))::float8 AS v0,
			   t.theta,
			   avg(y - t.theta * x) FILTER (WHERE treated) - avg(y - t.theta * x) FILTER (WHERE NOT treated)
				   AS cuped_difference,
			   (var_samp(y - t.theta * x) FILTER (WHERE treated) / count(*) FILTER (WHERE treated))::float8 AS c1,
			   (var_samp(y - t.theta * x) FILTER (WHERE NOT treated) / count(*) FILTER (WHERE NOT treated))::float8 AS c0
		  FROM oe_plain AS p
		  JOIN (SELECT q.strategy, sum((q.x - m.mx) * (q.y - m.my)) / sum((q.x - m.mx) ^ 2) AS theta
				  FROM oe_plain AS q
				  JOIN (SELECT strategy, avg(x) AS mx, avg(y) AS my FROM oe_plain GROUP BY strategy) AS m
				 USING (strategy)
				 GROUP BY q.strategy) AS t USING (strategy)
		 GROUP BY p.strategy, t.theta) AS s;

CREATE TEMP TABLE oe_effect AS
SELECT s.strategy, e.*
  FROM (VALUES ('oe_small'), ('oe_large')) AS s(strategy),
	   compensation.effect(s.strategy, 'pg_temp.oe_outcome',
						   '{"buyer": "buyer_ref", "at": "happened", "value": "amount"}') AS e;

CREATE FUNCTION pg_temp.close(got double precision, want double precision, tolerance double precision DEFAULT 1e-9)
RETURNS boolean LANGUAGE sql IMMUTABLE
RETURN got IS NOT NULL AND want IS NOT NULL
	   AND abs(got - want) <= tolerance * greatest(abs(want), 1e-300);

SELECT is((SELECT count(*) FROM oe_effect), 2::bigint, 'effect: one row per call without by');
SELECT is((SELECT array_agg(ARRAY[e.treated_n, e.control_n] ORDER BY e.strategy) FROM oe_effect AS e),
		  (SELECT array_agg(ARRAY[s.treated_n, s.control_n] ORDER BY s.strategy) FROM oe_stats AS s),
		  'effect: buyers per arm = plain SQL (a buyer counted once, in the arm of their first decision)');
SELECT is((SELECT array_agg(ARRAY[e.treated_mean, e.control_mean, e.difference] ORDER BY e.strategy) FROM oe_effect AS e),
		  (SELECT array_agg(ARRAY[s.treated_mean, s.control_mean, s.difference] ORDER BY s.strategy) FROM oe_stats AS s),
		  'effect: means per arm and difference = plain SQL, exactly (window edges: after t0, up to t0 + within)');
SELECT ok(bool_and(pg_temp.close(e.std_error, s.std_error) AND pg_temp.close(e.df, s.df)
				   AND pg_temp.close(e.ci_low, s.difference::float8 - compensation.student_t_quantile(0.975, s.df) * s.std_error)
				   AND pg_temp.close(e.ci_high, s.difference::float8 + compensation.student_t_quantile(0.975, s.df) * s.std_error)),
		  'effect: Welch standard error, df and 95% interval = plain SQL within 1e-9')
  FROM oe_effect AS e JOIN oe_stats AS s USING (strategy);
SELECT ok(bool_and(pg_temp.close(e.mde, 2.8015852181129683 * s.std_error)),
		  'effect: mde = (z 0.975 + z 0.8) std_error')
  FROM oe_effect AS e JOIN oe_stats AS s USING (strategy);
SELECT ok(bool_and(pg_temp.close(e.theta::float8, s.theta::float8)),
		  'effect: CUPED theta = sum((x - mean x)(y - mean y)) / sum((x - mean x)^2) within 1e-9')
  FROM oe_effect AS e JOIN oe_stats AS s USING (strategy);
SELECT ok(bool_and(pg_temp.close(e.cuped_difference::float8, s.cuped_difference::float8)
				   AND pg_temp.close(e.cuped_std_error, s.cuped_std_error)
				   AND pg_temp.close(e.cuped_df, s.cuped_df)
				   AND pg_temp.close(e.cuped_ci_low, s.cuped_difference::float8
									 - compensation.student_t_quantile(0.975, s.cuped_df) * s.cuped_std_error)
				   AND pg_temp.close(e.cuped_ci_high, s.cuped_difference::float8
									 + compensation.student_t_quantile(0.975, s.cuped_df) * s.cuped_std_error)),
		  'effect: CUPED difference, standard error, df and interval = plain SQL within 1e-9')
  FROM oe_effect AS e JOIN oe_stats AS s USING (strategy);
SELECT ok(bool_and(e.treated_pre_mean = s.tx AND e.control_pre_mean = s.cx),
		  'effect: pre-window means per arm = plain SQL, exactly')
  FROM oe_effect AS e
  JOIN (SELECT strategy, avg(x) FILTER (WHERE treated) AS tx, avg(x) FILTER (WHERE NOT treated) AS cx
		  FROM oe_plain GROUP BY strategy) AS s USING (strategy);

-- SciPy 1.10.1 / numpy, from the per-buyer values of oe_plain (see the header):
--   welch = (difference, std_error, df, ci_low, ci_high); cuped likewise
CREATE TEMP TABLE oe_scipy (strategy text, what text, want float8[]);
INSERT INTO oe_scipy VALUES
	('oe_small', 'welch', '{-3.7416666666666654, 1.7047148670020384, 3.4888909429105501, -8.7611174340617488, 1.2777841007284181}'),
	('oe_small', 'theta', '{0.80812410407367785}'),
	('oe_small', 'cuped', '{-1.2674600346944231, 1.2463597833806628, 4.7993085100552237, -4.5120490692331394, 1.9771289998442927}'),
	('oe_small', 'mde', '{4.7759039724903261}'),
	('oe_large', 'welch', '{0.4789001354536957, 0.070557115867379089, 6054.6536641478215, 0.34058307911433339, 0.61721719179305801}'),
	('oe_large', 'theta', '{0.8741258130182662}'),
	('oe_large', 'cuped', '{0.5242846685061735, 0.025678746531568292, 6184.4464326837851, 0.47394539821595982, 0.57462393879638718}'),
	('oe_large', 'mde', '{0.19767177284673323}');

SELECT ok(bool_and(pg_temp.close(g, w)), format('effect: %s %s = SciPy within 1e-9', s.strategy, s.what))
  FROM oe_scipy AS s
  JOIN oe_effect AS e USING (strategy)
  CROSS JOIN LATERAL unnest(s.want, CASE s.what
		WHEN 'welch' THEN ARRAY[e.difference::float8, e.std_error, e.df, e.ci_low, e.ci_high]
		WHEN 'theta' THEN ARRAY[e.theta::float8]
		WHEN 'cuped' THEN ARRAY[e.cuped_difference::float8, e.cuped_std_error, e.cuped_df, e.cuped_ci_low, e.cuped_ci_high]
		ELSE ARRAY[e.mde] END) AS u(w, g)
 GROUP BY s.strategy, s.what
 ORDER BY s.strategy DESC, s.what DESC;

-- by: one row per market, each its own experiment (theta per group)
SELECT is((SELECT array_agg(ARRAY[e.by_value, e.treated_n::text, e.control_n::text, e.difference::text] ORDER BY e.by_value)
			 FROM compensation.effect('oe_large', 'pg_temp.oe_outcome',
									  '{"buyer": "buyer_ref", "at": "happened", "value": "amount"}', by => 'market') AS e),
		  (SELECT array_agg(m ORDER BY m[1])
			 FROM (SELECT ARRAY[market, count(*) FILTER (WHERE treated)::text, count(*) FILTER (WHERE NOT treated)::text,
								(avg(y) FILTER (WHERE treated) - avg(y) FILTER (WHERE NOT treated))::text] AS m
					 FROM oe_plain WHERE strategy = 'oe_large' GROUP BY market) AS g),
		  'effect by market: counts and difference per market = plain SQL');
SELECT ok((SELECT bool_and(pg_temp.close(e.theta::float8, t.theta::float8))
			 FROM compensation.effect('oe_large', 'pg_temp.oe_outcome',
									  '{"buyer": "buyer_ref", "at": "happened", "value": "amount"}', by => 'market') AS e
			 JOIN (SELECT q.market, sum((q.x - m.mx) * (q.y - m.my)) / sum((q.x - m.mx) ^ 2) AS theta
					 FROM oe_plain AS q
					 JOIN (SELECT market, avg(x) AS mx, avg(y) AS my FROM oe_plain WHERE strategy = 'oe_large'
							GROUP BY market) AS m USING (market)
					WHERE q.strategy = 'oe_large' GROUP BY q.market) AS t ON t.market = e.by_value),
		  'effect by market: theta per market = plain SQL within 1e-9');

-- count outcome (no value key): rows in the window per buyer
SELECT is((SELECT ARRAY[treated_mean, control_mean]
			 FROM compensation.effect('oe_large', 'pg_temp.oe_outcome',
									  '{"buyer": "buyer_ref", "at": "happened"}')),
		  (SELECT ARRAY[avg(n) FILTER (WHERE treated), avg(n) FILTER (WHERE NOT treated)]
			 FROM (SELECT ob.treated, count(o.happened) AS n
					 FROM oe_buyer AS ob
					 LEFT JOIN oe_outcome AS o ON o.buyer_ref = ob.buyer
					  AND o.happened > ob.t0 AND o.happened <= ob.t0 + interval '90 days'
					WHERE ob.strategy = 'oe_large' GROUP BY ob.buyer, ob.treated) AS c),
		  'effect without a value key counts the rows in the window');

-- within: 30 days
SELECT is((SELECT ARRAY[treated_mean, control_mean, treated_pre_mean, control_pre_mean]
			 FROM compensation.effect('oe_large', 'pg_temp.oe_outcome',
									  '{"buyer": "buyer_ref", "at": "happened", "value": "amount"}', '30 days')),
		  (SELECT ARRAY[avg(y) FILTER (WHERE treated), avg(y) FILTER (WHERE NOT treated),
						avg(x) FILTER (WHERE treated), avg(x) FILTER (WHERE NOT treated)]
			 FROM (SELECT ob.treated,
						  coalesce(sum(o.amount) FILTER (WHERE o.happened > ob.t0 AND o.happened <= ob.t0 + interval '30 days'), 0) AS y,
						  coalesce(sum(o.amount) FILTER (WHERE o.happened > ob.t0 - interval '30 days' AND o.happened <= ob.t0), 0) AS x
					 FROM oe_buyer AS ob LEFT JOIN oe_outcome AS o ON o.buyer_ref = ob.buyer
					WHERE ob.strategy = 'oe_large' GROUP BY ob.buyer, ob.treated) AS c),
		  'effect within 30 days: means before and after = plain SQL');

-- as_of: buyers whose window is still open are left out
SELECT is((SELECT treated_n + control_n
			 FROM compensation.effect('oe_large', 'pg_temp.oe_outcome',
									  '{"buyer": "buyer_ref", "at": "happened", "value": "amount"}',
									  as_of => '2026-09-10 00:00+00')),
		  (SELECT count(*) FROM oe_buyer WHERE strategy = 'oe_large'
			  AND t0 + interval '90 days' <= '2026-09-10 00:00+00'),
		  'effect as_of: only buyers whose window closed by as_of');

-- the period: a buyer's first assignment in ["from", "to")
SELECT is((SELECT treated_n + control_n
			 FROM compensation.effect('oe_large', 'pg_temp.oe_outcome',
									  '{"buyer": "buyer_ref", "at": "happened", "value": "amount"}',
									  "from" => '2026-06-20 00:00+00', "to" => '2026-07-01 00:00+00')),
		  (SELECT count(*) FROM oe_buyer WHERE strategy = 'oe_large'
			  AND ((t0 >= '2026-06-20 00:00+00' AND t0 < '2026-07-01 00:00+00')
				   OR (b % 7 = 0 AND t0 + interval '10 days' >= '2026-06-20 00:00+00'
					   AND t0 + interval '10 days' < '2026-07-01 00:00+00'))),
		  'effect "from"/"to": buyers with a decision assigned in the period');
SELECT is((SELECT count(*) FROM compensation.effect('oe_large', 'pg_temp.oe_outcome',
													'{"buyer": "buyer_ref", "at": "happened"}',
													"from" => '2030-01-01 00:00+00')),
		  0::bigint, 'effect: no row when no buyer was assigned in the period');

-- ---------------------------------------------------------------------------
-- 3. cost and ROI on a real apply() (German market: one currency)
-- ---------------------------------------------------------------------------
SELECT compensation.set_budget('oe_program', '2026-Q4', 100000, 'EUR', 'DE') IS NOT NULL AS budget_set \gset
SELECT is(compensation.define_strategy('oe_apply', $${
	"scenario": "late_delivery", "source": "marketplace.order_experience",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "delivered_at",
			 "value": "order_value", "currency": "currency", "market": "market"},
	"when": {"all": [{"col": "status", "op": "=", "value": "delivered"},
					 {"col": "market", "op": "=", "value": "DE"},
					 {"days": ["promised_at", "delivered_at"], "op": ">=", "value": 1}]},
	"amount": {"type": "percent", "of": "order_value", "rate": 0.10, "min": 2, "max": 20},
	"instrument": "voucher", "program": "oe_program", "holdout": 0.2,
	"valid": {"from": "2026-10-01", "to": "2027-01-01"}}$$), 1, 'oe_apply defined');
SELECT compensation.activate('oe_apply') IS NOT NULL AS activated \gset
SELECT (compensation.apply('oe_apply', as_of => '2026-11-20 00:00+00')).granted > 0 AS applied \gset

CREATE TEMP TABLE oe_roi AS
SELECT * FROM compensation.effect('oe_apply', 'marketplace.orders',
								  '{"buyer": "buyer_id", "at": "ordered_at", "value": "order_value"}');
SELECT is((SELECT ARRAY[cost::text, currency] FROM oe_roi),
		  (SELECT ARRAY[sum(amount)::text, min(currency)] FROM compensation.grants
			WHERE strategy = 'oe_apply' AND NOT voided),
		  'effect: cost = the strategy''s grants, in their currency');
SELECT ok((SELECT pg_temp.close(roi, ((incremental - cost) / cost)::float8)
				  AND incremental = difference * treated_n
				  AND pg_temp.close(roi_low, (ci_low * treated_n - cost::float8) / cost::float8)
			 FROM oe_roi),
		  'effect: roi = (difference * treated_n - cost) / cost, with its interval');
SELECT is((SELECT treated_n + control_n FROM oe_roi),
		  (SELECT count(DISTINCT buyer) FROM compensation.decisions WHERE strategy = 'oe_apply' AND arm IS NOT NULL),
		  'effect: every buyer with an arm counted once');
-- a void: the buyer stays in treatment, the cost drops by the grant
SELECT compensation.void_grant(min(grant_id), 'oracle_effect') IS NOT NULL AS voided
  FROM compensation.grants WHERE strategy = 'oe_apply' \gset
SELECT is((SELECT ARRAY[treated_n::text, control_n::text, cost::text]
			 FROM compensation.effect('oe_apply', 'marketplace.orders',
									  '{"buyer": "buyer_id", "at": "ordered_at", "value": "order_value"}')),
		  (SELECT ARRAY[treated_n::text, control_n::text,
						(cost - (SELECT amount FROM compensation.grants WHERE strategy = 'oe_apply' AND voided))::text]
			 FROM oe_roi),
		  'effect after a void: same arms (intention to treat), cost without the voided grant');
-- ---------------------------------------------------------------------------
-- 4. the marketplace's planted effect (examples/marketplace.sql): +4 points
--    of 30-day repeat rate, 0.7 times the contacts, for compensated buyers.
--    Contacts: 3 chances of probability 0.05 + 0.30 u, mean 0.6 per buyer
--    without compensation, so the planted difference is -0.18.
-- ---------------------------------------------------------------------------
SELECT compensated_buyers > 0 AS outcomes_generated
  FROM marketplace.generate_outcomes(repeat_points => 0.04, contact_ratio => 0.7) \gset
SELECT ok((SELECT ci_low <= 0.04 AND 0.04 <= ci_high AND cuped_ci_low <= 0.04 AND 0.04 <= cuped_ci_high
			 FROM compensation.effect('oe_apply', 'marketplace.purchases',
									  '{"buyer": "buyer_id", "at": "at"}', '30 days')),
		  'marketplace: the repeat-rate intervals cover the planted +0.04');
SELECT ok((SELECT ci_low <= -0.18 AND -0.18 <= ci_high AND cuped_ci_low <= -0.18 AND -0.18 <= cuped_ci_high
			 FROM compensation.effect('oe_apply', 'marketplace.support_contacts',
									  '{"buyer": "buyer_id", "at": "at"}', '30 days')),
		  'marketplace: the contact intervals cover the planted -0.18 (0.7 times 0.6)');
SELECT ok((SELECT count(*) = 0 FROM marketplace.purchases AS p
			 JOIN (SELECT DISTINCT ON (buyer) buyer, assigned_at FROM compensation.decisions
					WHERE arm IS NOT NULL ORDER BY buyer, assigned_at, at, order_key) AS d
			   ON d.buyer = p.buyer_id
			WHERE p.at <= d.assigned_at - interval '30 days' OR p.at > d.assigned_at + interval '30 days'),
		  'marketplace: purchases lie within 30 days of the buyer''s assignment');

SELECT * FROM finish();
ROLLBACK;
