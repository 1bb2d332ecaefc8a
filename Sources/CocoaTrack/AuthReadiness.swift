import Foundation
import MigrationEngine

/// Whether Supabase Auth (GoTrue) can log in the users this migration wrote, checked the way
/// GoTrue reads them (see `SupabaseAuth`): every migrated `auth.users` row without NULL in a
/// column GoTrue holds as a non-nullable Go value, with one consistent `email` identity, its
/// email confirmed, and banned exactly when its profile is inactive. Plus each test account's
/// password against its migrated bcrypt hash (pgcrypto) and, given GoTrue's URL, a real
/// password grant. `check-success` reports these as `users_can_log_in`.
public enum AuthReadiness {
    /// One kind of problem, over every migrated user that has it.
    public struct Problem: Sendable {
        /// e.g. `null:confirmation_token`, `no_identity`, `unconfirmed` (see `describe`).
        public var code: String
        public var users: Int
        /// Up to 5, in id order.
        public var firstIDs: [String]
    }

    public struct Report: Sendable {
        /// Migrated users found in `auth.users` and read.
        public var checked: Int
        /// Users GoTrue could not read (a NULL non-nullable column, or no consistent identity).
        public var unreadable: Int
        public var firstUnreadable: [String]
        /// Users with any problem (unreadable, or a login GoTrue would refuse or wrongly allow).
        public var failing: Int
        public var firstFailing: [String]
        public var problems: [Problem]
        /// Why the check could not run at all (no migration recorded, no migrated user found).
        public var cannotCheck: String?
        public var passed: Bool { cannotCheck == nil && failing == 0 && checked > 0 }
    }

    /// The V2 ids of the users this migration wrote: the `auth_users` load's owned keys up to the
    /// largest V1 id it loaded (its `last_source_id` in the state table). nil: no load recorded.
    public static func migratedUserIDs(_ c: PGConnection, plan: MigrationPlan = CocoaTrackMapping.plan(context: .init())) async throws -> [String]? {
        guard let load = plan.loads.first(where: { $0.target == SupabaseAuth.users }), let owned = load.ownedKeys,
              let progress = try await MigrationState(schema: plan.stateSchema).progress(c)[load.name] else { return nil }
        return owned.keys(progress.lastSourceID)
    }

    /// Per user `u` (auth.users), `p` (public.profiles) and `i` (its email identity, when the
    /// table exists): the problems that stop GoTrue reading it, and those that make GoTrue refuse
    /// (or wrongly allow) its login, as text arrays of codes.
    static func perUserSQL(identities: Bool, filter: String) -> String {
        let identity = identities ? """
            CASE WHEN i.id IS NULL THEN ARRAY['no_identity']
                 ELSE ARRAY(SELECT 'identity_null:' || x FROM unnest(\(SupabaseAuth.nullIdentityColumnsSQL("i"))) x)
                   || array_remove(ARRAY[
                        CASE WHEN i.provider_id IS DISTINCT FROM u.id::text THEN 'identity_provider_id' END,
                        CASE WHEN i.identity_data->>'sub' IS DISTINCT FROM u.id::text THEN 'identity_sub' END,
                        CASE WHEN lower(i.identity_data->>'email') IS DISTINCT FROM lower(u.email) THEN 'identity_email' END], NULL)
            END
            """ : "ARRAY['no_identity_table']"
        let join = identities ? """
            LEFT JOIN LATERAL (SELECT * FROM \(SupabaseAuth.identities.sql) i0
                               WHERE i0.user_id = u.id AND i0.provider = \(SQL.literal(SupabaseAuth.emailProvider))
                               ORDER BY (i0.provider_id = u.id::text) DESC NULLS LAST LIMIT 1) i ON true
            """ : ""
        return """
            SELECT u.id, u.email,
                   ARRAY(SELECT 'null:' || x FROM unnest(\(SupabaseAuth.nullUserColumnsSQL("u"))) x) || \(identity) AS unreadable,
                   array_remove(ARRAY[
                     CASE WHEN u.email_confirmed_at IS NULL THEN 'unconfirmed' END,
                     CASE WHEN p.id IS NULL THEN 'no_profile'
                          WHEN p.is_active AND u.banned_until IS NOT NULL AND u.banned_until > now() THEN 'banned_active'
                          WHEN NOT p.is_active AND (u.banned_until IS NULL OR u.banned_until <= now()) THEN 'inactive_unbanned' END], NULL) AS refused
            FROM \(SupabaseAuth.users.sql) u
            LEFT JOIN public.profiles p ON p.id = u.id
            \(join)
            WHERE \(filter)
            """
    }

