import PGClient
import Foundation
import Logging
import Synchronization

/// An aggregate the business reads (a dashboard total), computed independently on both sides:
/// the source query excludes the rejected rows (their ids bind to `$1`, `$2`, … as bigint
/// arrays, one per table in `rejectedParameters`), the target query reads the target. Rows are
/// matched on the first `keyColumns` columns; the other columns compare by numeric value.
public struct BusinessCheck: Sendable {
    public var name: String
    public var description: String
    public var columns: [String]
    public var keyColumns: Int
    public var sourceSQL: String
    public var rejectedParameters: [String]
    public var targetSQL: String

    public init(name: String, description: String, columns: [String], keyColumns: Int, sourceSQL: String,
                rejectedParameters: [String], targetSQL: String) {
        self.name = name
        self.description = description
        self.columns = columns
        self.keyColumns = keyColumns
        self.sourceSQL = sourceSQL
        self.rejectedParameters = rejectedParameters
        self.targetSQL = targetSQL
    }
}

public struct VerifyOptions: Sendable {
    /// Largest share of a table's source rows that may be rejected (the plan's 1 % threshold).
    public var maxRejectShare = 0.01
    /// Load names to verify; empty means all (and only then is the verification complete).
    public var only: Set<String> = []
    /// Differences listed per table in the report (their counts are always exact).
    public var maxListedDifferences = 1000
    public var toolVersion = "dev"
    /// A load whose source keys span at least this many ids has its source pass split in two
    /// key ranges, read side by side on two source sessions in one exported snapshot (the
    /// source side, reading, mapping and encoding every row, is the long one). Where the source
    /// exports no snapshot, every pass runs on the one session.
    public var splitMinimumKeys: Int64 = 1_000
    public init() {}
}

public enum VerifyEvent: Sendable {
    /// Change capture: the source's table digests differ from those taken at arming, so every
    /// table is read row by row.
    case sourceChangedSinceArming
    /// Change capture: neither side of this load changed since arming (table digests), so it is
    /// not read row by row.
    case unchangedSinceArming(load: String)
    /// The connection was lost before anything was concluded; verification starts again after
    /// `delaySeconds` (retry `attempt` of `retries`).
    case retrying(reason: String, delaySeconds: Int, attempt: Int, retries: Int)
    case tableStarted(load: String, expectedRows: Int64?)
    case tableProgress(load: String, sourceRows: Int64, targetRows: Int64)
    case tableFinished(VerifyReport.TableResult)
}

/// Verifies a migration: per load, every source row through the one mapping and every target
/// row, both reduced to typed canonical bytes and hashed into key-range buckets; differing
/// buckets are then read again, on both sides, to name each missing, unexpected or changed row
/// and column. Then every foreign key's orphans and the business totals. Both sides are read in
/// one repeatable-read snapshot each. Fails closed: any error ends in `error`, never `pass`.
public struct Verifier: Sendable {
    public let plan: MigrationPlan
    public let businessChecks: [BusinessCheck]
    public let source: ConnectionConfig
    public let target: ConnectionConfig
    public let options: VerifyOptions
    public let logger: Logger
    public let events: @Sendable (VerifyEvent) -> Void

    public init(plan: MigrationPlan, businessChecks: [BusinessCheck], source: ConnectionConfig, target: ConnectionConfig,
                options: VerifyOptions, logger: Logger, events: @escaping @Sendable (VerifyEvent) -> Void = { _ in }) {
        self.plan = plan
        self.businessChecks = businessChecks
        self.source = source
        self.target = target
        self.options = options
        self.logger = logger
        self.events = events
    }

    var state: MigrationState { MigrationState(schema: plan.stateSchema) }

    static func iso(_ d: Date) -> String { d.formatted(.iso8601) }

    /// Runs every check and records the findings in the migration schema. Throws (after
    /// recording `error`) when the verification cannot finish; a failed check is a returned
    /// report whose `outcome` is `fail`.
    /// `run`, again from the start after a lost connection (nothing was concluded), up to
    /// `policy.retries` times, with a `.retrying` event before each.
    public func run(retrying policy: RetryPolicy) async throws -> VerifyReport {
        let events = self.events
        return try await withRetries(policy, what: "verify-integrity", logger: logger, onRetry: { n, delay, error in
            events(.retrying(reason: error.message, delaySeconds: RetryPolicy.wholeSeconds(delay), attempt: n, retries: policy.retries))
        }) {
            try await run()
        }
    }

    public func run() async throws -> VerifyReport {
        let started = Date()
        var report = VerifyReport(verificationId: UUID().uuidString.lowercased(), toolVersion: options.toolVersion,
                                  startedAt: Verifier.iso(started), v1: source.redactedURL, v2: target.redactedURL,
                                  thresholds: .init(maxRejectShare: options.maxRejectShare))
        let meta = try await PGConnection.connect(target, logger: logger)
        defer { Task { await meta.close() } }
        guard try await state.exists(meta) else {
            throw MigrationError(.configuration, "V2 holds no migration state (schema \(plan.stateSchema) is missing): nothing to verify. Run `\(ToolCommand.line("migrate"))` first, or check that --v2 points at the migrated database.")
        }
        try await state.create(meta)
        // A V1 or V2 other than the pair the migration recorded is refused before anything is recorded.
        let probe = try await PGConnection.connect(source, logger: logger)
        do {
            try await state.checkIdentity(meta, side: "V1", of: probe, record: false)
            try await state.checkIdentity(meta, side: "V2", of: meta, record: false)
            await probe.close()
        } catch {
            await probe.close()
            throw error
        }
        try await meta.query("INSERT INTO \(state.t("verifications")) (verification_id, tool_version, only_loads) VALUES ($1, $2, $3)",
                             [report.verificationId, options.toolVersion, pgTextArray(options.only.sorted())])
        do {
            try await compare(&report)
        } catch {
            report.outcome = "error"
            report.error = Task.isCancelled ? "interrupted" : "\(error)"
            report.finishedAt = Verifier.iso(Date())
            report.seconds = Date().timeIntervalSince(started)
            try? await record(meta, report)
            throw error
        }
        report.finishedAt = Verifier.iso(Date())
        report.seconds = Date().timeIntervalSince(started)
        report.outcome = report.checks.contains { $0.status == "fail" } ? "fail" : "pass"
        try await record(meta, report)
        return report
    }

