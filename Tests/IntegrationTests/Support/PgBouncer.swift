import Foundation
import MigrationEngine
import Sandbox
import Testing

/// A real PgBouncer (Debian's `pgbouncer` package, /usr/sbin/pgbouncer) started by the test in
/// front of sandbox clusters, on a free loopback port, with its ini and userlist in a temporary
/// directory. As root it runs as the sandbox's unprivileged OS user (PgBouncer refuses root).
/// Stopped with SIGKILL by `stop()`; a detached watchdog does it if the test process dies.
final class PgBouncer: @unchecked Sendable {
    static let binary = "/usr/sbin/pgbouncer"
    let port: Int
    let dir: String
    let pid: pid_t
    let mode: String

    /// Database aliases: alias -> (cluster, database).
    struct Target {
        var alias: String
        var cluster: ClusterState
        var database: String
    }

    static func available() -> Bool { FileManager.default.isExecutableFile(atPath: binary) }

    static func start(mode: String, targets: [Target], users: [(String, String)], settings: [String: String] = [:],
                      osUser: String?) async throws -> PgBouncer {
        try #require(available(), "PgBouncer is not installed: apt-get install pgbouncer (.ci/run does it)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ctm-pgbouncer-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let port = try FreePort.find()
        let dbs = targets.map { "\($0.alias) = host=127.0.0.1 port=\($0.cluster.port) dbname=\($0.database)" }.joined(separator: "\n")
        var ini: [String: String] = [
            "listen_addr": "127.0.0.1", "listen_port": "\(port)", "unix_socket_dir": "",
            "auth_type": "scram-sha-256", "auth_file": "\(dir)/userlist.txt", "pool_mode": mode,
            "default_pool_size": "20", "max_client_conn": "200", "logfile": "\(dir)/pgbouncer.log",
            "pidfile": "\(dir)/pgbouncer.pid", "log_connections": "1", "log_disconnections": "1",
        ]
        for (k, v) in settings { ini[k] = v }
        let text = "[databases]\n\(dbs)\n\n[pgbouncer]\n" + ini.sorted { $0.key < $1.key }.map { "\($0.key) = \($0.value)" }.joined(separator: "\n") + "\n"
        try text.write(toFile: dir + "/pgbouncer.ini", atomically: true, encoding: .utf8)
        let userlist = users.map { "\"\($0.0)\" \"\($0.1)\"" }.joined(separator: "\n") + "\n"
        try userlist.write(toFile: dir + "/userlist.txt", atomically: true, encoding: .utf8)
        var executable = binary
        var args = [dir + "/pgbouncer.ini"]
        if geteuid() == 0 {
            let name = try #require(osUser, "running as root without the sandbox's OS user")
            let pw = try #require(getpwnam(name))
            for f in ["", "/pgbouncer.ini", "/userlist.txt"] { chown(dir + f, pw.pointee.pw_uid, pw.pointee.pw_gid) }
            chmod(dir, 0o700)
            executable = Subprocess.which("setpriv") ?? "/usr/bin/setpriv"
            args = ["--reuid=\(pw.pointee.pw_uid)", "--regid=\(pw.pointee.pw_gid)", "--clear-groups", "--", binary] + args
        }
        let pid = try Subprocess.launch(executable, args, logFile: dir + "/stdout.log")
        let bouncer = PgBouncer(port: port, dir: dir, pid: pid, mode: mode)
        // A watchdog: kills it if this test process dies first.
        try Subprocess.spawnDetached("/bin/sh", ["-c", "while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done; kill -9 \(pid) 2>/dev/null"])
        // Up when it accepts TCP connections.
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if FreePort.isListening(port) { return bouncer }
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid {
                let log = (try? String(contentsOfFile: dir + "/stdout.log", encoding: .utf8)) ?? ""
                Issue.record("pgbouncer exited: \(log.suffix(1500))")
                throw MigrationError(.environment, "pgbouncer exited")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        bouncer.stop()
        throw MigrationError(.environment, "pgbouncer did not listen on \(port) within 30 s")
    }

    private init(port: Int, dir: String, pid: pid_t, mode: String) {
        self.port = port
        self.dir = dir
        self.pid = pid
        self.mode = mode
    }

    /// A URL through the pooler for `user` to database alias `alias`.
    func url(user: String, password: String, alias: String) -> String {
        let enc = password.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? password
        return "postgresql://\(user):\(enc)@127.0.0.1:\(port)/\(alias)?sslmode=disable"
    }

    var log: String { (try? String(contentsOfFile: dir + "/pgbouncer.log", encoding: .utf8)) ?? "" }

    func stop() {
        kill(pid, SIGKILL)
        var raw: Int32 = 0
        _ = waitpid(pid, &raw, 0)
        try? FileManager.default.removeItem(atPath: dir)
    }
}
