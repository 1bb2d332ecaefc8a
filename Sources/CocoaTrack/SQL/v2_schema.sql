-- CocoaTrack V2: the new schema (Supabase, PostgreSQL 15+), exactly as docs/data-model.md.
-- Every id is uuid, every timestamp timestamptz, every reference a real foreign key, row level
-- security enabled on every public table. `auth.users` belongs to Supabase Auth and is not
-- created here (see v2_supabase_stub.sql for the local stand-in). Runs as `postgres`.

CREATE TYPE public.app_role AS ENUM ('admin', 'manager', 'field_agent', 'viewer');
CREATE TYPE public.invoice_status AS ENUM ('draft', 'sent', 'paid', 'cancelled');
CREATE TYPE public.quality_grade AS ENUM ('grade_a', 'grade_b', 'grade_c', 'rejected');

CREATE TABLE public.regions (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text        NOT NULL,
    code        text        NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL
);

CREATE TABLE public.cooperatives (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    region_id   uuid        NOT NULL REFERENCES public.regions (id),
    name        text        NOT NULL,
    code        text        NOT NULL UNIQUE,
    phone       text,
    address     text,
    is_active   boolean     NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE public.profiles (
    id              uuid PRIMARY KEY REFERENCES auth.users (id),
    email           text            NOT NULL UNIQUE,
    full_name       text            NOT NULL,
    role            public.app_role NOT NULL,
    cooperative_id  uuid            REFERENCES public.cooperatives (id),
    phone           text,
    is_active       boolean         NOT NULL,
    last_login_at   timestamptz,
    created_at      timestamptz     NOT NULL,
    updated_at      timestamptz     NOT NULL
);

CREATE TABLE public.warehouses (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    cooperative_id  uuid        NOT NULL REFERENCES public.cooperatives (id),
    name            text        NOT NULL,
    location        text,
    capacity_kg     integer,
    latitude        double precision,
    longitude       double precision,
    created_at      timestamptz NOT NULL
);

CREATE TABLE public.invoices (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    cooperative_id  uuid                  NOT NULL REFERENCES public.cooperatives (id),
    invoice_number  text                  NOT NULL UNIQUE,
    period_start    date                  NOT NULL,
    period_end      date                  NOT NULL,
    total_amount    numeric(14,2)         NOT NULL,
    currency        char(3)               NOT NULL DEFAULT 'XOF',
    status          public.invoice_status NOT NULL,
    paid_at         timestamptz,
    created_at      timestamptz           NOT NULL
);

CREATE TABLE public.chef_planteurs (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    cooperative_id  uuid        NOT NULL REFERENCES public.cooperatives (id),
    first_name      text        NOT NULL,
    last_name       text        NOT NULL,
    phone           text,
    village         text,
    created_at      timestamptz NOT NULL
);

CREATE TABLE public.planteurs (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    chef_planteur_id  uuid          REFERENCES public.chef_planteurs (id),
    cooperative_id    uuid          NOT NULL REFERENCES public.cooperatives (id),
    first_name        text          NOT NULL,
    last_name         text          NOT NULL,
    phone             text,
    village           text,
    gender            text          CHECK (gender IN ('M', 'F')),
    birth_year        smallint,
    farm_size_ha      numeric(8,2),
    certifications    text[]        NOT NULL DEFAULT '{}',
    created_at        timestamptz   NOT NULL,
    updated_at        timestamptz   NOT NULL,
    deleted_at        timestamptz
);

CREATE TABLE public.deliveries (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    planteur_id    uuid                 NOT NULL REFERENCES public.planteurs (id),
    warehouse_id   uuid                 NOT NULL REFERENCES public.warehouses (id),
    invoice_id     uuid                 REFERENCES public.invoices (id),
    created_by     uuid                 REFERENCES public.profiles (id),
    delivered_on   date                 NOT NULL,
    weight_kg      numeric(10,2)        NOT NULL CHECK (weight_kg > 0),
    bags           smallint,
    quality_grade  public.quality_grade,
    humidity_pct   numeric(4,1),
    price_per_kg   numeric(10,2)        NOT NULL,
    total_amount   numeric(14,2)        NOT NULL,
    notes          text,
    created_at     timestamptz          NOT NULL,
    updated_at     timestamptz          NOT NULL
);

CREATE TABLE public.delivery_photos (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    delivery_id   uuid        NOT NULL REFERENCES public.deliveries (id) ON DELETE CASCADE,
    storage_path  text        NOT NULL,
    caption       text,
    taken_at      timestamptz,
    uploaded_by   uuid        REFERENCES public.profiles (id),
    created_at    timestamptz NOT NULL
);

CREATE TABLE public.audit_log (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    actor_id    uuid        REFERENCES public.profiles (id),
    action      text        NOT NULL,
    entity      text,
    entity_id   uuid,
    old_data    jsonb,
    new_data    jsonb,
    ip_address  inet,
    created_at  timestamptz NOT NULL
);

-- Indexes on foreign-key columns (Supabase's advisor flags unindexed foreign keys).
CREATE INDEX cooperatives_region_id_idx ON public.cooperatives (region_id);
CREATE INDEX profiles_cooperative_id_idx ON public.profiles (cooperative_id);
CREATE INDEX warehouses_cooperative_id_idx ON public.warehouses (cooperative_id);
CREATE INDEX invoices_cooperative_id_idx ON public.invoices (cooperative_id);
CREATE INDEX chef_planteurs_cooperative_id_idx ON public.chef_planteurs (cooperative_id);
CREATE INDEX planteurs_cooperative_id_idx ON public.planteurs (cooperative_id);
CREATE INDEX planteurs_chef_planteur_id_idx ON public.planteurs (chef_planteur_id);
CREATE INDEX deliveries_planteur_id_idx ON public.deliveries (planteur_id);
CREATE INDEX deliveries_warehouse_id_idx ON public.deliveries (warehouse_id);
CREATE INDEX deliveries_invoice_id_idx ON public.deliveries (invoice_id);
CREATE INDEX deliveries_created_by_idx ON public.deliveries (created_by);
CREATE INDEX deliveries_delivered_on_idx ON public.deliveries (delivered_on);
CREATE INDEX delivery_photos_delivery_id_idx ON public.delivery_photos (delivery_id);
CREATE INDEX delivery_photos_uploaded_by_idx ON public.delivery_photos (uploaded_by);
CREATE INDEX audit_log_actor_id_idx ON public.audit_log (actor_id);
CREATE INDEX audit_log_created_at_idx ON public.audit_log (created_at);

-- Row level security on every public table, as on Supabase, with the application's policies.
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['regions', 'cooperatives', 'profiles', 'warehouses', 'invoices',
                             'chef_planteurs', 'planteurs', 'deliveries', 'delivery_photos', 'audit_log']
    LOOP
        EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY %I ON public.%I FOR SELECT TO authenticated USING (true)',
                       t || '_read_authenticated', t);
    END LOOP;
END $$;

CREATE POLICY deliveries_insert_own ON public.deliveries FOR INSERT TO authenticated
    WITH CHECK (created_by = auth.uid());
CREATE POLICY delivery_photos_insert_own ON public.delivery_photos FOR INSERT TO authenticated
    WITH CHECK (uploaded_by = auth.uid());
CREATE POLICY profiles_update_own ON public.profiles FOR UPDATE TO authenticated
    USING (id = auth.uid()) WITH CHECK (id = auth.uid());

-- Supabase's default privileges for its API roles (RLS decides what each row allows).
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
GRANT ALL ON ALL TABLES IN SCHEMA public TO anon, authenticated, service_role;
GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO anon, authenticated, service_role;
