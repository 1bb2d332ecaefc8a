import CocoaTrack
import Foundation
import MigrationEngine
import Testing

@Suite("after cutover: assess-v2-changes, sync-v2-to-v1, data-loss-report", .serialized)
struct ChangeCaptureTests {
    static func verifier(_ pair: DatabasePair) async throws -> Verifier {
        let ctx = try await pair.v1Admin().using { try await CocoaTrackMapping.context(v1: $0) }
        var o = VerifyOptions()
        o.toolVersion = "test"
        return Verifier(plan: CocoaTrackMapping.plan(context: ctx), businessChecks: CocoaTrackBusinessTotals.checks,
                        source: try ConnectionConfig(label: "V1", url: pair.v1URL), target: try ConnectionConfig(label: "V2", url: pair.v2URL),
                        options: o, logger: TestSandbox.shared.logger)
    }

    static func changeSet(_ r: ChangeReport) -> [String: Set<String>] {
        var out: [String: Set<String>] = [:]
        for t in r.tables {
            for c in t.changes { out[t.load, default: []].insert("\(c.kind) \(c.key) \(c.columns.map(\.column).sorted().joined(separator: ","))") }
        }
        return out
    }

    @Test("a scripted post-cutover workload is assessed exactly, synced back, idempotent, and the data loss is exactly the conflicts")
    func workload() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("capture")
        try await MigrationFixture.generate(pair, scale: 0.004, seed: 31)
        try await MigrationFixture.migrate(pair)
        // Arming refuses nothing on a verified migration, and refuses a second time.
        let armed = try await Self.verifier(pair).arm()
        #expect(armed.rows > 0)
        await #expect(throws: MigrationError.self) { try await Self.verifier(pair).arm() }

        // Nothing changed yet.
        let (quiet, _) = try await Self.verifier(pair).assess()
        #expect(quiet.inserted + quiet.updated + quiet.deleted + quiet.conflicts == 0)

