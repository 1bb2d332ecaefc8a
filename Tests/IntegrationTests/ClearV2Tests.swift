import CocoaTrack
import Foundation
import MigrationEngine
import Testing

@Suite("rollback --clear-v2 and snapshots", .serialized)
struct ClearV2Tests {
    func clear(_ pair: DatabasePair, url: String? = nil) async throws -> ClearTarget.Result {
        try await ClearTarget(plan: CocoaTrackMapping.plan(context: .init()), target: ConnectionConfig(label: "V2", url: url ?? pair.v2URL),
                              logger: TestSandbox.shared.logger).run(toolVersion: "test")
    }

    @Test("after a full migration: V2 empty (its own auth users kept), V1 untouched, history kept, idempotent, migrate works again")
    func afterFullMigration() async throws {
        let pair = try await TestSandbox.shared.freshPair("clearfull")
        try await MigrationFixture.generate(pair, scale: 0.002, seed: 8)
        let v1Before = try await pair.v1Admin().using { try await fingerprints($0) }
        // The app's own trigger, as most Supabase apps have: a profile for every new auth user.
        try await pair.v2Owner().using { try await $0.execute(MigrationFixture.profileTriggerSQL(role: "admin")) }
        let ddlBefore = try await pair.v2Owner().using { try await MigrationFixture.catalogDDL($0) }
        // A Supabase user that the migration did not create must survive, with the profile the
        // trigger made for it: migrate accepts it (it is not the migration's) and leaves it alone.
        try await pair.v2Owner().using {
            try await $0.execute("INSERT INTO auth.users (id, email, aud, role) VALUES ('11111111-2222-4333-8444-555555555555', 'dashboard.admin@example.com', 'authenticated', 'authenticated')")
        }
        let migrated = try await MigrationFixture.migrate(pair)
        try await pair.v2Owner().using { c in
            #expect(try await c.scalar("SELECT count(*) FROM public.profiles") == String((migrated.loads.first { $0.name == "profiles" }?.written ?? 0) + 1),
                    "the trigger did not fire for migrated users (the load runs with session_replication_role = replica)")
            // The dashboard admin is put in a migrated cooperative: that reference cannot survive the clear.
            try await c.execute("UPDATE public.profiles SET cooperative_id = (SELECT id FROM public.cooperatives ORDER BY id LIMIT 1) WHERE id = '11111111-2222-4333-8444-555555555555'")
        }
        // Both users signed in through Supabase Auth: a session and a refresh token each; the
        // dashboard user has its own email identity.
        let dashboard = "11111111-2222-4333-8444-555555555555"
        try await pair.v2Owner().using { c in
            let user = try #require(try await c.scalar("SELECT id::text FROM auth.users WHERE id <> $1 ORDER BY id LIMIT 1", [dashboard]))
            try await c.execute("""
                INSERT INTO auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at)
                VALUES ('\(dashboard)', '\(dashboard)', '{"sub": "\(dashboard)", "email": "dashboard.admin@example.com"}', 'email', now(), now());
                INSERT INTO auth.sessions (id, user_id, created_at, updated_at) VALUES
                    ('aaaaaaaa-0000-4000-8000-000000000001', '\(user)', now(), now()),
                    ('aaaaaaaa-0000-4000-8000-000000000002', '\(dashboard)', now(), now());
                INSERT INTO auth.refresh_tokens (token, user_id, session_id, revoked, created_at, updated_at) VALUES
                    ('migrated-user-token', '\(user)', 'aaaaaaaa-0000-4000-8000-000000000001', false, now(), now()),
                    ('dashboard-token', '\(dashboard)', 'aaaaaaaa-0000-4000-8000-000000000002', false, now(), now());
                """)
        }
        let preview = try await ClearTarget(plan: CocoaTrackMapping.plan(context: .init()), target: ConnectionConfig(label: "V2", url: pair.v2URL),
                                            logger: TestSandbox.shared.logger).preview()
        #expect(preview.order.first { $0.table == "auth.sessions" }?.rows == 1, "the preview names the migrated user's session: \(preview.order.map { "\($0.table) \($0.rows)" })")
        #expect(preview.order.first { $0.table == "auth.refresh_tokens" }?.rows == 1)
        let keptProfile = try #require(preview.kept.first { $0.table == "public.profiles" }, "the preview says what it keeps")
        #expect(keptProfile.rows == 1 && keptProfile.scope.contains("cooperative_id set to NULL"), "\(keptProfile)")
        let result = try await clear(pair)
        #expect(result.remaining == 0)
        let auth = result.deleted.first { $0.table == "auth.users" }
        #expect(auth?.rows == migrated.loads.first { $0.name == "auth_users" }?.written)
        #expect(result.deleted.first { $0.table == "auth.identities" }?.rows == migrated.loads.first { $0.name == "auth_identities" }?.written)
        #expect(result.deleted.first { $0.table == "auth.sessions" }?.rows == 1)
        #expect(result.deleted.first { $0.table == "auth.refresh_tokens" }?.rows == 1)
        let c = try await pair.v2Owner()
        #expect(try await c.scalar("SELECT string_agg(user_id::text, ',') FROM auth.identities") == dashboard, "the dashboard user keeps its identity")
        #expect(try await c.scalar("SELECT string_agg(user_id::text, ',') FROM auth.sessions") == dashboard, "and its session")
        #expect(try await c.scalar("SELECT string_agg(token, ',') FROM auth.refresh_tokens") == "dashboard-token", "and its refresh token")
        for t in MigrationFixture.v2Tables {
            // Empty, but for the dashboard user's own profile.
            #expect(try await c.scalar("SELECT count(*) FROM public.\(t)") == (t == "profiles" ? "1" : "0"), "\(t)")
        }
        #expect(try await c.scalar("SELECT count(*) FROM auth.users") == "1", "only the migration's auth users are deleted")
        #expect(try await c.scalar("SELECT email || ' ' || role || ' ' || coalesce(cooperative_id::text, 'NULL') FROM public.profiles")
                == "dashboard.admin@example.com admin NULL", "the dashboard user keeps its profile (its migrated cooperative gone)")
        #expect(result.kept.first { $0.table == "public.profiles" }?.rows == 1)
        #expect(try await c.scalar("SELECT count(*) FROM cocoatrack_migration.runs WHERE command = 'migrate'") == "1", "history kept")
        #expect(try await MigrationFixture.catalogDDL(c) == ddlBefore)
        await c.close()
        #expect(try await pair.v1Admin().using { try await fingerprints($0) } == v1Before, "V1 untouched")
        // Idempotent, then a fresh migration is accepted.
        let again = try await clear(pair)
        #expect(again.deleted.allSatisfy { $0.rows == 0 })
        let second = try await MigrationFixture.migrate(pair)
        #expect(second.loads.map(\.written) == migrated.loads.map(\.written))
    }

    @Test("after a partial migration (killed mid-load, keys set aside): V2 empty and its catalog whole again")
    func afterPartialMigration() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("clearpart")
        try await MigrationFixture.generate(pair, scale: 0.01, seed: 9)
        let v1Before = try await pair.v1Admin().using { try await fingerprints($0) }
        let ddlBefore = try await pair.v2Owner().using { try await MigrationFixture.catalogDDL($0) }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("ctm-clear-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        var env = ProcessInfo.processInfo.environment
        env["V1_DATABASE_URL"] = pair.v1URL
        env["V2_DATABASE_URL"] = pair.v2URL
        let watcher = try await pair.v2Super()
        let pid = try Subprocess.launch(CLI.binary, ["migrate", "--allow-writable-v1", "--batch-rows", "300"], environment: env, logFile: log)
        for _ in 0..<2000 {
            if try await MigrateResumeTests.batches(watcher) >= 10 { break }
            try await Task.sleep(for: .milliseconds(5))
        }
        kill(pid, SIGKILL)
        _ = await Subprocess.wait(pid: pid)
        let journaled = try await watcher.scalar("SELECT count(*) FROM cocoatrack_migration.dropped_ddl")
        #expect(journaled != "0", "keys were set aside when the migration was killed")
        let out = try await CLI.run(["rollback", "--clear-v2", "--yes", "--no-snapshot"], env: ["V2_DATABASE_URL": pair.v2URL])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(try await MigrationFixture.catalogDDL(watcher) == ddlBefore)
        for t in MigrationFixture.v2Tables {
            #expect(try await watcher.scalar("SELECT count(*) FROM public.\(t)") == "0", "\(t)")
        }
        #expect(try await watcher.scalar("SELECT count(*) FROM cocoatrack_migration.dropped_ddl") == "0")
        #expect(try await pair.v1Admin().using { try await fingerprints($0) } == v1Before, "V1 untouched")
        await watcher.close()
    }

    @Test("pointed at V1, or at a V2 that holds no migration: refused with exit 4, nothing touched")
    func refusesWrongDatabase() async throws {
        let pair = try await TestSandbox.shared.freshPair("clearwrong")
        try await MigrationFixture.generate(pair, scale: 0.001, seed: 10)
        let before = try await pair.v1Admin().using { try await fingerprints($0) }
        let atV1 = try await CLI.run(["rollback", "--clear-v2", "--yes", "--no-snapshot"], env: ["V2_DATABASE_URL": pair.v1URL])
        #expect(atV1.status == 4, "\(atV1.stderr)")
        #expect(atV1.stderr.contains("pointing at V1"))
        #expect(try await pair.v1Admin().using { try await fingerprints($0) } == before)
        // Without --yes and without a terminal: refused before anything happens.
        try await MigrationFixture.migrate(pair)
        let noConfirm = try await CLI.run(["rollback", "--clear-v2", "--no-snapshot"], env: ["V2_DATABASE_URL": pair.v2URL])
        #expect(noConfirm.status == 4)
        #expect(try await pair.v2Owner().using { try await $0.scalar("SELECT count(*) > 0 FROM public.deliveries") } == "t")
    }

    @Test("a V2 snapshot restores into an empty database with identical row counts; sha256 sidecar matches")
    func snapshotRestores() async throws {
        let pair = try await TestSandbox.shared.freshPair("snap")
        try await MigrationFixture.generate(pair, scale: 0.002, seed: 12)
        try await MigrationFixture.migrate(pair)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ctm-snap-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let files = try await Snapshot.take(ConnectionConfig(label: "V2", url: pair.v2URL), parts: CocoaTrackSchema.snapshotParts(side: "v2", label: "pre_migration"), directory: dir)
        #expect(files.count == 2)
        for f in files {
            #expect(f.path.contains("v2_pre_migration_") && f.path.hasSuffix(".dump"))
            let side = try String(contentsOfFile: f.path + ".sha256", encoding: .utf8)
            #expect(side.hasPrefix(f.sha256))
            let check = try await Subprocess.run("/usr/bin/sha256sum", [f.path])
            #expect(check.stdout.hasPrefix(f.sha256))
            let attrs = try FileManager.default.attributesOfItem(atPath: f.path)
            #expect((attrs[.posixPermissions] as? Int) == 0o600)
        }
        // Restore into a fresh, empty database (V2 stand-in with auth.users), then compare counts.
        let target = try await TestSandbox.shared.freshPair("snaprestore")
        try await target.v2Owner().using { c in
            try await c.execute("DROP SCHEMA public CASCADE")
        }
        let env = ["PGPASSWORD": target.v2.passwords[CocoaTrackSandbox.v2Owner]!]
        var full = ProcessInfo.processInfo.environment
        full.merge(env) { $1 }
        let conninfo = "host=127.0.0.1 port=\(target.v2.port) dbname=\(target.database) user=\(CocoaTrackSandbox.v2Owner) sslmode=disable"
        // auth.users rows first: profiles reference them.
        for f in files.reversed() {
            let r = try await Subprocess.run(Subprocess.which("pg_restore")!, ["--no-owner", "--exit-on-error", "-d", conninfo, f.path], environment: full, check: false)
            #expect(r.status == 0, "\(r.stderr)")
        }
        let source = try await pair.v2Owner().using { try await MigrationFixture.v2Fingerprints($0) }
        let restored = try await target.v2Owner().using { try await MigrationFixture.v2Fingerprints($0) }
        #expect(source.mapValues { $0.split(separator: ":")[0] } == restored.mapValues { $0.split(separator: ":")[0] }, "identical row counts")
        #expect(source == restored, "identical content")
    }
}
