import PGClient
import Foundation

/// Target rows in PostgreSQL's binary COPY format, so that the V2 server does not parse text:
/// a uuid arrives as its 16 bytes, a timestamp as microseconds, a numeric as base-10000 digits.
/// On V2-shaped rows (four to six uuids, timestamps and numerics each) the server's COPY takes
/// half the CPU it takes for the same rows in text (see BENCHMARKS.md).
///
/// The mapping still produces every value in the column type's *text* input format (one
/// definition of each rule, shared with verification). This encoder converts those texts, and
/// only those it can convert exactly: a text it does not recognise (an unusual date style, a
/// numeric in exponent notation, a uuid in braces…) makes `appendRow` return the failing column,
/// and the load falls back to text COPY, where the server's own input functions decide. So a
/// value is never accepted in binary that the server would have refused or read differently as
/// text; what the server checks on binary input itself (varchar and numeric type modifiers, enum
/// labels, jsonb syntax, text encoding, timestamp range) it checks either way.
public struct BinaryCopyEncoder: Sendable {
    enum Column: Sendable, Equatable {
        case bytes          // text, varchar, char(n), name, enum labels, json: the text itself
        case jsonb          // version byte 1, then the text
        case int2, int4, int8
        case numeric
        case float4, float8
        case bool
        case uuid
        case timestamp(withZone: Bool)
        case date
        case inet
        case textArray(elementOID: UInt32)
    }

    let columns: [Column]

    /// The encoder for a target table's columns, in COPY order; nil when any column's type is not
    /// one it encodes (the load then uses text COPY throughout).
    public init?(columns: [ColumnInfo]) {
        var out: [Column] = []
        for c in columns {
            guard let col = Self.column(c) else { return nil }
            out.append(col)
        }
        self.columns = out
    }

    static func column(_ c: ColumnInfo) -> Column? {
        if c.typeCategory == "E" { return .bytes }
        if c.typeCategory == "A" {
            switch c.elementTypeName {
            case "text": return .textArray(elementOID: 25)
            case "varchar": return .textArray(elementOID: 1043)
            default: return nil
            }
        }
        switch c.typeName {
        case "text", "varchar", "bpchar", "name", "json": return .bytes
        case "jsonb": return .jsonb
        case "int2": return .int2
        case "int4": return .int4
        case "int8": return .int8
        case "numeric": return .numeric
        case "float4": return .float4
        case "float8": return .float8
        case "bool": return .bool
        case "uuid": return .uuid
        case "timestamptz": return .timestamp(withZone: true)
        case "timestamp": return .timestamp(withZone: false)
        case "date": return .date
        case "inet": return .inet
        default: return nil
        }
    }

    /// `PGCOPY\n\377\r\n\0`, flags 0, no header extension.
    public static let header: [UInt8] = [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]
    /// A field count of -1 ends the data.
    public static let trailer: [UInt8] = [0xFF, 0xFF]

    /// Appends one row (values in the column types' text input format). Returns nil on success;
    /// otherwise the index of the first column whose value it cannot encode exactly, with `out`
    /// left as it was.
    public func appendRow(_ values: [String?], to out: inout [UInt8]) -> Int? {
        precondition(values.count == columns.count, "a row of \(values.count) values for \(columns.count) columns")
        let mark = out.count
        Self.appendBE16(UInt16(columns.count), &out)
        for (i, value) in values.enumerated() {
            guard var value else {
                out.append(contentsOf: [0xFF, 0xFF, 0xFF, 0xFF])
                continue
            }
            let lengthAt = out.count
            out.append(contentsOf: [0, 0, 0, 0])
            let ok = value.withUTF8 { Self.encode($0, columns[i], &out) }
            guard ok else {
                out.removeSubrange(mark...)
                return i
            }
            let n = UInt32(out.count - lengthAt - 4)
            out[lengthAt] = UInt8(truncatingIfNeeded: n >> 24)
            out[lengthAt + 1] = UInt8(truncatingIfNeeded: n >> 16)
            out[lengthAt + 2] = UInt8(truncatingIfNeeded: n >> 8)
            out[lengthAt + 3] = UInt8(truncatingIfNeeded: n)
        }
        return nil
    }

