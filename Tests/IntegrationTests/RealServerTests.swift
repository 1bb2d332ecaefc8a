import CocoaTrack
import Foundation
import MigrationEngine
import Sandbox
import Testing

/// Issue #15 (poolers, DBA timeouts, several addresses): servers set up the way real ones are.
/// A real PgBouncer (Debian's package) started by the test in session and in transaction mode,
/// role-level settings a DBA would make (scoped to the test's own databases), and a host name
/// with two addresses the first of which refuses. Every command runs through the real executable.
@Suite("Real servers: poolers, DBA timeouts, several addresses")
struct RealServerTests {
    static func osUser() async throws -> String? {
        try await TestSandbox.shared.sandbox().osUser
    }

    static func password(_ cluster: ClusterState, _ user: String) -> String { cluster.passwords[user] ?? "" }

    /// A PgBouncer in front of the pair's V1 and V2 databases (aliases v1 and v2).
    static func bouncer(_ pair: DatabasePair, mode: String, settings: [String: String] = [:]) async throws -> PgBouncer {
        try await PgBouncer.start(
            mode: mode,
            targets: [.init(alias: "v1", cluster: pair.v1, database: pair.database), .init(alias: "v2", cluster: pair.v2, database: pair.database)],
            users: [(CocoaTrackSandbox.v1Admin, password(pair.v1, CocoaTrackSandbox.v1Admin)),
                    (CocoaTrackSandbox.v2Owner, password(pair.v2, CocoaTrackSandbox.v2Owner))],
            settings: settings, osUser: try await osUser())
    }

    static func urls(_ b: PgBouncer, _ pair: DatabasePair) -> (v1: String, v2: String) {
        (b.url(user: CocoaTrackSandbox.v1Admin, password: password(pair.v1, CocoaTrackSandbox.v1Admin), alias: "v1"),
         b.url(user: CocoaTrackSandbox.v2Owner, password: password(pair.v2, CocoaTrackSandbox.v2Owner), alias: "v2"))
    }

    static func run(_ args: [String], v1: String, v2: String) async throws -> Subprocess.Output {
        try await CLI.run(args, env: ["V1_DATABASE_URL": v1, "V2_DATABASE_URL": v2])
    }

    /// The migration lock's entries in pg_locks on V2's database (any session).
    static func lockHolders(_ pair: DatabasePair) async throws -> Int {
        try await pair.v2Super().using { c in
            Int(try await c.scalar("""
                SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
                  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND ((classid::bigint << 32) | objid::bigint) = $1
                """, [String(Migrator.lockKey)]) ?? "0") ?? 0
        }
    }

    /// V1's and V2's created_at of every audit_log row migrated (V1 less its rejected rows), as
    /// UTC text, sorted: equal when no timestamp moved.
    static func auditTimes(_ pair: DatabasePair) async throws -> (v1: String, v2: String) {
        let v2 = try await pair.v2Super().using {
            try await $0.scalar("SELECT count(*) || ':' || md5(string_agg(to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), ',' ORDER BY created_at)) FROM public.audit_log") ?? ""
        }
        let rejected = try await pair.v2Super().using {
            try await $0.scalar("SELECT '{' || coalesce(string_agg(DISTINCT source_id::text, ','), '') || '}' FROM cocoatrack_migration.row_issues WHERE kind = 'reject' AND source_table = 'public.audit_log'") ?? "{}"
        }
        let v1 = try await pair.v1Super().using {
            try await $0.scalar("SELECT count(*) || ':' || md5(string_agg(to_char(created_at, 'YYYY-MM-DD HH24:MI:SS.US'), ',' ORDER BY created_at)) FROM public.audit_log WHERE id <> ALL ($1::bigint[])", [rejected]) ?? ""
        }
        return (v1, v2)
    }

