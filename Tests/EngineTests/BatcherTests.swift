import Foundation
import Logging
@testable import PGClient
@testable import MigrationEngine
import Testing

/// How the migrate pipeline cuts a load into batches (each written with its checkpoint in one
/// target transaction), without a server: rows in, batches out.
@Suite("load batches")
struct BatcherTests {
    /// items(id, group_id → groups required, owner_id → owners optional, ref uuid, label text).
    static let spec = LoadSpec(
        name: "items", source: TableName("public", "items"), sourceColumns: ["id", "group_id", "owner_id", "ref", "label"],
        target: TableName("public", "items"), targetColumns: ["id", "group_id", "owner_id", "ref", "label"],
        references: [ReferenceRule("group_id", parent: "groups", required: true), ReferenceRule("owner_id", parent: "owners", required: false)]
    ) { row, issues in
        if row[4] == "reject-me" {
            issues.reject("bad_label", column: "label", "label=reject-me")
            return nil
        }
        return row
    }

    static let columns: [ColumnInfo] = [("id", "int8"), ("group_id", "int8"), ("owner_id", "int8"), ("ref", "uuid"), ("label", "text")].map {
        ColumnInfo(name: $0.0, type: $0.1, notNull: false, defaultExpression: nil, isGenerated: false, typeName: $0.1, typeCategory: "N")
    }

    /// Groups 1–2 and owner 1 exist; group 2 was rejected.
    static func index() -> ReferenceIndex {
        var index = ReferenceIndex()
        func ids(_ list: [Int64]) -> IDBitset { var s = IDBitset(); list.forEach { s.insert($0) }; return s }
        index.present = ["groups": ids([1, 2]), "owners": ids([1])]
        index.addRejected(ids([2]), of: "groups")
        return index
    }

    static func uuid(_ n: Int) -> String { String(format: "00000000-0000-4000-8000-%012lx", n) }

    /// A COPY text row as V1 sends it.
    static func line(_ id: Int, group: Int = 1, owner: Int? = 1, ref: String? = nil, label: String = "x") -> [UInt8] {
        Array([String(id), String(group), owner.map(String.init) ?? "\\N", ref ?? uuid(id), label].joined(separator: "\t").utf8) + [0x0A]
    }

