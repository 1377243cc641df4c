-- The application role: the API functions log in as it (or as its alternating-users clone, a
-- member). It reads and writes the tables and nothing else: it owns nothing, so it can neither
-- DROP, ALTER nor TRUNCATE them, and it may not CREATE in the schema. migrate names the role for
-- the run (redline.app_role, from database.app_user) and creates it beforehand if it is missing.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

DO $$
DECLARE
    app TEXT := current_setting('redline.app_role');
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', app);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I', app);
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %I', app);
    -- Migration bookkeeping is the owner's alone.
    EXECUTE format('REVOKE ALL ON schema_migrations FROM %I', app);
    -- Tables and sequences of later migrations (created by this same owner) are granted too.
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I', app);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO %I', app);
END
$$;
