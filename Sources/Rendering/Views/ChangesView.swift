import Foundation
import MigrationEngine

/// V2's changes since cutover (assess-v2-changes, data-loss-report) and their way back (sync-v2-to-v1).
public enum ChangesView {
    /// Changes listed per table on the terminal (the exported report has them all).
    public static let listedChanges = 10

    /// The per-load table, the first changes of each load with their columns, every conflict, the summary.
    /// `verb` names what the rows are (`changes`, `missing rows`).
    public static func lines(_ r: ChangeReport, verb: String = "changes") -> [String] {
        var out: [String] = []
        out.append(pad("load", 16) + pad("inserted", 10, right: true) + pad("updated", 10, right: true) + pad("deleted", 10, right: true)
                   + pad("conflicts", 11, right: true) + pad("V1 moved", 10, right: true))
        for t in r.tables {
            out.append(pad(t.load, 16) + pad(fmt(t.inserted), 10, right: true) + pad(fmt(t.updated), 10, right: true) + pad(fmt(t.deleted), 10, right: true)
                       + pad(fmt(Int64(t.conflicts.count)), 11, right: true) + pad(fmt(Int64(t.v1ChangedAfterCutover.count)), 10, right: true))
        }
        for t in r.tables {
            for c in t.changes.prefix(listedChanges) {
                let cols = c.columns.map { "\($0.column): \(VerifyReport.quoted($0.before)) → \(VerifyReport.quoted($0.after))" }.joined(separator: "; ")
                out.append("  \(t.load) \(c.kind) \(c.key)\(c.v1Id.map { " (V1 id \($0))" } ?? "")\(cols.isEmpty ? "" : ": " + cols)")
            }
            if t.changes.count > listedChanges { out.append("  \(t.load): … \(t.changes.count - listedChanges) more \(verb) (see --export)") }
            for c in t.conflicts { out.append("  \(t.load) CONFLICT \(c.reason) \(c.key)\(c.v1Id.map { " (V1 id \($0))" } ?? ""): \(c.detail)") }
        }
        out.append(r.summaryLine)
        return out
    }

    /// What a sync will write (or wrote) into V1, per table and kind, and every conflict.
    public static func syncPlan(_ r: SyncReport, into url: String, database: String, verb: String) -> [String] {
        var out = ["sync-v2-to-v1 into \(url) (database \(database)) \(verb):"]
        for (table, kinds) in r.applied.sorted(by: { $0.key < $1.key }) {
            out.append("  \(pad(table, 18)) " + kinds.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        out.append("  \(r.total) rows in one transaction; \(r.conflicts.count) conflicts left for a person")
        for c in r.conflicts { out.append("  conflict \(c.load) \(c.key): \(c.reason): \(c.detail)") }
        return out
    }

    /// Every row a sync wrote, and its totals.
    public static func synced(_ r: SyncReport) -> [String] {
        r.appliedRows.map { "  \($0.kind) \($0.table) id \($0.v1Id) ← \($0.key)" }
            + ["synced \(r.total) rows into V1; \(r.conflicts.count) conflicts (see data-loss-report)"]
    }
}
