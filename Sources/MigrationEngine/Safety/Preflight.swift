import PGClient
import Foundation
import Logging

/// What a migration needs of each side, supplied by the application module.
public struct PreflightProfile: Sendable {
    /// Schemas whose every table must be readable on the source (V1).
    public var sourceSchemas: [String]
    /// Schemas whose every table must be writable on the target (V2).
    public var targetSchemas: [String]
    /// Further target tables to write (e.g. `auth.users` on Supabase).
    public var extraTargetTables: [TableName]
    /// The source role the application connects as (whose grants read-only mode changes).
    public var appRole: String
    /// The target tables the load writes (the plan's load targets), whose triggers are reported.
    public var loadTargets: [TableName]

    public init(sourceSchemas: [String], targetSchemas: [String], extraTargetTables: [TableName], appRole: String, loadTargets: [TableName] = []) {
        self.sourceSchemas = sourceSchemas
        self.targetSchemas = targetSchemas
        self.extraTargetTables = extraTargetTables
        self.appRole = appRole
        self.loadTargets = loadTargets
    }
}

public struct PreflightCheck: Sendable {
    public var side: String
    public var name: String
    public var passed: Bool
    /// What was found; for a failure, what is missing and how to grant it.
    public var detail: String
}

public struct ServerInfo: Sendable {
    public var side: String
    public var url: String
    public var version: String
    public var versionNumber: Int
    public var user: String
    public var database: String
    public var isSuperuser: Bool
}

public struct PreflightReport: Sendable {
    public var servers: [ServerInfo]
    public var checks: [PreflightCheck]
    public var passed: Bool { checks.allSatisfy(\.passed) }
}

/// Connects to both sides and verifies every privilege later steps need, naming what is missing.
public enum Preflight {
    public static func server(_ c: PGConnection) async throws -> ServerInfo {
        let r = try await c.query("SELECT current_setting('server_version'), current_setting('server_version_num')::int, current_user, current_database(), (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)")
        let row = r.rows[0]
        return ServerInfo(side: c.config.label, url: c.config.redactedURL, version: row[0] ?? "?", versionNumber: Int(row[1] ?? "0") ?? 0,
                          user: row[2] ?? "?", database: row[3] ?? "?", isSuperuser: row[4] == "t")
    }

    /// Tables of `catalog` lacking any of `privileges` for the current user, as "table (PRIV, …)".
    static func missing(_ c: PGConnection, tables: [TableName], privileges: [String]) async throws -> [String] {
        var out: [String] = []
        for t in tables.sorted() {
            var lacking: [String] = []
            for p in privileges {
                let ok = try await c.scalar("SELECT has_table_privilege($1::regclass, $2)", [t.sql, p]) == "t"
                if !ok { lacking.append(p) }
            }
            if !lacking.isEmpty { out.append("\(t) (\(lacking.joined(separator: ", ")))") }
        }
        return out
    }

    /// A function a later step calls: its signature, which command needs it and for what, and
    /// whether the command has a way without it (then a missing grant passes, with a note).
    struct FunctionUse {
        var signature: String
        var use: String
        var without: String?
    }

    /// Functions the commands call on V1 (grep the SQL: every function PostgreSQL lets a DBA revoke).
    static let sourceFunctions: [FunctionUse] = [
        FunctionUse(signature: "pg_export_snapshot()", use: "migrate: one consistent snapshot of V1 for every load"),
        FunctionUse(signature: "pg_try_advisory_lock(integer, integer)", use: "migrate: tells V1 and V2 apart when pg_control_system() is not granted"),
        FunctionUse(signature: "pg_advisory_unlock(integer, integer)", use: "migrate: the same probe's release"),
        FunctionUse(signature: "txid_current_snapshot()", use: "migrate, verify-integrity: V1's identity (transaction counter)"),
        FunctionUse(signature: "pg_control_system()", use: "migrate, verify-integrity, cutover: V1's identity (system identifier)",
                    without: "the identity checks use the database's oid and the transaction counter instead, and a live probe to tell V1 and V2 apart (a copy restored under the same name and oid on a busier cluster is not told apart)"),
        FunctionUse(signature: "pg_terminate_backend(integer, bigint)", use: "read-only enable: ends the application's open sessions"),
        FunctionUse(signature: "pg_advisory_xact_lock(bigint)", use: "sync-v2-to-v1: one sync at a time"),
    ]

