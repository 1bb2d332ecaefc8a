import Foundation
import MigrationEngine

/// The safety commands' screens: what a clear of V2 will delete and did, V1's read-only state,
/// the inventory, the snapshot files and preflight.
public enum SafetyView {
    static func tableColumn(_ tables: [ClearTarget.TableCount]) -> Int { max(24, tables.map(\.table.count).max() ?? 0) }

    /// What `rollback --clear-v2` will delete and keep, before it asks.
    public static func clearPreview(_ p: ClearTarget.Preview) -> [String] {
        var out = ["rollback --clear-v2 on \(p.url) (database \(p.database)) will delete:"]
        let width = tableColumn(p.order + p.kept)
        for t in p.order { out.append("  \(pad(t.table, width)) \(pad(fmt(t.rows), 12, right: true)) \(t.scope)") }
        if !p.kept.isEmpty {
            out.append("and will keep:")
            for t in p.kept { out.append("  \(pad(t.table, width)) \(pad(fmt(t.rows), 12, right: true)) \(t.scope)") }
            out.append("  (users created in V2, not by the migration, keep their auth.users row, identities and sessions)")
        }
        out.append("  total \(fmt(p.total)) rows\(p.journaledDDL > 0 ? "; and restore \(p.journaledDDL) keys/indexes a migration set aside" : ""), in one transaction\(p.truncate ? " (TRUNCATE)" : " (DELETE)")")
        return out
    }

    /// What the clear did.
    public static func cleared(_ r: ClearTarget.Result) -> [String] {
        var out: [String] = []
        if !r.freedSpace.isEmpty {
            out.append("V2's disk was full, so the one-transaction clear could not run; space was freed first:")
            for step in r.freedSpace { out.append("  \(step)") }
            out.append("then cleared in one transaction as usual:")
        }
        let width = tableColumn(r.deleted + r.kept)
        for t in r.deleted { out.append("cleared \(pad(t.table, width)) \(pad(fmt(t.rows), 12, right: true)) \(t.scope)") }
        for t in r.kept { out.append("kept    \(pad(t.table, width)) \(pad(fmt(t.rows), 12, right: true)) \(t.scope)") }
        out.append("V2 cleared: \(r.remaining) migrated rows remain; \(r.ddlRestored) keys/indexes restored; migration history kept (\(r.runsKept) runs recorded).")
        return out
    }

    public static func clearedJSON(_ r: ClearTarget.Result) -> [String: Any] {
        ["event": "cleared", "tables": Dictionary(r.deleted.map { ($0.table, $0.rows) }, uniquingKeysWith: +),
         "kept": Dictionary(r.kept.map { ($0.table, $0.rows) }, uniquingKeysWith: +),
         "remaining": r.remaining, "ddl_restored": r.ddlRestored, "freed_space": r.freedSpace]
    }

    /// `read-only status`: the mode, the role setting, every write path left, every blocker.
    public static func readOnlyStatus(_ st: ReadOnlyMode.Status, role: String) -> [String] {
        var out = ["read-only mode: \(st.enabled ? "ENABLED" : "disabled"); role setting default_transaction_read_only: \(st.roleReadOnlySetting ? "on" : "off")"]
        if st.writable.isEmpty {
            out.append("\(role) can write no table or sequence through any grant.")
        } else {
            out.append("\(role) can still write:")
            for g in st.writable { out.append("  \(g)") }
        }
        for b in st.blockers { out.append("BLOCKER: \(b)") }
        return out
    }

    public static func readOnlyStatusJSON(_ st: ReadOnlyMode.Status) -> [String: Any] {
        ["event": "read_only_status", "enabled": st.enabled, "role_setting_on": st.roleReadOnlySetting,
         "writable": st.writable.map(\.description), "blockers": st.blockers]
    }

    public static func inventory(_ report: Inventory.Report, id: String) -> [String] {
        var out = ["inventory \(id) at \(ISO8601DateFormatter().string(from: report.takenAt))"]
        for s in report.sides {
            out.append("\(s.label): PostgreSQL \(s.version), \(s.url), database \(s.database), \(fmt(s.databaseBytes)) bytes")
            for t in s.tables { out.append("  \(pad(t.table, 28)) \(pad(fmt(t.rows), 12, right: true)) rows \(pad(fmt(t.bytes), 14, right: true)) bytes") }
            out.append("  \(pad("total", 28)) \(pad(fmt(s.tables.reduce(0) { $0 + $1.rows }), 12, right: true)) rows")
        }
        return out
    }

    public static func inventoryJSON(_ report: Inventory.Report, id: String) -> [String: Any] {
        ["event": "inventory", "inventory_id": id, "taken_at": ISO8601DateFormatter().string(from: report.takenAt),
         "sides": report.sides.map { s in
             ["side": s.label, "url": s.url, "version": s.version, "database": s.database, "database_bytes": s.databaseBytes,
              "tables": s.tables.map { ["table": $0.table, "rows": $0.rows, "bytes": $0.bytes] }] as [String: Any]
         }]
    }

    public static func snapshot(_ files: [Snapshot.File]) -> [String] {
        files.map { f in "\(f.path)  \(fmt(f.bytes)) bytes, \(f.tocEntries) archive entries, sha256 \(f.sha256)\(f.uploadedTo.map { ", uploaded to \($0)" } ?? "")" }
    }

    public static func snapshotJSON(_ files: [Snapshot.File]) -> [String: Any] {
        ["event": "snapshot", "files": files.map { ["path": $0.path, "sha256": $0.sha256, "bytes": $0.bytes, "toc_entries": $0.tocEntries, "uploaded_to": $0.uploadedTo ?? ""] }]
    }

    public static func preflight(_ report: PreflightReport) -> [String] {
        report.servers.map { s in "\(s.side): PostgreSQL \(s.version) at \(s.url) as \(s.user)\(s.isSuperuser ? " (superuser)" : "")" }
            + report.checks.map { c in "  [\(c.passed ? "ok" : "MISSING")] \(c.side) \(c.name): \(c.detail)" }
            + [report.passed ? "preflight passed" : "preflight FAILED: fix the missing privileges above, then run preflight again"]
    }

    public static func preflightJSON(_ report: PreflightReport) -> [String: Any] {
        ["event": "preflight", "passed": report.passed,
         "servers": report.servers.map { ["side": $0.side, "url": $0.url, "version": $0.version, "user": $0.user, "database": $0.database, "superuser": $0.isSuperuser] },
         "checks": report.checks.map { ["side": $0.side, "name": $0.name, "passed": $0.passed, "detail": $0.detail] }]
    }
}
