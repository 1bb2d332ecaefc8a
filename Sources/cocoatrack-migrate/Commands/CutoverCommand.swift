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
        let console = global.console
        let start = Self.parseTime(windowStart)!
        let logger = global.makeLogger()
        let production = try await Inventory.production(v2: try? global.config("V2"), v1: try? global.config("V1"),
                                                        state: MigrationState(schema: CocoaTrackMapping.stateSchema), schemas: ["public"], logger: logger)
        if let production { console.info("production counts: \(production.from)") }
        let measurements = try? RehearsalMeasurements.load(rehearsal)
        let plan = CutoverPlan.make(timeline: CocoaTrackRunbook.steps, windowStart: start, windowHours: windowHours, productionRows: production?.rows, productionBytes: production?.bytes, rehearsal: measurements)
        if console.json { console.json(text: plan.json(pretty: false)) } else { console.result(CutoverView.plan(plan, measurements: measurements)) }
    }
}