        // The workload, as the application would run it on V2 (one statement under replica role).
        let v2 = try await pair.v2Owner()
        func one(_ sql: String) async throws -> String { try #require(try await v2.scalar(sql)) }
        var expected: [String: Set<String>] = [:]
        func expect(_ load: String, _ kind: String, _ key: String, _ columns: [String] = []) {
            expected[load, default: []].insert("\(kind) \(key) \(columns.sorted().joined(separator: ","))")
        }
        let coop = try await one("SELECT id FROM public.cooperatives ORDER BY id LIMIT 1")
        let chef = try await one("SELECT id FROM public.chef_planteurs WHERE cooperative_id = '\(coop)' ORDER BY id LIMIT 1")
        let warehouse = try await one("SELECT id FROM public.warehouses ORDER BY id LIMIT 1")
        let planteur = "5e1c0000-0000-4000-8000-00000000000a"
        try await v2.execute("""
            INSERT INTO public.planteurs (id, chef_planteur_id, cooperative_id, first_name, last_name, phone, village, gender, birth_year, farm_size_ha, certifications, created_at, updated_at)
            VALUES ('\(planteur)', '\(chef)', '\(coop)', 'Awa', 'Koné', '+2250701020304', 'Daloa', 'F', 1980, 2.50, '{fairtrade}', '2026-12-05 05:00:00+00', '2026-12-05 05:00:00+00')
            """)
        expect("planteurs", "inserted", planteur)
        let newDeliveries = ["5e1c0000-0000-4000-8000-0000000000d1", "5e1c0000-0000-4000-8000-0000000000d2"]
        for (n, d) in newDeliveries.enumerated() {
            try await v2.execute("""
                INSERT INTO public.deliveries (id, planteur_id, warehouse_id, delivered_on, weight_kg, bags, quality_grade, price_per_kg, total_amount, notes, created_at, updated_at)
                VALUES ('\(d)', '\(planteur)', '\(warehouse)', '2026-12-05', \(100 + n).50, 2, 'grade_a', 1500, \(1500 * (100 + n) + 750), 'après cutover', '2026-12-05 06:00:00+00', '2026-12-05 06:00:00+00')
                """)
            expect("deliveries", "inserted", d)
        }
        let photo = "5e1c0000-0000-4000-8000-0000000000f1"
        try await v2.execute("INSERT INTO public.delivery_photos (id, delivery_id, storage_path, caption, created_at) VALUES ('\(photo)', '\(newDeliveries[0])', 'delivery-photos/2026/12/new.jpg', 'new', '2026-12-05 06:01:00+00')")
        expect("delivery_photos", "inserted", photo)
        // A sign-up through Supabase Auth, as GoTrue writes it (internal/models/user.go, identity.go:
        // empty tokens, its own timestamps, the identity's data copied into the user metadata, an
        // email identity with a random id signed in at once), and the profile the app makes.
        let user = "5e1c0000-0000-4000-8000-0000000000e1"
        try await v2.execute("""
            INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at, last_sign_in_at, raw_app_meta_data, raw_user_meta_data,
                                    created_at, updated_at, confirmation_token, recovery_token, email_change_token_new, email_change)
            VALUES ('00000000-0000-0000-0000-000000000000', '\(user)', 'authenticated', 'authenticated', 'new.agent@cocoatrack.ci', '$2a$10$abcdefghijklmnopqrstuuA1B2C3D4E5F6G7H8I9J0K1L2M3N4O5P6',
                    '2026-12-05 07:00:00.734+00', '2026-12-05 07:00:00.812+00', '{"provider":"email","providers":["email"]}',
                    '{"sub": "\(user)", "email": "new.agent@cocoatrack.ci", "full_name": "Nouvel Agent", "email_verified": true, "phone_verified": false}',
                    '2026-12-05 07:00:00.611+00', '2026-12-05 07:00:00.812+00', '', '', '', '');
            INSERT INTO auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
            VALUES ('\(user)', '\(user)', '{"sub": "\(user)", "email": "new.agent@cocoatrack.ci", "email_verified": false, "phone_verified": false}', 'email',
                    '2026-12-05 07:00:00.812+00', '2026-12-05 07:00:00.652+00', '2026-12-05 07:00:00.652+00');
            INSERT INTO public.profiles (id, email, full_name, role, cooperative_id, phone, is_active, created_at, updated_at)
            VALUES ('\(user)', 'new.agent@cocoatrack.ci', 'Nouvel Agent', 'field_agent', '\(coop)', NULL, true, '2026-12-05 07:00:00+00', '2026-12-05 07:00:00+00')
            """)
        // A migrated user signs in through Supabase Auth: GoTrue moves last_sign_in_at (and
        // updated_at) on the user and its identity, and starts a session; the profile is untouched.
        let signedIn = try await one("SELECT p.id FROM public.profiles p JOIN auth.identities i ON i.user_id = p.id WHERE p.is_active ORDER BY p.id LIMIT 1")
        try await v2.execute("""
            UPDATE auth.users SET last_sign_in_at = '2026-12-06 08:30:00.25+00', updated_at = '2026-12-06 08:30:00.25+00' WHERE id = '\(signedIn)';
            UPDATE auth.identities SET last_sign_in_at = '2026-12-06 08:30:00.25+00', updated_at = '2026-12-06 08:30:00.25+00' WHERE user_id = '\(signedIn)';
            INSERT INTO auth.sessions (id, user_id, created_at, updated_at, aal) VALUES (gen_random_uuid(), '\(signedIn)', now(), now(), 'aal1');
            """)
        expect("auth_users", "updated", signedIn, ["last_sign_in_at"])
        expect("auth_identities", "updated", signedIn, ["last_sign_in_at"])
        expect("profiles", "updated", signedIn, ["last_login_at"])
        expect("auth_users", "inserted", user)
        expect("profiles", "inserted", user)
        // Updates of migrated rows: an enum, the array, a timestamp, jsonb (under replica role), a nullable reference.
        var used: [String] = [newDeliveries[0], newDeliveries[1]]
        func pickDelivery(_ condition: String) async throws -> String {
            let id = try await one("SELECT id FROM public.deliveries WHERE \(condition) AND id::text <> ALL('{\(used.joined(separator: ","))}') ORDER BY id LIMIT 1")
            used.append(id)
            return id
        }
        let graded = try await pickDelivery("quality_grade = 'grade_a'")
        try await v2.execute("UPDATE public.deliveries SET quality_grade = 'grade_b' WHERE id = '\(graded)'")
        expect("deliveries", "updated", graded, ["quality_grade"])
        let retimed = try await pickDelivery("true")
        try await v2.execute("UPDATE public.deliveries SET updated_at = updated_at + interval '1 hour' WHERE id = '\(retimed)'")
        expect("deliveries", "updated", retimed, ["updated_at"])
        let unbilled = try await pickDelivery("invoice_id IS NOT NULL")
        try await v2.execute("UPDATE public.deliveries SET invoice_id = NULL WHERE id = '\(unbilled)'")
        expect("deliveries", "updated", unbilled, ["invoice_id"])
        let certified = try await one("SELECT id FROM public.planteurs ORDER BY id LIMIT 1")
        try await v2.execute("UPDATE public.planteurs SET certifications = '{fairtrade,organic}' WHERE id = '\(certified)'")
        if try await one("SELECT certifications = '{fairtrade,organic}' FROM public.planteurs WHERE id = '\(certified)'") == "t" {
            // the row already had exactly that list: make a different one
            try await v2.execute("UPDATE public.planteurs SET certifications = '{rainforest}' WHERE id = '\(certified)'")
        }
        expect("planteurs", "updated", certified, ["certifications"])
        let audited = try await one("SELECT id FROM public.audit_log ORDER BY id LIMIT 1")
        try await v2.execute("SET session_replication_role = replica; UPDATE public.audit_log SET new_data = '{\"status\": \"paid\", \"by\": \"v2\"}' WHERE id = '\(audited)'; SET session_replication_role = origin")
        expect("audit_log", "updated", audited, ["new_data"])
        // A delete of a migrated delivery that has photos (they cascade).
        let removed = try await one("SELECT d.id FROM public.deliveries d WHERE EXISTS (SELECT 1 FROM public.delivery_photos p WHERE p.delivery_id = d.id) AND d.id::text <> ALL('{\(used.joined(separator: ","))}') ORDER BY d.id LIMIT 1")
        for p in try await v2.query("SELECT id FROM public.delivery_photos WHERE delivery_id = '\(removed)'").rows { expect("delivery_photos", "deleted", p[0]!) }
        try await v2.execute("DELETE FROM public.deliveries WHERE id = '\(removed)'")
        expect("deliveries", "deleted", removed)
        // Changes that cannot go back: a fractional XOF amount, a village longer than V1's varchar(100).
        let fractional = try await one("SELECT id FROM public.invoices ORDER BY id LIMIT 1")
        try await v2.execute("UPDATE public.invoices SET total_amount = total_amount + 0.50 WHERE id = '\(fractional)'")
        expect("invoices", "updated", fractional, ["total_amount"])
        let longVillage = try await one("SELECT id FROM public.planteurs WHERE id <> '\(certified)' ORDER BY id LIMIT 1")
        try await v2.execute("UPDATE public.planteurs SET village = repeat('Yamoussoukro ', 12) WHERE id = '\(longVillage)'")
        expect("planteurs", "updated", longVillage, ["village"])
        await v2.close()

        // assess: exactly the workload.
        let (assessed, _) = try await Self.verifier(pair).assess()
        #expect(Self.changeSet(assessed) == expected)
        #expect(assessed.conflicts == 0 && assessed.v1ChangedAfterCutover == 0)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ctm-assess-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cli = try await CLI.run(["assess-v2-changes", "--export", dir], env: VerifyTests.env(pair))
        #expect(cli.status == 0, "\(cli.stderr.suffix(500))")
        let exported = try ChangeReport.decode(String(contentsOfFile: dir + "/report.json", encoding: .utf8))
        #expect(Self.changeSet(exported) == expected)
        // Inserted and deleted rows come with their values (report.json and the page).
        let insertedPlanteur = try #require(exported.tables.first { $0.load == "planteurs" }?.changes.first { $0.key == planteur })
        let values = Dictionary(uniqueKeysWithValues: (insertedPlanteur.values ?? []).map { ($0.column, $0.after) })
        #expect(values["first_name"] == "Awa" && values["village"] == "Daloa" && insertedPlanteur.values?.allSatisfy { $0.before == nil } == true, "\(values)")
        let deletedDelivery = try #require(exported.tables.first { $0.load == "deliveries" }?.changes.first { $0.key == removed })
        #expect((deletedDelivery.values ?? []).contains { $0.column == "weight_kg" && $0.before != nil && $0.after == nil }, "\(deletedDelivery)")
        let assessPage = try await ReportDOM.open(dir + "/report.html")
        assessPage.expectReport(verdict: "warn", contains: ["\(exported.inserted) inserted, \(exported.updated) updated, \(exported.deleted) deleted in V2"])
        #expect(assessPage.dom.contains("data-kind=\"inserted\" data-key=\"\(planteur)\" data-column=\"village\"><td></td><td></td><td class=\"num\"></td><td>village</td><td></td><td><code>\"Daloa\"</code></td>"))
        #expect(assessPage.dom.contains("data-kind=\"deleted\" data-key=\"\(removed)\" data-column=\"weight_kg\""))
        #expect(assessPage.text.contains("\"Awa\"") && assessPage.text.contains("\"après cutover\""))

        // sync: everything but the two conflicts, parents before children.
        let v1Max = try await pair.v1Admin().using { try await $0.scalar("SELECT max(id) FROM public.planteurs") }
        let sync = try await CLI.run(["sync-v2-to-v1", "--yes", "--no-snapshot", "--json"], env: VerifyTests.env(pair))
        #expect(sync.status == 3, "conflicts remain: \(sync.stderr.suffix(800))")
        let syncJSON = CLI.jsonObjects(sync)
        #expect(syncJSON.count == 1 && (syncJSON.first?["conflicts"] as? [Any])?.count == 2, "stdout is the sync report alone: \(sync.stdout.prefix(400))")
        let conflicts = Set(sync.stderr.split(separator: "\n").filter { $0.contains("conflict ") }.map(String.init))
        #expect(conflicts.count == 2 && conflicts.contains { $0.contains(fractional) && $0.contains("fractional_amount") }
                && conflicts.contains { $0.contains(longVillage) && $0.contains("no_faithful_v1_form") }, "\(conflicts)")

