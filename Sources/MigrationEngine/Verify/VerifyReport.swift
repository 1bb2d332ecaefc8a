import PGClient
import Foundation

/// What `verify-integrity` found: the content of `report.json` (documented in the README; the
/// field names are stable, new fields may be added) and of the record in the migration schema.
public struct VerifyReport: Codable, Sendable {
    public static let formatName = "cocoatrack-migrate/verify-integrity/1"

    public var format = VerifyReport.formatName
    public var verificationId: String
    public var toolVersion: String
    public var startedAt: String
    public var finishedAt: String?
    public var seconds: Double = 0
    public var v1: String
    public var v2: String
    /// `pass`: every check ran and passed; `fail`: a check failed; `error`: the verification
    /// could not finish (nothing it did not compare is reported as matching).
    public var outcome: String = "error"
    /// False when `--only` limited the tables (business totals are then not run).
    public var complete: Bool = false
    public var error: String?
    public var thresholds: Thresholds
    public var checks: [Check] = []
    public var tables: [TableResult] = []
    public var foreignKeys: [ForeignKeyResult] = []
    public var businessTotals: [BusinessResult] = []
    /// Distinct V1 rows rejected, by V1 table: a row that two loads read (e.g. a V1 user that
    /// goes to `auth.users` and to `public.profiles`) counts once here, though each load's
    /// `rejected_total` counts it. Absent in reports written before this field existed.
    public var rejectedV1Rows: [String: Int64]?

    /// Distinct V1 rows rejected over every table (each load's rejects when `rejectedV1Rows` is absent).
    public var distinctRejected: Int64 {
        rejectedV1Rows.map { $0.values.reduce(0, +) } ?? tables.reduce(0) { $0 + $1.rejectedTotal }
    }

    public struct Thresholds: Codable, Sendable {
        /// Largest share of a table's V1 rows that may be rejected (the plan's 1 %).
        public var maxRejectShare: Double
    }

    /// One line of the verdict: `pass`, `fail` or `not_run`.
    public struct Check: Codable, Sendable {
        public var name: String
        public var status: String
        public var summary: String
    }

    public struct ColumnDifference: Codable, Sendable {
        public var column: String
        public var v1: String?
        public var v2: String?
    }

    public struct Difference: Codable, Sendable {
        /// `missing_in_v2`, `unexpected_in_v2` or `changed`.
        public var kind: String
        public var key: String
        public var v1Id: Int64?
        public var columns: [ColumnDifference]
    }

    public struct TableResult: Codable, Sendable {
        public var load: String
        public var sourceTable: String
        public var targetTable: String
        public var v1Rows: Int64 = 0
        public var rejected: [String: Int64] = [:]
        public var rejectedTotal: Int64 = 0
        public var rejectShare: Double = 0
        /// Rejects that `migrate` recorded for this load (nil when it recorded none).
        public var rejectedRecordedByMigrate: Int64?
        public var warnings: Int64 = 0
        /// The warnings by rule (the row went to V2, with a note). Absent in reports written before this field existed.
        public var warningsByReason: [String: Int64]?
        public var expectedV2Rows: Int64 = 0
        public var v2Rows: Int64 = 0
        public var unexplainedDifference: Int64 = 0
        /// Rows of a shared target (e.g. `auth.users`) that the migration did not write: not compared.
        public var ignoredV2Rows: Int64 = 0
        public var checksumV1: String = ""
        public var checksumV2: String = ""
        public var checksumsMatch = false
        public var rangesCompared: Int = 0
        public var rangesDiffering: Int = 0
        public var missingInV2: Int64 = 0
        public var unexpectedInV2: Int64 = 0
        public var changed: Int64 = 0
        /// Differences located, up to the report limit (the counts above are always complete).
        public var differences: [Difference] = []
        public var differencesTruncated = false
        /// Columns compared and how (e.g. `weight_kg: numeric`).
        public var columns: [String] = []
        public var seconds: Double = 0
        public var countsPass = false
        public var contentPass = false
    }

    public struct ForeignKeyResult: Codable, Sendable {
        public var name: String
        public var table: String
        public var columns: [String]
        public var references: String
        public var orphans: Int64
        /// `pg_constraint.convalidated`: false when V2 holds the key `NOT VALID` (a failure,
        /// whatever the orphan count). Absent in reports written before this field existed.
        public var validated: Bool?
    }

    public struct BusinessMismatch: Codable, Sendable {
        public var key: [String]
        public var v1: [String]?
        public var v2: [String]?
    }

    public struct BusinessResult: Codable, Sendable {
        public var name: String
        public var description: String
        public var columns: [String]
        public var groupsV1: Int
        public var groupsV2: Int
        public var mismatches: [BusinessMismatch]
        public var status: String
    }

    public var passed: Bool { outcome == "pass" }

    public func json(pretty: Bool = true) -> String {
        ReportJSON.encode(self, pretty: pretty, nonFinite: true)
    }

    public static func decode(_ text: String) throws -> VerifyReport {
        try ReportJSON.decode(VerifyReport.self, from: Data(text.utf8))
    }
}
