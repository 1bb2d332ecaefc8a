import CocoaTrack
import Foundation
import MigrationEngine
import Sandbox
import Testing

/// An independent check of the schemas the sandbox builds against the binding spec
/// `DATA_MODEL.md`: everything is read back from the database catalog (pg_catalog) and compared
/// with expectations transcribed by hand from the spec below. The project's SQL files are
/// deliberately not read here.
@Suite("Schema conformance with DATA_MODEL.md")
struct SchemaConformanceTests {

    // MARK: - V1 (legacy, schema public)

    @Test("V1: exactly the ten tables of DATA_MODEL.md")
    func v1Tables() async throws {
        let pair = try await freshSchemaPair()
        let actual = try await pair.v1Admin().using { try await Catalog.tables($0, schema: "public") }
        #expect(actual == Set(V1.columns.keys), "\(Diff.sets("V1 tables in schema public", expected: Set(V1.columns.keys), actual: actual))")
        #expect(actual == CocoaTrackSchema.v1Tables, "\(Diff.sets("V1 tables vs CocoaTrackSchema.v1Tables", expected: CocoaTrackSchema.v1Tables, actual: actual))")
    }

    @Test("V1: every column's type, nullability and default")
    func v1Columns() async throws {
        let pair = try await freshSchemaPair()
        let actual = try await pair.v1Admin().using { try await Catalog.columns($0, schema: "public") }
        #expect(Set(actual.keys) == Set(V1.columns.keys), "\(Diff.sets("V1 tables", expected: Set(V1.columns.keys), actual: Set(actual.keys)))")
        for (table, expected) in V1.columns.sorted(by: { $0.key < $1.key }) {
            let got = actual[table] ?? [:]
            #expect(got == expected, "\(Diff.maps("V1 columns of public.\(table)", prefix: table, expected: expected, actual: got))")
        }
    }

