import Foundation
import MigrationEngine

/// What Supabase Auth (GoTrue, github.com/supabase/auth) needs of the rows the migration writes
/// into its `auth` schema. Followed: supabase/auth commit bc32168e13fdc928c98b449fc76bc3fdb9a293c5
/// (2026-08-20), `internal/models/user.go` and `internal/models/identity.go`.
///
/// GoTrue reads every `auth.users` row into its `User` struct and every `auth.identities` row
/// into `Identity`. A column held there as a plain Go `string`, `int`, `bool`, `time.Time` or
/// `uuid.UUID` (not a pointer, `storage.NullString` or `JSONMap`, which accept NULL) cannot be
/// scanned from NULL: the whole read fails, and every password login of that user answers
/// `500: Database error querying schema` (supabase/auth issue #1940). The migration writes each
/// of these columns explicitly, and `check-success` reads every migrated user for them.
public enum SupabaseAuth {
    /// `auth.users` columns GoTrue's `User` holds as non-nullable Go values (user.go).
    public static let userNonNullColumns: [String] = [
        "id",                          // ID uuid.UUID
        "aud",                         // Aud string
        "role",                        // Role string
        "is_sso_user",                 // IsSSOUser bool
        "confirmation_token",          // ConfirmationToken string
        "recovery_token",              // RecoveryToken string
        "email_change_token_current",  // EmailChangeTokenCurrent string
        "email_change_token_new",      // EmailChangeTokenNew string
        "email_change",                // EmailChange string
        "email_change_confirm_status", // EmailChangeConfirmStatus int
        "phone_change_token",          // PhoneChangeToken string
        "phone_change",                // PhoneChange string
        "reauthentication_token",      // ReauthenticationToken string
        "created_at",                  // CreatedAt time.Time
        "updated_at",                  // UpdatedAt time.Time
        "is_anonymous",                // IsAnonymous bool
        "instance_id",                 // DONTUSEINSTANCEID uuid.UUID
    ]

    /// `auth.identities` columns GoTrue's `Identity` holds as non-nullable Go values (identity.go).
    public static let identityNonNullColumns: [String] = [
        "id",           // ID uuid.UUID
        "provider_id",  // ProviderID string
        "user_id",      // UserID uuid.UUID
        "provider",     // Provider string
        "created_at",   // CreatedAt time.Time
        "updated_at",   // UpdatedAt time.Time
    ]

    /// The instance id every Supabase project's users carry.
    public static let instanceID = "00000000-0000-0000-0000-000000000000"

    /// The provider of a password user's identity.
    public static let emailProvider = "email"

    /// The tables of the `auth` schema the migration writes.
    public static let users = TableName("auth", "users")
    public static let identities = TableName("auth", "identities")

    /// SQL: the non-nullable columns of `alias` (an `auth.users` row) that are NULL, as a text
    /// array (empty when GoTrue can read the row).
    public static func nullUserColumnsSQL(_ alias: String) -> String {
        nullColumnsSQL(alias, userNonNullColumns)
    }

    /// SQL: likewise for an `auth.identities` row.
    public static func nullIdentityColumnsSQL(_ alias: String) -> String {
        nullColumnsSQL(alias, identityNonNullColumns)
    }

    static func nullColumnsSQL(_ alias: String, _ columns: [String]) -> String {
        "array_remove(ARRAY[" + columns.map { "CASE WHEN \(alias).\(SQL.ident($0)) IS NULL THEN \(SQL.literal($0)) END" }.joined(separator: ", ") + "], NULL)"
    }
}
