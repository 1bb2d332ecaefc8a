import PGClient
import Foundation
import Logging

/// V1 read-only mode for the application role, and its exact undo.
///
/// A bare `REVOKE … FROM app_user` is not enough: privileges that reach the role through PUBLIC,
/// through roles it is a member of (any depth, inherited or reachable with SET ROLE), through
/// column grants, or on sequences survive it, and a blanket GRANT afterwards does not restore
/// what was there. So `enable` records every write privilege that reaches the role (object,
/// grantee, privilege, grantor, grant option) in schema `cocoatrack_readonly` of V1, revokes each
/// in the same transaction, sets `default_transaction_read_only` for the role in V1's database as a second layer,
/// waits for (then ends) the role's open sessions, and proves the result with a write probe as
/// the role inside a rolled-back transaction. Any failure undoes everything. `disable` re-grants
/// exactly what was recorded (same grantor, same grant option).
public struct ReadOnlyMode: Sendable {
    public let source: ConnectionConfig
    public let appRole: String
    public let schemas: [String]
    public let logger: Logger
    public static let stateSchema = "cocoatrack_readonly"

    public init(source: ConnectionConfig, appRole: String, schemas: [String], logger: Logger) {
        self.source = source
        self.appRole = appRole
        self.schemas = schemas
        self.logger = logger
    }

    func t(_ name: String) -> String { SQL.qualified(Self.stateSchema, name) }

    /// One write privilege that reaches the app role.
    public struct Grant: Sendable, Hashable, CustomStringConvertible {
        public var objectKind: String   // table, sequence, column
        public var object: String       // quoted qualified name
        public var column: String?
        public var grantee: String      // role name, or PUBLIC
        public var grantor: String
        public var privilege: String
        public var grantable: Bool
        public var description: String {
            if objectKind == "default" {
                return "\(privilege) on future \((column ?? "TABLES").lowercased()) (default privileges \(object)) via \(grantee)"
            }
            return "\(privilege) on \(objectKind) \(object)\(column.map { "(\($0))" } ?? "") via \(grantee == "PUBLIC" ? "PUBLIC" : grantee)"
        }
    }

    public struct Status: Sendable {
        public var enabled: Bool
        public var roleReadOnlySetting: Bool
        public var writable: [Grant]
        public var blockers: [String]
    }

    /// Roles whose privileges the app role can use: itself and every role it is a member of,
    /// at any depth (inherited or through SET ROLE).
    static let reachSQL = """
        WITH RECURSIVE reach(oid) AS (
            SELECT oid FROM pg_roles WHERE rolname = $1
            UNION SELECT m.roleid FROM pg_auth_members m JOIN reach r ON m.member = r.oid
        )
        """

    func writeGrants(_ s: PGSession) throws -> [Grant] {
        let schemaList = "{" + schemas.joined(separator: ",") + "}"
        let rows = try s.query("""
            \(Self.reachSQL)
            SELECT CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'table' END, format('%I.%I', n.nspname, c.relname), NULL::text,
                   CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, pg_get_userbyid(a.grantor),
                   a.privilege_type, a.is_grantable
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            CROSS JOIN LATERAL aclexplode(c.relacl) a
            WHERE n.nspname = ANY($2::text[]) AND c.relkind IN ('r', 'p', 'S') AND c.relacl IS NOT NULL
              AND (a.grantee = 0 OR a.grantee IN (SELECT oid FROM reach)) AND a.grantee <> c.relowner
              AND ((c.relkind <> 'S' AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'))
                OR (c.relkind = 'S' AND a.privilege_type IN ('UPDATE', 'USAGE')))
            UNION ALL
            SELECT 'column', format('%I.%I', n.nspname, c.relname), att.attname::text,
                   CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, pg_get_userbyid(a.grantor),
                   a.privilege_type, a.is_grantable
            FROM pg_attribute att JOIN pg_class c ON c.oid = att.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            CROSS JOIN LATERAL aclexplode(att.attacl) a
            WHERE n.nspname = ANY($2::text[]) AND c.relkind IN ('r', 'p') AND att.attacl IS NOT NULL AND att.attnum > 0
              AND (a.grantee = 0 OR a.grantee IN (SELECT oid FROM reach)) AND a.grantee <> c.relowner
              AND a.privilege_type IN ('INSERT', 'UPDATE')
            UNION ALL
            SELECT 'default', format('FOR ROLE %I IN SCHEMA %I', pg_get_userbyid(d.defaclrole), n.nspname),
                   CASE d.defaclobjtype WHEN 'S' THEN 'SEQUENCES' ELSE 'TABLES' END,
                   CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, pg_get_userbyid(a.grantor),
                   a.privilege_type, a.is_grantable
            FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace
            CROSS JOIN LATERAL aclexplode(d.defaclacl) a
            WHERE n.nspname = ANY($2::text[]) AND d.defaclobjtype IN ('r', 'S')
              AND (a.grantee = 0 OR a.grantee IN (SELECT oid FROM reach)) AND a.grantee <> d.defaclrole
              AND ((d.defaclobjtype = 'r' AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'))
                OR (d.defaclobjtype = 'S' AND a.privilege_type IN ('UPDATE', 'USAGE')))
            ORDER BY 2, 3, 4, 6
            """, [appRole, schemaList]).rows
        return rows.map { Grant(objectKind: $0[0]!, object: $0[1]!, column: $0[2], grantee: $0[3]!, grantor: $0[4]!, privilege: $0[5]!, grantable: $0[6] == "t") }
    }