    @Test("session-mode PgBouncer (server_reset_query empty): migrate, verify, rollback --clear-v2 end to end; no session_replication_role or synchronous_commit left on any pooled server session")
    func sessionPooler() async throws {
        let pair = try await TestSandbox.shared.freshPair("pgbsession")
        try await MigrationFixture.generate(pair, scale: 0.004, seed: 21)
        // No reset between clients: whatever a session leaves set, the next client gets.
        let b = try await Self.bouncer(pair, mode: "session", settings: ["server_reset_query": ""])
        defer { b.stop() }
        let (v1, v2) = Self.urls(b, pair)
        let migrate = try await Self.run(["migrate", "--allow-writable-v1"], v1: v1, v2: v2)
        #expect(migrate.status == 0, "\(migrate.stderr.suffix(1500))")
        #expect(!migrate.stderr.contains("unsupported startup parameter"))
        let times = try await Self.auditTimes(pair)
        #expect(times.v1 == times.v2 && !times.v1.hasPrefix("0:"), "timestamps through the pooler: \(times)")

        // Every server session the pooler keeps for V2: each is taken by one client at once.
        let servers = try await pair.v2Super().using { c in
            try await c.query("SELECT pid::text FROM pg_stat_activity WHERE datname = current_database() AND usename = $1 AND pid <> pg_backend_pid()",
                              [CocoaTrackSandbox.v2Owner]).column("pid").compactMap { $0 }
        }
        #expect(!servers.isEmpty, "the pooler keeps the tool's server sessions")
        var clients: [PGConnection] = []
        var seen: [String: (String, String)] = [:]
        for _ in servers {
            let c = try await pair.connect(v2, label: "app")
            clients.append(c)
            let r = try await c.withSession { s -> [String?] in
                try s.execute("BEGIN")
                return try s.query("""
                    SELECT pg_backend_pid()::text,
                           (SELECT setting || '/' || source FROM pg_settings WHERE name = 'session_replication_role'),
                           (SELECT setting || '/' || source FROM pg_settings WHERE name = 'synchronous_commit')
                    """).rows[0]
            }
            seen[r[0] ?? "?"] = (r[1] ?? "?", r[2] ?? "?")
        }
        for c in clients { await c.close() }
        #expect(Set(servers).isSubset(of: Set(seen.keys)), "every pooled server session inspected: \(servers) vs \(seen.keys.sorted())")
        for (pid, v) in seen {
            // Set by a session (source "session") would be a leak; the server's own value is fine.
            #expect(v.0 == "origin/default" && !v.1.hasSuffix("/session"), "server session \(pid) kept session_replication_role=\(v.0), synchronous_commit=\(v.1)")
        }

        let verify = try await Self.run(["verify-integrity", "--max-reject-share", "0.2"], v1: v1, v2: v2)
        #expect(verify.status == 0, "\(verify.stderr.suffix(1500))")
        let dir = VerifyTests.tempDir("pgb-snap")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let clear = try await Self.run(["rollback", "--clear-v2", "--yes", "--snapshot-dir", dir], v1: v1, v2: v2)
        #expect(clear.status == 0, "\(clear.stderr.suffix(1500))")
        let left = try await pair.v2Super().using { try await $0.scalar("SELECT count(*) FROM public.deliveries") }
        #expect(left == "0")
        #expect(try await Self.lockHolders(pair) == 0, "the migration lock is free after the commands")
        Reliability.record("real servers", "PgBouncer \(b.mode) mode, server_reset_query empty: migrate, verify-integrity, rollback --clear-v2 through it",
                           injected: 3, survived: [migrate, verify, clear].filter { $0.status == 0 }.count, rowsLost: 0,
                           check: "exit 0 each; timestamps exact; \(seen.count) pooled server sessions afterwards: session_replication_role origin, synchronous_commit as the server sets it")
    }

