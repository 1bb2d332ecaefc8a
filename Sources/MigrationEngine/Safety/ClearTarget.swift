import PGClient
import Foundation
import Logging

/// `rollback --clear-v2`: empties every table a migration filled (and, in shared tables, only
/// the rows it wrote), in one transaction, so that a failure leaves everything as it was.
/// Refuses a database that holds no record of this migration (V1, or any other database).
public struct ClearTarget: Sendable {
    public let plan: MigrationPlan
    public let target: ConnectionConfig
    public let logger: Logger

    public init(plan: MigrationPlan, target: ConnectionConfig, logger: Logger) {
        self.plan = plan
        self.target = target
        self.logger = logger
    }

    var state: MigrationState { MigrationState(schema: plan.stateSchema) }

    public struct TableCount: Sendable {
        public var table: String
        public var rows: Int64
        /// "all rows" or "rows written by the migration".
        public var scope: String
    }

    public struct Preview: Sendable {
        public var database: String
        public var url: String
        public var order: [TableCount]
        /// Rows of shared tables that stay: the target's own (e.g. the profile of a user who
        /// signed up in V2), with what changes in them.
        public var kept: [TableCount] = []
        public var journaledDDL: Int
        public var truncate: Bool
        public var total: Int64 { order.reduce(0) { $0 + $1.rows } }
    }

    public struct Result: Sendable {
        public var deleted: [TableCount]
        public var kept: [TableCount] = []
        public var ddlRestored: Int
        public var remaining: Int64
        public var runsKept: Int
        /// What was done first to free space when V2's disk was full (empty when it was not).
        public var freedSpace: [String] = []
    }

    /// Checks that `c` is the V2 this migration recorded; throws `.refused` otherwise.
    func checkIsRecordedTarget(_ c: PGConnection) async throws {
        guard try await state.has(c, "identity") else {
            throw MigrationError(.refused, "\(target.redactedURL) holds no record of a migration (no \(plan.stateSchema) schema): it is not the V2 this tool migrated into. Check V2_DATABASE_URL (is it pointing at V1?). Nothing was touched.")
        }
        // Needs no grant beyond the owner's: without pg_control_system() the database's oid and
        // transaction counter stand in for the system identifier (MigrationState.Identity).
        let here = try await MigrationState.Identity.read(c)
        guard let recorded = try await state.recordedIdentity(c, side: "V2") else {
            throw MigrationError(.refused, "\(target.redactedURL) has a migration schema but no recorded V2 identity. Refusing to clear it. Nothing was touched.")
        }
        if let why = here.mismatch(recorded: recorded) {
            throw MigrationError(.refused, "\(target.redactedURL) is not the V2 recorded by the migration (\(why)). It may be a restored copy; refusing to clear it. Nothing was touched.")
        }
    }

    /// SQLSTATE 53100 (disk_full), or the "could not extend file" error PostgreSQL raises when
    /// the file system refuses a write.
    public static func isDiskFull(_ error: MigrationError) -> Bool {
        error.sqlState == "53100" || error.message.contains("No space left on device") || error.message.contains("could not extend file")
    }

    /// On a full disk: sets aside (journaled, as migrate does) every key and index of the tables
    /// emptied whole, in one transaction (DROP writes no file, and frees the index files at
    /// commit), then empties those tables children first, each in its own transaction, so that
    /// each frees its files before the next needs room. A table that still cannot be emptied is
    /// tried again after the others. What it did, and the rows each table held, are returned.
    func freeSpace(_ c: PGConnection, tables: [TableName], emptied: [TableName], runID: String) async throws -> (steps: [String], rows: [String: Int64]) {
        var steps: [String] = []
        var rows: [String: Int64] = [:]
        for t in tables { rows[t.description] = Int64(try await c.scalar("SELECT count(*) FROM \(t.sql)") ?? "0") ?? 0 }
        let journal = DDLJournal(state: state)
        let before = Int64(try await c.scalar("SELECT coalesce(sum(pg_total_relation_size(to_regclass(x))), 0) FROM unnest($1::text[]) x", [pgTextArray(emptied.map(\.sql))]) ?? "0") ?? 0
        let dropped = try await journal.drop(c, tables: emptied, loadSet: Set(emptied), runID: runID)
        let afterDrop = Int64(try await c.scalar("SELECT coalesce(sum(pg_total_relation_size(to_regclass(x))), 0) FROM unnest($1::text[]) x", [pgTextArray(emptied.map(\.sql))]) ?? "0") ?? 0
        steps.append("set aside \(dropped) keys and indexes of \(emptied.count) tables (journaled; rebuilt below), freeing \(Self.bytes(before - afterDrop))")
        var todo = tables
        while !todo.isEmpty {
            var left: [TableName] = []
            var lastError: MigrationError?
            for t in todo {
                let size = Int64(try await c.scalar("SELECT pg_total_relation_size($1::regclass)", [t.sql]) ?? "0") ?? 0
                do {
                    try await c.execute("TRUNCATE \(t.sql)")
                    steps.append("emptied \(t) in its own transaction (\(rows[t.description] ?? 0) rows, freeing \(Self.bytes(size)))")
                } catch let error as MigrationError where Self.isDiskFull(error) {
                    left.append(t)
                    lastError = error
                }
            }
            if left.count == todo.count, let lastError {
                throw MigrationError(.diskFull, "V2's disk is full and emptying \(left.map(\.description).joined(separator: ", ")) still finds no room (\(lastError.message)). Steps done so far: \(steps.joined(separator: "; ")). Free space on the volume that holds these tables (or grow it), then run rollback --clear-v2 again: it continues, and the keys and indexes it set aside are journaled and come back then.", cause: lastError)
            }
            todo = left
        }
        return (steps, rows)
    }

