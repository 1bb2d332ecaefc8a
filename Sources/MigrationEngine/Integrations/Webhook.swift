import PGClient
import Foundation

/// Slack-compatible webhook messages (`{"text": …}`), best effort: a failed post is logged by the
/// caller, never fatal to the cutover. Posted in process (``WebClient``): the URL, whose path is
/// the webhook's secret, is on no command line.
public enum Webhook {
    public static func post(_ url: String, text: String, timeout: Duration = .seconds(5)) async -> (any Error)? {
        let body = (try? JSONSerialization.data(withJSONObject: ["text": Redactor.redact(text)])) ?? Data()
        do {
            let r = try await WebClient.send("POST", url, headers: [("Content-Type", "application/json")], body: body, timeout: timeout)
            guard r.ok else {
                return MigrationError(.httpFailed, "webhook post to \(WebClient.origin(url)) answered HTTP \(r.status). Check webhook_url in the settings file.")
            }
            return nil
        } catch {
            return error
        }
    }
}
