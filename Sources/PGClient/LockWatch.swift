import Foundation
import Logging
import Synchronization

/// Says who holds the lock that a long statement of this tool waits for, and keeps saying it
/// until the statement goes on.
///
/// Sessions run with `lock_timeout` 0 (`SessionSetup`): like psql and pg_dump, a DDL statement
/// (ALTER, DROP, CREATE INDEX, TRUNCATE, ANALYZE…) waits for a lock held by another session
/// rather than failing half-way through a run, and a DBA's role `lock_timeout` cannot make it
/// fail either. While it waits, a second session of the tool reads `pg_blocking_pids` and
/// `pg_stat_activity` every `interval` and logs each holder: pid, application name, user, state,
/// since when, and its query, with how to end it.
final class LockWatch: Sendable {
    /// Milliseconds between reports (the first comes after one interval).
    static let intervalMilliseconds = Atomic<Int>(5000)

    private let task: Task<Void, Never>

    /// Statements that take a lock other sessions commonly hold (or queue behind).
    static func mayWait(_ sql: String) -> Bool {
        let head = sql.drop(while: { $0.isWhitespace }).prefix(24).uppercased()
        return ["ALTER ", "DROP ", "CREATE INDEX", "CREATE UNIQUE INDEX", "TRUNCATE", "LOCK ", "ANALYZE", "VACUUM", "REINDEX", "CLUSTER"]
            .contains { head.hasPrefix($0) }
    }

    init(connection: PGConnection, pid: Int32, sql: String) {
        let config = connection.config
        let logger = connection.logger
        let statement = String(sql.prefix(120))
        task = Task.detached {
            var monitor: PGConnection?
            let started = ContinuousClock.now
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(LockWatch.intervalMilliseconds.load(ordering: .relaxed)))
                if Task.isCancelled { break }
                if monitor == nil { monitor = try? await PGConnection.connect(config, logger: logger) }
                guard let m = monitor else { continue }
                guard let holders = try? await m.query("""
                    SELECT a.pid::text, coalesce(a.application_name, ''), coalesce(a.usename::text, ''), coalesce(a.state, ''),
                           coalesce(to_char(coalesce(a.xact_start, a.query_start) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC', '?'),
                           left(regexp_replace(coalesce(a.query, ''), '\\s+', ' ', 'g'), 120),
                           coalesce((SELECT string_agg(DISTINCT w.relation::regclass::text, ', ') FROM pg_locks w
                                     WHERE w.pid = $1 AND NOT w.granted AND w.relation IS NOT NULL), '')
                    FROM pg_stat_activity a WHERE a.pid = ANY (pg_blocking_pids($1)) ORDER BY a.pid
                    """, [String(pid)]).rows, !holders.isEmpty, !Task.isCancelled else { continue }
                let waited = (ContinuousClock.now - started).components.seconds
                let on = holders[0][6].flatMap { $0.isEmpty ? nil : " on \($0)" } ?? ""
                let who = holders.map { h in
                    "pid \(h[0] ?? "?") (application_name \"\(h[1] ?? "")\", user \(h[2] ?? "?"), \(h[3] ?? "?"), transaction since \(h[4] ?? "?"), last query: \(h[5] ?? "")"
                }.joined(separator: "; ")
                let pids = holders.compactMap { $0[0] }.joined(separator: ", ")
                logger.warning("\(config.label): waiting \(waited) s for a lock\(on) held by \(who). The statement goes on as soon as it is released: finish that session, or end it (SELECT pg_terminate_backend(pid) for \(pids)); Ctrl+C stops here at a safe point.",
                               metadata: ["side": "\(config.label)", "blocked_by": "\(pids)", "statement": "\(statement)"])
            }
            if let monitor { await monitor.close() }
        }
    }

    func finish() {
        task.cancel()
    }
}
