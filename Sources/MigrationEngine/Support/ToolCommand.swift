import PGClient
import Synchronization

/// How the operator runs this tool, for the copy-paste hints in messages ("Resume with: … migrate
/// --resume"). The executable sets it once at start from how it was invoked (the bare name when
/// that name on PATH is this program, else its absolute path); libraries only read it.
public enum ToolCommand {
    private static let storage = Mutex<String>("cocoatrack-migrate")

    /// The command as the operator can type it (shell-quoted when it needs quoting).
    public static var name: String { storage.withLock { $0 } }

    public static func set(_ command: String) { storage.withLock { $0 = command } }

    /// `name` followed by `arguments`: a line the operator can paste.
    public static func line(_ arguments: String) -> String { "\(name) \(arguments)" }
}
