import Foundation
import MigrationEngine

#if canImport(Glibc)
import Glibc
#endif

/// Every value rule of docs/mapping.md, once. The load specs (migrate), verification, change
/// assessment and reverse sync all call these: there is no second copy of a rule.
public enum CocoaTrackRules {
    public static let namespace = UUIDv5Namespace("4b6f0c3e-2a1d-4c8e-9f57-3d2e1a0b9c8d")!
    public static let authInstanceID = "00000000-0000-0000-0000-000000000000"
    public static let appMetaData = "{\"provider\":\"email\",\"providers\":[\"email\"]}"

    /// An email identity's `identity_data`, as GoTrue's admin API writes it for a confirmed user.
    public static func identityData(user: String, email: String) -> String {
        "{\"sub\": \(jsonString(user)), \"email\": \(jsonString(email)), \"email_verified\": true, \"phone_verified\": false}"
    }

    /// Ids: uuid5 of "<v1 table>:<v1 id>".
    public static func uuid(_ table: String, _ id: String) -> String {
        namespace.uuid(table + ":" + id)
    }

    /// V1 naive UTC → the same instant as timestamptz input. Every session of the tool runs
    /// with TimeZone UTC (see `ConnectionConfig`), so the naive text already names that instant.
    @inline(__always)
    public static func timestamptz(_ v1: String?) -> String? {
        v1
    }

    /// A NULL `updated_at` becomes `created_at`.
    public static func updatedAt(_ updated: String?, created: String?) -> String? {
        timestamptz(updated ?? created)
    }

    // MARK: reverse rules (V2 → V1), each next to its forward rule's meaning

    /// timestamptz as printed by a UTC session → V1's naive UTC text; nil for another zone.
    public static func naiveUTC(_ v2: String?) -> String?? {
        guard let v2 else { return .some(nil) }
        if v2 == "infinity" || v2 == "-infinity" { return .some(v2) }
        guard v2.hasSuffix("+00") else { return nil }
        return .some(String(v2.dropLast(3)))
    }

    /// The latest of some timestamps as a UTC session prints them (NULLs ignored; nil when all are).
    public static func latest(_ values: [String?]) -> String? {
        func rank(_ t: String) -> (Int, Int, String) {
            if t == "-infinity" { return (0, 0, "") }
            if t == "infinity" { return (3, 0, "") }
            let year = t.prefix { $0.isNumber }.count
            return t.hasSuffix(" BC") ? (1, -year, t) : (2, year, t)
        }
        var best: String?
        for case let v? in values {
            guard let b = best else { best = v; continue }
            let (x, y) = (rank(v), rank(b))
            if x.0 != y.0 ? x.0 > y.0 : x.1 != y.1 ? x.1 > y.1 : (x.0 == 1 ? x.2 < y.2 : x.2 > y.2) { best = v }
        }
        return best
    }

    /// Roles back: `field_agent` → `agent`.
    public static func roleV1(_ v2: String) -> String { v2 == "field_agent" ? "agent" : v2 }

    /// Grades back: `grade_b` → `B`.
    public static func gradeV1(_ v2: String?) -> String? {
        guard let v2 else { return nil }
        return gradeMap.first { $0.value == v2 }?.key
    }

    /// Certifications back: a comma list (`{}` → NULL).
    public static func certificationsV1(_ elements: [String?]) -> String? {
        let items = elements.compactMap { $0 }
        return items.isEmpty ? nil : items.joined(separator: ", ")
    }

    /// XOF amounts back to integers; nil when fractional (no faithful V1 form).
    public static func integerAmount(_ v2: String?) -> String?? {
        guard let v2 else { return .some(nil) }
        var t = Substring(v2)
        if let dot = t.firstIndex(of: ".") {
            guard t[t.index(after: dot)...].allSatisfy({ $0 == "0" }) else { return nil }
            t = t[..<dot]
        }
        guard Int64(t) != nil else { return nil }
        return .some(String(t))
    }

    /// Storage paths back to the V1 blob URL (the account is a setting).
    public static func blobURL(_ storagePath: String, account: String) -> String? {
        let prefix = "delivery-photos/"
        guard storagePath.hasPrefix(prefix), storagePath.count > prefix.count else { return nil }
        return "https://\(account).blob.core.windows.net/photos/" + storagePath.dropFirst(prefix.count)
    }

