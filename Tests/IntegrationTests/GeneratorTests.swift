import CocoaTrack
import Foundation
import MigrationEngine
import Testing

/// Per-table content fingerprints, read back from V1 (ordered by id, whole rows as text).
func fingerprints(_ c: PGConnection) async throws -> [String: String] {
    var out: [String: String] = [:]
    for t in CocoaTrackSchema.v1Tables.sorted() {
        out[t] = try await c.scalar("SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY id)), '') FROM public.\(t) t")
    }
    return out
}

@Suite("V1 generator", .serialized)
struct GeneratorTests {
    static let scale = 0.004

    @Test("the same seed gives byte-identical data; another seed does not")
    func determinism() async throws {
        let a = try await TestSandbox.shared.freshPair("gena")
        let b = try await TestSandbox.shared.freshPair("genb")
        let c = try await TestSandbox.shared.freshPair("genc")
        let logger = TestSandbox.shared.logger
        let opts = GeneratorOptions(scale: Self.scale, seed: 2026, dirtyFraction: 0.01)
        let fa = try await a.v1Admin().using { conn in
            _ = try await V1Generator(options: opts).run(on: conn, logger: logger)
            return try await fingerprints(conn)
        }
        let fb = try await b.v1Admin().using { conn in
            _ = try await V1Generator(options: opts).run(on: conn, logger: logger)
            return try await fingerprints(conn)
        }
        var other = opts
        other.seed = 2027
        let fc = try await c.v1Admin().using { conn in
            _ = try await V1Generator(options: other).run(on: conn, logger: logger)
            return try await fingerprints(conn)
        }
        #expect(fa == fb)
        #expect(fa.count == 10)
        #expect(fa["deliveries"] != fc["deliveries"])
        #expect(fa["users"] != fc["users"])
    }

