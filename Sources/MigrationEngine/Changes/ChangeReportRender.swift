import PGClient
import Foundation

extension ChangeReport {
    static func n(_ v: Int64) -> String { ReportHTML.number(v) }

    /// The report's verdict: for the data-loss report whether V1 lacks anything; for an
    /// assessment, whether V2 changed since cutover and whether any change has no V1 form.
    public var verdict: ReportHTML.Verdict {
        if let loss = dataLoss { return .init(loss.left == 0 ? "pass" : "fail", summaryLine) }
        if conflicts > 0 { return .init("fail", summaryLine) }
        return .init(inserted + updated + deleted == 0 ? "pass" : "warn", summaryLine)
    }

    public var summaryLine: String {
        if let loss = dataLoss {
            let kinds = loss.syncedByKind
            let synced = loss.synced == nil ? "" : " (\(Self.n(kinds["inserted"] ?? 0)) inserted, \(Self.n(kinds["updated"] ?? 0)) updated, \(Self.n(kinds["deleted"] ?? 0)) deleted in V1)"
            return "\(loss.verdict): \(Self.n(loss.reachedV1)) V2 changes reached V1 through sync-v2-to-v1\(synced); \(Self.n(loss.left)) left"
                + (loss.left == 0 ? ". V1 lacks nothing that V2 has." : ", each listed below with the reason it did not go back.")
        }
        return "\(Self.n(inserted)) inserted, \(Self.n(updated)) updated, \(Self.n(deleted)) deleted in V2 since cutover (\(TimeFlag.shown(armedAt)))"
            + (conflicts > 0 ? "; \(Self.n(conflicts)) conflicts" : "") + (v1ChangedAfterCutover > 0 ? "; \(Self.n(v1ChangedAfterCutover)) V1 rows changed after cutover" : "")
    }

    /// Scenario 3's data-loss report: this assessment of V2's changes (what V1 still lacks),
    /// annotated with the latest sync's conflicts and totals as V1's write-back journal holds them.
    public func dataLossReport(v1: PGConnection) async throws -> ChangeReport {
        var report = annotated(with: try await SyncJournal.latestConflicts(v1))
        report.title = "Data loss: what V1 still lacks of V2"
        report.dataLoss = DataLoss(reachedV1: try await SyncJournal.appliedTotal(v1), left: inserted + updated + deleted + conflicts,
                                   synced: try await SyncJournal.appliedByTable(v1))
        return report
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

    /// The lines of one change: an update's changed columns, an insert's or a delete's values.
    static func lines(_ c: RowChange) -> [ColumnChange] {
        c.columns + (c.values ?? [])
    }

    static func mdCell(_ v: String?) -> String {
        v.map { "`" + $0.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "`", with: "'") + "`" } ?? "NULL"
    }

