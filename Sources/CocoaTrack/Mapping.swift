import Foundation
import MigrationEngine

/// The V1 → V2 mapping of docs/mapping.md as load specs: one per V2 table (two from V1 `users`:
/// `auth.users` and `profiles`). Every value rule comes from `CocoaTrackRules`.
public enum CocoaTrackMapping {
    public static let stateSchema = "cocoatrack_migration"

    /// Cross-row facts the rules need, read from V1 before loading.
    public struct Context: Sendable {
        /// V1 user id → the id of the lower user with the same normalised email (duplicates only).
        public var duplicateOf: [Int64: Int64] = [:]
        /// Precomputed uuids of the referenced parent tables (ids up to `uuidCacheLimit`).
        public var uuids: [String: UUIDTable] = [:]
        /// V1 ids paired with V2 uuids by `sync-v2-to-v1` (rows created in V2 after cutover).
        public var pairs = KeyPairs()
        public init() {}

        public func ids(_ table: String) -> UUIDTable { uuids[table] ?? UUIDTable(table: table, maxID: 0, pairs: pairs) }
    }

    /// Parent tables whose ids are precomputed when their largest id is at most this.
    public static let uuidCacheLimit = 250_000

    public static func context(v1: PGConnection) async throws -> Context {
        var ctx = Context()
        let rows = try await v1.query("SELECT id, email FROM public.users ORDER BY id").rows
        // Keyed by bytes, as PostgreSQL compares text: `String` equality would merge canonically
        // equivalent but different emails (`é` and `e` + U+0301), which V2 keeps apart.
        var first: [[UInt8]: Int64] = [:]
        for r in rows {
            guard let id = Int64(r[0] ?? ""), let email = r[1] else { continue }
            let key = Array(CocoaTrackRules.email(email).utf8)
            if let winner = first[key] { ctx.duplicateOf[id] = winner } else { first[key] = id }
        }
        for (table, id, key) in try await SyncJournal.pairings(v1) { ctx.pairs.add(table: table, id: id, key: key) }
        for table in ["regions", "cooperatives", "users", "warehouses", "invoices", "chef_planteurs", "planteurs"] {
            let maxID = Int(try await v1.scalar("SELECT coalesce(max(id), 0) FROM public.\(table)") ?? "0") ?? 0
            ctx.uuids[table] = UUIDTable(table: table, maxID: maxID <= uuidCacheLimit ? maxID : 0, pairs: ctx.pairs)
        }
        return ctx
    }

    /// The account of V1's photo URLs, for the reverse rule (a setting).
    public static let defaultBlobAccount = "cocoatrackv1"

    public static func plan(context: Context, appRole: String = CocoaTrackSchema.defaultAppRole,
                            blobAccount: String = defaultBlobAccount) -> MigrationPlan {
        MigrationPlan(loads: loads(context), stateSchema: stateSchema, appRole: appRole, sourceSchemas: ["public"],
                      targetSchemas: ["public"], extraTargetTables: [SupabaseAuth.users, SupabaseAuth.identities],
                      sourceKey: { table, id in context.ids(table)(String(id)) },
                      reverse: CocoaTrackReverse.specs(blobAccount: blobAccount), pairs: context.pairs)
    }

    static func v1(_ t: String) -> TableName { TableName("public", t) }
    static func v2(_ t: String) -> TableName { TableName("public", t) }

    public static func loads(_ ctx: Context) -> [LoadSpec] {
        [regions(ctx), cooperatives(ctx), authUsers(ctx), authIdentities(ctx), profiles(ctx), warehouses(ctx), invoices(ctx), chefPlanteurs(ctx),
         planteurs(ctx), deliveries(ctx), deliveryPhotos(ctx), auditLog(ctx)]
    }

    typealias R = CocoaTrackRules

