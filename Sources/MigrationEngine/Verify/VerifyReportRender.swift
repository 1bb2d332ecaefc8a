import PGClient
import Foundation

extension VerifyReport {
    static func n(_ v: Int64) -> String { ReportHTML.number(v) }
    static func n(_ v: Int) -> String { ReportHTML.number(v) }

    public var verdictLine: String {
        switch outcome {
        case "pass": "PASS: every check ran and passed" + (complete ? "" : " (partial: --only)")
        case "fail": "FAIL: " + checks.filter { $0.status == "fail" }.map(\.name).joined(separator: ", ") + " failed; the decision matrix recommends rollback"
        default: "ERROR: the verification did not finish (\(error ?? "unknown error")); nothing it did not compare counts as matching"
        }
    }

    /// The report as Markdown (`report.md`).
    public func markdown() -> String {
        var md = "# Integrity verification\n\n"
        md += "**\(verdictLine)**\n\n"
        md += "- verification: `\(verificationId)`, tool \(toolVersion)\n"
        md += "- started \(startedAt), finished \(finishedAt ?? "—"), \(String(format: "%.1f", seconds)) s\n"
        md += "- V1: `\(v1)`\n- V2: `\(v2)`\n"
        md += "- rejected rows may be at most \(String(format: "%.2f", thresholds.maxRejectShare * 100)) % of a table's V1 rows\n\n"
        md += "## Checks\n\n| check | result | detail |\n|---|---|---|\n"
        for c in checks { md += "| \(c.name) | \(c.status.uppercased()) | \(mdEscape(c.summary)) |\n" }
        md += "\n## Tables\n\n| load | V1 rows | rejected | expected V2 | V2 rows | unexplained | missing | unexpected | changed | checksum V1 | checksum V2 |\n"
        md += "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n"
        for t in tables {
            md += "| \(t.load) | \(Self.n(t.v1Rows)) | \(Self.n(t.rejectedTotal)) | \(Self.n(t.expectedV2Rows)) | \(Self.n(t.v2Rows)) | \(Self.n(t.unexplainedDifference)) | \(Self.n(t.missingInV2)) | \(Self.n(t.unexpectedInV2)) | \(Self.n(t.changed)) | `\(t.checksumV1.prefix(16))` | `\(t.checksumV2.prefix(16))` |\n"
        }
        let rejects = tables.filter { !$0.rejected.isEmpty }
        if !rejects.isEmpty {
            md += "\n### Rejected rows by reason\n\n| load | reason | rows |\n|---|---|---:|\n"
            for t in rejects { for (rule, count) in t.rejected.sorted(by: { $0.key < $1.key }) { md += "| \(t.load) | \(rule) | \(Self.n(count)) |\n" } }
            if let distinct = rejectedV1Rows, !distinct.isEmpty {
                md += "\nDistinct V1 rows rejected: \(Self.n(distinctRejected)) (" + distinct.sorted { $0.key < $1.key }.map { "\($0.key) \(Self.n($0.value))" }.joined(separator: ", ") + "); a V1 row that two loads read counts once.\n"
            }
        }
        let warned = tables.filter { !($0.warningsByReason ?? [:]).isEmpty }
        if !warned.isEmpty {
            md += "\n### Warnings by reason (the rows went to V2)\n\n| load | reason | rows |\n|---|---|---:|\n"
            for t in warned { for (rule, count) in (t.warningsByReason ?? [:]).sorted(by: { $0.key < $1.key }) { md += "| \(t.load) | \(rule) | \(Self.n(count)) |\n" } }
        }
        let withDiffs = tables.filter { !$0.differences.isEmpty }
        if !withDiffs.isEmpty {
            md += "\n## Differences\n"
            for t in withDiffs {
                md += "\n### \(t.load)\n\n| kind | key | V1 id | column | V1 (mapped) | V2 |\n|---|---|---:|---|---|---|\n"
                for d in t.differences {
                    if d.columns.isEmpty {
                        md += "| \(d.kind) | `\(d.key)` | \(d.v1Id.map(String.init) ?? "") | | | |\n"
                    }
                    for c in d.columns {
                        md += "| \(d.kind) | `\(d.key)` | \(d.v1Id.map(String.init) ?? "") | \(c.column) | \(mdValue(c.v1)) | \(mdValue(c.v2)) |\n"
                    }
                }
                if t.differencesTruncated { md += "\n(more differences than listed; the counts above are complete)\n" }
            }
        }
        md += "\n## Foreign keys\n\n| table | columns | references | orphans | validated |\n|---|---|---|---:|---|\n"
        for f in foreignKeys { md += "| \(f.table) | \(f.columns.joined(separator: ", ")) | \(f.references) | \(Self.n(f.orphans)) | \(f.validated.map { $0 ? "yes" : "**NO (NOT VALID)**" } ?? "not recorded") |\n" }
        if !businessTotals.isEmpty {
            md += "\n## Business totals\n\n| total | groups V1 | groups V2 | result |\n|---|---:|---:|---|\n"
            for b in businessTotals { md += "| \(b.description) | \(Self.n(b.groupsV1)) | \(Self.n(b.groupsV2)) | \(b.status.uppercased()) |\n" }
            for b in businessTotals where !b.mismatches.isEmpty {
                md += "\n### \(b.name): groups that differ\n\n| \(b.columns.joined(separator: " | ")) | side |\n|" + String(repeating: "---|", count: b.columns.count + 1) + "\n"
                for row in Self.businessRows(b) { md += "| " + row.cells.joined(separator: " | ") + " | \(row.side) |\n" }
            }
        }
        return Redactor.redact(md)
    }

