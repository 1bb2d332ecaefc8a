import CocoaTrack
import Foundation
import MigrationEngine
import Testing

@Suite("Postmortem", .serialized)
struct PostmortemTests {
    @Test("cutover postmortem of a run rolled back at the gate: every step once with its times, retries, the hold point, the decision's evidence, the rollback's RTO, the messages; its HTML checked in Chromium; no secret")
    func rolledBackAtTheGate() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("postmortem")
        try await MigrationFixture.generate(pair, scale: 0.004, seed: 54)
        let dir = try CutoverRunTests.tempDir("postmortem")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let env = VerifyTests.env(pair)
        let secrets = Reliability.secrets(pair)

        // Nothing journaled yet: exit 1, saying what to run first.
        let none = try await CLI.run(["cutover", "postmortem"], env: env)
        #expect(none.status == 1, "\(none.stderr)")
        #expect(none.stderr.contains("cutover run") && none.stderr.contains("rehearse"), "\(none.stderr)")

        let webhook = try await WebhookCapture.start(dir: dir)
        defer { webhook.stop() }
        // The first backup fails once (a retry), a hold point before verify (an approval), and V2
        // damaged after the migration (the gate rolls back: Scenario 1).
        let settings = """
            thresholds:
              row_count_mismatch_pct: 20
            webhook_url: \(webhook.url)
            hooks:
              before_final_backup: test -f '\(dir)/once' || (touch '\(dir)/once'; exit 1)
              after_migrate: psql -qX '\(pair.v2SuperURL)' -c "SET session_replication_role = replica; DELETE FROM public.audit_log WHERE id = (SELECT min(id::text)::uuid FROM public.audit_log)" && psql -qXAt '\(pair.v2SuperURL)' -c "SELECT count(*) FROM (SELECT DISTINCT source_table, source_id FROM cocoatrack_migration.row_issues WHERE kind = 'reject') r" > '\(dir)/distinct_rejects'
            """
        try settings.write(toFile: dir + "/settings.yml", atomically: true, encoding: .utf8)
        let base = ["cutover", "run", "--config", dir + "/settings.yml", "--yes", "--reports", dir + "/reports"]
        let failed = try await CLI.run(base + ["--pause-before", "verify"], env: env)
        #expect(failed.status == 1, "\(failed.stderr.suffix(800))")
        let held = try await CLI.run(base + ["--pause-before", "verify"], env: env)
        #expect(held.status == 0 && held.stdout.contains("paused before verify"), "\(held.stdout) \(held.stderr.suffix(800))")
        #expect(try await CLI.run(["cutover", "approve", "verify"], env: env).status == 0)
        let rolledBack = try await CLI.run(base, env: env)
        #expect(rolledBack.status == 3 && rolledBack.stderr.contains("rolled back (Scenario 1)"), "\(rolledBack.stderr.suffix(1500))")

        let out = try await CLI.run(["cutover", "postmortem", "--export", dir + "/pm"], env: env)
        #expect(out.status == 0, "\(out.stderr.suffix(1500))")
        let report = try PostmortemReport.decode(String(contentsOfFile: dir + "/pm/report.json", encoding: .utf8))
        #expect(report.format == PostmortemReport.formatName && report.attempt == 1 && report.attempts == [1] && report.outcome == "rolled_back")

