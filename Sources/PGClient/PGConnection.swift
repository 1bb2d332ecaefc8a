import CLibPQ
import Dispatch
import Foundation
import Logging
import Synchronization

/// A PostgreSQL connection over libpq.
///
/// libpq is blocking C, so every connection owns a serial dispatch queue (its own thread while
/// busy) and all libpq calls for it run there: the Swift cooperative pool (two threads on a
/// two-core machine) is never blocked. Cancelling the calling task sends a protocol-level cancel
/// (`PQcancel`) to the server and raises a flag that long loops check at their safe points.
public final class PGConnection: @unchecked Sendable {
    public let config: ConnectionConfig
    private let handle: OpaquePointer
    private let cancelHandle: OpaquePointer?
    private let queue: DispatchQueue
    private let cancelFlag = Atomic<Bool>(false)
    private let closed = Atomic<Bool>(false)
    /// The server session's pid as `pg_backend_pid()` reports it (0 until the session is set up).
    let backendPID = Atomic<Int32>(0)
    let logger: Logger

    /// The server's version number (e.g. 150018).
    public var serverVersionNumber: Int { Int(PQserverVersion(handle)) }

    private init(config: ConnectionConfig, handle: OpaquePointer, queue: DispatchQueue, logger: Logger) {
        self.config = config
        self.handle = handle
        self.queue = queue
        self.cancelHandle = PQgetCancel(handle)
        self.logger = logger
    }

    deinit {
        if let cancelHandle { PQfreeCancel(cancelHandle) }
        if !closed.load(ordering: .acquiring) { PQfinish(handle) }
    }

    /// Opens a connection. Failures are classified into one clear line each (wrong password,
    /// unknown host, refused port, TLS mismatch, timeout, unknown database), never retried
    /// silently, and never carry the password. The session settings are set and checked
    /// (`SessionSetup`) before the connection is handed out.
    public static func connect(_ config: ConnectionConfig, logger: Logger) async throws -> PGConnection {
        try await connect(config, logger: logger, sessionSetup: true)
    }

