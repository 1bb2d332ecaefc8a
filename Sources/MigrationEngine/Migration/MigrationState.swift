import Foundation

/// The migration's memory, kept in the target database (a schema of its own that rollback never
/// empties), so that it survives any crash of this process: runs, per-load checkpoints committed
/// with the rows they cover, row issues, and any DDL changed during the load.
public struct MigrationState: Sendable {
    public let schema: String

    public init(schema: String) { self.schema = schema }

    public func t(_ table: String) -> String { SQL.qualified(schema, table) }

    public var ddl: String {
        """
        CREATE SCHEMA IF NOT EXISTS \(SQL.ident(schema));
        CREATE TABLE IF NOT EXISTS \(t("runs")) (
            run_id        uuid PRIMARY KEY,
            command       text NOT NULL,
            started_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
            finished_at   timestamptz,
            tool_version  text NOT NULL,
            v1_url        text,
            v2_url        text,
            os_user       text,
            outcome       text NOT NULL DEFAULT 'running',
            counts        jsonb,
            message       text
        );
        CREATE TABLE IF NOT EXISTS \(t("identity")) (
            side        text PRIMARY KEY,
            system_id   text NOT NULL,
            database    text NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
        );
        CREATE TABLE IF NOT EXISTS \(t("load_progress")) (
            load_name       text PRIMARY KEY,
            source_table    text NOT NULL,
            target_table    text NOT NULL,
            status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'loading', 'done')),
            last_source_id  bigint NOT NULL DEFAULT -9223372036854775808,  -- none yet: V1 ids may be negative
            source_rows     bigint,
            rows_read       bigint NOT NULL DEFAULT 0,
            rows_written    bigint NOT NULL DEFAULT 0,
            rows_rejected   bigint NOT NULL DEFAULT 0,
            warnings        bigint NOT NULL DEFAULT 0,
            batches         integer NOT NULL DEFAULT 0,
            started_at      timestamptz,
            finished_at     timestamptz,
            load_seconds    double precision NOT NULL DEFAULT 0,
            run_id          uuid
        );
        CREATE TABLE IF NOT EXISTS \(t("row_issues")) (
            load_name     text NOT NULL,
            source_table  text NOT NULL,
            source_id     bigint NOT NULL,
            kind          text NOT NULL CHECK (kind IN ('reject', 'warning')),
            rule          text NOT NULL,
            column_name   text NOT NULL,
            detail        text NOT NULL,
            run_id        uuid,
            PRIMARY KEY (load_name, source_id, rule, column_name)
        );
        CREATE INDEX IF NOT EXISTS row_issues_source_idx ON \(t("row_issues")) (source_table, kind, source_id);
        CREATE TABLE IF NOT EXISTS \(t("dropped_ddl")) (
            table_name    text NOT NULL,
            object_name   text NOT NULL,
            kind          text NOT NULL CHECK (kind IN ('index', 'constraint', 'foreign_key')),
            restore_sql   text NOT NULL,
            references_table text,
            dropped_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
            run_id        uuid,
            PRIMARY KEY (table_name, object_name)
        );
        CREATE TABLE IF NOT EXISTS \(t("verifications")) (
            verification_id uuid PRIMARY KEY,
            started_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
            finished_at     timestamptz,
            tool_version    text NOT NULL,
            only_loads      text[] NOT NULL DEFAULT '{}',
            outcome         text NOT NULL DEFAULT 'running' CHECK (outcome IN ('running', 'pass', 'fail', 'error')),
            complete        boolean,
            report          jsonb,
            message         text
        );
        CREATE TABLE IF NOT EXISTS \(t("decisions")) (
            decided_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
            action          text NOT NULL,
            phase           text NOT NULL,
            flags           text[] NOT NULL DEFAULT '{}',
            verification_id uuid,
            os_user         text,
            report          jsonb NOT NULL
        );
        CREATE TABLE IF NOT EXISTS \(t("monitor_samples")) (
            sampled_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
            login_attempts  bigint,
            login_failures  bigint,
            latency_p95_ms  double precision,
            baseline_p95_ms double precision,
            detail          jsonb
        );
        """
    }

    public func exists(_ c: PGConnection) async throws -> Bool {
        try await c.scalar("SELECT to_regclass($1) IS NOT NULL", [t("load_progress")]) == "t"
    }

    public func create(_ c: PGConnection) async throws {
        try await c.execute(ddl)
    }

    public struct Progress: Sendable {
        public var loadName: String
        public var status: String
        public var lastSourceID: Int64
        public var sourceRows: Int64?
        public var rowsRead: Int64
        public var rowsWritten: Int64
        public var rowsRejected: Int64
        public var warnings: Int64
        public var seconds: Double
    }

    public func progress(_ c: PGConnection) async throws -> [String: Progress] {
        guard try await exists(c) else { return [:] }
        let r = try await c.query("SELECT load_name, status, last_source_id, source_rows, rows_read, rows_written, rows_rejected, warnings, load_seconds FROM \(t("load_progress"))")
        var out: [String: Progress] = [:]
        for row in r.rows {
            out[row[0]!] = Progress(loadName: row[0]!, status: row[1]!, lastSourceID: Int64(row[2]!)!, sourceRows: row[3].flatMap { Int64($0) },
                                    rowsRead: Int64(row[4]!)!, rowsWritten: Int64(row[5]!)!, rowsRejected: Int64(row[6]!)!,
                                    warnings: Int64(row[7]!)!, seconds: Double(row[8]!) ?? 0)
        }
        return out
    }

    /// Source ids rejected so far, per source table (for the reference rules after a resume).
    public func rejectedIDs(_ c: PGConnection) async throws -> [String: IDBitset] {
        guard try await exists(c) else { return [:] }
        var out: [String: IDBitset] = [:]
        let r = try await c.query("SELECT DISTINCT source_table, source_id FROM \(t("row_issues")) WHERE kind = 'reject'")
        for row in r.rows {
            out[row[0]!, default: IDBitset()].insert(Int64(row[1]!)!)
        }
        return out
    }

    /// Records a side's identity on first use (unless `record` is false); afterwards refuses a
    /// different database.
    public func checkIdentity(_ c: PGConnection, side: String, of other: PGConnection, record: Bool = true) async throws {
        let r = try await other.query("SELECT (SELECT system_identifier::text FROM pg_control_system()), current_database()")
        let systemID = r.rows[0][0] ?? "?"
        let database = r.rows[0][1] ?? "?"
        if let recorded = try await c.query("SELECT system_id, database FROM \(t("identity")) WHERE side = $1", [side]).rows.first {
            if recorded[0] != systemID || recorded[1] != database {
                throw MigrationError(.refused, "\(side) is not the database this migration started with (recorded: system \(recorded[0]!), database \(recorded[1]!); given: system \(systemID), database \(database)). Point \(side)_DATABASE_URL at the original database, or clear V2 with `rollback --clear-v2` to start over.")
            }
        } else if record {
            try await c.query("INSERT INTO \(t("identity")) (side, system_id, database) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", [side, systemID, database])
        }
    }
}
