import CocoaTrack
import Foundation
import MigrationEngine
import Sandbox
import Testing

@Suite("Preflight and connections")
struct PreflightTests {
    func expectConnectError(_ url: String, _ code: MigrationError.Code, secret: String? = nil) async throws {
        let started = ContinuousClock.now
        do {
            let c = try await PGConnection.connect(ConnectionConfig(label: "V1", url: url), logger: TestSandbox.shared.logger)
            await c.close()
            Issue.record("connected to \(url), expected \(code)")
        } catch let e as MigrationError {
            #expect(e.code == code, "\(e)")
            #expect(e.exitCode == 1)
            #expect(!e.description.contains("\n"), "one line: \(e.description)")
            if let secret { #expect(!e.description.contains(secret)); #expect(!e.detailedDescription.contains(secret)) }
        }
        // Within seconds, not after a TCP or DNS timeout of a minute or more. The tool's own worst
        // case is its DNS deadline (5 s) plus libpq's connect_timeout (5 s); the margin above it is
        // for a busy 2-core machine, where the test's task can wait for a thread (seen: 10.6 s).
        #expect(ContinuousClock.now - started < .seconds(30), "errors must come within seconds")
    }

    @Test func wrongPassword() async throws {
        let pair = try await TestSandbox.shared.freshPair("pw")
        let url = pair.v1URL.replacingOccurrences(of: pair.v1.passwords[CocoaTrackSandbox.v1Admin]!, with: "Wr0ngPassw0rd-xyz")
        try await expectConnectError(url, .authenticationFailed, secret: "Wr0ngPassw0rd-xyz")
    }

    @Test func unknownHost() async throws {
        try await expectConnectError("postgresql://u:HostSecret-1@no-such-host.invalid:5432/db", .unknownHost, secret: "HostSecret-1")
    }

    @Test func refusedPort() async throws {
        try await expectConnectError("postgresql://u:PortSecret-1@127.0.0.1:1/db", .connectionRefused, secret: "PortSecret-1")
    }

    @Test func tlsRequiredButNotOffered() async throws {
        let pair = try await TestSandbox.shared.freshPair("tls")
        let url = pair.v1URL.replacingOccurrences(of: "sslmode=disable", with: "sslmode=require")
        try await expectConnectError(url, .tlsMismatch, secret: pair.v1.passwords[CocoaTrackSandbox.v1Admin]!)
    }

    @Test func unknownDatabase() async throws {
        let pair = try await TestSandbox.shared.freshPair("nodb")
        try await expectConnectError(pair.v1.url(database: "no_such_db"), .unknownDatabase)
    }

    @Test("preflight passes on the sandbox as provisioned")
    func passes() async throws {
        let pair = try await TestSandbox.shared.freshPair("pfok")
        let v1 = try await pair.v1Admin()
        let v2 = try await pair.v2Owner()
        let report = try await Preflight.run(v1: v1, v2: v2, profile: CocoaTrackSchema.preflightProfile())
        await v1.close()
        await v2.close()
        #expect(report.passed, "\(report.checks.filter { !$0.passed })")
        #expect(report.servers.allSatisfy { $0.versionNumber >= 150000 })
        #expect(report.servers[1].isSuperuser == false, "V2 runs as a non-superuser owner, as on Supabase")
    }

    @Test("a missing privilege on either side is named, with the fix")
    func missingPrivileges() async throws {
        let pair = try await TestSandbox.shared.freshPair("pfmiss")
        // V1: the migration account loses SELECT on one table.
        try await pair.v1Admin().using { try await $0.execute("REVOKE SELECT ON public.deliveries FROM cocoatrack_admin") }
        // V2: a login that can read but not write, nor switch triggers off.
        try await pair.v2Super().using {
            try await $0.execute("""
                DO $$ BEGIN
                  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'readonly_migrator') THEN
                    CREATE ROLE readonly_migrator LOGIN PASSWORD 'RoPass-123';
                  END IF;
                END $$;
                GRANT USAGE ON SCHEMA public, auth TO readonly_migrator;
                GRANT SELECT ON ALL TABLES IN SCHEMA public TO readonly_migrator;
                GRANT SELECT ON auth.users TO readonly_migrator;
                """)
        }
        let v1 = try await pair.v1Admin()
        let v2 = try await pair.connect(pair.v2.url(login: "readonly_migrator", database: pair.database).replacingOccurrences(of: ":@", with: ":RoPass-123@"), label: "V2")
        let report = try await Preflight.run(v1: v1, v2: v2, profile: CocoaTrackSchema.preflightProfile())
        await v1.close()
        await v2.close()
        #expect(!report.passed)
        let failed = Dictionary(uniqueKeysWithValues: report.checks.filter { !$0.passed }.map { ("\($0.side) \($0.name)", $0.detail) })
        #expect(failed["V1 read every table"]?.contains("public.deliveries (SELECT)") == true, "\(failed)")
        #expect(failed["V2 write every table"]?.contains("auth.users (INSERT, UPDATE, DELETE)") == true, "\(failed)")
        #expect(failed["V2 write every table"]?.contains("public.deliveries (INSERT, UPDATE, DELETE)") == true)
        #expect(failed["V2 SET session_replication_role"]?.contains("GRANT SET ON PARAMETER session_replication_role") == true)
        #expect(failed["V2 create the migration schema"]?.contains("GRANT CREATE ON DATABASE") == true)
        #expect(failed.count == 4, "only the broken privileges fail: \(failed.keys.sorted())")
    }

    @Test("preflight names the triggers on the migrated tables, off during the load; one set ENABLE ALWAYS fails, with the fix")
    func triggers() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("pftrig")
        // A Supabase app's usual trigger: a profile for each new auth user.
        let v2 = try await pair.v2Super()
        try await v2.execute(MigrationFixture.profileTriggerSQL(role: "viewer"))
        try await v2.execute("""
            CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
            CREATE TRIGGER deliveries_touch BEFORE UPDATE ON public.deliveries FOR EACH ROW EXECUTE FUNCTION public.touch();
            CREATE TABLE public.app_notes (id int PRIMARY KEY, updated_at timestamptz);
            ALTER TABLE public.app_notes OWNER TO postgres;
            CREATE TRIGGER app_notes_touch BEFORE UPDATE ON public.app_notes FOR EACH ROW EXECUTE FUNCTION public.touch();
            """)
        let env = VerifyTests.env(pair)
        let ordinary = try await CLI.run(["preflight"], env: env)
        #expect(ordinary.status == 0, "\(ordinary.stdout) \(ordinary.stderr)")
        let line = ordinary.stdout.split(separator: "\n").first { $0.contains("V2 triggers on the migrated tables") }.map(String.init) ?? ""
        #expect(line.contains("[ok]") && line.contains("2 triggers"), "\(ordinary.stdout)")
        #expect(line.contains("auth.users on_auth_user_created (AFTER INSERT → handle_new_user()): ordinary, off during the load (migrate loads with session_replication_role = replica)"), "\(line)")
        #expect(line.contains("public.deliveries deliveries_touch (BEFORE UPDATE → touch()): ordinary, off during the load"), "\(line)")
        #expect(!line.contains("app_notes"), "a table the migration does not write is not listed: \(line)")

        // What preflight says is what migrate does: the ordinary trigger stays off, no profile is added.
        try await MigrationFixture.generate(pair, scale: 0.002, seed: 64)
        _ = try await MigrationFixture.migrate(pair)
        #expect(try await v2.scalar("SELECT count(*) FROM public.profiles") == (try await v2.scalar("SELECT count(*) FROM auth.users")))

        try await v2.execute("ALTER TABLE auth.users ENABLE ALWAYS TRIGGER on_auth_user_created")
        let always = try await CLI.run(["preflight"], env: env)
        await v2.close()
        #expect(always.status == 3, "\(always.stdout) \(always.stderr)")
        let flagged = always.stdout.split(separator: "\n").first { $0.contains("V2 triggers on the migrated tables") }.map(String.init) ?? ""
        #expect(flagged.contains("[MISSING]"), "\(always.stdout)")
        #expect(flagged.contains("auth.users on_auth_user_created (AFTER INSERT → handle_new_user()) is set ENABLE ALWAYS: it fires during the load even with session_replication_role = replica"), "\(flagged)")
        #expect(flagged.contains("Fix: ALTER TABLE \"auth\".\"users\" ENABLE TRIGGER \"on_auth_user_created\";"), "\(flagged)")
        #expect(flagged.contains("public.deliveries deliveries_touch (BEFORE UPDATE → touch()): ordinary"), "\(flagged)")
        #expect(!flagged.contains("deliveries_touch (BEFORE UPDATE → touch()) is set"), "only the ALWAYS trigger is flagged")
    }
}

