import Testing
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
