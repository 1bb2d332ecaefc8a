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

    /// A stand-in for Supabase Auth's password grant, answering as GoTrue does. The JSON file
    /// (re-read per request) holds {"accounts": {email: password}, "broken": email}: the right
    /// password gets 200 with a session, a wrong one 400 invalid_credentials, the broken email
    /// 500 "Database error querying schema"; without apikey or grant_type=password, 401.
    static let authServer = """
        import http.server, json, sys, urllib.parse
        class H(http.server.BaseHTTPRequestHandler):
            def answer(self, code, obj):
                body = json.dumps(obj).encode()
                self.send_response(code); self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)
            def do_POST(self):
                u = urllib.parse.urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get('Content-Length') or 0))
                if u.path != '/auth/v1/token':
                    return self.answer(404, {"code": 404, "error_code": "not_found", "msg": "not found"})
                if self.headers.get('apikey') != sys.argv[3] or urllib.parse.parse_qs(u.query).get('grant_type') != ['password']:
                    return self.answer(401, {"message": "Invalid API key or grant_type"})
                conf = json.load(open(sys.argv[2]))
                body = json.loads(raw or b'{}')
                email, password = body.get('email'), body.get('password')
                if email == conf.get('broken'):
                    return self.answer(500, {"code": 500, "error_code": "unexpected_failure", "msg": "Database error querying schema"})
                if email in conf['accounts'] and conf['accounts'][email] == password:
                    return self.answer(200, {"access_token": "eyJhbGciOiJIUzI1NiJ9.stand-in.sig", "token_type": "bearer", "expires_in": 3600,
                                             "refresh_token": "stand-in-refresh", "user": {"email": email, "aud": "authenticated"}})
                self.answer(400, {"code": 400, "error_code": "invalid_credentials", "msg": "Invalid login credentials"})
            def log_message(self, *a): pass
        http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
        """

    /// The criteria that need no verification nor Sentry, for the login tests.
    static let loginOnly = ["--skip", "row_counts", "--skip", "checksums", "--skip", "foreign_keys", "--skip", "dashboard_totals", "--skip", "no_critical_errors"]

    func evidence(_ out: Subprocess.Output) throws -> [String: String] {
        let obj = try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any]
        let criteria = obj?["criteria"] as? [[String: Any]] ?? []
        return Dictionary(uniqueKeysWithValues: criteria.map { ($0["name"] as! String, $0["evidence"] as! String) })
    }

    /// A migrated sandbox and a settings file naming the active test accounts.
    func migratedWithAccounts(_ label: String, seed: UInt64) async throws -> (DatabasePair, String) {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair(label)
        try await MigrationFixture.generate(pair, scale: 0.004, seed: seed)
        try await MigrationFixture.migrate(pair)
        let dir = try CutoverRunTests.tempDir(label)
        var settings = "test_accounts:\n"
        for a in V1Generator.testAccounts where a.isActive { settings += "  \(a.email): '\(a.password)'\n" }
        try settings.write(toFile: dir + "/settings.yml", atomically: true, encoding: .utf8)
        return (pair, dir)
    }

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
        try await FreePort.waitUntilListening(port)
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

    @Test("every migrated user is read as GoTrue reads it: a NULL token column or a missing identity fails, naming the user and the fix")
    func goTrueRead() async throws {
        let (pair, dir) = try await migratedWithAccounts("gotrue", seed: 62)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let env = VerifyTests.env(pair)
        let args = ["check-success", "--config", dir + "/settings.yml", "--json"] + Self.loginOnly
        let v2 = try await pair.v2Super()
        let migrated = Int(try await v2.scalar("SELECT count(*) FROM auth.users") ?? "0") ?? 0
        let testEmails = V1Generator.testAccounts.map(\.email)
        #expect(migrated > testEmails.count, "more users than the test accounts: \(migrated)")
        let others = try await v2.query("SELECT id::text FROM auth.users WHERE NOT email = ANY($1::text[]) ORDER BY id LIMIT 2", [pgTextArray(testEmails)]).rows.compactMap { $0[0] }
        try #require(others.count == 2)

        let good = try await CLI.run(args, env: env)
        #expect(good.status == 0, "\(good.stdout) \(good.stderr)")
        let goodEvidence = try evidence(good)["users_can_log_in"] ?? ""
        #expect(try statuses(good)["users_can_log_in"] == "pass")
        #expect(goodEvidence.contains("GoTrue can read all \(migrated) migrated users"), "\(goodEvidence)")

        // A NULL token, set by hand on a user that is not a test account.
        try await v2.execute("UPDATE auth.users SET confirmation_token = NULL WHERE id = '\(others[0])'")
        let nullToken = try await CLI.run(args, env: env)
        let nullEvidence = try evidence(nullToken)["users_can_log_in"] ?? ""
        #expect(nullToken.status == 3, "\(nullToken.stdout) \(nullToken.stderr)")
        #expect(try statuses(nullToken)["users_can_log_in"] == "fail")
        #expect(try statuses(nullToken)["users_can_create_deliveries"] == "pass", "only the login criterion fails")
        #expect(nullEvidence.contains("GoTrue could not read 1 of \(migrated) migrated users (first: \(others[0]))"), "\(nullEvidence)")
        #expect(nullEvidence.contains("NULL in auth.users.confirmation_token: 1 user (\(others[0]))"), "\(nullEvidence)")
        #expect(nullEvidence.contains("UPDATE auth.users SET confirmation_token = '' WHERE confirmation_token IS NULL"), "\(nullEvidence)")
        #expect(!nullEvidence.contains(others[1]))
        try await v2.execute("UPDATE auth.users SET confirmation_token = '' WHERE confirmation_token IS NULL")
        #expect(try await CLI.run(args, env: env).status == 0, "and passes again once the fix is applied")

        // A user whose email identity is gone.
        try await v2.execute("DELETE FROM auth.identities WHERE user_id = '\(others[1])'")
        let noIdentity = try await CLI.run(args, env: env)
        let identityEvidence = try evidence(noIdentity)["users_can_log_in"] ?? ""
        let identityStatuses = try statuses(noIdentity)
        #expect(noIdentity.status == 3 && identityStatuses["users_can_log_in"] == "fail", "\(noIdentity.stdout)")
        #expect(identityEvidence.contains("no email identity in auth.identities: 1 user (\(others[1]))"), "\(identityEvidence)")
        #expect(identityEvidence.contains("rollback --clear-v2"), "\(identityEvidence)")
        #expect(!identityEvidence.contains(others[0]))

        // Banned exactly when inactive: an inactive user unbanned, an active one banned.
        try await v2.execute("UPDATE auth.users SET banned_until = NULL WHERE email = 'ancien.agent@cocoatrack.ci'")
        try await v2.execute("UPDATE auth.users SET banned_until = 'infinity' WHERE id = '\(others[0])'")
        let ban = try await CLI.run(args, env: env)
        let banEvidence = try evidence(ban)["users_can_log_in"] ?? ""
        let inactiveID = try await v2.scalar("SELECT id::text FROM auth.users WHERE email = 'ancien.agent@cocoatrack.ci'") ?? "?"
        #expect(ban.status == 3, "\(ban.stdout)")
        #expect(banEvidence.contains("not banned although the profile is inactive (an inactive user could log in): 1 user (\(inactiveID))"), "\(banEvidence)")
        #expect(banEvidence.contains("banned although the profile is active: 1 user (\(others[0]))"), "\(banEvidence)")
        await v2.close()
    }

    @Test("with --auth-url: the real password grant, against a stand-in answering like GoTrue")
    func passwordGrant() async throws {
        let (pair, dir) = try await migratedWithAccounts("grant", seed: 63)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = try FreePort.find()
        let active = V1Generator.testAccounts.filter(\.isActive)
        func serve(accounts: [String: String], broken: String?) throws {
            let conf: [String: Any] = ["accounts": accounts, "broken": broken ?? NSNull()]
            try JSONSerialization.data(withJSONObject: conf).write(to: URL(fileURLWithPath: dir + "/auth.json"))
        }
        let right = Dictionary(uniqueKeysWithValues: active.map { ($0.email, $0.password) })
        try serve(accounts: right, broken: nil)
        try Self.authServer.write(toFile: dir + "/auth.py", atomically: true, encoding: .utf8)
        let pid = try Subprocess.launch("/usr/bin/env", ["python3", dir + "/auth.py", String(port), dir + "/auth.json", "anon-key-1234"], logFile: dir + "/auth.log")
        defer { kill(pid, SIGKILL); _ = waitpid(pid, nil, 0) }
        let base = "http://127.0.0.1:\(port)/auth/v1"
        // Until it listens (on two busy cores python can take seconds to start).
        var up = false
        for _ in 0..<100 where !up {
            let probe = try await Subprocess.run("/usr/bin/env", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", base + "/health"], check: false)
            up = probe.stdout != "000" && !probe.stdout.isEmpty
            if !up { try await Task.sleep(for: .milliseconds(100)) }
        }
        try #require(up, "the stand-in did not start: \((try? String(contentsOfFile: dir + "/auth.log", encoding: .utf8)) ?? "")")

        // The stand-in itself: no apikey, or another grant_type, gets 401.
        let body = "{\"email\": \"\(active[0].email)\", \"password\": \"\(active[0].password)\"}"
        for (url, key) in [(base + "/token?grant_type=password", "wrong"), (base + "/token?grant_type=refresh_token", "anon-key-1234")] {
            let r = try await Subprocess.run("/usr/bin/env", ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "apikey: \(key)", "--data-binary", "@-", url], stdin: body, check: false)
            #expect(r.stdout == "401", "\(url) \(key): \(r.stdout)")
        }

        var env = VerifyTests.env(pair)
        env["SUPABASE_ANON_KEY"] = "anon-key-1234"
        let args = ["check-success", "--config", dir + "/settings.yml", "--json", "--auth-url", base] + Self.loginOnly
        func login(_ env: [String: String]) async throws -> (Subprocess.Output, String) {
            let out = try await CLI.run(args, env: env)
            for a in V1Generator.testAccounts { #expect(!out.stdout.contains(a.password) && !out.stderr.contains(a.password)) }
            return (out, try evidence(out)["users_can_log_in"] ?? "")
        }

        // 200 with a token for every test account.
        let (good, goodEvidence) = try await login(env)
        for a in active { #expect(goodEvidence.contains("\(a.email): Supabase Auth password grant HTTP 200, token issued"), "\(goodEvidence)") }
        let goodStatuses = try statuses(good)
        #expect(good.status == 0 && goodStatuses["users_can_log_in"] == "pass", "\(good.stdout) \(good.stderr)")

        // 400 invalid_credentials: Supabase Auth refuses the password (V2's hash still matches).
        var changed = right
        changed["manager.daloa@cocoatrack.ci"] = "Another#2026"
        try serve(accounts: changed, broken: nil)
        let (refused, refusedEvidence) = try await login(env)
        let refusedStatuses = try statuses(refused)
        #expect(refused.status == 3 && refusedStatuses["users_can_log_in"] == "fail")
        #expect(refusedEvidence.contains("manager.daloa@cocoatrack.ci: Supabase Auth refused the password (HTTP 400 invalid_credentials"), "\(refusedEvidence)")
        #expect(refusedEvidence.contains("manager.daloa@cocoatrack.ci: password matches"))
        #expect(refusedEvidence.contains("admin@cocoatrack.ci: Supabase Auth password grant HTTP 200, token issued"))

        // 500 Database error querying schema, for a user with a NULL token column in V2.
        try serve(accounts: right, broken: "viewer@cocoatrack.ci")
        let v2 = try await pair.v2Super()
        try await v2.execute("UPDATE auth.users SET recovery_token = NULL WHERE email = 'viewer@cocoatrack.ci'")
        await v2.close()
        let (broken, brokenEvidence) = try await login(env)
        let brokenStatuses = try statuses(broken)
        #expect(broken.status == 3 && brokenStatuses["users_can_log_in"] == "fail")
        #expect(brokenEvidence.contains("viewer@cocoatrack.ci: Supabase Auth could not read the user (HTTP 500 Database error querying schema"), "\(brokenEvidence)")
        #expect(brokenEvidence.contains("NULL in auth.users.recovery_token; fix: UPDATE auth.users SET recovery_token = '' WHERE recovery_token IS NULL"), "\(brokenEvidence)")
        #expect(brokenEvidence.contains("admin@cocoatrack.ci: Supabase Auth password grant HTTP 200, token issued"))

        // The wrong anon key: the stand-in answers 401, and the criterion fails.
        try serve(accounts: right, broken: nil)
        env["SUPABASE_ANON_KEY"] = "not-the-anon-key"
        let (unauthorized, unauthorizedEvidence) = try await login(env)
        #expect(unauthorized.status == 3 && unauthorizedEvidence.contains("admin@cocoatrack.ci: Supabase Auth password grant HTTP 401"), "\(unauthorizedEvidence)")
    }
}