    func record(_ meta: PGConnection, _ report: VerifyReport) async throws {
        try await meta.query("""
            UPDATE \(state.t("verifications")) SET finished_at = clock_timestamp(), outcome = $2, complete = $3, report = $4::jsonb, message = $5
            WHERE verification_id = $1
            """, [report.verificationId, report.outcome, report.complete ? "t" : "f", report.json(pretty: false), report.error])
    }

    /// The latest finished verification recorded in `target` (for `decide` and the runbook).
    public static func latest(_ c: PGConnection, stateSchema: String) async throws -> VerifyReport? {
        let state = MigrationState(schema: stateSchema)
        guard try await state.has(c, "verifications") else { return nil }
        guard let text = try await c.scalar("SELECT report::text FROM \(state.t("verifications")) WHERE report IS NOT NULL ORDER BY started_at DESC LIMIT 1") else { return nil }
        return try VerifyReport.decode(text)
    }

    // MARK: the comparison

    func compare(_ report: inout VerifyReport) async throws {
        let unknown = options.only.subtracting(plan.loads.map(\.name))
        if !unknown.isEmpty {
            throw MigrationError(.usage, "--only names no load: \(unknown.sorted().joined(separator: ", ")). Loads: \(plan.loads.map(\.name).joined(separator: ", ")).")
        }
        let v1 = try await PGConnection.connect(source, logger: logger)
        let v2: PGConnection
        do { v2 = try await PGConnection.reconnect(target, logger: logger) } catch { await v1.close(); throw error }  // reached through `meta`
        defer { Task { await v1.close(); await v2.close() } }
        try await v1.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try await v2.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        // V2's snapshot, for the foreign-key checks on a second session beside the row passes.
        // Where V2 refuses to export it, the checks run after them, in this session.
        let v2Snapshot = try await exportSnapshot(v2, otherwise: "V2 exports no snapshot; the foreign-key checks run after the rows")

        // A second V1 session in V1's snapshot, for the upper key range of the larger loads.
        let v1Upper = try await upperSourceSession(v1)
        defer { if let v1Upper { Task { await v1Upper.close() } } }

        let catalog = try await Catalog.read(v2, schemas: plan.targetSchemas, extraTables: plan.extraTargetTables)
        // Keys set aside by a migrate that has not finished: say so, rather than "no primary key".
        let keyless = plan.loads.map(\.target).filter { catalog.tables[$0]?.primaryKey.isEmpty == true }.map(\.description)
        if !keyless.isEmpty, try await v2.scalar("SELECT count(*) > 0 FROM \(state.t("dropped_ddl")) WHERE table_name = ANY($1::text[])", [pgTextArray(keyless)]) == "t" {
            throw MigrationError(.configuration, "a migrate has not finished: the primary keys of \(keyless.joined(separator: ", ")) are set aside until its loads complete. Run `\(ToolCommand.line("migrate --resume"))` first, then verify.")
        }
        let deps = plan.dependencies(catalog: catalog)
        let progress = try await state.progress(v2)
        let recorded = try await v2.query("SELECT load_name, count(DISTINCT source_id) FROM \(state.t("row_issues")) WHERE kind = 'reject' GROUP BY 1")
        let recordedRejects = Dictionary(uniqueKeysWithValues: recorded.rows.map { ($0[0]!, Int64($0[1]!) ?? 0) })

        // Which loads run: the chosen ones, plus (mapped only, not compared) the loads whose
        // rejections the chosen ones' reference rules depend on.
        let selected = options.only.isEmpty ? Set(plan.loads.map(\.name)) : options.only
        var needed = selected
        var frontier = Array(selected)
        while let name = frontier.popLast() {
            for d in deps[name] ?? [] where !needed.contains(d) {
                needed.insert(d)
                frontier.append(d)
            }
        }
        let order = try plan.loadOrder(deps, among: needed)
        report.complete = options.only.isEmpty

        let incomplete = plan.loads.filter { selected.contains($0.name) && progress[$0.name]?.status != "done" }
        report.checks.append(.init(name: "migration_complete", status: incomplete.isEmpty ? "pass" : "fail",
                                   summary: incomplete.isEmpty ? "every load finished" : "not finished: " + incomplete.map { "\($0.name) (\(progress[$0.name]?.status ?? "never started"))" }.joined(separator: ", ") + "; run `migrate --resume`"))

        let targets = Set(plan.loads.filter { selected.contains($0.name) }.map(\.target))
        let foreignKeys = catalog.foreignKeys.filter { targets.contains($0.table) }
        async let besideRows: [VerifyReport.ForeignKeyResult]? = v2Snapshot == nil ? nil : orphansBeside(foreignKeys, snapshot: v2Snapshot!)
        var index = try await plan.referenceIndex(v1, loads: plan.loads.filter { needed.contains($0.name) })
        for spec in order {
            try Task.checkCancellation()
            let compareIt = selected.contains(spec.name)
            events(.tableStarted(load: spec.name, expectedRows: progress[spec.name]?.sourceRows))
            let (result, rejectedIDs) = try await compareLoad(spec, catalog: catalog, index: index, v1: v1, v1Upper: v1Upper, v2: v2, compareTarget: compareIt)
            index.addRejected(rejectedIDs, of: spec.source.name)
            guard compareIt else { continue }
            var distinct = report.rejectedV1Rows ?? [:]
            distinct[spec.source.description] = Int64(index.rejected[spec.source.name]?.count ?? 0)
            report.rejectedV1Rows = distinct.filter { $0.value > 0 }
            var r = result
            r.rejectedRecordedByMigrate = recordedRejects[spec.name]
            report.tables.append(r)
            events(.tableFinished(r))
        }

        // Counts and content verdicts.
        let countFails = report.tables.filter { !$0.countsPass }
        report.checks.append(.init(name: "row_counts", status: countFails.isEmpty ? "pass" : "fail",
                                   summary: countFails.isEmpty
                                   ? "\(report.tables.count) tables: every V2 count equals V1 less rejects; rejects within \(percent(options.maxRejectShare)) of V1"
                                   : countFails.map { t in
                                       t.unexplainedDifference != 0 ? "\(t.load): \(t.unexplainedDifference > 0 ? "+" : "")\(t.unexplainedDifference) rows unexplained"
                                       : "\(t.load): \(percent(t.rejectShare)) of V1 rejected (limit \(percent(options.maxRejectShare)))"
                                   }.joined(separator: "; ")))
        let contentFails = report.tables.filter { !$0.contentPass }
        report.checks.append(.init(name: "checksums", status: contentFails.isEmpty ? "pass" : "fail",
                                   summary: contentFails.isEmpty
                                   ? "\(report.tables.count) tables: every row's content equal through the mapping"
                                   : contentFails.map { "\($0.load): \($0.missingInV2) missing, \($0.unexpectedInV2) unexpected, \($0.changed) changed" }.joined(separator: "; ")))

        // Foreign keys.
        if let counted = try await besideRows {
            report.foreignKeys = counted
        } else {
            report.foreignKeys = try await orphans(foreignKeys, v2)
        }
        // No orphan today is not enough: a key V2 holds NOT VALID (or one a migrate set aside and
        // has not put back) does not stop the application from writing orphans tomorrow.
        let unvalidated = try await DDLJournal.unvalidatedForeignKeys(v2, tables: Array(targets), state: state)
        let orphaned = report.foreignKeys.filter { $0.orphans > 0 }
        let problems = orphaned.map { "\($0.table).\($0.columns.joined(separator: ",")): \($0.orphans) orphans" } + unvalidated.map(\.description)
        let fixes = unvalidated.filter(\.present).map { "ALTER TABLE \($0.table) VALIDATE CONSTRAINT \(SQL.ident($0.name));" }
        report.checks.append(.init(name: "foreign_keys", status: problems.isEmpty ? "pass" : "fail",
                                   summary: problems.isEmpty ? "\(report.foreignKeys.count) foreign keys, all validated, no orphan"
                                   : problems.joined(separator: "; ") + (unvalidated.isEmpty ? "" : ". Run `migrate --resume` (it validates the keys it journaled)\(fixes.isEmpty ? "" : " or: \(fixes.joined(separator: " "))")")))

        // Business totals (only over the whole migration: they span tables).
        if report.complete {
            for check in businessChecks {
                try Task.checkCancellation()
                report.businessTotals.append(try await business(check, index: index, v1: v1, v2: v2))
            }
            let bad = report.businessTotals.filter { $0.status != "pass" }
            report.checks.append(.init(name: "business_totals", status: bad.isEmpty ? "pass" : "fail",
                                       summary: bad.isEmpty ? "\(report.businessTotals.count) totals equal (\(report.businessTotals.map { "\($0.groupsV1) \($0.name)" }.joined(separator: ", ")))"
                                       : bad.map { "\($0.name): \($0.mismatches.count) groups differ" }.joined(separator: "; ")))
        } else {
            report.checks.append(.init(name: "business_totals", status: "not_run", summary: "not run: --only limited the tables"))
        }
        try await v1.execute("COMMIT")
        try await v2.execute("COMMIT")
    }

