import Foundation

/// A settings file in a strict subset of YAML: nested maps of `key: value` lines indented with
/// spaces, `#` comments, plain, 'single' or "double" quoted scalars. Every key is checked
/// against a schema: an unknown key or a value of the wrong type is an error that names the
/// file, the line and the key, and says what is allowed.
public struct SettingsFile: Sendable {
    public indirect enum Kind: Sendable {
        case string, number, bool
        case map([String: Kind])
        /// Any key, each with a string value (e.g. hook names → commands).
        case stringMap
    }

    public enum Value: Sendable, Equatable {
        case string(String), number(Double), bool(Bool)
        public var string: String? { if case .string(let s) = self { s } else { nil } }
        public var number: Double? { if case .number(let n) = self { n } else { nil } }
        public var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
    }

    public let path: String
    /// Dotted key → value, e.g. `thresholds.login_failure_pct`.
    public let values: [String: Value]

    public subscript(_ key: String) -> Value? { values[key] }

    /// Values under `prefix.` (for string maps).
    public func children(of prefix: String) -> [String: Value] {
        var out: [String: Value] = [:]
        for (k, v) in values where k.hasPrefix(prefix + ".") { out[String(k.dropFirst(prefix.count + 1))] = v }
        return out
    }

    public static func load(path: String, schema: [String: Kind]) throws -> SettingsFile {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw MigrationError(.configuration, "cannot read the settings file \(path). Check the path given to --config, or remove the file to use the defaults.")
        }
        return try parse(text, path: path, schema: schema)
    }

    public static func parse(_ text: String, path: String, schema: [String: Kind]) throws -> SettingsFile {
        func fail(_ line: Int, _ message: String) -> MigrationError {
            MigrationError(.configuration, "\(path) line \(line): \(message)")
        }
        var values: [String: Value] = [:]
        // The open maps: (indent, dotted prefix, schema of their children).
        var stack: [(indent: Int, prefix: String, kind: Kind)] = [(-1, "", .map(schema))]
        var pendingMap: (line: Int, indent: Int, key: String, kind: Kind)?
        for (n, rawLine) in text.components(separatedBy: "\n").enumerated() {
            let lineNo = n + 1
            var line = rawLine
            if line.hasSuffix("\r") { line.removeLast() }
            if line.contains("\t") && line.prefix(while: { $0 == " " || $0 == "\t" }).contains("\t") {
                throw fail(lineNo, "indent with spaces, not tabs")
            }
            let stripped = stripComment(line)
            if stripped.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            let indent = stripped.prefix(while: { $0 == " " }).count
            let content = stripped.trimmingCharacters(in: .whitespaces)
            if content.hasPrefix("- ") || content == "-" { throw fail(lineNo, "lists are not supported here") }
            if content == "---" { continue }
            if let p = pendingMap {
                guard indent > p.indent else { throw fail(p.line, "\(p.key) needs nested settings, indented below it") }
                stack.append((indent, p.key, p.kind))
                pendingMap = nil
            }
            while let top = stack.last, top.indent > indent, stack.count > 1 { stack.removeLast() }
            guard let top = stack.last else { throw fail(lineNo, "bad indentation") }
            if stack.count > 1 && indent != top.indent { throw fail(lineNo, "inconsistent indentation") }
            if stack.count == 1 && indent != 0 { throw fail(lineNo, "top-level keys start in the first column") }
            guard let colon = keyColon(content) else { throw fail(lineNo, "expected `key: value`, found \(content)") }
            var key = String(content[..<colon]).trimmingCharacters(in: .whitespaces)
            if key.count >= 2, let q = key.first, (q == "\"" || q == "'"), key.last == q { key = String(key.dropFirst().dropLast()) }
            let rest = String(content[content.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            let dotted = top.prefix.isEmpty ? key : top.prefix + "." + key
            let kind: Kind
            switch top.kind {
            case .map(let children):
                guard let k = children[key] else {
                    let known = children.keys.sorted().map { top.prefix.isEmpty ? $0 : top.prefix + "." + $0 }.joined(separator: ", ")
                    throw fail(lineNo, "unknown key \(dotted). Known keys here: \(known).")
                }
                kind = k
            case .stringMap:
                kind = .string
            default:
                throw fail(lineNo, "\(top.prefix) takes a value, not nested keys")
            }
            if values[dotted] != nil { throw fail(lineNo, "\(dotted) is given twice") }
            if rest.isEmpty {
                switch kind {
                case .map, .stringMap: pendingMap = (lineNo, indent, dotted, kind)
                default: throw fail(lineNo, "\(dotted) needs a value")
                }
                continue
            }
            let scalar = try unquote(rest, lineNo, fail)
            switch kind {
            case .string:
                values[dotted] = .string(scalar.text)
            case .number:
                guard !scalar.quoted, let d = Double(scalar.text), d.isFinite else { throw fail(lineNo, "\(dotted) must be a number, found \(rest)") }
                values[dotted] = .number(d)
            case .bool:
                switch scalar.quoted ? "" : scalar.text.lowercased() {
                case "true", "yes", "on": values[dotted] = .bool(true)
                case "false", "no", "off": values[dotted] = .bool(false)
                default: throw fail(lineNo, "\(dotted) must be true or false, found \(rest)")
                }
            case .map, .stringMap:
                throw fail(lineNo, "\(dotted) takes nested keys, not a value")
            }
        }
        if let p = pendingMap { throw fail(p.line, "\(p.key) needs nested settings, indented below it") }
        return SettingsFile(path: path, values: values)
    }

    /// The line without a trailing `# comment` (outside quotes).
    static func stripComment(_ line: String) -> String {
        var quote: Character?
        var previous: Character = " "
        for (i, c) in zip(line.indices, line) {
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "#" && (previous == " " || i == line.startIndex) {
                return String(line[..<i])
            }
            previous = c
        }
        return line
    }

    /// The colon that ends the key (outside quotes, followed by a space or the end).
    static func keyColon(_ s: String) -> String.Index? {
        var quote: Character?
        var i = s.startIndex
        while i < s.endIndex {
            let c = s[i]
            if let q = quote { if c == q { quote = nil } } else if c == "\"" || c == "'" { quote = c } else if c == ":" {
                let next = s.index(after: i)
                if next == s.endIndex || s[next] == " " { return i }
            }
            i = s.index(after: i)
        }
        return nil
    }

    static func unquote(_ s: String, _ line: Int, _ fail: (Int, String) -> MigrationError) throws -> (text: String, quoted: Bool) {
        guard let q = s.first, q == "\"" || q == "'" else { return (s, false) }
        guard s.count >= 2, s.last == q else { throw fail(line, "unterminated quote in \(s)") }
        var inner = String(s.dropFirst().dropLast())
        if q == "'" {
            inner = inner.replacingOccurrences(of: "''", with: "'")
        } else {
            inner = inner.replacingOccurrences(of: "\\\"", with: "\"").replacingOccurrences(of: "\\n", with: "\n").replacingOccurrences(of: "\\\\", with: "\\")
        }
        return (inner, true)
    }
}
