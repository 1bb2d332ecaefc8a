import PGClient
import Foundation

/// What the status page shows, read from the target's migration schema: as JSON for `/api/status`
/// and as Prometheus text for `/metrics`.
public enum MigrationStatus {
    static func encode(_ o: Any) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// `/api/status`: the runbook's steps and where it stands, per-load progress, the latest verification and decision, the last 288 monitoring samples.
    public static func json(_ c: PGConnection, state: MigrationState, steps runbook: [RunbookStep]) async throws -> String {
        var out: [String: Any] = ["generated_at": Date().formatted(.iso8601)]
        let history = try await RunbookJournal(state: state).history(c)
        var steps: [[String: Any]] = []
        var current: String?
        for s in runbook {
            let last = history.last { $0.step == s.id }
            let st = last.map { $0.event == "succeeded" ? "done" : ($0.event == "started" ? "running" : $0.event) } ?? "pending"
            if st == "running" || st == "paused" { current = current ?? s.id }
            steps.append(["id": s.id, "title": s.label, "state": st, "at": last?.at ?? ""])
        }
        out["runbook"] = ["steps": steps, "current": current ?? (history.contains { $0.step == "runbook" && $0.event == "finished" } ? "finished" : "not started")]
        if try await state.has(c, "load_progress") {
            out["loads"] = try await c.query("SELECT load_name, status, rows_written, rows_rejected, coalesce(source_rows, 0) FROM \(state.t("load_progress")) ORDER BY load_name").rows.map {
                ["load": $0[0]!, "status": $0[1]!, "written": Int($0[2]!) ?? 0, "rejected": Int($0[3]!) ?? 0, "source_rows": Int($0[4]!) ?? 0]
            }
        }
        if let v = try await Verifier.latest(c, stateSchema: state.schema) {
            out["verification"] = ["id": v.verificationId, "outcome": v.outcome, "at": v.finishedAt ?? v.startedAt,
                                   "checks": v.checks.map { ["name": $0.name, "status": $0.status, "summary": $0.summary] }]
        }
        if let d = try await DecisionLog(state: state).latest(c) {
            out["decision"] = ["action": d.action, "phase": d.phase, "at": d.at]
        }
        if try await state.has(c, "monitor_samples") {
            out["monitoring"] = try await c.query("""
                SELECT sampled_at::text, latency_p95_ms, baseline_p95_ms, login_attempts, login_failures
                FROM (SELECT * FROM \(state.t("monitor_samples")) ORDER BY sampled_at DESC LIMIT 288) s ORDER BY sampled_at
                """).rows.map { ["at": $0[0]!, "p95_ms": $0[1].flatMap(Double.init) as Any, "baseline_p95_ms": $0[2].flatMap(Double.init) as Any,
                                 "login_attempts": $0[3].flatMap { Int($0) } as Any, "login_failures": $0[4].flatMap { Int($0) } as Any] }
        }
        return encode(out)
    }

    /// `/metrics` in Prometheus text format, every name under `prefix`.
    public static func metrics(_ c: PGConnection, state: MigrationState, steps runbook: [RunbookStep], prefix: String) async throws -> String {
        var m = "# HELP \(prefix)_rows_written Rows written to V2 per load.\n# TYPE \(prefix)_rows_written gauge\n"
        if try await state.has(c, "load_progress") {
            for r in try await c.query("SELECT load_name, rows_written, rows_rejected FROM \(state.t("load_progress")) ORDER BY 1").rows {
                m += "\(prefix)_rows_written{load=\"\(r[0]!)\"} \(r[1]!)\n"
            }
            m += "# HELP \(prefix)_rows_rejected Rows rejected per load.\n# TYPE \(prefix)_rows_rejected gauge\n"
            for r in try await c.query("SELECT load_name, rows_rejected FROM \(state.t("load_progress")) ORDER BY 1").rows {
                m += "\(prefix)_rows_rejected{load=\"\(r[0]!)\"} \(r[1]!)\n"
            }
        }
        let v = try await Verifier.latest(c, stateSchema: state.schema)
        m += "# HELP \(prefix)_verification_pass 1 when the latest verification passed.\n# TYPE \(prefix)_verification_pass gauge\n"
        m += "\(prefix)_verification_pass \(v?.outcome == "pass" ? 1 : 0)\n"
        let history = try await RunbookJournal(state: state).history(c)
        m += "# HELP \(prefix)_runbook_step_done 1 when the runbook step succeeded.\n# TYPE \(prefix)_runbook_step_done gauge\n"
        for s in runbook.map(\.id) { m += "\(prefix)_runbook_step_done{step=\"\(s)\"} \(history.contains { $0.step == s && $0.event == "succeeded" } ? 1 : 0)\n" }
        // A value the latest sample does not have is left out (never NaN); latency in seconds.
        if try await state.has(c, "monitor_samples"), let r = try await c.query("SELECT latency_p95_ms / 1000.0, login_failures FROM \(state.t("monitor_samples")) ORDER BY sampled_at DESC LIMIT 1").rows.first {
            if let p95 = r[0].flatMap(Double.init), p95.isFinite {
                m += "# HELP \(prefix)_api_latency_p95_seconds Latest sampled API p95 latency.\n# TYPE \(prefix)_api_latency_p95_seconds gauge\n"
                m += "\(prefix)_api_latency_p95_seconds \(p95)\n"
            }
            if let failures = r[1] {
                m += "# HELP \(prefix)_login_failures Failed logins in the latest sample.\n# TYPE \(prefix)_login_failures gauge\n"
                m += "\(prefix)_login_failures \(failures)\n"
            }
        }
        return m
    }
}
