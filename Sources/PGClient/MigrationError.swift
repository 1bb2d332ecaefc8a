import Foundation

/// The one error type the engine throws for anything that stops a command.
///
/// Shaped like NIOFS's `FileSystemError`: a broad `code` (which also decides the exit code), a
/// `message` that says what went wrong *and how to remedy it*, an optional underlying `cause`
/// and the source `location` that raised it. Every rendering goes through ``Redactor`` so that
/// no password can leak through an error.
public struct MigrationError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public let exitCode: Int32
        public init(_ name: String, exitCode: Int32) {
            self.name = name
            self.exitCode = exitCode
        }
        public var description: String { name }

        // exit 1: could not run
        public static let configuration = Code("configuration", exitCode: 1)
        public static let invalidURL = Code("invalid_url", exitCode: 1)
        public static let authenticationFailed = Code("authentication_failed", exitCode: 1)
        public static let passwordMissing = Code("password_missing", exitCode: 1)
        public static let unknownHost = Code("unknown_host", exitCode: 1)
        public static let connectionRefused = Code("connection_refused", exitCode: 1)
        public static let connectionTimeout = Code("connection_timeout", exitCode: 1)
        public static let tlsMismatch = Code("tls_mismatch", exitCode: 1)
        public static let unknownDatabase = Code("unknown_database", exitCode: 1)
        public static let connectionLost = Code("connection_lost", exitCode: 1)
        /// The server answers but is starting up, shutting down or in recovery.
        public static let serverUnavailable = Code("server_unavailable", exitCode: 1)
        public static let connectionFailed = Code("connection_failed", exitCode: 1)
        /// A session setting (time zone, date style, the tool's timeouts) did not take effect.
        public static let sessionSetup = Code("session_setup", exitCode: 1)
        public static let queryFailed = Code("query_failed", exitCode: 1)
        /// The server could not write: its disk (or the tablespace's file system) is full.
        public static let diskFull = Code("disk_full", exitCode: 1)
        public static let missingPrivilege = Code("missing_privilege", exitCode: 1)
        public static let environment = Code("environment", exitCode: 1)
        public static let subprocessFailed = Code("subprocess_failed", exitCode: 1)
        /// An HTTP call got no answer: refused, unknown host, TLS not verified, deadline passed.
        public static let httpFailed = Code("http_failed", exitCode: 1)
        public static let sandbox = Code("sandbox", exitCode: 1)
        public static let `internal` = Code("internal", exitCode: 1)
        // exit 2: usage
        public static let usage = Code("usage", exitCode: 2)
        // exit 3: a check failed
        public static let checkFailed = Code("check_failed", exitCode: 3)
        // exit 4: refused by a safety guard
        public static let refused = Code("refused", exitCode: 4)
        /// The URL leads to a pooler in transaction (or statement) mode: sessions do not hold.
        public static let transactionPooler = Code("transaction_pooler", exitCode: 4)
        // exit 130: interrupted at a safe point
        public static let interrupted = Code("interrupted", exitCode: 130)
    }

    public struct SourceLocation: Sendable, CustomStringConvertible {
        public var function: String
        public var file: String
        public var line: Int
        public var description: String {
            "\(function) (\((file as NSString).lastPathComponent):\(line))"
        }
    }

    public var code: Code
    /// What went wrong and what to do about it, in one or two sentences.
    public var message: String
    /// The underlying error, when there is one (a libpq message, an errno, a nested error).
    public var cause: (any Error & Sendable)?
    /// Extra context, e.g. the SQLSTATE of a server error.
    public var sqlState: String?
    public var location: SourceLocation

    public init(
        _ code: Code,
        _ message: String,
        cause: (any Error & Sendable)? = nil,
        sqlState: String? = nil,
        function: String = #function,
        file: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.cause = cause
        self.sqlState = sqlState
        self.location = SourceLocation(function: function, file: file, line: line)
    }

    public var exitCode: Int32 { code.exitCode }

    /// One line for the operator, redacted.
    public var description: String {
        var text = message
        if let cause {
            text += " (cause: \(String(describing: cause)))"
        }
        return Redactor.redact(text)
    }

    /// Tree-like detail for `--verbose` output, redacted.
    public var detailedDescription: String {
        var lines = ["error: \(code)", "├─ Reason: \(message)"]
        if let sqlState { lines.append("├─ SQLSTATE: \(sqlState)") }
        if let cause { lines.append("├─ Cause: \(String(describing: cause))") }
        lines.append("└─ Source location: \(location)")
        return Redactor.redact(lines.joined(separator: "\n"))
    }
}

/// A plain text cause (e.g. libpq's error message).
public struct TextCause: Error, Sendable, CustomStringConvertible {
    public let text: String
    public init(_ text: String) { self.text = text }
    public var description: String { Redactor.redact(text) }
}
