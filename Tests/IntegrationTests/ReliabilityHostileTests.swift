import CocoaTrack
import Foundation
import MigrationEngine
import Sandbox
import Testing

/// Issue #9, hostile half: dirty and extreme V1 data, wrong configurations, and the security
/// promises (no password in any output, TLS verification, quoted identifiers, a read-only app
/// role that cannot talk its way back to writing). Every command runs through the real
/// executable; every count recorded with `Reliability.record` is measured.
@Suite("Reliability: hostile data, hostile configuration, security")
struct ReliabilityHostileTests {
    // MARK: helpers

    /// Every output of every command a test ran (stdout, stderr, exported files), for the
    /// password scan at the end.
    final class Transcript: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [(place: String, text: String)] = []

        func add(_ place: String, _ text: String) { lock.withLock { items.append((place, text)) } }

        func addFiles(under dir: String) {
            for f in Reliability.filesText(under: dir) { add(f.path, f.text) }
        }

        /// Fails the test for every output holding a secret; returns (outputs scanned, clean ones).
        func scan(_ secrets: [String], sourceLocation: SourceLocation = #_sourceLocation) -> (scanned: Int, clean: Int) {
            let all = lock.withLock { items }
            var clean = 0
            for (place, text) in all {
                Reliability.expectNoSecrets(text, secrets, where: place, sourceLocation: sourceLocation)
                if !secrets.contains(where: { !$0.isEmpty && text.contains($0) }) { clean += 1 }
            }
            return (all.count, clean)
        }
    }

    static let namespace = "'4b6f0c3e-2a1d-4c8e-9f57-3d2e1a0b9c8d'::uuid"

    /// Runs the real executable without the caller's database URLs, passwords or password file
    /// (`unset`), with `env` added, and records both outputs in `transcript`.
    static func run(_ args: [String], env: [String: String] = [:], unset: [String] = [], _ transcript: Transcript) async throws -> Subprocess.Output {
        var environment = ProcessInfo.processInfo.environment
        for k in ["V1_DATABASE_URL", "V2_DATABASE_URL", "PGPASSWORD", "PGSSLMODE", "PGSSLROOTCERT"] + unset { environment.removeValue(forKey: k) }
        environment["PGPASSFILE"] = "/nonexistent/pgpass"
        for (k, v) in env { environment[k] = v }
        let out = try await Subprocess.run(CLI.binary, args, environment: environment, check: false)
        let what = args.prefix(2).joined(separator: " ")
        transcript.add("stdout of \(what)", out.stdout)
        transcript.add("stderr of \(what)", out.stderr)
        return out
    }

    /// V2's migrated tables and the migration's state schema: what "nothing was written" compares.
    static func v2State(_ pair: DatabasePair) async throws -> [String: String] {
        try await pair.v2Owner().using { c in
            var f = try await MigrationFixture.v2Fingerprints(c)
            f["state schema"] = try await c.scalar("SELECT to_regnamespace('cocoatrack_migration') IS NOT NULL")
            return f
        }
    }

    static func requireBinary() throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
    }

    // MARK: 1. hostile data

    @Test("every dirty case at 5 %: each V1 row is written or recorded as rejected; rejects CSV; verify-integrity passes")
    func dirtyAtFivePercent() async throws {
        try Self.requireBinary()
        let pair = try await TestSandbox.shared.freshPair("hostiledirty")
        try await MigrationFixture.generate(pair, scale: Reliability.scale, seed: 905, dirty: 0.05)
        let t = Transcript()
        let dir = VerifyTests.tempDir("hostile-dirty")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let csv = dir + "/rejects.csv"

        let migrate = try await Self.run(["migrate", "--allow-writable-v1", "--rejects-csv", csv], env: VerifyTests.env(pair), t)
        #expect(migrate.status == 0, "\(migrate.stderr.suffix(800))")

        let v1 = try await pair.v1Admin()
        let v2 = try await pair.v2Owner()
        let loads = try await v2.query("""
            SELECT load_name, source_table, target_table, source_rows, rows_written, rows_rejected, status
            FROM cocoatrack_migration.load_progress ORDER BY load_name
            """).rows
        #expect(loads.count == 12, "one load per V2 table, three from users (profiles, auth.users, auth.identities)")
        var sourceTotal: Int64 = 0, accounted: Int64 = 0, lost: Int64 = 0, loadsExact = 0
        for l in loads {
            let name = l[0]!, source = l[1]!, target = l[2]!
            let v1Table = source.split(separator: ".").last.map(String.init) ?? source
            // V1's ids, V2's ids and the recorded rejects, compared row by row: every V1 id is
            // either in V2 under its uuid5 or rejected, never both, never neither.
            let v1IDs = try await v1.query("SELECT id FROM \(source)").rows.map { $0[0]! }
            // A user's identity is keyed by its user (one email identity a user).
            let key = name == "auth_identities" ? "user_id" : "id"
            let v2IDs = Set(try await v2.query("SELECT \(key)::text FROM \(target)").rows.map { $0[0]! })
            let rejected = Set(try await v2.query("SELECT DISTINCT source_id::text FROM cocoatrack_migration.row_issues WHERE kind = 'reject' AND load_name = $1",
                                                  [name]).rows.map { $0[0]! })
            var written = 0, both = 0, neither = 0
            for id in v1IDs {
                let inV2 = v2IDs.contains(CocoaTrackRules.uuid(v1Table, id))
                let isRejected = rejected.contains(id)
                if inV2 { written += 1 }
                if inV2 && isRejected { both += 1 }
                if !inV2 && !isRejected { neither += 1 }
            }
            let extra = v2IDs.count - written
            let exact = l[3] == String(v1IDs.count) && l[4] == String(written) && l[5] == String(rejected.count)
                && written + rejected.count == v1IDs.count && both == 0 && neither == 0 && extra == 0 && l[6] == "done"
            #expect(exact, "\(name): V1 \(v1IDs.count), in V2 \(written), rejected \(rejected.count), both \(both), neither \(neither), unexpected in V2 \(extra); checkpoint \(l)")
            if exact { loadsExact += 1 }
            sourceTotal += Int64(v1IDs.count)
            accounted += Int64(v1IDs.count - neither)
            lost += Int64(neither + both + extra)
        }
        // Every dirty case of DATA_MODEL.md got its documented outcome.
        let rules = Set(try await v2.query("SELECT DISTINCT kind || ' ' || source_table || '.' || rule FROM cocoatrack_migration.row_issues").rows.map { $0[0]! })
        let expectedRules: Set<String> = [
            "reject deliveries.invalid_weight", "reject deliveries.orphan_reference", "reject deliveries.invalid_quality_grade",
            "reject delivery_photos.unrecognized_photo_url", "reject delivery_photos.parent_rejected", "reject users.duplicate_email",
            "warning audit_log.invalid_json", "warning audit_log.invalid_ip_address", "warning planteurs.dangling_reference",
            "warning deliveries.dangling_reference", "warning delivery_photos.dangling_reference", "warning audit_log.dangling_reference",
            "warning users.dangling_reference", "warning deliveries.reference_to_rejected_row",
        ]
        #expect(rules.isSuperset(of: expectedRules), "missing: \(expectedRules.subtracting(rules).sorted())")
        #expect(rules.contains { $0.hasSuffix(".invalid_phone") && $0.hasPrefix("warning") })
        #expect(!rules.contains { $0.hasPrefix("reject") && !$0.hasSuffix("parent_rejected") && !expectedRules.contains($0) },
                "no reject outside the documented rules: \(rules.sorted())")

        // The rejects CSV holds every recorded reject and warning.
        let issues = Int(try await v2.scalar("SELECT count(*) FROM cocoatrack_migration.row_issues") ?? "0") ?? 0
        let csvText = (try? String(contentsOfFile: csv, encoding: .utf8)) ?? ""
        let csvRows = csvText.split(separator: "\n", omittingEmptySubsequences: true).count - 1
        #expect(issues > 0 && csvRows == issues, "CSV rows \(csvRows), recorded issues \(issues)")
        await v1.close()
        await v2.close()

        // verify-integrity passes (the 5 % of rejects is over the plan's 1 % default by design).
        let verify = try await Self.run(["verify-integrity", "--export", dir + "/verify", "--max-reject-share", "0.5"], env: VerifyTests.env(pair), t)
        #expect(verify.status == 0, "\(verify.stdout.suffix(1500))")
        let report = try VerifyReport.decode(String(contentsOfFile: dir + "/verify/report.json", encoding: .utf8))
        #expect(report.outcome == "pass" && report.complete)
        for table in report.tables {
            #expect(table.unexplainedDifference == 0 && (table.rejectedRecordedByMigrate ?? 0) == table.rejectedTotal, "\(table.load)")
        }
        t.addFiles(under: dir)
        let (scanned, clean) = t.scan(Reliability.secrets(pair))
        Reliability.record("hostile data", "every DATA_MODEL.md dirty case at 5 % of V1 rows (\(loads.count) loads), migrate + verify-integrity",
                           injected: Int(sourceTotal), survived: Int(accounted), rowsLost: Int(lost),
                           check: "per load, each V1 id in V2 under its uuid5 xor recorded as rejected; checkpoints = counts; CSV = recorded issues; verify exit 0 (\(loadsExact)/\(loads.count) loads exact)")
        Reliability.record("security", "passwords in outputs of migrate/verify with dirty data (stdout, stderr, rejects CSV, reports)",
                           injected: scanned, survived: clean, check: "no cluster password in any output")
    }

    /// Texts that break naive COPY, CSV, JSON, shell, SQL or Unicode handling. Each fits
    /// varchar(50), the narrowest free-text column it is put in.
    static let hostileStrings: [String] = [
        "tab\there", "line\nfeed", "carriage\rreturn", "crlf\r\nend", "back\\slash\\", "\\N", "\\.", "\\\\N\\",
        "it's 'quoted'", "say \"hi\"", "\"", "'", "🍫🇨🇮👩🏾‍🌾 cacao", "e\u{301}", "\u{301}leading combining", "x,\u{301}y, Z ,z",
        "NULL", "", " ", "  padded  ", "\u{1}\u{7}\u{1B}[31m\u{7F}", "\u{FEFF}bom", "zero\u{200B}width", "rtl \u{202E}txet",
        "\u{2028}\u{2029}\u{85}", "𝕳𝖔𝖘𝖙𝖎𝖑𝖊", "{\"json\": true}", "{\"a\":1,\"a\":2}", "[1e1000000]", "1e-16384",
        "<script>alert(1)</script>", "'); DROP TABLE regions; --", "$$dollar$$", "%s%n%x", "\\x00\\u0000", "Ω≈ç√∫˜µ≤≥÷",
        "a,b,,A, b ,\\,", "::1", "192.168.0.1/24",
    ]

    static let timestamps: [String] = [
        "4713-01-01 00:00:00 BC", "0001-12-31 23:59:59.999999 BC", "0001-01-01 00:00:00", "1582-10-10 12:00:00",
        "1969-12-31 23:59:59.999999", "1970-01-01 00:00:00", "2000-01-01 00:00:00.000001", "2024-02-29 23:59:59.999999",
        "2024-03-31 01:00:00", "2024-10-27 01:30:00", "2024-03-10 02:30:00", "2024-11-03 01:30:00", "294276-12-31 23:59:59.999999",
        "infinity", "-infinity",
    ]

    static let dates: [String] = ["4713-01-01 BC", "0001-01-01", "2024-02-29", "5874897-12-31", "infinity", "-infinity"]

    /// One value of exactly `n` characters (code points), mixing multi-byte and escape-prone ones.
    static func filled(_ n: Int, seed: Int = 0) -> String {
        let pattern: [Unicode.Scalar] = ["é", "🍫", "\\", "\t", "\"", "'", "x", "\n", "ñ", "Ω", ",", "\u{301}", "N"]
        var s = String.UnicodeScalarView()
        for k in 0..<n { s.append(pattern[(k + seed) % pattern.count]) }
        return String(s)
    }

    @Test("hostile texts, maximum lengths, extreme numbers and timestamps arrive exactly as DATA_MODEL.md says; verify passes; sync carries hostile texts back")
    func hostileValues() async throws {
        try Self.requireBinary()
        let pair = try await TestSandbox.shared.freshPair("hostilevalues")
        try await MigrationFixture.generate(pair, scale: 0.001, seed: 906, dirty: 0)
        let t = Transcript()
        let h = 900_000
        // Users keep small ids: the auth.users ownership (`ownedKeys`) enumerates every id up to
        // the largest one (see the report of this suite), which a debug build does slowly.
        let u = 5_000
        let v1 = try await pair.v1Admin()
        func insert(_ table: String, _ values: [String: String?]) async throws {
            let cols = values.keys.sorted()
            try await v1.query("INSERT INTO public.\(table) (\(cols.joined(separator: ", "))) VALUES (\((1...cols.count).map { "$\($0)" }.joined(separator: ", ")))",
                               cols.map { values[$0]! })
        }
        let created = "2024-01-01 00:00:00"
        // Hostile texts, one row per string in every table with free text.
        let hs = Self.hostileStrings
        for (k, s) in hs.enumerated() {
            let id = String(h + k)
            try await insert("regions", ["id": id, "name": s, "code": "H\(k)", "created_at": created])
            try await insert("cooperatives", ["id": id, "region_id": id, "name": s, "code": "HC\(k)", "address": s, "is_active": "true", "created_at": created])
            try await insert("warehouses", ["id": id, "cooperative_id": id, "name": s, "location": s, "created_at": created])
            let user = String(u + k)
            try await insert("users", ["id": user, "email": "hostile.\(k)@cocoatrack.ci", "password_hash": "$2a$04$abcdefghijklmnopqrstuuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01",
                                       "full_name": s, "role": "viewer", "cooperative_id": id, "is_active": "true", "created_at": created])
            try await insert("chef_planteurs", ["id": id, "cooperative_id": id, "first_name": s, "last_name": s, "village": s, "created_at": created])
            try await insert("planteurs", ["id": id, "chef_planteur_id": id, "cooperative_id": id, "first_name": s, "last_name": s, "village": s,
                                           "certifications": s, "created_at": created])
            try await insert("deliveries", ["id": id, "planteur_id": id, "warehouse_id": id, "agent_id": user, "delivery_date": "2024-05-01", "weight_kg": "12.50",
                                            "price_per_kg_fcfa": "1500", "total_amount_fcfa": "18750", "notes": s, "created_at": created])
            try await insert("delivery_photos", ["id": id, "delivery_id": id, "url": "https://cocoatrackv1.blob.core.windows.net/photos/p/" + s, "caption": s,
                                                 "uploaded_by": user, "created_at": created])
            try await insert("audit_log", ["id": id, "user_id": user, "action": s, "table_name": s, "record_id": "1", "old_data": s, "new_data": s,
                                           "ip_address": s, "created_at": created])
        }
        // Maximum lengths: one row per table with every bounded column (read from V1's catalog)
        // at its limit. Columns with a meaning get a valid value of that length.
        let bounded = try await v1.query("""
            SELECT table_name, column_name, character_maximum_length FROM information_schema.columns
            WHERE table_schema = 'public' AND character_maximum_length IS NOT NULL ORDER BY 1, 2
            """).rows.map { (table: $0[0]!, column: $0[1]!, length: Int($0[2]!)!) }
        #expect(bounded.count >= 30, "V1's bounded columns: \(bounded.count)")
        let m = h + 500
        let blob = "https://cocoatrackv1.blob.core.windows.net/photos/"
        /// A value of `n` characters for the column, and what V2 must hold; a column whose values
        /// are an enumeration gets its longest valid value instead (`n` would be a reject).
        func maxValue(_ table: String, _ column: String, _ n: Int) -> (value: String, expected: String?) {
            switch (table, column) {
            case (_, "phone"): return ("+225" + String(repeating: " ", count: n - 14) + "0708091011", "+2250708091011")
            case (_, "code"), ("invoices", "invoice_number"): let v = "M" + String(repeating: "X", count: n - 1); return (v, v)
            case ("users", "email"): let v = "A" + String(repeating: "b", count: n - 15) + "@COCOATRACK.CI"; return (v, v.lowercased())
            case ("users", "password_hash"): let v = "$2a$10$" + String(repeating: "z", count: n - 7); return (v, v)
            case ("users", "role"): return ("manager", "manager")
            case ("invoices", "status"): return ("cancelled", "cancelled")
            case ("planteurs", "gender"): return ("F", "F")
            case ("planteurs", "certifications"): let v = Self.filled(n, seed: 3); return (v, nil)  // checked by the split rule
            case ("deliveries", "quality_grade"): return ("REJ", "rejected")
            case ("delivery_photos", "url"): let path = Self.filled(n - blob.count, seed: 1); return (blob + path, "delivery-photos/" + path)
            case ("audit_log", "ip_address"): return ("0000:0000:0000:0000:0000:ffff:255.255.255.255", nil)  // checked as inet
            default: let v = Self.filled(n); return (v, v)
            }
        }
        var maxRows: [String: [String: String?]] = [
            "regions": ["id": String(m), "created_at": created],
            "cooperatives": ["id": String(m), "region_id": String(m), "is_active": "false", "created_at": created],
            "users": ["id": String(u + 500), "cooperative_id": String(m), "is_active": "false", "created_at": created],
            "warehouses": ["id": String(m), "cooperative_id": String(m), "created_at": created],
            "invoices": ["id": String(m), "cooperative_id": String(m), "period_start": "2024-01-01", "period_end": "2024-01-31", "total_amount_fcfa": "1", "created_at": created],
            "chef_planteurs": ["id": String(m), "cooperative_id": String(m), "created_at": created],
            "planteurs": ["id": String(m), "chef_planteur_id": String(m), "cooperative_id": String(m), "created_at": created],
            "deliveries": ["id": String(m), "planteur_id": String(m), "warehouse_id": String(m), "invoice_id": String(m), "agent_id": String(u + 500),
                           "delivery_date": "2024-05-01", "weight_kg": "1", "price_per_kg_fcfa": "1", "total_amount_fcfa": "1", "created_at": created],
            "delivery_photos": ["id": String(m), "delivery_id": String(m), "uploaded_by": String(u + 500), "created_at": created],
            "audit_log": ["id": String(m), "user_id": String(u + 500), "record_id": String(m), "created_at": created],
        ]
        var maxExpected: [(table: String, column: String, expected: String?, v1: String)] = []
        for b in bounded {
            let (value, expected) = maxValue(b.table, b.column, b.length)
            let enumerated: Set<String> = ["users.role", "invoices.status", "deliveries.quality_grade"]
            #expect(value.unicodeScalars.count == b.length || enumerated.contains("\(b.table).\(b.column)"), "\(b.table).\(b.column) filled to \(b.length)")
            #expect(maxRows[b.table] != nil, "a max-length row for \(b.table)")
            maxRows[b.table]?[b.column] = value
            maxExpected.append((b.table, b.column, expected, value))
        }
        for table in ["regions", "cooperatives", "users", "warehouses", "invoices", "chef_planteurs", "planteurs", "deliveries", "delivery_photos", "audit_log"] {
            try await insert(table, maxRows[table]!)
        }
        // An email that lowercasing lengthens past auth.users.email's 255 characters.
        try await insert("users", ["id": String(u + 501), "email": String(repeating: "İ", count: 200) + "@cocoatrack.ci", "password_hash": "$2a$04$x",
                                   "full_name": "Long", "role": "viewer", "is_active": "true", "created_at": created])
        // Two emails that differ only by Unicode normalisation are different texts for PostgreSQL.
        try await insert("users", ["id": String(u + 502), "email": "jos\u{E9}@cocoatrack.ci", "password_hash": "$2a$04$x", "full_name": "NFC",
                                   "role": "viewer", "is_active": "true", "created_at": created])
        try await insert("users", ["id": String(u + 503), "email": "jose\u{301}@cocoatrack.ci", "password_hash": "$2a$04$x", "full_name": "NFD",
                                   "role": "viewer", "is_active": "true", "created_at": created])

        // Extreme numbers.
        let n = h + 600
        let floats = [("1.7976931348623157e308", "-1.7976931348623157e308"), ("5e-324", "-0"), ("NaN", "Infinity"), ("-Infinity", "2.2250738585072014e-308")]
        for (k, f) in floats.enumerated() {
            try await insert("warehouses", ["id": String(n + k), "cooperative_id": "1", "name": "float \(k)", "latitude": f.0, "longitude": f.1,
                                            "capacity_kg": ["2147483647", "-2147483648", "0", nil][k], "created_at": created])
        }
        let planteurNumbers: [(String?, String?)] = [("32767", "999999.99"), ("-32768", "-999999.99"), (nil, "NaN"), ("0", "-0"), ("1", "0.01")]
        for (k, p) in planteurNumbers.enumerated() {
            try await insert("planteurs", ["id": String(n + k), "cooperative_id": "1", "first_name": "n\(k)", "last_name": "n", "birth_year": p.0,
                                           "farm_size_ha": p.1, "created_at": created])
        }
        try await insert("planteurs", ["id": "2147483647", "cooperative_id": "1", "first_name": "max id", "last_name": "n", "created_at": created])
        // Ids at the ends of their types, and negative ones (a serial can be given any value).
        try await insert("planteurs", ["id": "-5", "cooperative_id": "1", "first_name": "negative id", "last_name": "n", "created_at": created])
        for (id, planteur) in [("2147483647", "2147483647"), ("-5", "-5"), ("-2147483648", "2147483647")] {
            try await insert("deliveries", ["id": id, "planteur_id": planteur, "warehouse_id": "1", "delivery_date": "2024-06-02", "weight_kg": "3",
                                            "price_per_kg_fcfa": "1", "total_amount_fcfa": "3", "created_at": created])
        }
        let invoiceAmounts = ["999999999999", "-999999999999", "9223372036854775807", "-9223372036854775808"]
        for (k, a) in invoiceAmounts.enumerated() {
            try await insert("invoices", ["id": String(n + k), "cooperative_id": "1", "invoice_number": "EXT-\(k)", "period_start": "2024-01-01",
                                          "period_end": "2024-01-31", "total_amount_fcfa": a, "status": "sent", "created_at": created])
        }
        // (weight, bags, humidity, price, total, invoice, expected reject rule)
        let deliveryNumbers: [(String?, String?, String?, String, String, String?, String?)] = [
            ("99999999.99", "32767", "999.9", "99999999", "999999999999", String(n), nil),
            ("0.01", "-32768", "-999.9", "0", "-999999999999", String(n + 1), nil),
            ("1", nil, "NaN", "1", "1", String(n + 2), nil),  // its invoice is rejected: kept, invoice_id NULL
            ("1", "0", "0", "2147483647", "1", nil, "amount_out_of_range"),
            ("1", "0", "0", "-2147483648", "1", nil, "amount_out_of_range"),
            ("1", "0", "0", "100000000", "1", nil, "amount_out_of_range"),
            ("1", "0", "0", "1", "9223372036854775807", nil, "amount_out_of_range"),
            ("1", "0", "0", "1", "-9223372036854775808", nil, "amount_out_of_range"),
            ("1", "0", "0", "1", "1000000000000", nil, "amount_out_of_range"),
            ("NaN", "0", "0", "1", "1", nil, "invalid_weight"),
            ("-0", "0", "0", "1", "1", nil, "invalid_weight"),
            ("-0.01", "0", "0", "1", "1", nil, "invalid_weight"),
        ]
        for (k, d) in deliveryNumbers.enumerated() {
            try await insert("deliveries", ["id": String(n + k), "planteur_id": String(n), "warehouse_id": "1", "invoice_id": d.5, "delivery_date": "2024-06-01",
                                            "weight_kg": d.0, "bags": d.1, "humidity_pct": d.2, "price_per_kg_fcfa": d.3, "total_amount_fcfa": d.4, "created_at": created])
        }
        let jsonNumbers = ["1e131071", "1e131072", "-0", "0.5e-16383", "1e-16383", "123456789012345678901234567890.123456789012345678901234567890"]
        for (k, j) in jsonNumbers.enumerated() {
            try await insert("audit_log", ["id": String(n + k), "action": "json \(k)", "old_data": j, "new_data": "[\(j)]", "created_at": created])
        }
        try await insert("audit_log", ["id": "9223372036854775807", "action": "max id", "table_name": "planteurs", "record_id": "2147483647", "created_at": created])
        // Extreme and awkward timestamps and dates.
        let ts = h + 700
        for (k, v) in Self.timestamps.enumerated() {
            let id = String(ts + k)
            try await insert("regions", ["id": id, "name": "ts \(k)", "code": "TS\(k)", "created_at": v])
            try await insert("users", ["id": String(u + 700 + k), "email": "ts.\(k)@cocoatrack.ci", "password_hash": "$2a$04$x", "full_name": "ts", "role": "agent",
                                       "is_active": "true", "last_login_at": v, "created_at": v])
            try await insert("planteurs", ["id": id, "cooperative_id": "1", "first_name": "ts", "last_name": "ts", "created_at": v, "deleted_at": v])
            try await insert("audit_log", ["id": id, "action": "ts", "created_at": v])
        }
        for (k, d) in Self.dates.enumerated() {
            let id = String(ts + k)
            try await insert("invoices", ["id": id, "cooperative_id": "1", "invoice_number": "D-\(k)", "period_start": d, "period_end": d,
                                          "total_amount_fcfa": "5", "status": "paid", "paid_at": Self.timestamps[k], "created_at": created])
            try await insert("deliveries", ["id": id, "planteur_id": "1", "warehouse_id": "1", "delivery_date": d, "weight_kg": "2",
                                            "price_per_kg_fcfa": "1", "total_amount_fcfa": "2", "created_at": created])
        }
        await v1.close()

        // Migrate through the real executable.
        let dir = VerifyTests.tempDir("hostile-values")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let migrate = try await Self.run(["migrate", "--allow-writable-v1", "--rejects-csv", dir + "/rejects.csv"], env: VerifyTests.env(pair), t)
        try #require(migrate.status == 0, "\(migrate.stderr.suffix(1200))")

        let v2 = try await pair.v2Owner()
        try await v2.execute("""
            -- The audit rules as PostgreSQL's own parsers state them (plpgsql: evaluated per call, never folded).
            CREATE FUNCTION pg_temp.audit_json(t text) RETURNS jsonb LANGUAGE plpgsql AS
            $$ BEGIN RETURN t::jsonb; EXCEPTION WHEN others THEN RETURN jsonb_build_object('_unparsed', t); END $$;
            CREATE FUNCTION pg_temp.inet_or_null(t text) RETURNS inet LANGUAGE plpgsql AS
            $$ BEGIN RETURN t::inet; EXCEPTION WHEN others THEN RETURN NULL; END $$;
            -- "trim" in the rules: Unicode white space (Z*, \\t-\\r, U+0085), as Swift and Foundation define it.
            CREATE FUNCTION pg_temp.ws() RETURNS text LANGUAGE sql AS
            $$ SELECT E' \\t\\n\\u000B\\f\\r\\u0085\\u00A0\\u1680\\u2000\\u2001\\u2002\\u2003\\u2004\\u2005\\u2006\\u2007\\u2008\\u2009\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000' $$;
            CREATE FUNCTION pg_temp.certs(t text) RETURNS text[] LANGUAGE sql AS $$
              SELECT coalesce((SELECT array_agg(c ORDER BY o) FROM (SELECT lower(btrim(x, pg_temp.ws())) AS c, min(ord) AS o
                FROM unnest(string_to_array(t, ',')) WITH ORDINALITY AS u(x, ord) WHERE btrim(x, pg_temp.ws()) <> '' GROUP BY 1) s), '{}') $$;
            CREATE FUNCTION pg_temp.key(t text, id text) RETURNS uuid LANGUAGE sql AS $$ SELECT extensions.uuid_generate_v5(\(Self.namespace), t || ':' || id) $$;
            """)
        var tried = 0, exact = 0
        var failures: [String] = []
        /// `sql` returns true when the value arrived as the rule says; $1 is the V1 id.
        func check(_ label: String, _ sql: String, _ params: [String?]) async throws {
            tried += 1
            if try await v2.scalar(sql, params) == "t" { exact += 1 } else { failures.append(label) }
        }
        // Hostile texts: byte for byte (PostgreSQL's text equality is bytewise), or the rule.
        for (k, s) in hs.enumerated() {
            let id = String(h + k)
            let textColumns: [(String, String, String, String)] = [
                ("regions", "public.regions", "name", "regions"), ("cooperatives", "public.cooperatives", "name", "cooperatives"),
                ("cooperatives", "public.cooperatives", "address", "cooperatives"), ("warehouses", "public.warehouses", "name", "warehouses"),
                ("warehouses", "public.warehouses", "location", "warehouses"), ("profiles", "public.profiles", "full_name", "users"),
                ("chef_planteurs", "public.chef_planteurs", "first_name", "chef_planteurs"), ("chef_planteurs", "public.chef_planteurs", "last_name", "chef_planteurs"),
                ("chef_planteurs", "public.chef_planteurs", "village", "chef_planteurs"), ("planteurs", "public.planteurs", "first_name", "planteurs"),
                ("planteurs", "public.planteurs", "last_name", "planteurs"), ("planteurs", "public.planteurs", "village", "planteurs"),
                ("deliveries", "public.deliveries", "notes", "deliveries"), ("delivery_photos", "public.delivery_photos", "caption", "delivery_photos"),
                ("audit_log", "public.audit_log", "action", "audit_log"), ("audit_log", "public.audit_log", "entity", "audit_log"),
            ]
            for (label, table, column, key) in textColumns {
                try await check("\(label).\(column) #\(k)", "SELECT \(column) = $2 FROM \(table) WHERE id = pg_temp.key('\(key)', $1)", [key == "users" ? String(u + k) : id, s])
            }
            try await check("auth.users full_name #\(k)", "SELECT raw_user_meta_data = jsonb_build_object('full_name', $2::text) FROM auth.users WHERE id = pg_temp.key('users', $1)", [String(u + k), s])
            try await check("planteurs.certifications #\(k)", "SELECT certifications = pg_temp.certs($2) FROM public.planteurs WHERE id = pg_temp.key('planteurs', $1)", [id, s])
            try await check("delivery_photos.storage_path #\(k)", "SELECT storage_path = 'delivery-photos/p/' || $2 FROM public.delivery_photos WHERE id = pg_temp.key('delivery_photos', $1)", [id, s])
            for column in ["old_data", "new_data"] {
                try await check("audit_log.\(column) #\(k)", """
                    SELECT \(column) = pg_temp.audit_json($2) FROM public.audit_log WHERE id = pg_temp.key('audit_log', $1)
                    """, [id, s])
            }
            try await check("audit_log.ip_address #\(k)", """
                SELECT ip_address IS NOT DISTINCT FROM pg_temp.inet_or_null($2) FROM public.audit_log WHERE id = pg_temp.key('audit_log', $1)
                """, [id, s])
        }
        let hostileTried = tried, hostileExact = exact
        // Maximum lengths, column by column from the catalog.
        let v2Column: [String: (String, String, String)] = [  // "v1table.column" → (V2 table, V2 column, key table)
            "users.email": ("public.profiles", "email", "users"), "users.password_hash": ("auth.users", "encrypted_password", "users"),
            "users.full_name": ("public.profiles", "full_name", "users"), "users.role": ("public.profiles", "role::text", "users"),
            "users.phone": ("public.profiles", "phone", "users"), "invoices.status": ("public.invoices", "status::text", "invoices"),
            "deliveries.quality_grade": ("public.deliveries", "quality_grade::text", "deliveries"),
            "delivery_photos.url": ("public.delivery_photos", "storage_path", "delivery_photos"), "audit_log.table_name": ("public.audit_log", "entity", "audit_log"),
        ]
        for e in maxExpected {
            let (table, column, key) = v2Column["\(e.table).\(e.column)"] ?? ("public.\(e.table)", e.column, e.table)
            switch (e.table, e.column) {
            case ("planteurs", "certifications"):
                try await check("max planteurs.certifications", "SELECT certifications = pg_temp.certs($2) FROM public.planteurs WHERE id = pg_temp.key('planteurs', $1)", [String(m), e.v1])
            case ("audit_log", "ip_address"):
                try await check("max audit_log.ip_address", "SELECT ip_address = $2::inet FROM public.audit_log WHERE id = pg_temp.key('audit_log', $1)", [String(m), e.v1])
            default:
                try await check("max \(e.table).\(e.column)", "SELECT \(column) = $2 FROM \(table) WHERE id = pg_temp.key('\(key)', $1)", [String(key == "users" ? u + 500 : m), e.expected])
            }
        }
        try await check("max auth.users.email", "SELECT email = $2 FROM auth.users WHERE id = pg_temp.key('users', $1)", [String(u + 500), maxExpected.first { $0.column == "email" }?.expected])
        // V2's own bounded columns the mapping writes, from its catalog: the V1 maxima fit them.
        let v2Bounded = try await v2.query("""
            SELECT table_schema || '.' || table_name || '.' || column_name, character_maximum_length FROM information_schema.columns
            WHERE table_schema IN ('public', 'auth') AND character_maximum_length IS NOT NULL
              AND (table_schema, table_name) IN (('auth', 'users'), ('public', 'invoices'))
            """).rows
        let bound = Dictionary(uniqueKeysWithValues: v2Bounded.map { ($0[0]!, Int($0[1]!)!) })
        #expect(bound["auth.users.email"] == 255 && bound["auth.users.encrypted_password"] == 255 && bound["public.invoices.currency"] == 3, "\(bound)")
        let maxTried = tried - hostileTried, maxExact = exact - hostileExact

        // Extreme numbers: floats bit for bit, integers and numerics by value and scale.
        for (k, f) in floats.enumerated() {
            try await check("float latitude \(f.0)", "SELECT float8send(latitude) = float8send($2::float8) FROM public.warehouses WHERE id = pg_temp.key('warehouses', $1)", [String(n + k), f.0])
            try await check("float longitude \(f.1)", "SELECT float8send(longitude) = float8send($2::float8) FROM public.warehouses WHERE id = pg_temp.key('warehouses', $1)", [String(n + k), f.1])
        }
        try await check("capacity_kg max", "SELECT capacity_kg = 2147483647 FROM public.warehouses WHERE id = pg_temp.key('warehouses', $1)", [String(n)])
        try await check("capacity_kg min", "SELECT capacity_kg = -2147483648 FROM public.warehouses WHERE id = pg_temp.key('warehouses', $1)", [String(n + 1)])
        for (k, p) in planteurNumbers.enumerated() {
            try await check("planteur birth_year/farm_size \(p)", """
                SELECT birth_year IS NOT DISTINCT FROM $2::smallint AND farm_size_ha IS NOT DISTINCT FROM $3::numeric(8,2)
                   AND farm_size_ha::text IS NOT DISTINCT FROM $3::numeric(8,2)::text
                FROM public.planteurs WHERE id = pg_temp.key('planteurs', $1)
                """, [String(n + k), p.0, p.1])
        }
        try await check("planteur id 2^31-1", "SELECT first_name = 'max id' FROM public.planteurs WHERE id = pg_temp.key('planteurs', '2147483647')", [])
        for (id, planteur) in [("2147483647", "2147483647"), ("-5", "-5"), ("-2147483648", "2147483647")] {
            try await check("delivery id \(id) of planteur \(planteur)", """
                SELECT planteur_id = pg_temp.key('planteurs', $2) AND weight_kg = 3 FROM public.deliveries WHERE id = pg_temp.key('deliveries', $1)
                """, [id, planteur])
        }
        try await check("audit id 2^63-1 and its entity", """
            SELECT entity_id = pg_temp.key('planteurs', '2147483647') FROM public.audit_log WHERE id = pg_temp.key('audit_log', '9223372036854775807')
            """, [])
        for (k, a) in invoiceAmounts.enumerated() {
            let fits = a.count <= 13
            try await check("invoice total \(a)", fits
                ? "SELECT total_amount = $2::numeric AND currency = 'XOF' FROM public.invoices WHERE id = pg_temp.key('invoices', $1)"
                : "SELECT $2::text IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public.invoices WHERE id = pg_temp.key('invoices', $1)) AND EXISTS (SELECT 1 FROM cocoatrack_migration.row_issues WHERE source_table = 'invoices' AND source_id = $1::bigint AND kind = 'reject' AND rule = 'amount_out_of_range' AND column_name = 'total_amount_fcfa')",
                [String(n + k), a])
        }
        for (k, d) in deliveryNumbers.enumerated() {
            let id = String(n + k)
            if let rule = d.6 {
                try await check("delivery \(d) rejected \(rule)", """
                    SELECT NOT EXISTS (SELECT 1 FROM public.deliveries WHERE id = pg_temp.key('deliveries', $1))
                       AND (SELECT array_agg(rule) FROM cocoatrack_migration.row_issues WHERE source_table = 'deliveries' AND source_id = $1::bigint AND kind = 'reject') = ARRAY[$2::text]
                    """, [id, rule])
            } else {
                try await check("delivery \(d) kept", """
                    SELECT weight_kg = $2::numeric AND bags IS NOT DISTINCT FROM $3::smallint AND humidity_pct IS NOT DISTINCT FROM $4::numeric
                       AND humidity_pct::text IS NOT DISTINCT FROM $4::numeric(4,1)::text AND price_per_kg = $5::numeric AND total_amount = $6::numeric
                       AND invoice_id IS NOT DISTINCT FROM (SELECT i.id FROM public.invoices i WHERE i.id = pg_temp.key('invoices', $7))
                    FROM public.deliveries WHERE id = pg_temp.key('deliveries', $1)
                    """, [id, d.0, d.1, d.2, d.3, d.4, d.5])
            }
        }
        try await check("delivery of a rejected invoice: invoice_id NULL with a warning", """
            SELECT EXISTS (SELECT 1 FROM cocoatrack_migration.row_issues WHERE source_table = 'deliveries' AND source_id = $1::bigint AND kind = 'warning'
                           AND rule = 'reference_to_rejected_row' AND column_name = 'invoice_id')
            """, [String(n + 2)])
        for (k, j) in jsonNumbers.enumerated() {
            try await check("audit JSON number \(j.prefix(20))", """
                SELECT old_data = pg_temp.audit_json($2) AND new_data = pg_temp.audit_json('[' || $2 || ']')
                FROM public.audit_log WHERE id = pg_temp.key('audit_log', $1)
                """, [String(n + k), j])
        }
        // Users: the İ email rejected (too long once lowercased), the NFC and NFD emails both kept.
        try await check("İ email rejected invalid_email", """
            SELECT NOT EXISTS (SELECT 1 FROM public.profiles WHERE id = pg_temp.key('users', $1))
               AND EXISTS (SELECT 1 FROM cocoatrack_migration.row_issues WHERE source_table = 'users' AND source_id = $1::bigint AND kind = 'reject' AND rule = 'invalid_email')
            """, [String(u + 501)])
        for (k, e) in [(u + 502, "jos\u{E9}@cocoatrack.ci"), (u + 503, "jose\u{301}@cocoatrack.ci")] {
            try await check("email \(k) kept byte for byte", "SELECT email = $2 FROM public.profiles WHERE id = pg_temp.key('users', $1)", [String(k), e])
        }
        let numbersTried = tried - hostileTried - maxTried, numbersExact = exact - hostileExact - maxExact

        // Timestamps: the same instant (V1 naive UTC), including BC, 294276 AD and ±infinity.
        for (k, v) in Self.timestamps.enumerated() {
            let id = String(ts + k)
            try await check("region created_at \(v)", "SELECT created_at = ($2::timestamp AT TIME ZONE 'UTC') FROM public.regions WHERE id = pg_temp.key('regions', $1)", [id, v])
            try await check("planteur times \(v)", """
                SELECT created_at = ($2::timestamp AT TIME ZONE 'UTC') AND updated_at = created_at AND deleted_at = created_at
                FROM public.planteurs WHERE id = pg_temp.key('planteurs', $1)
                """, [id, v])
            try await check("user times \(v)", """
                SELECT p.last_login_at = ($2::timestamp AT TIME ZONE 'UTC') AND a.email_confirmed_at = p.created_at AND a.created_at = p.created_at
                   AND p.created_at = ($2::timestamp AT TIME ZONE 'UTC')
                FROM public.profiles p JOIN auth.users a ON a.id = p.id WHERE p.id = pg_temp.key('users', $1)
                """, [String(u + 700 + k), v])
            try await check("audit created_at \(v)", "SELECT created_at = ($2::timestamp AT TIME ZONE 'UTC') FROM public.audit_log WHERE id = pg_temp.key('audit_log', $1)", [id, v])
        }
        for (k, d) in Self.dates.enumerated() {
            let id = String(ts + k)
            try await check("invoice dates \(d)", """
                SELECT period_start = $2::date AND period_end = $2::date AND paid_at = ($3::timestamp AT TIME ZONE 'UTC')
                FROM public.invoices WHERE id = pg_temp.key('invoices', $1)
                """, [id, d, Self.timestamps[k]])
            try await check("delivered_on \(d)", "SELECT delivered_on = $2::date FROM public.deliveries WHERE id = pg_temp.key('deliveries', $1)", [id, d])
        }
        let timesTried = tried - hostileTried - maxTried - numbersTried, timesExact = exact - hostileExact - maxExact - numbersExact
        #expect(failures.isEmpty, "values that did not arrive as DATA_MODEL.md says: \(failures)")
        // Every hostile row is accounted for: checkpoints add up.
        #expect(try await v2.scalar("SELECT bool_and(rows_written + rows_rejected = source_rows) FROM cocoatrack_migration.load_progress") == "t")
        await v2.close()

        // verify-integrity passes over all of it (the tiny base tables put rejects over 1 %).
        let verify = try await Self.run(["verify-integrity", "--export", dir + "/verify", "--max-reject-share", "0.9"], env: VerifyTests.env(pair), t)
        let differences = (try? VerifyReport.decode(String(contentsOfFile: dir + "/verify/report.json", encoding: .utf8)))?.tables
            .flatMap { t in t.differences.map { d in "\(t.load) \(d.kind) v1 id \(d.v1Id.map(String.init) ?? "-"): " + d.columns.map { "\($0.column) \(String(reflecting: $0.v1)) → \(String(reflecting: $0.v2))" }.joined(separator: "; ") } } ?? []
        #expect(verify.status == 0, "\(differences.prefix(20)) \(verify.stderr.suffix(1000))")

        // After cutover: hostile texts written in V2 go back to V1 exactly.
        let arm = try await Self.run(["capture", "arm"], env: VerifyTests.env(pair), t)
        #expect(arm.status == 0, "\(arm.stderr.suffix(800))")
        let back = hs.filter { $0.unicodeScalars.count <= 100 }
        try await pair.v2Owner().using { c in
            for (k, s) in back.enumerated() {
                let other = back[(k + 1) % back.count]
                try await c.query("UPDATE public.chef_planteurs SET village = $2 WHERE id = extensions.uuid_generate_v5(\(Self.namespace), 'chef_planteurs:' || $1)",
                                  [String(h + k), other])
                try await c.query("UPDATE public.deliveries SET notes = $2 WHERE id = extensions.uuid_generate_v5(\(Self.namespace), 'deliveries:' || $1)", [String(h + k), s + other])
            }
        }
        let sync = try await Self.run(["sync-v2-to-v1", "--yes", "--no-snapshot"], env: VerifyTests.env(pair), t)
        #expect(sync.status == 0, "\(sync.stderr.suffix(1500))")
        var synced = 0
        try await pair.v1Admin().using { c in
            for (k, s) in back.enumerated() {
                let other = back[(k + 1) % back.count]
                let village = try await c.query("SELECT village FROM public.chef_planteurs WHERE id = $1", [String(h + k)]).rows.first?[0] ?? nil
                let notes = try await c.query("SELECT notes FROM public.deliveries WHERE id = $1", [String(h + k)]).rows.first?[0] ?? nil
                let villageOK = village.map { Array($0.utf8) == Array(other.utf8) } ?? false
                let notesOK = notes.map { Array($0.utf8) == Array((s + other).utf8) } ?? false
                #expect(villageOK, "village #\(k) back in V1: \(String(reflecting: village)) ≠ \(String(reflecting: other))")
                #expect(notesOK, "notes #\(k) back in V1")
                synced += (villageOK ? 1 : 0) + (notesOK ? 1 : 0)
            }
        }

        t.addFiles(under: dir)
        let (scanned, clean) = t.scan(Reliability.secrets(pair))
        Reliability.record("hostile data", "hostile texts (tabs, CR/LF, backslashes, \\N, quotes, emoji, combining marks, controls, JSON, SQL) in every free-text column, migrate",
                           injected: hostileTried, survived: hostileExact, rowsLost: 0, check: "V2 read back byte for byte, or by DATA_MODEL.md's rule (certifications, jsonb, inet, storage path), via independent SQL")
        Reliability.record("hostile data", "maximum-length values in every bounded V1 column (\(bounded.count) columns from the catalog), migrate",
                           injected: maxTried, survived: maxExact, check: "V2 value equals V1's, or its mapped form (phone, email, grade, storage path)")
        Reliability.record("hostile data", "extreme numbers (int/bigint/smallint limits, ±max/min/denormal/NaN/±Infinity/-0 floats, numeric limits, XOF amounts over V2's numeric, JSON numbers beyond jsonb), migrate",
                           injected: numbersTried, survived: numbersExact, check: "kept exactly (floats bit for bit), or rejected/warned with the documented rule")
        Reliability.record("hostile data", "extreme timestamps and dates (4713 BC, 1 BC, 294276 AD, 5874897 AD, ±infinity, leap day, DST edges), migrate",
                           injected: timesTried, survived: timesExact, check: "same instant in V2 as V1's naive UTC value; verify-integrity exit \(verify.status)")
        Reliability.record("hostile data", "hostile texts written in V2 after cutover, sync-v2-to-v1",
                           injected: back.count * 2, survived: synced, check: "V1 holds the exact bytes")
        Reliability.record("security", "passwords in outputs of migrate/verify/capture/sync over hostile values",
                           injected: scanned, survived: clean, check: "no cluster password in any output or exported file")
    }

    // MARK: 2. hostile configuration

    /// V2's migrated tables, the migration's state schema and its run and verification records.
    static func v2Record(_ pair: DatabasePair) async throws -> [String: String] {
        var f = try await v2State(pair)
        if f["state schema"] == "t" {
            f["runs"] = try await pair.v2Owner().using { try await $0.scalar("SELECT count(*) || ':' || count(*) FILTER (WHERE outcome = 'completed') FROM cocoatrack_migration.runs") }
            f["verifications"] = try await pair.v2Owner().using { try await $0.scalar("SELECT count(*) FROM cocoatrack_migration.verifications") }
        }
        return f
    }

    @Test("hostile configuration: refused with the right exit code and a message that says what to do; nothing written to V2")
    func hostileConfiguration() async throws {
        try Self.requireBinary()
        let pair = try await TestSandbox.shared.freshPair("hostileconf")
        try await MigrationFixture.generate(pair, scale: 0.001, seed: 907)
        let t = Transcript()
        let dir = VerifyTests.tempDir("hostile-conf")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let unknownKey = dir + "/unknown-key.yml", wrongType = dir + "/wrong-type.yml"
        try "app_role: app_user\nthreshold:\n  row_count_mismatch_pct: 1\n".write(toFile: unknownKey, atomically: true, encoding: .utf8)
        try "app_role: app_user\nthresholds:\n  row_count_mismatch_pct: one percent\n".write(toFile: wrongType, atomically: true, encoding: .utf8)
        let v1pw = pair.v1.passwords[CocoaTrackSandbox.v1Admin]!, v2pw = pair.v2.passwords[CocoaTrackSandbox.v2Owner]!
        let wrong = "Wr0ng-Hostile-\(UUID().uuidString.prefix(8))"
        let closedPort = try FreePort.find()
        let v1HostPort = "127.0.0.1:\(pair.v1.port)"
        let migrate = ["migrate", "--allow-writable-v1"]
        // (what, arguments, expected exit, fragments the message must hold)
        let cases: [(String, [String], Int32, [String])] = [
            ("settings file with an unknown key", migrate + ["--config", unknownKey], 1, [unknownKey, "line 2", "unknown key threshold", "Known keys"]),
            ("settings file with a value of the wrong type", migrate + ["--config", wrongType], 1, [wrongType, "line 3", "thresholds.row_count_mismatch_pct must be a number"]),
            ("V1 URL without a password (no PGPASSWORD, no password file)",
             migrate + ["--v1", pair.v1URL.replacingOccurrences(of: ":\(v1pw)@", with: "@")], 1, ["asks for a password", "PGPASSWORD or ~/.pgpass"]),
            ("V1 wrong password", migrate + ["--v1", pair.v1URL.replacingOccurrences(of: v1pw, with: wrong)], 1, ["rejected the password", "Check the password"]),
            ("V2 wrong password", migrate + ["--v2", pair.v2URL.replacingOccurrences(of: v2pw, with: wrong)], 1, ["V2", "rejected the password", "Check the password"]),
            ("V1 on a closed loopback port", migrate + ["--v1", pair.v1URL.replacingOccurrences(of: v1HostPort, with: "127.0.0.1:\(closedPort)")], 1,
             ["nothing accepts connections", "port \(closedPort)", "Check the port"]),
            ("V1 host name that does not resolve", migrate + ["--v1", pair.v1URL.replacingOccurrences(of: v1HostPort, with: "no-such-host.invalid:5432")], 1,
             ["no-such-host.invalid", "cannot be resolved", "Check the host name"]),
            ("V1 sslmode=require, server without TLS", migrate + ["--v1", pair.v1URL.replacingOccurrences(of: "sslmode=disable", with: "sslmode=require")], 1,
             ["requires TLS but the server does not offer it", "TLS-enabled endpoint"]),
            ("V2 sslmode=require, server without TLS", migrate + ["--v2", pair.v2URL.replacingOccurrences(of: "sslmode=disable", with: "sslmode=require")], 1,
             ["V2", "requires TLS but the server does not offer it"]),
            ("verify-integrity with a wrong V1 password", ["verify-integrity", "--v1", pair.v1URL.replacingOccurrences(of: v1pw, with: wrong)], 1, ["rejected the password"]),
        ]
        var tried = 0, survived = 0
        func attempt(_ what: String, _ args: [String], _ code: Int32, _ fragments: [String], env: [String: String]? = nil) async throws {
            let before = try await Self.v2Record(pair)
            let started = ContinuousClock.now
            let out = try await Self.run(args, env: env ?? VerifyTests.env(pair), t)
            let elapsed = ContinuousClock.now - started
            let after = try await Self.v2Record(pair)
            let text = out.stderr + out.stdout
            let missing = fragments.filter { !text.contains($0) }
            tried += 1
            #expect(out.status == code, "\(what): exit \(out.status), expected \(code): \(out.stderr.suffix(600))")
            #expect(missing.isEmpty, "\(what): the message lacks \(missing): \(out.stderr.suffix(600))")
            #expect(after == before, "\(what): V2 changed")
            #expect(elapsed < .seconds(20), "\(what): took \(elapsed)")
            if out.status == code && missing.isEmpty && after == before { survived += 1 }
        }
        for (what, args, code, fragments) in cases { try await attempt(what, args, code, fragments) }

        // V2 lacking a column the mapping needs: refused before any write.
        try await pair.v2Owner().using { try await $0.execute("ALTER TABLE public.deliveries RENAME COLUMN notes TO remarks") }
        try await attempt("V2 lacks a column the mapping needs", migrate, 4, ["V2 public.deliveries lacks notes"])
        try await pair.v2Owner().using { try await $0.execute("ALTER TABLE public.deliveries RENAME COLUMN remarks TO notes") }
        #expect(try await Self.v2State(pair)["state schema"] == "f", "no state schema after the refusals")

        // Once V2 holds the migration of this V1, another V1 is refused by migrate and verify.
        let done = try await Self.run(migrate, env: VerifyTests.env(pair), t)
        #expect(done.status == 0, "\(done.stderr.suffix(600))")
        let stranger = try await TestSandbox.shared.freshPair("hostileconfb")
        try await MigrationFixture.generate(stranger, scale: 0.001, seed: 907)
        for command in [migrate, ["verify-integrity"]] {
            try await attempt("\(command[0]) pointed at another V1 (same contents, another database)", command, 4,
                              ["V1 is not the database this migration started with", "Point V1_DATABASE_URL at the original database"],
                              env: ["V1_DATABASE_URL": stranger.v1URL, "V2_DATABASE_URL": pair.v2URL])
        }
        let (scanned, clean) = t.scan(Reliability.secrets(pair, stranger, extra: [wrong]))
        Reliability.record("hostile configuration", "settings file (unknown key, wrong type), URL without password, wrong password (V1, V2, verify), closed port, unresolvable host, sslmode=require without TLS (V1, V2), V2 missing a column, another V1 than recorded (migrate, verify)",
                           injected: tried, survived: survived, rowsLost: 0,
                           check: "exit code (1 or 4) + a message naming the fix + V2 tables, state schema, runs and verifications unchanged")
        Reliability.record("security", "passwords (and the wrong password tried) in error outputs of hostile configurations",
                           injected: scanned, survived: clean, check: "no password in stdout or stderr")
    }

    // MARK: 3. security

    /// Runs openssl, failing the test with its output when it fails.
    static func openssl(_ args: [String]) async throws {
        let out = try await Subprocess.run("/usr/bin/openssl", args, check: false)
        try #require(out.status == 0, "openssl \(args.joined(separator: " ")): \(out.stderr)")
    }

    @Test("TLS: verify-full and verify-ca against a server with a certificate from a private CA; wrong CA and a name not in the certificate refused; require works")
    func tlsVerification() async throws {
        try Self.requireBinary()
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"))
        let pair = try await TestSandbox.shared.freshPair("hostiletls")
        let root = VerifyTests.tempDir("hostile-tls")
        let manager = SandboxManager(root: URL(fileURLWithPath: root), logger: TestSandbox.shared.logger)
        let state = try await manager.up([CocoaTrackSandbox.v1Spec], extraSettings: ["fsync": "off"])
        try manager.spawnWatchdog(owner: getpid(), state: state)
        do {
            try await tlsChecks(pair: pair, manager: manager, state: state, root: root)
        } catch {
            _ = try? await manager.down()
            throw error
        }
        _ = try? await manager.down()
    }

    func tlsChecks(pair: DatabasePair, manager: SandboxManager, state: SandboxState, root: String) async throws {
        let cluster = try #require(state.cluster("v1"))
        let certs = root + "/certs"
        try FileManager.default.createDirectory(atPath: certs, withIntermediateDirectories: true)
        for ca in ["ca", "other-ca"] {
            try await Self.openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=cocoatrack \(ca)",
                                    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                                    "-keyout", "\(certs)/\(ca).key", "-out", "\(certs)/\(ca).crt"])
        }
        // The server's certificate names localhost only (no IP address), so a successful
        // verify-full to host=localhost proves the name is checked, not the pinned address.
        try "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n".write(toFile: certs + "/ext.cnf", atomically: true, encoding: .utf8)
        try await Self.openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "\(certs)/server.key", "-out", "\(certs)/server.csr"])
        try await Self.openssl(["x509", "-req", "-in", "\(certs)/server.csr", "-CA", "\(certs)/ca.crt", "-CAkey", "\(certs)/ca.key", "-CAcreateserial",
                                "-days", "2", "-extfile", "\(certs)/ext.cnf", "-out", "\(certs)/server.crt"])
        for f in ["server.crt", "server.key"] {
            let dest = cluster.dataDirectory + "/" + f
            try FileManager.default.copyItem(atPath: "\(certs)/\(f)", toPath: dest)
            #expect(chmod(dest, 0o600) == 0)
            if let user = state.osUser, let pw = getpwnam(user) { #expect(chown(dest, pw.pointee.pw_uid, pw.pointee.pw_gid) == 0) }
        }
        try await manager.connect(cluster, login: cluster.superuser, database: "postgres").using { c in
            try await c.execute("ALTER SYSTEM SET ssl = on")
            try await c.execute("ALTER SYSTEM SET ssl_cert_file = 'server.crt'")
            try await c.execute("ALTER SYSTEM SET ssl_key_file = 'server.key'")
            _ = try await c.scalar("SELECT pg_reload_conf()")
        }
        let pw = cluster.passwords[CocoaTrackSandbox.v1Admin]!
        func url(_ host: String, _ query: String) -> String {
            "postgresql://\(CocoaTrackSandbox.v1Admin):\(pw)@\(host):\(cluster.port)/\(cluster.database)?\(query)"
        }
        let ca = "\(certs)/ca.crt", other = "\(certs)/other-ca.crt"
        // The reload takes effect asynchronously: wait until TLS is offered.
        var tlsOn = false
        for _ in 0..<50 where !tlsOn {
            if let c = try? await PGConnection.connect(ConnectionConfig(label: "V1", url: url("127.0.0.1", "sslmode=require")), logger: TestSandbox.shared.logger) {
                tlsOn = true
                await c.close()
            } else {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        try #require(tlsOn, "the throwaway server offers TLS")

        // (what, URL, expected to connect, fragment of the error)
        let cases: [(String, String, Bool, String)] = [
            ("verify-full, host localhost, the issuing CA", url("localhost", "sslmode=verify-full&sslrootcert=\(ca)"), true, ""),
            ("verify-ca, host 127.0.0.1, the issuing CA", url("127.0.0.1", "sslmode=verify-ca&sslrootcert=\(ca)"), true, ""),
            ("require, no CA", url("localhost", "sslmode=require"), true, ""),
            ("verify-full, another CA", url("localhost", "sslmode=verify-full&sslrootcert=\(other)"), false, "certificate could not be verified"),
            ("verify-ca, another CA", url("127.0.0.1", "sslmode=verify-ca&sslrootcert=\(other)"), false, "certificate could not be verified"),
            ("verify-full, host 127.0.0.1 (not in the certificate)", url("127.0.0.1", "sslmode=verify-full&sslrootcert=\(ca)"), false, "does not name host"),
            ("verify-full, host name not in the certificate", url("wrong.example", "sslmode=verify-full&sslrootcert=\(ca)&hostaddr=127.0.0.1"), false, "does not name host"),
        ]
        var tried = 0, survived = 0
        let t = Transcript()
        for (what, u, succeeds, fragment) in cases {
            tried += 1
            var ok = false
            // Library level: the session really is encrypted when it connects.
            do {
                let c = try await PGConnection.connect(ConnectionConfig(label: "V1", url: u), logger: TestSandbox.shared.logger)
                let ssl = try await c.scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                await c.close()
                #expect(succeeds, "\(what): connected, expected a refusal")
                #expect(ssl == "t", "\(what): the session is not encrypted")
                ok = succeeds && ssl == "t"
            } catch let e as MigrationError {
                #expect(!succeeds, "\(what): \(e)")
                #expect(e.code == .tlsMismatch && e.message.contains(fragment), "\(what): \(e)")
                ok = !succeeds && e.code == .tlsMismatch && e.message.contains(fragment)
            }
            // The real executable: preflight (read-only) exits 0, or 1 with the certificate message.
            let out = try await Self.run(["preflight", "--v1", u, "--v2", pair.v2URL], t)
            let cliOK = succeeds ? out.status == 0 : (out.status == 1 && out.stderr.contains(fragment))
            #expect(cliOK, "\(what): preflight exit \(out.status): \(out.stderr.suffix(500))")
            if ok && cliOK { survived += 1 }
        }
        let (scanned, clean) = t.scan(Reliability.secrets(pair) + state.clusters.flatMap { Array($0.passwords.values) })
        Reliability.record("security", "TLS verify-full/verify-ca/require against a private-CA server: right CA, other CA, name not in the certificate (libpq and the executable)",
                           injected: tried, survived: survived, check: "connects encrypted exactly when psql's sslmode rules say so; refusals exit 1 naming the certificate problem")
        Reliability.record("security", "passwords in outputs of the TLS cases", injected: scanned, survived: clean, check: "no password in stdout or stderr")
    }

    @Test("identifiers quoted: an app role named App-User \"x\" through read-only enable/status/disable and migrate --app-role; restored exactly")
    func quotedAppRole() async throws {
        try Self.requireBinary()
        let pair = try await TestSandbox.shared.freshPair("hostilerole")
        try await MigrationFixture.generate(pair, scale: 0.001, seed: 908)
        let role = "App-User \"x\""
        let quoted = "\"App-User \"\"x\"\"\""
        let rolePassword = "Role-\(UUID().uuidString.prefix(12))"
        try await pair.v1Super().using { c in
            try await c.execute("CREATE ROLE \(quoted) LOGIN PASSWORD '\(rolePassword)'; GRANT CONNECT ON DATABASE \(pair.database) TO \(quoted);")
        }
        try await pair.v1Admin().using { c in
            try await c.execute("""
                GRANT USAGE ON SCHEMA public TO \(quoted);
                GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO \(quoted);
                GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO \(quoted);
                ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO \(quoted);
                ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO \(quoted);
                """)
        }
        let roleURL = "postgresql://App-User%20%22x%22:\(rolePassword)@127.0.0.1:\(pair.v1.port)/\(pair.database)?sslmode=disable"
        let insert = "INSERT INTO public.regions (name, code, created_at) VALUES ('quoted', 'Q\(Int.random(in: 100...999))', now())"
        let before = try await pair.v1Admin().using { try await ReadOnlyTests.aclState($0, role: role) }
        let t = Transcript()
        var steps = 0, passed = 0
        func step(_ ok: Bool, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
            steps += 1
            if ok { passed += 1 }
            #expect(ok, "\(what)", sourceLocation: sourceLocation)
        }
        let writable = try await Self.run(["migrate", "--app-role", role], env: VerifyTests.env(pair), t)
        step(writable.status == 4 && writable.stderr.contains("still writable by \(role)"), "migrate refuses while \(role) can write: \(writable.status) \(writable.stderr.suffix(400))")
        let enable = try await Self.run(["read-only", "enable", "--yes", "--app-role", role, "--session-timeout", "2"], env: VerifyTests.env(pair), t)
        step(enable.status == 0, "read-only enable: \(enable.stderr.suffix(600))")
        let status = try await Self.run(["read-only", "status", "--app-role", role], env: VerifyTests.env(pair), t)
        step(status.status == 0 && status.stdout.contains("ENABLED") && status.stdout.contains("can write no table"), "status: \(status.stdout)")
        var refused = false
        do {
            try await pair.connect(roleURL, label: "app").using { try await $0.execute(insert) }
        } catch let e as MigrationError {
            refused = e.sqlState == "42501" || e.sqlState == "25006"
        }
        step(refused, "\(role) cannot write in read-only mode")
        let migrated = try await Self.run(["migrate", "--app-role", role], env: VerifyTests.env(pair), t)
        step(migrated.status == 0, "migrate --app-role \(role) with V1 read-only for it: \(migrated.stderr.suffix(600))")
        let disable = try await Self.run(["read-only", "disable", "--yes", "--app-role", role], env: VerifyTests.env(pair), t)
        step(disable.status == 0, "read-only disable: \(disable.stderr.suffix(600))")
        let after = try await pair.v1Admin().using { try await ReadOnlyTests.aclState($0, role: role) }
        step(after == before, "ACLs and role settings identical after disable: \(Set(before).symmetricDifference(after))")
        var wrote = false
        do {
            try await pair.connect(roleURL, label: "app").using { try await $0.execute(insert) }
            wrote = true
        } catch {
            Issue.record("\(role) writes again after disable: \(error)")
        }
        step(wrote, "\(role) writes again")
        try await pair.v1Super().using { try await $0.execute("DROP OWNED BY \(quoted); DROP ROLE \(quoted)") }
        let (scanned, clean) = t.scan(Reliability.secrets(pair, extra: [rolePassword]))
        Reliability.record("security", "app role whose name needs quoting (App-User \"x\"): migrate guard, read-only enable/status/disable, migrate --app-role",
                           injected: steps, survived: passed, check: "each step's exit code and effect; aclexplode and role settings identical after disable")
        Reliability.record("security", "passwords in outputs of the quoted-role commands", injected: scanned, survived: clean, check: "no password in stdout or stderr")
    }

    @Test("read-only mode holds against the app role's own session tricks: settings, SET ROLE, READ WRITE, COPY, sequences, locks; disable gives writes back")
    func readOnlyBypass() async throws {
        try Self.requireBinary()
        let pair = try await TestSandbox.shared.freshPair("hostilero")
        try await MigrationFixture.generate(pair, scale: 0.001, seed: 909)
        let writers = "writers_\(pair.database)"
        try await pair.v1Super().using { try await $0.execute("CREATE ROLE \(writers) NOLOGIN; GRANT \(writers) TO app_user;") }
        try await pair.v1Admin().using { c in
            try await c.execute("""
                GRANT INSERT, UPDATE, DELETE, TRUNCATE ON regions, audit_log TO \(writers);
                GRANT USAGE, UPDATE ON SEQUENCE regions_id_seq TO \(writers);
                """)
        }
        let before = try await pair.v1Admin().using { try await ReadOnlyTests.aclState($0, role: "app_user") }
        let t = Transcript()
        let enable = try await Self.run(["read-only", "enable", "--yes", "--session-timeout", "2"], env: VerifyTests.env(pair), t)
        try #require(enable.status == 0, "\(enable.stderr.suffix(600))")
        let fingerprint = "SELECT (SELECT count(*) || ':' || md5(string_agg(r::text, ',' ORDER BY id)) FROM regions r) || (SELECT count(*) FROM audit_log) || (SELECT last_value FROM regions_id_seq)"
        let dataBefore = try await pair.v1Admin().using { try await $0.scalar(fingerprint) }
        let insert = "INSERT INTO regions (name, code, created_at) VALUES ('bypass', 'BYP', now())"
        let attempts: [(String, String)] = [
            ("session settings off", "SET default_transaction_read_only = off; SET transaction_read_only = off; \(insert)"),
            ("session_replication_role = replica", "SET session_replication_role = replica"),
            ("SET ROLE to a member role with write grants", "SET default_transaction_read_only = off; SET ROLE \(writers); \(insert)"),
            ("SET ROLE to the schema owner", "SET ROLE cocoatrack_admin"),
            ("BEGIN READ WRITE", "BEGIN READ WRITE; \(insert); COMMIT"),
            ("START TRANSACTION READ WRITE as the member role", "SET ROLE \(writers); START TRANSACTION READ WRITE; UPDATE regions SET name = name; COMMIT"),
            ("COPY FROM STDIN", "SET default_transaction_read_only = off; COPY regions (name, code, created_at) FROM STDIN"),
            ("nextval", "SET default_transaction_read_only = off; SELECT nextval('regions_id_seq')"),
            ("setval", "SET default_transaction_read_only = off; SET ROLE \(writers); SELECT setval('regions_id_seq', 1000000)"),
            ("UPDATE", "SET default_transaction_read_only = off; UPDATE regions SET name = name"),
            ("DELETE", "SET default_transaction_read_only = off; SET ROLE \(writers); DELETE FROM audit_log"),
            ("TRUNCATE", "SET default_transaction_read_only = off; SET ROLE \(writers); TRUNCATE audit_log"),
            ("data-modifying CTE", "SET default_transaction_read_only = off; WITH x AS (\(insert) RETURNING id) SELECT count(*) FROM x"),
            ("DO block", "SET default_transaction_read_only = off; DO $$ BEGIN \(insert); END $$"),
            ("PREPARE/EXECUTE", "SET default_transaction_read_only = off; PREPARE p AS \(insert); EXECUTE p"),
            ("SELECT … FOR UPDATE", "SET default_transaction_read_only = off; SELECT id FROM regions FOR UPDATE"),
            ("LOCK TABLE", "SET default_transaction_read_only = off; BEGIN; LOCK TABLE regions IN ACCESS EXCLUSIVE MODE; COMMIT"),
            ("COPY to a server file", "SET default_transaction_read_only = off; COPY regions TO '/tmp/ctm-bypass.csv'"),
        ]
        var tried = 0, refused = 0
        let app = try await pair.connect(pair.appUserURL, label: "app")
        for (what, sql) in attempts {
            tried += 1
            do {
                try await app.execute(sql)
                Issue.record("read-only mode let app_user through: \(what)")
            } catch let e as MigrationError {
                let ok = ["42501", "25006", "0A000"].contains(e.sqlState ?? "")
                #expect(ok, "\(what): \(e)")
                if ok { refused += 1 }
            }
            try? await app.execute("ROLLBACK")
            try? await app.execute("RESET ALL; RESET ROLE; DEALLOCATE ALL")
        }
        // The role may change its own default, but that gives no write back either.
        try? await app.execute("SET default_transaction_read_only = off; ALTER ROLE CURRENT_USER SET default_transaction_read_only = off")
        await app.close()
        tried += 1
        do {
            try await pair.connect(pair.appUserURL, label: "app").using { try await $0.execute(insert) }
            Issue.record("read-only mode let app_user through after ALTER ROLE … SET default_transaction_read_only = off")
        } catch let e as MigrationError {
            let ok = e.sqlState == "42501" || e.sqlState == "25006"
            #expect(ok, "\(e)")
            if ok { refused += 1 }
        }
        let dataAfter = try await pair.v1Admin().using { try await $0.scalar(fingerprint) }
        #expect(dataAfter == dataBefore, "V1's rows and sequence unchanged")

        let disable = try await Self.run(["read-only", "disable", "--yes"], env: VerifyTests.env(pair), t)
        #expect(disable.status == 0, "\(disable.stderr.suffix(600))")
        var wrote = false
        do {
            try await pair.connect(pair.appUserURL, label: "app").using { try await $0.execute(insert) }
            wrote = true
        } catch {
            Issue.record("app_user cannot write after disable: \(error)")
        }
        let after = try await pair.v1Admin().using { try await ReadOnlyTests.aclState($0, role: "app_user") }
        #expect(after == before, "ACLs identical after disable: \(Set(before).symmetricDifference(after))")
        try await pair.v1Super().using { try await $0.execute("REVOKE \(writers) FROM app_user; DROP OWNED BY \(writers); DROP ROLE \(writers);") }
        let (scanned, clean) = t.scan(Reliability.secrets(pair))
        Reliability.record("security", "app_user in read-only mode tries to write: session settings, replica role, SET ROLE, READ WRITE transactions, COPY, sequences, CTE, DO, PREPARE, FOR UPDATE, LOCK, ALTER ROLE of itself",
                           injected: tried, survived: refused, rowsLost: dataAfter == dataBefore ? 0 : nil,
                           check: "every attempt refused (42501/25006), V1 rows and sequence unchanged; after disable the INSERT succeeds (\(wrote)) and ACLs are identical")
        Reliability.record("security", "passwords in outputs of the read-only commands", injected: scanned, survived: clean, check: "no password in stdout or stderr")
    }
}
