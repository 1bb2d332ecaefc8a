import PGClient
import Foundation

/// The plan's rollback decision matrix, as data: each rule names the issue, its severity, the
/// signal it reads, its threshold and the action it calls for.
public struct DecisionRule: Codable, Sendable, Equatable {
    public enum Action: String, Codable, Sendable, Comparable {
        case `continue`, investigate, rollback, immediateRollback = "immediate_rollback"
        var rank: Int { switch self { case .continue: 0; case .investigate: 1; case .rollback: 2; case .immediateRollback: 3 } }
        public static func < (a: Action, b: Action) -> Bool { a.rank < b.rank }
    }
    public enum Signal: String, Codable, Sendable {
        /// Verification: unexplained count differences, or rejected rows over `threshold` % of V1.
        case rowCounts = "row_counts"
        /// Verification: any row's content differs.
        case checksums
        /// Verification: orphans in any foreign key.
        case foreignKeys = "foreign_keys"
        /// Monitoring: failed logins over `threshold` % of attempts (after the DNS switch).
        case loginFailures = "login_failures"
        /// Operator flag `data-corruption`, or business totals that differ.
        case dataCorruption = "data_corruption"
        /// Monitoring: p95 latency over `threshold` % above the V1 baseline (after the DNS switch).
        case performance
        /// Operator flag `minor-ui`.
        case minorUI = "minor_ui"
    }
    public var id: String
    public var issue: String
    public var severity: String
    public var signal: Signal
    public var threshold: Double?
    public var action: Action

    public init(id: String, issue: String, severity: String, signal: Signal, threshold: Double?, action: Action) {
        self.id = id
        self.issue = issue
        self.severity = severity
        self.signal = signal
        self.threshold = threshold
        self.action = action
    }
}

/// Thresholds of the plan's matrix that a settings file may override (percentages).
public struct DecisionThresholds: Sendable, Equatable {
    public var rowCountMismatchPct = 1.0
    public var loginFailurePct = 10.0
    public var performanceDegradationPct = 50.0
    public init() {}
}

public struct MonitoringSignals: Sendable, Codable {
    public var sampledAt: String
    public var loginAttempts: Int64?
    public var loginFailures: Int64?
    public var latencyP95Ms: Double?
    public var baselineP95Ms: Double?
    public init(sampledAt: String, loginAttempts: Int64? = nil, loginFailures: Int64? = nil, latencyP95Ms: Double? = nil, baselineP95Ms: Double? = nil) {
        self.sampledAt = sampledAt
        self.loginAttempts = loginAttempts
        self.loginFailures = loginFailures
        self.latencyP95Ms = latencyP95Ms
        self.baselineP95Ms = baselineP95Ms
    }
}

public struct DecisionInputs: Sendable {
    public enum Phase: String, Sendable, Codable { case beforeSwitch = "before_switch", afterSwitch = "after_switch" }
    public var phase: Phase
    public var verification: VerifyReport?
    public var monitoring: MonitoringSignals?
    public var flags: Set<String>
    public init(phase: Phase, verification: VerifyReport?, monitoring: MonitoringSignals?, flags: Set<String>) {
        self.phase = phase
        self.verification = verification
        self.monitoring = monitoring
        self.flags = flags
    }
}

/// The outcome: the action and every rule's verdict with its evidence.
public struct Decision: Codable, Sendable {
    public struct Verdict: Codable, Sendable {
        public var rule: String
        public var issue: String
        public var severity: String
        /// `triggered`, `clear`, `inconclusive` (a signal it needs is missing) or `not_applicable`.
        public var verdict: String
        public var action: String
        public var evidence: String
    }
    /// `continue`, `investigate`, `rollback`, `immediate_rollback` or `inconclusive`.
    public var action: String
    public var phase: String
    public var decidedAt: String
    public var verificationId: String?
    public var flags: [String]
    public var rules: [Verdict]
    public var summary: String

    public var isRollback: Bool { action == "rollback" || action == "immediate_rollback" }

    public func json(pretty: Bool = true) -> String {
        ReportJSON.encode(self, pretty: pretty)
    }
}

