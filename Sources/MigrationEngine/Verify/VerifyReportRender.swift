import Foundation

extension VerifyReport {
    static func n(_ v: Int64) -> String {
        let s = String(v.magnitude)
        var out = ""
        for (i, c) in s.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (v < 0 ? "-" : "") + String(out.reversed())
    }

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
        for f in foreignKeys { md += "| \(f.table) | \(f.columns.joined(separator: ", ")) | \(f.references) | \(Self.n(f.orphans)) | \(f.validated == false ? "**NOT VALID**" : "yes") |\n" }
        if !businessTotals.isEmpty {
            md += "\n## Business totals\n\n| total | groups V1 | groups V2 | result |\n|---|---:|---:|---|\n"
            for b in businessTotals { md += "| \(b.description) | \(b.groupsV1) | \(b.groupsV2) | \(b.status.uppercased()) |\n" }
            for b in businessTotals where !b.mismatches.isEmpty {
                md += "\n### \(b.name): groups that differ\n\n| \(b.columns.joined(separator: " | ")) | side |\n|" + String(repeating: "---|", count: b.columns.count + 1) + "\n"
                for m in b.mismatches {
                    md += "| " + (m.key + (m.v1 ?? Array(repeating: "—", count: b.columns.count - m.key.count))).joined(separator: " | ") + " | V1 |\n"
                    md += "| " + (m.key + (m.v2 ?? Array(repeating: "—", count: b.columns.count - m.key.count))).joined(separator: " | ") + " | V2 |\n"
                }
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

    static func h(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// A self-contained HTML page (`report.html`): verdict, checks, a chart of per-table counts
    /// (inline SVG), the located differences, foreign keys and business totals. No script, no
    /// external resource.
    public func html() -> String {
        let h = Self.h
        let ok = outcome == "pass"
        var s = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Integrity verification: \(outcome.uppercased())</title>
        <style>
        body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2433;padding:0 1rem}
        h1{margin-bottom:.2rem} .meta{color:#5b6475;font-size:.9rem}
        .verdict{font-size:1.3rem;font-weight:600;padding:.8rem 1rem;border-radius:8px;margin:1rem 0}
        .pass{background:#e3f6e8;color:#135c2c} .fail{background:#fde5e5;color:#8a1c1c} .error{background:#fff1d6;color:#7a4b00} .not_run{background:#eceff4;color:#4c566a}
        table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem;font-size:.9rem}
        th,td{border-bottom:1px solid #e1e5ec;padding:.35rem .5rem;text-align:left;vertical-align:top}
        td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
        .badge{display:inline-block;padding:.1rem .5rem;border-radius:4px;font-weight:600;font-size:.8rem}
        code{font-size:.85em;word-break:break-all} em.null{color:#8a93a6}
        </style></head><body>
        <h1>Integrity verification</h1>
        <div class="meta">verification \(h(verificationId)) · tool \(h(toolVersion)) · started \(h(startedAt)) · \(String(format: "%.1f", seconds)) s<br>
        V1 <code>\(h(v1))</code> → V2 <code>\(h(v2))</code></div>
        <div id="verdict" class="verdict \(ok ? "pass" : (outcome == "fail" ? "fail" : "error"))" data-outcome="\(h(outcome))">\(h(verdictLine))</div>
        <h2>Checks</h2>
        <table id="checks"><tr><th>check</th><th>result</th><th>detail</th></tr>

        """
        for c in checks {
            s += "<tr data-check=\"\(h(c.name))\"><td>\(h(c.name))</td><td><span class=\"badge \(h(c.status))\">\(h(c.status.uppercased()))</span></td><td>\(h(c.summary))</td></tr>\n"
        }
        s += "</table>\n<h2>Rows per table</h2>\n" + chart()
        s += "<table id=\"tables\"><tr><th>load</th><th class=num>V1 rows</th><th class=num>rejected</th><th class=num>expected in V2</th><th class=num>V2 rows</th><th class=num>unexplained</th><th class=num>missing</th><th class=num>unexpected</th><th class=num>changed</th><th>result</th></tr>\n"
        for t in tables {
            let pass = t.countsPass && t.contentPass
            s += "<tr data-load=\"\(h(t.load))\"><td>\(h(t.load))</td><td class=num>\(Self.n(t.v1Rows))</td><td class=num title=\"\(h(t.rejected.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")))\">\(Self.n(t.rejectedTotal))</td><td class=num>\(Self.n(t.expectedV2Rows))</td><td class=num>\(Self.n(t.v2Rows))</td><td class=num>\(Self.n(t.unexplainedDifference))</td><td class=num>\(Self.n(t.missingInV2))</td><td class=num>\(Self.n(t.unexpectedInV2))</td><td class=num>\(Self.n(t.changed))</td><td><span class=\"badge \(pass ? "pass" : "fail")\">\(pass ? "PASS" : "FAIL")</span></td></tr>\n"
        }
        s += "</table>\n"
        let diffs = tables.filter { !$0.differences.isEmpty }
        if !diffs.isEmpty {
            s += "<h2>Differences</h2>\n<table id=\"differences\"><tr><th>load</th><th>kind</th><th>key</th><th class=num>V1 id</th><th>column</th><th>V1 (through the mapping)</th><th>V2</th></tr>\n"
            for t in diffs {
                for d in t.differences {
                    let cols = d.columns.isEmpty ? [ColumnDifference(column: "", v1: nil, v2: nil)] : d.columns
                    for c in cols {
                        s += "<tr class=\"diff\" data-kind=\"\(h(d.kind))\"><td>\(h(t.load))</td><td>\(h(d.kind))</td><td><code>\(h(d.key))</code></td><td class=num>\(d.v1Id.map(String.init) ?? "")</td><td>\(h(c.column))</td><td>\(c.column.isEmpty ? "" : Self.htmlValue(c.v1))</td><td>\(c.column.isEmpty ? "" : Self.htmlValue(c.v2))</td></tr>\n"
                    }
                }
                if t.differencesTruncated { s += "<tr><td colspan=7>\(h(t.load)): more differences than listed; the counts above are complete.</td></tr>\n" }
            }
            s += "</table>\n"
        }
        s += "<h2>Foreign keys</h2>\n<table id=\"foreign-keys\"><tr><th>table</th><th>columns</th><th>references</th><th class=num>orphans</th><th>validated</th></tr>\n"
        for f in foreignKeys {
            s += "<tr><td>\(h(f.table))</td><td>\(h(f.columns.joined(separator: ", ")))</td><td>\(h(f.references))</td><td class=num>\(Self.n(f.orphans))</td><td>\(f.validated == false ? "<b>NOT VALID</b>" : "yes")</td></tr>\n"
        }
        s += "</table>\n"
        if !businessTotals.isEmpty {
            s += "<h2>Business totals</h2>\n<table id=\"business\"><tr><th>total</th><th class=num>groups in V1</th><th class=num>groups in V2</th><th class=num>groups that differ</th><th>result</th></tr>\n"
            for b in businessTotals {
                s += "<tr><td>\(h(b.description))</td><td class=num>\(b.groupsV1)</td><td class=num>\(b.groupsV2)</td><td class=num>\(b.mismatches.count)</td><td><span class=\"badge \(h(b.status))\">\(h(b.status.uppercased()))</span></td></tr>\n"
            }
            s += "</table>\n"
            for b in businessTotals where !b.mismatches.isEmpty {
                s += "<h3>\(h(b.name))</h3><table><tr>" + b.columns.map { "<th>\(h($0))</th>" }.joined() + "<th>side</th></tr>\n"
                for m in b.mismatches {
                    for (side, values) in [("V1", m.v1), ("V2", m.v2)] {
                        let cells = m.key + (values ?? Array(repeating: "—", count: b.columns.count - m.key.count))
                        s += "<tr>" + cells.map { "<td>\(h($0))</td>" }.joined() + "<td>\(side)</td></tr>\n"
                    }
                }
                s += "</table>\n"
            }
        }
        s += "</body></html>\n"
        return Redactor.redact(s)
    }

    /// Horizontal bars per table (log scale, so that ten regions and two million deliveries
    /// both show): expected V2 rows against actual V2 rows, rejected rows in red.
    func chart() -> String {
        let rowHeight = 34, labelWidth = 150, barWidth = 640
        let height = max(1, tables.count) * rowHeight + 30
        let maxValue = max(10, tables.map { max($0.v1Rows, $0.v2Rows) }.max() ?? 10)
        func w(_ v: Int64) -> Int { v <= 0 ? 0 : max(2, Int(Double(barWidth) * log10(Double(v) + 1) / log10(Double(maxValue) + 1))) }
        var s = "<svg id=\"counts-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(labelWidth + barWidth + 160)\" height=\"\(height)\" role=\"img\" aria-label=\"rows per table\" style=\"font:12px sans-serif\">\n"
        s += "<rect x=\"\(labelWidth)\" y=\"4\" width=\"10\" height=\"10\" fill=\"#9fb4d8\"/><text x=\"\(labelWidth + 14)\" y=\"13\">expected (V1 less rejected)</text>"
        s += "<rect x=\"\(labelWidth + 200)\" y=\"4\" width=\"10\" height=\"10\" fill=\"#2f6f3e\"/><text x=\"\(labelWidth + 214)\" y=\"13\">in V2</text>"
        s += "<rect x=\"\(labelWidth + 270)\" y=\"4\" width=\"10\" height=\"10\" fill=\"#c0392b\"/><text x=\"\(labelWidth + 284)\" y=\"13\">rejected (log scale)</text>\n"
        for (i, t) in tables.enumerated() {
            let y = 24 + i * rowHeight
            let good = t.countsPass && t.contentPass
            s += "<g data-load=\"\(Self.h(t.load))\"><text x=\"0\" y=\"\(y + 14)\">\(Self.h(t.load))</text>"
            s += "<rect x=\"\(labelWidth)\" y=\"\(y)\" width=\"\(w(t.expectedV2Rows))\" height=\"9\" fill=\"#9fb4d8\"><title>expected \(t.expectedV2Rows)</title></rect>"
            s += "<rect x=\"\(labelWidth)\" y=\"\(y + 10)\" width=\"\(w(t.v2Rows))\" height=\"9\" fill=\"\(good ? "#2f6f3e" : "#c0392b")\"><title>V2 \(t.v2Rows)</title></rect>"
            if t.rejectedTotal > 0 {
                s += "<rect x=\"\(labelWidth)\" y=\"\(y + 20)\" width=\"\(w(t.rejectedTotal))\" height=\"5\" fill=\"#c0392b\"><title>rejected \(t.rejectedTotal)</title></rect>"
            }
            s += "<text x=\"\(labelWidth + barWidth + 8)\" y=\"\(y + 14)\">\(Self.n(t.v2Rows)) / \(Self.n(t.expectedV2Rows))</text></g>\n"
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
