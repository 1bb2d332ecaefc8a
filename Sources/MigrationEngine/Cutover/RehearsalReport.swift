import PGClient
import Foundation

/// What `rehearse` writes as `rehearsal.md` and `rehearsal.html`: the verdict, the reports of the
/// run (with their own verdicts, linked), the decisions as they were taken, every step, the drill
/// checks, the throughput and the production window predicted from the measurements. Both files
/// are rendered from this one value: the HTML is written directly (no Markdown in it).
public struct RehearsalReport: Sendable {
    public struct Step: Sendable {
        public var name: String
        public var command: String
        public var seconds: Double
        public var status: Int32
        public var ok: Bool
        public init(name: String, command: String, seconds: Double, status: Int32, ok: Bool) {
            self.name = name
            self.command = command
            self.seconds = seconds
            self.status = status
            self.ok = ok
        }
    }

    public struct Check: Sendable {
        public var what: String
        public var ok: Bool
        public init(_ what: String, _ ok: Bool) {
            self.what = what
            self.ok = ok
        }
    }

    /// One report the run wrote: where (relative to the rehearsal's directory), what it is, its verdict.
    public struct Written: Sendable {
        public var path: String
        public var title: String
        public var verdict: String
        public var status: String
    }

    /// A decision of the runbook as it was taken, from the post-mortem's journal.
    public struct TakenDecision: Sendable {
        public var attempt: Int
        public var step: String
        public var at: String
        public var action: String
        public var summary: String
        /// How it was resolved when the runbook held there (e.g. approved by the rehearsal).
        public var resolution: String?
    }

    public var steps: [Step]
    public var checks: [Check]
    /// The runbook's step durations in attempt 2, from the journal.
    public var runbookSeconds: [String: Double]
    public var runbookStepIDs: [String]
    public var measurements: RehearsalMeasurements
    public var plan: CutoverPlan
    public var totalSeconds: Double
    /// Where V1's data came from (`generated, scale 0.1` or the dump).
    public var source: String
    public var reports: [Written] = []
    public var decisions: [TakenDecision] = []
    /// Distinct V1 rows the runbook's migration rejected (a V1 user read by several loads counts once).
    public var rejectedV1Rows: Int64?
    public var rejectedByReason: [String: Int64] = [:]

    public init(steps: [Step], checks: [Check], runbookSeconds: [String: Double], runbookStepIDs: [String], measurements: RehearsalMeasurements,
                plan: CutoverPlan, totalSeconds: Double, source: String) {
        self.steps = steps
        self.checks = checks
        self.runbookSeconds = runbookSeconds
        self.runbookStepIDs = runbookStepIDs
        self.measurements = measurements
        self.plan = plan
        self.totalSeconds = totalSeconds
        self.source = source
    }

    public var passed: Bool { checks.allSatisfy(\.ok) }

    public var verdictLine: String {
        "\(passed ? "PASS" : "FAIL"): \(checks.filter(\.ok).count) of \(checks.count) drill checks passed, in \(String(format: "%.0f", totalSeconds)) s. "
            + "V1 \(source): \(ReportHTML.number(measurements.sourceRows)) rows."
    }

    static func duration(_ s: Double) -> String {
        s < 120 ? "\(Int(s.rounded())) s" : (s < 7200 ? "\(Int((s / 60).rounded())) min" : String(format: "%.1f h", s / 3600))
    }

    static func offset(_ seconds: Int) -> String {
        seconds == 0 ? "T-0" : (seconds > 0 ? "T+\(seconds / 3600)h" : "T\(seconds / 3600)h")
    }

    /// How each predicted duration was derived, said plainly.
    static func basis(_ id: String) -> String {
        switch id {
        case "migrate": "migrate's measured rate × production rows"
        case "verify", "arm_capture": "verify's measured rate × production rows"
        case "final_backup": "V1 backup's measured time × production V1 size"
        case "v2_snapshot": "the V2 snapshot as measured (V2 holds no V1 data before migrate)"
        default: ""
        }
    }

