import PGClient
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The one HTTP client of the tool (webhooks, Sentry, Supabase Auth and logs, health URLs), in
/// process on AsyncHTTPClient:
/// - no child process, so no URL, token or key on any command line or in any child's environment;
/// - TLS always verified (BoringSSL through NIOSSL, the system's trust roots, host name checked):
///   nothing reads a user's file (no `~/.curlrc`, no `insecure`), no flag or setting turns it off;
/// - a deadline on every call (connect, send, answer and body together), and an answer's body
///   bounded in size;
/// - no redirects followed (a 3xx is an answer like any other), no proxy from the environment.
public enum WebClient {
    public struct Response: Sendable {
        public var status: Int
        public var body: Data
        public var text: String { String(decoding: body, as: UTF8.self) }
        public var ok: Bool { (200..<300).contains(status) }
    }

    /// The environment variables holding the tokens and keys of these calls: used in process only,
    /// removed from the environment of any command the tool starts (hooks).
    public static let secretVariables = ["SENTRY_AUTH_TOKEN", "SUPABASE_ACCESS_TOKEN", "SUPABASE_ANON_KEY", "COCOATRACK_STATUS_TOKEN", "COCOATRACK_TEST_ACCOUNTS"]

    /// The default deadline of a call.
    public static let defaultTimeout: Duration = .seconds(10)
    /// Bodies larger than this are refused (an API answer, not a download).
    public static let maxBody = 8 << 20

    /// One client for the process, on NIO's shared event loops; never shut down (it lives as long
    /// as the command).
    static let client: HTTPClient = {
        var config = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(10)),
            connectionPool: .init(),
            proxy: nil,
            decompression: .disabled
        )
        // nil: AsyncHTTPClient's default client TLS configuration, full certificate and host name
        // verification against the platform's trust roots. Never replaced, never relaxed.
        config.tlsConfiguration = nil
        config.httpVersion = .http1Only
        // One attempt per call: a refused connection or a certificate that does not verify is the
        // answer at once, not retried until the deadline.
        config.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: config)
    }()

    /// `scheme://host:port` of a URL: what an error may name (a path or a query can hold a token,
    /// as a Slack webhook's does).
    public static func origin(_ url: String) -> String {
        guard let c = URLComponents(string: url), let scheme = c.scheme, let host = c.host else { return "(not a URL)" }
        return "\(scheme)://\(host.contains(":") ? "[\(host)]" : host)\(c.port.map { ":\($0)" } ?? "")"
    }

    /// Sends one request and reads the whole answer, within `timeout`.
    ///
    /// Throws a ``MigrationError`` (`http_failed`, exit 1) when there is no answer: the URL is not
    /// http(s), the host is unknown, the connection is refused, the certificate does not verify, or
    /// the deadline passes. An answer with any status is returned, not thrown.
    public static func send(_ method: String, _ url: String, headers: [(String, String)] = [], body: Data? = nil,
                            timeout: Duration = defaultTimeout) async throws -> Response {
        let where_ = origin(url)
        guard let u = URL(string: url), let scheme = u.scheme?.lowercased(), scheme == "http" || scheme == "https", u.host != nil else {
            throw MigrationError(.httpFailed, "\(Redactor.redact(where_)) is not an http(s) URL. Give a full URL such as https://host/path.")
        }
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        let deadline = NIODeadline.now() + .nanoseconds(Int64(seconds * 1e9))
        do {
            let response = try await client.execute(request, deadline: deadline)
            let buffer = try await response.body.collect(upTo: maxBody)
            let data = Data(buffer.readableBytesView)
            return Response(status: Int(response.status.code), body: data)
        } catch let e as MigrationError {
            throw e
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw MigrationError(.httpFailed, "\(method) \(where_): \(describe(error, seconds: seconds))", cause: RedactedCause(describe(error, seconds: seconds)))
        }
    }

    /// A failure in a sentence (no URL in it: the caller names the origin).
    static func describe(_ error: any Error, seconds: Double) -> String {
        if let e = error as? HTTPClientError {
            if [.deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout].contains(e) {
                return "no answer within \(format(seconds)) s (the deadline of this call)"
            }
            if e == .remoteConnectionClosed { return "the server closed the connection before answering" }
            if e == .bodyLengthMismatch { return "the answer was malformed (its body did not match its length)" }
        }
        if error is NIOTooManyBytesError { return "the answer was larger than \(maxBody >> 20) MiB" }
        let text = String(describing: error)
        if text.contains("NIOSSL") || text.contains("handshake") || text.contains("CERTIFICATE") || text.contains("certificate") {
            return "TLS failed: the server's certificate did not verify against the system's trust roots (\(text.prefix(200))). Fix the server's certificate; verification cannot be turned off."
        }
        if text.contains("connectionRefused") || text.contains("Connection refused") || text.contains("ECONNREFUSED") {
            return "connection refused: nothing listens there"
        }
        if text.contains("NIOConnectionError") || text.contains("resolve") || text.contains("getaddrinfo") {
            return "cannot connect (\(text.prefix(200)))"
        }
        return Redactor.redact(String(text.prefix(300)))
    }

    static func format(_ s: Double) -> String {
        s == s.rounded() ? String(Int(s)) : String(format: "%.1f", s)
    }

    struct RedactedCause: Error, Sendable, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = Redactor.redact(d) }
    }
}

extension Duration {
    /// Seconds as a Double.
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