    @Test("V1: primary keys, unique constraints, serial sequences; users.email is not unique")
    func v1Keys() async throws {
        let pair = try await freshSchemaPair()
        try await pair.v1Admin().using { c in
            let actual = try await Catalog.uniqueIndexes(c, schema: "public")
            #expect(actual == V1.uniques, "\(Diff.sets("V1 primary keys / unique constraints / unique indexes", expected: V1.uniques, actual: actual))")
            #expect(!actual.contains { $0.hasPrefix("users:") && $0.contains("email") },
                    "V1 users.email must NOT be unique (DATA_MODEL.md: 'not unique'); found \(actual.filter { $0.hasPrefix("users:") })")

            // Every serial id owns its sequence (serial / bigserial semantics).
            for table in V1.columns.keys.sorted() {
                let seq = try await c.scalar("SELECT pg_get_serial_sequence($1, 'id')", ["public.\(table)"])
                #expect(seq == "public.\(table)_id_seq", "V1 \(table).id: expected a serial sequence public.\(table)_id_seq, actual \(seq ?? "none")")
            }

            // Behaviour: the same email twice (and differing only in case) is accepted in V1.
            try await c.execute("""
                INSERT INTO users (email, password_hash, full_name, role, is_active, created_at) VALUES
                  ('dup@example.com', '$2b$10$x', 'A', 'admin', true, now()),
                  ('dup@example.com', '$2b$10$y', 'B', 'agent', true, now()),
                  ('DUP@example.com', '$2b$10$z', 'C', 'viewer', false, now());
                """)
            let n = try await c.scalar("SELECT count(*) FROM users WHERE lower(email) = 'dup@example.com'")
            #expect(n == "3", "V1 users: duplicate emails must be storable, got \(n ?? "nil") rows")

            // Behaviour: unique codes are enforced.
            try await c.execute("INSERT INTO regions (name, code, created_at) VALUES ('R', 'R1', now())")
            await expectSQLState("23505", c, "INSERT INTO regions (name, code, created_at) VALUES ('R bis', 'R1', now())",
                                 "V1 regions.code must be UNIQUE")
        }
    }

    @Test("V1: every foreign key, and the legacy references that have none")
    func v1ForeignKeys() async throws {
        let pair = try await freshSchemaPair()
        let fks = try await pair.v1Admin().using { try await Catalog.foreignKeys($0, schema: "public") }
        let actual = Set(fks.keys)
        #expect(actual == V1.foreignKeys, "\(Diff.sets("V1 foreign keys", expected: V1.foreignKeys, actual: actual))")
        for column in V1.withoutForeignKey {
            let found = fks.keys.filter { $0.hasPrefix("public.\(column) ->") }
            #expect(found.isEmpty, "V1 \(column) must have NO foreign key (legacy, DATA_MODEL.md), actual: \(found)")
        }
        for (fk, action) in V1.deleteActions {
            #expect(fks[fk] == action, "V1 \(fk): expected ON DELETE \(action), actual \(fks[fk] ?? "no such foreign key")")
        }
    }

    @Test("V1: no CHECK constraints; the dirty rows DATA_MODEL.md describes can be stored")
    func v1DirtyDataAccepted() async throws {
        let pair = try await freshSchemaPair()
        try await pair.v1Admin().using { c in
            let checks = try await Catalog.checks(c, schema: "public")
            #expect(checks.isEmpty, "V1 must have no CHECK constraints (dirty data must be representable), actual: \(checks.keys.sorted())")

            try await c.execute("""
                INSERT INTO regions (id, name, code, created_at) VALUES (1, 'R', 'R1', now());
                INSERT INTO cooperatives (id, region_id, name, code, is_active, created_at) VALUES (1, 1, 'C', 'C1', true, now());
                INSERT INTO warehouses (id, cooperative_id, name, created_at) VALUES (1, 1, 'W', now());
                """)
            // planteur_id and agent_id name no row, weight NULL / <= 0, unknown quality grade.
            try await c.execute("""
                INSERT INTO deliveries (id, planteur_id, warehouse_id, agent_id, delivery_date, weight_kg, quality_grade,
                                        price_per_kg_fcfa, total_amount_fcfa, created_at) VALUES
                  (1, 999999, 1, 888888, '2024-01-01', NULL, 'A', 1000, 0, now()),
                  (2, 999999, 1, NULL, '2024-01-01', -5, 'ZZ', 1000, 0, now()),
                  (3, 999999, 1, NULL, '2024-01-01', 0, NULL, 1000, 0, now());
                INSERT INTO delivery_photos (delivery_id, url, uploaded_by, created_at) VALUES (1, 'ftp://nowhere/x.jpg', 777777, now());
                INSERT INTO planteurs (chef_planteur_id, cooperative_id, first_name, last_name, created_at) VALUES (666666, 1, 'P', 'Q', now());
                INSERT INTO users (email, password_hash, full_name, role, cooperative_id, is_active, created_at)
                  VALUES ('u@example.com', '$2a$10$x', 'U', 'agent', 555555, true, now());
                INSERT INTO audit_log (user_id, action, table_name, record_id, old_data, new_data, ip_address, created_at)
                  VALUES (444444, 'update', 'nonsense', 1, '{not json', 'also not', 'not-an-ip', now());
                """)
            let n = try await c.scalar("SELECT count(*) FROM deliveries")
            #expect(n == "3", "V1 deliveries: the three dirty rows must be stored, got \(n ?? "nil")")

            // The foreign keys that do exist are enforced, and photos cascade with their delivery.
            await expectSQLState("23503", c, """
                INSERT INTO deliveries (id, planteur_id, warehouse_id, delivery_date, price_per_kg_fcfa, total_amount_fcfa, created_at)
                  VALUES (100, 1, 424242, '2024-01-01', 1, 1, now())
                """, "V1 deliveries.warehouse_id must reference warehouses")
            try await c.execute("DELETE FROM deliveries WHERE id = 1")
            let photos = try await c.scalar("SELECT count(*) FROM delivery_photos")
            #expect(photos == "0", "V1 delivery_photos.delivery_id must be ON DELETE CASCADE, \(photos ?? "nil") photos left")
        }
    }

    @Test("V1: role app_user exists, can log in, and has SELECT/INSERT/UPDATE/DELETE on every table")
    func v1AppUser() async throws {
        let pair = try await freshSchemaPair()
        let role = CocoaTrackSchema.defaultAppRole
        #expect(role == "app_user")
        try await pair.v1Admin().using { c in
            let login = try await c.scalar("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", [role])
            #expect(login == "t", "V1 role \(role): expected to exist with LOGIN, actual rolcanlogin = \(login ?? "role missing")")
            var missing: [String] = []
            for table in V1.columns.keys.sorted() {
                for privilege in ["SELECT", "INSERT", "UPDATE", "DELETE"] {
                    let has = try await c.scalar("SELECT has_table_privilege($1, $2, $3)", [role, "public.\(table)", privilege])
                    if has != "t" { missing.append("\(privilege) on \(table)") }
                }
            }
            #expect(missing.isEmpty, "V1 \(role) lacks: \(missing.joined(separator: ", "))")
        }
        // Behaviour: log in as app_user and use a table end to end (including its serial sequence).
        try await pair.connect(pair.appUserURL, label: "V1 app").using { c in
            #expect(try await c.scalar("SELECT current_user") == role)
            try await c.execute("INSERT INTO regions (name, code, created_at) VALUES ('R', 'R9', now())")
            try await c.execute("UPDATE regions SET name = 'R2' WHERE code = 'R9'")
            #expect(try await c.scalar("SELECT name FROM regions WHERE code = 'R9'") == "R2")
            try await c.execute("DELETE FROM regions WHERE code = 'R9'")
            #expect(try await c.scalar("SELECT count(*) FROM regions") == "0")
        }
    }

    // MARK: - V2 (Supabase, schemas public and auth)

    @Test("V2: exactly the ten public tables, plus Supabase Auth's tables in schema auth")
    func v2Tables() async throws {
        let pair = try await freshSchemaPair()
        try await pair.v2Owner().using { c in
            let actual = try await Catalog.tables(c, schema: "public")
            #expect(actual == Set(V2.columns.keys), "\(Diff.sets("V2 tables in schema public", expected: Set(V2.columns.keys), actual: actual))")
            let auth = try await Catalog.tables(c, schema: "auth")
            #expect(auth.contains("users"), "V2: auth.users must exist; tables in schema auth: \(auth.sorted())")
            #expect(auth == Set(Auth.columns.keys), "\(Diff.sets("V2 tables in schema auth (\(Auth.source))", expected: Set(Auth.columns.keys), actual: auth))")
        }
    }

    @Test("V2: every column's type, nullability and default")
    func v2Columns() async throws {
        let pair = try await freshSchemaPair()
        let actual = try await pair.v2Owner().using { try await Catalog.columns($0, schema: "public") }
        #expect(Set(actual.keys) == Set(V2.columns.keys), "\(Diff.sets("V2 tables", expected: Set(V2.columns.keys), actual: Set(actual.keys)))")
        for (table, expected) in V2.columns.sorted(by: { $0.key < $1.key }) {
            let got = actual[table] ?? [:]
            #expect(got == expected, "\(Diff.maps("V2 columns of public.\(table)", prefix: table, expected: expected, actual: got))")
        }
    }

    @Test("V2: primary keys and unique constraints")
    func v2Keys() async throws {
        let pair = try await freshSchemaPair()
        try await pair.v2Owner().using { c in
            let actual = try await Catalog.uniqueIndexes(c, schema: "public")
            #expect(actual == V2.uniques, "\(Diff.sets("V2 primary keys / unique constraints / unique indexes", expected: V2.uniques, actual: actual))")
            let auth = try await Catalog.uniqueIndexes(c, schema: "auth")
            #expect(auth.contains("users: PRIMARY KEY (id)"), "V2 auth.users: expected PRIMARY KEY (id), actual: \(auth.filter { $0.hasPrefix("users:") }.sorted())")
        }
    }

    @Test("V2: every reference is a foreign key (auth.users for profiles.id, none for audit_log.entity_id)")
    func v2ForeignKeys() async throws {
        let pair = try await freshSchemaPair()
        let fks = try await pair.v2Owner().using { try await Catalog.foreignKeys($0, schema: "public") }
        let actual = Set(fks.keys)
        #expect(actual == V2.foreignKeys, "\(Diff.sets("V2 foreign keys", expected: V2.foreignKeys, actual: actual))")
        #expect(fks["public.profiles.id -> auth.users.id"] != nil, "V2 profiles.id must reference auth.users(id); actual foreign keys of profiles: \(actual.filter { $0.hasPrefix("public.profiles.") }.sorted())")
        let entity = actual.filter { $0.hasPrefix("public.audit_log.entity_id ->") }
        #expect(entity.isEmpty, "V2 audit_log.entity_id must have NO foreign key (DATA_MODEL.md), actual: \(entity)")
        for (fk, action) in V2.deleteActions {
            #expect(fks[fk] == action, "V2 \(fk): expected ON DELETE \(action), actual \(fks[fk] ?? "no such foreign key")")
        }
    }

    @Test("V2: CHECK constraints planteurs.gender IN ('M','F') and deliveries.weight_kg > 0")
    func v2Checks() async throws {
        let pair = try await freshSchemaPair()
        try await pair.v2Owner().using { c in
            let checks = try await Catalog.checks(c, schema: "public")
            #expect(Set(checks.keys) == V2.checkedColumns, "\(Diff.sets("V2 CHECK constraints (table.columns)", expected: V2.checkedColumns, actual: Set(checks.keys)))")
            let gender = checks["planteurs(gender)"] ?? []
            #expect(gender.count == 1 && gender.allSatisfy { $0.contains("gender") && $0.contains("'M'") && $0.contains("'F'") },
                    "V2 planteurs.gender: expected one CHECK (gender IN ('M','F')), actual: \(gender)")
            let weight = checks["deliveries(weight_kg)"] ?? []
            #expect(weight.count == 1 && weight.allSatisfy { $0.replacingOccurrences(of: "(0)::numeric", with: "0").contains("weight_kg > 0") },
                    "V2 deliveries.weight_kg: expected one CHECK (weight_kg > 0), actual: \(weight)")

            // Behaviour: the checks reject exactly what they should.
            try await c.execute("""
                INSERT INTO public.regions (id, name, code, created_at) VALUES ('00000000-0000-0000-0000-0000000000a1', 'R', 'R1', now());
                INSERT INTO public.cooperatives (id, region_id, name, code, is_active, created_at, updated_at)
                  VALUES ('00000000-0000-0000-0000-0000000000c1', '00000000-0000-0000-0000-0000000000a1', 'C', 'C1', true, now(), now());
                INSERT INTO public.warehouses (id, cooperative_id, name, created_at)
                  VALUES ('00000000-0000-0000-0000-0000000000e1', '00000000-0000-0000-0000-0000000000c1', 'W', now());
                INSERT INTO public.planteurs (id, cooperative_id, first_name, last_name, gender, created_at, updated_at) VALUES
                  ('00000000-0000-0000-0000-0000000000f1', '00000000-0000-0000-0000-0000000000c1', 'P', 'M', 'M', now(), now()),
                  ('00000000-0000-0000-0000-0000000000f2', '00000000-0000-0000-0000-0000000000c1', 'P', 'F', 'F', now(), now()),
                  ('00000000-0000-0000-0000-0000000000f3', '00000000-0000-0000-0000-0000000000c1', 'P', 'N', NULL, now(), now());
                INSERT INTO public.deliveries (planteur_id, warehouse_id, delivered_on, weight_kg, price_per_kg, total_amount, created_at, updated_at)
                  VALUES ('00000000-0000-0000-0000-0000000000f1', '00000000-0000-0000-0000-0000000000e1', '2024-01-01', 0.01, 1000, 10, now(), now());
                """)
            let certs = try await c.scalar("SELECT certifications FROM public.planteurs WHERE id = '00000000-0000-0000-0000-0000000000f3'")
            #expect(certs == "{}", "V2 planteurs.certifications default: expected {}, actual \(certs ?? "NULL")")
            for bad in ["X", "m", ""] {
                await expectSQLState("23514", c, """
                    INSERT INTO public.planteurs (cooperative_id, first_name, last_name, gender, created_at, updated_at)
                      VALUES ('00000000-0000-0000-0000-0000000000c1', 'P', 'X', \(SQL.literal(bad)), now(), now())
                    """, "V2 planteurs.gender = '\(bad)' must violate CHECK (gender IN ('M','F'))")
            }
            for bad in ["0", "-1"] {
                await expectSQLState("23514", c, """
                    INSERT INTO public.deliveries (planteur_id, warehouse_id, delivered_on, weight_kg, price_per_kg, total_amount, created_at, updated_at)
                      VALUES ('00000000-0000-0000-0000-0000000000f1', '00000000-0000-0000-0000-0000000000e1', '2024-01-01', \(bad), 1000, 10, now(), now())
                    """, "V2 deliveries.weight_kg = \(bad) must violate CHECK (weight_kg > 0)")
            }
            await expectSQLState("23502", c, """
                INSERT INTO public.deliveries (planteur_id, warehouse_id, delivered_on, weight_kg, price_per_kg, total_amount, created_at, updated_at)
                  VALUES ('00000000-0000-0000-0000-0000000000f1', '00000000-0000-0000-0000-0000000000e1', '2024-01-01', NULL, 1000, 10, now(), now())
                """, "V2 deliveries.weight_kg NULL must violate NOT NULL")
        }
    }

    @Test("V2: enums app_role, invoice_status, quality_grade with their labels in order")
    func v2Enums() async throws {
        let pair = try await freshSchemaPair()
        let actual = try await pair.v2Owner().using { try await Catalog.enums($0, schema: "public") }
        #expect(actual == V2.enums, "\(Diff.maps("V2 enum types in schema public (labels in sort order)", prefix: nil, expected: V2.enums, actual: actual))")
    }

    @Test("V2: row level security on every public table; roles anon, authenticated, service_role")
    func v2SecurityAndRoles() async throws {
        let pair = try await freshSchemaPair()
        try await pair.v2Owner().using { c in
            let r = try await c.query("""
                SELECT c.relname, c.relrowsecurity
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
                """)
            let rls = Dictionary(uniqueKeysWithValues: r.rows.map { ($0[0] ?? "", $0[1] == "t" ? "RLS enabled" : "RLS disabled") })
            let expected = Dictionary(uniqueKeysWithValues: V2.columns.keys.map { ($0, "RLS enabled") })
            #expect(rls == expected, "\(Diff.maps("V2 row level security (pg_class.relrowsecurity)", prefix: nil, expected: expected, actual: rls))")

            let roles = try await c.query("SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])", ["{anon,authenticated,service_role}"])
            let found = Set(roles.rows.compactMap { $0[0] })
            #expect(found == V2.apiRoles, "\(Diff.sets("V2 Supabase API roles", expected: V2.apiRoles, actual: found))")
        }
    }

    // MARK: - V2 schema auth (Supabase Auth, expectations in `Auth` below)

    @Test("V2 auth: every column's type, nullability, default and generation expression (auth.users and auth.identities in full)")
    func v2AuthColumns() async throws {
        let pair = try await freshSchemaPair()
        let actual = try await pair.v2Owner().using { try await Catalog.columns($0, schema: "auth") }
        #expect(Set(actual.keys) == Set(Auth.columns.keys), "\(Diff.sets("V2 auth tables", expected: Set(Auth.columns.keys), actual: Set(actual.keys)))")
        for (table, expected) in Auth.columns.sorted(by: { $0.key < $1.key }) {
            let got = actual[table] ?? [:]
            #expect(got == expected, "\(Diff.maps("V2 columns of auth.\(table) (\(Auth.source))", prefix: "auth.\(table)", expected: expected, actual: got))")
        }
        // The columns the migration writes into auth.users, and the two generated columns, spelled out.
        let users = actual["users"] ?? [:]
        for column in ["instance_id", "id", "aud", "role", "email", "encrypted_password", "email_confirmed_at",
                       "raw_app_meta_data", "raw_user_meta_data", "created_at", "updated_at", "banned_until"] {
            #expect(users[column] != nil, "V2 auth.users.\(column): missing (the migration writes it)")
        }
        #expect(users["confirmed_at"] == "timestamp with time zone GENERATED ALWAYS AS (LEAST(email_confirmed_at, phone_confirmed_at)) STORED",
                "V2 auth.users.confirmed_at: expected generated LEAST(email_confirmed_at, phone_confirmed_at), actual \(users["confirmed_at"] ?? "missing")")
        let identities = actual["identities"] ?? [:]
        #expect(identities["email"] == "text GENERATED ALWAYS AS (lower((identity_data ->> 'email'::text))) STORED",
                "V2 auth.identities.email: expected generated lower(identity_data ->> 'email'), actual \(identities["email"] ?? "missing")")
    }

    @Test("V2 auth: primary keys, unique constraints and unique indexes, the partial ones on users' tokens included")
    func v2AuthKeys() async throws {
        let pair = try await freshSchemaPair()
        let actual = try await pair.v2Owner().using { try await Catalog.uniqueIndexes($0, schema: "auth") }
        #expect(actual == Auth.uniques, "\(Diff.sets("V2 auth primary keys / unique constraints / unique indexes (\(Auth.source))", expected: Auth.uniques, actual: actual))")
        for token in ["confirmation_token", "recovery_token", "email_change_token_current", "email_change_token_new", "reauthentication_token"] {
            let index = "users: UNIQUE INDEX (\(token)) WHERE ((\(token))::text !~ '^[0-9 ]*$'::text)"
            #expect(actual.contains(index), "V2 auth.users.\(token): expected \(index); actual: \(actual.filter { $0.hasPrefix("users:") }.sorted())")
        }
        for key in ["users: PRIMARY KEY (id)", "users: UNIQUE (phone)", "users: UNIQUE INDEX (email) WHERE (is_sso_user = false)",
                    "identities: PRIMARY KEY (id)", "identities: UNIQUE (provider_id, provider)"] {
            #expect(actual.contains(key), "V2 auth: expected \(key); actual: \(actual.filter { $0.hasPrefix(key.prefix { $0 != ":" } + ":") }.sorted())")
        }
    }

    @Test("V2 auth: every foreign key, each ON DELETE CASCADE")
    func v2AuthForeignKeys() async throws {
        let pair = try await freshSchemaPair()
        let fks = try await pair.v2Owner().using { try await Catalog.foreignKeys($0, schema: "auth") }
        #expect(fks == Auth.foreignKeys, "\(Diff.maps("V2 auth foreign keys → ON DELETE (\(Auth.source))", prefix: nil, expected: Auth.foreignKeys, actual: fks))")
    }

    @Test("V2 auth: enums with their labels in order")
    func v2AuthEnums() async throws {
        let pair = try await freshSchemaPair()
        let actual = try await pair.v2Owner().using { try await Catalog.enums($0, schema: "auth") }
        #expect(actual == Auth.enums, "\(Diff.maps("V2 enum types in schema auth (\(Auth.source))", prefix: nil, expected: Auth.enums, actual: actual))")
    }

    @Test("V2 auth: owner supabase_auth_admin of everything; row level security as the migrations leave it; postgres and service_role may write every table")
    func v2AuthOwnersSecurityGrants() async throws {
        let pair = try await freshSchemaPair()
        try await pair.v2Owner().using { c in
            let owners = try await c.query("""
                SELECT 'table ' || c.relname, pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = 'auth' AND c.relkind IN ('r', 'p', 'S')
                UNION ALL
                SELECT 'type ' || t.typname, pg_get_userbyid(t.typowner) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                  WHERE n.nspname = 'auth' AND t.typtype = 'e'
                UNION ALL
                SELECT 'function ' || p.proname, pg_get_userbyid(p.proowner) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                  WHERE n.nspname = 'auth'
                UNION ALL
                SELECT 'schema auth', pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'auth'
                """)
            let actualOwners = Dictionary(owners.rows.map { ($0[0] ?? "", $0[1] ?? "") }, uniquingKeysWith: { a, _ in a })
            let expectedOwners = Dictionary(uniqueKeysWithValues:
                (Auth.columns.keys.map { "table \($0)" } + ["table refresh_tokens_id_seq", "schema auth"]
                 + Auth.enums.keys.map { "type \($0)" } + Auth.functions.map { "function \($0)" }).map { ($0, "supabase_auth_admin") })
            #expect(actualOwners == expectedOwners, "\(Diff.maps("V2 owners in schema auth", prefix: nil, expected: expectedOwners, actual: actualOwners))")

            let r = try await c.query("""
                SELECT c.relname, c.relrowsecurity
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'auth' AND c.relkind IN ('r', 'p')
                """)
            let rls = Dictionary(uniqueKeysWithValues: r.rows.map { ($0[0] ?? "", $0[1] == "t" ? "RLS enabled" : "RLS disabled") })
            let expectedRLS = Dictionary(uniqueKeysWithValues: Auth.columns.keys.map {
                ($0, Auth.withoutRowLevelSecurity.contains($0) ? "RLS disabled" : "RLS enabled")
            })
            #expect(rls == expectedRLS, "\(Diff.maps("V2 auth row level security (pg_class.relrowsecurity, \(Auth.source))", prefix: nil, expected: expectedRLS, actual: rls))")

            var missing: [String] = []
            for role in ["postgres", "service_role"] {
                for table in Auth.columns.keys.sorted() {
                    for privilege in ["SELECT", "INSERT", "UPDATE", "DELETE", "REFERENCES"] {
                        let has = try await c.scalar("SELECT has_table_privilege($1, $2, $3)", [role, "auth.\(table)", privilege])
                        if has != "t" { missing.append("\(role): \(privilege) on auth.\(table)") }
                    }
                }
                for privilege in ["USAGE", "SELECT"] {
                    let has = try await c.scalar("SELECT has_sequence_privilege($1, 'auth.refresh_tokens_id_seq', $2)", [role, privilege])
                    if has != "t" { missing.append("\(role): \(privilege) on auth.refresh_tokens_id_seq") }
                }
            }
            #expect(missing.isEmpty, "V2 auth privileges lacking: \(missing.joined(separator: ", "))")
        }
    }

    @Test("V2 auth: as postgres, a user with identity, session, refresh token and factor; tokens unique unless blank or numeric; deleting the user cascades")
    func v2AuthBehaviour() async throws {
        let pair = try await freshSchemaPair()
        try await pair.v2Owner().using { c in
            let u1 = "00000000-0000-0000-0000-00000000a001", u2 = "00000000-0000-0000-0000-00000000a002"
            let s1 = "00000000-0000-0000-0000-00000000b001"
            try await c.execute("""
                INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                                        confirmation_token, recovery_token, email_change_token_new, email_change,
                                        raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
                  VALUES ('00000000-0000-0000-0000-000000000000', '\(u1)', 'authenticated', 'authenticated', 'a@example.com', '$2a$10$x', now(),
                          '', '', '', '', '{}', '{}', now(), now()),
                         ('00000000-0000-0000-0000-000000000000', '\(u2)', 'authenticated', 'authenticated', 'b@example.com', '$2a$10$y', NULL,
                          '', '123456', '', '', '{}', '{}', now(), now());
                INSERT INTO auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at)
                  VALUES ('\(u1)', '\(u1)', '{"sub": "\(u1)", "email": "A@Example.com"}', 'email', now(), now());
                INSERT INTO auth.sessions (id, user_id, created_at, updated_at) VALUES ('\(s1)', '\(u1)', now(), now());
                INSERT INTO auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, session_id)
                  VALUES ('00000000-0000-0000-0000-000000000000', 'tok1', '\(u1)', false, now(), now(), '\(s1)');
                INSERT INTO auth.mfa_factors (id, user_id, factor_type, status, created_at, updated_at)
                  VALUES ('00000000-0000-0000-0000-00000000c001', '\(u1)', 'totp', 'unverified', now(), now());
                """)
            #expect(try await c.scalar("SELECT email FROM auth.identities WHERE user_id = '\(u1)'") == "a@example.com",
                    "V2 auth.identities.email must be generated as lower(identity_data ->> 'email')")
            #expect(try await c.scalar("SELECT confirmed_at IS NOT NULL FROM auth.users WHERE id = '\(u1)'") == "t",
                    "V2 auth.users.confirmed_at must be generated from email_confirmed_at")
            #expect(try await c.scalar("SELECT id > 0 FROM auth.refresh_tokens WHERE token = 'tok1'") == "t",
                    "V2 auth.refresh_tokens.id must come from its sequence")
            // Blank and purely numeric tokens may repeat; others may not.
            try await c.execute("UPDATE auth.users SET recovery_token = '123456' WHERE id = '\(u1)'")
            try await c.execute("UPDATE auth.users SET confirmation_token = 'abc' WHERE id = '\(u1)'")
            await expectSQLState("23505", c, "UPDATE auth.users SET confirmation_token = 'abc' WHERE id = '\(u2)'",
                                 "V2 auth.users.confirmation_token must be unique when not blank or numeric")
            await expectSQLState("23505", c, """
                INSERT INTO auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at)
                  VALUES ('\(u1)', '\(u2)', '{}', 'email', now(), now())
                """, "V2 auth.identities (provider_id, provider) must be unique")
            await expectSQLState("23505", c, "UPDATE auth.users SET email = 'a@example.com' WHERE id = '\(u2)'",
                                 "V2 auth.users.email must be unique among non-SSO users")

            try await c.execute("DELETE FROM auth.users WHERE id = '\(u1)'")
            for table in ["identities", "sessions", "refresh_tokens", "mfa_factors"] {
                let n = try await c.scalar("SELECT count(*) FROM auth.\(table)")
                #expect(n == "0", "V2 auth.\(table): deleting the user must cascade, \(n ?? "nil") rows left")
            }
        }
    }

    @Test("V2: extensions uuid-ossp and pgcrypto installed; pg_stat_statements preloaded")
    func v2Extensions() async throws {
        let pair = try await freshSchemaPair()
        try await pair.v2Super().using { c in
            let r = try await c.query("SELECT extname FROM pg_extension")
            let installed = Set(r.rows.compactMap { $0[0] })
            let required: Set<String> = ["uuid-ossp", "pgcrypto"]
            #expect(required.isSubset(of: installed), "V2 extensions: expected \(required.sorted()) installed, missing \(required.subtracting(installed).sorted()); installed: \(installed.sorted())")

            let preload = try await c.scalar("SHOW shared_preload_libraries") ?? ""
            let libraries = preload.split(separator: ",").map {
                $0.trimmingCharacters(in: CharacterSet.whitespaces.union(CharacterSet(charactersIn: "\"'")))
            }
            #expect(libraries.contains("pg_stat_statements"), "V2 shared_preload_libraries: expected to contain pg_stat_statements, actual '\(preload)'")
        }
        // The uuid defaults work for the owner (gen_random_uuid is reachable).
        try await pair.v2Owner().using { c in
            let id = try await c.scalar("INSERT INTO public.regions (name, code, created_at) VALUES ('R', 'RX', now()) RETURNING id")
            #expect(id.flatMap(UUID.init(uuidString:)) != nil, "V2 regions.id default: expected a generated uuid, actual \(id ?? "NULL")")
        }
    }
}

