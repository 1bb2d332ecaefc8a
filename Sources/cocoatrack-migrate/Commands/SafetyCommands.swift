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
        let files = try await takeSnapshot(config: config, side: side, label: label ?? (side == "v1" ? "final" : "pre_migration"), dir: dir, upload: upload, console: global.console)
        global.console.json(SafetyView.snapshotJSON(files))
    }
}

func takeSnapshot(config: ConnectionConfig, side: String, label: String, dir: String, upload: String?, console: Console) async throws -> [Snapshot.File] {
    console.info("snapshot of \(config.redactedURL) into \(dir)…")
    let files = try await CocoaTrackSchema.snapshot(config, side: side, label: label, dir: dir, upload: upload)
    console.result(SafetyView.snapshot(files))
    return files
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
        let console = global.console
        console.info(SafetyView.clearPreview(preview))
        try Confirm.databaseName(preview.database, side: "V2", yes: global.yes)
        if !noSnapshot {
            _ = try await takeSnapshot(config: v2, side: "v2", label: "pre_clear", dir: snapshotDir, upload: nil, console: console)
        }
        let result = try await clear.run(toolVersion: CocoaTrackMigrate.version)
        console.result(SafetyView.cleared(result))
        await v1ReadOnlyHint(logger: logger)
        console.json(SafetyView.clearedJSON(result))
    }
}

extension RollbackCommand {
    /// Scenario 1 ends with V1 writable again: clearing V2 does not do that (ReadOnlyMode.afterClearHint).
    func v1ReadOnlyHint(logger: Logger) async {
        var mode: ReadOnlyMode?
        if let v1 = try? global.config("V1"), let role = try? global.appRole(nil) { mode = ReadOnlyMode(source: v1, appRole: role, schemas: ["public"], logger: logger) }
        global.console.info(await ReadOnlyMode.afterClearHint(mode, fix: ToolCommand.line("read-only disable")))
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
        let console = global.console
        switch action {
        case "enable":
            try Confirm.yes("revoke every write of \(appRole) on V1 and end its sessions", yes: global.yes,
                            refusal: "read-only enable revokes \(appRole)'s writes on V1 and ends its sessions: pass --yes (or run it on a terminal and confirm). Nothing was changed.")
            let r = try await mode.enable(sessionTimeout: .seconds(sessionTimeout))
            console.info(r.revoked.map { "revoked \($0)" })
            console.json(["event": "read_only_enabled", "revoked": r.revoked.map(\.description), "sessions_ended": r.sessionsEnded, "probes_refused": r.probed])
            console.result("V1 is read-only for \(appRole): \(r.revoked.count) write privileges revoked (recorded for disable), default_transaction_read_only = on, \(r.sessionsEnded) sessions ended, \(r.probed) write probes refused.")
        case "disable":
            let r = try await mode.disable()
            console.json(["event": "read_only_disabled", "regranted": r.regranted])
            console.result("V1 writable again for \(appRole): \(r.regranted) privileges re-granted exactly as recorded; role setting restored.")
        default:
            let st = try await mode.status()
            console.result(SafetyView.readOnlyStatus(st, role: appRole))
            console.json(SafetyView.readOnlyStatusJSON(st))
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
        global.console.result(SafetyView.inventory(report, id: id), json: SafetyView.inventoryJSON(report, id: id))
    }
}