    /// Functions the commands call on V2.
    static let targetFunctions: [FunctionUse] = [
        FunctionUse(signature: "pg_try_advisory_xact_lock(bigint)", use: "migrate, rollback --clear-v2: one migrate at a time (the migration lock, held by its own transaction)"),
        FunctionUse(signature: "txid_current_snapshot()", use: "migrate, verify-integrity, rollback --clear-v2: V2's identity (transaction counter)"),
        FunctionUse(signature: "pg_control_system()", use: "migrate, verify-integrity, rollback --clear-v2: V2's identity (system identifier)",
                    without: "the identity checks use the database's oid and the transaction counter instead (rollback --clear-v2 does not need it)"),
    ]

    /// One check per function of `uses`: may the current user EXECUTE it.
    static func functionGrants(_ c: PGConnection, _ uses: [FunctionUse]) async throws -> [PreflightCheck] {
        let side = c.config.label
        let user = try await c.scalar("SELECT current_user") ?? "?"
        var checks: [PreflightCheck] = []
        for f in uses {
            let ok = try await c.scalar("SELECT has_function_privilege($1, 'EXECUTE')", ["pg_catalog." + f.signature]) == "t"
            let grant = "GRANT EXECUTE ON FUNCTION \(f.signature) TO \(SQL.ident(user)); (as a superuser)"
            checks.append(PreflightCheck(
                side: side, name: "EXECUTE \(f.signature)", passed: ok || f.without != nil,
                detail: ok ? "\(user) may call it (\(f.use))"
                    : f.without.map { "not granted to \(user) (\(f.use)); without it \($0). For the full check: \(grant)" }
                    ?? "\(user) may not call it, and \(f.use). Fix: \(grant)"))
        }
        return checks
    }

    public static func checkSource(_ c: PGConnection, profile: PreflightProfile) async throws -> [PreflightCheck] {
        var checks: [PreflightCheck] = []
        let side = c.config.label
        let user = try await c.scalar("SELECT current_user") ?? "?"
        let catalog = try await Catalog.read(c, schemas: profile.sourceSchemas)
        let tables = Array(catalog.tables.keys)
        if tables.isEmpty {
            checks.append(PreflightCheck(side: side, name: "tables present", passed: false,
                                         detail: "no tables in schema(s) \(profile.sourceSchemas.joined(separator: ", ")): is this the right database?"))
        }
        let unreadable = try await missing(c, tables: tables, privileges: ["SELECT"])
        checks.append(PreflightCheck(
            side: side, name: "read every table", passed: unreadable.isEmpty,
            detail: unreadable.isEmpty ? "\(tables.count) tables readable"
                : "cannot read \(unreadable.joined(separator: "; ")). Fix: GRANT SELECT ON ALL TABLES IN SCHEMA \(profile.sourceSchemas.joined(separator: ", ")) TO \(user);"))

        let roleExists = try await c.scalar("SELECT 1 FROM pg_roles WHERE rolname = $1", [profile.appRole]) != nil
        checks.append(PreflightCheck(side: side, name: "application role exists", passed: roleExists,
                                     detail: roleExists ? "role \(profile.appRole) found" : "no role named \(profile.appRole): pass the right one with --app-role"))
        // Changing the app role's grants needs ownership (or membership in the owner role) of
        // every table and sequence; setting its default_transaction_read_only needs CREATEROLE.
        let notOwned = try await c.query("""
            SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p', 'S')
              AND NOT pg_has_role(current_user, c.relowner, 'USAGE')
            ORDER BY 1
            """, ["{" + profile.sourceSchemas.joined(separator: ",") + "}"]).rows.compactMap { $0[0] }
        checks.append(PreflightCheck(
            side: side, name: "change grants of the app role", passed: notOwned.isEmpty,
            detail: notOwned.isEmpty ? "\(user) owns every table and sequence"
                : "\(user) does not own \(notOwned.prefix(10).joined(separator: ", "))\(notOwned.count > 10 ? " and \(notOwned.count - 10) more" : ""). Fix: connect as the schema owner, or GRANT <owner role> TO \(user);"))
        let canAlterRole = try await c.scalar("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user") == "t"
        checks.append(PreflightCheck(
            side: side, name: "set the app role read-only", passed: canAlterRole,
            detail: canAlterRole ? "\(user) may ALTER ROLE \(profile.appRole) SET default_transaction_read_only"
                : "\(user) lacks CREATEROLE. Fix: ALTER ROLE \(user) CREATEROLE; (as an administrator)"))
        let canSignal = try await c.scalar("SELECT pg_has_role(current_user, 'pg_signal_backend', 'MEMBER') OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)") == "t"
        checks.append(PreflightCheck(
            side: side, name: "end the app role's sessions", passed: canSignal,
            detail: canSignal ? "\(user) may terminate \(profile.appRole)'s sessions"
                : "\(user) is not a member of pg_signal_backend. Fix: GRANT pg_signal_backend TO \(user);"))
        checks += try await functionGrants(c, sourceFunctions)
        return checks
    }

