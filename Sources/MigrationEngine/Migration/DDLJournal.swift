import PGClient
import Foundation

/// Takes a target table's indexes and keys out of the way of a bulk load and puts them back
/// exactly, with every step journaled in the migration schema in the same transaction as the
/// DDL itself, so that a crash at any moment leaves a record from which `restore` rebuilds the
/// catalog as it was. What is dropped, per table of the load:
/// - every index that backs no constraint;
/// - its PRIMARY KEY and UNIQUE constraints, when every foreign key that references the table
///   comes from a table of the same load (those foreign keys are dropped too, and come back last,
///   validating every row);
/// CHECK constraints and NOT NULL stay: they are cheap and keep guarding each row.
public struct DDLJournal: Sendable {
    public let state: MigrationState
    /// `maintenance_work_mem` for each rebuild's transaction (`SET LOCAL`, e.g. "512MB"), only
    /// where it raises the session's own value; nil: the server's setting. It is the memory of an
    /// index build's sort and, for a foreign key's validation, of its join (PostgreSQL runs that
    /// check with `work_mem` = `maintenance_work_mem`).
    public var maintenanceWorkMem: String?

    public init(state: MigrationState, maintenanceWorkMem: String? = nil) {
        self.state = state
        self.maintenanceWorkMem = maintenanceWorkMem
    }

    /// Raises `maintenance_work_mem` for the open transaction to `value` when that is more than the
    /// session has (a role's or database's larger setting is kept); a server that refuses it
    /// leaves the transaction as it was (a savepoint) and the setting unchanged: no privilege,
    /// an invalid value or a parameter that cannot change now (any other error is thrown).
    static func raiseMaintenanceWorkMem(_ s: PGSession, to value: String?) throws {
        guard let value else { return }
        try s.execute("SAVEPOINT mwm")
        do {
            _ = try s.query("SELECT set_config('maintenance_work_mem', $1, true) WHERE pg_size_bytes($1) > pg_size_bytes(current_setting('maintenance_work_mem'))", [value])
            try s.execute("RELEASE SAVEPOINT mwm")
        } catch let error as MigrationError where ["42501", "22023", "55P02", "22P02"].contains(error.sqlState ?? "") {
            try s.execute("ROLLBACK TO SAVEPOINT mwm")
        }
    }

    public struct Entry: Sendable {
        public var table: String
        public var name: String
        public var kind: String
        public var restoreSQL: String
        /// For a foreign key: the table it references.
        public var referencesTable: String?
    }

    public func entries(_ c: PGConnection) async throws -> [Entry] {
        guard try await state.exists(c) else { return [] }
        return try await c.query("SELECT table_name, object_name, kind, restore_sql, references_table FROM \(state.t("dropped_ddl")) ORDER BY table_name, kind, object_name")
            .rows.map { Entry(table: $0[0]!, name: $0[1]!, kind: $0[2]!, restoreSQL: $0[3]!, referencesTable: $0[4]) }
    }

