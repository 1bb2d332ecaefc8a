-- CocoaTrack V1: the legacy schema (Azure Database for PostgreSQL), exactly as docs/data-model.md.
-- Timestamps are `timestamp without time zone` holding UTC. Some references deliberately have
-- no foreign key (users.cooperative_id, planteurs.chef_planteur_id, deliveries.planteur_id,
-- deliveries.agent_id, delivery_photos.uploaded_by, audit_log.user_id): that is the legacy.
-- Runs as the schema owner.

CREATE TABLE regions (
    id          serial PRIMARY KEY,
    name        varchar(100) NOT NULL,
    code        varchar(10)  NOT NULL UNIQUE,
    created_at  timestamp    NOT NULL
);

CREATE TABLE cooperatives (
    id          serial PRIMARY KEY,
    region_id   integer      NOT NULL REFERENCES regions (id),
    name        varchar(200) NOT NULL,
    code        varchar(20)  NOT NULL UNIQUE,
    phone       varchar(30),
    address     text,
    is_active   boolean      NOT NULL,
    created_at  timestamp    NOT NULL,
    updated_at  timestamp
);

CREATE TABLE users (
    id              serial PRIMARY KEY,
    email           varchar(255) NOT NULL,
    password_hash   varchar(100) NOT NULL,
    full_name       varchar(200) NOT NULL,
    role            varchar(20)  NOT NULL,
    cooperative_id  integer,
    phone           varchar(30),
    is_active       boolean      NOT NULL,
    last_login_at   timestamp,
    created_at      timestamp    NOT NULL,
    updated_at      timestamp
);

CREATE TABLE warehouses (
    id              serial PRIMARY KEY,
    cooperative_id  integer      NOT NULL REFERENCES cooperatives (id),
    name            varchar(200) NOT NULL,
    location        varchar(200),
    capacity_kg     integer,
    latitude        double precision,
    longitude       double precision,
    created_at      timestamp    NOT NULL
);

CREATE TABLE invoices (
    id                  serial PRIMARY KEY,
    cooperative_id      integer     NOT NULL REFERENCES cooperatives (id),
    invoice_number      varchar(30) NOT NULL UNIQUE,
    period_start        date        NOT NULL,
    period_end          date        NOT NULL,
    total_amount_fcfa   bigint      NOT NULL,
    status              varchar(20) NOT NULL,
    paid_at             timestamp,
    created_at          timestamp   NOT NULL
);

CREATE TABLE chef_planteurs (
    id              serial PRIMARY KEY,
    cooperative_id  integer      NOT NULL REFERENCES cooperatives (id),
    first_name      varchar(100) NOT NULL,
    last_name       varchar(100) NOT NULL,
    phone           varchar(30),
    village         varchar(100),
    created_at      timestamp    NOT NULL
);

CREATE TABLE planteurs (
    id                serial PRIMARY KEY,
    chef_planteur_id  integer,
    cooperative_id    integer      NOT NULL REFERENCES cooperatives (id),
    first_name        varchar(100) NOT NULL,
    last_name         varchar(100) NOT NULL,
    phone             varchar(30),
    village           varchar(100),
    gender            char(1),
    birth_year        smallint,
    farm_size_ha      numeric(8,2),
    certifications    varchar(200),
    created_at        timestamp    NOT NULL,
    updated_at        timestamp,
    deleted_at        timestamp
);

CREATE TABLE deliveries (
    id                  serial PRIMARY KEY,
    planteur_id         integer    NOT NULL,
    warehouse_id        integer    NOT NULL REFERENCES warehouses (id),
    invoice_id          integer    REFERENCES invoices (id),
    agent_id            integer,
    delivery_date       date       NOT NULL,
    weight_kg           numeric(10,2),
    bags                smallint,
    quality_grade       varchar(5),
    humidity_pct        numeric(4,1),
    price_per_kg_fcfa   integer    NOT NULL,
    total_amount_fcfa   bigint     NOT NULL,
    notes               text,
    created_at          timestamp  NOT NULL,
    updated_at          timestamp
);

CREATE TABLE delivery_photos (
    id           serial PRIMARY KEY,
    delivery_id  integer      NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    url          varchar(500) NOT NULL,
    caption      varchar(200),
    taken_at     timestamp,
    uploaded_by  integer,
    created_at   timestamp    NOT NULL
);

CREATE TABLE audit_log (
    id           bigserial PRIMARY KEY,
    user_id      integer,
    action       varchar(50) NOT NULL,
    table_name   varchar(50),
    record_id    integer,
    old_data     text,
    new_data     text,
    ip_address   varchar(45),
    created_at   timestamp   NOT NULL
);

-- The legacy application's secondary indexes.
CREATE INDEX deliveries_planteur_id_idx ON deliveries (planteur_id);
CREATE INDEX deliveries_delivery_date_idx ON deliveries (delivery_date);
CREATE INDEX delivery_photos_delivery_id_idx ON delivery_photos (delivery_id);
CREATE INDEX planteurs_cooperative_id_idx ON planteurs (cooperative_id);
