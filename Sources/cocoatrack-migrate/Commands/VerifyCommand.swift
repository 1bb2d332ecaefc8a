import ArgumentParser
import CocoaTrack
import Foundation
import MigrationEngine
import Rendering

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-integrity",
        abstract: "Prove the migration: exact counts, every row's content, foreign keys and business totals; exit 3 when a check fails.",
        discussion: """
            Reads every V1 row through the same mapping migrate used and every V2 row, reduces both to typed \
            canonical values (NULL distinct from any text, numerics by value, timestamps as UTC microseconds, \
            jsonb and arrays canonical) and compares their checksums per key range; differing ranges are read \
            again to name each missing, unexpected or changed row and column. Then every V2 foreign key's orphans \
            and the business totals (V1 less rejected rows against V2). Findings are recorded in V2's migration \
            schema for `decide`. Exit 0: every check passed; 3: a check failed (rollback recommended); 1: the \
            verification could not finish (never a pass).
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "Write report.json, report.md and report.html into this directory.")
    var export: String?

    @Option(name: .customLong("max-reject-share"), help: "Largest share of a table's V1 rows that may be rejected (default: the settings file's thresholds.row_count_mismatch_pct, else the plan's 1 % = 0.01).")
    var maxRejectShare: Double?

    @Option(name: .customLong("only"), help: "Verify only this load (repeatable), e.g. --only deliveries. Business totals are then not run.")
    var only: [String] = []

    @Option(name: .customLong("max-differences"), help: "Differences listed per table in the report (counts are always complete).")
    var maxDifferences: Int = 1000

    @Option(help: "When a server drops the connection mid-verification: start the verification again up to this many times, waiting 1, 2, 4 … 30 s. 0: stop at once with exit 1.")
    var retries: Int = 6

    func validate() throws {
        guard retries >= 0 else { throw ValidationError("--retries must not be negative") }
        if let maxRejectShare { guard maxRejectShare >= 0, maxRejectShare <= 1 else { throw ValidationError("--max-reject-share must be between 0 and 1") } }
        guard maxDifferences >= 0 else { throw ValidationError("--max-differences must not be negative") }
    }

    func run() async throws {
        let console = global.console
        let verifier = try await makeVerifier(global, configure: { options in
            options.maxRejectShare = try maxRejectShare ?? global.settings().thresholds.rowCountMismatchPct / 100
            options.only = Set(only)
            options.maxListedDifferences = maxDifferences
        }, events: { event in
            if let line = VerifyView.progress(event) { console.info(line) }
        })
        console.info("verifying \(verifier.source.redactedURL) → \(verifier.target.redactedURL)")
        let report: VerifyReport
        do {
            report = try await verifier.run(retrying: RetryPolicy(retries: retries))
        } catch where Task.isCancelled {
            throw MigrationError(.interrupted, "verification interrupted; nothing was concluded. Run verify-integrity again.")
        }
        if let export {
            let files = try report.export(to: export)
            console.info("wrote \(files.joined(separator: ", "))")
        }
        if console.json { console.json(text: report.json(pretty: false)) } else { console.result(VerifyView.lines(report)) }
        if report.outcome != "pass" {
            throw MigrationError(.checkFailed, "verification failed: \(report.checks.filter { $0.status == "fail" }.map(\.name).joined(separator: ", ")). The decision matrix recommends rollback; see the report\(export.map { " in \($0)" } ?? " (--export DIR)") for the rows.")
        }
    }
}
