import PGClient
import Foundation

extension PostmortemReport {
    static func dur(_ s: Double?) -> String {
        guard let s else { return "—" }
        if abs(s) < 120 { return String(format: "%.1f s", s) }
        if abs(s) < 7200 { return String(format: "%.1f min", s / 60) }
        return String(format: "%.1f h", s / 3600)
    }

    static func md(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }

    /// The verdict at the top: `pass` when the cutover finished, `warn` when it was rolled back
    /// (the way back worked: V1 is writable again), `fail` otherwise.
    public var verdict: ReportHTML.Verdict {
        switch outcome {
        case "finished": .init("pass", summaryLine)
        case "rolled_back" where rollback?.finishedAt != nil: .init("warn", summaryLine)
        default: .init("fail", summaryLine)
        }
    }

    public var summaryLine: String {
        var s = "Attempt \(attempt): \(outcome.replacingOccurrences(of: "_", with: " ")), \(startedAt) → \(endedAt)"
        if let r = rollback {
            s += "; rollback\(r.scenario.map { " (Scenario \($0))" } ?? ""), V1 writable again \(Self.dur(r.rtoSeconds)) after the decision"
        }
        return s
    }

    static let reviewSections = [("root-cause", "Root cause"), ("went-well", "What went well"), ("to-change", "What to change"), ("actions", "Actions")]

