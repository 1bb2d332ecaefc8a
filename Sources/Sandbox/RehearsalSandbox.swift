import Foundation
import MigrationEngine

/// Where `rehearse` keeps its sandbox: a directory of its own, never the one `sandbox up` uses by
/// default, and never one it did not create. A marker file in the directory says a rehearsal
/// made it; a later rehearsal replaces only such a sandbox.
public struct RehearsalSandbox: Sendable {
    public static let marker = "made-by-rehearse"
    public static let environmentVariable = "COCOATRACK_REHEARSAL_SANDBOX_DIR"

    public let root: String

    public init(root: String) { self.root = root }

    /// `--sandbox-dir`, else `$COCOATRACK_REHEARSAL_SANDBOX_DIR`, else `<tmp>/cocoatrack-rehearsal-<uid>`.
    public static func directory(flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let flag, !flag.isEmpty { return flag }
        if let dir = environment[environmentVariable], !dir.isEmpty { return dir }
        let tmp = environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        return (tmp as NSString).appendingPathComponent("cocoatrack-rehearsal-\(getuid())")
    }

    public var markerPath: String { (root as NSString).appendingPathComponent(Self.marker) }

    public enum Prior: Equatable { case none, ours, foreign(String) }

    /// What is in the directory now.
    public func prior() -> Prior {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: root, isDirectory: &isDir) else { return .none }
        guard isDir.boolValue else { return .foreign("\(root) is a file") }
        if fm.fileExists(atPath: markerPath) { return .ours }
        let entries = (try? fm.contentsOfDirectory(atPath: root)) ?? []
        if entries.isEmpty { return .none }
        return .foreign(entries.contains("state.json") ? "a sandbox that rehearse did not create (made by `sandbox up`)" : "files that rehearse did not create")
    }

    /// Refuses (exit 4) a directory holding anything rehearse did not make; nothing is touched.
    public func checkMayReplace() throws {
        if case .foreign(let what) = prior() {
            throw MigrationError(.refused, "\(root) holds \(what); rehearse removes only sandboxes it made itself. Nothing was touched. Rehearse elsewhere with --sandbox-dir DIR (or \(Self.environmentVariable)), or remove that sandbox first: \(ToolCommand.line("sandbox down --dir " + Invocation.quote(root)))")
        }
    }

    public func markCreated() throws {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o711])
        try Data("this sandbox was made by `cocoatrack-migrate rehearse`; the next rehearsal with this directory replaces it\n".utf8)
            .write(to: URL(fileURLWithPath: markerPath))
    }

    /// The arguments that point a `sandbox` subcommand at this directory.
    public var dirArguments: [String] { ["--dir", root] }
}
