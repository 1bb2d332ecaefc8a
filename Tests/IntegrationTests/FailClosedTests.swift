import CocoaTrack
import Foundation
import MigrationEngine
import Sandbox
import Testing

/// Issue #15, deliverables 4, 6 and 7 (the full disk is `DiskFullTests`): foreign keys whose
/// validation is cancelled stay journaled and are validated by the next run; a key V2 holds
/// NOT VALID fails verify, preflight and migrate; revoked functions are reported by preflight and
/// nothing is dropped before they are known; two SIGINTs at once stop at a safe point.
@Suite("Fail closed: foreign keys, grants, Ctrl+C")
struct FailClosedTests {
    static let state = MigrationState(schema: CocoaTrackMapping.stateSchema)

    /// Foreign keys of V2's public schema: "table.name" → validated.
    static func foreignKeys(_ c: PGConnection) async throws -> [String: Bool] {
        let rows = try await c.query("""
            SELECT n.nspname || '.' || c.relname || '.' || k.conname, k.convalidated FROM pg_constraint k
            JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE k.contype = 'f' AND n.nspname = 'public'
            """).rows
        return Dictionary(uniqueKeysWithValues: rows.map { ($0[0]!, $0[1] == "t") })
    }

    static func journaled(_ c: PGConnection) async throws -> Set<String> {
        Set(try await c.query("SELECT table_name || '.' || object_name FROM cocoatrack_migration.dropped_ddl WHERE kind = 'foreign_key'").rows.map { $0[0]! })
    }

    /// Sets the foreign keys that reference `table` aside in the journal exactly as migrate does
    /// (its keys and indexes come straight back): the state a load leaves before validation.
    static func journalForeignKeys(referencing table: TableName, _ pair: DatabasePair) async throws -> Set<String> {
        let migrator = try await MigrationFixture.migrator(pair)
        let journal = DDLJournal(state: state)
        return try await pair.v2Owner().using { c in
            let n = try await journal.drop(c, tables: [table], loadSet: Set(migrator.plan.loads.map(\.target)), runID: UUID().uuidString.lowercased())
            #expect(n > 0)
            try await journal.restore(c, table: table.description, kinds: ["index", "constraint"])
            return try await journaled(c)
        }
    }

