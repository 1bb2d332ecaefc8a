import CocoaTrack
import Foundation
import MigrationEngine
import Sandbox
import Testing

/// The fault half of issue #9: the real executable killed with SIGKILL at random moments, its
/// server sessions terminated, its V2 server restarted under it, two of it at once, and the
/// application writing while read-only mode comes on. After every fault the data is checked
/// against an uninterrupted reference, and by `verify-integrity`: rows lost or duplicated are
/// counted, never assumed. Each test records its line of RELIABILITY.md through `Reliability.record`.
@Suite("Reliability: crashes, lost connections, concurrency", .serialized)
struct ReliabilityFaultTests {
    static var kills: Int { ProcessInfo.processInfo.environment["CTM_RELIABILITY_KILLS"].flatMap(Int.init) ?? 20 }
    static var seed: UInt64 {
        ProcessInfo.processInfo.environment["CTM_RELIABILITY_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...999_999)
    }

    /// V2's content, table by table, as `rows:md5` (`MigrationFixture.v2Fingerprints`).
    static func v2Content(_ pair: DatabasePair) async throws -> [String: String] {
        try await pair.v2Owner().using { try await MigrationFixture.v2Fingerprints($0) }
    }

    /// V2 after an uninterrupted migration of the same generated data, in a pair of its own: the truth.
    static func uninterruptedMigration(_ label: String, seed: UInt64) async throws -> [String: String] {
        let reference = try await TestSandbox.shared.freshPair(label)
        try await MigrationFixture.generate(reference, scale: Reliability.scale, seed: seed)
        try await MigrationFixture.migrate(reference)
        return try await v2Content(reference)
    }

    /// Rows missing plus rows in excess, table by table, from the row counts of two `rows:md5` fingerprints.
    static func lostOrDuplicated(_ actual: [String: String], _ expected: [String: String]) -> Int {
        func rows(_ f: [String: String], _ t: String) -> Int { Int(f[t]?.split(separator: ":").first ?? "0") ?? 0 }
        return Set(actual.keys).union(expected.keys).reduce(0) { $0 + abs(rows(actual, $1) - rows(expected, $1)) }
    }

    /// Launches the executable, kills it with SIGKILL after `delay` unless it ended first.
    /// Returns whether the kill landed (the process was still running), its exit status, and how
    /// long it ran.
    static func launchAndKill(_ args: [String], env: [String: String], after delay: Duration, log: String) async throws -> (killed: Bool, status: Int32, ran: Duration) {
        let start = ContinuousClock.now
        let pid = try Subprocess.launch(CLI.binary, args, environment: env, logFile: log)
        let deadline = start + delay
        while ContinuousClock.now < deadline {
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid {  // reaped: it ended on its own
                let status: Int32 = (raw & 0x7F) == 0 ? (raw >> 8) & 0xFF : 128 + (raw & 0x7F)
                return (false, status, ContinuousClock.now - start)
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        kill(pid, SIGKILL)
        let status = await Subprocess.wait(pid: pid)
        return (status == 128 + SIGKILL, status, ContinuousClock.now - start)
    }

    /// The window kill moments are drawn from: an uninterrupted run's duration, shortened to
    /// any quicker complete run seen since (the machine's load varies), so kills keep landing.
    struct KillWindow {
        var limit: Duration
        mutating func ranToEnd(in d: Duration) { limit = min(limit, d * 0.9) }
    }

    static func uniform(_ rng: inout SeededRandom, upTo limit: Duration) -> Duration {
        limit * Double.random(in: 0...1, using: &rng)
    }

    static func verifyPasses(_ pair: DatabasePair, _ note: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> Bool {
        // The generated dirty rows are rejected by design (up to 5 % of a small table).
        let v = try await CLI.run(["verify-integrity", "--max-reject-share", "0.1"], env: VerifyTests.env(pair))
        #expect(v.status == 0, "\(note): verify-integrity exit \(v.status): \(v.stdout.suffix(600)) \(v.stderr.suffix(600))", sourceLocation: sourceLocation)
        return v.status == 0
    }

    // MARK: crashes

    @Test("migrate killed with SIGKILL at random moments: each resume completes, nothing lost or duplicated, verify passes, DDL restored")
    func migrateKilledAtRandom() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let seed = Self.seed
        var rng = SeededRandom(seed: seed, stream: "migrate-kills")
        let pair = try await TestSandbox.shared.freshPair("relkill")
        try await MigrationFixture.generate(pair, scale: Reliability.scale, seed: 901, dirty: 0.02)
        let ddlBefore = try await pair.v2Owner().using { try await MigrationFixture.catalogDDL($0) }
        let dir = try CutoverRunTests.tempDir("rel-migrate-kill")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let args = ["migrate", "--allow-writable-v1", "--batch-rows", String(Reliability.batchRows)]

        // The uninterrupted reference: its duration bounds the kill moments, its rows are the truth.
        let t0 = ContinuousClock.now
        let reference = try await CLI.run(args, env: VerifyTests.env(pair))
        let duration = ContinuousClock.now - t0
        try #require(reference.status == 0, "\(reference.stderr.suffix(800))")
        let expected = try await Self.v2Content(pair)
        let clear = ["rollback", "--clear-v2", "--yes", "--no-snapshot"]

        var kills = 0, survived = 0, lost = 0, attempts = 0
        var window = KillWindow(limit: duration)
        while kills < Self.kills && attempts < Self.kills * 5 {
            attempts += 1
            let cleared = try await CLI.run(clear, env: VerifyTests.env(pair))
            try #require(cleared.status == 0, "clear: \(cleared.stderr.suffix(600))")
            let delay = Self.uniform(&rng, upTo: window.limit)
            let (killed, status, ran) = try await Self.launchAndKill(args, env: MigrateResumeTests.env(pair), after: delay, log: dir + "/kill-\(attempts).log")
            guard killed else {
                #expect(status == 0, "migrate ended on its own with exit \(status)")
                window.ranToEnd(in: ran)
                continue
            }
            kills += 1
            let resumed = try await CLI.run(["migrate", "--resume", "--allow-writable-v1"], env: VerifyTests.env(pair))
            #expect(resumed.status == 0, "resume after a kill at \(delay): \(resumed.stderr.suffix(800))")
            let actual = try await Self.v2Content(pair)
            let diff = Self.lostOrDuplicated(actual, expected)
            lost += diff
            let same = actual == expected
            #expect(same && diff == 0, "after a kill at \(delay) (seed \(seed)): \(diff) rows lost or duplicated")
            let ddl = try await pair.v2Owner().using { try await MigrationFixture.catalogDDL($0) }
            #expect(ddl == ddlBefore, "indexes, keys and triggers restored after a kill at \(delay)")
            let verified = try await Self.verifyPasses(pair, "kill at \(delay)")
            if resumed.status == 0 && same && diff == 0 && ddl == ddlBefore && verified { survived += 1 }
        }
        #expect(kills == Self.kills, "\(kills) kills landed in \(attempts) attempts")
        #expect(survived == kills)
        // The runs a kill ended are marked, not left "running".
        let running = try await pair.v2Owner().using { try await $0.scalar("SELECT count(*) FROM cocoatrack_migration.runs WHERE outcome = 'running'") }
        #expect(running == "0")
        Reliability.record("crash", "kill -9 of `migrate` at a random moment (uniform over an uninterrupted run), then `migrate --resume`",
                           injected: kills, survived: survived, rowsLost: lost,
                           check: "V2 identical to the uninterrupted run (per-table md5), catalog DDL identical, `verify-integrity` exit 0; seed \(seed)")
    }

    /// A post-cutover workload on V2 with no conflicts: updates, deletes and inserts.
    static func syncWorkload(_ pair: DatabasePair) async throws {
        try await pair.v2Owner().using { v2 in
            try await v2.execute("""
                UPDATE public.planteurs SET village = 'Relsync ' || left(id::text, 8), updated_at = '2026-12-06 03:00:00+00'
                  WHERE id IN (SELECT id FROM public.planteurs ORDER BY id LIMIT 150);
                DELETE FROM public.delivery_photos WHERE id IN (SELECT id FROM public.delivery_photos ORDER BY id LIMIT 40);
                INSERT INTO public.deliveries (id, planteur_id, warehouse_id, delivered_on, weight_kg, bags, quality_grade, price_per_kg, total_amount, notes, created_at, updated_at)
                  SELECT md5('relsync' || id::text)::uuid, planteur_id, warehouse_id, delivered_on, weight_kg, bags, quality_grade, price_per_kg, total_amount,
                         'resynced après cutover', '2026-12-06 04:00:00+00', '2026-12-06 04:00:00+00'
                  FROM public.deliveries WHERE quality_grade IS NOT NULL AND total_amount = round(total_amount) ORDER BY id LIMIT 60;
                """)
        }
    }

    /// V1's content, table by table, up to the ids its sequences hand out: a killed sync has
    /// drawn sequence values (sequences are not transactional), so the rows it inserts again get
    /// other ids than in an uninterrupted sync. Nothing in the workload references a new row.
    static func v1Fingerprint(_ c: PGConnection) async throws -> [String: String] {
        var out: [String: String] = [:]
        for t in ["regions", "cooperatives", "users", "warehouses", "invoices", "chef_planteurs", "planteurs", "deliveries", "delivery_photos", "audit_log"] {
            out[t] = try await c.scalar("SELECT count(*) || ':' || coalesce(md5(string_agg((to_jsonb(t) - 'id')::text, E'\\n' ORDER BY (to_jsonb(t) - 'id')::text)), '') FROM public.\(t) t")
        }
        return out
    }

    /// Replaces the pair's V1 database by a copy of `template` (no session may be open on either).
    static func restoreV1(_ pair: DatabasePair, from template: String) async throws {
        let admin = try await pair.v1Super(on: "postgres")
        try await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname IN ('\(pair.database)', '\(template)') AND pid <> pg_backend_pid()")
        try await admin.execute("DROP DATABASE IF EXISTS \(SQL.ident(pair.database)) WITH (FORCE)")
        try await admin.execute("CREATE DATABASE \(SQL.ident(pair.database)) TEMPLATE \(SQL.ident(template)) OWNER \(CocoaTrackSandbox.v1Admin)")
        await admin.close()
    }

    @Test("sync-v2-to-v1 killed with SIGKILL at random moments: the next sync completes, V1 equals an uninterrupted sync, nothing half-written")
    func syncKilledAtRandom() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let seed = Self.seed
        var rng = SeededRandom(seed: seed, stream: "sync-kills")
        let pair = try await TestSandbox.shared.freshPair("relsync")
        try await MigrationFixture.generate(pair, scale: Reliability.scale, seed: 902, dirty: 0)
        try await MigrationFixture.migrate(pair)
        let armed = try await CLI.run(["capture", "arm", "--yes"], env: VerifyTests.env(pair))
        try #require(armed.status == 0, "\(armed.stderr.suffix(600))")
        try await Self.syncWorkload(pair)
        // V1 as it was at cutover, kept as a template to start every round from.
        let template = pair.database + "_tpl"
        let admin = try await pair.v1Super(on: "postgres")
        try await admin.execute("CREATE DATABASE \(SQL.ident(template)) TEMPLATE \(SQL.ident(pair.database))")
        await admin.close()
        let sync = ["sync-v2-to-v1", "--yes", "--no-snapshot"]
        let t0 = ContinuousClock.now
        let reference = try await CLI.run(sync, env: VerifyTests.env(pair))
        let duration = ContinuousClock.now - t0
        try #require(reference.status == 0, "\(reference.stdout.suffix(600)) \(reference.stderr.suffix(800))")
        let expected = try await pair.v1Admin().using { try await Self.v1Fingerprint($0) }
        let before = try await pair.v1Super(on: template).using { try await Self.v1Fingerprint($0) }
        try #require(expected != before, "the workload changes V1")
        let dir = try CutoverRunTests.tempDir("rel-sync-kill")
        defer { try? FileManager.default.removeItem(atPath: dir) }

        var kills = 0, survived = 0, lost = 0, attempts = 0, halfWritten = 0
        var window = KillWindow(limit: duration * 0.9)
        while kills < Self.kills && attempts < Self.kills * 5 {
            attempts += 1
            try await Self.restoreV1(pair, from: template)
            let delay = Self.uniform(&rng, upTo: window.limit)
            let (killed, status, ran) = try await Self.launchAndKill(sync, env: MigrateResumeTests.env(pair), after: delay, log: dir + "/kill-\(attempts).log")
            guard killed else {
                #expect(status == 0, "sync ended on its own with exit \(status)")
                window.ranToEnd(in: ran)
                continue
            }
            kills += 1
            // Right after the kill V1 is either untouched or wholly synced: one transaction.
            let afterKill = try await pair.v1Admin().using { try await Self.v1Fingerprint($0) }
            if afterKill != before && afterKill != expected { halfWritten += 1 }
            #expect(afterKill == before || afterKill == expected, "a kill at \(delay) left V1 half-synced (seed \(seed))")
            let resumed = try await CLI.run(sync, env: VerifyTests.env(pair))
            #expect(resumed.status == 0, "sync after a kill at \(delay): \(resumed.stderr.suffix(800))")
            let actual = try await pair.v1Admin().using { try await Self.v1Fingerprint($0) }
            lost += Self.lostOrDuplicated(actual, expected)
            #expect(actual == expected, "V1 after a kill at \(delay) and a new sync differs from the uninterrupted sync (seed \(seed))")
            if resumed.status == 0 && actual == expected { survived += 1 }
        }
        // Nothing left to carry: V2 through the mapping equals V1 (V1 equals the uninterrupted
        // sync after every round, so once suffices).
        let assess = try await CLI.run(["assess-v2-changes", "--json"], env: VerifyTests.env(pair))
        let quiet = assess.status == 0 && (try? ChangeReport.decode(assess.stdout)).map { $0.inserted + $0.updated + $0.deleted + $0.conflicts == 0 } == true
        #expect(quiet, "assess after the sync: \(assess.stdout.prefix(400)) \(assess.stderr.suffix(400))")
        if !quiet { survived = 0 }
        #expect(kills == Self.kills, "\(kills) kills landed in \(attempts) attempts")
        #expect(survived == kills && halfWritten == 0)
        try await pair.v1Super(on: "postgres").using { try await $0.execute("DROP DATABASE IF EXISTS \(SQL.ident(template)) WITH (FORCE)") }
        Reliability.record("crash", "kill -9 of `sync-v2-to-v1` at a random moment, then `sync-v2-to-v1` again",
                           injected: kills, survived: survived, rowsLost: lost,
                           check: "V1 right after the kill untouched or wholly synced (\(halfWritten) half-written); after the new sync identical to an uninterrupted sync; `assess-v2-changes` finds nothing left; seed \(seed)")
    }

    @Test("cutover run killed with SIGKILL at random moments, restarted each time: completes, every step journaled once, data verified")
    func cutoverKilledAtRandom() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let seed = Self.seed
        var rng = SeededRandom(seed: seed, stream: "cutover-kills")
        let pair = try await TestSandbox.shared.freshPair("relcut")
        try await MigrationFixture.generate(pair, scale: Reliability.scale, seed: 903)
        let expected = try await Self.uninterruptedMigration("relcutref", seed: 903)
        let dir = try CutoverRunTests.tempDir("rel-cutover-kill")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "thresholds:\n  row_count_mismatch_pct: 20\nhooks:\n  dns_switch: echo switched >> '\(dir)/dns.txt'\n"
            .write(toFile: dir + "/settings.yml", atomically: true, encoding: .utf8)
        let args = ["cutover", "run", "--config", dir + "/settings.yml", "--yes", "--reports", dir + "/reports"]
        var kills = 0, attempts = 0
        var paused = false
        // Kill moments: uniform up to a limit that grows with each attempt, so that the run also
        // gets through steps longer than the first limits (a verify is not checkpointed).
        while kills < Self.kills && attempts < Self.kills * 5 {
            attempts += 1
            let limit = Duration.milliseconds(400) * (1 + attempts / 4)
            let delay = Self.uniform(&rng, upTo: limit)
            let (killed, status, _) = try await Self.launchAndKill(args, env: MigrateResumeTests.env(pair), after: delay, log: dir + "/run-\(attempts).log")
            if killed { kills += 1; continue }
            let out = (try? String(contentsOfFile: dir + "/run-\(attempts).log", encoding: .utf8)) ?? ""
            #expect(status == 0, "cutover run ended with exit \(status): \(out.suffix(800))")
            if out.contains("paused before confirm") { paused = true; break }
        }
        // The last restart goes to the confirmation point, a person approves, the run ends.
        if !paused {
            let resumed = try await CLI.run(args, env: VerifyTests.env(pair))
            #expect(resumed.status == 0 && resumed.stdout.contains("paused before confirm"), "\(resumed.stdout) \(resumed.stderr.suffix(800))")
        }
        #expect(try await CLI.run(["cutover", "approve", "confirm"], env: VerifyTests.env(pair)).status == 0)
        let done = try await CLI.run(args, env: VerifyTests.env(pair))
        #expect(done.status == 0 && done.stdout.contains("cutover complete"), "\(done.stderr.suffix(800))")
        let succeeded = try await pair.v2Owner().using {
            try await $0.query("SELECT step, count(*) FROM cocoatrack_migration.runbook_journal WHERE event = 'succeeded' GROUP BY step").rows
        }
        let once = Set(succeeded.map { $0[0]! }) == Set(CutoverStepsForTests.ids) && succeeded.allSatisfy { $0[1] == "1" }
        #expect(once, "\(succeeded)")
        let switched = (try? String(contentsOfFile: dir + "/dns.txt", encoding: .utf8))?.split(separator: "\n").count ?? 0
        #expect(switched >= 1, "the DNS hook ran")
        let actual = try await Self.v2Content(pair)
        let lost = Self.lostOrDuplicated(actual, expected)
        let same = actual == expected
        #expect(same && lost == 0, "V2 after \(kills) kills differs from an uninterrupted migration (seed \(seed))")
        let verified = try await Self.verifyPasses(pair, "after the cutover run")
        #expect(kills >= Self.kills / 2, "\(kills) kills landed")
        Reliability.record("crash", "kill -9 of `cutover run` at a random moment, restarted after each kill (one chain)",
                           injected: kills, survived: (done.status == 0 && once && same && verified) ? kills : 0, rowsLost: lost,
                           check: "the last restart completes; every step journaled `succeeded` exactly once; V2 identical to an uninterrupted migration; `verify-integrity` exit 0; seed \(seed)")
    }

    // MARK: connections

    /// Terminates the tool's sessions (application_name cocoatrack-migrate) on a server.
    static func terminateTool(_ c: PGConnection) async throws -> Int {
        Int(try await c.scalar("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'cocoatrack-migrate' AND datname = current_database() AND pid <> pg_backend_pid()") ?? "0") ?? 0
    }

    @Test("the tool's backends terminated mid-copy: migrate reconnects with backoff and completes; with --retries 0 it stops (exit 1) and the next run resumes")
    func backendsTerminatedMidCopy() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("relterm")
        try await MigrationFixture.generate(pair, scale: Reliability.scale, seed: 904)
        let expected = try await Self.uninterruptedMigration("reltermref", seed: 904)
        let ddlBefore = try await pair.v2Owner().using { try await MigrationFixture.catalogDDL($0) }
        let dir = try CutoverRunTests.tempDir("rel-term")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let v1 = try await pair.v1Super()
        let v2 = try await pair.v2Super()
        let batchRows = String(max(100, Reliability.batchRows / 4))

        // 1. With retries: three terminations at growing progress, alternately V2's and both sides' sessions.
        let log = dir + "/retry.log"
        let pid = try Subprocess.launch(CLI.binary, ["migrate", "--allow-writable-v1", "--batch-rows", batchRows], environment: MigrateResumeTests.env(pair), logFile: log)
        var injected = 0
        for (n, atBatch) in [3, 12, 30].enumerated() {
            var reached = false
            for _ in 0..<6000 {
                if try await MigrateResumeTests.batches(v2) >= atBatch { reached = true; break }
                if waitpid(pid, nil, WNOHANG) == pid { break }
                try await Task.sleep(for: .milliseconds(5))
            }
            guard reached else { break }
            var terminated = try await Self.terminateTool(v2)
            if n % 2 == 1 { terminated += try await Self.terminateTool(v1) }
            if terminated > 0 { injected += 1 }
        }
        let status = await Subprocess.wait(pid: pid)
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(injected >= 2, "terminations landed mid-copy: \(injected)")
        #expect(status == 0, "exit \(status): \(output.suffix(1200))")
        #expect(output.contains("Reconnecting in"), "says it reconnects: \(output.suffix(800))")
        let actual1 = try await Self.v2Content(pair)
        let lost1 = Self.lostOrDuplicated(actual1, expected)
        let same1 = actual1 == expected
        #expect(same1 && lost1 == 0)
        let ddl1 = try await pair.v2Owner().using { try await MigrationFixture.catalogDDL($0) }
        #expect(ddl1 == ddlBefore)
        let crashed = try await v2.scalar("SELECT count(*) FROM cocoatrack_migration.runs WHERE outcome IN ('failed', 'crashed')")
        #expect(Int(crashed ?? "0") ?? 0 >= 1, "the attempts a termination ended are recorded")
        let verified1 = try await Self.verifyPasses(pair, "after terminations with retries")
        Reliability.record("connection", "`pg_terminate_backend` of the tool's sessions mid-copy (V2, or V1 and V2), `migrate` with default retries",
                           injected: injected, survived: (status == 0 && same1 && lost1 == 0 && ddl1 == ddlBefore && verified1) ? injected : 0, rowsLost: lost1,
                           check: "the same process reconnects with backoff and exits 0; V2 identical to an uninterrupted run; DDL restored; `verify-integrity` exit 0")

        // 2. Without retries: a clean stop that never claims success, then a resume.
        _ = try await CLI.run(["rollback", "--clear-v2", "--yes", "--no-snapshot"], env: VerifyTests.env(pair))
        let log2 = dir + "/noretry.log"
        let pid2 = try Subprocess.launch(CLI.binary, ["migrate", "--allow-writable-v1", "--batch-rows", batchRows, "--retries", "0"], environment: MigrateResumeTests.env(pair), logFile: log2)
        var landed = false
        for _ in 0..<6000 {
            if try await MigrateResumeTests.batches(v2) >= 5 { landed = try await Self.terminateTool(v2) > 0; break }
            if waitpid(pid2, nil, WNOHANG) == pid2 { break }
            try await Task.sleep(for: .milliseconds(5))
        }
        let status2 = await Subprocess.wait(pid: pid2)
        let output2 = (try? String(contentsOfFile: log2, encoding: .utf8)) ?? ""
        #expect(landed)
        #expect(status2 == 1, "stops with exit 1, never 0: \(output2.suffix(800))")
        #expect(output2.contains("run the command again") || output2.contains("run the same command again"), "\(output2.suffix(800))")
        #expect(!output2.contains("migration in"), "no success summary")
        Reliability.expectNoSecrets(output2 + output, Reliability.secrets(pair), where: "migrate output after terminations")
        let resumed = try await CLI.run(["migrate", "--resume", "--allow-writable-v1"], env: VerifyTests.env(pair))
        #expect(resumed.status == 0, "\(resumed.stderr.suffix(800))")
        let actual2 = try await Self.v2Content(pair)
        let lost2 = Self.lostOrDuplicated(actual2, expected)
        let same2 = actual2 == expected
        #expect(same2 && lost2 == 0)
        let verified2 = try await Self.verifyPasses(pair, "after a stop and a resume")
        Reliability.record("connection", "`pg_terminate_backend` mid-copy with `--retries 0`",
                           injected: landed ? 1 : 0, survived: (landed && status2 == 1 && resumed.status == 0 && same2 && verified2) ? 1 : 0, rowsLost: lost2,
                           check: "exit 1 with a message saying to run it again, no success summary; the next `migrate` completes; V2 identical; `verify-integrity` exit 0")
        await v1.close()
        await v2.close()
    }