    @Test("every dirty case of DATA_MODEL.md is present, found by independent SQL")
    func dirtyCasesPresent() async throws {
        let pair = try await TestSandbox.shared.freshPair("dirty")
        let logger = TestSandbox.shared.logger
        let generator = V1Generator(options: GeneratorOptions(scale: Self.scale, seed: 9, dirtyFraction: 0.005))
        try await pair.v1Admin().using { c in
            let report = try await generator.run(on: c, logger: logger)
            // Row counts are what the scale plans.
            for (table, count) in generator.plannedCounts {
                let actual = try await c.scalar("SELECT count(*) FROM public.\(table)")
                #expect(actual == String(count), "\(table)")
            }
            #expect(report.totalRows == generator.plannedCounts.reduce(0) { $0 + $1.count })

            try await c.execute("""
                CREATE FUNCTION pg_temp.is_json(t text) RETURNS boolean LANGUAGE plpgsql AS
                $$ BEGIN PERFORM t::jsonb; RETURN true; EXCEPTION WHEN others THEN RETURN false; END $$;
                CREATE FUNCTION pg_temp.is_inet(t text) RETURNS boolean LANGUAGE plpgsql AS
                $$ BEGIN PERFORM t::inet; RETURN true; EXCEPTION WHEN others THEN RETURN false; END $$;
                """)
            let phoneOK = "regexp_replace(%s, '[ .()-]', '', 'g') ~ '^(\\+225[0-9]{10}|00225[0-9]{10}|0[0-9]{9})$'"
            func phone(_ col: String) -> String { phoneOK.replacingOccurrences(of: "%s", with: col) }
            let probes: [(String, String)] = [
                ("delivery weight NULL", "SELECT count(*) FROM deliveries WHERE weight_kg IS NULL"),
                ("delivery weight 0", "SELECT count(*) FROM deliveries WHERE weight_kg = 0"),
                ("delivery weight < 0", "SELECT count(*) FROM deliveries WHERE weight_kg < 0"),
                ("delivery orphan planteur", "SELECT count(*) FROM deliveries d WHERE NOT EXISTS (SELECT 1 FROM planteurs p WHERE p.id = d.planteur_id)"),
                ("unknown quality grade", "SELECT count(*) FROM deliveries WHERE quality_grade NOT IN ('A','B','C','REJ')"),
                ("delivery dangling agent", "SELECT count(*) FROM deliveries d WHERE agent_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = d.agent_id)"),
                ("planteur dangling chef", "SELECT count(*) FROM planteurs p WHERE chef_planteur_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM chef_planteurs c WHERE c.id = p.chef_planteur_id)"),
                ("photo dangling uploader", "SELECT count(*) FROM delivery_photos p WHERE uploaded_by IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = p.uploaded_by)"),
                ("audit dangling user", "SELECT count(*) FROM audit_log a WHERE user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = a.user_id)"),
                ("user dangling cooperative", "SELECT count(*) FROM users u WHERE cooperative_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM cooperatives c WHERE c.id = u.cooperative_id)"),
                ("duplicate email", "SELECT count(*) FROM users u WHERE EXISTS (SELECT 1 FROM users v WHERE v.id < u.id AND lower(btrim(v.email)) = lower(btrim(u.email)))"),
                ("reference to a duplicate-email user", "SELECT count(*) FROM deliveries d JOIN users u ON u.id = d.agent_id WHERE EXISTS (SELECT 1 FROM users v WHERE v.id < u.id AND lower(btrim(v.email)) = lower(btrim(u.email)))"),
                ("unrecognised photo URL", "SELECT count(*) FROM delivery_photos WHERE url !~ '^https://[a-z0-9]+\\.blob\\.core\\.windows\\.net/photos/.+'"),
                ("photo of a rejected delivery", "SELECT count(*) FROM delivery_photos p JOIN deliveries d ON d.id = p.delivery_id WHERE d.weight_kg IS NULL OR d.weight_kg <= 0 OR d.quality_grade NOT IN ('A','B','C','REJ') OR NOT EXISTS (SELECT 1 FROM planteurs pl WHERE pl.id = d.planteur_id)"),
                ("invalid JSON in audit_log", "SELECT count(*) FROM audit_log WHERE (old_data IS NOT NULL AND NOT pg_temp.is_json(old_data)) OR (new_data IS NOT NULL AND NOT pg_temp.is_json(new_data))"),
                ("invalid IP in audit_log", "SELECT count(*) FROM audit_log WHERE ip_address IS NOT NULL AND NOT pg_temp.is_inet(ip_address)"),
                ("invalid phone (users)", "SELECT count(*) FROM users WHERE phone IS NOT NULL AND NOT \(phone("phone"))"),
                ("invalid phone (any table)", "SELECT (SELECT count(*) FROM cooperatives WHERE phone IS NOT NULL AND NOT \(phone("phone"))) + (SELECT count(*) FROM chef_planteurs WHERE phone IS NOT NULL AND NOT \(phone("phone"))) + (SELECT count(*) FROM planteurs WHERE phone IS NOT NULL AND NOT \(phone("phone")))"),
                ("NULL updated_at", "SELECT count(*) FROM deliveries WHERE updated_at IS NULL"),
                ("notes with tab, newline, backslash, quote, emoji", "SELECT count(DISTINCT n) FROM (SELECT CASE WHEN notes LIKE E'%\\t%' THEN 'tab' WHEN notes LIKE E'%\\n%' THEN 'nl' WHEN notes LIKE E'%\\\\\\\\%' THEN 'bs' WHEN notes LIKE '%\"%' THEN 'q' WHEN notes ~ '[😀-🫶]' THEN 'emoji' END AS n FROM deliveries) s WHERE n IS NOT NULL"),
                ("accented names", "SELECT count(*) FROM planteurs WHERE last_name ~ '[éèêëôöîïàâç]' OR first_name ~ '[éèêëôöîïàâç]'"),
                ("messy certifications", "SELECT count(DISTINCT certifications) FROM planteurs WHERE certifications LIKE '%,%'"),
            ]
            for (name, sql) in probes {
                let n = Int(try await c.scalar(sql) ?? "0") ?? 0
                #expect(n > 0, "dirty case missing: \(name)")
            }
            #expect(Int(try await c.scalar("SELECT count(*) FROM users WHERE lower(btrim(email)) IN (SELECT lower(btrim(email)) FROM users GROUP BY 1 HAVING count(*) > 1)") ?? "0")! >= 2)
            // Deliveries span three seasonal years.
            let span = try await c.query("SELECT min(delivery_date), max(delivery_date) FROM deliveries").rows[0]
            #expect(span[0]! <= "2022-10-31" && span[1]! >= "2025-09-01")
            // Sequences continue after the generated ids.
            let next = try await c.scalar("SELECT nextval('deliveries_id_seq') > (SELECT max(id) FROM deliveries)")
            #expect(next == "t")
            for kase in DirtyCase.allCases {
                #expect((report.dirty[kase] ?? 0) > 0, "generator reports no \(kase.rawValue)")
            }
        }
        // The documented test accounts have real bcrypt hashes of their documented passwords,
        // checked with pgcrypto's crypt() on V2. pgcrypto knows only the `$2a$` spelling; `$2b$`
        // is the same algorithm for passwords under 72 bytes, so it is checked as `$2a$`.
        let hashes = try await pair.v1Admin().using { c in
            try await c.query("SELECT id, password_hash FROM users WHERE id <= 5 ORDER BY id").rows
        }
        try await pair.v2Owner().using { v2 in
            for (account, row) in zip(V1Generator.testAccounts, hashes) {
                let hash = row[1]!
                #expect(hash.hasPrefix("$2a$10$") || hash.hasPrefix("$2b$10$"))
                let asA = "$2a$" + hash.dropFirst(4)
                let ok = try await v2.scalar("SELECT extensions.crypt($1, $2) = $2", [account.password, asA])
                #expect(ok == "t", "password of \(account.email)")
                let wrong = try await v2.scalar("SELECT extensions.crypt($1, $2) = $2", ["not-the-password", asA])
                #expect(wrong == "f")
            }
        }
    }