// MARK: - Expectations transcribed by hand from DATA_MODEL.md

/// A column as rendered from the catalog: `type[ NOT NULL][ DEFAULT expr]`.
private func col(_ type: String, notNull: Bool = false, default def: String? = nil) -> String {
    type + (notNull ? " NOT NULL" : "") + (def.map { " DEFAULT \($0)" } ?? "")
}

/// A stored generated column as rendered from the catalog (no expression when defaults are not read).
private func generated(_ type: String, _ expression: String?) -> String {
    type + " GENERATED ALWAYS AS" + (expression.map { " (\($0))" } ?? "") + " STORED"
}

private enum V1 {
    static let ts = "timestamp without time zone"
    static let int = "integer"
    static func vc(_ n: Int) -> String { "character varying(\(n))" }
    static func serial(_ table: String) -> String {
        col("integer", notNull: true, default: "nextval('\(table)_id_seq'::regclass)")
    }

    static let columns: [String: [String: String]] = [
        "regions": [
            "id": serial("regions"),
            "name": col(vc(100), notNull: true),
            "code": col(vc(10), notNull: true),
            "created_at": col(ts, notNull: true),
        ],
        "cooperatives": [
            "id": serial("cooperatives"),
            "region_id": col(int, notNull: true),
            "name": col(vc(200), notNull: true),
            "code": col(vc(20), notNull: true),
            "phone": col(vc(30)),
            "address": col("text"),
            "is_active": col("boolean", notNull: true),
            "created_at": col(ts, notNull: true),
            "updated_at": col(ts),
        ],
        "users": [
            "id": serial("users"),
            "email": col(vc(255), notNull: true),
            "password_hash": col(vc(100), notNull: true),
            "full_name": col(vc(200), notNull: true),
            "role": col(vc(20), notNull: true),
            "cooperative_id": col(int),
            "phone": col(vc(30)),
            "is_active": col("boolean", notNull: true),
            "last_login_at": col(ts),
            "created_at": col(ts, notNull: true),
            "updated_at": col(ts),
        ],
        "warehouses": [
            "id": serial("warehouses"),
            "cooperative_id": col(int, notNull: true),
            "name": col(vc(200), notNull: true),
            "location": col(vc(200)),
            "capacity_kg": col(int),
            "latitude": col("double precision"),
            "longitude": col("double precision"),
            "created_at": col(ts, notNull: true),
        ],
        "invoices": [
            "id": serial("invoices"),
            "cooperative_id": col(int, notNull: true),
            "invoice_number": col(vc(30), notNull: true),
            "period_start": col("date", notNull: true),
            "period_end": col("date", notNull: true),
            "total_amount_fcfa": col("bigint", notNull: true),
            "status": col(vc(20), notNull: true),
            "paid_at": col(ts),
            "created_at": col(ts, notNull: true),
        ],
        "chef_planteurs": [
            "id": serial("chef_planteurs"),
            "cooperative_id": col(int, notNull: true),
            "first_name": col(vc(100), notNull: true),
            "last_name": col(vc(100), notNull: true),
            "phone": col(vc(30)),
            "village": col(vc(100)),
            "created_at": col(ts, notNull: true),
        ],
        "planteurs": [
            "id": serial("planteurs"),
            "chef_planteur_id": col(int),
            "cooperative_id": col(int, notNull: true),
            "first_name": col(vc(100), notNull: true),
            "last_name": col(vc(100), notNull: true),
            "phone": col(vc(30)),
            "village": col(vc(100)),
            "gender": col("character(1)"),
            "birth_year": col("smallint"),
            "farm_size_ha": col("numeric(8,2)"),
            "certifications": col(vc(200)),
            "created_at": col(ts, notNull: true),
            "updated_at": col(ts),
            "deleted_at": col(ts),
        ],
        "deliveries": [
            "id": serial("deliveries"),
            "planteur_id": col(int, notNull: true),
            "warehouse_id": col(int, notNull: true),
            "invoice_id": col(int),
            "agent_id": col(int),
            "delivery_date": col("date", notNull: true),
            "weight_kg": col("numeric(10,2)"),
            "bags": col("smallint"),
            "quality_grade": col(vc(5)),
            "humidity_pct": col("numeric(4,1)"),
            "price_per_kg_fcfa": col(int, notNull: true),
            "total_amount_fcfa": col("bigint", notNull: true),
            "notes": col("text"),
            "created_at": col(ts, notNull: true),
            "updated_at": col(ts),
        ],
        "delivery_photos": [
            "id": serial("delivery_photos"),
            "delivery_id": col(int, notNull: true),
            "url": col(vc(500), notNull: true),
            "caption": col(vc(200)),
            "taken_at": col(ts),
            "uploaded_by": col(int),
            "created_at": col(ts, notNull: true),
        ],
        "audit_log": [
            "id": col("bigint", notNull: true, default: "nextval('audit_log_id_seq'::regclass)"),
            "user_id": col(int),
            "action": col(vc(50), notNull: true),
            "table_name": col(vc(50)),
            "record_id": col(int),
            "old_data": col("text"),
            "new_data": col("text"),
            "ip_address": col(vc(45)),
            "created_at": col(ts, notNull: true),
        ],
    ]