    static func connect(_ config: ConnectionConfig, logger: Logger, sessionSetup: Bool) async throws -> PGConnection {
        let pinned = try await HostResolver.pinned(config, timeout: .seconds(5))
        let queue = DispatchQueue(label: "pg.\(config.label)")
        let box: HandleBox = try await withCheckedThrowingContinuation { cont in
            queue.async {
                let keys = pinned.parameters.map { strdup($0.0) } + [nil]
                let vals = pinned.parameters.map { strdup($0.1) } + [nil]
                defer {
                    keys.forEach { free($0) }
                    vals.forEach { free($0) }
                }
                let conn: OpaquePointer? = keys.withUnsafeBufferPointer { k in
                    vals.withUnsafeBufferPointer { v in
                        k.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: k.count) { kp in
                            v.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: v.count) { vp in
                                PQconnectdbParams(kp, vp, 0)
                            }
                        }
                    }
                }
                guard let conn else {
                    cont.resume(throwing: MigrationError(.connectionFailed, "\(config.label): out of memory while connecting"))
                    return
                }
                if PQstatus(conn) != CONNECTION_OK {
                    let message = String(cString: PQerrorMessage(conn))
                    PQfinish(conn)
                    cont.resume(throwing: classifyConnectError(message, config: config))
                    return
                }
                PQsetNoticeProcessor(conn, { _, _ in }, nil)
                cont.resume(returning: HandleBox(pointer: conn))
            }
        }
        let connection = PGConnection(config: config, handle: box.pointer, queue: queue, logger: logger)
        logger.debug("connected", metadata: ["side": "\(config.label)", "url": "\(config.redactedURL)"])
        if sessionSetup {
            do { try await SessionSetup.apply(connection, logger: logger) } catch {
                await connection.close()
                throw error
            }
        }
        return connection
    }

    /// Connects to a server this run has already reached. Failing now is not a configuration
    /// problem but the server going away mid-run (a restart, a failover, an overloaded server
    /// dropping new sessions), so it is reported as a lost connection, which `withRetries` retries.
    public static func reconnect(_ config: ConnectionConfig, logger: Logger) async throws -> PGConnection {
        do {
            return try await connect(config, logger: logger)
        } catch let e as MigrationError where [.connectionRefused, .connectionFailed, .connectionTimeout, .serverUnavailable].contains(e.code) {
            var lost = e
            lost.code = .connectionLost
            lost.message = "\(config.label): lost the server mid-run: \(e.message)"
            throw lost
        }
    }

    static func classifyConnectError(_ raw: String, config: ConnectionConfig) -> MigrationError {
        // libpq's messages span lines ("…\n\tIs the server running…"): the operator gets one.
        let message = raw.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: " ")
        let lower = message.lowercased()
        let target = "\(config.label) (\(config.redactedURL))"
        let cause = TextCause(message)
        if lower.contains("password authentication failed") || lower.contains("authentication failed") {
            return MigrationError(.authenticationFailed, "\(target): the server rejected the password for user \"\(config.user ?? "?")\". Check the password in the URL, PGPASSWORD or ~/.pgpass.", cause: cause)
        }
        if lower.contains("no password supplied") || lower.contains("fe_sendauth") {
            return MigrationError(.passwordMissing, "\(target): the server asks for a password and none was given. Put it in the URL, PGPASSWORD or ~/.pgpass.", cause: cause)
        }
        if lower.contains("could not translate host name") || lower.contains("name or service not known") || lower.contains("temporary failure in name resolution") {
            return MigrationError(.unknownHost, "\(target): host \"\(config.host)\" cannot be resolved. Check the host name in the URL.", cause: cause)
        }
        if lower.contains("the database system is starting up") || lower.contains("the database system is shutting down")
            || lower.contains("not yet accepting connections") || lower.contains("in recovery mode") {
            return MigrationError(.serverUnavailable, "\(target): the server is not accepting connections yet (\(message)). Wait until it is up, then run the command again.", cause: cause)
        }
        if lower.contains("connection refused") {
            return MigrationError(.connectionRefused, "\(target): nothing accepts connections on \(config.host) port \(config.port). Check the port and that the server is running.", cause: cause)
        }
        if lower.contains("server does not support ssl") {
            return MigrationError(.tlsMismatch, "\(target): sslmode=\(config.sslMode) requires TLS but the server does not offer it. Use a TLS-enabled endpoint, or sslmode=disable only on a trusted network.", cause: cause)
        }
        if lower.contains("does not match host name") {
            return MigrationError(.tlsMismatch, "\(target): the server's TLS certificate does not name host \"\(config.host)\" (sslmode=\(config.sslMode) checks the name). Connect with a host name the certificate names, or use sslmode=verify-ca to check the CA only.", cause: cause)
        }
        if lower.contains("ssl") && (lower.contains("certificate") || lower.contains("root certificate") || lower.contains("verify")) {
            return MigrationError(.tlsMismatch, "\(target): the server's TLS certificate could not be verified (sslmode=\(config.sslMode)). Provide sslrootcert or use the CA the server's certificate was issued by.", cause: cause)
        }
        if lower.contains("timeout expired") || lower.contains("timed out") {
            return MigrationError(.connectionTimeout, "\(target): no answer from \(config.host) port \(config.port) within the connect timeout. Check the host, port and firewall.", cause: cause)
        }
        if lower.contains("does not exist") && lower.contains("database") {
            return MigrationError(.unknownDatabase, "\(target): database \"\(config.database ?? "?")\" does not exist on that server. Check the database name in the URL.", cause: cause)
        }
        if lower.contains("role") && lower.contains("does not exist") {
            return MigrationError(.authenticationFailed, "\(target): user \"\(config.user ?? "?")\" does not exist on that server. Check the user name in the URL.", cause: cause)
        }
        return MigrationError(.connectionFailed, "\(target): could not connect.", cause: cause)
    }

    /// Runs `body` with the blocking libpq session on this connection's own thread.
    public func withSession<T: Sendable>(_ body: @escaping @Sendable (PGSession) throws -> T) async throws -> T {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (cont: CheckedContinuation<T, any Error>) in
                queue.async {
                    if self.cancelFlag.load(ordering: .acquiring) {
                        cont.resume(throwing: MigrationError(.interrupted, "\(self.config.label): interrupted"))
                        return
                    }
                    if self.closed.load(ordering: .acquiring) {
                        cont.resume(throwing: MigrationError(.connectionLost, "\(self.config.label): the connection is closed"))
                        return
                    }
                    cont.resume(with: Result { try body(PGSession(connection: self)) })
                }
            }
        } onCancel: {
            self.cancel()
        }
    }

    /// Asks the server to cancel whatever this connection runs, and raises the flag that
    /// session loops check. Safe from any thread.
    public func cancel() {
        cancelFlag.store(true, ordering: .releasing)
        sendCancelRequest()
    }

    /// Asks the server to stop the running statement, without marking the connection cancelled
    /// (used to end a COPY early on purpose).
    func sendCancelRequest() {
        guard let cancelHandle else { return }
        var buf = [CChar](repeating: 0, count: 256)
        _ = PQcancel(cancelHandle, &buf, 256)
    }

    /// Shuts the connection's socket down from any thread: a statement blocked in libpq returns
    /// at once with a lost connection. For a wait a cancel request does not end (PgBouncer
    /// ignores one for a client still waiting for a server session).
    func abortSocket() {
        let fd = PQsocket(handle)
        if fd >= 0 { _ = shutdown(fd, Int32(SHUT_RDWR)) }
    }

    /// Clears the cancelled flag, for bookkeeping after an interrupt (recording the outcome).
    public func clearCancellation() {
        cancelFlag.store(false, ordering: .releasing)
    }

    public var isCancelled: Bool { cancelFlag.load(ordering: .acquiring) }

    /// Closes the connection (idempotent).
    public func close() async {
        await withCheckedContinuation { (cont: CheckedContinuation<Void, Never>) in
            queue.async {
                if !self.closed.exchange(true, ordering: .acquiringAndReleasing) {
                    PQfinish(self.handle)
                }
                cont.resume()
            }
        }
    }

    // MARK: async conveniences

    @discardableResult
    public func query(_ sql: String, _ params: [String?] = []) async throws -> PGResult {
        try await withSession { try $0.query(sql, params) }
    }

    /// Runs one or more statements without parameters (PQexec).
    public func execute(_ sql: String) async throws {
        try await withSession { try $0.execute(sql) }
    }

    public func scalar(_ sql: String, _ params: [String?] = []) async throws -> String? {
        try await query(sql, params).rows.first?.first ?? nil
    }

    fileprivate var pgconn: OpaquePointer { handle }
}

