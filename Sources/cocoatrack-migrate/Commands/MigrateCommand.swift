import ArgumentParser
import CocoaTrack
import Foundation
import MigrationEngine
import Rendering

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Copy V1 into V2 through the mapping of docs/mapping.md: resumable, exact, with every reject recorded.",
        discussion: """
            Loads every V2 table in foreign-key order (independent tables in parallel), in batches whose rows and \
            checkpoint commit together, so a crash or Ctrl+C loses nothing and duplicates nothing: run migrate again \
            (or with --resume) to continue. Refuses (exit 4) when V2 holds rows this migration did not write, when V1 \
            is still writable by the application role (unless --allow-writable-v1), or when another migrate runs.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Continue an interrupted migration (migrate always resumes; this flag only makes it explicit).")
    var resume = false

    @Flag(name: .customLong("dry-run"), help: "Read V1 and apply the mapping; print would-write and would-reject counts; write nothing.")
    var dryRun = false

    @Option(name: .customLong("rejects-csv"), help: "Write every reject and warning to this CSV file at the end.")
    var rejectsCSV: String?

    @Flag(name: .customLong("allow-writable-v1"), help: "Proceed although the application role can still write V1 (rehearsals only).")
    var allowWritableV1 = false

    @Option(name: .customLong("app-role"), help: "The V1 role the application connects as (default: settings file, else app_user).")
    var appRoleFlag: String?

    @Option(help: "Loads that may run at once.")
    var jobs: Int = 2

    @Option(name: .customLong("batch-rows"), help: "Source rows per committed batch.")
    var batchRows: Int = 50_000

    @Flag(name: .customLong("keep-indexes"), help: "Do not drop and rebuild V2's secondary indexes around each load.")
    var keepIndexes = false

    @Option(name: .customLong("copy-format"), help: "binary (default): rows go to V2 in binary COPY format wherever every value has an exact binary form (a load falls back to text on the first value that does not); text: always COPY text format.")
    var copyFormat: String = "binary"

    @Option(name: .customLong("maintenance-work-mem"), help: "V2's maintenance_work_mem while a key or index set aside for the load is rebuilt or a foreign key validated (SET LOCAL, only where it raises V2's own value; \"server\": leave V2's setting).")
    var maintenanceWorkMem: String = MigrateOptions.defaultMaintenanceWorkMem

    @Option(help: "When a server drops the connection mid-run (backend terminated, restart, failover): reconnect and continue from the last checkpoint up to this many times, waiting 1, 2, 4 … 30 s. 0: stop at once (the next run resumes).")
    var retries: Int = 6

    func validate() throws {
        guard jobs >= 1, jobs <= 16 else { throw ValidationError("--jobs must be between 1 and 16") }
        guard batchRows >= 1 else { throw ValidationError("--batch-rows must be positive") }
        guard retries >= 0 else { throw ValidationError("--retries must not be negative") }
        guard ["binary", "text"].contains(copyFormat) else { throw ValidationError("--copy-format must be binary or text") }
        guard maintenanceWorkMem == "server" || maintenanceWorkMem.range(of: #"^[1-9][0-9]*(kB|MB|GB)$"#, options: .regularExpression) != nil else {
            throw ValidationError("--maintenance-work-mem must be a size such as 256MB or 1GB (units kB, MB, GB), or server")
        }
    }

    func run() async throws {
        let appRole = try global.appRole(appRoleFlag)
        let logger = global.makeLogger()
        let v1Config = try global.config("V1")
        let v2Config = try global.config("V2")
        var options = MigrateOptions()
        options.dryRun = dryRun
        options.allowWritableSource = allowWritableV1
        options.jobs = jobs
        options.load.batchRows = batchRows
        options.load.rebuildIndexes = !keepIndexes
        options.load.binaryCopy = copyFormat == "binary"
        options.maintenanceWorkMem = maintenanceWorkMem == "server" ? nil : maintenanceWorkMem
        options.toolVersion = CocoaTrackMigrate.version
        let console = global.console
        let renderer = ProgressRenderer(console: console)
        let migrator = try await CocoaTrackMapping.migrator(v1: v1Config, v2: v2Config, appRole: appRole, options: options, logger: logger,
                                                            events: { renderer.handle($0) })
        console.info("\(dryRun ? "dry run: " : "")migrating \(v1Config.redactedURL) → \(v2Config.redactedURL)")
        let summary: MigrationSummary
        do {
            summary = try await migrator.run(retrying: RetryPolicy(retries: retries))
        } catch where Task.isCancelled || (error as? MigrationError)?.code == .interrupted {
            renderer.finish()
            throw MigrationError(.interrupted, "interrupted at a safe point: every committed batch is kept in V2 with its checkpoint. Resume with: \(ToolCommand.line("migrate --resume"))")
        }
        renderer.finish()
        if let rejectsCSV, !dryRun {
            let c = try await PGConnection.connect(v2Config, logger: logger)
            let n = try await Migrator.exportIssuesCSV(c, stateSchema: CocoaTrackMapping.stateSchema, to: rejectsCSV)
            await c.close()
            console.info("wrote \(n) rejects and warnings to \(rejectsCSV)")
        }
        if console.json { console.json(MigrateView.json(summary)) } else { console.result(MigrateView.lines(summary)) }
    }
}
