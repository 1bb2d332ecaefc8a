import PGClient
import Foundation

/// A bounded hand-off between two threads (a COPY reader and a COPY writer): `send` blocks
/// while the channel is full, so memory stays bounded, and `close` wakes both sides.
final class BlockingChannel<Element>: @unchecked Sendable {
    private let condition = NSCondition()
    private var buffer: [Element] = []
    private let capacity: Int
    private var closed = false
    private var failure: (any Error)?

    init(capacity: Int) { self.capacity = capacity }

    /// Returns false when the channel was closed (the consumer gave up).
    func send(_ element: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while buffer.count >= capacity && !closed { condition.wait() }
        if closed { return false }
        buffer.append(element)
        condition.broadcast()
        return true
    }

    /// Next element, nil when closed and drained; throws the producer's failure.
    func receive() throws -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while buffer.isEmpty && !closed { condition.wait() }
        if let failure { throw failure }
        if buffer.isEmpty { return nil }
        let e = buffer.removeFirst()
        condition.broadcast()
        return e
    }

    func close(failure: (any Error)? = nil) {
        condition.lock()
        if self.failure == nil { self.failure = failure }
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
