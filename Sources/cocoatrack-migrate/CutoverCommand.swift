import ArgumentParser
import CocoaTrack
import Foundation
import MigrationEngine
import Logging

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
            if let (n, b) = try await Self.recordedInventory(v2) {
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
        let plan = CutoverPlan.make(windowStart: start, windowHours: windowHours, productionRows: rows, productionBytes: bytes, rehearsal: measurements)
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

    /// Rows and bytes of the latest V1 inventory recorded in V2 (`inventory`), if any.
    static func recordedInventory(_ v2: PGConnection) async throws -> (Int64, Int64?)? {
        let state = MigrationState(schema: CocoaTrackMapping.stateSchema)
        guard try await v2.scalar("SELECT to_regclass($1) IS NOT NULL", [state.t("inventories")]) == "t",
              let r = try await v2.query("""
                  SELECT sum(rows), sum(bytes) FROM \(state.t("inventories"))
                  WHERE side = 'V1' AND inventory_id = (SELECT inventory_id FROM \(state.t("inventories")) WHERE side = 'V1' ORDER BY taken_at DESC LIMIT 1)
                  """).rows.first, let n = r[0].flatMap({ Int64($0) }) else { return nil }
        return (n, r[1].flatMap { Int64($0) })
    }

    static func duration(_ s: Double) -> String {
        s < 120 ? "\(Int(s.rounded())) s" : (s < 7200 ? "\(Int((s / 60).rounded())) min" : String(format: "%.1f h", s / 3600))
    }
}

