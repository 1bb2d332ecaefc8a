import Foundation
@testable import PGClient
@testable import MigrationEngine
import Testing

@Suite("canonical encoding for verification")
struct CanonicalTests {
    func same(_ a: String?, _ b: String?, _ kind: ValueKind) -> Bool { Canonical.bytes(a, kind) == Canonical.bytes(b, kind) }

    @Test("NULL is distinct from every string, including 'NULL', '' and '\\N'")
    func nulls() {
        for kind in [ValueKind.text, .bpchar, .numeric, .json, .uuid, .timestamp, .array(.text)] {
            for s in ["NULL", "null", "", "\\N", "<null>"] {
                #expect(!same(nil, s, kind), "\(kind) \(s)")
            }
        }
        #expect(same(nil, nil, .text))
        #expect(!same("", " ", .text))
        // Inside arrays: unquoted NULL is NULL, quoted "NULL" is a string.
        #expect(!same("{NULL}", "{\"NULL\"}", .array(.text)))
        #expect(same("{NULL}", "{null}", .array(.text)))
        #expect(same("{\"a\",\"b c\"}", "{a,\"b c\"}", .array(.text)))
        #expect(!same("{a,b}", "{b,a}", .array(.text)), "array order matters")
        #expect(!same("{}", "{\"\"}", .array(.text)))
    }

    @Test("numerics by value")
    func numerics() {
        #expect(same("12.5", "12.50", .numeric))
        #expect(same("0", "-0.00", .numeric))
        #expect(same("1000", "1000.000", .numeric))
        #expect(same("0.05", ".050", .numeric))
        #expect(same("1.5e3", "1500", .numeric))
        #expect(!same("12.5", "12.51", .numeric))
        #expect(!same("100", "10", .numeric))
        #expect(!same("-1", "1", .numeric))
        #expect(!same("NaN", "0", .numeric))
        #expect(same("12", "12", .integer) && !same("12", "13", .integer))
        #expect(same("-0032", "-32", .integer))
        #expect(same("1.5", "1.50", .float) && !same("0", "-0", .float))
        #expect(same("t", "true", .bool) && !same("t", "f", .bool))
    }

    @Test("timestamps as UTC microseconds, whatever the zone spelling")
    func timestamps() {
        #expect(same("2024-03-01 10:20:30", "2024-03-01 10:20:30+00", .timestamp))
        #expect(same("2024-03-01 10:20:30", "2024-03-01 12:20:30+02", .timestamp))
        #expect(same("2024-03-01 10:20:30", "2024-03-01 05:50:30-04:30", .timestamp))
        #expect(same("2024-03-01 10:20:30.5", "2024-03-01 10:20:30.500000+00", .timestamp))
        #expect(same("2024-03-01T10:20:30Z", "2024-03-01 10:20:30+00", .timestamp))
        #expect(!same("2024-03-01 10:20:30", "2024-03-01 10:20:30.000001+00", .timestamp), "one microsecond counts")
        #expect(same("infinity", "infinity", .timestamp) && !same("infinity", "-infinity", .timestamp))
        #expect(!same("0044-03-15 12:00:00 BC", "0044-03-15 12:00:00", .timestamp))
        #expect(Canonical.parseTimestamp(Array("1970-01-01 00:00:01+00".utf8).withUnsafeBufferPointer { $0 }) == 1_000_000)
        #expect(same("2024-02-29", "2024-02-29", .date) && !same("2024-02-29", "2024-03-01", .date))
    }

    @Test("jsonb canonical: key order, spacing, duplicates (last wins), numbers by value")
    func json() {
        #expect(same(#"{"b": 1, "a": [1, 2]}"#, #"{"a":[1,2],"b":1}"#, .json))
        #expect(same(#"{"a": 1, "a": 2}"#, #"{"a": 2}"#, .json))
        #expect(same(#"{"n": 1.50}"#, #"{"n": 1.5}"#, .json))
        #expect(same(#"{"s": "\u00e9"}"#, #"{"s": "é"}"#, .json))
        #expect(!same(#"[1, 2]"#, #"[2, 1]"#, .json))
        #expect(!same(#"{"a": "1"}"#, #"{"a": 1}"#, .json))
        #expect(!same(#"{"a": null}"#, #"{}"#, .json))
        #expect(!same(#"{"_unparsed": "x"}"#, #"x"#, .json))
    }

