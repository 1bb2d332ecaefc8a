import Foundation
@testable import PGClient
@testable import MigrationEngine
import Testing

/// The order of a migration's copies, rebuilds and foreign-key restores, without a server.
@Suite("load scheduler")
struct LoadSchedulerTests {
    /// regions → cooperatives → deliveries → photos, and audit_log on its own (the shape of the real plan).
    static func plan(jobs: Int = 2, done: Set<String> = []) throws -> LoadScheduler {
        try LoadScheduler(loads: [("regions", "t.regions"), ("cooperatives", "t.cooperatives"), ("deliveries", "t.deliveries"),
                                  ("photos", "t.photos"), ("audit", "t.audit")],
                          dependencies: ["cooperatives": ["regions"], "deliveries": ["cooperatives"], "photos": ["deliveries"]],
                          rows: ["regions": 31, "cooperatives": 20, "deliveries": 1_000_000, "photos": 600_000, "audit": 2_000_000],
                          done: done, jobs: jobs)
    }

    @Test("a child starts when its parent's rows are committed, beside the parent's rebuild; the heaviest chain goes first")
    func childStartsAfterCopy() throws {
        var s = try Self.plan()
        // audit (2 M rows) against the chain regions → … (31 + 20 + 1 M + 600 k rows): audit is heavier.
        #expect(try s.start() == [.copy("audit"), .copy("regions")])
        #expect(try s.copyFinished("regions") == [.rebuild("regions"), .copy("cooperatives")])
        #expect(try s.copyFinished("cooperatives") == [.rebuild("cooperatives"), .copy("deliveries")])
        #expect(s.rebuilding == ["regions", "cooperatives"] && s.copying == ["audit", "deliveries"])
        // The deliveries copy ends: photos start at once, while deliveries' indexes are rebuilt.
        #expect(try s.copyFinished("deliveries") == [.rebuild("deliveries"), .copy("photos")])
    }

    @Test("foreign keys are restored between rebuilt tables only, one restore at a time, a later one after it")
    func restoresFollowRebuilds() throws {
        var s = try Self.plan()
        _ = try s.start()
        _ = try s.copyFinished("regions")
        _ = try s.copyFinished("cooperatives")
        #expect(try s.rebuildFinished("regions") == [.restoreForeignKeys(tables: ["t.regions"])])
        // cooperatives is rebuilt while that restore runs: its restore waits for the first one.
        #expect(try s.rebuildFinished("cooperatives") == [])
        #expect(s.restoring)
        #expect(s.restoreFinished() == [.restoreForeignKeys(tables: ["t.regions", "t.cooperatives"])])
        #expect(s.restoreFinished() == [])
        #expect(!s.restoring)
    }

    @Test("--jobs bounds the copies running at once; rebuilds do not take a slot")
    func jobsBoundCopies() throws {
        var s = try LoadScheduler(loads: [("a", "a"), ("b", "b"), ("c", "c")], dependencies: [:], rows: ["a": 3, "b": 2, "c": 1], done: [], jobs: 2)
        #expect(try s.start() == [.copy("a"), .copy("b")])
        #expect(try s.copyFinished("a") == [.rebuild("a"), .copy("c")])
        #expect(s.copying.count == 2 && s.rebuilding == ["a"])
        var one = try LoadScheduler(loads: [("a", "a"), ("b", "b")], dependencies: [:], rows: [:], done: [], jobs: 0)
        #expect(try one.start().count == 1, "at least one job, whatever --jobs says")
    }

    @Test("a resumed run skips the loads an earlier run completed, and may restore keys among them at once")
    func resume() throws {
        var s = try Self.plan(done: ["regions", "cooperatives"])
        #expect(try s.start() == [.copy("audit"), .copy("deliveries"), .restoreForeignKeys(tables: ["t.regions", "t.cooperatives"])])
        #expect(s.pending == ["photos"])
    }

