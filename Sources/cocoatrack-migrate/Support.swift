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

final class SignalCounter: @unchecked Sendable {
    /// Signals this close to the first one belong to the same request to stop. A person who
    /// means to abort presses Ctrl+C again after reading the message, well after this.
    static let sameRequest: Duration = .milliseconds(1000)

    enum Meaning: Equatable { case first, sameRequest, abort }

    private let lock = NSLock()
    private var count = 0
    private var first: ContinuousClock.Instant?

    func receive(at now: ContinuousClock.Instant) -> Meaning {
        lock.withLock {
            count += 1
            guard let first else {
                self.first = now
                return .first
            }
            return now - first < Self.sameRequest ? .sameRequest : .abort
        }
    }

    var value: Int { lock.withLock { count } }
}

/// Confirmation before a destructive step: `--yes`, or an answer typed on a terminal; never
/// assumed when nobody can answer.
enum Confirm {
    /// Asks for the database's name (`side` is V1 or V2).
    static func databaseName(_ database: String, side: String, yes: Bool) throws {
        if yes { return }
        guard isatty(0) == 1 else {
            throw MigrationError(.refused, "confirmation required: run it on a terminal and type the \(side) database name, or pass --yes. Nothing was touched.")
        }
        FileHandle.standardError.write(Data("type the \(side) database name (\(database)) to confirm: ".utf8))
        guard readLine()?.trimmingCharacters(in: .whitespaces) == database else {
            throw MigrationError(.refused, "confirmation did not match \(database). Nothing was touched.")
        }
    }

    /// Asks `question? type yes`; without a terminal, `refusal` says what --yes would allow.
    static func yes(_ question: String, yes: Bool, refusal: String) throws {
        if yes { return }
        guard isatty(0) == 1 else { throw MigrationError(.refused, refusal) }
        FileHandle.standardError.write(Data("\(question)? type yes: ".utf8))
        guard readLine()?.trimmingCharacters(in: .whitespaces) == "yes" else {
            throw MigrationError(.refused, "not confirmed. Nothing was changed.")
        }
    }
}