    /// Every unique index, as `table: PRIMARY KEY (cols)` / `table: UNIQUE (cols)` (constraint-backed)
    /// or `table: UNIQUE INDEX (...)` (an index without a constraint).
    static let uniques: Set<String> = Set(columns.keys.map { "\($0): PRIMARY KEY (id)" }).union([
        "regions: UNIQUE (code)",
        "cooperatives: UNIQUE (code)",
        "invoices: UNIQUE (invoice_number)",
    ])

    static let foreignKeys: Set<String> = [
        "public.cooperatives.region_id -> public.regions.id",
        "public.warehouses.cooperative_id -> public.cooperatives.id",
        "public.invoices.cooperative_id -> public.cooperatives.id",
        "public.chef_planteurs.cooperative_id -> public.cooperatives.id",
        "public.planteurs.cooperative_id -> public.cooperatives.id",
        "public.deliveries.warehouse_id -> public.warehouses.id",
        "public.deliveries.invoice_id -> public.invoices.id",
        "public.delivery_photos.delivery_id -> public.deliveries.id",
    ]

    static let withoutForeignKey = [
        "users.cooperative_id", "planteurs.chef_planteur_id", "deliveries.planteur_id",
        "deliveries.agent_id", "delivery_photos.uploaded_by", "audit_log.user_id",
    ]

