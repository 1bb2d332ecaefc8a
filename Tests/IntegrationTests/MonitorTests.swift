import CocoaTrack
import Foundation
import MigrationEngine
import Sandbox
import Testing

@Suite("monitor", .serialized)
struct MonitorTests {
    /// A stand-in for the API's health endpoint whose delay (seconds) is read from a file.
    static let apiServer = """
        import http.server, sys, time
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                time.sleep(float(open(sys.argv[2]).read() or '0'))
                self.send_response(200); self.send_header('Content-Type', 'application/json'); self.end_headers()
                self.wfile.write(b'{"status": "ok"}')
            def log_message(self, *a): pass
        http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
        """

    /// A stand-in for Supabase's Management API logs endpoint: `{"result": [...], "error": null}`.
    static let logsServer = """
        import http.server, sys, json
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                ok = self.headers.get('Authorization') == 'Bearer sbp_test_access_token' and 'sql=' in self.path and 'iso_timestamp_start=' in self.path
                self.send_response(200 if ok else 401); self.send_header('Content-Type', 'application/json'); self.end_headers()
                self.wfile.write(json.dumps({"result": [{"attempts": 200, "failures": 4}], "error": None} if ok else {"message": "unauthorized"}).encode())
            def log_message(self, *a): pass
        http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
        """

    @Test("monitor samples a local API, logins and deliveries; records samples; fires the right rule when the API degrades or logins fail")
    func monitor() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("monitor")
        try await MigrationFixture.generate(pair, scale: 0.002, seed: 71)
        try await MigrationFixture.migrate(pair)
        let dir = try CutoverRunTests.tempDir("monitor")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = try FreePort.find()
        try Self.apiServer.write(toFile: dir + "/api.py", atomically: true, encoding: .utf8)
        try "0".write(toFile: dir + "/delay", atomically: true, encoding: .utf8)
        let api = try Subprocess.launch("/usr/bin/env", ["python3", dir + "/api.py", String(port), dir + "/delay"], logFile: dir + "/api.log")
        defer { kill(api, SIGKILL); _ = waitpid(api, nil, 0) }
        let webhook = try await WebhookCapture.start(dir: dir)
        defer { webhook.stop() }
        try await FreePort.waitUntilListening(port)
        try await pair.v2Owner().using {
            try await $0.execute("CREATE TABLE public.login_events (at timestamptz NOT NULL DEFAULT now(), ok boolean NOT NULL); INSERT INTO public.login_events (ok) SELECT true FROM generate_series(1, 20)")
        }
        let settings = """
            thresholds:
              row_count_mismatch_pct: 50
            webhook_url: \(webhook.url)
            monitor:
              health_urls:
                api: http://127.0.0.1:\(port)/health
              v1_health_url: http://127.0.0.1:\(port)/v1/health
              requests_per_sample: 3
              login_sql: SELECT count(*), count(*) FILTER (WHERE NOT ok) FROM public.login_events WHERE at > $1::timestamptz - interval '1 hour'
            """
        try settings.write(toFile: dir + "/settings.yml", atomically: true, encoding: .utf8)
        let env = VerifyTests.env(pair)
        let cfg = ["--config", dir + "/settings.yml"]
        _ = try await CLI.run(["verify-integrity"] + cfg, env: env)
        let base = try await CLI.run(["monitor", "--record-baseline"] + cfg, env: env)
        #expect(base.status == 0 && base.stdout.contains("baseline recorded"), "\(base.stderr)")

