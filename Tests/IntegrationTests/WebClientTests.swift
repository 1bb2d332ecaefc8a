import CocoaTrack
import Foundation
import MigrationEngine
import Sandbox
import Testing

/// The tool's HTTP calls are made in process (WebClient on AsyncHTTPClient): no secret on any
/// command line, TLS that no user file relaxes, a deadline on every call. Exercised through
/// `check-success`'s Sentry criterion, against local stand-ins.
@Suite("HTTP client", .serialized)
struct WebClientTests {
    /// Accepts connections, notes each in a file, and never answers.
    static let hangingServer = """
        import socket, sys, time
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(16)
        held = []
        while True:
            c, _ = s.accept(); held.append(c)
            with open(sys.argv[2], 'a') as f: f.write('accepted\\n')
        """

    /// The Sentry stand-in over TLS, with a self-signed certificate.
    static let tlsSentry = """
        import http.server, ssl, sys
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200); self.send_header('Content-Type', 'application/json'); self.send_header('Content-Length', '2'); self.end_headers()
                self.wfile.write(b'[]')
            def log_message(self, *a): pass
        httpd = http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[2], sys.argv[3])
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        httpd.serve_forever()
        """

    static func sentrySettings(_ dir: String, base: String) throws -> String {
        let path = dir + "/settings.yml"
        try "sentry:\n  base_url: \(base)\n  org: cocoa\n  project: cocoatrack\n".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func fullEnv(_ extra: [String: String]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "V1_DATABASE_URL")
        for (k, v) in extra { env[k] = v }
        return env
    }

