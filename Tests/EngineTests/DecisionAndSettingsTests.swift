import CocoaTrack
import Foundation
@testable import PGClient
@testable import MigrationEngine
import Testing

@Suite("decision matrix")
struct DecisionTests {
    static func report(outcome: String = "pass", rejectShare: Double = 0.001, unexplained: Int64 = 0, checksums: String = "pass",
                       foreignKeys: String = "pass", totals: String = "pass", complete: Bool = true) -> VerifyReport {
        var r = VerifyReport(verificationId: "v-1", toolVersion: "t", startedAt: "", v1: "", v2: "", thresholds: .init(maxRejectShare: 0.01))
        r.outcome = outcome
        r.complete = complete
        var t = VerifyReport.TableResult(load: "deliveries", sourceTable: "public.deliveries", targetTable: "public.deliveries")
        t.rejectShare = rejectShare
        t.unexplainedDifference = unexplained
        r.tables = [t]
        r.checks = [.init(name: "row_counts", status: "pass", summary: "ok"), .init(name: "checksums", status: checksums, summary: "checksums \(checksums)"),
                    .init(name: "foreign_keys", status: foreignKeys, summary: "fk \(foreignKeys)"), .init(name: "business_totals", status: totals, summary: "totals \(totals)")]
        return r
    }

    func decide(_ r: VerifyReport?, phase: DecisionInputs.Phase = .beforeSwitch, monitoring: MonitoringSignals? = nil, flags: Set<String> = [],
                thresholds: DecisionThresholds = DecisionThresholds()) -> Decision {
        DecisionMatrix.plan(thresholds).evaluate(DecisionInputs(phase: phase, verification: r, monitoring: monitoring, flags: flags))
    }

    func verdict(_ d: Decision, _ rule: String) -> String? { d.rules.first { $0.rule == rule }?.verdict }

    @Test("the plan's matrix: a clean verification before the switch continues")
    func clean() {
        let d = decide(Self.report())
        #expect(d.action == "continue")
        #expect(d.rules.map(\.rule) == ["row_count_mismatch", "checksum_mismatch", "fk_integrity", "login_failures", "data_corruption", "performance_degradation", "minor_ui"])
        #expect(verdict(d, "login_failures") == "not_applicable")
    }

    @Test("each rule fires on its own evidence, with the plan's actions")
    func rules() {
        #expect(decide(Self.report(rejectShare: 0.02)).action == "rollback")
        #expect(decide(Self.report(unexplained: -1)).action == "rollback")
        #expect(decide(Self.report(checksums: "fail")).action == "rollback")
        #expect(decide(Self.report(foreignKeys: "fail")).action == "rollback")
        #expect(decide(Self.report(totals: "fail")).action == "immediate_rollback")
        #expect(decide(Self.report(), flags: ["data-corruption"]).action == "immediate_rollback")
        #expect(decide(Self.report(), flags: ["minor-ui"]).action == "continue")
        let after = MonitoringSignals(sampledAt: "now", loginAttempts: 100, loginFailures: 11, latencyP95Ms: 100, baselineP95Ms: 100)
        #expect(decide(Self.report(), phase: .afterSwitch, monitoring: after).action == "rollback")
        let slow = MonitoringSignals(sampledAt: "now", loginAttempts: 100, loginFailures: 10, latencyP95Ms: 151, baselineP95Ms: 100)
        let d = decide(Self.report(), phase: .afterSwitch, monitoring: slow)
        #expect(d.action == "investigate" && verdict(d, "login_failures") == "clear", "10 % is not over 10 %")
    }

    @Test("thresholds are overridable")
    func thresholds() {
        var t = DecisionThresholds()
        t.rowCountMismatchPct = 5
        #expect(decide(Self.report(rejectShare: 0.02), thresholds: t).action == "continue")
        t.loginFailurePct = 20
        let m = MonitoringSignals(sampledAt: "now", loginAttempts: 100, loginFailures: 15, latencyP95Ms: 100, baselineP95Ms: 100)
        #expect(decide(Self.report(), phase: .afterSwitch, monitoring: m, thresholds: t).action == "continue")
    }