    func mdEscape(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }
    func mdValue(_ v: String?) -> String { v.map { "`" + mdEscape($0).replacingOccurrences(of: "`", with: "'") + "`" } ?? "NULL" }

    /// NULL shown as a styled word, any string (even "NULL" or "") in quotes, so they never look alike.
    static func htmlValue(_ v: String?) -> String {
        guard let v else { return "<em class=\"null\">NULL</em>" }
        return "<code>\"\(h(v))\"</code>"
    }

    /// A value for a terminal line: NULL bare, strings quoted.
    public static func quoted(_ v: String?) -> String {
        guard let v else { return "NULL" }
        return "\"" + v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n") + "\""
    }

    public static func htmlEscape(_ s: String) -> String { h(s) }

    static func h(_ s: String) -> String { ReportHTML.escape(s) }

    /// The verdict's class: `pass`, `fail` or `error`.
    var verdictStatus: String { outcome == "pass" ? "pass" : (outcome == "fail" ? "fail" : "error") }

    /// Business-total rows of one mismatch table, every numeric column in one format on both
    /// sides (`122959206` and `122959206.00` both read `122,959,206.00`).
    static func businessRows(_ b: BusinessResult) -> [(side: String, cells: [String])] {
        var rows: [(String, [String])] = []
        for m in b.mismatches {
            for (side, values) in [("V1", m.v1), ("V2", m.v2)] {
                rows.append((side, m.key + (values ?? Array(repeating: "—", count: max(0, b.columns.count - m.key.count)))))
            }
        }
        guard let width = rows.map(\.1.count).max() else { return [] }
        var columns: [[String?]] = (0..<width).map { i in rows.map { i < $0.1.count ? $0.1[i] : nil } }
        let keys = b.mismatches.map(\.key.count).min() ?? 0
        columns = columns.enumerated().map { $0.offset < keys ? $0.element : ReportHTML.decimalColumn($0.element) }
        return rows.indices.map { r in (rows[r].0, (0..<rows[r].1.count).map { columns[$0][r] ?? "" }) }
    }

