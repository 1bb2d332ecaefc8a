import Foundation
import Logging
import MigrationEngine

#if canImport(Glibc)
import Glibc
#endif

/// What one throwaway cluster must hold. Generic: the application module supplies the SQL.
public struct ClusterSpec: Sendable {
    public struct Login: Sendable {
        public var name: String
        /// Extra role attributes, e.g. `CREATEROLE`.
        public var attributes: String
        public init(_ name: String, attributes: String = "") {
            self.name = name
            self.attributes = attributes
        }
    }

    public enum Step: Sendable {
        /// SQL run by the cluster's superuser in the spec's database.
        case asSuperuser(String)
        /// SQL run by one of the spec's logins in the spec's database.
        case asLogin(String, String)
    }

    public var name: String
    public var superuser: String
    public var database: String
    /// The environment variable `sandbox env` exports this cluster's primary URL as.
    public var environmentVariable: String
    /// The login whose URL is exported (the migration tool's account on that side).
    public var primaryLogin: String
    public var logins: [Login]
    /// postgresql.conf settings beyond the sandbox's own (e.g. `shared_preload_libraries`).
    public var settings: [String: String]
    public var steps: [Step]

    public init(
        name: String, superuser: String, database: String, environmentVariable: String,
        primaryLogin: String, logins: [Login], settings: [String: String] = [:], steps: [Step]
    ) {
        self.name = name
        self.superuser = superuser
        self.database = database
        self.environmentVariable = environmentVariable
        self.primaryLogin = primaryLogin
        self.logins = logins
        self.settings = settings
        self.steps = steps
    }
}

/// A running cluster, as recorded in the sandbox state file.
public struct ClusterState: Codable, Sendable {
    public var name: String
    public var port: Int
    public var dataDirectory: String
    public var database: String
    public var superuser: String
    public var environmentVariable: String
    public var primaryLogin: String
    /// login name → password (the state file is private to its owner: mode 0600).
    public var passwords: [String: String]

    /// A libpq URL for `login` (default: the primary login) on loopback.
    public func url(login: String? = nil, database: String? = nil) -> String {
        let user = login ?? primaryLogin
        let password = passwords[user] ?? ""
        let enc = password.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")) ?? password
        return "postgresql://\(user):\(enc)@127.0.0.1:\(port)/\(database ?? self.database)?sslmode=disable"
    }

    public var superuserURL: String { url(login: superuser) }
}

public struct SandboxState: Codable, Sendable {
    public var root: String
    /// The unprivileged OS user the servers run as, when the sandbox was started by root.
    public var osUser: String?
    public var binDirectory: String
    public var createdAt: Date
    public var clusters: [ClusterState]

    public func cluster(_ name: String) -> ClusterState? { clusters.first { $0.name == name } }
}

/// Starts and stops throwaway PostgreSQL clusters on 127.0.0.1 and free ports, with scram
/// password authentication. Used by `sandbox up|down|status|env` and by the test suite.
public struct SandboxManager: Sendable {
    public let root: URL
    let logger: Logger

    public init(root: URL, logger: Logger) {
        self.root = root
        self.logger = logger
    }

    /// `$COCOATRACK_SANDBOX_DIR`, else `<tmp>/cocoatrack-sandbox-<uid>`.
    public static func defaultRoot(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let dir = environment["COCOATRACK_SANDBOX_DIR"], !dir.isEmpty { return URL(fileURLWithPath: dir) }
        let tmp = environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        return URL(fileURLWithPath: tmp).appendingPathComponent("cocoatrack-sandbox-\(getuid())")
    }

    var stateFile: URL { root.appendingPathComponent("state.json") }

    public func readState() throws -> SandboxState? {
        guard FileManager.default.fileExists(atPath: stateFile.path) else { return nil }
        do {
            let data = try Data(contentsOf: stateFile)
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            let state = try decoder.decode(SandboxState.self, from: data)
            for c in state.clusters { c.passwords.values.forEach(Redactor.register) }
            return state
        } catch {
            throw MigrationError(.sandbox, "the sandbox state file \(stateFile.path) is unreadable. Run `sandbox down` to remove the sandbox.", cause: TextCause("\(error)"))
        }
    }

