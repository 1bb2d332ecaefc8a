import PGClient
import Foundation
import Yams

/// The settings file, read as YAML by Yams (libyaml): composed to nodes, which keep their line
/// numbers, then checked against a schema on top. Any YAML works (CRLF line ends, comments,
/// anchors and aliases, `<<` merges, flow and block collections, quoted and block scalars,
/// `~`/`null` as null), and every key is checked: an unknown key, a value of the wrong type or a
/// key given twice is an error that names the file, the line and the key, and says what is allowed.
public struct SettingsFile: Sendable {
    public indirect enum Kind: Sendable {
        case string, number, bool
        case map([String: Kind])
        /// Any key, each with a string value (e.g. hook names → commands).
        case stringMap
        /// A list of strings, or a map of names to strings (e.g. health URLs).
        case strings
    }

    public enum Value: Sendable, Equatable {
        case string(String), number(Double), bool(Bool)
        public var string: String? { if case .string(let s) = self { s } else { nil } }
        public var number: Double? { if case .number(let n) = self { n } else { nil } }
        public var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
    }

    public let path: String
    /// Dotted key → value, e.g. `thresholds.login_failure_pct`. A key set to null is absent.
    /// A list's items are under their position: `monitor.health_urls.0`, `.1`, …
    public let values: [String: Value]

    public subscript(_ key: String) -> Value? { values[key] }

    /// Values under `prefix.` (for string maps and lists).
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
        func fail(_ line: Int?, _ message: String) -> MigrationError {
            MigrationError(.configuration, "\(path)\(line.map { " line \($0)" } ?? ""): \(message)")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let e as YamlError {
            throw yamlError(e, text: text, fail)
        }
        var values: [String: Value] = [:]
        guard let root else { return SettingsFile(path: path, values: values) }
        if isNull(root) { return SettingsFile(path: path, values: values) }
        try walk(root, kind: .map(schema), prefix: "", into: &values, fail)
        return SettingsFile(path: path, values: values)
    }

    // MARK: the schema over the nodes

    static func isNull(_ node: Node) -> Bool {
        guard case .scalar(let s) = node, s.style == .plain || s.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(s.string)
    }

