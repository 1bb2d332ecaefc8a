import Foundation
import MigrationEngine

/// the reverse mapping of docs/mapping.md (V2 → V1) for `sync-v2-to-v1`, one spec per V1 table. The
/// engine runs the forward mapping on every result and writes it only when it reproduces the V2
/// rows exactly, so a rule here that loses information shows up as a conflict, never as a
/// silently different V1 row.
public enum CocoaTrackReverse {
    typealias R = CocoaTrackRules
    typealias Resolve = (String, String) -> Int64?

    /// Values of one V2 row by column name.
    struct Row {
        let columns: [String]
        let values: [String?]
        subscript(_ name: String) -> String? {
            guard let i = columns.firstIndex(of: name) else { preconditionFailure("no column \(name)") }
            return values[i]
        }
    }

    /// The same-named columns, plus renames (target → source).
    static func sources(_ load: String, _ renames: [String: [String]] = [:]) -> [String: [String]] {
        let spec = CocoaTrackMapping.loads(.init()).first { $0.name == load }!
        var out: [String: [String]] = [:]
        for c in spec.targetColumns where c != "id" {
            if let r = renames[c] { out[c] = r } else if spec.sourceColumns.contains(c) { out[c] = [c] }
        }
        return out
    }

    static let targetColumns: [String: [String]] = Dictionary(uniqueKeysWithValues: CocoaTrackMapping.loads(.init()).map { ($0.name, $0.targetColumns) })
    static func columns(_ load: String) -> [String] { targetColumns[load]! }

    /// A timestamp back to naive UTC, or a conflict.
    static func ts(_ v: String?, _ column: String, _ issues: inout RowIssues) -> String?? {
        guard let r = R.naiveUTC(v) else {
            issues.reject("not_utc", column: column, "\(column) \(v ?? "") is not printed in UTC")
            return nil
        }
        return r
    }

    /// A reference back to the V1 id, or a conflict.
    static func ref(_ v: String?, _ table: String, _ column: String, _ resolve: Resolve, _ issues: inout RowIssues) -> String?? {
        guard let v else { return .some(nil) }
        guard let id = resolve(table, v) else {
            issues.reject("unresolvable_reference", column: column, "\(column) \(v) names no V1 \(table) row")
            return nil
        }
        return .some(String(id))
    }

    static func amount(_ v: String?, _ column: String, _ issues: inout RowIssues) -> String?? {
        guard let r = R.integerAmount(v) else {
            issues.reject("fractional_amount", column: column, "\(column) \(v ?? "") has no whole-franc V1 form (XOF has no minor unit)")
            return nil
        }
        return r
    }

