import PGClient
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs an external program (initdb, pg_ctl, pg_dump, …) with `posix_spawn` and `waitpid`,
/// capturing its output on dedicated threads (no pipe deadlock, no run-loop polling).
/// Output is redacted before it reaches any error.
public enum Subprocess {
    /// Creating pipes, marking them close-on-exec and spawning happen under one lock: a child
    /// spawned by another thread between `pipe()` and `fcntl()` would inherit our pipe's write end
    /// and keep it open for its whole life (a pg_ctl-started server: forever), so our reader would
    /// never see end-of-file.
    static let spawnLock = NSLock()

    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs `executable` with `arguments`; throws unless it exits 0 (when `check`).
    @discardableResult
    public static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        stdin: String? = nil,
        check: Bool = true
    ) async throws -> Output {
        let output: Output = try await withCheckedThrowingContinuation { cont in
            BlockingThread.run {
                cont.resume(with: Result { try runBlocking(executable, arguments, environment: environment, stdin: stdin) })
            }
        }
        if check && output.status != 0 {
            let name = (executable as NSString).lastPathComponent
            let tail = (output.stderr.isEmpty ? output.stdout : output.stderr)
                .split(separator: "\n").suffix(8).joined(separator: "\n")
            throw MigrationError(.subprocessFailed, "\(name) failed with exit status \(output.status): \(tail)")
        }
        return output
    }

    /// Starts a detached process in its own session with stdio on /dev/null and does not wait.
    public static func spawnDetached(_ executable: String, _ arguments: [String]) throws {
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(0x80) /* POSIX_SPAWN_SETSID */)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd in [0, 1, 2] as [Int32] {
            posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        spawnLock.lock()
        defer { spawnLock.unlock() }
        _ = try spawn(executable, arguments, environment: nil, attr: &attr, actions: &actions)
    }

    /// Starts a process with stdout and stderr appended to `logFile` and returns its pid; reap it
    /// with `wait(pid:)`.
    public static func launch(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, logFile: String) throws -> pid_t {
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logFile, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        spawnLock.lock()
        defer { spawnLock.unlock() }
        return try spawn(executable, arguments, environment: environment, attr: &attr, actions: &actions)
    }

    /// Waits for `pid` to exit (on a background thread) and returns its exit status
    /// (128 + signal when killed).
    public static func wait(pid: pid_t) async -> Int32 {
        await withCheckedContinuation { cont in
            BlockingThread.run {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                cont.resume(returning: (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f))
            }
        }
    }

    static func spawn(
        _ executable: String, _ arguments: [String], environment: [String: String]?,
        attr: inout posix_spawnattr_t, actions: inout posix_spawn_file_actions_t
    ) throws -> pid_t {
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let env = environment ?? ProcessInfo.processInfo.environment
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attr, argv, envp)
        guard rc == 0 else {
            throw MigrationError(.environment, "cannot start \(executable): \(String(cString: strerror(rc))). Is it installed?")
        }
        return pid
    }

    public static func runBlocking(_ executable: String, _ arguments: [String], environment: [String: String]?, stdin: String?) throws -> Output {
        var outPipe: [Int32] = [0, 0]
        var errPipe: [Int32] = [0, 0]
        var inPipe: [Int32] = [0, 0]
        spawnLock.lock()
        var locked = true
        defer { if locked { spawnLock.unlock() } }
        guard pipe(&outPipe) == 0, pipe(&errPipe) == 0, pipe(&inPipe) == 0 else {
            throw MigrationError(.environment, "pipe() failed: \(String(cString: strerror(errno)))")
        }
        // Our ends must not leak into other children (or this one beyond its 0, 1 and 2).
        for fd in outPipe + errPipe + inPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if stdin != nil {
            posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        let pid: pid_t
        do {
            pid = try spawn(executable, arguments, environment: environment, attr: &attr, actions: &actions)
        } catch {
            (outPipe + errPipe + inPipe).forEach { close($0) }
            throw error
        }
        close(outPipe[1])
        close(errPipe[1])
        close(inPipe[0])
        spawnLock.unlock()
        locked = false
        let group = DispatchGroup()
        let outBox = DataBox()
        let errBox = DataBox()
        for (fd, box) in [(outPipe[0], outBox), (errPipe[0], errBox)] {
            group.enter()
            BlockingThread.run {
                box.data = readAll(fd)
                close(fd)
                group.leave()
            }
        }
        if let stdin {
            var bytes = Array(stdin.utf8)
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeMutableBytes { write(inPipe[1], $0.baseAddress! + offset, $0.count - offset) }
                if n <= 0 { break }
                offset += n
            }
            bytes.removeAll()
        }
        close(inPipe[1])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        group.wait()
        let exitStatus: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Output(status: exitStatus, stdout: String(decoding: outBox.data, as: UTF8.self), stderr: String(decoding: errBox.data, as: UTF8.self))
    }

    static func readAll(_ fd: Int32) -> Data {
        var data = Data()
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n > 0 { data.append(buf, count: n) } else if n == -1 && errno == EINTR { continue } else { break }
        }
        return data
    }

    /// Finds an executable by name on PATH (or returns nil).
    public static func which(_ name: String, extraDirectories: [String] = []) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in extraDirectories + path.split(separator: ":").map(String.init) {
            let candidate = (dir as NSString).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}

private final class DataBox: @unchecked Sendable {
    var data = Data()
}

