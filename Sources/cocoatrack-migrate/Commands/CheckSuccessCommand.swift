import ArgumentParser
import CocoaTrack
import Foundation
import MigrationEngine
import Rendering

/// The plan's success criteria, each with its evidence.
struct CheckSuccessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-success",
        abstract: "The plan's success criteria, each pass or fail with its evidence.",
        discussion: """
            counts, checksums and foreign keys (the latest verification); users can log in (every migrated auth.users row \
            read as Supabase Auth reads it: no NULL in a column GoTrue holds as non-nullable, one consistent email \
            identity, email confirmed, banned exactly when inactive; then each test account's password against its \
            migrated bcrypt hash with pgcrypto's crypt() in V2, and with --auth-url a real password grant against \
            Supabase Auth, with SUPABASE_ANON_KEY); users can create deliveries (an insert as `authenticated` with the \
            user's JWT claims, under row level security, rolled back); the dashboard totals (verification's business \
            totals); no critical errors (Sentry issues at level fatal or error since --since, when sentry.* is set). \
            Test accounts: settings `test_accounts` (email: password) or COCOATRACK_TEST_ACCOUNTS="email=password,…". \
            A criterion that cannot be checked fails (`--skip NAME` leaves one out on purpose, and says so). Exit 0 \
            when every criterion passed, 3 otherwise.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("auth-url"), help: "Supabase Auth base URL (…/auth/v1) for a real password grant; needs SUPABASE_ANON_KEY.") var authURL: String?
    @Option(help: "Errors since this time (ISO 8601) count (default: the runbook's migrate start, else 2 hours ago).") var since: String?
    @Option(name: .customLong("skip"), help: "Leave out a criterion on purpose (repeatable).") var skip: [String] = []

    static let names = CocoaTrackSuccess.names

    func validate() throws {
        if let since, TimeFlag.instant(since) == nil { throw ValidationError("--since takes a time in ISO 8601 with its zone, such as 2026-12-05T02:00Z or 2026-12-05T02:00:00+01:00; got \(since)") }
        for s in skip where !Self.names.contains(s) { throw ValidationError("unknown criterion \(s); criteria: \(Self.names.joined(separator: ", "))") }
    }

    func run() async throws {
        let settings = try global.settings()
        let environment = ProcessInfo.processInfo.environment
        let v2 = try await PGConnection.connect(try global.config("V2"), logger: global.makeLogger())
        defer { Task { await v2.close() } }
        let criteria = try await CocoaTrackSuccess.check(v2, .init(accounts: settings.testAccounts(environment: environment), authURL: authURL,
                                                                   anonKey: environment["SUPABASE_ANON_KEY"] ?? "", sentry: settings.sentry, since: since, skip: skip))
        let console = global.console
        console.json(["criteria": criteria.map { ["name": $0.name, "status": $0.status, "evidence": $0.evidence] }, "passed": !criteria.contains { $0.status == "fail" }])
        console.result(criteria.map { pad($0.status.uppercased(), 9) + pad($0.name, 30) + $0.evidence })
        let failed = criteria.filter { $0.status == "fail" }
        if !failed.isEmpty { throw MigrationError(.checkFailed, "success criteria not met: \(failed.map(\.name).joined(separator: ", ")).") }
        console.result("every success criterion passed\(skip.isEmpty ? "" : " (skipped: \(skip.joined(separator: ", ")))").")
    }
}
