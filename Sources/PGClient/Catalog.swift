import Foundation

/// A table as the catalog knows it.
public struct TableName: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public var schema: String
    public var name: String
    public init(_ schema: String, _ name: String) {
        self.schema = schema
        self.name = name
    }
    /// `"schema"."name"`, quoted for SQL.
    public var sql: String { SQL.qualified(schema, name) }
    public var description: String { "\(schema).\(name)" }
    public static func < (a: TableName, b: TableName) -> Bool { (a.schema, a.name) < (b.schema, b.name) }
}

public struct ColumnInfo: Sendable, Equatable {
    public var name: String
    /// `format_type()` spelling, e.g. `character varying(100)`, `numeric(8,2)`, `text[]`.
    public var type: String
    public var notNull: Bool
    public var defaultExpression: String?
    public var isGenerated: Bool
    /// `pg_type.typname` (for an array, its element's name with `kind` `A`), and
    /// `pg_type.typcategory` (`E` enum, `A` array, …): what verification canonicalises by.
    public var typeName: String = ""
    public var typeCategory: String = ""
    public var elementTypeName: String = ""

    /// How values of this column compare (see `ValueKind`).
    public var valueKind: ValueKind { ValueKind(typeName: typeName, category: typeCategory, elementTypeName: elementTypeName) }
}

public struct ForeignKeyInfo: Sendable, Equatable {
    public var name: String
    public var table: TableName
    public var columns: [String]
    public var referencedTable: TableName
    public var referencedColumns: [String]
    /// `a` no action, `r` restrict, `c` cascade, `n` set null, `d` set default.
    public var onDelete: Character
    /// `pg_constraint.convalidated`: false for a key added `NOT VALID` and not validated since
    /// (PostgreSQL then checks new rows only).
    public var validated: Bool = true
}

public struct TableInfo: Sendable {
    public var name: TableName
    public var columns: [ColumnInfo]
    public var primaryKey: [String]
    public var estimatedRows: Int64
    /// Creation order (pg_class.oid): the tie-break among tables that do not depend on each other.
    public var oid: UInt32
}

/// What the database itself says about its tables: columns, keys and the foreign-key graph.
/// The load order, the clear order and the checks all come from here, never from a written list.
public struct Catalog: Sendable {
    public var tables: [TableName: TableInfo]
    public var foreignKeys: [ForeignKeyInfo]

    /// Reads every ordinary or partitioned table of `schemas` (plus `extraTables`).
    public static func read(_ connection: PGConnection, schemas: [String], extraTables: [TableName] = []) async throws -> Catalog {
        let schemaList = "{" + schemas.joined(separator: ",") + "}"
        let extra = "{" + extraTables.map { "\"\($0.schema).\($0.name)\"" }.joined(separator: ",") + "}"
        let tableFilter = """
            c.relkind IN ('r', 'p') AND (n.nspname = ANY($1::text[]) OR (n.nspname || '.' || c.relname) = ANY($2::text[]))
            """
        let cols = try await connection.query("""
            SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                   pg_get_expr(d.adbin, d.adrelid), a.attgenerated <> '', greatest(c.reltuples, 0)::bigint, c.oid,
                   ty.typname, ty.typcategory, coalesce(et.typname, '')
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
            JOIN pg_type ty ON ty.oid = a.atttypid
            LEFT JOIN pg_type et ON et.oid = ty.typelem AND ty.typcategory = 'A'
            WHERE \(tableFilter)
            ORDER BY n.nspname, c.relname, a.attnum
            """, [schemaList, extra])
        var tables: [TableName: TableInfo] = [:]
        for r in cols.rows {
            let t = TableName(r[0]!, r[1]!)
            let col = ColumnInfo(name: r[2]!, type: r[3]!, notNull: r[4] == "t", defaultExpression: r[5], isGenerated: r[6] == "t",
                                 typeName: r[9]!, typeCategory: r[10]!, elementTypeName: r[11] ?? "")
            tables[t, default: TableInfo(name: t, columns: [], primaryKey: [], estimatedRows: Int64(r[7] ?? "0") ?? 0, oid: UInt32(r[8]!) ?? 0)].columns.append(col)
        }
        let pks = try await connection.query("""
            SELECT n.nspname, c.relname, array_to_string(array_agg(a.attname ORDER BY k.ord), ',')
            FROM pg_constraint con
            JOIN pg_class c ON c.oid = con.conrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
            WHERE con.contype = 'p' AND \(tableFilter)
            GROUP BY n.nspname, c.relname
            """, [schemaList, extra])
        for r in pks.rows {
            let t = TableName(r[0]!, r[1]!)
            tables[t]?.primaryKey = r[2]!.split(separator: ",").map(String.init)
        }
        let fks = try await connection.query("""
            SELECT con.conname, n.nspname, c.relname,
                   (SELECT array_to_string(array_agg(a.attname ORDER BY k.ord), ',')
                      FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
                      JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum),
                   rn.nspname, rc.relname,
                   (SELECT array_to_string(array_agg(a.attname ORDER BY k.ord), ',')
                      FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
                      JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum),
                   con.confdeltype, con.convalidated
            FROM pg_constraint con
            JOIN pg_class c ON c.oid = con.conrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_class rc ON rc.oid = con.confrelid
            JOIN pg_namespace rn ON rn.oid = rc.relnamespace
            WHERE con.contype = 'f' AND \(tableFilter)
            ORDER BY n.nspname, c.relname, con.conname
            """, [schemaList, extra])
        let foreignKeys = fks.rows.map { r in
            ForeignKeyInfo(
                name: r[0]!, table: TableName(r[1]!, r[2]!), columns: r[3]!.split(separator: ",").map(String.init),
                referencedTable: TableName(r[4]!, r[5]!), referencedColumns: r[6]!.split(separator: ",").map(String.init),
                onDelete: r[7]!.first ?? "a", validated: r[8] == "t")
        }
        return Catalog(tables: tables, foreignKeys: foreignKeys)
    }