    public static func bytes(_ n: Int64) -> String {
        n >= 1 << 20 ? String(format: "%.1f MB", Double(n) / 1_048_576) : n >= 1 << 10 ? "\(n >> 10) kB" : "\(n) bytes"
    }

    struct Order {
        /// Tables the migration owns whole, children first.
        var tables: [TableName]
        /// Shared targets, children first (a user's identity before the user).
        var shared: [LoadSpec]
        /// Shared targets that reference a table emptied whole (a profile's cooperative): their
        /// rows that are not the migration's are set aside, emptied with the rest, put back.
        var setAside: [(load: LoadSpec, references: [ForeignKeyInfo])]
        var truncate: Bool
        /// What TRUNCATE (or DELETE) empties.
        var emptied: [TableName] { tables + setAside.map(\.load.target) }
    }

    func order(_ c: PGConnection) async throws -> Order {
        let catalog = try await Catalog.read(c, schemas: plan.targetSchemas, extraTables: plan.extraTargetTables)
        let whole = Set(plan.loads.filter { $0.ownedKeys == nil }.map(\.target))
        let order = try catalog.clearOrder(of: whole)
        let shared = Array(plan.loads.filter { $0.ownedKeys != nil }.reversed())
        let setAside = shared.compactMap { load -> (LoadSpec, [ForeignKeyInfo])? in
            let refs = catalog.foreignKeys.filter { $0.table == load.target && whole.contains($0.referencedTable) }
            return refs.isEmpty ? nil : (load, refs)
        }
        // TRUNCATE is safe only when no table outside the set references one inside it.
        let emptied = whole.union(setAside.map(\.0.target))
        let outside = catalog.foreignKeys.filter { emptied.contains($0.referencedTable) && !emptied.contains($0.table) }
        return Order(tables: order, shared: shared, setAside: setAside.map { (load: $0.0, references: $0.1) }, truncate: outside.isEmpty)
    }

    /// The rows of a set-aside table that are not the migration's, and what must change in them
    /// to stay: a reference to an emptied table becomes NULL; a NOT NULL one cannot stay.
    static func keptRows(_ c: PGConnection, load: LoadSpec, keys: [String], references: [ForeignKeyInfo]) async throws -> (rows: Int64, nulled: [String]) {
        let notOwned = "NOT (\(load.ownedKeys!.predicate(keys: SQL.literal(pgTextArray(keys)))))"
        let n = Int64(try await c.scalar("SELECT count(*) FROM \(load.target.sql) WHERE \(notOwned)") ?? "0") ?? 0
        var nulled: [String] = []
        for fk in references {
            let set = fk.columns.map { "\(SQL.ident($0)) IS NOT NULL" }.joined(separator: " OR ")
            let m = Int64(try await c.scalar("SELECT count(*) FROM \(load.target.sql) WHERE \(notOwned) AND (\(set))") ?? "0") ?? 0
            guard m > 0 else { continue }
            let notNull = try await c.scalar("""
                SELECT bool_or(attnotnull) FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = ANY($2::text[])
                """, [load.target.sql, pgTextArray(fk.columns)]) == "t"
            if notNull {
                throw MigrationError(.refused, "\(m) rows of \(load.target) that the migration did not write reference \(fk.referencedTable) (\(fk.columns.joined(separator: ", ")), NOT NULL), which clearing empties: they cannot be kept. Move or delete them first. Nothing was touched.")
            }
            nulled.append("\(m) with \(fk.columns.joined(separator: ", ")) set to NULL (it named a migrated \(fk.referencedTable.name) row)")
        }
        return (n, nulled)
    }