    public func markdown() -> String {
        var md = "# \(title)\n\n**\(summaryLine)**\n\n- generated \(generatedAt), tool \(toolVersion)\n- V1: `\(v1)`\n- V2: `\(v2)`\n\n"
        if let loss = dataLoss, let synced = loss.synced, !synced.isEmpty {
            md += "## Written back to V1 by sync-v2-to-v1\n\n| V1 table | inserted | updated | deleted |\n|---|---:|---:|---:|\n"
            for (t, k) in synced.sorted(by: { $0.key < $1.key }) { md += "| \(t) | \(Self.n(k["inserted"] ?? 0)) | \(Self.n(k["updated"] ?? 0)) | \(Self.n(k["deleted"] ?? 0)) |\n" }
            md += "\n## What V1 still lacks\n\n"
        }
        md += "| load | V2 table | inserted | updated | deleted | conflicts | V1 changed after cutover |\n|---|---|---:|---:|---:|---:|---:|\n"
        for t in tables {
            md += "| \(t.load) | \(t.targetTable) | \(Self.n(t.inserted)) | \(Self.n(t.updated)) | \(Self.n(t.deleted)) | \(Self.n(Int64(t.conflicts.count))) | \(Self.n(Int64(t.v1ChangedAfterCutover.count))) |\n"
        }
        for t in tables where !t.changes.isEmpty || !t.conflicts.isEmpty || !t.v1ChangedAfterCutover.isEmpty {
            md += "\n## \(t.load)\n\n| change | key | V1 id | column | before | after |\n|---|---|---:|---|---|---|\n"
            for c in t.changes + t.v1ChangedAfterCutover {
                let cols = Self.lines(c)
                if cols.isEmpty { md += "| \(c.kind) | `\(c.key)` | \(c.v1Id.map { Self.n($0) } ?? "") | | | |\n" }
                for (i, col) in cols.enumerated() {
                    let value = i >= c.columns.count
                    let before = value && c.kind.hasPrefix("inserted") ? "" : Self.mdCell(col.before)
                    let after = value && c.kind.hasPrefix("deleted") ? "" : Self.mdCell(col.after)
                    md += "| \(c.kind) | `\(c.key)` | \(c.v1Id.map { Self.n($0) } ?? "") | \(col.column) | \(before) | \(after) |\n"
                }
            }
            for c in t.conflicts {
                md += "| conflict: \(c.reason) | `\(c.key)` | \(c.v1Id.map { Self.n($0) } ?? "") | | | \(c.detail.replacingOccurrences(of: "|", with: "\\|")) |\n"
            }
            if t.changesTruncated { md += "\n(more changes than listed; the counts are complete)\n" }
        }
        return Redactor.redact(md)
    }

