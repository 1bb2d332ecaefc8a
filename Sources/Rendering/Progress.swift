import Foundation
import MigrationEngine

/// Migration progress on stderr. On a terminal: a live block, one line per running load (rows
/// committed of total, rate, ETA) or phase (keys and indexes, foreign keys), redrawn every
/// second under the permanent lines. Without a terminal: one line per table and phase. With
/// `--json`: JSON events on stdout as well.
///
/// Counts are rows whose batch has committed in V2 (written or rejected), never rows only read.
/// Rates and ETAs are over this run's rows: a resumed load does not count what earlier runs
/// committed. Before a load's first commit, the rate is that of rows read (they are at most a few
/// batches ahead of the commits); from its first commit on, that of rows committed.
public final class ProgressRenderer: @unchecked Sendable {
    public let json: Bool
    public let live: Bool

    public convenience init(json: Bool, live: Bool = StderrLive.shared.isTerminal, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.init(console: Console(json: json), live: live, clock: clock)
    }
    private let lock = NSLock()
    private let clock: @Sendable () -> Date

    struct Track {
        var total: Int64
        var before: Int64            // committed before this run
        var readBefore: Int64        // read counter at start (earlier runs' rows)
        var started: Date
        var committed: Int64
        var read: Int64 = 0
        var lastCommitAt: Date?
        var phase: (name: String, since: Date)?
        var rowsFinishedAt: Date?
    }
    private var tracks: [String: Track] = [:]
    private var order: [String] = []
    private var runPhase: (name: String, since: Date)?

    private let console: Console

    public init(console: Console, live: Bool = StderrLive.shared.isTerminal, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.console = console
        self.json = console.json
        self.live = live
        self.clock = clock
    }

    public func handle(_ event: MigrationEvent) {
        lock.withLock {
            let now = clock()
            switch event {
            case .leftoversRebuilt(let load, let table, let count):
                console.info(MigrateView.leftoversRebuilt(table: table, count: count))
                if json { console.json(["event": "leftovers_rebuilt", "load": load, "table": table, "count": count]) }
            case .reconnecting(let reason, let delay, let attempt, let retries):
                console.info(MigrateView.reconnecting(reason: reason, delaySeconds: delay, attempt: attempt, retries: retries))
                if json { console.json(["event": "reconnecting", "reason": reason, "delay_s": delay, "attempt": attempt, "retries": retries]) }
            case .planned(let loads):
                for l in loads { order.append(l.name) }
                let pending = loads.filter { $0.state != "done" }
                let resumed = pending.filter { $0.committedBefore > 0 }
                var line = "\(pending.count) of \(loads.count) loads to run, \(fmt(pending.reduce(0) { $0 + max(0, $1.sourceRows - $1.committedBefore) })) rows"
                if !resumed.isEmpty { line += " (resuming \(resumed.map(\.name).joined(separator: ", ")): \(fmt(resumed.reduce(0) { $0 + $1.committedBefore })) rows committed by earlier runs)" }
                console.info(line)
                if json {
                    console.json(["event": "planned", "loads": loads.map { ["name": $0.name, "source_rows": $0.sourceRows, "state": $0.state, "committed": $0.committedBefore] }])
                }
            case .loadStarted(let l):
                tracks[l.name] = Track(total: l.sourceRows, before: l.committedBefore, readBefore: l.read, started: now, committed: l.committed, read: l.read)
                if !order.contains(l.name) { order.append(l.name) }
                if !live {
                    console.info(l.committedBefore > 0
                        ? "\(l.name): resuming, \(fmt(l.committedBefore)) of \(fmt(l.sourceRows)) rows committed by earlier runs"
                        : "\(l.name): loading \(fmt(l.sourceRows)) rows")
                }
                if json { console.json(["event": "load_started", "load": l.name, "total": l.sourceRows, "committed": l.committed]) }
            case .progress(let loads):
                for l in loads { update(l, now: now) }
                if json {
                    for l in loads {
                        guard let t = tracks[l.name] else { continue }
                        let r = rate(t, now: now)
                        console.json(["event": "progress", "load": l.name, "committed": t.committed, "read": l.read, "total": l.sourceRows,
                                  "written": l.written, "rejected": l.rejected, "phase": t.phase?.name ?? "rows",
                                  "rows_per_s": Int(r ?? 0), "eta_s": eta(t, now: now).map { Int($0.rounded()) } ?? -1])
                    }
                }
                redraw(now: now)
            case .phaseStarted(let load, let phase):
                if let load, var t = tracks[load] {
                    t.rowsFinishedAt = now
                    t.phase = (phase, now)
                    tracks[load] = t
                    let r = rows(t)
                    let secs = now.timeIntervalSince(t.started)
                    console.info("\(load): \(fmt(t.committed)) of \(fmt(t.total)) rows committed"
                        + (r > 0 ? " (\(fmt(r)) in this run, \(Self.seconds(secs)), \(fmt(Int64(Double(r) / max(secs, 0.001)))) rows/s)" : "")
                        + "; rebuilding \(phase)…")
                } else if load == nil {
                    runPhase = (phase, now)
                    if !live {
                        console.info("\(phase): \(phase == "foreign keys" ? "restoring, validating every reference" : "counting rows without their parent")…")
                    }
                }
                if json { console.json(["event": "phase_started", "load": load ?? "", "phase": phase]) }
                redraw(now: now)
            case .phaseFinished(let load, let phase, let seconds, let detail):
                if let load, var t = tracks[load] {
                    t.phase = nil
                    tracks[load] = t
                } else if load == nil {
                    runPhase = nil
                    console.info("\(phase): \(detail) (\(Self.seconds(seconds)))")
                }
                if json { console.json(["event": "phase_finished", "load": load ?? "", "phase": phase, "seconds": (seconds * 10).rounded() / 10, "detail": detail]) }
                redraw(now: now)
            case .loadFinished(let l):
                var extra = ""
                if let t = tracks[l.name] {
                    let secs = now.timeIntervalSince(t.started)
                    extra = ", in \(Self.seconds(secs))"
                    if let p = t.rowsFinishedAt { extra += " (keys and indexes \(Self.seconds(now.timeIntervalSince(p))))" }
                }
                console.info("\(l.state == "dry-run" ? "checked" : "loaded") \(pad(l.name, 16)) \(fmt(l.written)) written, \(fmt(l.rejected)) rejected, \(fmt(l.warnings)) warnings\(extra)")
                tracks[l.name] = nil
                if json {
                    console.json(["event": "load_finished", "load": l.name, "written": l.written, "rejected": l.rejected, "warnings": l.warnings])
                }
                redraw(now: now)
            }
        }
    }

