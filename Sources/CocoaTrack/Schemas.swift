import Foundation
import MigrationEngine
import Sandbox

/// CocoaTrack's two schemas, embedded from `SQL/*.sql` at build time.
public enum CocoaTrackSchema {
    /// V1 (legacy) DDL, run as the V1 schema owner.
    public static var v1: String { String(decoding: PackageResources.v1_schema_sql, as: UTF8.self) }
    /// V2 (public schema) DDL, run as `postgres` on a Supabase project.
    public static var v2: String { String(decoding: PackageResources.v2_schema_sql, as: UTF8.self) }
    /// What a Supabase project provides before any application DDL (local V2 only).
    public static var supabaseStub: String { String(decoding: PackageResources.v2_supabase_stub_sql, as: UTF8.self) }

    /// The ten V1 tables, as named in docs/data-model.md (used to recognise `audit_log.table_name`).
    public static let v1Tables: Set<String> = [
        "regions", "cooperatives", "users", "warehouses", "invoices", "chef_planteurs",
        "planteurs", "deliveries", "delivery_photos", "audit_log",
    ]

    /// The V1 role the production application connects as.
    public static let defaultAppRole = "app_user"
}

/// The local V1 and V2 of `sandbox up`: Azure-like V1 (a non-superuser admin that owns the
/// schema, the application's `app_user`) and Supabase-like V2 (superuser `supabase_admin`,
/// non-superuser project owner `postgres`, the API roles, Supabase Auth's `auth` schema, extensions).
public enum CocoaTrackSandbox {
    public static let v1Admin = "cocoatrack_admin"
    public static let v2Owner = "postgres"

    public static var specs: [ClusterSpec] { [v1Spec, v2Spec] }

    public static var v1Spec: ClusterSpec {
        ClusterSpec(
            name: "v1", superuser: "azuresu", database: "cocoatrack", environmentVariable: "V1_DATABASE_URL",
            primaryLogin: v1Admin,
            logins: [.init(v1Admin, attributes: "CREATEROLE"), .init(CocoaTrackSchema.defaultAppRole)],
            steps: [
                .asSuperuser("""
                    ALTER DATABASE cocoatrack OWNER TO \(v1Admin);
                    ALTER SCHEMA public OWNER TO \(v1Admin);
                    GRANT pg_signal_backend TO \(v1Admin);
                    GRANT CONNECT ON DATABASE cocoatrack TO app_user;
                    """),
                .asLogin(v1Admin, CocoaTrackSchema.v1),
                .asLogin(v1Admin, """
                    GRANT USAGE ON SCHEMA public TO app_user;
                    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO app_user;
                    GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO app_user;
                    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO app_user;
                    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO app_user;
                    """),
            ])
    }

    public static var v2Spec: ClusterSpec {
        ClusterSpec(
            name: "v2", superuser: "supabase_admin", database: "postgres", environmentVariable: "V2_DATABASE_URL",
            primaryLogin: v2Owner,
            logins: [.init(v2Owner, attributes: "CREATEROLE CREATEDB REPLICATION BYPASSRLS")],
            settings: ["shared_preload_libraries": "'pg_stat_statements'"],
            steps: [
                .asSuperuser(CocoaTrackSchema.supabaseStub),
                .asSuperuser("""
                    ALTER DATABASE postgres SET search_path = "$user", public, extensions;
                    GRANT CREATE ON DATABASE postgres TO postgres;
                    """),
                .asLogin(v2Owner, CocoaTrackSchema.v2),
            ])
    }
}

extension CocoaTrackSchema {
    /// What migrate, verify and the safety operations need of V1 and V2. The tables the load
    /// writes (whose triggers preflight reports) are the plan's: every load's target.
    public static func preflightProfile(appRole: String = defaultAppRole) -> PreflightProfile {
        let plan = CocoaTrackMapping.plan(context: .init(), appRole: appRole)
        return PreflightProfile(sourceSchemas: ["public"], targetSchemas: ["public"],
                                extraTargetTables: plan.extraTargetTables, appRole: appRole,
                                loadTargets: plan.loads.map(\.target) + plan.extraTargetTables)
    }
}

extension CocoaTrackSchema {
    /// What a snapshot of each side holds. V1: the whole database. V2: the public schema and the
    /// migration's state schema in full, plus the `auth.users` and `auth.identities` rows (data only: on Supabase a
    /// plain dump of the `auth` schema is not allowed, and its DDL belongs to Supabase).
    public static func snapshotParts(side: String, label: String) -> [Snapshot.Part] {
        if side == "v1" {
            return [Snapshot.Part(stem: "v1_\(label)_backup", arguments: [])]
        }
        return [
            Snapshot.Part(stem: "v2_\(label)_backup", arguments: ["-n", "public", "-n", CocoaTrackMapping.stateSchema]),
            Snapshot.Part(stem: "v2_\(label)_auth_users", arguments: ["-t", "auth.users", "-t", "auth.identities", "--data-only"]),
        ]
    }
}
