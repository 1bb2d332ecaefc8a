import Foundation
import Logging
import MigrationEngine
import Sandbox

/// The whole cutover rehearsed on a sandbox of its own, each step run as the operator would run
/// it (this tool's own executable, a subprocess per command): the runbook with the clock
/// compressed, a Scenario 1 drill at the decision gate, the whole runbook, a synthetic V2
/// workload and a Scenario 2 drill, then the measurements `cutover plan` predicts from and a
/// report. Drills are judged by what the databases and the journal hold and by the exported
/// reports, never by scraping what a command printed.
public struct CocoaTrackRehearsal: Sendable {
    public struct Options: Sendable {
        public var scale = 0.1
        public var v1Dump: String?
        public var dir = "rehearsal-report"
        public var sandboxDir: String?
        public var windowStart: Date?
        public var logLevel = "warning"
        public init() {}
    }

    public struct Outcome: Sendable {
        public var report: String
        public var failed: [String]
        public var sandboxRoot: String
    }

    struct StepRecord {
        var name: String
        var command: String
        var seconds: Double
        var status: Int32
        var expected: [Int32]
        var ok: Bool { expected.contains(status) }
    }

    public let binary: String
    public let options: Options
    /// Progress for people (stderr).
    public let say: @Sendable (String) -> Void

    public init(binary: String, options: Options, say: @escaping @Sendable (String) -> Void) {
        self.binary = binary
        self.options = options
        self.say = say
    }

    public func run() async throws -> Outcome {
        let (binary, dir, logLevel, scale, v1Dump, say) = (binary, options.dir, options.logLevel, options.scale, options.v1Dump, say)
        let fm = FileManager.default
        let sandbox = RehearsalSandbox(root: RehearsalSandbox.directory(flag: options.sandboxDir))
        try sandbox.checkMayReplace()
        try? fm.removeItem(atPath: dir)
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var records: [StepRecord] = []
        var checks: [(String, Bool)] = []
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "V1_DATABASE_URL")
        env.removeValue(forKey: "V2_DATABASE_URL")
        env["COCOATRACK_SANDBOX_DIR"] = sandbox.root  // every `sandbox` step below works on the rehearsal's own
        let started = Date()

