import MigrationEngine

/// What the tool's settings file may hold (docs/cli.md: connections, app role, thresholds, hooks,
/// webhook URL; then Sentry, the status page and monitoring). Unknown keys and wrong types are
/// errors that name the key and the line (SettingsFile). The README's example is read with it in
/// the tests.
public enum CocoaTrackSettings {
    public static let schema: [String: SettingsFile.Kind] = [
        "v1_url": .string, "v2_url": .string, "app_role": .string, "blob_account": .string, "webhook_url": .string,
        "thresholds": .map(["row_count_mismatch_pct": .number, "login_failure_pct": .number, "performance_degradation_pct": .number]),
        "hooks": .stringMap,
        "test_accounts": .stringMap,
        "sentry": .map(["base_url": .string, "org": .string, "project": .string]),
        "status_page_token": .string,
        "monitor": .map(["health_urls": .strings, "v1_health_url": .string, "login_sql": .string, "auth_logs_url": .string,
                         "requests_per_sample": .number, "request_timeout_seconds": .number]),
    ]
}
