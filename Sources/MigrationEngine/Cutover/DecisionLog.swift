import PGClient
import Foundation

/// Every decision of the matrix (by `decide`, the runbook's gates, the monitor's alerts) is
/// recorded in the target's migration schema, in one table, by this one writer; the latest
/// monitoring sample is read back from there for the next decision.
public struct DecisionLog: Sendable {
    public let state: MigrationState
    public init(state: MigrationState) { self.state = state }

    /// Records `decision` (action, phase, flags, the verification it read, who, the whole report).
    public func record(_ c: PGConnection, _ decision: Decision) async throws {
        try await c.query("INSERT INTO \(state.t("decisions")) (action, phase, flags, verification_id, os_user, report) VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
                          [decision.action, decision.phase, pgTextArray(decision.flags), decision.verificationId, ProcessInfo.processInfo.environment["USER"],
                           decision.json(pretty: false)])
    }

    /// The latest monitoring sample's signals, nil when monitoring never sampled.
    public func latestSignals(_ c: PGConnection) async throws -> MonitoringSignals? {
        guard try await state.has(c, "monitor_samples"),
              let r = try await c.query("SELECT sampled_at::text, login_attempts, login_failures, latency_p95_ms, baseline_p95_ms FROM \(state.t("monitor_samples")) ORDER BY sampled_at DESC LIMIT 1").rows.first
        else { return nil }
        return MonitoringSignals(sampledAt: r[0]!, loginAttempts: r[1].flatMap { Int64($0) }, loginFailures: r[2].flatMap { Int64($0) },
                                 latencyP95Ms: r[3].flatMap { Double($0) }, baselineP95Ms: r[4].flatMap { Double($0) })
    }

    /// The latest decision: action, phase, when.
    public func latest(_ c: PGConnection) async throws -> (action: String, phase: String, at: String)? {
        guard try await state.has(c, "decisions"),
              let d = try await c.query("SELECT action, phase, decided_at::text FROM \(state.t("decisions")) ORDER BY decided_at DESC LIMIT 1").rows.first
        else { return nil }
        return (d[0]!, d[1]!, d[2]!)
    }
}