    @Test("two loads into one table: the table is rebuilt once both have copied")
    func sharedTable() throws {
        var s = try LoadScheduler(loads: [("users_a", "t.users"), ("users_b", "t.users"), ("child", "t.child")],
                                  dependencies: ["child": ["users_a"]], rows: ["users_a": 10, "users_b": 1, "child": 5], done: [], jobs: 1)
        #expect(try s.start() == [.copy("users_a")])
        #expect(try s.copyFinished("users_a") == [.copy("child")], "users_b still to copy into t.users: no rebuild yet")
        #expect(try s.copyFinished("child") == [.rebuild("child"), .copy("users_b")])
        #expect(try s.copyFinished("users_b") == [.rebuild("users_a"), .rebuild("users_b")])
        _ = try s.rebuildFinished("child")
        _ = s.restoreFinished()
        #expect(try s.rebuildFinished("users_a") == [.restoreForeignKeys(tables: ["t.child"])], "t.users waits for its second load")
        _ = s.restoreFinished()
        #expect(try s.rebuildFinished("users_b") == [.restoreForeignKeys(tables: ["t.child", "t.users"])])
    }

    @Test("loads that wait on each other, an unknown dependency, an event out of turn: an error, not a hang")
    func refusals() throws {
        var cycle = try LoadScheduler(loads: [("a", "a"), ("b", "b")], dependencies: ["a": ["b"], "b": ["a"]], rows: [:], done: [], jobs: 2)
        #expect(throws: MigrationError.self) { try cycle.start() }
        #expect(throws: MigrationError.self) {
            try LoadScheduler(loads: [("a", "a")], dependencies: ["a": ["ghost"]], rows: [:], done: [], jobs: 2)
        }
        // A cycle found only once the rest is copied (a rebuild still running does not hide it).
        var late = try LoadScheduler(loads: [("a", "a"), ("b", "b"), ("c", "c")], dependencies: ["b": ["c"], "c": ["b"]], rows: [:], done: [], jobs: 2)
        #expect(try late.start() == [.copy("a")])
        #expect(throws: MigrationError.self) { try late.copyFinished("a") }
        var s = try Self.plan()
        _ = try s.start()
        #expect(throws: MigrationError.self) { try s.copyFinished("photos") }
        #expect(throws: MigrationError.self) { try s.rebuildFinished("regions") }
    }

    @Test("whatever order the work finishes in: each load copied and rebuilt once, after its parents' copies, within --jobs, one restore at a time, and the run ends")
    func anyCompletionOrder() throws {
        for seed in UInt64(1)...200 {
            var rng = SeededRandom(seed: seed, stream: "scheduler")
            let jobs = Int(seed % 3) + 1
            var s = try Self.plan(jobs: jobs, done: seed % 5 == 0 ? ["regions"] : [])
            var inFlight: [LoadScheduler.Action] = []
            var copiedAt: [String: Int] = [:], rebuiltOnce: Set<String> = [], copiesStarted: [String] = []
            var step = 0
            func take(_ actions: [LoadScheduler.Action]) {
                for a in actions {
                    if case .copy(let n) = a {
                        copiesStarted.append(n)
                        let parents = ["cooperatives": "regions", "deliveries": "cooperatives", "photos": "deliveries"][n]
                        if let parents { #expect(s.copied.contains(parents), "\(n) started before \(parents) was copied (seed \(seed))") }
                    }
                    if case .restoreForeignKeys = a {
                        #expect(!inFlight.contains { if case .restoreForeignKeys = $0 { true } else { false } }, "two restores at once (seed \(seed))")
                    }
                    inFlight.append(a)
                }
                #expect(s.copying.count <= jobs)
            }
            take(try s.start())
            while !inFlight.isEmpty {
                step += 1
                let a = inFlight.remove(at: Int(rng.next() % UInt64(inFlight.count)))
                switch a {
                case .copy(let n): copiedAt[n] = step; take(try s.copyFinished(n))
                case .rebuild(let n): #expect(rebuiltOnce.insert(n).inserted); take(try s.rebuildFinished(n))
                case .restoreForeignKeys: take(s.restoreFinished())
                }
            }
            #expect(s.isFinished, "seed \(seed): \(s)")
            let expected: Set<String> = seed % 5 == 0 ? ["cooperatives", "deliveries", "photos", "audit"] : ["regions", "cooperatives", "deliveries", "photos", "audit"]
            #expect(Set(copiesStarted) == expected && copiesStarted.count == expected.count, "seed \(seed): \(copiesStarted)")
            #expect(rebuiltOnce == expected)
            #expect(s.rebuiltTables.count == 5)
        }
    }
}