    /// A second source session in the first one's exported snapshot (the same rows, read side by
    /// side), or nil where the source exports none or refuses a second session: then every
    /// source pass runs on the first.
    func upperSourceSession(_ v1: PGConnection) async throws -> PGConnection? {
        guard let snapshot = try await exportSnapshot(v1, otherwise: "V1 exports no snapshot; each load's V1 rows are read on one session") else { return nil }
        let second: PGConnection
        do {
            second = try await PGConnection.connect(source, logger: logger)
        } catch let e as MigrationError where e.code != .interrupted {
            logger.notice("no second V1 session; each load's V1 rows are read on one", metadata: ["reason": "\(e.message)"])
            return nil
        }
        try await Self.begin(second, in: snapshot)
        return second
    }

    /// The snapshot of `c`'s open repeatable-read transaction, exported for a second session; nil
    /// where the server refuses (EXECUTE on `pg_export_snapshot` revoked, a standby): the failed
    /// call aborted the transaction, so a new one starts, and a debug line says `otherwise`.
    func exportSnapshot(_ c: PGConnection, otherwise: String) async throws -> String? {
        do {
            return try await c.scalar("SELECT pg_export_snapshot()")
        } catch let e as MigrationError where e.code != .connectionLost && e.code != .interrupted {
            logger.debug("\(otherwise)", metadata: ["reason": "\(e.message)"])
            try await c.execute("ROLLBACK")
            try await c.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            return nil
        }
    }

