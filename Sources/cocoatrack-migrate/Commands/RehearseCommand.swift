import ArgumentParser
import CocoaTrack
import Foundation
import MigrationEngine
import Rendering

/// The whole cutover, rehearsed on the local sandbox with no configuration: the runbook with
/// the clock compressed, then a Scenario 1 drill at the decision gate and a Scenario 2 drill
/// after the DNS switch with a synthetic V2 workload, and a report.
struct RehearseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rehearse",
        abstract: "Rehearse the cutover on a local sandbox: generate V1 (or restore a dump), run the runbook, drill Scenarios 1 and 2, report.",
        discussion: """
            Starts a fresh sandbox of its own, fills V1 (`--v1-dump FILE`: a pg_dump -Fc of production \
            V1, restored as data), runs `cutover run` with the clock compressed (no waiting for T-times; the DNS \
            switch is a no-op hook), stops at the decision gate to drill Scenario 1 (clear V2, V1 writable again), runs \
            the runbook again to the end, applies a synthetic workload to V2 and drills Scenario 2 (assess, sync back \
            to V1, data-loss report, clear V2). Writes DIR/rehearsal.md, rehearsal.html, rehearsal.json (the \
            measurements `cutover plan` predicts from) and every report on the way. Exit 0 when every drill check \
            passed, 3 otherwise. The rehearsal has a sandbox of its own (--sandbox-dir, else \
            $COCOATRACK_REHEARSAL_SANDBOX_DIR, else /tmp/cocoatrack-rehearsal-<uid>), never the one `sandbox up` makes by \
            default: it replaces only a sandbox an earlier rehearsal made there and refuses (exit 4) anything else. That \
            sandbox stays up for exploration (`sandbox down --dir DIR` removes it).
            """
    )

    @Option(help: "Generated data scale (1 ≈ 3.7 M rows).") var scale: Double = 0.1
    @Option(name: .customLong("v1-dump"), help: "Restore this pg_dump -Fc of production V1 (data) instead of generating.") var v1Dump: String?
    @Option(help: "Where the rehearsal writes its reports.") var dir: String = "rehearsal-report"
    @Option(name: .customLong("sandbox-dir"), help: "The rehearsal's own sandbox directory (default: $COCOATRACK_REHEARSAL_SANDBOX_DIR, else /tmp/cocoatrack-rehearsal-<uid>). Only a sandbox an earlier rehearsal made there is replaced.")
    var sandboxDir: String?
    @Option(name: .customLong("window-start"), help: "The production window to predict (default: next Saturday 02:00 UTC).") var windowStart: String?
    @Option(name: .customLong("log-level")) var logLevel: String = "warning"

    func validate() throws {
        if let windowStart, CutoverPlanCommand.parseTime(windowStart) == nil { throw ValidationError("--window-start takes a UTC time such as 2026-12-05T02:00Z; got \(windowStart)") }
    }

    func run() async throws {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? URL(fileURLWithPath: CommandLine.arguments[0]).path
        let binary = FileManager.default.isExecutableFile(atPath: me) ? me : (Subprocess.which("cocoatrack-migrate") ?? me)
        var options = CocoaTrackRehearsal.Options()
        options.scale = scale
        options.v1Dump = v1Dump
        options.dir = dir
        options.sandboxDir = sandboxDir
        options.windowStart = windowStart.flatMap(TimeFlag.instant)
        options.logLevel = logLevel
        let console = Console(json: false)
        let outcome = try await CocoaTrackRehearsal(binary: binary, options: options, say: { console.info($0) }).run()
        console.result(outcome.report)
        let where_ = " --dir " + Invocation.quote(outcome.sandboxRoot)
        console.info("rehearsal report: \(dir)/rehearsal.md and rehearsal.html. The rehearsal's sandbox stays up at \(outcome.sandboxRoot): explore it with eval \"$(\(ToolCommand.line("sandbox env" + where_)))\"; remove it with \(ToolCommand.line("sandbox down" + where_))")
        if !outcome.failed.isEmpty { throw MigrationError(.checkFailed, "the rehearsal found problems: \(outcome.failed.joined(separator: "; "))") }
    }
}