    /// Waits until a backend of this database waits for a lock in `ALTER TABLE`; returns its pid.
    static func blockedAlter(_ admin: PGConnection) async throws -> String? {
        for _ in 0..<3000 {
            if let pid = try await admin.scalar("""
                SELECT pid::text FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
                  AND query ILIKE 'ALTER TABLE%' AND pid <> pg_backend_pid() LIMIT 1
                """) { return pid }
            try await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    @Test("a foreign key validation cancelled (task cancelled, or pg_cancel_backend) leaves the key journaled, never NOT VALID; the next migrate validates it")
    func cancelledValidation() async throws {
        let pair = try await TestSandbox.shared.freshPair("fkcancel")
        try await MigrationFixture.generate(pair)
        try await MigrationFixture.migrate(pair)
        let before = try await pair.v2Owner().using { try await Self.foreignKeys($0) }
        #expect(!before.isEmpty && before.values.allSatisfy { $0 })
        let parent = TableName("public", "planteurs")
        let journaledKeys = try await Self.journalForeignKeys(referencing: parent, pair)
        try #require(!journaledKeys.isEmpty, "foreign keys referencing planteurs are journaled")

        for how in ["task cancelled (as the task group does when a load fails)", "pg_cancel_backend from another session"] {
            // The test holds a lock that ADD FOREIGN KEY waits for: the validation is surely running when cancelled.
            let holder = try await pair.v2Super()
            try await holder.execute("BEGIN; LOCK TABLE public.planteurs IN SHARE MODE")
            let worker = try await pair.v2Owner()
            let restoring = Task { try await DDLJournal(state: Self.state).restore(worker) { $0.kind == "foreign_key" } }
            let admin = try await pair.v2Super()
            let pid = try await Self.blockedAlter(admin)
            #expect(pid != nil, "\(how): the validation waits on the test's lock")
            if how.hasPrefix("task") {
                restoring.cancel()
            } else if let pid {
                #expect(try await admin.scalar("SELECT pg_cancel_backend(\(pid))") == "t")
            }
            let outcome = await restoring.result
            var thrown = false
            if case .failure = outcome { thrown = true }
            #expect(thrown, "\(how): a cancelled validation is an error, not a broken key: \(outcome)")
            try await holder.execute("ROLLBACK")
            await holder.close()
            await worker.close()
            let keys = try await Self.foreignKeys(admin)
            let stillJournaled = try await Self.journaled(admin)
            #expect(keys.values.allSatisfy { $0 }, "\(how): no key left NOT VALID: \(keys.filter { !$0.value })")
            #expect(stillJournaled == journaledKeys, "\(how): the journal keeps every key until it validates: \(stillJournaled)")
            await admin.close()
        }

        // A key an earlier version left NOT VALID (present, still journaled) is validated too.
        let oneKey = try #require(journaledKeys.sorted().first)
        try await pair.v2Owner().using { c in
            let sql = try #require(try await c.scalar("SELECT restore_sql FROM cocoatrack_migration.dropped_ddl WHERE table_name || '.' || object_name = $1", [oneKey]))
            try await c.execute(sql + " NOT VALID")
        }
        // The next run (every load done) validates them all and says nothing is wrong.
        let summary = try await MigrationFixture.migrate(pair)
        #expect(summary.alreadyComplete)
        let after = try await pair.v2Owner().using { try await Self.foreignKeys($0) }
        #expect(after == before, "every key back and validated: \(after.filter { !$0.value })")
        #expect(try await pair.v2Owner().using { try await Self.journaled($0) }.isEmpty)
        #expect(try await ReliabilityFaultTests.verifyPasses(pair, "after the keys were validated"))
        Reliability.record("integrity", "foreign key validation cancelled mid-way (task cancelled; `pg_cancel_backend`), then `migrate`", injected: 2,
                           survived: after == before ? 2 : 0, rowsLost: 0,
                           check: "the restore throws; every key stays journaled, none is left NOT VALID; a key left NOT VALID by hand is validated too; the next migrate validates them all (`convalidated`), `verify-integrity` exit 0")
    }

    @Test("a foreign key whose rows do not validate stays NOT VALID and journaled: migrate and verify fail naming it")
    func brokenKeyStaysJournaled() async throws {
        let pair = try await TestSandbox.shared.freshPair("fkbroken")
        try await MigrationFixture.generate(pair)
        try await MigrationFixture.migrate(pair)
        let journaledKeys = try await Self.journalForeignKeys(referencing: TableName("public", "planteurs"), pair)
        let key = try #require(journaledKeys.first { $0.hasPrefix("public.deliveries.") })
        // An orphan, written while the key is set aside.
        try await pair.v2Super().using { c in
            try await c.execute("UPDATE public.deliveries SET planteur_id = gen_random_uuid() WHERE id = (SELECT id FROM public.deliveries ORDER BY id LIMIT 1)")
        }
        let r = try await pair.v2Owner().using { c in try await DDLJournal(state: Self.state).restore(c) { $0.kind == "foreign_key" } }
        #expect(r.broken.map { "\($0.table).\($0.name)" } == [key])
        let keys = try await pair.v2Owner().using { try await Self.foreignKeys($0) }
        #expect(keys[key] == false, "present NOT VALID, so new rows are checked")
        #expect(try await pair.v2Owner().using { try await Self.journaled($0) } == [key], "journaled until it validates")
        let migrate = try await CLI.run(["migrate", "--allow-writable-v1"], env: VerifyTests.env(pair))
        #expect(migrate.status == 3, "\(migrate.stderr.suffix(600))")
        #expect(migrate.stderr.contains(key.split(separator: ".").last!), "\(migrate.stderr.suffix(600))")
        let verify = try await CLI.run(["verify-integrity", "--max-reject-share", "0.1"], env: VerifyTests.env(pair))
        #expect(verify.status == 3)
        #expect(verify.stdout.contains("NOT VALID"), "\(verify.stdout.suffix(800))")
    }

    @Test("a foreign key made NOT VALID by hand fails verify (convalidated, not only orphans), preflight and migrate, naming it")
    func handMadeNotValid() async throws {
        let pair = try await TestSandbox.shared.freshPair("fknotvalid")
        try await MigrationFixture.generate(pair)
        try await MigrationFixture.migrate(pair)
        let env = VerifyTests.env(pair)
        let (table, name, def) = try await pair.v2Owner().using { c in
            let r = try await c.query("""
                SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
                WHERE contype = 'f' AND conrelid = 'public.deliveries'::regclass ORDER BY conname LIMIT 1
                """).rows[0]
            return (r[0]!, r[1]!, r[2]!)
        }
        try await pair.v2Owner().using { c in
            try await c.execute("ALTER TABLE \(table) DROP CONSTRAINT \(SQL.ident(name)); ALTER TABLE \(table) ADD CONSTRAINT \(SQL.ident(name)) \(def) NOT VALID")
        }
        let export = try CutoverRunTests.tempDir("fknotvalid")
        defer { try? FileManager.default.removeItem(atPath: export) }
        let verify = try await CLI.run(["verify-integrity", "--max-reject-share", "0.1", "--export", export], env: env)
        #expect(verify.status == 3, "\(verify.stdout.suffix(600)) \(verify.stderr.suffix(600))")
        let report = try VerifyTests.readReport(export)
        let entry = report.foreignKeys.first { $0.name == name }
        #expect(entry?.validated == false && entry?.orphans == 0, "report.json: validated false, no orphan: \(String(describing: entry))")
        #expect(report.foreignKeys.filter { $0.name != name }.allSatisfy { $0.validated == true })
        let fkLine = verify.stdout.split(separator: "\n").first { $0.contains("foreign_keys") }.map(String.init) ?? ""
        #expect(fkLine.hasPrefix("FAIL") && fkLine.contains(name) && fkLine.contains("NOT VALID"), "\(fkLine)")
        let preflight = try await CLI.run(["preflight"], env: env)
        let pfLine = preflight.stdout.split(separator: "\n").first { $0.contains("foreign keys validated") }.map(String.init) ?? ""
        #expect(preflight.status == 3 && pfLine.contains("MISSING") && pfLine.contains(name) && pfLine.contains("VALIDATE CONSTRAINT"), "\(preflight.stdout)")
        let migrate = try await CLI.run(["migrate", "--allow-writable-v1"], env: env)
        #expect(migrate.status == 3 && migrate.stderr.contains(name) && migrate.stderr.contains("VALIDATE CONSTRAINT"), "\(migrate.stderr.suffix(800))")
        // Validated, everything passes again.
        try await pair.v2Owner().using { try await $0.execute("ALTER TABLE \(table) VALIDATE CONSTRAINT \(SQL.ident(name))") }
        let again = try await CLI.run(["verify-integrity", "--max-reject-share", "0.1"], env: env)
        #expect(again.status == 0, "\(again.stdout.suffix(600))")
        let pfAgain = try await CLI.run(["preflight"], env: env)
        #expect(pfAgain.stdout.contains("[ok] V2 foreign keys validated"), "\(pfAgain.stdout)")
        Reliability.record("integrity", "a foreign key of a migrated table made NOT VALID by hand (no orphan)", injected: 3,
                           survived: [verify.status == 3, preflight.status == 3, migrate.status == 3].filter { $0 }.count,
                           check: "verify-integrity (foreign_keys reads `convalidated`), preflight and migrate exit 3 naming the key and `VALIDATE CONSTRAINT`; after validating it, verify exit 0")
    }

    // MARK: grants

    @Test("pg_control_system() revoked on both sides: preflight says so and passes, migrate, verify and rollback --clear-v2 work; a re-created V1 and V1 = V2 are still refused")
    func controlSystemRevoked() async throws {
        let pair = try await TestSandbox.shared.freshPair("nocontrol")
        try await MigrationFixture.generate(pair)
        for c in [try await pair.v1Super(), try await pair.v2Super()] {
            try await c.execute("REVOKE EXECUTE ON FUNCTION pg_control_system() FROM PUBLIC")
            await c.close()
        }
        let env = VerifyTests.env(pair)
        let preflight = try await CLI.run(["preflight"], env: env)
        let lines = preflight.stdout.split(separator: "\n").filter { $0.contains("EXECUTE pg_control_system()") }
        #expect(lines.count == 2 && lines.allSatisfy { $0.contains("[ok]") && $0.contains("not granted") && $0.contains("GRANT EXECUTE ON FUNCTION pg_control_system()") }, "\(preflight.stdout)")
        let migrate = try await CLI.run(["migrate", "--allow-writable-v1"], env: env)
        #expect(migrate.status == 0, "\(migrate.stderr.suffix(800))")
        let recorded = try await pair.v2Owner().using { try await $0.query("SELECT side, system_id, database_oid FROM cocoatrack_migration.identity ORDER BY side").rows }
        #expect(recorded.count == 2 && recorded.allSatisfy { $0[1] == "" && !($0[2] ?? "").isEmpty }, "\(recorded)")
        #expect(try await ReliabilityFaultTests.verifyPasses(pair, "without pg_control_system"))

        // V1 = V2 (both URLs at V1's database): refused by the live probe, nothing written.
        let same = try await CLI.run(["migrate", "--allow-writable-v1"], env: ["V1_DATABASE_URL": pair.v1URL, "V2_DATABASE_URL": pair.v1URL])
        #expect(same.status == 4 && same.stderr.contains("same database"), "\(same.stderr.suffix(600))")

        // V1 re-created under the same name (a restored copy): refused by its oid.
        try await pair.v1Super(on: "postgres").using { c in
            try await c.execute("DROP DATABASE \(SQL.ident(pair.database))")
            try await c.execute("CREATE DATABASE \(SQL.ident(pair.database)) TEMPLATE cocoatrack OWNER \(CocoaTrackSandbox.v1Admin)")
        }
        try await pair.v1Super().using { try await $0.execute("REVOKE EXECUTE ON FUNCTION pg_control_system() FROM PUBLIC") }
        let other = try await CLI.run(["verify-integrity"], env: env)
        #expect(other.status == 4 && other.stderr.contains("oid"), "\(other.stderr.suffix(600))")

        // The way back needs nothing migrate needed.
        let clear = try await CLI.run(["rollback", "--clear-v2", "--yes", "--no-snapshot"], env: env)
        #expect(clear.status == 0, "\(clear.stderr.suffix(800))")
        let left = try await pair.v2Owner().using { try await $0.scalar("SELECT count(*) FROM public.deliveries") }
        #expect(left == "0")
        Reliability.record("grants", "`pg_control_system()` revoked on V1 and V2: preflight, migrate, verify, V1 = V2, V1 re-created under its name, rollback --clear-v2", injected: 6,
                           survived: [lines.count == 2, migrate.status == 0, same.status == 4, other.status == 4, clear.status == 0, left == "0"].filter { $0 }.count,
                           check: "preflight notes the fallback; migrate and verify exit 0; V1 = V2 refused (exit 4, advisory-lock probe); re-created V1 refused (exit 4, database oid); clear exit 0, V2 empty")
    }

    @Test("pg_export_snapshot() revoked on V1: preflight names it; migrate stops before dropping any key or index (exit 1, names the grant); granted, it completes")
    func exportSnapshotRevoked() async throws {
        let pair = try await TestSandbox.shared.freshPair("nosnapshot")
        try await MigrationFixture.generate(pair)
        try await pair.v1Super().using { try await $0.execute("REVOKE EXECUTE ON FUNCTION pg_export_snapshot() FROM PUBLIC") }
        let env = VerifyTests.env(pair)
        let ddlBefore = try await pair.v2Owner().using { try await MigrationFixture.catalogDDL($0) }
        let preflight = try await CLI.run(["preflight"], env: env)
        let line = preflight.stdout.split(separator: "\n").first { $0.contains("EXECUTE pg_export_snapshot()") }.map(String.init) ?? ""
        #expect(preflight.status == 3 && line.contains("MISSING") && line.contains("GRANT EXECUTE ON FUNCTION pg_export_snapshot()"), "\(preflight.stdout)")
        let migrate = try await CLI.run(["migrate", "--allow-writable-v1"], env: env)
        #expect(migrate.status == 1 && migrate.stderr.contains("pg_export_snapshot") && migrate.stderr.contains("Nothing was dropped"), "\(migrate.stderr.suffix(800))")
        let ddlAfter = try await pair.v2Owner().using { try await MigrationFixture.catalogDDL($0) }
        let journaled = try await pair.v2Owner().using { try await $0.scalar("SELECT count(*) FROM cocoatrack_migration.dropped_ddl") }
        #expect(ddlAfter == ddlBefore, "no key or index dropped")
        #expect(journaled == "0")
        try await pair.v1Super().using { try await $0.execute("GRANT EXECUTE ON FUNCTION pg_export_snapshot() TO PUBLIC") }
        let again = try await CLI.run(["migrate", "--allow-writable-v1"], env: env)
        #expect(again.status == 0, "\(again.stderr.suffix(800))")
        Reliability.record("grants", "`pg_export_snapshot()` revoked on V1, then migrate", injected: 1,
                           survived: (migrate.status == 1 && ddlAfter == ddlBefore && journaled == "0" && again.status == 0) ? 1 : 0,
                           check: "preflight names the function and the GRANT (exit 3); migrate exit 1 before dropping anything (V2 catalog identical, journal empty); granted again, migrate exit 0")
    }

    @Test("session_replication_role not granted (a V2 cluster of the test's own: the grant is cluster-wide): rollback --clear-v2 still keeps V2's own profile without firing its triggers; migrate stops before dropping anything")
    func replicationRoleRevoked() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ctm-noreplica-\(UUID().uuidString)")
        let manager = SandboxManager(root: root, logger: TestSandbox.shared.logger)
        let st = try await manager.up([CocoaTrackSandbox.specs.first { $0.name == "v2" }!], extraSettings: TestSandbox.serverSettings)
        try manager.spawnWatchdog(owner: getpid(), state: st)
        defer { Task { _ = try? await manager.down() } }
        let shared = try await TestSandbox.shared.freshPair("noreplica")
        let pair = DatabasePair(v1: shared.v1, v2: st.cluster("v2")!, database: shared.database)
        try await TestSandbox.createV2Database(pair.database, on: pair.v2, manager: manager)
        try await MigrationFixture.generate(pair, scale: 0.002, seed: 8)
        let dashboard = "11111111-2222-4333-8444-555555555555"
        try await pair.v2Owner().using { c in
            try await c.execute(MigrationFixture.profileTriggerSQL(role: "admin"))
            try await c.execute("INSERT INTO auth.users (id, email, aud, role) VALUES ('\(dashboard)', 'dashboard.admin@example.com', 'authenticated', 'authenticated')")
            // An ordinary trigger that would mark a profile written again with it on.
            try await c.execute("""
                CREATE FUNCTION public.mark_profile() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.full_name := 'trigger fired'; RETURN NEW; END $$;
                CREATE TRIGGER mark_profile BEFORE INSERT ON public.profiles FOR EACH ROW EXECUTE FUNCTION public.mark_profile();
                UPDATE public.profiles SET full_name = 'Dashboard Admin' WHERE id = '\(dashboard)';
                """)
        }
        let ddlBefore = try await pair.v2Owner().using { try await MigrationFixture.catalogDDL($0) }
        let env = VerifyTests.env(pair)
        let migrate = try await CLI.run(["migrate", "--allow-writable-v1"], env: env)
        try #require(migrate.status == 0, "\(migrate.stderr.suffix(800))")
        try await pair.v2Owner().using { c in
            try await c.execute("UPDATE public.profiles SET cooperative_id = (SELECT id FROM public.cooperatives ORDER BY id LIMIT 1) WHERE id = '\(dashboard)'")
        }
        try await pair.v2Super().using { try await $0.execute("REVOKE SET ON PARAMETER session_replication_role FROM \(CocoaTrackSandbox.v2Owner)") }
        let clear = try await CLI.run(["rollback", "--clear-v2", "--yes", "--no-snapshot"], env: env)
        #expect(clear.status == 0, "\(clear.stderr.suffix(800))")
        let kept = try await pair.v2Owner().using { c in
            try await c.query("SELECT id::text || ' ' || full_name || ' ' || coalesce(cooperative_id::text, 'NULL') FROM public.profiles").rows.map { $0[0]! }
        }
        #expect(kept == ["\(dashboard) Dashboard Admin NULL"], "V2's own profile kept as it was, no trigger fired: \(kept)")
        let ddlAfterClear = try await pair.v2Owner().using { try await MigrationFixture.catalogDDL($0) }
        #expect(ddlAfterClear == ddlBefore, "triggers enabled again as they were")
        let preflight = try await CLI.run(["preflight"], env: env)
        #expect(preflight.status == 3 && preflight.stdout.contains("[MISSING] V2 SET session_replication_role"), "\(preflight.stdout)")
        let again = try await CLI.run(["migrate", "--allow-writable-v1"], env: env)
        #expect(again.status == 1 && again.stderr.contains("session_replication_role") && again.stderr.contains("Nothing was dropped"), "\(again.stderr.suffix(800))")
        let ddlAfter = try await pair.v2Owner().using { try await MigrationFixture.catalogDDL($0) }
        let journaled = try await pair.v2Owner().using { try await $0.scalar("SELECT count(*) FROM cocoatrack_migration.dropped_ddl") }
        #expect(ddlAfter == ddlBefore && journaled == "0", "nothing dropped")
        Reliability.record("grants", "`SET ON PARAMETER session_replication_role` revoked on V2 (own cluster): `rollback --clear-v2` with V2's own profile to keep; then preflight and migrate", injected: 2,
                           survived: [clear.status == 0 && kept == ["\(dashboard) Dashboard Admin NULL"] && ddlAfterClear == ddlBefore, again.status == 1 && ddlAfter == ddlBefore && journaled == "0"].filter { $0 }.count,
                           check: "clear exit 0, the kept profile back unchanged with no trigger fired (its ordinary triggers disabled for the insert, enabled again: catalog identical); preflight exit 3 naming it; migrate exit 1 before dropping anything")
    }

    // MARK: Ctrl+C

    @Test("two SIGINTs back to back (as timeout -s INT or a terminal sends them) stop migrate at a safe point: exit 130, run interrupted, the rerun completes and verifies")
    func doubleSigint() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("sigint")
        try await MigrationFixture.generate(pair, scale: Reliability.scale, seed: 907)
        let dir = try CutoverRunTests.tempDir("sigint")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = dir + "/migrate.log"
        let pid = try Subprocess.launch(CLI.binary, ["migrate", "--allow-writable-v1", "--batch-rows", "200"], environment: MigrateResumeTests.env(pair), logFile: log)
        let v2 = try await pair.v2Owner()
        var running = false
        for _ in 0..<6000 {
            if waitpid(pid, nil, WNOHANG) == pid { break }
            if try await MigrateResumeTests.batches(v2) >= 3 { running = true; break }
            try await Task.sleep(for: .milliseconds(5))
        }
        try #require(running, "migrate was still loading when the signals were sent")
        let batchesAtSignal = try await MigrateResumeTests.batches(v2)
        let signalled = ContinuousClock.now
        kill(pid, SIGINT)
        kill(pid, SIGINT)
        let status = await Subprocess.wait(pid: pid)
        let stopSeconds = (ContinuousClock.now - signalled) / .seconds(1)
        let batchesAtStop = try await MigrateResumeTests.batches(v2)
        print("double SIGINT: sent after \(batchesAtSignal) committed batches; exit \(status) after \(String(format: "%.2f", stopSeconds)) s with \(batchesAtStop) batches committed")
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(status == 130, "exit \(status): \(output.suffix(800))")
        #expect(output.contains("stopping at the next safe point") && !output.contains("aborted."), "\(output.suffix(800))")
        let outcome = try await v2.scalar("SELECT outcome FROM cocoatrack_migration.runs WHERE command = 'migrate' ORDER BY started_at DESC LIMIT 1")
        #expect(outcome == "interrupted", "the run recorded its stop: \(outcome ?? "none")")
        await v2.close()
        let resumed = try await CLI.run(["migrate", "--resume", "--allow-writable-v1"], env: VerifyTests.env(pair))
        #expect(resumed.status == 0, "\(resumed.stderr.suffix(800))")
        let verified = try await ReliabilityFaultTests.verifyPasses(pair, "after two SIGINTs")
        Reliability.record("signals", "two SIGINTs back to back to a running `migrate` (as `timeout -s INT` sends them)", injected: 1,
                           survived: (status == 130 && outcome == "interrupted" && resumed.status == 0 && verified) ? 1 : 0, rowsLost: 0,
                           check: "exit 130 after a stop at a safe point (no abort), run recorded `interrupted`; `migrate --resume` exit 0; `verify-integrity` exit 0")
    }
}