    static func identitiesExist(_ c: PGConnection) async throws -> Bool {
        try await c.scalar("SELECT to_regclass($1) IS NOT NULL", [SupabaseAuth.identities.sql]) == "t"
    }

    /// Reads every migrated user as GoTrue reads it, in one query.
    public static func check(_ c: PGConnection, plan: MigrationPlan = CocoaTrackMapping.plan(context: .init())) async throws -> Report {
        var report = Report(checked: 0, unreadable: 0, firstUnreadable: [], failing: 0, firstFailing: [], problems: [])
        guard let ids = try await migratedUserIDs(c, plan: plan) else {
            report.cannotCheck = "no migration recorded in V2 (no auth_users load in \(plan.stateSchema).load_progress): run migrate first"
            return report
        }
        let identities = try await identitiesExist(c)
        let rows: [[String?]]
        do {
            rows = try await c.query("""
            WITH keys AS (SELECT k::uuid AS id FROM unnest($1::text[]) k),
            checked AS (\(perUserSQL(identities: identities, filter: "u.id IN (SELECT id FROM keys)"))),
            problems AS (SELECT id, unreadable || refused AS codes, cardinality(unreadable) > 0 AS unreadable FROM checked),
            per AS (SELECT x AS code, count(*) AS n, array_to_string((array_agg(id::text ORDER BY id))[1:5], ',') AS ids
                    FROM problems, unnest(codes) x GROUP BY x)
            SELECT (SELECT count(*) FROM problems),
                   (SELECT count(*) FROM problems WHERE unreadable),
                   (SELECT array_to_string((array_agg(id::text ORDER BY id))[1:5], ',') FROM problems WHERE unreadable),
                   (SELECT count(*) FROM problems WHERE cardinality(codes) > 0),
                   (SELECT array_to_string((array_agg(id::text ORDER BY id))[1:5], ',') FROM problems WHERE cardinality(codes) > 0),
                   per.code, per.n, per.ids
            FROM (SELECT 1) one LEFT JOIN per ON true
            ORDER BY per.n DESC NULLS LAST, per.code
            """, [pgTextArray(ids)]).rows
        } catch let e as MigrationError where e.code == .queryFailed || e.code == .missingPrivilege {
            // e.g. a V2 whose auth schema lacks a column GoTrue has, or that this login may not read.
            report.cannotCheck = "reading the migrated users failed: \(e.message)"
            return report
        }
        func list(_ s: String?) -> [String] { (s ?? "").split(separator: ",").map(String.init) }
        guard let first = rows.first else { return report }
        report.checked = Int(first[0] ?? "0") ?? 0
        report.unreadable = Int(first[1] ?? "0") ?? 0
        report.firstUnreadable = list(first[2])
        report.failing = Int(first[3] ?? "0") ?? 0
        report.firstFailing = list(first[4])
        report.problems = rows.compactMap { r in r[5].map { Problem(code: $0, users: Int(r[6] ?? "0") ?? 0, firstIDs: list(r[7])) } }
        if report.checked == 0 {
            report.cannotCheck = "none of the \(ids.count) users the migration recorded is in auth.users: was V2 cleared? Re-run migrate"
        }
        return report
    }

    /// The problem codes of one user, found by email (nil: no such auth user).
    public static func problems(_ c: PGConnection, email: String) async throws -> [String]? {
        let identities = try await identitiesExist(c)
        guard let r = try await c.query("SELECT array_to_string(unreadable || refused, ',') FROM (\(perUserSQL(identities: identities, filter: "u.email = $1"))) x LIMIT 1",
                                        [email]).rows.first else { return nil }
        return (r[0] ?? "").split(separator: ",").map(String.init)
    }

    /// The value that fills a NULL in a non-nullable `auth.users` column, as GoTrue's admin API writes it.
    static func fillValue(_ column: String) -> String? {
        switch column {
        case "aud", "role": return "'authenticated'"
        case "is_sso_user", "is_anonymous": return "false"
        case "email_change_confirm_status": return "0"
        case "created_at": return "coalesce(updated_at, now())"
        case "updated_at": return "coalesce(created_at, now())"
        case "instance_id": return SQL.literal(SupabaseAuth.instanceID)
        case "id": return nil
        default: return "''"
        }
    }

    static let rerun = "re-run the migration after `rollback --clear-v2` (it writes one email identity per user)"

