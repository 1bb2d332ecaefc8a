import ArgumentParser
import CocoaTrack
import Foundation
import Logging
import MigrationEngine
import Rendering

struct SnapshotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "pg_dump backup of V1 or V2 with the plan's timestamped names, a sha256 sidecar and a readability check.",
        discussion: "V2's snapshot holds the public schema, the migration's state schema and the auth.users rows (data only)."
    )

    @Argument(help: "v1 or v2") var side: String
    @OptionGroup var global: GlobalOptions
    @Option(help: "Directory for the archives.") var dir: String = "snapshots"
    @Option(help: "Also copy them to s3://BUCKET/PREFIX with the aws CLI.") var upload: String?
    @Option(help: "Name part: pre_migration, final, emergency…") var label: String?

    func validate() throws {
        guard side == "v1" || side == "v2" else { throw ValidationError("snapshot takes v1 or v2") }
        if let upload, !upload.hasPrefix("s3://") { throw ValidationError("--upload takes s3://BUCKET/PREFIX") }
    }

    func run() async throws {
        let config = try global.config(side.uppercased())
        let files = try await takeSnapshot(config: config, side: side, label: label ?? (side == "v1" ? "final" : "pre_migration"), dir: dir, upload: upload)
        if global.json {
            Out.json(["event": "snapshot", "files": files.map { ["path": $0.path, "sha256": $0.sha256, "bytes": $0.bytes, "toc_entries": $0.tocEntries, "uploaded_to": $0.uploadedTo ?? ""] }])
        }
    }
}

func takeSnapshot(config: ConnectionConfig, side: String, label: String, dir: String, upload: String?) async throws -> [Snapshot.File] {
    Out.info("snapshot of \(config.redactedURL) into \(dir)…")
    let files = try await CocoaTrackSchema.snapshot(config, side: side, label: label, dir: dir, upload: upload)
    renderSnapshot(files)
    return files
}

func renderSnapshot(_ files: [Snapshot.File]) {
    for f in files {
        Out.result("\(f.path)  \(fmt(f.bytes)) bytes, \(f.tocEntries) archive entries, sha256 \(f.sha256)\(f.uploadedTo.map { ", uploaded to \($0)" } ?? "")")
    }
}

