import PGClient
import Foundation

/// The forms every time-like flag takes, parsed once here so that a value that is not a time is
/// refused (exit 2) before anything runs, and nothing of what was typed reaches a query as text.
public enum TimeFlag {
    /// An instant in ISO 8601 with its zone: `2026-12-05T02:00Z`, `2026-12-05T02:00:00Z`,
    /// `2026-12-05T02:00:00.250Z`, `2026-12-05T03:00:00+01:00`, a space allowed for the `T`.
    /// nil for anything else (no zone, a date alone, trailing text, an impossible date).
    public static func instant(_ text: String) -> Date? {
        let s = text.count > 10 && text[text.index(text.startIndex, offsetBy: 10)] == " "
            ? String(text.prefix(10)) + "T" + String(text.dropFirst(11)) : text
        let shape = #/^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|([+-])(\d{2}):?(\d{2}))$/#
        guard let m = s.wholeMatch(of: shape) else { return nil }
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        var offset = 0
        if let sign = m.output.9, let hh = m.output.10.flatMap({ Int($0) }), let mm = m.output.11.flatMap({ Int($0) }) {
            guard hh <= 23, mm <= 59 else { return nil }
            offset = (sign == "-" ? -1 : 1) * (hh * 3600 + mm * 60)
        }
        let c = DateComponents(calendar: utc, timeZone: utc.timeZone, year: Int(m.output.1), month: Int(m.output.2), day: Int(m.output.3),
                               hour: Int(m.output.4), minute: Int(m.output.5), second: m.output.6.flatMap { Int($0) } ?? 0)
        guard let hour = c.hour, hour <= 23, let minute = c.minute, minute <= 59, let second = c.second, second <= 59,
              c.isValidDate, let date = utc.date(from: c) else { return nil }
        let fraction = m.output.7.flatMap { Double("0" + $0) } ?? 0
        return date.addingTimeInterval(fraction - Double(offset))
    }

    /// A duration in seconds: a positive finite number with a unit `s`, `m`, `h` or `d` (`90s`,
    /// `30m`, `1.5h`, `3d`), or a bare number of seconds. nil for anything else, zero, negative,
    /// NaN or infinite.
    public static func duration(_ text: String) -> Double? {
        let s = text.trimmingCharacters(in: .whitespaces)
        guard s.wholeMatch(of: #/^\d+(\.\d+)?[smhd]?$/#) != nil else { return nil }
        var number = Substring(s)
        var factor = 1.0
        if let unit = s.last, !unit.isNumber {
            number = s.dropLast()
            factor = ["s": 1, "m": 60, "h": 3600, "d": 86_400][unit] ?? 1
        }
        guard let n = Double(number), n.isFinite, n > 0 else { return nil }
        let v = n * factor
        return v.isFinite ? v : nil
    }

    /// A number of seconds or hours given as a plain number flag: finite and above zero.
    public static func positive(_ value: Double) -> Bool { value.isFinite && value > 0 }

    /// A time as PostgreSQL prints it in UTC (`2026-12-03 11:27:20.065297+00`) as a person reads it
    /// in a line of output: `2026-12-03T11:27:20Z`. Any other text is returned as it is.
    public static func shown(_ pgTime: String) -> String {
        guard pgTime.hasSuffix("+00"), pgTime.count >= 19 else { return pgTime }
        return String(pgTime.prefix(19)).replacingOccurrences(of: " ", with: "T") + "Z"
    }
}