    /// What a problem code means, and its fix.
    public static func describe(_ code: String) -> (what: String, fix: String) {
        if code.hasPrefix("null:") {
            let col = String(code.dropFirst(5))
            // The names are SupabaseAuth's plain lowercase identifiers: written unquoted, as a person would.
            let fix = fillValue(col).map { "UPDATE auth.users SET \(col) = \($0) WHERE \(col) IS NULL" } ?? rerun
            return ("NULL in auth.users.\(col)", fix)
        }
        if code.hasPrefix("identity_null:") { return ("NULL in auth.identities.\(code.dropFirst(14))", rerun) }
        switch code {
        case "no_identity": return ("no email identity in auth.identities", rerun)
        case "no_identity_table": return ("auth.identities does not exist (GoTrue keeps each user's email identity there)",
                                          "apply Supabase Auth's schema to V2, then \(rerun)")
        case "identity_provider_id": return ("the email identity's provider_id is not the user id", rerun)
        case "identity_sub": return ("the email identity's identity_data->>'sub' is not the user id", rerun)
        case "identity_email": return ("the email identity's email is not the user's email", rerun)
        case "unconfirmed": return ("email not confirmed (email_confirmed_at NULL: GoTrue answers email_not_confirmed)",
                                    "UPDATE auth.users SET email_confirmed_at = created_at WHERE email_confirmed_at IS NULL")
        case "banned_active": return ("banned although the profile is active",
                                      "UPDATE auth.users u SET banned_until = NULL FROM public.profiles p WHERE p.id = u.id AND p.is_active")
        case "inactive_unbanned": return ("not banned although the profile is inactive (an inactive user could log in)",
                                          "UPDATE auth.users u SET banned_until = 'infinity' FROM public.profiles p WHERE p.id = u.id AND NOT p.is_active")
        case "no_profile": return ("no public.profiles row", rerun)
        default: return (code, rerun)
        }
    }

    /// The report as evidence: the pass, or how many users fail, the first ids, each problem and its fix.
    public static func evidence(_ r: Report) -> String {
        if let why = r.cannotCheck { return "could not read the migrated users as GoTrue does: \(why)" }
        if r.passed {
            return "GoTrue can read all \(r.checked) migrated users as it reads them (no NULL in the \(SupabaseAuth.userNonNullColumns.count) auth.users columns it holds as non-nullable, one consistent email identity each, email confirmed, banned exactly when inactive)"
        }
        var head: [String] = []
        if r.unreadable > 0 { head.append("GoTrue could not read \(r.unreadable) of \(r.checked) migrated users (first: \(r.firstUnreadable.joined(separator: ", ")))") }
        if r.failing > r.unreadable || r.unreadable == 0 {
            head.append("in all \(r.failing) of \(r.checked) migrated users cannot log in as they should (first: \(r.firstFailing.joined(separator: ", ")))")
        }
        let details = r.problems.map { p in
            let d = describe(p.code)
            return "\(d.what): \(p.users) user\(p.users == 1 ? "" : "s") (\(p.firstIDs.joined(separator: ", "))\(p.users > p.firstIDs.count ? ", …" : "")); fix: \(d.fix)"
        }
        return (head + details).joined(separator: "; ")
    }

    /// A test account's password against its migrated hash, with pgcrypto's crypt() in V2.
    /// nil: no such auth user.
    public static func passwordMatches(_ c: PGConnection, email: String, password: String) async throws -> (id: String, notBanned: Bool, matches: Bool)? {
        guard let r = try await c.query("""
            SELECT u.id::text, (u.banned_until IS NULL OR u.banned_until < now()),
                   extensions.crypt($2, overlay(u.encrypted_password placing '$2a$' from 1 for 4)) = overlay(u.encrypted_password placing '$2a$' from 1 for 4)
            FROM auth.users u WHERE u.email = $1
            """, [email, password]).rows.first else { return nil }
        return (r[0] ?? "?", r[1] == "t", r[2] == "t")
    }

    /// What GoTrue answered a password grant.
    public struct GrantResult: Sendable {
        public var reached: Bool
        /// The HTTP status, "?" when none.
        public var status: String
        public var accessToken: Bool
        public var errorCode: String?
        public var message: String?
        public var granted: Bool { reached && status == "200" && accessToken }
        public var refusedPassword: Bool { status == "400" && errorCode == "invalid_credentials" }
        public var unreadableUser: Bool { status == "500" && (message ?? "").contains("Database error querying schema") }
    }