        // The journal, read independently.
        struct J: Sendable { var step: String; var event: String; var at: String; var epoch: Double; var user: String?; var detail: String }
        let journal = try await pair.v2Owner().using {
            try await $0.query("""
                SELECT step, event, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), extract(epoch FROM at)::float8, os_user, coalesce(detail, '')
                FROM cocoatrack_migration.runbook_journal WHERE attempt = 1 ORDER BY entry_id
                """).rows.map { J(step: $0[0]!, event: $0[1]!, at: $0[2]!, epoch: Double($0[3]!)!, user: $0[4], detail: $0[5]!) }
        }
        // Every runbook step listed exactly once, in order; the ones journaled with their times.
        #expect(report.steps.map(\.id) == CutoverStepsForTests.ids)
        var startedInJournal: [String] = []
        for j in journal where j.event == "started" && !j.step.hasPrefix("rollback") && !startedInJournal.contains(j.step) { startedInJournal.append(j.step) }
        #expect(startedInJournal == ["final_backup", "read_only", "v2_snapshot", "migrate", "verify", "decide"])
        #expect(report.steps.filter { $0.startedAt != nil }.map(\.id) == startedInJournal)
        for s in report.steps where startedInJournal.contains(s.id) {
            let first = journal.first { $0.step == s.id && $0.event == "started" }!
            let lastStart = journal.last { $0.step == s.id && $0.event == "started" }!
            let end = journal.last { $0.step == s.id && ["succeeded", "decided"].contains($0.event) }
            #expect(s.startedAt == first.at, "\(s.id)")
            #expect(end != nil && s.endedAt == end?.at, "\(s.id)")
            if let end, let seconds = s.seconds { #expect(abs(seconds - (end.epoch - lastStart.epoch)) < 0.002, "\(s.id)") } else { Issue.record("\(s.id) has no duration") }
            #expect(s.plannedAt != nil && s.startDeviationSeconds != nil, "\(s.id) against the plan")
        }
        for s in report.steps where !startedInJournal.contains(s.id) { #expect(s.outcome == "pending" && s.startedAt == nil && s.runs.isEmpty, "\(s.id)") }
        let backup = try #require(report.steps.first { $0.id == "final_backup" })
        #expect(backup.retries == 1 && backup.runs.map(\.outcome) == ["failed", "succeeded"], "\(backup.runs)")
        #expect(backup.runs.first?.detail.contains("hook for final_backup exited 1") == true, "\(backup.runs)")
        let verify = try #require(report.steps.first { $0.id == "verify" })
        let approved = try #require(journal.first { $0.step == "verify" && $0.event == "approved" })
        #expect(verify.holdPoint?.pausedAt == journal.first { $0.step == "verify" && $0.event == "paused" }?.at)
        #expect(verify.holdPoint?.approvedAt == approved.at && verify.holdPoint?.approvedBy == approved.user)
        #expect(report.steps.filter { $0.holdPoint != nil }.map(\.id) == ["verify"])

        // The decision with the rule that fired and its numbers, as V2 recorded it.
        let (action, recorded) = try await pair.v2Owner().using { c in
            let r = try await c.query("SELECT action, report::text FROM cocoatrack_migration.decisions ORDER BY decided_at DESC LIMIT 1").rows[0]
            return (r[0]!, r[1]!)
        }
        #expect(report.decisions.count == 1)
        let decision = try #require(report.decisions.first)
        #expect(decision.step == "decide" && decision.action == action && ["rollback", "immediate_rollback"].contains(action))
        #expect(decision.at == journal.first { $0.step == "decide" && $0.event == "decided" }?.at)
        #expect(!decision.fired.isEmpty && decision.rules.count == 7)
        #expect(decision.fired.contains { $0.rule == "row_count_mismatch" && $0.evidence.contains("audit_log: -1 rows unexplained") }, "\(decision.fired)")
        for f in decision.fired { #expect(recorded.contains(f.rule) && recorded.contains(f.evidence.replacingOccurrences(of: "\"", with: "\\\""))) }

        // The verification it decided on, with its numbers and the full report's path.
        let v = try #require(report.verification)
        #expect(v.verificationId == decision.verificationId && v.outcome == "fail")
        #expect(v.tables.count == 12 && v.totalV1Rows == v.tables.reduce(0) { $0 + $1.v1Rows } && v.totalV1Rows > 0)
        #expect(v.tables.first { $0.load == "audit_log" }?.unexplainedDifference == -1, "one V2 row deleted after the migration")
        // total_rejected counts V1 rows: a V1 user that several loads read and reject is one row (the loads' own counts add it once per load).
        // Counted by the after_migrate hook, because the rollback's clear-v2 empties row_issues.
        let distinctRejects: String? = (try? String(contentsOfFile: dir + "/distinct_rejects", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(String(v.totalRejected) == distinctRejects && v.totalRejected > 0, "\(v.totalRejected) vs \(distinctRejects ?? "-")")
        #expect(v.rejectsByReason.values.reduce(0, +) > v.totalRejected, "this V1 has a rejected user, read by more than one load")
        #expect(v.foreignKeysChecked == 16 && v.tables.allSatisfy { !$0.checksumV1.isEmpty })
        let verifyDir = try #require(report.reports.first { $0.step == "verify" }?.path)
        #expect(FileManager.default.fileExists(atPath: verifyDir + "/report.html"), "\(verifyDir)")

        // The rollback: Scenario 1, its steps with times, and the RTO as it happened.
        let rb = try #require(report.rollback)
        #expect(rb.scenario == 1)
        #expect(rb.steps.map(\.id) == ["snapshot_v2", "clear_v2", "v1_writable"] && rb.steps.allSatisfy { $0.outcome == "succeeded" && $0.startedAt != nil && $0.seconds != nil })
        #expect(Int(rb.steps.last?.figures["regranted"] ?? "0") ?? 0 > 0, "\(rb.steps)")
        let decidedAt = try #require(journal.first { $0.step == "decide" && $0.event == "decided" })
        let writableAt = try #require(journal.first { $0.step == "rollback.v1_writable" && $0.event == "succeeded" })
        #expect(rb.decidedAt == decidedAt.at && rb.v1WritableAt == writableAt.at)
        let rto = try #require(rb.rtoSeconds)
        #expect(rto > 0 && abs(rto - (writableAt.epoch - decidedAt.epoch)) < 0.002, "\(rto)")
        #expect(rb.writeBack == nil, "no write-back in Scenario 1")

        // Every message the webhook received, in order, with its time.
        let received = webhook.messages()
        #expect(!received.isEmpty && report.messages.map(\.text) == received, "\(report.messages.map(\.text)) vs \(received)")
        #expect(report.messages.allSatisfy { $0.delivered && !$0.at.isEmpty && $0.channel == "webhook" })
        #expect(report.messages.contains { $0.text.contains("ROLLBACK, Scenario 1") })
        #expect(report.review.rootCause.isEmpty && report.review.actions.isEmpty)

        // Markdown on stdout without --export; report.json's object with --json.
        let md = try await CLI.run(["cutover", "postmortem"], env: env)
        #expect(md.status == 0)
        for heading in ["## Timeline", "## Decisions", "## Verification", "## Rollback", "## Messages sent", "## Root cause", "## What went well", "## What to change", "## Actions"] {
            #expect(md.stdout.contains(heading), "\(heading)")
        }
        #expect(md.stdout.contains("RTO as it happened") && md.stdout.contains("audit_log: -1 rows unexplained"))
        let json = try await CLI.run(["cutover", "postmortem", "--json", "--attempt", "1"], env: env)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(json.stdout.prefix(300))")
        #expect(json.status == 0 && object["attempt"] as? Int == 1 && (object["steps"] as? [Any])?.count == 9 && object["rollback"] is [String: Any])
        // A bad --attempt is a usage error.
        for bad in ["2", "0", "x"] {
            let r = try await CLI.run(["cutover", "postmortem", "--attempt", bad], env: env)
            #expect(r.status == 2, "--attempt \(bad): \(r.status) \(r.stderr)")
        }

        // No password anywhere.
        for (path, text) in Reliability.filesText(under: dir + "/pm") { Reliability.expectNoSecrets(text, secrets, where: path) }
        for (i, o) in [out, md, json].enumerated() { Reliability.expectNoSecrets(o.stdout + o.stderr, secrets, where: "output \(i)") }

        // Headless Chromium opens the page; its DOM has every step, the decision, the RTO, the messages and the sections to fill.
        let browser = try #require(VerifyTests.chromium(), "headless Chromium is needed for this test (Debian: apt-get install chromium)")
        let profile = VerifyTests.tempDir("chromium-profile")
        defer { try? FileManager.default.removeItem(atPath: profile) }
        let dom = try await Subprocess.run(browser, ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile)",
                                                     "--dump-dom", "file://\(dir)/pm/report.html"], check: false)
        #expect(dom.status == 0, "\(dom.stderr.suffix(500))")
        let page = dom.stdout
        #expect(page.contains("id=\"verdict\"") && page.contains("data-outcome=\"rolled_back\""))
        // The verdict at the top: rolled back, the way back finished (V1 writable again); no raw Markdown; every link leads to a file.
        ReportDOM(file: dir + "/pm/report.html", dom: page).expectReport(verdict: "warn", contains: ["rolled back", "V1 writable again"])
        for s in report.steps {
            #expect(page.components(separatedBy: "<tr data-step=\"\(s.id)\"").count == 2, "\(s.id) once in the timeline")
        }
        #expect(page.contains("data-step=\"final_backup\" data-outcome=\"succeeded\" data-retries=\"1\" data-started=\"\(backup.startedAt!)\""))
        #expect(page.contains("class=\"decision\" data-step=\"decide\" data-action=\"\(action)\""))
        #expect(page.contains("data-rule=\"row_count_mismatch\" data-verdict=\"triggered\""))
        #expect(page.contains("id=\"rollback\" data-scenario=\"1\"") && page.contains("id=\"rto\" data-seconds=\"\(rto)\""))
        #expect(page.components(separatedBy: "class=\"message\"").count - 1 == received.count)
        for id in ["root-cause", "went-well", "to-change", "actions"] { #expect(page.contains("id=\"\(id)\""), "\(id)") }
        Reliability.expectNoSecrets(page, secrets, where: "the DOM")
    }
}