    @Test("a missing signal is inconclusive, never continue")
    func inconclusive() {
        #expect(decide(nil).action == "inconclusive")
        #expect(decide(Self.report(outcome: "error")).action == "inconclusive")
        #expect(decide(Self.report(complete: false)).action == "inconclusive")
        let d = decide(Self.report(), phase: .afterSwitch, monitoring: nil)
        #expect(d.action == "inconclusive" && verdict(d, "login_failures") == "inconclusive")
        // but a rollback signal wins over a missing one
        #expect(decide(Self.report(checksums: "fail"), phase: .afterSwitch, monitoring: nil).action == "rollback")
    }
}

@Suite("settings file")
struct SettingsFileTests {
    static let schema: [String: SettingsFile.Kind] = [
        "app_role": .string, "webhook_url": .string,
        "thresholds": .map(["row_count_mismatch_pct": .number, "login_failure_pct": .number]),
        "hooks": .stringMap, "dry": .bool,
    ]

    func parse(_ text: String) throws -> SettingsFile { try SettingsFile.parse(text, path: "cocoatrack-migrate.yml", schema: Self.schema) }

    func error(_ text: String) -> String {
        do { _ = try parse(text); return "" } catch let e as MigrationError { return e.message } catch { return "\(error)" }
    }

    @Test("nested maps, quotes, comments, types")
    func good() throws {
        let s = try parse("""
            # cutover settings
            app_role: "app user"   # quoted
            webhook_url: https://hooks.example.com/T0#not-a-comment
            thresholds:
              row_count_mismatch_pct: 0.5
              login_failure_pct: 10
            hooks:
              dns_switch: './switch-dns.sh --to v2'
            dry: true
            """)
        #expect(s["app_role"] == .string("app user"))
        #expect(s["webhook_url"] == .string("https://hooks.example.com/T0#not-a-comment"))
        #expect(s["thresholds.row_count_mismatch_pct"] == .number(0.5))
        #expect(s.children(of: "hooks") == ["dns_switch": .string("./switch-dns.sh --to v2")])
        #expect(s["dry"] == .bool(true))
    }

    @Test("unknown keys, wrong types and bad structure name the key and the line")
    func bad() {
        #expect(error("tresholds:\n  login_failure_pct: 5").contains("cocoatrack-migrate.yml line 1: unknown key tresholds"))
        #expect(error("thresholds:\n  login_failures: 5").contains("line 2: unknown key thresholds.login_failures"))
        #expect(error("thresholds:\n  login_failure_pct: ten").contains("line 2: thresholds.login_failure_pct must be a number"))
        #expect(error("thresholds:\n  login_failure_pct: \"10\"").contains("must be a number"))
        #expect(error("thresholds:\n  login_failure_pct: .nan").contains("must be a number"))
        #expect(error("dry: maybe").contains("must be true or false"))
        #expect(error("dry: 'true'").contains("must be true or false"))
        #expect(error("thresholds: 5").contains("thresholds takes nested keys"))
        #expect(error("thresholds:\n").contains("needs nested settings"))
        #expect(error("app_role: a\napp_role: b").contains("line 2: app_role is given twice (first at line 1)"))
        #expect(error("hooks:\n  a: x\n  b: y\n  a: z").contains("line 4: hooks.a is given twice (first at line 2)"))
        #expect(error("hooks:\n\tx: y").contains("tabs"))
        #expect(error("app_role: \"open").contains("unterminated quote"))
        #expect(error("- a").contains("must be a map"))
        #expect(error("app_role: a: b: c").contains("line 1:"), "a: b: c is not a value")
        #expect(error("app_role: [a, b]").contains("app_role must be a string"))
        #expect(error("hooks:\n  x: {y: z}").contains("line 2: hooks.x must be a string"))
        #expect(error("app_role: *nowhere").contains("line 1:"), "an undefined alias")
    }

