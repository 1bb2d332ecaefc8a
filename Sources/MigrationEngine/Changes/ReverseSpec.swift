import PGClient
import Foundation
import Synchronization

/// Source ids paired with target keys for rows that did not come from the forward key rule:
/// rows created in the target after cutover and carried back by `sync-v2-to-v1`, which got new
/// source ids. The mapping consults these before deriving a key, so that a synced row maps to
/// the key it already has in the target.
public final class KeyPairs: Sendable {
    private struct State {
        var byID: [String: [Int64: String]] = [:]
        var byKey: [String: [String: Int64]] = [:]
    }
    private let state = Mutex(State())
    private let count = Atomic<Int>(0)

    public init() {}

    @inline(__always) public var isEmpty: Bool { count.load(ordering: .acquiring) == 0 }

    public func add(table: String, id: Int64, key: String) {
        state.withLock {
            $0.byID[table, default: [:]][id] = key
            $0.byKey[table, default: [:]][key] = id
        }
        count.add(1, ordering: .releasing)
    }

    public func remove(table: String, id: Int64) {
        let removed = state.withLock { s -> Bool in
            guard let key = s.byID[table]?.removeValue(forKey: id) else { return false }
            s.byKey[table]?.removeValue(forKey: key)
            return true
        }
        if removed { count.subtract(1, ordering: .releasing) }
    }

    public func key(_ table: String, _ id: Int64) -> String? {
        state.withLock { $0.byID[table]?[id] }
    }

    public func id(_ table: String, _ key: String) -> Int64? {
        state.withLock { $0.byKey[table]?[key] }
    }

    public var all: [(table: String, id: Int64, key: String)] {
        state.withLock { s in s.byID.flatMap { t, m in m.map { (t, $0.key, $0.value) } } }
    }
}

/// How target rows go back to one source table (the reverse mapping of docs/mapping.md), supplied by
/// the application module next to its load specs. The engine checks every result by running the
/// forward mapping on it: a change is written back only when it maps forward to exactly the
/// target rows it came from.
public struct ReverseSpec: Sendable {
    /// The source table rows are written back to.
    public var source: TableName
    /// The loads whose target rows, sharing one key, make up one source row; the first is primary.
    public var loads: [String]
    /// Loads whose target rows are derived from the primary's by the target's own system (e.g. a
    /// user's identity in Supabase Auth): their changes join the group and rewrite the source
    /// columns `columnSources` names, but a row of theirs is not required, and it is checked
    /// against the forward mapping only for source rows that came from the source (for a row
    /// created in the target, the target system made it, not the mapping).
    public var derivedLoads: [String]
    /// Per load: target column → the source columns that an update of it rewrites.
    public var columnSources: [String: [String: [String]]]

    /// Target rows by load (values in the load's `targetColumns` order, as the server prints
    /// them) → source values in the primary load's `sourceColumns` order (the id, first, is set
    /// by the engine). `resolve(table, key)` gives the source id of a target key. Returns nil
    /// after recording a conflict in `issues`.
    /// All loads whose changes make up one source row: the required ones, then the derived.
    public var allLoads: [String] { loads + derivedLoads }

    public var transform: @Sendable (_ rows: [String: [String?]], _ resolve: (String, String) -> Int64?, _ issues: inout RowIssues) -> [String?]?

    public init(source: TableName, loads: [String], derivedLoads: [String] = [], columnSources: [String: [String: [String]]],
                transform: @escaping @Sendable (_ rows: [String: [String?]], _ resolve: (String, String) -> Int64?, _ issues: inout RowIssues) -> [String?]?) {
        self.source = source
        self.loads = loads
        self.derivedLoads = derivedLoads
        self.columnSources = columnSources
        self.transform = transform
    }
}

/// PostgreSQL's text output of a one-dimensional array → its elements (nil for NULL).
public enum PGTextArray {
    public static func parse(_ text: String) -> [String?]? {
        let u = Array(text.utf8)
        guard u.first == 0x7B, u.last == 0x7D else { return nil }
        var out: [String?] = []
        var i = 1
        if u.count == 2 { return [] }
        while i < u.count - 1 {
            var bytes: [UInt8] = []
            var quoted = false
            if u[i] == 0x22 {
                quoted = true
                i += 1
                while i < u.count && u[i] != 0x22 {
                    if u[i] == 0x5C && i + 1 < u.count { i += 1 }
                    bytes.append(u[i])
                    i += 1
                }
                i += 1
            } else {
                while i < u.count - 1 && u[i] != 0x2C {
                    bytes.append(u[i])
                    i += 1
                }
            }
            let s = String(decoding: bytes, as: UTF8.self)
            out.append(!quoted && s.uppercased() == "NULL" ? nil : s)
            if i < u.count - 1 && u[i] == 0x2C { i += 1 }
        }
        return out
    }
}