public struct DecisionMatrix: Sendable {
    public var rules: [DecisionRule]

    public init(rules: [DecisionRule]) { self.rules = rules }

    /// The plan's matrix, with its thresholds (overridable).
    public static func plan(_ t: DecisionThresholds = DecisionThresholds()) -> DecisionMatrix {
        DecisionMatrix(rules: [
            .init(id: "row_count_mismatch", issue: "Row count mismatch > \(fmt(t.rowCountMismatchPct)) %", severity: "High", signal: .rowCounts, threshold: t.rowCountMismatchPct, action: .rollback),
            .init(id: "checksum_mismatch", issue: "Checksum mismatch", severity: "High", signal: .checksums, threshold: nil, action: .rollback),
            .init(id: "fk_integrity", issue: "FK integrity failures", severity: "High", signal: .foreignKeys, threshold: nil, action: .rollback),
            .init(id: "login_failures", issue: "Login failures > \(fmt(t.loginFailurePct)) %", severity: "Critical", signal: .loginFailures, threshold: t.loginFailurePct, action: .rollback),
            .init(id: "data_corruption", issue: "Data corruption detected", severity: "Critical", signal: .dataCorruption, threshold: nil, action: .immediateRollback),
            .init(id: "performance_degradation", issue: "Performance degradation > \(fmt(t.performanceDegradationPct)) %", severity: "Medium", signal: .performance, threshold: t.performanceDegradationPct, action: .investigate),
            .init(id: "minor_ui", issue: "Minor UI issues", severity: "Low", signal: .minorUI, threshold: nil, action: .continue),
        ])
    }

    static func fmt(_ x: Double) -> String { x == x.rounded() ? String(Int(x)) : String(x) }

    /// Operator flags the matrix understands.
    public static let flags = ["data-corruption", "minor-ui", "login-failures", "performance-degradation"]

