import ArgumentParser
import CocoaTrack
import Foundation
import MigrationEngine

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
    let files = try await Snapshot.take(config, parts: CocoaTrackSchema.snapshotParts(side: side, label: label), directory: dir, upload: upload)
    for f in files {
        Out.result("\(f.path)  \(fmt(f.bytes)) bytes, \(f.tocEntries) archive entries, sha256 \(f.sha256)\(f.uploadedTo.map { ", uploaded to \($0)" } ?? "")")
    }
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
        Out.info("rollback --clear-v2 on \(preview.url) (database \(preview.database)) will delete:")
        for t in preview.order { Out.info("  \(pad(t.table, 24)) \(pad(fmt(t.rows), 12, right: true)) \(t.scope)") }
        Out.info("  total \(fmt(preview.total)) rows\(preview.journaledDDL > 0 ? "; and restore \(preview.journaledDDL) keys/indexes a migration set aside" : ""), in one transaction\(preview.truncate ? " (TRUNCATE)" : " (DELETE)")")
        if !global.yes {
            guard isatty(0) == 1 else {
                throw MigrationError(.refused, "confirmation required: run it on a terminal and type the database name, or pass --yes. Nothing was touched.")
            }
            FileHandle.standardError.write(Data("type the V2 database name (\(preview.database)) to confirm: ".utf8))
            let answer = readLine()?.trimmingCharacters(in: .whitespaces) ?? ""
            guard answer == preview.database else {
                throw MigrationError(.refused, "confirmation did not match \(preview.database). Nothing was touched.")
            }
        }
        if !noSnapshot {
            _ = try await takeSnapshot(config: v2, side: "v2", label: "pre_clear", dir: snapshotDir, upload: nil)
        }
        let result = try await clear.run(toolVersion: CocoaTrackMigrate.version)
        for t in result.deleted { Out.result("cleared \(pad(t.table, 24)) \(pad(fmt(t.rows), 12, right: true)) rows (\(t.scope))") }
        Out.result("V2 cleared: \(result.remaining) migrated rows remain; \(result.ddlRestored) keys/indexes restored; migration history kept (\(result.runsKept) runs recorded).")
        if global.json {
            Out.json(["event": "cleared", "tables": Dictionary(uniqueKeysWithValues: result.deleted.map { ($0.table, $0.rows) }), "remaining": result.remaining, "ddl_restored": result.ddlRestored])
        }
    }
}