    @Test("transaction-mode PgBouncer: migrate, verify and rollback refused before anything is written, exit 4, the message names the URL to use")
    func transactionPoolerRefused() async throws {
        let pair = try await TestSandbox.shared.freshPair("pgbtx")
        try await MigrationFixture.generate(pair, scale: 0.001, seed: 1502)
        let b = try await Self.bouncer(pair, mode: "transaction")
        defer { b.stop() }
        let (v1Pooled, v2Pooled) = Self.urls(b, pair)
        let before = try await ReliabilityHostileTests.v2State(pair)
        var refused = 0
        let cases: [(String, [String], String, String)] = [
            ("migrate, V2 through the transaction pooler", ["migrate", "--allow-writable-v1"], pair.v1URL, v2Pooled),
            ("migrate, V1 through the transaction pooler", ["migrate", "--allow-writable-v1"], v1Pooled, pair.v2URL),
            ("verify-integrity, V2 through the transaction pooler", ["verify-integrity"], pair.v1URL, v2Pooled),
            ("rollback --clear-v2, V2 through the transaction pooler", ["rollback", "--clear-v2", "--yes", "--no-snapshot"], pair.v1URL, v2Pooled),
        ]
        for (what, args, v1, v2) in cases {
            let out = try await Self.run(args, v1: v1, v2: v2)
            let text = out.stderr + out.stdout
            let ok = out.status == 4 && text.contains("connection pooler in transaction") && text.contains("direct database URL")
                && text.contains("session mode") && text.contains("port 5432")
            #expect(ok, "\(what): exit \(out.status): \(out.stderr.suffix(1200))")
            if ok { refused += 1 }
        }
        let after = try await ReliabilityHostileTests.v2State(pair)
        #expect(after == before, "V2 changed")
        #expect(after["state schema"] == "f", "no state schema written")
        // In process: the engine's own connect refuses it, with its code.
        do {
            _ = try await PGConnection.connect(ConnectionConfig(label: "V2", url: v2Pooled), logger: TestSandbox.shared.logger)
            Issue.record("a transaction pooler was accepted")
        } catch let e as MigrationError {
            #expect(e.code == .transactionPooler && e.exitCode == 4, "\(e)")
        }
        // Statement mode too.
        let st = try await Self.bouncer(pair, mode: "statement")
        defer { st.stop() }
        do {
            _ = try await PGConnection.connect(ConnectionConfig(label: "V2", url: Self.urls(st, pair).v2), logger: TestSandbox.shared.logger)
            Issue.record("a statement pooler was accepted")
        } catch let e as MigrationError {
            #expect(e.code == .transactionPooler && e.message.contains("statement pooling mode") && e.exitCode == 4, "\(e)")
            if e.code == .transactionPooler { refused += 1 }
        }
        // What the check costs a direct connection: the first to an endpoint opens a second
        // session and runs three more statements; later ones only set and read back.
        func connectTime() async throws -> Duration {
            let t0 = ContinuousClock.now
            let c = try await pair.connect(pair.v2SuperURL, label: "V2")
            let t = ContinuousClock.now - t0
            await c.close()
            return t
        }
        let firstConnect = try await connectTime()
        var later: [Duration] = []
        for _ in 0..<5 { later.append(try await connectTime()) }
        let ms = { (d: Duration) in String(format: "%.1f", Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1000) }
        #expect(try await Self.lockHolders(pair) == 0)
        Reliability.record("real servers", "PgBouncer transaction mode in front of V1 or V2: migrate, verify-integrity, rollback --clear-v2; statement mode: connect",
                           injected: cases.count + 1, survived: refused, rowsLost: 0,
                           check: "exit 4, message names the direct URL and session mode (Supabase port 5432), V2 tables and state schema unchanged; direct connect with the check \(ms(firstConnect)) ms, without (checked before) median \(ms(later.sorted()[2])) ms")
    }

    @Test("a session-mode PgBouncer whose pool holds one server session: the second session's wait ends in the pooling check with the pool-size message, exit 4")
    func poolTooSmall() async throws {
        let pair = try await TestSandbox.shared.freshPair("pgbsmall")
        let b = try await Self.bouncer(pair, mode: "session", settings: ["default_pool_size": "1", "query_wait_timeout": "60"])
        defer { b.stop() }
        let started = ContinuousClock.now
        do {
            _ = try await PGConnection.connect(ConnectionConfig(label: "V2", url: Self.urls(b, pair).v2), logger: TestSandbox.shared.logger)
            Issue.record("a pool of one server session was accepted")
        } catch let e as MigrationError {
            #expect(e.code == .refused && e.exitCode == 4 && e.message.contains("default_pool_size"), "\(e)")
        }
        let waited = ContinuousClock.now - started
        // Not the pooler's own query_wait_timeout (60 s here): the check ends the wait itself.
        #expect(waited < .seconds(45), "waited \(waited)")
        #expect(try await Self.lockHolders(pair) == 0)
        Reliability.record("real servers", "PgBouncer session mode, default_pool_size 1: the tool's second session waits for a server",
                           injected: 1, survived: 1, rowsLost: 0,
                           check: "refused after the check's 10 s wait (\(waited.components.seconds) s in all), exit 4, naming default_pool_size and the direct URL")
    }

