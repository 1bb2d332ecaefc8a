import Foundation

extension ChangeReport {
    public var summaryLine: String {
        if let loss = dataLoss {
            return "\(loss.verdict): \(loss.reachedV1) V2 changes reached V1 through sync-v2-to-v1; \(loss.left) left"
                + (loss.left == 0 ? ". V1 lacks nothing that V2 has." : ", each listed below with the reason it did not go back.")
        }
        return "\(inserted) inserted, \(updated) updated, \(deleted) deleted in V2 since cutover (\(armedAt))"
            + (conflicts > 0 ? "; \(conflicts) conflicts" : "") + (v1ChangedAfterCutover > 0 ? "; \(v1ChangedAfterCutover) V1 rows changed after cutover" : "")
    }

    /// Conflicts recorded by the latest sync, by key (data-loss report).
    public func annotated(with syncConflicts: [ChangeReport.Conflict]) -> ChangeReport {
        var r = self
        let byKey = Dictionary(syncConflicts.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        for t in r.tables.indices {
            for c in r.tables[t].changes.indices {
                if let why = byKey[r.tables[t].changes[c].key] {
                    r.tables[t].changes[c].columns.append(.init(column: "sync: \(why.reason)", before: nil, after: why.detail))
                }
            }
        }
        return r
    }

    public func markdown() -> String {
        var md = "# \(title)\n\n**\(summaryLine)**\n\n- generated \(generatedAt), tool \(toolVersion)\n- V1: `\(v1)`\n- V2: `\(v2)`\n\n"
        md += "| load | V2 table | inserted | updated | deleted | conflicts | V1 changed after cutover |\n|---|---|---:|---:|---:|---:|---:|\n"
        for t in tables {
            md += "| \(t.load) | \(t.targetTable) | \(t.inserted) | \(t.updated) | \(t.deleted) | \(t.conflicts.count) | \(t.v1ChangedAfterCutover.count) |\n"
        }
        for t in tables where !t.changes.isEmpty || !t.conflicts.isEmpty || !t.v1ChangedAfterCutover.isEmpty {
            md += "\n## \(t.load)\n\n| change | key | V1 id | column | before | after |\n|---|---|---:|---|---|---|\n"
            for c in t.changes + t.v1ChangedAfterCutover {
                if c.columns.isEmpty { md += "| \(c.kind) | `\(c.key)` | \(c.v1Id.map(String.init) ?? "") | | | |\n" }
                for col in c.columns {
                    md += "| \(c.kind) | `\(c.key)` | \(c.v1Id.map(String.init) ?? "") | \(col.column) | \(col.before.map { "`\($0)`" } ?? "NULL") | \(col.after.map { "`\($0)`" } ?? "NULL") |\n"
                }
            }
            for c in t.conflicts {
                md += "| conflict: \(c.reason) | `\(c.key)` | \(c.v1Id.map(String.init) ?? "") | | | \(c.detail.replacingOccurrences(of: "|", with: "\\|")) |\n"
            }
            if t.changesTruncated { md += "\n(more changes than listed; the counts are complete)\n" }
        }
        return Redactor.redact(md)
    }

    public func html() -> String {
        let h = VerifyReport.h
        var s = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(h(title))</title>
        <style>
        body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2433;padding:0 1rem}
        table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem;font-size:.9rem}
        th,td{border-bottom:1px solid #e1e5ec;padding:.35rem .5rem;text-align:left;vertical-align:top}
        td.num{text-align:right} code{font-size:.85em;word-break:break-all} em.null{color:#8a93a6}
        .summary{font-size:1.2rem;font-weight:600;padding:.8rem 1rem;border-radius:8px;background:#eef3fb}
        </style></head><body>
        <h1>\(h(title))</h1>
        <p>generated \(h(generatedAt)) · tool \(h(toolVersion)) · V1 <code>\(h(v1))</code> · V2 <code>\(h(v2))</code></p>
        <div id="summary" class="summary" data-inserted="\(inserted)" data-updated="\(updated)" data-deleted="\(deleted)" data-conflicts="\(conflicts)">\(h(summaryLine))</div>
        <table id="tables"><tr><th>load</th><th>V2 table</th><th>inserted</th><th>updated</th><th>deleted</th><th>conflicts</th><th>V1 changed after cutover</th></tr>

        """
        for t in tables {
            s += "<tr data-load=\"\(h(t.load))\"><td>\(h(t.load))</td><td>\(h(t.targetTable))</td><td class=num>\(t.inserted)</td><td class=num>\(t.updated)</td><td class=num>\(t.deleted)</td><td class=num>\(t.conflicts.count)</td><td class=num>\(t.v1ChangedAfterCutover.count)</td></tr>\n"
        }
        s += "</table>\n"
        for t in tables where !t.changes.isEmpty || !t.conflicts.isEmpty || !t.v1ChangedAfterCutover.isEmpty {
            s += "<h2>\(h(t.load))</h2><table><tr><th>change</th><th>key</th><th>V1 id</th><th>column</th><th>before</th><th>after</th></tr>\n"
            for c in t.changes + t.v1ChangedAfterCutover {
                let cols = c.columns.isEmpty ? [ColumnChange(column: "", before: nil, after: nil)] : c.columns
                for col in cols {
                    s += "<tr class=\"change\" data-kind=\"\(h(c.kind))\"><td>\(h(c.kind))</td><td><code>\(h(c.key))</code></td><td class=num>\(c.v1Id.map(String.init) ?? "")</td><td>\(h(col.column))</td><td>\(col.column.isEmpty ? "" : VerifyReport.htmlValue(col.before))</td><td>\(col.column.isEmpty ? "" : VerifyReport.htmlValue(col.after))</td></tr>\n"
                }
            }
            for c in t.conflicts {
                s += "<tr class=\"conflict\" data-reason=\"\(h(c.reason))\"><td>conflict: \(h(c.reason))</td><td><code>\(h(c.key))</code></td><td class=num>\(c.v1Id.map(String.init) ?? "")</td><td colspan=3>\(h(c.detail))</td></tr>\n"
            }
            s += "</table>\n"
        }
        return Redactor.redact(s + "</body></html>\n")
    }

    public func export(to directory: String) throws -> [String] {
        try ReportFiles.write([("report.json", json() + "\n"), ("report.md", markdown()), ("report.html", html())], to: directory)
    }
}

extension SyncJournal {
    /// The conflicts recorded by the latest sync (none before the first).
    /// Rows every sync so far wrote into the source (inserted, updated, deleted).
    public static func appliedTotal(_ c: PGConnection) async throws -> Int64 {
        guard try await exists(c) else { return 0 }
        return Int64(try await c.scalar("""
            SELECT coalesce(sum(u.v::bigint), 0) FROM \(t("syncs")) s, jsonb_each(s.applied) t(k, o), jsonb_each_text(t.o) u(kind, v)
            """) ?? "0") ?? 0
    }

    public static func latestConflicts(_ c: PGConnection) async throws -> [ChangeReport.Conflict] {
        guard try await exists(c) else { return [] }
        return try await c.query("""
            SELECT load_name, key, source_id, reason, detail FROM \(t("conflicts"))
            WHERE sync_id = (SELECT sync_id FROM \(t("syncs")) ORDER BY started_at DESC LIMIT 1)
            """).rows.map { .init(load: $0[0]!, key: $0[1]!, v1Id: $0[2].flatMap { Int64($0) }, reason: $0[3]!, detail: $0[4]!) }
    }
}