    @Test("the tool's backends terminated mid-verify: verify-integrity starts again and passes; with --retries 0 it exits 1 and records no pass")
    func backendsTerminatedMidVerify() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("relverify")
        try await MigrationFixture.generate(pair, scale: Reliability.scale, seed: 905)
        try await MigrationFixture.migrate(pair)
        let dir = try CutoverRunTests.tempDir("rel-verify-term")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let v1 = try await pair.v1Super()
        let v2 = try await pair.v2Super()
        /// Waits until the verifier reads rows on V2 (a COPY or a query of its own is active), then terminates.
        func terminateWhileReading(_ pid: pid_t) async throws -> Bool {
            for _ in 0..<4000 {
                if waitpid(pid, nil, WNOHANG) == pid { return false }
                let active = try await v2.scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'cocoatrack-migrate' AND datname = current_database() AND pid <> pg_backend_pid() AND state = 'active' AND query ILIKE '%public%'")
                if (Int(active ?? "0") ?? 0) > 0 {
                    let n = try await Self.terminateTool(v2) + Self.terminateTool(v1)
                    return n > 0
                }
                try await Task.sleep(for: .milliseconds(2))
            }
            return false
        }
        let passesBefore = try await v2.scalar("SELECT count(*) FROM cocoatrack_migration.verifications WHERE outcome = 'pass'")