    static func batcher(rows: Int = 50_000, bytes: Int = 4 << 20, binary: Bool = true, buffers: BatchBufferPool? = nil) -> Batcher {
        var options = LoadOptions()
        options.batchRows = rows
        options.batchBytes = bytes
        return Batcher(spec: spec, index: index(), options: options, binary: binary ? BinaryCopyEncoder(columns: columns) : nil,
                       logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), buffers: buffers)
    }

    /// Feeds `lines`, then finishes; every batch in the order it was closed.
    static func run(_ b: inout Batcher, _ lines: [[UInt8]]) throws -> [Batch] {
        var out: [Batch] = []
        for l in lines {
            try l.withUnsafeBytes { try b.add($0) }
            while let batch = b.take() { out.append(batch) }
        }
        b.finish()
        while let batch = b.take() { out.append(batch) }
        return out
    }

    /// The first column (the id) of each row of a batch, decoded from its binary or text form.
    static func ids(_ batch: Batch) -> [Int64] {
        let bytes = batch.rows.row.bytes
        if !batch.binary {
            return bytes.split(separator: 0x0A).map { Int64(String(decoding: $0.prefix { $0 != 0x09 }, as: UTF8.self))! }
        }
        #expect(Array(bytes.prefix(BinaryCopyEncoder.header.count)) == BinaryCopyEncoder.header)
        #expect(Array(bytes.suffix(2)) == BinaryCopyEncoder.trailer)
        var i = BinaryCopyEncoder.header.count
        func be(_ n: Int) -> Int64 { var v: Int64 = 0; for k in 0..<n { v = v << 8 | Int64(bytes[i + k]) }; i += n; return v }
        var out: [Int64] = []
        while true {
            let fields = Int16(truncatingIfNeeded: be(2))
            if fields == -1 { break }
            #expect(fields == 5)
            for f in 0..<Int(fields) {
                let n = Int32(truncatingIfNeeded: be(4))
                guard n >= 0 else { continue }
                if f == 0 { #expect(n == 8); out.append(be(8)) } else { i += Int(n) }
            }
        }
        #expect(i == bytes.count, "nothing after the trailer")
        return out
    }

    @Test("one source query for every reader: key order, the load's own condition always applied, a narrowing added in parentheses")
    func sourceQuery() {
        #expect(Self.spec.sourceCopyQuery() == #"COPY (SELECT "id", "group_id", "owner_id", "ref", "label" FROM "public"."items" ORDER BY "id") TO STDOUT"#)
        var own = Self.spec
        own.sourceCondition = "label IS NOT NULL OR ref > 0"
        let q = own.sourceCopyQuery(where: #""id" > 41"#)
        #expect(q.contains(#"WHERE ("id" > 41) AND (label IS NOT NULL OR ref > 0) ORDER BY "id""#), "\(q)")
        #expect(own.sourceCopyQuery().contains("WHERE (label IS NOT NULL OR ref > 0) ORDER BY"))
    }

    @Test("a batch closes at batchRows source rows; the last one holds the rest; sums, ids and checkpoints add up")
    func byRows() throws {
        var b = Self.batcher(rows: 3)
        let batches = try Self.run(&b, (1...10).map { Self.line($0) })
        #expect(batches.map(\.read) == [3, 3, 3, 1])
        #expect(batches.map(\.lastSourceID) == [3, 6, 9, 10])
        #expect(batches.map(\.binary) == [true, true, true, true])
        #expect(batches.flatMap(Self.ids) == Array(1...10))
        #expect(b.result.read == 10 && b.result.written == 10 && b.result.rejected == 0)
        #expect(b.take() == nil)
    }

    @Test("row buffers handed back by the writer are reused, emptied: the batches' bytes are those without a pool")
    func recycledBuffers() throws {
        let lines = (1...10).map { Self.line($0, label: String(repeating: "y", count: $0 * 7)) }
        var plain = Self.batcher(rows: 3)
        let expected = try Self.run(&plain, lines).map(\.rows.row.bytes)
        let pool = BatchBufferPool()
        var b = Self.batcher(rows: 3, buffers: pool)
        var got: [[UInt8]] = []
        var storage: Set<UInt> = []
        for l in lines {
            try l.withUnsafeBytes { try b.add($0) }
            while var batch = b.take() {
                got.append(batch.rows.row.bytes.withUnsafeBufferPointer { Array($0) })  // a copy: the buffer itself goes back
                storage.insert(batch.rows.row.bytes.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) })
                pool.give(&batch.rows.row.bytes)  // as the writer does after COMMIT
                #expect(batch.rows.row.bytes.isEmpty)
            }
        }
        b.finish()
        while let batch = b.take() { got.append(batch.rows.row.bytes) }
        #expect(got == expected, "no byte of an earlier batch left in a reused buffer")
        #expect(got.count == 4)
        // One batch in flight at a time here: the first buffer comes back and serves the rest.
        #expect(storage.count <= 2, "\(storage.count) distinct buffers for \(got.count) batches")
        // Reserved for a whole batch up front: no growth by doubling while it fills.
        #expect(pool.take(capacity: 1 << 20).capacity >= 1 << 20)
    }

    @Test("a batch closes once its target rows reach batchBytes, whatever the row count")
    func byBytes() throws {
        let oneRow = 2 + 4 * 5 + 8 + 8 + 8 + 16 + 1
        var b = Self.batcher(bytes: BinaryCopyEncoder.header.count + 3 * oneRow)
        let batches = try Self.run(&b, (1...7).map { Self.line($0) })
        #expect(batches.map(\.read) == [3, 3, 1])
        #expect(batches.flatMap(Self.ids) == Array(1...7))
    }

    @Test("a value with no exact binary form: the rows before it go as a binary batch, it and the rest of the load as text")
    func binaryToTextFallback() throws {
        var b = Self.batcher(rows: 4)
        let braces = "{\(Self.uuid(6))}"  // the server reads it; the binary encoder does not
        let batches = try Self.run(&b, (1...11).map { Self.line($0, ref: $0 == 6 ? braces : nil) })
        #expect(batches.map(\.binary) == [true, true, false, false])
        #expect(batches.map(\.read) == [4, 1, 4, 2])
        #expect(batches.flatMap(Self.ids) == Array(1...11))
        #expect(String(decoding: batches[2].rows.row.bytes, as: UTF8.self).hasPrefix("6\t1\t1\t\(braces)\tx\n"))
        #expect(b.encoder == nil)
        #expect(b.result.written == 11)
    }

    @Test("a fallback on a batch's first row leaves no empty batch; with one-row batches it closes two batches at once")
    func fallbackEdges() throws {
        let braces = "{\(Self.uuid(5))}"
        var b = Self.batcher(rows: 4)
        let batches = try Self.run(&b, (1...6).map { Self.line($0, ref: $0 == 5 ? braces : nil) })
        #expect(batches.map(\.read) == [4, 2])
        #expect(batches.map(\.binary) == [true, false])
        #expect(batches.map(\.read).min()! > 0)

        // The fallback closes the binary rows before it, and the row itself (a long text row)
        // fills its text batch at once: two batches from one row, both handed out.
        var two = Self.batcher(bytes: 200)
        let long = String(repeating: "l", count: 220)
        var got: [Batch] = []
        for n in 1...3 {
            try Self.line(n, ref: n == 2 ? braces : nil, label: n == 2 ? long : "x").withUnsafeBytes { try two.add($0) }
            var now: [Batch] = []
            while let batch = two.take() { now.append(batch) }
            #expect(now.count == [0, 2, 0][n - 1], "row \(n)")
            got += now
        }
        two.finish()
        while let batch = two.take() { got.append(batch) }
        #expect(two.take() == nil)
        #expect(got.map(\.binary) == [true, false, false])
        #expect(got.map(\.read) == [1, 1, 1])
        #expect(got.flatMap(Self.ids) == [1, 2, 3])
    }

    @Test("rejects and warnings: a rejected row is counted and listed, never written; each issue is one row of the batch's issues")
    func issues() throws {
        var b = Self.batcher(rows: 100, binary: false)
        let batches = try Self.run(&b, [
            Self.line(1),
            Self.line(2, group: 9),               // required parent missing: reject
            Self.line(3, group: 2),               // required parent rejected: reject
            Self.line(4, owner: 7),               // optional parent missing: NULL, warning
            Self.line(5, label: "reject-me"),     // the transform rejects
            Self.line(6, owner: nil),
        ])
        #expect(batches.count == 1)
        let batch = batches[0]
        #expect(batch.read == 6 && batch.written == 3 && batch.rejected == 3 && batch.warnings == 1)
        #expect(Self.ids(batch) == [1, 4, 6])
        #expect(String(decoding: batch.rows.row.bytes, as: UTF8.self).contains("4\t1\t\\N\t"), "the dangling owner is NULL")
        var rejected: [Int64] = []
        b.result.rejectedIDs.forEachID { rejected.append($0) }
        #expect(rejected.sorted() == [2, 3, 5])
        #expect(b.result.issuesByRule == ["orphan_reference": 1, "parent_rejected": 1, "dangling_reference": 1, "bad_label": 1])
        let issueRows = String(decoding: batch.issues.row.bytes, as: UTF8.self).split(separator: "\n")
        #expect(issueRows.count == 4)
        #expect(issueRows.filter { !$0.hasPrefix("items\titems\t") }.isEmpty)
        #expect(issueRows.filter { $0.hasPrefix("items\titems\t2\treject\torphan_reference\tgroup_id\t") }.count == 1)
        #expect(issueRows.filter { $0.hasPrefix("items\titems\t4\twarning\tdangling_reference\towner_id\t") }.count == 1)
    }

    @Test("a source row without an integer key stops the load with an error")
    func noKey() {
        var b = Self.batcher()
        #expect(throws: MigrationError.self) {
            try Array("abc\t1\t1\tx\ty\n".utf8).withUnsafeBytes { try b.add($0) }
        }
    }
}
