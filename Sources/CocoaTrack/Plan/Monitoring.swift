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
}