    /// The post-mortem as Markdown (`report.md`).
    public func markdown() -> String {
        var m = "# Cutover post-mortem: attempt \(attempt)\n\n**\(summaryLine)**\n\n"
        m += "- generated \(generatedAt), tool \(toolVersion); V2 `\(v2)`; attempts in the journal: \(attempts.map(String.init).joined(separator: ", "))\n"
        m += "- plan window: T-0 \(window.start) (\(window.startSource == "given" ? "given" : "taken as the actual start of the T-0 step")), decision point \(window.decisionPoint), end \(window.end)\n\n"
        m += "## Timeline\n\n| step | planned | predicted | started | ended | duration | vs plan | outcome | retries | hold point |\n|---|---|---:|---|---|---:|---:|---|---:|---|\n"
        for s in steps {
            let hold = s.holdPoint.map { "held \($0.pausedAt)\($0.approvedAt.map { " · approved \($0)" } ?? " · not approved")\($0.approvedBy.map { " by \($0)" } ?? "")" } ?? ""
            m += "| \(s.id) | \(s.plannedAt ?? "—") | \(Self.dur(s.predictedSeconds)) | \(s.startedAt ?? "—") | \(s.endedAt ?? "—") | \(Self.dur(s.seconds)) | \(s.startDeviationSeconds.map { ($0 >= 0 ? "+" : "") + Self.dur($0) } ?? "—") | \(s.outcome) | \(s.retries) | \(Self.md(hold)) |\n"
        }
        let retried = steps.filter { $0.retries > 0 || $0.runs.contains { $0.outcome == "failed" } }
        if !retried.isEmpty {
            m += "\n### Runs of retried or failed steps\n\n| step | started | ended | duration | outcome | detail |\n|---|---|---|---:|---|---|\n"
            for s in retried { for r in s.runs { m += "| \(s.id) | \(r.startedAt) | \(r.endedAt ?? "—") | \(Self.dur(r.seconds)) | \(r.outcome) | \(Self.md(r.detail)) |\n" } }
        }
        m += "\n## Decisions\n"
        if decisions.isEmpty { m += "\nNo decision was journaled in this attempt.\n" }
        for d in decisions {
            m += "\n### \(d.step) (\(d.phase.replacingOccurrences(of: "_", with: " "))) at \(d.at): \(d.action)\n\n\(Self.md(d.summary))\(d.verificationId.map { " — verification `\($0)`" } ?? "")\n\n"
            m += "| rule | verdict | action | evidence |\n|---|---|---|---|\n"
            for v in d.rules { m += "| \(v.rule)\(v.verdict == "triggered" ? " **(fired)**" : "") | \(v.verdict) | \(v.action) | \(Self.md(v.evidence)) |\n" }
        }
        m += "\n## Verification\n\n"
        if let v = verification {
            m += "Verification `\(v.verificationId)`: **\(v.outcome.uppercased())**\(v.complete ? "" : " (partial)"), \(v.startedAt) → \(v.finishedAt ?? "—"). "
            m += "Totals: \(VerifyReport.n(v.totalV1Rows)) V1 rows, \(VerifyReport.n(v.totalV2Rows)) V2 rows, \(VerifyReport.n(v.totalRejected)) distinct V1 rows rejected; "
            m += "\(VerifyReport.n(v.foreignKeysChecked)) foreign keys checked, \(VerifyReport.n(v.foreignKeysWithOrphans)) with orphans (\(VerifyReport.n(v.orphans)) rows).\n\n"
            m += "| check | result | detail |\n|---|---|---|\n"
            for c in v.checks { m += "| \(c.name) | \(c.status.uppercased()) | \(Self.md(c.summary)) |\n" }
            m += "\n| load | V1 rows | rejected | expected V2 | V2 rows | unexplained | checksum V1 | checksum V2 | match |\n|---|---:|---:|---:|---:|---:|---|---|---|\n"
            for t in v.tables {
                m += "| \(t.load) | \(VerifyReport.n(t.v1Rows)) | \(VerifyReport.n(t.rejectedTotal)) | \(VerifyReport.n(t.expectedV2Rows)) | \(VerifyReport.n(t.v2Rows)) | \(VerifyReport.n(t.unexplainedDifference)) | `\(t.checksumV1.prefix(16))` | `\(t.checksumV2.prefix(16))` | \(t.checksumsMatch ? "yes" : "NO") |\n"
            }
            if !v.rejectsByReason.isEmpty {
                m += "\n| rejected: reason | rows |\n|---|---:|\n"
                for (k, n) in v.rejectsByReason.sorted(by: { $0.key < $1.key }) { m += "| \(k) | \(VerifyReport.n(n)) |\n" }
            }
            if !v.businessTotals.isEmpty {
                m += "\n| business total | groups V1 | groups V2 | differing | result |\n|---|---:|---:|---:|---|\n"
                for b in v.businessTotals { m += "| \(b.name) | \(VerifyReport.n(b.groupsV1)) | \(VerifyReport.n(b.groupsV2)) | \(VerifyReport.n(b.groupsDiffering)) | \(b.status.uppercased()) |\n" }
            }
        } else {
            m += "No verification recorded for this attempt.\n"
        }
        if !reports.isEmpty {
            m += "\nFull reports and files:\n\n" + reports.map { "- \($0.step): `\($0.path)`" }.joined(separator: "\n") + "\n"
        }
        m += "\n## Rollback\n\n"
        if let r = rollback {
            m += "**\(r.scenario.map { "Scenario \($0)" } ?? "Rollback")**: \(Self.md(r.reason)). Decided \(r.decidedAt), started \(r.startedAt), finished \(r.finishedAt ?? "— (not finished)").\n\n"
            m += "**RTO as it happened: \(Self.dur(r.rtoSeconds))** from the decision (\(r.decidedAt)) until V1 was writable again (\(r.v1WritableAt ?? "—")).\n\n"
            if !r.steps.isEmpty {
                m += "| step | started | ended | duration | outcome | figures |\n|---|---|---|---:|---|---|\n"
                for s in r.steps {
                    m += "| \(s.title) | \(s.startedAt ?? "—") | \(s.endedAt ?? "—") | \(Self.dur(s.seconds)) | \(s.outcome) | \(Self.md(s.figures.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))) |\n"
                }
            }
            if let w = r.writeBack {
                m += "\nWrite-back to V1\(w.syncId.map { " (sync `\($0)`\(w.at.map { ", \($0)" } ?? ""))" } ?? ""): \(VerifyReport.n(w.total)) rows written, \(VerifyReport.n(w.conflicts)) conflicts.\n\n"
                if !w.applied.isEmpty {
                    m += "| table | inserted | updated | deleted |\n|---|---:|---:|---:|\n"
                    for (t, k) in w.applied.sorted(by: { $0.key < $1.key }) { m += "| \(t) | \(VerifyReport.n(k["inserted"] ?? 0)) | \(VerifyReport.n(k["updated"] ?? 0)) | \(VerifyReport.n(k["deleted"] ?? 0)) |\n" }
                }
                m += w.lost.isEmpty ? "\nLost: nothing (V1 got every change back).\n" : "\nLost (not written back to V1; the data-loss report has the values):\n\n| load | key | V1 id | reason | detail |\n|---|---|---:|---|---|\n"
                for l in w.lost { m += "| \(l.load) | `\(l.key)` | \(l.v1Id.map(String.init) ?? "") | \(l.reason) | \(Self.md(l.detail)) |\n" }
            }
        } else {
            m += "No rollback in this attempt.\n"
        }
        m += "\n## Messages sent\n\n"
        if messages.isEmpty { m += "No message was journaled (no webhook_url, or a run before messages were journaled).\n" }
        else {
            m += "| at | channel | delivered | text |\n|---|---|---|---|\n"
            for msg in messages { m += "| \(msg.at) | \(msg.channel) | \(msg.delivered ? "yes" : "no: \(Self.md(msg.error ?? ""))") | \(Self.md(msg.text)) |\n" }
        }
        for (_, title) in Self.reviewSections { m += "\n## \(title)\n\n_To be filled in._\n" }
        m += "\n## Journal\n\n| at | step | event | by | detail |\n|---|---|---|---|---|\n"
        for e in journal { m += "| \(e.at) | \(e.step) | \(e.event) | \(e.user ?? "") | \(Self.md(e.detail)) |\n" }
        return Redactor.redact(m)
    }

