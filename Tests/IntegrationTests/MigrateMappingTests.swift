import CocoaTrack
import Foundation
import MigrationEngine
import Testing

/// Every mapping rule of DATA_MODEL.md, checked by reading V2 back and comparing it with V1's
/// rows through independent SQL (PostgreSQL's own uuid_generate_v5, AT TIME ZONE, jsonb and
/// inet parsers), not through the tool's code.
@Suite("migrate: every mapping rule and dirty case, read back from V2")
struct MigrateMappingTests {
    static let ns = "'4b6f0c3e-2a1d-4c8e-9f57-3d2e1a0b9c8d'::uuid"

    /// (description, SQL that counts rows violating the rule; must be 0)
    static let violations: [(String, String)] = [
        // Ids and timestamps.
        ("every kept region present with uuid5 id, name, code, UTC timestamp", """
            SELECT count(*) FROM v1raw.regions v LEFT JOIN public.regions r ON r.id = extensions.uuid_generate_v5(\(ns), 'regions:' || v.id)
            WHERE r.id IS NULL OR r.name <> v.name OR r.code <> v.code OR r.created_at <> (v.created_at AT TIME ZONE 'UTC')
            """),
        ("cooperatives: reference by uuid5, NULL updated_at → created_at, phone rule", """
            SELECT count(*) FROM v1raw.cooperatives v LEFT JOIN public.cooperatives r ON r.id = extensions.uuid_generate_v5(\(ns), 'cooperatives:' || v.id)
            WHERE r.id IS NULL OR r.region_id <> extensions.uuid_generate_v5(\(ns), 'regions:' || v.region_id)
               OR r.updated_at <> (coalesce(v.updated_at, v.created_at) AT TIME ZONE 'UTC')
               OR r.phone IS DISTINCT FROM pg_temp.phone(v.phone) OR r.address IS DISTINCT FROM v.address OR r.is_active <> v.is_active
            """),
        ("users: duplicate emails rejected (lowest id wins), others in auth.users and profiles", """
            SELECT count(*) FROM v1raw.users v
            LEFT JOIN public.profiles p ON p.id = extensions.uuid_generate_v5(\(ns), 'users:' || v.id)
            LEFT JOIN auth.users a ON a.id = p.id
            WHERE (EXISTS (SELECT 1 FROM v1raw.users w WHERE w.id < v.id AND lower(btrim(w.email)) = lower(btrim(v.email)))) <> (p.id IS NULL)
               OR (p.id IS NOT NULL AND (p.email <> lower(btrim(v.email)) OR a.email <> p.email
                   OR p.role::text <> CASE v.role WHEN 'agent' THEN 'field_agent' ELSE v.role END
                   OR p.full_name <> v.full_name OR p.is_active <> v.is_active
                   OR p.last_login_at IS DISTINCT FROM (v.last_login_at AT TIME ZONE 'UTC')
                   OR p.phone IS DISTINCT FROM pg_temp.phone(v.phone)))
            """),
        ("auth.users columns as Supabase Auth needs them", """
            SELECT count(*) FROM v1raw.users v JOIN auth.users a ON a.id = extensions.uuid_generate_v5(\(ns), 'users:' || v.id)
            WHERE a.instance_id <> '00000000-0000-0000-0000-000000000000' OR a.aud <> 'authenticated' OR a.role <> 'authenticated'
               OR a.encrypted_password <> v.password_hash OR a.email_confirmed_at <> (v.created_at AT TIME ZONE 'UTC')
               OR a.raw_app_meta_data <> '{"provider":"email","providers":["email"]}'::jsonb
               OR a.raw_user_meta_data <> jsonb_build_object('full_name', v.full_name)
               OR a.created_at <> (v.created_at AT TIME ZONE 'UTC') OR a.updated_at <> (coalesce(v.updated_at, v.created_at) AT TIME ZONE 'UTC')
               OR a.banned_until IS DISTINCT FROM (CASE WHEN v.is_active THEN NULL ELSE 'infinity'::timestamptz END)
               OR a.last_sign_in_at IS DISTINCT FROM (v.last_login_at AT TIME ZONE 'UTC')
            """),
        // GoTrue scans these into plain Go strings/ints/bools (supabase/auth internal/models/user.go):
        // NULL in any of them fails every password login of the user (supabase/auth issue #1940).
        ("auth.users: no NULL where GoTrue holds a plain Go value; tokens empty, not NULL", """
            SELECT count(*) FROM v1raw.users v JOIN auth.users a ON a.id = extensions.uuid_generate_v5(\(ns), 'users:' || v.id)
            WHERE a.confirmation_token IS DISTINCT FROM '' OR a.recovery_token IS DISTINCT FROM '' OR a.email_change_token_new IS DISTINCT FROM ''
               OR a.email_change IS DISTINCT FROM '' OR a.email_change_token_current IS DISTINCT FROM '' OR a.phone_change IS DISTINCT FROM ''
               OR a.phone_change_token IS DISTINCT FROM '' OR a.reauthentication_token IS DISTINCT FROM ''
               OR a.email_change_confirm_status IS DISTINCT FROM 0 OR a.is_sso_user IS DISTINCT FROM false OR a.is_anonymous IS DISTINCT FROM false
               OR a.aud IS NULL OR a.role IS NULL OR a.created_at IS NULL OR a.updated_at IS NULL OR a.instance_id IS NULL
            """),
        ("auth.identities: exactly one email identity per migrated user, as GoTrue's admin API makes it", """
            SELECT count(*) FROM auth.users a
            LEFT JOIN v1raw.users v ON a.id = extensions.uuid_generate_v5(\(ns), 'users:' || v.id)
            LEFT JOIN auth.identities i ON i.user_id = a.id
            WHERE i.id IS DISTINCT FROM extensions.uuid_generate_v5(\(ns), 'identities:' || v.id)
               OR i.provider <> 'email' OR i.provider_id <> a.id::text
               OR i.identity_data <> jsonb_build_object('sub', a.id::text, 'email', a.email, 'email_verified', true, 'phone_verified', false)
               OR i.email IS DISTINCT FROM a.email
               OR i.last_sign_in_at IS DISTINCT FROM (v.last_login_at AT TIME ZONE 'UTC')
               OR i.created_at <> a.created_at OR i.updated_at <> a.updated_at
               OR (SELECT count(*) FROM auth.identities j WHERE j.user_id = a.id) <> 1
            """),
        ("a rejected user has no identity", """
            SELECT count(*) FROM auth.identities i WHERE NOT EXISTS (SELECT 1 FROM auth.users a WHERE a.id = i.user_id)
               OR NOT EXISTS (SELECT 1 FROM public.profiles p WHERE p.id = i.user_id)
            """),
        ("a user's dangling cooperative becomes NULL", """
            SELECT count(*) FROM v1raw.users v JOIN public.profiles p ON p.id = extensions.uuid_generate_v5(\(ns), 'users:' || v.id)
            WHERE p.cooperative_id IS DISTINCT FROM (SELECT extensions.uuid_generate_v5(\(ns), 'cooperatives:' || c.id) FROM v1raw.cooperatives c WHERE c.id = v.cooperative_id)
            """),
        ("invoices: money by value, currency XOF, status", """
            SELECT count(*) FROM v1raw.invoices v LEFT JOIN public.invoices r ON r.id = extensions.uuid_generate_v5(\(ns), 'invoices:' || v.id)
            WHERE r.id IS NULL OR r.total_amount <> v.total_amount_fcfa OR r.currency <> 'XOF' OR r.status::text <> v.status
               OR r.invoice_number <> v.invoice_number OR r.period_start <> v.period_start OR r.paid_at IS DISTINCT FROM (v.paid_at AT TIME ZONE 'UTC')
            """),
        ("planteurs: certifications split, trimmed, lowercased, deduplicated in order; dangling chef → NULL", """
            SELECT count(*) FROM v1raw.planteurs v LEFT JOIN public.planteurs r ON r.id = extensions.uuid_generate_v5(\(ns), 'planteurs:' || v.id)
            WHERE r.id IS NULL
               OR r.certifications <> coalesce((SELECT array_agg(c ORDER BY o) FROM (SELECT lower(btrim(x)) AS c, min(ord) AS o
                    FROM unnest(string_to_array(v.certifications, ',')) WITH ORDINALITY AS t(x, ord) WHERE btrim(x) <> '' GROUP BY 1) s), '{}')
               OR r.chef_planteur_id IS DISTINCT FROM (SELECT extensions.uuid_generate_v5(\(ns), 'chef_planteurs:' || c.id) FROM v1raw.chef_planteurs c WHERE c.id = v.chef_planteur_id)
               OR r.farm_size_ha IS DISTINCT FROM v.farm_size_ha OR r.gender IS DISTINCT FROM v.gender OR r.deleted_at IS DISTINCT FROM (v.deleted_at AT TIME ZONE 'UTC')
               OR r.phone IS DISTINCT FROM pg_temp.phone(v.phone) OR r.first_name <> v.first_name
            """),
        ("deliveries: rejects exactly the invalid weights, orphans and unknown grades", """
            SELECT count(*) FROM v1raw.deliveries v LEFT JOIN public.deliveries r ON r.id = extensions.uuid_generate_v5(\(ns), 'deliveries:' || v.id)
            WHERE (r.id IS NULL) <> (v.weight_kg IS NULL OR v.weight_kg <= 0 OR coalesce(v.quality_grade NOT IN ('A','B','C','REJ'), false)
                                     OR NOT EXISTS (SELECT 1 FROM v1raw.planteurs p WHERE p.id = v.planteur_id))
            """),
        ("deliveries: grade, money, dates, created_by (NULL for dangling or rejected users), notes byte for byte", """
            SELECT count(*) FROM v1raw.deliveries v JOIN public.deliveries r ON r.id = extensions.uuid_generate_v5(\(ns), 'deliveries:' || v.id)
            WHERE r.quality_grade IS DISTINCT FROM (CASE v.quality_grade WHEN 'A' THEN 'grade_a' WHEN 'B' THEN 'grade_b' WHEN 'C' THEN 'grade_c' WHEN 'REJ' THEN 'rejected' END)::quality_grade
               OR r.weight_kg <> v.weight_kg OR r.price_per_kg <> v.price_per_kg_fcfa OR r.total_amount <> v.total_amount_fcfa
               OR r.delivered_on <> v.delivery_date OR r.notes IS DISTINCT FROM v.notes OR r.bags IS DISTINCT FROM v.bags
               OR r.humidity_pct IS DISTINCT FROM v.humidity_pct
               OR r.planteur_id <> extensions.uuid_generate_v5(\(ns), 'planteurs:' || v.planteur_id)
               OR r.warehouse_id <> extensions.uuid_generate_v5(\(ns), 'warehouses:' || v.warehouse_id)
               OR r.invoice_id IS DISTINCT FROM (CASE WHEN v.invoice_id IS NOT NULL THEN extensions.uuid_generate_v5(\(ns), 'invoices:' || v.invoice_id) END)
               OR r.created_by IS DISTINCT FROM (SELECT p.id FROM public.profiles p WHERE p.id = extensions.uuid_generate_v5(\(ns), 'users:' || v.agent_id))
               OR r.updated_at <> (coalesce(v.updated_at, v.created_at) AT TIME ZONE 'UTC')
            """),
        ("photos: storage path from the blob URL; other URLs and photos of rejected deliveries rejected", """
            SELECT count(*) FROM v1raw.delivery_photos v LEFT JOIN public.delivery_photos r ON r.id = extensions.uuid_generate_v5(\(ns), 'delivery_photos:' || v.id)
            WHERE (r.id IS NULL) <> (substring(v.url FROM '^https://[a-z0-9]+\\.blob\\.core\\.windows\\.net/photos/(.+)$') IS NULL
                                     OR NOT EXISTS (SELECT 1 FROM public.deliveries d WHERE d.id = extensions.uuid_generate_v5(\(ns), 'deliveries:' || v.delivery_id)))
               OR (r.id IS NOT NULL AND (r.storage_path <> 'delivery-photos/' || substring(v.url FROM '^https://[a-z0-9]+\\.blob\\.core\\.windows\\.net/photos/(.+)$')
                   OR r.caption IS DISTINCT FROM v.caption OR r.taken_at IS DISTINCT FROM (v.taken_at AT TIME ZONE 'UTC')
                   OR r.uploaded_by IS DISTINCT FROM (SELECT p.id FROM public.profiles p WHERE p.id = extensions.uuid_generate_v5(\(ns), 'users:' || v.uploaded_by))))
            """),
        ("audit_log: entity id, JSON kept or wrapped as _unparsed, invalid IP → NULL, actor", """
            SELECT count(*) FROM v1raw.audit_log v LEFT JOIN public.audit_log r ON r.id = extensions.uuid_generate_v5(\(ns), 'audit_log:' || v.id)
            WHERE r.id IS NULL OR r.action <> v.action OR r.entity IS DISTINCT FROM v.table_name
               OR r.entity_id IS DISTINCT FROM (CASE WHEN v.table_name IN ('regions','cooperatives','users','warehouses','invoices','chef_planteurs','planteurs','deliveries','delivery_photos','audit_log') AND v.record_id IS NOT NULL
                                                THEN extensions.uuid_generate_v5(\(ns), v.table_name || ':' || v.record_id) END)
               OR r.old_data IS DISTINCT FROM (CASE WHEN v.old_data IS NULL THEN NULL WHEN pg_temp.is_json(v.old_data) THEN v.old_data::jsonb ELSE jsonb_build_object('_unparsed', v.old_data) END)
               OR r.new_data IS DISTINCT FROM (CASE WHEN v.new_data IS NULL THEN NULL WHEN pg_temp.is_json(v.new_data) THEN v.new_data::jsonb ELSE jsonb_build_object('_unparsed', v.new_data) END)
               OR r.ip_address IS DISTINCT FROM (CASE WHEN pg_temp.is_inet(v.ip_address) THEN v.ip_address::inet END)
               OR r.actor_id IS DISTINCT FROM (SELECT p.id FROM public.profiles p WHERE p.id = extensions.uuid_generate_v5(\(ns), 'users:' || v.user_id))
               OR r.created_at <> (v.created_at AT TIME ZONE 'UTC')
            """),
    ]

