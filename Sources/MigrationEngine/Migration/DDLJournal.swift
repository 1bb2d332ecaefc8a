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

    public init(state: MigrationState) { self.state = state }

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
                            SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
                            WHERE conrelid = $1::regclass AND contype IN ('p', 'u') ORDER BY contype, conname
                            """, [table.sql]).rows
                        for k in keys {
                            try journal(table.description, k[0]!, "constraint", "ALTER TABLE \(table.sql) ADD CONSTRAINT \(SQL.ident(k[0]!)) \(k[1]!)")
                            try s.execute("ALTER TABLE \(table.sql) DROP CONSTRAINT \(SQL.ident(k[0]!))")
                        }
                    }
                    let indexes = try s.query("""
                        SELECT n.nspname, c.relname, pg_get_indexdef(i.indexrelid)
                        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE i.indrelid = $1::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid)
                        ORDER BY c.relname
                        """, [table.sql]).rows
                    for ix in indexes {
                        try journal(table.description, ix[1]!, "index", ix[2]!)
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

    /// A foreign key that could not be restored as valid because rows break it.
    public struct BrokenForeignKey: Sendable {
        public var table: String
        public var name: String
        public var detail: String
    }

    /// Restores journaled DDL: for `table` (or every table), of `kinds`; each object in its own
    /// transaction together with the removal of its journal entry. A foreign key whose rows do
    /// not validate is restored NOT VALID (the catalog is whole again) and reported.
    @discardableResult
    public func restore(_ c: PGConnection, table: String? = nil, kinds: Set<String> = ["index", "constraint", "foreign_key"]) async throws -> (restored: Int, broken: [BrokenForeignKey]) {
        let r = try await restore(c) { (table == nil || $0.table == table) && kinds.contains($0.kind) }
        return (r.restored.count, r.broken)
    }

    /// Restores the journaled objects `include` selects; returns them and the broken foreign keys.
    public func restore(_ c: PGConnection, where include: (Entry) -> Bool) async throws -> (restored: [Entry], broken: [BrokenForeignKey]) {
        let todo = try await entries(c).filter(include)
        // Keys before indexes before foreign keys (a foreign key needs the referenced key).
        let rank = ["constraint": 0, "index": 1, "foreign_key": 2]
        var broken: [BrokenForeignKey] = []
        let state = self.state
        for e in todo.sorted(by: { (rank[$0.kind]!, $0.table, $0.name) < (rank[$1.kind]!, $1.table, $1.name) }) {
            let failure: String? = try await c.withSession { s in
                try s.execute("BEGIN")
                do {
                    var failure: String?
                    if try !Self.exists(s, table: e.table, name: e.name, kind: e.kind) {
                        if e.kind == "foreign_key" {
                            try s.execute("SAVEPOINT fk")
                            do {
                                try s.execute(e.restoreSQL)
                                try s.execute("RELEASE SAVEPOINT fk")
                            } catch {
                                try s.execute("ROLLBACK TO SAVEPOINT fk")
                                try s.execute(e.restoreSQL + " NOT VALID")
                                failure = (error as? MigrationError)?.message ?? "\(error)"
                            }
                        } else {
                            try s.execute(e.restoreSQL)
                        }
                    }
                    _ = try s.query("DELETE FROM \(state.t("dropped_ddl")) WHERE table_name = $1 AND object_name = $2", [e.table, e.name])
                    try s.execute("COMMIT")
                    return failure
                } catch {
                    try? s.execute("ROLLBACK")
                    throw error
                }
            }
            if let failure { broken.append(BrokenForeignKey(table: e.table, name: e.name, detail: failure)) }
        }
        return (todo, broken)
    }

    /// Restores every journaled object inside the caller's open transaction (used by
    /// `rollback --clear-v2`, on tables it has just emptied). Returns how many it recreated.
    public func restoreAll(in s: PGSession) throws -> Int {
        let rows = try s.query("SELECT table_name, object_name, kind, restore_sql FROM \(state.t("dropped_ddl"))").rows
        let rank = ["constraint": 0, "index": 1, "foreign_key": 2]
        var n = 0
        for r in rows.sorted(by: { (rank[$0[2]!]!, $0[0]!, $0[1]!) < (rank[$1[2]!]!, $1[0]!, $1[1]!) }) {
            let (table, name, kind, sql) = (r[0]!, r[1]!, r[2]!, r[3]!)
            if try !Self.exists(s, table: table, name: name, kind: kind) {
                try s.execute(sql)
                n += 1
            }
            _ = try s.query("DELETE FROM \(state.t("dropped_ddl")) WHERE table_name = $1 AND object_name = $2", [table, name])
        }
        return n
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