    @Test("a DBA's role settings on V1 and V2 (TimeZone, statement_timeout 300ms, idle_in_transaction_session_timeout 200ms, lock_timeout 100ms): migrate --copy-format text and verify pass; timestamps exact")
    func roleSettings() async throws {
        let pair = try await TestSandbox.shared.freshPair("rolesettings")
        try await MigrationFixture.generate(pair, scale: 0.004, seed: 21)
        let db = SQL.ident(pair.database)
        try await pair.v1Super().using {
            try await $0.execute("""
                ALTER ROLE \(SQL.ident(CocoaTrackSandbox.v1Admin)) IN DATABASE \(db) SET TimeZone = 'Asia/Tokyo';
                ALTER ROLE \(SQL.ident(CocoaTrackSandbox.v1Admin)) IN DATABASE \(db) SET statement_timeout = '300ms';
                ALTER ROLE \(SQL.ident(CocoaTrackSandbox.v1Admin)) IN DATABASE \(db) SET idle_in_transaction_session_timeout = '200ms';
                ALTER ROLE \(SQL.ident(CocoaTrackSandbox.v1Admin)) IN DATABASE \(db) SET lock_timeout = '100ms';
                """)
        }
        try await pair.v2Super().using {
            try await $0.execute("""
                ALTER ROLE \(SQL.ident(CocoaTrackSandbox.v2Owner)) IN DATABASE \(db) SET TimeZone = 'America/Los_Angeles';
                ALTER ROLE \(SQL.ident(CocoaTrackSandbox.v2Owner)) IN DATABASE \(db) SET DateStyle = 'German, DMY';
                ALTER ROLE \(SQL.ident(CocoaTrackSandbox.v2Owner)) IN DATABASE \(db) SET statement_timeout = '300ms';
                ALTER ROLE \(SQL.ident(CocoaTrackSandbox.v2Owner)) IN DATABASE \(db) SET idle_in_transaction_session_timeout = '200ms';
                ALTER ROLE \(SQL.ident(CocoaTrackSandbox.v2Owner)) IN DATABASE \(db) SET lock_timeout = '100ms';
                """)
        }
        // The role settings are there for every other client (psql would get them)…
        let raw = try await Subprocess.run("/usr/bin/psql", [pair.v2URL, "-XAtc", "SHOW statement_timeout; SHOW TimeZone"], check: false)
        #expect(raw.stdout.split(separator: "\n") == ["300ms", "America/Los_Angeles"], "psql: \(raw.stdout) \(raw.stderr)")
        // …and the tool's sessions run with their own, read back.
        let settings = try await pair.v2Owner().using { c in
            try await c.query("SELECT current_setting('statement_timeout'), current_setting('TimeZone'), current_setting('DateStyle'), current_setting('idle_in_transaction_session_timeout'), current_setting('lock_timeout')").rows[0]
        }
        #expect(settings == ["0", "UTC", "ISO, YMD", "0", "0"], "\(settings)")
        // The snapshot-exporting V1 session idles in its transaction for the whole load (far
        // longer than 200 ms), the load's statements run past 300 ms on this machine.
        let migrate = try await Self.run(["migrate", "--allow-writable-v1", "--copy-format", "text"], v1: pair.v1URL, v2: pair.v2URL)
        #expect(migrate.status == 0, "\(migrate.stderr.suffix(1500))")
        let times = try await Self.auditTimes(pair)
        #expect(times.v1 == times.v2 && !times.v1.hasPrefix("0:"), "timestamps: \(times)")
        let verify = try await Self.run(["verify-integrity", "--max-reject-share", "0.2"], v1: pair.v1URL, v2: pair.v2URL)
        #expect(verify.status == 0, "\(verify.stderr.suffix(1500))")
        Reliability.record("real servers", "role settings on V1 and V2: TimeZone (Asia/Tokyo, America/Los_Angeles), DateStyle German, statement_timeout 300ms, idle_in_transaction_session_timeout 200ms, lock_timeout 100ms",
                           injected: 2, survived: [migrate, verify].filter { $0.status == 0 }.count, rowsLost: 0,
                           check: "migrate --copy-format text and verify-integrity exit 0; every audit_log created_at equal on both sides in UTC; sessions read back statement_timeout 0, TimeZone UTC")
    }