    static func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let s): return s.style == .plain ? s.string : "\"\(s.string)\""
        case .mapping: return "nested keys"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    /// The pairs of a mapping with `<<` merges applied (explicit keys win, as YAML says).
    static func pairs(_ m: Node.Mapping, _ fail: (Int?, String) -> MigrationError) throws -> [(key: String, line: Int?, value: Node)] {
        var explicit: [(key: String, line: Int?, value: Node)] = []
        var merged: [(key: String, line: Int?, value: Node)] = []
        for (k, v) in m {
            guard case .scalar(let ks) = k else { throw fail(k.mark?.line, "a key must be a plain name, found \(describe(k))") }
            if ks.style == .plain && ks.string == "<<" {
                let sources: [Node]
                switch v {
                case .mapping: sources = [v]
                case .sequence(let seq): sources = Array(seq)
                default: throw fail(k.mark?.line, "`<<` merges a map (an alias such as *defaults), found \(describe(v))")
                }
                for source in sources {
                    guard case .mapping(let sm) = source else { throw fail(source.mark?.line, "`<<` merges maps only, found \(describe(source))") }
                    for p in try pairs(sm, fail) where !merged.contains(where: { $0.key == p.key }) { merged.append(p) }
                }
                continue
            }
            explicit.append((ks.string, k.mark?.line, v))
        }
        return explicit + merged.filter { m in !explicit.contains { $0.key == m.key } }
    }

    static func walk(_ node: Node, kind: Kind, prefix: String, into values: inout [String: Value], _ fail: (Int?, String) -> MigrationError) throws {
        let line = node.mark?.line
        let name = prefix.isEmpty ? "the settings file" : prefix
        func dotted(_ key: String) -> String { prefix.isEmpty ? key : prefix + "." + key }
        switch kind {
        case .map(let children):
            guard case .mapping(let m) = node else {
                if isNull(node) { throw fail(line, "\(name) needs nested settings, indented below it") }
                throw fail(line, prefix.isEmpty ? "the settings file must be a map of `key: value` settings, found \(describe(node))"
                                                : "\(prefix) takes nested keys, not \(describe(node))")
            }
            for p in try pairs(m, fail) {
                guard let k = children[p.key] else {
                    let known = children.keys.sorted().map(dotted).joined(separator: ", ")
                    throw fail(p.line, "unknown key \(dotted(p.key)). Known keys here: \(known).")
                }
                // A null value leaves a scalar setting unset; a map needs its keys.
                if isNull(p.value) {
                    switch k { case .map, .stringMap, .strings: break; default: continue }
                }
                try walk(p.value, kind: k, prefix: dotted(p.key), into: &values, fail)
            }
        case .stringMap, .strings:
            if case .sequence(let seq) = node, case .strings = kind {
                for (i, item) in seq.enumerated() {
                    guard case .scalar(let s) = item, !isNull(item) else { throw fail(item.mark?.line, "\(prefix)[\(i)] must be a string, found \(describe(item))") }
                    values[dotted(String(i))] = .string(s.string)
                }
                return
            }
            guard case .mapping(let m) = node else {
                if isNull(node) { throw fail(line, "\(name) needs nested settings, indented below it") }
                throw fail(line, "\(prefix) takes nested keys\(kind.isStrings ? " or a list" : ""), not \(describe(node))")
            }
            for p in try pairs(m, fail) {
                if isNull(p.value) { continue }
                guard case .scalar(let s) = p.value else { throw fail(p.value.mark?.line ?? p.line, "\(dotted(p.key)) must be a string, found \(describe(p.value))") }
                values[dotted(p.key)] = .string(s.string)
            }
        case .string:
            guard case .scalar(let s) = node else { throw fail(line, "\(prefix) must be a string, found \(describe(node))") }
            values[prefix] = .string(s.string)
        case .number:
            guard case .scalar(let s) = node, s.style == .plain, let d = Double(s.string.replacingOccurrences(of: "_", with: "")), d.isFinite else {
                throw fail(line, "\(prefix) must be a number, found \(describe(node))")
            }
            values[prefix] = .number(d)
        case .bool:
            guard case .scalar(let s) = node, s.style == .plain else { throw fail(line, "\(prefix) must be true or false, found \(describe(node))") }
            switch s.string.lowercased() {
            case "true", "yes", "on": values[prefix] = .bool(true)
            case "false", "no", "off": values[prefix] = .bool(false)
            default: throw fail(line, "\(prefix) must be true or false, found \(describe(node))")
            }
        }
    }

    // MARK: YAML errors, said with the line

    static func yamlError(_ e: YamlError, text: String, _ fail: (Int?, String) -> MigrationError) -> MigrationError {
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        switch e {
        case .duplicatedKeysInMapping(let duplicates, let context):
            let key = duplicates.first ?? "?"
            let first = context.mark.line
            let (second, path) = secondOccurrence(of: key, after: first, column: context.mark.column, in: lines)
            let name = (path + [key]).joined(separator: ".")
            return fail(second ?? first, "\(name) is given twice\(second != nil ? " (first at line \(first))" : ""). Keep one.")
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _), .composer(let context, let problem, let mark, _):
            let at = mark.line
            let lineText = at >= 1 && at <= lines.count ? String(lines[at - 1]) : ""
            let previous = at >= 2 && at - 2 < lines.count ? String(lines[at - 2]) : ""
            if lineText.prefix(while: { $0 == " " || $0 == "\t" }).contains("\t") || previous.prefix(while: { $0 == " " || $0 == "\t" }).contains("\t") {
                return fail(lineText.contains("\t") ? at : at - 1, "indent with spaces, not tabs (YAML: \(problem))")
            }
            if problem.contains("quoted scalar") || (context?.text ?? "").contains("quoted scalar") {
                return fail(context?.mark.line ?? at, "unterminated quote (YAML: \(problem))")
            }
            if problem.contains("mapping values are not allowed") {
                return fail(at, "a value cannot hold `: ` unquoted (as in `a: b: c`); quote the value (YAML: \(problem))")
            }
            return fail(at, "not valid YAML: \(problem)")
        case .reader(let problem, _, _, _):
            return fail(nil, "cannot be read as text: \(problem). Save it as UTF-8.")
        default:
            return fail(nil, "not valid YAML: \(e)")
        }
    }

    /// Where a duplicated block-mapping key appears again after `line` (at the same column, before
    /// the mapping ends), and the keys of the maps it sits in.
    static func secondOccurrence(of key: String, after line: Int, column: Int, in lines: [Substring]) -> (Int?, [String]) {
        func indent(_ l: Substring) -> Int { l.prefix(while: { $0 == " " }).count }
        func keyOf(_ l: Substring) -> String? {
            var t = l.drop(while: { $0 == " " })
            if t.hasPrefix("- ") { t = t.dropFirst(2) }
            guard let colon = t.firstRange(of: ":") else { return nil }
            var k = t[..<colon.lowerBound].trimmingCharacters(in: .whitespaces)
            if k.count >= 2, let q = k.first, q == "\"" || q == "'", k.last == q { k = String(k.dropFirst().dropLast()) }
            return k
        }
        func meaningful(_ l: Substring) -> Bool { let t = l.trimmingCharacters(in: .whitespaces); return !t.isEmpty && !t.hasPrefix("#") }
        var path: [String] = []
        var want = column - 1
        var i = line - 2
        while i >= 0, want > 0 {
            let l = lines[i]
            if meaningful(l), indent(l) < want, let k = keyOf(l) { path.insert(k, at: 0); want = indent(l) }
            i -= 1
        }
        var n = line
        while n < lines.count {
            let l = lines[n]
            if meaningful(l) {
                if indent(l) < column - 1 { break }
                if indent(l) == column - 1, keyOf(l) == key { return (n + 1, path) }
            }
            n += 1
        }
        return (nil, path)
    }
}

extension SettingsFile.Kind {
    var isStrings: Bool { if case .strings = self { true } else { false } }
}
