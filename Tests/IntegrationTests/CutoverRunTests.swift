import CocoaTrack
import Foundation
import MigrationEngine
import Sandbox
import Testing

/// A stand-in for a Slack incoming webhook: appends every POSTed body to a file.
struct WebhookCapture {
    let port: Int
    let file: String
    let pid: pid_t

    static let server = """
        import http.server, sys
        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
                with open(sys.argv[2], 'ab') as f: f.write(body + b'\\n')
                self.send_response(200); self.end_headers(); self.wfile.write(b'ok')
            def log_message(self, *a): pass
        http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
        """

    static func start(dir: String) async throws -> WebhookCapture {
        let port = try FreePort.find()
        let script = dir + "/webhook.py"
        try server.write(toFile: script, atomically: true, encoding: .utf8)
        let file = dir + "/webhook.jsonl"
        _ = FileManager.default.createFile(atPath: file, contents: nil)
        let pid = try Subprocess.launch("/usr/bin/env", ["python3", script, String(port), file], logFile: dir + "/webhook.log")
        for _ in 0..<100 {
            if (try? await Subprocess.run("/usr/bin/env", ["curl", "-s", "-o", "/dev/null", "-d", "{}", "http://127.0.0.1:\(port)/"], check: false))?.status == 0 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        return WebhookCapture(port: port, file: file, pid: pid)
    }

    var url: String { "http://127.0.0.1:\(port)/hooks/T000/B000/xyz" }

    func messages() -> [String] {
        ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["text"] as? String
        }
    }

    func stop() {
        kill(pid, SIGKILL)  // the test runner's children may ignore SIGTERM
        _ = waitpid(pid, nil, 0)
    }
}

@Suite("cutover run", .serialized)
struct CutoverRunTests {
    static func tempDir(_ label: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ctm-\(label)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test("the runbook runs with hooks, a hold point, approval, a journal and webhook messages, and resumes where it stopped")
    func runbook() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("cutover")
        try await MigrationFixture.generate(pair, scale: 0.004, seed: 51)
        let dir = try Self.tempDir("cutover")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let webhook = try await WebhookCapture.start(dir: dir)
        defer { webhook.stop() }
        let settings = """
            thresholds:
              row_count_mismatch_pct: 20    # the tiny data set rejects 1 of 8 users
            webhook_url: \(webhook.url)
            hooks:
              before_migrate: echo "$CUTOVER_STEP" >> '\(dir)/hooks.log'; sleep 2
              after_verify: echo "$CUTOVER_STEP" >> '\(dir)/hooks.log'
              dns_switch: echo switched > '\(dir)/dns.txt'
            """
        try settings.write(toFile: dir + "/settings.yml", atomically: true, encoding: .utf8)
        let env = VerifyTests.env(pair)
        let base = ["--config", dir + "/settings.yml", "--yes", "--reports", dir + "/reports"]

        // First run: everything up to the hold point before the DNS switch.
        let first = try await CLI.run(["cutover", "run", "--pause-before", "dns_switch", "--status-every", "1"] + base, env: env)
        #expect(first.status == 0, "\(first.stderr.suffix(1500))")
        #expect(first.stdout.contains("paused before dns_switch"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/dns.txt"))
        #expect(try String(contentsOfFile: dir + "/hooks.log", encoding: .utf8) == "migrate\nverify\n")
        let v1ReadOnly = try await pair.v1Admin().using { try await $0.scalar("SELECT has_table_privilege('app_user', 'public.deliveries', 'INSERT')") }
        #expect(v1ReadOnly == "f", "V1 read-only for the app")
        #expect(FileManager.default.fileExists(atPath: dir + "/reports/verify/report.html"))
        let snapshots = try FileManager.default.contentsOfDirectory(atPath: dir + "/reports/snapshots")
        #expect(snapshots.contains { $0.hasPrefix("v1_final_backup") && $0.hasSuffix(".dump") } || snapshots.contains { $0.contains("final") })
        let status = try await CLI.run(["cutover", "status"], env: env)
        #expect(status.stdout.contains("migrate") && status.stdout.split(separator: "\n").first { $0.hasPrefix("dns_switch") }?.contains("paused") == true,
                "\(status.stdout)")

