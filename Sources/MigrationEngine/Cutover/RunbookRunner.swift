import PGClient
import Foundation

/// What performing one runbook step came to.
public enum StepOutcome: Sendable {
    /// What was done; evidence: a JSON object journaled with it (`report_dir`, `files`, figures).
    case done(String, evidence: String? = nil)
    /// A decision step's action (continue, investigate, rollback, immediate_rollback, inconclusive).
    case decided(String, evidence: String)
    /// The step waits for a person (`cutover approve STEP`).
    case needsApproval(String)
}

/// One step of a rollback scenario, journaled as `rollback.ID`.
public struct RollbackStep: Sendable {
    public var id: String
    public var title: String
    /// Asked (or `--yes`) before this step runs, when set.
    public var confirmation: String?
    /// Performs it: the detail journaled and the figures (a JSON object) as evidence.
    public var perform: @Sendable () async throws -> (detail: String, evidence: String)

    public init(id: String, title: String, confirmation: String? = nil, perform: @escaping @Sendable () async throws -> (detail: String, evidence: String)) {
        self.id = id
        self.title = title
        self.confirmation = confirmation
        self.perform = perform
    }
}

/// What the application supplies to a runbook: how each step is performed and what each
/// rollback scenario does. The runner owns the order, the gates, the journal and the messages.
public protocol RunbookPerformer: Sendable {
    func perform(_ step: RunbookStep, approvals: Set<String>) async throws -> StepOutcome
    /// Scenario 1 (before the switch) or 2 (after it), as steps.
    func rollbackSteps(scenario: Int) -> [RollbackStep]
}

/// Runs a runbook: feeds the journal into ``RunbookMachine``, performs the actions it returns
/// (hooks around each step, the step itself, a rollback scenario), journals every outcome and
/// posts every message to the webhook. It stops at a hold point, after a rollback, or when a step
/// fails; run again, it resumes after the last completed step.
public struct RunbookRunner: Sendable {
    public enum End: Sendable, Equatable {
        case finished
        case paused(step: String, reason: String)
    }

    public let steps: [RunbookStep]
    public let journal: RunbookJournal
    public let performer: any RunbookPerformer
    public var pauseBefore: Set<String> = []
    public var newAttempt = false
    /// hooks.before_STEP / hooks.after_STEP: a command run by /bin/sh around the step.
    public var hooks: [String: String] = [:]
    public var webhook: String?
    public var statusEvery: Double = 1800
    /// Asks a person (or `--yes`) before a destructive rollback step; throws to refuse.
    public var confirm: @Sendable (String) throws -> Void = { _ in }
    /// Every message of the run (also posted to the webhook), for the operator's stderr.
    public var notice: @Sendable (String) -> Void = { _ in }
    /// Every journal entry this run writes, once it is committed (step, event, detail): what
    /// `cutover run --json` streams, in the journal's order.
    public var recorded: @Sendable (_ step: String, _ event: String, _ detail: String) -> Void = { _, _, _ in }
    /// Runs once the state and the journal exist, before the first step: that V1 and V2 are the
    /// databases this migration started with (throws to refuse).
    public var checkIdentity: @Sendable (_ meta: PGConnection) async throws -> Void = { _ in }

    public init(steps: [RunbookStep], journal: RunbookJournal, performer: any RunbookPerformer) {
        self.steps = steps
        self.journal = journal
        self.performer = performer
    }