    @Test("V2 read back equals V1 through every rule; every reject and warning recorded")
    func everyRule() async throws {
        let pair = try await TestSandbox.shared.freshPair("maprules")
        try await MigrationFixture.generate(pair, scale: 0.004, seed: 5, dirty: 0.02)
        let summary = try await MigrationFixture.migrate(pair)
        #expect(summary.orphans.allSatisfy { $0.1 == 0 })
        try await MigrationFixture.copyV1Raw(pair)
        try await pair.v2Owner().using { c in
            try await c.execute("""
                CREATE FUNCTION pg_temp.is_json(t text) RETURNS boolean LANGUAGE plpgsql AS
                $$ BEGIN PERFORM t::jsonb; RETURN true; EXCEPTION WHEN others THEN RETURN false; END $$;
                CREATE FUNCTION pg_temp.is_inet(t text) RETURNS boolean LANGUAGE plpgsql AS
                $$ BEGIN PERFORM t::inet; RETURN t IS NOT NULL; EXCEPTION WHEN others THEN RETURN false; END $$;
                CREATE FUNCTION pg_temp.phone(p text) RETURNS text LANGUAGE sql AS $$
                  SELECT CASE WHEN s ~ '^\\+225[0-9]{10}$' THEN s WHEN s ~ '^00225[0-9]{10}$' THEN '+225' || substr(s, 6)
                              WHEN s ~ '^0[0-9]{9}$' THEN '+225' || s END
                  FROM (SELECT regexp_replace(p, '[ .()-]', '', 'g') AS s) x $$;
                """)
            for (name, sql) in Self.violations {
                let n = try await c.scalar(sql)
                #expect(n == "0", "\(name): \(n ?? "?") rows violate it")
            }
            // Rejects recorded with table, V1 id and rule: exactly the rows absent from V2.
            let recorded = try await c.query("""
                SELECT source_table, rule, count(DISTINCT source_id) FROM cocoatrack_migration.row_issues WHERE kind = 'reject'
                GROUP BY 1, 2 ORDER BY 1, 2
                """).rows.map { "\($0[0]!).\($0[1]!)=\($0[2]!)" }
            let expectedRules: Set<String> = ["deliveries.invalid_weight", "deliveries.orphan_reference", "deliveries.invalid_quality_grade",
                                              "delivery_photos.unrecognized_photo_url", "delivery_photos.parent_rejected", "users.duplicate_email"]
            let found = Set(recorded.map { String($0.split(separator: "=")[0]) })
            #expect(found == expectedRules, "\(recorded)")
            for (v1t, v2t, key) in [("deliveries", "public.deliveries", "deliveries"), ("delivery_photos", "public.delivery_photos", "delivery_photos"), ("users", "public.profiles", "users")] {
                let missing = try await c.scalar("""
                    SELECT count(*) FROM v1raw.\(v1t) v WHERE NOT EXISTS (SELECT 1 FROM \(v2t) r WHERE r.id = extensions.uuid_generate_v5(\(Self.ns), '\(key):' || v.id))
                    """)
                let rejected = try await c.scalar("SELECT count(DISTINCT source_id) FROM cocoatrack_migration.row_issues WHERE kind = 'reject' AND source_table = '\(v1t)'")
                #expect(missing == rejected, "\(v1t): rows missing from V2 = rows recorded as rejected")
            }
            let warnings = Set(try await c.query("SELECT DISTINCT rule FROM cocoatrack_migration.row_issues WHERE kind = 'warning'").rows.map { $0[0]! })
            #expect(warnings.isSuperset(of: ["invalid_phone", "invalid_json", "invalid_ip_address", "dangling_reference", "reference_to_rejected_row"]), "\(warnings)")
            // Counts add up per load.
            for l in summary.loads { #expect(l.read == l.written + l.rejected, "\(l.name)") }
        }
    }

    @Test("two migrations of the same V1 give identical V2 tables")
    func deterministic() async throws {
        let a = try await TestSandbox.shared.freshPair("deta")
        let b = try await TestSandbox.shared.freshPair("detb")
        try await MigrationFixture.generate(a, scale: 0.003, seed: 21)
        try await MigrationFixture.generate(b, scale: 0.003, seed: 21)
        try await MigrationFixture.migrate(a, options: MigrationFixture.options { $0.jobs = 1 })
        try await MigrationFixture.migrate(b, options: MigrationFixture.options { $0.jobs = 3; $0.load.batchRows = 97 })
        let fa = try await a.v2Owner().using { try await MigrationFixture.v2Fingerprints($0) }
        let fb = try await b.v2Owner().using { try await MigrationFixture.v2Fingerprints($0) }
        #expect(fa == fb)
        #expect(fa["public.deliveries"]?.hasPrefix("0:") == false)
    }

    @Test("dry run counts what a real run writes and writes nothing")
    func dryRun() async throws {
        let pair = try await TestSandbox.shared.freshPair("dry")
        try await MigrationFixture.generate(pair, scale: 0.002, seed: 3)
        let before = try await pair.v2Owner().using { try await MigrationFixture.v2Fingerprints($0) }
        let dry = try await MigrationFixture.migrate(pair, options: MigrationFixture.options { $0.dryRun = true })
        let (after, noState) = try await pair.v2Owner().using { c in
            (try await MigrationFixture.v2Fingerprints(c), try await c.scalar("SELECT to_regnamespace('cocoatrack_migration') IS NULL"))
        }
        #expect(after == before)
        #expect(noState == "t", "no state schema")
        let real = try await MigrationFixture.migrate(pair)
        for (d, r) in zip(dry.loads.sorted { $0.name < $1.name }, real.loads.sorted { $0.name < $1.name }) {
            #expect(d.name == r.name)
            #expect(d.written == r.written && d.rejected == r.rejected && d.warnings == r.warnings, "\(d.name)")
        }
    }
}

@Suite("UUIDv5")
struct UUIDv5Tests {
    @Test func knownVectorAndPostgres() async throws {
        // RFC 9562 / Python's uuid.uuid5(NAMESPACE_DNS, "python.org").
        let dns = UUIDv5Namespace("6ba7b810-9dad-11d1-80b4-00c04fd430c8")!
        #expect(dns.uuid("python.org") == "886313e1-3b8a-5372-9b90-0c9aee199e5d")
        let pair = try await TestSandbox.shared.freshPair("uuid")
        try await pair.v2Owner().using { c in
            for name in ["deliveries:42", "users:1", "audit_log:2000000", "é🍫:\t", String(repeating: "x", count: 200)] {
                let theirs = try await c.scalar("SELECT extensions.uuid_generate_v5('4b6f0c3e-2a1d-4c8e-9f57-3d2e1a0b9c8d', $1)::text", [name])
                #expect(CocoaTrackRules.namespace.uuid(name) == theirs, "\(name)")
            }
        }
    }
}