    /// Audit jsonb back to text: `{"_unparsed": "<text>"}` gives that text, anything else its JSON.
    public static func auditTextV1(_ v2: String?) -> String? {
        guard let v2 else { return nil }
        if let data = v2.data(using: .utf8), let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           obj.count == 1, let text = obj["_unparsed"] as? String {
            return text
        }
        return v2
    }

    /// Phones: strip spaces, dots, dashes, parentheses; `+225`+10 digits, `00225`+10 digits or
    /// 10 digits starting with 0 → `+225` and the 10 digits. Anything else → invalid (NULL).
    public static func phone(_ raw: String?) -> (value: String?, invalid: Bool) {
        guard let raw else { return (nil, false) }
        var digits: [UInt8] = []
        digits.reserveCapacity(16)
        var plus = false
        for (k, b) in raw.utf8.enumerated() {
            switch b {
            case 0x20, 0x2E, 0x2D, 0x28, 0x29: continue           // space . - ( )
            case 0x2B where k == 0 || (digits.isEmpty && !plus): plus = true  // leading +
            case 0x30...0x39: digits.append(b)
            default: return (nil, true)
            }
        }
        let d = String(decoding: digits, as: UTF8.self)
        if plus {
            if digits.count == 13, d.hasPrefix("225") { return ("+" + d, false) }
            return (nil, true)
        }
        if digits.count == 15, d.hasPrefix("00225") { return ("+" + d.dropFirst(2), false) }
        if digits.count == 10, digits[0] == 0x30 { return ("+225" + d, false) }
        return (nil, true)
    }

    /// Emails: trim and lowercase.
    public static func email(_ raw: String) -> String {
        raw.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }

    /// Whether an integer text (a V1 `integer` or `bigint`) fits V2's `numeric(precision, scale)`,
    /// which holds fewer than 10^(precision - scale) in absolute value.
    public static func fitsNumeric(_ integer: String, precision: Int, scale: Int) -> Bool {
        let digits = integer.utf8.drop { $0 == 0x2D || $0 == 0x2B }.drop { $0 == 0x30 }
        return digits.count <= precision - scale
    }

    /// V2's `auth.users.email` is `varchar(255)`: characters, counted after trimming and lowercasing
    /// (which can lengthen a text, e.g. `İ` → `i̇`).
    public static let maxEmailLength = 255

    /// Roles: `agent` → `field_agent`; the others keep their names; anything else is not a role.
    public static func role(_ v1: String) -> String? {
        switch v1 {
        case "agent": return "field_agent"
        case "admin", "manager", "viewer": return v1
        default: return nil
        }
    }

    public static let gradeMap = ["A": "grade_a", "B": "grade_b", "C": "grade_c", "REJ": "rejected"]
    public static let invoiceStatuses: Set<String> = ["draft", "sent", "paid", "cancelled"]

    /// Certifications: split on commas, trim, lowercase, drop empties, keep first-seen order,
    /// drop repeats. NULL or empty → [].
    public static func certifications(_ v1: String?) -> [String] {
        guard let v1 else { return [] }
        // Split on the comma scalar and compare bytes, as PostgreSQL does: a `Character` split
        // misses a comma followed by a combining mark (one grapheme), and `String` equality
        // would merge canonically equivalent but different texts.
        var seen = Set<[UInt8]>()
        var out: [String] = []
        for part in v1.unicodeScalars.split(separator: ",", omittingEmptySubsequences: false) {
            let c = String(String.UnicodeScalarView(part)).trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
            if c.isEmpty || !seen.insert(Array(c.utf8)).inserted { continue }
            out.append(c)
        }
        return out
    }

    /// A PostgreSQL array literal of text elements, every element quoted.
    public static func textArrayLiteral(_ items: [String]) -> String {
        "{" + items.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
            .joined(separator: ",") + "}"
    }

