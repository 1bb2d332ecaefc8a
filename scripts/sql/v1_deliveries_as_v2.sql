-- V1 deliveries exactly as the migration writes them to V2 `public.deliveries`, as a view over
-- V1 (for scripts/bench-verify.sh: reladiff compares this view with V2's table).
--
-- Run as V1's superuser. Creates (if absent) the uuid-ossp extension, the enum type
-- public.bench_quality_grade (V2's public.quality_grade, same labels) and the view
-- public.bench_v2_deliveries; scripts/bench-verify.sh drops all three again (the extension only
-- when it created it), so V1 is left as found.
--
-- quality_grade is an enum, not text, because reladiff refuses to compare a text column with an
-- enum (USER-DEFINED) one ("Incompatible types"); with an enum on both sides it compares their
-- text forms, i.e. the labels.
--
-- Every rule is docs/mapping.md's, as Sources/CocoaTrack/Mapping.swift and Rules.swift apply them:
--   ids            uuid_generate_v5('4b6f0c3e-2a1d-4c8e-9f57-3d2e1a0b9c8d', '<v1 table>:<v1 id>')
--   rejected       weight_kg NULL or <= 0 (invalid_weight); planteur or warehouse missing
--                  (orphan_reference) or itself rejected (parent_rejected); quality_grade not
--                  NULL/A/B/C/REJ (invalid_quality_grade)
--   set to NULL    invoice_id when the invoice is missing or rejected; created_by when the agent
--                  user is missing or rejected (duplicate email after trim + lowercase, the lowest
--                  id wins; role not admin/manager/agent/viewer)
--   parents        a cooperative is rejected when its region is missing; a warehouse, invoice or
--                  planteur when its cooperative is missing or rejected; an invoice also when its
--                  status is not draft/sent/paid/cancelled
--   values         delivery_date → delivered_on; agent_id → created_by; grades A/B/C/REJ →
--                  grade_a/grade_b/grade_c/rejected; *_fcfa → numeric;
--                  naive UTC timestamps → timestamptz; NULL updated_at → created_at
--
-- The names are built with `|| x::text` (immutable), not `|| x` (anytextcat, stable), so that
-- the id expression can also back an expression index on V1 deliveries (bench-verify.sh's
-- "view+index" variant).
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";

DROP VIEW IF EXISTS public.bench_v2_deliveries;
DROP TYPE IF EXISTS public.bench_quality_grade;
CREATE TYPE public.bench_quality_grade AS ENUM ('grade_a', 'grade_b', 'grade_c', 'rejected');

CREATE VIEW public.bench_v2_deliveries AS
WITH ok_cooperatives AS (
    SELECT c.id FROM public.cooperatives c
    WHERE EXISTS (SELECT 1 FROM public.regions r WHERE r.id = c.region_id)
), ok_warehouses AS (
    SELECT w.id FROM public.warehouses w JOIN ok_cooperatives c ON c.id = w.cooperative_id
), ok_invoices AS (
    SELECT i.id FROM public.invoices i JOIN ok_cooperatives c ON c.id = i.cooperative_id
    WHERE i.status IN ('draft', 'sent', 'paid', 'cancelled')
), ok_planteurs AS (
    SELECT p.id FROM public.planteurs p JOIN ok_cooperatives c ON c.id = p.cooperative_id
), normalized_users AS (
    -- Swift's trimmingCharacters(in: .whitespacesAndNewlines) + lowercased()
    SELECT u.id, u.role,
           lower(btrim(u.email, E' \t\n\r\u000B\f\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000')) AS email
    FROM public.users u
), ok_users AS (
    SELECT u.id FROM normalized_users u
    WHERE u.role IN ('admin', 'manager', 'agent', 'viewer')
      AND NOT EXISTS (SELECT 1 FROM normalized_users e WHERE e.email = u.email AND e.id < u.id)
)
SELECT
    uuid_generate_v5('4b6f0c3e-2a1d-4c8e-9f57-3d2e1a0b9c8d'::uuid, 'deliveries:' || d.id::text)        AS id,
    uuid_generate_v5('4b6f0c3e-2a1d-4c8e-9f57-3d2e1a0b9c8d'::uuid, 'planteurs:' || d.planteur_id::text) AS planteur_id,
    uuid_generate_v5('4b6f0c3e-2a1d-4c8e-9f57-3d2e1a0b9c8d'::uuid, 'warehouses:' || d.warehouse_id::text) AS warehouse_id,
    CASE WHEN oi.id IS NOT NULL
         THEN uuid_generate_v5('4b6f0c3e-2a1d-4c8e-9f57-3d2e1a0b9c8d'::uuid, 'invoices:' || d.invoice_id::text) END AS invoice_id,
    CASE WHEN ou.id IS NOT NULL
         THEN uuid_generate_v5('4b6f0c3e-2a1d-4c8e-9f57-3d2e1a0b9c8d'::uuid, 'users:' || d.agent_id::text) END AS created_by,
    d.delivery_date                                                    AS delivered_on,
    d.weight_kg::numeric(10,2)                                         AS weight_kg,
    d.bags                                                             AS bags,
    CASE d.quality_grade WHEN 'A' THEN 'grade_a' WHEN 'B' THEN 'grade_b'
                         WHEN 'C' THEN 'grade_c' WHEN 'REJ' THEN 'rejected' END::public.bench_quality_grade AS quality_grade,
    d.humidity_pct::numeric(4,1)                                       AS humidity_pct,
    d.price_per_kg_fcfa::numeric(10,2)                                 AS price_per_kg,
    d.total_amount_fcfa::numeric(14,2)                                 AS total_amount,
    d.notes                                                            AS notes,
    d.created_at AT TIME ZONE 'UTC'                                    AS created_at,
    coalesce(d.updated_at, d.created_at) AT TIME ZONE 'UTC'            AS updated_at
FROM public.deliveries d
JOIN ok_planteurs op ON op.id = d.planteur_id
JOIN ok_warehouses ow ON ow.id = d.warehouse_id
LEFT JOIN ok_invoices oi ON oi.id = d.invoice_id
LEFT JOIN ok_users ou ON ou.id = d.agent_id
WHERE d.weight_kg > 0 AND d.weight_kg <> 'NaN'::numeric
  AND (d.quality_grade IS NULL OR d.quality_grade IN ('A', 'B', 'C', 'REJ'));