    public static func specs(blobAccount: String) -> [ReverseSpec] {
        [
            ReverseSpec(source: TableName("public", "regions"), loads: ["regions"], columnSources: ["regions": sources("regions")]) { rows, _, issues in
                let r = Row(columns: columns("regions"), values: rows["regions"]!)
                guard let created = ts(r["created_at"], "created_at", &issues) else { return nil }
                return [nil, r["name"], r["code"], created]
            },
            ReverseSpec(source: TableName("public", "cooperatives"), loads: ["cooperatives"], columnSources: ["cooperatives": sources("cooperatives")]) { rows, resolve, issues in
                let r = Row(columns: columns("cooperatives"), values: rows["cooperatives"]!)
                guard let region = ref(r["region_id"], "regions", "region_id", resolve, &issues),
                      let created = ts(r["created_at"], "created_at", &issues), let updated = ts(r["updated_at"], "updated_at", &issues) else { return nil }
                return [nil, region, r["name"], r["code"], r["phone"], r["address"], r["is_active"], created, updated]
            },
            ReverseSpec(source: TableName("public", "users"), loads: ["profiles", "auth_users"], derivedLoads: ["auth_identities"],
                        columnSources: ["profiles": sources("profiles"),
                                        "auth_users": ["email": ["email"], "encrypted_password": ["password_hash"], "raw_user_meta_data": ["full_name"],
                                                       "banned_until": ["is_active"], "created_at": ["created_at"], "email_confirmed_at": ["created_at"],
                                                       "updated_at": ["updated_at"], "last_sign_in_at": ["last_login_at"]],
                                        "auth_identities": ["last_sign_in_at": ["last_login_at"]]]) { rows, resolve, issues in
                guard let p = rows["profiles"].map({ Row(columns: columns("profiles"), values: $0) }),
                      let a = rows["auth_users"].map({ Row(columns: columns("auth_users"), values: $0) }) else {
                    issues.reject("incomplete_user", column: "id", "a V1 user needs both its profile and its auth.users row")
                    return nil
                }
                let identity = rows["auth_identities"].map { Row(columns: columns("auth_identities"), values: $0) }
                // A sign-in through Supabase Auth moves auth.users' and the identity's
                // last_sign_in_at, not the profile's: V1's last_login_at is the latest of them
                // (after cutover all three read so: `CocoaTrackMapping.signIn`).
                let signIn = R.latest([p["last_login_at"], a["last_sign_in_at"], identity?["last_sign_in_at"]])
                guard let coop = ref(p["cooperative_id"], "cooperatives", "cooperative_id", resolve, &issues),
                      let last = ts(signIn, "last_login_at", &issues),
                      let created = ts(p["created_at"], "created_at", &issues), let updated = ts(p["updated_at"], "updated_at", &issues) else { return nil }
                guard let hash = a["encrypted_password"] else {
                    issues.reject("no_password", column: "encrypted_password", "the auth user has no password hash; V1 requires one")
                    return nil
                }
                return [nil, p["email"], hash, p["full_name"], p["role"].map(R.roleV1), coop, p["phone"], p["is_active"], last, created, updated]
            },
            ReverseSpec(source: TableName("public", "warehouses"), loads: ["warehouses"], columnSources: ["warehouses": sources("warehouses")]) { rows, resolve, issues in
                let r = Row(columns: columns("warehouses"), values: rows["warehouses"]!)
                guard let coop = ref(r["cooperative_id"], "cooperatives", "cooperative_id", resolve, &issues),
                      let created = ts(r["created_at"], "created_at", &issues) else { return nil }
                return [nil, coop, r["name"], r["location"], r["capacity_kg"], r["latitude"], r["longitude"], created]
            },
            ReverseSpec(source: TableName("public", "invoices"), loads: ["invoices"],
                        columnSources: ["invoices": sources("invoices", ["total_amount": ["total_amount_fcfa"], "currency": []])]) { rows, resolve, issues in
                let r = Row(columns: columns("invoices"), values: rows["invoices"]!)
                guard r["currency"]?.trimmingCharacters(in: .whitespaces) == "XOF" else {
                    issues.reject("not_xof", column: "currency", "currency \(r["currency"] ?? "NULL"): V1 holds XOF only")
                    return nil
                }
                guard let coop = ref(r["cooperative_id"], "cooperatives", "cooperative_id", resolve, &issues),
                      let total = amount(r["total_amount"], "total_amount", &issues),
                      let paid = ts(r["paid_at"], "paid_at", &issues), let created = ts(r["created_at"], "created_at", &issues) else { return nil }
                return [nil, coop, r["invoice_number"], r["period_start"], r["period_end"], total, r["status"], paid, created]
            },
            ReverseSpec(source: TableName("public", "chef_planteurs"), loads: ["chef_planteurs"], columnSources: ["chef_planteurs": sources("chef_planteurs")]) { rows, resolve, issues in
                let r = Row(columns: columns("chef_planteurs"), values: rows["chef_planteurs"]!)
                guard let coop = ref(r["cooperative_id"], "cooperatives", "cooperative_id", resolve, &issues),
                      let created = ts(r["created_at"], "created_at", &issues) else { return nil }
                return [nil, coop, r["first_name"], r["last_name"], r["phone"], r["village"], created]
            },
            ReverseSpec(source: TableName("public", "planteurs"), loads: ["planteurs"], columnSources: ["planteurs": sources("planteurs")]) { rows, resolve, issues in
                let r = Row(columns: columns("planteurs"), values: rows["planteurs"]!)
                guard let chef = ref(r["chef_planteur_id"], "chef_planteurs", "chef_planteur_id", resolve, &issues),
                      let coop = ref(r["cooperative_id"], "cooperatives", "cooperative_id", resolve, &issues),
                      let created = ts(r["created_at"], "created_at", &issues), let updated = ts(r["updated_at"], "updated_at", &issues),
                      let deleted = ts(r["deleted_at"], "deleted_at", &issues) else { return nil }
                guard let certs = PGTextArray.parse(r["certifications"] ?? "{}") else {
                    issues.reject("bad_array", column: "certifications", "certifications \(r["certifications"] ?? "") is not an array")
                    return nil
                }
                return [nil, chef, coop, r["first_name"], r["last_name"], r["phone"], r["village"], r["gender"], r["birth_year"],
                        r["farm_size_ha"], R.certificationsV1(certs), created, updated, deleted]
            },
            ReverseSpec(source: TableName("public", "deliveries"), loads: ["deliveries"],
                        columnSources: ["deliveries": sources("deliveries", ["created_by": ["agent_id"], "delivered_on": ["delivery_date"],
                                                                             "price_per_kg": ["price_per_kg_fcfa"], "total_amount": ["total_amount_fcfa"]])]) { rows, resolve, issues in
                let r = Row(columns: columns("deliveries"), values: rows["deliveries"]!)
                guard let planteur = ref(r["planteur_id"], "planteurs", "planteur_id", resolve, &issues),
                      let warehouse = ref(r["warehouse_id"], "warehouses", "warehouse_id", resolve, &issues),
                      let invoice = ref(r["invoice_id"], "invoices", "invoice_id", resolve, &issues),
                      let agent = ref(r["created_by"], "users", "created_by", resolve, &issues),
                      let price = amount(r["price_per_kg"], "price_per_kg", &issues),
                      let total = amount(r["total_amount"], "total_amount", &issues),
                      let created = ts(r["created_at"], "created_at", &issues), let updated = ts(r["updated_at"], "updated_at", &issues) else { return nil }
                return [nil, planteur, warehouse, invoice, agent, r["delivered_on"], r["weight_kg"], r["bags"], R.gradeV1(r["quality_grade"]),
                        r["humidity_pct"], price, total, r["notes"], created, updated]
            },
            ReverseSpec(source: TableName("public", "delivery_photos"), loads: ["delivery_photos"],
                        columnSources: ["delivery_photos": sources("delivery_photos", ["storage_path": ["url"]])]) { rows, resolve, issues in
                let r = Row(columns: columns("delivery_photos"), values: rows["delivery_photos"]!)
                guard let url = R.blobURL(r["storage_path"] ?? "", account: blobAccount) else {
                    issues.reject("unmappable_storage_path", column: "storage_path", "storage_path \(r["storage_path"] ?? "NULL") is not under delivery-photos/")
                    return nil
                }
                guard let delivery = ref(r["delivery_id"], "deliveries", "delivery_id", resolve, &issues),
                      let uploader = ref(r["uploaded_by"], "users", "uploaded_by", resolve, &issues),
                      let taken = ts(r["taken_at"], "taken_at", &issues), let created = ts(r["created_at"], "created_at", &issues) else { return nil }
                return [nil, delivery, url, r["caption"], taken, uploader, created]
            },
            ReverseSpec(source: TableName("public", "audit_log"), loads: ["audit_log"],
                        columnSources: ["audit_log": sources("audit_log", ["actor_id": ["user_id"], "entity": ["table_name"], "entity_id": ["record_id"]])]) { rows, resolve, issues in
                let r = Row(columns: columns("audit_log"), values: rows["audit_log"]!)
                guard let actor = ref(r["actor_id"], "users", "actor_id", resolve, &issues),
                      let created = ts(r["created_at"], "created_at", &issues) else { return nil }
                var record: String?
                if let entityID = r["entity_id"] {
                    guard let entity = r["entity"], CocoaTrackSchema.v1Tables.contains(entity), let id = resolve(entity, entityID) else {
                        issues.reject("unresolvable_reference", column: "entity_id", "entity_id \(entityID) names no V1 \(r["entity"] ?? "table") row")
                        return nil
                    }
                    record = String(id)
                }
                return [nil, actor, r["action"], r["entity"], record, R.auditTextV1(r["old_data"]), R.auditTextV1(r["new_data"]), r["ip_address"], created]
            },
        ]
    }
}