    /// Drops (and journals) the droppable DDL of `tables`, within the set `loadSet` (all tables
    /// this migration fills). Idempotent: what is already gone is already journaled.
    public func drop(_ c: PGConnection, tables: [TableName], loadSet: Set<TableName>, runID: String) async throws -> Int {
        let state = self.state
        return try await c.withSession { s in
            try s.execute("BEGIN")
            do {
                var dropped = 0
                func journal(_ table: String, _ name: String, _ kind: String, _ restore: String, references: String? = nil) throws {
                    _ = try s.query("INSERT INTO \(state.t("dropped_ddl")) (table_name, object_name, kind, restore_sql, references_table, run_id) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                                    [table, name, kind, restore, references, runID])
                    dropped += 1
                }
                let loadList = "{" + loadSet.map { "\"\($0.schema).\($0.name)\"" }.joined(separator: ",") + "}"
                for table in tables {
                    // Keys: only when every referencing foreign key comes from this load.
                    let outside = try s.query("""
                        SELECT count(*) FROM pg_constraint f JOIN pg_class c ON c.oid = f.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE f.contype = 'f' AND f.confrelid = $1::regclass AND NOT ((n.nspname || '.' || c.relname) = ANY($2::text[]))
                        """, [table.sql, loadList]).rows[0][0]
                    if outside == "0" {
                        let fks = try s.query("""
                            SELECT f.conrelid::regclass::text, n.nspname || '.' || c.relname, f.conname, pg_get_constraintdef(f.oid)
                            FROM pg_constraint f JOIN pg_class c ON c.oid = f.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                            WHERE f.contype = 'f' AND f.confrelid = $1::regclass ORDER BY 1, 3
                            """, [table.sql]).rows
                        for fk in fks {
                            try journal(fk[1]!, fk[2]!, "foreign_key", "ALTER TABLE \(fk[0]!) ADD CONSTRAINT \(SQL.ident(fk[2]!)) \(fk[3]!)", references: table.description)
                            try s.execute("ALTER TABLE \(fk[0]!) DROP CONSTRAINT \(SQL.ident(fk[2]!))")
                        }
                        let keys = try s.query("""
                            SELECT k.conname, pg_get_constraintdef(k.oid), ts.spcname FROM pg_constraint k
                            LEFT JOIN pg_class i ON i.oid = k.conindid LEFT JOIN pg_tablespace ts ON ts.oid = i.reltablespace
                            WHERE k.conrelid = $1::regclass AND k.contype IN ('p', 'u') ORDER BY k.contype, k.conname
                            """, [table.sql]).rows
                        for k in keys {
                            try journal(table.description, k[0]!, "constraint", Self.inTablespace(k[2], "ALTER TABLE \(table.sql) ADD CONSTRAINT \(SQL.ident(k[0]!)) \(k[1]!)"))
                            try s.execute("ALTER TABLE \(table.sql) DROP CONSTRAINT \(SQL.ident(k[0]!))")
                        }
                    }
                    let indexes = try s.query("""
                        SELECT n.nspname, c.relname, pg_get_indexdef(i.indexrelid), ts.spcname
                        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                        LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace
                        WHERE i.indrelid = $1::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid)
                        ORDER BY c.relname
                        """, [table.sql]).rows
                    for ix in indexes {
                        try journal(table.description, ix[1]!, "index", Self.inTablespace(ix[3], ix[2]!))
                        try s.execute("DROP INDEX \(SQL.qualified(ix[0]!, ix[1]!))")
                    }
                }
                try s.execute("COMMIT")
                return dropped
            } catch {
                try? s.execute("ROLLBACK")
                throw error
            }
        }
    }

    /// `sql` (CREATE INDEX, ADD CONSTRAINT … PRIMARY KEY/UNIQUE) building its index in
    /// `tablespace` when the index lived outside the database's default one: the catalog's
    /// definitions (pg_get_indexdef, pg_get_constraintdef) leave the tablespace out.
    static func inTablespace(_ tablespace: String?, _ sql: String) -> String {
        guard let tablespace else { return sql }
        return "SET LOCAL default_tablespace = \(SQL.ident(tablespace)); \(sql); SET LOCAL default_tablespace TO DEFAULT"
    }

    /// A foreign key that could not be restored as valid because rows break it.
    public struct BrokenForeignKey: Sendable {
        public var table: String
        public var name: String
        public var detail: String
    }

    /// Restores journaled DDL: for `table` (or every table), of `kinds`; each object in its own
    /// transaction together with the removal of its journal entry. A foreign key whose rows do
    /// not validate is put back NOT VALID (it guards new rows) but stays journaled, and is
    /// reported; any other failure of its validation (cancelled, interrupted, lock timeout, lost
    /// connection) changes nothing and is thrown: the journal keeps the key until it validates.
    @discardableResult
    public func restore(_ c: PGConnection, table: String? = nil, kinds: Set<String> = ["index", "constraint", "foreign_key"]) async throws -> (restored: Int, broken: [BrokenForeignKey]) {
        let r = try await restore(c) { (table == nil || $0.table == table) && kinds.contains($0.kind) }
        return (r.restored.count, r.broken)
    }

    /// SQLSTATE of "rows violate this foreign key": the only failure of a validation that means
    /// the data is wrong rather than the validation unfinished.
    static let foreignKeyViolation = "23503"

    /// Restores the journaled objects `include` selects; returns those restored (foreign keys:
    /// validated) and the foreign keys whose rows do not validate (present NOT VALID, journaled).
    public func restore(_ c: PGConnection, where include: (Entry) -> Bool) async throws -> (restored: [Entry], broken: [BrokenForeignKey]) {
        let todo = try await entries(c).filter(include)
        // Keys before indexes before foreign keys (a foreign key needs the referenced key).
        let rank = ["constraint": 0, "index": 1, "foreign_key": 2]
        var broken: [BrokenForeignKey] = []
        var restored: [Entry] = []
        let state = self.state
        let memory = maintenanceWorkMem
        for e in todo.sorted(by: { (rank[$0.kind]!, $0.table, $0.name) < (rank[$1.kind]!, $1.table, $1.name) }) {
            let failure: String? = try await c.withSession { s in
                try s.execute("BEGIN")
                do {
                    try Self.raiseMaintenanceWorkMem(s, to: memory)
                    var failure: String?
                    if e.kind == "foreign_key" {
                        failure = try Self.restoreForeignKey(s, e)
                    } else if try !Self.exists(s, table: e.table, name: e.name, kind: e.kind) {
                        try s.execute(e.restoreSQL)
                    }
                    if failure == nil {
                        _ = try s.query("DELETE FROM \(state.t("dropped_ddl")) WHERE table_name = $1 AND object_name = $2", [e.table, e.name])
                    }
                    try s.execute("COMMIT")
                    return failure
                } catch {
                    try? s.execute("ROLLBACK")
                    throw error
                }
            }
            if let failure {
                broken.append(BrokenForeignKey(table: e.table, name: e.name, detail: failure))
            } else {
                restored.append(e)
            }
        }
        return (restored, broken)
    }

    /// Puts a journaled foreign key back and validates it, in the caller's transaction. Returns
    /// nil when it is present and validated; the violation when rows break it (the key is then
    /// present NOT VALID). Any other error is thrown, with the transaction to be rolled back.
    static func restoreForeignKey(_ s: PGSession, _ e: Entry) throws -> String? {
        let present = try s.query("SELECT convalidated FROM pg_constraint WHERE conname = $1 AND conrelid = $2::regclass", [e.name, e.table]).rows.first?[0]
        try s.execute("SAVEPOINT fk")
        do {
            if present == nil {
                try s.execute(e.restoreSQL)
            }
            // A definition journaled NOT VALID (or a key left NOT VALID by an earlier run) is validated now.
            let now = try s.query("SELECT convalidated, conrelid::regclass::text FROM pg_constraint WHERE conname = $1 AND conrelid = $2::regclass", [e.name, e.table]).rows.first
            if let now, now[0] != "t" {
                try s.execute("ALTER TABLE \(now[1]!) VALIDATE CONSTRAINT \(SQL.ident(e.name))")
            }
            try s.execute("RELEASE SAVEPOINT fk")
            return nil
        } catch let error as MigrationError where error.sqlState == foreignKeyViolation {
            try s.execute("ROLLBACK TO SAVEPOINT fk")
            if present == nil {
                try s.execute(e.restoreSQL.hasSuffix(" NOT VALID") ? e.restoreSQL : e.restoreSQL + " NOT VALID")
            }
            return error.message
        }
    }

    /// Restores every journaled object inside the caller's open transaction (used by
    /// `rollback --clear-v2`, on tables it has just emptied). Returns how many it recreated.
    public func restoreAll(in s: PGSession) throws -> Int {
        let rows = try s.query("SELECT table_name, object_name, kind, restore_sql FROM \(state.t("dropped_ddl"))").rows
        let rank = ["constraint": 0, "index": 1, "foreign_key": 2]
        var n = 0
        for r in rows.sorted(by: { (rank[$0[2]!]!, $0[0]!, $0[1]!) < (rank[$1[2]!]!, $1[0]!, $1[1]!) }) {
            let (table, name, kind, sql) = (r[0]!, r[1]!, r[2]!, r[3]!)
            if kind == "foreign_key" {
                // On emptied tables the key validates; if it cannot, the error says which.
                let present = try Self.exists(s, table: table, name: name, kind: kind)
                if let violation = try Self.restoreForeignKey(s, Entry(table: table, name: name, kind: kind, restoreSQL: sql, referencesTable: nil)) {
                    throw MigrationError(.checkFailed, "foreign key \(name) on \(table) does not validate after clearing: \(violation). Nothing was changed.")
                }
                if !present { n += 1 }
            } else if try !Self.exists(s, table: table, name: name, kind: kind) {
                try s.execute(sql)
                n += 1
            }
            _ = try s.query("DELETE FROM \(state.t("dropped_ddl")) WHERE table_name = $1 AND object_name = $2", [table, name])
        }
        return n
    }

    /// A foreign key on a migrated table that PostgreSQL does not enforce for every row.
    public struct UnvalidatedKey: Sendable, CustomStringConvertible {
        public var table: String
        public var name: String
        /// Present in the catalog (NOT VALID), or only in the journal (set aside, not back yet).
        public var present: Bool
        public var journaled: Bool
        public var description: String {
            present ? "\(table).\(name) is NOT VALID (rows are not checked against it)\(journaled ? ", journaled for validation" : "")"
                : "\(table).\(name) is set aside by an unfinished migrate (journaled, not restored)"
        }
    }

    /// Foreign keys on `tables` that do not hold for every row as far as PostgreSQL knows:
    /// present `NOT VALID` (`pg_constraint.convalidated` false), or journaled and not restored.
    public static func unvalidatedForeignKeys(_ c: PGConnection, tables: [TableName], state: MigrationState?) async throws -> [UnvalidatedKey] {
        let list = pgTextArray(Array(Set(tables)).sorted().map(\.sql))
        let keys = try await c.query("""
            SELECT n.nspname || '.' || c.relname, con.conname, con.convalidated FROM pg_constraint con
            JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE con.contype = 'f' AND con.conrelid IN (SELECT to_regclass(x) FROM unnest($1::text[]) x)
            ORDER BY 1, 2
            """, [list]).rows
        var out = keys.filter { $0[2] != "t" }.map { UnvalidatedKey(table: $0[0]!, name: $0[1]!, present: true, journaled: false) }
        let valid = Set(keys.filter { $0[2] == "t" }.map { "\($0[0]!).\($0[1]!)" })
        if let state, try await state.exists(c) {
            let names = Set(tables.map(\.description))
            for e in try await DDLJournal(state: state).entries(c) where e.kind == "foreign_key" && names.contains(e.table) {
                if let i = out.firstIndex(where: { $0.table == e.table && $0.name == e.name }) {
                    out[i].journaled = true
                } else if !valid.contains("\(e.table).\(e.name)") {
                    out.append(UnvalidatedKey(table: e.table, name: e.name, present: false, journaled: true))
                }
            }
        }
        return out
    }

    /// Whether a journaled object is present again (an index by name in the table's schema, a
    /// constraint by name on the table).
    static func exists(_ s: PGSession, table: String, name: String, kind: String) throws -> Bool {
        if kind == "index" {
            let schema = table.split(separator: ".").first.map(String.init) ?? "public"
            return try s.query("SELECT to_regclass($1) IS NOT NULL", [SQL.qualified(schema, name)]).rows[0][0] == "t"
        }
        return try s.query("SELECT count(*) > 0 FROM pg_constraint WHERE conname = $1 AND conrelid = $2::regclass", [name, table]).rows[0][0] == "t"
    }
}
