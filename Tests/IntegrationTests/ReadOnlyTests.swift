import CocoaTrack
import Foundation
import MigrationEngine
import Testing

@Suite("read-only mode on V1")
struct ReadOnlyTests {
    /// Every privilege on every table, sequence and column of public, as aclexplode states it,
    /// plus `role`'s settings: what `disable` must restore exactly.
    static func aclState(_ c: PGConnection, role: String = "app_user") async throws -> [String] {
        try await c.query("""
            SELECT 'rel ' || c.oid::regclass || ' ' || coalesce(pg_get_userbyid(a.grantor), '?') || ' -> ' ||
                   CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END || ' ' || a.privilege_type || ' ' || a.is_grantable
            FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a
            WHERE c.relnamespace = 'public'::regnamespace AND c.relacl IS NOT NULL
            UNION ALL
            SELECT 'col ' || c.oid::regclass || '.' || att.attname || ' ' || pg_get_userbyid(a.grantor) || ' -> ' ||
                   CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END || ' ' || a.privilege_type
            FROM pg_attribute att JOIN pg_class c ON c.oid = att.attrelid CROSS JOIN LATERAL aclexplode(att.attacl) a
            WHERE c.relnamespace = 'public'::regnamespace AND att.attacl IS NOT NULL
            UNION ALL
            SELECT 'default ' || pg_get_userbyid(d.defaclrole) || ' ' || d.defaclobjtype::text || ' ' || pg_get_userbyid(a.grantor) || ' -> ' ||
                   CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END || ' ' || a.privilege_type || ' ' || a.is_grantable
            FROM pg_default_acl d CROSS JOIN LATERAL aclexplode(d.defaclacl) a
            UNION ALL
            SELECT 'setting ' || array_to_string(d.setconfig, ',') FROM pg_db_role_setting d JOIN pg_roles r ON r.oid = d.setrole WHERE r.rolname = $1
            ORDER BY 1
            """, [role]).rows.map { $0[0]! }
    }

    @Test("enable blocks every write path (direct, PUBLIC, inherited role, column grant, sequences), even after SET default_transaction_read_only = off; disable restores the ACLs exactly")
    func enableDisable() async throws {
        let pair = try await TestSandbox.shared.freshPair("readonly")
        let writers = "writers_\(pair.database)"
        try await pair.v1Super().using { c in
            try await c.execute("""
                CREATE ROLE \(writers) NOLOGIN;
                GRANT \(writers) TO app_user;
                """)
        }
        try await pair.v1Admin().using { c in
            try await c.execute("""
                INSERT INTO regions (name, code, created_at) VALUES ('Gôh', 'GOH', now());
                GRANT INSERT ON regions TO PUBLIC;
                GRANT UPDATE, DELETE ON cooperatives TO \(writers);
                GRANT UPDATE (name) ON warehouses TO \(writers);
                GRANT TRUNCATE ON audit_log TO app_user;
                """)
        }
        let before = try await pair.v1Admin().using { try await Self.aclState($0) }
        let mode = ReadOnlyMode(source: try ConnectionConfig(label: "V1", url: pair.v1URL), appRole: "app_user", schemas: ["public"], logger: TestSandbox.shared.logger)
        // A session of the app that is open when read-only mode starts.
        let appSession = try await pair.connect(pair.appUserURL, label: "app")
        let report = try await mode.enable(sessionTimeout: .seconds(2))
        #expect(report.revoked.contains { $0.grantee == "PUBLIC" && $0.privilege == "INSERT" })
        #expect(report.revoked.contains { $0.grantee == writers && $0.object == "public.cooperatives" })
        #expect(report.revoked.contains { $0.objectKind == "column" && $0.column == "name" })
        #expect(report.revoked.contains { $0.objectKind == "default" && $0.grantee == "app_user" && $0.privilege == "INSERT" })
        #expect(report.sessionsEnded >= 1)
        await #expect(throws: MigrationError.self) { try await appSession.execute("SELECT 1") }
        await appSession.close()
        let status = try await mode.status()
        #expect(status.enabled && status.writable.isEmpty && status.roleReadOnlySetting)

        // A table created during the window does not hand the app writes through default privileges.
        try await pair.v1Admin().using { try await $0.execute("CREATE TABLE public.created_in_window (id int)") }
        // Every kind of write, as the app, also after switching the read-only default off and
        // after switching to the role that held write grants.
        let writes = [
            "INSERT INTO regions (name, code, created_at) VALUES ('X', 'X1', now())",
            "UPDATE regions SET name = 'Y'", "DELETE FROM regions", "TRUNCATE audit_log",
            "UPDATE cooperatives SET name = name", "DELETE FROM cooperatives",
            "UPDATE warehouses SET name = name", "SELECT nextval('regions_id_seq')",
            "COPY regions (name, code, created_at) FROM STDIN",
            "INSERT INTO created_in_window VALUES (1)",
        ]
        let app = try await pair.connect(pair.appUserURL, label: "app")
        for prelude in ["", "SET default_transaction_read_only = off; ", "SET default_transaction_read_only = off; SET ROLE \(writers); "] {
            for w in writes {
                do {
                    try await app.execute(prelude + w)
                    Issue.record("a write succeeded in read-only mode: \(prelude)\(w)")
                } catch let e as MigrationError {
                    #expect(e.sqlState == "42501" || e.sqlState == "25006", "\(w): \(e)")
                }
                try? await app.execute("RESET ROLE")
            }
        }
        // Reads still work.
        #expect(try await app.scalar("SELECT count(*) FROM regions") == "1")
        await app.close()

        try await pair.v1Admin().using { try await $0.execute("DROP TABLE public.created_in_window") }
        let undo = try await mode.disable()
        #expect(undo.regranted == report.revoked.count)
        let after = try await pair.v1Admin().using { try await Self.aclState($0) }
        #expect(after == before, "ACLs identical to before")
        let app2 = try await pair.connect(pair.appUserURL, label: "app")
        try await app2.execute("INSERT INTO regions (name, code, created_at) VALUES ('Z', 'Z1', now())")
        await app2.close()
        try await pair.v1Super().using { try await $0.execute("REVOKE \(writers) FROM app_user; DROP OWNED BY \(writers); DROP ROLE \(writers);") }
    }

    @Test("a role that owns a table cannot be made read-only: refused, nothing changed")
    func ownerRefused() async throws {
        let pair = try await TestSandbox.shared.freshPair("roowner")
        let owner = "owner_app_\(pair.database)"
        try await pair.v1Super().using { c in
            try await c.execute("CREATE ROLE \(owner) LOGIN; GRANT CREATE ON SCHEMA public TO \(owner); GRANT \(owner) TO cocoatrack_admin;")
            try await c.execute("SET ROLE \(owner); CREATE TABLE public.app_owned (id int); RESET ROLE;")
        }
        let before = try await pair.v1Admin().using { try await Self.aclState($0) }
        let mode = ReadOnlyMode(source: try ConnectionConfig(label: "V1", url: pair.v1URL), appRole: owner, schemas: ["public"], logger: TestSandbox.shared.logger)
        do {
            _ = try await mode.enable()
            Issue.record("expected a refusal")
        } catch let e as MigrationError {
            #expect(e.code == .refused)
            #expect(e.message.contains("owns"))
        }
        #expect(try await pair.v1Admin().using { try await Self.aclState($0) } == before)
        try await pair.v1Super().using { try await $0.execute("DROP TABLE public.app_owned; REVOKE CREATE ON SCHEMA public FROM \(owner); REVOKE \(owner) FROM cocoatrack_admin; DROP ROLE \(owner);") }
    }
}
