import ArgumentParser
import CocoaTrack
import Foundation
import MigrationEngine
import Rendering

struct GenerateV1Command: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate-v1",
        abstract: "Fill an empty V1 with realistic, deterministic CocoaTrack data (dirty cases included).",
        discussion: """
            Scale 1 is about 3.7 million rows (31 regions, 400 cooperatives, 2,000 users, 800 warehouses, \
            20,000 invoices, 4,000 chef planteurs, 80,000 planteurs, 1,000,000 deliveries, 600,000 photos, \
            2,000,000 audit log rows). The same seed gives byte-identical data. Everything is written in one \
            transaction: an interrupted run leaves V1 empty.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "Size relative to production (1 ≈ 3.7 M rows).")
    var scale: Double = 1

    @Option(help: "Random seed: the same seed gives the same data.")
    var seed: UInt64 = 42

    @Option(help: "Fraction of rows carrying the dirty cases of docs/data-model.md (each case is present at least once).")
    var dirty: Double = 0.005

    func validate() throws {
        guard scale > 0, scale <= 100 else { throw ValidationError("--scale must be in (0, 100]") }
        guard dirty >= 0, dirty <= 1 else { throw ValidationError("--dirty must be between 0 and 1") }
    }

    func run() async throws {
        let logger = global.makeLogger()
        let config = try global.config("V1")
        let connection = try await PGConnection.connect(config, logger: logger)
        defer { Task { await connection.close() } }
        let generator = V1Generator(options: GeneratorOptions(scale: scale, seed: seed, dirtyFraction: dirty))
        let planned = generator.plannedCounts.reduce(0) { $0 + $1.count }
        let console = global.console
        console.info("generating \(planned) rows into \(config.redactedURL) (scale \(scale), seed \(seed), dirty \(dirty))")
        let report = try await generator.run(on: connection, logger: logger)
        let rate = report.seconds > 0 ? Int(Double(report.totalRows) / report.seconds) : report.totalRows
        if global.json {
            console.json([
                "event": "generated", "seconds": report.seconds, "rows": report.totalRows,
                "tables": Dictionary(uniqueKeysWithValues: report.rows.map { ($0.table, $0.count) }),
                "dirty": Dictionary(uniqueKeysWithValues: report.dirty.map { ($0.key.rawValue, $0.value) }),
            ])
        } else {
            console.result(TextTable.lines(["table", "rows"], report.rows.map { [$0.table, fmt(Int64($0.count))] }, total: ["total", fmt(Int64(report.totalRows))], minimum: [14, 10]))
            console.result("dirty cases: " + DirtyCase.allCases.map { "\($0.rawValue)=\(report.dirty[$0] ?? 0)" }.joined(separator: " "))
            console.result("\(fmt(Int64(report.totalRows))) rows in \(String(format: "%.1f", report.seconds)) s (\(fmt(Int64(rate))) rows/s)")
        }
    }
}