    static let deleteActions = ["public.delivery_photos.delivery_id -> public.deliveries.id": "CASCADE"]
}

private enum V2 {
    static let tz = "timestamp with time zone"
    static let uuidID = col("uuid", notNull: true, default: "gen_random_uuid()")

    static let columns: [String: [String: String]] = [
        "regions": [
            "id": uuidID,
            "name": col("text", notNull: true),
            "code": col("text", notNull: true),
            "created_at": col(tz, notNull: true),
        ],
        "cooperatives": [
            "id": uuidID,
            "region_id": col("uuid", notNull: true),
            "name": col("text", notNull: true),
            "code": col("text", notNull: true),
            "phone": col("text"),
            "address": col("text"),
            "is_active": col("boolean", notNull: true),
            "created_at": col(tz, notNull: true),
            "updated_at": col(tz, notNull: true),
        ],
        "profiles": [
            "id": col("uuid", notNull: true),  // = auth.users.id: no default of its own
            "email": col("text", notNull: true),
            "full_name": col("text", notNull: true),
            "role": col("app_role", notNull: true),
            "cooperative_id": col("uuid"),
            "phone": col("text"),
            "is_active": col("boolean", notNull: true),
            "last_login_at": col(tz),
            "created_at": col(tz, notNull: true),
            "updated_at": col(tz, notNull: true),
        ],
        "warehouses": [
            "id": uuidID,
            "cooperative_id": col("uuid", notNull: true),
            "name": col("text", notNull: true),
            "location": col("text"),
            "capacity_kg": col("integer"),
            "latitude": col("double precision"),
            "longitude": col("double precision"),
            "created_at": col(tz, notNull: true),
        ],
        "invoices": [
            "id": uuidID,
            "cooperative_id": col("uuid", notNull: true),
            "invoice_number": col("text", notNull: true),
            "period_start": col("date", notNull: true),
            "period_end": col("date", notNull: true),
            "total_amount": col("numeric(14,2)", notNull: true),
            "currency": col("character(3)", notNull: true, default: "'XOF'::bpchar"),
            "status": col("invoice_status", notNull: true),
            "paid_at": col(tz),
            "created_at": col(tz, notNull: true),
        ],
        "chef_planteurs": [
            "id": uuidID,
            "cooperative_id": col("uuid", notNull: true),
            "first_name": col("text", notNull: true),
            "last_name": col("text", notNull: true),
            "phone": col("text"),
            "village": col("text"),
            "created_at": col(tz, notNull: true),
        ],
        "planteurs": [
            "id": uuidID,
            "chef_planteur_id": col("uuid"),
            "cooperative_id": col("uuid", notNull: true),
            "first_name": col("text", notNull: true),
            "last_name": col("text", notNull: true),
            "phone": col("text"),
            "village": col("text"),
            "gender": col("text"),
            "birth_year": col("smallint"),
            "farm_size_ha": col("numeric(8,2)"),
            "certifications": col("text[]", notNull: true, default: "'{}'::text[]"),
            "created_at": col(tz, notNull: true),
            "updated_at": col(tz, notNull: true),
            "deleted_at": col(tz),
        ],
        "deliveries": [
            "id": uuidID,
            "planteur_id": col("uuid", notNull: true),
            "warehouse_id": col("uuid", notNull: true),
            "invoice_id": col("uuid"),
            "created_by": col("uuid"),
            "delivered_on": col("date", notNull: true),
            "weight_kg": col("numeric(10,2)", notNull: true),
            "bags": col("smallint"),
            "quality_grade": col("quality_grade"),
            "humidity_pct": col("numeric(4,1)"),
            "price_per_kg": col("numeric(10,2)", notNull: true),
            "total_amount": col("numeric(14,2)", notNull: true),
            "notes": col("text"),
            "created_at": col(tz, notNull: true),
            "updated_at": col(tz, notNull: true),
        ],
        "delivery_photos": [
            "id": uuidID,
            "delivery_id": col("uuid", notNull: true),
            "storage_path": col("text", notNull: true),
            "caption": col("text"),
            "taken_at": col(tz),
            "uploaded_by": col("uuid"),
            "created_at": col(tz, notNull: true),
        ],
        "audit_log": [
            "id": uuidID,
            "actor_id": col("uuid"),
            "action": col("text", notNull: true),
            "entity": col("text"),
            "entity_id": col("uuid"),
            "old_data": col("jsonb"),
            "new_data": col("jsonb"),
            "ip_address": col("inet"),
            "created_at": col(tz, notNull: true),
        ],
    ]

    static let uniques: Set<String> = Set(columns.keys.map { "\($0): PRIMARY KEY (id)" }).union([
        "regions: UNIQUE (code)",
        "cooperatives: UNIQUE (code)",
        "profiles: UNIQUE (email)",
        "invoices: UNIQUE (invoice_number)",
    ])

    static let foreignKeys: Set<String> = [
        "public.cooperatives.region_id -> public.regions.id",
        "public.profiles.id -> auth.users.id",
        "public.profiles.cooperative_id -> public.cooperatives.id",
        "public.warehouses.cooperative_id -> public.cooperatives.id",
        "public.invoices.cooperative_id -> public.cooperatives.id",
        "public.chef_planteurs.cooperative_id -> public.cooperatives.id",
        "public.planteurs.chef_planteur_id -> public.chef_planteurs.id",
        "public.planteurs.cooperative_id -> public.cooperatives.id",
        "public.deliveries.planteur_id -> public.planteurs.id",
        "public.deliveries.warehouse_id -> public.warehouses.id",
        "public.deliveries.invoice_id -> public.invoices.id",
        "public.deliveries.created_by -> public.profiles.id",
        "public.delivery_photos.delivery_id -> public.deliveries.id",
        "public.delivery_photos.uploaded_by -> public.profiles.id",
        "public.audit_log.actor_id -> public.profiles.id",
    ]

    static let deleteActions = ["public.delivery_photos.delivery_id -> public.deliveries.id": "CASCADE"]

    /// `table(columns)` of every CHECK constraint in schema public.
    static let checkedColumns: Set<String> = ["planteurs(gender)", "deliveries(weight_kg)"]

    static let enums: [String: String] = [
        "app_role": "admin,manager,field_agent,viewer",
        "invoice_status": "draft,sent,paid,cancelled",
        "quality_grade": "grade_a,grade_b,grade_c,rejected",
    ]

    static let apiRoles: Set<String> = ["anon", "authenticated", "service_role"]
}

// MARK: - Supabase Auth's schema, transcribed from supabase/auth's migrations

/// The `auth` schema as supabase/auth's `migrations/*.up.sql` leave it when GoTrue applies them in
/// filename order, at commit bc32168e13fdc928c98b449fc76bc3fdb9a293c5 (2026-08-20); every table
/// but GoTrue's own `schema_migrations`. Columns render as `col` / `generated` do.
private enum Auth {
    static let source = "supabase/auth bc32168e"
    static let tz = "timestamp with time zone"
    static let ts = "timestamp without time zone"
    static let vc255 = "character varying(255)"