/// The runbook's steps, in the plan's order (T-24h … T+4h).
enum CutoverSteps {
    static let all: [RunbookStep] = [
        .init(id: "final_backup", title: "Final V1 backup (T-24h)", destructive: false),
        .init(id: "read_only", title: "Enable V1 read-only mode (T-1h)", destructive: true),
        .init(id: "v2_snapshot", title: "V2 snapshot before migration (T-1h)", destructive: false),
        .init(id: "migrate", title: "Migration (T-0)", destructive: false),
        .init(id: "verify", title: "Integrity verification (T+1h)", destructive: false),
        .init(id: "decide", title: "Decision point: proceed or rollback (T+2h)", destructive: false),
        .init(id: "arm_capture", title: "Arm change capture (before V2 takes writes)", destructive: false),
        .init(id: "dns_switch", title: "DNS switch to V2 (T+3h)", destructive: true),
        .init(id: "confirm", title: "Monitor and confirm success (T+4h)", destructive: false),
    ]
    static var ids: [String] { all.map(\.id) }
}

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
    @Option(name: .customLong("pause-before"), help: "Stop before this step until `cutover approve STEP` (repeatable): \(CutoverSteps.ids.joined(separator: ", ")).")
    var pauseBefore: [String] = []
    @Option(name: .customLong("reports"), help: "Where verification reports and snapshots go.") var reports: String = "cutover-reports"
    @Option(name: .customLong("status-every"), help: "Seconds between status updates to the webhook (the plan: every 30 minutes).") var statusEvery: Double = 1800
    @Option(name: .customLong("app-role"), help: "The V1 role the application connects as.") var appRoleFlag: String?
    @Flag(name: .customLong("allow-writable-v1"), help: "Rehearsals only: let migrate run while V1 is writable.") var allowWritableV1 = false
    @Flag(name: .customLong("new-attempt"), help: "Start the runbook over (after a rollback): a new attempt in the journal.") var newAttempt = false

    func validate() throws {
        for p in pauseBefore where !CutoverSteps.ids.contains(p) {
            throw ValidationError("unknown step \(p); steps: \(CutoverSteps.ids.joined(separator: ", "))")
        }
        guard TimeFlag.positive(statusEvery) else { throw ValidationError("--status-every takes a positive number of seconds; got \(statusEvery)") }
    }

    func run() async throws {
        let settings = try global.settings()
        let logger = global.makeLogger()
        let v1Config = try global.config("V1")
        let v2Config = try global.config("V2")
        let appRole = try global.appRole(appRoleFlag)
        let state = MigrationState(schema: CocoaTrackMapping.stateSchema)
        let journal = RunbookJournal(state: state)
        let meta = try await PGConnection.connect(v2Config, logger: logger)
        defer { Task { await meta.close() } }
        try await journal.prepare(meta)
        let v1Probe = try await PGConnection.connect(v1Config, logger: logger)
        try await state.checkIdentity(meta, side: "V1", of: v1Probe)
        await v1Probe.close()
        try await state.checkIdentity(meta, side: "V2", of: meta)

        let webhook = settings.file?["webhook_url"]?.string
        let hooks = settings.file?.children(of: "hooks").compactMapValues { $0.string } ?? [:]
        func notify(_ text: String) async {
            Out.info(text)
            guard let webhook else { return }
            let error = await Webhook.post(webhook, text: "[cutover] " + text)
            if let error { Out.info("webhook: \(error)") }
            try? await journal.recordMessage(meta, channel: "webhook", text: "[cutover] " + text, error: error.map { "\($0)" })
        }
        let current = CurrentStep()
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(statusEvery))
                if Task.isCancelled { break }
                if let (step, since) = current.get() {
                    await notify("status: \(step) running since \(since.formatted(.iso8601)) (\(Int(Date().timeIntervalSince(since) / 60)) min)")
                }
            }
        }
        defer { ticker.cancel() }

        if newAttempt {
            let n = try await journal.startNewAttempt(meta)
            Out.info("runbook attempt \(n)")
        } else if try await journal.rolledBack(meta) {
            throw MigrationError(.refused, "this cutover attempt was rolled back; a new one starts from the beginning with `cutover run --new-attempt` (after clearing the cause). Nothing was done.")
        }
        var machine = RunbookMachine(steps: CutoverSteps.all, pauseBefore: Set(pauseBefore).union(try await journal.holdPoints(meta)))
        var action = machine.handle(.start(done: try await journal.doneSteps(meta), approvals: try await journal.approvals(meta)))
        while true {
            switch action {
            case .finished:
                try await journal.record(meta, step: "runbook", event: "finished", detail: "every step done")
                await notify("runbook finished: every step done, V2 is live")
                Out.result("cutover complete.")
                return
            case .pause(let step, let reason):
                try await journal.record(meta, step: step, event: "paused", detail: reason)
                await notify("paused before \(step): \(reason)")
                Out.result("paused before \(step): \(reason). Continue with: \(ToolCommand.line("cutover approve \(step)")) && \(ToolCommand.line("cutover run"))")
                return
            case .stop(let step, let message):
                await notify("step \(step) FAILED: \(message)")
                throw MigrationError(.subprocessFailed, "step \(step) failed: \(message). Fix the cause and run `cutover run` again: it retries \(step).")
            case .rollback(let scenario, let reason):
                try await journal.record(meta, step: "rollback", event: "rollback", detail: "Scenario \(scenario): \(reason)")
                await notify("ROLLBACK, Scenario \(scenario): \(reason)")
                try await rollback(scenario: scenario, v1Config: v1Config, v2Config: v2Config, appRole: appRole, logger: logger, settings: settings,
                                   journal: journal, meta: meta)
                try await journal.record(meta, step: "rollback", event: "finished", detail: "Scenario \(scenario) done: V1 is the system of record again")
                await notify("rollback (Scenario \(scenario)) done: V1 writable again, V2 cleared")
                throw MigrationError(.checkFailed, "rolled back (Scenario \(scenario)): \(reason). V1 is writable again; V2 was cleared after a snapshot.")
            case .run(let step):
                let title = CutoverSteps.all.first { $0.id == step }!.title
                current.set(step)
                try await journal.record(meta, step: step, event: "started", detail: title)
                await notify("started \(title)")
                do {
                    if let before = hooks["before_\(step)"] { try await runHook(before, step: step) }
                    let outcome = try await perform(step, v1Config: v1Config, v2Config: v2Config, appRole: appRole, logger: logger,
                                                    settings: settings, hooks: hooks, approvals: try await journal.approvals(meta))
                    if case .needsApproval(let why) = outcome {
                        current.clear()
                        action = .pause(before: step, reason: why)
                        continue
                    }
                    if let after = hooks["after_\(step)"] { try await runHook(after, step: step) }
                    current.clear()
                    switch outcome {
                    case .decided(let decision, let evidence):
                        try await journal.record(meta, step: step, event: "decided", detail: decision, evidence: evidence)
                        await notify("decision at \(step): \(decision)")
                        if decision == "continue" || decision == "investigate" || (decision == "inconclusive" && machine.approvals.contains(step)) {
                            try await journal.record(meta, step: step, event: "succeeded", detail: decision, evidence: evidence)
                        }
                        action = machine.handle(.decided(step, action: decision))
                    case .done(let detail, let evidence):
                        try await journal.record(meta, step: step, event: "succeeded", detail: detail, evidence: evidence)
                        await notify("done \(title): \(detail)")
                        action = machine.handle(.succeeded(step))
                    case .needsApproval:
                        break
                    }
                } catch let e as MigrationError where e.code == .interrupted || Task.isCancelled {
                    current.clear()
                    try? await journal.record(meta, step: step, event: "failed", detail: "interrupted")
                    throw MigrationError(.interrupted, "interrupted during \(step); `cutover run` resumes it.")
                } catch {
                    current.clear()
                    try await journal.record(meta, step: step, event: "failed", detail: "\(error)")
                    action = machine.handle(.failed(step, message: "\(error)"))
                }
            }
        }
    }

    enum Outcome {
        /// What was done; evidence: a JSON object journaled with it (`report_dir`, `files`, figures).
        case done(String, evidence: String? = nil)
        case decided(String, evidence: String)
        case needsApproval(String)
    }

    func runHook(_ command: String, step: String) async throws {
        var env = ProcessInfo.processInfo.environment
        // The HTTP secrets the tool uses in process stay out of the hook's environment.
        for name in WebClient.secretVariables { env.removeValue(forKey: name) }
        env["CUTOVER_STEP"] = step
        let out = try await Subprocess.run("/bin/sh", ["-c", command], environment: env, check: false)
        guard out.status == 0 else {
            throw MigrationError(.subprocessFailed, "hook for \(step) exited \(out.status): \(out.stderr.suffix(300))")
        }
    }

    func perform(_ step: String, v1Config: ConnectionConfig, v2Config: ConnectionConfig, appRole: String, logger: Logger,
                 settings: Settings, hooks: [String: String], approvals: Set<String>) async throws -> Outcome {
        switch step {
        case "final_backup", "v2_snapshot":
            let side = step == "final_backup" ? "v1" : "v2"
            let files = try await takeSnapshot(config: side == "v1" ? v1Config : v2Config, side: side, label: side == "v1" ? "final" : "pre_migration",
                                               dir: reports + "/snapshots", upload: nil)
            return .done(files.map { "\(($0.path as NSString).lastPathComponent) sha256 \($0.sha256.prefix(12))…" }.joined(separator: ", "),
                         evidence: RunbookJournal.json(["files": files.map { URL(fileURLWithPath: $0.path).standardizedFileURL.path }]))
        case "read_only":
            let mode = ReadOnlyMode(source: v1Config, appRole: appRole, schemas: ["public"], logger: logger)
            if try await mode.status().enabled { return .done("already read-only for \(appRole)") }
            try confirm("revoke every write of \(appRole) on V1 and end its sessions")
            let r = try await mode.enable()
            return .done("\(r.revoked.count) write privileges revoked, \(r.probed) write probes refused")
        case "migrate":
            let v1 = try await PGConnection.connect(v1Config, logger: logger)
            let context = try await CocoaTrackMapping.context(v1: v1)
            await v1.close()
            var options = MigrateOptions()
            options.allowWritableSource = allowWritableV1
            options.toolVersion = CocoaTrackMigrate.version
            let renderer = ProgressRenderer(json: false)
            defer { renderer.finish() }
            let summary = try await Migrator(plan: CocoaTrackMapping.plan(context: context, appRole: appRole), source: v1Config, target: v2Config,
                                             options: options, logger: logger, events: { renderer.handle($0) }).run()
            let written = summary.loads.reduce(Int64(0)) { $0 + $1.written }
            // A V1 row several loads read (a user: auth.users, identities, profiles) is rejected by each: count it once.
            let c = try await PGConnection.connect(v2Config, logger: logger)
            let ids = try? await MigrationState(schema: CocoaTrackMapping.stateSchema).rejectedIDs(c)
            await c.close()
            let distinct = ids.map { $0.values.reduce(0) { $0 + $1.count } } ?? Int(summary.loads.reduce(Int64(0)) { $0 + $1.rejected })
            return .done("\(fmt(written)) rows written, \(fmt(Int64(distinct))) V1 rows rejected, in \(Int(summary.seconds)) s")
        case "verify":
            let verifier = try await makeVerifier(global) { $0.maxRejectShare = settings.thresholds.rowCountMismatchPct / 100 }
            let report = try await verifier.run()
            _ = try report.export(to: reports + "/verify")
            return .done("\(report.outcome): " + report.checks.map { "\($0.name) \($0.status)" }.joined(separator: ", ") + "; report in \(reports)/verify",
                         evidence: RunbookJournal.json(["verification_id": report.verificationId, "outcome": report.outcome,
                                                        "report_dir": URL(fileURLWithPath: reports + "/verify").standardizedFileURL.path]))
        case "decide", "confirm":
            let v2 = try await PGConnection.connect(v2Config, logger: logger)
            defer { Task { await v2.close() } }
            let verification = try await Verifier.latest(v2, stateSchema: CocoaTrackMapping.stateSchema)
            let phase: DecisionInputs.Phase = step == "decide" ? .beforeSwitch : .afterSwitch
            let decision = DecisionMatrix.plan(settings.thresholds).evaluate(DecisionInputs(phase: phase, verification: verification, monitoring: nil, flags: []))
            let state = MigrationState(schema: CocoaTrackMapping.stateSchema)
            try await v2.query("INSERT INTO \(state.t("decisions")) (action, phase, flags, verification_id, os_user, report) VALUES ($1, $2, '{}', $3, $4, $5::jsonb)",
                               [decision.action, decision.phase, decision.verificationId, ProcessInfo.processInfo.environment["USER"], decision.json(pretty: false)])
            for v in decision.rules { Out.info("  \(pad(v.rule, 26)) \(pad(v.verdict, 15)) \(v.evidence)") }
            return .decided(decision.action, evidence: decision.json(pretty: false))
        case "arm_capture":
            let verifier = try await makeVerifier(global)
            let c = try await PGConnection.connect(v2Config, logger: logger)
            let captureTable = MigrationState(schema: CocoaTrackMapping.stateSchema).t("capture")
            var armed = try await c.scalar("SELECT to_regclass($1) IS NOT NULL", [captureTable]) == "t"
            if armed { armed = try await c.scalar("SELECT count(*) > 0 FROM \(captureTable)") == "t" }
            await c.close()
            if armed { return .done("already armed") }
            let r = try await verifier.arm()
            return .done("cutover baseline of \(r.rows) rows")
        case "dns_switch":
            if let hook = hooks["dns_switch"] {
                try await runHook(hook, step: step)
                return .done("DNS switch hook succeeded")
            }
            if approvals.contains("dns_switch") { return .done("DNS switched by the operator (approved)") }
            return .needsApproval("no hooks.dns_switch configured: switch DNS to V2 by hand, then `cutover approve dns_switch`")
        default:
            throw MigrationError(.internal, "unknown step \(step)")
        }
    }

    func confirm(_ what: String) throws {
        try Confirm.yes(what, yes: global.yes, refusal: "\(what): pass --yes (or run on a terminal and confirm). Nothing was changed.")
    }

    func rollback(scenario: Int, v1Config: ConnectionConfig, v2Config: ConnectionConfig, appRole: String, logger: Logger, settings: Settings,
                  journal: RunbookJournal, meta: PGConnection) async throws {
        /// Each step of the scenario journaled as `rollback.ID` (started, then succeeded with its figures, or failed).
        func journaled(_ id: String, _ title: String, _ body: () async throws -> (String, [String: Any])) async throws {
            try await journal.record(meta, step: "rollback.\(id)", event: "started", detail: title)
            do {
                let (detail, figures) = try await body()
                try await journal.record(meta, step: "rollback.\(id)", event: "succeeded", detail: detail, evidence: RunbookJournal.json(figures))
            } catch {
                try? await journal.record(meta, step: "rollback.\(id)", event: "failed", detail: "\(error)")
                throw error
            }
        }
        if scenario == 2 {
            try confirm("Scenario 2: write V2's changes since cutover back into V1")
            try await journaled("snapshot_v1", "V1 snapshot before the write-back") {
                let files = try await takeSnapshot(config: v1Config, side: "v1", label: "pre_sync", dir: reports + "/snapshots", upload: nil)
                return ("V1 snapshot taken", ["files": files.map { URL(fileURLWithPath: $0.path).standardizedFileURL.path }])
            }
            try await journaled("sync_to_v1", "Write V2's changes back to V1") {
                let report = try await ReverseSync(verifier: try await makeVerifier(global), dryRun: false).run()
                Out.info("synced \(report.total) rows to V1; \(report.conflicts.count) conflicts (data-loss-report lists them)")
                return ("synced \(report.total) rows to V1; \(report.conflicts.count) conflicts",
                        ["sync_id": report.syncId, "total": report.total, "conflicts": report.conflicts.count, "applied": report.applied])
            }
        }
        try confirm("Scenario \(scenario): clear the migrated data from V2")
        try await journaled("snapshot_v2", "V2 snapshot before clearing") {
            let files = try await takeSnapshot(config: v2Config, side: "v2", label: "pre_clear", dir: reports + "/snapshots", upload: nil)
            return ("V2 snapshot taken", ["files": files.map { URL(fileURLWithPath: $0.path).standardizedFileURL.path }])
        }
        try await journaled("clear_v2", "Clear the migrated data from V2") {
            let cleared = try await ClearTarget(plan: CocoaTrackMapping.plan(context: .init()), target: v2Config, logger: logger).run(toolVersion: CocoaTrackMigrate.version)
            Out.info("V2 cleared: \(cleared.remaining) migrated rows remain")
            return ("V2 cleared: \(cleared.remaining) migrated rows remain", ["remaining": cleared.remaining])
        }
        try await journaled("v1_writable", "V1 writable again") {
            let mode = ReadOnlyMode(source: v1Config, appRole: appRole, schemas: ["public"], logger: logger)
            if try await mode.status().enabled {
                let r = try await mode.disable()
                Out.info("V1 writable again for \(appRole): \(r.regranted) privileges re-granted")
                return ("V1 writable again for \(appRole): \(r.regranted) privileges re-granted", ["regranted": r.regranted, "app_role": appRole])
            }
            return ("V1 was already writable for \(appRole)", ["regranted": 0, "app_role": appRole])
        }
    }
}