    @Test("YAML as YAML: CRLF, anchors and aliases, merges, lists, block scalars, quotes keep their meaning, ~ and null are null")
    func yaml() throws {
        // CRLF: every key is read, not only the first.
        let crlf = try parse("app_role: a\r\nwebhook_url: https://h.example/x\r\nthresholds:\r\n  login_failure_pct: 7\r\n")
        #expect(crlf["app_role"] == .string("a") && crlf["webhook_url"] == .string("https://h.example/x") && crlf["thresholds.login_failure_pct"] == .number(7))
        // Anchors, aliases and a merge.
        let anchors = try parse("""
            app_role: &role app_user
            webhook_url: *role
            hooks: &h
              a: ./a.sh
            thresholds:
              <<: {login_failure_pct: 3, row_count_mismatch_pct: 2}
              row_count_mismatch_pct: 5
            """)
        #expect(anchors["webhook_url"] == .string("app_user"))
        #expect(anchors["thresholds.login_failure_pct"] == .number(3) && anchors["thresholds.row_count_mismatch_pct"] == .number(5), "explicit keys win over merged ones")
        // Quotes keep their meaning: a hook's quotes are part of the command, escapes are YAML's.
        let quotes = try parse(#"""
            hooks:
              switch: "./switch.sh --note 'two words'"
              win: "C:\\new"
              plain: C:\new
              single: 'it''s "quoted"'
              hash: "a # b"
            """#)
        #expect(quotes["hooks.switch"] == .string("./switch.sh --note 'two words'"))
        #expect(quotes["hooks.win"] == .string(#"C:\new"#))
        #expect(quotes["hooks.plain"] == .string(#"C:\new"#))
        #expect(quotes["hooks.single"] == .string(#"it's "quoted""#))
        #expect(quotes["hooks.hash"] == .string("a # b"))
        // Block scalars.
        let block = try parse("hooks:\n  dns_switch: |\n    set -e\n    ./switch-dns.sh --to v2\n  note: >\n    one\n    line\n")
        #expect(block["hooks.dns_switch"] == .string("set -e\n./switch-dns.sh --to v2\n"))
        #expect(block["hooks.note"] == .string("one line\n"))
        // ~ and null are null (unset); quoted they are strings.
        let nulls = try parse("app_role: ~\nwebhook_url: null\nhooks:\n  a: 'null'\n  b: ~\n")
        #expect(nulls["app_role"] == nil && nulls["webhook_url"] == nil)
        #expect(nulls.children(of: "hooks") == ["a": .string("null")])
        // Lists where the schema takes them; flow maps anywhere.
        let lists = try SettingsFile.parse("urls:\n  - http://a/health\n  - http://b/health\nflow: {x: y}\n", path: "f.yml", schema: ["urls": .strings, "flow": .stringMap])
        #expect(lists.children(of: "urls") == ["0": .string("http://a/health"), "1": .string("http://b/health")])
        #expect(lists["flow.x"] == .string("y"))
        // An empty file, or comments only: no settings.
        #expect(try parse("").values.isEmpty && parse("# nothing\n").values.isEmpty)
    }

    @Test("the README's example settings file reads with the tool's own schema")
    func readmeExample() throws {
        // The test target runs from the package root; the README sits there.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try #require(readme.range(of: "### Settings file"))
        let after = readme[section.upperBound...]
        let open = try #require(after.range(of: "```yaml\n"))
        let close = try #require(after[open.upperBound...].range(of: "```"))
        let example = String(after[open.upperBound..<close.lowerBound])
        let s = try SettingsFile.parse(example, path: "README.md", schema: CocoaTrackSettings.schema)
        #expect(s["app_role"] == .string("app_user"))
        #expect(s["thresholds.performance_degradation_pct"] == .number(50))
        #expect(s["v1_url"]?.string?.hasPrefix("postgresql://") == true)
        #expect(s.children(of: "hooks")["dns_switch"] != nil)
        #expect(s.children(of: "monitor.health_urls").count >= 1)
    }

}

@Suite("time flags")
struct TimeFlagTests {
    @Test("instants: ISO 8601 with a zone, nothing else")
    func instants() throws {
        let z = try #require(TimeFlag.instant("2026-12-05T02:00Z"))
        #expect(z.timeIntervalSince1970 == 1_796_436_000)
        #expect(TimeFlag.instant("2026-12-05T02:00:00Z") == z)
        #expect(TimeFlag.instant("2026-12-05 02:00:00Z") == z)
        #expect(TimeFlag.instant("2026-12-05T03:00:00+01:00") == z)
        #expect(TimeFlag.instant("2026-12-04T21:00-0500") == z)
        #expect(TimeFlag.instant("2026-12-05T02:00:00.5Z") == z.addingTimeInterval(0.5))
        for bad in ["2026-01-01&project=other", "2026-12-05T02:00", "2026-12-05", "yesterday", "", "2026-02-30T00:00Z",
                    "2026-12-05T24:00Z", "2026-12-05T02:00Z trailing", "2026-12-05T02:61Z", "1e9", "2026-12-05T02:00:00+25:00"] {
            #expect(TimeFlag.instant(bad) == nil, "\(bad)")
        }
    }

    @Test("durations: a positive number with s, m, h or d")
    func durations() {
        #expect(TimeFlag.duration("90s") == 90 && TimeFlag.duration("30m") == 1800 && TimeFlag.duration("72h") == 259_200)
        #expect(TimeFlag.duration("1.5h") == 5400 && TimeFlag.duration("3d") == 259_200 && TimeFlag.duration("10") == 10)
        for bad in ["", "0s", "-5m", "5x", "m", "nan", "infh", "1e400s", "5 m", "5m&x", "0"] {
            #expect(TimeFlag.duration(bad) == nil, "\(bad)")
        }
        #expect(!TimeFlag.positive(.nan) && !TimeFlag.positive(-1) && !TimeFlag.positive(.infinity) && TimeFlag.positive(0.5))
    }
}

@Suite("cutover plan")
struct CutoverPlanTests {
    static let start = ISO8601DateFormatter().date(from: "2026-12-05T02:00:00Z")!

    @Test("the plan's timeline in absolute times, predictions scaled from the rehearsal")
    func timeline() throws {
        let r = RehearsalMeasurements(measuredAt: "x", sourceRows: 3_700_000, sourceBytes: 1_000_000_000, migrateSeconds: 20, verifySeconds: 18, snapshotSeconds: 10,
                                      v2SnapshotSeconds: 3)
        let p = CutoverPlan.make(timeline: CocoaTrackRunbook.steps, windowStart: Self.start, productionRows: 37_000_000, productionBytes: 10_000_000_000, rehearsal: r)
        // The V2 snapshot is predicted from the V2 snapshot measured, not from V1's backup (V2 holds no V1 data before migrate).
        #expect(p.steps.first { $0.id == "v2_snapshot" }?.predictedSeconds == 3)
        let old = CutoverPlan.make(timeline: CocoaTrackRunbook.steps, windowStart: Self.start, productionRows: 37_000_000, productionBytes: 10_000_000_000,
                                   rehearsal: RehearsalMeasurements(measuredAt: "x", sourceRows: 1, sourceBytes: 1, migrateSeconds: 1, verifySeconds: 1, snapshotSeconds: 10))
        #expect(old.steps.first { $0.id == "v2_snapshot" }?.predictedSeconds == nil)
        #expect(p.steps.first?.at == "2026-12-04T02:00:00Z" && p.steps.first?.id == "final_backup")
        #expect(p.steps.first { $0.id == "migrate" }?.at == "2026-12-05T02:00:00Z")
        #expect(p.steps.first { $0.id == "decide" }?.at == "2026-12-05T04:00:00Z")
        #expect(p.steps.first { $0.id == "dns_switch" }?.at == "2026-12-05T05:00:00Z")
        #expect(p.steps.first { $0.id == "migrate" }?.predictedSeconds == 200)
        #expect(p.steps.first { $0.id == "final_backup" }?.predictedSeconds == 100)
        #expect(p.warnings.isEmpty, "\(p.warnings)")
        #expect(p.decisionPoint == "2026-12-05T04:00:00Z" && p.windowEnd == "2026-12-05T06:00:00Z")
    }

    @Test("warnings when the data steps pass T+1h, the decision point or the window; and without measurements")
    func warnings() {
        let r = RehearsalMeasurements(measuredAt: "x", sourceRows: 1_000_000, sourceBytes: 1, migrateSeconds: 100, verifySeconds: 100, snapshotSeconds: 1)
        let p = CutoverPlan.make(timeline: CocoaTrackRunbook.steps, windowStart: Self.start, productionRows: 50_000_000, productionBytes: 1, rehearsal: r)  // 5000 s each
        #expect(p.warnings.contains { $0.contains("ends after T+1h") })
        #expect(p.warnings.contains { $0.contains("after the T+2h decision point") })
        #expect(p.warnings.contains { $0.contains("after the window closes") })
        let blind = CutoverPlan.make(timeline: CocoaTrackRunbook.steps, windowStart: Self.start, productionRows: nil, productionBytes: nil, rehearsal: nil)
        #expect(blind.warnings.count == 2 && blind.steps.allSatisfy { $0.predictedSeconds == nil })
    }
}
