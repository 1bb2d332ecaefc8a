import Foundation
import Logging
import MigrationEngine

extension CocoaTrackMapping {
    /// The one verifier of CocoaTrack's migration (verify, capture, assess, sync, the runbook):
    /// the mapping with V1's context, the dashboard's business totals, both sides' configurations.
    public static func verifier(v1: ConnectionConfig, v2: ConnectionConfig, blobAccount: String, toolVersion: String, logger: Logger,
                                configure: (inout VerifyOptions) throws -> Void = { _ in },
                                events: @escaping @Sendable (VerifyEvent) -> Void) async throws -> Verifier {
        let c = try await PGConnection.connect(v1, logger: logger)
        let context = try await CocoaTrackMapping.context(v1: c)
        await c.close()
        var options = VerifyOptions()
        options.toolVersion = toolVersion
        try configure(&options)
        return Verifier(plan: CocoaTrackMapping.plan(context: context, blobAccount: blobAccount), businessChecks: CocoaTrackBusinessTotals.checks,
                        source: v1, target: v2, options: options, logger: logger, events: events)
    }
}

extension CocoaTrackMapping {
    /// The one migrator of CocoaTrack's V1 into V2 (migrate, the runbook): the mapping with V1's context.
    public static func migrator(v1: ConnectionConfig, v2: ConnectionConfig, appRole: String, options: MigrateOptions, logger: Logger,
                                events: @escaping @Sendable (MigrationEvent) -> Void) async throws -> Migrator {
        let c = try await PGConnection.connect(v1, logger: logger)
        let context = try await CocoaTrackMapping.context(v1: c)
        await c.close()
        return Migrator(plan: CocoaTrackMapping.plan(context: context, appRole: appRole), source: v1, target: v2, options: options, logger: logger, events: events)
    }
}

extension CocoaTrackSchema {
    /// A snapshot of V1 or V2 with the plan's parts and names.
    public static func snapshot(_ config: ConnectionConfig, side: String, label: String, dir: String, upload: String?) async throws -> [Snapshot.File] {
        try await Snapshot.take(config, parts: snapshotParts(side: side, label: label), directory: dir, upload: upload)
    }
}

/// How CocoaTrack's runbook (``CocoaTrackRunbook/steps``) performs each step and each rollback
/// scenario, from the tool's own operations. The order, the gates, the journal and the messages
/// are ``RunbookRunner``'s.
public struct CocoaTrackCutover: RunbookPerformer {
    /// What the steps report while they run; the executable renders it.
    public enum Event: Sendable {
        case info(String)
        case snapshotStarted(url: String, dir: String)
        case snapshotTaken([Snapshot.File])
        case migration(MigrationEvent)
        case migrationEnded
        case verification(VerifyEvent)
        case decision(Decision)
    }

    public var v1: ConnectionConfig
    public var v2: ConnectionConfig
    public var appRole: String
    public var thresholds: DecisionThresholds
    /// Where verification reports and snapshots go.
    public var reports: String
    public var allowWritableV1 = false
    public var blobAccount = CocoaTrackMapping.defaultBlobAccount
    public var toolVersion: String
    /// hooks.dns_switch performs the DNS switch when set.
    public var dnsSwitchHook: String?
    public var logger: Logger
    /// Asks a person (or `--yes`) before a destructive step; throws to refuse.
    public var confirm: @Sendable (String) throws -> Void
    public var events: @Sendable (Event) -> Void

    public init(v1: ConnectionConfig, v2: ConnectionConfig, appRole: String, thresholds: DecisionThresholds, reports: String, toolVersion: String,
                logger: Logger, confirm: @escaping @Sendable (String) throws -> Void, events: @escaping @Sendable (Event) -> Void) {
        self.v1 = v1
        self.v2 = v2
        self.appRole = appRole
        self.thresholds = thresholds
        self.reports = reports
        self.toolVersion = toolVersion
        self.logger = logger
        self.confirm = confirm
        self.events = events
    }

    var state: MigrationState { MigrationState(schema: CocoaTrackMapping.stateSchema) }

    func verifier(_ configure: (inout VerifyOptions) throws -> Void = { _ in }) async throws -> Verifier {
        let events = events
        return try await CocoaTrackMapping.verifier(v1: v1, v2: v2, blobAccount: blobAccount, toolVersion: toolVersion, logger: logger,
                                                    configure: configure, events: { events(.verification($0)) })
    }

    func snapshot(_ side: String, label: String) async throws -> [Snapshot.File] {
        let config = side == "v1" ? v1 : v2
        events(.snapshotStarted(url: config.redactedURL, dir: reports + "/snapshots"))
        let files = try await CocoaTrackSchema.snapshot(config, side: side, label: label, dir: reports + "/snapshots", upload: nil)
        events(.snapshotTaken(files))
        return files
    }

    static func paths(_ files: [Snapshot.File]) -> String {
        RunbookJournal.json(["files": files.map { URL(fileURLWithPath: $0.path).standardizedFileURL.path }])
    }