    /// Tables grouped in dependency levels: every table's referenced tables (within `subset`)
    /// sit in an earlier level. Tables of one level do not depend on each other and may load in
    /// parallel. Self-references are ignored; a cycle is an error that names the tables.
    public func loadLevels(of subset: Set<TableName>? = nil) throws -> [[TableName]] {
        let nodes = subset ?? Set(tables.keys)
        var deps: [TableName: Set<TableName>] = [:]
        for t in nodes { deps[t] = [] }
        for fk in foreignKeys where nodes.contains(fk.table) && nodes.contains(fk.referencedTable) && fk.table != fk.referencedTable {
            deps[fk.table]!.insert(fk.referencedTable)
        }
        var levels: [[TableName]] = []
        var done: Set<TableName> = []
        while done.count < nodes.count {
            let ready = nodes.filter { !done.contains($0) && deps[$0]!.isSubset(of: done) }.sorted()
            if ready.isEmpty {
                let stuck = nodes.subtracting(done).sorted().map(\.description).joined(separator: ", ")
                throw MigrationError(.configuration, "the foreign keys among \(stuck) form a cycle; no load order exists. Defer one of the constraints.")
            }
            levels.append(ready)
            done.formUnion(ready)
        }
        return levels
    }

    /// Parents before children: a topological order of the foreign-key graph in which, among
    /// tables whose parents are all placed, the one created first comes first. For a schema
    /// created parents-first this is its creation order.
    public func loadOrder(of subset: Set<TableName>? = nil) throws -> [TableName] {
        let nodes = subset ?? Set(tables.keys)
        _ = try loadLevels(of: nodes)  // rejects cycles with a clear message
        var deps: [TableName: Set<TableName>] = [:]
        for t in nodes { deps[t] = [] }
        for fk in foreignKeys where nodes.contains(fk.table) && nodes.contains(fk.referencedTable) && fk.table != fk.referencedTable {
            deps[fk.table]!.insert(fk.referencedTable)
        }
        func key(_ t: TableName) -> (UInt32, TableName) { (tables[t]?.oid ?? UInt32.max, t) }
        var order: [TableName] = []
        var placed: Set<TableName> = []
        while placed.count < nodes.count {
            let next = nodes.filter { !placed.contains($0) && deps[$0]!.isSubset(of: placed) }.min { key($0) < key($1) }!
            order.append(next)
            placed.insert(next)
        }
        return order
    }

    /// Children before parents: the order in which tables can be emptied (the load order reversed).
    public func clearOrder(of subset: Set<TableName>? = nil) throws -> [TableName] {
        try loadOrder(of: subset).reversed()
    }
}
