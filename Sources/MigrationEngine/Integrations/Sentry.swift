import PGClient
import Foundation

/// Sentry's issues API (`GET /api/0/projects/{org}/{project}/issues/?query=…`, bearer
/// SENTRY_AUTH_TOKEN): the success criterion "no critical errors" and the monitor's count.
public enum Sentry {
    public struct Config: Sendable, Equatable {
        public var baseURL: String
        public var org: String
        public var project: String
        public init(baseURL: String, org: String, project: String) {
            self.baseURL = baseURL
            self.org = org
            self.project = project
        }
    }

    /// New issues at level fatal or error since `since` (ISO 8601; default two hours ago):
    /// pass/fail, the evidence and the count (nil when Sentry could not be asked or is not configured).
    public static func criticalIssues(_ config: Config?, since: String?) async throws -> (status: String, evidence: String, count: Int?) {
        guard let config else {
            return ("fail", "Sentry not configured (settings sentry.base_url, sentry.org, sentry.project; SENTRY_AUTH_TOKEN)", nil)
        }
        // Always an instant in UTC of our own making: nothing of the flag reaches the query as typed.
        let from = (since.flatMap(TimeFlag.instant) ?? Date().addingTimeInterval(-7200)).formatted(.iso8601)
        let token = ProcessInfo.processInfo.environment["SENTRY_AUTH_TOKEN"] ?? ""
        if !token.isEmpty { Redactor.register(token) }
        let query = "level:[fatal,error] firstSeen:>\(from)"
        let url = "\(config.baseURL)/api/0/projects/\(config.org)/\(config.project)/issues/?query=\(query.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(CharacterSet(charactersIn: ":+,[]&=#"))) ?? query)"
        let issues: [[String: Any]]
        do {
            let res = try await WebClient.send("GET", url, headers: [("Authorization", "Bearer \(token)")])
            guard res.status == 200, let list = try? JSONSerialization.jsonObject(with: res.body) as? [[String: Any]] else {
                return ("fail", "Sentry could not be asked (HTTP \(res.status)\(res.ok ? ", not a list of issues" : ""))", nil)
            }
            issues = list
        } catch let e as MigrationError {
            return ("fail", "Sentry could not be asked (\(e.message))", nil)
        }
        let critical = issues.filter { ["fatal", "error"].contains($0["level"] as? String ?? "") }
        if critical.isEmpty { return ("pass", "no new fatal or error issue in \(config.org)/\(config.project) since \(from)", 0) }
        return ("fail", "\(critical.count) new issues since \(from): " + critical.prefix(5).map { "\($0["shortId"] as? String ?? "?") \($0["title"] as? String ?? "")" }.joined(separator: "; "), critical.count)
    }
}