    public func perform(_ step: RunbookStep, approvals: Set<String>) async throws -> StepOutcome {
        switch step.id {
        case "final_backup", "v2_snapshot":
            let side = step.id == "final_backup" ? "v1" : "v2"
            let files = try await snapshot(side, label: side == "v1" ? "final" : "pre_migration")
            return .done(files.map { "\(($0.path as NSString).lastPathComponent) sha256 \($0.sha256.prefix(12))…" }.joined(separator: ", "), evidence: Self.paths(files))
        case "read_only":
            let mode = ReadOnlyMode(source: v1, appRole: appRole, schemas: ["public"], logger: logger)
            if try await mode.status().enabled { return .done("already read-only for \(appRole)") }
            try confirm("revoke every write of \(appRole) on V1 and end its sessions")
            let r = try await mode.enable()
            return .done("\(r.revoked.count) write privileges revoked, \(r.probed) write probes refused")
        case "migrate":
            var options = MigrateOptions()
            options.allowWritableSource = allowWritableV1
            options.toolVersion = toolVersion
            let events = events
            defer { events(.migrationEnded) }
            let summary = try await CocoaTrackMapping.migrator(v1: v1, v2: v2, appRole: appRole, options: options, logger: logger,
                                                               events: { events(.migration($0)) }).run()
            let written = summary.loads.reduce(Int64(0)) { $0 + $1.written }
            // A V1 row several loads read (a user: auth.users, identities, profiles) is rejected by each: count it once.
            let c = try await PGConnection.connect(v2, logger: logger)
            let ids = try? await state.rejectedIDs(c)
            await c.close()
            let distinct = ids.map { $0.values.reduce(0) { $0 + $1.count } } ?? Int(summary.loads.reduce(Int64(0)) { $0 + $1.rejected })
            return .done("\(ReportHTML.number(written)) rows written, \(ReportHTML.number(distinct)) V1 rows rejected, in \(Int(summary.seconds)) s")
        case "verify":
            let share = thresholds.rowCountMismatchPct / 100
            let report = try await verifier { $0.maxRejectShare = share }.run()
            _ = try report.export(to: reports + "/verify")
            return .done("\(report.outcome): " + report.checks.map { "\($0.name) \($0.status)" }.joined(separator: ", ") + "; report in \(reports)/verify",
                         evidence: RunbookJournal.json(["verification_id": report.verificationId, "outcome": report.outcome,
                                                        "report_dir": URL(fileURLWithPath: reports + "/verify").standardizedFileURL.path]))
        case "decide", "confirm":
            let c = try await PGConnection.connect(v2, logger: logger)
            defer { Task { await c.close() } }
            let verification = try await Verifier.latest(c, stateSchema: state.schema)
            let phase: DecisionInputs.Phase = step.id == "decide" ? .beforeSwitch : .afterSwitch
            let decision = DecisionMatrix.plan(thresholds).evaluate(DecisionInputs(phase: phase, verification: verification, monitoring: nil, flags: []))
            try await DecisionLog(state: state).record(c, decision)
            events(.decision(decision))
            return .decided(decision.action, evidence: decision.json(pretty: false))
        case "arm_capture":
            let verifier = try await verifier()
            let c = try await PGConnection.connect(v2, logger: logger)
            let armed = try await CaptureStatus.armed(c, state: state) != nil
            await c.close()
            if armed { return .done("already armed") }
            let r = try await verifier.arm()
            return .done("cutover baseline of \(r.rows) rows")
        case "dns_switch":
            if let hook = dnsSwitchHook {
                try await RunbookRunner.runHook(hook, step: step.id)
                return .done("DNS switch hook succeeded")
            }
            if approvals.contains("dns_switch") { return .done("DNS switched by the operator (approved)") }
            return .needsApproval("no hooks.dns_switch configured: switch DNS to V2 by hand, then `cutover approve dns_switch`")
        default:
            throw MigrationError(.internal, "unknown step \(step.id)")
        }
    }

    public func rollbackSteps(scenario: Int) -> [RollbackStep] {
        let me = self
        var steps: [RollbackStep] = []
        if scenario == 2 {
            steps.append(.init(id: "snapshot_v1", title: "V1 snapshot before the write-back",
                               confirmation: "Scenario 2: write V2's changes since cutover back into V1") {
                ("V1 snapshot taken", Self.paths(try await me.snapshot("v1", label: "pre_sync")))
            })
            steps.append(.init(id: "sync_to_v1", title: "Write V2's changes back to V1") {
                let report = try await ReverseSync(verifier: try await me.verifier(), dryRun: false).run()
                me.events(.info("synced \(report.total) rows to V1; \(report.conflicts.count) conflicts (data-loss-report lists them)"))
                return ("synced \(report.total) rows to V1; \(report.conflicts.count) conflicts",
                        RunbookJournal.json(["sync_id": report.syncId, "total": report.total, "conflicts": report.conflicts.count, "applied": report.applied]))
            })
        }
        steps.append(.init(id: "snapshot_v2", title: "V2 snapshot before clearing", confirmation: "Scenario \(scenario): clear the migrated data from V2") {
            ("V2 snapshot taken", Self.paths(try await me.snapshot("v2", label: "pre_clear")))
        })
        steps.append(.init(id: "clear_v2", title: "Clear the migrated data from V2") {
            let cleared = try await ClearTarget(plan: CocoaTrackMapping.plan(context: .init()), target: me.v2, logger: me.logger).run(toolVersion: me.toolVersion)
            me.events(.info("V2 cleared: \(cleared.remaining) migrated rows remain"))
            return ("V2 cleared: \(cleared.remaining) migrated rows remain", RunbookJournal.json(["remaining": cleared.remaining]))
        })
        steps.append(.init(id: "v1_writable", title: "V1 writable again") {
            let mode = ReadOnlyMode(source: me.v1, appRole: me.appRole, schemas: ["public"], logger: me.logger)
            if try await mode.status().enabled {
                let r = try await mode.disable()
                me.events(.info("V1 writable again for \(me.appRole): \(r.regranted) privileges re-granted"))
                return ("V1 writable again for \(me.appRole): \(r.regranted) privileges re-granted", RunbookJournal.json(["regranted": r.regranted, "app_role": me.appRole]))
            }
            return ("V1 was already writable for \(me.appRole)", RunbookJournal.json(["regranted": 0, "app_role": me.appRole]))
        })
        return steps
    }
}