    /// A self-contained HTML page (`report.html`): no script, no external resource.
    public func html() -> String {
        let h = VerifyReport.h
        func cell(_ s: String?) -> String { "<td>\(h(s ?? "—"))</td>" }
        func num(_ s: String) -> String { "<td class=num>\(h(s))</td>" }
        let meta = "generated \(h(generatedAt)) · tool \(h(toolVersion)) · V2 <code>\(h(v2))</code> · attempts \(h(attempts.map(String.init).joined(separator: ", ")))<br>"
            + "plan: T-0 \(h(window.start)) (\(window.startSource == "given" ? "given" : "the actual start of the T-0 step")) · decision point \(h(window.decisionPoint)) · end \(h(window.end))"
        let extraCSS = "tr.fired td{background:#fff1f0} .fill{min-height:3rem;border:1px dashed #b8c0cf;border-radius:6px;padding:.5rem;color:#8a93a6} #rto{font-size:1.1rem;font-weight:600}"
        var s = """
        <h2>Timeline</h2>
        <table id="timeline"><tr><th>step</th><th>planned</th><th class=num>predicted</th><th>started</th><th>ended</th><th class=num>duration</th><th class=num>vs plan</th><th>outcome</th><th class=num>retries</th><th>hold point</th></tr>

        """
        for st in steps {
            let hold = st.holdPoint.map { "held \($0.pausedAt) (\($0.reason))" + ($0.approvedAt.map { "; approved \($0)" } ?? "; not approved") + ($0.approvedBy.map { " by \($0)" } ?? "") }
            s += "<tr data-step=\"\(h(st.id))\" data-outcome=\"\(h(st.outcome))\" data-retries=\"\(st.retries)\" data-started=\"\(h(st.startedAt ?? ""))\" data-ended=\"\(h(st.endedAt ?? ""))\">"
            s += "<td title=\"\(h(st.title))\">\(h(st.id))</td>" + cell(st.plannedAt) + num(Self.dur(st.predictedSeconds)) + cell(st.startedAt) + cell(st.endedAt)
            s += num(Self.dur(st.seconds)) + num(st.startDeviationSeconds.map { ($0 >= 0 ? "+" : "") + Self.dur($0) } ?? "—") + cell(st.outcome) + num(String(st.retries))
            s += "<td class=\"hold\"\(st.holdPoint?.approvedBy.map { " data-approved-by=\"\(h($0))\"" } ?? "")>\(h(hold ?? ""))</td></tr>\n"
            if st.runs.count > 1 || st.runs.contains(where: { $0.outcome == "failed" }) {
                for r in st.runs {
                    s += "<tr class=\"run\" data-run-of=\"\(h(st.id))\"><td></td><td colspan=2>run</td>" + cell(r.startedAt) + cell(r.endedAt) + num(Self.dur(r.seconds)) + "<td></td>" + cell(r.outcome) + "<td colspan=2>\(ReportHTML.text(r.detail))</td></tr>\n"
                }
            }
        }
        s += "</table>\n<h2>Decisions</h2>\n"
        if decisions.isEmpty { s += "<p>No decision was journaled in this attempt.</p>\n" }
        for d in decisions {
            s += "<section class=\"decision\" data-step=\"\(h(d.step))\" data-action=\"\(h(d.action))\"><h3>\(h(d.step)) (\(h(d.phase.replacingOccurrences(of: "_", with: " ")))) at \(h(d.at)): \(h(d.action))</h3>"
            s += "<p>\(ReportHTML.text(d.summary))\(d.verificationId.map { " — verification <code>\(h($0))</code>" } ?? "")</p>\n<table><tr><th>rule</th><th>verdict</th><th>action</th><th>evidence</th></tr>\n"
            for v in d.rules {
                s += "<tr data-rule=\"\(h(v.rule))\" data-verdict=\"\(h(v.verdict))\"\(v.verdict == "triggered" ? " class=\"fired\"" : "")><td>\(h(v.rule))</td><td>\(h(v.verdict))</td><td>\(h(v.action))</td><td>\(ReportHTML.text(v.evidence))</td></tr>\n"
            }
            s += "</table></section>\n"
        }
        s += "<h2>Verification</h2>\n"
        if let v = verification {
            s += "<p id=\"verification\" data-outcome=\"\(h(v.outcome))\" data-verification=\"\(h(v.verificationId))\">verification <code>\(h(v.verificationId))</code>: <strong>\(h(v.outcome.uppercased()))</strong>, \(h(v.startedAt)) → \(h(v.finishedAt ?? "—")). "
            s += "\(VerifyReport.n(v.totalV1Rows)) V1 rows, \(VerifyReport.n(v.totalV2Rows)) V2 rows, \(VerifyReport.n(v.totalRejected)) distinct V1 rows rejected; \(VerifyReport.n(v.foreignKeysChecked)) foreign keys checked, \(VerifyReport.n(v.foreignKeysWithOrphans)) with orphans.</p>\n"
            s += "<table id=\"checks\"><tr><th>check</th><th>result</th><th>detail</th></tr>\n"
            for c in v.checks { s += "<tr data-check=\"\(h(c.name))\" data-status=\"\(h(c.status))\"><td>\(h(c.name))</td><td>\(h(c.status.uppercased()))</td><td>\(ReportHTML.text(c.summary))</td></tr>\n" }
            s += "</table>\n<table id=\"tables\"><tr><th>load</th><th class=num>V1 rows</th><th class=num>rejected</th><th>rejected by reason</th><th class=num>expected V2</th><th class=num>V2 rows</th><th class=num>unexplained</th><th>checksum V1</th><th>checksum V2</th><th>match</th></tr>\n"
            for t in v.tables {
                s += "<tr data-load=\"\(h(t.load))\"><td>\(h(t.load))</td>" + num(VerifyReport.n(t.v1Rows)) + num(VerifyReport.n(t.rejectedTotal)) + "<td class=\"reasons\">\(ReportHTML.reasons(t.rejected))</td>"
                s += num(VerifyReport.n(t.expectedV2Rows)) + num(VerifyReport.n(t.v2Rows)) + num(VerifyReport.n(t.unexplainedDifference))
                s += "<td><code>\(h(String(t.checksumV1.prefix(16))))</code></td><td><code>\(h(String(t.checksumV2.prefix(16))))</code></td><td>\(t.checksumsMatch ? "yes" : "NO")</td></tr>\n"
            }
            s += "</table>\n"
            if !v.rejectsByReason.isEmpty {
                s += "<table id=\"rejects\"><tr><th>rejected: reason</th><th class=num>rows</th></tr>\n"
                for (k, n) in v.rejectsByReason.sorted(by: { $0.key < $1.key }) { s += "<tr data-reason=\"\(h(k))\"><td>\(h(k))</td>" + num(VerifyReport.n(n)) + "</tr>\n" }
                s += "</table>\n"
            }
        } else {
            s += "<p>No verification recorded for this attempt.</p>\n"
        }
        if !reports.isEmpty {
            s += "<ul id=\"reports\">" + reports.map { r in
                let target = r.path.hasSuffix(".dump") ? r.path : (r.path as NSString).appendingPathComponent("report.html")
                return "<li>\(h(r.step)): <a href=\"\(h(URL(fileURLWithPath: target).absoluteString))\"><code>\(h(r.path))</code></a></li>"
            }.joined() + "</ul>\n"
        }
        s += "<h2>Rollback</h2>\n"
        if let r = rollback {
            s += "<section id=\"rollback\" data-scenario=\"\(r.scenario.map(String.init) ?? "")\"><p><strong>\(h(r.scenario.map { "Scenario \($0)" } ?? "Rollback"))</strong>: \(h(r.reason)). Decided \(h(r.decidedAt)), started \(h(r.startedAt)), finished \(h(r.finishedAt ?? "— (not finished)")).</p>\n"
            s += "<p id=\"rto\" data-seconds=\"\(r.rtoSeconds.map { String($0) } ?? "")\">RTO as it happened: \(h(Self.dur(r.rtoSeconds))) from the decision (\(h(r.decidedAt))) until V1 was writable again (\(h(r.v1WritableAt ?? "—"))).</p>\n"
            s += "<table id=\"rollback-steps\"><tr><th>step</th><th>started</th><th>ended</th><th>duration</th><th>outcome</th><th>figures</th></tr>\n"
            for st in r.steps {
                s += "<tr data-rollback-step=\"\(h(st.id))\"><td>\(h(st.title))</td>" + cell(st.startedAt) + cell(st.endedAt) + num(Self.dur(st.seconds)) + cell(st.outcome)
                s += "<td>\(h(st.figures.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))</td></tr>\n"
            }
            s += "</table>\n"
            if let w = r.writeBack {
                s += "<p id=\"write-back\" data-total=\"\(w.total)\" data-conflicts=\"\(w.conflicts)\">Write-back to V1\(w.syncId.map { " (sync <code>\(h($0))</code>)" } ?? ""): \(VerifyReport.n(w.total)) rows written, \(VerifyReport.n(w.conflicts)) conflicts.</p>\n"
                if !w.applied.isEmpty {
                    s += "<table><tr><th>table</th><th>inserted</th><th>updated</th><th>deleted</th></tr>\n"
                    for (t, k) in w.applied.sorted(by: { $0.key < $1.key }) { s += "<tr><td>\(h(t))</td>" + num(VerifyReport.n(k["inserted"] ?? 0)) + num(VerifyReport.n(k["updated"] ?? 0)) + num(VerifyReport.n(k["deleted"] ?? 0)) + "</tr>\n" }
                    s += "</table>\n"
                }
                if w.lost.isEmpty { s += "<p id=\"lost\" data-rows=\"0\">Lost: nothing.</p>\n" } else {
                    s += "<table id=\"lost\" data-rows=\"\(w.lost.count)\"><tr><th>load</th><th>key</th><th>V1 id</th><th>reason</th><th>detail</th></tr>\n"
                    for l in w.lost { s += "<tr><td>\(h(l.load))</td><td><code>\(h(l.key))</code></td>" + num(l.v1Id.map(String.init) ?? "") + cell(l.reason) + cell(l.detail) + "</tr>\n" }
                    s += "</table>\n"
                }
            }
            s += "</section>\n"
        } else {
            s += "<p>No rollback in this attempt.</p>\n"
        }
        s += "<h2>Messages sent</h2>\n"
        if messages.isEmpty { s += "<p>No message was journaled.</p>\n" } else {
            s += "<table id=\"messages\"><tr><th>at</th><th>channel</th><th>delivered</th><th>text</th></tr>\n"
            for m in messages { s += "<tr class=\"message\" data-delivered=\"\(m.delivered)\">" + cell(m.at) + cell(m.channel) + cell(m.delivered ? "yes" : "no: \(m.error ?? "")") + cell(m.text) + "</tr>\n" }
            s += "</table>\n"
        }
        for (id, title) in Self.reviewSections { s += "<h2>\(h(title))</h2>\n<div id=\"\(id)\" class=\"fill\">To be filled in.</div>\n" }
        s += "<h2>Journal</h2>\n<table id=\"journal\"><tr><th>at</th><th>step</th><th>event</th><th>by</th><th>detail</th></tr>\n"
        for e in journal { s += "<tr>" + cell(e.at) + cell(e.step) + cell(e.event) + cell(e.user ?? "") + "<td>\(ReportHTML.text(e.detail))</td></tr>\n" }
        s += "</table>\n"
        return Redactor.redact(ReportHTML.page(title: "Cutover post-mortem: attempt \(attempt)", meta: meta, verdict: verdict,
                                               verdictAttributes: " data-outcome=\"\(h(outcome))\" data-attempt=\"\(attempt)\"", extraCSS: extraCSS, body: s))
    }

    /// Writes `report.json`, `report.md` and `report.html` into `directory` (created if needed).
    public func export(to directory: String) throws -> [String] {
        try ReportFiles.write([("report.json", json() + "\n"), ("report.md", markdown()), ("report.html", html())], to: directory)
    }
}
