-- The one current definition of the workspace's calendar: the report day of an instant in
-- the workspace's time zone, business time between two instants, and the instant an SLA
-- of business time started before another (sql/0020_history.sql has the settings).
--
-- A repeatable migration (sql/README.md). The functions are LANGUAGE sql, one SELECT and
-- not STRICT where a report statement or the facts (40_reports.sql) call them, so that
-- PostgreSQL inlines them.

-- The day of instant at in time zone tz: a lead's report day.
CREATE OR REPLACE FUNCTION ll_report_day(at timestamptz, tz text) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (at AT TIME ZONE tz)::date
$$;

-- Whole seconds from a to b (0 when b is before a), counting only the business hours when
-- days is not NULL: each local day of tz from a's to b's whose ISO number is in days
-- contributes its hours t0 .. t1 that lie between a and b. Local times are turned into
-- instants in tz, so a day with a daylight-saving change counts the hours it really had.
CREATE OR REPLACE FUNCTION ll_business_seconds(a timestamptz, b timestamptz, tz text,
                                               days smallint[], t0 time, t1 time)
RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN a IS NULL OR b IS NULL THEN NULL
        WHEN days IS NULL THEN greatest(0, floor(extract(epoch FROM b - a)))::bigint
        ELSE (SELECT coalesce(floor(sum(greatest(0, extract(epoch FROM
                          least(b, (g.d + t1) AT TIME ZONE tz)
                          - greatest(a, (g.d + t0) AT TIME ZONE tz))))), 0)::bigint
              FROM generate_series((a AT TIME ZONE tz)::date::timestamp,
                                   (b AT TIME ZONE tz)::date::timestamp,
                                   interval '1 day') AS g (d)
              WHERE extract(isodow FROM g.d)::smallint = ANY (days))
    END
$$;

-- The latest instant s at or before t with at least secs seconds of business time
-- (ll_business_seconds) from s to t: a lead handed over before it has waited longer than
-- an SLA of secs. Calendar time when days is NULL. -infinity when the business hours
-- would need more than ten years to hold secs.
CREATE OR REPLACE FUNCTION ll_business_cutoff(t timestamptz, secs bigint, tz text,
                                              days smallint[], t0 time, t1 time)
RETURNS timestamptz LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    d timestamp := (t AT TIME ZONE tz)::date::timestamp;
    left_s numeric := secs;
    open_at timestamptz;
    close_at timestamptz;
    have numeric;
BEGIN
    IF days IS NULL THEN
        RETURN t - secs * interval '1 second';
    END IF;
    FOR i IN 0 .. 3660 LOOP
        IF extract(isodow FROM d)::smallint = ANY (days) THEN
            open_at := (d + t0) AT TIME ZONE tz;
            close_at := least(t, (d + t1) AT TIME ZONE tz);
            have := greatest(0, extract(epoch FROM close_at - open_at));
            IF have >= left_s AND have > 0 THEN
                RETURN close_at - left_s * interval '1 second';
            END IF;
            left_s := left_s - have;
        END IF;
        d := d - interval '1 day';
    END LOOP;
    RETURN '-infinity';
END
$$;

-- The follow-up SLA's cutoff for a workspace now: leads handed over before it and still
-- waiting are overdue. Its hours are the workspace's (sla_hours), or default_hours (the
-- daemon's LEADLOOP_SLA_HOURS) when it has none; counted in its business hours when it has
-- them. The caller reads the workspace's columns ((SELECT ll_sla_cutoff(w.sla_hours,
-- w.time_zone, w.business_days, w.business_start, w.business_end, $n) FROM workspaces w
-- WHERE w.id = $ws)): on Citus, a function that read the table itself would run a
-- distributed query inside the statement routed to the workspace's node, which Citus
-- refuses; and a whole row would reach that node as the shard's row type
-- (workspaces_102011), for which no such function exists.
DROP FUNCTION IF EXISTS ll_sla_cutoff(uuid, integer);
CREATE OR REPLACE FUNCTION ll_sla_cutoff(sla_hours integer, time_zone text,
                                         business_days smallint[], business_start time,
                                         business_end time, default_hours integer)
RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT ll_business_cutoff(now(), coalesce(sla_hours, default_hours) * 3600::bigint,
                              time_zone, business_days, business_start, business_end)
$$;