    public func run(meta: PGConnection) async throws -> End {
        try await journal.prepare(meta)
        try await checkIdentity(meta)
        let current = CurrentStep()
        let every = statusEvery
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(every))
                if Task.isCancelled { break }
                if let (step, since) = current.get() {
                    await notify(meta, "status: \(step) running since \(since.formatted(.iso8601)) (\(Int(Date().timeIntervalSince(since) / 60)) min)")
                }
            }
        }
        defer { ticker.cancel() }

        if newAttempt {
            let n = try await journal.startNewAttempt(meta)
            notice("runbook attempt \(n)")
        } else if try await journal.rolledBack(meta) {
            throw MigrationError(.refused, "this cutover attempt was rolled back; a new one starts from the beginning with `cutover run --new-attempt` (after clearing the cause). Nothing was done.")
        }
        var machine = RunbookMachine(steps: steps, pauseBefore: pauseBefore.union(try await journal.holdPoints(meta)))
        var action = machine.handle(.start(done: try await journal.doneSteps(meta), approvals: try await journal.approvals(meta)))
        while true {
            switch action {
            case .finished:
                try await record(meta, step: "runbook", event: "finished", detail: "every step done")
                await notify(meta, "runbook finished: every step done, V2 is live")
                return .finished
            case .pause(let step, let reason):
                try await record(meta, step: step, event: "paused", detail: reason)
                await notify(meta, "paused before \(step): \(reason)")
                return .paused(step: step, reason: reason)
            case .stop(let step, let message):
                await notify(meta, "step \(step) FAILED: \(message)")
                throw MigrationError(.subprocessFailed, "step \(step) failed: \(message). Fix the cause and run `cutover run` again: it retries \(step).")
            case .rollback(let scenario, let reason):
                try await record(meta, step: "rollback", event: "rollback", detail: "Scenario \(scenario): \(reason)")
                await notify(meta, "ROLLBACK, Scenario \(scenario): \(reason)")
                for r in performer.rollbackSteps(scenario: scenario) {
                    if let question = r.confirmation { try confirm(question) }
                    try await journaled(meta, r)
                }
                try await record(meta, step: "rollback", event: "finished", detail: "Scenario \(scenario) done: V1 is the system of record again")
                await notify(meta, "rollback (Scenario \(scenario)) done: V1 writable again, V2 cleared")
                throw MigrationError(.checkFailed, "rolled back (Scenario \(scenario)): \(reason). V1 is writable again; V2 was cleared after a snapshot.")
            case .run(let id):
                let step = steps.first { $0.id == id }!
                current.set(id)
                try await record(meta, step: id, event: "started", detail: step.label)
                await notify(meta, "started \(step.label)")
                do {
                    if let before = hooks["before_\(id)"] { try await Self.runHook(before, step: id) }
                    let outcome = try await performer.perform(step, approvals: try await journal.approvals(meta))
                    if case .needsApproval(let why) = outcome {
                        current.clear()
                        action = .pause(before: id, reason: why)
                        continue
                    }
                    if let after = hooks["after_\(id)"] { try await Self.runHook(after, step: id) }
                    current.clear()
                    switch outcome {
                    case .decided(let decision, let evidence):
                        try await record(meta, step: id, event: "decided", detail: decision, evidence: evidence)
                        await notify(meta, "decision at \(id): \(decision)")
                        if decision == "continue" || decision == "investigate" || (decision == "inconclusive" && machine.approvals.contains(id)) {
                            try await record(meta, step: id, event: "succeeded", detail: decision, evidence: evidence)
                        }
                        action = machine.handle(.decided(id, action: decision))
                    case .done(let detail, let evidence):
                        try await record(meta, step: id, event: "succeeded", detail: detail, evidence: evidence)
                        await notify(meta, "done \(step.label): \(detail)")
                        action = machine.handle(.succeeded(id))
                    case .needsApproval:
                        break
                    }
                } catch let e as MigrationError where e.code == .interrupted || Task.isCancelled {
                    current.clear()
                    try? await record(meta, step: id, event: "failed", detail: "interrupted")
                    throw MigrationError(.interrupted, "interrupted during \(id); `cutover run` resumes it.")
                } catch {
                    current.clear()
                    try await record(meta, step: id, event: "failed", detail: "\(error)")
                    action = machine.handle(.failed(id, message: "\(error)"))
                }
            }
        }
    }

    /// A journal entry, then the same entry to `recorded`.
    func record(_ meta: PGConnection, step: String, event: String, detail: String, evidence: String? = nil) async throws {
        try await journal.record(meta, step: step, event: event, detail: detail, evidence: evidence)
        recorded(step, event, detail)
    }

    /// A message: to the operator, to the webhook (best effort), and into the journal with whether it was delivered.
    func notify(_ meta: PGConnection, _ text: String) async {
        notice(text)
        guard let webhook else { return }
        let error = await Webhook.post(webhook, text: "[cutover] " + text)
        if let error { notice("webhook: \(error)") }
        try? await journal.recordMessage(meta, channel: "webhook", text: "[cutover] " + text, error: error.map { "\($0)" })
    }

    /// One rollback step: `started`, then `succeeded` with its figures, or `failed`.
    func journaled(_ meta: PGConnection, _ r: RollbackStep) async throws {
        try await record(meta, step: "rollback.\(r.id)", event: "started", detail: r.title)
        do {
            let (detail, evidence) = try await r.perform()
            try await record(meta, step: "rollback.\(r.id)", event: "succeeded", detail: detail, evidence: evidence)
        } catch {
            try? await record(meta, step: "rollback.\(r.id)", event: "failed", detail: "\(error)")
            throw error
        }
    }

    /// A hook command, by /bin/sh, with `CUTOVER_STEP` set and the tool's HTTP secrets removed from its environment.
    public static func runHook(_ command: String, step: String) async throws {
        var env = ProcessInfo.processInfo.environment
        for name in WebClient.secretVariables { env.removeValue(forKey: name) }
        env["CUTOVER_STEP"] = step
        let out = try await Subprocess.run("/bin/sh", ["-c", command], environment: env, check: false)
        guard out.status == 0 else {
            throw MigrationError(.subprocessFailed, "hook for \(step) exited \(out.status): \(out.stderr.suffix(300))")
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