    /// `POST <authURL>/token?grant_type=password` with `apikey`, as a client app logs in (in process, ``WebClient``: the anon key and the password are on no command line).
    public static func passwordGrant(authURL: String, anonKey: String, email: String, password: String) async -> GrantResult {
        let body = "{\"email\": \(CocoaTrackRules.jsonString(email)), \"password\": \(CocoaTrackRules.jsonString(password))}"
        var base = authURL
        while base.hasSuffix("/") { base.removeLast() }
        let res: WebClient.Response
        do {
            res = try await WebClient.send("POST", base + "/token?grant_type=password",
                                           headers: [("Content-Type", "application/json"), ("apikey", anonKey)], body: Data(body.utf8))
        } catch let e as MigrationError {
            return GrantResult(reached: false, status: "?", accessToken: false, message: e.message)
        } catch {
            return GrantResult(reached: false, status: "?", accessToken: false, message: "\(error)")
        }
        let status = String(res.status)
        let json = (try? JSONSerialization.jsonObject(with: res.body)) as? [String: Any] ?? [:]
        let token = (json["access_token"] as? String).map { !$0.isEmpty } ?? false
        let code = json["error_code"] as? String ?? json["error"] as? String
        let msg = json["msg"] as? String ?? json["error_description"] as? String ?? json["message"] as? String
        return GrantResult(reached: true, status: status, accessToken: token, errorCode: code, message: msg)
    }

    /// One account's grant as evidence; `problems`: that user's problem codes in V2 (for a 500).
    public static func grantEvidence(_ email: String, _ g: GrantResult, problems: [String]?) -> String {
        if g.granted { return "\(email): Supabase Auth password grant HTTP 200, token issued" }
        if !g.reached { return "\(email): Supabase Auth could not be reached (\(g.message ?? "no answer"))" }
        if g.refusedPassword { return "\(email): Supabase Auth refused the password (HTTP 400 invalid_credentials: \(g.message ?? "Invalid login credentials"))" }
        if g.unreadableUser {
            let found = (problems ?? []).filter { $0.hasPrefix("null:") || $0.hasPrefix("identity") || $0.hasPrefix("no_identity") }
            let why = found.isEmpty
                ? "likely NULL in one of auth.users.\(SupabaseAuth.userNonNullColumns.joined(separator: ", ")) or auth.identities.\(SupabaseAuth.identityNonNullColumns.joined(separator: ", ")); fix: set each NULL token column to '' (e.g. UPDATE auth.users SET confirmation_token = '' WHERE confirmation_token IS NULL), or \(rerun)"
                : found.map { let d = describe($0); return "\(d.what); fix: \(d.fix)" }.joined(separator: "; ")
            return "\(email): Supabase Auth could not read the user (HTTP 500 Database error querying schema, supabase/auth#1940): \(why)"
        }
        return "\(email): Supabase Auth password grant HTTP \(g.status)\(g.errorCode.map { " \($0)" } ?? "")\(g.message.map { ": \($0)" } ?? ""), no token"
    }

    /// The success criterion "users can create deliveries": a delivery inserted as `uid` (role
    /// `authenticated`, the user's JWT claims, row level security on), in a transaction rolled back.
    public static func createDelivery(_ v2: PGConnection, asUser uid: String) async throws -> (passed: Bool, evidence: String) {
        try await v2.withSession { s in
            try s.execute("BEGIN")
            defer { try? s.execute("ROLLBACK") }
            do {
                try s.execute("SET LOCAL ROLE authenticated")
                _ = try s.query("SELECT set_config('request.jwt.claims', $1, true)", ["{\"sub\": \"\(uid)\", \"role\": \"authenticated\"}"])
                let r = try s.query("""
                    INSERT INTO public.deliveries (id, planteur_id, warehouse_id, created_by, delivered_on, weight_kg, price_per_kg, total_amount, notes, created_at, updated_at)
                    SELECT gen_random_uuid(), (SELECT id FROM public.planteurs ORDER BY id LIMIT 1), (SELECT id FROM public.warehouses ORDER BY id LIMIT 1),
                           auth.uid(), current_date, 1, 1, 1, 'check-success probe (rolled back)', now(), now()
                    RETURNING id::text
                    """)
                return (true, "inserted delivery \(r.rows.first?[0] ?? "?") as user \(uid) (role authenticated, RLS on); rolled back")
            } catch let e as MigrationError {
                return (false, "the insert as user \(uid) was refused: \(e.message)")
            }
        }
    }
}
