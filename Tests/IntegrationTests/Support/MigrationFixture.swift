import CocoaTrack
import Foundation
import Logging
import MigrationEngine
import Testing

/// Helpers shared by the migration tests.
enum MigrationFixture {
    static func options(_ configure: (inout MigrateOptions) -> Void = { _ in }) -> MigrateOptions {
        var o = MigrateOptions()
        o.allowWritableSource = true
        o.toolVersion = "test"
        configure(&o)
        return o
    }

    /// A Supabase app's usual trigger: a profile (with `role`) for each new auth user.
    static func profileTriggerSQL(role: String) -> String {
        """
        CREATE FUNCTION public.handle_new_user() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
        BEGIN
            INSERT INTO public.profiles (id, email, full_name, role, is_active, created_at, updated_at)
            VALUES (NEW.id, NEW.email, coalesce(NEW.raw_user_meta_data ->> 'full_name', ''), '\(role)', true, now(), now());
            RETURN NEW;
        END $$;
        CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();
        """
    }

    static func generate(_ pair: DatabasePair, scale: Double = 0.004, seed: UInt64 = 11, dirty: Double = 0.01) async throws {
        try await pair.v1Admin().using { c in
            _ = try await V1Generator(options: GeneratorOptions(scale: scale, seed: seed, dirtyFraction: dirty)).run(on: c, logger: TestSandbox.shared.logger)
        }
    }

    static func migrator(_ pair: DatabasePair, v2URL: String? = nil, options: MigrateOptions = options()) async throws -> Migrator {
        let ctx = try await pair.v1Admin().using { try await CocoaTrackMapping.context(v1: $0) }
        return Migrator(plan: CocoaTrackMapping.plan(context: ctx),
                        source: try ConnectionConfig(label: "V1", url: pair.v1URL),
                        target: try ConnectionConfig(label: "V2", url: v2URL ?? pair.v2URL),
                        options: options, logger: TestSandbox.shared.logger)
    }

    @discardableResult
    static func migrate(_ pair: DatabasePair, options: MigrateOptions = options()) async throws -> MigrationSummary {
        try await migrator(pair, options: options).run()
    }

    static let v2Tables = ["regions", "cooperatives", "profiles", "warehouses", "invoices", "chef_planteurs", "planteurs",
                           "deliveries", "delivery_photos", "audit_log"]

    /// Content fingerprint of every V2 table the migration writes (ordered by id).
    static func v2Fingerprints(_ c: PGConnection) async throws -> [String: String] {
        var out: [String: String] = [:]
        for t in v2Tables.map({ "public.\($0)" }) + ["auth.users", "auth.identities"] {
            out[t] = try await c.scalar("SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY id)), '') FROM \(t) t")
        }
        return out
    }

    /// V2's DDL as the catalog states it: indexes, constraints, triggers, RLS, per public table.
    static func catalogDDL(_ c: PGConnection) async throws -> [String] {
        try await c.query("""
            SELECT 'index ' || schemaname || '.' || indexname || ': ' || indexdef FROM pg_indexes WHERE schemaname IN ('public', 'auth')
            UNION ALL
            SELECT 'constraint ' || conrelid::regclass || '.' || conname || ': ' || pg_get_constraintdef(oid) FROM pg_constraint
              WHERE connamespace IN ('public'::regnamespace, 'auth'::regnamespace)
            UNION ALL
            SELECT 'trigger ' || tgrelid::regclass || '.' || tgname || ' ' || tgenabled::text FROM pg_trigger
              WHERE NOT tgisinternal AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace IN ('public'::regnamespace, 'auth'::regnamespace))
            UNION ALL
            SELECT 'validated ' || conrelid::regclass || '.' || conname || ' ' || convalidated::text FROM pg_constraint
              WHERE connamespace IN ('public'::regnamespace, 'auth'::regnamespace)
            UNION ALL
            SELECT 'foreign key triggers on ' || tgrelid::regclass || ': ' || count(*) FROM pg_trigger
              WHERE tgisinternal AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace IN ('public'::regnamespace, 'auth'::regnamespace))
              GROUP BY tgrelid
            UNION ALL
            SELECT 'rls ' || oid::regclass || ' ' || relrowsecurity FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'
            ORDER BY 1
            """).rows.map { $0[0]! }
    }

    /// Copies V1's tables, untouched, into schema `v1raw` of the V2 test database, so that the
    /// tests can state each mapping rule as independent SQL joining V1 rows to V2 rows.
    static func copyV1Raw(_ pair: DatabasePair) async throws {
        let v2 = try await pair.v2Owner()
        try await v2.execute("CREATE SCHEMA v1raw; SET search_path = v1raw;\n" + CocoaTrackSchema.v1 + "\nRESET search_path;")
        let v1 = try await pair.v1Admin()
        for t in V1Generator(options: GeneratorOptions()).plannedCounts.map(\.table) {  // parents first
            let rows = try await v1.withSession { s -> [[UInt8]] in
                var out: [[UInt8]] = []
                try s.copyOut("COPY public.\(t) TO STDOUT") { out.append(Array($0)) }
                return out
            }
            try await v2.withSession { s in
                var w = try s.copyIn("COPY v1raw.\(t) FROM STDIN")
                for r in rows { try r.withUnsafeBytes { try w.writeRow(bytes: $0) } }
                _ = try w.finish()
            }
        }
        await v1.close()
        await v2.close()
    }
}