@Suite("Catalog")
struct CatalogTests {
    @Test("the clear order derived from V2's foreign keys is the plan's list")
    func clearOrderMatchesPlan() async throws {
        let pair = try await TestSandbox.shared.freshPair("catalog")
        let catalog = try await pair.v2Owner().using { try await Catalog.read($0, schemas: ["public"], extraTables: [TableName("auth", "users")]) }
        let publicTables = Set(catalog.tables.keys.filter { $0.schema == "public" })
        #expect(publicTables.count == 10)
        let order = try catalog.clearOrder(of: publicTables).map(\.name)
        #expect(order == ["audit_log", "delivery_photos", "deliveries", "planteurs", "chef_planteurs",
                          "invoices", "warehouses", "profiles", "cooperatives", "regions"])
        let load = try catalog.loadOrder()
        for fk in catalog.foreignKeys where fk.table != fk.referencedTable {
            #expect(load.firstIndex(of: fk.referencedTable)! < load.firstIndex(of: fk.table)!, "\(fk.name)")
        }
        let levels = try catalog.loadLevels(of: publicTables)
        #expect(levels.first == [TableName("public", "regions")])
        #expect(levels.last == [TableName("public", "delivery_photos")])
    }

    @Test("a foreign-key cycle is reported, not looped on")
    func cycle() async throws {
        let pair = try await TestSandbox.shared.freshPair("cycle")
        try await pair.v2Owner().using { c in
            try await c.execute("""
                CREATE SCHEMA cyc;
                CREATE TABLE cyc.a (id int PRIMARY KEY, b_id int);
                CREATE TABLE cyc.b (id int PRIMARY KEY, a_id int REFERENCES cyc.a);
                ALTER TABLE cyc.a ADD FOREIGN KEY (b_id) REFERENCES cyc.b;
                """)
            let catalog = try await Catalog.read(c, schemas: ["cyc"])
            #expect(throws: MigrationError.self) { try catalog.loadOrder() }
        }
    }
}