    /// Photos: `https://<account>.blob.core.windows.net/photos/<path>` → `delivery-photos/<path>`.
    public static func storagePath(_ url: String) -> String? {
        let u = url.utf8
        let prefix = "https://".utf8
        guard u.starts(with: prefix) else { return nil }
        let rest = u.dropFirst(prefix.count)
        guard let slash = rest.firstIndex(of: 0x2F) else { return nil }
        let host = rest[..<slash]
        let suffix = ".blob.core.windows.net".utf8
        guard host.count > suffix.count, host.suffix(suffix.count).elementsEqual(suffix) else { return nil }
        let account = host.dropLast(suffix.count)
        guard account.allSatisfy({ (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) }) else { return nil }
        let path = rest[rest.index(after: slash)...]
        let photos = "photos/".utf8
        guard path.starts(with: photos), path.count > photos.count else { return nil }
        return "delivery-photos/" + String(decoding: path.dropFirst(photos.count), as: UTF8.self)
    }

    /// A JSON string literal for `s`.
    public static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }

    /// Audit JSON: valid JSON (as PostgreSQL's jsonb reads it) is kept; anything else becomes
    /// `{"_unparsed": "<original text>"}` (invalid = true).
    public static func auditJSON(_ text: String?) -> (value: String?, invalid: Bool) {
        guard let text else { return (nil, false) }
        if JSONReader.isValid(text) { return (text, false) }
        return ("{\"_unparsed\": \(jsonString(text))}", true)
    }

    /// IP addresses as PostgreSQL's `inet` reads them: IPv4 dotted quad or IPv6, with an
    /// optional /prefix.
    public static func isValidInet(_ text: String) -> Bool {
        let u = Array(text.utf8)
        var end = u.count
        var bits: Int?
        if let slash = u.firstIndex(of: 0x2F) {
            let b = u[(slash + 1)...]
            guard !b.isEmpty, b.count <= 3, b.allSatisfy({ (0x30...0x39).contains($0) }) else { return false }
            bits = b.reduce(0) { $0 * 10 + Int($1 - 0x30) }
            end = slash
        }
        let addr = u[..<end]
        if !addr.contains(0x3A) {
            var parts = 0, value = 0, len = 0
            for b in addr {
                if b == 0x2E {
                    guard len > 0, value <= 255 else { return false }
                    parts += 1; value = 0; len = 0
                } else if (0x30...0x39).contains(b) {
                    len += 1
                    guard len <= 3 else { return false }
                    value = value * 10 + Int(b - 0x30)
                } else {
                    return false
                }
            }
            guard len > 0, value <= 255, parts == 3 else { return false }
            return (bits ?? 32) <= 32
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, String(decoding: addr, as: UTF8.self), &v6) == 1 else { return false }
        return (bits ?? 128) <= 128
    }

    /// A positive numeric text (`weight_kg > 0`), decided on its digits: no sign, some non-zero digit.
    public static func isPositiveNumeric(_ text: String) -> Bool {
        var nonZero = false
        for b in text.utf8 {
            switch b {
            case 0x31...0x39: nonZero = true
            case 0x30, 0x2E: continue
            default: return false
            }
        }
        return nonZero
    }

    public static func ipAddress(_ raw: String?) -> (value: String?, invalid: Bool) {
        guard let raw else { return (nil, false) }
        return isValidInet(raw) ? (raw, false) : (nil, true)
    }
}

/// The uuid5 ids of one V1 table, computed once for every id up to a bound (small parent
/// tables are referenced millions of times); larger ids are computed on demand.
public struct UUIDTable: Sendable {
    public let table: String
    let ids: [String]
    /// Rows created in V2 after cutover and synced back have their V2 uuid, not a uuid5.
    let pairs: KeyPairs

    public init(table: String, maxID: Int, pairs: KeyPairs = KeyPairs()) {
        self.table = table
        self.pairs = pairs
        ids = maxID <= 0 ? [] : (0...maxID).map { CocoaTrackRules.uuid(table, String($0)) }
    }

    public func callAsFunction(_ id: String) -> String {
        if !pairs.isEmpty, let n = Int64(id), let paired = pairs.key(table, n) { return paired }
        if let n = Int(id), n >= 0, n < ids.count { return ids[n] }
        return CocoaTrackRules.uuid(table, id)
    }
}
