import CLibPQ
import Foundation

/// A database endpoint as the operator gave it: a libpq URL (or conninfo string) plus the
/// defaults this tool adds. libpq itself parses it, so every libpq rule holds (percent-encoding,
/// `PGPASSWORD`, `~/.pgpass`, `PGSSLMODE`, service files).
public struct ConnectionConfig: Sendable, CustomStringConvertible {
    /// "V1" or "V2": used in every message about this endpoint.
    public let label: String
    /// Keyword/value pairs handed to `PQconnectdbParams`, after defaults.
    public let parameters: [(String, String)]

    public var host: String { value("host") ?? value("hostaddr") ?? ProcessInfo.processInfo.environment["PGHOST"] ?? "localhost" }
    public var port: String { value("port") ?? ProcessInfo.processInfo.environment["PGPORT"] ?? "5432" }
    public var user: String? { value("user") ?? ProcessInfo.processInfo.environment["PGUSER"] }
    public var database: String? { value("dbname") ?? ProcessInfo.processInfo.environment["PGDATABASE"] ?? user }
    public var sslMode: String { value("sslmode") ?? "prefer" }
    public var hasPassword: Bool { value("password") != nil }

    private init(label: String, parameters: [(String, String)]) {
        self.label = label
        self.parameters = parameters
    }

    /// The same endpoint with one more libpq parameter.
    public func adding(_ key: String, _ value: String) -> ConnectionConfig {
        ConnectionConfig(label: label, parameters: parameters.filter { $0.0 != key } + [(key, value)])
    }

    public func value(_ key: String) -> String? {
        parameters.last(where: { $0.0 == key })?.1
    }

    /// Parses `url` with libpq and applies this tool's defaults:
    /// - `sslmode`: when neither the URL nor `PGSSLMODE` sets it, `disable` for a loopback host
    ///   or a Unix socket, `require` for any other host (libpq's own default, `prefer`, silently
    ///   falls back to plain text, which we never want across a network);
    /// - `connect_timeout`: 5 seconds unless set, so an unreachable host fails fast;
    /// - `application_name`: `cocoatrack-migrate`, so our sessions are recognisable on the server.
    public init(label: String, url: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        self.label = label
        var errmsg: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(url, &errmsg) else {
            let reason = errmsg.map { String(cString: $0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? "unparseable"
            if let errmsg { PQfreemem(errmsg) }
            throw MigrationError(
                .invalidURL,
                "\(label) URL is not a valid PostgreSQL URL (\(reason)). Expected postgresql://user:password@host:port/dbname?sslmode=require."
            )
        }
        defer { PQconninfoFree(options) }
        var params: [(String, String)] = []
        var p = options
        while let keyword = p.pointee.keyword {
            if let val = p.pointee.val {
                params.append((String(cString: keyword), String(cString: val)))
            }
            p = p.advanced(by: 1)
        }
        Redactor.register(params.last(where: { $0.0 == "password" })?.1)
        Redactor.register(environment["PGPASSWORD"])

        func has(_ key: String) -> Bool { params.contains(where: { $0.0 == key }) }
        if !has("sslmode") && environment["PGSSLMODE"] == nil && !has("requiressl") {
            let hostValue = params.last(where: { $0.0 == "host" || $0.0 == "hostaddr" })?.1 ?? environment["PGHOST"] ?? ""
            params.append(("sslmode", Self.isLoopback(hostValue) ? "disable" : "require"))
        }
        if !has("connect_timeout") && environment["PGCONNECT_TIMEOUT"] == nil {
            params.append(("connect_timeout", "5"))
        }
        if !has("application_name") && environment["PGAPPNAME"] == nil {
            params.append(("application_name", "cocoatrack-migrate"))
        }
        // No `options` startup parameter: PgBouncer and other poolers refuse it ("unsupported
        // startup parameter: options") or drop it silently. The session settings (UTC, ISO
        // dates, the tool's own timeouts) are set after connecting and read back: see
        // `PGConnection.sessionSettings`.
        self.parameters = params
    }

    /// True for 127.0.0.0/8, ::1, `localhost`, an empty host (libpq's default Unix socket) and a
    /// socket directory path. A comma-separated multi-host list is loopback only if every entry is.
    public static func isLoopback(_ host: String) -> Bool {
        let hosts = host.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        if hosts.isEmpty { return true }
        // libpq's own forms of "this machine": no host, a Unix-socket directory, an abstract socket.
        return hosts.allSatisfy { h in h.isEmpty || h.hasPrefix("/") || h.hasPrefix("@") || isLoopbackAddress(h) }
    }

    /// Whether `host` names this machine's loopback interface: `localhost`, `::1` (bracketed or
    /// not) or an IPv4 literal in 127.0.0.0/8. A host name that merely starts with "127." (such
    /// as `127.example.com`) is not: it resolves anywhere. The one rule for libpq hosts (no TLS
    /// needed on loopback) and for addresses a server binds (no token needed on loopback).
    public static func isLoopbackAddress(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" || host == "[::1]" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { !$0.isEmpty && $0.utf8.allSatisfy { (48...57).contains($0) } && UInt8($0) != nil }
    }

    /// A URL safe to print: never the password.
    public var redactedURL: String {
        var s = "postgresql://"
        if let user = value("user") {
            s += percentEncode(user)
            if hasPassword { s += ":" + Redactor.mask }
            s += "@"
        }
        let h = value("host") ?? value("hostaddr") ?? ""
        s += h.contains(":") && !h.hasPrefix("[") && !h.hasPrefix("/") ? "[\(h)]" : (h.hasPrefix("/") ? "" : h)
        if let port = value("port") { s += ":\(port)" }
        s += "/" + percentEncode(value("dbname") ?? "")
        var query: [String] = []
        if h.hasPrefix("/") { query.append("host=\(h)") }
        if let ssl = value("sslmode") { query.append("sslmode=\(ssl)") }
        if !query.isEmpty { s += "?" + query.joined(separator: "&") }
        return s
    }

    public var description: String { "\(label) \(redactedURL)" }

    private func percentEncode(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed.subtracting(CharacterSet(charactersIn: ":@/"))) ?? s
    }
}