    /// `{"a":{"a":…1…}}` nested `n` deep, compact or spaced as jsonb prints it.
    static func nested(_ n: Int, spaced: Bool) -> String {
        String(repeating: spaced ? #"{"a": "# : #"{"a":"#, count: n) + "1" + String(repeating: "}", count: n)
    }

    @Test("one JSON reader: every text the mapping keeps as JSON is one verification parses, down to the nesting limit, on a session's thread")
    func oneJSONReader() async {
        for ok in ["{}", "[1, 2, 3]", "null", "\"x\"", "1.50", "-0.5e10", "{\"é\": \"🍫\\n\\u00e9\"}", " {\"a\":1} ", "\"\\ud83c\\udf6b\""] {
            #expect(JSONReader.isValid(ok), "\(ok)")
            #expect(Canonical.bytes(ok, .json).first == Canonical.Tag.json.rawValue, "\(ok)")
        }
        // What jsonb refuses, the reader refuses both ways: a text the mapping rewrites to
        // {"_unparsed": …} is never one verification would read as JSON either.
        for bad in ["{a: 1}", "\"\\u0000\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "1e1000000", "1e-20000", "01", "[1,]", "{\"a\":1}}"] {
            #expect(!JSONReader.isValid(bad), "\(bad)")
            #expect(Canonical.bytes(bad, .json).first == Canonical.Tag.unparsed.rawValue, "\(bad)")
        }
        // Deep documents: the mapping keeps them and V2 prints them spaced; before, verification
        // gave up at depth 500 and compared the raw texts, a false difference.
        let results: [(Int, Bool, Bool, Bool)] = await withCheckedContinuation { done in
            // Verification reads rows on a connection's dispatch queue: the same kind of thread.
            DispatchQueue(label: "canonical-json-depth").async {
                var r: [(Int, Bool, Bool, Bool)] = []
                for n in [499, 501, 600, JSONReader.maxDepth - 1, JSONReader.maxDepth + 1] {
                    let compact = Self.nested(n, spaced: false), spaced = Self.nested(n, spaced: true)
                    r.append((n, JSONReader.isValid(compact), Canonical.bytes(compact, .json) == Canonical.bytes(spaced, .json),
                              Canonical.bytes(compact, .json).first == Canonical.Tag.json.rawValue))
                }
                done.resume(returning: r)
            }
        }
        for (n, valid, equal, parsed) in results {
            let within = n < JSONReader.maxDepth
            #expect(valid == within, "depth \(n)")
            #expect(parsed == within, "depth \(n): parsed as JSON")
            #expect(equal == within, "depth \(n): compact and spaced texts compare equal only where both parse")
        }
        #expect(!same(Self.nested(600, spaced: false), Self.nested(600, spaced: false).replacingOccurrences(of: "1}", with: "2}"), .json))
    }

    @Test("uuids, inet and char(n)")
    func others() {
        #expect(same("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "a0eebc999c0b4ef8bb6d6bb9bd380a11", .uuid))
        #expect(!same("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12", .uuid))
        #expect(same("::1", "0:0:0:0:0:0:0:1", .inet))
        #expect(same("10.0.0.1", "10.0.0.1/32", .inet))
        #expect(!same("10.0.0.1", "10.0.0.1/24", .inet))
        #expect(!same("10.0.0.1", "10.0.0.2", .inet))
        #expect(same("XOF", "XOF  ", .bpchar))
        #expect(!same("XOF", "XOF  ", .text))
        // A value that does not parse keeps its text, so it never equals a parsed one.
        #expect(!same("not-a-number", "0", .numeric))
        #expect(same("not-a-number", "not-a-number", .numeric))
    }

    @Test("bucket digests: order-independent, and they name the differing key ranges")
    func digests() {
        func rows(_ n: Int) -> [(Int, RowHash)] {
            (0..<n).map { i in
                let key = Canonical.bytes(UUIDv5Namespace("4b6f0c3e-2a1d-4c8e-9f57-3d2e1a0b9c8d")!.uuid("t:\(i)"), .uuid)
                let bucket = key.withUnsafeBytes { RowKey.bucket($0, kind: .uuid) }
                return (bucket, RowHash(key + Array("row \(i)".utf8)))
            }
        }
        var a = BucketDigest(), b = BucketDigest()
        let r = rows(5000)
        for x in r { a.add(bucket: x.0, x.1) }
        for x in r.reversed() { b.add(bucket: x.0, x.1) }
        #expect(a.checksum == b.checksum)
        #expect(a.differing(from: b).isEmpty)
        var c = BucketDigest()
        for (i, x) in r.enumerated() where i != 42 { c.add(bucket: x.0, x.1) }
        #expect(c.differing(from: a) == [r[42].0])
        #expect(c.checksum != a.checksum)
        // Two key ranges read apart and merged are one pass over both; a range missing a row,
        // or counted twice, is not.
        var low = BucketDigest(), high = BucketDigest()
        for x in r[..<1700] { low.add(bucket: x.0, x.1) }
        for x in r[1700...] { high.add(bucket: x.0, x.1) }
        var merged = low
        merged.merge(high)
        #expect(merged.checksum == a.checksum && merged.rows == a.rows)
        #expect(merged.differing(from: a).isEmpty)
        var twice = merged
        twice.merge(low)
        #expect(twice.checksum != a.checksum)
        var highShort = BucketDigest()
        for x in r[1701...] { highShort.add(bucket: x.0, x.1) }
        var short = low
        short.merge(highShort)
        #expect(short.differing(from: a) == [r[1700].0])
    }

    @Test("fast and general paths agree: decimals, uuids, nested jsonb")
    func fastPaths() {
        #expect(same("0.050", "5e-2", .numeric))
        #expect(same("120.00", "1.2e2", .numeric))
        #expect(same("-007.10", "-7.1", .numeric))
        #expect(same(".5", "0.5", .numeric))
        #expect(same("5.", "5", .numeric))
        #expect(!same(".", "0", .numeric))
        #expect(same("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", .uuid))
        #expect(same(#"{"a": {"y": 1, "x": [true, null, "s"]}, "a": {"x": [true, null, "s"], "y": 1.0}}"#,
                     #"{"a":{"x":[true,null,"s"],"y":1}}"#, .json))
        #expect(!same(#"{"a": {"y": 1}}"#, #"{"a": {"y": 2}}"#, .json))
        #expect(same(#"["tab\there", "\ud83d\ude00"]"#, #"["tab\u0009here", "😀"]"#, .json))
    }

    @Test("COPY fields as bytes equal the parsed strings, escapes and NULLs included")
    func copyFields() {
        let rows = ["a\tb\\\\N\t\\N\tx\\ty\t\\n\t\n", "\\N\n", "\t\n", "é😀\t\\101\\x41\n"]
        for text in rows {
            let bytes = Array(text.utf8)
            var viaStrings: [String?] = []
            bytes.withUnsafeBytes { CopyTextParser.fields($0, into: &viaStrings) }
            var viaBytes: [String?] = []
            var scratch: [UInt8] = []
            bytes.withUnsafeBytes { raw in
                CopyTextParser.forEachField(raw, scratch: &scratch) { _, v in viaBytes.append(v.map { String(decoding: $0, as: UTF8.self) }) }
            }
            #expect(viaBytes == viaStrings, "\(text)")
        }
    }
}
