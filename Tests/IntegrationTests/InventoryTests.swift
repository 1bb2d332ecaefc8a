import CocoaTrack
import Foundation
import MigrationEngine
import Testing

@Suite("inventory")
struct InventoryTests {
    @Test("exact counts and sizes of every table on both sides, recorded in V2, no password printed")
    func inventory() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("inventory")
        try await MigrationFixture.generate(pair, scale: 0.001, seed: 3)
        let out = try await CLI.run(["inventory", "--json"], env: ["V1_DATABASE_URL": pair.v1URL, "V2_DATABASE_URL": pair.v2URL])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(!out.stdout.contains(pair.v1.passwords[CocoaTrackSandbox.v1Admin]!))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])
        let sides = try #require(json["sides"] as? [[String: Any]])
        #expect(sides.count == 2)
        let v1Tables = try #require(sides[0]["tables"] as? [[String: Any]])
        #expect(v1Tables.count == 10)
        let c = try await pair.v1Admin()
        for t in v1Tables {
            let name = t["table"] as! String
            let actual = try await c.scalar("SELECT count(*) FROM \(name)")
            #expect(actual == String(describing: t["rows"]!), "\(name)")
        }
        await c.close()
        let v2Tables = try #require(sides[1]["tables"] as? [[String: Any]])
        #expect(v2Tables.contains { $0["table"] as? String == "auth.users" })
        let recorded = try await pair.v2Owner().using { try await $0.scalar("SELECT count(*) FROM cocoatrack_migration.inventories WHERE inventory_id = $1", [json["inventory_id"] as? String]) }
        #expect(recorded == String(v1Tables.count + v2Tables.count))
    }
}