        // Still held without approval.
        let held = try await CLI.run(["cutover", "run"] + base, env: env)
        #expect(held.status == 0 && held.stdout.contains("paused before dns_switch"))
        // Approve: the DNS hook runs; the confirmation has no monitoring yet, so it asks a person.
        #expect(try await CLI.run(["cutover", "approve", "dns_switch"], env: env).status == 0)
        let second = try await CLI.run(["cutover", "run"] + base, env: env)
        #expect(second.status == 0, "\(second.stderr.suffix(800))")
        #expect(second.stdout.contains("paused before confirm"), "\(second.stdout)")
        #expect(FileManager.default.fileExists(atPath: dir + "/dns.txt"))
        #expect(try await CLI.run(["cutover", "approve", "confirm"], env: env).status == 0)
        let third = try await CLI.run(["cutover", "run"] + base, env: env)
        #expect(third.status == 0 && third.stdout.contains("cutover complete"), "\(third.stdout) \(third.stderr.suffix(500))")

        // The journal: each step succeeded exactly once, in the plan's order.
        let succeeded = try await pair.v2Owner().using {
            try await $0.query("SELECT step FROM cocoatrack_migration.runbook_journal WHERE event = 'succeeded' ORDER BY entry_id").rows.map { $0[0]! }
        }
        #expect(succeeded == ["final_backup", "read_only", "v2_snapshot", "migrate", "verify", "decide", "arm_capture", "dns_switch", "confirm"])
        let messages = webhook.messages()
        #expect(messages.contains { $0.contains("started Migration") })
        #expect(messages.contains { $0.contains("decision at decide: continue") })
        #expect(messages.contains { $0.contains("paused before dns_switch") })
        #expect(messages.contains { $0.contains("runbook finished") })
        #expect(messages.contains { $0.contains("status: migrate running since") }, "a status update while a step runs")
        // In the order things happened.
        let order = ["started Final V1 backup", "started Migration", "decision at decide: continue", "paused before dns_switch",
                     "started DNS switch", "runbook finished"].map { key in messages.firstIndex { $0.contains(key) } ?? -1 }
        #expect(!order.contains(-1) && order == order.sorted(), "\(order)")
        for m in messages { for secret in Reliability.secrets(pair) { #expect(!m.contains(secret)) } }
    }

    @Test("a failing verification makes the decision gate roll back (Scenario 1): V2 cleared after a snapshot, V1 writable again, exit 3")
    func rollbackScenario1() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("cutoverrb")
        try await MigrationFixture.generate(pair, scale: 0.004, seed: 52)
        let dir = try Self.tempDir("cutoverrb")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Damage V2 right after the migration: verification fails, the matrix says rollback.
        let settings = """
            thresholds:
              row_count_mismatch_pct: 20
            hooks:
              after_migrate: psql -qX '\(pair.v2SuperURL)' -c "SET session_replication_role = replica; DELETE FROM public.audit_log WHERE id = (SELECT min(id::text)::uuid FROM public.audit_log)"
            """
        try settings.write(toFile: dir + "/settings.yml", atomically: true, encoding: .utf8)
        let out = try await CLI.run(["cutover", "run", "--config", dir + "/settings.yml", "--yes", "--reports", dir + "/reports", "--json"], env: VerifyTests.env(pair))
        #expect(out.status == 3, "\(out.stderr.suffix(1500))")
        #expect(out.stderr.contains("rolled back (Scenario 1)"))
        let (rows, writable) = try await (pair.v2Owner().using { try await $0.scalar("SELECT count(*) FROM public.deliveries") },
                                          pair.v1Admin().using { try await $0.scalar("SELECT has_table_privilege('app_user', 'public.deliveries', 'INSERT')") })
        #expect(rows == "0" && writable == "t")
        let snapshots = try FileManager.default.contentsOfDirectory(atPath: dir + "/reports/snapshots")
        #expect(snapshots.contains { $0.contains("pre_clear") })
        let events = try await pair.v2Owner().using {
            try await $0.query("SELECT step || ':' || event FROM cocoatrack_migration.runbook_journal ORDER BY entry_id").rows.map { $0[0]! }
        }
        #expect(events.contains("decide:decided") && events.contains("rollback:rollback") && events.contains("rollback:finished"))
        #expect(!events.contains("dns_switch:started"))
        // --json streams every journal entry as it is committed, in the journal's order; stdout is JSON alone.
        let streamed = CLI.jsonObjects(out).filter { $0["event"] as? String == "step" }.map { "\($0["step"] as? String ?? "?"):\($0["state"] as? String ?? "?")" }
        #expect(streamed.contains("decide:decided") && streamed.contains("rollback:finished"), "\(streamed)")
        #expect(streamed == events.filter { streamed.contains($0) }, "the stream is the journal, in order: \(streamed) vs \(events)")
        #expect(Set(events).subtracting(streamed).isEmpty, "every journal entry of the run was streamed: \(Set(events).subtracting(streamed))")
    }