/// The step being run, for status updates.
final class CurrentStep: @unchecked Sendable {
    private let lock = NSLock()
    private var value: (String, Date)?
    func set(_ step: String) { lock.withLock { value = (step, Date()) } }
    func clear() { lock.withLock { value = nil } }
    func get() -> (String, Date)? { lock.withLock { value } }
}

struct CutoverStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Where the runbook stands: every step's state from the journal, and its history.")
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let c = try await PGConnection.connect(try global.config("V2"), logger: global.makeLogger())
        defer { Task { await c.close() } }
        let history = try await RunbookJournal(state: MigrationState(schema: CocoaTrackMapping.stateSchema)).history(c)
        for step in CutoverSteps.all {
            let last = history.last { $0.step == step.id }
            let state = last.map { $0.event == "succeeded" ? "done" : ($0.event == "started" ? "running (or crashed)" : $0.event) } ?? "pending"
            Out.result(pad(step.id, 14) + pad(state, 22) + pad(last?.at ?? "", 34) + (last?.detail ?? step.title))
        }
        if let r = history.last(where: { $0.step == "rollback" }) { Out.result("rollback: \(r.event) at \(r.at): \(r.detail)") }
        if global.json {
            Out.json(["history": history.map { ["step": $0.step, "event": $0.event, "at": $0.at, "user": $0.user ?? "", "detail": $0.detail] }])
        }
    }
}

