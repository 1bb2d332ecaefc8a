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
              before_migrate: echo "$CUTOVER_STEP" >> '\(dir)/hooks.log'
              after_verify: echo "$CUTOVER_STEP" >> '\(dir)/hooks.log'
              dns_switch: echo switched > '\(dir)/dns.txt'
            """
        try settings.write(toFile: dir + "/settings.yml", atomically: true, encoding: .utf8)
        let env = VerifyTests.env(pair)
        let base = ["--config", dir + "/settings.yml", "--yes", "--reports", dir + "/reports"]

        // First run: everything up to the hold point before the DNS switch.
        let first = try await CLI.run(["cutover", "run", "--pause-before", "dns_switch"] + base, env: env)
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
        for m in messages { for secret in Array(pair.v1.passwords.values) + Array(pair.v2.passwords.values) { #expect(!m.contains(secret)) } }
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
        let out = try await CLI.run(["cutover", "run", "--config", dir + "/settings.yml", "--yes", "--reports", dir + "/reports"], env: VerifyTests.env(pair))
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
    }
}