@Suite("Sandbox lifecycle", .serialized)
struct SandboxLifecycleTests {
    func postgresAlive(_ dataDir: String) -> Bool {
        guard let text = try? String(contentsOfFile: dataDir + "/postmaster.pid", encoding: .utf8),
              let pid = text.split(separator: "\n").first.flatMap({ Int32($0) }) else { return false }
        return ProcessStatus.isAlive(pid)
    }

    @Test("up, down: nothing left running, no port, no directory")
    func upDown() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ctm-life-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let m = SandboxManager(root: root, logger: TestSandbox.shared.logger)
        let state = try await m.up([CocoaTrackSandbox.v1Spec], extraSettings: ["fsync": "off"])
        try m.spawnWatchdog(owner: getpid(), state: state)
        let v1 = try #require(state.cluster("v1"))
        #expect(postgresAlive(v1.dataDirectory))
        let pidText = try String(contentsOfFile: v1.dataDirectory + "/postmaster.pid", encoding: .utf8)
        let pid = Int32(pidText.split(separator: "\n")[0])!
        // The app role can write V1 like the production application.
        try await m.connect(v1, login: "app_user").using { c in
            try await c.execute("INSERT INTO regions (name, code, created_at) VALUES ('Gôh', 'GOH', now())")
            #expect(try await c.scalar("SELECT count(*) FROM regions") == "1")
        }
        // up is idempotent.
        let again = try await m.up([CocoaTrackSandbox.v1Spec])
        #expect(again.clusters.first?.port == v1.port)
        #expect(try await m.down())
        #expect(!ProcessStatus.isAlive(pid), "postmaster \(pid) still alive")
        #expect(!FileManager.default.fileExists(atPath: root.path))
        // The port is free again.
        await #expect(throws: MigrationError.self) {
            _ = try await PGConnection.connect(ConnectionConfig(label: "V1", url: v1.url()), logger: TestSandbox.shared.logger)
        }
        #expect(try await m.down() == false)
    }

    @Test("an interrupted `up` removes everything it created")
    func interruptedUp() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ctm-int-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let m = SandboxManager(root: root, logger: TestSandbox.shared.logger)
        let task = Task { try await m.up(CocoaTrackSandbox.specs, extraSettings: ["fsync": "off"]) }
        // Wait until the first cluster's server is running, then interrupt.
        var dataDir: String?
        for _ in 0..<300 {
            if let st = try? m.readState(), let c = st.clusters.first, c.port > 0, postgresAlive(c.dataDirectory) {
                dataDir = c.dataDirectory
                break
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        task.cancel()
        let result = await task.result
        if case .success = result {
            // It finished before the interrupt landed: clean up and accept nothing less than empty.
            try await m.down()
        } else if case .failure(let e as MigrationError) = result {
            #expect(e.code == .interrupted || e.code == .connectionFailed || e.code == .queryFailed, "\(e)")
        }
        if let dataDir { #expect(!postgresAlive(dataDir)) }
        #expect(!FileManager.default.fileExists(atPath: root.path))
    }
}
