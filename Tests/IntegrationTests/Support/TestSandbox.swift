import CocoaTrack
import Foundation
import Logging
import MigrationEngine
import Sandbox
import Testing

/// The servers every integration test talks to: real PostgreSQL clusters started by the suite
/// itself through the same `SandboxManager` as `cocoatrack-migrate sandbox up` (never a mock,
/// never a server started by hand). One V1 and one V2 cluster per test process, started on first
/// use; a detached watchdog stops them and removes their directory when the test process exits,
/// even through `kill -9`. Each test gets its own pair of databases cloned from the schema
/// templates, so tests run in parallel without seeing each other.
actor TestSandbox {
    static let shared = TestSandbox()

    private var state: SandboxState?
    private var counter = 0
    let logger: Logger = {
        var l = Logger(label: "tests")
        l.logLevel = .warning
        return l
    }()

    /// Throwaway servers: no durability, room for many parallel tests.
    static let serverSettings = ["fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "200"]

    func sandbox() async throws -> SandboxState {
        if let state { return state }
        let root = FileManager.default.temporaryDirectory
            .appendingPathComponent("ctm-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let manager = SandboxManager(root: root, logger: logger)
        let st = try await manager.up(CocoaTrackSandbox.specs, extraSettings: Self.serverSettings)
        try manager.spawnWatchdog(owner: getpid(), state: st)
        state = st
        return st
    }

    var manager: SandboxManager {
        get async throws {
            let st = try await sandbox()
            return SandboxManager(root: URL(fileURLWithPath: st.root), logger: logger)
        }
    }

    /// A fresh V1 database (schema, grants, no rows) and a fresh V2 database (Supabase stand-in and
    /// schema, no rows), unique to the caller.
    func freshPair(_ label: String = "t") async throws -> DatabasePair {
        let st = try await sandbox()
        counter += 1
        let name = "\(label.lowercased().filter { $0.isLetter || $0.isNumber })_\(counter)"
        let v1 = st.cluster("v1")!
        let v2 = st.cluster("v2")!
        let m = try await manager
        let a1 = try await m.connect(v1, login: v1.superuser, database: "postgres")
        try await a1.execute("CREATE DATABASE \(SQL.ident(name)) TEMPLATE cocoatrack OWNER \(CocoaTrackSandbox.v1Admin)")
        await a1.close()
        try await Self.createV2Database(name, on: v2, manager: m)
        return DatabasePair(v1: v1, v2: v2, database: name)
    }

    /// A V2 database `name` on `cluster`, cloned from the schema in its `postgres` database.
    static func createV2Database(_ name: String, on cluster: ClusterState, manager: SandboxManager) async throws {
        let a2 = try await manager.connect(cluster, login: cluster.superuser, database: "template1")
        // One statement per call: CREATE DATABASE cannot run inside a multi-statement string.
        try await a2.execute("CREATE DATABASE \(SQL.ident(name)) TEMPLATE postgres")
        try await a2.execute("ALTER DATABASE \(SQL.ident(name)) SET search_path = \"$user\", public, extensions")
        try await a2.execute("GRANT CREATE ON DATABASE \(SQL.ident(name)) TO \(CocoaTrackSandbox.v2Owner)")
        await a2.close()
    }

    /// Clones are made from the template databases, which therefore must never be connected to.
    private init() {}
}

/// One test's V1 and V2 databases.
struct DatabasePair: Sendable {
    let v1: ClusterState
    let v2: ClusterState
    let database: String

    var v1URL: String { v1.url(database: database) }
    var v2URL: String { v2.url(database: database) }
    var v1SuperURL: String { v1.url(login: v1.superuser, database: database) }
    var v2SuperURL: String { v2.url(login: v2.superuser, database: database) }
    var appUserURL: String { v1.url(login: CocoaTrackSchema.defaultAppRole, database: database) }

    func connect(_ url: String, label: String) async throws -> PGConnection {
        try await PGConnection.connect(ConnectionConfig(label: label, url: url), logger: TestSandbox.shared.logger)
    }

    func v1Admin() async throws -> PGConnection { try await connect(v1URL, label: "V1") }
    func v2Owner() async throws -> PGConnection { try await connect(v2URL, label: "V2") }
    func v1Super() async throws -> PGConnection { try await connect(v1SuperURL, label: "V1") }
    func v2Super() async throws -> PGConnection { try await connect(v2SuperURL, label: "V2") }
    /// V1's superuser on another database of V1's cluster (`postgres` to create or drop this pair's).
    func v1Super(on database: String) async throws -> PGConnection {
        try await connect(v1.url(login: v1.superuser, database: database), label: "V1")
    }
}

extension PGConnection {
    /// Runs `body` and closes the connection afterwards, whatever happens.
    func using<T: Sendable>(_ body: (PGConnection) async throws -> T) async throws -> T {
        do {
            let r = try await body(self)
            await close()
            return r
        } catch {
            await close()
            throw error
        }
    }
}
