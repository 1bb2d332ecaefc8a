@testable import PGClient
@testable import MigrationEngine
import Testing

/// What `sync-v2-to-v1` decides for one changed V1 row, without a server: conflicts, the columns
/// an update rewrites, V1's column types, and the forward mapping giving back the V2 rows.
@Suite("sync-v2-to-v1 decisions")
struct SyncRulesTests {
    /// V1 people(id, name varchar(10), age integer, nick text, secret text) → V2 people(id uuid,
    /// name, age, nick lowercased (a lossy rule), secret); V2 people_extra(id uuid, note) from
    /// the same V1 row.
    static let columns = ["id", "name", "age", "nick", "secret"]
    static func key(_ id: String) -> String { "00000000-0000-4000-8000-" + String(repeating: "0", count: 12 - id.count) + id }
    static let people = LoadSpec(name: "people", source: TableName("public", "people"), sourceColumns: columns,
                                 target: TableName("public", "people"), targetColumns: columns) { r, issues in
        if r[1] == "" { issues.reject("empty_name", column: "name", "no name"); return nil }
        return [key(r[0]!), r[1], r[2], r[3]?.lowercased(), r[4]]
    }
    static let extra = LoadSpec(name: "people_extra", source: TableName("public", "people"), sourceColumns: columns,
                                target: TableName("public", "people_extra"), targetColumns: ["id", "note"]) { r, _ in
        [key(r[0]!), r[1].map { "note for \($0)" }]
    }
    static let spec = ReverseSpec(source: TableName("public", "people"), loads: ["people", "people_extra"],
                                  columnSources: ["people": ["name": ["name"], "age": ["age"], "nick": ["nick"], "secret": ["secret"]]]) { rows, _, _ in
        let p = rows["people"]!
        return [nil, p[1], p[2], p[3], p[4]]
    }
    static let layouts: [String: Verifier.Layout] = [
        "people": .init(kinds: [.uuid, .text, .integer, .text, .text], select: columns, keyIndex: 0, keyKind: .uuid,
                        sensitive: [false, false, false, false, true]),
        "people_extra": .init(kinds: [.uuid, .text], select: ["id", "note"], keyIndex: 0, keyKind: .uuid, sensitive: [false, false]),
    ]
    static let v1Table = TableInfo(name: TableName("public", "people"), columns: [
        ColumnInfo(name: "id", type: "integer", notNull: true, defaultExpression: nil, isGenerated: false),
        ColumnInfo(name: "name", type: "character varying(10)", notNull: false, defaultExpression: nil, isGenerated: false),
        ColumnInfo(name: "age", type: "integer", notNull: false, defaultExpression: nil, isGenerated: false),
        ColumnInfo(name: "nick", type: "text", notNull: false, defaultExpression: nil, isGenerated: false),
        ColumnInfo(name: "secret", type: "text", notNull: false, defaultExpression: nil, isGenerated: false),
    ], primaryKey: ["id"], estimatedRows: 0, oid: 1)

    static func change(_ load: String, _ kind: String, _ columns: [String] = []) -> CapturedChange {
        CapturedChange(load: load, kind: kind, key: key("7"), sourceID: 7, before: nil, after: nil, changedColumns: columns)
    }

    static func group(_ kind: String, changes: [CapturedChange], rows: [String: [String?]] = [:], movedSince: String? = nil) -> ReverseSync.Group {
        ReverseSync.Group(key: key("7"), kind: kind, sourceID: 7, changes: Dictionary(uniqueKeysWithValues: changes.map { ($0.load, $0) }),
                          rows: rows, movedSince: movedSince)
    }

    static let v2People: [String?] = [key("7"), "Bob", "31", "bobby", "s3cret"]
    static let v2Extra: [String?] = [key("7"), "note for Bob"]

