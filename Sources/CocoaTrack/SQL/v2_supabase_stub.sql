-- A local stand-in for what a Supabase project already has before any application schema:
-- the API roles, the `extensions` schema with uuid-ossp, pgcrypto and pg_stat_statements,
-- and Supabase Auth's `auth` schema with the `auth.uid()` family.
-- Runs as the cluster superuser (`supabase_admin`); the application owner is `postgres`, which,
-- as on Supabase, is not a superuser.
--
-- The `auth` schema follows supabase/auth (GoTrue) at commit
-- bc32168e13fdc928c98b449fc76bc3fdb9a293c5 (2026-08-20): the state its migrations/*.up.sql,
-- applied in filename order as `supabase_auth_admin`, leave behind — every table, column (same
-- order), type, NOT NULL, default, generated column, CHECK, enum, primary key, unique constraint,
-- index (partial ones included), foreign key with its ON DELETE action, owner, row level security
-- and comment. Written here as consolidated statements, not a copy of those migrations.
-- Deliberate differences from what the migrations leave:
--   * no auth.schema_migrations (GoTrue's own bookkeeping; nothing here runs GoTrue);
--   * `postgres` and `service_role` get ALL on every auth table and USAGE, SELECT on its sequence
--     (the migration tool loads auth.users / auth.identities as `postgres`, tests write sessions and
--     refresh tokens); the migrations themselves only grant `postgres` SELECT WITH GRANT OPTION,
--     which is kept as well;
--   * the function bodies of auth.uid(), auth.role(), auth.jwt(), auth.email() are formatted
--     differently (same expressions).

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

-- Everything in schema auth is created by its owner, as GoTrue does.
SET ROLE supabase_auth_admin;

CREATE TYPE auth.aal_level AS ENUM ('aal1', 'aal2', 'aal3');
CREATE TYPE auth.code_challenge_method AS ENUM ('s256', 'plain');
CREATE TYPE auth.factor_status AS ENUM ('unverified', 'verified');
CREATE TYPE auth.factor_type AS ENUM ('totp', 'webauthn', 'phone');
CREATE TYPE auth.one_time_token_type AS ENUM (
    'confirmation_token', 'reauthentication_token', 'recovery_token',
    'email_change_token_new', 'email_change_token_current', 'phone_change_token');
CREATE TYPE auth.oauth_authorization_status AS ENUM ('pending', 'approved', 'denied', 'expired');
CREATE TYPE auth.oauth_client_type AS ENUM ('public', 'confidential');
CREATE TYPE auth.oauth_registration_type AS ENUM ('dynamic', 'manual');
CREATE TYPE auth.oauth_response_type AS ENUM ('code');

CREATE TABLE auth.instances (
    id                          uuid NOT NULL,
    uuid                        uuid NULL,
    raw_base_config             text NULL,
    created_at                  timestamptz NULL,
    updated_at                  timestamptz NULL,
    CONSTRAINT instances_pkey PRIMARY KEY (id)
);

CREATE TABLE auth.audit_log_entries (
    instance_id                 uuid NULL,
    id                          uuid NOT NULL,
    payload                     json NULL,
    created_at                  timestamptz NULL,
    ip_address                  varchar(64) NOT NULL DEFAULT ''::character varying,
    CONSTRAINT audit_log_entries_pkey PRIMARY KEY (id)
);
CREATE INDEX audit_logs_instance_id_idx ON auth.audit_log_entries (instance_id);

-- Some defaults carry the cast of the column's earlier type (phone and phone_change were varchar).
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
    phone                       text NULL DEFAULT NULL::character varying,
    phone_confirmed_at          timestamptz NULL,
    phone_change                text NULL DEFAULT ''::character varying,
    phone_change_token          varchar(255) NULL DEFAULT ''::character varying,
    phone_change_sent_at        timestamptz NULL,
    confirmed_at                timestamptz GENERATED ALWAYS AS (LEAST(email_confirmed_at, phone_confirmed_at)) STORED,
    email_change_token_current  varchar(255) NULL DEFAULT ''::character varying,
    email_change_confirm_status smallint NULL DEFAULT 0,
    banned_until                timestamptz NULL,
    reauthentication_token      varchar(255) NULL DEFAULT ''::character varying,
    reauthentication_sent_at    timestamptz NULL,
    is_sso_user                 boolean NOT NULL DEFAULT false,
    deleted_at                  timestamptz NULL,
    is_anonymous                boolean NOT NULL DEFAULT false,
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_phone_key UNIQUE (phone),
    CONSTRAINT users_email_change_confirm_status_check
        CHECK (email_change_confirm_status >= 0 AND email_change_confirm_status <= 2)
);
CREATE INDEX users_instance_id_idx ON auth.users (instance_id);
CREATE INDEX users_instance_id_email_idx ON auth.users (instance_id, lower((email)::text));
CREATE INDEX users_is_anonymous_idx ON auth.users (is_anonymous);
CREATE UNIQUE INDEX users_email_partial_key ON auth.users (email) WHERE (is_sso_user = false);
-- The token columns are unique unless they hold an empty, blank or purely numeric value (OTPs).
-- (phone_change_token has no such index, although the migration's comment announces one.)
CREATE UNIQUE INDEX confirmation_token_idx ON auth.users (confirmation_token)
    WHERE ((confirmation_token)::text !~ '^[0-9 ]*$'::text);
CREATE UNIQUE INDEX recovery_token_idx ON auth.users (recovery_token)
    WHERE ((recovery_token)::text !~ '^[0-9 ]*$'::text);
CREATE UNIQUE INDEX email_change_token_current_idx ON auth.users (email_change_token_current)
    WHERE ((email_change_token_current)::text !~ '^[0-9 ]*$'::text);
CREATE UNIQUE INDEX email_change_token_new_idx ON auth.users (email_change_token_new)
    WHERE ((email_change_token_new)::text !~ '^[0-9 ]*$'::text);
CREATE UNIQUE INDEX reauthentication_token_idx ON auth.users (reauthentication_token)
    WHERE ((reauthentication_token)::text !~ '^[0-9 ]*$'::text);

CREATE TABLE auth.identities (
    provider_id                 text NOT NULL,
    user_id                     uuid NOT NULL,
    identity_data               jsonb NOT NULL,
    provider                    text NOT NULL,
    last_sign_in_at             timestamptz NULL,
    created_at                  timestamptz NULL,
    updated_at                  timestamptz NULL,
    email                       text GENERATED ALWAYS AS (lower((identity_data ->> 'email'::text))) STORED,
    id                          uuid NOT NULL DEFAULT gen_random_uuid(),
    CONSTRAINT identities_pkey PRIMARY KEY (id),
    CONSTRAINT identities_provider_id_provider_unique UNIQUE (provider_id, provider),
    CONSTRAINT identities_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users (id) ON DELETE CASCADE
);
CREATE INDEX identities_user_id_idx ON auth.identities (user_id);
CREATE INDEX identities_email_idx ON auth.identities (email text_pattern_ops);

CREATE TABLE auth.oauth_clients (
    id                          uuid NOT NULL,
    client_secret_hash          text NULL,
    registration_type           auth.oauth_registration_type NOT NULL,
    redirect_uris               text NOT NULL,
    grant_types                 text NOT NULL,
    client_name                 text NULL,
    client_uri                  text NULL,
    logo_uri                    text NULL,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    deleted_at                  timestamptz NULL,
    client_type                 auth.oauth_client_type NOT NULL DEFAULT 'confidential'::auth.oauth_client_type,
    token_endpoint_auth_method  text NOT NULL,
    CONSTRAINT oauth_clients_pkey PRIMARY KEY (id),
    CONSTRAINT oauth_clients_client_name_length CHECK (char_length(client_name) <= 1024),
    CONSTRAINT oauth_clients_client_uri_length CHECK (char_length(client_uri) <= 2048),
    CONSTRAINT oauth_clients_logo_uri_length CHECK (char_length(logo_uri) <= 2048),
    CONSTRAINT oauth_clients_token_endpoint_auth_method_check
        CHECK (token_endpoint_auth_method = ANY (ARRAY['client_secret_basic'::text, 'client_secret_post'::text, 'none'::text]))
);
CREATE INDEX oauth_clients_deleted_at_idx ON auth.oauth_clients (deleted_at);

CREATE TABLE auth.sessions (
    id                          uuid NOT NULL,
    user_id                     uuid NOT NULL,
    created_at                  timestamptz NULL,
    updated_at                  timestamptz NULL,
    factor_id                   uuid NULL,
    aal                         auth.aal_level NULL,
    not_after                   timestamptz NULL,
    refreshed_at                timestamp NULL,
    user_agent                  text NULL,
    ip                          inet NULL,
    tag                         text NULL,
    oauth_client_id             uuid NULL,
    refresh_token_hmac_key      text NULL,
    refresh_token_counter       bigint NULL,
    scopes                      text NULL,
    CONSTRAINT sessions_pkey PRIMARY KEY (id),
    CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users (id) ON DELETE CASCADE,
    CONSTRAINT sessions_oauth_client_id_fkey FOREIGN KEY (oauth_client_id) REFERENCES auth.oauth_clients (id) ON DELETE CASCADE,
    CONSTRAINT sessions_scopes_length CHECK (char_length(scopes) <= 4096)
);
CREATE INDEX sessions_user_id_idx ON auth.sessions (user_id);
CREATE INDEX user_id_created_at_idx ON auth.sessions (user_id, created_at);
CREATE INDEX sessions_not_after_idx ON auth.sessions (not_after DESC);
CREATE INDEX sessions_oauth_client_id_idx ON auth.sessions (oauth_client_id);

-- refresh_tokens.user_id is varchar and has no foreign key; parent lost its own in 20221114143410.
CREATE TABLE auth.refresh_tokens (
    instance_id                 uuid NULL,
    id                          bigserial NOT NULL,
    token                       varchar(255) NULL,
    user_id                     varchar(255) NULL,
    revoked                     bool NULL,
    created_at                  timestamptz NULL,
    updated_at                  timestamptz NULL,
    parent                      varchar(255) NULL,
    session_id                  uuid NULL,
    CONSTRAINT refresh_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT refresh_tokens_token_unique UNIQUE (token),
    CONSTRAINT refresh_tokens_session_id_fkey FOREIGN KEY (session_id) REFERENCES auth.sessions (id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_instance_id_idx ON auth.refresh_tokens (instance_id);
CREATE INDEX refresh_tokens_instance_id_user_id_idx ON auth.refresh_tokens (instance_id, user_id);
CREATE INDEX refresh_tokens_parent_idx ON auth.refresh_tokens (parent);
CREATE INDEX refresh_tokens_session_id_revoked_idx ON auth.refresh_tokens (session_id, revoked);
CREATE INDEX refresh_tokens_updated_at_idx ON auth.refresh_tokens (updated_at DESC);

CREATE TABLE auth.mfa_factors (
    id                          uuid NOT NULL,
    user_id                     uuid NOT NULL,
    friendly_name               text NULL,
    factor_type                 auth.factor_type NOT NULL,
    status                      auth.factor_status NOT NULL,
    created_at                  timestamptz NOT NULL,
    updated_at                  timestamptz NOT NULL,
    secret                      text NULL,
    phone                       text NULL,
    last_challenged_at          timestamptz NULL,
    web_authn_credential        jsonb NULL,
    web_authn_aaguid            uuid NULL,
    last_webauthn_challenge_data jsonb NULL,
    CONSTRAINT mfa_factors_pkey PRIMARY KEY (id),
    CONSTRAINT mfa_factors_last_challenged_at_key UNIQUE (last_challenged_at),
    CONSTRAINT mfa_factors_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX mfa_factors_user_friendly_name_unique ON auth.mfa_factors (friendly_name, user_id)
    WHERE (TRIM(BOTH FROM friendly_name) <> ''::text);
CREATE INDEX factor_id_created_at_idx ON auth.mfa_factors (user_id, created_at);
CREATE INDEX mfa_factors_user_id_idx ON auth.mfa_factors (user_id);
CREATE UNIQUE INDEX unique_phone_factor_per_user ON auth.mfa_factors (user_id, phone);

CREATE TABLE auth.mfa_challenges (
    id                          uuid NOT NULL,
    factor_id                   uuid NOT NULL,
    created_at                  timestamptz NOT NULL,
    verified_at                 timestamptz NULL,
    ip_address                  inet NOT NULL,
    otp_code                    text NULL,
    web_authn_session_data      jsonb NULL,
    CONSTRAINT mfa_challenges_pkey PRIMARY KEY (id),
    CONSTRAINT mfa_challenges_auth_factor_id_fkey FOREIGN KEY (factor_id) REFERENCES auth.mfa_factors (id) ON DELETE CASCADE
);
CREATE INDEX mfa_challenge_created_at_idx ON auth.mfa_challenges (created_at DESC);

CREATE TABLE auth.mfa_amr_claims (
    session_id                  uuid NOT NULL,
    created_at                  timestamptz NOT NULL,
    updated_at                  timestamptz NOT NULL,
    authentication_method       text NOT NULL,
    id                          uuid NOT NULL,
    CONSTRAINT amr_id_pk PRIMARY KEY (id),
    CONSTRAINT mfa_amr_claims_session_id_authentication_method_pkey UNIQUE (session_id, authentication_method),
    CONSTRAINT mfa_amr_claims_session_id_fkey FOREIGN KEY (session_id) REFERENCES auth.sessions (id) ON DELETE CASCADE
);

CREATE TABLE auth.one_time_tokens (
    id                          uuid NOT NULL,
    user_id                     uuid NOT NULL,
    token_type                  auth.one_time_token_type NOT NULL,
    token_hash                  text NOT NULL,
    relates_to                  text NOT NULL,
    created_at                  timestamp NOT NULL DEFAULT now(),
    updated_at                  timestamp NOT NULL DEFAULT now(),
    CONSTRAINT one_time_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT one_time_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users (id) ON DELETE CASCADE,
    CONSTRAINT one_time_tokens_token_hash_check CHECK (char_length(token_hash) > 0)
);
CREATE INDEX one_time_tokens_token_hash_hash_idx ON auth.one_time_tokens USING hash (token_hash);
CREATE INDEX one_time_tokens_relates_to_hash_idx ON auth.one_time_tokens USING hash (relates_to);
CREATE UNIQUE INDEX one_time_tokens_user_id_token_type_key ON auth.one_time_tokens (user_id, token_type);

CREATE TABLE auth.oauth_client_states (
    id                          uuid NOT NULL,
    provider_type               text NOT NULL,
    code_verifier               text NULL,
    created_at                  timestamptz NOT NULL,
    CONSTRAINT oauth_client_states_pkey PRIMARY KEY (id)
);
CREATE INDEX idx_oauth_client_states_created_at ON auth.oauth_client_states (created_at);

-- flow_state.user_id and oauth_client_state_id have no foreign key.
CREATE TABLE auth.flow_state (
    id                          uuid NOT NULL,
    user_id                     uuid NULL,
    auth_code                   text NULL,
    code_challenge_method       auth.code_challenge_method NULL,
    code_challenge              text NULL,
    provider_type               text NOT NULL,
    provider_access_token       text NULL,
    provider_refresh_token      text NULL,
    created_at                  timestamptz NULL,
    updated_at                  timestamptz NULL,
    authentication_method       text NOT NULL,
    auth_code_issued_at         timestamptz NULL,
    invite_token                text NULL,
    referrer                    text NULL,
    oauth_client_state_id       uuid NULL,
    linking_target_id           uuid NULL,
    email_optional              boolean NOT NULL DEFAULT false,
    CONSTRAINT flow_state_pkey PRIMARY KEY (id)
);
CREATE INDEX idx_auth_code ON auth.flow_state (auth_code);
CREATE INDEX idx_user_id_auth_method ON auth.flow_state (user_id, authentication_method);
CREATE INDEX flow_state_created_at_idx ON auth.flow_state (created_at DESC);

CREATE TABLE auth.sso_providers (
    id                          uuid NOT NULL,
    resource_id                 text NULL,
    created_at                  timestamptz NULL,
    updated_at                  timestamptz NULL,
    disabled                    boolean NULL,
    CONSTRAINT sso_providers_pkey PRIMARY KEY (id),
    CONSTRAINT "resource_id not empty" CHECK (resource_id = NULL::text OR char_length(resource_id) > 0)
);
CREATE UNIQUE INDEX sso_providers_resource_id_idx ON auth.sso_providers (lower(resource_id));
CREATE INDEX sso_providers_resource_id_pattern_idx ON auth.sso_providers (resource_id text_pattern_ops);

CREATE TABLE auth.sso_domains (
    id                          uuid NOT NULL,
    sso_provider_id             uuid NOT NULL,
    domain                      text NOT NULL,
    created_at                  timestamptz NULL,
    updated_at                  timestamptz NULL,
    CONSTRAINT sso_domains_pkey PRIMARY KEY (id),
    CONSTRAINT sso_domains_sso_provider_id_fkey FOREIGN KEY (sso_provider_id) REFERENCES auth.sso_providers (id) ON DELETE CASCADE,
    CONSTRAINT "domain not empty" CHECK (char_length(domain) > 0)
);
CREATE INDEX sso_domains_sso_provider_id_idx ON auth.sso_domains (sso_provider_id);
CREATE UNIQUE INDEX sso_domains_domain_idx ON auth.sso_domains (lower(domain));

CREATE TABLE auth.saml_providers (
    id                          uuid NOT NULL,
    sso_provider_id             uuid NOT NULL,
    entity_id                   text NOT NULL,
    metadata_xml                text NOT NULL,
    metadata_url                text NULL,
    attribute_mapping           jsonb NULL,
    created_at                  timestamptz NULL,
    updated_at                  timestamptz NULL,
    name_id_format              text NULL,
    CONSTRAINT saml_providers_pkey PRIMARY KEY (id),
    CONSTRAINT saml_providers_entity_id_key UNIQUE (entity_id),
    CONSTRAINT saml_providers_sso_provider_id_fkey FOREIGN KEY (sso_provider_id) REFERENCES auth.sso_providers (id) ON DELETE CASCADE,
    CONSTRAINT "entity_id not empty" CHECK (char_length(entity_id) > 0),
    CONSTRAINT "metadata_url not empty" CHECK (metadata_url = NULL::text OR char_length(metadata_url) > 0),
    CONSTRAINT "metadata_xml not empty" CHECK (char_length(metadata_xml) > 0)
);
CREATE INDEX saml_providers_sso_provider_id_idx ON auth.saml_providers (sso_provider_id);

CREATE TABLE auth.saml_relay_states (
    id                          uuid NOT NULL,
    sso_provider_id             uuid NOT NULL,
    request_id                  text NOT NULL,
    for_email                   text NULL,
    redirect_to                 text NULL,
    created_at                  timestamptz NULL,
    updated_at                  timestamptz NULL,
    flow_state_id               uuid NULL,
    CONSTRAINT saml_relay_states_pkey PRIMARY KEY (id),
    CONSTRAINT saml_relay_states_sso_provider_id_fkey FOREIGN KEY (sso_provider_id) REFERENCES auth.sso_providers (id) ON DELETE CASCADE,
    CONSTRAINT saml_relay_states_flow_state_id_fkey FOREIGN KEY (flow_state_id) REFERENCES auth.flow_state (id) ON DELETE CASCADE,
    CONSTRAINT "request_id not empty" CHECK (char_length(request_id) > 0)
);
CREATE INDEX saml_relay_states_sso_provider_id_idx ON auth.saml_relay_states (sso_provider_id);
CREATE INDEX saml_relay_states_for_email_idx ON auth.saml_relay_states (for_email);
CREATE INDEX saml_relay_states_created_at_idx ON auth.saml_relay_states (created_at DESC);

CREATE TABLE auth.oauth_authorizations (
    id                          uuid NOT NULL,
    authorization_id            text NOT NULL,
    client_id                   uuid NOT NULL,
    user_id                     uuid NULL,
    redirect_uri                text NOT NULL,
    scope                       text NOT NULL,
    state                       text NULL,
    resource                    text NULL,
    code_challenge              text NULL,
    code_challenge_method       auth.code_challenge_method NULL,
    response_type               auth.oauth_response_type NOT NULL DEFAULT 'code'::auth.oauth_response_type,
    status                      auth.oauth_authorization_status NOT NULL DEFAULT 'pending'::auth.oauth_authorization_status,
    authorization_code          text NULL,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    expires_at                  timestamptz NOT NULL DEFAULT (now() + '00:03:00'::interval),
    approved_at                 timestamptz NULL,
    nonce                       text NULL,
    CONSTRAINT oauth_authorizations_pkey PRIMARY KEY (id),
    CONSTRAINT oauth_authorizations_authorization_id_key UNIQUE (authorization_id),
    CONSTRAINT oauth_authorizations_authorization_code_key UNIQUE (authorization_code),
    CONSTRAINT oauth_authorizations_client_id_fkey FOREIGN KEY (client_id) REFERENCES auth.oauth_clients (id) ON DELETE CASCADE,
    CONSTRAINT oauth_authorizations_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users (id) ON DELETE CASCADE,
    CONSTRAINT oauth_authorizations_redirect_uri_length CHECK (char_length(redirect_uri) <= 2048),
    CONSTRAINT oauth_authorizations_scope_length CHECK (char_length(scope) <= 4096),
    CONSTRAINT oauth_authorizations_state_length CHECK (char_length(state) <= 4096),
    CONSTRAINT oauth_authorizations_resource_length CHECK (char_length(resource) <= 2048),
    CONSTRAINT oauth_authorizations_code_challenge_length CHECK (char_length(code_challenge) <= 128),
    CONSTRAINT oauth_authorizations_authorization_code_length CHECK (char_length(authorization_code) <= 255),
    CONSTRAINT oauth_authorizations_expires_at_future CHECK (expires_at > created_at),
    CONSTRAINT oauth_authorizations_nonce_length CHECK (char_length(nonce) <= 255)
);
CREATE INDEX oauth_auth_pending_exp_idx ON auth.oauth_authorizations (expires_at)
    WHERE (status = 'pending'::auth.oauth_authorization_status);

CREATE TABLE auth.oauth_consents (
    id                          uuid NOT NULL,
    user_id                     uuid NOT NULL,
    client_id                   uuid NOT NULL,
    scopes                      text NOT NULL,
    granted_at                  timestamptz NOT NULL DEFAULT now(),
    revoked_at                  timestamptz NULL,
    CONSTRAINT oauth_consents_pkey PRIMARY KEY (id),
    CONSTRAINT oauth_consents_user_client_unique UNIQUE (user_id, client_id),
    CONSTRAINT oauth_consents_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users (id) ON DELETE CASCADE,
    CONSTRAINT oauth_consents_client_id_fkey FOREIGN KEY (client_id) REFERENCES auth.oauth_clients (id) ON DELETE CASCADE,
    CONSTRAINT oauth_consents_scopes_length CHECK (char_length(scopes) <= 2048),
    CONSTRAINT oauth_consents_scopes_not_empty CHECK (char_length(TRIM(BOTH FROM scopes)) > 0),
    CONSTRAINT oauth_consents_revoked_after_granted CHECK (revoked_at IS NULL OR revoked_at >= granted_at)
);
CREATE INDEX oauth_consents_active_user_client_idx ON auth.oauth_consents (user_id, client_id) WHERE (revoked_at IS NULL);
CREATE INDEX oauth_consents_active_client_idx ON auth.oauth_consents (client_id) WHERE (revoked_at IS NULL);
CREATE INDEX oauth_consents_user_order_idx ON auth.oauth_consents (user_id, granted_at DESC);

CREATE TABLE auth.custom_oauth_providers (
    id                          uuid NOT NULL DEFAULT gen_random_uuid(),
    provider_type               text NOT NULL,
    identifier                  text NOT NULL,
    name                        text NOT NULL,
    client_id                   text NOT NULL,
    client_secret               text NOT NULL,
    acceptable_client_ids       text[] NOT NULL DEFAULT '{}'::text[],
    scopes                      text[] NOT NULL DEFAULT '{}'::text[],
    pkce_enabled                boolean NOT NULL DEFAULT true,
    attribute_mapping           jsonb NOT NULL DEFAULT '{}'::jsonb,
    authorization_params        jsonb NOT NULL DEFAULT '{}'::jsonb,
    enabled                     boolean NOT NULL DEFAULT true,
    email_optional              boolean NOT NULL DEFAULT false,
    issuer                      text NULL,
    discovery_url               text NULL,
    skip_nonce_check            boolean NOT NULL DEFAULT false,
    cached_discovery            jsonb NULL,
    discovery_cached_at         timestamptz NULL,
    authorization_url           text NULL,
    token_url                   text NULL,
    userinfo_url                text NULL,
    jwks_uri                    text NULL,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    custom_claims_allowlist     text[] NOT NULL DEFAULT '{}'::text[],
    CONSTRAINT custom_oauth_providers_pkey PRIMARY KEY (id),
    CONSTRAINT custom_oauth_providers_identifier_key UNIQUE (identifier),
    CONSTRAINT custom_oauth_providers_provider_type_check CHECK (provider_type = ANY (ARRAY['oauth2'::text, 'oidc'::text])),
    CONSTRAINT custom_oauth_providers_identifier_format CHECK (identifier ~ '^[a-z0-9][a-z0-9:-]{0,48}[a-z0-9]$'::text),
    CONSTRAINT custom_oauth_providers_name_length CHECK (char_length(name) >= 1 AND char_length(name) <= 100),
    CONSTRAINT custom_oauth_providers_client_id_length CHECK (char_length(client_id) >= 1 AND char_length(client_id) <= 512),
    CONSTRAINT custom_oauth_providers_issuer_length CHECK (issuer IS NULL OR (char_length(issuer) >= 1 AND char_length(issuer) <= 2048)),
    CONSTRAINT custom_oauth_providers_discovery_url_length CHECK (discovery_url IS NULL OR char_length(discovery_url) <= 2048),
    CONSTRAINT custom_oauth_providers_authorization_url_length CHECK (authorization_url IS NULL OR char_length(authorization_url) <= 2048),
    CONSTRAINT custom_oauth_providers_token_url_length CHECK (token_url IS NULL OR char_length(token_url) <= 2048),
    CONSTRAINT custom_oauth_providers_userinfo_url_length CHECK (userinfo_url IS NULL OR char_length(userinfo_url) <= 2048),
    CONSTRAINT custom_oauth_providers_jwks_uri_length CHECK (jwks_uri IS NULL OR char_length(jwks_uri) <= 2048),
    CONSTRAINT custom_oauth_providers_oidc_requires_issuer CHECK (provider_type <> 'oidc'::text OR issuer IS NOT NULL),
    CONSTRAINT custom_oauth_providers_oidc_issuer_https CHECK (provider_type <> 'oidc'::text OR issuer IS NULL OR issuer ~~ 'https://%'::text),
    CONSTRAINT custom_oauth_providers_oidc_discovery_url_https
        CHECK (provider_type <> 'oidc'::text OR discovery_url IS NULL OR discovery_url ~~ 'https://%'::text),
    CONSTRAINT custom_oauth_providers_oauth2_requires_endpoints
        CHECK (provider_type <> 'oauth2'::text OR (authorization_url IS NOT NULL AND token_url IS NOT NULL AND userinfo_url IS NOT NULL)),
    CONSTRAINT custom_oauth_providers_authorization_url_https CHECK (authorization_url IS NULL OR authorization_url ~~ 'https://%'::text),
    CONSTRAINT custom_oauth_providers_token_url_https CHECK (token_url IS NULL OR token_url ~~ 'https://%'::text),
    CONSTRAINT custom_oauth_providers_userinfo_url_https CHECK (userinfo_url IS NULL OR userinfo_url ~~ 'https://%'::text),
    CONSTRAINT custom_oauth_providers_jwks_uri_https CHECK (jwks_uri IS NULL OR jwks_uri ~~ 'https://%'::text)
);
CREATE INDEX custom_oauth_providers_identifier_idx ON auth.custom_oauth_providers (identifier);
CREATE INDEX custom_oauth_providers_provider_type_idx ON auth.custom_oauth_providers (provider_type);
CREATE INDEX custom_oauth_providers_enabled_idx ON auth.custom_oauth_providers (enabled);
CREATE INDEX custom_oauth_providers_created_at_idx ON auth.custom_oauth_providers (created_at);

CREATE TABLE auth.webauthn_credentials (
    id                          uuid NOT NULL DEFAULT gen_random_uuid(),
    user_id                     uuid NOT NULL,
    credential_id               bytea NOT NULL,
    public_key                  bytea NOT NULL,
    attestation_type            text NOT NULL DEFAULT ''::text,
    aaguid                      uuid NULL,
    sign_count                  bigint NOT NULL DEFAULT 0,
    transports                  jsonb NOT NULL DEFAULT '[]'::jsonb,
    backup_eligible             boolean NOT NULL DEFAULT false,
    backed_up                   boolean NOT NULL DEFAULT false,
    friendly_name               text NOT NULL DEFAULT ''::text,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    last_used_at                timestamptz NULL,
    CONSTRAINT webauthn_credentials_pkey PRIMARY KEY (id),
    CONSTRAINT webauthn_credentials_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX webauthn_credentials_credential_id_key ON auth.webauthn_credentials (credential_id);
CREATE INDEX webauthn_credentials_user_id_idx ON auth.webauthn_credentials (user_id);

CREATE TABLE auth.webauthn_challenges (
    id                          uuid NOT NULL DEFAULT gen_random_uuid(),
    user_id                     uuid NULL,
    challenge_type              text NOT NULL,
    session_data                jsonb NOT NULL,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    expires_at                  timestamptz NOT NULL,
    CONSTRAINT webauthn_challenges_pkey PRIMARY KEY (id),
    CONSTRAINT webauthn_challenges_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users (id) ON DELETE CASCADE,
    CONSTRAINT webauthn_challenges_challenge_type_check
        CHECK (challenge_type = ANY (ARRAY['signup'::text, 'registration'::text, 'authentication'::text]))
);
CREATE INDEX webauthn_challenges_user_id_idx ON auth.webauthn_challenges (user_id);
CREATE INDEX webauthn_challenges_expires_at_idx ON auth.webauthn_challenges (expires_at);

COMMENT ON TABLE auth.instances IS 'Auth: Manages users across multiple sites.';
COMMENT ON TABLE auth.audit_log_entries IS 'Auth: Audit trail for user actions.';
COMMENT ON TABLE auth.users IS 'Auth: Stores user login data within a secure schema.';
COMMENT ON COLUMN auth.users.is_sso_user IS 'Auth: Set this column to true when the account comes from SSO. These accounts can have duplicate emails.';
COMMENT ON INDEX auth.users_email_partial_key IS 'Auth: A partial unique index that applies only when is_sso_user is false';
COMMENT ON TABLE auth.identities IS 'Auth: Stores identities associated to a user.';
COMMENT ON COLUMN auth.identities.email IS 'Auth: Email is a generated column that references the optional email property in the identity_data';
COMMENT ON INDEX auth.identities_email_idx IS 'Auth: Ensures indexed queries on the email column';
COMMENT ON TABLE auth.sessions IS 'Auth: Stores session data associated to a user.';
COMMENT ON COLUMN auth.sessions.not_after IS 'Auth: Not after is a nullable column that contains a timestamp after which the session should be regarded as expired.';
COMMENT ON COLUMN auth.sessions.refresh_token_hmac_key IS 'Holds a HMAC-SHA256 key used to sign refresh tokens for this session.';
COMMENT ON COLUMN auth.sessions.refresh_token_counter IS 'Holds the ID (counter) of the last issued refresh token.';
COMMENT ON TABLE auth.refresh_tokens IS 'Auth: Store of tokens used to refresh JWT tokens once they expire.';
COMMENT ON TABLE auth.mfa_factors IS 'auth: stores metadata about factors';
COMMENT ON COLUMN auth.mfa_factors.last_webauthn_challenge_data IS 'Stores the latest WebAuthn challenge data including attestation/assertion for customer verification';
COMMENT ON TABLE auth.mfa_challenges IS 'auth: stores metadata about challenge requests made';
COMMENT ON TABLE auth.mfa_amr_claims IS 'auth: stores authenticator method reference claims for multi factor authentication';
COMMENT ON TABLE auth.oauth_client_states IS 'Stores OAuth states for third-party provider authentication flows where Supabase acts as the OAuth client.';
COMMENT ON TABLE auth.flow_state IS 'Stores metadata for all OAuth/SSO login flows';
COMMENT ON TABLE auth.sso_providers IS 'Auth: Manages SSO identity provider information; see saml_providers for SAML.';
COMMENT ON COLUMN auth.sso_providers.resource_id IS 'Auth: Uniquely identifies a SSO provider according to a user-chosen resource ID (case insensitive), useful in infrastructure as code.';
COMMENT ON TABLE auth.sso_domains IS 'Auth: Manages SSO email address domain mapping to an SSO Identity Provider.';
COMMENT ON TABLE auth.saml_providers IS 'Auth: Manages SAML Identity Provider connections.';
COMMENT ON TABLE auth.saml_relay_states IS 'Auth: Contains SAML Relay State information for each Service Provider initiated login.';

-- Row level security as 20240612123726 leaves it: on the tables that existed then. The oauth_*,
-- custom_oauth_providers and webauthn_* tables of later migrations do not get it.
ALTER TABLE auth.instances ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.audit_log_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.identities ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.mfa_factors ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.mfa_challenges ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.mfa_amr_claims ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.one_time_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.flow_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.sso_providers ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.sso_domains ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.saml_providers ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.saml_relay_states ENABLE ROW LEVEL SECURITY;
-- The same migration lets the project owner read those tables and pass that on.
GRANT SELECT ON auth.instances, auth.audit_log_entries, auth.users, auth.identities, auth.sessions,
    auth.refresh_tokens, auth.mfa_factors, auth.mfa_challenges, auth.mfa_amr_claims, auth.one_time_tokens,
    auth.flow_state, auth.sso_providers, auth.sso_domains, auth.saml_providers, auth.saml_relay_states
    TO postgres WITH GRANT OPTION;

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
CREATE FUNCTION auth.email() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim.email', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
    )::text
$$;
CREATE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
    )::jsonb
$$;
COMMENT ON FUNCTION auth.uid() IS 'Deprecated. Use auth.jwt() -> ''sub'' instead.';
COMMENT ON FUNCTION auth.role() IS 'Deprecated. Use auth.jwt() -> ''role'' instead.';
COMMENT ON FUNCTION auth.email() IS 'Deprecated. Use auth.jwt() -> ''email'' instead.';

RESET ROLE;

-- On Supabase the project owner can read and write the auth tables (seeding, migrations).
GRANT ALL ON ALL TABLES IN SCHEMA auth TO postgres, service_role;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA auth TO postgres, service_role;
GRANT REFERENCES ON auth.users TO postgres;
GRANT EXECUTE ON FUNCTION auth.uid(), auth.role(), auth.jwt(), auth.email() TO postgres, anon, authenticated, service_role;