    /// Starts a read-only repeatable-read transaction on `c` in an exported `snapshot`; closes
    /// `c` when it cannot.
    static func begin(_ c: PGConnection, in snapshot: String) async throws {
        do {
            try await c.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try await c.execute("SET TRANSACTION SNAPSHOT \(SQL.literal(snapshot))")
        } catch {
            await c.close()
            throw error
        }
    }

    /// Where a load's source pass is split: the largest id of the lower range, or nil for one
    /// pass (no second session, or too few keys to be worth it). The middle of the key span, read
    /// from the key's index ends: the ranges need not be equal to be correct, only disjoint.
    func splitPoint(_ spec: LoadSpec, v1: PGConnection, upper: PGConnection?) async throws -> Int64? {
        guard upper != nil else { return nil }
        let key = SQL.ident(spec.sourceColumns[0])
        let r = try await v1.query("SELECT min(\(key))::text, max(\(key))::text FROM \(spec.source.sql)")
        guard let row = r.rows.first, let lo = row[0].flatMap({ Int64($0) }), let hi = row[1].flatMap({ Int64($0) }) else { return nil }
        // Ids may span more than Int64 holds (negative and positive extremes): no overflow here.
        let (span, overflow) = hi.subtractingReportingOverflow(lo)
        guard overflow || span >= options.splitMinimumKeys else { return nil }
        return lo / 2 + hi / 2
    }

    func percent(_ x: Double) -> String { String(format: "%.2f %%", x * 100) }

    /// Each foreign key's orphans, counted in `c`'s transaction.
    func orphans(_ foreignKeys: [ForeignKeyInfo], _ c: PGConnection) async throws -> [VerifyReport.ForeignKeyResult] {
        var out: [VerifyReport.ForeignKeyResult] = []
        for fk in foreignKeys {
            try Task.checkCancellation()
            let notNull = fk.columns.map { "c.\(SQL.ident($0)) IS NOT NULL" }.joined(separator: " AND ")
            let match = zip(fk.columns, fk.referencedColumns).map { "p.\(SQL.ident($1)) = c.\(SQL.ident($0))" }.joined(separator: " AND ")
            let n = try await c.scalar("SELECT count(*) FROM \(fk.table.sql) c WHERE \(notNull) AND NOT EXISTS (SELECT 1 FROM \(fk.referencedTable.sql) p WHERE \(match))") ?? ""
            guard let orphans = Int64(n) else { throw MigrationError(.queryFailed, "could not count the orphans of \(fk.name)") }
            out.append(.init(name: fk.name, table: fk.table.description, columns: fk.columns,
                             references: "\(fk.referencedTable)(\(fk.referencedColumns.joined(separator: ", ")))", orphans: orphans,
                             validated: fk.validated))
        }
        return out
    }

    /// ``orphans(_:_:)`` on a session of its own, in V2's snapshot `snapshot` (the one the row
    /// passes read), while they run: the anti-joins fill the time one side of a row pass waits
    /// for the other.
    func orphansBeside(_ foreignKeys: [ForeignKeyInfo], snapshot: String) async throws -> [VerifyReport.ForeignKeyResult] {
        let c = try await PGConnection.reconnect(target, logger: logger)
        try await Self.begin(c, in: snapshot)
        do {
            let out = try await orphans(foreignKeys, c)
            try await c.execute("COMMIT")
            await c.close()
            return out
        } catch {
            c.cancel()
            await c.close()
            throw error
        }
    }

    // MARK: one load

    struct SourcePass: Sendable {
        var digest = BucketDigest()
        var rows: Int64 = 0
        var rejectedByRule: [String: Int64] = [:]
        var rejectedIDs = IDBitset()
        var warnings: Int64 = 0
        var warningsByRule: [String: Int64] = [:]
        /// Per mapped row kept (see ``RowsKept``), in source id order: its id, key-range bucket and
        /// 64-bit hash (the change-capture baseline).
        var ids: [Int64] = []
        var buckets: [UInt16] = []
        var hashes: [UInt64] = []

        /// Adds the pass over the next key range (its rows all after this one's).
        mutating func merge(_ next: SourcePass) {
            digest.merge(next.digest)
            rows += next.rows
            rejectedByRule.merge(next.rejectedByRule, uniquingKeysWith: +)
            next.rejectedIDs.forEachID { rejectedIDs.insert($0) }
            warnings += next.warnings
            warningsByRule.merge(next.warningsByRule, uniquingKeysWith: +)
            ids += next.ids
            buckets += next.buckets
            hashes += next.hashes
        }
    }