    /// Reasons no grant can make the role read-only (superuser, owner of a table, …).
    func blockers(_ s: PGSession) throws -> [String] {
        let schemaList = "{" + schemas.joined(separator: ",") + "}"
        guard let role = try s.query("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1", [appRole]).rows.first else {
            return ["no role named \(appRole) in V1: pass the application's role with --app-role"]
        }
        var out: [String] = []
        if role[0] == "t" { out.append("\(appRole) is a superuser: no grant can stop it writing") }
        let owned = try s.query("""
            \(Self.reachSQL)
            SELECT format('%I.%I', n.nspname, c.relname), pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = ANY($2::text[]) AND c.relkind IN ('r', 'p', 'S') AND c.relowner IN (SELECT oid FROM reach)
            ORDER BY 1
            """, [appRole, schemaList]).rows
        if !owned.isEmpty {
            out.append("\(appRole) owns (or is a member of the owner of) \(owned.prefix(5).map { "\($0[0]!) (owner \($0[1]!))" }.joined(separator: ", ")): an owner can always grant itself writes back; transfer ownership to the schema owner first")
        }
        return out
    }

    /// The role's read-only default is set for V1's database only: a role-wide `ALTER ROLE … SET`
    /// would also make the role read-only in every other database of the server.
    static func inThisDatabase(_ s: PGSession) throws -> String {
        "IN DATABASE " + SQL.ident(try s.query("SELECT current_database()").rows.first?[0] ?? "")
    }

    func roleSetting(_ s: PGSession) throws -> String? {
        let r = try s.query("""
            SELECT x FROM pg_db_role_setting d JOIN pg_roles r ON r.oid = d.setrole, unnest(d.setconfig) x
            WHERE r.rolname = $1 AND d.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND x LIKE 'default_transaction_read_only=%'
            """, [appRole]).rows
        return r.first?[0]?.split(separator: "=", maxSplits: 1).last.map(String.init)
    }

    /// After V2 is cleared: whether V1 is still read-only for the role (when V1 can be asked),
    /// with `fix`, the command that makes it writable.
    public static func afterClearHint(_ mode: ReadOnlyMode?, fix: String) async -> String {
        guard let mode else {
            return "V1 is untouched: if read-only mode is on there (read-only enable), the application still cannot write V1. Make it writable again with: \(fix)"
        }
        switch try? await mode.status() {
        case .some(let st) where st.enabled || st.roleReadOnlySetting:
            return "V1 is still read-only for \(mode.appRole): the application cannot write V1 yet. Make it writable again with: \(fix)"
        case .some:
            return "V1 is writable for \(mode.appRole) (read-only mode is off)."
        case .none:
            return "V1 could not be checked: if read-only mode is on there, make it writable again with: \(fix)"
        }
    }

    public func status() async throws -> Status {
        let c = try await PGConnection.connect(source, logger: logger)
        defer { Task { await c.close() } }
        let stateExists = try await c.scalar("SELECT to_regclass($1) IS NOT NULL", [t("revoked")]) == "t"
        return try await c.withSession { s in
            let enabled = stateExists ? (try s.query("SELECT value FROM \(self.t("state")) WHERE key = 'enabled'").rows.first?[0] == "true") : false
            return Status(enabled: enabled, roleReadOnlySetting: try self.roleSetting(s)?.lowercased() == "on",
                          writable: try self.writeGrants(s), blockers: try self.blockers(s))
        }
    }

    public struct EnableReport: Sendable {
        public var revoked: [Grant]
        public var sessionsEnded: Int
        public var probed: Int
    }

