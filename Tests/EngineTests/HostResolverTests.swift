import Testing
@testable import PGClient
@testable import MigrationEngine

@Suite("Host lists: every address of every host, as libpq tries them")
struct HostResolverTests {
    @Test("a name with two addresses becomes two libpq entries; numeric hosts and sockets stay as they are; a port per host follows its host")
    func expand() {
        let resolved = ["db.example": ["::1", "127.0.0.1"]]
        let one = HostResolver.expand(hosts: ["db.example"], ports: ["5433"], resolved: resolved)
        #expect(one == [.init(host: "db.example", address: "::1", port: "5433"), .init(host: "db.example", address: "127.0.0.1", port: "5433")])
        let many = HostResolver.expand(hosts: ["10.0.0.9", "db.example", "/tmp"], ports: ["1", "2", "3"], resolved: resolved)
        #expect(many.map(\.host) == ["10.0.0.9", "db.example", "db.example", "/tmp"])
        #expect(many.map(\.address) == ["", "::1", "127.0.0.1", ""])
        #expect(many.map { $0.port ?? "-" } == ["1", "2", "2", "3"])
        #expect(!HostResolver.needsLookup("::1") && !HostResolver.needsLookup("/var/run/postgresql") && HostResolver.needsLookup("localhost"))
    }

    @Test("resolving keeps the deadline and lists every address of localhost")
    func pinned() async throws {
        let config = try ConnectionConfig(label: "V1", url: "postgresql://u@localhost:5432/d")
        let pinned = try await HostResolver.pinned(config, timeout: .seconds(5))
        let hosts = pinned.value("host")!.split(separator: ",")
        let addrs = pinned.value("hostaddr")!.split(separator: ",", omittingEmptySubsequences: false)
        #expect(hosts.count == addrs.count && hosts.allSatisfy { $0 == "localhost" } && addrs.contains("127.0.0.1"))
        #expect(config.value("options") == nil, "no options startup parameter (poolers refuse it)")
    }
}

@Suite("Session setup helpers")
struct SessionSetupHelperTests {
    @Test("race: a quick operation is not late; a late one gets its whenLate (which lets it finish) and its result")
    func race() async throws {
        let (quick, wasLate) = try await SessionSetup.race(.seconds(30), { 1 }, whenLate: {})
        #expect(quick == 1 && !wasLate)
        let gate = AsyncGate()
        let (slow, late) = try await SessionSetup.race(.milliseconds(1), { await gate.wait(); return 2 }, whenLate: { await gate.open() })
        #expect(slow == 2 && late)
    }

    @Test("which statements the lock watch reports on")
    func mayWait() {
        #expect(LockWatch.mayWait("  TRUNCATE public.a, public.b"))
        #expect(LockWatch.mayWait("ALTER TABLE public.a ADD CONSTRAINT x FOREIGN KEY (b) REFERENCES public.b"))
        #expect(LockWatch.mayWait("create unique index on t (a)") && LockWatch.mayWait("ANALYZE public.t"))
        #expect(!LockWatch.mayWait("SELECT 1") && !LockWatch.mayWait("BEGIN; SET LOCAL synchronous_commit = off") && !LockWatch.mayWait("COPY t FROM STDIN"))
    }

    @Test("every session setting reads back as it was set on PostgreSQL 15")
    func settings() {
        let names = SessionSetup.settings.filter { $0.since <= 150000 }.map(\.name)
        #expect(names == ["TimeZone", "DateStyle", "IntervalStyle", "extra_float_digits", "statement_timeout", "lock_timeout",
                          "idle_in_transaction_session_timeout", "idle_session_timeout"])
    }
}

/// Opens once; waiters before and after go on.
actor AsyncGate {
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiters.append($0) }
    }
    func open() {
        isOpen = true
        for w in waiters { w.resume() }
        waiters = []
    }
}