    /// A range of source keys: above `after` (exclusive) and up to `through` (inclusive).
    struct KeyRange: Sendable {
        var after: Int64?
        var through: Int64?
        func condition(_ key: String) -> String? {
            let parts = [after.map { "\(SQL.ident(key)) > \($0)" }, through.map { "\(SQL.ident(key)) <= \($0)" }].compactMap { $0 }
            return parts.isEmpty ? nil : parts.joined(separator: " AND ")
        }
    }

    /// Which mapped rows a source pass keeps beside the bucket sums.
    enum RowsKept: Sendable {
        /// Every row (change capture: its baseline is per row). 18 bytes a row.
        case all
        /// None: verify's first pass, whose memory stays flat whatever the table's size.
        case none
        /// Those in the marked buckets: verify's second pass, after buckets differed.
        case inBuckets([Bool])
    }

    struct TargetPass: Sendable {
        var digest = BucketDigest()
        var rows: Int64 = 0
    }

    struct Layout: Sendable {
        var kinds: [ValueKind]
        /// The target's select list: each column, or how it reads after cutover.
        var select: [String]
        var keyIndex: Int
        var keyKind: ValueKind
        var sensitive: [Bool]
    }

    /// How one load's rows are compared. After cutover (capture, assessment, sync) the columns
    /// the target's own system keeps are not compared, and merged copies read as one.
    func layout(_ spec: LoadSpec, catalog: Catalog, afterCutover: Bool = false) throws -> Layout {
        guard let table = catalog.tables[spec.target] else {
            throw MigrationError(.configuration, "V2 has no table \(spec.target): apply the V2 schema before verifying.")
        }
        var kinds: [ValueKind] = []
        for c in spec.targetColumns {
            guard let info = table.columns.first(where: { $0.name == c }) else {
                throw MigrationError(.configuration, "V2 table \(spec.target) has no column \(c), which the mapping writes.")
            }
            kinds.append(info.valueKind)
        }
        let keyColumn = spec.ownedKeys?.column ?? (table.primaryKey.count == 1 ? table.primaryKey[0] : "")
        guard let keyIndex = spec.targetColumns.firstIndex(of: keyColumn) else {
            throw MigrationError(.configuration, "\(spec.target) needs a one-column primary key that the mapping writes to be verified row by row.")
        }
        var select = spec.targetColumns.map(SQL.ident)
        if afterCutover {
            for (j, c) in spec.targetColumns.enumerated() where j != keyIndex {
                if spec.targetOwnedColumns.contains(c) { kinds[j] = .ignored }
                if let read = spec.targetReadsAfterCutover[c] { select[j] = "(\(read))" }
            }
        }
        return Layout(kinds: kinds, select: select, keyIndex: keyIndex, keyKind: kinds[keyIndex],
                      sensitive: spec.targetColumns.map { $0.lowercased().contains("password") })
    }

    /// For a shared target (e.g. `auth.users`), the condition selecting the rows this migration
    /// writes (the keys of source ids up to the source's largest); nil for a target it owns.
    func targetFilter(_ spec: LoadSpec, v1: PGConnection) async throws -> String? {
        guard let owned = spec.ownedKeys else { return nil }
        let maxSourceID = Int64(try await v1.scalar("SELECT coalesce(max(\(SQL.ident(spec.sourceColumns[0]))), 0) FROM \(spec.source.sql)") ?? "0") ?? 0
        return owned.predicate(keys: SQL.literal(pgTextArray(owned.keys(maxSourceID))))
    }

    /// The source pass and the target pass of one load, side by side on their own connections.
    func passes(_ spec: LoadSpec, layout: Layout, index: ReferenceIndex, filter: String?, v1: PGConnection, v2: PGConnection,
                counters: LoadCounters = LoadCounters()) async throws -> (SourcePass, TargetPass) {
        async let s = sourcePass(spec, layout: layout, index: index, v1: v1, counters: counters)
        async let t = targetPass(spec, layout: layout, filter: filter, v2: v2, counters: counters)
        return try await (s, t)
    }

