import Foundation
import Logging
import Synchronization

/// What every session of this tool runs with, set after connecting with `set_config` and read
/// back, never sent as the libpq `options` startup parameter (PgBouncer refuses it: "unsupported
/// startup parameter: options"; other poolers drop it silently, and then a role's TimeZone
/// shifts every timestamp).
///
/// - `TimeZone` UTC, ISO dates, postgres intervals, `extra_float_digits` 1: a naive UTC timestamp
///   read from one side is the same instant written to the other, whatever the server's or the
///   role's defaults (`ALTER ROLE … SET TimeZone`).
/// - `statement_timeout`, `idle_in_transaction_session_timeout`, `idle_session_timeout`,
///   `lock_timeout` 0: a DBA's role or database default (`statement_timeout = '2s'`) must not
///   cancel verify's COPY, migrate's ANALYZE or end the session that exports V1's snapshot. Waits
///   on locks that the tool can meet (DDL) use their own `SET LOCAL lock_timeout` and say who holds
///   the lock (`LockWait`).
///
/// Then, once per endpoint and process, the URL is checked for a pooler in transaction or
/// statement mode, where one client connection's statements run on different server sessions
/// (session settings, advisory locks and exported snapshots do not hold): refused before anything
/// is written, naming the URL to use instead.
public enum SessionSetup {
    public struct Setting: Sendable {
        public let name: String
        public let value: String
        /// The first server version that knows the setting.
        public let since: Int
    }

    public static let settings: [Setting] = [
        Setting(name: "TimeZone", value: "UTC", since: 0),
        Setting(name: "DateStyle", value: "ISO, YMD", since: 0),
        Setting(name: "IntervalStyle", value: "postgres", since: 0),
        Setting(name: "extra_float_digits", value: "1", since: 0),
        Setting(name: "statement_timeout", value: "0", since: 0),
        Setting(name: "lock_timeout", value: "0", since: 0),
        Setting(name: "idle_in_transaction_session_timeout", value: "0", since: 0),
        Setting(name: "idle_session_timeout", value: "0", since: 140000),
        Setting(name: "transaction_timeout", value: "0", since: 170000),
    ]

    /// How long the pooling probe waits for a second session, or for the first one while the
    /// second holds a transaction open. A direct server or a session pooler answers in
    /// milliseconds; only a pooler with no free server session makes anyone wait.
    static let probeWait: Duration = .seconds(10)

    /// Endpoints already found to give each connection its own server session, in this process.
    private static let probed = Mutex<Set<String>>([])

    /// Sets and reads back the session settings, then (first connection to this endpoint) checks
    /// for transaction pooling.
    static func apply(_ c: PGConnection, logger: Logger) async throws {
        let wanted = settings.filter { c.serverVersionNumber >= $0.since }
        let target = "\(c.config.label) (\(c.config.redactedURL))"
        let set = "SELECT pg_backend_pid()::text, " + wanted.map { "set_config(\(SQL.literal($0.name)), \(SQL.literal($0.value)), false)" }.joined(separator: ", ")
        let read = "SELECT pg_backend_pid()::text, " + wanted.map { "current_setting(\(SQL.literal($0.name)))" }.joined(separator: ", ")
        let (first, second): ([String?], [String?])
        do {
            first = try await c.query(set).rows[0]
            second = try await c.query(read).rows[0]
        } catch let e as MigrationError where e.code == .queryFailed {
            throw MigrationError(.sessionSetup, "\(target): the session settings could not be set (\(e.message)). Connect to the database directly or through a pooler in session mode.", cause: e)
        }
        if first[0] != second[0] {
            throw pooled(c, evidence: "two statements of one connection ran in different server sessions, backend \(first[0] ?? "?") then \(second[0] ?? "?")")
        }
        let missed = wanted.enumerated().filter { second[$0.offset + 1] != $0.element.value }
        if !missed.isEmpty {
            let what = missed.map { "\($0.element.name) is \(second[$0.offset + 1] ?? "unset"), not \($0.element.value)" }.joined(separator: "; ")
            throw MigrationError(.sessionSetup, "\(target): the session settings did not take effect (\(what)), so times or timeouts would be wrong. Check for a proxy or pooler that rewrites session settings, and connect directly or through a pooler in session mode.")
        }
        c.backendPID.store(Int32(first[0] ?? "") ?? 0, ordering: .relaxed)
        let key = c.config.redactedURL
        if probed.withLock({ $0.contains(key) }) { return }
        try await probe(c, pid: first[0] ?? "", logger: logger)
        probed.withLock { _ = $0.insert(key) }
    }