    func writeState(_ state: SandboxState) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        let data = try encoder.encode(state)
        let tmp = stateFile.appendingPathExtension("tmp")
        try writePrivateFile(tmp.path, data)
        guard rename(tmp.path, stateFile.path) == 0 else {
            throw MigrationError(.sandbox, "cannot write \(stateFile.path): \(String(cString: strerror(errno)))")
        }
    }

    // MARK: up

    /// Creates, starts and fills the clusters. On any failure or cancellation (Ctrl+C) it
    /// removes everything it created: no process, port or directory is left behind.
    public func up(_ specs: [ClusterSpec], extraSettings: [String: String] = [:]) async throws -> SandboxState {
        if let existing = try readState() {
            if await isRunning(existing) {
                logger.info("sandbox already up", metadata: ["root": "\(root.path)"])
                return existing
            }
            throw MigrationError(.sandbox, "a sandbox at \(root.path) exists but is not running. Run `sandbox down` first, then `sandbox up`.")
        }
        let bin = try Self.findBinDirectory()
        let runAs = try OSUser.unprivilegedIfRoot()
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o711])
        var state = SandboxState(root: root.path, osUser: runAs?.name, binDirectory: bin, createdAt: Date(), clusters: [])
        do {
            try writeState(state)
            for spec in specs {
                try Task.checkCancellation()
                let cluster = try await createCluster(spec, bin: bin, runAs: runAs, extraSettings: extraSettings) { partial in
                    state.clusters.removeAll { $0.name == partial.name }
                    state.clusters.append(partial)
                    try self.writeState(state)
                }
                try Task.checkCancellation()
                try await provision(spec, cluster: cluster)
            }
            return state
        } catch {
            logger.warning("sandbox up failed; removing what it created", metadata: ["error": "\(error)"])
            await teardown(state)
            if error is CancellationError || (error as? MigrationError)?.code == .interrupted {
                throw MigrationError(.interrupted, "sandbox up was interrupted; nothing was left behind.")
            }
            throw error
        }
    }

    private func createCluster(
        _ spec: ClusterSpec, bin: String, runAs: OSUser?, extraSettings: [String: String],
        record: (ClusterState) throws -> Void
    ) async throws -> ClusterState {
        let dataDir = root.appendingPathComponent(spec.name)
        var passwords: [String: String] = [spec.superuser: Self.randomPassword()]
        for login in spec.logins { passwords[login.name] = Self.randomPassword() }
        passwords.values.forEach(Redactor.register)

        try FileManager.default.createDirectory(at: dataDir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let pwFile = root.appendingPathComponent(".\(spec.name).pw")
        try writePrivateFile(pwFile.path, Data((passwords[spec.superuser]! + "\n").utf8))
        defer { try? FileManager.default.removeItem(at: pwFile) }
        if let runAs {
            try runAs.chown(dataDir.path)
            try runAs.chown(pwFile.path)
        }
        var cluster = ClusterState(
            name: spec.name, port: 0, dataDirectory: dataDir.path, database: spec.database,
            superuser: spec.superuser, environmentVariable: spec.environmentVariable,
            primaryLogin: spec.primaryLogin, passwords: passwords)
        try record(cluster)
        logger.info("initdb", metadata: ["cluster": "\(spec.name)"])
        try await runAsOwner(runAs, "\(bin)/initdb", [
            "-D", dataDir.path, "-U", spec.superuser, "--auth=scram-sha-256", "--pwfile=\(pwFile.path)",
            "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
        ])

        var lastError: (any Error)?
        for _ in 0..<5 {
            try Task.checkCancellation()
            let port = try FreePort.find()
            var settings: [String: String] = [
                "listen_addresses": "'127.0.0.1'",
                "port": "\(port)",
                "unix_socket_directories": "'\(dataDir.path)'",
                "max_connections": "100",
                "max_wal_size": "'4GB'",
                "logging_collector": "off",
                "log_min_messages": "warning",
                "password_encryption": "'scram-sha-256'",
            ]
            for (k, v) in spec.settings { settings[k] = v }
            for (k, v) in extraSettings { settings[k] = v }
            let conf = settings.keys.sorted().map { "\($0) = \(settings[$0]!)" }.joined(separator: "\n")
            try writeAsOwner(runAs, path: dataDir.appendingPathComponent("postgresql.auto.conf").path,
                             contents: "# written by cocoatrack-migrate sandbox\n" + conf + "\n")
            cluster.port = port
            try record(cluster)
            do {
                try await runAsOwner(runAs, "\(bin)/pg_ctl", [
                    "-D", dataDir.path, "-l", dataDir.appendingPathComponent("server.log").path,
                    "-w", "-t", "60", "start",
                ])
                logger.info("cluster started", metadata: ["cluster": "\(spec.name)", "port": "\(port)"])
                return cluster
            } catch {
                lastError = error
                let log = (try? String(contentsOfFile: dataDir.appendingPathComponent("server.log").path, encoding: .utf8)) ?? ""
                if !log.contains("could not bind") && !log.contains("Address already in use") { throw error }
                logger.notice("port taken, trying another", metadata: ["port": "\(port)"])
            }
        }
        throw lastError ?? MigrationError(.sandbox, "could not start cluster \(spec.name)")
    }

    private func provision(_ spec: ClusterSpec, cluster: ClusterState) async throws {
        let admin = try await connect(cluster, login: cluster.superuser, database: "postgres")
        for login in spec.logins {
            let pw = cluster.passwords[login.name]!
            let exists = try await admin.scalar("SELECT 1 FROM pg_roles WHERE rolname = $1", [login.name]) != nil
            let verb = exists ? "ALTER" : "CREATE"
            try await admin.execute("\(verb) ROLE \(SQL.ident(login.name)) LOGIN PASSWORD \(SQL.literal(pw)) \(login.attributes)")
        }
        if spec.database != "postgres" {
            try await admin.execute("CREATE DATABASE \(SQL.ident(spec.database))")
        }
        await admin.close()
        let superConn = try await connect(cluster, login: cluster.superuser, database: spec.database)
        var loginConns: [String: PGConnection] = [:]
        defer {
            let conns = Array(loginConns.values) + [superConn]
            Task { for c in conns { await c.close() } }
        }
        for step in spec.steps {
            try Task.checkCancellation()
            switch step {
            case .asSuperuser(let sql):
                try await superConn.execute(sql)
            case .asLogin(let login, let sql):
                if loginConns[login] == nil {
                    loginConns[login] = try await connect(cluster, login: login, database: spec.database)
                }
                try await loginConns[login]!.execute(sql)
            }
        }
    }

    public func connect(_ cluster: ClusterState, login: String? = nil, database: String? = nil) async throws -> PGConnection {
        let config = try ConnectionConfig(label: cluster.name.uppercased(), url: cluster.url(login: login, database: database))
        return try await PGConnection.connect(config, logger: logger)
    }

    // MARK: down / status

    /// Stops every cluster and removes the sandbox directory. Idempotent.
    @discardableResult
    public func down() async throws -> Bool {
        guard let state = try? readState() else {
            if FileManager.default.fileExists(atPath: root.path) {
                try? FileManager.default.removeItem(at: root)
                return true
            }
            return false
        }
        await teardown(state)
        return true
    }

    func teardown(_ state: SandboxState) async {
        let runAs = state.osUser.flatMap { OSUser(name: $0) }
        for cluster in state.clusters {
            let pidFile = cluster.dataDirectory + "/postmaster.pid"
            guard FileManager.default.fileExists(atPath: pidFile) else { continue }
            do {
                try await runAsOwner(runAs, "\(state.binDirectory)/pg_ctl", ["-D", cluster.dataDirectory, "-m", "fast", "-w", "-t", "30", "stop"])
            } catch {
                logger.warning("pg_ctl stop failed; sending SIGQUIT", metadata: ["cluster": "\(cluster.name)", "error": "\(error)"])
                if let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
                   let pid = text.split(separator: "\n").first.flatMap({ Int32($0) }) {
                    kill(pid, SIGQUIT)
                    for _ in 0..<50 where ProcessStatus.isAlive(pid) { try? await Task.sleep(for: .milliseconds(100)) }
                }
            }
        }
        try? FileManager.default.removeItem(at: root)
    }

    /// Stops one cluster (fast shutdown: sessions are terminated, as in a failover or a managed
    /// restart), keeps it down for `downFor`, and starts it again on the same port. For fault drills.
    public func restart(_ clusterName: String, downFor: Duration = .zero) async throws {
        guard let state = try readState(), let cluster = state.cluster(clusterName) else {
            throw MigrationError(.sandbox, "no cluster \(clusterName) in the sandbox at \(root.path)")
        }
        let runAs = state.osUser.flatMap { OSUser(name: $0) }
        try await runAsOwner(runAs, "\(state.binDirectory)/pg_ctl", ["-D", cluster.dataDirectory, "-m", "fast", "-w", "-t", "30", "stop"])
        if downFor > .zero { try await Task.sleep(for: downFor) }
        try await runAsOwner(runAs, "\(state.binDirectory)/pg_ctl", [
            "-D", cluster.dataDirectory, "-l", cluster.dataDirectory + "/server.log", "-w", "-t", "60", "start",
        ])
    }

    public func isRunning(_ state: SandboxState) async -> Bool {
        for cluster in state.clusters {
            guard let conn = try? await connect(cluster, login: cluster.superuser, database: "postgres") else { return false }
            await conn.close()
        }
        return !state.clusters.isEmpty
    }

    /// Starts a detached watchdog that stops the clusters and removes the sandbox when process
    /// `owner` exits, even through `kill -9`. The test suite uses it so that no server outlives it.
    public func spawnWatchdog(owner: Int32, state: SandboxState) throws {
        let dirs = state.clusters.map { "'\($0.dataDirectory)'" }.joined(separator: " ")
        let script = """
            # Alive and not a zombie (some container init processes never reap).
            while kill -0 \(owner) 2>/dev/null && [ "$(sed 's/.*) //' /proc/\(owner)/stat 2>/dev/null | cut -c1)" != "Z" ]; do sleep 1; done
            for d in \(dirs); do
              if [ -f "$d/postmaster.pid" ]; then kill -QUIT "$(head -n 1 "$d/postmaster.pid")" 2>/dev/null; fi
            done
            sleep 2
            rm -rf '\(state.root)'
            """
        try Subprocess.spawnDetached("/bin/sh", ["-c", script])
    }

    // MARK: helpers

    /// `PG_BINDIR`, else `pg_config --bindir` when it holds `initdb`, else the newest
    /// `/usr/lib/postgresql/*/bin`.
    public static func findBinDirectory() throws -> String {
        let fm = FileManager.default
        if let dir = ProcessInfo.processInfo.environment["PG_BINDIR"], fm.isExecutableFile(atPath: dir + "/initdb") { return dir }
        if let pgConfig = Subprocess.which("pg_config"),
           let out = try? Subprocess.runBlocking(pgConfig, ["--bindir"], environment: nil, stdin: nil), out.status == 0 {
            let dir = out.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            if fm.isExecutableFile(atPath: dir + "/initdb") { return dir }
        }
        let base = "/usr/lib/postgresql"
        let versions = ((try? fm.contentsOfDirectory(atPath: base)) ?? []).compactMap(Int.init).sorted(by: >)
        for v in versions where fm.isExecutableFile(atPath: "\(base)/\(v)/bin/initdb") { return "\(base)/\(v)/bin" }
        if let initdb = Subprocess.which("initdb") { return (initdb as NSString).deletingLastPathComponent }
        throw MigrationError(.environment, "no PostgreSQL server binaries found (initdb, pg_ctl). Install them (Debian: apt-get install -y postgresql) or set PG_BINDIR.")
    }

    static func randomPassword() -> String {
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var rng = SystemRandomNumberGenerator()
        return "sbx-" + String((0..<24).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
    }

    private func runAsOwner(_ runAs: OSUser?, _ executable: String, _ args: [String]) async throws {
        var env = ProcessInfo.processInfo.environment
        env["LC_ALL"] = "C.UTF-8"
        env.removeValue(forKey: "PGDATA")
        if let runAs {
            try await Subprocess.run(Subprocess.which("setpriv") ?? "/usr/bin/setpriv",
                                     ["--reuid=\(runAs.uid)", "--regid=\(runAs.gid)", "--clear-groups", "--", executable] + args,
                                     environment: env)
        } else {
            try await Subprocess.run(executable, args, environment: env)
        }
    }

    private func writeAsOwner(_ runAs: OSUser?, path: String, contents: String) throws {
        try writePrivateFile(path, Data(contents.utf8))
        if let runAs { try runAs.chown(path) }
    }
}

/// Writes a file readable by its owner only (mode 0600).
func writePrivateFile(_ path: String, _ data: Data) throws {
    guard FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600]) else {
        throw MigrationError(.environment, "cannot write \(path): \(String(cString: strerror(errno))). Check the directory's permissions and free space.")
    }
}

