-- Leadloop schema 0017: the fields marketers need on a lead (issue 14, point 7).
--
-- The campaign parameters of the visit that brought the lead (utm_source, utm_medium,
-- utm_campaign, utm_term, utm_content, as Google Analytics names them), the page it
-- landed on and the page that sent it there. Each is optional text, bounded as the API
-- validates it (server/leads.c): 255 characters for a UTM parameter, 2048 for a URL. New
-- nullable columns without a default: adding them rewrites no row.
ALTER TABLE leads
    ADD COLUMN utm_source   text CONSTRAINT leads_utm_source CHECK (char_length(utm_source) BETWEEN 1 AND 255),
    ADD COLUMN utm_medium   text CONSTRAINT leads_utm_medium CHECK (char_length(utm_medium) BETWEEN 1 AND 255),
    ADD COLUMN utm_campaign text CONSTRAINT leads_utm_campaign CHECK (char_length(utm_campaign) BETWEEN 1 AND 255),
    ADD COLUMN utm_term     text CONSTRAINT leads_utm_term CHECK (char_length(utm_term) BETWEEN 1 AND 255),
    ADD COLUMN utm_content  text CONSTRAINT leads_utm_content CHECK (char_length(utm_content) BETWEEN 1 AND 255),
    ADD COLUMN landing_page text CONSTRAINT leads_landing_page CHECK (char_length(landing_page) BETWEEN 1 AND 2048),
    ADD COLUMN referrer     text CONSTRAINT leads_referrer CHECK (char_length(referrer) BETWEEN 1 AND 2048);

-- GET /v1/leads?utm_campaign= : a campaign's leads are a small part of a workspace, which
-- a scan in created_at order would read whole to find (source and medium have few values,
-- each common, and are found soon enough in that order). Partial: most leads have none.
CREATE INDEX leads_by_utm_campaign ON leads (workspace_id, utm_campaign, created_at, id)
    WHERE utm_campaign IS NOT NULL;