    /// Every process's command line and environment, read from /proc (pid → text).
    static func processTexts() -> [(pid: Int32, cmdline: String, environ: String)] {
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
        return pids.map { pid in
            let read = { (f: String) in (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/\(f)"))).map { String(decoding: $0, as: UTF8.self) } ?? "" }
            return (pid, read("cmdline"), read("environ"))
        }
    }

    static func children(of pid: pid_t) -> [Int32] {
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
        return pids.filter { p in
            guard let stat = try? String(contentsOfFile: "/proc/\(p)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 2 && Int32(fields[1]) == pid
        }
    }

    @Test("while a request hangs, another user's `ps` shows no token, the tool starts no child, and the call ends at its deadline")
    func noSecretWhileHanging() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("httphang")
        let dir = try CutoverRunTests.tempDir("httphang")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = try FreePort.find()
        try Self.hangingServer.write(toFile: dir + "/hang.py", atomically: true, encoding: .utf8)
        let server = try Subprocess.launch("/usr/bin/env", ["python3", dir + "/hang.py", String(port), dir + "/accepted"], logFile: dir + "/hang.log")
        defer { kill(server, SIGKILL); _ = waitpid(server, nil, 0) }
        try await FreePort.waitUntilListening(port)
        try "".write(toFile: dir + "/accepted", atomically: true, encoding: .utf8)
        let settings = try Self.sentrySettings(dir, base: "http://127.0.0.1:\(port)")
        let token = "sntrys_hang_secret_\(UUID().uuidString.prefix(12))"
        let env = Self.fullEnv(["V2_DATABASE_URL": pair.v2URL, "SENTRY_AUTH_TOKEN": token])
        let cli = try Subprocess.launch(CLI.binary, ["check-success", "--config", settings, "--json"], environment: env, logFile: dir + "/cli.log")
        var killed = false
        defer { if !killed { kill(cli, SIGKILL); _ = waitpid(cli, nil, 0) } }

        // Until the request is under way (the stand-in accepted its connection).
        var accepted = false
        for _ in 0..<600 where !accepted {
            accepted = ((try? String(contentsOfFile: dir + "/accepted", encoding: .utf8)) ?? "").contains("accepted")
            if !accepted { try await Task.sleep(for: .milliseconds(100)) }
        }
        try #require(accepted, "the request never reached the stand-in: \((try? String(contentsOfFile: dir + "/cli.log", encoding: .utf8)) ?? "")")

        // Another user's view of every command line.
        let setpriv = try #require(Subprocess.which("setpriv"), "setpriv (util-linux) is needed")
        let asNobody = getuid() == 0
            ? try await Subprocess.run(setpriv, ["--reuid=65534", "--regid=65534", "--clear-groups", "ps", "-eo", "args"], check: false)
            : try await Subprocess.run("/usr/bin/env", ["ps", "-eo", "args"], check: false)
        #expect(asNobody.status == 0, "\(asNobody.stderr)")
        #expect(asNobody.stdout.contains("check-success"), "the tool's own process is in the listing")
        #expect(!asNobody.stdout.contains(token), "a token on a command line")
        // No child of the tool, and no other process holding the token in its arguments or environment.
        #expect(Self.children(of: cli).isEmpty, "children: \(Self.children(of: cli))")
        let holders = Self.processTexts().filter { $0.pid != cli && ($0.cmdline.contains(token) || $0.environ.contains(token)) }
        #expect(holders.isEmpty, "processes holding the token: \(holders.map(\.pid))")

        // The call ends at its deadline: the criterion fails, saying so, and the command ends.
        let status = await Subprocess.wait(pid: cli)
        killed = true
        let log = (try? String(contentsOfFile: dir + "/cli.log", encoding: .utf8)) ?? ""
        #expect(status == 3, "\(log)")
        #expect(log.contains("Sentry could not be asked") && log.contains("no answer within 10 s"), "\(log)")
        #expect(!log.contains(token))
        Reliability.record("security", "a request to Sentry that never answers, with SENTRY_AUTH_TOKEN set", injected: 1,
                           survived: asNobody.stdout.contains(token) || !holders.isEmpty ? 0 : 1,
                           check: "`ps -eo args` as another user and every /proc/*/environ hold no token while the request hangs; the call ends at its 10 s deadline")
    }

    @Test("a self-signed TLS endpoint is refused even with `insecure` in ~/.curlrc")
    func tlsVerified() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"))
        let pair = try await TestSandbox.shared.freshPair("httptls")
        let dir = try CutoverRunTests.tempDir("httptls")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await ReliabilityHostileTests.openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                                                   "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", dir + "/key.pem", "-out", dir + "/cert.pem"])
        let port = try FreePort.find()
        try Self.tlsSentry.write(toFile: dir + "/tls.py", atomically: true, encoding: .utf8)
        let server = try Subprocess.launch("/usr/bin/env", ["python3", dir + "/tls.py", String(port), dir + "/cert.pem", dir + "/key.pem"], logFile: dir + "/tls.log")
        defer { kill(server, SIGKILL); _ = waitpid(server, nil, 0) }
        try await FreePort.waitUntilListening(port)
        let home = dir + "/home"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        try "insecure\n".write(toFile: home + "/.curlrc", atomically: true, encoding: .utf8)
        let url = "https://127.0.0.1:\(port)/api/0/projects/cocoa/cocoatrack/issues/"

        // The control: curl with that HOME accepts the certificate (what the tool did before).
        var curlEnv = Self.fullEnv([:])
        curlEnv["HOME"] = home
        let curl = try await Subprocess.run("/usr/bin/env", ["curl", "-s", url], environment: curlEnv, check: false)
        #expect(curl.status == 0 && curl.stdout == "[]", "curl honours ~/.curlrc: \(curl.status) \(curl.stderr)")

        let settings = try Self.sentrySettings(dir, base: "https://127.0.0.1:\(port)")
        let out = try await CLI.run(["check-success", "--config", settings, "--json"], env: ["V2_DATABASE_URL": pair.v2URL, "HOME": home, "SENTRY_AUTH_TOKEN": "sentry-token-1234"])
        let obj = try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any]
        let sentry = (obj?["criteria"] as? [[String: Any]])?.first { $0["name"] as? String == "no_critical_errors" }
        #expect(sentry?["status"] as? String == "fail", "\(out.stdout) \(out.stderr)")
        let evidence = sentry?["evidence"] as? String ?? ""
        #expect(evidence.contains("TLS failed") && evidence.contains("certificate"), "\(evidence)")
        Reliability.record("security", "Sentry behind a self-signed certificate, with `insecure` in ~/.curlrc", injected: 1,
                           survived: sentry?["status"] as? String == "fail" ? 1 : 0, check: "no_critical_errors fails: TLS not verified; no user file relaxes verification")
    }
}
