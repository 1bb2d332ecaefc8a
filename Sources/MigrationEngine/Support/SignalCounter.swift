import PGClient
import Foundation

/// Ctrl+C and SIGTERM as requests: signals that arrive together are one request (`timeout -s INT`
/// signals the child and then its whole process group, and a terminal's Ctrl+C reaches every
/// process of the foreground group), so only a signal more than `sameRequest` after the first
/// one means "abort now".
public final class SignalCounter: @unchecked Sendable {
    /// Signals this close to the first one belong to the same request to stop. A person who
    /// means to abort presses Ctrl+C again after reading the message, well after this.
    public static let sameRequest: Duration = .milliseconds(1000)

    public enum Meaning: Equatable { case first, sameRequest, abort }

    public init() {}

    private let lock = NSLock()
    private var count = 0
    private var first: ContinuousClock.Instant?

    public func receive(at now: ContinuousClock.Instant) -> Meaning {
        lock.withLock {
            count += 1
            guard let first else {
                self.first = now
                return .first
            }
            return now - first < Self.sameRequest ? .sameRequest : .abort
        }
    }

    public var value: Int { lock.withLock { count } }
}
