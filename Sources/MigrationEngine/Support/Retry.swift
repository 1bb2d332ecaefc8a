import PGClient
import Foundation
import Logging

/// Reconnects and starts again when a server drops the tool mid-work.
///
/// Only for work that is safe to start over: `migrate` (every committed batch carries its own
/// checkpoint, so a new attempt continues where the lost one stopped) and the read-only passes of
/// `verify-integrity`. A connection *lost* during the work is transient: the backend was
/// terminated, the server restarted or failed over. While retrying, a server that refuses
/// connections or says it is starting up is waited for too. A first connection that fails is not
/// retried: a wrong port, host or password is a configuration problem, reported at once.
public struct RetryPolicy: Sendable, Equatable {
    /// New attempts after the first one fails (0: never retry).
    public var retries: Int
    public var initialDelay: Duration
    public var maxDelay: Duration

    public init(retries: Int = 6, initialDelay: Duration = .seconds(1), maxDelay: Duration = .seconds(30)) {
        self.retries = retries
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
    }

    public static let never = RetryPolicy(retries: 0)

    /// Exponential backoff: 1 s, 2 s, 4 s, … capped at `maxDelay`, with ±20 % jitter so that
    /// parallel clients do not reconnect in lockstep.
    public func delay(beforeRetry n: Int, jitter: Double = Double.random(in: 0.8...1.2)) -> Duration {
        let base = initialDelay * Int(1 << min(max(n - 1, 0), 20))
        let capped = min(base, maxDelay)
        return capped * jitter
    }

    /// Whether `error` ends one attempt but not the work. `retrying`: an earlier attempt already
    /// lost its connection, so the server may still be coming back.
    public static func isTransient(_ error: any Error, retrying: Bool) -> Bool {
        guard let e = error as? MigrationError else { return false }
        switch e.code {
        case .connectionLost: return true
        case .serverUnavailable: return true
        case .connectionRefused, .connectionTimeout, .connectionFailed: return retrying
        default: return false
        }
    }
}

/// Runs `body`, and runs it again after a transient connection failure, up to the policy's
/// limit. Each failure and wait is reported through `onRetry` (attempt number, delay, error) and
/// logged. Cancellation during the wait ends the loop with the cancellation. When the retries run
/// out, the last error is thrown with a message that says how to continue.
extension RetryPolicy {
    /// A delay as people read it: whole seconds, at least 1.
    public static func wholeSeconds(_ delay: Duration) -> Int { max(1, Int((delay / .seconds(1)).rounded())) }
}

public func withRetries<T: Sendable>(
    _ policy: RetryPolicy,
    what: String,
    logger: Logger,
    onRetry: @Sendable (Int, Duration, MigrationError) -> Void = { _, _, _ in },
    _ body: () async throws -> T
) async throws -> T {
    var failures = 0
    while true {
        do {
            return try await body()
        } catch {
            guard !Task.isCancelled, RetryPolicy.isTransient(error, retrying: failures > 0), let lost = error as? MigrationError else { throw error }
            failures += 1
            guard failures <= policy.retries else {
                var out = lost
                out.message = "\(lost.message) Gave up after \(failures) attempt(s) of \(what) (--retries \(policy.retries)); once the server is back, run the same command again: it continues from the last committed step."
                throw out
            }
            let delay = policy.delay(beforeRetry: failures)
            logger.warning("connection lost; retrying", metadata: [
                "attempt": "\(failures + 1)", "of": "\(policy.retries + 1)", "delay": "\(delay)", "error": "\(lost.message)",
            ])
            onRetry(failures, delay, lost)
            try await Task.sleep(for: delay)
        }
    }
}
