import CocoaTrack
import Foundation
import MigrationEngine
import Rendering
import Sandbox
import StatusPage
import Testing

/// Rules the executable used to hold, now in libraries: settings precedence, the operator's
/// command for hints, Ctrl+C, the status page's exposure, the rehearsal's sandbox, tables.
@Suite("wiring rules")
struct WiringRulesTests {
    static func settings(_ yaml: String) throws -> CocoaTrackSettings {
        CocoaTrackSettings(file: try SettingsFile.parse(yaml, path: "test.yml", schema: CocoaTrackSettings.schema))
    }

    @Test("a database URL: flag over environment over file; none at all says the three ways to give one")
    func connectionPrecedence() throws {
        let s = try Self.settings("v1_url: postgresql://file@h1/v1\n")
        let env = ["V1_DATABASE_URL": "postgresql://env@h2/v1"]
        #expect(try s.connection("V1", flag: "postgresql://flag@h3/v1", environment: env).redactedURL.contains("flag@h3"))
        #expect(try s.connection("V1", flag: nil, environment: env).redactedURL.contains("env@h2"))
        #expect(try s.connection("V1", flag: nil, environment: [:]).redactedURL.contains("file@h1"))
        do {
            _ = try s.connection("V2", flag: nil, environment: [:])
            Issue.record("no V2 anywhere must fail")
        } catch let e as MigrationError {
            #expect(e.code == .configuration && e.message.contains("--v2 URL") && e.message.contains("V2_DATABASE_URL") && e.message.contains("v2_url"), "\(e.message)")
        }
        #expect(s.appRole(flag: nil, environment: [:]) == CocoaTrackSchema.defaultAppRole)
        #expect(s.appRole(flag: nil, environment: ["COCOATRACK_APP_ROLE": "web"]) == "web")
    }

    @Test("test accounts: the environment replaces the file's, sorted file entries otherwise")
    func testAccounts() throws {
        let s = try Self.settings("test_accounts:\n  z@cocoatrack.ci: pz\n  a@cocoatrack.ci: pa\n")
        #expect(s.testAccounts(environment: [:]).map(\.email) == ["a@cocoatrack.ci", "z@cocoatrack.ci"])
        let env = s.testAccounts(environment: ["COCOATRACK_TEST_ACCOUNTS": "x@c.ci=p=with=equals,broken"])
        #expect(env.count == 1 && env.first?.email == "x@c.ci" && env.first?.password == "p=with=equals")
    }

    @Test("thresholds from the file, the plan's otherwise")
    func thresholds() throws {
        #expect(try Self.settings("thresholds:\n  login_failure_pct: 5\n").thresholds.loginFailurePct == 5)
        #expect(CocoaTrackSettings(file: nil).thresholds.rowCountMismatchPct == 1)
    }

    @Test("the command in hints: the bare name when PATH finds this very program, else the path it was started by, quoted for the shell")
    func invocation() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ctm-inv-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir + "/bin", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let exe = dir + "/bin/cocoatrack-migrate"
        _ = FileManager.default.createFile(atPath: exe, contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755])
        #expect(Invocation.command(argv0: "cocoatrack-migrate", path: dir + "/bin", cwd: "/", executable: exe) == "cocoatrack-migrate")
        #expect(Invocation.command(argv0: "./bin/../bin/cocoatrack-migrate", path: "/usr/bin", cwd: dir, executable: exe) == exe)
        #expect(Invocation.quote("/tmp/my dir/x") == "'/tmp/my dir/x'" && Invocation.quote("it's") == #"'it'\''s'"#)
    }

    @Test("Ctrl+C: signals within a second are one request; a later one aborts")
    func signals() {
        let counter = SignalCounter()
        let t0 = ContinuousClock.now
        #expect(counter.receive(at: t0) == .first)
        #expect(counter.receive(at: t0 + .milliseconds(5)) == .sameRequest)
        #expect(counter.receive(at: t0 + SignalCounter.sameRequest + .milliseconds(1)) == .abort)
        #expect(counter.value == 3)
    }

    @Test("the status page beyond loopback only with a token of 16 characters or more")
    func statusPageExposure() throws {
        try StatusPageServer.checkExposure(bind: "127.0.0.1", token: nil)
        try StatusPageServer.checkExposure(bind: "::1", token: nil)
        try StatusPageServer.checkExposure(bind: "0.0.0.0", token: String(repeating: "t", count: 16))
        #expect(throws: MigrationError.self) { try StatusPageServer.checkExposure(bind: "0.0.0.0", token: "short") }
        #expect(throws: MigrationError.self) { try StatusPageServer.checkExposure(bind: "::", token: nil) }
        #expect(StatusPageServer.isBindable("::") && StatusPageServer.isBindable("localhost") && !StatusPageServer.isBindable("example.com"))
        #expect(!StatusPageServer.isLoopback("127.0.0.1.example.com"))
        #expect(!StatusPageServer.isLoopback("127.0.0.+1") && !StatusPageServer.isLoopback("127.0..1") && StatusPageServer.isLoopback("127.1.2.3"))
        // the bind address needs an address: a socket path is loopback to libpq, not to a listener
        #expect(ConnectionConfig.isLoopback("/var/run/postgresql") && !StatusPageServer.isLoopback("/var/run/postgresql"))
    }

    @Test("the rehearsal replaces only a sandbox it made: a marker says so; anything else is refused")
    func rehearsalSandbox() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ctm-rs-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let sandbox = RehearsalSandbox(root: root)
        #expect(sandbox.prior() == .none)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: root + "/state.json", contents: Data("{}".utf8))
        #expect(sandbox.prior() == .foreign("a sandbox that rehearse did not create (made by `sandbox up`)"))
        #expect(throws: MigrationError.self) { try sandbox.checkMayReplace() }
        try sandbox.markCreated()
        #expect(sandbox.prior() == .ours)
        try sandbox.checkMayReplace()
        #expect(RehearsalSandbox.directory(flag: nil, environment: ["COCOATRACK_REHEARSAL_SANDBOX_DIR": "/x"]) == "/x")
        #expect(RehearsalSandbox.directory(flag: "/y", environment: ["COCOATRACK_REHEARSAL_SANDBOX_DIR": "/x"]) == "/y")
    }

    @Test("a text table: every row ends in the same column, numbers right-aligned")
    func textTable() {
        let lines = TextTable.lines(["table", "rows"], [["regions", "31"], ["deliveries", "1,000,000"]], total: ["total", "1,000,031"])
        #expect(lines.count == 4)
        #expect(Set(lines.map(\.count)).count == 1, "\(lines)")
        #expect(lines[1].hasPrefix("regions ") && lines[1].hasSuffix("       31 "), "\(lines)")
    }

    @Test("the default rehearsal window: the next Saturday, 02:00 UTC")
    func nextSaturday() {
        let friday = Date(timeIntervalSince1970: 1_796_000_000 + 4 * 86_400)  // a Friday
        let next = CocoaTrackRehearsal.nextSaturday(after: friday)
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        let c = cal.dateComponents([.weekday, .hour, .minute], from: next)
        #expect(c.weekday == 7 && c.hour == 2 && c.minute == 0 && next > friday && next.timeIntervalSince(friday) <= 7 * 86_400)
    }
}