        // V1 read back independently.
        let v1 = try await pair.v1Admin()
        let newPlanteur = try #require(try await v1.query("SELECT p.id, p.first_name, p.village, p.certifications, p.created_at::text, p.cooperative_id FROM public.planteurs p JOIN cocoatrack_sync.pairings s ON s.source_table = 'planteurs' AND s.source_id = p.id WHERE s.target_key = '\(planteur)'").rows.first)
        #expect(newPlanteur[1] == "Awa" && newPlanteur[2] == "Daloa" && newPlanteur[3] == "fairtrade" && newPlanteur[4] == "2026-12-05 05:00:00")
        #expect(Int64(newPlanteur[0]!)! > Int64(v1Max!)!, "a new V1 id")
        #expect(try await v1.scalar("SELECT last_value >= \(newPlanteur[0]!) FROM public.planteurs_id_seq") == "t", "the sequence is past it")
        let newDeliveryRows = try await v1.query("SELECT planteur_id, quality_grade, total_amount_fcfa, notes FROM public.deliveries WHERE planteur_id = \(newPlanteur[0]!) ORDER BY total_amount_fcfa").rows
        #expect(newDeliveryRows.map { $0[1]! } == ["A", "A"] && newDeliveryRows.map { $0[2]! } == ["150750", "152250"] && newDeliveryRows.first?[3] == "après cutover",
                "\(newDeliveryRows)")
        #expect(try await v1.scalar("SELECT url FROM public.delivery_photos p JOIN cocoatrack_sync.pairings s ON s.source_table = 'delivery_photos' AND s.source_id = p.id WHERE s.target_key = '\(photo)'")
                == "https://cocoatrackv1.blob.core.windows.net/photos/2026/12/new.jpg")
        let newUser = try #require(try await v1.query("SELECT email, role, full_name, password_hash, is_active FROM public.users WHERE email = 'new.agent@cocoatrack.ci'").rows.first)
        #expect(newUser[1] == "agent" && newUser[2] == "Nouvel Agent" && newUser[3]!.hasPrefix("$2a$10$") && newUser[4] == "t")
        #expect(try await v1.scalar("SELECT last_login_at::text || ' ' || created_at::text FROM public.users WHERE email = 'new.agent@cocoatrack.ci'")
                == "2026-12-05 07:00:00.812 2026-12-05 07:00:00", "the sign-up's sign-in time, the profile's creation time")
        func v1ID(_ table: String, _ key: String) async throws -> Int64? {
            try await v1.query("SELECT id FROM public.\(table)").rows.compactMap { Int64($0[0]!) }.first { CocoaTrackRules.uuid(table, String($0)) == key }
        }
        let signedInID = try #require(try await v1ID("users", signedIn))
        #expect(try await v1.scalar("SELECT last_login_at::text FROM public.users WHERE id = \(signedInID)") == "2026-12-06 08:30:00.25",
                "a Supabase Auth sign-in is V1's last_login_at, not a conflict")
        let gradedID = try #require(try await v1ID("deliveries", graded))
        #expect(try await v1.scalar("SELECT quality_grade FROM public.deliveries WHERE id = \(gradedID)") == "B")
        let unbilledID = try #require(try await v1ID("deliveries", unbilled))
        #expect(try await v1.scalar("SELECT invoice_id IS NULL FROM public.deliveries WHERE id = \(unbilledID)") == "t")
        let certifiedID = try #require(try await v1ID("planteurs", certified))
        let certs = try await v1.scalar("SELECT certifications FROM public.planteurs WHERE id = \(certifiedID)")
        #expect(certs == "fairtrade, organic" || certs == "rainforest")
        let auditedID = try #require(try await v1ID("audit_log", audited))
        #expect(try await v1.scalar("SELECT new_data::jsonb = '{\"status\": \"paid\", \"by\": \"v2\"}'::jsonb FROM public.audit_log WHERE id = \(auditedID)") == "t")
        #expect(try await v1ID("deliveries", removed) == nil, "the deleted delivery is gone from V1")
        let fractionalID = try #require(try await v1ID("invoices", fractional))
        #expect(try await v1.scalar("SELECT total_amount_fcfa::text FROM public.invoices WHERE id = \(fractionalID)")?.contains(".") == false, "the conflict was not written")
        let fingerprint = try await fingerprints(v1)
        await v1.close()

        // A second sync changes nothing.
        let again = try await CLI.run(["sync-v2-to-v1", "--yes", "--no-snapshot"], env: VerifyTests.env(pair))
        #expect(again.status == 3)
        #expect(again.stdout.contains("synced 0 rows") || again.stdout.contains("nothing to write"), "\(again.stdout)")
        #expect(try await pair.v1Admin().using { try await fingerprints($0) } == fingerprint)

        // After sync, V2 through the mapping differs from V1 only by the conflicts.
        let (after, _) = try await Self.verifier(pair).assess()
        #expect(Self.changeSet(after) == ["invoices": ["updated \(fractional) total_amount"], "planteurs": ["updated \(longVillage) village"]])

        // The data-loss report lists exactly them, with the reasons.
        let lossDir = dir + "-loss"
        defer { try? FileManager.default.removeItem(atPath: lossDir) }
        let loss = try await CLI.run(["data-loss-report", "--export", lossDir], env: VerifyTests.env(pair))
        #expect(loss.status == 3)
        let lossReport = try ChangeReport.decode(String(contentsOfFile: lossDir + "/report.json", encoding: .utf8))
        // The verdict at the top: how many V2 changes reached V1, how many are left.
        let verdict = try #require(lossReport.dataLoss)
        #expect(verdict.left == 2 && verdict.reachedV1 >= 10, "the workload's synced changes and its 2 conflicts: \(verdict)")
        #expect(try String(contentsOfFile: lossDir + "/report.md", encoding: .utf8).contains("DATA WOULD BE LOST: \(verdict.reachedV1) V2 changes reached V1"))
        // What the sync wrote, by V1 table and kind, adds up to what reached V1, and the headline counts it (not 0 inserted, 0 updated, 0 deleted).
        let synced = try #require(verdict.synced)
        #expect(synced.values.flatMap(\.values).reduce(0, +) == verdict.reachedV1 && (synced["planteurs"]?["inserted"] ?? 0) >= 1, "\(synced)")
        let kinds = verdict.syncedByKind
        let lossPage = try await ReportDOM.open(lossDir + "/report.html")
        lossPage.expectReport(verdict: "fail", contains: ["DATA WOULD BE LOST", "(\(kinds["inserted"] ?? 0) inserted, \(kinds["updated"] ?? 0) updated, \(kinds["deleted"] ?? 0) deleted in V1)", "2 left"])
        #expect(lossPage.dom.contains("<tr data-table=\"planteurs\">") && !lossPage.dom.contains("id=\"lacks-nothing\""))
        #expect(lossPage.dom.components(separatedBy: "class=\"change\"").count - 1 == 2, "the two changes V1 lacks, listed")
        let lost = lossReport.tables.flatMap { t in t.changes.map { "\(t.load) \($0.key)" } }
        #expect(Set(lost) == ["invoices \(fractional)", "planteurs \(longVillage)"])
        let reasons = lossReport.tables.flatMap { $0.changes.flatMap(\.columns) }.map(\.column).filter { $0.hasPrefix("sync: ") }
        #expect(Set(reasons) == ["sync: fractional_amount", "sync: no_faithful_v1_form"])
    }

    /// DATA_MODEL.md's lossy warning rules turn a V1 value into NULL or another form. A V2 change
    /// of another column of such a row must go back with V1's original value kept, not as a
    /// conflict (`no_faithful_v1_form: created_by would come back as … instead of NULL`).
    @Test("a V2 change next to a column a warning rule made lossy syncs, and V1 keeps its original value")
    func lossyRulesSyncWithoutConflict() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("lossy")
        try await MigrationFixture.generate(pair, scale: 0.004, seed: 32, dirty: 0.05)
        try await MigrationFixture.migrate(pair)
        _ = try await Self.verifier(pair).arm()
        let v2 = try await pair.v2Owner()
        let v1 = try await pair.v1Admin()
        /// (load, V1 table, warning rule, lossy V1 column, V2 table, V2 column to change, new value)
        let cases: [(String, String, String, String, String, String, String)] = [
            ("deliveries", "deliveries", "reference_to_rejected_row", "agent_id", "deliveries", "notes", "changed in V2"),
            ("deliveries", "deliveries", "dangling_reference", "agent_id", "deliveries", "bags", "7"),
            ("profiles", "users", "invalid_phone", "phone", "profiles", "full_name", "Renamed In V2"),
            ("planteurs", "planteurs", "dangling_reference", "chef_planteur_id", "planteurs", "village", "Bouaflé"),
            ("audit_log", "audit_log", "invalid_json", "old_data", "audit_log", "action", "v2_action"),
            ("audit_log", "audit_log", "invalid_ip_address", "ip_address", "audit_log", "action", "v2_action_ip"),
        ]
        var used: Set<Int64> = []
        var checks: [(String, Int64, String, String?, String, String)] = []
        for (load, table, rule, lossy, target, column, value) in cases {
            let ids = try await v2.query("""
                SELECT DISTINCT source_id FROM cocoatrack_migration.row_issues
                WHERE load_name = $1 AND rule = $2 AND column_name = $3 AND kind = 'warning' ORDER BY source_id
                """, [load, rule, lossy]).rows.compactMap { Int64($0[0]!) }
            let id = try #require(ids.first { !used.contains($0) }, "the generated data has a \(load) row under \(rule) (\(lossy))")
            used.insert(id)
            let original = try await v1.scalar("SELECT \(lossy)::text FROM public.\(table) WHERE id = \(id)")
            let key = CocoaTrackRules.uuid(table, String(id))
            try await v2.execute("SET session_replication_role = replica; UPDATE public.\(target) SET \(column) = '\(value)' WHERE id = '\(key)'; SET session_replication_role = origin")
            checks.append((table, id, lossy, original, column, value))
        }
        // A lossy column itself changed in V2 to a value its rule would not give back (a phone
        // that is not an Ivorian number): that one is a conflict, naming the column.
        let withPhones = try await v1.query("SELECT id FROM public.users WHERE phone IS NOT NULL ORDER BY id").rows.compactMap { Int64($0[0]!) }.filter { !used.contains($0) }
        var phoneUser: Int64?
        for id in withPhones where try await v2.scalar("SELECT count(*) FROM public.profiles WHERE id = '\(CocoaTrackRules.uuid("users", String(id)))'") == "1" {
            phoneUser = id
            break
        }
        let phoneUserID = try #require(phoneUser, "a migrated user with a phone")
        let phoneKey = CocoaTrackRules.uuid("users", String(phoneUserID))
        let phoneBefore = try await v1.scalar("SELECT phone FROM public.users WHERE id = \(phoneUserID)")
        let phoneInV2 = try #require(try await v2.scalar("SELECT phone FROM public.profiles WHERE id = '\(phoneKey)'"))
        try await v2.execute("UPDATE public.profiles SET phone = '12345' WHERE id = '\(phoneKey)'")
        await v2.close()
        let sync = try await CLI.run(["sync-v2-to-v1", "--yes", "--no-snapshot"], env: VerifyTests.env(pair))
        let conflicts = sync.stderr.split(separator: "\n").filter { $0.contains("conflict ") }
        #expect(sync.status == 3 && conflicts.count == 1 && conflicts.allSatisfy { $0.contains(phoneKey) && $0.contains("phone would come back as NULL instead of 12345") },
                "only the changed lossy column is a conflict: \(conflicts.prefix(8))")
        #expect(try await v1.scalar("SELECT phone FROM public.users WHERE id = \(phoneUserID)") == phoneBefore, "the conflict was not written")
        let v1Column: [String: String] = ["full_name": "full_name", "notes": "notes", "bags": "bags", "village": "village", "action": "action"]
        for (table, id, lossy, original, column, value) in checks {
            #expect(try await v1.scalar("SELECT \(v1Column[column]!)::text FROM public.\(table) WHERE id = \(id)") == value, "\(table) \(id): the V2 change reached V1")
            #expect(try await v1.scalar("SELECT \(lossy)::text FROM public.\(table) WHERE id = \(id)") == original, "\(table) \(id): V1 keeps its \(lossy)")
        }
        // And nothing is left for a second sync, nor lost, but that conflict.
        let (after, _) = try await Self.verifier(pair).assess()
        #expect(after.conflicts == 0 && Self.changeSet(after) == ["profiles": ["updated \(phoneKey) phone"]], "\(Self.changeSet(after))")
        let v2c = try await pair.v2Owner()
        // A person settles it in V2 (back to the migrated phone): nothing is left.
        try await v2c.execute("UPDATE public.profiles SET phone = '\(phoneInV2)' WHERE id = '\(phoneKey)'")
        await v2c.close()

        // The preview's assessment serves the write; a row that moves in between is not written
        // from the older picture.
        let v2b = try await pair.v2Owner()
        let moving = try #require(try await v2b.scalar("SELECT id::text FROM public.deliveries ORDER BY id DESC LIMIT 1"))
        try await v2b.execute("UPDATE public.deliveries SET notes = 'first' WHERE id = '\(moving)'")
        let sync2 = ReverseSync(verifier: try await Self.verifier(pair), dryRun: false)
        let assessment = try await sync2.assess()
        try await v2b.execute("UPDATE public.deliveries SET notes = 'second' WHERE id = '\(moving)'")
        await v2b.close()
        let stale = try await sync2.run(assessment)
        #expect(stale.conflicts.map(\.reason) == ["changed_since_assessment"] && stale.total == 0, "\(stale.conflicts.map(\.reason)) \(stale.total)")
        let movingID = try #require(try await v1.query("SELECT id FROM public.deliveries").rows.compactMap { Int64($0[0]!) }.first { CocoaTrackRules.uuid("deliveries", String($0)) == moving })
        #expect(try await v1.scalar("SELECT coalesce(notes, 'NULL') FROM public.deliveries WHERE id = \(movingID)") != "first")
        let fresh = try await ReverseSync(verifier: try await Self.verifier(pair), dryRun: false).run()
        #expect(fresh.conflicts.isEmpty && fresh.total == 1)
        #expect(try await v1.scalar("SELECT notes FROM public.deliveries WHERE id = \(movingID)") == "second")

        // A row V1 itself refuses (a constraint V2 lacks) is a conflict; the rows written before
        // and after it in the same batch stay written.
        try await v1.execute("ALTER TABLE public.deliveries ADD CONSTRAINT no_refusals CHECK (notes IS DISTINCT FROM 'refuse me') NOT VALID")
        let v2d = try await pair.v2Owner()
        let three = try await v2d.query("SELECT id::text FROM public.deliveries ORDER BY id LIMIT 3").rows.map { $0[0]! }
        for (n, key) in three.enumerated() {
            try await v2d.execute("UPDATE public.deliveries SET notes = '\(n == 1 ? "refuse me" : "kept \(n)")' WHERE id = '\(key)'")
        }
        await v2d.close()
        let refused = try await ReverseSync(verifier: try await Self.verifier(pair), dryRun: false).run()
        #expect(refused.conflicts.map { "\($0.reason) \($0.key)" } == ["refused_by_v1 \(three[1])"] && refused.total == 2, "\(refused.conflicts.map(\.reason)) \(refused.total)")
        for (n, key) in three.enumerated() where n != 1 {
            let id = try #require(try await v1.query("SELECT id FROM public.deliveries").rows.compactMap { Int64($0[0]!) }.first { CocoaTrackRules.uuid("deliveries", String($0)) == key })
            #expect(try await v1.scalar("SELECT notes FROM public.deliveries WHERE id = \(id)") == "kept \(n)")
        }
        await v1.close()
    }
}

