import CocoaTrack
@testable import PGClient
@testable import MigrationEngine
import Testing

/// The one place a V1 row becomes a V2 row (reference rules, then the load's transform), on
/// CocoaTrack's deliveries load, without a server.
@Suite("row mapper")
struct RowMapperTests {
    static let spec = CocoaTrackMapping.plan(context: .init()).loads.first { $0.name == "deliveries" }!

    /// planteurs 1–3, warehouses 1–2, invoices 1, users 1–2 exist in V1; planteur 3 was rejected.
    static func index() -> ReferenceIndex {
        var index = ReferenceIndex()
        func ids(_ list: [Int64]) -> IDBitset { var s = IDBitset(); list.forEach { s.insert($0) }; return s }
        index.present = ["planteurs": ids([1, 2, 3]), "warehouses": ids([1, 2]), "invoices": ids([1]), "users": ids([1, 2])]
        index.addRejected(ids([3]), of: "planteurs")
        return index
    }

    /// A V1 deliveries row in the load's source column order, with `changes` applied.
    static func row(_ changes: [String: String?] = [:]) -> [String?] {
        var values: [String: String?] = ["id": "10", "planteur_id": "1", "warehouse_id": "2", "invoice_id": "1", "agent_id": "2",
                                         "delivery_date": "2026-03-01", "weight_kg": "512.5", "bags": "8", "quality_grade": "B",
                                         "humidity_pct": "7.5", "price_per_kg_fcfa": "1000", "total_amount_fcfa": "512500",
                                         "notes": nil, "created_at": "2026-03-01 08:00:00", "updated_at": nil]
        for (k, v) in changes { values[k] = v }
        return spec.sourceColumns.map { values[$0] ?? nil }
    }

    static func value(_ out: [String?], _ column: String) -> String? {
        out[spec.targetColumns.firstIndex(of: column)!]
    }

    @Test("a clean row: every key is the uuid5 of its own table's id, the grade mapped, updated_at from created_at")
    func cleanRow() throws {
        var mapper = RowMapper(spec: Self.spec, index: Self.index())
        let mapped = mapper.map(Self.row())
        let out = try #require(mapped)
        #expect(mapper.issues.items.isEmpty)
        #expect(Self.value(out, "id") == CocoaTrackRules.uuid("deliveries", "10"))
        #expect(Self.value(out, "planteur_id") == CocoaTrackRules.uuid("planteurs", "1"))
        #expect(Self.value(out, "warehouse_id") == CocoaTrackRules.uuid("warehouses", "2"))
        #expect(Self.value(out, "invoice_id") == CocoaTrackRules.uuid("invoices", "1"))
        #expect(Self.value(out, "created_by") == CocoaTrackRules.uuid("users", "2"))
        #expect(Self.value(out, "quality_grade") == "grade_b")
        #expect(Self.value(out, "updated_at") == "2026-03-01 08:00:00")
        #expect(Self.value(out, "delivered_on") == "2026-03-01" && Self.value(out, "weight_kg") == "512.5")
    }

    @Test("a required parent missing or rejected rejects the row; an optional one becomes NULL with a warning")
    func references() throws {
        var mapper = RowMapper(spec: Self.spec, index: Self.index())
        let missing = mapper.map(Self.row(["planteur_id": "99"]))
        #expect(missing == nil)
        #expect(mapper.issues.items.map(\.rule) == ["orphan_reference"] && mapper.issues.items.first?.column == "planteur_id")
        let rejectedParent = mapper.map(Self.row(["planteur_id": "3"]))
        #expect(rejectedParent == nil)
        #expect(mapper.issues.items.map(\.rule) == ["parent_rejected"])
        let notAnID = mapper.map(Self.row(["warehouse_id": "x1"]))
        #expect(notAnID == nil)
        #expect(mapper.issues.items.map(\.rule) == ["invalid_reference"])
        let mapped = mapper.map(Self.row(["agent_id": "77", "invoice_id": "5"]))
        let out = try #require(mapped)
        #expect(Self.value(out, "created_by") == nil && Self.value(out, "invoice_id") == nil)
        #expect(mapper.issues.items.map(\.rule) == ["dangling_reference", "dangling_reference"])
        #expect(mapper.issues.items.allSatisfy { $0.kind == .warning })
        // Issues are those of the last row only.
        let clean = mapper.map(Self.row())
        #expect(clean != nil && mapper.issues.items.isEmpty)
    }

    @Test("the transform's own rules: weight, grade, amounts that do not fit V2's numeric")
    func transformRules() {
        var mapper = RowMapper(spec: Self.spec, index: Self.index())
        for (change, rule) in [(["weight_kg": nil], "invalid_weight"), (["weight_kg": "0"], "invalid_weight"), (["weight_kg": "-3"], "invalid_weight"),
                               (["quality_grade": "Z"], "invalid_quality_grade"),
                               (["price_per_kg_fcfa": "123456789"], "amount_out_of_range"),
                               (["total_amount_fcfa": "1234567890123"], "amount_out_of_range")] as [([String: String?], String)] {
            let out = mapper.map(Self.row(change))
            #expect(out == nil, "\(change)")
            #expect(mapper.issues.items.map(\.rule) == [rule], "\(change): \(mapper.issues.items)")
        }
        let noGrade = mapper.map(Self.row(["quality_grade": nil]))
        #expect(noGrade != nil, "no grade is allowed")
        let largest = mapper.map(Self.row(["total_amount_fcfa": "999999999999"]))
        #expect(largest != nil, "the largest whole amount numeric(14,2) holds: \(mapper.issues.items)")
    }
}
