import Foundation
import MigrationEngine

/// The cutover commands' screens: the planned window, the runbook's state, the decision matrix's
/// verdicts and a monitoring sample.
public enum CutoverView {
    /// A duration as the plan's table shows it: seconds, minutes, then hours.
    public static func duration(_ s: Double) -> String {
        s < 120 ? "\(Int(s.rounded())) s" : (s < 7200 ? "\(Int((s / 60).rounded())) min" : String(format: "%.1f h", s / 3600))
    }

    /// A step's offset from T-0: `T-0`, `T+2h`, `T-24h`.
    public static func offset(_ seconds: Int) -> String {
        seconds == 0 ? "T-0" : (seconds > 0 ? "T+\(seconds / 3600)h" : "T\(seconds / 3600)h")
    }

    public static func plan(_ plan: CutoverPlan, measurements: RehearsalMeasurements?) -> [String] {
        var out = ["cutover window \(plan.windowStart) → \(plan.windowEnd); decision point \(plan.decisionPoint)"]
        if let rows = plan.productionRows { out.append("production: \(fmt(rows)) V1 rows\(plan.productionBytes.map { ", \(fmt($0 / 1_048_576)) MiB" } ?? "")") }
        if let m = measurements { out.append("rehearsal of \(m.measuredAt): \(fmt(m.sourceRows)) rows, migrate \(Int(m.migrateSeconds)) s, verify \(Int(m.verifySeconds)) s") }
        out.append(pad("T", 8) + pad("at (UTC)", 22) + pad("step", 42) + pad("predicted", 12) + "command")
        for s in plan.steps {
            out.append(pad(offset(s.offset), 8) + pad(s.at, 22) + pad(s.title, 42) + pad(s.predictedSeconds.map { duration($0) } ?? "-", 12) + s.command)
        }
        for w in plan.warnings { out.append("WARNING: \(w)") }
        return out
    }

    /// Every step's state from the journal (the last event of each), and the latest rollback.
    public static func status(steps: [RunbookStep], history: [RunbookJournal.Entry]) -> [String] {
        var out: [String] = []
        for step in steps {
            let last = history.last { $0.step == step.id }
            let state = last.map { $0.event == "succeeded" ? "done" : ($0.event == "started" ? "running (or crashed)" : $0.event) } ?? "pending"
            out.append(pad(step.id, 14) + pad(state, 22) + pad(last?.at ?? "", 34) + (last?.detail ?? step.label))
        }
        if let r = history.last(where: { $0.step == "rollback" }) { out.append("rollback: \(r.event) at \(r.at): \(r.detail)") }
        return out
    }

    public static func statusJSON(_ history: [RunbookJournal.Entry]) -> [String: Any] {
        ["history": history.map { ["step": $0.step, "event": $0.event, "at": $0.at, "user": $0.user ?? "", "detail": $0.detail] }]
    }

    /// Every rule's verdict with its evidence, then the action.
    public static func decision(_ d: Decision) -> [String] {
        [pad("rule", 26) + pad("verdict", 15) + pad("action", 20) + "evidence"]
            + d.rules.map { pad($0.rule, 26) + pad($0.verdict.uppercased(), 15) + pad($0.verdict == "triggered" ? $0.action : "-", 20) + $0.evidence }
            + [d.summary]
    }

    public static func sample(_ s: MonitorSample) -> String {
        let counts = s.counts.map { ", \($0.1) \($0.0.replacingOccurrences(of: "_", with: " "))" }.joined()
        return "sample \(TimeFlag.shown(s.sampledAt)): p95 \(s.latencyP95Ms.map { String(format: "%.0f ms", $0) } ?? "-") (V1 \(s.baselineP95Ms.map { String(format: "%.0f ms", $0) } ?? "-")), "
            + "logins \(s.loginFailures.map(String.init) ?? "-")/\(s.loginAttempts.map(String.init) ?? "-") failed\(counts)\(s.sentryEvidence.map { ", Sentry: \($0)" } ?? "")"
    }
}
