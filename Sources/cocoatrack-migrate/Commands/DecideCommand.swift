import ArgumentParser
import CocoaTrack
import Foundation
import MigrationEngine
import Rendering

struct DecideCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decide",
        abstract: "The plan's rollback decision matrix over the latest verification, monitoring samples and operator flags.",
        discussion: """
            Prints the action and every rule's verdict with its evidence, and records the decision in V2's migration \
            schema. Thresholds come from the settings file (thresholds.row_count_mismatch_pct, login_failure_pct, \
            performance_degradation_pct), else the plan's 1 %, 10 %, 50 %. Exit 0: continue or investigate; 3: rollback; \
            1: inconclusive (a signal a rule needs is missing: ask a person).
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("flag"), help: "An operator observation: \(DecisionMatrix.flags.joined(separator: ", ")). Repeatable.")
    var flags: [String] = []

    @Option(help: "before-switch or after-switch (default: after-switch once monitoring samples exist).")
    var phase: String?

    func validate() throws {
        for f in flags where !DecisionMatrix.flags.contains(f) {
            throw ValidationError("unknown --flag \(f); known: \(DecisionMatrix.flags.joined(separator: ", "))")
        }
        if let phase, !["before-switch", "after-switch"].contains(phase) { throw ValidationError("--phase takes before-switch or after-switch") }
    }

    func run() async throws {
        let settings = try global.settings()
        let v2 = try await PGConnection.connect(try global.config("V2"), logger: global.makeLogger())
        defer { Task { await v2.close() } }
        let state = MigrationState(schema: CocoaTrackMapping.stateSchema)
        let verification = try await Verifier.latest(v2, stateSchema: state.schema)
        let log = DecisionLog(state: state)
        let monitoring = try await log.latestSignals(v2)
        let resolvedPhase: DecisionInputs.Phase = phase.map { $0 == "after-switch" ? .afterSwitch : .beforeSwitch } ?? (monitoring == nil ? .beforeSwitch : .afterSwitch)
        let decision = DecisionMatrix.plan(settings.thresholds).evaluate(
            DecisionInputs(phase: resolvedPhase, verification: verification, monitoring: monitoring, flags: Set(flags)))
        if try await state.exists(v2) {
            try await state.create(v2)
            try await log.record(v2, decision)
        }
        if global.json { global.console.json(text: decision.json(pretty: false)) } else { global.console.result(CutoverView.decision(decision)) }
        if decision.isRollback {
            throw MigrationError(.checkFailed, "decision: \(decision.action.replacingOccurrences(of: "_", with: " ")). Before the DNS switch: Scenario 1 (rollback --clear-v2, read-only disable); after it: Scenario 2 (sync-v2-to-v1, then rollback --clear-v2).")
        }
        if decision.action == "inconclusive" {
            throw MigrationError(.configuration, "decision inconclusive: a signal the matrix needs is missing (listed above). Ask a person, or supply it (verify-integrity, monitor, --flag).")
        }
    }
}
