/// The monitor's alerting rule as a value-type state machine (events in, actions out, no I/O):
/// a rule of the decision matrix alerts only after `confirm` consecutive samples triggered it,
/// once per monitoring run; a rollback rule that alerts stops the monitoring.
public struct MonitorRules: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        /// Say it (stdout, the webhook) and record the decision.
        case alert(rule: String, issue: String, evidence: String, matrixAction: String)
        /// After the alert: monitoring ends, the matrix says roll back.
        case stop(rule: String, issue: String)
    }

    /// The matrix's rules the monitor watches (the others need a verification or a person).
    public static let watched = ["login_failures", "performance_degradation"]

    public let confirm: Int
    public private(set) var streak: [String: Int] = [:]
    public private(set) var alerted: Set<String> = []

    public init(confirm: Int) { self.confirm = max(1, confirm) }

    /// One sample's decision in; what to do about it out, in the watched rules' order.
    public mutating func handle(sample decision: Decision) -> [Action] {
        var actions: [Action] = []
        for rule in Self.watched {
            let v = decision.rules.first { $0.rule == rule }
            streak[rule] = v?.verdict == "triggered" ? (streak[rule] ?? 0) + 1 : 0
            guard let v, (streak[rule] ?? 0) >= confirm, !alerted.contains(rule) else { continue }
            alerted.insert(rule)
            actions.append(.alert(rule: rule, issue: v.issue, evidence: v.evidence, matrixAction: v.action))
            if v.action == "rollback" || v.action == "immediate_rollback" {
                actions.append(.stop(rule: rule, issue: v.issue))
                break
            }
        }
        return actions
    }
}

/// Latency of a sample: p50 and p95 of the request times, in milliseconds.
public enum Latency {
    /// The nearest-rank quantile `p` (0…1) of `times`, rounding the rank up; nil when empty.
    public static func quantile(_ times: [Double], _ p: Double) -> Double? {
        guard !times.isEmpty else { return nil }
        let sorted = times.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded(.up)))]
    }

    /// A request's time as it counts: a failed or timed-out request counts at least at the deadline,
    /// so a hanging or failing API never looks fast.
    public static func counted(milliseconds: Double, ok: Bool, timeoutMilliseconds: Double) -> Double {
        ok ? milliseconds : max(milliseconds, timeoutMilliseconds)
    }
}