    static func encode(_ u: UnsafeBufferPointer<UInt8>, _ column: Column, _ out: inout [UInt8]) -> Bool {
        switch column {
        case .bytes:
            out.append(contentsOf: u)
            return true
        case .jsonb:
            out.append(1)
            out.append(contentsOf: u)
            return true
        case .int2:
            guard let v = parseInteger(u), v >= Int64(Int16.min), v <= Int64(Int16.max) else { return false }
            appendBE16(UInt16(bitPattern: Int16(v)), &out)
            return true
        case .int4:
            guard let v = parseInteger(u), v >= Int64(Int32.min), v <= Int64(Int32.max) else { return false }
            appendBE32(UInt32(bitPattern: Int32(v)), &out)
            return true
        case .int8:
            guard let v = parseInteger(u) else { return false }
            Canonical.appendBE(UInt64(bitPattern: v), &out)
            return true
        case .numeric:
            return appendNumeric(u, &out)
        case .float4:
            guard let d = parseFloat(u), let f = Float(exactly: d) ?? Float(String(decoding: u, as: UTF8.self)) else { return false }
            // Out of float4's range either way: the server refuses it.
            if (f.isInfinite && !d.isInfinite) || (f == 0 && d != 0) { return false }
            appendBE32(f.bitPattern, &out)
            return true
        case .float8:
            guard let d = parseFloat(u) else { return false }
            Canonical.appendBE(d.bitPattern, &out)
            return true
        case .bool:
            switch u.count {
            case 1 where u[0] == 0x74: out.append(1)
            case 1 where u[0] == 0x66: out.append(0)
            case 4 where String(decoding: u, as: UTF8.self) == "true": out.append(1)
            case 5 where String(decoding: u, as: UTF8.self) == "false": out.append(0)
            default: return false
            }
            return true
        case .uuid:
            // The canonical 8-4-4-4-12 spelling only; other spellings go to the server as text.
            guard u.count == 36 else { return false }
            return Canonical.appendUUID(u, &out)
        case .timestamp(let withZone):
            guard let us = parseTimestamp(u, allowOffset: withZone) else { return false }
            Canonical.appendBE(UInt64(bitPattern: us), &out)
            return true
        case .date:
            guard let days = parseDate(u) else { return false }
            appendBE32(UInt32(bitPattern: days), &out)
            return true
        case .inet:
            return appendInet(u, &out)
        case .textArray(let oid):
            return appendTextArray(u, elementOID: oid, &out)
        }
    }