    static func phone(_ v: String?, _ column: String, _ issues: inout RowIssues) -> String? {
        let (value, invalid) = R.phone(v)
        if invalid { issues.warn("invalid_phone", column: column, "phone \(R.jsonString(v ?? "")) is not an Ivorian number; set to NULL") }
        return value
    }

    static func regions(_ ctx: Context) -> LoadSpec {
        let regionIDs = ctx.ids("regions")
        let cols = ["id", "name", "code", "created_at"]
        return LoadSpec(name: "regions", source: v1("regions"), sourceColumns: cols, target: v2("regions"),
                        targetColumns: ["id", "name", "code", "created_at"]) { r, _ in
            [regionIDs(r[0]!), r[1], r[2], R.timestamptz(r[3])]
        }
    }

    static func cooperatives(_ ctx: Context) -> LoadSpec {
        let coopIDs = ctx.ids("cooperatives")
        let regionIDs = ctx.ids("regions")
        let cols = ["id", "region_id", "name", "code", "phone", "address", "is_active", "created_at", "updated_at"]
        return LoadSpec(name: "cooperatives", source: v1("cooperatives"), sourceColumns: cols, target: v2("cooperatives"),
                        targetColumns: ["id", "region_id", "name", "code", "phone", "address", "is_active", "created_at", "updated_at"],
                        references: [ReferenceRule("region_id", parent: "regions", required: true)]) { r, issues in
            [coopIDs(r[0]!), regionIDs(r[1]!), r[2], r[3], phone(r[4], "phone", &issues), r[5], r[6],
             R.timestamptz(r[7]), R.updatedAt(r[8], created: r[7])]
        }
    }

    static let userColumns = ["id", "email", "password_hash", "full_name", "role", "cooperative_id", "phone", "is_active",
                              "last_login_at", "created_at", "updated_at"]

    /// The rejections of a V1 user, identical for both loads that read `users`.
    static func userRejected(_ r: [String?], _ ctx: Context, _ issues: inout RowIssues) -> Bool {
        let id = Int64(r[0]!)!
        if let winner = ctx.duplicateOf[id] {
            issues.reject("duplicate_email", column: "email", "email \(R.jsonString(R.email(r[1] ?? ""))) already belongs to user \(winner)")
            return true
        }
        if R.email(r[1] ?? "").unicodeScalars.count > R.maxEmailLength {
            issues.reject("invalid_email", column: "email", "email is longer than \(R.maxEmailLength) characters once trimmed and lowercased (auth.users.email is varchar(\(R.maxEmailLength)))")
            return true
        }
        if R.role(r[4] ?? "") == nil {
            issues.reject("invalid_role", column: "role", "role \(R.jsonString(r[4] ?? "")) is not admin, manager, agent or viewer")
            return true
        }
        return false
    }

    /// A V1 user's sign-in time as V2 holds it after cutover: a sign-in through Supabase Auth moves
    /// `auth.users.last_sign_in_at` and the identity's, not `profiles.last_login_at`, so each of
    /// the three reads as the latest of them (SQL; `user` names the user's id in the row read).
    static func signIn(_ user: String) -> String {
        """
        SELECT max(t) FROM (SELECT p.last_login_at FROM public.profiles p WHERE p.id = \(user)
            UNION ALL SELECT a.last_sign_in_at FROM auth.users a WHERE a.id = \(user)
            UNION ALL SELECT i.last_sign_in_at FROM auth.identities i WHERE i.user_id = \(user) AND i.provider = 'email') s(t)
        """
    }

    /// Supabase Auth's own bookkeeping in `auth.users`, which V1 has no place for: ignored after
    /// cutover (assessment and sync; verify compares them before). Its `updated_at` moves on every
    /// sign-in; the tokens belong to pending confirmations, recoveries and changes; for a user who
    /// signed up in V2, its `created_at`, `email_confirmed_at` and the metadata it copies from the
    /// identity are GoTrue's (V1's name and creation time come from the profile). Everything that
    /// makes the account (id, email, password hash, role, audience, ban, flags, app metadata) is
    /// still compared.
    static let authUserBookkeeping: Set<String> = [
        "updated_at", "created_at", "email_confirmed_at", "raw_user_meta_data", "confirmation_token", "recovery_token",
        "email_change_token_current", "email_change_token_new", "email_change", "email_change_confirm_status",
        "phone_change", "phone_change_token", "reauthentication_token",
    ]