        // Healthy: samples recorded, nothing fires. (Counted in samples, not seconds: a loaded
        // machine takes longer per sample, never fewer samples.)
        let calm = try await CLI.run(["monitor", "--for", "10m", "--every", "1s", "--samples", "3"] + cfg, env: env)
        #expect(calm.status == 0 && calm.stdout.contains("no rule of the matrix confirmed"), "\(calm.stdout) \(calm.stderr)")
        // Sentry is not configured here: said before the first sample and in the last line, and nothing else is.
        #expect(calm.stderr.contains("warning: not measured: Sentry errors (set sentry.base_url"), "\(calm.stderr)")
        #expect(calm.stdout.contains("; not measured: Sentry errors.") && !calm.stdout.contains("API latency") && !calm.stdout.contains("logins"), "\(calm.stdout)")
        let v2 = try await pair.v2Owner()
        let samples = Int(try await v2.scalar("SELECT count(*) FROM cocoatrack_migration.monitor_samples") ?? "0") ?? 0
        #expect(samples >= 2)
        #expect(try await v2.scalar("SELECT bool_and(latency_p95_ms IS NOT NULL AND baseline_p95_ms IS NOT NULL AND login_attempts = 20 AND login_failures = 0) FROM cocoatrack_migration.monitor_samples") == "t")

        // The API slows down: performance degradation, confirmed by 3 samples → investigate (an alert, monitoring goes on).
        // The rule is +50 % of V1's p95. A busy machine can record a baseline above a second (CI
        // saw 1080 ms for a GET with no delay), so the delay is derived from the baseline recorded:
        // every request then takes at least the delay, which is above 1.5 × the baseline.
        let baselineMs = Double(try await v2.scalar("SELECT p95_ms FROM cocoatrack_migration.monitor_baseline ORDER BY recorded_at DESC LIMIT 1") ?? "") ?? 0
        #expect(baselineMs > 0)
        let delay = max(1.5, baselineMs / 1000 * 1.5 + 1.0)
        try String(delay).write(toFile: dir + "/delay", atomically: true, encoding: .utf8)
        let slow = try await CLI.run(["monitor", "--for", "10m", "--every", "1s", "--confirm", "3", "--samples", "4", "--new"] + cfg, env: env)
        #expect(slow.status == 0 && slow.stdout.contains("monitor ALERT: Performance degradation"), "\(slow.stdout) \(slow.stderr)")
        #expect(webhook.messages().contains { $0.contains("[monitor] monitor ALERT: Performance degradation") })
        #expect(!webhook.messages().contains { $0.contains("Login failures") })