    // MARK: reading what the run wrote

    /// The reports the run wrote under `dir` (verify, assess, data-loss, post-mortems), each with
    /// its verdict read from its `report.json`; the decisions from the post-mortems; the
    /// distinct rejects from the runbook's verification.
    public mutating func collect(dir: String) {
        let known: [(String, String)] = [
            ("runbook/verify", "Integrity verification (runbook, attempt 2)"),
            ("assess", "Scenario 2: V2 changes since cutover (assess-v2-changes)"),
            ("data-loss", "Scenario 2: data-loss report (after sync-v2-to-v1)"),
            ("postmortem-attempt-1", "Post-mortem: attempt 1, the Scenario 1 drill"),
            ("postmortem", "Post-mortem: attempt 2, the whole runbook"),
        ]
        reports = []
        var seen: Set<String> = []
        func read(_ sub: String) -> Data? { FileManager.default.contents(atPath: "\(dir)/\(sub)/report.json") }
        for (sub, title) in known {
            guard FileManager.default.fileExists(atPath: "\(dir)/\(sub)/report.html") else { continue }
            seen.insert(sub)
            var verdict = "written", status = "warn"
            if let data = read(sub) {
                if let v = try? ReportJSON.decode(VerifyReport.self, from: data), v.format == VerifyReport.formatName {
                    verdict = v.verdictLine
                    status = v.verdictStatus
                    rejectedV1Rows = v.distinctRejected
                    rejectedByReason = v.tables.reduce(into: [:]) { acc, t in for (k, n) in t.rejected { acc[k, default: 0] += n } }
                } else if let c = try? ReportJSON.decode(ChangeReport.self, from: data), c.format == ChangeReport.formatName {
                    verdict = c.verdict.text
                    status = c.verdict.status
                } else if let p = try? ReportJSON.decode(PostmortemReport.self, from: data) {
                    verdict = p.verdict.text
                    status = p.verdict.status
                    decisions += Self.decisions(of: p)
                }
            }
            reports.append(.init(path: "\(sub)/report.html", title: title, verdict: verdict, status: status))
        }
        // Any other report below the directory (a later step may add one).
        for other in ReportHTML.runReports(root: dir) where other != "rehearsal.html" && other.hasSuffix("/report.html") {
            let sub = (other as NSString).deletingLastPathComponent
            if !seen.contains(sub) { reports.append(.init(path: other, title: sub, verdict: "written", status: "warn")) }
        }
        decisions.sort { ($0.attempt, $0.at) < ($1.attempt, $1.at) }
    }

    /// The decisions of a post-mortem, each with how its hold point was resolved. A step whose
    /// decision made the runbook hold decides again when it resumes after the approval: the
    /// journal holds both, and each says which it was (the one that held, the one that went on).
    static func decisions(of p: PostmortemReport) -> [TakenDecision] {
        p.decisions.map { d in
            let hold = p.steps.first { $0.id == d.step }?.holdPoint
            var resolution: String?
            if let hold {
                let approval = hold.approvedAt.map { at in
                    "approved \(at)" + (hold.approvedBy.map { " by \($0)" } ?? "") + " by the rehearsal itself (`cutover approve \(d.step)`): no person looked at it"
                }
                if let approvedAt = hold.approvedAt, let approval, d.at >= approvedAt {
                    resolution = "decided again after the hold at \(d.step) was \(approval); the runbook went on"
                } else {
                    resolution = "the runbook held at \(d.step) (\(hold.reason)); " + (approval.map { "\($0); the step decided again (next row)" } ?? "not approved")
                }
            }
            return TakenDecision(attempt: p.attempt, step: d.step, at: d.at, action: d.action, summary: d.summary, resolution: resolution)
        }
    }

    // MARK: Markdown

    static func md(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }

