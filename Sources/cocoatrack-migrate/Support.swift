import Dispatch
import Foundation
import Logging
import MigrationEngine
import Rendering

/// Ctrl+C (SIGINT) and SIGTERM cancel the running command, which stops at its next safe point;
/// a later Ctrl+C exits at once with 130.
///
/// Signals that arrive together are one request: `timeout -s INT` signals the child and then
/// its whole process group, and a terminal's Ctrl+C reaches every process of the foreground
/// group, so one intent often arrives as two SIGINTs microseconds apart. Only a signal more than
/// `SignalCounter.sameRequest` after the first one aborts.
enum Interrupts {
    static func run(_ body: @escaping @Sendable () async throws -> Void) async throws {
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let task = Task { try await body() }
        let queue = DispatchQueue(label: "signals")
        let counter = SignalCounter()
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler {
                switch counter.receive(at: ContinuousClock.now) {
                case .first:
                    StderrLive.shared.line("stopping at the next safe point (Ctrl+C again to abort at once)…")
                    task.cancel()
                case .sameRequest:
                    break
                case .abort:
                    FileHandle.standardError.write(Data("aborted.\n".utf8))
                    Foundation.exit(130)
                }
            }
            source.resume()
            sources.append(source)
        }
        defer { sources.forEach { $0.cancel() } }
        do {
            try await task.value
        } catch let error as MigrationError where error.code == .interrupted {
            throw error
        } catch {
            if counter.value > 0 {
                throw MigrationError(.interrupted, "interrupted at a safe point; run the same command again to resume.", cause: TextCause("\(error)"))
            }
            throw error
        }
    }
}