    /// A self-contained HTML page (`report.html`): the verdict at the top, checks, a chart of
    /// per-table counts (inline SVG), rejects and warnings by reason, the located differences,
    /// foreign keys (with whether V2 holds each validated) and business totals. No script, no
    /// external resource.
    public func html() -> String {
        let h = Self.h
        let meta = "verification \(h(verificationId)) · tool \(h(toolVersion)) · started \(h(startedAt)) · \(String(format: "%.1f", seconds)) s<br>V1 <code>\(h(v1))</code> → V2 <code>\(h(v2))</code>"
            + "<br>rejected rows may be at most \(String(format: "%.2f", thresholds.maxRejectShare * 100)) % of a table's V1 rows"
        var s = "<h2>Checks</h2>\n<table id=\"checks\"><tr><th>check</th><th>result</th><th>detail</th></tr>\n"
        for c in checks {
            s += "<tr data-check=\"\(h(c.name))\" data-status=\"\(h(c.status))\"><td>\(h(c.name))</td><td><span class=\"badge \(h(c.status))\">\(h(c.status.uppercased()))</span></td><td>\(ReportHTML.text(c.summary))</td></tr>\n"
        }
        s += "</table>\n<h2>Rows per table</h2>\n" + chart()
        s += "<table id=\"tables\"><tr><th>load</th><th class=num>V1 rows</th><th class=num>rejected</th><th>rejected by reason</th><th class=num>warnings</th><th class=num>expected in V2</th><th class=num>V2 rows</th><th class=num>unexplained</th><th class=num>missing</th><th class=num>unexpected</th><th class=num>changed</th><th>result</th></tr>\n"
        for t in tables {
            let pass = t.countsPass && t.contentPass
            s += "<tr data-load=\"\(h(t.load))\" data-result=\"\(pass ? "pass" : "fail")\"><td>\(h(t.load))</td><td class=num>\(Self.n(t.v1Rows))</td><td class=num>\(Self.n(t.rejectedTotal))</td>"
            s += "<td class=\"reasons rejects\">\(ReportHTML.reasons(t.rejected))</td><td class=num>\(Self.n(t.warnings))</td>"
            s += "<td class=num>\(Self.n(t.expectedV2Rows))</td><td class=num>\(Self.n(t.v2Rows))</td><td class=num>\(Self.n(t.unexplainedDifference))</td><td class=num>\(Self.n(t.missingInV2))</td><td class=num>\(Self.n(t.unexpectedInV2))</td><td class=num>\(Self.n(t.changed))</td><td><span class=\"badge \(pass ? "pass" : "fail")\">\(pass ? "PASS" : "FAIL")</span></td></tr>\n"
        }
        s += "</table>\n"
        // Rejects and warnings by reason, as text.
        s += "<h2>Rejected and warned rows by reason</h2>\n"
        let issueRows = tables.flatMap { t in
            t.rejected.sorted { $0.key < $1.key }.map { (t.load, "rejected", $0.key, $0.value) }
                + (t.warningsByReason ?? [:]).sorted { $0.key < $1.key }.map { (t.load, "warning", $0.key, $0.value) }
                + ((t.warningsByReason == nil && t.warnings > 0) ? [(t.load, "warning", "(reasons not recorded)", t.warnings)] : [])
        }
        if issueRows.isEmpty {
            s += "<p id=\"reasons\" data-rows=\"0\">No V1 row was rejected and none carried a warning.</p>\n"
        } else {
            s += "<p class=note>A rejected row goes nowhere (it is expected to be absent from V2); a row with a warning went to V2 as the mapping rules say.</p>\n"
            s += "<table id=\"reasons\" data-rows=\"\(issueRows.count)\"><tr><th>load</th><th>kind</th><th>reason</th><th class=num>rows</th></tr>\n"
            for (load, kind, reason, n) in issueRows {
                s += "<tr class=\"reason\" data-kind=\"\(kind)\" data-reason=\"\(h(reason))\"><td>\(h(load))</td><td>\(kind)</td><td>\(h(reason))</td><td class=num>\(Self.n(n))</td></tr>\n"
            }
            s += "</table>\n"
            if let distinct = rejectedV1Rows, !distinct.isEmpty {
                s += "<p id=\"distinct-rejects\" data-rows=\"\(distinctRejected)\">Distinct V1 rows rejected: \(Self.n(distinctRejected)) (" + distinct.sorted { $0.key < $1.key }.map { "\(h($0.key)) \(Self.n($0.value))" }.joined(separator: ", ") + "); a V1 row that two loads read is rejected by both and counted once here.</p>\n"
            }
        }
        let diffs = tables.filter { !$0.differences.isEmpty }
        if !diffs.isEmpty {
            s += "<h2>Differences</h2>\n<table id=\"differences\"><tr><th>load</th><th>kind</th><th>key</th><th class=num>V1 id</th><th>column</th><th>V1 (through the mapping)</th><th>V2</th></tr>\n"
            for t in diffs {
                for d in t.differences {
                    let cols = d.columns.isEmpty ? [ColumnDifference(column: "", v1: nil, v2: nil)] : d.columns
                    for c in cols {
                        s += "<tr class=\"diff\" data-kind=\"\(h(d.kind))\"><td>\(h(t.load))</td><td>\(h(d.kind))</td><td><code>\(h(d.key))</code></td><td class=num>\(d.v1Id.map { Self.n($0) } ?? "")</td><td>\(h(c.column))</td><td>\(c.column.isEmpty ? "" : Self.htmlValue(c.v1))</td><td>\(c.column.isEmpty ? "" : Self.htmlValue(c.v2))</td></tr>\n"
                    }
                }
                if t.differencesTruncated { s += "<tr><td colspan=7>\(h(t.load)): more differences than listed; the counts above are complete.</td></tr>\n" }
            }
            s += "</table>\n"
        }
        s += "<h2>Foreign keys</h2>\n<table id=\"foreign-keys\"><tr><th>table</th><th>columns</th><th>references</th><th class=num>orphans</th><th>validated in V2</th></tr>\n"
        for f in foreignKeys {
            let v = f.validated.map { $0 ? "yes" : "no" } ?? "unknown"
            let shown = f.validated.map { $0 ? "yes" : "<b>NO (NOT VALID)</b>" } ?? "not recorded"
            s += "<tr class=\"fk\" data-fk=\"\(h(f.name))\" data-validated=\"\(v)\" data-orphans=\"\(f.orphans)\"><td>\(h(f.table))</td><td>\(h(f.columns.joined(separator: ", ")))</td><td>\(h(f.references))</td><td class=num>\(Self.n(f.orphans))</td><td>\(shown)</td></tr>\n"
        }
        s += "</table>\n"
        if !businessTotals.isEmpty {
            s += "<h2>Business totals</h2>\n<table id=\"business\"><tr><th>total</th><th class=num>groups in V1</th><th class=num>groups in V2</th><th class=num>groups that differ</th><th>result</th></tr>\n"
            for b in businessTotals {
                s += "<tr data-total=\"\(h(b.name))\"><td>\(h(b.description))</td><td class=num>\(Self.n(b.groupsV1))</td><td class=num>\(Self.n(b.groupsV2))</td><td class=num>\(Self.n(b.mismatches.count))</td><td><span class=\"badge \(h(b.status))\">\(h(b.status.uppercased()))</span></td></tr>\n"
            }
            s += "</table>\n"
            for b in businessTotals where !b.mismatches.isEmpty {
                s += "<h3>\(h(b.name)): groups that differ</h3><table class=\"mismatches\" data-total=\"\(h(b.name))\"><tr>" + b.columns.map { "<th>\(h($0))</th>" }.joined() + "<th>side</th></tr>\n"
                for row in Self.businessRows(b) {
                    s += "<tr data-side=\"\(row.side)\">" + row.cells.map { $0.contains(",") || ReportHTML.decimalScale($0) != nil ? "<td class=num>\(h($0))</td>" : "<td>\(h($0))</td>" }.joined() + "<td>\(row.side)</td></tr>\n"
                }
                s += "</table>\n"
            }
        }
        let page = ReportHTML.page(title: "Integrity verification", meta: meta, verdict: .init(verdictStatus, verdictLine),
                                   verdictAttributes: " data-outcome=\"\(h(outcome))\"", body: s)
        return Redactor.redact(page)
    }