    public func markdown() -> String {
        var md = "# Cutover rehearsal\n\n**\(verdictLine)**\n\n"
        if !reports.isEmpty {
            md += "## Reports of this run\n\n| report | verdict |\n|---|---|\n"
            for r in reports { md += "| [\(r.title)](\(r.path)) | \(Self.md(r.verdict)) |\n" }
        }
        if !decisions.isEmpty {
            md += "\n## Decisions as they were taken\n\n| attempt | step | at | decision | why | how it was resolved |\n|---:|---|---|---|---|---|\n"
            for d in decisions { md += "| \(d.attempt) | \(d.step) | \(d.at) | \(d.action) | \(Self.md(d.summary)) | \(Self.md(d.resolution ?? "taken by the runbook")) |\n" }
        }
        if let rejected = rejectedV1Rows {
            md += "\nRejected by the migration: \(ReportHTML.number(rejected)) distinct V1 rows"
            md += rejectedByReason.isEmpty ? ".\n" : " (by load and reason: \(rejectedByReason.sorted { $0.key < $1.key }.map { "\($0.key) \(ReportHTML.number($0.value))" }.joined(separator: ", "))).\n"
        }
        md += "\n## Drill checks\n\n" + checks.map { "- \($0.ok ? "✔" : "✘") \($0.what)" }.joined(separator: "\n") + "\n"
        md += "\n## Steps\n\n| step | command | seconds | exit |\n|---|---|---:|---:|\n"
        for r in steps { md += "| \(r.name) | `\(r.command)` | \(String(format: "%.1f", r.seconds)) | \(r.status)\(r.ok ? "" : " ✘") |\n" }
        md += "\n## Runbook steps (attempt 2, from the journal)\n\n| step | seconds |\n|---|---:|\n"
        for s in runbookStepIDs { md += "| \(s) | \(runbookSeconds[s].map { String(format: "%.1f", $0) } ?? "-") |\n" }
        if measurements.migrateSeconds > 0 {
            md += "\nThroughput: migrate \(ReportHTML.number(Int64(Double(measurements.sourceRows) / measurements.migrateSeconds))) rows/s, verify "
                + (measurements.verifySeconds > 0 ? ReportHTML.number(Int64(Double(measurements.sourceRows) / measurements.verifySeconds)) : "-") + " rows/s.\n"
        }
        md += "\n## Predicted production window (these rows; run `cutover plan` against production for its counts)\n\n| T | at (UTC) | step | predicted | from |\n|---|---|---|---|---|\n"
        for s in plan.steps {
            md += "| \(Self.offset(s.offset)) | \(s.at) | \(s.title) | \(s.predictedSeconds.map(Self.duration) ?? "-") | \(s.predictedSeconds == nil ? "" : Self.basis(s.id)) |\n"
        }
        for w in plan.warnings { md += "\n**Warning:** \(w)\n" }
        return Redactor.redact(md)
    }

    // MARK: HTML

