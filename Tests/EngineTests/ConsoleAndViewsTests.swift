import Foundation
import Testing
@testable import PGClient
@testable import MigrationEngine
@testable import Rendering

/// The one output channel and the screens built on it, without a terminal or a server.
@Suite("console and views")
struct ConsoleAndViewsTests {
    /// A console whose two streams are arrays.
    final class Capture: @unchecked Sendable {
        private let lock = NSLock()
        private var out: [String] = []
        private var err: [String] = []
        var stdout: [String] { lock.withLock { out } }
        var stderr: [String] { lock.withLock { err } }
        func console(json: Bool) -> Console {
            Console(json: json, stdout: { s in self.lock.withLock { self.out.append(s) } }, stderr: { s in self.lock.withLock { self.err.append(s) } })
        }
    }

    @Test("for people: results on stdout, progress on stderr, no JSON")
    func humanMode() {
        let c = Capture()
        let console = c.console(json: false)
        console.info("reading deliveries…")
        console.result(["load  rows", "total 3"])
        console.json(["event": "summary"])
        console.json(text: "{\"format\":\"x\"}")
        #expect(c.stdout == ["load  rows", "total 3"])
        #expect(c.stderr == ["reading deliveries…"])
    }

    @Test("under --json stdout is JSON alone, one parseable object per line; everything for people goes to stderr")
    func jsonMode() throws {
        let c = Capture()
        let console = c.console(json: true)
        console.info("reading deliveries…")
        console.result(["cleared deliveries 3"], json: ["event": "cleared", "tables": ["deliveries": 3]])
        console.json(text: "{\"format\":\"report\"}")
        #expect(c.stderr == ["reading deliveries…", "cleared deliveries 3"])
        #expect(c.stdout.count == 2)
        for line in c.stdout {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object != nil, "\(line)")
        }
        #expect(c.stdout.first == #"{"event":"cleared","tables":{"deliveries":3}}"#, "sorted keys, one line")
    }

    @Test("a password in a URL never leaves the console, on either stream")
    func redacts() {
        let c = Capture()
        let console = c.console(json: true)
        console.info("connecting to postgresql://migrator:s3cret-pw@db.example:5432/v1")
        console.json(["url": "postgresql://migrator:s3cret-pw@db.example:5432/v1"])
        let all = (c.stdout + c.stderr).joined(separator: "\n")
        #expect(!all.contains("s3cret-pw"), "\(all)")
        #expect(all.contains("db.example"), "\(all)")
    }

    static func load(_ name: String, rows: Int64, read: Int64, written: Int64, rejected: Int64 = 0) -> LoadStatus {
        LoadStatus(name: name, source: name, target: name, sourceRows: rows, read: read, written: written, rejected: rejected, warnings: 0, seconds: 1, state: "done")
    }

    @Test("migrate's summary: the rate is over this run's rows, and a resumed run says so")
    func migrateSummary() {
        var s = MigrationSummary(runID: "r", dryRun: false, alreadyComplete: false,
                                 loads: [Self.load("regions", rows: 31, read: 31, written: 31), Self.load("deliveries", rows: 1_000, read: 1_000, written: 990, rejected: 10)],
                                 issues: [IssueCount(load: "deliveries", kind: "reject", rule: "weight_non_positive", count: 10)],
                                 orphans: [("deliveries.planteur_id", 0)], seconds: 2)
        s.rowsThisRun = 500
        let lines = MigrateView.lines(s)
        #expect(lines.contains { $0.hasPrefix("deliveries") && $0.contains("1,000") && $0.contains("990") })
        #expect(lines.contains("foreign keys: 1 checked, no orphan"))
        #expect(lines.last == "migration in 2.0 s (500 source rows in this run, 250 rows/s)", "\(lines.last ?? "")")
        s.rowsThisRun = 1_031
        #expect(MigrateView.lines(s).last == "migration in 2.0 s (1,031 source rows, 515 rows/s)")
        let json = MigrateView.json(s)
        #expect(json["rows_this_run"] as? Int64 == 1_031 && (json["loads"] as? [[String: Any]])?.count == 2)
        #expect((json["orphans"] as? [String: Int64])?["deliveries.planteur_id"] == 0)
    }

    @Test("the clear's preview names what it keeps, and why")
    func clearPreview() {
        let p = ClearTarget.Preview(database: "cocoatrack_v2", url: "postgresql://u@h/cocoatrack_v2",
                                    order: [.init(table: "public.deliveries", rows: 1_200, scope: "all rows"), .init(table: "auth.users", rows: 3, scope: "migrated rows")],
                                    kept: [.init(table: "auth.users", rows: 1, scope: "born in V2")], journaledDDL: 2, truncate: false)
        let lines = SafetyView.clearPreview(p)
        #expect(lines.first == "rollback --clear-v2 on postgresql://u@h/cocoatrack_v2 (database cocoatrack_v2) will delete:")
        #expect(lines.contains("and will keep:"))
        #expect(lines.last == "  total 1,203 rows; and restore 2 keys/indexes a migration set aside, in one transaction (DELETE)")
    }

    @Test("changes: ten per load on the terminal, the rest counted; conflicts always listed")
    func changesTable() {
        var t = ChangeReport.TableChanges(load: "planteurs", sourceTable: "planteurs", targetTable: "planteurs")
        t.inserted = 12
        t.changes = (0..<12).map { ChangeReport.RowChange(kind: "inserted", key: "k\($0)", v1Id: nil, columns: []) }
        t.conflicts = [.init(load: "planteurs", key: "k99", v1Id: 7, reason: "changed_on_both_sides", detail: "V1 moved")]
        var r = ChangeReport(generatedAt: "now", armedAt: "then", toolVersion: "0", v1: "v1", v2: "v2")
        r.tables = [t]
        let lines = ChangesView.lines(r, verb: "missing rows")
        #expect(lines.filter { $0.hasPrefix("  planteurs inserted") }.count == ChangesView.listedChanges)
        #expect(lines.contains("  planteurs: … 2 more missing rows (see --export)"))
        #expect(lines.contains("  planteurs CONFLICT changed_on_both_sides k99 (V1 id 7): V1 moved"))
        #expect(lines.last == r.summaryLine)
    }

    @Test("the plan's offsets and durations")
    func cutoverFormats() {
        #expect(CutoverView.offset(0) == "T-0" && CutoverView.offset(7_200) == "T+2h" && CutoverView.offset(-86_400) == "T-24h")
        #expect(CutoverView.duration(42.4) == "42 s" && CutoverView.duration(600) == "10 min" && CutoverView.duration(9_000) == "2.5 h")
    }

    @Test("verify's progress: one line per table started and finished; nothing for events people need not see")
    func verifyProgress() {
        #expect(VerifyView.progress(.tableStarted(load: "deliveries", expectedRows: 0)) == "verifying deliveries…")
        #expect(VerifyView.briefProgress(.tableStarted(load: "deliveries", expectedRows: 0)) == "reading deliveries…")
        #expect(VerifyView.briefProgress(.tableProgress(load: "deliveries", sourceRows: 1, targetRows: 2)) == nil)
    }

    @Test("the engine's notices are typed events: a reconnect and a rebuilt leftover read for people on stderr and as JSON events on stdout")
    func typedNotices() throws {
        let c = Capture()
        let renderer = ProgressRenderer(console: c.console(json: true), live: false)
        renderer.handle(.reconnecting(reason: "server closed the connection", delaySeconds: 4, attempt: 2, retries: 5))
        renderer.handle(.leftoversRebuilt(load: "deliveries", table: "public.deliveries", count: 3))
        #expect(c.stderr.contains { $0.contains("Reconnecting in 4 s") && $0.contains("retry 2 of 5") && $0.contains("every committed batch is kept") })
        #expect(c.stderr.contains("rebuilt 3 index(es) and key(s) on public.deliveries left from an interrupted run"))
        let events = try c.stdout.map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(events.count == 2)
        #expect(events.first?["event"] as? String == "reconnecting" && events.first?["attempt"] as? Int == 2 && events.first?["delay_s"] as? Int == 4)
        #expect(events.last?["event"] as? String == "leftovers_rebuilt" && events.last?["count"] as? Int == 3 && events.last?["load"] as? String == "deliveries")
    }

    @Test("capture's notices: the digest shortcut and a verify retry are said in both progress forms")
    func captureNotices() {
        #expect(VerifyView.briefProgress(.unchangedSinceArming(load: "users")) == "users: unchanged on both sides since arming (table digests), not read row by row")
        #expect(VerifyView.progress(.sourceChangedSinceArming) == VerifyView.briefProgress(.sourceChangedSinceArming))
        let retry = VerifyView.progress(.retrying(reason: "EOF", delaySeconds: 2, attempt: 1, retries: 3))
        #expect(retry == "connection lost (EOF); nothing was concluded yet. Verifying again in 2 s (retry 1 of 3)")
    }
}
