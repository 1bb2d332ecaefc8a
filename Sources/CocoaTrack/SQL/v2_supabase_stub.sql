-- A local stand-in for what a Supabase project already has before any application schema:
-- the API roles, the `extensions` schema with uuid-ossp, pgcrypto and pg_stat_statements,
-- Supabase Auth's `auth.users` (its real column names and types) and the `auth.uid()` family.
-- Runs as the cluster superuser (`supabase_admin`); the application owner is `postgres`, which,
-- as on Supabase, is not a superuser.

CREATE ROLE anon NOLOGIN NOINHERIT;
CREATE ROLE authenticated NOLOGIN NOINHERIT;
CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
CREATE ROLE authenticator NOINHERIT LOGIN;
GRANT anon, authenticated, service_role TO authenticator;
CREATE ROLE supabase_auth_admin NOINHERIT CREATEROLE LOGIN;
GRANT anon, authenticated, service_role TO postgres;
GRANT pg_read_all_stats, pg_read_all_settings, pg_signal_backend TO postgres;
-- As on Supabase: the project owner may switch triggers off for a bulk load.
GRANT SET ON PARAMETER session_replication_role TO postgres;

CREATE SCHEMA IF NOT EXISTS extensions;
GRANT USAGE ON SCHEMA extensions TO postgres, anon, authenticated, service_role;
CREATE EXTENSION IF NOT EXISTS "uuid-ossp" WITH SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements WITH SCHEMA extensions;

ALTER SCHEMA public OWNER TO postgres;
GRANT ALL ON SCHEMA public TO postgres;

CREATE SCHEMA auth AUTHORIZATION supabase_auth_admin;
GRANT USAGE ON SCHEMA auth TO postgres, anon, authenticated, service_role;

CREATE TABLE auth.users (
    instance_id                 uuid NULL,
    id                          uuid NOT NULL,
    aud                         varchar(255) NULL,
    "role"                      varchar(255) NULL,
    email                       varchar(255) NULL,
    encrypted_password          varchar(255) NULL,
    email_confirmed_at          timestamptz NULL,
    invited_at                  timestamptz NULL,
    confirmation_token          varchar(255) NULL,
    confirmation_sent_at        timestamptz NULL,
    recovery_token              varchar(255) NULL,
    recovery_sent_at            timestamptz NULL,
    email_change_token_new      varchar(255) NULL,
    email_change                varchar(255) NULL,
    email_change_sent_at        timestamptz NULL,
    last_sign_in_at             timestamptz NULL,
    raw_app_meta_data           jsonb NULL,
    raw_user_meta_data          jsonb NULL,
    is_super_admin              bool NULL,
    created_at                  timestamptz NULL,
    updated_at                  timestamptz NULL,
    phone                       text NULL UNIQUE DEFAULT NULL,
    phone_confirmed_at          timestamptz NULL,
    phone_change                text NULL DEFAULT '',
    phone_change_token          varchar(255) NULL DEFAULT '',
    phone_change_sent_at        timestamptz NULL,
    confirmed_at                timestamptz GENERATED ALWAYS AS (LEAST(email_confirmed_at, phone_confirmed_at)) STORED,
    email_change_token_current  varchar(255) NULL DEFAULT '',
    email_change_confirm_status smallint NULL DEFAULT 0 CHECK (email_change_confirm_status >= 0 AND email_change_confirm_status <= 2),
    banned_until                timestamptz NULL,
    reauthentication_token      varchar(255) NULL DEFAULT '',
    reauthentication_sent_at    timestamptz NULL,
    is_sso_user                 boolean NOT NULL DEFAULT false,
    deleted_at                  timestamptz NULL,
    is_anonymous                boolean NOT NULL DEFAULT false,
    CONSTRAINT users_pkey PRIMARY KEY (id)
);
ALTER TABLE auth.users OWNER TO supabase_auth_admin;
CREATE UNIQUE INDEX users_email_partial_key ON auth.users (email) WHERE (is_sso_user = false);
CREATE INDEX users_instance_id_email_idx ON auth.users (instance_id, lower((email)::text));
CREATE INDEX users_instance_id_idx ON auth.users (instance_id);
ALTER TABLE auth.users ENABLE ROW LEVEL SECURITY;
-- On Supabase the project owner can read and write auth.users (seeding, migrations).
GRANT ALL ON auth.users TO postgres, service_role;
GRANT REFERENCES ON auth.users TO postgres;

CREATE TABLE auth.identities (
    provider_id     text NOT NULL,
    user_id         uuid NOT NULL,
    identity_data   jsonb NOT NULL,
    provider        text NOT NULL,
    last_sign_in_at timestamptz NULL,
    created_at      timestamptz NULL,
    updated_at      timestamptz NULL,
    email           text GENERATED ALWAYS AS (lower(identity_data ->> 'email')) STORED,
    id              uuid NOT NULL DEFAULT gen_random_uuid(),
    CONSTRAINT identities_pkey PRIMARY KEY (id),
    CONSTRAINT identities_provider_id_provider_unique UNIQUE (provider_id, provider),
    CONSTRAINT identities_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users (id) ON DELETE CASCADE
);
ALTER TABLE auth.identities OWNER TO supabase_auth_admin;
CREATE INDEX identities_email_idx ON auth.identities (email text_pattern_ops);
CREATE INDEX identities_user_id_idx ON auth.identities (user_id);
ALTER TABLE auth.identities ENABLE ROW LEVEL SECURITY;
GRANT ALL ON auth.identities TO postgres, service_role;

CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
    )::uuid
$$;
CREATE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
    )::text
$$;
CREATE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
    )::jsonb
$$;
ALTER FUNCTION auth.uid() OWNER TO supabase_auth_admin;
ALTER FUNCTION auth.role() OWNER TO supabase_auth_admin;
ALTER FUNCTION auth.jwt() OWNER TO supabase_auth_admin;
GRANT EXECUTE ON FUNCTION auth.uid(), auth.role(), auth.jwt() TO postgres, anon, authenticated, service_role;