    private enum Raced<T: Sendable>: Sendable {
        case value(T)
        case late
    }

    /// Runs `operation`; if it has not finished within `wait`, runs `whenLate` (which must make
    /// it finish, e.g. by cancelling it or by freeing what it waits for) and then waits for it.
    /// Returns the result and whether it was late.
    static func race<T: Sendable>(_ wait: Duration, _ operation: @escaping @Sendable () async throws -> T,
                                  whenLate: @escaping @Sendable () async -> Void) async throws -> (T, late: Bool) {
        try await withThrowingTaskGroup(of: Raced<T>.self) { group in
            group.addTask { .value(try await operation()) }
            group.addTask {
                try? await Task.sleep(for: wait)
                return .late
            }
            var late = false
            while let next = try await group.next() {
                switch next {
                case .value(let v):
                    group.cancelAll()
                    return (v, late)
                case .late:
                    if !Task.isCancelled {
                        late = true
                        await whenLate()
                    }
                }
            }
            throw MigrationError(.internal, "race ended without a result")
        }
    }

    /// A second connection holds a transaction open while the first runs a statement. Direct or
    /// through a session pooler, each has its own server session: the second gets another
    /// backend, and the first answers from its own backend at once. Through a transaction pooler
    /// the first connection's server session is free between its statements: the second gets it
    /// (PgBouncer hands out the server it used last), or the first moves to another backend, or
    /// waits for the second's.
    static func probe(_ a: PGConnection, pid: String, logger: Logger) async throws {
        let target = "\(a.config.label) (\(a.config.redactedURL))"
        let b = try await PGConnection.connect(a.config, logger: logger, sessionSetup: false)
        do {
            let (answer, late) = try await race(probeWait, { () async -> Result<String, MigrationError> in
                do {
                    return .success(try await b.withSession { s -> String in
                        try s.execute("BEGIN")
                        return try s.query("SELECT pg_backend_pid()::text").rows[0][0] ?? ""
                    })
                } catch let e as MigrationError {
                    return .failure(e)
                } catch {
                    return .failure(MigrationError(.queryFailed, "\(error)"))
                }
            }, whenLate: { b.abortSocket() })
            if late {
                throw MigrationError(.refused, "\(target): a second connection got no server session within \(probeWait.components.seconds) s: a pooler's pool for this database and user is full. This tool opens several sessions per database (one per --jobs, plus its own); raise the pool size (PgBouncer: default_pool_size) or use the direct database URL.")
            }
            if case .failure(let e) = answer, e.code == .connectionLost || e.message.contains("statement pooling mode") {
                // PgBouncer in statement mode closes a client that opens a transaction block.
                throw pooled(a, evidence: "a second connection was closed as soon as it began a transaction, as a pooler in statement pooling mode does (\(e.message.prefix(160)))")
            }
            let other = try answer.get()
            if other == pid {
                throw pooled(a, evidence: "another connection was given this connection's server session, backend \(pid), between two of its statements")
            }
            let (again, waited) = try await race(probeWait, { try await a.scalar("SELECT pg_backend_pid()::text") ?? "" },
                                                 whenLate: { try? await b.execute("ROLLBACK") })
            if waited || again != pid {
                throw pooled(a, evidence: waited
                    ? "a statement waited for another connection's transaction to end before it could run"
                    : "two statements of one connection ran in different server sessions, backend \(pid) then \(again)")
            }
            try? await b.execute("ROLLBACK")
        } catch {
            await b.close()
            throw error
        }
        await b.close()
    }

    /// The refusal for a URL that leads to a transaction (or statement) pooler.
    static func pooled(_ c: PGConnection, evidence: String) -> MigrationError {
        let url = c.config.redactedURL
        var instead = "the direct database URL, or the pooler's session mode (PgBouncer: pool_mode = session"
        instead += c.config.port == "6543" ? "; Supabase: the same pooler host on port 5432, the session pooler, instead of 6543)" : "; Supabase: the session pooler on port 5432, not the transaction pooler on 6543)"
        return MigrationError(.transactionPooler, "\(c.config.label) (\(url)) leads to a connection pooler in transaction (or statement) mode: \(evidence). This tool needs one server session per connection (its settings, the migration lock and V1's snapshot hold for a session), so nothing was done. Use \(instead).")
    }
}