    static let auditLogEntries: [String: String] = [
        "instance_id": col("uuid"),
        "id": col("uuid", notNull: true),
        "payload": col("json"),
        "created_at": col(tz),
        "ip_address": col("character varying(64)", notNull: true, default: "''::character varying"),
    ]
    static let customOauthProviders: [String: String] = [
        "id": col("uuid", notNull: true, default: "gen_random_uuid()"),
        "provider_type": col("text", notNull: true),
        "identifier": col("text", notNull: true),
        "name": col("text", notNull: true),
        "client_id": col("text", notNull: true),
        "client_secret": col("text", notNull: true),
        "acceptable_client_ids": col("text[]", notNull: true, default: "'{}'::text[]"),
        "scopes": col("text[]", notNull: true, default: "'{}'::text[]"),
        "pkce_enabled": col("boolean", notNull: true, default: "true"),
        "attribute_mapping": col("jsonb", notNull: true, default: "'{}'::jsonb"),
        "authorization_params": col("jsonb", notNull: true, default: "'{}'::jsonb"),
        "enabled": col("boolean", notNull: true, default: "true"),
        "email_optional": col("boolean", notNull: true, default: "false"),
        "issuer": col("text"),
        "discovery_url": col("text"),
        "skip_nonce_check": col("boolean", notNull: true, default: "false"),
        "cached_discovery": col("jsonb"),
        "discovery_cached_at": col(tz),
        "authorization_url": col("text"),
        "token_url": col("text"),
        "userinfo_url": col("text"),
        "jwks_uri": col("text"),
        "created_at": col(tz, notNull: true, default: "now()"),
        "updated_at": col(tz, notNull: true, default: "now()"),
        "custom_claims_allowlist": col("text[]", notNull: true, default: "'{}'::text[]"),
    ]
    static let flowState: [String: String] = [
        "id": col("uuid", notNull: true),
        "user_id": col("uuid"),
        "auth_code": col("text"),
        "code_challenge_method": col("auth.code_challenge_method"),
        "code_challenge": col("text"),
        "provider_type": col("text", notNull: true),
        "provider_access_token": col("text"),
        "provider_refresh_token": col("text"),
        "created_at": col(tz),
        "updated_at": col(tz),
        "authentication_method": col("text", notNull: true),
        "auth_code_issued_at": col(tz),
        "invite_token": col("text"),
        "referrer": col("text"),
        "oauth_client_state_id": col("uuid"),
        "linking_target_id": col("uuid"),
        "email_optional": col("boolean", notNull: true, default: "false"),
    ]
    static let identities: [String: String] = [
        "provider_id": col("text", notNull: true),
        "user_id": col("uuid", notNull: true),
        "identity_data": col("jsonb", notNull: true),
        "provider": col("text", notNull: true),
        "last_sign_in_at": col(tz),
        "created_at": col(tz),
        "updated_at": col(tz),
        "email": generated("text", "lower((identity_data ->> 'email'::text))"),
        "id": col("uuid", notNull: true, default: "gen_random_uuid()"),
    ]
    static let instances: [String: String] = [
        "id": col("uuid", notNull: true),
        "uuid": col("uuid"),
        "raw_base_config": col("text"),
        "created_at": col(tz),
        "updated_at": col(tz),
    ]
    static let mfaAmrClaims: [String: String] = [
        "session_id": col("uuid", notNull: true),
        "created_at": col(tz, notNull: true),
        "updated_at": col(tz, notNull: true),
        "authentication_method": col("text", notNull: true),
        "id": col("uuid", notNull: true),
    ]
    static let mfaChallenges: [String: String] = [
        "id": col("uuid", notNull: true),
        "factor_id": col("uuid", notNull: true),
        "created_at": col(tz, notNull: true),
        "verified_at": col(tz),
        "ip_address": col("inet", notNull: true),
        "otp_code": col("text"),
        "web_authn_session_data": col("jsonb"),
    ]
    static let mfaFactors: [String: String] = [
        "id": col("uuid", notNull: true),
        "user_id": col("uuid", notNull: true),
        "friendly_name": col("text"),
        "factor_type": col("auth.factor_type", notNull: true),
        "status": col("auth.factor_status", notNull: true),
        "created_at": col(tz, notNull: true),
        "updated_at": col(tz, notNull: true),
        "secret": col("text"),
        "phone": col("text"),
        "last_challenged_at": col(tz),
        "web_authn_credential": col("jsonb"),
        "web_authn_aaguid": col("uuid"),
        "last_webauthn_challenge_data": col("jsonb"),
    ]
    static let oauthAuthorizations: [String: String] = [
        "id": col("uuid", notNull: true),
        "authorization_id": col("text", notNull: true),
        "client_id": col("uuid", notNull: true),
        "user_id": col("uuid"),
        "redirect_uri": col("text", notNull: true),
        "scope": col("text", notNull: true),
        "state": col("text"),
        "resource": col("text"),
        "code_challenge": col("text"),
        "code_challenge_method": col("auth.code_challenge_method"),
        "response_type": col("auth.oauth_response_type", notNull: true, default: "'code'::auth.oauth_response_type"),
        "status": col("auth.oauth_authorization_status", notNull: true, default: "'pending'::auth.oauth_authorization_status"),
        "authorization_code": col("text"),
        "created_at": col(tz, notNull: true, default: "now()"),
        "expires_at": col(tz, notNull: true, default: "(now() + '00:03:00'::interval)"),
        "approved_at": col(tz),
        "nonce": col("text"),
    ]
    static let oauthClientStates: [String: String] = [
        "id": col("uuid", notNull: true),
        "provider_type": col("text", notNull: true),
        "code_verifier": col("text"),
        "created_at": col(tz, notNull: true),
    ]
    static let oauthClients: [String: String] = [
        "id": col("uuid", notNull: true),
        "client_secret_hash": col("text"),
        "registration_type": col("auth.oauth_registration_type", notNull: true),
        "redirect_uris": col("text", notNull: true),
        "grant_types": col("text", notNull: true),
        "client_name": col("text"),
        "client_uri": col("text"),
        "logo_uri": col("text"),
        "created_at": col(tz, notNull: true, default: "now()"),
        "updated_at": col(tz, notNull: true, default: "now()"),
        "deleted_at": col(tz),
        "client_type": col("auth.oauth_client_type", notNull: true, default: "'confidential'::auth.oauth_client_type"),
        "token_endpoint_auth_method": col("text", notNull: true),
    ]
    static let oauthConsents: [String: String] = [
        "id": col("uuid", notNull: true),
        "user_id": col("uuid", notNull: true),
        "client_id": col("uuid", notNull: true),
        "scopes": col("text", notNull: true),
        "granted_at": col(tz, notNull: true, default: "now()"),
        "revoked_at": col(tz),
    ]
    static let oneTimeTokens: [String: String] = [
        "id": col("uuid", notNull: true),
        "user_id": col("uuid", notNull: true),
        "token_type": col("auth.one_time_token_type", notNull: true),
        "token_hash": col("text", notNull: true),
        "relates_to": col("text", notNull: true),
        "created_at": col(ts, notNull: true, default: "now()"),
        "updated_at": col(ts, notNull: true, default: "now()"),
    ]
    static let refreshTokens: [String: String] = [
        "instance_id": col("uuid"),
        "id": col("bigint", notNull: true, default: "nextval('auth.refresh_tokens_id_seq'::regclass)"),
        "token": col(vc255),
        "user_id": col(vc255),
        "revoked": col("boolean"),
        "created_at": col(tz),
        "updated_at": col(tz),
        "parent": col(vc255),
        "session_id": col("uuid"),
    ]
    static let samlProviders: [String: String] = [
        "id": col("uuid", notNull: true),
        "sso_provider_id": col("uuid", notNull: true),
        "entity_id": col("text", notNull: true),
        "metadata_xml": col("text", notNull: true),
        "metadata_url": col("text"),
        "attribute_mapping": col("jsonb"),
        "created_at": col(tz),
        "updated_at": col(tz),
        "name_id_format": col("text"),
    ]
    static let samlRelayStates: [String: String] = [
        "id": col("uuid", notNull: true),
        "sso_provider_id": col("uuid", notNull: true),
        "request_id": col("text", notNull: true),
        "for_email": col("text"),
        "redirect_to": col("text"),
        "created_at": col(tz),
        "updated_at": col(tz),
        "flow_state_id": col("uuid"),
    ]
    static let sessions: [String: String] = [
        "id": col("uuid", notNull: true),
        "user_id": col("uuid", notNull: true),
        "created_at": col(tz),
        "updated_at": col(tz),
        "factor_id": col("uuid"),
        "aal": col("auth.aal_level"),
        "not_after": col(tz),
        "refreshed_at": col(ts),
        "user_agent": col("text"),
        "ip": col("inet"),
        "tag": col("text"),
        "oauth_client_id": col("uuid"),
        "refresh_token_hmac_key": col("text"),
        "refresh_token_counter": col("bigint"),
        "scopes": col("text"),
    ]
    static let ssoDomains: [String: String] = [
        "id": col("uuid", notNull: true),
        "sso_provider_id": col("uuid", notNull: true),
        "domain": col("text", notNull: true),
        "created_at": col(tz),
        "updated_at": col(tz),
    ]
    static let ssoProviders: [String: String] = [
        "id": col("uuid", notNull: true),
        "resource_id": col("text"),
        "created_at": col(tz),
        "updated_at": col(tz),
        "disabled": col("boolean"),
    ]
    static let users: [String: String] = [
        "instance_id": col("uuid"),
        "id": col("uuid", notNull: true),
        "aud": col(vc255),
        "role": col(vc255),
        "email": col(vc255),
        "encrypted_password": col(vc255),
        "email_confirmed_at": col(tz),
        "invited_at": col(tz),
        "confirmation_token": col(vc255),
        "confirmation_sent_at": col(tz),
        "recovery_token": col(vc255),
        "recovery_sent_at": col(tz),
        "email_change_token_new": col(vc255),
        "email_change": col(vc255),
        "email_change_sent_at": col(tz),
        "last_sign_in_at": col(tz),
        "raw_app_meta_data": col("jsonb"),
        "raw_user_meta_data": col("jsonb"),
        "is_super_admin": col("boolean"),
        "created_at": col(tz),
        "updated_at": col(tz),
        "phone": col("text", default: "NULL::character varying"),
        "phone_confirmed_at": col(tz),
        "phone_change": col("text", default: "''::character varying"),
        "phone_change_token": col(vc255, default: "''::character varying"),
        "phone_change_sent_at": col(tz),
        "confirmed_at": generated(tz, "LEAST(email_confirmed_at, phone_confirmed_at)"),
        "email_change_token_current": col(vc255, default: "''::character varying"),
        "email_change_confirm_status": col("smallint", default: "0"),
        "banned_until": col(tz),
        "reauthentication_token": col(vc255, default: "''::character varying"),
        "reauthentication_sent_at": col(tz),
        "is_sso_user": col("boolean", notNull: true, default: "false"),
        "deleted_at": col(tz),
        "is_anonymous": col("boolean", notNull: true, default: "false"),
    ]
    static let webauthnChallenges: [String: String] = [
        "id": col("uuid", notNull: true, default: "gen_random_uuid()"),
        "user_id": col("uuid"),
        "challenge_type": col("text", notNull: true),
        "session_data": col("jsonb", notNull: true),
        "created_at": col(tz, notNull: true, default: "now()"),
        "expires_at": col(tz, notNull: true),
    ]
    static let webauthnCredentials: [String: String] = [
        "id": col("uuid", notNull: true, default: "gen_random_uuid()"),
        "user_id": col("uuid", notNull: true),
        "credential_id": col("bytea", notNull: true),
        "public_key": col("bytea", notNull: true),
        "attestation_type": col("text", notNull: true, default: "''::text"),
        "aaguid": col("uuid"),
        "sign_count": col("bigint", notNull: true, default: "0"),
        "transports": col("jsonb", notNull: true, default: "'[]'::jsonb"),
        "backup_eligible": col("boolean", notNull: true, default: "false"),
        "backed_up": col("boolean", notNull: true, default: "false"),
        "friendly_name": col("text", notNull: true, default: "''::text"),
        "created_at": col(tz, notNull: true, default: "now()"),
        "updated_at": col(tz, notNull: true, default: "now()"),
        "last_used_at": col(tz),
    ]
    static let columns: [String: [String: String]] = [
        "audit_log_entries": auditLogEntries,
        "custom_oauth_providers": customOauthProviders,
        "flow_state": flowState,
        "identities": identities,
        "instances": instances,
        "mfa_amr_claims": mfaAmrClaims,
        "mfa_challenges": mfaChallenges,
        "mfa_factors": mfaFactors,
        "oauth_authorizations": oauthAuthorizations,
        "oauth_client_states": oauthClientStates,
        "oauth_clients": oauthClients,
        "oauth_consents": oauthConsents,
        "one_time_tokens": oneTimeTokens,
        "refresh_tokens": refreshTokens,
        "saml_providers": samlProviders,
        "saml_relay_states": samlRelayStates,
        "sessions": sessions,
        "sso_domains": ssoDomains,
        "sso_providers": ssoProviders,
        "users": users,
        "webauthn_challenges": webauthnChallenges,
        "webauthn_credentials": webauthnCredentials,
    ]