    /// `auth.users` as Supabase's Auth admin API leaves a user with a password: every column that
    /// GoTrue's `User` holds as a plain Go value is written (`SupabaseAuth.userNonNullColumns`),
    /// never left to a default or NULL.
    static func authUsers(_ ctx: Context) -> LoadSpec {
        let userIDs = ctx.ids("users")
        return LoadSpec(name: "auth_users", source: v1("users"), sourceColumns: userColumns, target: SupabaseAuth.users,
                 targetColumns: ["instance_id", "id", "aud", "role", "email", "encrypted_password", "email_confirmed_at",
                                 "last_sign_in_at", "raw_app_meta_data", "raw_user_meta_data", "created_at", "updated_at", "banned_until",
                                 "confirmation_token", "recovery_token", "email_change_token_current", "email_change_token_new",
                                 "email_change", "email_change_confirm_status", "phone_change", "phone_change_token",
                                 "reauthentication_token", "is_sso_user", "is_anonymous"],
                 mayRebuildIndexes: false,
                 ownedKeys: .init(column: "id") { n in n < 1 ? [] : (1...n).map { userIDs(String($0)) } },
                 targetOwnedColumns: authUserBookkeeping, targetReadsAfterCutover: ["last_sign_in_at": signIn("users.id")]) { r, issues in
            if userRejected(r, ctx, &issues) { return nil }
            return [R.authInstanceID, userIDs(r[0]!), "authenticated", "authenticated", R.email(r[1]!), r[2],
                    R.timestamptz(r[9]), R.timestamptz(r[8]), R.appMetaData, "{\"full_name\": \(R.jsonString(r[3] ?? ""))}",
                    R.timestamptz(r[9]), R.updatedAt(r[10], created: r[9]), r[7] == "t" ? nil : "infinity",
                    "", "", "", "", "", "0", "", "", "", "f", "f"]
        }
    }

    /// One `email` identity per migrated user, as GoTrue's admin API creates it. Keyed by its
    /// user (one `email` identity a user), so that its changes join the user's. A user created
    /// in V2 after cutover and synced back to V1 keeps the identity GoTrue gave it: the forward
    /// mapping derives none for it (docs/mapping.md: such identities need no V1 row of their own).
    static func authIdentities(_ ctx: Context) -> LoadSpec {
        let userIDs = ctx.ids("users")
        let identityIDs = ctx.ids("identities")
        let paired = ctx.pairs.all.filter { $0.table == "users" }.map(\.id).sorted()
        return LoadSpec(name: "auth_identities", source: v1("users"), sourceColumns: userColumns, target: SupabaseAuth.identities,
                 targetColumns: ["provider_id", "user_id", "identity_data", "provider", "last_sign_in_at", "created_at", "updated_at", "id"],
                 mayRebuildIndexes: false,
                 ownedKeys: .init(column: "user_id", condition: "provider = \(SQL.literal(SupabaseAuth.emailProvider))") { n in
                     n < 1 ? [] : (1...n).map { R.uuid("users", String($0)) }
                 },
                 sourceCondition: paired.isEmpty ? nil : "id <> ALL('{\(paired.map(String.init).joined(separator: ","))}'::bigint[])",
                 targetOwnedColumns: ["updated_at"], targetReadsAfterCutover: ["last_sign_in_at": signIn("identities.user_id")]) { r, issues in
            if userRejected(r, ctx, &issues) { return nil }
            let user = userIDs(r[0]!)
            return [user, user, R.identityData(user: user, email: R.email(r[1]!)), SupabaseAuth.emailProvider, R.timestamptz(r[8]),
                    R.timestamptz(r[9]), R.updatedAt(r[10], created: r[9]), identityIDs(r[0]!)]
        }
    }