struct CutoverApproveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "approve", abstract: "Release a hold point (or confirm a step done by hand, such as the DNS switch).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The step: \(CutoverSteps.ids.joined(separator: ", ")).") var step: String

    func validate() throws {
        guard CutoverSteps.ids.contains(step) else { throw ValidationError("unknown step \(step); steps: \(CutoverSteps.ids.joined(separator: ", "))") }
    }

    func run() async throws {
        let c = try await PGConnection.connect(try global.config("V2"), logger: global.makeLogger())
        defer { Task { await c.close() } }
        let journal = RunbookJournal(state: MigrationState(schema: CocoaTrackMapping.stateSchema))
        try await journal.prepare(c)
        try await journal.record(c, step: step, event: "approved", detail: "approved by the operator")
        Out.result("approved \(step); continue with: \(ToolCommand.line("cutover run"))")
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
            Out.json(["messages": messages.map { ["id": $0.id, "send_at": $0.when, "channel": $0.channel, "subject": $0.subject, "body": $0.body] }])
            return
        }
        for m in messages {
            Out.result("## \(m.id) — \(m.channel), send \(m.when)\n\nSubject: \(m.subject)\n\n\(m.body)\n")
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
        if let (rows, bytes) = try? await CutoverPlanCommand.recordedInventory(v2) {
            inputs.productionRows = rows
            inputs.productionBytes = bytes
        }
        let postmortem = Postmortem(journal: RunbookJournal(state: MigrationState(schema: CocoaTrackMapping.stateSchema)), steps: CutoverSteps.all,
                                    planStepFor: ["confirm": "monitor"], toolVersion: CocoaTrackMigrate.version)
        let report = try await postmortem.load(v2: v2, v1: v1, attempt: attempt, plan: inputs)
        Out.info(report.summaryLine)
        if let export { Out.info("wrote " + (try report.export(to: export)).joined(separator: ", ")) }
        if global.json { print(report.json(pretty: false)) }
        else if export == nil { Out.result(report.markdown()) }
    }
}
