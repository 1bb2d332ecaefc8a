import PGClient
import Foundation

/// What happened in one attempt of the cutover runbook, assembled from what the tool recorded
/// (the runbook journal, the decisions and their evidence, the verification, the rollback's steps,
/// the write-back journal, the messages sent): the content of `report.json` of `cutover
/// postmortem` (documented in the README; field names are stable, new fields may be added).
public struct PostmortemReport: Codable, Sendable {
    public static let formatName = "cocoatrack-migrate/postmortem/1"

    public var format = PostmortemReport.formatName
    public var generatedAt: String
    public var toolVersion: String
    public var v2: String
    public var attempt: Int
    /// Every attempt the journal holds.
    public var attempts: [Int]
    /// `finished`, `rolled_back`, `rolling_back`, `paused`, `failed` or `in_progress`.
    public var outcome: String
    public var startedAt: String
    public var endedAt: String
    public var window: Window
    public var steps: [Step]
    public var decisions: [DecisionRecord]
    public var verification: VerificationSummary?
    /// Reports and files the steps wrote (step, path).
    public var reports: [ReportLink]
    public var rollback: Rollback?
    public var messages: [Message]
    /// Every journal entry of the attempt, in order.
    public var journal: [JournalEntry]
    /// For people to fill: empty when generated.
    public var review: Review

    public struct Window: Codable, Sendable {
        /// T-0 of the plan the actual times are compared with.
        public var start: String
        /// `given` (--window-start) or `actual_t0` (the actual start of the step the plan puts at T-0).
        public var startSource: String
        public var end: String
        public var decisionPoint: String
    }

    public struct Run: Codable, Sendable {
        public var startedAt: String
        public var endedAt: String?
        public var seconds: Double?
        /// `succeeded`, `failed`, `decided`, `paused` or `running` (no outcome journaled: crashed or still running).
        public var outcome: String
        public var detail: String
    }

    public struct HoldPoint: Codable, Sendable {
        public var pausedAt: String
        public var reason: String
        /// Times the runbook stopped at this hold point.
        public var pauses: Int
        public var approvedAt: String?
        public var approvedBy: String?
    }

    public struct Step: Codable, Sendable {
        public var id: String
        public var title: String
        public var plannedAt: String?
        /// Offset from T-0 the plan gives the step, in seconds.
        public var plannedOffsetSeconds: Int?
        public var predictedSeconds: Double?
        public var startedAt: String?
        public var endedAt: String?
        /// Duration of the run that ended the step (its last start to its outcome).
        public var seconds: Double?
        /// Actual start less planned start, in seconds.
        public var startDeviationSeconds: Double?
        /// `succeeded`, `failed`, `decided`, `paused`, `running` or `pending` (never started).
        public var outcome: String
        public var detail: String
        public var runs: [Run]
        /// Starts after the first.
        public var retries: Int
        public var startedBy: String?
        public var holdPoint: HoldPoint?
    }

    public struct DecisionRecord: Codable, Sendable {
        public var step: String
        public var at: String
        public var phase: String
        public var action: String
        public var summary: String
        public var verificationId: String?
        /// The rules that fired, with their evidence.
        public var fired: [Decision.Verdict]
        /// Every rule's verdict and evidence.
        public var rules: [Decision.Verdict]
    }

    public struct TableSummary: Codable, Sendable {
        public var load: String
        public var v1Rows: Int64
        public var expectedV2Rows: Int64
        public var v2Rows: Int64
        public var rejectedTotal: Int64
        public var rejected: [String: Int64]
        public var unexplainedDifference: Int64
        public var missingInV2: Int64
        public var unexpectedInV2: Int64
        public var changed: Int64
        public var checksumV1: String
        public var checksumV2: String
        public var checksumsMatch: Bool
    }

    public struct BusinessSummary: Codable, Sendable {
        public var name: String
        public var status: String
        public var groupsV1: Int
        public var groupsV2: Int
        public var groupsDiffering: Int
    }

