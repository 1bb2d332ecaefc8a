import Foundation
import MigrationEngine

/// What `migrate` shows when it ends: the per-load table, rejects by rule, foreign keys, the rate.
public enum MigrateView {
    /// A crash had left indexes or keys dropped on a finished load; they were rebuilt.
    public static func leftoversRebuilt(table: String, count: Int) -> String {
        "rebuilt \(count) index(es) and key(s) on \(table) left from an interrupted run"
    }

    /// The connection to a server was lost mid-migrate; the run reconnects and continues.
    public static func reconnecting(reason: String, delaySeconds: Int, attempt: Int, retries: Int) -> String {
        "connection lost (\(reason)); every committed batch is kept. Reconnecting in \(delaySeconds) s to continue (retry \(attempt) of \(retries))"
    }

    public static func lines(_ s: MigrationSummary) -> [String] {
        var out: [String] = []
        if s.alreadyComplete { out.append("migration already complete; nothing to do.") }
        let verb = s.dryRun ? "would write" : "written"
        out.append(pad("load", 16) + pad("source rows", 13, right: true) + pad(verb, 13, right: true) + pad("rejected", 10, right: true) + pad("warnings", 10, right: true))
        for l in s.loads {
            out.append(pad(l.name, 16) + pad(fmt(l.sourceRows), 13, right: true) + pad(fmt(l.written), 13, right: true)
                       + pad(fmt(l.rejected), 10, right: true) + pad(fmt(l.warnings), 10, right: true))
        }
        if !s.issues.isEmpty {
            out.append("rejects and warnings by rule:")
            for i in s.issues { out.append("  \(pad(i.load, 16)) \(pad(i.kind, 8)) \(pad(i.rule, 28)) \(fmt(i.count))") }
        }
        let bad = s.orphans.filter { $0.1 > 0 }
        if !s.dryRun {
            out.append(bad.isEmpty ? "foreign keys: \(s.orphans.count) checked, no orphan" : "ORPHANS: \(bad)")
        }
        // The rate is over this run's rows: a resumed run does not count earlier runs' rows, and a
        // migration already complete has none.
        let resumed = !s.dryRun && s.loads.reduce(Int64(0)) { $0 + $1.read } > s.rowsThisRun
        out.append(String(format: "%@ in %.1f s", s.alreadyComplete ? "checked" : s.dryRun ? "dry run" : "migration", s.seconds)
                   + (s.seconds > 0 && s.rowsThisRun > 0 ? " (\(fmt(s.rowsThisRun)) source rows\(resumed ? " in this run" : ""), \(fmt(Int64(Double(s.rowsThisRun) / s.seconds))) rows/s)" : ""))
        return out
    }

    public static func json(_ s: MigrationSummary) -> [String: Any] {
        [
            "event": "summary", "dry_run": s.dryRun, "already_complete": s.alreadyComplete, "run_id": s.runID, "seconds": s.seconds, "rows_this_run": s.rowsThisRun,
            "loads": s.loads.map { ["name": $0.name, "source": $0.source, "target": $0.target, "source_rows": $0.sourceRows,
                                    "written": $0.written, "rejected": $0.rejected, "warnings": $0.warnings, "seconds": $0.seconds] },
            "issues": s.issues.map { ["load": $0.load, "kind": $0.kind, "rule": $0.rule, "count": $0.count] },
            "orphans": Dictionary(s.orphans.map { ($0.0, $0.1) }, uniquingKeysWith: +),
        ]
    }
}