    static let uniques: Set<String> = [
        "audit_log_entries: PRIMARY KEY (id)",
        "custom_oauth_providers: PRIMARY KEY (id)",
        "custom_oauth_providers: UNIQUE (identifier)",
        "flow_state: PRIMARY KEY (id)",
        "identities: PRIMARY KEY (id)",
        "identities: UNIQUE (provider_id, provider)",
        "instances: PRIMARY KEY (id)",
        "mfa_amr_claims: PRIMARY KEY (id)",
        "mfa_amr_claims: UNIQUE (session_id, authentication_method)",
        "mfa_challenges: PRIMARY KEY (id)",
        "mfa_factors: PRIMARY KEY (id)",
        "mfa_factors: UNIQUE (last_challenged_at)",
        "mfa_factors: UNIQUE INDEX (friendly_name, user_id) WHERE (TRIM(BOTH FROM friendly_name) <> ''::text)",
        "mfa_factors: UNIQUE INDEX (user_id, phone)",
        "oauth_authorizations: PRIMARY KEY (id)",
        "oauth_authorizations: UNIQUE (authorization_code)",
        "oauth_authorizations: UNIQUE (authorization_id)",
        "oauth_client_states: PRIMARY KEY (id)",
        "oauth_clients: PRIMARY KEY (id)",
        "oauth_consents: PRIMARY KEY (id)",
        "oauth_consents: UNIQUE (user_id, client_id)",
        "one_time_tokens: PRIMARY KEY (id)",
        "one_time_tokens: UNIQUE INDEX (user_id, token_type)",
        "refresh_tokens: PRIMARY KEY (id)",
        "refresh_tokens: UNIQUE (token)",
        "saml_providers: PRIMARY KEY (id)",
        "saml_providers: UNIQUE (entity_id)",
        "saml_relay_states: PRIMARY KEY (id)",
        "sessions: PRIMARY KEY (id)",
        "sso_domains: PRIMARY KEY (id)",
        "sso_domains: UNIQUE INDEX (lower(domain))",
        "sso_providers: PRIMARY KEY (id)",
        "sso_providers: UNIQUE INDEX (lower(resource_id))",
        "users: PRIMARY KEY (id)",
        "users: UNIQUE (phone)",
        "users: UNIQUE INDEX (email) WHERE (is_sso_user = false)",
        "webauthn_challenges: PRIMARY KEY (id)",
        "webauthn_credentials: PRIMARY KEY (id)",
        "webauthn_credentials: UNIQUE INDEX (credential_id)",
        "users: UNIQUE INDEX (confirmation_token) WHERE ((confirmation_token)::text !~ '^[0-9 ]*$'::text)",
        "users: UNIQUE INDEX (recovery_token) WHERE ((recovery_token)::text !~ '^[0-9 ]*$'::text)",
        "users: UNIQUE INDEX (email_change_token_current) WHERE ((email_change_token_current)::text !~ '^[0-9 ]*$'::text)",
        "users: UNIQUE INDEX (email_change_token_new) WHERE ((email_change_token_new)::text !~ '^[0-9 ]*$'::text)",
        "users: UNIQUE INDEX (reauthentication_token) WHERE ((reauthentication_token)::text !~ '^[0-9 ]*$'::text)",
    ]

    /// `auth.table.column -> auth.table.column` → ON DELETE action.
    static let foreignKeys: [String: String] = [
        "auth.identities.user_id -> auth.users.id": "CASCADE",
        "auth.mfa_amr_claims.session_id -> auth.sessions.id": "CASCADE",
        "auth.mfa_challenges.factor_id -> auth.mfa_factors.id": "CASCADE",
        "auth.mfa_factors.user_id -> auth.users.id": "CASCADE",
        "auth.oauth_authorizations.client_id -> auth.oauth_clients.id": "CASCADE",
        "auth.oauth_authorizations.user_id -> auth.users.id": "CASCADE",
        "auth.oauth_consents.client_id -> auth.oauth_clients.id": "CASCADE",
        "auth.oauth_consents.user_id -> auth.users.id": "CASCADE",
        "auth.one_time_tokens.user_id -> auth.users.id": "CASCADE",
        "auth.refresh_tokens.session_id -> auth.sessions.id": "CASCADE",
        "auth.saml_providers.sso_provider_id -> auth.sso_providers.id": "CASCADE",
        "auth.saml_relay_states.flow_state_id -> auth.flow_state.id": "CASCADE",
        "auth.saml_relay_states.sso_provider_id -> auth.sso_providers.id": "CASCADE",
        "auth.sessions.oauth_client_id -> auth.oauth_clients.id": "CASCADE",
        "auth.sessions.user_id -> auth.users.id": "CASCADE",
        "auth.sso_domains.sso_provider_id -> auth.sso_providers.id": "CASCADE",
        "auth.webauthn_challenges.user_id -> auth.users.id": "CASCADE",
        "auth.webauthn_credentials.user_id -> auth.users.id": "CASCADE",
    ]

