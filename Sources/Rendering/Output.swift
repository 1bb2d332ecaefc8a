import Foundation
import Logging
import MigrationEngine

/// Log lines on stderr, redacted, metadata as key=value.
public struct StderrLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level

    public init(level: Logger.Level) { self.logLevel = level }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let time = Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: false).timeZone(separator: .omitted))
        var line = "\(time) \(event.level) \(event.message)"
        for key in merged.keys.sorted() { line += " \(key)=\(Self.rounded("\(merged[key]!)"))" }
        StderrLive.shared.line(line)
    }

    /// A value printed as a long decimal fraction (a Double's description, e.g. seconds
    /// `12.345678901`) is rounded for people: one decimal from 10 up, three below. Anything else
    /// (integers, ids, versions, words) is left as it is.
    public static func rounded(_ value: String) -> String {
        let u = Array(value.utf8)
        guard let dot = u.firstIndex(of: UInt8(ascii: ".")), u.count - dot - 1 > 3 else { return value }
        let digits = { (s: ArraySlice<UInt8>) in !s.isEmpty && s.allSatisfy { $0 >= 48 && $0 <= 57 } }
        let intPart = u[..<dot].first == UInt8(ascii: "-") ? u[u.startIndex + 1..<dot] : u[..<dot]
        guard digits(intPart), digits(u[(dot + 1)...]), let d = Double(value) else { return value }
        return String(format: abs(d) >= 10 ? "%.1f" : "%.3f", d)
    }
}

/// The one way a command speaks (CLI.md, `--json`). For people: progress, previews and hints on
/// stderr, the result on stdout. Under `--json`, stdout carries only JSON (one object per event or
/// one final object) and everything meant for people goes to stderr, so `… --json | jq` always
/// reads valid JSON. Every line is redacted on the way out.
public struct Console: Sendable {
    public typealias Sink = @Sendable (String) -> Void

    public let json: Bool
    private let stdout: Sink
    private let stderr: Sink

    public static let standardOutput: Sink = { print($0) }
    public static let standardError: Sink = { StderrLive.shared.line($0) }

    public init(json: Bool, stdout: @escaping Sink = Console.standardOutput, stderr: @escaping Sink = Console.standardError) {
        self.json = json
        self.stdout = stdout
        self.stderr = stderr
    }

    /// Progress, previews, hints: stderr.
    public func info(_ line: String) { stderr(Redactor.redact(line)) }
    public func info(_ lines: [String]) { for l in lines { info(l) } }

    /// The result for people: stdout, or stderr under `--json`.
    public func result(_ line: String) { (json ? stderr : stdout)(Redactor.redact(line)) }
    public func result(_ lines: [String]) { for l in lines { result(l) } }

    /// A JSON object on one line of stdout; nothing without `--json`.
    public func json(_ object: [String: Any]) {
        guard json, let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]),
              let s = String(data: data, encoding: .utf8) else { return }
        stdout(Redactor.redact(s))
    }

    /// An already serialized JSON document (a report's `json(pretty: false)`) on stdout; nothing without `--json`.
    public func json(text: String) {
        if json { stdout(Redactor.redact(text)) }
    }

    /// The result in both modes: under `--json` the document on stdout and the lines on stderr;
    /// otherwise the lines on stdout.
    public func result(_ lines: [String], json object: @autoclosure () -> [String: Any]) {
        result(lines)
        if json { self.json(object()) }
    }
}

/// A count for people: `3,707,231` (the reports' format).
public func fmt(_ n: Int64) -> String { ReportHTML.number(n) }

/// `s` padded to `n` columns (left-aligned, or right-aligned with a space after); longer text keeps a space after it.
public func pad(_ s: String, _ n: Int, right: Bool = false) -> String {
    let count = s.count
    if count > n { return s + " " }
    return right ? String(repeating: " ", count: n - count) + s + " " : s + String(repeating: " ", count: n - count)
}