    public static func checkTarget(_ c: PGConnection, profile: PreflightProfile) async throws -> [PreflightCheck] {
        var checks: [PreflightCheck] = []
        let side = c.config.label
        let user = try await c.scalar("SELECT current_user") ?? "?"
        let catalog = try await Catalog.read(c, schemas: profile.targetSchemas, extraTables: profile.extraTargetTables)
        let missingExtra = profile.extraTargetTables.filter { catalog.tables[$0] == nil }
        if !missingExtra.isEmpty {
            checks.append(PreflightCheck(side: side, name: "tables present", passed: false,
                                         detail: "missing \(missingExtra.map(\.description).joined(separator: ", ")): is this the right database?"))
        }
        let tables = Array(catalog.tables.keys)
        let unwritable = try await missing(c, tables: tables, privileges: ["SELECT", "INSERT", "UPDATE", "DELETE"])
        checks.append(PreflightCheck(
            side: side, name: "write every table", passed: unwritable.isEmpty,
            detail: unwritable.isEmpty ? "\(tables.count) tables writable (including \(profile.extraTargetTables.map(\.description).joined(separator: ", ")))"
                : "cannot write \(unwritable.joined(separator: "; ")). Fix: GRANT SELECT, INSERT, UPDATE, DELETE ON <table> TO \(user);"))
        // session_replication_role (triggers off during the bulk load): try it, then roll back.
        var replicaOK = true
        var replicaDetail = "\(user) may SET session_replication_role = replica"
        do {
            try await c.execute("BEGIN; SET LOCAL session_replication_role = replica; ROLLBACK;")
        } catch {
            try? await c.execute("ROLLBACK")
            replicaOK = false
            replicaDetail = "\(user) may not SET session_replication_role. Fix (PostgreSQL 15+): GRANT SET ON PARAMETER session_replication_role TO \(user);"
        }
        checks.append(PreflightCheck(side: side, name: "SET session_replication_role", passed: replicaOK, detail: replicaDetail))
        checks.append(try await triggers(c, tables: profile.loadTargets))
        // A foreign key held NOT VALID on a table the load writes is not enforced for every row.
        let unvalidated = try await DDLJournal.unvalidatedForeignKeys(c, tables: profile.loadTargets, state: nil)
        checks.append(PreflightCheck(
            side: side, name: "foreign keys validated", passed: unvalidated.isEmpty,
            detail: unvalidated.isEmpty ? "every foreign key of the \(Set(profile.loadTargets).count) tables the load writes is validated"
                : unvalidated.map(\.description).joined(separator: "; ") + ". Fix: " + unvalidated.map { "ALTER TABLE \($0.table) VALIDATE CONSTRAINT \(SQL.ident($0.name));" }.joined(separator: " ")
                  + " (or `migrate --resume`, which validates the keys it set aside)"))
        let canCreateSchema = try await c.scalar("SELECT has_database_privilege(current_database(), 'CREATE')") == "t"
        checks.append(PreflightCheck(
            side: side, name: "create the migration schema", passed: canCreateSchema,
            detail: canCreateSchema ? "\(user) may create the migration state schema"
                : "\(user) may not create schemas. Fix: GRANT CREATE ON DATABASE <db> TO \(user);"))
        checks += try await functionGrants(c, targetFunctions)
        return checks
    }

