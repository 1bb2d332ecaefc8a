import Foundation
import MigrationEngine
import Testing

/// The binary COPY encoder against the server itself: every value goes into one table through
/// binary COPY and into another through text COPY; wherever the encoder takes a value, the
/// server must read exactly what it reads from the text, and it must hand back (to text COPY)
/// every value it cannot carry exactly.
@Suite("binary COPY: the same rows as text COPY, value by value")
struct BinaryCopyTests {
    static let columns: [(name: String, type: String, base: String, probes: [String], textOnly: Set<String>)] = [
        ("t", "text", "x", ["", "plain", "tab\there", "new\nline\r\n", "back\\slash", "\\N", "quote'\"", "emoji 🍫", "e\u{301}", "NULL",
                           String(repeating: "long ", count: 4000)], []),
        ("v", "varchar(10)", "x", ["0123456789", "é€🍫abcdefg", "", "01234567890"], []),
        ("c", "char(3)", "x", ["ab", "abc", "a  ", "", "abcd"], []),
        ("en", "bc_enum", "a", ["a", "b c", "zzz"], []),
        ("js", "jsonb", "{}", ["{\"b\":1,\"a\":[1,2.50,null]}", "\"str\"", "[]", "{\"a\":1,\"a\":2}", "  {\"k\" : \"v\\u00e9\"}  ", "1e400", "{bad"], []),
        ("j", "json", "{}", ["{\"b\":1,  \"a\":2}", "[1, 2]"], []),
        ("i2", "smallint", "0", ["-32768", "32767", "+5", "-0", "32768"], ["32768"]),
        ("i4", "integer", "0", ["-2147483648", "2147483647", "42"], []),
        ("i8", "bigint", "0", ["-9223372036854775808", "9223372036854775807", "7"], []),
        ("n", "numeric", "0", ["0", "-0.00", "123.45", "0.0001", "0.00001", "99999999999999999999.123456789", "-1", "NaN", "10000", "1.10",
                              ".5", "5.", "-12345678.000010000", "0.000000000000000000001", "1e5", "Infinity", " 7"], ["1e5", "Infinity", " 7"]),
        ("n2", "numeric(10,2)", "0", ["12345678.99", "-0.5", "1.005", "0", "7", "123456789.99"], []),
        ("f4", "real", "0", ["0", "-0", "1.5", "3.4028235e38", "1e-45", "NaN", "Infinity", "-Infinity", "0.1", "16777217"], []),
        ("f8", "double precision", "0", ["0", "-0", "1.7976931348623157e308", "5e-324", "0.1", "NaN", "-Infinity", "-1.5E+10"], []),
        ("b", "boolean", "f", ["t", "f", "true", "false", "yes"], ["yes"]),
        ("u", "uuid", "00000000-0000-0000-0000-000000000000",
         ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", "ffffffff-ffff-ffff-ffff-ffffffffffff"],
         ["{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"]),
        ("ts", "timestamp", "2000-01-01 00:00:00",
         ["2024-02-29 23:59:59.999999", "2000-01-01 00:00:00", "1999-12-31 23:59:59.5", "0001-01-01 00:00:00 BC", "4714-11-24 00:00:00 BC",
          "294276-12-31 23:59:59.999999", "1970-01-01 00:00:00", "2024-03-31 02:30:00", "1900-02-28 12:00:00.000001", "infinity", "-infinity", "2024-01-01 24:00:00",
          "2024-01-01 10:00:00+02", "294277-01-01 00:00:00"],
         ["2024-01-01 24:00:00", "2024-01-01 10:00:00+02"]),
        ("tz", "timestamptz", "2000-01-01 00:00:00+00",
         ["2024-06-01 12:00:00+02", "2024-06-01 12:00:00-03:30", "2024-06-01 12:00:00Z", "2024-06-01 12:00:00", "1900-01-01 00:00:00+00",
          "0044-03-15 12:00:00+00 BC", "infinity", "2024-06-01 12:00:00.1234567", "2024-06-01 12:00:00 Europe/Paris"],
         ["2024-06-01 12:00:00.1234567", "2024-06-01 12:00:00 Europe/Paris"]),
        ("d", "date", "2000-01-01", ["2024-02-29", "0001-01-01 BC", "5874897-12-31", "2000-01-01", "1999-12-31", "4714-11-24 BC", "2023-02-29", "infinity", "-infinity"], ["2023-02-29"]),
        ("ip", "inet", "127.0.0.1", ["192.168.1.1", "10.0.0.0/8", "10.1.2.3/8", "::1", "2001:db8::1/64", "::ffff:1.2.3.4", "0.0.0.0/0"], []),
        ("arr", "text[]", "{}", ["{}", "{a,b}", "{\"a b\",NULL,\"NULL\",\"q\\\"uote\",\"back\\\\slash\"}", "{é,🍫}", "{ a }", "{null}"], ["{ a }"]),
    ]

