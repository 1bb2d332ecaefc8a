import CocoaTrack
import Foundation
import MigrationEngine
import Testing

@Suite("decide and the settings file", .serialized)
struct DecideTests {
    @Test("decide reads the latest verification: inconclusive without one, continue when clean, rollback on damage or a flag; decisions recorded")
    func decide() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("decide")
        try await MigrationFixture.generate(pair, scale: 0.004, seed: 41)
        try await MigrationFixture.migrate(pair)
        let env = VerifyTests.env(pair)
        let none = try await CLI.run(["decide"], env: env)
        #expect(none.status == 1 && none.stdout.contains("INCONCLUSIVE"), "\(none.stdout)")
        // The tiny data set rejects more than 1 % of its users: with the plan's threshold that is a rollback…
        _ = try await CLI.run(["verify-integrity"], env: env)
        let strict = try await CLI.run(["decide", "--json"], env: env)
        #expect(strict.status == 3)
        let d = try JSONSerialization.jsonObject(with: Data(strict.stdout.utf8)) as? [String: Any]
        #expect(d?["action"] as? String == "rollback")
        // …and a settings file can raise the threshold, for verify and decide alike.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ctm-decide-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let settings = dir + "/settings.yml"
        try "thresholds:\n  row_count_mismatch_pct: 20\n".write(toFile: settings, atomically: true, encoding: .utf8)
        let verified = try await CLI.run(["verify-integrity", "--config", settings], env: env)
        #expect(verified.status == 0, "\(verified.stdout.suffix(400))")
        let clean = try await CLI.run(["decide", "--config", settings], env: env)
        #expect(clean.status == 0 && clean.stdout.contains("CONTINUE"), "\(clean.stdout)")
        let flagged = try await CLI.run(["decide", "--config", settings, "--flag", "data-corruption"], env: env)
        #expect(flagged.status == 3 && flagged.stdout.contains("IMMEDIATE ROLLBACK"))
        let unknownFlag = try await CLI.run(["decide", "--flag", "bad-vibes"], env: env)
        #expect(unknownFlag.status == 2)
        // Damage in V2 → the next verification fails → rollback.
        try await pair.v2Super().using { try await $0.execute("SET session_replication_role = replica; DELETE FROM public.planteurs WHERE id = (SELECT id FROM public.planteurs ORDER BY id LIMIT 1)") }
        _ = try await CLI.run(["verify-integrity", "--config", settings], env: env)
        let damaged = try await CLI.run(["decide", "--config", settings], env: env)
        // A planteur gone: its content differs and the dashboard's planteur count too (data corruption).
        #expect(damaged.status == 3 && damaged.stdout.contains("IMMEDIATE ROLLBACK"), "\(damaged.stdout)")
        #expect(damaged.stdout.split(separator: "\n").contains { $0.hasPrefix("checksum_mismatch") && $0.contains("TRIGGERED") })
        let recorded = try await pair.v2Owner().using { try await $0.query("SELECT action FROM cocoatrack_migration.decisions ORDER BY decided_at").rows.map { $0[0]! } }
        #expect(recorded == ["inconclusive", "rollback", "continue", "immediate_rollback", "immediate_rollback"])
    }

    @Test("a settings file with an unknown key or a wrong type is refused, naming the key; ./cocoatrack-migrate.yml is read by default")
    func badSettings() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ctm-settings-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "app_role: app_user\nthreshold:\n  login_failure_pct: 10\n".write(toFile: dir + "/a.yml", atomically: true, encoding: .utf8)
        let a = try await CLI.run(["preflight", "--config", dir + "/a.yml", "--v1", "postgresql://x@127.0.0.1:1/x", "--v2", "postgresql://x@127.0.0.1:1/x"])
        #expect(a.status == 1 && a.stderr.contains("line 2: unknown key threshold"), "\(a.stderr)")
        try "thresholds:\n  login_failure_pct: lots\n".write(toFile: dir + "/cocoatrack-migrate.yml", atomically: true, encoding: .utf8)
        let b = try await Subprocess.run("/bin/sh", ["-c", "cd '\(dir)' && exec '\(CLI.binary)' decide --v2 postgresql://x@127.0.0.1:1/x"],
                                         environment: ProcessInfo.processInfo.environment, check: false)
        #expect(b.status == 1 && b.stderr.contains("thresholds.login_failure_pct must be a number"), "\(b.stderr)")
    }
}