    public struct VerificationSummary: Codable, Sendable {
        public var verificationId: String
        public var outcome: String
        public var complete: Bool
        public var startedAt: String
        public var finishedAt: String?
        public var checks: [VerifyReport.Check]
        public var tables: [TableSummary]
        /// Rejected rows by reason, over every table.
        public var rejectsByReason: [String: Int64]
        public var foreignKeysChecked: Int
        public var foreignKeysWithOrphans: Int
        public var orphans: Int64
        public var businessTotals: [BusinessSummary]
        public var totalV1Rows: Int64
        public var totalV2Rows: Int64
        /// Distinct V1 rows rejected (a V1 row that two loads read counts once).
        public var totalRejected: Int64
    }

    public struct ReportLink: Codable, Sendable {
        public var step: String
        public var path: String
    }

    public struct RollbackStep: Codable, Sendable {
        public var id: String
        public var title: String
        public var startedAt: String?
        public var endedAt: String?
        public var seconds: Double?
        public var outcome: String
        public var detail: String
        /// The step's figures (scalar fields of its journaled evidence).
        public var figures: [String: String]
    }

    public struct WriteBack: Codable, Sendable {
        public var syncId: String?
        public var at: String?
        /// Rows written back to V1 per table and kind (inserted, updated, deleted).
        public var applied: [String: [String: Int64]]
        public var total: Int64
        public var conflicts: Int
        /// What V1 did not get back: the sync's conflicts (the data-loss report lists them with values).
        public var lost: [ChangeReport.Conflict]
    }

    public struct Rollback: Codable, Sendable {
        public var scenario: Int?
        public var reason: String
        /// When the decision to roll back was taken (the decision's journal entry).
        public var decidedAt: String
        public var startedAt: String
        public var finishedAt: String?
        public var steps: [RollbackStep]
        /// When V1 took writes again (the V1-writable step's end, else the rollback's end).
        public var v1WritableAt: String?
        /// From the decision until V1 was writable again: the RTO as it happened.
        public var rtoSeconds: Double?
        public var writeBack: WriteBack?
    }

    public struct Message: Codable, Sendable {
        public var at: String
        public var channel: String
        public var text: String
        public var delivered: Bool
        public var error: String?
    }

    public struct JournalEntry: Codable, Sendable {
        public var at: String
        public var step: String
        public var event: String
        public var user: String?
        public var detail: String
    }

    public struct Review: Codable, Sendable {
        public var rootCause = ""
        public var wentWell: [String] = []
        public var toChange: [String] = []
        public var actions: [String] = []
        public init() {}
    }

    public func json(pretty: Bool = true) -> String {
        ReportJSON.encode(self, pretty: pretty, nonFinite: true)
    }

    public static func decode(_ text: String) throws -> PostmortemReport {
        try ReportJSON.decode(PostmortemReport.self, from: Data(text.utf8))
    }
}

/// Reads the recorded state and assembles a ``PostmortemReport``.
public struct Postmortem: Sendable {
    /// The plan the actual times are compared with.
    public struct PlanInputs: Sendable {
        /// T-0; nil: the actual start of the step the plan puts at T-0.
        public var windowStart: Date?
        public var windowHours: Double
        public var productionRows: Int64?
        public var productionBytes: Int64?
        public var rehearsal: RehearsalMeasurements?
        public init(windowStart: Date? = nil, windowHours: Double = 4, productionRows: Int64? = nil, productionBytes: Int64? = nil,
                    rehearsal: RehearsalMeasurements? = nil) {
            self.windowStart = windowStart
            self.windowHours = windowHours
            self.productionRows = productionRows
            self.productionBytes = productionBytes
            self.rehearsal = rehearsal
        }
    }

    public let journal: RunbookJournal
    /// The runbook's steps, in order.
    public let steps: [RunbookStep]
    public let toolVersion: String

    public init(journal: RunbookJournal, steps: [RunbookStep], toolVersion: String) {
        self.journal = journal
        self.steps = steps
        self.toolVersion = toolVersion
    }

    struct Row {
        var step: String
        var event: String
        var at: String
        var epoch: Double
        var user: String?
        var detail: String
        var evidence: String?
    }