    private func update(_ l: LoadStatus, now: Date) {
        guard var t = tracks[l.name] else { return }
        let committed = max(l.committed, t.before)
        if committed > t.committed { t.lastCommitAt = now }
        t.committed = committed
        t.read = max(t.read, l.read)
        tracks[l.name] = t
    }

    /// Rows committed in this run.
    private func rows(_ t: Track) -> Int64 { max(0, t.committed - t.before) }

    /// Rows per second in this run: committed rows over the time to the last commit once there
    /// is one, rows read over the time so far before.
    func rate(_ t: Track, now: Date) -> Double? {
        if let at = t.lastCommitAt, rows(t) > 0 {
            return Double(rows(t)) / max(at.timeIntervalSince(t.started), 0.001)
        }
        let read = t.read - t.readBefore
        guard read > 0 else { return nil }
        return Double(read) / max(now.timeIntervalSince(t.started), 0.001)
    }

    func eta(_ t: Track, now: Date) -> Double? {
        guard let r = rate(t, now: now), r > 0 else { return nil }
        return Double(max(0, t.total - t.committed)) / r
    }

    /// The live block: one line per running load, and the run's phase.
    private func redraw(now: Date) {
        guard live else { return }
        var lines: [String] = []
        for name in order {
            guard let t = tracks[name] else { continue }
            let pct = t.total > 0 ? Int(100 * Double(t.committed) / Double(t.total)) : 100
            var line = "  " + pad(name, 16) + pad("\(pct) %", 6, right: true)
            if let phase = t.phase {
                line += "rebuilding \(phase.name) (\(Self.seconds(now.timeIntervalSince(phase.since))))"
            } else {
                line += "\(fmt(t.committed))/\(fmt(t.total)) committed"
                if let r = rate(t, now: now) {
                    line += "  \(fmt(Int64(r))) rows/s"
                    if let e = eta(t, now: now) { line += "  ETA \(Self.seconds(e))" }
                } else {
                    line += "  starting (\(Self.seconds(now.timeIntervalSince(t.started))))"
                }
            }
            lines.append(line)
        }
        if let p = runPhase {
            lines.append("  " + pad(p.name, 22) + "\(p.name == "foreign keys" ? "validating" : "counting") (\(Self.seconds(now.timeIntervalSince(p.since))))")
        }
        StderrLive.shared.setBlock(lines)
    }

    public func finish() { StderrLive.shared.setBlock([]) }

    /// A duration for people: "0.4 s", "12 s", "3 min 05 s".
    public static func seconds(_ s: Double) -> String {
        if !s.isFinite || s < 0 { return "?" }
        if s < 10 { return String(format: "%.1f s", s) }
        if s < 120 { return "\(Int(s.rounded())) s" }
        let m = Int(s.rounded()) / 60, r = Int(s.rounded()) % 60
        return r == 0 ? "\(m) min" : String(format: "%d min %02d s", m, r)
    }
}

/// stderr, shared by log lines, messages and a live block at the bottom of a terminal: a line
/// written while the block is shown goes above it (the block is erased and drawn again), so log
/// and progress never run into each other.
public final class StderrLive: @unchecked Sendable {
    public static let shared = StderrLive()

    public let isTerminal = isatty(2) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    private let lock = NSLock()
    private var block: [String] = []
    private var shown = 0

    /// Writes one permanent line.
    public func line(_ text: String) {
        lock.withLock {
            erase()
            write(text + "\n")
            draw()
        }
    }

    /// Replaces the live block (empty: removes it). Ignored without a terminal.
    public func setBlock(_ lines: [String]) {
        guard isTerminal else { return }
        lock.withLock {
            erase()
            block = lines
            draw()
        }
    }

    private func erase() {
        if shown > 0 { write("\u{1B}[\(shown)F\u{1B}[J") }
        shown = 0
    }

    private func draw() {
        guard isTerminal, !block.isEmpty else { return }
        let width = max(20, columns() - 1)
        var out = ""
        for l in block { out += String(l.prefix(width)) + "\n" }
        write(out)
        shown = block.count
    }

    private func columns() -> Int {
        var ws = winsize()
        if ioctl(2, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_col > 0 { return Int(ws.ws_col) }
        return Int(ProcessInfo.processInfo.environment["COLUMNS"] ?? "") ?? 100
    }

    private func write(_ s: String) {
        FileHandle.standardError.write(Data(Redactor.redact(s).utf8))
    }
}