    public func html() -> String {
        let h = ReportHTML.escape
        let meta = "generated \(h(generatedAt)) · tool \(h(toolVersion)) · change capture armed \(h(TimeFlag.shown(armedAt)))<br>V1 <code>\(h(v1))</code> · V2 <code>\(h(v2))</code>"
        var attributes = " data-inserted=\"\(inserted)\" data-updated=\"\(updated)\" data-deleted=\"\(deleted)\" data-conflicts=\"\(conflicts)\""
        if let loss = dataLoss { attributes += " data-reached-v1=\"\(loss.reachedV1)\" data-left=\"\(loss.left)\"" }
        var s = ""
        if let loss = dataLoss {
            s += "<h2>Written back to V1 by sync-v2-to-v1</h2>\n"
            if let synced = loss.synced, !synced.isEmpty {
                s += "<table id=\"synced\"><tr><th>V1 table</th><th class=num>inserted</th><th class=num>updated</th><th class=num>deleted</th></tr>\n"
                for (t, k) in synced.sorted(by: { $0.key < $1.key }) {
                    s += "<tr data-table=\"\(h(t))\"><td>\(h(t))</td><td class=num>\(Self.n(k["inserted"] ?? 0))</td><td class=num>\(Self.n(k["updated"] ?? 0))</td><td class=num>\(Self.n(k["deleted"] ?? 0))</td></tr>\n"
                }
                s += "</table>\n"
            } else {
                s += "<p id=\"synced\" data-rows=\"\(loss.reachedV1)\">\(loss.reachedV1 == 0 ? "No sync has written into V1." : "\(Self.n(loss.reachedV1)) rows (per table not recorded).")</p>\n"
            }
            s += "<h2>What V1 still lacks of V2</h2>\n"
            if loss.left == 0 { s += "<p id=\"lacks-nothing\"><strong>V1 lacks nothing that V2 has.</strong> Every table below reads 0: V2 and V1 hold the same rows through the mapping.</p>\n" }
        } else {
            s += "<h2>Changes in V2 since cutover, by table</h2>\n"
        }
        s += "<table id=\"tables\"><tr><th>load</th><th>V2 table</th><th class=num>inserted</th><th class=num>updated</th><th class=num>deleted</th><th class=num>conflicts</th><th class=num>V1 changed after cutover</th></tr>\n"
        for t in tables {
            s += "<tr data-load=\"\(h(t.load))\"><td>\(h(t.load))</td><td>\(h(t.targetTable))</td><td class=num>\(Self.n(t.inserted))</td><td class=num>\(Self.n(t.updated))</td><td class=num>\(Self.n(t.deleted))</td><td class=num>\(Self.n(Int64(t.conflicts.count)))</td><td class=num>\(Self.n(Int64(t.v1ChangedAfterCutover.count)))</td></tr>\n"
        }
        s += "</table>\n"
        for t in tables where !t.changes.isEmpty || !t.conflicts.isEmpty || !t.v1ChangedAfterCutover.isEmpty {
            s += "<h2>\(h(t.load))</h2><p class=note>An update lists its changed columns (before: at cutover, V1 through the mapping; after: V2 now); an insert lists every value it has in V2, a delete every value it had.</p>\n"
            s += "<table class=\"changes\" data-load=\"\(h(t.load))\"><tr><th>change</th><th>key</th><th class=num>V1 id</th><th>column</th><th>before</th><th>after</th></tr>\n"
            for c in t.changes + t.v1ChangedAfterCutover {
                let cols = Self.lines(c).isEmpty ? [ColumnChange(column: "", before: nil, after: nil)] : Self.lines(c)
                for (i, col) in cols.enumerated() {
                    let first = i == 0
                    // A value line of an insert has no before, of a delete no after.
                    let value = i >= c.columns.count && !col.column.isEmpty
                    let noBefore = col.column.isEmpty || (value && col.before == nil && c.kind.hasPrefix("inserted"))
                    let noAfter = col.column.isEmpty || (value && col.after == nil && c.kind.hasPrefix("deleted"))
                    s += "<tr class=\"change\(first ? "" : " more")\" data-kind=\"\(h(c.kind))\" data-key=\"\(h(c.key))\" data-column=\"\(h(col.column))\">"
                    s += "<td>\(first ? h(c.kind) : "")</td><td>\(first ? "<code>\(h(c.key))</code>" : "")</td><td class=num>\(first ? c.v1Id.map { Self.n($0) } ?? "" : "")</td>"
                    s += "<td>\(h(col.column))</td><td>\(noBefore ? "" : VerifyReport.htmlValue(col.before))</td><td>\(noAfter ? "" : VerifyReport.htmlValue(col.after))</td></tr>\n"
                }
            }
            for c in t.conflicts {
                s += "<tr class=\"conflict\" data-reason=\"\(h(c.reason))\"><td>conflict: \(h(c.reason))</td><td><code>\(h(c.key))</code></td><td class=num>\(c.v1Id.map { Self.n($0) } ?? "")</td><td colspan=3>\(h(c.detail))</td></tr>\n"
            }
            s += "</table>\n"
            if t.changesTruncated { s += "<p class=note>\(h(t.load)): more changes than listed; the counts are complete.</p>\n" }
        }
        return Redactor.redact(ReportHTML.page(title: title, meta: meta, verdict: verdict, verdictAttributes: attributes, body: s))
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

    /// Rows every sync so far wrote into the source, by table and kind (`inserted`, `updated`, `deleted`).
    public static func appliedByTable(_ c: PGConnection) async throws -> [String: [String: Int64]] {
        guard try await exists(c) else { return [:] }
        return try await c.query("""
            SELECT t.k, u.kind, sum(u.v::bigint)::text FROM \(t("syncs")) s, jsonb_each(s.applied) t(k, o), jsonb_each_text(t.o) u(kind, v)
            GROUP BY 1, 2
            """).rows.reduce(into: [:]) { acc, r in acc[r[0]!, default: [:]][r[1]!] = Int64(r[2] ?? "0") ?? 0 }
    }

    public static func latestConflicts(_ c: PGConnection) async throws -> [ChangeReport.Conflict] {
        guard try await exists(c) else { return [] }
        return try await c.query("""
            SELECT load_name, key, source_id, reason, detail FROM \(t("conflicts"))
            WHERE sync_id = (SELECT sync_id FROM \(t("syncs")) ORDER BY started_at DESC LIMIT 1)
            """).rows.map { .init(load: $0[0]!, key: $0[1]!, v1Id: $0[2].flatMap { Int64($0) }, reason: $0[3]!, detail: $0[4]!) }
    }
}
