import PGClient
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
        -- What identifies a database without superuser grants (pg_control_system() may be revoked).
        ALTER TABLE \(t("identity")) ADD COLUMN IF NOT EXISTS database_oid text, ADD COLUMN IF NOT EXISTS next_xid text;
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

    /// Whether the state table `table` exists (state tables are created on demand).
    public func has(_ c: PGConnection, _ table: String) async throws -> Bool {
        try await c.scalar("SELECT to_regclass($1) IS NOT NULL", [t(table)]) == "t"
    }

    public func exists(_ c: PGConnection) async throws -> Bool {
        try await has(c, "load_progress")
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

    /// What identifies a database: the cluster's system identifier (`pg_control_system()`, which
    /// a provider or DBA may not grant: then nil), the database's name and oid, and the cluster's
    /// next transaction id (it only grows, so a database whose counter is behind a recorded
    /// value is not the one recorded: a restored or re-created copy).
    public struct Identity: Sendable, Equatable {
        public var systemID: String?
        public var database: String
        public var databaseOID: String
        public var nextXID: String?

        public static func read(_ c: PGConnection) async throws -> Identity {
            let r = try await c.query("""
                SELECT current_database(), (SELECT oid::text FROM pg_database WHERE datname = current_database()),
                       txid_snapshot_xmax(txid_current_snapshot())::text,
                       has_function_privilege('pg_catalog.pg_control_system()', 'EXECUTE')
                """).rows[0]
            var systemID: String?
            if r[3] == "t" {
                systemID = try await c.scalar("SELECT system_identifier::text FROM pg_control_system()")
            }
            return Identity(systemID: systemID, database: r[0] ?? "?", databaseOID: r[1] ?? "?", nextXID: r[2])
        }

        public var description: String {
            "system \(systemID ?? "not readable (pg_control_system() not granted)"), database \(database) (oid \(databaseOID))"
        }

        /// Why `self` (read now) is not the recorded database, or nil when it is. With both
        /// system identifiers: they and the name decide. Without one: the name, the database's
        /// oid and the transaction counter (which must not be behind the recorded one) decide.
        public func mismatch(recorded: Identity) -> String? {
            if let a = recorded.systemID, let b = systemID {
                return a == b && recorded.database == database ? nil : "recorded: system \(a), database \(recorded.database); here: system \(b), database \(database)"
            }
            if recorded.database != database { return "recorded: database \(recorded.database); here: database \(database)" }
            guard recorded.databaseOID != "?", !recorded.databaseOID.isEmpty else {
                return "the recorded identity has no database oid and this server does not let \(database)'s user read pg_control_system(), so it cannot be compared. Fix: GRANT EXECUTE ON FUNCTION pg_control_system() TO <user>; (as a superuser)"
            }
            if recorded.databaseOID != databaseOID { return "recorded: database \(recorded.database) oid \(recorded.databaseOID); here: oid \(databaseOID) (a re-created or restored copy)" }
            if let r = recorded.nextXID.flatMap(UInt64.init), let h = nextXID.flatMap(UInt64.init), h < r {
                return "this server's transaction counter (\(h)) is behind the one recorded (\(r)): another cluster, or a restored copy"
            }
            return nil
        }
    }

    /// The identity recorded for `side`, if any.
    public func recordedIdentity(_ c: PGConnection, side: String) async throws -> Identity? {
        // Through to_jsonb: a state schema of an older version has neither database_oid nor next_xid.
        guard let r = try await c.query("SELECT i.system_id, i.database, coalesce(to_jsonb(i) ->> 'database_oid', ''), to_jsonb(i) ->> 'next_xid' FROM \(t("identity")) i WHERE side = $1", [side]).rows.first else { return nil }
        return Identity(systemID: (r[0] ?? "").isEmpty ? nil : r[0], database: r[1] ?? "?", databaseOID: r[2] ?? "", nextXID: r[3])
    }

    /// Records a side's identity on first use (unless `record` is false); afterwards refuses a
    /// different database.
    public func checkIdentity(_ c: PGConnection, side: String, of other: PGConnection, record: Bool = true) async throws {
        let here = try await Identity.read(other)
        if let recorded = try await recordedIdentity(c, side: side) {
            if let why = here.mismatch(recorded: recorded) {
                throw MigrationError(.refused, "\(side) is not the database this migration started with (\(why)). Point \(side)_DATABASE_URL at the original database, or clear V2 with `rollback --clear-v2` to start over.")
            }
            // Identities recorded before the oid was: completed while the system identifier vouches.
            if recorded.databaseOID.isEmpty, recorded.systemID != nil, here.systemID != nil {
                try await addIdentityColumns(c)
                try await c.query("UPDATE \(t("identity")) SET database_oid = $2 WHERE side = $1 AND database_oid IS NULL", [side, here.databaseOID])
            }
        } else if record {
            try await addIdentityColumns(c)
            try await c.query("INSERT INTO \(t("identity")) (side, system_id, database, database_oid, next_xid) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                              [side, here.systemID ?? "", here.database, here.databaseOID, here.nextXID])
        }
    }

    /// The identity columns added after the first release, for a state schema an older version made.
    func addIdentityColumns(_ c: PGConnection) async throws {
        try await c.execute("ALTER TABLE \(t("identity")) ADD COLUMN IF NOT EXISTS database_oid text, ADD COLUMN IF NOT EXISTS next_xid text")
    }

    /// Whether `a` and `b` are connected to the same database of the same server. By system
    /// identifier when both are readable; otherwise by a live probe that needs no grant: an
    /// advisory lock with a random key taken through `a`, looked for in `b`'s `pg_locks`.
    public static func sameDatabase(_ a: PGConnection, _ b: PGConnection) async throws -> Bool {
        let ia = try await Identity.read(a)
        let ib = try await Identity.read(b)
        if let x = ia.systemID, let y = ib.systemID { return x == y && ia.database == ib.database }
        let key = Int32.random(in: 1...Int32.max)
        let tag = 0x6374_6D00  // "ctm\0"
        guard try await a.scalar("SELECT pg_try_advisory_lock(\(tag), \(key))") == "t" else { return false }
        let seen = try await b.scalar("""
            SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = \(tag)::oid AND objid = \(key)::oid AND objsubid = 2
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND pid <> pg_backend_pid()
            """)
        _ = try await a.scalar("SELECT pg_advisory_unlock(\(tag), \(key))")
        return seen != "0"
    }
}