/// A libpq handle crossing from the connecting thread to its owner.
private struct HandleBox: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// The blocking side of a connection: only ever used on the connection's own thread.
public struct PGSession {
    let connection: PGConnection
    var conn: OpaquePointer { connection.pgconn }
    public var label: String { connection.config.label }

    /// True once the operation was cancelled: long loops stop at their next safe point.
    public var isCancelled: Bool { connection.isCancelled }

    public func checkCancelled() throws {
        if isCancelled { throw MigrationError(.interrupted, "\(label): interrupted") }
    }

    /// Reports who holds the lock a DDL statement waits for, while it waits (`LockWatch`).
    func watchingLocks<T>(_ sql: String, _ body: () throws -> T) rethrows -> T {
        let pid = connection.backendPID.load(ordering: .relaxed)
        guard pid != 0, LockWatch.mayWait(sql) else { return try body() }
        let watch = LockWatch(connection: connection, pid: pid, sql: sql)
        defer { watch.finish() }
        return try body()
    }

    public func execute(_ sql: String) throws {
        guard let res = watchingLocks(sql, { PQexec(conn, sql) }) else { throw connectionError() }
        defer { PQclear(res) }
        try check(res, sql: sql)
    }

    public func query(_ sql: String, _ params: [String?] = []) throws -> PGResult {
        let res: OpaquePointer?
        if params.isEmpty {
            res = watchingLocks(sql) { PQexec(conn, sql) }
        } else {
            let cstrs = params.map { $0.flatMap { strdup($0) } }
            defer { cstrs.forEach { free($0) } }
            res = cstrs.withUnsafeBufferPointer { buf in
                buf.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buf.count) { p in
                    PQexecParams(conn, sql, Int32(params.count), nil, p, nil, nil, 0)
                }
            }
        }
        guard let res else { throw connectionError() }
        defer { PQclear(res) }
        try check(res, sql: sql)
        return PGResult(res)
    }

    /// Starts `COPY … FROM STDIN`; write rows through the returned writer, then `finish()`.
    public func copyIn(_ sql: String) throws -> CopyInWriter {
        guard let res = PQexec(conn, sql) else { throw connectionError() }
        defer { PQclear(res) }
        guard PQresultStatus(res) == PGRES_COPY_IN else {
            try check(res, sql: sql)
            throw MigrationError(.queryFailed, "\(label): expected COPY FROM STDIN to start for: \(sql.prefix(120))")
        }
        return CopyInWriter(session: self)
    }

    /// Runs `COPY … TO STDOUT` and hands every row (text format, including its newline) to `row`.
    /// Returns the number of rows. Memory stays bounded: one row at a time.
    @discardableResult
    public func copyOut(_ sql: String, _ row: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        guard let res = PQexec(conn, sql) else { throw connectionError() }
        guard PQresultStatus(res) == PGRES_COPY_OUT else {
            defer { PQclear(res) }
            try check(res, sql: sql)
            throw MigrationError(.queryFailed, "\(label): expected COPY TO STDOUT to start for: \(sql.prefix(120))")
        }
        PQclear(res)
        var count = 0
        var failure: (any Error)?
        while true {
            var buf: UnsafeMutablePointer<CChar>?
            let n = PQgetCopyData(conn, &buf, 0)
            if n > 0, let buf {
                defer { PQfreemem(buf) }
                if failure == nil {
                    do { try row(UnsafeRawBufferPointer(start: buf, count: Int(n))) } catch {
                        failure = error
                        // Drain by cancelling: the server stops sending.
                        connection.sendCancelRequest()
                    }
                }
                count += 1
            } else if n == -1 {
                break
            } else {
                throw connectionError()
            }
        }
        try drainResults(sql: sql, ignoreErrors: failure != nil)
        if let failure { throw failure }
        return count
    }

    func drainResults(sql: String, ignoreErrors: Bool = false) throws {
        var firstError: (any Error)?
        while let r = PQgetResult(conn) {
            if firstError == nil && !ignoreErrors {
                do { try check(r, sql: sql) } catch { firstError = error }
            }
            PQclear(r)
        }
        if let firstError { throw firstError }
    }

    func check(_ res: OpaquePointer, sql: String) throws {
        let status = PQresultStatus(res)
        switch status {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY, PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_SINGLE_TUPLE:
            return
        default:
            throw serverError(res, sql: sql)
        }
    }

    func serverError(_ res: OpaquePointer, sql: String) -> MigrationError {
        func field(_ code: Character) -> String? {
            guard let p = PQresultErrorField(res, Int32(code.asciiValue!)) else { return nil }
            return String(cString: p)
        }
        let state = field("C")
        let primary = field("M") ?? String(cString: PQresultErrorMessage(res)).trimmingCharacters(in: .whitespacesAndNewlines)
        var detail = primary
        if let d = field("D") { detail += " DETAIL: \(d)" }
        if let h = field("H") { detail += " HINT: \(h)" }
        if PQstatus(conn) == CONNECTION_BAD {
            return MigrationError(.connectionLost, "\(label): the connection to the server was lost (\(primary)). Nothing after the last committed step was kept; run the command again to resume.", cause: TextCause(detail), sqlState: state)
        }
        switch state {
        case "57014" where connection.isCancelled:
            return MigrationError(.interrupted, "\(label): interrupted", sqlState: state)
        case "57P01", "57P02", "57P03":
            return MigrationError(.connectionLost, "\(label): the server ended this session (\(primary)). Run the command again to resume.", cause: TextCause(detail), sqlState: state)
        case "42501":
            return MigrationError(.missingPrivilege, "\(label): permission denied: \(primary). Grant the privilege to the connecting user or connect as the owner.", cause: TextCause(detail), sqlState: state)
        default:
            return MigrationError(.queryFailed, "\(label): \(detail)", cause: TextCause("statement: \(sql.prefix(200))"), sqlState: state)
        }
    }

    func connectionError() -> MigrationError {
        let message = String(cString: PQerrorMessage(conn)).trimmingCharacters(in: .whitespacesAndNewlines)
        return MigrationError(.connectionLost, "\(label): the connection to the server was lost (\(message)). Run the command again to resume.", cause: TextCause(message))
    }
}

