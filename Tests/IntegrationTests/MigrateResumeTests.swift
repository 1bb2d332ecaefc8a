import CocoaTrack
import Foundation
import MigrationEngine
import Testing

/// Crash safety of the real executable: kill -9 and Ctrl+C at several moments, then resume.
@Suite("migrate: exactly-once resume, guards, DDL restored", .serialized)
struct MigrateResumeTests {
    static func env(_ pair: DatabasePair) -> [String: String] {
        var e = ProcessInfo.processInfo.environment
        e["V1_DATABASE_URL"] = pair.v1URL
        e["V2_DATABASE_URL"] = pair.v2URL
        return e
    }

    static func batches(_ c: PGConnection) async throws -> Int {
        guard try await c.scalar("SELECT to_regclass('cocoatrack_migration.load_progress') IS NOT NULL") == "t" else { return 0 }
        return Int(try await c.scalar("SELECT coalesce(sum(batches), 0) FROM cocoatrack_migration.load_progress") ?? "0") ?? 0
    }

    /// Every row in V2 is covered by a committed checkpoint, and vice versa.
    static func checkpointsMatchRows(_ c: PGConnection) async throws {
        guard try await c.scalar("SELECT to_regclass('cocoatrack_migration.load_progress') IS NOT NULL") == "t" else { return }
        let rows = try await c.query("SELECT load_name, target_table, rows_written FROM cocoatrack_migration.load_progress").rows
        for r in rows {
            let actual = try await c.scalar("SELECT count(*) FROM \(r[1]!)")
            #expect(actual == r[2], "\(r[0]!): \(actual ?? "?") rows in V2, checkpoint says \(r[2] ?? "?")")
        }
    }

    @Test("kill -9 at several moments, then resume: V2 equals an uninterrupted migration, indexes restored")
    func killAndResume() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("kill")
        let reference = try await TestSandbox.shared.freshPair("killref")
        try await MigrationFixture.generate(pair, scale: 0.01, seed: 77)
        try await MigrationFixture.generate(reference, scale: 0.01, seed: 77)
        let ddlBefore = try await reference.v2Owner().using { try await MigrationFixture.catalogDDL($0) }
        try await MigrationFixture.migrate(reference)
        let expected = try await reference.v2Owner().using { try await MigrationFixture.v2Fingerprints($0) }

        let log = FileManager.default.temporaryDirectory.appendingPathComponent("ctm-kill-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let watcher = try await pair.v2Super()
        var kills = 0
        for killAt in [1, 3, 8, 15, 30, 45] {
            let pid = try Subprocess.launch(CLI.binary, ["migrate", "--allow-writable-v1", "--batch-rows", "400"], environment: Self.env(pair), logFile: log)
            var exited = false
            for _ in 0..<1500 {
                if try await Self.batches(watcher) >= killAt { break }
                if kill(pid, 0) != 0 { exited = true; break }
                try await Task.sleep(for: .milliseconds(5))
            }
            kill(pid, SIGKILL)
            let status = await Subprocess.wait(pid: pid)
            if status == 128 + SIGKILL { kills += 1 }
            _ = exited
            // After every crash: each committed checkpoint covers exactly the rows in V2.
            try await Self.checkpointsMatchRows(watcher)
        }
        #expect(kills >= 3, "the process was killed mid-migration at least 3 times (got \(kills))")
        // Resume to completion.
        let done = try await CLI.run(["migrate", "--resume", "--allow-writable-v1"], env: ["V1_DATABASE_URL": pair.v1URL, "V2_DATABASE_URL": pair.v2URL])
        #expect(done.status == 0, "\(done.stderr)")
        let actual = try await pair.v2Owner().using { try await MigrationFixture.v2Fingerprints($0) }
        #expect(actual == expected, "no row lost, none duplicated, none different")
        let ddlAfter = try await pair.v2Owner().using { try await MigrationFixture.catalogDDL($0) }
        #expect(ddlAfter == ddlBefore, "indexes, constraints, triggers identical after crashes and resume")
        #expect(try await watcher.scalar("SELECT count(*) FROM cocoatrack_migration.dropped_ddl") == "0")
        // Running it again changes nothing.
        let again = try await CLI.run(["migrate", "--allow-writable-v1"], env: ["V1_DATABASE_URL": pair.v1URL, "V2_DATABASE_URL": pair.v2URL])
        #expect(again.status == 0)
        #expect(again.stdout.contains("already complete"))
        #expect(try await pair.v2Owner().using { try await MigrationFixture.v2Fingerprints($0) } == expected)
        await watcher.close()
    }