        // Logins fail: over 10 % for 2 samples → rollback: monitoring stops with exit 3.
        try "0".write(toFile: dir + "/delay", atomically: true, encoding: .utf8)
        try await v2.execute("INSERT INTO public.login_events (ok) SELECT false FROM generate_series(1, 10)")
        let logins = try await CLI.run(["monitor", "--for", "10m", "--every", "1s", "--confirm", "2", "--samples", "6", "--new"] + cfg, env: env)
        #expect(logins.status == 3 && logins.stdout.contains("monitor ALERT: Login failures"), "\(logins.stdout) \(logins.stderr)")
        #expect(try await v2.scalar("SELECT outcome FROM cocoatrack_migration.monitor_sessions ORDER BY session_id DESC LIMIT 1") == "rollback")
        #expect(try await v2.scalar("SELECT action FROM cocoatrack_migration.decisions ORDER BY decided_at DESC LIMIT 1") == "rollback")
        // decide now sees the samples (after the switch) and says rollback too.
        let decided = try await CLI.run(["decide"] + cfg, env: env)
        #expect(decided.status == 3 && decided.stdout.contains("login_failures"))
        // Logins from Supabase's Management API logs endpoint, and Sentry, each a local stand-in.
        let logsPort = try FreePort.find()
        try Self.logsServer.write(toFile: dir + "/logs.py", atomically: true, encoding: .utf8)
        let logs = try Subprocess.launch("/usr/bin/env", ["python3", dir + "/logs.py", String(logsPort)], logFile: dir + "/logs.log")
        defer { kill(logs, SIGKILL); _ = waitpid(logs, nil, 0) }
        let sentryPort = try FreePort.find()
        try CheckSuccessTests.sentryServer.write(toFile: dir + "/sentry.py", atomically: true, encoding: .utf8)
        try "[]".write(toFile: dir + "/issues.json", atomically: true, encoding: .utf8)
        let sentryPid = try Subprocess.launch("/usr/bin/env", ["python3", dir + "/sentry.py", String(sentryPort), dir + "/issues.json"], logFile: dir + "/sentry.log")
        defer { kill(sentryPid, SIGKILL); _ = waitpid(sentryPid, nil, 0) }
        try await FreePort.waitUntilListening(logsPort)
        try await FreePort.waitUntilListening(sentryPort)
        let settings2 = settings.split(separator: "\n").map { line -> String in
            line.contains("login_sql:") ? "  auth_logs_url: http://127.0.0.1:\(logsPort)/v1/projects/abcd/analytics/endpoints/logs.all" : String(line)
        }.joined(separator: "\n") + "\nsentry:\n  base_url: http://127.0.0.1:\(sentryPort)\n  org: cocoa\n  project: cocoatrack\n"
        try settings2.write(toFile: dir + "/settings2.yml", atomically: true, encoding: .utf8)
        var env2 = env
        env2["SENTRY_AUTH_TOKEN"] = "sentry-token-1234"
        env2["SUPABASE_ACCESS_TOKEN"] = "sbp_test_access_token"
        let fromLogs = try await CLI.run(["monitor", "--for", "10m", "--every", "1s", "--samples", "1", "--new", "--config", dir + "/settings2.yml"], env: env2)
        #expect(fromLogs.status == 0, "\(fromLogs.stdout) \(fromLogs.stderr)")
        #expect(!fromLogs.stderr.contains("not measured") && fromLogs.stdout.contains("no rule of the matrix confirmed."), "everything configured, nothing left out: \(fromLogs.stdout) \(fromLogs.stderr)")
        #expect(try await v2.scalar("SELECT login_attempts || '/' || login_failures || ' ' || (detail->>'sentry_critical_issues') FROM cocoatrack_migration.monitor_samples ORDER BY sampled_at DESC LIMIT 1") == "200/4 0")
        #expect(!fromLogs.stdout.contains("sbp_test_access_token") && !fromLogs.stderr.contains("sbp_test_access_token"))

        // The API hangs: each request ends at the deadline (monitor.request_timeout_seconds), counts
        // as an error and at the deadline's latency, so p95 is at least the deadline: a hanging API
        // never looks fast. (The stand-in waits 60 s; the deadline is 1 s.)
        try "60".write(toFile: dir + "/delay", atomically: true, encoding: .utf8)
        let settings3 = settings.replacingOccurrences(of: "  requests_per_sample: 3", with: "  requests_per_sample: 2\n  request_timeout_seconds: 1")
        try settings3.write(toFile: dir + "/settings3.yml", atomically: true, encoding: .utf8)
        let hanging = try await CLI.run(["monitor", "--for", "10m", "--every", "1s", "--samples", "1", "--new", "--config", dir + "/settings3.yml"], env: env)
        #expect(hanging.status == 0, "\(hanging.stdout) \(hanging.stderr)")
        let last = try await v2.query("SELECT latency_p95_ms, detail->>'request_errors', detail->>'requests', detail->>'latency_p50_ms' FROM cocoatrack_migration.monitor_samples ORDER BY sampled_at DESC LIMIT 1").rows.first
        let p95 = last?[0].flatMap(Double.init) ?? 0
        #expect(p95 >= 1000, "p95 \(p95) ms with every request timing out at 1 s")
        #expect(last?[1] == "2" && last?[2] == "2", "both requests are errors: \(String(describing: last))")
        #expect((last?[3].flatMap(Double.init) ?? 0) >= 1000, "p50 too")
        try "0".write(toFile: dir + "/delay", atomically: true, encoding: .utf8)
        // A time-like flag that is not a time is a usage error (exit 2).
        for bad in [["--for", "soon"], ["--every", "0s"], ["--every", "5m&x"], ["--for", "-1h"]] {
            let r = try await CLI.run(["monitor"] + bad + cfg, env: env)
            #expect(r.status == 2, "\(bad): \(r.status) \(r.stderr)")
        }

        await v2.close()
    }
}