/// The OS account the servers run as. PostgreSQL refuses to run as root, so when this process
/// is root the clusters run as `postgres` (when that account exists) or `nobody`.
struct OSUser: Sendable {
    let name: String
    let uid: uid_t
    let gid: gid_t

    init?(name: String) {
        guard let pw = getpwnam(name) else { return nil }
        self.name = name
        self.uid = pw.pointee.pw_uid
        self.gid = pw.pointee.pw_gid
    }

    static func unprivilegedIfRoot() throws -> OSUser? {
        guard geteuid() == 0 else { return nil }
        let override = ProcessInfo.processInfo.environment["COCOATRACK_SANDBOX_OS_USER"]
        for name in [override, "postgres", "nobody"].compactMap({ $0 }) {
            if let user = OSUser(name: name), user.uid != 0 { return user }
        }
        throw MigrationError(.environment, "running as root and no unprivileged account (postgres, nobody) exists to run PostgreSQL. Create one or set COCOATRACK_SANDBOX_OS_USER.")
    }

    func chown(_ path: String) throws {
        if Glibc.chown(path, uid, gid) != 0 {
            throw MigrationError(.environment, "cannot hand \(path) to OS user \(name): \(String(cString: strerror(errno)))")
        }
    }
}

public enum ProcessStatus {
    /// True while `pid` runs. A zombie (exited, not yet reaped: common under container init
    /// processes that never reap) counts as gone.
    public static func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        let state = stat[stat.index(close, offsetBy: 2)...].first
        return state != "Z" && state != "X"
    }
}

public enum FreePort {
    /// Asks the kernel for a free TCP port on 127.0.0.1.
    public static func find() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw MigrationError(.environment, "socket() failed: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw MigrationError(.environment, "cannot bind a port on 127.0.0.1: \(String(cString: strerror(errno)))") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port` now (on [::1] with `ipv6`).
    public static func isListening(_ port: Int, ipv6: Bool = false) -> Bool {
        let fd = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        func connected<A>(_ addr: inout A) -> Bool {
            withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<A>.size)) }
            } == 0
        }
        if ipv6 {
            var addr = sockaddr_in6()
            addr.sin6_family = sa_family_t(AF_INET6)
            addr.sin6_port = in_port_t(UInt16(port).bigEndian)
            addr.sin6_addr = in6addr_loopback
            return connected(&addr)
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return connected(&addr)
    }

    /// Waits until `port` accepts connections (a server a test started), up to `seconds`.
    public static func waitUntilListening(_ port: Int, seconds: Double = 60) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !isListening(port) {
            guard Date() < deadline else { throw MigrationError(.environment, "nothing listens on 127.0.0.1:\(port) after \(Int(seconds)) s") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