    /// The attempts the journal holds (empty: no journal).
    public func attempts(_ c: PGConnection) async throws -> [Int] {
        let table = journal.state.t("runbook_journal")
        guard try await journal.state.has(c, "runbook_journal") else { return [] }
        return try await c.query("SELECT DISTINCT attempt FROM \(table) ORDER BY attempt").rows.compactMap { $0[0].flatMap { Int($0) } }
    }

    /// The post-mortem of `attempt` (default: the latest). `v1`, when given, supplies the write-back
    /// journal of a Scenario 2 (kept in V1 by the sync).
    public func load(v2: PGConnection, v1: PGConnection?, attempt requested: Int?, plan inputs: PlanInputs, now: Date = Date()) async throws -> PostmortemReport {
        let all = try await attempts(v2)
        guard let latest = all.last else {
            throw MigrationError(.configuration, "no runbook journal in V2 (\(journal.state.t("runbook_journal")) is missing or empty): run `cutover run` or `rehearse` first.")
        }
        let attempt = requested ?? latest
        guard all.contains(attempt) else {
            throw MigrationError(.usage, "--attempt \(attempt): the journal holds attempt\(all.count == 1 ? "" : "s") \(all.map(String.init).joined(separator: ", ")).")
        }
        let rows = try await v2.query("""
            SELECT step, event, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), extract(epoch FROM at)::float8, os_user,
                   coalesce(detail, ''), evidence::text
            FROM \(journal.state.t("runbook_journal")) WHERE attempt = $1 ORDER BY entry_id
            """, [String(attempt)]).rows.map {
            Row(step: $0[0]!, event: $0[1]!, at: $0[2]!, epoch: Double($0[3]!) ?? 0, user: $0[4], detail: $0[5] ?? "", evidence: $0[6])
        }

        // The plan: T-0 given, else the actual start of the step the plan puts at T-0.
        let zeroStep = steps.first { $0.offsetHours == 0 }?.id
        let actualZero = rows.first { $0.step == zeroStep && $0.event == "started" }?.epoch
        let start = inputs.windowStart ?? Date(timeIntervalSince1970: actualZero ?? rows.first?.epoch ?? now.timeIntervalSince1970)
        let plan = CutoverPlan.make(timeline: steps, windowStart: start, windowHours: inputs.windowHours, productionRows: inputs.productionRows,
                                    productionBytes: inputs.productionBytes, rehearsal: inputs.rehearsal)
        let window = PostmortemReport.Window(start: plan.windowStart, startSource: inputs.windowStart == nil ? "actual_t0" : "given",
                                             end: plan.windowEnd, decisionPoint: plan.decisionPoint)

        // The runbook's steps, then any other step the journal names (not rollback or messages).
        var ids = steps.map(\.id)
        for r in rows where !ids.contains(r.step) && Self.isRunbookStep(r.step) { ids.append(r.step) }
        let stepReports = ids.map { id in
            step(id, title: steps.first { $0.id == id }?.label ?? id, rows: rows.filter { $0.step == id },
                 planned: plan.steps.first { $0.id == id })
        }

        let decisions = rows.filter { $0.event == "decided" }.map(decision)
        let verification = try await verificationSummary(v2, decisions: decisions, rows: rows)
        var reports: [PostmortemReport.ReportLink] = []
        for r in rows where r.event == "succeeded" {
            guard let object = Self.object(r.evidence) else { continue }
            if let dir = object["report_dir"] as? String { reports.append(.init(step: r.step, path: dir)) }
            for f in object["files"] as? [String] ?? [] { reports.append(.init(step: r.step, path: f)) }
        }
        let rollback = try await rollbackSummary(rows: rows, v1: v1)
        let messages = rows.filter { $0.step == "message" }.map { r -> PostmortemReport.Message in
            let o = Self.object(r.evidence) ?? [:]
            return .init(at: r.at, channel: o["channel"] as? String ?? "webhook", text: r.detail, delivered: o["delivered"] as? Bool ?? true, error: o["error"] as? String)
        }
        let outcome: String
        if rows.contains(where: { $0.step == "rollback" && $0.event == "finished" }) { outcome = "rolled_back" }
        else if rows.contains(where: { $0.step == "rollback" && $0.event == "rollback" }) { outcome = "rolling_back" }
        else if rows.contains(where: { $0.step == "runbook" && $0.event == "finished" }) { outcome = "finished" }
        else if let last = rows.last(where: { Self.isRunbookStep($0.step) && $0.event != "approved" }) {
            outcome = last.event == "paused" ? "paused" : (last.event == "failed" ? "failed" : "in_progress")
        } else { outcome = "in_progress" }

        return PostmortemReport(generatedAt: now.formatted(.iso8601), toolVersion: toolVersion, v2: v2.config.redactedURL, attempt: attempt, attempts: all,
                                outcome: outcome, startedAt: rows.first?.at ?? "", endedAt: rows.last?.at ?? "", window: window, steps: stepReports,
                                decisions: decisions, verification: verification, reports: reports, rollback: rollback, messages: messages,
                                journal: rows.map { .init(at: $0.at, step: $0.step, event: $0.event, user: $0.user, detail: $0.detail) },
                                review: .init())
    }

