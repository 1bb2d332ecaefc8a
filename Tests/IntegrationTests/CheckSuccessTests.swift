import CocoaTrack
import Foundation
import MigrationEngine
import Sandbox
import Testing

@Suite("check-success", .serialized)
struct CheckSuccessTests {
    /// A stand-in for Sentry's issues API: serves the JSON in a file for every GET.
    static let sentryServer = """
        import http.server, sys
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = open(sys.argv[2], 'rb').read()
                ok = self.headers.get('Authorization') == 'Bearer sentry-token-1234' and '/api/0/projects/cocoa/cocoatrack/issues/' in self.path
                self.send_response(200 if ok else 401); self.send_header('Content-Type', 'application/json'); self.end_headers()
                self.wfile.write(body if ok else b'{"detail": "auth"}')
            def log_message(self, *a): pass
        http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
        """

    func statuses(_ out: Subprocess.Output) throws -> [String: String] {
        let obj = try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any]
        let criteria = obj?["criteria"] as? [[String: Any]] ?? []
        return Dictionary(uniqueKeysWithValues: criteria.map { ($0["name"] as! String, $0["status"] as! String) })
    }

    @Test("passes on a migrated sandbox; each criterion fails when its evidence is broken")
    func criteria() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("success")
        try await MigrationFixture.generate(pair, scale: 0.004, seed: 61)
        try await MigrationFixture.migrate(pair)
        let dir = try CutoverRunTests.tempDir("success")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = try FreePort.find()
        try Self.sentryServer.write(toFile: dir + "/sentry.py", atomically: true, encoding: .utf8)
        try "[]".write(toFile: dir + "/issues.json", atomically: true, encoding: .utf8)
        let pid = try Subprocess.launch("/usr/bin/env", ["python3", dir + "/sentry.py", String(port), dir + "/issues.json"], logFile: dir + "/sentry.log")
        defer { kill(pid, SIGKILL); _ = waitpid(pid, nil, 0) }
        try await Task.sleep(for: .milliseconds(500))
        var settings = "thresholds:\n  row_count_mismatch_pct: 20\nsentry:\n  base_url: http://127.0.0.1:\(port)\n  org: cocoa\n  project: cocoatrack\ntest_accounts:\n"
        for a in V1Generator.testAccounts where a.isActive { settings += "  \(a.email): '\(a.password)'\n" }
        try settings.write(toFile: dir + "/settings.yml", atomically: true, encoding: .utf8)
        var env = VerifyTests.env(pair)
        env["SENTRY_AUTH_TOKEN"] = "sentry-token-1234"
        let args = ["check-success", "--config", dir + "/settings.yml", "--json"]
        #expect(try await CLI.run(["verify-integrity", "--config", dir + "/settings.yml"], env: env).status == 0)

        let good = try await CLI.run(args, env: env)
        #expect(good.status == 0, "\(good.stdout) \(good.stderr)")
        let goodStatuses = try statuses(good)
        #expect(goodStatuses.values.allSatisfy { $0 == "pass" } && goodStatuses.count == 7, "\(goodStatuses)")
        for a in V1Generator.testAccounts { #expect(!good.stdout.contains(a.password) && !good.stderr.contains(a.password)) }

        // Sentry reports a new error.
        try #"[{"shortId": "COCOA-1", "title": "TypeError in deliveries", "level": "error"}]"#.write(toFile: dir + "/issues.json", atomically: true, encoding: .utf8)
        let sentry = try await CLI.run(args, env: env)
        let sentryStatuses = try statuses(sentry)
        #expect(sentry.status == 3 && sentryStatuses["no_critical_errors"] == "fail")
        try "[]".write(toFile: dir + "/issues.json", atomically: true, encoding: .utf8)

        // An RLS policy that blocks inserts.
        let v2 = try await pair.v2Super()
        try await v2.execute("ALTER POLICY deliveries_insert_own ON public.deliveries WITH CHECK (false)")
        let rls = try await CLI.run(args, env: env)
        let rlsStatuses = try statuses(rls)
        #expect(rls.status == 3 && rlsStatuses["users_can_create_deliveries"] == "fail" && rlsStatuses["users_can_log_in"] == "pass")
        try await v2.execute("ALTER POLICY deliveries_insert_own ON public.deliveries WITH CHECK (created_by = auth.uid())")
        #expect(try await CLI.run(args, env: env).status == 0, "and passes again once restored")

        // A wrong password hash.
        try await v2.execute("UPDATE auth.users SET encrypted_password = '$2a$04$' || repeat('x', 53) WHERE email = 'viewer@cocoatrack.ci'")
        let login = try await CLI.run(args, env: env)
        let loginStatuses = try statuses(login)
        #expect(login.status == 3 && loginStatuses["users_can_log_in"] == "fail")
        #expect(login.stdout.contains("viewer@cocoatrack.ci: password does not match"))

        // A changed total, seen by the next verification.
        try await v2.execute("SET session_replication_role = replica; UPDATE public.invoices SET total_amount = total_amount + 1 WHERE id = (SELECT min(id::text)::uuid FROM public.invoices)")
        _ = try await CLI.run(["verify-integrity", "--config", dir + "/settings.yml"], env: env)
        let totals = try await CLI.run(args, env: env)
        let totalStatuses = try statuses(totals)
        #expect(totalStatuses["dashboard_totals"] == "fail" && totalStatuses["checksums"] == "fail")
        await v2.close()
    }
}
