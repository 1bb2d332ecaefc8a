import MigrationEngine

/// What CocoaTrack's monitoring measures beyond the API and the logins.
public enum CocoaTrackMonitoring {
    /// The application's own counts since the previous sample ($1), on V2: the plan's "delivery creation".
    public static let counts: [(String, String)] = [
        ("deliveries_created", "SELECT count(*) FROM public.deliveries WHERE created_at > $1::timestamptz"),
    ]

    /// Sentry's critical issues since `since`, else since the migration last started (the runbook's journal), else two hours ago.
    public static func sentryCriticalIssues(_ config: Sentry.Config?, _ v2: PGConnection, since: String?) async throws -> (status: String, evidence: String, count: Int?) {
        var from = since
        if from == nil, config != nil {
            let zero = CocoaTrackRunbook.steps.first { $0.offsetHours == 0 }!.id
            from = try await RunbookJournal(state: MigrationState(schema: CocoaTrackMapping.stateSchema)).lastStart(v2, of: zero)
        }
        return try await Sentry.criticalIssues(config, since: from)
    }

    /// What a sample measures, from the settings file's monitor.* and sentry.*: V2's health URLs,
    /// requests per sample, the request timeout (above 0, at most 600 s), the login query or the
    /// Auth logs URL, the application's counts and Sentry's critical issues.
    public static func probes(_ settings: CocoaTrackSettings, v2: PGConnection) throws -> MonitorProbes {
        let file = settings.file
        let timeoutSeconds = file?["monitor.request_timeout_seconds"]?.number ?? 10
        guard timeoutSeconds > 0, timeoutSeconds <= 600 else {
            throw MigrationError(.configuration, "monitor.request_timeout_seconds must be above 0 and at most 600; found \(timeoutSeconds). Fix it in the settings file.")
        }
        var probes = MonitorProbes()
        probes.healthURLs = (file?.children(of: "monitor.health_urls") ?? [:]).compactMap { $0.value.string }.sorted()
        probes.requestsPerSample = Int(file?["monitor.requests_per_sample"]?.number ?? 5)
        probes.timeout = .milliseconds(Int64(timeoutSeconds * 1000))
        probes.loginSQL = file?["monitor.login_sql"]?.string
        probes.authLogsURL = file?["monitor.auth_logs_url"]?.string
        probes.counts = counts
        if file?["sentry.base_url"] != nil {
            let sentry = settings.sentry
            probes.sentry = { let r = try await sentryCriticalIssues(sentry, v2, since: nil); return (r.evidence, r.count) }
        }
        return probes
    }
}
