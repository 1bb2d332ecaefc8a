import CocoaTrack
import Foundation
import MigrationEngine
import Sandbox
import Testing

/// Issue #15, deliverable 5: V2 out of disk space mid-migrate. The migrated tables (and their
/// indexes) live in a tablespace on a tmpfs the test mounts (so a real file system refuses the
/// writes, ENOSPC, as a full volume does); the catalogs, WAL and the migration schema stay on the
/// cluster's own disk. Needs root (or CAP_SYS_ADMIN) for mount(2), as CI runs the suite: where
/// it cannot mount, the test fails saying so, never skips silently.
@Suite("Full V2 disk", .serialized)
struct DiskFullTests {
    /// A tmpfs mounted at `path`, whose size can be changed while mounted.
    struct SmallDisk {
        let path: String

        static func mount(size: Int64) throws -> SmallDisk {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("ctm-disk-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            guard Glibc.mount("tmpfs", path, "tmpfs", 0, "size=\(size),mode=0700") == 0 else {
                let why = String(cString: strerror(errno))
                try? FileManager.default.removeItem(atPath: path)
                throw MigrationError(.environment, "cannot mount a tmpfs at \(path) (\(why)): this test needs root or CAP_SYS_ADMIN (CI runs the suite as root). It is not skipped: run it where mount(2) is allowed.")
            }
            return SmallDisk(path: path)
        }

        func resize(_ size: Int64) throws {
            guard Glibc.mount("tmpfs", path, "tmpfs", UInt(MS_REMOUNT), "size=\(size),mode=0700") == 0 else {
                throw MigrationError(.environment, "cannot resize the tmpfs at \(path): \(String(cString: strerror(errno)))")
            }
        }

        /// (bytes in use, bytes available)
        var usage: (used: Int64, free: Int64) {
            var st = statvfs()
            guard statvfs(path, &st) == 0 else { return (-1, -1) }
            let block = Int64(st.f_frsize)
            return ((Int64(st.f_blocks) - Int64(st.f_bfree)) * block, Int64(st.f_bavail) * block)
        }

        /// Takes whatever room is left with a file of the test's own (something else filling the
        /// volume), so that PostgreSQL cannot write a single page more.
        func fill() -> Int64 {
            let file = path + "/filler"
            let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            guard fd >= 0 else { return 0 }
            defer { close(fd) }
            var total: Int64 = 0
            for chunk in [1 << 16, 4096, 512] {
                let buf = [UInt8](repeating: 0x55, count: chunk)
                while true {
                    let n = buf.withUnsafeBytes { write(fd, $0.baseAddress, chunk) }
                    if n <= 0 { break }
                    total += Int64(n)
                }
            }
            return total
        }

        func removeFiller() { unlink(path + "/filler") }

