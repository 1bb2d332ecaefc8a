import PGClient
import Foundation

/// One step of the cutover runbook, as the plan schedules it. The one list of steps (the
/// application's plan, e.g. `CocoaTrackRunbook.steps`) serves the runbook, `cutover plan`'s
/// timeline, the post-mortem and the status page.
public struct RunbookStep: Sendable, Codable, Equatable {
    /// What a step's duration scales with when the plan predicts it from a rehearsal.
    public enum Prediction: String, Sendable, Codable {
        /// Not predicted (a decision, a hook, a person).
        case none
        /// The migration: rehearsal's migrate time × production rows / rehearsal rows.
        case migrate
        /// A full read of both sides (verification, the capture's baseline): scaled like migrate, from verify's time.
        case verify
        /// A backup of the source: scaled by the source's size.
        case sourceBackup
        /// A snapshot of the target before the migration: it holds none of the source's data, so as measured.
        case targetSnapshot
    }

    public var id: String
    public var title: String
    /// Writes or revokes something (asks for confirmation, snapshots first).
    public var destructive: Bool
    /// When the plan schedules it, in hours from T-0 (nil: not on the plan's clock).
    public var offsetHours: Double?
    /// The command the plan's timeline names for it.
    public var command: String
    public var prediction: Prediction

    public init(id: String, title: String, destructive: Bool, offsetHours: Double? = nil, command: String = "", prediction: Prediction = .none) {
        self.id = id
        self.title = title
        self.destructive = destructive
        self.offsetHours = offsetHours
        self.command = command
        self.prediction = prediction
    }

    /// "T-24h", "T-0", "T+2h".
    public var offsetLabel: String? {
        guard let h = offsetHours else { return nil }
        let n = h.rounded() == h ? String(Int(abs(h))) : String(abs(h))
        return h == 0 ? "T-0" : (h > 0 ? "T+\(n)h" : "T-\(n)h")
    }

    /// The title with its place on the plan's clock: "Final V1 backup (T-24h)".
    public var label: String { offsetLabel.map { "\(title) (\($0))" } ?? title }
}

/// The cutover as a value-type state machine (after PostgresNIO's connection state machines):
/// events in, actions out, no I/O, so every path is tested without a server. The runner
/// performs the actions, journals every step in the target's migration schema, and feeds the
/// outcomes back. Gates are on measured state (a step's outcome, the decision), never on the clock.
public struct RunbookMachine: Sendable {
    public enum Status: String, Codable, Sendable { case pending, running, done, failed }

    public enum Event: Sendable, Equatable {
        /// Start or resume, with what the journal says.
        case start(done: Set<String>, approvals: Set<String>)
        case succeeded(String)
        /// The decision step's action: continue, investigate, rollback, immediate_rollback, inconclusive.
        case decided(String, action: String)
        case failed(String, message: String)
    }

    public enum Action: Sendable, Equatable {
        case run(String)
        /// A hold point: stop until `cutover approve STEP`.
        case pause(before: String, reason: String)
        /// Roll back: Scenario 1 before the DNS switch, Scenario 2 after it.
        case rollback(scenario: Int, reason: String)
        /// The step failed: stop; running again retries it.
        case stop(step: String, message: String)
        case finished
    }

    public let steps: [RunbookStep]
    public let pauseBefore: Set<String>
    /// Steps after which the application writes to V2 (rollback becomes Scenario 2).
    public let switchStep: String
    public private(set) var status: [String: Status] = [:]
    public private(set) var approvals: Set<String> = []

    public init(steps: [RunbookStep], pauseBefore: Set<String>, switchStep: String = "dns_switch") {
        self.steps = steps
        self.pauseBefore = pauseBefore
        self.switchStep = switchStep
        for s in steps { status[s.id] = .pending }
    }

    public var switched: Bool { status[switchStep] == .done }

    public mutating func handle(_ event: Event) -> Action {
        switch event {
        case .start(let done, let approved):
            for s in steps where done.contains(s.id) { status[s.id] = .done }
            approvals = approved
            return next()
        case .succeeded(let id):
            status[id] = .done
            return next()
        case .decided(let id, let action):
            switch action {
            case "rollback", "immediate_rollback":
                status[id] = .done
                return .rollback(scenario: switched ? 2 : 1, reason: "the decision matrix says \(action.replacingOccurrences(of: "_", with: " "))")
            case "inconclusive":
                // Ask a person: approving the decision step is the person's answer to proceed.
                if approvals.contains(id) {
                    status[id] = .done
                    return next()
                }
                status[id] = .pending
                return .pause(before: id, reason: "the decision is inconclusive: a person must look at the evidence, then `cutover approve \(id)` to proceed (or roll back)")
            default:
                status[id] = .done
                return next()
            }
        case .failed(let id, let message):
            status[id] = .failed
            return .stop(step: id, message: message)
        }
    }

    mutating func next() -> Action {
        guard let step = steps.first(where: { status[$0.id] != .done }) else { return .finished }
        if pauseBefore.contains(step.id) && !approvals.contains(step.id) {
            return .pause(before: step.id, reason: "hold point before \(step.label)")
        }
        status[step.id] = .running
        return .run(step.id)
    }
}

/// The runbook's journal in the target's migration schema: every step's start, outcome and
/// evidence, hold points and approvals, who and when. `cutover run` resumes from it.
public struct RunbookJournal: Sendable {
    public let state: MigrationState
    public init(state: MigrationState) { self.state = state }

