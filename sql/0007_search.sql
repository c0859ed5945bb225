-- Search served from indexes. GET /v1/leads?q= and GET /v1/campaigns?q= read every row of
-- the workspace (0.6-1.5 s at 940,000 leads), so a few concurrent searches from one key
-- held the pool's connections and other workspaces' requests answered 503.
--
-- The indexes are created IF NOT EXISTS: on a large database an operator can build them
-- beforehand with CREATE INDEX CONCURRENTLY (same names and definitions), so that this
-- migration does not block writes to leads while they are built (6 s at 1,000,000 leads).

-- Leads: q is a prefix of the folded email, first name, last name or company
-- (ll_fold(x) LIKE ll_fold(q) || '%', the pattern escaped). A prefix is a range of a btree
-- that orders bytes (text_pattern_ops), whatever the database's collation; 0002's indexes
-- on the same expressions serve it only when the collation is "C", which make run's
-- C.UTF-8 is not for PostgreSQL 15. One index per field, workspace first: a search reads
-- four ranges (BitmapOr) that hold exactly the leads it finds, for a q of any length.
-- Trigram indexes (pg_trgm) were measured as well: they match words anywhere in a value,
-- so q=example (every email's domain ends with the word, no email starts with it)
-- rechecked all 1,000,000 leads, 3.0 s, and q=analytics (a second word of 1 in 20
-- companies) 0.8 s; these indexes answer both in 2 ms.
CREATE INDEX IF NOT EXISTS leads_search_email
    ON leads (workspace_id, ll_fold(email) text_pattern_ops);
CREATE INDEX IF NOT EXISTS leads_search_first_name
    ON leads (workspace_id, ll_fold(first_name) text_pattern_ops);
CREATE INDEX IF NOT EXISTS leads_search_last_name
    ON leads (workspace_id, ll_fold(last_name) text_pattern_ops);
CREATE INDEX IF NOT EXISTS leads_search_company
    ON leads (workspace_id, ll_fold(company) text_pattern_ops);
-- The pattern indexes serve equality as well; these served nothing else.
DROP INDEX IF EXISTS leads_first_name, leads_last_name, leads_company;

-- Campaigns: q is a substring of the folded name (ll_fold(name) LIKE '%' || ll_fold(q) || '%'),
-- which trigrams index (pg_trgm's GIN operator class, for three characters or more).
-- btree_gin puts workspace_id in the same GIN index, so that a search reads the entries of
-- its own workspace: with 500,000 campaigns in 200 workspaces, q=webinar in a workspace
-- of 200 campaigns read the 55,000 entries of every workspace through a trigram-only index
-- (10 ms), and 23 through this one (0.1 ms).
-- Both extensions ship with PostgreSQL (Debian: postgresql-15) and are trusted: the
-- database's owner, or any role with CREATE on the database, may create them. Otherwise a
-- superuser creates them once, in any schema, and this migration finds them.
DO $$
DECLARE
    ext text;
BEGIN
    FOREACH ext IN ARRAY ARRAY['pg_trgm', 'btree_gin'] LOOP
        BEGIN
            EXECUTE format('CREATE EXTENSION IF NOT EXISTS %I', ext);
        EXCEPTION
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'search needs the extension %, and role % may not create it in database %',
                    ext, current_user, current_database()
                    USING HINT = format('As a superuser, run CREATE EXTENSION %s; in this database once, '
                        'or migrate as a role with CREATE on the database, such as its owner '
                        '(%s is a trusted extension); then migrate again.', ext, ext);
            WHEN undefined_file THEN
                RAISE EXCEPTION 'search needs the extension %, which this PostgreSQL server does not have', ext
                    USING HINT = 'Install PostgreSQL''s contrib modules (on Debian they come with postgresql-15).';
        END;
    END LOOP;
END
$$;

-- pg_trgm's operator class by the schema it lives in, which need not be on the search_path
-- when a superuser created it beforehand (btree_gin's is uuid's default for GIN).
DO $$
BEGIN
    EXECUTE format('CREATE INDEX IF NOT EXISTS campaigns_search_name ON campaigns'
                   ' USING gin (workspace_id, ll_fold(name) %I.gin_trgm_ops)',
                   (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
                    WHERE e.extname = 'pg_trgm'));
END
$$;