    static func isRunbookStep(_ step: String) -> Bool {
        step != "runbook" && step != "message" && step != "rollback" && !step.hasPrefix("rollback.")
    }

    static func object(_ json: String?) -> [String: Any]? {
        guard let json, let d = json.data(using: .utf8) else { return nil }
        return (try? JSONSerialization.jsonObject(with: d)) as? [String: Any]
    }

    static func seconds(_ a: Double, _ b: Double) -> Double { ((b - a) * 1000).rounded() / 1000 }

    /// The runs of a step: each `started` and the outcome that follows it.
    static func runs(_ rows: [Row]) -> [(start: Row, end: Row?)] {
        var out: [(Row, Row?)] = []
        for r in rows {
            if r.event == "started" { out.append((r, nil)); continue }
            guard ["succeeded", "failed", "decided"].contains(r.event), !out.isEmpty else { continue }
            // A decision followed by its success: the success ends the run.
            if out[out.count - 1].1 == nil || out[out.count - 1].1?.event == "decided" { out[out.count - 1].1 = r }
        }
        return out
    }

    func step(_ id: String, title: String, rows: [Row], planned: CutoverPlan.Step?) -> PostmortemReport.Step {
        let runs = Self.runs(rows)
        let runReports = runs.map { run -> PostmortemReport.Run in
            .init(startedAt: run.start.at, endedAt: run.end?.at, seconds: run.end.map { Self.seconds(run.start.epoch, $0.epoch) },
                  outcome: run.end?.event ?? "running", detail: run.end?.detail ?? run.start.detail)
        }
        let pauses = rows.filter { $0.event == "paused" }
        var hold: PostmortemReport.HoldPoint?
        if let first = pauses.first {
            let approval = rows.first { $0.event == "approved" && $0.epoch >= first.epoch }
            hold = .init(pausedAt: first.at, reason: first.detail, pauses: pauses.count, approvedAt: approval?.at, approvedBy: approval?.user)
        }
        let last = runs.last
        var outcome = last.map { $0.end?.event ?? "running" } ?? "pending"
        if let lastPause = pauses.last, lastPause.epoch > (last?.end?.epoch ?? last?.start.epoch ?? -1),
           !rows.contains(where: { $0.event == "approved" && $0.epoch >= lastPause.epoch }) { outcome = "paused" }
        let plannedDate = planned.flatMap { try? Date($0.at, strategy: .iso8601) }
        return .init(id: id, title: title, plannedAt: planned?.at, plannedOffsetSeconds: planned?.offset, predictedSeconds: planned?.predictedSeconds,
                     startedAt: runs.first?.start.at, endedAt: last?.end?.at,
                     seconds: last.flatMap { run in run.end.map { Self.seconds(run.start.epoch, $0.epoch) } },
                     startDeviationSeconds: plannedDate.flatMap { p in runs.first.map { Self.seconds(p.timeIntervalSince1970, $0.start.epoch) } },
                     outcome: outcome, detail: last?.end?.detail ?? last?.start.detail ?? pauses.last?.detail ?? "",
                     runs: runReports, retries: max(0, runs.count - 1), startedBy: runs.first?.start.user, holdPoint: hold)
    }