    @Test("the migration lock ends with the process: migrate through session PgBouncer (no reset) killed with SIGKILL; the lock is gone, the next migrate completes")
    func lockDiesWithProcess() async throws {
        let pair = try await TestSandbox.shared.freshPair("lockdies")
        try await MigrationFixture.generate(pair, scale: 0.02, seed: 1504)
        let b = try await Self.bouncer(pair, mode: "session", settings: ["server_reset_query": ""])
        defer { b.stop() }
        let (v1, v2) = Self.urls(b, pair)
        let log = VerifyTests.tempDir("lockdies") + ".log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        let pid = try Subprocess.launch(CLI.binary, ["migrate", "--allow-writable-v1"],
                                        environment: ProcessInfo.processInfo.environment.merging(["V1_DATABASE_URL": v1, "V2_DATABASE_URL": v2]) { $1 },
                                        logFile: log)
        // Held: then the lock's session takes no snapshot (holds back no vacuum).
        var held = false
        var xmin: String? = "?"
        for _ in 0..<600 where !held {
            held = try await Self.lockHolders(pair) > 0
            if held {
                xmin = try await pair.v2Super().using {
                    try await $0.scalar("""
                        SELECT a.backend_xmin::text FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                        WHERE l.locktype = 'advisory' AND ((l.classid::bigint << 32) | l.objid::bigint) = $1
                        """, [String(Migrator.lockKey)])
                }
            } else {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        #expect(held, "migrate took the lock: \((try? String(contentsOfFile: log, encoding: .utf8))?.suffix(800) ?? "")")
        #expect(xmin == nil, "the lock's session holds back xmin \(xmin ?? "")")
        // Killed while loading (the lock is held until the end).
        kill(pid, SIGKILL)
        let status = await Subprocess.wait(pid: pid)
        #expect(status == 128 + SIGKILL)
        var freed = false
        for _ in 0..<300 where !freed {
            freed = try await Self.lockHolders(pair) == 0
            if !freed { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(freed, "the migration lock outlived the process")
        let again = try await Self.run(["migrate", "--allow-writable-v1"], v1: v1, v2: v2)
        #expect(again.status == 0, "\(again.stderr.suffix(1500))")
        let clear = try await Self.run(["rollback", "--clear-v2", "--yes", "--no-snapshot"], v1: v1, v2: v2)
        #expect(clear.status == 0, "\(clear.stderr.suffix(1500))")
        Reliability.record("real servers", "migrate through session PgBouncer (server_reset_query empty) killed with SIGKILL while holding the migration lock",
                           injected: 1, survived: freed && again.status == 0 && clear.status == 0 ? 1 : 0, rowsLost: 0,
                           check: "no advisory lock left on V2; the next migrate and rollback --clear-v2 exit 0; the lock's session backend_xmin NULL")
    }

    @Test("a DDL lock wait says who holds the lock, keeps saying it, and goes on when it is released (V2 role lock_timeout 100ms)")
    func lockWaitReported() async throws {
        let pair = try await TestSandbox.shared.freshPair("lockwait")
        try await MigrationFixture.generate(pair, scale: 0.001, seed: 1505)
        try await pair.v2Super().using {
            try await $0.execute("ALTER ROLE \(SQL.ident(CocoaTrackSandbox.v2Owner)) IN DATABASE \(SQL.ident(pair.database)) SET lock_timeout = '100ms'")
        }
        let migrate = try await Self.run(["migrate", "--allow-writable-v1"], v1: pair.v1URL, v2: pair.v2URL)
        try #require(migrate.status == 0, "\(migrate.stderr.suffix(1500))")
        // An app session reads deliveries in a transaction it keeps open.
        let holder = try await pair.connect(pair.v2SuperURL + "&application_name=ctm-test-holder", label: "app")
        try await holder.execute("BEGIN; SELECT count(*) FROM public.deliveries;")
        let holderPID = try await holder.scalar("SELECT pg_backend_pid()") ?? "?"
        let log = VerifyTests.tempDir("lockwait") + ".log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        let pid = try Subprocess.launch(CLI.binary, ["rollback", "--clear-v2", "--yes", "--no-snapshot"],
                                        environment: ProcessInfo.processInfo.environment.merging(["V1_DATABASE_URL": pair.v1URL, "V2_DATABASE_URL": pair.v2URL]) { $1 },
                                        logFile: log)
        func reports() -> Int {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return text.components(separatedBy: "held by pid \(holderPID) (application_name \"ctm-test-holder\"").count - 1
        }
        var seen = 0
        for _ in 0..<1200 where seen < 2 {
            seen = reports()
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(seen >= 2, "reported \(seen) times: \(text.suffix(1500))")
        #expect(text.contains("public.deliveries") && text.contains("pg_terminate_backend"), "\(text.suffix(1500))")
        try await holder.execute("COMMIT")
        await holder.close()
        let status = await Subprocess.wait(pid: pid)
        #expect(status == 0, "\(String(text.suffix(1500)))")
        let left = try await pair.v2Super().using { try await $0.scalar("SELECT count(*) FROM public.deliveries") }
        #expect(left == "0")
        Reliability.record("real servers", "rollback --clear-v2 while an app session holds a lock on public.deliveries (V2 role lock_timeout 100ms)",
                           injected: 1, survived: seen >= 2 && status == 0 && left == "0" ? 1 : 0, rowsLost: 0,
                           check: "the holder's pid and application_name logged \(seen) times while waiting; exit 0 once it committed; V2 emptied")
    }

    @Test("a host name with two addresses, ::1 (nothing listening) then 127.0.0.1: the tool connects, as psql does")
    func twoAddresses() async throws {
        let pair = try await TestSandbox.shared.freshPair("twoaddr")
        try await MigrationFixture.generate(pair, scale: 0.001, seed: 1506)
        try #require(access("/etc/hosts", W_OK) == 0, "the test adds a name to /etc/hosts (run as root)")
        let name = "ctm-two-\(UUID().uuidString.prefix(8).lowercased()).test"
        let lines = ["::1 \(name)", "127.0.0.1 \(name)"]
        try HostsFile.add(lines)
        defer { HostsFile.remove(lines) }
        let addresses = try await Subprocess.run("/usr/bin/getent", ["ahostsv6", name], check: false).stdout
            + (try await Subprocess.run("/usr/bin/getent", ["ahosts", name], check: false).stdout)
        #expect(addresses.contains("::1") && addresses.contains("127.0.0.1"), "\(addresses)")
        let first = (try await Subprocess.run("/usr/bin/getent", ["ahosts", name], check: false).stdout).split(separator: " ").first.map(String.init)
        // Nothing listens on ::1 at V1's port: the first address refuses.
        #expect(!FreePort.isListening(pair.v1.port, ipv6: true), "something listens on [::1]:\(pair.v1.port)")
        let url = pair.v1URL.replacingOccurrences(of: "127.0.0.1:", with: "\(name):")
        let psql = try await Subprocess.run("/usr/bin/psql", [url, "-XAtc", "SELECT inet_server_addr()"], check: false)
        #expect(psql.status == 0 && psql.stdout.hasPrefix("127.0.0.1"), "psql: \(psql.stderr)")
        let served = try await PGConnection.connect(ConnectionConfig(label: "V1", url: url), logger: TestSandbox.shared.logger).using {
            try await $0.scalar("SELECT host(inet_server_addr())")
        }
        #expect(served == "127.0.0.1")
        let v2url = pair.v2URL.replacingOccurrences(of: "127.0.0.1:", with: "\(name):")
        let migrate = try await Self.run(["migrate", "--allow-writable-v1"], v1: url, v2: v2url)
        #expect(migrate.status == 0, "\(migrate.stderr.suffix(1500))")
        Reliability.record("real servers", "host name with two addresses (/etc/hosts: ::1 first, nothing listening there; then 127.0.0.1); getaddrinfo's first: \(first ?? "?")",
                           injected: 2, survived: (served == "127.0.0.1" ? 1 : 0) + (migrate.status == 0 ? 1 : 0), rowsLost: 0,
                           check: "connects to 127.0.0.1 as psql does; migrate through the name exits 0")
    }
}

/// Lines the test adds to /etc/hosts and removes again (only its own lines: others may edit it).
enum HostsFile {
    static let lock = NSLock()
    static func add(_ lines: [String]) throws {
        try lock.withLock {
            let text = try String(contentsOfFile: "/etc/hosts", encoding: .utf8)
            let joined = (text.hasSuffix("\n") || text.isEmpty ? text : text + "\n") + lines.joined(separator: "\n") + "\n"
            try Data(joined.utf8).write(to: URL(fileURLWithPath: "/etc/hosts"))
        }
    }

    static func remove(_ lines: [String]) {
        lock.withLock {
            guard let text = try? String(contentsOfFile: "/etc/hosts", encoding: .utf8) else { return }
            let kept = text.split(separator: "\n", omittingEmptySubsequences: false).filter { !lines.contains(String($0)) }
            try? Data(kept.joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: "/etc/hosts"))
        }
    }
}