    @Test("a V2 row that moved since the assessment, or a V1 row missing one of its V2 rows, is a conflict before V1 is read")
    func prechecks() {
        let rows = ["people": Self.v2People, "people_extra": Self.v2Extra]
        #expect(SyncRules.precheck(Self.group("updated", changes: [Self.change("people", "updated", ["name"])], rows: rows), Self.spec) == nil)
        let moved = SyncRules.precheck(Self.group("updated", changes: [Self.change("people", "updated")], rows: rows, movedSince: "people_extra"), Self.spec)
        #expect(moved?.reason == "changed_since_assessment" && moved?.load == "people_extra")
        let incomplete = SyncRules.precheck(Self.group("inserted", changes: [Self.change("people", "inserted")], rows: ["people": Self.v2People]), Self.spec)
        #expect(incomplete == SyncRules.Conflict(load: "people", reason: "incomplete_row",
                                                 detail: "no V2 row in people_extra for this key; V1 needs all of people, people_extra"))
    }

    @Test("an update rewrites only the V1 columns of the V2 columns that changed; a lossy column's V1 original stays")
    func updateColumns() {
        let current: [String?] = ["7", "Ann", "30", "MixedCase", "old"]
        let values: [String?] = [nil, "Bob", "31", "mixedcase", "new"]
        let one = SyncRules.updated(current: current, values: values, changes: ["people": Self.change("people", "updated", ["name"])],
                                    spec: Self.spec, columns: Self.columns)
        #expect(one == ["7", "Bob", "30", "MixedCase", "old"])
        let two = SyncRules.updated(current: current, values: values, changes: ["people": Self.change("people", "updated", ["age", "secret"])],
                                    spec: Self.spec, columns: Self.columns)
        #expect(two == ["7", "Ann", "31", "MixedCase", "new"])
        let none = SyncRules.updated(current: current, values: values, changes: ["people_extra": Self.change("people_extra", "updated", ["note"])],
                                     spec: Self.spec, columns: Self.columns)
        #expect(none == current, "a column with no V1 source rewrites nothing")
    }

    @Test("V1's column types: a text longer than varchar(n), a number that is not a whole integer")
    func types() {
        #expect(SyncRules.typeProblem(["7", "Bob", "31", "x", nil], columns: Self.columns, in: Self.v1Table) == nil)
        #expect(SyncRules.typeProblem(["7", "Bartholomew", "31", "x", nil], columns: Self.columns, in: Self.v1Table)
                == "name: 11 characters, V1 allows 10")
        #expect(SyncRules.typeProblem(["7", "Émilie-Zoé", "31", nil, nil], columns: Self.columns, in: Self.v1Table) == nil,
                "characters, not bytes")
        #expect(SyncRules.typeProblem(["7", "Bob", "3.5", nil, nil], columns: Self.columns, in: Self.v1Table) == "age: 3.5 is not a integer")
        #expect(SyncRules.typeProblem(["7", "Bob", "2147483648", nil, nil], columns: Self.columns, in: Self.v1Table) == "age: 2147483648 is not a integer")
        #expect(SyncRules.typeProblem(["not an id", "Bob", nil, nil, nil], columns: Self.columns, in: Self.v1Table) == nil, "the id is the engine's")
    }

    @Test("written only when the forward mapping gives back the V2 rows exactly; otherwise the column, with a secret hidden")
    func roundTrip() {
        let index = ReferenceIndex()
        let rows = ["people": Self.v2People, "people_extra": Self.v2Extra]
        let loads = [Self.people, Self.extra]
        guard case .faithful(let hashes) = SyncRules.roundTrip(["7", "Bob", "31", "bobby", "s3cret"], loads: loads, layouts: Self.layouts,
                                                               v2Rows: rows, index: index) else {
            Issue.record("a faithful row was refused")
            return
        }
        #expect(Set(hashes.keys) == ["people", "people_extra"])
        // The same V1 row in another spelling V2 reads the same (integer by value): same hashes.
        #expect(SyncRules.roundTrip(["7", "Bob", "031", "BOBBY", "s3cret"], loads: loads, layouts: Self.layouts, v2Rows: rows, index: index)
                == .faithful(hashes))
        // V2 holds a nick the lossy rule cannot produce: no V1 value gives it back.
        var upper = rows
        upper["people"]![3] = "Bobby"
        #expect(SyncRules.roundTrip(["7", "Bob", "31", "Bobby", "s3cret"], loads: loads, layouts: Self.layouts, v2Rows: upper, index: index)
                == .mismatch("nick would come back as bobby instead of Bobby"))
        #expect(SyncRules.roundTrip(["7", "Bob", "31", "bobby", "other"], loads: loads, layouts: Self.layouts, v2Rows: rows, index: index)
                == .mismatch("secret would come back as ‹hidden›"))
        #expect(SyncRules.roundTrip(["7", "", "31", "bobby", "s3cret"], loads: loads, layouts: Self.layouts, v2Rows: rows, index: index)
                == .mismatch("the V1 row would be rejected by the mapping (empty_name)"))
        // A derived row the V1 row no longer gives back.
        var note = rows
        note["people_extra"]![1] = "edited in V2"
        #expect(SyncRules.roundTrip(["7", "Bob", "31", "bobby", "s3cret"], loads: loads, layouts: Self.layouts, v2Rows: note, index: index)
                == .mismatch("note would come back as note for Bob instead of edited in V2"))
    }

    @Test("a delete in only some of the V2 rows that make up the V1 row is a conflict")
    func deletes() {
        let all = Self.group("deleted", changes: [Self.change("people", "deleted"), Self.change("people_extra", "deleted")])
        #expect(SyncRules.incompleteDelete(all, Self.spec) == nil)
        let some = Self.group("deleted", changes: [Self.change("people", "deleted"), Self.change("people_extra", "updated", ["note"])])
        #expect(SyncRules.incompleteDelete(some, Self.spec) == SyncRules.Conflict(load: "people", reason: "incomplete_delete",
                                                                                  detail: "deleted in people, people_extra but not in people_extra"))
    }
}
