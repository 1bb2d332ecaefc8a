import PGClient
import Foundation
import Logging

/// "Document current state": exact row counts and sizes of every table on both sides, server
/// versions, redacted URLs and the time, recorded in the target's migration schema.
public enum Inventory {
    public struct Table: Sendable {
        public var side: String
        public var table: String
        public var rows: Int64
        public var bytes: Int64
    }

    public struct Side: Sendable {
        public var label: String
        public var url: String
        public var version: String
        public var database: String
        public var databaseBytes: Int64
        public var tables: [Table]
    }

    public struct Report: Sendable {
        public var takenAt: Date
        public var sides: [Side]
        public init(takenAt: Date, sides: [Side]) {
            self.takenAt = takenAt
            self.sides = sides
        }
    }

    public static func side(_ c: PGConnection, schemas: [String], extraTables: [TableName] = []) async throws -> Side {
        let catalog = try await Catalog.read(c, schemas: schemas, extraTables: extraTables)
        var tables: [Table] = []
        for t in catalog.tables.keys.sorted() {
            let r = try await c.query("SELECT (SELECT count(*) FROM \(t.sql)), pg_total_relation_size($1::regclass)", [t.sql]).rows[0]
            tables.append(Table(side: c.config.label, table: t.description, rows: Int64(r[0]!) ?? 0, bytes: Int64(r[1]!) ?? 0))
        }
        let info = try await c.query("SELECT current_setting('server_version'), current_database(), pg_database_size(current_database())").rows[0]
        return Side(label: c.config.label, url: c.config.redactedURL, version: info[0] ?? "?", database: info[1] ?? "?",
                    databaseBytes: Int64(info[2] ?? "0") ?? 0, tables: tables)
    }

    /// Records the report in `state` (in the target database), one row per table.
    public static func record(_ report: Report, state: MigrationState, in c: PGConnection) async throws -> String {
        try await state.create(c)
        try await c.execute("""
            CREATE TABLE IF NOT EXISTS \(state.t("inventories")) (
                inventory_id uuid NOT NULL, taken_at timestamptz NOT NULL, side text NOT NULL, url text NOT NULL,
                server_version text NOT NULL, database text NOT NULL, table_name text NOT NULL, rows bigint NOT NULL,
                bytes bigint NOT NULL, PRIMARY KEY (inventory_id, side, table_name))
            """)
        let id = UUID().uuidString.lowercased()
        let stamp = ISO8601DateFormatter().string(from: report.takenAt)
        for s in report.sides {
            for t in s.tables {
                try await c.query("INSERT INTO \(state.t("inventories")) VALUES ($1, $2::timestamptz, $3, $4, $5, $6, $7, $8, $9)",
                                  [id, stamp, s.label, s.url, s.version, s.database, t.table, String(t.rows), String(t.bytes)])
            }
        }
        return id
    }

    /// Rows and bytes of the latest inventory of `side` recorded in `state`, if any.
    public static func recorded(_ c: PGConnection, state: MigrationState, side: String = "V1") async throws -> (rows: Int64, bytes: Int64?)? {
        guard try await state.has(c, "inventories"),
              let r = try await c.query("""
                  SELECT sum(rows), sum(bytes) FROM \(state.t("inventories"))
                  WHERE side = $1 AND inventory_id = (SELECT inventory_id FROM \(state.t("inventories")) WHERE side = $1 ORDER BY taken_at DESC LIMIT 1)
                  """, [side]).rows.first, let n = r[0].flatMap({ Int64($0) }) else { return nil }
        return (n, r[1].flatMap { Int64($0) })
    }

    /// Production's size for a prediction: the latest V1 inventory recorded in V2, else V1
    /// counted now; nil when neither side can be reached. `from` says which, for people.
    public static func production(v2: ConnectionConfig?, v1: ConnectionConfig?, state: MigrationState, schemas: [String],
                                  logger: Logger) async throws -> (rows: Int64, bytes: Int64?, from: String)? {
        if let v2, let c = try? await PGConnection.connect(v2, logger: logger) {
            let recorded = try await Self.recorded(c, state: state)
            await c.close()
            if let (n, b) = recorded { return (n, b, "the latest V1 inventory recorded in V2") }
        }
        if let v1, let c = try? await PGConnection.connect(v1, logger: logger) {
            let side = try await Self.side(c, schemas: schemas)
            await c.close()
            return (side.tables.reduce(0) { $0 + $1.rows }, side.databaseBytes, "V1 counted now (no inventory recorded)")
        }
        return nil
    }
}