    @Test("every probe value: binary equals text, or the encoder hands it back; invalid values refused either way")
    func probes() async throws {
        let pair = try await TestSandbox.shared.freshPair("bincopy")
        let c = try await pair.v2Owner()
        let defs = Self.columns.map { "\($0.name) \($0.type)" }.joined(separator: ", ")
        try await c.execute("CREATE TYPE bc_enum AS ENUM ('a', 'b c'); CREATE TABLE bc_bin (k int, \(defs)); CREATE TABLE bc_text (k int, \(defs))")
        let catalog = try await Catalog.read(c, schemas: ["public"])
        let table = try #require(catalog.tables[TableName("public", "bc_bin")])
        let encoder = try #require(BinaryCopyEncoder(columns: table.columns), "every column type is encodable")
        let base: [String?] = [nil] + Self.columns.map(\.base)
        var rows: [(k: Int, values: [String?], column: String, probe: String)] = []
        for (ci, col) in Self.columns.enumerated() {
            for p in col.probes {
                var v = base
                v[0] = String(rows.count)
                v[ci + 1] = p
                rows.append((rows.count, v, col.name, p))
            }
        }
        var compared = 0
        var handedBack: [String] = []
        var refusedBoth: [String] = []
        for r in rows {
            var text = CopyRow()
            text.newRow()
            for v in r.values { text.text(v) }
            text.endRow()
            let textBytes = text.bytes
            let textOK: Bool
            do {
                try await c.withSession { s in
                    var w = try s.copyIn("COPY bc_text FROM STDIN")
                    try textBytes.withUnsafeBytes { try w.writeRows(bytes: $0, count: 1) }
                    _ = try w.finish()
                }
                textOK = true
            } catch { textOK = false }
            var bin = BinaryCopyEncoder.header
            if let failed = encoder.appendRow(r.values, to: &bin) {
                #expect(bin == BinaryCopyEncoder.header, "a refused row leaves the buffer as it was")
                handedBack.append("\(r.column)=\(r.probe)")
                #expect(table.columns[failed].name == r.column, "the failing column is named: \(table.columns[failed].name) for \(r.column)")
                continue
            }
            bin += BinaryCopyEncoder.trailer
            let binBytes = bin
            let binOK: Bool
            do {
                try await c.withSession { s in
                    var w = try s.copyIn("COPY bc_bin FROM STDIN (FORMAT binary)")
                    try binBytes.withUnsafeBytes { try w.writeRows(bytes: $0, count: 1) }
                    _ = try w.finish()
                }
                binOK = true
            } catch { binOK = false }
            #expect(binOK == textOK, "\(r.column)=\(r.probe.prefix(60)): text \(textOK ? "accepted" : "refused"), binary \(binOK ? "accepted" : "refused")")
            if textOK && binOK { compared += 1 }
            if !textOK && !binOK { refusedBoth.append("\(r.column)=\(r.probe)") }
        }
        // Row by row, the server's text output of both tables.
        let differing = try await c.query("""
            SELECT tx.k, tx::text, bx::text FROM bc_text tx JOIN bc_bin bx USING (k) WHERE tx::text <> bx::text
            """).rows
        #expect(differing.isEmpty, "binary and text differ: \(differing.prefix(5).map { "\($0[1] ?? "") vs \($0[2] ?? "")" })")
        let joined = try await c.scalar("SELECT count(*) FROM bc_text tx JOIN bc_bin bx USING (k)")
        #expect(joined == String(compared))
        let expectedBack = Set(Self.columns.flatMap { col in col.textOnly.map { "\(col.name)=\($0)" } })
        #expect(Set(handedBack) == expectedBack, "handed back to text COPY: \(handedBack.sorted())")
        #expect(Set(refusedBoth) == ["v=01234567890", "c=abcd", "en=zzz", "js={bad", "n2=123456789.99", "ts=294277-01-01 00:00:00"],
                "values the encoder takes but the server refuses, either way: \(refusedBoth)")
        #expect(compared > 90)
        await c.close()
    }
}