    static func profiles(_ ctx: Context) -> LoadSpec {
        let coopIDs = ctx.ids("cooperatives")
        let userIDs = ctx.ids("users")
        return LoadSpec(name: "profiles", source: v1("users"), sourceColumns: userColumns, target: v2("profiles"),
                 targetColumns: ["id", "email", "full_name", "role", "cooperative_id", "phone", "is_active", "last_login_at",
                                 "created_at", "updated_at"],
                 references: [ReferenceRule("cooperative_id", parent: "cooperatives", required: false)],
                 // Shared with the app: a user who signs up in V2 (the dashboard, or the app's own
                 // sign-up before the migration) gets a profile from the app's trigger; that profile
                 // is not the migration's to count, compare or clear.
                 ownedKeys: .init(column: "id") { n in n < 1 ? [] : (1...n).map { userIDs(String($0)) } },
                 targetReadsAfterCutover: ["last_login_at": signIn("profiles.id")]) { r, issues in
            if userRejected(r, ctx, &issues) { return nil }
            return [userIDs(r[0]!), R.email(r[1]!), r[3], R.role(r[4]!), r[5].map { coopIDs($0) },
                    phone(r[6], "phone", &issues), r[7], R.timestamptz(r[8]), R.timestamptz(r[9]), R.updatedAt(r[10], created: r[9])]
        }
    }

    static func warehouses(_ ctx: Context) -> LoadSpec {
        let coopIDs = ctx.ids("cooperatives")
        let warehouseIDs = ctx.ids("warehouses")
        let cols = ["id", "cooperative_id", "name", "location", "capacity_kg", "latitude", "longitude", "created_at"]
        return LoadSpec(name: "warehouses", source: v1("warehouses"), sourceColumns: cols, target: v2("warehouses"), targetColumns: cols,
                        references: [ReferenceRule("cooperative_id", parent: "cooperatives", required: true)]) { r, _ in
            [warehouseIDs(r[0]!), coopIDs(r[1]!), r[2], r[3], r[4], r[5], r[6], R.timestamptz(r[7])]
        }
    }

    static func invoices(_ ctx: Context) -> LoadSpec {
        let coopIDs = ctx.ids("cooperatives")
        let invoiceIDs = ctx.ids("invoices")
        let cols = ["id", "cooperative_id", "invoice_number", "period_start", "period_end", "total_amount_fcfa", "status", "paid_at", "created_at"]
        return LoadSpec(name: "invoices", source: v1("invoices"), sourceColumns: cols, target: v2("invoices"),
                        targetColumns: ["id", "cooperative_id", "invoice_number", "period_start", "period_end", "total_amount", "currency",
                                        "status", "paid_at", "created_at"],
                        references: [ReferenceRule("cooperative_id", parent: "cooperatives", required: true)]) { r, issues in
            guard let status = r[6], R.invoiceStatuses.contains(status) else {
                issues.reject("invalid_status", column: "status", "status \(R.jsonString(r[6] ?? "NULL")) is not draft, sent, paid or cancelled")
                return nil
            }
            if let amount = r[5], !R.fitsNumeric(amount, precision: 14, scale: 2) {
                issues.reject("amount_out_of_range", column: "total_amount_fcfa", "total_amount_fcfa \(amount) does not fit V2's numeric(14,2)")
                return nil
            }
            return [invoiceIDs(r[0]!), coopIDs(r[1]!), r[2], r[3], r[4], r[5], "XOF", status,
                    R.timestamptz(r[7]), R.timestamptz(r[8])]
        }
    }

