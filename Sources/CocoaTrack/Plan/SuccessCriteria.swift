import Foundation
import MigrationEngine

/// One of the plan's success criteria, with the evidence it was judged on.
public struct SuccessCriterion: Sendable, Equatable {
    public var name: String
    /// pass, fail or skipped
    public var status: String
    public var evidence: String

    public init(name: String, status: String, evidence: String) {
        self.name = name
        self.status = status
        self.evidence = evidence
    }
}

/// The plan's success criteria over a migrated V2: counts, checksums and foreign keys (the latest
/// verification), users can log in, users can create deliveries, the dashboard totals, no critical
/// errors. A criterion that cannot be checked fails; `skip` leaves one out on purpose and says so.
public enum CocoaTrackSuccess {
    public static let names = ["row_counts", "checksums", "foreign_keys", "users_can_log_in", "users_can_create_deliveries", "dashboard_totals", "no_critical_errors"]

    public struct Inputs: Sendable {
        public var accounts: [(email: String, password: String)]
        /// Supabase Auth's base URL (…/auth/v1) for a real password grant, with the project's anon key.
        public var authURL: String?
        public var anonKey: String
        public var sentry: Sentry.Config?
        /// Errors since this time count (nil: the runbook's migrate start, else 2 hours ago).
        public var since: String?
        public var skip: [String]

        public init(accounts: [(email: String, password: String)], authURL: String?, anonKey: String, sentry: Sentry.Config?, since: String?, skip: [String]) {
            self.accounts = accounts
            self.authURL = authURL
            self.anonKey = anonKey
            self.sentry = sentry
            self.since = since
            self.skip = skip
        }
    }

    public static func check(_ v2: PGConnection, _ inputs: Inputs) async throws -> [SuccessCriterion] {
        var out: [SuccessCriterion] = []
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
        // against its migrated hash and, with an Auth URL, a real password grant.
        var loginUser: String?
        let readiness = try await AuthReadiness.check(v2)
        var results = [AuthReadiness.evidence(readiness)]
        var ok = readiness.passed
        if inputs.accounts.isEmpty {
            ok = false
            results.append("no test accounts configured (settings test_accounts, or COCOATRACK_TEST_ACCOUNTS)")
        }
        if inputs.authURL != nil && inputs.anonKey.isEmpty {
            ok = false
            results.append("--auth-url needs SUPABASE_ANON_KEY (the project's anon key) for the password grant")
        }
        for (email, password) in inputs.accounts {
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
            if let authURL = inputs.authURL, !inputs.anonKey.isEmpty {
                let grant = await AuthReadiness.passwordGrant(authURL: authURL, anonKey: inputs.anonKey, email: email, password: password)
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
        let sentry = try await CocoaTrackMonitoring.sentryCriticalIssues(inputs.sentry, v2, since: inputs.since)
        out.append(.init(name: "no_critical_errors", status: sentry.status, evidence: sentry.evidence))

        return out.map { c in
            inputs.skip.contains(c.name) ? .init(name: c.name, status: "skipped", evidence: "skipped on purpose (--skip); was: \(c.status): \(c.evidence)") : c
        }
    }
}
