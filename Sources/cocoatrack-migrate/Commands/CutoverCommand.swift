import ArgumentParser
import CocoaTrack
import Foundation
import MigrationEngine
import Rendering

struct CutoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cutover",
        abstract: "The cutover window as a runbook.",
        subcommands: [CutoverPlanCommand.self, CutoverRunCommand.self, CutoverStatusCommand.self, CutoverApproveCommand.self, CutoverMessagesCommand.self,
                      CutoverPostmortemCommand.self]
    )
}

struct CutoverPlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "The plan's timeline (T-24h … T+4h) in absolute times, with each data step's predicted duration and warnings.",
        discussion: """
            Predictions scale the latest rehearsal's measured times (--rehearsal, written by scripts/rehearse.sh) to \
            production's row counts and size: the latest V1 inventory recorded in V2 (`inventory`), else V1 counted \
            now when --v1 is reachable. Warns when the data steps pass T+1h, the T+2h decision point or the window's end.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("window-start"), help: "T-0, the window's start, e.g. 2026-12-05T02:00Z.") var windowStart: String
    @Option(help: "Rehearsal measurements (JSON).") var rehearsal: String = "rehearsal-report/rehearsal.json"
    @Option(name: .customLong("window-hours"), help: "Length of the window.") var windowHours: Double = 4

    /// ISO 8601 with its zone (TimeFlag.instant); nil when it is not a time.
    static func parseTime(_ s: String) -> Date? { TimeFlag.instant(s) }

    func validate() throws {
        guard Self.parseTime(windowStart) != nil else { throw ValidationError("--window-start takes a UTC time such as 2026-12-05T02:00Z") }
        guard TimeFlag.positive(windowHours) else { throw ValidationError("--window-hours takes a positive number of hours; got \(windowHours)") }
    }

    func run() async throws {
        let start = Self.parseTime(windowStart)!
        let logger = global.makeLogger()
        var rows: Int64?
        var bytes: Int64?
        if let v2Config = try? global.config("V2"), let v2 = try? await PGConnection.connect(v2Config, logger: logger) {
            if let (n, b) = try await Inventory.recorded(v2, state: MigrationState(schema: CocoaTrackMapping.stateSchema)) {
                rows = n
                bytes = b
                Out.info("production counts: the latest V1 inventory recorded in V2")
            }
            await v2.close()
        }
        if rows == nil, let v1Config = try? global.config("V1"), let v1 = try? await PGConnection.connect(v1Config, logger: logger) {
            let side = try await Inventory.side(v1, schemas: ["public"])
            rows = side.tables.reduce(0) { $0 + $1.rows }
            bytes = side.databaseBytes
            await v1.close()
            Out.info("production counts: V1 counted now (no inventory recorded)")
        }
        let measurements = try? RehearsalMeasurements.load(rehearsal)
        let plan = CutoverPlan.make(timeline: CocoaTrackRunbook.steps, windowStart: start, windowHours: windowHours, productionRows: rows, productionBytes: bytes, rehearsal: measurements)
        if global.json { print(plan.json(pretty: false)); return }
        Out.result("cutover window \(plan.windowStart) → \(plan.windowEnd); decision point \(plan.decisionPoint)")
        if let rows { Out.result("production: \(fmt(rows)) V1 rows\(bytes.map { ", \(fmt($0 / 1_048_576)) MiB" } ?? "")") }
        if let m = measurements { Out.result("rehearsal of \(m.measuredAt): \(fmt(m.sourceRows)) rows, migrate \(Int(m.migrateSeconds)) s, verify \(Int(m.verifySeconds)) s") }
        Out.result(pad("T", 8) + pad("at (UTC)", 22) + pad("step", 42) + pad("predicted", 12) + "command")
        for s in plan.steps {
            let t = s.offset == 0 ? "T-0" : (s.offset > 0 ? "T+\(s.offset / 3600)h" : "T\(s.offset / 3600)h")
            Out.result(pad(t, 8) + pad(s.at, 22) + pad(s.title, 42) + pad(s.predictedSeconds.map { Self.duration($0) } ?? "-", 12) + s.command)
        }
        for w in plan.warnings { Out.result("WARNING: \(w)") }
    }

    static func duration(_ s: Double) -> String {
        s < 120 ? "\(Int(s.rounded())) s" : (s < 7200 ? "\(Int((s / 60).rounded())) min" : String(format: "%.1f h", s / 3600))
    }
}
