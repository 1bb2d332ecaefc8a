import MigrationEngine

/// What the tool's settings file may hold (docs/cli.md: connections, app role, thresholds, hooks,
/// webhook URL; then Sentry, the status page and monitoring). Unknown keys and wrong types are
/// errors that name the key and the line (SettingsFile). The README's example is read with it in
/// the tests.
public struct CocoaTrackSettings: Sendable {
    /// The file read (nil: none given and no ./cocoatrack-migrate.yml).
    public let file: SettingsFile?

    public init(file: SettingsFile?) { self.file = file }

    /// `path`, checked against `schema`; no path: no file.
    public static func load(path: String?) throws -> CocoaTrackSettings {
        guard let path else { return CocoaTrackSettings(file: nil) }
        return CocoaTrackSettings(file: try SettingsFile.load(path: path, schema: schema))
    }

    /// A side's database (CLI.md's precedence): the flag, else $V1_DATABASE_URL / $V2_DATABASE_URL,
    /// else the file's v1_url / v2_url. `side` is V1 or V2.
    public func connection(_ side: String, flag: String?, environment: [String: String]) throws -> ConnectionConfig {
        let (variable, key) = side == "V1" ? ("V1_DATABASE_URL", "v1_url") : ("V2_DATABASE_URL", "v2_url")
        guard let url = flag ?? environment[variable] ?? file?[key]?.string, !url.isEmpty else {
            throw MigrationError(.configuration, "no \(side) database given. Pass --\(side.lowercased()) URL, set \(variable), or set \(key) in the settings file (for the local sandbox: eval \"$(\(ToolCommand.line("sandbox env")))\").")
        }
        return try ConnectionConfig(label: side, url: url)
    }

    /// The application role: flag > environment (COCOATRACK_APP_ROLE) > file > default.
    public func appRole(flag: String?, environment: [String: String]) -> String {
        flag ?? environment["COCOATRACK_APP_ROLE"] ?? file?["app_role"]?.string ?? CocoaTrackSchema.defaultAppRole
    }

    /// The decision matrix's thresholds (thresholds.*), else the plan's.
    public var thresholds: DecisionThresholds {
        var t = DecisionThresholds()
        if let v = file?["thresholds.row_count_mismatch_pct"]?.number { t.rowCountMismatchPct = v }
        if let v = file?["thresholds.login_failure_pct"]?.number { t.loginFailurePct = v }
        if let v = file?["thresholds.performance_degradation_pct"]?.number { t.performanceDegradationPct = v }
        return t
    }

    /// The Azure storage account of V1's photo URLs.
    public var blobAccount: String { file?["blob_account"]?.string ?? CocoaTrackMapping.defaultBlobAccount }

    /// sentry.*, when all three are set.
    public var sentry: Sentry.Config? {
        guard let base = file?["sentry.base_url"]?.string, let org = file?["sentry.org"]?.string, let project = file?["sentry.project"]?.string else { return nil }
        return Sentry.Config(baseURL: base, org: org, project: project)
    }

    /// The test accounts check-success logs in with: COCOATRACK_TEST_ACCOUNTS="email=password,…"
    /// when set, else the file's test_accounts (email: password), sorted by email.
    public func testAccounts(environment: [String: String]) -> [(email: String, password: String)] {
        if let env = environment["COCOATRACK_TEST_ACCOUNTS"] {
            return env.split(separator: ",").compactMap { p in
                let kv = p.split(separator: "=", maxSplits: 1)
                return kv.count == 2 ? (String(kv[0]), String(kv[1])) : nil
            }
        }
        return (file?.children(of: "test_accounts") ?? [:]).compactMap { k, v in v.string.map { (k, $0) } }.sorted { $0.0 < $1.0 }
    }

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