        func unmount() {
            _ = umount2(path, Int32(MNT_DETACH))
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    /// Rows in V2's migrated public tables.
    static func publicRows(_ pair: DatabasePair) async throws -> Int64 {
        try await pair.v2Owner().using { c in
            var n: Int64 = 0
            for t in MigrationFixture.v2Tables { n += Int64(try await c.scalar("SELECT count(*) FROM public.\(t)") ?? "0") ?? 0 }
            return n
        }
    }

    /// Tablespace of each index and table of V2's public schema ("" for the default).
    static func placement(_ c: PGConnection) async throws -> [String: String] {
        let rows = try await c.query("""
            SELECT c.relname, coalesce(t.spcname, '') FROM pg_class c LEFT JOIN pg_tablespace t ON t.oid = c.reltablespace
            WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'i')
            """).rows
        return Dictionary(uniqueKeysWithValues: rows.map { ($0[0]!, $0[1]!) })
    }

    @Test("V2's disk full mid-migrate: the error names the table and the remedy; rollback --clear-v2 on the full disk frees space table by table and says so; freed, migrate --resume completes and verifies")
    func fullDisk() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("diskfull")
        try await MigrationFixture.generate(pair, scale: Reliability.scale, seed: 915)
        let st = try await TestSandbox.shared.sandbox()
        let disk = try SmallDisk.mount(size: 256 << 20)
        defer { disk.unmount() }
        if let name = st.osUser, let pw = getpwnam(name) {
            #expect(chown(disk.path, pw.pointee.pw_uid, pw.pointee.pw_gid) == 0)
        }
        let tablespace = "small_\(pair.database)"
        try await pair.v2Super().using { c in
            try await c.execute("CREATE TABLESPACE \(SQL.ident(tablespace)) LOCATION \(SQL.literal(disk.path))")
            try await c.execute("GRANT CREATE ON TABLESPACE \(SQL.ident(tablespace)) TO \(CocoaTrackSandbox.v2Owner)")
            for t in MigrationFixture.v2Tables {
                try await c.execute("ALTER TABLE public.\(t) SET TABLESPACE \(SQL.ident(tablespace))")
                for ix in try await c.query("SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = $1::regclass", ["public.\(t)"]).rows {
                    try await c.execute("ALTER INDEX \(ix[0]!) SET TABLESPACE \(SQL.ident(tablespace))")
                }
            }
        }
        let ddlBefore = try await pair.v2Owner().using { try await MigrationFixture.catalogDDL($0) }
        let placementBefore = try await pair.v2Owner().using { try await Self.placement($0) }
        #expect(placementBefore.values.filter { $0 == tablespace }.count >= MigrationFixture.v2Tables.count)
        let env = VerifyTests.env(pair)
        let migrateArgs = ["migrate", "--allow-writable-v1", "--batch-rows", "500"]
        let clearArgs = ["rollback", "--clear-v2", "--yes", "--no-snapshot"]

        // 1. How much room the migrated data takes here, on a roomy disk.
        let full = try await CLI.run(migrateArgs, env: env)
        try #require(full.status == 0, "\(full.stderr.suffix(800))")
        let needed = disk.usage.used
        let cleared = try await CLI.run(clearArgs, env: env)
        try #require(cleared.status == 0, "\(cleared.stderr.suffix(800))")
        #expect(try await pair.v2Owner().using { try await Self.placement($0) } == placementBefore, "indexes and keys rebuilt in their tablespace")

        // 2. Half that room: the load runs out of space.
        let size = max(needed / 2, 2 << 20)
        try disk.resize(size)
        let failed = try await CLI.run(migrateArgs, env: env)
        #expect(failed.status == 1, "exit \(failed.status): \(failed.stderr.suffix(800))")
        let message = failed.stderr
        #expect(message.contains("ran out of disk space while loading public."), "names the table: \(message.suffix(800))")
        #expect(message.contains("migrate --resume") && message.contains("rollback --clear-v2") && message.contains("Free space"), "names the remedy: \(message.suffix(800))")
        let rowsAtFailure = try await Self.publicRows(pair)
        let filler = disk.fill()
        let freeAtClear = disk.usage.free

        // 3. The way back on the full disk.
        let clear = try await CLI.run(clearArgs, env: env)
        #expect(clear.status == 0, "exit \(clear.status): \(clear.stdout.suffix(800)) \(clear.stderr.suffix(1200))")
        #expect(clear.stdout.contains("set aside") && clear.stdout.contains("in its own transaction"), "says how it freed space: \(clear.stdout) \(clear.stderr.suffix(800))")
        print("disk full: rollback --clear-v2 said:\n\(clear.stdout)")
        print("disk full: migrate said:\n\(message.suffix(1200))")
        let rowsAfterClear = try await Self.publicRows(pair)
        #expect(rowsAfterClear == 0)
        let ddlAfterClear = try await pair.v2Owner().using { try await MigrationFixture.catalogDDL($0) }
        #expect(ddlAfterClear == ddlBefore, "keys, indexes and foreign keys back, validated")
        #expect(try await pair.v2Owner().using { try await Self.placement($0) } == placementBefore, "in their tablespace")
        let freeAfterClear = disk.usage.free

        // 4. Full again, then room made: resume completes.
        disk.removeFiller()
        let again = try await CLI.run(migrateArgs, env: env)
        #expect(again.status == 1 && again.stderr.contains("ran out of disk space"), "\(again.stderr.suffix(600))")
        try disk.resize(needed * 2)
        let resumed = try await CLI.run(["migrate", "--resume", "--allow-writable-v1", "--batch-rows", "500"], env: env)
        #expect(resumed.status == 0, "\(resumed.stderr.suffix(800))")
        #expect(try await pair.v2Owner().using { try await MigrationFixture.catalogDDL($0) } == ddlBefore)
        let verified = try await ReliabilityFaultTests.verifyPasses(pair, "after a full disk and a resume")

        // Leave the cluster as it was: the database, then its tablespace.
        try await pair.v2Super().using { c in
            try await c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = \(SQL.literal(pair.database)) AND pid <> pg_backend_pid()")
        }
        try await pair.connect(pair.v2.url(login: pair.v2.superuser, database: "postgres"), label: "V2").using { c in
            try await c.execute("DROP DATABASE \(SQL.ident(pair.database))")
            try await c.execute("DROP TABLESPACE \(SQL.ident(tablespace))")
        }
        let summary = "tmpfs \(ClearTarget.bytes(size)) (the data needs \(ClearTarget.bytes(needed))): migrate stopped with \(rowsAtFailure) rows in; the disk filled to \(ClearTarget.bytes(freeAtClear)) free (\(ClearTarget.bytes(filler)) taken by a filler file); clear freed it to \(ClearTarget.bytes(freeAfterClear)) free"
        print("disk full: \(summary)")
        Reliability.record("disk", "V2 tablespace on a \(ClearTarget.bytes(size)) tmpfs, full mid-migrate; `rollback --clear-v2` on the full disk; room made, `migrate --resume`", injected: 3,
                           survived: [failed.status == 1 && message.contains("ran out of disk space while loading public."), clear.status == 0 && rowsAfterClear == 0 && ddlAfterClear == ddlBefore, resumed.status == 0 && verified].filter { $0 }.count,
                           rowsLost: 0,
                           check: "migrate exit 1 naming the table, `migrate --resume` and `rollback --clear-v2`; clear exit 0 on the full disk (keys and indexes set aside, tables emptied one transaction each, all rebuilt in their tablespace); resume exit 0, verify-integrity exit 0. \(summary)")
    }
}