    /// Rows of other tables that go with the owned rows of `load` by `ON DELETE CASCADE` (in
    /// Supabase Auth: a user's sessions, refresh tokens, MFA factors, one-time tokens), found
    /// from the catalog, up to four levels deep. Tables the migration fills itself are left out.
    static func cascaded(_ c: PGConnection, load: LoadSpec, keys: [String], skipping: Set<TableName>) async throws -> [(TableName, String)] {
        var out: [(TableName, String)] = []
        var frontier: [(TableName, String)] = [(load.target, load.ownedKeys!.predicate(keys: SQL.literal(pgTextArray(keys))))]
        for _ in 0..<4 where !frontier.isEmpty {
            var next: [(TableName, String)] = []
            for (parent, condition) in frontier {
                let r = try await c.query("""
                    SELECT cn.nspname, cc.relname, ca.attname, pa.attname
                    FROM pg_constraint k
                    JOIN pg_class cc ON cc.oid = k.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace
                    JOIN pg_attribute ca ON ca.attrelid = k.conrelid AND ca.attnum = k.conkey[1]
                    JOIN pg_attribute pa ON pa.attrelid = k.confrelid AND pa.attnum = k.confkey[1]
                    WHERE k.contype = 'f' AND k.confdeltype = 'c' AND cardinality(k.conkey) = 1
                      AND k.confrelid = to_regclass($1) AND k.conrelid <> k.confrelid
                    ORDER BY 1, 2, 3
                    """, [parent.sql])
                for row in r.rows {
                    let child = TableName(row[0]!, row[1]!)
                    if skipping.contains(child) || out.contains(where: { $0.0 == child }) { continue }
                    let childCondition = "\(SQL.ident(row[2]!)) IN (SELECT \(SQL.ident(row[3]!)) FROM \(parent.sql) WHERE \(condition))"
                    out.append((child, childCondition))
                    next.append((child, childCondition))
                }
            }
            frontier = next
        }
        return out
    }

    func sharedMax(_ c: PGConnection, _ load: LoadSpec) async throws -> Int64 {
        let progress = try await state.progress(c)[load.name]
        return progress?.lastSourceID ?? 0
    }

    public func preview() async throws -> Preview {
        let c = try await PGConnection.connect(target, logger: logger)
        defer { Task { await c.close() } }
        try await checkIsRecordedTarget(c)
        let o = try await order(c)
        var counts: [TableCount] = []
        var kept: [TableCount] = []
        for t in o.tables {
            counts.append(TableCount(table: t.description, rows: Int64(try await c.scalar("SELECT count(*) FROM \(t.sql)") ?? "0") ?? 0, scope: "all rows"))
        }
        let filled = Set(plan.loads.map(\.target))
        for load in o.shared {
            let keys = load.ownedKeys!.keys(try await sharedMax(c, load))
            let n = try await Migrator.countOwned(c, load: load, keys: keys)
            counts.append(TableCount(table: load.target.description, rows: n, scope: "rows written by the migration"))
            if let refs = o.setAside.first(where: { $0.load.name == load.name })?.references {
                let k = try await Self.keptRows(c, load: load, keys: keys, references: refs)
                kept.append(TableCount(table: load.target.description, rows: k.rows,
                                       scope: (["rows the migration did not write (e.g. users created in V2)"] + k.nulled).joined(separator: "; ")))
            }
            for (child, condition) in try await Self.cascaded(c, load: load, keys: keys, skipping: filled) {
                let m = Int64(try await c.scalar("SELECT count(*) FROM \(child.sql) WHERE \(condition)") ?? "0") ?? 0
                counts.append(TableCount(table: child.description, rows: m, scope: "rows of the migrated \(load.target.name) (ON DELETE CASCADE)"))
            }
        }
        let ddl = try await DDLJournal(state: state).entries(c).count
        return Preview(database: try await c.scalar("SELECT current_database()") ?? "?", url: target.redactedURL, order: counts,
                       kept: kept, journaledDDL: ddl, truncate: o.truncate)
    }