    func decision(_ r: Row) -> PostmortemReport.DecisionRecord {
        if let text = r.evidence, let decision = try? ReportJSON.decode(Decision.self, from: Data(text.utf8)) {
            return .init(step: r.step, at: r.at, phase: decision.phase, action: decision.action, summary: decision.summary, verificationId: decision.verificationId,
                         fired: decision.rules.filter { $0.verdict == "triggered" }, rules: decision.rules)
        }
        return .init(step: r.step, at: r.at, phase: "", action: r.detail, summary: r.detail, verificationId: nil, fired: [], rules: [])
    }

    /// The verification the gate decided on, else the latest within the attempt.
    func verificationSummary(_ c: PGConnection, decisions: [PostmortemReport.DecisionRecord], rows: [Row]) async throws -> PostmortemReport.VerificationSummary? {
        let table = journal.state.t("verifications")
        guard try await journal.state.has(c, "verifications") else { return nil }
        var text: String?
        if let id = decisions.compactMap(\.verificationId).first {
            text = try await c.scalar("SELECT report::text FROM \(table) WHERE verification_id = $1::uuid AND report IS NOT NULL", [id])
        }
        if text == nil, let first = rows.first, let last = rows.last {
            text = try await c.scalar("""
                SELECT report::text FROM \(table) WHERE report IS NOT NULL AND started_at BETWEEN to_timestamp($1) AND to_timestamp($2)
                ORDER BY started_at DESC LIMIT 1
                """, [String(first.epoch), String(last.epoch + 1)])
        }
        guard let text, let v = try? VerifyReport.decode(text) else { return nil }
        var byReason: [String: Int64] = [:]
        for t in v.tables { for (k, n) in t.rejected { byReason[k, default: 0] += n } }
        return .init(verificationId: v.verificationId, outcome: v.outcome, complete: v.complete, startedAt: v.startedAt, finishedAt: v.finishedAt, checks: v.checks,
                     tables: v.tables.map {
                         .init(load: $0.load, v1Rows: $0.v1Rows, expectedV2Rows: $0.expectedV2Rows, v2Rows: $0.v2Rows, rejectedTotal: $0.rejectedTotal,
                               rejected: $0.rejected, unexplainedDifference: $0.unexplainedDifference, missingInV2: $0.missingInV2,
                               unexpectedInV2: $0.unexpectedInV2, changed: $0.changed, checksumV1: $0.checksumV1, checksumV2: $0.checksumV2,
                               checksumsMatch: $0.checksumsMatch)
                     },
                     rejectsByReason: byReason, foreignKeysChecked: v.foreignKeys.count, foreignKeysWithOrphans: v.foreignKeys.filter { $0.orphans > 0 }.count,
                     orphans: v.foreignKeys.reduce(0) { $0 + $1.orphans },
                     businessTotals: v.businessTotals.map { .init(name: $0.name, status: $0.status, groupsV1: $0.groupsV1, groupsV2: $0.groupsV2, groupsDiffering: $0.mismatches.count) },
                     totalV1Rows: v.tables.reduce(0) { $0 + $1.v1Rows }, totalV2Rows: v.tables.reduce(0) { $0 + $1.v2Rows },
                     totalRejected: v.distinctRejected)
    }

    static let rollbackTitles = [
        "snapshot_v1": "V1 snapshot before the write-back", "sync_to_v1": "Write V2's changes back to V1",
        "snapshot_v2": "V2 snapshot before clearing", "clear_v2": "Clear the migrated data from V2", "v1_writable": "V1 writable again",
    ]