/// Buffers rows and streams them to the server with `PQputCopyData`.
public struct CopyInWriter: ~Copyable {
    let session: PGSession
    private var buffer: [UInt8] = []
    private let flushAt = 1 << 18
    public private(set) var rows = 0

    init(session: PGSession) {
        self.session = session
        buffer.reserveCapacity(flushAt + 4096)
    }

    /// Appends one complete row given as raw bytes.
    public mutating func writeRow(bytes: UnsafeRawBufferPointer) throws {
        buffer.append(contentsOf: bytes)
        rows += 1
        if buffer.count >= flushAt { try flush() }
    }

    /// Sends many complete rows at once (a whole batch), in slices, so that neither libpq's
    /// buffer nor the server's grows with the batch.
    public mutating func writeRows(bytes: UnsafeRawBufferPointer, count: Int) throws {
        try flush()
        var offset = 0
        while offset < bytes.count {
            let n = min(flushAt, bytes.count - offset)
            let ok = PQputCopyData(session.conn, bytes.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self), Int32(n))
            if ok != 1 { throw session.connectionError() }
            offset += n
        }
        rows += count
    }

    public mutating func flush() throws {
        guard !buffer.isEmpty else { return }
        let ok = buffer.withUnsafeBufferPointer { p in
            p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) {
                PQputCopyData(session.conn, $0, Int32(p.count))
            }
        }
        buffer.removeAll(keepingCapacity: true)
        if ok != 1 { throw session.connectionError() }
    }

    /// Ends the COPY and returns the number of rows the server reports.
    public consuming func finish() throws -> Int {
        try flush()
        if PQputCopyEnd(session.conn, nil) != 1 { throw session.connectionError() }
        try session.drainResults(sql: "COPY")
        return rows
    }

    /// Aborts the COPY: the server discards every row of it.
    public consuming func abort(_ reason: String) {
        _ = PQputCopyEnd(session.conn, reason)
        try? session.drainResults(sql: "COPY", ignoreErrors: true)
    }
}

