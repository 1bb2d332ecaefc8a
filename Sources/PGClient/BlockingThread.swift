import Foundation

/// Runs blocking work (waitpid, pipe reads, getaddrinfo) on a thread of its own: the global
/// dispatch pool has as many threads as cores, and blocking it would stall unrelated work.
public enum BlockingThread {
    public static func run(_ body: @escaping @Sendable () -> Void) {
        let thread = Thread { body() }
        thread.stackSize = 1 << 20
        thread.start()
    }
}