    func compareLoad(_ spec: LoadSpec, catalog: Catalog, index: ReferenceIndex, v1: PGConnection, v1Upper: PGConnection? = nil, v2: PGConnection,
                     compareTarget: Bool) async throws -> (VerifyReport.TableResult, IDBitset) {
        let t0 = Date()
        let layout = try self.layout(spec, catalog: catalog)
        var result = VerifyReport.TableResult(load: spec.name, sourceTable: spec.source.description, targetTable: spec.target.description)
        result.columns = zip(spec.targetColumns, layout.kinds).map { "\($0): \($1)" }
        let filter = try await targetFilter(spec, v1: v1)
        let counters = LoadCounters()
        let upperCounters = LoadCounters()
        let ticker = Task { [events] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(2))
                if Task.isCancelled { break }
                events(.tableProgress(load: spec.name, sourceRows: counters.read.load(ordering: .relaxed) + upperCounters.read.load(ordering: .relaxed),
                                      targetRows: counters.written.load(ordering: .relaxed)))
            }
        }
        defer { ticker.cancel() }
        // The source side reads, maps and encodes every row: for a larger load it is split in
        // two key ranges on two V1 sessions (one snapshot), beside the target pass.
        let split = try await splitPoint(spec, v1: v1, upper: v1Upper)
        if let split {
            logger.debug("V1 pass split in two key ranges", metadata: ["load": "\(spec.name)", "split_after": "\(split)"])
        }
        async let sourceSide = sourcePass(spec, layout: layout, index: index, v1: v1, counters: counters, keep: .none,
                                          range: KeyRange(after: nil, through: split))
        async let upperSide: SourcePass? = { () async throws -> SourcePass? in
            guard let split, let v1Upper else { return nil }
            return try await sourcePass(spec, layout: layout, index: index, v1: v1Upper, counters: upperCounters, keep: .none,
                                        range: KeyRange(after: split, through: nil))
        }()
        async let targetSide: TargetPass? = compareTarget ? targetPass(spec, layout: layout, filter: filter, v2: v2, counters: counters) : nil
        var src = try await sourceSide
        if let upper = try await upperSide { src.merge(upper) }
        guard let tgt = try await targetSide else { return (result, src.rejectedIDs) }

        result.v1Rows = src.rows
        result.rejected = src.rejectedByRule
        result.rejectedTotal = src.rejectedByRule.values.reduce(0, +)
        result.rejectShare = src.rows == 0 ? 0 : Double(result.rejectedTotal) / Double(src.rows)
        result.warnings = src.warnings
        result.warningsByReason = src.warningsByRule
        result.expectedV2Rows = src.rows - result.rejectedTotal
        result.v2Rows = tgt.rows
        result.unexplainedDifference = tgt.rows - result.expectedV2Rows
        if let filter {
            let all = Int64(try await v2.scalar("SELECT count(*) FROM \(spec.target.sql)") ?? "0") ?? 0
            let owned = Int64(try await v2.scalar("SELECT count(*) FROM \(spec.target.sql) WHERE \(filter)") ?? "0") ?? 0
            result.ignoredV2Rows = all - owned
        }
        result.checksumV1 = src.digest.checksum
        result.checksumV2 = tgt.digest.checksum
        result.checksumsMatch = result.checksumV1 == result.checksumV2
        let differing = src.digest.differing(from: tgt.digest)
        result.rangesCompared = BucketDigest.bucketCount
        result.rangesDiffering = differing.count
        if !differing.isEmpty {
            // The first pass kept no row, so that its memory stays flat: read V1 again (the same
            // snapshot) for the ids of the rows in the differing buckets only.
            var mask = [Bool](repeating: false, count: BucketDigest.bucketCount)
            for b in differing { mask[b] = true }
            let again = try await sourcePass(spec, layout: layout, index: index, v1: v1, counters: LoadCounters(), keep: .inBuckets(mask))
            guard again.digest.checksum == src.digest.checksum else {
                throw MigrationError(.queryFailed, "\(spec.source) read differently twice in one snapshot: verification cannot be trusted; run it again.")
            }
            try await locate(spec, layout: layout, index: index, differing: differing, source: again, filter: filter, v1: v1, v2: v2, into: &result)
        }
        result.countsPass = result.unexplainedDifference == 0 && result.rejectShare <= options.maxRejectShare
        result.contentPass = differing.isEmpty && result.checksumsMatch
        result.seconds = Date().timeIntervalSince(t0)
        return (result, src.rejectedIDs)
    }

    func targetQuery(_ spec: LoadSpec, layout: Layout, where conditions: [String]) -> String {
        let cols = layout.select.joined(separator: ", ")
        let w = conditions.isEmpty ? "" : " WHERE " + conditions.map { "(\($0))" }.joined(separator: " AND ")
        return "COPY (SELECT \(cols) FROM \(spec.target.sql)\(w)) TO STDOUT"
    }

    /// Encodes a row canonically into `buf`; returns the key's byte range.
    @inline(__always)
    static func encode(_ values: [String?], _ layout: Layout, into buf: inout [UInt8]) -> Range<Int> {
        buf.removeAll(keepingCapacity: true)
        var key = 0..<0
        for j in 0..<values.count {
            let start = buf.count
            Canonical.append(values[j], layout.kinds[j], to: &buf)
            if j == layout.keyIndex { key = start..<buf.count }
        }
        return key
    }

    func sourcePass(_ spec: LoadSpec, layout: Layout, index: ReferenceIndex, v1: PGConnection, counters: LoadCounters,
                    keep: RowsKept = .all, range: KeyRange = KeyRange()) async throws -> SourcePass {
        let query = spec.sourceCopyQuery(where: range.condition(spec.sourceColumns[0]))
        return try await v1.withSession { s in
            var pass = SourcePass()
            var mapper = RowMapper(spec: spec, index: index)
            var fields: [String?] = []
            var buf: [UInt8] = []
            buf.reserveCapacity(1024)
            try s.copyOut(query) { raw in
                CopyTextParser.fields(raw, into: &fields)
                guard let idText = fields[0], let id = Int64(idText) else {
                    throw MigrationError(.queryFailed, "\(spec.source): a row without an integer key")
                }
                pass.rows += 1
                if let out = mapper.map(fields) {
                    let key = Verifier.encode(out, layout, into: &buf)
                    let (h, bucket) = buf.withUnsafeBytes { b in
                        (RowHash(b), RowKey.bucket(UnsafeRawBufferPointer(rebasing: b[key]), kind: layout.keyKind))
                    }
                    pass.digest.add(bucket: bucket, h)
                    let kept: Bool
                    switch keep {
                    case .all: kept = true
                    case .none: kept = false
                    case .inBuckets(let mask): kept = mask[bucket]
                    }
                    if kept {
                        pass.ids.append(id)
                        pass.buckets.append(UInt16(bucket))
                        pass.hashes.append(h.a)
                    }
                } else {
                    let rule = mapper.issues.items.first { $0.kind == .reject }?.rule ?? "rejected"
                    pass.rejectedByRule[rule, default: 0] += 1
                    pass.rejectedIDs.insert(id)
                }
                for issue in mapper.issues.items where issue.kind == .warning {
                    pass.warnings += 1
                    pass.warningsByRule[issue.rule, default: 0] += 1
                }
                if pass.rows & 0x3FFF == 0 {
                    counters.read.store(pass.rows, ordering: .relaxed)
                    try s.checkCancelled()
                }
            }
            counters.read.store(pass.rows, ordering: .relaxed)
            return pass
        }
    }

    func targetPass(_ spec: LoadSpec, layout: Layout, filter: String?, v2: PGConnection, counters: LoadCounters) async throws -> TargetPass {
        let query = targetQuery(spec, layout: layout, where: filter.map { [$0] } ?? [])
        return try await v2.withSession { s in
            var pass = TargetPass()
            var scratch: [UInt8] = []
            var buf: [UInt8] = []
            buf.reserveCapacity(1024)
            let kinds = layout.kinds
            let keyIndex = layout.keyIndex
            try s.copyOut(query) { raw in
                buf.removeAll(keepingCapacity: true)
                var key = 0..<0
                CopyTextParser.forEachField(raw, scratch: &scratch) { j, v in
                    let start = buf.count
                    if let v { Canonical.append(utf8: v, kinds[j], to: &buf) } else { buf.append(Canonical.Tag.null.rawValue) }
                    if j == keyIndex { key = start..<buf.count }
                }
                let (h, bucket) = buf.withUnsafeBytes { b in
                    (RowHash(b), RowKey.bucket(UnsafeRawBufferPointer(rebasing: b[key]), kind: layout.keyKind))
                }
                pass.digest.add(bucket: bucket, h)
                pass.rows += 1
                if pass.rows & 0x3FFF == 0 {
                    counters.written.store(pass.rows, ordering: .relaxed)
                    try s.checkCancelled()
                }
            }
            counters.written.store(pass.rows, ordering: .relaxed)
            return pass
        }
    }

    // MARK: locating differences

    /// One row read back for comparison: canonical bytes and display text per column.
    struct Located: Sendable {
        var sourceID: Int64?
        var canonical: [[UInt8]]
        var display: [String?]
    }

    /// A row that differs between the two sides: present in the source only (`target` nil), in
    /// the target only (`source` nil), or in both with `changed` columns.
    struct LocatedDifference {
        var key: String
        var source: Located?
        var target: Located?
        var changed: [Int]
        var kind: String { source == nil ? "unexpected_in_v2" : (target == nil ? "missing_in_v2" : "changed") }
        /// The 64-bit row hash of a side (as in `SourcePass.hashes`).
        static func hash(_ l: Located) -> UInt64 { RowHash(l.canonical.flatMap { $0 }).a }
    }

    /// Reads the rows of the differing buckets again on both sides (the source by id, the target
    /// by key range when the key is a uuid) and names each difference. Cost follows the number
    /// of differing buckets, not the table size. Returns how many differences it found.
    @discardableResult
    func locate(_ spec: LoadSpec, layout: Layout, index: ReferenceIndex, differing: [Int], source: SourcePass, filter: String?,
                v1: PGConnection, v2: PGConnection, _ found: (LocatedDifference) -> Void) async throws -> Int {
        let chunkSize = 512
        var located = 0
        for chunkStart in stride(from: 0, to: differing.count, by: chunkSize) {
            try Task.checkCancellation()
            let chunk = Array(differing[chunkStart..<min(chunkStart + chunkSize, differing.count)])
            var mask = [Bool](repeating: false, count: BucketDigest.bucketCount)
            for b in chunk { mask[b] = true }
            let inChunk = mask
            var ids: [Int64] = []
            for k in 0..<source.ids.count where inChunk[Int(source.buckets[k])] { ids.append(source.ids[k]) }

            var sourceRows: [[UInt8]: Located] = [:]
            for idChunk in stride(from: 0, to: ids.count, by: 10_000) {
                let part = ids[idChunk..<min(idChunk + 10_000, ids.count)]
                let list = "{" + part.map(String.init).joined(separator: ",") + "}"
                let q = spec.sourceCopyQuery(where: "\(SQL.ident(spec.sourceColumns[0])) = ANY(\(SQL.literal(list))::bigint[])")
                let rows = try await v1.withSession { s in
                    var mapper = RowMapper(spec: spec, index: index)
                    var fields: [String?] = []
                    var out: [(Int64, [String?])] = []
                    try s.copyOut(q) { raw in
                        CopyTextParser.fields(raw, into: &fields)
                        if let mapped = mapper.map(fields) { out.append((Int64(fields[0]!)!, mapped)) }
                    }
                    return out
                }
                for (id, values) in rows {
                    let canon = zip(values, layout.kinds).map { Canonical.bytes($0, $1) }
                    sourceRows[canon[layout.keyIndex]] = Located(sourceID: id, canonical: canon, display: values)
                }
            }

            var conditions: [String] = filter.map { [$0] } ?? []
            if layout.keyKind == .uuid {
                let key = SQL.ident(spec.targetColumns[layout.keyIndex])
                conditions.append(chunk.map { b in
                    let (lo, hi) = RowKey.uuidRange(b)
                    return "\(key) BETWEEN '\(lo)' AND '\(hi)'"
                }.joined(separator: " OR "))
            }
            let q = targetQuery(spec, layout: layout, where: conditions)
            let keyKind = layout.keyKind
            let keyIndex = layout.keyIndex
            let targetRows = try await v2.withSession { s in
                var fields: [String?] = []
                var out: [[String?]] = []
                try s.copyOut(q) { raw in
                    CopyTextParser.fields(raw, into: &fields)
                    let keyBytes = Canonical.bytes(fields[keyIndex], keyKind)
                    let bucket = keyBytes.withUnsafeBytes { RowKey.bucket($0, kind: keyKind) }
                    if inChunk[bucket] { out.append(fields) }
                }
                return out
            }
            var targetByKey: [[UInt8]: Located] = [:]
            for values in targetRows {
                let canon = zip(values, layout.kinds).map { Canonical.bytes($0, $1) }
                targetByKey[canon[layout.keyIndex]] = Located(sourceID: nil, canonical: canon, display: values)
            }
            for (key, s) in sourceRows.sorted(by: { ($0.value.sourceID ?? 0) < ($1.value.sourceID ?? 0) }) {
                let keyText = s.display[layout.keyIndex] ?? "NULL"
                guard let t = targetByKey.removeValue(forKey: key) else {
                    located += 1
                    found(LocatedDifference(key: keyText, source: s, target: nil, changed: []))
                    continue
                }
                let changedColumns = (0..<spec.targetColumns.count).filter { s.canonical[$0] != t.canonical[$0] }
                if changedColumns.isEmpty { continue }
                located += 1
                found(LocatedDifference(key: keyText, source: s, target: t, changed: changedColumns))
            }
            for (_, t) in targetByKey.sorted(by: { ($0.value.display[layout.keyIndex] ?? "") < ($1.value.display[layout.keyIndex] ?? "") }) {
                located += 1
                found(LocatedDifference(key: t.display[layout.keyIndex] ?? "NULL", source: nil, target: t, changed: []))
            }
        }
        return located
    }

    /// Verification's use of `locate`: counts and the listed differences of the report.
    func locate(_ spec: LoadSpec, layout: Layout, index: ReferenceIndex, differing: [Int], source: SourcePass, filter: String?,
                v1: PGConnection, v2: PGConnection, into result: inout VerifyReport.TableResult) async throws {
        var r = result
        let limit = options.maxListedDifferences
        func show(_ v: String?, _ j: Int) -> String? {
            guard let v else { return nil }
            if layout.sensitive[j] { return "‹hidden›" }
            return v.count > 200 ? String(v.prefix(200)) + "…" : v
        }
        let located = try await locate(spec, layout: layout, index: index, differing: differing, source: source, filter: filter, v1: v1, v2: v2) { d in
            switch d.kind {
            case "missing_in_v2": r.missingInV2 += 1
            case "unexpected_in_v2": r.unexpectedInV2 += 1
            default: r.changed += 1
            }
            guard r.differences.count < limit else { r.differencesTruncated = true; return }
            r.differences.append(.init(kind: d.kind, key: d.key, v1Id: d.source?.sourceID,
                                       columns: d.changed.map { .init(column: spec.targetColumns[$0], v1: show(d.source?.display[$0], $0), v2: show(d.target?.display[$0], $0)) }))
        }
        if located == 0 {
            // The buckets differ but no row does: never report that as a match.
            add(result: &r, unlocated: differing.count)
        }
        result = r
    }

    func add(result: inout VerifyReport.TableResult, unlocated: Int) {
        result.differences.append(.init(kind: "unlocated", key: "\(unlocated) key ranges", v1Id: nil,
                                        columns: [.init(column: "*", v1: "checksums differ", v2: "no differing row found")]))
    }

    // MARK: business totals

    func business(_ check: BusinessCheck, index: ReferenceIndex, v1: PGConnection, v2: PGConnection) async throws -> VerifyReport.BusinessResult {
        let params: [String?] = check.rejectedParameters.map { table in
            var ids: [String] = []
            index.rejected[table]?.forEachID { ids.append(String($0)) }
            return "{" + ids.joined(separator: ",") + "}"
        }
        // Each side in its own session, at the same time.
        async let sourceRows = v1.query(check.sourceSQL, params)
        async let targetRows = v2.query(check.targetSQL, [])
        let (a, b) = try await (sourceRows, targetRows)
        func keyed(_ rows: [[String?]]) -> [[String]: [String?]] {
            var out: [[String]: [String?]] = [:]
            for r in rows {
                out[r.prefix(check.keyColumns).map { $0 ?? "NULL" }] = Array(r.dropFirst(check.keyColumns))
            }
            return out
        }
        let left = keyed(a.rows)
        let right = keyed(b.rows)
        var mismatches: [VerifyReport.BusinessMismatch] = []
        for key in Set(left.keys).union(right.keys).sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            let l = left[key]
            let r = right[key]
            let equal: Bool
            if let l, let r, l.count == r.count {
                equal = zip(l, r).allSatisfy { Canonical.bytes($0, .numeric) == Canonical.bytes($1, .numeric) }
            } else {
                equal = false
            }
            if !equal {
                mismatches.append(.init(key: key, v1: l.map { $0.map { $0 ?? "NULL" } }, v2: r.map { $0.map { $0 ?? "NULL" } }))
            }
        }
        return .init(name: check.name, description: check.description, columns: check.columns, groupsV1: left.count, groupsV2: right.count,
                     mismatches: Array(mismatches.prefix(options.maxListedDifferences)), status: mismatches.isEmpty ? "pass" : "fail")
    }
}
