import PGClient
import Foundation

/// The one JSON form of every report and record the tool writes (`report.json`, `--json`,
/// journal evidence): snake_case keys, sorted, slashes unescaped, secrets redacted.
public enum ReportJSON {
    /// `value` as JSON text; `{}` when it cannot be encoded. `nonFinite` writes infinities and
    /// NaN as strings (a ratio over zero rows) instead of failing the whole encoding.
    public static func encode<T: Encodable>(_ value: T, pretty: Bool = true, redact: Bool = true, nonFinite: Bool = false,
                                            escapeSlashes: Bool = false) -> String {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        var format: JSONEncoder.OutputFormatting = [.sortedKeys]
        if pretty { format.insert(.prettyPrinted) }
        if !escapeSlashes { format.insert(.withoutEscapingSlashes) }
        e.outputFormatting = format
        if nonFinite {
            e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        }
        let text = String(decoding: (try? e.encode(value)) ?? Data("{}".utf8), as: UTF8.self)
        return redact ? Redactor.redact(text) : text
    }

    /// Reads what `encode` wrote.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return try d.decode(type, from: data)
    }
}