/// A fully read query result (text format). Use COPY for large reads.
public struct PGResult: Sendable {
    public let columns: [String]
    public let rows: [[String?]]
    /// Rows affected, for INSERT/UPDATE/DELETE.
    public let affected: Int

    init(_ res: OpaquePointer) {
        let nf = Int(PQnfields(res))
        let nt = Int(PQntuples(res))
        columns = (0..<nf).map { String(cString: PQfname(res, Int32($0))) }
        var rows: [[String?]] = []
        rows.reserveCapacity(nt)
        for r in 0..<nt {
            var row: [String?] = []
            row.reserveCapacity(nf)
            for c in 0..<nf {
                if PQgetisnull(res, Int32(r), Int32(c)) == 1 {
                    row.append(nil)
                } else {
                    row.append(String(cString: PQgetvalue(res, Int32(r), Int32(c))))
                }
            }
            rows.append(row)
        }
        self.rows = rows
        affected = Int(String(cString: PQcmdTuples(res))) ?? 0
    }

    public func column(_ name: String) -> [String?] {
        guard let i = columns.firstIndex(of: name) else { return [] }
        return rows.map { $0[i] }
    }
}

/// SQL quoting for identifiers and literals (standard_conforming_strings on).
public enum SQL {
    public static func ident(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    public static func qualified(_ schema: String, _ name: String) -> String {
        ident(schema) + "." + ident(name)
    }

    public static func literal(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "'", with: "''") + "'"
    }
}