    public var ddl: String {
        """
        CREATE TABLE IF NOT EXISTS \(state.t("runbook_journal")) (
            entry_id  bigserial PRIMARY KEY,
            step      text NOT NULL,
            event     text NOT NULL CHECK (event IN ('started', 'succeeded', 'failed', 'paused', 'approved', 'decided', 'rollback', 'finished', 'notice')),
            at        timestamptz NOT NULL DEFAULT clock_timestamp(),
            os_user   text,
            detail    text,
            evidence  jsonb
        );
        ALTER TABLE \(state.t("runbook_journal")) ADD COLUMN IF NOT EXISTS attempt integer NOT NULL DEFAULT 1;
        """
    }

    public func prepare(_ c: PGConnection) async throws {
        try await state.create(c)
        try await c.execute(ddl)
    }

    /// The attempt the journal is on (a rollback ends one; `--new-attempt` starts the next).
    var current: String { "(SELECT coalesce(max(attempt), 1) FROM \(state.t("runbook_journal")))" }

    public func attempt(_ c: PGConnection) async throws -> Int {
        Int(try await c.scalar("SELECT \(current)") ?? "1") ?? 1
    }

    /// Whether the current attempt ended in a rollback.
    public func rolledBack(_ c: PGConnection) async throws -> Bool {
        try await c.scalar("SELECT EXISTS (SELECT 1 FROM \(state.t("runbook_journal")) WHERE attempt = \(current) AND step = 'rollback' AND event = 'finished')") == "t"
    }

    /// Whether the current attempt ran to its end (every step done).
    public func finished(_ c: PGConnection) async throws -> Bool {
        try await c.scalar("SELECT EXISTS (SELECT 1 FROM \(state.t("runbook_journal")) WHERE attempt = \(current) AND step = 'runbook' AND event = 'finished')") == "t"
    }

    public func startNewAttempt(_ c: PGConnection) async throws -> Int {
        let next = try await attempt(c) + 1
        try await c.query("INSERT INTO \(state.t("runbook_journal")) (step, event, os_user, detail, attempt) VALUES ('runbook', 'notice', $1, $2, $3)",
                          [ProcessInfo.processInfo.environment["USER"], "attempt \(next) started", String(next)])
        return next
    }

    public func record(_ c: PGConnection, step: String, event: String, detail: String, evidence: String? = nil) async throws {
        try await c.query("INSERT INTO \(state.t("runbook_journal")) (step, event, os_user, detail, evidence, attempt) VALUES ($1, $2, $3, $4, $5::jsonb, \(current))",
                          [step, event, ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.environment["LOGNAME"],
                           Redactor.redact(detail), evidence.map(Redactor.redact)])
    }

    /// A message sent (a webhook post), journaled after the attempt to send it: step `message`, event
    /// `notice`, the text as detail, `{"channel", "delivered", "error"}` as evidence.
    public func recordMessage(_ c: PGConnection, channel: String, text: String, error: String?) async throws {
        var evidence: [String: Any] = ["channel": channel, "delivered": error == nil]
        if let error { evidence["error"] = error }
        try await record(c, step: "message", event: "notice", detail: text, evidence: Self.json(evidence))
    }

    /// A JSON object as text, for `evidence`.
    public static func json(_ object: [String: Any]) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8), as: UTF8.self)
    }

    public func doneSteps(_ c: PGConnection) async throws -> Set<String> {
        Set(try await c.query("SELECT DISTINCT step FROM \(state.t("runbook_journal")) WHERE event = 'succeeded' AND attempt = \(current)").rows.map { $0[0]! })
    }

    /// Hold points set by earlier runs (a pause stays until approved).
    public func holdPoints(_ c: PGConnection) async throws -> Set<String> {
        Set(try await c.query("SELECT DISTINCT step FROM \(state.t("runbook_journal")) WHERE event = 'paused' AND attempt = \(current)").rows.map { $0[0]! })
    }

    public func approvals(_ c: PGConnection) async throws -> Set<String> {
        Set(try await c.query("SELECT DISTINCT step FROM \(state.t("runbook_journal")) WHERE event = 'approved' AND attempt = \(current)").rows.map { $0[0]! })
    }

    public struct Entry: Sendable {
        public var step: String
        public var event: String
        public var at: String
        public var user: String?
        public var detail: String
    }

    /// When `step` last started (any attempt), as ISO 8601 UTC; nil when it never did or there is no journal.
    public func lastStart(_ c: PGConnection, of step: String) async throws -> String? {
        guard try await state.has(c, "runbook_journal") else { return nil }
        return try await c.scalar("SELECT to_char(max(at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM \(state.t("runbook_journal")) WHERE step = $1 AND event = 'started'", [step])
    }

    /// Each step's duration in the current attempt: its last success minus its last start, in seconds.
    public func stepSeconds(_ c: PGConnection) async throws -> [String: Double] {
        try await c.query("""
            SELECT step, extract(epoch FROM max(at) FILTER (WHERE event = 'succeeded') - max(at) FILTER (WHERE event = 'started'))
            FROM \(state.t("runbook_journal")) WHERE attempt = \(current) GROUP BY step
            """).rows.reduce(into: [String: Double]()) { $0[$1[0]!] = $1[1].flatMap(Double.init) }
    }

    public func history(_ c: PGConnection) async throws -> [Entry] {
        guard try await state.has(c, "runbook_journal") else { return [] }
        return try await c.query("SELECT step, event, at::text, os_user, coalesce(detail, '') FROM \(state.t("runbook_journal")) WHERE attempt = \(current) ORDER BY entry_id").rows
            .map { Entry(step: $0[0]!, event: $0[1]!, at: $0[2]!, user: $0[3], detail: $0[4]!) }
    }
}