        // With --retries 0: exit 1, no pass recorded.
        let logA = dir + "/noretry.log"
        let pidA = try Subprocess.launch(CLI.binary, ["verify-integrity", "--retries", "0", "--max-reject-share", "0.1", "--export", dir + "/a"], environment: MigrateResumeTests.env(pair), logFile: logA)
        let landedA = try await terminateWhileReading(pidA)
        let statusA = await Subprocess.wait(pid: pidA)
        let outA = (try? String(contentsOfFile: logA, encoding: .utf8)) ?? ""
        #expect(landedA, "a termination landed while verify read rows")
        #expect(statusA == 1, "never a pass for a verification that did not finish: exit \(statusA) \(outA.suffix(600))")
        #expect(!FileManager.default.fileExists(atPath: dir + "/a/report.json"), "no report for an unfinished verification")
        let passesAfterA = try await v2.scalar("SELECT count(*) FROM cocoatrack_migration.verifications WHERE outcome = 'pass'")
        #expect(passesAfterA == passesBefore)

        // With retries: it verifies again and passes.
        let logB = dir + "/retry.log"
        let pidB = try Subprocess.launch(CLI.binary, ["verify-integrity", "--max-reject-share", "0.1", "--export", dir + "/b"], environment: MigrateResumeTests.env(pair), logFile: logB)
        let landedB = try await terminateWhileReading(pidB)
        let statusB = await Subprocess.wait(pid: pidB)
        let outB = (try? String(contentsOfFile: logB, encoding: .utf8)) ?? ""
        #expect(landedB)
        #expect(statusB == 0, "exit \(statusB): \(outB.suffix(800))")
        #expect(outB.contains("Verifying again"), "\(outB.suffix(600))")
        let report = try VerifyTests.readReport(dir + "/b")
        #expect(report.outcome == "pass")
        Reliability.expectNoSecrets(outA + outB, Reliability.secrets(pair), where: "verify output after terminations")
        Reliability.record("connection", "`pg_terminate_backend` of the tool's V1 and V2 sessions mid-verify",
                           injected: (landedA ? 1 : 0) + (landedB ? 1 : 0),
                           survived: (landedA && statusA == 1 && passesAfterA == passesBefore ? 1 : 0) + (landedB && statusB == 0 && report.outcome == "pass" ? 1 : 0),
                           check: "`--retries 0`: exit 1, no report, no pass recorded; default: verifies again, exit 0, report passes")
        await v1.close()
        await v2.close()
    }

    @Test("the V2 server restarted mid-migrate: migrate waits with backoff, reconnects and completes exactly")
    func v2RestartMidMigrate() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        // A V2 cluster of this test's own, so that restarting it disturbs no other test.
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ctm-rel-v2-\(UUID().uuidString)")
        let manager = SandboxManager(root: root, logger: TestSandbox.shared.logger)
        let st = try await manager.up([CocoaTrackSandbox.specs.first { $0.name == "v2" }!],
                                      extraSettings: TestSandbox.serverSettings)
        try manager.spawnWatchdog(owner: getpid(), state: st)
        let shared = try await TestSandbox.shared.freshPair("relrestart")
        let pair = DatabasePair(v1: shared.v1, v2: st.cluster("v2")!, database: shared.database)
        do {
            try await TestSandbox.createV2Database(pair.database, on: pair.v2, manager: manager)
            try await MigrationFixture.generate(pair, scale: Reliability.scale, seed: 906)
            let expected = try await Self.uninterruptedMigration("relrestartref", seed: 906)
            let ddlBefore = try await pair.v2Owner().using { try await MigrationFixture.catalogDDL($0) }
            let dir = try CutoverRunTests.tempDir("rel-restart")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let log = dir + "/migrate.log"
            let pid = try Subprocess.launch(CLI.binary, ["migrate", "--allow-writable-v1", "--batch-rows", String(max(100, Reliability.batchRows / 4))],
                                            environment: MigrateResumeTests.env(pair), logFile: log)
            var restarted = 0
            for atBatch in [4, 20] {
                var reached = false
                let watcher = try await pair.v2Super()
                for _ in 0..<6000 {
                    if try await MigrateResumeTests.batches(watcher) >= atBatch { reached = true; break }
                    if waitpid(pid, nil, WNOHANG) == pid { break }
                    try await Task.sleep(for: .milliseconds(5))
                }
                await watcher.close()
                guard reached else { break }
                // Down for 2.5 s: the tool's first reconnects are refused, the backoff outlasts it.
                try await manager.restart("v2", downFor: .milliseconds(2500))
                restarted += 1
            }
            let status = await Subprocess.wait(pid: pid)
            let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            #expect(restarted == 2, "restarts mid-migrate: \(restarted)")
            #expect(status == 0, "exit \(status): \(output.suffix(1500))")
            #expect(output.contains("Reconnecting in"))
            let actual = try await Self.v2Content(pair)
            let lost = Self.lostOrDuplicated(actual, expected)
            let same = actual == expected
            #expect(same && lost == 0)
            let ddl = try await pair.v2Owner().using { try await MigrationFixture.catalogDDL($0) }
            #expect(ddl == ddlBefore)
            let verified = try await Self.verifyPasses(pair, "after V2 restarts")
            Reliability.record("connection", "V2 server restarted (fast shutdown, 2.5 s down) mid-migrate",
                               injected: restarted, survived: (status == 0 && same && lost == 0 && ddl == ddlBefore && verified) ? restarted : 0, rowsLost: lost,
                               check: "the same process waits with backoff, reconnects and exits 0; V2 identical to an uninterrupted run; DDL restored; `verify-integrity` exit 0")
        } catch {
            _ = try? await manager.down()
            throw error
        }
        _ = try? await manager.down()
    }

    // MARK: concurrency

    @Test("two migrate processes at once: the second refuses with exit 4 and writes nothing; the first completes exactly")
    func twoMigrates() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("reltwo")
        try await MigrationFixture.generate(pair, scale: Reliability.scale, seed: 907)
        let expected = try await Self.uninterruptedMigration("reltworef", seed: 907)
        let dir = try CutoverRunTests.tempDir("rel-two")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let v2 = try await pair.v2Super()
        let pid = try Subprocess.launch(CLI.binary, ["migrate", "--allow-writable-v1", "--batch-rows", String(max(100, Reliability.batchRows / 4))],
                                        environment: MigrateResumeTests.env(pair), logFile: dir + "/first.log")
        var tries = 0, refused = 0
        for _ in 0..<3 {
            for _ in 0..<6000 {
                if try await MigrateResumeTests.batches(v2) >= 2 + tries * 5 { break }
                if waitpid(pid, nil, WNOHANG) == pid { break }
                try await Task.sleep(for: .milliseconds(5))
            }
            let written = try await MigrateResumeTests.batches(v2)
            let second = try await CLI.run(["migrate", "--allow-writable-v1"], env: VerifyTests.env(pair))
            tries += 1
            let ok = second.status == 4 && second.stderr.contains("another migrate is already running")
            #expect(ok, "second migrate: exit \(second.status) \(second.stderr.suffix(500))")
            if ok && written > 0 { refused += 1 }
        }
        let status = await Subprocess.wait(pid: pid)
        #expect(status == 0)
        let same = try await Self.v2Content(pair) == expected
        #expect(same)
        let runs = try await v2.scalar("SELECT count(*) FROM cocoatrack_migration.runs WHERE command = 'migrate'")
        #expect(runs == "1", "the refused runs left no run record")
        await v2.close()
        Reliability.record("concurrency", "a second `migrate` started while one runs",
                           injected: tries, survived: status == 0 && same ? refused : 0, rowsLost: 0,
                           check: "exit 4 naming the running migrate; no run record; the first run's V2 identical to an uninterrupted run")
    }

    @Test("the application writes to V1 while read-only mode comes on: no write lands after the probe says read-only")
    func writesDuringReadOnlyEnable() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("relro")
        try await MigrationFixture.generate(pair, scale: 0.001, seed: 908)
        let admin = try await pair.v1Admin()
        try await admin.execute("CREATE TABLE IF NOT EXISTS public.write_probe_log (n int PRIMARY KEY)")
        await admin.close()
        // A transaction of the app open before read-only mode starts, committed after.
        let lingering = try await pair.connect(pair.appUserURL, label: "app")
        try await lingering.execute("BEGIN; INSERT INTO public.regions (name, code, created_at) VALUES ('Linger', 'LING', now())")

        struct Ack: Sendable { let code: String; let at: ContinuousClock.Instant }
        let stop = ManagedAtomicFlag()
        let url = pair.appUserURL
        // Three writers as the app, each insert its own transaction on a fresh or kept session.
        let writers = Task {
            try await withThrowingTaskGroup(of: ([Ack], Int).self) { group in
                for w in 0..<3 {
                    group.addTask {
                        var acks: [Ack] = [], failures = 0, n = 0
                        var c: PGConnection? = nil
                        while !stop.isSet {
                            n += 1
                            let code = "W\(w)-\(n)"
                            do {
                                if c == nil || n % 7 == 0 {
                                    await c?.close()
                                    c = try await PGConnection.connect(ConnectionConfig(label: "app", url: url), logger: TestSandbox.shared.logger)
                                }
                                try await c!.execute("INSERT INTO public.regions (name, code, created_at) VALUES ('Probe', '\(code)', now())")
                                acks.append(Ack(code: code, at: .now))
                            } catch {
                                failures += 1
                                await c?.close()
                                c = nil
                            }
                            try? await Task.sleep(for: .milliseconds(3))
                        }
                        await c?.close()
                        return (acks, failures)
                    }
                }
                var all: [([Ack], Int)] = []
                for try await r in group { all.append(r) }
                return all
            }
        }
        try await Task.sleep(for: .milliseconds(400))
        let enable = try await CLI.run(["read-only", "enable", "--yes", "--app-role", "app_user"], env: VerifyTests.env(pair))
        let enabledAt = ContinuousClock.now
        try await Task.sleep(for: .milliseconds(800))
        stop.set()
        let results = try await writers.value
        #expect(enable.status == 0, "\(enable.stderr.suffix(800))")
        #expect(enable.stdout.contains("read-only") || enable.stderr.contains("probe"), "\(enable.stdout) \(enable.stderr.suffix(400))")
        let acks = results.flatMap(\.0)
        let late = acks.filter { $0.at > enabledAt }
        #expect(!acks.isEmpty, "the writers wrote before read-only mode")
        #expect(late.isEmpty, "\(late.count) writes acknowledged after read-only mode was proven: \(late.prefix(3).map(\.code))")
        let committed = try await pair.v1Admin().using {
            try await $0.query("SELECT code FROM public.regions WHERE name = 'Probe'").rows.map { $0[0]! }
        }
        #expect(Set(committed) == Set(acks.map(\.code)), "every row in V1 was acknowledged before the probe, and every acknowledged row is there")
        // The transaction left open across the switch cannot commit.
        let lingeringCommitted: Bool
        do { try await lingering.execute("COMMIT"); lingeringCommitted = try await pair.v1Admin().using { try await $0.scalar("SELECT count(*) FROM public.regions WHERE code = 'LING'") } == "1" }
        catch { lingeringCommitted = false }
        await lingering.close()
        #expect(!lingeringCommitted, "a transaction open before read-only mode committed after it")
        let attemptsAfter = results.reduce(0) { $0 + $1.1 }
        #expect(attemptsAfter > 0, "the writers kept trying after the switch")
        let disable = try await CLI.run(["read-only", "disable", "--yes", "--app-role", "app_user"], env: VerifyTests.env(pair))
        #expect(disable.status == 0)
        Reliability.record("concurrency", "3 application sessions writing to V1 (plus one open transaction) while `read-only enable` runs",
                           injected: acks.count + attemptsAfter + 1,
                           survived: late.isEmpty && !lingeringCommitted && Set(committed) == Set(acks.map(\.code)) ? acks.count + attemptsAfter + 1 : 0,
                           rowsLost: nil,
                           check: "\(acks.count) writes acknowledged before the command returned, \(attemptsAfter) refused after; none acknowledged after; the open transaction cannot commit; V1 holds exactly the acknowledged rows")
    }
}

/// A flag set once from any task.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