    public func evaluate(_ inputs: DecisionInputs, now: Date = Date()) -> Decision {
        var verdicts: [Decision.Verdict] = []
        let v = inputs.verification
        func check(_ name: String) -> VerifyReport.Check? { v?.checks.first { $0.name == name } }
        for rule in rules {
            var verdict = "clear"
            var evidence = ""
            switch rule.signal {
            case .rowCounts:
                guard let v, v.outcome != "error", check("row_counts") != nil else {
                    verdict = "inconclusive"; evidence = v == nil ? "no verification recorded: run verify-integrity" : "the latest verification did not finish (\(v!.error ?? "error"))"
                    break
                }
                let limit = (rule.threshold ?? 1) / 100
                let unexplained = v.tables.filter { $0.unexplainedDifference != 0 }
                let over = v.tables.filter { $0.rejectShare > limit }
                if !unexplained.isEmpty || !over.isEmpty {
                    verdict = "triggered"
                    evidence = (unexplained.map { "\($0.load): \($0.unexplainedDifference) rows unexplained" }
                                + over.map { "\($0.load): \(String(format: "%.2f", $0.rejectShare * 100)) % of V1 rejected" }).joined(separator: "; ")
                } else {
                    let worst = v.tables.max { $0.rejectShare < $1.rejectShare }
                    evidence = "every V2 count equals V1 less rejects; largest reject share \(String(format: "%.2f", (worst?.rejectShare ?? 0) * 100)) % (\(worst?.load ?? "-")); verification \(v.verificationId)"
                }
                if !v.complete { verdict = verdict == "triggered" ? verdict : "inconclusive"; evidence += "; the verification covered only some tables (--only)" }
            case .checksums, .foreignKeys:
                let name = rule.signal == .checksums ? "checksums" : "foreign_keys"
                guard let v, v.outcome != "error", let c = check(name) else {
                    verdict = "inconclusive"; evidence = v == nil ? "no verification recorded: run verify-integrity" : "the latest verification did not finish"
                    break
                }
                verdict = c.status == "fail" ? "triggered" : (c.status == "pass" ? "clear" : "inconclusive")
                evidence = c.summary
                if !v.complete && verdict == "clear" { verdict = "inconclusive"; evidence += " (only some tables verified)" }
            case .loginFailures:
                if inputs.flags.contains("login-failures") { verdict = "triggered"; evidence = "flagged by the operator"; break }
                guard inputs.phase == .afterSwitch else { verdict = "not_applicable"; evidence = "before the DNS switch nobody logs in to V2"; break }
                guard let m = inputs.monitoring, let attempts = m.loginAttempts, let failures = m.loginFailures, attempts > 0 else {
                    verdict = "inconclusive"; evidence = "no login counts sampled: run monitor"; break
                }
                let pct = Double(failures) / Double(attempts) * 100
                verdict = pct > (rule.threshold ?? 10) ? "triggered" : "clear"
                evidence = "\(failures) of \(attempts) logins failed (\(String(format: "%.1f", pct)) %) as of \(m.sampledAt)"
            case .dataCorruption:
                if inputs.flags.contains("data-corruption") { verdict = "triggered"; evidence = "flagged by the operator"; break }
                if let c = check("business_totals"), c.status == "fail" { verdict = "triggered"; evidence = "business totals differ between V1 and V2: \(c.summary)"; break }
                evidence = v == nil ? "not flagged; no verification recorded" : "not flagged; business totals \(check("business_totals")?.status ?? "not run")"
            case .performance:
                if inputs.flags.contains("performance-degradation") { verdict = "triggered"; evidence = "flagged by the operator"; break }
                guard inputs.phase == .afterSwitch else { verdict = "not_applicable"; evidence = "before the DNS switch V2 serves no traffic"; break }
                guard let m = inputs.monitoring, let p95 = m.latencyP95Ms, let base = m.baselineP95Ms, base > 0 else {
                    verdict = "inconclusive"; evidence = "no latency sampled against a V1 baseline: run monitor"; break
                }
                let pct = (p95 / base - 1) * 100
                verdict = pct > (rule.threshold ?? 50) ? "triggered" : "clear"
                evidence = "p95 \(String(format: "%.0f", p95)) ms against V1's \(String(format: "%.0f", base)) ms (\(String(format: "%+.0f", pct)) %) as of \(m.sampledAt)"
            case .minorUI:
                verdict = inputs.flags.contains("minor-ui") ? "triggered" : "clear"
                evidence = verdict == "triggered" ? "flagged by the operator: continue, fix in V2" : "not flagged"
            }
            verdicts.append(.init(rule: rule.id, issue: rule.issue, severity: rule.severity, verdict: verdict, action: rule.action.rawValue, evidence: evidence))
        }
        let triggered = zip(rules, verdicts).filter { $0.1.verdict == "triggered" }.map(\.0.action)
        let strongest = triggered.max() ?? .continue
        let inconclusive = verdicts.filter { $0.verdict == "inconclusive" }
        let action: String
        let summary: String
        if strongest >= .rollback {
            action = strongest.rawValue
            summary = "\(strongest == .immediateRollback ? "IMMEDIATE ROLLBACK" : "ROLLBACK"): " + verdicts.filter { $0.verdict == "triggered" && ($0.action == "rollback" || $0.action == "immediate_rollback") }.map(\.issue).joined(separator: "; ")
        } else if !inconclusive.isEmpty {
            action = "inconclusive"
            summary = "INCONCLUSIVE: ask a person — missing: " + inconclusive.map { "\($0.rule) (\($0.evidence))" }.joined(separator: "; ")
        } else if strongest == .investigate {
            action = "investigate"
            summary = "INVESTIGATE, consider rollback: " + verdicts.filter { $0.verdict == "triggered" && $0.action == "investigate" }.map(\.evidence).joined(separator: "; ")
        } else {
            action = "continue"
            summary = "CONTINUE: no rule of the decision matrix calls for rollback"
        }
        return Decision(action: action, phase: inputs.phase.rawValue, decidedAt: now.formatted(.iso8601), verificationId: v?.verificationId,
                        flags: inputs.flags.sorted(), rules: verdicts, summary: summary)
    }
}
