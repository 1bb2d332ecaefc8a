import ArgumentParser
import CocoaTrack
import Foundation
import MigrationEngine
import Rendering

/// The verifier (mapping, both sides) that verify-integrity, the after-cutover commands and
/// the runbook share; by default its progress is VerifyView's brief one.
func makeVerifier(_ global: GlobalOptions, blobAccount: String? = nil, configure: (inout VerifyOptions) throws -> Void = { _ in },
                  events: (@Sendable (VerifyEvent) -> Void)? = nil) async throws -> Verifier {
    let console = global.console
    return try await CocoaTrackMapping.verifier(v1: try global.config("V1"), v2: try global.config("V2"), blobAccount: try blobAccount ?? global.settings().blobAccount,
                                                toolVersion: CocoaTrackMigrate.version, logger: global.makeLogger(), configure: configure,
                                                events: events ?? { if let line = VerifyView.briefProgress($0) { console.info(line) } })
}

struct CaptureCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Change capture at cutover: `arm` records the cutover baseline in V2 (per-row hashes, 16 bytes a row); `status` shows it.",
        discussion: """
            Arm it at T-0, after migrate and a passing verify-integrity, before the application writes to V2. Refuses to \
            arm twice (that would hide the changes made since) and refuses when V2 does not equal V1 through the mapping. \
            No trigger, no replication slot, no superuser: assess-v2-changes compares V2 with V1 through the mapping and \
            uses the baseline to prove V1 itself did not move.
            """
    )

    @Argument(help: "arm or status") var action: String
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard ["arm", "status"].contains(action) else { throw ValidationError("capture takes arm or status") }
    }

    func run() async throws {
        let console = global.console
        if action == "status" {
            let c = try await PGConnection.connect(try global.config("V2"), logger: global.makeLogger())
            let at = try await CaptureStatus.armed(c, state: MigrationState(schema: CocoaTrackMapping.stateSchema))
            await c.close()
            console.result(at.map { "change capture armed at \($0)" } ?? "change capture is not armed")
            console.json(["event": "capture_status", "armed": at != nil, "armed_at": at ?? ""])
            return
        }
        let verifier = try await makeVerifier(global)
        let (rows, loads) = try await verifier.arm()
        for (load, n) in loads.sorted(by: { $0.key < $1.key }) { console.result("  \(pad(load, 16)) \(pad(fmt(n), 12, right: true)) rows") }
        console.json(["event": "capture_armed", "rows": rows, "loads": loads])
        console.result("change capture armed: cutover baseline of \(fmt(rows)) rows recorded in V2 (\(CocoaTrackMapping.stateSchema).capture_baseline)")
    }
}

struct AssessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "assess-v2-changes",
        abstract: "Scenario 3: every row inserted, updated and deleted in V2 since cutover, with the changed columns (before and after).",
        discussion: "Needs change capture armed at cutover (`capture arm`). Conflicts are rows changed on both sides since cutover."
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: "Write report.json, report.md and report.html into this directory.") var export: String?

    func run() async throws {
        let verifier = try await makeVerifier(global)
        let (report, _) = try await verifier.assess()
        let console = global.console
        if let export { console.info("wrote " + (try report.export(to: export)).joined(separator: ", ")) }
        if console.json { console.json(text: report.json(pretty: false)) } else { console.result(ChangesView.lines(report)) }
    }
}

struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync-v2-to-v1",
        abstract: "Scenario 2: carry V2's changes since cutover back to V1 through the reverse mapping (one V1 transaction).",
        discussion: """
            Shows what it will write, asks for the V1 database name (or --yes), snapshots V1 first (unless --no-snapshot), \
            and refuses a V1 that is not the one the migration recorded. A change is written only when the forward \
            mapping of the V1 row gives back exactly the V2 rows; anything else (a fractional XOF amount, a text too long \
            for V1, a row changed on both sides) is a conflict for a person, listed and kept in V1's cocoatrack_sync \
            schema. Running it again changes nothing. Exit 0: everything synced; 3: conflicts remain.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Flag(name: .customLong("dry-run"), help: "Compute and check every change, write nothing.") var dryRun = false
    @Flag(name: .customLong("no-snapshot"), help: "Skip the V1 snapshot taken before writing.") var noSnapshot = false
    @Option(name: .customLong("snapshot-dir"), help: "Where the pre-sync snapshot goes.") var snapshotDir: String = "snapshots"
    @Option(name: .customLong("blob-account"), help: "Azure storage account of V1's photo URLs (default: settings file, else cocoatrackv1).") var blobAccount: String?

    func run() async throws {
        let logger = global.makeLogger()
        let v1Config = try global.config("V1")
        let v2Config = try global.config("V2")
        let console = global.console
        // The V1 this migration came from, and no other.
        let database = try await ReverseSync.checkTarget(v1: v1Config, v2: v2Config, state: MigrationState(schema: CocoaTrackMapping.stateSchema), logger: logger)

        // The V1 snapshot is taken while V2's changes are assessed (it must exist before the
        // first write, not before the reading): the way back is timed, and the two overlap.
        let snapshotFirst = !dryRun && !noSnapshot
        async let snapshot = snapshotFirst ? takeSnapshot(config: v1Config, side: "v1", label: "pre_sync", dir: snapshotDir, upload: nil, console: console) : []
        // One assessment serves the preview and the write (re-checked row by row before writing).
        let verifier = try await makeVerifier(global, blobAccount: blobAccount)
        let assessment = try await ReverseSync(verifier: verifier, dryRun: true).assess()
        func show(_ r: SyncReport, _ verb: String) { console.info(ChangesView.syncPlan(r, into: v1Config.redactedURL, database: database, verb: verb)) }
        // With --yes there is no question to answer, so no preview pass: the write checks every
        // row the same way and says what it wrote.
        var preview: SyncReport?
        if dryRun || !global.yes {
            let p = try await ReverseSync(verifier: verifier, dryRun: true).run(assessment)
            show(p, dryRun ? "would write" : "will write")
            preview = p
        }
        if dryRun, let preview {
            console.json(text: preview.json(pretty: false))
            if !preview.conflicts.isEmpty { throw MigrationError(.checkFailed, "dry run: \(preview.conflicts.count) conflicts would remain. Nothing was written.") }
            return
        }
        let report: SyncReport
        if let preview, preview.total == 0 {
            _ = try await snapshot
            console.result("nothing to write: V1 already holds every V2 change that has a V1 form.")
            report = preview
        } else {
            try Confirm.databaseName(database, side: "V1", yes: global.yes)
            _ = try await snapshot
            report = try await ReverseSync(verifier: verifier, dryRun: false).run(assessment)
            if preview == nil { show(report, "wrote") }
        }
        console.result(ChangesView.synced(report))
        console.json(text: report.json(pretty: false))
        if !report.conflicts.isEmpty {
            throw MigrationError(.checkFailed, "\(report.conflicts.count) changes have no faithful V1 form and were not written; `\(ToolCommand.line("data-loss-report --export DIR"))` lists them for a person.")
        }
    }
}

struct DataLossCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data-loss-report",
        abstract: "Scenario 3: what V1 still lacks of V2's changes (after sync: the conflicts), per table, with keys and values.",
        discussion: "Exit 0 when V1 lacks nothing; 3 when something would be lost by rolling back to V1."
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: "Write report.json, report.md and report.html into this directory.") var export: String?

    func run() async throws {
        let verifier = try await makeVerifier(global)
        let (assessed, _) = try await verifier.assess()
        let v1 = try await PGConnection.connect(try global.config("V1"), logger: global.makeLogger())
        let report: ChangeReport
        do { report = try await assessed.dataLossReport(v1: v1) } catch { await v1.close(); throw error }
        await v1.close()
        let console = global.console
        if let export { console.info("wrote " + (try report.export(to: export)).joined(separator: ", ")) }
        // The verdict is the table's last line; with --json stdout is the JSON alone.
        if console.json { console.info(report.summaryLine); console.json(text: report.json(pretty: false)) } else { console.result(ChangesView.lines(report, verb: "missing rows")) }
        let lacking = report.inserted + report.updated + report.deleted + report.conflicts
        if lacking > 0 {
            throw MigrationError(.checkFailed, "V1 lacks \(lacking) of V2's changes: rolling back to V1 now loses them (listed above\(export.map { " and in \($0)" } ?? "")).")
        }
    }
}
