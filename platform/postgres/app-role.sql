-- Slipway's runtime database role: everything the portal needs, and an audit log it can only append to.
--
-- The portal refuses to change or delete audit events through any of its interfaces (the ORM guard in
-- services/models.py). This file makes the database refuse it too, for anything that connects with
-- the portal's credentials (a shell on a web pod, a leaked DATABASE_URL, a bug): the web and worker
-- processes connect as `slipway_app`, which may INSERT and SELECT audit events but not UPDATE, DELETE
-- or TRUNCATE them. (One column may be updated: deleting a user sets `actor_id` to NULL; the event
-- keeps `actor_name`.) Migrations run as the database's owner, which keeps every right.
--
-- Run it once as the owner, after the first `migrate`, in the Slipway database:
--   psql "$OWNER_DATABASE_URL" -v ON_ERROR_STOP=1 -f platform/postgres/app-role.sql
-- then set a password (ALTER ROLE slipway_app PASSWORD '...') and give the web and worker processes a
-- DATABASE_URL with that role; the migrate job keeps the owner's. Tables created by later migrations
-- get the same rights through the default privileges below; rerunning the file is harmless.
-- tests/test_audit_database_role.py applies this file and checks each promise on PostgreSQL.

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'slipway_app') THEN
    CREATE ROLE slipway_app LOGIN;
  END IF;
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO slipway_app', current_database());
END
$$;

GRANT USAGE ON SCHEMA public TO slipway_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO slipway_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO slipway_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO slipway_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO slipway_app;

-- The audit log: append and read; of updates only the one deleting a user makes.
REVOKE UPDATE, DELETE, TRUNCATE ON services_auditevent FROM slipway_app;
GRANT UPDATE (actor_id) ON services_auditevent TO slipway_app;
