import MigrationEngine

/// What a rehearsal does to and reads from CocoaTrack's databases beside the tool's own
/// commands: the synthetic V2 workload of the Scenario 2 drill and the drills' checks.
public enum CocoaTrackDrill {
    /// No migrated business row is left in V2 (deliveries and planteurs).
    public static func v2Empty(_ v2: PGConnection) async throws -> Bool {
        try await v2.scalar("SELECT (SELECT count(*) FROM public.deliveries) + (SELECT count(*) FROM public.planteurs)") == "0"
    }

    /// V2's deliveries, as a count.
    public static func v2Deliveries(_ v2: PGConnection) async throws -> String? {
        try await v2.scalar("SELECT count(*) FROM public.deliveries")
    }

    /// `appRole` may write V1 again (read-only mode is off).
    public static func v1Writable(_ v1: PGConnection, appRole: String = CocoaTrackSchema.defaultAppRole) async throws -> Bool {
        try await v1.scalar("SELECT has_table_privilege($1, 'public.deliveries', 'INSERT')", [appRole]) == "t"
    }

    /// The application's writes after the switch, as a drill: a new planteur with a delivery, one
    /// delivery's grade changed, one delivery deleted.
    public static func applyWorkload(_ v2: PGConnection) async throws {
        try await v2.execute("""
            INSERT INTO public.planteurs (id, cooperative_id, first_name, last_name, certifications, created_at, updated_at)
              SELECT '00000000-0000-4000-8000-0000000000a1', id, 'Rehearsal', 'Planteur', '{fairtrade}', now(), now() FROM public.cooperatives ORDER BY id LIMIT 1;
            INSERT INTO public.deliveries (id, planteur_id, warehouse_id, delivered_on, weight_kg, price_per_kg, total_amount, created_at, updated_at)
              SELECT '00000000-0000-4000-8000-0000000000d1', '00000000-0000-4000-8000-0000000000a1', id, current_date, 120.5, 1500, 180750, now(), now()
              FROM public.warehouses ORDER BY id LIMIT 1;
            UPDATE public.deliveries SET quality_grade = 'grade_b' WHERE id = (SELECT id FROM public.deliveries WHERE quality_grade = 'grade_a' ORDER BY id LIMIT 1);
            DELETE FROM public.deliveries WHERE id = (SELECT id FROM public.deliveries ORDER BY id DESC LIMIT 1 OFFSET 5);
            """)
    }

    /// The planteur the workload created in V2 reached V1.
    public static func v1HoldsWorkload(_ v1: PGConnection) async throws -> Bool {
        try await v1.scalar("SELECT count(*) FROM public.planteurs WHERE first_name = 'Rehearsal'") == "1"
    }

    /// V1's size for the production prediction: rows in its public tables (exact counts) and the database's bytes.
    public static func v1Size(_ v1: PGConnection) async throws -> (rows: Int64, bytes: Int64) {
        let rows = Int64(try await v1.scalar("SELECT sum((xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', schemaname, tablename), false, true, '')))[1]::text::bigint) FROM pg_tables WHERE schemaname = 'public'") ?? "0") ?? 0
        let bytes = Int64(try await v1.scalar("SELECT pg_database_size(current_database())") ?? "0") ?? 0
        return (rows, bytes)
    }
}