@Suite("after cutover: table digests and lossy columns changed in V2", .serialized)
struct ChangeCaptureDigestTests {
    @Test("a table unchanged on both sides since arming is not read row by row; a content-only V2 change or any V1 change makes it read")
    func tableDigests() async throws {
        let pair = try await TestSandbox.shared.freshPair("digests")
        try await MigrationFixture.generate(pair, scale: 0.002, seed: 37)
        try await MigrationFixture.migrate(pair)
        _ = try await ChangeCaptureTests.verifier(pair).arm()
        func skipped(_ r: ChangeReport) -> Set<String> { Set(r.tables.filter { $0.unchangedByTableDigest == true }.map(\.load)) }
        let (quiet, _) = try await ChangeCaptureTests.verifier(pair).assess()
        let all = Set(quiet.tables.map(\.load))
        #expect(all.count > 5 && skipped(quiet) == all, "nothing moved: every table is skipped (\(skipped(quiet).sorted()))")

        // One V2 row's text changed, the row count not: that table alone is read, and the change found.
        let v2 = try await pair.v2Owner()
        let delivery = try #require(try await v2.scalar("SELECT id::text FROM public.deliveries ORDER BY id LIMIT 1"))
        try await v2.execute("UPDATE public.deliveries SET bags = bags + 1 WHERE id = '\(delivery)'")
        await v2.close()
        let (one, _) = try await ChangeCaptureTests.verifier(pair).assess()
        #expect(skipped(one) == all.subtracting(["deliveries"]), "\(skipped(one).sorted())")
        #expect(one.updated == 1 && ChangeCaptureTests.changeSet(one) == ["deliveries": ["updated \(delivery) bags"]], "\(ChangeCaptureTests.changeSet(one))")

        // A V1 row changed after cutover: no table is skipped (the rejected ids recorded at
        // arming may no longer hold), and the V1 change is found.
        let v1 = try await pair.v1Admin()
        let region = try #require(try await v1.scalar("SELECT min(id)::text FROM public.regions"))
        let name = try #require(try await v1.scalar("SELECT name FROM public.regions WHERE id = \(region)"))
        try await v1.execute("UPDATE public.regions SET name = 'Moved In V1' WHERE id = \(region)")
        let (moved, _) = try await ChangeCaptureTests.verifier(pair).assess()
        #expect(skipped(moved).isEmpty, "\(skipped(moved).sorted())")
        #expect(moved.v1ChangedAfterCutover == 1 && moved.updated == 1, "\(moved.v1ChangedAfterCutover) \(moved.updated)")
        // Put back as it was: the digest is of content, so the tables are skipped again.
        try await v1.execute("UPDATE public.regions SET name = '\(name.replacingOccurrences(of: "'", with: "''"))' WHERE id = \(region)")
        await v1.close()
        let (back, _) = try await ChangeCaptureTests.verifier(pair).assess()
        #expect(skipped(back) == all.subtracting(["deliveries"]) && back.updated == 1, "\(skipped(back).sorted())")
    }

    @Test("a lossy column itself changed in V2: written when the new value has a faithful V1 form, else a conflict naming the column")
    func lossyColumnsChangedInV2() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("lossycol")
        try await MigrationFixture.generate(pair, scale: 0.004, seed: 33, dirty: 0.05)
        try await MigrationFixture.migrate(pair)
        let v2 = try await pair.v2Owner()
        let v1 = try await pair.v1Admin()
        // A dashboard user present in V2 before cutover, never in V1: a reference to it has no V1 form.
        let foreign = "5e1c0000-0000-4000-8000-0000000000aa"
        let coop = try #require(try await v2.scalar("SELECT id::text FROM public.cooperatives ORDER BY id LIMIT 1"))
        try await v2.execute("""
            INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at, raw_app_meta_data, raw_user_meta_data,
                                    created_at, updated_at, confirmation_token, recovery_token, email_change_token_new, email_change)
            VALUES ('00000000-0000-0000-0000-000000000000', '\(foreign)', 'authenticated', 'authenticated', 'dashboard.admin@cocoatrack.ci', '$2a$10$abcdefghijklmnopqrstuuA1B2C3D4E5F6G7H8I9J0K1L2M3N4O5P6',
                    '2026-12-01 07:00:00+00', '{"provider":"email","providers":["email"]}', '{}', '2026-12-01 07:00:00+00', '2026-12-01 07:00:00+00', '', '', '', '');
            INSERT INTO public.profiles (id, email, full_name, role, cooperative_id, phone, is_active, created_at, updated_at)
            VALUES ('\(foreign)', 'dashboard.admin@cocoatrack.ci', 'Dashboard Admin', 'admin', '\(coop)', NULL, true, '2026-12-01 07:00:00+00', '2026-12-01 07:00:00+00')
            """)
        _ = try await ChangeCaptureTests.verifier(pair).arm()
        /// The first V1 row of `table` that the migration wrote to V2.
        func migrated(_ table: String, _ v2Table: String) async throws -> String {
            for row in try await v1.query("SELECT id::text FROM public.\(table) ORDER BY id LIMIT 50").rows {
                if try await v2.scalar("SELECT count(*) FROM public.\(v2Table) WHERE id = '\(CocoaTrackRules.uuid(table, row[0]!))'") == "1" { return row[0]! }
            }
            throw MigrationError(.internal, "no migrated \(table) row among the first 50")
        }
        let migratedUser = try await migrated("users", "profiles")
        let migratedKey = CocoaTrackRules.uuid("users", migratedUser)
        let chef = try await migrated("chef_planteurs", "chef_planteurs")

        /// (load, V1 table, warning rule, lossy V1 column, V2 column, new V2 value as SQL, expected: V1 value after sync, or nil for a conflict naming the column)
        let cases: [(String, String, String, String, String, String, String?)] = [
            ("deliveries", "deliveries", "reference_to_rejected_row", "agent_id", "created_by", "'\(migratedKey)'", migratedUser),
            ("deliveries", "deliveries", "dangling_reference", "agent_id", "created_by", "'\(foreign)'", nil),
            ("planteurs", "planteurs", "dangling_reference", "chef_planteur_id", "chef_planteur_id", "'\(CocoaTrackRules.uuid("chef_planteurs", chef))'", chef),
            ("profiles", "users", "invalid_phone", "phone", "phone", "'12345'", nil),
            ("audit_log", "audit_log", "invalid_json", "old_data", "old_data", #"'{"_unparsed": "{\"a\": 1}"}'"#, nil),
            ("audit_log", "audit_log", "invalid_ip_address", "ip_address", "ip_address", "'10.9.8.7'", "10.9.8.7"),
        ]
        var used: Set<Int64> = []
        var checks: [(table: String, id: Int64, key: String, lossy: String, column: String, original: String?, expected: String?)] = []
        for (load, table, rule, lossy, column, value, expected) in cases {
            let ids = try await v2.query("""
                SELECT DISTINCT source_id FROM cocoatrack_migration.row_issues
                WHERE load_name = $1 AND rule = $2 AND column_name = $3 AND kind = 'warning' ORDER BY source_id
                """, [load, rule, lossy]).rows.compactMap { Int64($0[0]!) }
            var picked: Int64?
            for id in ids where !used.contains(id) {
                let key = CocoaTrackRules.uuid(table, String(id))
                if try await v2.scalar("SELECT count(*) FROM public.\(load == "profiles" ? "profiles" : table) WHERE id = '\(key)'") == "1" { picked = id; break }
            }
            let id = try #require(picked, "the generated data has a migrated \(load) row under \(rule) (\(lossy))")
            used.insert(id)
            let key = CocoaTrackRules.uuid(table, String(id))
            let original = try await v1.scalar("SELECT \(lossy)::text FROM public.\(table) WHERE id = \(id)")
            try await v2.execute("SET session_replication_role = replica; UPDATE public.\(load == "profiles" ? "profiles" : table) SET \(column) = \(value) WHERE id = '\(key)'; SET session_replication_role = origin")
            checks.append((table, id, key, lossy, column, original, expected))
        }
        await v2.close()
        let sync = try await CLI.run(["sync-v2-to-v1", "--yes", "--no-snapshot"], env: VerifyTests.env(pair))
        let conflicts = sync.stderr.split(separator: "\n").filter { $0.contains("conflict ") }.map(String.init)
        let expectedConflicts = checks.filter { $0.expected == nil }
        #expect(sync.status == 3 && conflicts.count == expectedConflicts.count, "\(conflicts)")
        for c in checks {
            let now = try await v1.scalar("SELECT \(c.lossy)::text FROM public.\(c.table) WHERE id = \(c.id)")
            if let expected = c.expected {
                #expect(now == expected, "\(c.table) \(c.id): the V2 change of \(c.column) reached V1 as \(expected), not \(now ?? "NULL")")
                #expect(!conflicts.contains { $0.contains(c.key) }, "\(c.table) \(c.id) is no conflict")
            } else {
                #expect(now == c.original, "\(c.table) \(c.id): the conflict was not written, V1 keeps its \(c.lossy)")
                #expect(conflicts.contains { $0.contains(c.key) && $0.contains(c.column) }, "\(c.table) \(c.id): a conflict naming \(c.column): \(conflicts)")
            }
        }
        await v1.close()
    }
}