    @Test("Ctrl+C stops at a safe point within 5 s, exits 130, says how to resume")
    func interruptAndResume() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("sigint")
        try await MigrationFixture.generate(pair, scale: 0.01, seed: 78)
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("ctm-int-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let watcher = try await pair.v2Super()
        let pid = try Subprocess.launch(CLI.binary, ["migrate", "--allow-writable-v1", "--batch-rows", "300"], environment: Self.env(pair), logFile: log)
        for _ in 0..<2000 {
            if try await Self.batches(watcher) >= 4 { break }
            try await Task.sleep(for: .milliseconds(5))
        }
        let sent = ContinuousClock.now
        kill(pid, SIGINT)
        let status = await Subprocess.wait(pid: pid)
        let elapsed = ContinuousClock.now - sent
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        if status == 0 {
            Issue.record("migrate finished before the interrupt landed; the test data is too small")
        } else {
            #expect(status == 130, "exit \(status): \(output.suffix(600))")
            #expect(elapsed < .seconds(5), "stopped after \(elapsed)")
            #expect(output.contains("migrate --resume"))
            #expect(!output.contains(pair.v1.passwords[CocoaTrackSandbox.v1Admin]!))
        }
        try await Self.checkpointsMatchRows(watcher)
        let run = try await watcher.scalar("SELECT outcome FROM cocoatrack_migration.runs ORDER BY started_at DESC LIMIT 1")
        #expect(run == "interrupted")
        let done = try await CLI.run(["migrate", "--resume", "--allow-writable-v1"], env: ["V1_DATABASE_URL": pair.v1URL, "V2_DATABASE_URL": pair.v2URL])
        #expect(done.status == 0, "\(done.stderr)")
        try await Self.checkpointsMatchRows(watcher)
        let rejectedPlusWritten = try await watcher.scalar("SELECT sum(rows_written + rows_rejected) = sum(source_rows) FROM cocoatrack_migration.load_progress")
        #expect(rejectedPlusWritten == "t")
        await watcher.close()
    }

    func expectRefused(_ body: () async throws -> Void, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) async {
        do {
            try await body()
            Issue.record("expected a refusal mentioning \(fragment)", sourceLocation: sourceLocation)
        } catch let e as MigrationError {
            #expect(e.code == .refused, "\(e)", sourceLocation: sourceLocation)
            #expect(e.exitCode == 4, sourceLocation: sourceLocation)
            #expect(e.message.contains(fragment), "\(e.message)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("guards: foreign rows in V2, writable V1, a concurrent run, wrong databases; nothing written")
    func guards() async throws {
        let pair = try await TestSandbox.shared.freshPair("guards")
        try await MigrationFixture.generate(pair, scale: 0.001, seed: 4)
        let v2 = try await pair.v2Owner()
        let untouched = try await MigrationFixture.v2Fingerprints(v2)

        // V1 still writable by app_user.
        await expectRefused({ try await MigrationFixture.migrate(pair, options: MigrationFixture.options { $0.allowWritableSource = false }) }, "still writable by app_user")
        // Another migrate holds the lock.
        let other = try await pair.v2Owner()
        #expect(try await other.scalar("SELECT pg_try_advisory_lock(\(Migrator.lockKey))") == "t")
        await expectRefused({ try await MigrationFixture.migrate(pair) }, "another migrate is already running")
        await other.close()
        // V1 pointed at V2 (the wrong database).
        await expectRefused({
            let m = try await MigrationFixture.migrator(pair)
            _ = try await Migrator(plan: m.plan, source: ConnectionConfig(label: "V1", url: pair.v2URL), target: m.target, options: m.options, logger: m.logger).run()
        }, "same database")
        let otherV2 = try await TestSandbox.shared.freshPair("guards2")
        await expectRefused({
            let m = try await MigrationFixture.migrator(pair)
            _ = try await Migrator(plan: m.plan, source: ConnectionConfig(label: "V1", url: otherV2.v2URL), target: m.target, options: m.options, logger: m.logger).run()
        }, "V1 has no table public.users")
        // V2 lacking a column the mapping needs: caught before any write.
        try await v2.execute("ALTER TABLE public.deliveries RENAME COLUMN notes TO remarks")
        await expectRefused({ try await MigrationFixture.migrate(pair) }, "public.deliveries lacks notes")
        try await v2.execute("ALTER TABLE public.deliveries RENAME COLUMN remarks TO notes")
        // V2 holds an application row this migration did not write.
        try await v2.execute("INSERT INTO public.regions (name, code, created_at) VALUES ('Manuel', 'MAN', now())")
        await expectRefused({ try await MigrationFixture.migrate(pair) }, "rollback --clear-v2")
        try await v2.execute("DELETE FROM public.regions WHERE code = 'MAN'")
        #expect(try await MigrationFixture.v2Fingerprints(v2) == untouched)
        #expect(try await v2.scalar("SELECT to_regnamespace('cocoatrack_migration') IS NULL") == "t", "the refusals wrote nothing, not even state")

        // Once V2 belongs to this V1, another V1 is refused.
        try await MigrationFixture.migrate(pair)
        let stranger = try await TestSandbox.shared.freshPair("guards3")
        try await MigrationFixture.generate(stranger, scale: 0.001, seed: 4)
        await expectRefused({
            let m = try await MigrationFixture.migrator(stranger, v2URL: pair.v2URL)
            _ = try await m.run()
        }, "not the database this migration started with")
        await v2.close()
    }
}
