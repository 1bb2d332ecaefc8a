import ArgumentParser
import CocoaTrack
import Foundation
import MigrationEngine
import Rendering

struct CutoverRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Execute the runbook: backup, read-only, snapshot, migrate, verify, decision gate, capture, DNS switch, confirmation.",
        discussion: """
            Every step is journaled in V2's migration schema (who, when, outcome, evidence); after a crash or a stop, \
            `cutover run` resumes after the last completed step. Gates are on measured state, not on the clock. \
            Hold points: --pause-before STEP (kept by later runs), released by `cutover approve STEP`. Hooks from the settings file: \
            hooks.before_STEP / hooks.after_STEP (a non-zero exit fails the step), hooks.dns_switch (else the DNS switch \
            waits for `cutover approve dns_switch`). webhook_url gets a message for every step, decision and rollback, \
            and a status update every --status-every seconds. On a rollback decision: Scenario 1 before the DNS switch \
            (clear V2, V1 writable again), Scenario 2 after it (sync V2's changes to V1 first). Exit 0: finished or \
            paused at a hold point; 3: rolled back; 1: a step failed (run again to retry it).
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("pause-before"), help: "Stop before this step until `cutover approve STEP` (repeatable): \(CocoaTrackRunbook.ids.joined(separator: ", ")).")
    var pauseBefore: [String] = []
    @Option(name: .customLong("reports"), help: "Where verification reports and snapshots go.") var reports: String = "cutover-reports"
    @Option(name: .customLong("status-every"), help: "Seconds between status updates to the webhook (the plan: every 30 minutes).") var statusEvery: Double = 1800
    @Option(name: .customLong("app-role"), help: "The V1 role the application connects as.") var appRoleFlag: String?
    @Flag(name: .customLong("allow-writable-v1"), help: "Rehearsals only: let migrate run while V1 is writable.") var allowWritableV1 = false
    @Flag(name: .customLong("new-attempt"), help: "Start the runbook over (after a rollback): a new attempt in the journal.") var newAttempt = false

    func validate() throws {
        for p in pauseBefore where !CocoaTrackRunbook.ids.contains(p) {
            throw ValidationError("unknown step \(p); steps: \(CocoaTrackRunbook.ids.joined(separator: ", "))")
        }
        guard TimeFlag.positive(statusEvery) else { throw ValidationError("--status-every takes a positive number of seconds; got \(statusEvery)") }
    }

    func run() async throws {
        let settings = try global.settings()
        let logger = global.makeLogger()
        let v1Config = try global.config("V1")
        let v2Config = try global.config("V2")
        let state = MigrationState(schema: CocoaTrackMapping.stateSchema)
        let meta = try await PGConnection.connect(v2Config, logger: logger)
        defer { Task { await meta.close() } }

        let hooks = settings.file?.children(of: "hooks").compactMapValues { $0.string } ?? [:]
        let yes = global.yes
        let confirm: @Sendable (String) throws -> Void = { what in
            try Confirm.yes(what, yes: yes, refusal: "\(what): pass --yes (or run on a terminal and confirm). Nothing was changed.")
        }
        let console = global.console
        let progress = ProgressRenderer(json: false)  // the record of the steps is the journal; --json gets the outcome
        var performer = CocoaTrackCutover(v1: v1Config, v2: v2Config, appRole: try global.appRole(appRoleFlag), thresholds: settings.thresholds,
                                          reports: reports, toolVersion: CocoaTrackMigrate.version, logger: logger, confirm: confirm,
                                          events: { Self.render($0, progress: progress, console: console) })
        performer.allowWritableV1 = allowWritableV1
        performer.blobAccount = settings.blobAccount
        performer.dnsSwitchHook = hooks["dns_switch"]
        var runner = RunbookRunner(steps: CocoaTrackRunbook.steps, journal: RunbookJournal(state: state), performer: performer)
        runner.pauseBefore = Set(pauseBefore)
        runner.newAttempt = newAttempt
        runner.hooks = hooks
        runner.webhook = settings.file?["webhook_url"]?.string
        runner.statusEvery = statusEvery
        runner.confirm = confirm
        runner.notice = { console.info($0) }
        runner.recorded = { step, event, detail in console.json(["event": "step", "step": step, "state": event, "detail": detail]) }
        runner.checkIdentity = { meta in
            let v1Probe = try await PGConnection.connect(v1Config, logger: logger)
            do {
                try await state.checkIdentity(meta, side: "V1", of: v1Probe)
                await v1Probe.close()
            } catch {
                await v1Probe.close()
                throw error
            }
            try await state.checkIdentity(meta, side: "V2", of: meta)
        }
        switch try await runner.run(meta: meta) {
        case .finished:
            console.result("cutover complete.")
            console.json(["event": "cutover", "outcome": "finished"])
        case .paused(let step, let reason):
            console.json(["event": "cutover", "outcome": "paused", "step": step, "reason": reason])
            console.result("paused before \(step): \(reason). Continue with: \(ToolCommand.line("cutover approve \(step)")) && \(ToolCommand.line("cutover run"))")
        }
    }

    static func render(_ event: CocoaTrackCutover.Event, progress: ProgressRenderer, console: Console) {
        switch event {
        case .info(let text): console.info(text)
        case .snapshotStarted(let url, let dir): console.info("snapshot of \(url) into \(dir)…")
        case .snapshotTaken(let files): console.result(SafetyView.snapshot(files))
        case .migration(let e): progress.handle(e)
        case .migrationEnded: progress.finish()
        case .verification(let e): if let line = VerifyView.briefProgress(e) { console.info(line) }
        case .decision(let d): console.info(d.rules.map { "  \(pad($0.rule, 26)) \(pad($0.verdict, 15)) \($0.evidence)" })
        }
    }
}