    static func chefPlanteurs(_ ctx: Context) -> LoadSpec {
        let chefIDs = ctx.ids("chef_planteurs")
        let coopIDs = ctx.ids("cooperatives")
        let cols = ["id", "cooperative_id", "first_name", "last_name", "phone", "village", "created_at"]
        return LoadSpec(name: "chef_planteurs", source: v1("chef_planteurs"), sourceColumns: cols, target: v2("chef_planteurs"), targetColumns: cols,
                        references: [ReferenceRule("cooperative_id", parent: "cooperatives", required: true)]) { r, issues in
            [chefIDs(r[0]!), coopIDs(r[1]!), r[2], r[3], phone(r[4], "phone", &issues), r[5], R.timestamptz(r[6])]
        }
    }

    static func planteurs(_ ctx: Context) -> LoadSpec {
        let chefIDs = ctx.ids("chef_planteurs")
        let coopIDs = ctx.ids("cooperatives")
        let planteurIDs = ctx.ids("planteurs")
        let cols = ["id", "chef_planteur_id", "cooperative_id", "first_name", "last_name", "phone", "village", "gender", "birth_year",
                    "farm_size_ha", "certifications", "created_at", "updated_at", "deleted_at"]
        return LoadSpec(name: "planteurs", source: v1("planteurs"), sourceColumns: cols, target: v2("planteurs"), targetColumns: cols,
                        references: [ReferenceRule("chef_planteur_id", parent: "chef_planteurs", required: false),
                                     ReferenceRule("cooperative_id", parent: "cooperatives", required: true)]) { r, issues in
            var gender = r[7]
            if let g = gender, g != "M" && g != "F" {
                issues.warn("invalid_gender", column: "gender", "gender \(R.jsonString(g)) is not M or F; set to NULL")
                gender = nil
            }
            return [planteurIDs(r[0]!), r[1].map { chefIDs($0) }, coopIDs(r[2]!), r[3], r[4],
                    phone(r[5], "phone", &issues), r[6], gender, r[8], r[9], R.textArrayLiteral(R.certifications(r[10])),
                    R.timestamptz(r[11]), R.updatedAt(r[12], created: r[11]), R.timestamptz(r[13])]
        }
    }

    static func deliveries(_ ctx: Context) -> LoadSpec {
        let invoiceIDs = ctx.ids("invoices")
        let planteurIDs = ctx.ids("planteurs")
        let userIDs = ctx.ids("users")
        let warehouseIDs = ctx.ids("warehouses")
        let deliveryIDs = ctx.ids("deliveries")
        let cols = ["id", "planteur_id", "warehouse_id", "invoice_id", "agent_id", "delivery_date", "weight_kg", "bags", "quality_grade",
                    "humidity_pct", "price_per_kg_fcfa", "total_amount_fcfa", "notes", "created_at", "updated_at"]
        return LoadSpec(name: "deliveries", source: v1("deliveries"), sourceColumns: cols, target: v2("deliveries"),
                        targetColumns: ["id", "planteur_id", "warehouse_id", "invoice_id", "created_by", "delivered_on", "weight_kg", "bags",
                                        "quality_grade", "humidity_pct", "price_per_kg", "total_amount", "notes", "created_at", "updated_at"],
                        references: [ReferenceRule("planteur_id", parent: "planteurs", required: true),
                                     ReferenceRule("warehouse_id", parent: "warehouses", required: true),
                                     ReferenceRule("invoice_id", parent: "invoices", required: false),
                                     ReferenceRule("agent_id", parent: "users", required: false)]) { r, issues in
            guard let w = r[6], R.isPositiveNumeric(w) else {
                issues.reject("invalid_weight", column: "weight_kg", "weight_kg \(r[6] ?? "NULL") is not positive")
                return nil
            }
            var grade: String?
            if let g = r[8] {
                guard let mapped = R.gradeMap[g] else {
                    issues.reject("invalid_quality_grade", column: "quality_grade", "quality_grade \(R.jsonString(g)) is not A, B, C or REJ")
                    return nil
                }
                grade = mapped
            }
            if let price = r[10], !R.fitsNumeric(price, precision: 10, scale: 2) {
                issues.reject("amount_out_of_range", column: "price_per_kg_fcfa", "price_per_kg_fcfa \(price) does not fit V2's numeric(10,2)")
                return nil
            }
            if let total = r[11], !R.fitsNumeric(total, precision: 14, scale: 2) {
                issues.reject("amount_out_of_range", column: "total_amount_fcfa", "total_amount_fcfa \(total) does not fit V2's numeric(14,2)")
                return nil
            }
            return [deliveryIDs(r[0]!), planteurIDs(r[1]!), warehouseIDs(r[2]!), r[3].map { invoiceIDs($0) },
                    r[4].map { userIDs($0) }, r[5], w, r[7], grade, r[9], r[10], r[11], r[12],
                    R.timestamptz(r[13]), R.updatedAt(r[14], created: r[13])]
        }
    }