    @inline(__always) static func appendBE16(_ v: UInt16, _ out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: v >> 8))
        out.append(UInt8(truncatingIfNeeded: v))
    }

    @inline(__always) static func appendBE32(_ v: UInt32, _ out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: v >> 24))
        out.append(UInt8(truncatingIfNeeded: v >> 16))
        out.append(UInt8(truncatingIfNeeded: v >> 8))
        out.append(UInt8(truncatingIfNeeded: v))
    }

    /// `[+-]digits`, nothing else (no blanks, no underscores).
    static func parseInteger(_ u: UnsafeBufferPointer<UInt8>) -> Int64? {
        var i = 0
        var negative = false
        if i < u.count && (u[i] == 0x2D || u[i] == 0x2B) { negative = u[i] == 0x2D; i += 1 }
        guard i < u.count, u.count - i <= 19 else { return nil }
        var v: Int64 = 0
        while i < u.count {
            let b = u[i]
            guard b >= 0x30 && b <= 0x39 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = negative ? m.subtractingReportingOverflow(Int64(b - 0x30)) : m.addingReportingOverflow(Int64(b - 0x30))
            guard !o1 && !o2 else { return nil }
            v = s
            i += 1
        }
        return v
    }

    /// A float as `float8in` reads it, or nil where the two could differ: blanks, and values out
    /// of range (the server refuses those; Swift would round them to infinity or zero).
    static func parseFloat(_ u: UnsafeBufferPointer<UInt8>) -> Double? {
        guard !u.isEmpty, u.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        let s = String(decoding: u, as: UTF8.self)
        switch s.lowercased() {
        case "nan": return .nan
        case "infinity", "+infinity", "inf", "+inf": return .infinity
        case "-infinity", "-inf": return -.infinity
        default: break
        }
        guard u.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E || $0 == 0x2D || $0 == 0x2B || $0 == 0x65 || $0 == 0x45 }),
              let d = Double(s) else { return nil }
        if d.isInfinite { return nil }
        if d == 0 && u.contains(where: { $0 >= 0x31 && $0 <= 0x39 }) {
            // "1e-400" underflows to zero: refused by the server unless the mantissa is zero.
            let mantissa = s.split(whereSeparator: { $0 == "e" || $0 == "E" }).first ?? ""
            if mantissa.contains(where: { $0 >= "1" && $0 <= "9" }) { return nil }
        }
        return d
    }

    /// `[+-]digits[.digits]` (either part may be empty, not both) or `NaN` → the binary numeric:
    /// ndigits, weight, sign, dscale, then base-10000 digits. Exponents and infinities go as text.
    static func appendNumeric(_ u: UnsafeBufferPointer<UInt8>, _ out: inout [UInt8]) -> Bool {
        if u.count == 3, String(decoding: u, as: UTF8.self).lowercased() == "nan" {
            appendBE16(0, &out); appendBE16(0, &out); appendBE16(0xC000, &out); appendBE16(0, &out)
            return true
        }
        var i = 0
        var negative = false
        if i < u.count && (u[i] == 0x2D || u[i] == 0x2B) { negative = u[i] == 0x2D; i += 1 }
        @inline(__always) func isDigit(_ k: Int) -> Bool { k < u.count && u[k] >= 0x30 && u[k] <= 0x39 }
        let intStart = i
        while isDigit(i) { i += 1 }
        let intEnd = i
        var fracStart = i, fracEnd = i
        if i < u.count && u[i] == 0x2E {
            i += 1
            fracStart = i
            while isDigit(i) { i += 1 }
            fracEnd = i
        }
        let fracCount = fracEnd - fracStart
        guard i == u.count, intEnd > intStart || fracCount > 0, fracCount <= 1000 else { return false }
        var lead = intStart
        while lead < intEnd && u[lead] == 0x30 { lead += 1 }
        let intCount = intEnd - lead
        // Base-10000 groups aligned on the decimal point, read straight from the text: position p
        // of the zero-padded digit string `0…0 int frac 0…0`.
        let intPad = (4 - intCount % 4) % 4
        @inline(__always) func digit(_ p: Int) -> UInt16 {
            let q = p - intPad
            if q < 0 { return 0 }
            if q < intCount { return UInt16(u[lead + q] - 0x30) }
            return q - intCount < fracCount ? UInt16(u[fracStart + q - intCount] - 0x30) : 0
        }
        let groups = (intPad + intCount + fracCount + 3) / 4
        var weight = (intPad + intCount) / 4 - 1
        let header = out.count
        out.append(contentsOf: repeatElement(0, count: 8))
        var written = 0, upToLastNonZero = 0
        for g in 0..<groups {
            let p = g * 4
            let v = digit(p) * 1000 + digit(p + 1) * 100 + digit(p + 2) * 10 + digit(p + 3)
            if written == 0 && v == 0 { weight -= 1; continue }  // leading zero groups: not stored
            appendBE16(v, &out)
            written += 1
            if v != 0 { upToLastNonZero = written }
        }
        out.removeSubrange((header + 8 + 2 * upToLastNonZero)...)  // trailing zero groups: not stored
        guard weight >= Int(Int16.min), weight <= Int(Int16.max) else {
            out.removeSubrange(header...)
            return false
        }
        // The header: ndigits, weight, sign, dscale.
        func put(_ k: Int, _ f: UInt16) {
            out[header + 2 * k] = UInt8(truncatingIfNeeded: f >> 8)
            out[header + 2 * k + 1] = UInt8(truncatingIfNeeded: f)
        }
        put(0, UInt16(upToLastNonZero))
        put(1, UInt16(bitPattern: Int16(upToLastNonZero == 0 ? 0 : weight)))
        put(2, negative && upToLastNonZero > 0 ? 0x4000 : 0x0000)
        put(3, UInt16(fracCount))
        return true
    }

    static func daysInMonth(_ year: Int64, _ month: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// PostgreSQL's epoch, 2000-01-01, in days since 1970-01-01.
    static let pgEpochDays: Int64 = 10_957

    /// `infinity` → +1, `-infinity` → -1, anything else nil: how PostgreSQL spells the dates and
    /// timestamps it stores as the largest and smallest value of their type.
    static func infinitySign(_ u: UnsafeBufferPointer<UInt8>) -> Int? {
        guard u.count == 8 || u.count == 9 else { return nil }
        switch String(decoding: u, as: UTF8.self) {
        case "infinity": return 1
        case "-infinity": return -1
        default: return nil
        }
    }

    /// `YYYY-MM-DD[ BC]`, a real calendar day → days since 2000-01-01; `infinity`, `-infinity`.
    static func parseDate(_ u: UnsafeBufferPointer<UInt8>) -> Int32? {
        if let sign = infinitySign(u) { return sign > 0 ? Int32.max : Int32.min }  // DATEVAL_NOEND, DATEVAL_NOBEGIN
        var c = Canonical.Cursor(u)
        guard let (y, m, d) = datePart(&c), let days = closeDate(&c, y, m, d), let v = Int32(exactly: days) else { return nil }
        return v
    }

    /// The end of a date or timestamp after its date (and time) part: an optional ` BC`, then
    /// nothing. Days since 2000-01-01 of that calendar day, or nil when it is none (30 February).
    static func closeDate(_ c: inout Canonical.Cursor, _ y: Int64, _ m: Int64, _ d: Int64) -> Int64? {
        var year = y
        if c.eat(0x20) {
            guard c.eat(0x42), c.eat(0x43) else { return nil }
            year = 1 - year
        }
        guard c.atEnd, d <= daysInMonth(year, m) else { return nil }
        return Canonical.daysFromCivil(year, m, d) - pgEpochDays
    }

    static func datePart(_ c: inout Canonical.Cursor) -> (Int64, Int64, Int64)? {
        guard let y = c.number(maxDigits: 7), y.digits >= 4, c.eat(0x2D), let m = c.number(maxDigits: 2), m.digits == 2, c.eat(0x2D),
              let d = c.number(maxDigits: 2), d.digits == 2, (1...12).contains(m.value), d.value >= 1, y.value >= 1 else { return nil }
        return (y.value, m.value, d.value)
    }

    /// `YYYY-MM-DD HH:MM:SS[.f…f]` (up to 6 fraction digits) with, for timestamptz, an optional
    /// `+HH`, `+HH:MM` or `Z` (no zone: UTC, the tool's session time zone), and an optional ` BC`
    /// → microseconds since 2000-01-01 UTC; `infinity` and `-infinity` as the server stores them.
    /// Anything else (24:00, leap seconds, named zones) goes to the server as text.
    static func parseTimestamp(_ u: UnsafeBufferPointer<UInt8>, allowOffset: Bool) -> Int64? {
        if let sign = infinitySign(u) { return sign > 0 ? Int64.max : Int64.min }  // DT_NOEND, DT_NOBEGIN
        var c = Canonical.Cursor(u)
        guard let (y, mo, d) = datePart(&c), c.eat(0x20) || c.eat(0x54),
              let h = c.number(maxDigits: 2), h.digits == 2, h.value < 24, c.eat(0x3A),
              let mi = c.number(maxDigits: 2), mi.digits == 2, mi.value < 60, c.eat(0x3A),
              let s = c.number(maxDigits: 2), s.digits == 2, s.value < 60 else { return nil }
        var frac: Int64 = 0
        if c.eat(0x2E) {
            guard let f = c.number(maxDigits: 6), c.peek.map({ $0 < 0x30 || $0 > 0x39 }) ?? true else { return nil }
            frac = f.value
            for _ in f.digits..<6 { frac *= 10 }
        }
        var offset: Int64 = 0
        if let sign = c.peek, sign == 0x2B || sign == 0x2D || sign == 0x5A {
            guard allowOffset else { return nil }
            c.i += 1
            if sign != 0x5A {
                guard let oh = c.number(maxDigits: 2), oh.digits == 2, oh.value <= 15 else { return nil }
                var om: Int64 = 0
                if c.eat(0x3A) {
                    guard let m = c.number(maxDigits: 2), m.digits == 2, m.value < 60 else { return nil }
                    om = m.value
                }
                offset = (oh.value * 3600 + om * 60) * (sign == 0x2D ? -1 : 1)
            }
        }
        guard let days = closeDate(&c, y, mo, d) else { return nil }
        let (dayMicros, o1) = days.multipliedReportingOverflow(by: 86_400_000_000)
        guard !o1 else { return nil }
        return dayMicros + ((h.value * 60 + mi.value) * 60 + s.value - offset) * 1_000_000 + frac
    }

    /// `address[/bits]` (IPv4 dotted quad or IPv6) → family, bits, is_cidr = 0, length, address.
    static func appendInet(_ u: UnsafeBufferPointer<UInt8>, _ out: inout [UInt8]) -> Bool {
        var canonical: [UInt8] = []
        guard u.allSatisfy({ $0 > 0x20 && $0 < 0x7F }), Canonical.appendInet(u, &canonical) else { return false }
        // Canonical: 4 or 6, the address bytes, the prefix length.
        let v4 = canonical[0] == 4
        out.append(v4 ? 2 : 3)                       // PGSQL_AF_INET, PGSQL_AF_INET6
        out.append(canonical[canonical.count - 1])   // bits
        out.append(0)                                // inet, not cidr
        out.append(v4 ? 4 : 16)
        out.append(contentsOf: canonical[1..<(canonical.count - 1)])
        return true
    }

    /// A one-dimensional array literal of text elements: `{a,"b c",NULL}`. Unquoted elements with
    /// blanks or backslashes, dimension decorations and nested arrays go as text.
    static func appendTextArray(_ u: UnsafeBufferPointer<UInt8>, elementOID: UInt32, _ out: inout [UInt8]) -> Bool {
        guard u.count >= 2, u[0] == 0x7B, u[u.count - 1] == 0x7D else { return false }
        var elements: [[UInt8]?] = []
        var i = 1
        let end = u.count - 1
        if end > 1 {
            while true {
                if u[i] == 0x22 {
                    i += 1
                    var e: [UInt8] = []
                    while i < end && u[i] != 0x22 {
                        if u[i] == 0x5C { i += 1; guard i < end else { return false } }
                        e.append(u[i])
                        i += 1
                    }
                    guard i < end else { return false }
                    i += 1
                    elements.append(e)
                } else {
                    var e: [UInt8] = []
                    while i < end && u[i] != 0x2C {
                        let b = u[i]
                        guard b != 0x5C, b != 0x22, b != 0x7B, b != 0x7D, b > 0x20 else { return false }
                        e.append(b)
                        i += 1
                    }
                    guard !e.isEmpty else { return false }
                    elements.append(e.count == 4 && String(decoding: e, as: UTF8.self).uppercased() == "NULL" ? nil : e)
                }
                if i == end { break }
                guard u[i] == 0x2C else { return false }
                i += 1
                guard i < end else { return false }
            }
        }
        if elements.isEmpty {
            appendBE32(0, &out); appendBE32(0, &out); appendBE32(elementOID, &out)
            return true
        }
        appendBE32(1, &out)                                           // dimensions
        appendBE32(elements.contains { $0 == nil } ? 1 : 0, &out)     // has nulls
        appendBE32(elementOID, &out)
        appendBE32(UInt32(elements.count), &out)                      // length
        appendBE32(1, &out)                                           // lower bound
        for e in elements {
            if let e {
                appendBE32(UInt32(e.count), &out)
                out.append(contentsOf: e)
            } else {
                appendBE32(0xFFFF_FFFF, &out)
            }
        }
        return true
    }
}