    func rollbackSummary(rows: [Row], v1: PGConnection?) async throws -> PostmortemReport.Rollback? {
        guard let begin = rows.first(where: { $0.step == "rollback" && $0.event == "rollback" })
                ?? rows.first(where: { $0.step == "rollback" || $0.step.hasPrefix("rollback.") }) else { return nil }
        let finished = rows.last { $0.step == "rollback" && $0.event == "finished" }
        let decided = rows.last { $0.event == "decided" && $0.epoch <= begin.epoch && (Self.object($0.evidence)?["action"] as? String ?? $0.detail).contains("rollback") } ?? begin
        var scenario: Int?
        if let m = begin.detail.firstMatch(of: /Scenario (\d+)/) { scenario = Int(m.1) }
        var order: [String] = []
        for r in rows where r.step.hasPrefix("rollback.") && !order.contains(r.step) { order.append(r.step) }
        var steps: [PostmortemReport.RollbackStep] = []
        var syncEvidence: [String: Any]?
        for id in order {
            let mine = rows.filter { $0.step == id }
            let run = Self.runs(mine).last
            let short = String(id.dropFirst("rollback.".count))
            let evidence = Self.object(run?.end?.evidence) ?? [:]
            if short == "sync_to_v1" { syncEvidence = evidence }
            var figures: [String: String] = [:]
            for (k, v) in evidence where !(v is [Any]) && !(v is [String: Any]) { figures[k] = "\(v)" }
            steps.append(.init(id: short, title: Self.rollbackTitles[short] ?? short, startedAt: run?.start.at, endedAt: run?.end?.at,
                               seconds: run.flatMap { r in r.end.map { Self.seconds(r.start.epoch, $0.epoch) } },
                               outcome: run?.end?.event ?? (run == nil ? "pending" : "running"), detail: run?.end?.detail ?? run?.start.detail ?? "", figures: figures))
        }
        let writable = rows.last { $0.step == "rollback.v1_writable" && $0.event == "succeeded" } ?? finished
        var writeBack: PostmortemReport.WriteBack?
        if let e = syncEvidence {
            var applied: [String: [String: Int64]] = [:]
            for (table, kinds) in e["applied"] as? [String: Any] ?? [:] {
                for (kind, n) in kinds as? [String: Any] ?? [:] { applied[table, default: [:]][kind] = (n as? NSNumber)?.int64Value ?? 0 }
            }
            writeBack = .init(syncId: e["sync_id"] as? String, at: nil, applied: applied, total: (e["total"] as? NSNumber)?.int64Value ?? 0,
                              conflicts: (e["conflicts"] as? NSNumber)?.intValue ?? 0, lost: [])
        }
        if let v1, try await SyncJournal.exists(v1) {
            // The write-back journal in V1: the sync this rollback ran (by id), else the latest one during it.
            let until = (finished?.epoch ?? rows.last?.epoch ?? begin.epoch) + 1
            let sync = try await v1.query("""
                SELECT sync_id::text, to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), applied::text, conflicts FROM \(SyncJournal.t("syncs"))
                WHERE ($1::uuid IS NOT NULL AND sync_id = $1::uuid) OR ($1::uuid IS NULL AND started_at BETWEEN to_timestamp($2) AND to_timestamp($3))
                ORDER BY started_at DESC LIMIT 1
                """, [writeBack?.syncId, String(begin.epoch), String(until)]).rows.first
            if let sync {
                var applied: [String: [String: Int64]] = [:]
                for (table, kinds) in Self.object(sync[2]) ?? [:] {
                    for (kind, n) in kinds as? [String: Any] ?? [:] { applied[table, default: [:]][kind] = (n as? NSNumber)?.int64Value ?? 0 }
                }
                let lost = try await v1.query("SELECT load_name, key, source_id, reason, detail FROM \(SyncJournal.t("conflicts")) WHERE sync_id = $1::uuid ORDER BY load_name, key",
                                              [sync[0]]).rows
                    .map { ChangeReport.Conflict(load: $0[0]!, key: $0[1]!, v1Id: $0[2].flatMap { Int64($0) }, reason: $0[3]!, detail: $0[4]!) }
                writeBack = .init(syncId: sync[0], at: sync[1], applied: applied, total: applied.values.flatMap(\.values).reduce(0, +),
                                  conflicts: Int(sync[3] ?? "0") ?? lost.count, lost: lost)
            }
        }
        return .init(scenario: scenario, reason: begin.detail, decidedAt: decided.at, startedAt: begin.at, finishedAt: finished?.at, steps: steps,
                     v1WritableAt: writable?.at, rtoSeconds: writable.map { Self.seconds(decided.epoch, $0.epoch) }, writeBack: writeBack)
    }
}