    /// Horizontal bars per table, each table on its own linear scale (its V1 rows are the full
    /// width), so that ten regions and two million deliveries both show and a bar's length is
    /// always a true share: expected V2 rows, actual V2 rows, rejected rows.
    func chart() -> String {
        let rowHeight = 34, labelWidth = 150, barWidth = 600
        let height = max(1, tables.count) * rowHeight + 44
        func w(_ v: Int64, of total: Int64) -> Int {
            guard v > 0 else { return 0 }
            return max(2, Int((Double(barWidth) * Double(v) / Double(max(1, total))).rounded()))
        }
        var s = "<svg id=\"counts-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(labelWidth + barWidth + 190)\" height=\"\(height)\" role=\"img\" aria-label=\"rows per table\" style=\"font:12px sans-serif\" data-scale=\"linear, per table\">\n"
        s += "<rect x=\"\(labelWidth)\" y=\"4\" width=\"10\" height=\"10\" fill=\"#9fb4d8\"/><text x=\"\(labelWidth + 14)\" y=\"13\">expected in V2 (V1 less rejected)</text>"
        s += "<rect x=\"\(labelWidth + 220)\" y=\"4\" width=\"10\" height=\"10\" fill=\"#1f4e8c\"/><text x=\"\(labelWidth + 234)\" y=\"13\">in V2</text>"
        s += "<rect x=\"\(labelWidth + 290)\" y=\"4\" width=\"10\" height=\"10\" fill=\"#c0392b\"/><text x=\"\(labelWidth + 304)\" y=\"13\">rejected</text>\n"
        s += "<text x=\"\(labelWidth)\" y=\"30\" fill=\"#5b6475\">scale: linear, each table's V1 rows = full width (a bar shorter than 2 px is drawn 2 px)</text>\n"
        for (i, t) in tables.enumerated() {
            let y = 40 + i * rowHeight
            let good = t.countsPass && t.contentPass
            let total = max(t.v1Rows, t.v2Rows)
            s += "<g data-load=\"\(Self.h(t.load))\"><text x=\"0\" y=\"\(y + 14)\">\(Self.h(t.load))</text>"
            s += "<rect x=\"\(labelWidth)\" y=\"\(y)\" width=\"\(w(t.expectedV2Rows, of: total))\" height=\"9\" fill=\"#9fb4d8\"><title>expected \(Self.n(t.expectedV2Rows))</title></rect>"
            s += "<rect class=\"in-v2\" x=\"\(labelWidth)\" y=\"\(y + 10)\" width=\"\(w(t.v2Rows, of: total))\" height=\"9\" fill=\"#1f4e8c\"><title>V2 \(Self.n(t.v2Rows))</title></rect>"
            if t.rejectedTotal > 0 {
                s += "<rect class=\"rejected\" x=\"\(labelWidth)\" y=\"\(y + 20)\" width=\"\(w(t.rejectedTotal, of: total))\" height=\"5\" fill=\"#c0392b\"><title>rejected \(Self.n(t.rejectedTotal))</title></rect>"
            }
            s += "<text x=\"\(labelWidth + barWidth + 8)\" y=\"\(y + 14)\"\(good ? "" : " fill=\"#8a1c1c\" font-weight=\"bold\"")>\(Self.n(t.v2Rows)) / \(Self.n(t.expectedV2Rows))\(good ? "" : " ✘ FAIL")</text></g>\n"
        }
        return s + "</svg>\n"
    }

    /// Writes `report.json`, `report.md` and `report.html` into `directory` (created if needed).
    public func export(to directory: String) throws -> [String] {
        try ReportFiles.write([("report.json", json() + "\n"), ("report.md", markdown()), ("report.html", html())], to: directory)
    }
}

/// The three report files every `--export DIR` writes.
enum ReportFiles {
    static func write(_ files: [(name: String, text: String)], to directory: String) throws -> [String] {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            var written: [String] = []
            for (name, text) in files {
                let path = (directory as NSString).appendingPathComponent(name)
                try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
                written.append(path)
            }
            return written
        } catch {
            throw MigrationError(.configuration, "cannot write the report into \(directory): \(error.localizedDescription). Choose a writable directory for --export.")
        }
    }
}