    static let enums: [String: String] = [
        "aal_level": "aal1,aal2,aal3",
        "code_challenge_method": "s256,plain",
        "factor_status": "unverified,verified",
        "factor_type": "totp,webauthn,phone",
        "oauth_authorization_status": "pending,approved,denied,expired",
        "oauth_client_type": "public,confidential",
        "oauth_registration_type": "dynamic,manual",
        "oauth_response_type": "code",
        "one_time_token_type": "confirmation_token,reauthentication_token,recovery_token,email_change_token_new,email_change_token_current,phone_change_token",
    ]

    static let functions: [String] = ["uid", "role", "email", "jwt"]

    /// 20240612123726 enables row level security on the tables that existed then; the tables of
    /// later migrations are created without it.
    static let withoutRowLevelSecurity: Set<String> = [
        "custom_oauth_providers", "oauth_authorizations", "oauth_client_states", "oauth_clients", "oauth_consents",
        "webauthn_challenges", "webauthn_credentials",
    ]
}

// MARK: - Reading the catalog

private enum Catalog {
    /// Enum type → its labels in sort order, comma-separated.
    static func enums(_ c: PGConnection, schema: String) async throws -> [String: String] {
        let r = try await c.query("""
            SELECT t.typname, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
            FROM pg_type t
            JOIN pg_namespace n ON n.oid = t.typnamespace
            JOIN pg_enum e ON e.enumtypid = t.oid
            WHERE n.nspname = $1
            GROUP BY t.typname
            """, [schema])
        return Dictionary(uniqueKeysWithValues: r.rows.map { ($0[0] ?? "", $0[1] ?? "") })
    }

    /// Ordinary and partitioned tables of `schema`.
    static func tables(_ c: PGConnection, schema: String) async throws -> Set<String> {
        let r = try await c.query("""
            SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
            """, [schema])
        return Set(r.rows.compactMap { $0[0] })
    }

    /// table → column → `format_type[ NOT NULL][ DEFAULT expr]`, or for a generated column
    /// `format_type GENERATED ALWAYS AS (expr) STORED`.
    static func columns(_ c: PGConnection, schema: String, includeDefaults: Bool = true) async throws -> [String: [String: String]] {
        let r = try await c.query("""
            SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                   pg_get_expr(d.adbin, d.adrelid), a.attgenerated
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
            WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
            ORDER BY c.relname, a.attnum
            """, [schema])
        var out: [String: [String: String]] = [:]
        for row in r.rows {
            let table = row[0] ?? "", column = row[1] ?? ""
            if row[5] == "s" {
                out[table, default: [:]][column] = generated(row[2] ?? "?", includeDefaults ? row[4] ?? "?" : nil)
            } else {
                out[table, default: [:]][column] = col(row[2] ?? "?", notNull: row[3] == "t", default: includeDefaults ? row[4] : nil)
            }
        }
        return out
    }

    /// Every unique index of `schema`: `table: PRIMARY KEY (cols)`, `table: UNIQUE (cols)` for a
    /// unique constraint, `table: UNIQUE INDEX (exprs)[ WHERE pred]` for a bare unique index.
    static func uniqueIndexes(_ c: PGConnection, schema: String) async throws -> Set<String> {
        let r = try await c.query("""
            SELECT t.relname,
                   CASE WHEN x.indisprimary THEN 'PRIMARY KEY'
                        WHEN EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid AND k.contype = 'u') THEN 'UNIQUE'
                        ELSE 'UNIQUE INDEX' END,
                   (SELECT string_agg(pg_get_indexdef(x.indexrelid, k, true), ', ' ORDER BY k)
                      FROM generate_series(1, x.indnkeyatts::int) k),
                   pg_get_expr(x.indpred, x.indrelid)
            FROM pg_index x
            JOIN pg_class t ON t.oid = x.indrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace
            WHERE n.nspname = $1 AND x.indisunique
            """, [schema])
        return Set(r.rows.map { row in
            "\(row[0] ?? ""): \(row[1] ?? "") (\(row[2] ?? ""))" + (row[3].map { " WHERE \($0)" } ?? "")
        })
    }

    /// `schema.table.col -> refschema.reftable.refcol` → ON DELETE action, for every foreign key
    /// declared on a table of `schema` (multi-column keys render their columns comma-separated).
    static func foreignKeys(_ c: PGConnection, schema: String) async throws -> [String: String] {
        let r = try await c.query("""
            SELECT n.nspname || '.' || t.relname || '.' ||
                     (SELECT string_agg(a.attname, ',' ORDER BY u.ord) FROM unnest(f.conkey) WITH ORDINALITY u(attnum, ord)
                        JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = u.attnum)
                   || ' -> ' || rn.nspname || '.' || rt.relname || '.' ||
                     (SELECT string_agg(a.attname, ',' ORDER BY u.ord) FROM unnest(f.confkey) WITH ORDINALITY u(attnum, ord)
                        JOIN pg_attribute a ON a.attrelid = f.confrelid AND a.attnum = u.attnum),
                   CASE f.confdeltype WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE'
                                      WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' END
            FROM pg_constraint f
            JOIN pg_class t ON t.oid = f.conrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace
            JOIN pg_class rt ON rt.oid = f.confrelid
            JOIN pg_namespace rn ON rn.oid = rt.relnamespace
            WHERE f.contype = 'f' AND n.nspname = $1
            """, [schema])
        return Dictionary(r.rows.map { ($0[0] ?? "", $0[1] ?? "") }, uniquingKeysWith: { a, b in "\(a) + \(b) (duplicate foreign keys)" })
    }

    /// `table(cols)` → definitions of the CHECK constraints on those columns, for `schema`.
    static func checks(_ c: PGConnection, schema: String) async throws -> [String: [String]] {
        let r = try await c.query("""
            SELECT t.relname || '(' ||
                     coalesce((SELECT string_agg(a.attname, ',' ORDER BY a.attname) FROM pg_attribute a
                                WHERE a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)), '') || ')',
                   pg_get_constraintdef(k.oid, true)
            FROM pg_constraint k
            JOIN pg_class t ON t.oid = k.conrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace
            WHERE k.contype = 'c' AND n.nspname = $1
            """, [schema])
        var out: [String: [String]] = [:]
        for row in r.rows { out[row[0] ?? "", default: []].append(row[1] ?? "") }
        return out
    }
}

// MARK: - Readable differences

private enum Diff {
    static func maps(_ what: String, prefix: String?, expected: [String: String], actual: [String: String]) -> String {
        var lines: [String] = []
        for key in Set(expected.keys).union(actual.keys).sorted() {
            let name = prefix.map { "\($0).\(key)" } ?? key
            switch (expected[key], actual[key]) {
            case let (e?, a?) where e != a: lines.append("  \(name): expected \(e) | actual \(a)")
            case let (e?, nil): lines.append("  \(name): missing (expected \(e))")
            case let (nil, a?): lines.append("  \(name): unexpected (actual \(a))")
            default: break
            }
        }
        return "\(what) differs from DATA_MODEL.md:\n" + lines.joined(separator: "\n")
    }

    static func sets(_ what: String, expected: Set<String>, actual: Set<String>) -> String {
        let missing = expected.subtracting(actual).sorted().map { "  missing:    \($0)" }
        let extra = actual.subtracting(expected).sorted().map { "  unexpected: \($0)" }
        return "\(what) differ from DATA_MODEL.md:\n" + (missing + extra).joined(separator: "\n")
    }
}

/// A fresh V1 + V2 pair from the shared fixture.
private func freshSchemaPair() async throws -> DatabasePair {
    try await TestSandbox.shared.freshPair("schema")
}

/// Runs `sql`, which must fail with SQLSTATE `state`.
private func expectSQLState(_ state: String, _ c: PGConnection, _ sql: String, _ why: String,
                            sourceLocation: SourceLocation = #_sourceLocation) async {
    do {
        try await c.execute(sql)
        Issue.record("\(why): the statement succeeded, expected SQLSTATE \(state)", sourceLocation: sourceLocation)
    } catch let error as MigrationError {
        #expect(error.sqlState == state, "\(why): expected SQLSTATE \(state), actual \(error.sqlState ?? "none"): \(error.message)",
                sourceLocation: sourceLocation)
    } catch {
        Issue.record("\(why): unexpected error \(error)", sourceLocation: sourceLocation)
    }
}