    /// The user triggers on the tables the load writes, and what the load does with each. The load
    /// runs with `session_replication_role = replica`: an ordinary trigger (`tgenabled` 'O') does
    /// not fire during it; one set `ENABLE ALWAYS` ('A') or `ENABLE REPLICA` ('R') does, once per
    /// migrated row (e.g. a Supabase app's `on_auth_user_created`, inserting a profile for each
    /// user, which then collides with the migrated profiles): that fails the check, with the fix.
    static func triggers(_ c: PGConnection, tables: [TableName]) async throws -> PreflightCheck {
        let side = c.config.label
        let targets = Array(Set(tables)).sorted()
        let rows = try await c.query("""
            SELECT n.nspname, c.relname, t.tgname, t.tgenabled::text,
                   CASE WHEN t.tgtype & 2 <> 0 THEN 'BEFORE' WHEN t.tgtype & 64 <> 0 THEN 'INSTEAD OF' ELSE 'AFTER' END || ' ' ||
                   array_to_string(array_remove(ARRAY[CASE WHEN t.tgtype & 4 <> 0 THEN 'INSERT' END, CASE WHEN t.tgtype & 16 <> 0 THEN 'UPDATE' END,
                                                      CASE WHEN t.tgtype & 8 <> 0 THEN 'DELETE' END, CASE WHEN t.tgtype & 32 <> 0 THEN 'TRUNCATE' END], NULL), ' OR ')
                   || ' → ' || t.tgfoid::regproc::text || '()'
            FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE NOT t.tgisinternal AND t.tgrelid IN (SELECT to_regclass(x) FROM unnest($1::text[]) x)
            ORDER BY 1, 2, 3
            """, [pgTextArray(targets.map(\.sql))]).rows
        if rows.isEmpty {
            return PreflightCheck(side: side, name: "triggers on the migrated tables", passed: true,
                                  detail: "no triggers on the \(targets.count) tables the load writes (\(targets.map(\.description).joined(separator: ", ")))")
        }
        var firing: [String] = []
        var notes: [String] = []
        for r in rows {
            let table = TableName(r[0] ?? "?", r[1] ?? "?")
            let name = r[2] ?? "?"
            let what = "\(table) \(name) (\(r[4] ?? "?"))"
            switch r[3] {
            case "O":
                notes.append("\(what): ordinary, off during the load (migrate loads with session_replication_role = replica), fires again afterwards")
            case "D":
                notes.append("\(what): disabled, does not fire")
            case "A", "R":
                let mode = r[3] == "A" ? "ENABLE ALWAYS" : "ENABLE REPLICA"
                firing.append("\(what) is set \(mode): it fires during the load even with session_replication_role = replica, once per migrated row. Fix: ALTER TABLE \(table.sql) ENABLE TRIGGER \(SQL.ident(name)); (ordinary: off during the load) or ALTER TABLE \(table.sql) DISABLE TRIGGER \(SQL.ident(name)); until the migration is done")
                notes.append("\(what): \(mode), fires during the load")
            default:
                notes.append("\(what): tgenabled \(r[3] ?? "?")")
            }
        }
        return PreflightCheck(side: side, name: "triggers on the migrated tables", passed: firing.isEmpty,
                              detail: firing.isEmpty ? "\(rows.count) trigger\(rows.count == 1 ? "" : "s"): " + notes.joined(separator: "; ")
                                  : firing.joined(separator: "; ") + (notes.count > firing.count ? ". All triggers: " + notes.joined(separator: "; ") : ""))
    }

    public static func run(v1: PGConnection, v2: PGConnection, profile: PreflightProfile) async throws -> PreflightReport {
        let servers = [try await server(v1), try await server(v2)]
        var checks = try await checkSource(v1, profile: profile)
        checks += try await checkTarget(v2, profile: profile)
        if servers[1].versionNumber < 150000 {
            checks.append(PreflightCheck(side: "V2", name: "server version", passed: false, detail: "V2 runs \(servers[1].version); PostgreSQL 15 or newer is required"))
        }
        return PreflightReport(servers: servers, checks: checks)
    }
}
