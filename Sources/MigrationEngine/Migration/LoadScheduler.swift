/// When each part of a migration's load runs, as a value-type state machine (events in, actions
/// out; no connection, no clock), so that its order is tested without a server.
///
/// A load goes through two stages: its rows are copied (committed), then its table's keys and
/// indexes are rebuilt. A load may start once every load it depends on has its rows committed:
/// a child needs its parents' rejected ids, which are known when their copy ends, not their
/// indexes (the foreign keys between them are set aside during the load). A rebuild starts as
/// soon as every load into its table has copied, beside the loads that are still copying. A
/// foreign key is restored (and validated) once both of its tables are rebuilt; one restore runs
/// at a time, and one that becomes possible while another runs follows it.
///
/// At most `jobs` loads copy at once; rebuilds and restores are server-side work on connections
/// of their own and do not take a slot. Ready loads start longest chain first: a load's weight is
/// its rows plus the heaviest chain of loads waiting on it.
public struct LoadScheduler: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        /// Copy this load's rows.
        case copy(String)
        /// Rebuild the keys and indexes of this load's table (its rows are committed).
        case rebuild(String)
        /// Restore the foreign keys set aside whose two tables are among these (rebuilt) tables.
        case restoreForeignKeys(tables: Set<String>)
    }

    public let jobs: Int
    let dependencies: [String: Set<String>]
    let targets: [String: String]
    let weight: [String: Int64]
    /// Loads not started yet, in plan order.
    public private(set) var pending: [String]
    public private(set) var copying: Set<String> = []
    /// Rows committed (children may start).
    public private(set) var copied: Set<String>
    public private(set) var rebuilding: Set<String> = []
    /// Keys and indexes back (foreign keys of the table may be restored).
    public private(set) var rebuilt: Set<String>
    public private(set) var restoring = false
    var restoreAgain = false

    /// - Parameters:
    ///   - loads: the plan's loads in order, each with its target table.
    ///   - dependencies: per load, the loads whose rows it needs committed before it starts.
    ///   - rows: per load, its source rows (for the order of ready loads).
    ///   - done: loads an earlier run completed (copied and rebuilt).
    public init(loads: [(name: String, target: String)], dependencies: [String: Set<String>], rows: [String: Int64],
                done: Set<String>, jobs: Int) throws {
        self.jobs = max(1, jobs)
        let names = loads.map(\.name)
        if let stuck = names.first(where: { (dependencies[$0] ?? []).contains { !names.contains($0) } }) {
            throw MigrationError(.internal, "load \(stuck) depends on an unknown load")
        }
        self.dependencies = Dictionary(uniqueKeysWithValues: names.map { ($0, dependencies[$0] ?? []) })
        targets = Dictionary(uniqueKeysWithValues: loads.map { ($0.name, $0.target) })
        var weight: [String: Int64] = [:]
        var visiting: Set<String> = []
        func chain(_ name: String) -> Int64 {
            if let w = weight[name] { return w }
            guard visiting.insert(name).inserted else { return 0 }  // a cycle is reported by start()
            let below = names.filter { dependencies[$0]?.contains(name) == true }.map(chain).max() ?? 0
            visiting.remove(name)
            weight[name] = (rows[name] ?? 0) + below
            return weight[name]!
        }
        for n in names { _ = chain(n) }
        self.weight = weight
        copied = done.intersection(names)
        rebuilt = copied
        pending = names.filter { !done.contains($0) }
    }

    /// Every load copied and rebuilt, and no restore running.
    public var isFinished: Bool { pending.isEmpty && copying.isEmpty && rebuilding.isEmpty && !restoring }

    /// The first actions. Throws when loads remain that can never start (they wait on each other).
    public mutating func start() throws -> [Action] {
        try startReady() + restoreIfReady()
    }

    /// A load's rows are committed: the loads waiting on it may start, and its table's rebuild
    /// starts once no other load into the table is still to copy.
    public mutating func copyFinished(_ name: String) throws -> [Action] {
        guard copying.remove(name) != nil else { throw MigrationError(.internal, "load \(name) finished a copy it had not started") }
        copied.insert(name)
        var actions: [Action] = []
        let table = targets[name]!
        let sameTable = targets.keys.filter { targets[$0] == table }
        if sameTable.allSatisfy(copied.contains) {
            for load in sameTable.sorted() where !rebuilt.contains(load) && !rebuilding.contains(load) {
                rebuilding.insert(load)
                actions.append(.rebuild(load))
            }
        }
        actions += try startReady()
        return actions
    }

    /// A load's keys and indexes are back.
    public mutating func rebuildFinished(_ name: String) throws -> [Action] {
        guard rebuilding.remove(name) != nil else { throw MigrationError(.internal, "load \(name) finished a rebuild it had not started") }
        rebuilt.insert(name)
        return try startReady() + restoreIfReady()
    }

    /// The restore of foreign keys ended; one that became possible meanwhile runs now.
    public mutating func restoreFinished() -> [Action] {
        restoring = false
        guard restoreAgain else { return [] }
        restoreAgain = false
        return restoreIfReady()
    }

    /// Tables whose every load is rebuilt.
    public var rebuiltTables: Set<String> {
        Set(Dictionary(grouping: targets.keys, by: { targets[$0]! }).filter { $0.value.allSatisfy(rebuilt.contains) }.keys)
    }

    mutating func restoreIfReady() -> [Action] {
        let tables = rebuiltTables
        guard !tables.isEmpty else { return [] }
        if restoring { restoreAgain = true; return [] }
        restoring = true
        return [.restoreForeignKeys(tables: tables)]
    }

    mutating func startReady() throws -> [Action] {
        let ready = pending.filter { dependencies[$0]!.isSubset(of: copied) }
            .sorted { (weight[$0]!, $1) > (weight[$1]!, $0) }
        var actions: [Action] = []
        for name in ready where copying.count < jobs {
            pending.removeAll { $0 == name }
            copying.insert(name)
            actions.append(.copy(name))
        }
        // Only a finished copy makes a load ready: with none running, the rest never start.
        if copying.isEmpty && !pending.isEmpty {
            throw MigrationError(.internal, "no load can start: \(pending.joined(separator: ", ")) wait on each other")
        }
        return actions
    }
}
