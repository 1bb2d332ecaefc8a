import Foundation
import Testing
@testable import Rendering

/// What the terminal shows of a migration, without a terminal or a server.
@Suite("rendering")
struct RenderingTests {
    static let t0 = Date(timeIntervalSince1970: 1_000_000)

    @Test("a resumed load's rate counts this run's rows only, up to its last commit; the ETA is what is left at that rate")
    func rateOverThisRun() throws {
        let p = ProgressRenderer(json: false, live: false)
        // 1,000 rows committed by an earlier run, 1,500 now, the last commit 5 s after the start.
        var t = ProgressRenderer.Track(total: 3_000, before: 1_000, readBefore: 1_000, started: Self.t0, committed: 1_500, read: 1_600)
        t.lastCommitAt = Self.t0.addingTimeInterval(5)
        let now = Self.t0.addingTimeInterval(6)
        #expect(p.rate(t, now: now) == 100, "500 rows of this run in 5 s, not 1,500")
        #expect(p.eta(t, now: now) == 15, "1,500 rows left at 100 rows/s")
    }

    @Test("before the first commit the rate is that of rows read; with nothing read there is none, and no ETA")
    func rateBeforeFirstCommit() {
        let p = ProgressRenderer(json: false, live: false)
        var t = ProgressRenderer.Track(total: 1_000, before: 0, readBefore: 0, started: Self.t0, committed: 0, read: 200)
        #expect(p.rate(t, now: Self.t0.addingTimeInterval(2)) == 100)
        t.read = 0
        #expect(p.rate(t, now: Self.t0.addingTimeInterval(2)) == nil)
        #expect(p.eta(t, now: Self.t0.addingTimeInterval(2)) == nil)
    }

    @Test("durations and log values for people")
    func formats() {
        #expect(ProgressRenderer.seconds(0.42) == "0.4 s")
        #expect(ProgressRenderer.seconds(12.4) == "12 s")
        #expect(ProgressRenderer.seconds(185) == "3 min 05 s")
        #expect(ProgressRenderer.seconds(120) == "2 min")
        #expect(ProgressRenderer.seconds(-1) == "?" && ProgressRenderer.seconds(.infinity) == "?")
        #expect(StderrLogHandler.rounded("12.345678901") == "12.3")
        #expect(StderrLogHandler.rounded("0.123456") == "0.123")
        #expect(StderrLogHandler.rounded("15.18") == "15.18", "a short fraction (a version) stays")
        #expect(StderrLogHandler.rounded("3707231") == "3707231")
        #expect(pad("ab", 4) == "ab  " && pad("ab", 4, right: true) == "  ab " && pad("abcd", 4) == "abcd" && pad("abcde", 4) == "abcde ")
        #expect(fmt(3_707_231) == "3,707,231")
    }
}