        @discardableResult
        func step(_ name: String, _ args: [String], expect: [Int32] = [0]) async throws -> Subprocess.Output {
            say("▶ \(name): \(ToolCommand.line(args.joined(separator: " ")))")
            let t0 = Date()
            let out = try await Subprocess.run(binary, args + (args.first == "sandbox" ? [] : ["--log-level", logLevel]), environment: env, check: false)
            let r = StepRecord(name: name, command: "cocoatrack-migrate " + args.joined(separator: " "), seconds: Date().timeIntervalSince(t0),
                               status: out.status, expected: expect)
            records.append(r)
            try? (out.stdout + "\n--- stderr ---\n" + out.stderr).write(toFile: "\(dir)/\(records.count)-\(String(name.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" })).log",
                                                                         atomically: true, encoding: .utf8)
            say("  exit \(out.status) in \(String(format: "%.1f", r.seconds)) s\(r.ok ? "" : " — UNEXPECTED (expected \(expect.map(String.init).joined(separator: " or ")))")")
            if !r.ok { say(String(out.stderr.suffix(1200))) }
            return out
        }
        func check(_ what: String, _ ok: Bool) {
            checks.append((what, ok))
            say("  \(ok ? "✔" : "✘") \(what)")
        }

        // The sandbox and V1.
        if sandbox.prior() == .ours {
            _ = try? await Subprocess.run(binary, ["sandbox", "down"] + sandbox.dirArguments, environment: env, check: false)
        }
        try sandbox.checkMayReplace()
        try sandbox.markCreated()  // before `up`: an interrupted or failed `up` removes the directory, marker included
        try await step("sandbox up", ["sandbox", "up"] + sandbox.dirArguments)
        let exports = try await Subprocess.run(binary, ["sandbox", "env", "--superuser"] + sandbox.dirArguments, environment: env).stdout
        for part in exports.replacingOccurrences(of: "export ", with: "").split(separator: " ") {
            let kv = part.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { env[String(kv[0])] = String(kv[1]).trimmingCharacters(in: CharacterSet(charactersIn: "'\n")) }
        }
        guard let v1URL = env["V1_DATABASE_URL"], let v2URL = env["V2_DATABASE_URL"], let v1Super = env["V1_SUPERUSER_URL"] else {
            throw MigrationError(.sandbox, "the sandbox did not report its URLs")
        }
        if let v1Dump {
            let t0 = Date()
            let out = try await Subprocess.run("/usr/bin/env", ["pg_restore", "--data-only", "--disable-triggers", "--no-owner", "-d", v1Super, v1Dump], environment: env, check: false)
            records.append(StepRecord(name: "restore V1 dump", command: "pg_restore --data-only --disable-triggers \(v1Dump)", seconds: Date().timeIntervalSince(t0), status: out.status, expected: [0]))
            if out.status != 0 { throw MigrationError(.subprocessFailed, "pg_restore of \(v1Dump) failed: \(out.stderr.suffix(500))") }
        } else {
            try await step("generate V1", ["generate-v1", "--scale", String(scale), "--seed", "42"])
        }
        try await step("preflight", ["preflight"])
        try await step("inventory", ["inventory"])

        // Settings: a no-op DNS switch, the plan's thresholds (generous for tiny data sets).
        let settings = "\(dir)/settings.yml"
        let threshold = scale < 0.05 && v1Dump == nil ? 20 : 1
        try "thresholds:\n  row_count_mismatch_pct: \(threshold)\nhooks:\n  dns_switch: \"true\"\n".write(toFile: settings, atomically: true, encoding: .utf8)
        let runbook = ["cutover", "run", "--config", settings, "--yes", "--reports", "\(dir)/runbook"]

        // Attempt 1: up to the decision gate, then drill Scenario 1.
        try await step("runbook to the gate", runbook + ["--pause-before", "arm_capture"])
        let v1 = try await PGConnection.connect(ConnectionConfig(label: "V1", url: v1URL), logger: .init(label: "rehearse"))
        let v2 = try await PGConnection.connect(ConnectionConfig(label: "V2", url: v2URL), logger: .init(label: "rehearse"))
        defer { Task { await v1.close(); await v2.close() } }
        // The drills are judged by what the runbook journaled, not by what it printed.
        let journal = RunbookJournal(state: MigrationState(schema: CocoaTrackMapping.stateSchema))
        let held = try await journal.holdPoints(v2).contains("arm_capture")
        let gateDone = try await journal.doneSteps(v2)
        check("runbook reached the gate (paused before arm_capture)", held && gateDone.contains("decide") && !gateDone.contains("arm_capture"))
        // The drill's steps are journaled as `cutover run` journals a rollback's, for the post-mortem.
        try await journal.record(v2, step: "rollback", event: "rollback", detail: "Scenario 1 drill at the decision gate (rehearsal)")
        for (id, title, name, args) in [("clear_v2", "Clear the migrated data from V2", "Scenario 1: clear V2", ["rollback", "--clear-v2", "--yes", "--snapshot-dir", "\(dir)/snapshots"]),
                                        ("v1_writable", "V1 writable again", "Scenario 1: V1 writable", ["read-only", "disable"])] {
            try await journal.record(v2, step: "rollback.\(id)", event: "started", detail: title)
            let out = try await step(name, args)
            try await journal.record(v2, step: "rollback.\(id)", event: out.status == 0 ? "succeeded" : "failed", detail: "exit \(out.status): \(name)")
        }
        check("Scenario 1 leaves V2 empty", try await CocoaTrackDrill.v2Empty(v2))
        check("Scenario 1 leaves V1 writable for app_user", try await CocoaTrackDrill.v1Writable(v1))
        try await journal.record(v2, step: "rollback", event: "finished", detail: "Scenario 1 drill")

        // Attempt 2: the whole runbook.
        try await step("runbook, attempt 2", runbook + ["--new-attempt"])
        try await step("approve the confirmation", ["cutover", "approve", "confirm"])
        try await step("runbook to the end", runbook)
        let finished = try await journal.finished(v2)
        let allDone = try await journal.doneSteps(v2).isSuperset(of: CocoaTrackRunbook.ids)
        check("runbook completed", finished && allDone)
        let stepSeconds = try await journal.stepSeconds(v2)

        // Scenario 2: a synthetic workload on V2, then back to V1.
        try await CocoaTrackDrill.applyWorkload(v2)
        try await step("Scenario 2: assess V2 changes", ["assess-v2-changes", "--export", "\(dir)/assess"])
        let assessed = try? ChangeReport.decode(String(contentsOfFile: "\(dir)/assess/report.json", encoding: .utf8))
        check("assessment finds the workload (2 inserted, 1 updated, ≥1 deleted)",
              assessed.map { $0.inserted == 2 && $0.updated == 1 && $0.deleted >= 1 } ?? false)
        try await step("Scenario 2: sync V2 → V1", ["sync-v2-to-v1", "--yes", "--snapshot-dir", "\(dir)/snapshots"])
        try await step("Scenario 2: data-loss report", ["data-loss-report", "--export", "\(dir)/data-loss"])
        check("V1 holds the planteur created in V2", try await CocoaTrackDrill.v1HoldsWorkload(v1))
        try await step("Scenario 2: clear V2", ["rollback", "--clear-v2", "--yes", "--snapshot-dir", "\(dir)/snapshots"])
        try await step("Scenario 2: V1 writable", ["read-only", "disable"])
        let v2Left = try await CocoaTrackDrill.v2Deliveries(v2)
        let v1Writable = try await CocoaTrackDrill.v1Writable(v1)
        check("Scenario 2 leaves V2 empty and V1 writable", v2Left == "0" && v1Writable)

        // Measurements and the production prediction.
        let (rows, bytes) = try await CocoaTrackDrill.v1Size(v1)
        let m = RehearsalMeasurements(measuredAt: Date().formatted(.iso8601), sourceRows: rows, sourceBytes: bytes,
                                      migrateSeconds: stepSeconds["migrate"] ?? 0, verifySeconds: stepSeconds["verify"] ?? 0,
                                      snapshotSeconds: stepSeconds["final_backup"] ?? 0, v2SnapshotSeconds: stepSeconds["v2_snapshot"])
        try m.json().write(toFile: "\(dir)/rehearsal.json", atomically: true, encoding: .utf8)
        let start = options.windowStart ?? Self.nextSaturday()
        let plan = CutoverPlan.make(timeline: CocoaTrackRunbook.steps, windowStart: start, productionRows: rows, productionBytes: bytes, rehearsal: m)

        // The post-mortems: the Scenario 1 drill (attempt 1) and the whole runbook (attempt 2).
        try await step("post-mortem of the Scenario 1 drill", ["cutover", "postmortem", "--attempt", "1", "--rehearsal", "\(dir)/rehearsal.json", "--export", "\(dir)/postmortem-attempt-1"])
        try await step("post-mortem of the runbook", ["cutover", "postmortem", "--rehearsal", "\(dir)/rehearsal.json", "--export", "\(dir)/postmortem"])

        for r in records where !r.ok { check("\(r.name) exited \(r.status)", false) }
        var rehearsal = RehearsalReport(steps: records.map { .init(name: $0.name, command: $0.command, seconds: $0.seconds, status: $0.status, ok: $0.ok) },
                                        checks: checks.map { .init($0.0, $0.1) }, runbookSeconds: stepSeconds, runbookStepIDs: CocoaTrackRunbook.ids,
                                        measurements: m, plan: plan, totalSeconds: Date().timeIntervalSince(started),
                                        source: v1Dump.map { "restored from \($0)" } ?? "generated, scale \(scale)")
        rehearsal.collect(dir: dir)
        let report = rehearsal.markdown()
        try report.write(toFile: "\(dir)/rehearsal.md", atomically: true, encoding: .utf8)
        try rehearsal.html().write(toFile: "\(dir)/rehearsal.html", atomically: true, encoding: .utf8)
        try ReportHTML.linkRun(root: dir)
        return Outcome(report: report, failed: checks.filter { !$0.1 }.map(\.0), sandboxRoot: sandbox.root)
    }

    /// The next Saturday 02:00 UTC: the default window a rehearsal predicts.
    public static func nextSaturday(after now: Date = Date()) -> Date {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        return cal.nextDate(after: now, matching: DateComponents(hour: 2, minute: 0, weekday: 7), matchingPolicy: .nextTime) ?? now
    }
}
