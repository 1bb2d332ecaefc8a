import Foundation
import MigrationEngine

/// What `verify-integrity` shows: progress per table, then the table of counts, the differences,
/// every check and the verdict.
public enum VerifyView {
    /// A verification's progress as `verify-integrity` shows it (nil: nothing to show).
    public static func progress(_ event: VerifyEvent) -> String? {
        switch event {
        case .sourceChangedSinceArming, .unchangedSinceArming, .retrying: return briefProgress(event)
        case .tableStarted(let load, _): return "verifying \(load)…"
        case .tableProgress(let load, let a, let b): return "  \(load): \(fmt(a)) V1 rows, \(fmt(b)) V2 rows read"
        case .tableFinished(let t):
            let verdict = t.countsPass && t.contentPass ? "ok" : "DIFFERS"
            return "  \(t.load): \(fmt(t.v1Rows)) V1 rows (\(fmt(t.rejectedTotal)) rejected), \(fmt(t.v2Rows)) V2 rows, \(verdict) in \(String(format: "%.1f", t.seconds)) s"
        }
    }

    /// The shorter progress of the commands that verify on the way (capture, assess, sync, the runbook).
    public static func briefProgress(_ event: VerifyEvent) -> String? {
        switch event {
        case .tableStarted(let load, _): return "reading \(load)…"
        case .sourceChangedSinceArming: return "V1 changed since arming (table digests): every table is read row by row"
        case .unchangedSinceArming(let load): return "\(load): unchanged on both sides since arming (table digests), not read row by row"
        case .retrying(let reason, let delay, let attempt, let retries):
            return "connection lost (\(reason)); nothing was concluded yet. Verifying again in \(delay) s (retry \(attempt) of \(retries))"
        default: return nil
        }
    }

    /// Differences listed per table on the terminal (the exported report has them all).
    public static let listedDifferences = 20

    public static func lines(_ r: VerifyReport) -> [String] {
        var out: [String] = []
        out.append(pad("load", 16) + pad("V1 rows", 12, right: true) + pad("rejected", 10, right: true) + pad("expected", 12, right: true)
                   + pad("V2 rows", 12, right: true) + pad("missing", 9, right: true) + pad("unexpect.", 10, right: true) + pad("changed", 9, right: true) + "  content")
        for t in r.tables {
            out.append(pad(t.load, 16) + pad(fmt(t.v1Rows), 12, right: true) + pad(fmt(t.rejectedTotal), 10, right: true)
                       + pad(fmt(t.expectedV2Rows), 12, right: true) + pad(fmt(t.v2Rows), 12, right: true) + pad(fmt(t.missingInV2), 9, right: true)
                       + pad(fmt(t.unexpectedInV2), 10, right: true) + pad(fmt(t.changed), 9, right: true) + "  " + (t.contentPass ? "equal" : "DIFFERS"))
        }
        for t in r.tables where !t.differences.isEmpty {
            out.append("differences in \(t.load):")
            for d in t.differences.prefix(listedDifferences) {
                let cols = d.columns.map { "\($0.column): \(VerifyReport.quoted($0.v1)) → \(VerifyReport.quoted($0.v2))" }.joined(separator: "; ")
                out.append("  \(d.kind) \(d.key)\(d.v1Id.map { " (V1 id \($0))" } ?? "")\(cols.isEmpty ? "" : ": " + cols)")
            }
            if t.differences.count > listedDifferences || t.differencesTruncated { out.append("  … see the exported report for all of them") }
        }
        for c in r.checks { out.append("\(pad(c.status.uppercased(), 8)) \(pad(c.name, 20)) \(c.summary)") }
        out.append(r.verdictLine + String(format: " (%.1f s)", r.seconds))
        return out
    }
}
