import CocoaTrack
import Foundation
import MigrationEngine
import Testing

/// migrate's progress as the operator reads it (issue 17): rows committed (never rows only read),
/// a rate from the first sample, phases after the rows, rates over this run's rows, the same
/// foreign-key count on resume as fresh, one line per table and phase without a terminal.
@Suite("migrate progress", .serialized)
struct ProgressCLITests {
    static func env(_ pair: DatabasePair) -> [String: String] {
        var e = ProcessInfo.processInfo.environment
        e["V1_DATABASE_URL"] = pair.v1URL
        e["V2_DATABASE_URL"] = pair.v2URL
        return e
    }

    static func fkCount(_ stdout: String) -> Int? {
        guard let line = stdout.split(separator: "\n").first(where: { $0.hasPrefix("foreign keys: ") }) else { return nil }
        return Int(line.dropFirst("foreign keys: ".count).prefix { $0.isNumber })
    }

    static func number(_ s: Substring) -> Int64? { Int64(s.replacingOccurrences(of: ",", with: "")) }

    /// As the executable prints counts: 1,234,567.
    func fmt(_ n: Int64) -> String { Self.fmt(n) }
    static func fmt(_ n: Int64) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    @Test("fresh run: committed rows in batch steps, a rate with every sample that has commits, phases, one line per table and phase")
    func fresh() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("progress")
        try await MigrationFixture.generate(pair, scale: 0.01, seed: 81)
        let batch: Int64 = 250
        let json = try await CLI.run(["migrate", "--allow-writable-v1", "--batch-rows", String(batch), "--json"], env: ["V1_DATABASE_URL": pair.v1URL, "V2_DATABASE_URL": pair.v2URL])
        #expect(json.status == 0, "\(json.stderr.suffix(800))")
        let events = json.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let c = try await pair.v2Owner()
        let progress = try await c.query("SELECT load_name, source_rows, rows_read FROM cocoatrack_migration.load_progress").rows
            .reduce(into: [String: (Int64, Int64)]()) { $0[$1[0]!] = (Int64($1[1]!)!, Int64($1[2]!)!) }
        await c.close()
        // Every progress sample counts whole committed batches (or the whole table), never rows only read.
        for e in events where e["event"] as? String == "progress" {
            let load = e["load"] as! String, committed = (e["committed"] as! NSNumber).int64Value
            let total = progress[load]!.0
            #expect(committed % batch == 0 || committed == total, "\(load): \(committed) is not a committed batch boundary")
            #expect(committed <= (e["read"] as! NSNumber).int64Value)
            if committed > 0 && e["phase"] as? String == "rows" {
                #expect((e["rows_per_s"] as! NSNumber).intValue > 0 && (e["eta_s"] as! NSNumber).intValue >= 0, "\(e)")
            }
        }
        // Each load starts once, rebuilds its keys and indexes once, finishes once; the run restores
        // foreign keys and checks orphans.
        for load in progress.keys {
            let mine = events.filter { $0["load"] as? String == load }
            #expect(mine.filter { $0["event"] as? String == "load_started" }.count == 1, "\(load)")
            #expect(mine.filter { $0["event"] as? String == "phase_started" && $0["phase"] as? String == "keys and indexes" }.count == 1, "\(load)")
            #expect(mine.filter { $0["event"] as? String == "load_finished" }.count == 1, "\(load)")
        }
        #expect(events.contains { $0["event"] as? String == "phase_finished" && $0["phase"] as? String == "foreign keys" && ($0["load"] as? String) == "" })
        #expect(events.contains { $0["event"] as? String == "phase_finished" && $0["phase"] as? String == "orphan check" })
        let summary = try #require(events.first { $0["event"] as? String == "summary" })
        #expect((summary["rows_this_run"] as! NSNumber).int64Value == progress.values.reduce(0) { $0 + $1.1 })

