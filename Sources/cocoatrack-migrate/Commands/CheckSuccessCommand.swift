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

    static let names = ["row_counts", "checksums", "foreign_keys", "users_can_log_in", "users_can_create_deliveries", "dashboard_totals", "no_critical_errors"]

    struct Criterion { var name: String; var status: String; var evidence: String }

    func validate() throws {
        if let since, TimeFlag.instant(since) == nil { throw ValidationError("--since takes a time in ISO 8601 with its zone, such as 2026-12-05T02:00Z or 2026-12-05T02:00:00+01:00; got \(since)") }
        for s in skip where !Self.names.contains(s) { throw ValidationError("unknown criterion \(s); criteria: \(Self.names.joined(separator: ", "))") }
    }

    func accounts(_ settings: Settings) -> [(String, String)] {
        if let env = ProcessInfo.processInfo.environment["COCOATRACK_TEST_ACCOUNTS"] {
            return env.split(separator: ",").compactMap { p in
                let kv = p.split(separator: "=", maxSplits: 1)
                return kv.count == 2 ? (String(kv[0]), String(kv[1])) : nil
            }
        }
        return (settings.file?.children(of: "test_accounts") ?? [:]).compactMap { k, v in v.string.map { (k, $0) } }.sorted { $0.0 < $1.0 }
    }

    func run() async throws {
        let settings = try global.settings()
        let v2 = try await PGConnection.connect(try global.config("V2"), logger: global.makeLogger())
        defer { Task { await v2.close() } }
        var out: [Criterion] = []
        let verification = try await Verifier.latest(v2, stateSchema: CocoaTrackMapping.stateSchema)
        func fromVerification(_ name: String, _ check: String) {
            guard let v = verification else { out.append(.init(name: name, status: "fail", evidence: "no verification recorded: run verify-integrity")); return }
            guard v.complete, v.outcome != "error", let c = v.checks.first(where: { $0.name == check }) else {
                out.append(.init(name: name, status: "fail", evidence: "the latest verification (\(v.verificationId)) did not check this")); return
            }
            out.append(.init(name: name, status: c.status == "pass" ? "pass" : "fail", evidence: "\(c.summary) (verification \(v.verificationId), \(v.startedAt))"))
        }
        fromVerification("row_counts", "row_counts")
        fromVerification("checksums", "checksums")
        fromVerification("foreign_keys", "foreign_keys")

        // Logins: every migrated user as GoTrue reads it, then each test account's password
        // against its migrated hash and, with --auth-url, a real password grant.
        let accts = accounts(settings)
        var loginUser: String?
        let readiness = try await AuthReadiness.check(v2)
        var results = [AuthReadiness.evidence(readiness)]
        var ok = readiness.passed
        if accts.isEmpty {
            ok = false
            results.append("no test accounts configured (settings test_accounts, or COCOATRACK_TEST_ACCOUNTS)")
        }
        let anonKey = ProcessInfo.processInfo.environment["SUPABASE_ANON_KEY"] ?? ""
        if authURL != nil && anonKey.isEmpty {
            ok = false
            results.append("--auth-url needs SUPABASE_ANON_KEY (the project's anon key) for the password grant")
        }
        for (email, password) in accts {
            Redactor.register(password)
            guard let r = try await AuthReadiness.passwordMatches(v2, email: email, password: password) else {
                ok = false; results.append("\(email): no such auth user"); continue
            }
            if r.notBanned && r.matches {
                loginUser = loginUser ?? r.id
                results.append("\(email): password matches")
            } else {
                ok = false
                results.append("\(email): \(r.matches ? "" : "password does not match the migrated hash")\(r.notBanned ? "" : (r.matches ? "" : "; ") + "banned")")
            }
            if let authURL, !anonKey.isEmpty {
                let grant = await AuthReadiness.passwordGrant(authURL: authURL, anonKey: anonKey, email: email, password: password)
                if !grant.granted { ok = false }
                var problems: [String]?
                if grant.unreadableUser { problems = try await AuthReadiness.problems(v2, email: email) }
                results.append(AuthReadiness.grantEvidence(email, grant, problems: problems))
            }
        }
        out.append(.init(name: "users_can_log_in", status: ok ? "pass" : "fail", evidence: results.joined(separator: "; ")))

        // A delivery created as that user, under RLS, rolled back.
        if let uid = loginUser {
            let r = try await AuthReadiness.createDelivery(v2, asUser: uid)
            out.append(.init(name: "users_can_create_deliveries", status: r.passed ? "pass" : "fail", evidence: r.evidence))
        } else {
            out.append(.init(name: "users_can_create_deliveries", status: "fail", evidence: "no test account could log in to act as"))
        }
        fromVerification("dashboard_totals", "business_totals")
        out.append(try await sentry(settings, v2))

        var final: [Criterion] = []
        for c in out { final.append(skip.contains(c.name) ? .init(name: c.name, status: "skipped", evidence: "skipped on purpose (--skip); was: \(c.status): \(c.evidence)") : c) }
        if global.json {
            Out.json(["criteria": final.map { ["name": $0.name, "status": $0.status, "evidence": $0.evidence] }, "passed": final.allSatisfy { $0.status != "fail" }])
        } else {
            for c in final { Out.result(pad(c.status.uppercased(), 9) + pad(c.name, 30) + c.evidence) }
        }
        let failed = final.filter { $0.status == "fail" }
        if !failed.isEmpty { throw MigrationError(.checkFailed, "success criteria not met: \(failed.map(\.name).joined(separator: ", ")).") }
        if !global.json { Out.result("every success criterion passed\(skip.isEmpty ? "" : " (skipped: \(skip.joined(separator: ", ")))").") }
    }

    func sentry(_ settings: Settings, _ v2: PGConnection) async throws -> Criterion {
        let r = try await CocoaTrackMonitoring.sentryCriticalIssues(settings.sentry, v2, since: since)
        return .init(name: "no_critical_errors", status: r.status, evidence: r.evidence)
    }
}
