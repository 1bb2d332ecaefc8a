import CocoaTrack
import Foundation
import MigrationEngine
import Testing

@Suite("verify-integrity", .serialized)
struct VerifyTests {
    static func env(_ pair: DatabasePair) -> [String: String] { ["V1_DATABASE_URL": pair.v1URL, "V2_DATABASE_URL": pair.v2URL] }

    static func tempDir(_ label: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("ctm-\(label)-\(UUID().uuidString)").path
    }

    static func readReport(_ dir: String) throws -> VerifyReport {
        try VerifyReport.decode(String(contentsOfFile: dir + "/report.json", encoding: .utf8))
    }

    static func chromium() -> String? {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            for dir in ["/usr/bin", "/usr/local/bin", "/snap/bin"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
                return "\(dir)/\(name)"
            }
        }
        return nil
    }

    @Test("a clean migration passes (exit 0); the HTML report opens in headless Chromium and shows the results")
    func cleanPasses() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("verifyclean")
        try await MigrationFixture.generate(pair, scale: 0.004, seed: 21)
        try await MigrationFixture.migrate(pair)
        let dir = Self.tempDir("verify-clean")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // This tiny V1 carries every dirty case at least once, so its 8 users hold a duplicate
        // email: 1/8 of the users rejected is over the plan's default 1 % threshold.
        let strict = try await CLI.run(["verify-integrity"], env: Self.env(pair))
        #expect(strict.status == 3)
        #expect(strict.stdout.contains("FAIL     row_counts") && strict.stdout.contains("of V1 rejected (limit 1.00 %)"))
        #expect(strict.stdout.contains("PASS     checksums"))
        let out = try await CLI.run(["verify-integrity", "--max-reject-share", "0.2", "--export", dir], env: Self.env(pair))
        #expect(out.status == 0, "\(out.stderr.suffix(800))")
        #expect(out.stdout.contains("PASS: every check ran and passed"))
        let report = try Self.readReport(dir)
        #expect(report.outcome == "pass" && report.complete)
        #expect(report.checks.map(\.name) == ["migration_complete", "row_counts", "checksums", "foreign_keys", "business_totals"])
        #expect(report.checks.allSatisfy { $0.status == "pass" })
        #expect(report.tables.count == 12, "ten V2 tables, auth.users and auth.identities: \(report.tables.map(\.load))")
        // The counts are the database's own, independently counted.
        let v2 = try await pair.v2Owner()
        for t in report.tables {
            let n = try await v2.scalar("SELECT count(*) FROM \(t.targetTable)")
            #expect(String(t.v2Rows) == n, "\(t.load)")
            #expect(t.v1Rows == t.expectedV2Rows + t.rejectedTotal)
            #expect(t.checksumsMatch && t.differences.isEmpty)
        }
        // DATA_MODEL.md's 15 public foreign keys and auth.identities → auth.users.
        #expect(report.foreignKeys.count == 16 && report.foreignKeys.allSatisfy { $0.orphans == 0 }, "\(report.foreignKeys.map { "\($0.table).\($0.columns)" })")
        #expect(report.foreignKeys.contains { $0.table == "auth.identities" })
        #expect(report.businessTotals.count == 3 && report.businessTotals.allSatisfy { $0.status == "pass" && $0.groupsV1 > 0 })
        // Recorded for the decision matrix.
        let recorded = try await Verifier.latest(v2, stateSchema: CocoaTrackMapping.stateSchema)
        #expect(recorded?.verificationId == report.verificationId && recorded?.outcome == "pass")
        await v2.close()
        // No secret in any exported file.
        for name in ["report.json", "report.md", "report.html"] {
            let text = try String(contentsOfFile: "\(dir)/\(name)", encoding: .utf8)
            for secret in Reliability.secrets(pair) { #expect(!text.contains(secret), "\(name)") }
        }
        // Headless Chromium loads the page and its DOM shows the verdict and every table.
        let browser = try #require(Self.chromium(), "headless Chromium is needed for this test (Debian: apt-get install chromium)")
        let profile = Self.tempDir("chromium-profile")
        defer { try? FileManager.default.removeItem(atPath: profile) }
        let dom = try await Subprocess.run(browser, ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile)",
                                                     "--dump-dom", "file://\(dir)/report.html"], check: false)
        #expect(dom.status == 0, "\(dom.stderr.suffix(500))")
        #expect(dom.stdout.contains("data-outcome=\"pass\""))
        #expect(dom.stdout.contains("<svg id=\"counts-chart\""))
        for t in report.tables { #expect(dom.stdout.contains("data-load=\"\(t.load)\""), "\(t.load)") }
        try await Self.expectPage(dir, report, verdict: "pass")
    }

    /// What every verify report.html shows, checked in Chromium's DOM against report.json: the
    /// verdict at the top, rejects and warnings by reason as text, one honest scale, "in V2" never
    /// drawn in the rejected colour, one number format, whether each foreign key is validated.
    static func expectPage(_ dir: String, _ report: VerifyReport, verdict: String) async throws {
        let page = try await ReportDOM.open(dir + "/report.html")
        page.expectReport(verdict: verdict, contains: [verdict.uppercased()])
        let text = page.text
        // Every reject and warning reason is on the page as text, with its count, in the reasons table.
        var reasons = 0
        for t in report.tables {
            for (rule, n) in t.rejected {
                reasons += 1
                #expect(page.dom.contains("data-kind=\"rejected\" data-reason=\"\(rule)\"><td>\(t.load)</td><td>rejected</td><td>\(rule)</td><td class=\"num\">\(ReportHTML.number(n))</td>"),
                        "\(t.load): reject \(rule) \(n) as text")
                #expect(text.contains("\(rule) \(ReportHTML.number(n))"), "\(t.load): \(rule) in the table's row")
            }
            let warnings = try #require(t.warningsByReason, "\(t.load): warnings by reason recorded")
            #expect(warnings.values.reduce(0, +) == t.warnings, "\(t.load): the warnings by reason add up")
            for (rule, n) in warnings {
                reasons += 1
                #expect(page.dom.contains("data-kind=\"warning\" data-reason=\"\(rule)\"><td>\(t.load)</td><td>warning</td><td>\(rule)</td><td class=\"num\">\(ReportHTML.number(n))</td>"),
                        "\(t.load): warning \(rule) \(n) as text")
            }
        }
        #expect(page.dom.components(separatedBy: "class=\"reason\"").count - 1 == reasons)
        // The distinct count: a V1 user that three loads read is one rejected row.
        if let distinct = report.rejectedV1Rows, !distinct.isEmpty {
            #expect(page.dom.contains("id=\"distinct-rejects\" data-rows=\"\(report.distinctRejected)\""))
        }
        // One scale, said as it is: no bar is log-scaled, and "in V2" is never the rejected red.
        #expect(page.dom.contains("data-scale=\"linear, per table\"") && text.contains("scale: linear") && !text.lowercased().contains("log scale"))
        let inV2 = page.dom.matches(of: /<rect class="in-v2"[^>]*fill="([^"]+)"/).map { String($0.1) }
        #expect(inV2.count == report.tables.count)
        #expect(inV2.allSatisfy { $0 == "#1f4e8c" }, "\(inV2)")
        #expect(page.dom.matches(of: /<rect class="rejected"[^>]*fill="([^"]+)"/).allSatisfy { $0.1 == "#c0392b" })
        // Counts in one format: every count cell of the tables table is grouped by thousands.
        for t in report.tables {
            #expect(page.dom.contains("<tr data-load=\"\(t.load)\" data-result=\"\(t.countsPass && t.contentPass ? "pass" : "fail")\"><td>\(t.load)</td><td class=\"num\">\(ReportHTML.number(t.v1Rows))</td>"), "\(t.load)")
        }
        // Each foreign key: whether V2 holds it validated, as text.
        let fks = page.dom.matches(of: /<tr class="fk" data-fk="[^"]+" data-validated="(\w+)"/).map { String($0.1) }
        #expect(fks.count == report.foreignKeys.count)
        #expect(fks == report.foreignKeys.map { $0.validated.map { $0 ? "yes" : "no" } ?? "unknown" })
        #expect(text.contains("validated in V2"))
        // Business totals that differ: V1's and V2's values of one column in one format.
        for b in report.businessTotals where !b.mismatches.isEmpty {
            let start = try #require(page.dom.range(of: "<table class=\"mismatches\" data-total=\"\(b.name)\">"), "\(b.name)")
            let end = try #require(page.dom.range(of: "</table>", range: start.upperBound..<page.dom.endIndex))
            let rows = String(page.dom[start.upperBound..<end.lowerBound]).matches(of: /<tr data-side="V[12]">([\s\S]*?)<\/tr>/).map { r in
                String(r.1).matches(of: /<td[^>]*>([^<]*)<\/td>/).map { String($0.1) }
            }
            #expect(rows.count == 2 * b.mismatches.count)
            let keys = b.mismatches.map(\.key.count).min() ?? 0
            for col in keys..<b.columns.count {
                let scales = Set(rows.compactMap { col < $0.count ? $0[col] : nil }.filter { $0 != "—" }.map { $0.split(separator: ".").dropFirst().first?.count ?? 0 })
                #expect(scales.count <= 1, "\(b.name).\(b.columns[col]): one number format on both sides: \(rows.map { $0[col] })")
            }
            let numberShape = /-?\d{1,3}(,\d{3})*(\.\d+)?/
            let cells: [String] = rows.flatMap { r -> [String] in Array(r.dropFirst(keys).dropLast()) }
            let misshapen = cells.filter { (c: String) -> Bool in c != "—" && c.wholeMatch(of: numberShape) == nil }
            #expect(misshapen.isEmpty, "\(rows)")
        }
    }

    /// One row's uuid in a V2 table, chosen by a condition.
    static func pick(_ c: PGConnection, _ table: String, _ condition: String = "true", offset: Int = 0) async throws -> String {
        try #require(try await c.scalar("SELECT id::text FROM \(table) WHERE \(condition) ORDER BY id LIMIT 1 OFFSET \(offset)"))
    }

    @Test("damage injected into V2 is reported exactly: each column type, NULL ↔ 'NULL', deleted, extra, orphaned, wrong totals (exit 3)")
    func damageIsLocated() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("verifydamage")
        try await MigrationFixture.generate(pair, scale: 0.004, seed: 22)
        // A V1 note that is literally the text 'NULL' (and must stay a string).
        let nullTextID = try await pair.v1Admin().using { c in
            try #require(try await c.scalar("UPDATE public.deliveries SET notes = 'NULL' WHERE id = (SELECT min(id) FROM public.deliveries d WHERE weight_kg > 0 AND (quality_grade IS NULL OR quality_grade IN ('A','B','C','REJ')) AND planteur_id IN (SELECT id FROM public.planteurs) AND warehouse_id IN (SELECT id FROM public.warehouses)) RETURNING id"))
        }
        // The last valid delivery: in the upper key range of a split V1 pass.
        let highID = try await pair.v1Admin().using { c in
            try #require(try await c.scalar("SELECT max(id) FROM public.deliveries d WHERE weight_kg > 0 AND (quality_grade IS NULL OR quality_grade IN ('A','B','C','REJ')) AND planteur_id IN (SELECT id FROM public.planteurs) AND warehouse_id IN (SELECT id FROM public.warehouses)"))
        }
        try await MigrationFixture.migrate(pair)
        let v2 = try await pair.v2Super()
        try await v2.execute("SET session_replication_role = replica")
        // expected[load] = set of "kind key columns"
        var expected: [String: Set<String>] = [:]
        func expect(_ load: String, _ kind: String, _ key: String, _ columns: [String] = []) {
            expected[load, default: []].insert("\(kind) \(key) \(columns.sorted().joined(separator: ","))")
        }
        var used: [String] = []
        func change(_ load: String, _ table: String, _ set: String, column: String, where condition: String = "true", offset: Int = 0) async throws {
            let others = used.isEmpty ? "" : " AND id::text <> ALL('{\(used.joined(separator: ","))}'::text[])"
            let id = try await Self.pick(v2, table, condition + others, offset: offset)
            used.append(id)
            try await v2.execute("UPDATE \(table) SET \(set) WHERE id = '\(id)'")
            expect(load, "changed", id, [column])
        }
        let nullTextKey = CocoaTrackRules.uuid("deliveries", nullTextID)
        try await v2.execute("UPDATE public.deliveries SET notes = NULL WHERE id = '\(nullTextKey)'")
        expect("deliveries", "changed", nullTextKey, ["notes"])
        used.append(nullTextKey)
        let highKey = CocoaTrackRules.uuid("deliveries", highID)
        try await v2.execute("UPDATE public.deliveries SET notes = 'tampered, upper range' WHERE id = '\(highKey)'")
        expect("deliveries", "changed", highKey, ["notes"])
        used.append(highKey)
        try await change("deliveries", "public.deliveries", "notes = 'NULL'", column: "notes", where: "notes IS NULL")
        try await change("deliveries", "public.deliveries", "weight_kg = weight_kg + 0.01", column: "weight_kg", offset: 1)
        try await change("deliveries", "public.deliveries", "bags = bags + 1", column: "bags", where: "bags IS NOT NULL", offset: 2)
        try await change("deliveries", "public.deliveries", "quality_grade = CASE WHEN quality_grade = 'grade_a' THEN 'grade_b'::quality_grade ELSE 'grade_a' END",
                         column: "quality_grade", where: "quality_grade IS NOT NULL", offset: 3)
        try await change("deliveries", "public.deliveries", "delivered_on = delivered_on + 1", column: "delivered_on",
                         where: "extract(day FROM delivered_on) < 27", offset: 4)
        try await change("chef_planteurs", "public.chef_planteurs", "created_at = created_at + interval '1 microsecond'", column: "created_at")
        try await change("planteurs", "public.planteurs", "chef_planteur_id = (SELECT id FROM public.chef_planteurs WHERE id <> planteurs.chef_planteur_id LIMIT 1)",
                         column: "chef_planteur_id", where: "chef_planteur_id IS NOT NULL")
        try await change("planteurs", "public.planteurs", "certifications = certifications || '{extra}'::text[]", column: "certifications", offset: 1)
        try await change("planteurs", "public.planteurs", "birth_year = birth_year + 1", column: "birth_year", where: "birth_year IS NOT NULL", offset: 2)
        try await change("cooperatives", "public.cooperatives", "is_active = NOT is_active", column: "is_active")
        try await change("warehouses", "public.warehouses", "latitude = latitude + 1e-9", column: "latitude", where: "latitude IS NOT NULL")
        try await change("audit_log", "public.audit_log", "new_data = '{\"tampered\": true}'", column: "new_data")
        try await change("audit_log", "public.audit_log", "ip_address = '10.9.8.7'", column: "ip_address", where: "ip_address IS NOT NULL AND ip_address <> '10.9.8.7'", offset: 1)
        try await change("invoices", "public.invoices", "currency = 'EUR'", column: "currency")
        try await change("invoices", "public.invoices", "total_amount = total_amount + 1", column: "total_amount", offset: 1)
        try await change("auth_users", "auth.users", "encrypted_password = '$2a$10$' || repeat('x', 53)", column: "encrypted_password")
        // A NULL token: GoTrue could not read this user at all (supabase/auth issue #1940).
        try await change("auth_users", "auth.users", "confirmation_token = NULL", column: "confirmation_token", offset: 1)
        // An identity that no longer matches its user (keyed by its user).
        let identityUser = try #require(try await v2.scalar("SELECT user_id::text FROM auth.identities WHERE user_id::text <> ALL('{\(used.joined(separator: ","))}'::text[]) ORDER BY user_id LIMIT 1"))
        try await v2.execute("UPDATE auth.identities SET identity_data = identity_data || '{\"email\": \"someone.else@example.com\"}' WHERE user_id = '\(identityUser)'")
        expect("auth_identities", "changed", identityUser, ["identity_data"])
        let deleted = try await Self.pick(v2, "public.delivery_photos")
        try await v2.execute("DELETE FROM public.delivery_photos WHERE id = '\(deleted)'")
        expect("delivery_photos", "missing_in_v2", deleted)
        let extra = "7e1c0000-0000-4000-8000-000000000001"
        try await v2.execute("INSERT INTO public.regions (id, name, code, created_at) VALUES ('\(extra)', 'Injected', 'INJ', now())")
        expect("regions", "unexpected_in_v2", extra)
        try await change("delivery_photos", "public.delivery_photos", "uploaded_by = '7e1c0000-0000-4000-8000-0000000000ff'", column: "uploaded_by",
                         where: "uploaded_by IS NOT NULL", offset: 1)
        await v2.close()

        let dir = Self.tempDir("verify-damage")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = try await CLI.run(["verify-integrity", "--export", dir, "--log-level", "debug"], env: Self.env(pair))
        #expect(out.status == 3, "\(out.stderr.suffix(800))")
        #expect(!out.stdout.contains("PASS: every check"))
        let report = try Self.readReport(dir)
        #expect(report.outcome == "fail")
        var found: [String: Set<String>] = [:]
        for t in report.tables {
            for d in t.differences {
                found[t.load, default: []].insert("\(d.kind) \(d.key) \(d.columns.map(\.column).sorted().joined(separator: ","))")
                // The V1 id named is the one the row came from.
                if let id = d.v1Id {
                    let source = ["auth_users", "auth_identities", "profiles"].contains(t.load) ? "users" : t.load
                    #expect(CocoaTrackRules.uuid(source, String(id)) == d.key, "\(t.load) \(d.key)")
                }
            }
            let e = expected[t.load] ?? []
            #expect(t.contentPass == e.isEmpty, "\(t.load)")
            #expect(t.missingInV2 + t.unexpectedInV2 + t.changed == Int64(e.count), "\(t.load)")
        }
        #expect(found == expected)
        // The larger loads' V1 passes ran as two key ranges side by side, in one snapshot; damage
        // on either side of the split is found and located.
        func splitAfter(_ stderr: String, _ load: String) -> Int64? {
            guard let r = stderr.range(of: "load=\(load) split_after=") else { return nil }
            return Int64(String(stderr[r.upperBound...].prefix { $0.isNumber }))
        }
        let deliveriesSplit = try #require(splitAfter(out.stderr, "deliveries"), "\(out.stderr.suffix(1500))")
        #expect(splitAfter(out.stderr, "audit_log") != nil && splitAfter(out.stderr, "delivery_photos") != nil)
        #expect(splitAfter(out.stderr, "regions") == nil, "31 regions: one pass")
        let deliveryV1IDs = report.tables.first { $0.load == "deliveries" }?.differences.compactMap(\.v1Id) ?? []
        let below = deliveryV1IDs.filter { $0 <= deliveriesSplit }.count
        #expect(below > 0 && below < deliveryV1IDs.count, "\(deliveryV1IDs) around \(deliveriesSplit)")
        // NULL and the text 'NULL' are told apart, both ways.
        let deliveries = try #require(report.tables.first { $0.load == "deliveries" })
        let notes = deliveries.differences.flatMap(\.columns).filter { $0.column == "notes" }
        #expect(notes.contains { $0.v1 == "NULL" && $0.v2 == nil })
        #expect(notes.contains { $0.v1 == nil && $0.v2 == "NULL" })
        // The password hash differs but is never printed.
        let auth = try #require(report.tables.first { $0.load == "auth_users" })
        #expect(auth.differences.flatMap(\.columns).first { $0.column == "encrypted_password" }?.v2 == "‹hidden›")
        #expect(auth.differences.flatMap(\.columns).contains { $0.column == "confirmation_token" && $0.v1 == "" && $0.v2 == nil }, "a NULL token is named")
        // Counts: one extra region, one photo missing.
        #expect(report.tables.first { $0.load == "regions" }?.unexplainedDifference == 1)
        #expect(report.tables.first { $0.load == "delivery_photos" }?.unexplainedDifference == -1)
        #expect(report.checks.first { $0.name == "row_counts" }?.status == "fail")
        // The orphan, and only it.
        #expect(report.foreignKeys.filter { $0.orphans > 0 }.map { "\($0.table).\($0.columns.joined())=\($0.orphans)" } == ["public.delivery_photos.uploaded_by=1"])
        // The orphans are counted on a second session in V2's exported snapshot, beside the row
        // passes; where V2 refuses to export one, in the one session after them, with the same result.
        // Likewise V1's split passes: where V1 refuses to export a snapshot, one session reads
        // each load whole, with the same result.
        let su = try await pair.v2Super()
        let su1 = try await pair.v1Super()
        try await su.execute("REVOKE EXECUTE ON FUNCTION pg_export_snapshot() FROM PUBLIC")
        try await su1.execute("REVOKE EXECUTE ON FUNCTION pg_export_snapshot() FROM PUBLIC")
        let dirNoSnapshot = Self.tempDir("verify-damage-nosnapshot")
        defer { try? FileManager.default.removeItem(atPath: dirNoSnapshot) }
        let again = try await CLI.run(["verify-integrity", "--export", dirNoSnapshot, "--log-level", "debug"], env: Self.env(pair))
        try await su.execute("GRANT EXECUTE ON FUNCTION pg_export_snapshot() TO PUBLIC")
        try await su1.execute("GRANT EXECUTE ON FUNCTION pg_export_snapshot() TO PUBLIC")
        await su.close()
        await su1.close()
        #expect(again.status == 3, "\(again.stderr.suffix(800))")
        #expect(again.stderr.contains("V2 exports no snapshot"))
        #expect(again.stderr.contains("V1 exports no snapshot") && splitAfter(again.stderr, "deliveries") == nil)
        let sequential = try Self.readReport(dirNoSnapshot)
        #expect(sequential.foreignKeys.map { "\($0.name)=\($0.orphans)" } == report.foreignKeys.map { "\($0.name)=\($0.orphans)" })
        #expect(sequential.tables.map { "\($0.load) \($0.missingInV2) \($0.unexpectedInV2) \($0.changed)" } == report.tables.map { "\($0.load) \($0.missingInV2) \($0.unexpectedInV2) \($0.changed)" })
        #expect(sequential.tables.map { "\($0.load) \($0.v1Rows) \($0.rejectedTotal) \($0.warnings) \($0.checksumV1)" } == report.tables.map { "\($0.load) \($0.v1Rows) \($0.rejectedTotal) \($0.warnings) \($0.checksumV1)" })
        // Wrong totals: the weight change moves one cooperative-month, the amount change one status.
        let totals = Dictionary(uniqueKeysWithValues: report.businessTotals.map { ($0.name, $0) })
        #expect(totals["deliveries_by_cooperative_month"]?.mismatches.count == 1)
        #expect(totals["invoices_by_status"]?.mismatches.count == 1)
        #expect(totals["planteurs_by_cooperative"]?.status == "pass")
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        #expect(html.contains("data-outcome=\"fail\"") && html.contains("class=\"diff\" data-kind=\"missing_in_v2\""))
        try await Self.expectPage(dir, report, verdict: "fail")

        // --only: just that table, marked partial, totals not run.
        let only = try await CLI.run(["verify-integrity", "--only", "regions", "--json"], env: Self.env(pair))
        #expect(only.status == 3)
        let partial = try VerifyReport.decode(only.stdout)
        #expect(partial.tables.map(\.load) == ["regions"] && !partial.complete)
        #expect(partial.checks.first { $0.name == "business_totals" }?.status == "not_run")
    }

    @Test("a connection lost mid-verify, with --retries 0, gives exit 1 and an 'error' record, never a pass")
    func connectionLost() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("verifylost")
        try await MigrationFixture.generate(pair, scale: 0.02, seed: 23)
        try await MigrationFixture.migrate(pair)
        let log = Self.tempDir("verify-lost") + ".log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in Self.env(pair) { env[k] = v }
        let watcher = try await pair.v2Super()
        // (With retries, the default, it verifies again: ReliabilityFaultTests.)
        let pid = try Subprocess.launch(CLI.binary, ["verify-integrity", "--retries", "0"], environment: env, logFile: log)
        var killed = "0"
        for _ in 0..<3000 {
            killed = try await watcher.scalar("""
                SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                WHERE application_name = 'cocoatrack-migrate' AND query LIKE 'COPY (SELECT%deliveries%' AND state = 'active'
                  AND datname = \(SQL.literal(pair.database))
                """) ?? "0"
            if killed != "0" { break }
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(killed != "0", "caught the verifier mid-copy")
        let status = await Subprocess.wait(pid: pid)
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(status == 1, "exit \(status): \(output.suffix(600))")
        #expect(!output.contains("PASS"))
        let outcome = try await watcher.scalar("SELECT outcome FROM cocoatrack_migration.verifications ORDER BY started_at DESC LIMIT 1")
        #expect(outcome == "error")
        #expect(try await Verifier.latest(watcher, stateSchema: CocoaTrackMapping.stateSchema)?.outcome == "error")
        await watcher.close()
    }
}
