import ArgumentParser
import CocoaTrack
import Foundation
import MigrationEngine
import Rendering

struct CutoverStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Where the runbook stands: every step's state from the journal, and its history.")
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let c = try await PGConnection.connect(try global.config("V2"), logger: global.makeLogger())
        defer { Task { await c.close() } }
        let history = try await RunbookJournal(state: MigrationState(schema: CocoaTrackMapping.stateSchema)).history(c)
        global.console.result(CutoverView.status(steps: CocoaTrackRunbook.steps, history: history), json: CutoverView.statusJSON(history))
    }
}

struct CutoverApproveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "approve", abstract: "Release a hold point (or confirm a step done by hand, such as the DNS switch).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The step: \(CocoaTrackRunbook.ids.joined(separator: ", ")).") var step: String

    func validate() throws {
        guard CocoaTrackRunbook.ids.contains(step) else { throw ValidationError("unknown step \(step); steps: \(CocoaTrackRunbook.ids.joined(separator: ", "))") }
    }

    func run() async throws {
        let c = try await PGConnection.connect(try global.config("V2"), logger: global.makeLogger())
        defer { Task { await c.close() } }
        let journal = RunbookJournal(state: MigrationState(schema: CocoaTrackMapping.stateSchema))
        try await journal.prepare(c)
        try await journal.record(c, step: step, event: "approved", detail: "approved by the operator")
        global.console.json(["event": "approved", "step": step])
        global.console.result("approved \(step); continue with: \(ToolCommand.line("cutover run"))")
    }
}

struct CutoverMessagesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "messages",
        abstract: "The plan's user-facing texts (one week before, banner, 24 hours before, Maintenance Extended, rollback email) with the window's real times.")
    @Option(name: .customLong("window-start"), help: "T-0, e.g. 2026-12-05T02:00Z.") var windowStart: String
    @Option(name: .customLong("status-url"), help: "The public status page.") var statusURL: String = "https://status.cocoatrack.com"
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard CutoverPlanCommand.parseTime(windowStart) != nil else { throw ValidationError("--window-start takes a UTC time such as 2026-12-05T02:00Z") }
    }

    func run() async throws {
        let messages = CocoaTrackMessages.all(windowStart: CutoverPlanCommand.parseTime(windowStart)!, statusURL: statusURL)
        if global.json {
            global.console.json(["messages": messages.map { ["id": $0.id, "send_at": $0.when, "channel": $0.channel, "subject": $0.subject, "body": $0.body] }])
            return
        }
        for m in messages {
            global.console.result("## \(m.id) — \(m.channel), send \(m.when)\n\nSubject: \(m.subject)\n\n\(m.body)\n")
        }
    }
}

struct CutoverPostmortemCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "postmortem",
        abstract: "The post-mortem of a runbook attempt: timeline against the plan, decisions and their evidence, verification, rollback and its RTO, messages sent.",
        discussion: """
            Assembled from what V2's migration schema recorded (and V1's write-back journal after a Scenario 2, when --v1 \
            is reachable). Without --export, prints the Markdown on stdout; --json prints report.json's object. The plan's \
            T-0 is --window-start, else the actual start of the migration step. Exit 0 written; 1 no runbook journal in V2; \
            2 no such --attempt.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: "The runbook attempt (default: the latest).") var attempt: Int?
    @Option(help: "Write report.json, report.md and report.html into this directory.") var export: String?
    @Option(name: .customLong("window-start"), help: "T-0 of the planned window, e.g. 2026-12-05T02:00Z (default: the actual start of migrate).") var windowStart: String?
    @Option(name: .customLong("window-hours"), help: "Length of the window.") var windowHours: Double = 4
    @Option(help: "Rehearsal measurements (JSON) for the planned durations.") var rehearsal: String = "rehearsal-report/rehearsal.json"

    func validate() throws {
        if let attempt, attempt < 1 { throw ValidationError("--attempt takes a positive attempt number") }
        if let windowStart, CutoverPlanCommand.parseTime(windowStart) == nil { throw ValidationError("--window-start takes a UTC time such as 2026-12-05T02:00Z") }
        guard TimeFlag.positive(windowHours) else { throw ValidationError("--window-hours takes a positive number of hours; got \(windowHours)") }
    }

    func run() async throws {
        let logger = global.makeLogger()
        let v2 = try await PGConnection.connect(try global.config("V2"), logger: logger)
        defer { Task { await v2.close() } }
        var v1: PGConnection?
        if let v1Config = try? global.config("V1") { v1 = try? await PGConnection.connect(v1Config, logger: logger) }
        defer { if let v1 { Task { await v1.close() } } }
        var inputs = Postmortem.PlanInputs(windowStart: windowStart.flatMap(CutoverPlanCommand.parseTime), windowHours: windowHours,
                                           rehearsal: try? RehearsalMeasurements.load(rehearsal))
        if let (rows, bytes) = try? await Inventory.recorded(v2, state: MigrationState(schema: CocoaTrackMapping.stateSchema)) {
            inputs.productionRows = rows
            inputs.productionBytes = bytes
        }
        let postmortem = Postmortem(journal: RunbookJournal(state: MigrationState(schema: CocoaTrackMapping.stateSchema)), steps: CocoaTrackRunbook.steps,
                                    toolVersion: CocoaTrackMigrate.version)
        let report = try await postmortem.load(v2: v2, v1: v1, attempt: attempt, plan: inputs)
        let console = global.console
        console.info(report.summaryLine)
        if let export { console.info("wrote " + (try report.export(to: export)).joined(separator: ", ")) }
        if console.json { console.json(text: report.json(pretty: false)) } else if export == nil { console.result(report.markdown()) }
    }
}
