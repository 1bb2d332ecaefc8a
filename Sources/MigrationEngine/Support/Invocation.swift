import PGClient
import Foundation

/// The command the operator actually ran, for hints: the bare name when the shell finds this very
/// program under that name on PATH, else the absolute path it was started from (shell-quoted when
/// needed), so that every copy-paste line in a message runs as printed.
public enum Invocation {
    /// Derives the command from `argv0` (as the process received it), PATH and the working directory.
    public static func command(argv0: String, path: String?, cwd: String, executable: String?) -> String {
        let name = (argv0 as NSString).lastPathComponent
        let me = executable.map(canonical)
        if !name.isEmpty, let onPath = lookUp(name, path: path) {
            // The name alone works when PATH leads to this program (or we cannot tell otherwise and
            // the shell found us by that name).
            if let me { if canonical(onPath) == me { return quote(name) } } else if !argv0.contains("/") { return quote(name) }
        }
        if argv0.contains("/") {
            let absolute = argv0.hasPrefix("/") ? argv0 : (cwd as NSString).appendingPathComponent(argv0)
            return quote(lexical(absolute))
        }
        return quote(executable ?? argv0)
    }

    /// Sets `ToolCommand` for this process.
    public static func install() {
        let env = ProcessInfo.processInfo.environment
        let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        ToolCommand.set(command(argv0: CommandLine.arguments.first ?? "cocoatrack-migrate", path: env["PATH"],
                                cwd: FileManager.default.currentDirectoryPath, executable: exe))
    }

    public static func lookUp(_ name: String, path: String?) -> String? {
        for dir in (path ?? "").split(separator: ":").map(String.init) where !dir.isEmpty {
            let candidate = (dir as NSString).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// `.` and `..` removed without touching the file system (symlinks kept as the user named them).
    public static func lexical(_ path: String) -> String {
        var parts: [Substring] = []
        for p in path.split(separator: "/", omittingEmptySubsequences: true) {
            if p == "." { continue }
            if p == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(p)
        }
        return "/" + parts.joined(separator: "/")
    }

    public static func canonical(_ path: String) -> String {
        guard let r = realpath(path, nil) else { return path }
        defer { free(r) }
        return String(cString: r)
    }

    /// Single-quotes a word for the shell when it holds anything but safe characters.
    public static func quote(_ word: String) -> String {
        let safe = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./+:=@%,")
        if !word.isEmpty && word.unicodeScalars.allSatisfy({ safe.contains($0) }) { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