    public func enable(sessionTimeout: Duration = .seconds(30)) async throws -> EnableReport {
        let c = try await PGConnection.connect(source, logger: logger)
        defer { Task { await c.close() } }
        let t = self.t
        let appRole = self.appRole
        // 1. Record and revoke, in one transaction.
        let revoked: [Grant] = try await c.withSession { s in
            let blockers = try self.blockers(s)
            if !blockers.isEmpty {
                throw MigrationError(.refused, "cannot make \(appRole) read-only: \(blockers.joined(separator: "; ")). Nothing was changed.")
            }
            try s.execute("BEGIN")
            do {
                try s.execute("""
                    CREATE SCHEMA IF NOT EXISTS \(SQL.ident(Self.stateSchema));
                    CREATE TABLE IF NOT EXISTS \(t("revoked")) (
                        object_kind text NOT NULL, object text NOT NULL, column_name text, grantee text NOT NULL,
                        grantor text NOT NULL, privilege text NOT NULL, grantable boolean NOT NULL,
                        revoked_at timestamptz NOT NULL DEFAULT clock_timestamp());
                    CREATE TABLE IF NOT EXISTS \(t("state")) (key text PRIMARY KEY, value text);
                    REVOKE ALL ON SCHEMA \(SQL.ident(Self.stateSchema)) FROM PUBLIC;
                    """)
                let grants = try self.writeGrants(s)
                for g in grants {
                    _ = try s.query("INSERT INTO \(t("revoked")) (object_kind, object, column_name, grantee, grantor, privilege, grantable) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                                    [g.objectKind, g.object, g.column, g.grantee, g.grantor, g.privilege, g.grantable ? "true" : "false"])
                    try s.execute(Self.revokeSQL(g))
                }
                if try s.query("SELECT value FROM \(t("state")) WHERE key = 'previous_read_only_setting'").rows.isEmpty {
                    _ = try s.query("INSERT INTO \(t("state")) (key, value) VALUES ('previous_read_only_setting', $1)", [try self.roleSetting(s)])
                }
                try s.execute("ALTER ROLE \(SQL.ident(appRole)) \(try Self.inThisDatabase(s)) SET default_transaction_read_only = on")
                try s.execute("INSERT INTO \(t("state")) (key, value) VALUES ('enabled', 'true') ON CONFLICT (key) DO UPDATE SET value = 'true'")
                try s.execute("COMMIT")
                return grants
            } catch {
                try? s.execute("ROLLBACK")
                throw error
            }
        }
        do {
            // 2. Let open transactions finish, then end the role's sessions (they reconnect read-only).
            let ended = try await endSessions(c, timeout: sessionTimeout)
            // 3. Prove it.
            let probed = try await probe(c)
            return EnableReport(revoked: revoked, sessionsEnded: ended, probed: probed)
        } catch {
            logger.error("read-only enable failed; undoing", metadata: ["error": "\(error)"])
            c.clearCancellation()
            _ = try? await disable()
            throw error
        }
    }

    static func revokeSQL(_ g: Grant) -> String {
        if g.objectKind == "default" {
            let grantee = g.grantee == "PUBLIC" ? "PUBLIC" : SQL.ident(g.grantee)
            return "ALTER DEFAULT PRIVILEGES \(g.object) REVOKE \(g.privilege) ON \(g.column ?? "TABLES") FROM \(grantee)"
        }
        let target = g.objectKind == "sequence" ? "SEQUENCE \(g.object)" : "TABLE \(g.object)"
        let priv = g.column.map { "\(g.privilege) (\(SQL.ident($0)))" } ?? g.privilege
        let grantee = g.grantee == "PUBLIC" ? "PUBLIC" : SQL.ident(g.grantee)
        return "REVOKE \(priv) ON \(target) FROM \(grantee) GRANTED BY \(SQL.ident(g.grantor))"
    }

    static func grantSQL(_ g: Grant) -> String {
        if g.objectKind == "default" {
            let grantee = g.grantee == "PUBLIC" ? "PUBLIC" : SQL.ident(g.grantee)
            return "ALTER DEFAULT PRIVILEGES \(g.object) GRANT \(g.privilege) ON \(g.column ?? "TABLES") TO \(grantee)\(g.grantable ? " WITH GRANT OPTION" : "")"
        }
        let target = g.objectKind == "sequence" ? "SEQUENCE \(g.object)" : "TABLE \(g.object)"
        let priv = g.column.map { "\(g.privilege) (\(SQL.ident($0)))" } ?? g.privilege
        let grantee = g.grantee == "PUBLIC" ? "PUBLIC" : SQL.ident(g.grantee)
        return "GRANT \(priv) ON \(target) TO \(grantee)\(g.grantable ? " WITH GRANT OPTION" : "") GRANTED BY \(SQL.ident(g.grantor))"
    }

    func endSessions(_ c: PGConnection, timeout: Duration) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let busy = try await c.scalar("SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND datname = current_database() AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)') AND pid <> pg_backend_pid()", [appRole])
            if busy == "0" { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        let r = try await c.query("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = $1 AND datname = current_database() AND pid <> pg_backend_pid()", [appRole])
        return Int(r.rows[0][0] ?? "0") ?? 0
    }

    /// Every kind of write as the app role, each in a savepoint of a transaction that is rolled
    /// back: each must be refused. Returns the number of probes.
    func probe(_ c: PGConnection) async throws -> Int {
        let appRole = self.appRole
        let schemaList = "{" + schemas.joined(separator: ",") + "}"
        return try await c.withSession { s in
            let member = try s.query("SELECT pg_has_role(current_user, $1, 'MEMBER')", [appRole]).rows[0][0] == "t"
            if !member { try s.execute("GRANT \(SQL.ident(appRole)) TO CURRENT_USER") }
            defer { if !member { try? s.execute("REVOKE \(SQL.ident(appRole)) FROM CURRENT_USER") } }
            let tables = try s.query("""
                SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p') ORDER BY 1
                """, [schemaList]).rows.map { $0[0]! }
            let sequences = try s.query("""
                SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = ANY($1::text[]) AND c.relkind = 'S' ORDER BY 1
                """, [schemaList]).rows.map { $0[0]! }
            var allowed: [String] = []
            var count = 0
            try s.execute("BEGIN")
            defer { try? s.execute("ROLLBACK") }
            try s.execute("SET LOCAL ROLE \(SQL.ident(appRole))")
            var statements: [String] = []
            for t in tables {
                statements += ["INSERT INTO \(t) DEFAULT VALUES", "UPDATE \(t) SET \(try firstColumn(s, t)) = \(try firstColumn(s, t)) WHERE false",
                               "DELETE FROM \(t) WHERE false", "TRUNCATE \(t)"]
            }
            for q in sequences { statements.append("SELECT nextval('\(q)')") }
            for sql in statements {
                count += 1
                try s.execute("SAVEPOINT probe")
                do {
                    try s.execute(sql)
                    allowed.append(sql)
                    try s.execute("ROLLBACK TO SAVEPOINT probe")
                } catch let e as MigrationError where e.sqlState == "42501" || e.sqlState == "25006" {
                    try s.execute("ROLLBACK TO SAVEPOINT probe")
                } catch let e as MigrationError where e.sqlState == "23502" || e.sqlState == "23503" || e.sqlState == "23505" || e.sqlState == "23514" {
                    // The privilege check passed and a constraint stopped the row: that is a write allowed.
                    allowed.append(sql)
                    try s.execute("ROLLBACK TO SAVEPOINT probe")
                }
            }
            if !allowed.isEmpty {
                throw MigrationError(.checkFailed, "the write probe as \(appRole) succeeded for: \(allowed.prefix(5).joined(separator: "; ")). Read-only mode was undone; check `read-only status`.")
            }
            return count
        }
    }

    func firstColumn(_ s: PGSession, _ table: String) throws -> String {
        let r = try s.query("SELECT quote_ident(attname) FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum LIMIT 1", [table])
        return r.rows.first?[0] ?? "id"
    }

    public struct DisableReport: Sendable {
        public var regranted: Int
    }

    /// Re-grants exactly what `enable` revoked and restores the role's previous setting.
    public func disable() async throws -> DisableReport {
        let c = try await PGConnection.connect(source, logger: logger)
        defer { Task { await c.close() } }
        guard try await c.scalar("SELECT to_regclass($1) IS NOT NULL", [t("revoked")]) == "t" else {
            return DisableReport(regranted: 0)
        }
        let t = self.t
        let appRole = self.appRole
        return try await c.withSession { s in
            try s.execute("BEGIN")
            do {
                let rows = try s.query("SELECT object_kind, object, column_name, grantee, grantor, privilege, grantable FROM \(t("revoked")) ORDER BY revoked_at").rows
                for r in rows {
                    let g = Grant(objectKind: r[0]!, object: r[1]!, column: r[2], grantee: r[3]!, grantor: r[4]!, privilege: r[5]!, grantable: r[6] == "t")
                    try s.execute(Self.grantSQL(g))
                }
                let previous = try s.query("SELECT value FROM \(t("state")) WHERE key = 'previous_read_only_setting'").rows.first
                if let previous, let value = previous[0] {
                    try s.execute("ALTER ROLE \(SQL.ident(appRole)) \(try Self.inThisDatabase(s)) SET default_transaction_read_only = \(SQL.literal(value))")
                } else {
                    try s.execute("ALTER ROLE \(SQL.ident(appRole)) \(try Self.inThisDatabase(s)) RESET default_transaction_read_only")
                }
                try s.execute("DELETE FROM \(t("revoked")); DELETE FROM \(t("state")) WHERE key = 'previous_read_only_setting';")
                try s.execute("INSERT INTO \(t("state")) (key, value) VALUES ('enabled', 'false') ON CONFLICT (key) DO UPDATE SET value = 'false'")
                try s.execute("COMMIT")
                return DisableReport(regranted: rows.count)
            } catch {
                try? s.execute("ROLLBACK")
                throw error
            }
        }
    }
}