    @Test("refuses a V1 that already holds rows, and writes nothing")
    func refusesNonEmpty() async throws {
        let pair = try await TestSandbox.shared.freshPair("nonempty")
        try await pair.v1Admin().using { c in
            try await c.execute("INSERT INTO regions (name, code, created_at) VALUES ('X', 'X', now())")
            do {
                _ = try await V1Generator(options: GeneratorOptions(scale: 0.001)).run(on: c, logger: TestSandbox.shared.logger)
                Issue.record("expected a refusal")
            } catch let e as MigrationError {
                #expect(e.code == .refused)
                #expect(e.exitCode == 4)
            }
            #expect(try await c.scalar("SELECT count(*) FROM regions") == "1")
            #expect(try await c.scalar("SELECT count(*) FROM deliveries") == "0")
        }
    }

    @Test("an interrupted generation leaves V1 empty")
    func cancellationLeavesNothing() async throws {
        let pair = try await TestSandbox.shared.freshPair("cancel")
        let conn = try await pair.v1Admin()
        let task = Task {
            try await V1Generator(options: GeneratorOptions(scale: 0.05)).run(on: conn, logger: TestSandbox.shared.logger)
        }
        // Cancel once the load is under way (deliveries being copied).
        let watcher = try await pair.v1Super()
        for _ in 0..<200 {
            let busy = try await watcher.scalar("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%deliveries%' AND state = 'active'")
            if busy != "0" { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        task.cancel()
        let result = await task.result
        #expect(throws: MigrationError.self) { try result.get() }
        if case .failure(let e as MigrationError) = result { #expect(e.code == .interrupted) }
        await conn.close()
        for t in CocoaTrackSchema.v1Tables {
            #expect(try await watcher.scalar("SELECT count(*) FROM public.\(t)") == "0", "\(t)")
        }
        await watcher.close()
    }
}
