import PGClient
import Foundation

/// Throughput measured by a rehearsal (`rehearse` writes it as `rehearsal.json`), from which the
/// cutover's data steps are predicted for production's row counts and sizes.
public struct RehearsalMeasurements: Codable, Sendable {
    public var measuredAt: String
    public var sourceRows: Int64
    public var sourceBytes: Int64
    public var migrateSeconds: Double
    public var verifySeconds: Double
    /// The V1 final backup's duration (scaled by V1's size for production).
    public var snapshotSeconds: Double
    /// The pre-migration V2 snapshot's duration as measured. V2 holds no V1 data before
    /// `migrate`, so its time does not grow with V1: the plan predicts it as measured. Absent in
    /// measurements written before this field existed (the plan then predicts nothing for it).
    public var v2SnapshotSeconds: Double?

    public init(measuredAt: String, sourceRows: Int64, sourceBytes: Int64, migrateSeconds: Double, verifySeconds: Double, snapshotSeconds: Double,
                v2SnapshotSeconds: Double? = nil) {
        self.measuredAt = measuredAt
        self.sourceRows = sourceRows
        self.sourceBytes = sourceBytes
        self.migrateSeconds = migrateSeconds
        self.verifySeconds = verifySeconds
        self.snapshotSeconds = snapshotSeconds
        self.v2SnapshotSeconds = v2SnapshotSeconds
    }

    public static func load(_ path: String) throws -> RehearsalMeasurements {
        try ReportJSON.decode(RehearsalMeasurements.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    public func json() -> String {
        ReportJSON.encode(self, redact: false, escapeSlashes: true)
    }
}

/// The plan's cutover timeline in absolute times, with the data steps' predicted durations and
/// warnings when they do not fit (the window, the T+1h verification, the T+2h decision point).
public struct CutoverPlan: Codable, Sendable {
    public struct Step: Codable, Sendable {
        public var id: String
        public var title: String
        /// Offset from T-0, in seconds, as the plan schedules it.
        public var offset: Int
        public var at: String
        public var command: String
        public var predictedSeconds: Double?
        public var predictedEnd: String?
    }

    public var windowStart: String
    public var windowEnd: String
    public var decisionPoint: String
    public var productionRows: Int64?
    public var productionBytes: Int64?
    public var rehearsal: RehearsalMeasurements?
    public var steps: [Step]
    public var warnings: [String]

    static func iso(_ d: Date) -> String { d.formatted(.iso8601) }

    /// The plan for `timeline` (the runbook's steps; those without an offset are not on the clock).
    public static func make(timeline: [RunbookStep], windowStart: Date, windowHours: Double = 4, decisionHours: Double = 2, productionRows: Int64?,
                            productionBytes: Int64?, rehearsal: RehearsalMeasurements?) -> CutoverPlan {
        var warnings: [String] = []
        func predicted(_ kind: RunbookStep.Prediction) -> Double? {
            guard let r = rehearsal else { return nil }
            switch kind {
            case .migrate: return productionRows.map { Double($0) / max(1, Double(r.sourceRows)) * r.migrateSeconds }
            case .verify: return productionRows.map { Double($0) / max(1, Double(r.sourceRows)) * r.verifySeconds }
            case .sourceBackup: return productionBytes.map { Double($0) / max(1, Double(r.sourceBytes)) * r.snapshotSeconds }
            case .targetSnapshot: return r.v2SnapshotSeconds
            case .none: return nil
            }
        }
        var steps: [Step] = []
        for s in timeline {
            guard let hours = s.offsetHours else { continue }
            let at = windowStart.addingTimeInterval(hours * 3600)
            let p = predicted(s.prediction)
            steps.append(Step(id: s.id, title: s.title, offset: Int(hours * 3600), at: iso(at), command: s.command, predictedSeconds: p,
                              predictedEnd: p.map { iso(at.addingTimeInterval($0)) }))
        }
        if rehearsal == nil { warnings.append("no rehearsal measurements: durations cannot be predicted. Run `\(ToolCommand.line("rehearse"))` (or scripts/rehearse.sh) and pass --rehearsal FILE.") }
        if productionRows == nil { warnings.append("no production row counts: run `\(ToolCommand.line("inventory"))` against production first.") }
        let decision = windowStart.addingTimeInterval(decisionHours * 3600)
        let end = windowStart.addingTimeInterval(windowHours * 3600)
        if let m = predicted(.migrate) {
            let migrateEnd = windowStart.addingTimeInterval(m)
            if m > 3600 { warnings.append("migrate is predicted to take \(Int(m / 60)) min: it ends after T+1h (\(iso(migrateEnd))), so verification starts late.") }
            if let v = predicted(.verify) {
                let verifyEnd = migrateEnd.addingTimeInterval(v)
                if verifyEnd > decision { warnings.append("migrate and verify are predicted to end at \(iso(verifyEnd)), after the T+2h decision point (\(iso(decision))).") }
                if verifyEnd.addingTimeInterval(v) > end { warnings.append("the data steps (migrate, verify, arm capture) are predicted to end at \(iso(verifyEnd.addingTimeInterval(v))), after the window closes (\(iso(end))).") }
            }
        }
        if let b = predicted(.targetSnapshot), b > 3600 { warnings.append("the pre-migration snapshot is predicted to take \(Int(b / 60)) min: start it before T-1h.") }
        return CutoverPlan(windowStart: iso(windowStart), windowEnd: iso(end), decisionPoint: iso(decision), productionRows: productionRows,
                           productionBytes: productionBytes, rehearsal: rehearsal, steps: steps, warnings: warnings)
    }

    public func json(pretty: Bool = true) -> String {
        ReportJSON.encode(self, pretty: pretty, redact: false)
    }
}
