import PGClient
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The canonical encoding of values: a tag byte, then (for non-NULL values) a 4-byte length and
/// the payload. NULL is the tag alone, so no string (not even `"NULL"` or `""`) can equal it; a
/// value that does not parse as its type keeps its raw text under a tag of its own, so it can
/// only equal the same unparsable text.
public enum Canonical {
    enum Tag: UInt8 {
        case null = 0, text, integer, numeric, float, bool, uuid, timestamp, date, json, inet, array
        case jsonNull = 20, jsonTrue, jsonFalse, jsonNumber, jsonString, jsonArray, jsonObject
        case ignored = 0xFE
        case unparsed = 0xFF
    }

    /// Appends the canonical form of `value` read as `kind`.
    public static func append(_ value: String?, _ kind: ValueKind, to out: inout [UInt8]) {
        if case .ignored = kind {
            out.append(Tag.ignored.rawValue)
            return
        }
        guard var value else {
            out.append(Tag.null.rawValue)
            return
        }
        value.withUTF8 { append(utf8: $0, kind, to: &out) }
    }

    static func append(utf8 u: UnsafeBufferPointer<UInt8>, _ kind: ValueKind, to out: inout [UInt8]) {
        if case .ignored = kind {
            out.append(Tag.ignored.rawValue)
            return
        }
        let start = out.count
        out.append(0); out.append(0); out.append(0); out.append(0); out.append(0)
        let payload = out.count
        let tag: Tag
        switch kind {
        case .text:
            out.append(contentsOf: u)
            tag = .text
        case .bpchar:
            var n = u.count
            while n > 0 && u[n - 1] == 0x20 { n -= 1 }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: u[0..<n]))
            tag = .text
        case .integer:
            if let v = parseInt(u) { appendBE(UInt64(bitPattern: v), &out); tag = .integer } else { tag = .unparsed }
        case .numeric:
            tag = appendDecimal(u, &out) ? .numeric : .unparsed
        case .float:
            if let d = Double(String(decoding: u, as: UTF8.self)) {
                appendBE(d.isNaN ? 0x7FF8_0000_0000_0000 : d.bitPattern, &out)
                tag = .float
            } else { tag = .unparsed }
        case .bool:
            if u.count == 1 && (u[0] == 0x74 || u[0] == 0x66) {
                out.append(u[0] == 0x74 ? 1 : 0); tag = .bool
            } else {
                switch String(decoding: u, as: UTF8.self).lowercased() {
                case "t", "true", "y", "yes", "on", "1": out.append(1); tag = .bool
                case "f", "false", "n", "no", "off", "0": out.append(0); tag = .bool
                default: tag = .unparsed
                }
            }
        case .uuid:
            tag = appendUUID(u, &out) ? .uuid : .unparsed
        case .timestamp:
            if let us = parseTimestamp(u) {
                appendBE(UInt64(bitPattern: us), &out); tag = .timestamp
            } else if let (days, us) = parseTimestampParts(u) {
                // Past 64-bit microseconds since 1970 (up to PostgreSQL's 294276 AD): day and
                // microsecond of the day, 16 bytes, so the length tells the two forms apart.
                appendBE(UInt64(bitPattern: days), &out); appendBE(UInt64(bitPattern: us), &out); tag = .timestamp
            } else { tag = .unparsed }
        case .date:
            if let d = parseDate(u) { appendBE(UInt64(bitPattern: d), &out); tag = .date } else { tag = .unparsed }
        case .json:
            tag = JSONReader.canonicalize(u, into: &out) ? .json : .unparsed
        case .inet:
            tag = appendInet(u, &out) ? .inet : .unparsed
        case .array(let element):
            var p = ArrayLiteralParser(u)
            tag = p.canonicalize(element: element, into: &out) ? .array : .unparsed
        case .ignored:
            tag = .ignored  // handled above; kept for exhaustiveness
        }
        if tag == .unparsed {
            out.removeSubrange(payload...)
            out.append(contentsOf: u)
        }
        out[start] = tag.rawValue
        let len = UInt32(out.count - payload)
        out[start + 1] = UInt8(truncatingIfNeeded: len >> 24)
        out[start + 2] = UInt8(truncatingIfNeeded: len >> 16)
        out[start + 3] = UInt8(truncatingIfNeeded: len >> 8)
        out[start + 4] = UInt8(truncatingIfNeeded: len)
    }

    /// The canonical bytes of one value (tests, keys).
    public static func bytes(_ value: String?, _ kind: ValueKind) -> [UInt8] {
        var out: [UInt8] = []
        append(value, kind, to: &out)
        return out
    }

    @inline(__always) static func appendBE(_ v: UInt64, _ out: inout [UInt8]) {
        withUnsafeBytes(of: v.bigEndian) { out.append(contentsOf: $0) }
    }

    static func parseInt(_ u: UnsafeBufferPointer<UInt8>) -> Int64? {
        var i = 0
        var n = u.count
        while i < n && u[i] == 0x20 { i += 1 }
        while n > i && u[n - 1] == 0x20 { n -= 1 }
        var negative = false
        if i < n && (u[i] == 0x2D || u[i] == 0x2B) { negative = u[i] == 0x2D; i += 1 }
        guard i < n else { return nil }
        var v: Int64 = 0
        while i < n {
            let d = u[i] &- 0x30
            guard d <= 9 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = negative ? m.subtractingReportingOverflow(Int64(d)) : m.addingReportingOverflow(Int64(d))
            guard !o1 && !o2 else { return nil }
            v = a
            i += 1
        }
        return v
    }

    /// A decimal's canonical text: sign, digits without leading zeros, a fraction without
    /// trailing zeros; zero is `0`; `NaN`, `Infinity`, `-Infinity` as such. Accepts an exponent.
    static func appendDecimal(_ u: UnsafeBufferPointer<UInt8>, _ out: inout [UInt8]) -> Bool {
        var i = 0
        var n = u.count
        while i < n && u[i] == 0x20 { i += 1 }
        while n > i && u[n - 1] == 0x20 { n -= 1 }
        var negative = false
        if i < n && (u[i] == 0x2D || u[i] == 0x2B) { negative = u[i] == 0x2D; i += 1 }
        if i < n && (u[i] | 0x20) >= 0x61 && (u[i] | 0x20) <= 0x7A {
            let word = String(decoding: UnsafeBufferPointer(rebasing: u[i..<n]), as: UTF8.self).lowercased()
            if word == "nan" { out.append(contentsOf: Array("NaN".utf8)); return true }
            if word == "infinity" || word == "inf" { out.append(contentsOf: Array((negative ? "-Infinity" : "Infinity").utf8)); return true }
            return false
        }
        // Fast path: plain digits with an optional point and no exponent, written straight out.
        var plain = true
        var point = -1
        for k in i..<n {
            let b = u[k]
            if b == 0x2E { if point >= 0 { plain = false; break }; point = k } else if b &- 0x30 > 9 { plain = false; break }
        }
        if plain && n > i && !(point == i && n == i + 1) {
            var a = i
            let intEnd = point >= 0 ? point : n
            while a < intEnd && u[a] == 0x30 { a += 1 }
            var e = n
            if point >= 0 {
                while e > point + 1 && u[e - 1] == 0x30 { e -= 1 }
                if e == point + 1 { e = point }
            }
            if a == e || (a == intEnd && e == intEnd) {
                out.append(0x30)
                return true
            }
            if negative { out.append(0x2D) }
            if a == intEnd { out.append(0x30) }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: u[a..<e]))
            return true
        }
        var digits: [UInt8] = []
        digits.reserveCapacity(n - i)
        var pointAt: Int?
        var exponent = 0
        var sawDigit = false
        while i < n {
            let b = u[i]
            if b >= 0x30 && b <= 0x39 { digits.append(b); sawDigit = true }
            else if b == 0x2E && pointAt == nil { pointAt = digits.count }
            else if (b == 0x65 || b == 0x45) && sawDigit {
                guard let e = Int(String(decoding: UnsafeBufferPointer(rebasing: u[(i + 1)..<n]), as: UTF8.self)), abs(e) < 150_000 else { return false }  // numeric: 131072 digits before the point, 16383 after
                exponent = e
                i = n
                break
            } else { return false }
            i += 1
        }
        guard sawDigit else { return false }
        var intLen = (pointAt ?? digits.count) + exponent
        // strip leading zeros
        var lead = 0
        while lead < digits.count && digits[lead] == 0x30 { lead += 1 }
        if lead == digits.count { out.append(0x30); return true }
        digits.removeFirst(lead)
        intLen -= lead
        while let last = digits.last, last == 0x30, digits.count > max(intLen, 0) { digits.removeLast() }
        if negative { out.append(0x2D) }
        if intLen <= 0 {
            out.append(0x30); out.append(0x2E)
            out.append(contentsOf: [UInt8](repeating: 0x30, count: -intLen))
            out.append(contentsOf: digits)
        } else if intLen >= digits.count {
            out.append(contentsOf: digits)
            out.append(contentsOf: [UInt8](repeating: 0x30, count: intLen - digits.count))
        } else {
            out.append(contentsOf: digits[0..<intLen])
            out.append(0x2E)
            out.append(contentsOf: digits[intLen...])
        }
        return true
    }

    static func hex(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: b - 0x30
        case 0x61...0x66: b - 0x61 + 10
        case 0x41...0x46: b - 0x41 + 10
        default: nil
        }
    }

    static let hexTable: [UInt8] = (0..<256).map { b in hex(UInt8(b)) ?? 0xFF }

    static func appendUUID(_ u: UnsafeBufferPointer<UInt8>, _ out: inout [UInt8]) -> Bool {
        if u.count == 36 && u[8] == 0x2D && u[13] == 0x2D && u[18] == 0x2D && u[23] == 0x2D {
            // 0xFF marks a non-hex byte; OR-ing every nibble catches one anywhere.
            return hexTable.withUnsafeBufferPointer { t in
                var hi: UInt64 = 0, lo: UInt64 = 0
                var bad: UInt8 = 0
                @inline(__always) func group(_ from: Int, _ count: Int, _ acc: inout UInt64) {
                    for k in from..<(from + count) {
                        let h = t[Int(u[k])]
                        bad |= h
                        acc = acc << 4 | UInt64(h & 0x0F)
                    }
                }
                group(0, 8, &hi); group(9, 4, &hi); group(14, 4, &hi)
                group(19, 4, &lo); group(24, 12, &lo)
                guard bad & 0xF0 == 0 else { return false }
                appendBE(hi, &out)
                appendBE(lo, &out)
                return true
            }
        }
        var nibbles = 0
        var byte: UInt8 = 0
        let mark = out.count
        for b in u {
            if b == 0x2D || b == 0x7B || b == 0x7D { continue }
            guard let h = hex(b) else { out.removeSubrange(mark...); return false }
            byte = byte << 4 | h
            nibbles += 1
            if nibbles % 2 == 0 { out.append(byte); byte = 0 }
        }
        if nibbles != 32 { out.removeSubrange(mark...); return false }
        return true
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (year 0 = 1 BC).
    static func daysFromCivil(_ y: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y - 1 : y
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (m + 9) % 12
        let doy = (153 * mp + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    struct Cursor {
        let u: UnsafeBufferPointer<UInt8>
        var i = 0
        init(_ u: UnsafeBufferPointer<UInt8>) { self.u = u }
        var atEnd: Bool { i >= u.count }
        var peek: UInt8? { i < u.count ? u[i] : nil }
        mutating func number(maxDigits: Int = 18) -> (value: Int64, digits: Int)? {
            var v: Int64 = 0
            var n = 0
            while i < u.count, u[i] >= 0x30, u[i] <= 0x39, n < maxDigits {
                v = v * 10 + Int64(u[i] - 0x30)
                i += 1
                n += 1
            }
            return n == 0 ? nil : (v, n)
        }
        mutating func eat(_ b: UInt8) -> Bool {
            if peek == b { i += 1; return true }
            return false
        }
        mutating func skipSpaces() { while peek == 0x20 { i += 1 } }
        func rest() -> String { String(decoding: UnsafeBufferPointer(rebasing: u[i...]), as: UTF8.self) }
    }

    /// `YYYY-MM-DD` (and an optional ` BC`) → days since 1970-01-01.
    static func parseDate(_ u: UnsafeBufferPointer<UInt8>) -> Int64? {
        let s = String(decoding: u, as: UTF8.self)
        if s == "infinity" { return Int64.max }
        if s == "-infinity" { return Int64.min }
        var c = Cursor(u)
        guard let days = parseDatePart(&c) else { return nil }
        c.skipSpaces()
        let rest = c.rest()
        if rest == "BC" { return bcAdjust(days, u) }
        return rest.isEmpty ? days : nil
    }

    static func parseDatePart(_ c: inout Cursor) -> Int64? {
        guard let y = c.number(maxDigits: 9), c.eat(0x2D), let m = c.number(maxDigits: 2), c.eat(0x2D), let d = c.number(maxDigits: 2),
              (1...12).contains(m.value), (1...31).contains(d.value) else { return nil }
        return daysFromCivil(y.value, m.value, d.value)
    }

    /// Re-reads a BC date: year N BC is astronomical year 1 - N.
    static func bcAdjust(_ days: Int64, _ u: UnsafeBufferPointer<UInt8>) -> Int64? {
        var c = Cursor(u)
        guard let y = c.number(maxDigits: 9), c.eat(0x2D), let m = c.number(maxDigits: 2), c.eat(0x2D), let d = c.number(maxDigits: 2) else { return nil }
        return daysFromCivil(1 - y.value, m.value, d.value)
    }

    /// `YYYY-MM-DD[ T]HH:MM[:SS[.ffffff]][Z|±HH[:MM[:SS]]][ BC]` → microseconds since
    /// 1970-01-01 UTC; no zone means UTC. `infinity`/`-infinity` map to the extremes.
    static func parseTimestamp(_ u: UnsafeBufferPointer<UInt8>) -> Int64? {
        if u.count <= 9 {
            let s = String(decoding: u, as: UTF8.self)
            if s == "infinity" { return Int64.max }
            if s == "-infinity" { return Int64.min }
        }
        guard let (days, micros) = parseTimestampParts(u) else { return nil }
        let (dayMicros, o1) = days.multipliedReportingOverflow(by: 86_400_000_000)
        let (total, o2) = dayMicros.addingReportingOverflow(micros)
        guard !o1, !o2 else { return nil }
        return total
    }

    /// A timestamp as days since 1970-01-01 and the UTC microsecond of that day (0 ..< 86400 s).
    static func parseTimestampParts(_ u: UnsafeBufferPointer<UInt8>) -> (days: Int64, micros: Int64)? {
        var c = Cursor(u)
        guard let y = c.number(maxDigits: 9), c.eat(0x2D), let mo = c.number(maxDigits: 2), c.eat(0x2D), let d = c.number(maxDigits: 2),
              (1...12).contains(mo.value), (1...31).contains(d.value) else { return nil }
        var year = y.value
        var micros: Int64 = 0
        var offsetSeconds: Int64 = 0
        if c.eat(0x20) || c.eat(0x54) {
            guard let h = c.number(maxDigits: 2), c.eat(0x3A), let mi = c.number(maxDigits: 2), h.value <= 24, mi.value < 60 else { return nil }
            var sec: Int64 = 0
            var frac: Int64 = 0
            if c.eat(0x3A) {
                guard let s = c.number(maxDigits: 2), s.value <= 60 else { return nil }
                sec = s.value
                if c.eat(0x2E) {
                    var digits = 0
                    while let b = c.peek, b >= 0x30, b <= 0x39 {
                        if digits < 6 { frac = frac * 10 + Int64(b - 0x30) }
                        digits += 1
                        c.i += 1
                    }
                    guard digits > 0 else { return nil }
                    for _ in min(digits, 6)..<6 { frac *= 10 }
                }
            }
            micros = ((h.value * 60 + mi.value) * 60 + sec) * 1_000_000 + frac
            if c.eat(0x5A) {
                offsetSeconds = 0
            } else if let sign = c.peek, sign == 0x2B || sign == 0x2D {
                c.i += 1
                guard let oh = c.number(maxDigits: 2) else { return nil }
                var om: Int64 = 0, os: Int64 = 0
                if c.eat(0x3A) {
                    guard let m = c.number(maxDigits: 2) else { return nil }
                    om = m.value
                    if c.eat(0x3A) { guard let s = c.number(maxDigits: 2) else { return nil }; os = s.value }
                } else if let m = c.number(maxDigits: 2) {
                    om = m.value
                }
                offsetSeconds = (oh.value * 3600 + om * 60 + os) * (sign == 0x2D ? -1 : 1)
            }
        }
        c.skipSpaces()
        if !c.atEnd {
            guard c.rest() == "BC" else { return nil }
            year = 1 - year
        }
        let dayLength: Int64 = 86_400_000_000
        let t = micros - offsetSeconds * 1_000_000
        let shift = t >= 0 ? t / dayLength : -((-t + dayLength - 1) / dayLength)
        return (daysFromCivil(year, mo.value, d.value) + shift, t - shift * dayLength)
    }

    static func appendInet(_ u: UnsafeBufferPointer<UInt8>, _ out: inout [UInt8]) -> Bool {
        let s = String(decoding: u, as: UTF8.self)
        var addr = Substring(s)
        var bits: Int?
        if let slash = s.firstIndex(of: "/") {
            guard let b = Int(s[s.index(after: slash)...]) else { return false }
            bits = b
            addr = s[..<slash]
        }
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, String(addr), &v4) == 1 {
            guard (bits ?? 32) <= 32 else { return false }
            out.append(4)
            withUnsafeBytes(of: &v4) { out.append(contentsOf: $0) }
            out.append(UInt8(bits ?? 32))
            return true
        }
        if inet_pton(AF_INET6, String(addr), &v6) == 1 {
            guard (bits ?? 128) <= 128 else { return false }
            out.append(6)
            withUnsafeBytes(of: &v6) { out.append(contentsOf: $0) }
            out.append(UInt8(bits ?? 128))
            return true
        }
        return false
    }
}

/// Parses a PostgreSQL array literal (`{a,"b c",NULL,{1,2}}`) into canonical elements: count,
/// then each element (nested arrays recursively). An unquoted `NULL` is NULL; a quoted one is text.
struct ArrayLiteralParser {
    let u: UnsafeBufferPointer<UInt8>
    var i = 0
    init(_ u: UnsafeBufferPointer<UInt8>) { self.u = u }

    mutating func canonicalize(element: ValueKind, into out: inout [UInt8]) -> Bool {
        // optional dimension decoration: [1:2]={...}
        if i < u.count && u[i] == 0x5B {
            while i < u.count && u[i] != 0x3D { i += 1 }
            i += 1
        }
        guard parseArray(element, &out) else { return false }
        while i < u.count && u[i] == 0x20 { i += 1 }
        return i == u.count
    }

    mutating func parseArray(_ element: ValueKind, _ out: inout [UInt8]) -> Bool {
        guard i < u.count, u[i] == 0x7B else { return false }
        i += 1
        let countAt = out.count
        out.append(contentsOf: [0, 0, 0, 0])
        var count: UInt32 = 0
        skip()
        if i < u.count && u[i] == 0x7D { i += 1; return true }
        while i < u.count {
            skip()
            if u[i] == 0x7B {
                out.append(Canonical.Tag.array.rawValue)
                guard parseArray(element, &out) else { return false }
            } else if u[i] == 0x22 {
                i += 1
                var bytes: [UInt8] = []
                while i < u.count && u[i] != 0x22 {
                    if u[i] == 0x5C && i + 1 < u.count { i += 1 }
                    bytes.append(u[i])
                    i += 1
                }
                guard i < u.count else { return false }
                i += 1
                bytes.withUnsafeBufferPointer { Canonical.append(utf8: $0, element, to: &out) }
            } else {
                var bytes: [UInt8] = []
                while i < u.count && u[i] != 0x2C && u[i] != 0x7D {
                    if u[i] == 0x5C && i + 1 < u.count { i += 1 }
                    bytes.append(u[i])
                    i += 1
                }
                while let last = bytes.last, last == 0x20 { bytes.removeLast() }
                if bytes.count == 4 && String(decoding: bytes, as: UTF8.self).uppercased() == "NULL" {
                    out.append(Canonical.Tag.null.rawValue)
                } else {
                    bytes.withUnsafeBufferPointer { Canonical.append(utf8: $0, element, to: &out) }
                }
            }
            count += 1
            skip()
            guard i < u.count else { return false }
            if u[i] == 0x2C { i += 1; continue }
            if u[i] == 0x7D {
                i += 1
                out[countAt] = UInt8(truncatingIfNeeded: count >> 24)
                out[countAt + 1] = UInt8(truncatingIfNeeded: count >> 16)
                out[countAt + 2] = UInt8(truncatingIfNeeded: count >> 8)
                out[countAt + 3] = UInt8(truncatingIfNeeded: count)
                return true
            }
            return false
        }
        return false
    }

    mutating func skip() { while i < u.count && (u[i] == 0x20 || u[i] == 0x0A || u[i] == 0x09) { i += 1 } }
}