    static func deliveryPhotos(_ ctx: Context) -> LoadSpec {
        let userIDs = ctx.ids("users")
        let deliveryIDs = ctx.ids("deliveries")
        let photoIDs = ctx.ids("delivery_photos")
        let cols = ["id", "delivery_id", "url", "caption", "taken_at", "uploaded_by", "created_at"]
        return LoadSpec(name: "delivery_photos", source: v1("delivery_photos"), sourceColumns: cols, target: v2("delivery_photos"),
                        targetColumns: ["id", "delivery_id", "storage_path", "caption", "taken_at", "uploaded_by", "created_at"],
                        references: [ReferenceRule("delivery_id", parent: "deliveries", required: true),
                                     ReferenceRule("uploaded_by", parent: "users", required: false)]) { r, issues in
            guard let path = R.storagePath(r[2] ?? "") else {
                issues.reject("unrecognized_photo_url", column: "url", "url \(R.jsonString(r[2] ?? "")) is not an Azure blob URL in container photos")
                return nil
            }
            return [photoIDs(r[0]!), deliveryIDs(r[1]!), path, r[3], R.timestamptz(r[4]),
                    r[5].map { userIDs($0) }, R.timestamptz(r[6])]
        }
    }

    static func auditLog(_ ctx: Context) -> LoadSpec {
        let userIDs = ctx.ids("users")
        let auditIDs = ctx.ids("audit_log")
        let cols = ["id", "user_id", "action", "table_name", "record_id", "old_data", "new_data", "ip_address", "created_at"]
        return LoadSpec(name: "audit_log", source: v1("audit_log"), sourceColumns: cols, target: v2("audit_log"),
                        targetColumns: ["id", "actor_id", "action", "entity", "entity_id", "old_data", "new_data", "ip_address", "created_at"],
                        references: [ReferenceRule("user_id", parent: "users", required: false)]) { r, issues in
            var entityID: String?
            if let t = r[3], let rec = r[4], CocoaTrackSchema.v1Tables.contains(t) { entityID = ctx.ids(t)(rec) }
            let (old, oldBad) = R.auditJSON(r[5])
            if oldBad { issues.warn("invalid_json", column: "old_data", "old_data is not valid JSON; kept as {\"_unparsed\": …}") }
            let (new, newBad) = R.auditJSON(r[6])
            if newBad { issues.warn("invalid_json", column: "new_data", "new_data is not valid JSON; kept as {\"_unparsed\": …}") }
            let (ip, ipBad) = R.ipAddress(r[7])
            if ipBad { issues.warn("invalid_ip_address", column: "ip_address", "ip_address \(R.jsonString(r[7] ?? "")) is not an IP address; set to NULL") }
            return [auditIDs(r[0]!), r[1].map { userIDs($0) }, r[2], r[3], entityID, old, new, ip, R.timestamptz(r[8])]
        }
    }
}