struct RollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Scenario 1: empty the migrated data from V2 (snapshot first, one transaction, only the rows the migration wrote in auth.users).",
        discussion: """
            Shows what it will delete and asks for the V2 database name (or --yes). Refuses (exit 4) a database \
            that is not the V2 recorded by the migration, in particular V1. Idempotent; keeps the migration's run history.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Flag(name: .customLong("clear-v2"), help: "Empty every migrated V2 table.") var clearV2 = false
    @Flag(name: .customLong("no-snapshot"), help: "Skip the V2 snapshot taken before clearing.") var noSnapshot = false
    @Option(name: .customLong("snapshot-dir"), help: "Where the pre-clear snapshot goes.") var snapshotDir: String = "snapshots"

    func validate() throws {
        guard clearV2 else { throw ValidationError("say what to roll back: --clear-v2") }
    }

    func run() async throws {
        let logger = global.makeLogger()
        let v2 = try global.config("V2")
        let clear = ClearTarget(plan: CocoaTrackMapping.plan(context: .init()), target: v2, logger: logger)
        let preview = try await clear.preview()
        Out.info("rollback --clear-v2 on \(preview.url) (database \(preview.database)) will delete:")
        let width = max(24, (preview.order + preview.kept).map(\.table.count).max() ?? 0)
        for t in preview.order { Out.info("  \(pad(t.table, width)) \(pad(fmt(t.rows), 12, right: true)) \(t.scope)") }
        if !preview.kept.isEmpty {
            Out.info("and will keep:")
            for t in preview.kept { Out.info("  \(pad(t.table, width)) \(pad(fmt(t.rows), 12, right: true)) \(t.scope)") }
            Out.info("  (users created in V2, not by the migration, keep their auth.users row, identities and sessions)")
        }
        Out.info("  total \(fmt(preview.total)) rows\(preview.journaledDDL > 0 ? "; and restore \(preview.journaledDDL) keys/indexes a migration set aside" : ""), in one transaction\(preview.truncate ? " (TRUNCATE)" : " (DELETE)")")
        try Confirm.databaseName(preview.database, side: "V2", yes: global.yes)
        if !noSnapshot {
            _ = try await takeSnapshot(config: v2, side: "v2", label: "pre_clear", dir: snapshotDir, upload: nil)
        }
        let result = try await clear.run(toolVersion: CocoaTrackMigrate.version)
        if !result.freedSpace.isEmpty {
            Out.result("V2's disk was full, so the one-transaction clear could not run; space was freed first:")
            for step in result.freedSpace { Out.result("  \(step)") }
            Out.result("then cleared in one transaction as usual:")
        }
        let done = max(24, (result.deleted + result.kept).map(\.table.count).max() ?? 0)
        for t in result.deleted { Out.result("cleared \(pad(t.table, done)) \(pad(fmt(t.rows), 12, right: true)) \(t.scope)") }
        for t in result.kept { Out.result("kept    \(pad(t.table, done)) \(pad(fmt(t.rows), 12, right: true)) \(t.scope)") }
        Out.result("V2 cleared: \(result.remaining) migrated rows remain; \(result.ddlRestored) keys/indexes restored; migration history kept (\(result.runsKept) runs recorded).")
        await v1ReadOnlyHint(logger: logger)
        if global.json {
            Out.json(["event": "cleared", "tables": Dictionary(result.deleted.map { ($0.table, $0.rows) }, uniquingKeysWith: +),
                      "kept": Dictionary(result.kept.map { ($0.table, $0.rows) }, uniquingKeysWith: +),
                      "remaining": result.remaining, "ddl_restored": result.ddlRestored, "freed_space": result.freedSpace])
        }
    }
}

extension RollbackCommand {
    /// Scenario 1 ends with V1 writable again: clearing V2 does not do that. Says whether V1 is
    /// still read-only (when V1 is reachable) and the command that makes it writable.
    func v1ReadOnlyHint(logger: Logger) async {
        let fix = ToolCommand.line("read-only disable")
        guard let v1 = try? global.config("V1"), let role = try? global.appRole(nil) else {
            Out.info("V1 is untouched: if read-only mode is on there (read-only enable), the application still cannot write V1. Make it writable again with: \(fix)")
            return
        }
        let mode = ReadOnlyMode(source: v1, appRole: role, schemas: ["public"], logger: logger)
        switch try? await mode.status() {
        case .some(let st) where st.enabled || st.roleReadOnlySetting:
            Out.info("V1 is still read-only for \(role): the application cannot write V1 yet. Make it writable again with: \(fix)")
        case .some:
            Out.info("V1 is writable for \(role) (read-only mode is off).")
        case .none:
            Out.info("V1 could not be checked: if read-only mode is on there, make it writable again with: \(fix)")
        }
    }
}

struct ReadOnlyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "read-only",
        abstract: "V1 read-only mode for the application role: enable (revoke every write path, prove it), disable (restore exactly), status.",
        discussion: """
            enable records every write privilege that reaches the role (directly, through PUBLIC, through roles it \
            belongs to, column grants, sequences) in schema cocoatrack_readonly of V1, revokes them in one transaction, \
            sets default_transaction_read_only for the role, ends its sessions after letting open transactions finish, \
            and probes every kind of write as the role in a rolled-back transaction. Any failure undoes it all.
            """
    )

    @Argument(help: "enable, disable or status") var action: String
    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("app-role"), help: "The V1 role the application connects as.") var appRoleFlag: String?
    @Option(name: .customLong("session-timeout"), help: "Seconds to let the role's open transactions finish before ending its sessions.") var sessionTimeout: Int = 30

    func validate() throws {
        guard ["enable", "disable", "status"].contains(action) else { throw ValidationError("read-only takes enable, disable or status") }
        guard (0...86_400).contains(sessionTimeout) else { throw ValidationError("--session-timeout takes 0 to 86400 seconds; got \(sessionTimeout)") }
    }

    func run() async throws {
        let appRole = try global.appRole(appRoleFlag)
        let mode = ReadOnlyMode(source: try global.config("V1"), appRole: appRole, schemas: ["public"], logger: global.makeLogger())
        switch action {
        case "enable":
            try Confirm.yes("revoke every write of \(appRole) on V1 and end its sessions", yes: global.yes,
                            refusal: "read-only enable revokes \(appRole)'s writes on V1 and ends its sessions: pass --yes (or run it on a terminal and confirm). Nothing was changed.")
            let r = try await mode.enable(sessionTimeout: .seconds(sessionTimeout))
            for g in r.revoked { Out.info("revoked \(g)") }
            Out.result("V1 is read-only for \(appRole): \(r.revoked.count) write privileges revoked (recorded for disable), default_transaction_read_only = on, \(r.sessionsEnded) sessions ended, \(r.probed) write probes refused.")
        case "disable":
            let r = try await mode.disable()
            Out.result("V1 writable again for \(appRole): \(r.regranted) privileges re-granted exactly as recorded; role setting restored.")
        default:
            let st = try await mode.status()
            Out.result("read-only mode: \(st.enabled ? "ENABLED" : "disabled"); role setting default_transaction_read_only: \(st.roleReadOnlySetting ? "on" : "off")")
            if st.writable.isEmpty {
                Out.result("\(appRole) can write no table or sequence through any grant.")
            } else {
                Out.result("\(appRole) can still write:")
                for g in st.writable { Out.result("  \(g)") }
            }
            for b in st.blockers { Out.result("BLOCKER: \(b)") }
            if global.json {
                Out.json(["event": "read_only_status", "enabled": st.enabled, "role_setting_on": st.roleReadOnlySetting,
                          "writable": st.writable.map(\.description), "blockers": st.blockers])
            }
            if !st.writable.isEmpty || !st.blockers.isEmpty { throw ExitCode(3) }
        }
    }
}

struct InventoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inventory",
        abstract: "Exact row counts and sizes of every table on both sides, server versions, URLs and time; recorded in V2's migration schema.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let logger = global.makeLogger()
        let v1 = try await PGConnection.connect(try global.config("V1"), logger: logger)
        let v2 = try await PGConnection.connect(try global.config("V2"), logger: logger)
        defer { Task { await v1.close(); await v2.close() } }
        let plan = CocoaTrackMapping.plan(context: .init())
        let report = Inventory.Report(takenAt: Date(), sides: [
            try await Inventory.side(v1, schemas: plan.sourceSchemas),
            try await Inventory.side(v2, schemas: plan.targetSchemas, extraTables: plan.extraTargetTables),
        ])
        let id = try await Inventory.record(report, state: MigrationState(schema: plan.stateSchema), in: v2)
        if global.json {
            Out.json(["event": "inventory", "inventory_id": id, "taken_at": ISO8601DateFormatter().string(from: report.takenAt),
                      "sides": report.sides.map { s in
                          ["side": s.label, "url": s.url, "version": s.version, "database": s.database, "database_bytes": s.databaseBytes,
                           "tables": s.tables.map { ["table": $0.table, "rows": $0.rows, "bytes": $0.bytes] }] as [String: Any]
                      }])
            return
        }
        Out.result("inventory \(id) at \(ISO8601DateFormatter().string(from: report.takenAt))")
        for s in report.sides {
            Out.result("\(s.label): PostgreSQL \(s.version), \(s.url), database \(s.database), \(fmt(s.databaseBytes)) bytes")
            for t in s.tables { Out.result("  \(pad(t.table, 28)) \(pad(fmt(t.rows), 12, right: true)) rows \(pad(fmt(t.bytes), 14, right: true)) bytes") }
            Out.result("  \(pad("total", 28)) \(pad(fmt(s.tables.reduce(0) { $0 + $1.rows }), 12, right: true)) rows")
        }
    }
}
