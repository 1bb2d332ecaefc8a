/// Builds rows in PostgreSQL's COPY text format straight into bytes: fields separated by tabs,
/// `\N` for NULL, and backslash, tab, newline and carriage return escaped, so any text (tabs,
/// newlines, backslashes, a literal `\N`, emoji) round-trips exactly.
public struct CopyRow {
    public var bytes: [UInt8] = []
    private var first = true

    public init() { bytes.reserveCapacity(512) }

    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        first = true
    }

    /// Starts another row after the previous `endRow()`, keeping the bytes written so far
    /// (one buffer for a whole batch).
    public mutating func newRow() {
        first = true
    }

    @inline(__always) private mutating func separator() {
        if first { first = false } else { bytes.append(0x09) }
    }

    public mutating func null() {
        separator()
        bytes.append(0x5C)
        bytes.append(0x4E)
    }

    public mutating func text(_ value: String?) {
        guard let value else { return null() }
        separator()
        var v = value
        v.withUTF8 { buf in
            // Fast path: most values need no escaping and are copied in one go.
            var clean = true
            for b in buf where b == 0x5C || b == 0x09 || b == 0x0A || b == 0x0D {
                clean = false
                break
            }
            if clean {
                bytes.append(contentsOf: buf)
                return
            }
            for b in buf {
                switch b {
                case 0x5C: bytes.append(0x5C); bytes.append(0x5C)
                case 0x09: bytes.append(0x5C); bytes.append(0x74)
                case 0x0A: bytes.append(0x5C); bytes.append(0x6E)
                case 0x0D: bytes.append(0x5C); bytes.append(0x72)
                default: bytes.append(b)
                }
            }
        }
    }

    /// A value known to need no escaping (numbers, dates, codes).
    public mutating func raw(_ value: String) {
        separator()
        var v = value
        v.withUTF8 { bytes.append(contentsOf: $0) }
    }

    public mutating func int<I: BinaryInteger>(_ value: I?) {
        guard let value else { return null() }
        separator()
        appendInteger(Int64(value))
    }

    public mutating func bool(_ value: Bool?) {
        guard let value else { return null() }
        separator()
        bytes.append(value ? 0x74 : 0x66)
    }

    /// A fixed-point decimal: `units` in 10^-scale, e.g. (12345, 2) → "123.45".
    public mutating func decimal(_ units: Int64?, scale: Int) {
        guard let units else { return null() }
        separator()
        var u = units
        if u < 0 { bytes.append(0x2D); u = -u }
        var p: Int64 = 1
        for _ in 0..<scale { p *= 10 }
        appendInteger(u / p)
        if scale > 0 {
            bytes.append(0x2E)
            var frac = u % p
            var digits = [UInt8](repeating: 0x30, count: scale)
            for i in stride(from: scale - 1, through: 0, by: -1) {
                digits[i] = 0x30 + UInt8(frac % 10)
                frac /= 10
            }
            bytes.append(contentsOf: digits)
        }
    }

    public mutating func double(_ value: Double?) {
        guard let value else { return null() }
        raw("\(value)")
    }

    /// A date from days since 1970-01-01.
    public mutating func date(days: Int) {
        separator()
        appendDate(days)
    }

    /// A timestamp without time zone from microseconds since 1970-01-01 00:00:00.
    public mutating func timestamp(micros: Int64?) {
        guard let micros else { return null() }
        separator()
        let secondsTotal = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let us = micros - secondsTotal * 1_000_000
        let days = Int(secondsTotal >= 0 ? secondsTotal / 86_400 : (secondsTotal - 86_399) / 86_400)
        let sod = Int(secondsTotal - Int64(days) * 86_400)
        appendDate(days)
        bytes.append(0x20)
        append2(sod / 3600)
        bytes.append(0x3A)
        append2((sod / 60) % 60)
        bytes.append(0x3A)
        append2(sod % 60)
        if us != 0 {
            bytes.append(0x2E)
            var f = Int(us)
            var digits = [UInt8](repeating: 0x30, count: 6)
            for i in stride(from: 5, through: 0, by: -1) {
                digits[i] = 0x30 + UInt8(f % 10)
                f /= 10
            }
            bytes.append(contentsOf: digits)
        }
    }

    public mutating func endRow() {
        bytes.append(0x0A)
    }

    @inline(__always) private mutating func append2(_ v: Int) {
        bytes.append(0x30 + UInt8(v / 10))
        bytes.append(0x30 + UInt8(v % 10))
    }

    private mutating func appendDate(_ days: Int) {
        let (y, m, d) = CivilDate.fromDays(days)
        var yy = y
        var ydigits = [UInt8](repeating: 0x30, count: 4)
        for i in stride(from: 3, through: 0, by: -1) {
            ydigits[i] = 0x30 + UInt8(yy % 10)
            yy /= 10
        }
        bytes.append(contentsOf: ydigits)
        bytes.append(0x2D)
        append2(m)
        bytes.append(0x2D)
        append2(d)
    }

    private mutating func appendInteger(_ value: Int64) {
        if value == 0 { bytes.append(0x30); return }
        var v = value
        if v < 0 {
            bytes.append(0x2D)
            if v == Int64.min { bytes.append(contentsOf: Array("9223372036854775808".utf8)); return }
            v = -v
        }
        var tmp: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                  UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &tmp) { p in
            while v > 0 {
                p[n] = 0x30 + UInt8(v % 10)
                v /= 10
                n += 1
            }
            for i in stride(from: n - 1, through: 0, by: -1) { bytes.append(p[i]) }
        }
    }
}

/// Proleptic Gregorian calendar arithmetic on day numbers (days since 1970-01-01).
public enum CivilDate {
    /// Howard Hinnant's `civil_from_days`.
    public static func fromDays(_ z0: Int) -> (year: Int, month: Int, day: Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    /// `days_from_civil`.
    public static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