        // Without a terminal: one line per table and phase, no periodic lines; the counts are the checkpoints'.
        let again = try await TestSandbox.shared.freshPair("progress2")
        try await MigrationFixture.generate(again, scale: 0.01, seed: 81)
        let plain = try await CLI.run(["migrate", "--allow-writable-v1", "--batch-rows", String(batch)], env: ["V1_DATABASE_URL": again.v1URL, "V2_DATABASE_URL": again.v2URL])
        #expect(plain.status == 0, "\(plain.stderr.suffix(800))")
        let lines = plain.stderr.split(separator: "\n").map(String.init)
        #expect(!lines.contains { $0.hasPrefix("progress:") || $0.contains("0/s") || $0.contains("ETA ?") }, "\(plain.stderr)")
        for (load, (total, _)) in progress {
            #expect(lines.filter { $0 == "\(load): loading \(fmt(total)) rows" }.count == 1, "\(load): \(plain.stderr)")
            let committed = lines.filter { $0.hasPrefix("\(load): \(fmt(total)) of \(fmt(total)) rows committed") && $0.hasSuffix("; rebuilding keys and indexes…") }
            #expect(committed.count == 1, "\(load): \(plain.stderr)")
            #expect(lines.filter { $0.hasPrefix("loaded \(load) ") }.count == 1, "\(load)")
        }
        #expect(lines.contains { $0.hasPrefix("foreign keys: ") && $0.contains(" validated in this run (") }, "\(plain.stderr)")
        #expect(lines.contains { $0.hasPrefix("orphan check: ") && $0.contains(" 0 orphans (") }, "\(plain.stderr)")
        #expect(!lines.contains { $0.contains(" 0 of ") && $0.contains("rows committed;") }, "the count when the rows are done is the final one: \(plain.stderr)")
        #expect((Self.fkCount(plain.stdout) ?? 0) >= 15, "\(plain.stdout)")
    }

    @Test("after kill -9: the resumed run counts only its own rows, says what earlier runs committed, and checks as many foreign keys as a fresh run")
    func resumed() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("progress-resume")
        let fresh = try await TestSandbox.shared.freshPair("progress-fresh")
        try await MigrationFixture.generate(pair, scale: 0.01, seed: 82)
        try await MigrationFixture.generate(fresh, scale: 0.01, seed: 82)
        let reference = try await CLI.run(["migrate", "--allow-writable-v1"], env: ["V1_DATABASE_URL": fresh.v1URL, "V2_DATABASE_URL": fresh.v2URL])
        #expect(reference.status == 0, "\(reference.stderr.suffix(800))")
        let freshFKs = try #require(Self.fkCount(reference.stdout), "\(reference.stdout)")
        #expect(freshFKs >= 15, "\(reference.stdout)")

        let log = FileManager.default.temporaryDirectory.appendingPathComponent("ctm-progress-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let watcher = try await pair.v2Super()
        let pid = try Subprocess.launch(CLI.binary, ["migrate", "--allow-writable-v1", "--batch-rows", "300"], environment: Self.env(pair), logFile: log)
        for _ in 0..<3000 {
            if try await MigrateResumeTests.batches(watcher) >= 8 { break }
            if kill(pid, 0) != 0 { break }
            try await Task.sleep(for: .milliseconds(5))
        }
        kill(pid, SIGKILL)
        let status = await Subprocess.wait(pid: pid)
        try #require(status == 128 + SIGKILL, "migrate finished before it was killed; the test data is too small")
        let before = try await watcher.query("SELECT load_name, rows_read, source_rows, status FROM cocoatrack_migration.load_progress").rows
        let committedBefore = before.reduce(Int64(0)) { $0 + Int64($1[1]!)! }
        let total = before.reduce(Int64(0)) { $0 + Int64($1[2]!)! }
        try #require(committedBefore > 0 && committedBefore < total)

        let resumed = try await CLI.run(["migrate", "--resume", "--allow-writable-v1"], env: ["V1_DATABASE_URL": pair.v1URL, "V2_DATABASE_URL": pair.v2URL])
        #expect(resumed.status == 0, "\(resumed.stderr.suffix(800))")
        #expect(Self.fkCount(resumed.stdout) == freshFKs, "resumed: \(resumed.stdout)\nfresh: \(reference.stdout)")
        // The rate is over this run's rows: total less what the killed run committed.
        let rateLine = try #require(resumed.stdout.split(separator: "\n").first { $0.hasPrefix("migration in ") }, "\(resumed.stdout)")
        let thisRun = rateLine.split(separator: "(").last.flatMap { Self.number($0.split(separator: " ")[0]) }
        #expect(thisRun == total - committedBefore, "\(rateLine): expected \(total - committedBefore) rows in this run")
        #expect(rateLine.contains(" source rows in this run, "), "\(rateLine)")
        // Each load the killed run had started says what earlier runs committed.
        for r in before where Int64(r[1]!)! > 0 && r[3] != "done" {
            let rows = Int64(r[1]!)!, source = Int64(r[2]!)!
            #expect(resumed.stderr.contains("\(r[0]!): resuming, \(fmt(rows)) of \(fmt(source)) rows committed by earlier runs"), "\(r[0]!): \(resumed.stderr)")
        }
        // Already complete: no rate, the same foreign keys.
        let done = try await CLI.run(["migrate", "--allow-writable-v1"], env: ["V1_DATABASE_URL": pair.v1URL, "V2_DATABASE_URL": pair.v2URL])
        #expect(done.status == 0 && done.stdout.contains("already complete"), "\(done.stdout)")
        #expect(!done.stdout.contains("rows/s"), "\(done.stdout)")
        #expect(Self.fkCount(done.stdout) == freshFKs, "\(done.stdout)")
        await watcher.close()
    }
}