    @Test("killed with kill -9 in every step (after its work, before its journal entry), the runbook resumes and completes, each step journaled once")
    func killedInEveryStep() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("cutoverkill")
        try await MigrationFixture.generate(pair, scale: 0.004, seed: 53)
        let dir = try Self.tempDir("cutoverkill")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var settings = "thresholds:\n  row_count_mismatch_pct: 20\nhooks:\n  dns_switch: echo switched >> '\(dir)/dns.txt'\n"
        for step in CutoverStepsForTests.ids { settings += "  after_\(step): sleep 1\n" }
        try settings.write(toFile: dir + "/settings.yml", atomically: true, encoding: .utf8)
        var env = ProcessInfo.processInfo.environment
        for (k, v) in VerifyTests.env(pair) { env[k] = v }
        let args = ["cutover", "run", "--config", dir + "/settings.yml", "--yes", "--reports", dir + "/reports"]
        let watcher = try await pair.v2Super()
        func started(_ step: String) async throws -> Bool {
            guard try await watcher.scalar("SELECT to_regclass('cocoatrack_migration.runbook_journal') IS NOT NULL") == "t" else { return false }
            return try await watcher.scalar("SELECT count(*) > 0 FROM cocoatrack_migration.runbook_journal WHERE step = '\(step)' AND event = 'started'") == "t"
        }
        var killed: [String] = []
        for step in CutoverStepsForTests.ids where step != "confirm" {
            let log = dir + "/run-\(step).log"
            let pid = try Subprocess.launch(CLI.binary, args, environment: env, logFile: log)
            var caught = false
            for _ in 0..<3000 {
                if try await started(step) { caught = true; break }
                try await Task.sleep(for: .milliseconds(10))
            }
            // Wait until the step's work is done and its after-hook (sleep 1) runs, then kill.
            for _ in 0..<3000 {
                let sleeping = (try? await Subprocess.run("/usr/bin/env", ["pgrep", "-P", String(pid), "-f", "sleep 1"], check: false))?.status == 0
                if sleeping { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            kill(pid, SIGKILL)
            _ = await Subprocess.wait(pid: pid)
            if caught { killed.append(step) }
        }
        #expect(killed == CutoverStepsForTests.ids.filter { $0 != "confirm" }, "killed in \(killed)")
        // Resume to the end (the confirmation asks a person).
        let resumed = try await CLI.run(args, env: VerifyTests.env(pair))
        #expect(resumed.status == 0 && resumed.stdout.contains("paused before confirm"), "\(resumed.stdout) \(resumed.stderr.suffix(800))")
        #expect(try await CLI.run(["cutover", "approve", "confirm"], env: VerifyTests.env(pair)).status == 0)
        let done = try await CLI.run(args, env: VerifyTests.env(pair))
        #expect(done.status == 0 && done.stdout.contains("cutover complete"), "\(done.stderr.suffix(800))")
        let succeeded = try await watcher.query("SELECT step, count(*) FROM cocoatrack_migration.runbook_journal WHERE event = 'succeeded' GROUP BY step").rows
        #expect(Set(succeeded.map { $0[0]! }) == Set(CutoverStepsForTests.ids) && succeeded.allSatisfy { $0[1] == "1" }, "\(succeeded)")
        // The data is whole: the last verification passed and V2 holds every migrated row once.
        #expect(try await Verifier.latest(watcher, stateSchema: CocoaTrackMapping.stateSchema)?.outcome == "pass")
        #expect(try await watcher.scalar("SELECT count(*) FROM cocoatrack_migration.capture") == "1", "armed once")
        await watcher.close()
    }
}

enum CutoverStepsForTests {
    static let ids = ["final_backup", "read_only", "v2_snapshot", "migrate", "verify", "decide", "arm_capture", "dns_switch", "confirm"]
}

@Suite("rehearse")
struct RehearseTests {
    @Test("rehearse --scale 0.01 runs the runbook and both drills on its own sandbox, exits 0 and writes its report")
    func rehearse() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let dir = try CutoverRunTests.tempDir("rehearse")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sandbox = dir + "/sandbox"
        // `sandbox up`'s directory (here a stand-in with a file of the user's) is not the rehearsal's.
        let users = dir + "/users-sandbox"
        try FileManager.default.createDirectory(atPath: users, withIntermediateDirectories: true)
        try "the user's".write(toFile: users + "/state.json", atomically: true, encoding: .utf8)
        let out = try await CLI.run(["rehearse", "--scale", "0.01", "--dir", dir + "/report", "--sandbox-dir", sandbox], env: ["COCOATRACK_SANDBOX_DIR": users])
        let marked = FileManager.default.fileExists(atPath: sandbox + "/made-by-rehearse")
        _ = try await CLI.run(["sandbox", "down", "--dir", sandbox])
        #expect(out.status == 0, "\(out.stderr.suffix(2000))")
        #expect(marked, "the rehearsal marks the sandbox it made")
        #expect(try String(contentsOfFile: users + "/state.json", encoding: .utf8) == "the user's")
        #expect(out.stderr.contains("sandbox down --dir \(sandbox)"), "\(out.stderr.suffix(600))")
        let md = try String(contentsOfFile: dir + "/report/rehearsal.md", encoding: .utf8)
        #expect(md.contains("**PASS: 7 of 7 drill checks passed"), "\(md.prefix(300))")
        #expect(md.contains("Predicted production window"))
        let html = try String(contentsOfFile: dir + "/report/rehearsal.html", encoding: .utf8)
        #expect(html.contains("data-passed=\"true\""))
        let m = try RehearsalMeasurements.load(dir + "/report/rehearsal.json")
        #expect(m.sourceRows > 30_000 && m.migrateSeconds > 0 && m.verifySeconds > 0)
        #expect(FileManager.default.fileExists(atPath: dir + "/report/runbook/verify/report.html"))
        // Its post-mortems, linked from its report: the Scenario 1 drill (attempt 1) and the runbook (attempt 2).
        #expect(md.contains("(postmortem-attempt-1/report.html)") && html.contains("<a href=\"postmortem/report.html\">"))
        let drill = try PostmortemReport.decode(String(contentsOfFile: dir + "/report/postmortem-attempt-1/report.json", encoding: .utf8))
        #expect(drill.attempt == 1 && drill.outcome == "rolled_back" && drill.rollback?.steps.map(\.id) == ["clear_v2", "v1_writable"])
        #expect((drill.rollback?.rtoSeconds ?? 0) > 0 && drill.steps.first { $0.id == "arm_capture" }?.holdPoint != nil)
        let whole = try PostmortemReport.decode(String(contentsOfFile: dir + "/report/postmortem/report.json", encoding: .utf8))
        #expect(whole.attempt == 2 && whole.outcome == "finished" && whole.steps.allSatisfy { $0.outcome == "succeeded" })
        #expect(whole.decisions.first?.step == "decide" && whole.decisions.first?.action == "continue" && whole.decisions.last?.step == "confirm", "\(whole.decisions.map(\.step))")
        #expect(FileManager.default.fileExists(atPath: dir + "/report/postmortem/report.html"))
        // The confirm step held (an inconclusive decision), was approved, and decided again on
        // resuming: the rehearsal report lists each decision once, saying which held and which went on.
        let confirms = html.components(separatedBy: "<tr class=\"decision\" data-step=\"confirm\" data-attempt=\"2\"").dropFirst()
            .map { String($0.prefix { $0 != "\n" }) }
        #expect(confirms.count == whole.decisions.filter { $0.step == "confirm" }.count && !confirms.isEmpty, "\(confirms)")
        #expect(confirms.last?.contains("decided again after the hold at confirm was approved") == true, "\(confirms)")
        #expect(confirms.dropLast().allSatisfy { $0.contains("the runbook held at confirm") && !$0.contains("decided again after") }, "\(confirms)")
    }
}