    public func run(toolVersion: String) async throws -> Result {
        let c = try await PGConnection.connect(target, logger: logger)
        defer { Task { await c.close() } }
        try await checkIsRecordedTarget(c)
        guard let lock = try await MigrationLock.acquire(target, logger: logger) else {
            throw MigrationError(.refused, "a migrate is running against this V2 (it holds the migration lock). Stop it first (Ctrl+C), then clear. Nothing was touched.")
        }
        defer { Task { await lock.release() } }
        let o = try await order(c)
        let tables = o.tables
        var keyLists: [(LoadSpec, [String], [(TableName, String)])] = []
        let filled = Set(plan.loads.map(\.target))
        var asideList: [(load: LoadSpec, notOwned: String, columns: String, nulls: [String], nulled: [String])] = []
        for load in o.shared {
            let keys = load.ownedKeys!.keys(try await sharedMax(c, load))
            keyLists.append((load, keys, try await Self.cascaded(c, load: load, keys: keys, skipping: filled)))
            if let refs = o.setAside.first(where: { $0.load.name == load.name })?.references {
                let k = try await Self.keptRows(c, load: load, keys: keys, references: refs)
                let columns = try await c.scalar("""
                    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
                    WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
                    """, [load.target.sql]) ?? "*"
                asideList.append((load, "NOT (\(load.ownedKeys!.predicate(keys: SQL.literal(pgTextArray(keys)))))", columns,
                                  refs.flatMap(\.columns), k.nulled))
            }
        }
        let sharedKeys = keyLists
        let aside = asideList
        let emptied = o.emptied
        let truncate = o.truncate
        let state = self.state
        let runID = UUID().uuidString.lowercased()
        let url = target.redactedURL
        let clearAll: @Sendable () async throws -> Result = { try await c.withSession { s in
            try s.execute("BEGIN")
            do {
                var deleted: [TableCount] = []
                for t in tables {
                    deleted.append(TableCount(table: t.description, rows: Int64(try s.query("SELECT count(*) FROM \(t.sql)").rows[0][0] ?? "0") ?? 0, scope: "all rows"))
                }
                // The rows of set-aside tables that are not the migration's wait in a temporary
                // table while everything is emptied, then come back as they were (a reference to
                // an emptied row NULL), with no trigger of the app firing on their return.
                var kept: [TableCount] = []
                for (n, a) in aside.enumerated() {
                    let written = Int64(try s.query("SELECT count(*) FROM \(a.load.target.sql) WHERE NOT (\(a.notOwned))").rows[0][0] ?? "0") ?? 0
                    deleted.append(TableCount(table: a.load.target.description, rows: written, scope: "rows written by the migration"))
                    try s.execute("CREATE TEMPORARY TABLE ctm_kept_\(n) ON COMMIT DROP AS SELECT \(a.columns) FROM \(a.load.target.sql) WHERE \(a.notOwned)")
                    for col in a.nulls { try s.execute("UPDATE ctm_kept_\(n) SET \(SQL.ident(col)) = NULL WHERE \(SQL.ident(col)) IS NOT NULL") }
                    let k = Int64(try s.query("SELECT count(*) FROM ctm_kept_\(n)").rows[0][0] ?? "0") ?? 0
                    kept.append(TableCount(table: a.load.target.description, rows: k,
                                           scope: (["rows the migration did not write (e.g. users created in V2)"] + a.nulled).joined(separator: "; ")))
                }
                if truncate {
                    if !emptied.isEmpty { try s.execute("TRUNCATE \(emptied.map(\.sql).joined(separator: ", "))") }
                } else {
                    for t in tables { try s.execute("DELETE FROM \(t.sql)") }
                    for a in aside { try s.execute("DELETE FROM \(a.load.target.sql)") }
                }
                if kept.contains(where: { $0.rows > 0 }) {
                    // No app trigger fires on their return: session_replication_role = replica when
                    // granted; otherwise (the way back must not need a grant only migrate needs)
                    // the ordinary user triggers of the table are disabled for the insert, as the
                    // table's owner may, and enabled again in the same transaction.
                    try s.execute("SAVEPOINT replica")
                    var replica = true
                    do {
                        try s.execute("SET LOCAL session_replication_role = replica")
                        try s.execute("RELEASE SAVEPOINT replica")
                    } catch let error as MigrationError where error.code == .missingPrivilege {
                        try s.execute("ROLLBACK TO SAVEPOINT replica")
                        replica = false
                    }
                    for (n, a) in aside.enumerated() {
                        let triggers = replica ? [] : try s.query("""
                            SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal AND tgenabled = 'O' ORDER BY 1
                            """, [a.load.target.sql]).rows.map { SQL.ident($0[0]!) }
                        for t in triggers { try s.execute("ALTER TABLE \(a.load.target.sql) DISABLE TRIGGER \(t)") }
                        try s.execute("INSERT INTO \(a.load.target.sql) (\(a.columns)) SELECT \(a.columns) FROM ctm_kept_\(n)")
                        for t in triggers { try s.execute("ALTER TABLE \(a.load.target.sql) ENABLE TRIGGER \(t)") }
                    }
                    if replica { try s.execute("SET LOCAL session_replication_role = origin") }
                }
                for (load, keys, dependents) in sharedKeys where !aside.contains(where: { $0.load.name == load.name }) {
                    // What goes with them by ON DELETE CASCADE, counted before it goes.
                    for (child, condition) in dependents {
                        let m = Int64(try s.query("SELECT count(*) FROM \(child.sql) WHERE \(condition)").rows[0][0] ?? "0") ?? 0
                        deleted.append(TableCount(table: child.description, rows: m, scope: "rows of the migrated \(load.target.name) (ON DELETE CASCADE)"))
                    }
                    let r = try s.query("DELETE FROM \(load.target.sql) WHERE \(load.ownedKeys!.predicate(keys: "$1"))", [pgTextArray(keys)])
                    deleted.append(TableCount(table: load.target.description, rows: Int64(r.affected), scope: "rows written by the migration"))
                }
                // Keys and indexes a migration set aside come back on the now empty tables.
                let ddl = try DDLJournal(state: state).restoreAll(in: s)
                // The attempt's progress goes; the history of runs stays.
                try s.execute("DELETE FROM \(state.t("load_progress")); DELETE FROM \(state.t("row_issues"));")
                // A cutover baseline describes the data just removed: it goes too.
                if try s.query("SELECT to_regclass($1) IS NOT NULL", [state.t("capture_baseline")]).rows[0][0] == "t" {
                    try s.execute("DELETE FROM \(state.t("capture_baseline")); DELETE FROM \(state.t("capture"));")
                    if try s.query("SELECT to_regclass($1) IS NOT NULL", [state.t("capture_digests")]).rows[0][0] == "t" {
                        try s.execute("DELETE FROM \(state.t("capture_digests")); DELETE FROM \(state.t("capture_rejected"));")
                    }
                }
                let counts = "{" + deleted.map { "\"\($0.table)\": \($0.rows)" }.joined(separator: ", ") + "}"
                _ = try s.query("""
                    INSERT INTO \(state.t("runs")) (run_id, command, tool_version, v2_url, os_user, outcome, finished_at, counts)
                    VALUES ($1, 'rollback --clear-v2', $2, $3, $4, 'completed', clock_timestamp(), $5::jsonb)
                    """, [runID, toolVersion, url, ProcessInfo.processInfo.environment["USER"] ?? "", counts])
                try s.execute("COMMIT")
                return Result(deleted: deleted, kept: kept, ddlRestored: ddl, remaining: 0, runsKept: 0)
            } catch {
                try? s.execute("ROLLBACK")
                throw error
            }
        } }
        let result: Result
        do {
            result = try await clearAll()
        } catch let error as MigrationError where Self.isDiskFull(error) && truncate {
            // TRUNCATE writes new, empty files (an index's first page among them) before the old
            // ones go at commit: on a full disk the one transaction cannot run. Free space first,
            // table by table, then clear as usual.
            logger.warning("V2's disk is full; freeing space table by table before clearing", metadata: ["error": "\(error.message)"])
            let freed = try await freeSpace(c, tables: tables, emptied: emptied, runID: runID)
            var r = try await clearAll()
            for i in r.deleted.indices where r.deleted[i].scope == "all rows" {
                if let n = freed.rows[r.deleted[i].table] { r.deleted[i].rows = n }
            }
            r.freedSpace = freed.steps
            result = r
        }
        // Check afterwards: empty, and the history still there.
        var r = result
        var remaining: Int64 = 0
        for t in tables { remaining += Int64(try await c.scalar("SELECT count(*) FROM \(t.sql)") ?? "0") ?? 0 }
        for (load, keys, _) in sharedKeys { remaining += try await Migrator.countOwned(c, load: load, keys: keys) }
        r.remaining = remaining
        r.runsKept = Int(try await c.scalar("SELECT count(*) FROM \(state.t("runs"))") ?? "0") ?? 0
        await lock.release()
        if remaining != 0 {
            throw MigrationError(.checkFailed, "after clearing, \(remaining) migrated rows are still in V2. Run rollback --clear-v2 again and check for concurrent writers.")
        }
        return r
    }
}
