import Foundation

/// How a column's values compare, derived from its type in the target's catalog. Both sides are
/// reduced to the same typed canonical bytes: the source side from the mapping's output (the
/// target's text input format), the target side from the server's text output.
public indirect enum ValueKind: Sendable, Equatable, CustomStringConvertible {
    case text          // text, varchar, name, enum labels: the exact bytes
    case bpchar        // char(n): trailing blanks are not significant
    case integer       // int2, int4, int8, oid: by value
    case numeric       // numeric: by value (12.50 = 12.5), NaN and ±Infinity distinct
    case float         // float4, float8: by IEEE value (-0 distinct from 0, one NaN)
    case bool
    case uuid          // the 16 bytes
    case timestamp     // timestamp[tz]: UTC microseconds (a text without zone is UTC)
    case date          // days
    case json          // json, jsonb: parsed; object keys sorted, duplicates last-wins, numbers by value
    case inet          // inet, cidr: family, address bytes, prefix length
    case array(ValueKind)
    /// Not compared: every value, NULL included, encodes to the same one byte. For a column that
    /// after cutover belongs to the target's own system (`LoadSpec.targetOwnedColumns`).
    case ignored

    public init(typeName: String, category: String, elementTypeName: String) {
        if category == "A" {
            self = .array(ValueKind(typeName: elementTypeName, category: "", elementTypeName: ""))
            return
        }
        switch typeName {
        case "int2", "int4", "int8", "oid": self = .integer
        case "numeric": self = .numeric
        case "float4", "float8": self = .float
        case "bool": self = .bool
        case "uuid": self = .uuid
        case "timestamptz", "timestamp": self = .timestamp
        case "date": self = .date
        case "json", "jsonb": self = .json
        case "inet", "cidr": self = .inet
        case "bpchar": self = .bpchar
        default: self = .text
        }
    }

    public var description: String {
        switch self {
        case .text: "text"
        case .bpchar: "bpchar"
        case .integer: "integer"
        case .numeric: "numeric"
        case .float: "float"
        case .bool: "bool"
        case .uuid: "uuid"
        case .timestamp: "timestamp"
        case .date: "date"
        case .json: "json"
        case .inet: "inet"
        case .array(let e): "\(e)[]"
        case .ignored: "ignored"
        }
    }
}