    public func html() -> String {
        let h = ReportHTML.escape
        let n: (Int64) -> String = ReportHTML.number
        var s = ""
        s += "<h2>Reports of this run</h2>\n"
        if reports.isEmpty { s += "<p>No report was written.</p>\n" } else {
            s += "<table id=\"reports\"><tr><th>report</th><th>verdict</th></tr>\n"
            for r in reports {
                s += "<tr class=\"report\" data-path=\"\(h(r.path))\" data-status=\"\(h(r.status))\"><td><a href=\"\(h(r.path))\">\(h(r.title))</a></td><td><span class=\"badge \(h(r.status))\">\(h(r.status.uppercased()))</span> \(h(r.verdict))</td></tr>\n"
            }
            s += "</table>\n"
        }
        if !decisions.isEmpty {
            s += "<h2>Decisions as they were taken</h2>\n<table id=\"decisions\"><tr><th class=num>attempt</th><th>step</th><th>at</th><th>decision</th><th>why</th><th>how it was resolved</th></tr>\n"
            for d in decisions {
                s += "<tr class=\"decision\" data-step=\"\(h(d.step))\" data-attempt=\"\(d.attempt)\" data-action=\"\(h(d.action))\"><td class=num>\(d.attempt)</td><td>\(h(d.step))</td><td>\(h(d.at))</td><td><strong>\(h(d.action))</strong></td><td>\(h(d.summary))</td><td>\(ReportHTML.text(d.resolution ?? "taken by the runbook"))</td></tr>\n"
            }
            s += "</table>\n"
        }
        if let rejected = rejectedV1Rows {
            s += "<p id=\"rejected\" data-rows=\"\(rejected)\">Rejected by the migration: <strong>\(n(rejected)) distinct V1 rows</strong>"
            s += rejectedByReason.isEmpty ? ".</p>\n" : " (by reason, per load: \(ReportHTML.reasons(rejectedByReason))); the verification report lists them.</p>\n"
        }
        s += "<h2>Drill checks</h2>\n<ul id=\"checks\">\n"
        for c in checks { s += "<li class=\"check \(c.ok ? "pass" : "fail")\" data-ok=\"\(c.ok)\">\(c.ok ? "✔" : "✘") \(h(c.what))</li>\n" }
        s += "</ul>\n<h2>Steps</h2>\n<table id=\"steps\"><tr><th>step</th><th>command</th><th class=num>seconds</th><th class=num>exit</th></tr>\n"
        for r in steps {
            s += "<tr data-step=\"\(h(r.name))\" data-ok=\"\(r.ok)\"><td>\(h(r.name))</td><td><code>\(h(r.command))</code></td><td class=num>\(String(format: "%.1f", r.seconds))</td><td class=num>\(r.status)\(r.ok ? "" : " ✘")</td></tr>\n"
        }
        s += "</table>\n<h2>Runbook steps (attempt 2, from the journal)</h2>\n<table id=\"runbook\"><tr><th>step</th><th class=num>seconds</th></tr>\n"
        for id in runbookStepIDs { s += "<tr data-runbook-step=\"\(h(id))\"><td>\(h(id))</td><td class=num>\(runbookSeconds[id].map { String(format: "%.1f", $0) } ?? "—")</td></tr>\n" }
        s += "</table>\n"
        let m = measurements
        if m.migrateSeconds > 0 {
            s += "<p id=\"throughput\">Throughput: migrate \(n(Int64(Double(m.sourceRows) / m.migrateSeconds))) rows/s, verify \(m.verifySeconds > 0 ? n(Int64(Double(m.sourceRows) / m.verifySeconds)) : "—") rows/s.</p>\n"
        }
        s += "<h2>Predicted production window</h2>\n<p class=note>For these rows and this V1 size; run <code>cutover plan</code> against production for its own counts.</p>\n"
        s += "<table id=\"plan\"><tr><th>T</th><th>at (UTC)</th><th>step</th><th class=num>predicted</th><th>from</th></tr>\n"
        for st in plan.steps {
            s += "<tr data-plan-step=\"\(h(st.id))\" data-predicted=\"\(st.predictedSeconds.map { String(format: "%.3f", $0) } ?? "")\"><td>\(Self.offset(st.offset))</td><td>\(h(st.at))</td><td>\(h(st.title))</td><td class=num>\(st.predictedSeconds.map(Self.duration) ?? "—")</td><td class=note>\(st.predictedSeconds == nil ? "" : h(Self.basis(st.id)))</td></tr>\n"
        }
        s += "</table>\n"
        for w in plan.warnings { s += "<p class=\"warning\"><strong>Warning:</strong> \(ReportHTML.text(w))</p>\n" }
        let meta = "measured \(h(m.measuredAt)) · V1 \(h(source)): \(n(m.sourceRows)) rows, \(n(m.sourceBytes / 1_048_576)) MiB"
        let page = ReportHTML.page(title: "Cutover rehearsal", meta: meta, verdict: .init(passed ? "pass" : "fail", verdictLine),
                                   verdictAttributes: " data-passed=\"\(passed)\"", body: s)
        return Redactor.redact(page)
    }
}
