import PGClient
import Foundation
import Logging

/// What changed in the target since cutover, per load: the content of `assess-v2-changes`'s
/// `report.json` (fields stable, new ones may be added).
public struct ChangeReport: Codable, Sendable {
    public static let formatName = "cocoatrack-migrate/assess-v2-changes/1"
    public var format = ChangeReport.formatName
    public var title = "Changes in V2 since cutover"
    public var generatedAt: String
    public var armedAt: String
    public var toolVersion: String
    public var v1: String
    public var v2: String
    public var inserted: Int64 = 0
    public var updated: Int64 = 0
    public var deleted: Int64 = 0
    public var conflicts: Int64 = 0
    public var v1ChangedAfterCutover: Int64 = 0
    public var tables: [TableChanges] = []
    /// For `data-loss-report`: what went back and what is left.
    public var dataLoss: DataLoss?

    public struct DataLoss: Codable, Sendable {
        /// V2 changes that `sync-v2-to-v1` wrote into V1 (every sync so far).
        public var reachedV1: Int64
        /// V2 changes V1 still lacks (each listed with the reason the last sync gave).
        public var left: Int64
        /// What the syncs wrote into V1, by V1 table and kind (`inserted`, `updated`, `deleted`).
        /// Absent in reports written before this field existed.
        public var synced: [String: [String: Int64]]?
        public var verdict: String { left == 0 ? "NOTHING LOST" : "DATA WOULD BE LOST" }
        public init(reachedV1: Int64, left: Int64, synced: [String: [String: Int64]]? = nil) {
            self.reachedV1 = reachedV1
            self.left = left
            self.synced = synced
        }
        /// Synced rows by kind over every table.
        public var syncedByKind: [String: Int64] {
            (synced ?? [:]).values.reduce(into: [:]) { acc, kinds in for (k, n) in kinds { acc[k, default: 0] += n } }
        }
    }

    public struct ColumnChange: Codable, Sendable {
        public var column: String
        public var before: String?
        public var after: String?
    }

    public struct RowChange: Codable, Sendable {
        /// `inserted`, `updated`, `deleted` (in V2), or for V1: `changed_in_v1`, `inserted_in_v1`, `deleted_in_v1`.
        public var kind: String
        public var key: String
        public var v1Id: Int64?
        /// For an update, the changed columns: before = at cutover (V1 through the mapping), after = V2 now.
        public var columns: [ColumnChange]
        /// For an inserted or deleted row, every column's value: an insert's `after` (V2 now), a
        /// delete's `before` (at cutover, V1 through the mapping); sensitive columns read `‹hidden›`.
        /// Absent for updates and in reports written before this field existed.
        public var values: [ColumnChange]?

        public init(kind: String, key: String, v1Id: Int64?, columns: [ColumnChange], values: [ColumnChange]? = nil) {
            self.kind = kind
            self.key = key
            self.v1Id = v1Id
            self.columns = columns
            self.values = values
        }
    }

    public struct Conflict: Codable, Sendable {
        public var load: String
        public var key: String
        public var v1Id: Int64?
        public var reason: String
        public var detail: String
    }

    public struct TableChanges: Codable, Sendable {
        public var load: String
        public var sourceTable: String
        public var targetTable: String
        public var inserted: Int64 = 0
        public var updated: Int64 = 0
        public var deleted: Int64 = 0
        public var changes: [RowChange] = []
        public var changesTruncated = false
        public var v1ChangedAfterCutover: [RowChange] = []
        public var conflicts: [Conflict] = []
        /// True when the table was not read row by row: its source and target tables' server-side
        /// digests (`TableDigest`) equal those recorded at arming, so nothing changed on either side.
        public var unchangedByTableDigest: Bool?
    }

    public func json(pretty: Bool = true) -> String {
        ReportJSON.encode(self, pretty: pretty)
    }

    public static func decode(_ text: String) throws -> ChangeReport {
        try ReportJSON.decode(ChangeReport.self, from: Data(text.utf8))
    }
}

/// One change with everything sync needs: the target row now (`after`) and at cutover (`before`).
public struct CapturedChange: Sendable {
    public var load: String
    public var kind: String          // inserted, updated, deleted
    public var key: String
    public var sourceID: Int64?
    public var before: [String?]?
    public var after: [String?]?
    public var changedColumns: [String]
}

/// The cutover baseline: for every load, each mapped source row's id and 64-bit content hash at
/// the moment change capture was armed, stored in the migration schema in 64 Ki-row chunks
/// (16 bytes a row). With the source read-only after cutover, "the source through the mapping"
/// is the target as it was at cutover; the baseline proves the source did not move since.
enum Baseline {
    static let chunkRows = 65_536

    static func ddl(_ state: MigrationState) -> String {
        """
        CREATE TABLE IF NOT EXISTS \(state.t("capture")) (
            armed_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
            tool_version  text NOT NULL,
            rows          bigint NOT NULL,
            loads         jsonb NOT NULL
        );
        -- Keys of shared targets' rows present at arming that the migration did not write (a
        -- user who signed up in V2 before cutover): not changes since cutover.
        ALTER TABLE \(state.t("capture")) ADD COLUMN IF NOT EXISTS foreign_keys jsonb NOT NULL DEFAULT '{}';
        CREATE TABLE IF NOT EXISTS \(state.t("capture_baseline")) (
            load_name  text NOT NULL,
            chunk      integer NOT NULL,
            ids        bytea NOT NULL,
            hashes     bytea NOT NULL,
            PRIMARY KEY (load_name, chunk)
        );
        -- Each source and target table's digest at arming (TableDigest), and each load's rejected
        -- source ids then: an assessment skips a table whose digests did not move on either side.
        CREATE TABLE IF NOT EXISTS \(state.t("capture_digests")) (
            side       text NOT NULL,
            table_name text NOT NULL,
            method     text NOT NULL,
            rows       bigint NOT NULL,
            sum_a      numeric NOT NULL,
            sum_b      numeric NOT NULL,
            PRIMARY KEY (side, table_name)
        );
        CREATE TABLE IF NOT EXISTS \(state.t("capture_rejected")) (
            load_name  text PRIMARY KEY,
            ids        bytea NOT NULL
        );
        """
    }

    /// The digests recorded at arming, per side ("source", "target") and table; empty for a
    /// baseline armed before digests were kept (the assessment then reads every table).
    static func digests(_ c: PGConnection, _ state: MigrationState) async throws -> [String: [String: TableDigest]] {
        guard try await state.has(c, "capture_digests") else { return [:] }
        var out: [String: [String: TableDigest]] = [:]
        for r in try await c.query("SELECT side, table_name, method, rows::text, sum_a::text, sum_b::text FROM \(state.t("capture_digests"))").rows {
            out[r[0]!, default: [:]][r[1]!] = TableDigest(method: r[2]!, rows: Int64(r[3]!) ?? -1, sumA: r[4]!, sumB: r[5]!)
        }
        return out
    }

    /// Per load, the source ids its mapping rejected at arming.
    static func rejected(_ c: PGConnection, _ state: MigrationState) async throws -> [String: [Int64]] {
        guard try await state.has(c, "capture_rejected") else { return [:] }
        var out: [String: [Int64]] = [:]
        for r in try await c.query("SELECT load_name, ids::text FROM \(state.t("capture_rejected"))").rows {
            out[r[0]!] = unhex(r[1]!).map { Int64(bitPattern: $0) }
        }
        return out
    }

    static func hex(_ values: ArraySlice<UInt64>) -> String {
        var out = [UInt8]()
        out.reserveCapacity(2 + values.count * 16)
        out.append(0x5C); out.append(0x78)
        let digits = Array("0123456789abcdef".utf8)
        for v in values {
            var x = v.bigEndian
            withUnsafeBytes(of: &x) { for b in $0 { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) } }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func unhex(_ text: String) -> [UInt64] {
        var out: [UInt64] = []
        var t = text
        t.withUTF8 { u in
            var i = 2  // "\x"
            out.reserveCapacity((u.count - 2) / 16)
            while i + 16 <= u.count {
                var v: UInt64 = 0
                for k in 0..<16 { v = v << 4 | UInt64(Canonical.hex(u[i + k]) ?? 0) }
                out.append(v)
                i += 16
            }
        }
        return out
    }

    /// The latest arm: when, and the rows of its baseline; nil when capture was never armed.
    static func latestArm(_ c: PGConnection, _ state: MigrationState) async throws -> (at: String, rows: String?)? {
        guard try await state.has(c, "capture"),
              let r = try await c.query("SELECT armed_at::text, rows::text FROM \(state.t("capture")) ORDER BY armed_at DESC LIMIT 1").rows.first else { return nil }
        return (r[0]!, r[1])
    }

    static func armedAt(_ c: PGConnection, _ state: MigrationState) async throws -> String? {
        try await latestArm(c, state)?.at
    }

    /// Per shared load, the keys of rows present at arming that the migration did not write.
    static func foreignKeys(_ c: PGConnection, _ state: MigrationState) async throws -> [String: [String]] {
        let r = try await c.query("""
            SELECT e.key, jsonb_array_elements_text(e.value)
            FROM (SELECT foreign_keys FROM \(state.t("capture")) ORDER BY armed_at DESC LIMIT 1) c, jsonb_each(c.foreign_keys) e
            """)
        var out: [String: [String]] = [:]
        for row in r.rows { out[row[0]!, default: []].append(row[1]!) }
        return out
    }

    static func load(_ c: PGConnection, _ state: MigrationState, load: String) async throws -> (ids: [Int64], hashes: [UInt64]) {
        let r = try await c.query("SELECT ids::text, hashes::text FROM \(state.t("capture_baseline")) WHERE load_name = $1 ORDER BY chunk", [load])
        var ids: [Int64] = []
        var hashes: [UInt64] = []
        for row in r.rows {
            ids += unhex(row[0]!).map { Int64(bitPattern: $0) }
            hashes += unhex(row[1]!)
        }
        return (ids, hashes)
    }
}

/// A whole table's content as the server sees it: its row count and two 64-bit sums of a hash
/// of each row computed by PostgreSQL with two seeds, in one scan inside the caller's
/// transaction (so in its snapshot). The hash is `hash_record_extended`, each column by its
/// type's own hash (equal values by the type's equality, as the canonical comparison has them:
/// 12.50 = 12.5); a table with a column type that has no hash function (point, json, xml) is
/// hashed on its row text instead, under fixed output settings. The same digest at arming and
/// now means, up to a collision of the two 64-bit sums, that the table did not change in
/// between; any difference (a schema change included) only means "read it row by row", so a
/// wrong "changed" costs time, never a missed change. At scale 1 this scan runs 3 to 5 times
/// faster than the row text and many times faster than streaming the rows through the mapping.
struct TableDigest: Equatable, Sendable {
    var method: String
    var rows: Int64
    var sumA: String
    var sumB: String

    static func read(_ c: PGConnection, _ tables: [TableName]) async throws -> [String: TableDigest] {
        /// The row count over `from`, and the sums of `hash(seed)` for seeds 0 and 1.
        func digest(_ method: String, from: String, _ hash: (Int) -> String) async throws -> TableDigest {
            let sums = [0, 1].map { "coalesce(sum(\(hash($0))), 0)::text" }
            let row = try await c.query("SELECT count(*)::text, \(sums.joined(separator: ", ")) FROM \(from)").rows[0]
            return TableDigest(method: method, rows: Int64(row[0] ?? "") ?? -1, sumA: row[1] ?? "", sumB: row[2] ?? "")
        }
        var out: [String: TableDigest] = [:]
        for table in tables {
            try Task.checkCancellation()
            try await c.execute("SAVEPOINT table_digest")
            do {
                out[table.description] = try await digest("record", from: "\(table.sql) t") { "hash_record_extended(t, \($0))" }
                try await c.execute("RELEASE SAVEPOINT table_digest")
            } catch let e as MigrationError where e.sqlState == "42883" {
                // "could not identify a hash function for type …": the row's text instead, which
                // depends on these settings.
                try await c.execute("""
                    ROLLBACK TO SAVEPOINT table_digest; RELEASE SAVEPOINT table_digest;
                    SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'postgres'; SET LOCAL extra_float_digits = 1; SET LOCAL bytea_output = 'hex'
                    """)
                out[table.description] = try await digest("text", from: "(SELECT t::text AS r FROM \(table.sql) t) s") { "hashtextextended(r, \($0))" }
            }
        }
        return out
    }
}

extension MigrationPlan {
    /// The source tables an assessment's outcome depends on: every load's, and every table a
    /// load's references point into.
    var digestSourceTables: [TableName] {
        let schema = sourceSchemas.first ?? "public"
        return Array(Set(loads.map(\.source) + loads.flatMap { $0.references.map { TableName(schema, $0.parentTable) } })).sorted()
    }
    var digestTargetTables: [TableName] { Array(Set(loads.map(\.target))).sorted() }
}

/// The source side's record of what `sync-v2-to-v1` wrote, kept in the source database in the
/// same transaction as the rows it describes: pairings of new source ids with target keys, and
/// the content hash each synced row has now (NULL once deleted), which replaces the baseline's.
public enum SyncJournal {
    public static let schema = "cocoatrack_sync"
    static func t(_ name: String) -> String { SQL.qualified(schema, name) }

    static var ddl: String {
        """
        CREATE SCHEMA IF NOT EXISTS \(SQL.ident(schema));
        CREATE TABLE IF NOT EXISTS \(t("syncs")) (
            sync_id      uuid PRIMARY KEY,
            started_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
            tool_version text NOT NULL,
            applied      jsonb NOT NULL,
            conflicts    integer NOT NULL
        );
        CREATE TABLE IF NOT EXISTS \(t("pairings")) (
            source_table text NOT NULL,
            source_id    bigint NOT NULL,
            target_key   text NOT NULL UNIQUE,
            sync_id      uuid NOT NULL,
            PRIMARY KEY (source_table, source_id)
        );
        CREATE TABLE IF NOT EXISTS \(t("synced_rows")) (
            load_name  text NOT NULL,
            source_id  bigint NOT NULL,
            row_hash   bigint,
            sync_id    uuid NOT NULL,
            PRIMARY KEY (load_name, source_id)
        );
        CREATE TABLE IF NOT EXISTS \(t("conflicts")) (
            sync_id    uuid NOT NULL,
            load_name  text NOT NULL,
            key        text NOT NULL,
            source_id  bigint,
            reason     text NOT NULL,
            detail     text NOT NULL
        );
        """
    }

    static func exists(_ c: PGConnection) async throws -> Bool {
        try await c.scalar("SELECT to_regclass($1) IS NOT NULL", [t("synced_rows")]) == "t"
    }

    /// Pairings recorded by earlier syncs (source table, id, target key).
    public static func pairings(_ c: PGConnection) async throws -> [(String, Int64, String)] {
        guard try await exists(c) else { return [] }
        return try await c.query("SELECT source_table, source_id, target_key FROM \(t("pairings"))").rows.map { ($0[0]!, Int64($0[1]!)!, $0[2]!) }
    }

    static func syncedHashes(_ c: PGConnection, load: String) async throws -> [Int64: UInt64?] {
        guard try await exists(c) else { return [:] }
        var out: [Int64: UInt64?] = [:]
        for r in try await c.query("SELECT source_id, row_hash FROM \(t("synced_rows")) WHERE load_name = $1", [load]).rows {
            out[Int64(r[0]!)!] = r[1].flatMap { Int64($0) }.map { UInt64(bitPattern: $0) }
        }
        return out
    }
}

extension Verifier {
    /// Records the cutover baseline (`capture arm`): refuses when one exists (re-arming would
    /// hide every change made since) or when the target does not equal the source through the
    /// mapping (verify first).
    public func arm() async throws -> (rows: Int64, loads: [String: Int64]) {
        let meta = try await PGConnection.connect(target, logger: logger)
        defer { Task { await meta.close() } }
        guard try await state.exists(meta) else {
            throw MigrationError(.configuration, "V2 holds no migration state: migrate and verify before arming change capture.")
        }
        try await meta.execute(Baseline.ddl(state))
        if let at = try await Baseline.armedAt(meta, state) {
            throw MigrationError(.refused, "change capture was armed at \(at); arming again would hide every change made in V2 since. Nothing was changed.")
        }
        let v1 = try await PGConnection.connect(source, logger: logger)
        let v2 = try await PGConnection.connect(target, logger: logger)
        defer { Task { await v1.close(); await v2.close() } }
        try await v1.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try await v2.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        let catalog = try await Catalog.read(v2, schemas: plan.targetSchemas, extraTables: plan.extraTargetTables)
        var index = try await presentIndex(v1)
        var counts: [String: Int64] = [:]
        var chunks: [(String, Int, String, String)] = []
        var foreign: [String: [String]] = [:]
        var rejectedByLoad: [String: String] = [:]
        for spec in try orderedLoads(catalog) {
            let layout = try self.layout(spec, catalog: catalog, afterCutover: true)
            let filter = try await targetFilter(spec, v1: v1)
            if let owned = spec.ownedKeys, let filter {
                foreign[spec.name] = try await v2.query("SELECT \(SQL.ident(owned.column))::text FROM \(spec.target.sql) WHERE NOT (\(filter))").rows.compactMap { $0[0] }
            }
            let (src, tgt) = try await passes(spec, layout: layout, index: index, filter: filter, v1: v1, v2: v2)
            guard src.digest.differing(from: tgt.digest).isEmpty else {
                throw MigrationError(.checkFailed, "V2 \(spec.target) differs from V1 through the mapping, so it cannot be the cutover baseline. Run verify-integrity, resolve what it reports, then arm.")
            }
            index.addRejected(src.rejectedIDs, of: spec.source.name)
            var rejectedHere: [UInt64] = []
            src.rejectedIDs.forEachID { rejectedHere.append(UInt64(bitPattern: $0)) }
            rejectedByLoad[spec.name] = Baseline.hex(rejectedHere[...])
            counts[spec.name] = Int64(src.ids.count)
            for (n, start) in stride(from: 0, to: src.ids.count, by: Baseline.chunkRows).enumerated() {
                let end = min(start + Baseline.chunkRows, src.ids.count)
                chunks.append((spec.name, n, Baseline.hex(src.ids[start..<end].map { UInt64(bitPattern: $0) }[...]), Baseline.hex(src.hashes[start..<end])))
            }
        }
        // Every table's digest in the same snapshots: what lets an assessment skip a table.
        async let sourceDigests = TableDigest.read(v1, plan.digestSourceTables)
        async let targetDigests = TableDigest.read(v2, plan.digestTargetTables)
        let digests = try await ["source": sourceDigests, "target": targetDigests]
        try await v1.execute("COMMIT")
        try await v2.execute("COMMIT")
        try await meta.execute("BEGIN")
        do {
            try await meta.execute("DELETE FROM \(state.t("capture_baseline")); DELETE FROM \(state.t("capture_digests")); DELETE FROM \(state.t("capture_rejected"))")
            for (side, tables) in digests {
                for (table, d) in tables {
                    try await meta.query("INSERT INTO \(state.t("capture_digests")) (side, table_name, method, rows, sum_a, sum_b) VALUES ($1, $2, $3, $4, $5::numeric, $6::numeric)",
                                         [side, table, d.method, String(d.rows), d.sumA, d.sumB])
                }
            }
            for (load, ids) in rejectedByLoad {
                try await meta.query("INSERT INTO \(state.t("capture_rejected")) (load_name, ids) VALUES ($1, $2::bytea)", [load, ids])
            }
            for c in chunks {
                try await meta.query("INSERT INTO \(state.t("capture_baseline")) (load_name, chunk, ids, hashes) VALUES ($1, $2, $3::bytea, $4::bytea)",
                                     [c.0, String(c.1), c.2, c.3])
            }
            let total = counts.values.reduce(0, +)
            let loadsJSON = "{" + counts.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + "}"
            let foreignJSON = String(decoding: try JSONSerialization.data(withJSONObject: foreign, options: [.sortedKeys]), as: UTF8.self)
            try await meta.query("INSERT INTO \(state.t("capture")) (tool_version, rows, loads, foreign_keys) VALUES ($1, $2, $3::jsonb, $4::jsonb)",
                                 [options.toolVersion, String(total), loadsJSON, foreignJSON])
            try await meta.execute("COMMIT")
            return (total, counts)
        } catch {
            try? await meta.execute("ROLLBACK")
            throw error
        }
    }

    func presentIndex(_ v1: PGConnection) async throws -> ReferenceIndex {
        try await plan.referenceIndex(v1)
    }

    func orderedLoads(_ catalog: Catalog) throws -> [LoadSpec] {
        try plan.loadOrder(plan.dependencies(catalog: catalog))
    }

    /// The loads whose source and target tables both have the digest they had at arming, read
    /// in the assessment's snapshots; none when the baseline has no digests, when any source
    /// table moved (the source is read-only after cutover: a move means someone wrote, and the
    /// rejected ids recorded at arming may no longer hold), or when a sync has written before.
    func unchangedSinceArming(meta: PGConnection, v1: PGConnection, v2: PGConnection) async throws -> Set<String> {
        let atArm = try await Baseline.digests(meta, state)
        guard let sourceAtArm = atArm["source"], let targetAtArm = atArm["target"] else { return [] }
        if try await SyncJournal.exists(v1), try await v1.scalar("SELECT EXISTS (SELECT 1 FROM \(SyncJournal.t("synced_rows")))") == "t" { return [] }
        async let sourceNow = TableDigest.read(v1, plan.digestSourceTables)
        async let targetNow = TableDigest.read(v2, plan.digestTargetTables)
        let (source, target) = try await (sourceNow, targetNow)
        guard plan.digestSourceTables.allSatisfy({ source[$0.description] != nil && source[$0.description] == sourceAtArm[$0.description] }) else {
            events(.sourceChangedSinceArming)
            return []
        }
        return Set(plan.loads.filter { target[$0.target.description] != nil && target[$0.target.description] == targetAtArm[$0.target.description] }.map(\.name))
    }

    /// Every change in the target since cutover, per load, with the source's own changes since
    /// then told apart (they are conflicts when the target row changed too).
    public func assess(maxListed: Int = 1000) async throws -> (ChangeReport, [CapturedChange]) {
        let (report, changes, _) = try await assessWithIndex(maxListed: maxListed)
        return (report, changes)
    }

    /// `assess`, and the source ids present and rejected as the mapping saw them (what the
    /// forward check of a sync must see, so that it maps a row exactly as the migration did).
    func assessWithIndex(maxListed: Int = 1000) async throws -> (ChangeReport, [CapturedChange], ReferenceIndex) {
        let meta = try await PGConnection.connect(target, logger: logger)
        defer { Task { await meta.close() } }
        guard try await state.exists(meta), let armedAt = try await Baseline.armedAt(meta, state) else {
            throw MigrationError(.configuration, "change capture is not armed in V2 (no cutover baseline): nothing to compare with. The runbook arms it at T-0 with `\(ToolCommand.line("capture arm"))`.")
        }
        var report = ChangeReport(generatedAt: Verifier.iso(Date()), armedAt: armedAt, toolVersion: options.toolVersion,
                                  v1: source.redactedURL, v2: target.redactedURL)
        var captured: [CapturedChange] = []
        let v1 = try await PGConnection.connect(source, logger: logger)
        let v2 = try await PGConnection.connect(target, logger: logger)
        defer { Task { await v1.close(); await v2.close() } }
        try await v1.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try await v2.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        let catalog = try await Catalog.read(v2, schemas: plan.targetSchemas, extraTables: plan.extraTargetTables)
        var index = try await presentIndex(v1)
        let foreignAtArm = try await Baseline.foreignKeys(meta, state)
        let unchanged = try await unchangedSinceArming(meta: meta, v1: v1, v2: v2)
        let rejectedAtArm = unchanged.isEmpty ? [:] : try await Baseline.rejected(meta, state)
        for spec in try orderedLoads(catalog) {
            try Task.checkCancellation()
            if unchanged.contains(spec.name), let ids = rejectedAtArm[spec.name] {
                // Neither side moved since arming, when V2 equalled V1 through the mapping: no
                // change to find. What later loads need of it is the ids it rejected then.
                index.addRejected(ids, of: spec.source.name)
                var table = ChangeReport.TableChanges(load: spec.name, sourceTable: spec.source.description, targetTable: spec.target.description)
                table.unchangedByTableDigest = true
                report.tables.append(table)
                events(.unchangedSinceArming(load: spec.name))
                continue
            }
            events(.tableStarted(load: spec.name, expectedRows: nil))
            let layout = try self.layout(spec, catalog: catalog, afterCutover: true)
            var filter = try await targetFilter(spec, v1: v1)
            // A shared target also holds rows created after cutover, which are changes: for the
            // primary load of a source row (profiles), every row but those already there at
            // arming that the migration did not write; for the others (auth.users), those whose
            // key is in the primary's table (a new profile's auth user), likewise.
            if let owned = spec.ownedKeys, let f = filter, let group = plan.reverse.first(where: { $0.loads.contains(spec.name) }) {
                let key = SQL.ident(owned.column)
                let before = foreignAtArm[spec.name] ?? []
                let notBefore = before.isEmpty ? "true" : "NOT (\(key)::text = ANY(\(SQL.literal(pgTextArray(before)))::text[]))"
                if group.loads[0] == spec.name {
                    filter = (owned.condition.map { "(\($0)) AND " } ?? "") + notBefore
                } else if let primary = plan.loads.first(where: { $0.name == group.loads[0] }),
                          let primaryKey = catalog.tables[primary.target]?.primaryKey.first {
                    filter = "(\(f)) OR (\(key)::text IN (SELECT \(SQL.ident(primaryKey))::text FROM \(primary.target.sql)) AND \(notBefore))"
                }
            }
            let (src, tgt) = try await passes(spec, layout: layout, index: index, filter: filter, v1: v1, v2: v2)
            let base = try await Baseline.load(meta, state, load: spec.name)
            let synced = try await SyncJournal.syncedHashes(v1, load: spec.name)

            // The source's own changes since cutover: a merge of two id-sorted lists.
            enum Drift { case changed, inserted, deleted }
            var drift: [Int64: Drift] = [:]
            var expected: [Int64: UInt64] = [:]
            func expectedHash(_ id: Int64, baseline: UInt64?) -> UInt64? {
                if let s = synced[id] { return s }
                return baseline
            }
            var i = 0, j = 0
            while i < src.ids.count || j < base.ids.count {
                let sid = i < src.ids.count ? src.ids[i] : Int64.max
                let bid = j < base.ids.count ? base.ids[j] : Int64.max
                if sid == bid {
                    let e = expectedHash(sid, baseline: base.hashes[j])
                    if let e { expected[sid] = e; if e != src.hashes[i] { drift[sid] = .changed } } else { drift[sid] = .inserted }
                    i += 1; j += 1
                } else if sid < bid {
                    let e = expectedHash(sid, baseline: nil)
                    if let e, e == src.hashes[i] { expected[sid] = e } else { drift[sid] = e == nil ? .inserted : .changed; if let e { expected[sid] = e } }
                    i += 1
                } else {
                    if let e = expectedHash(bid, baseline: base.hashes[j]) { drift[bid] = .deleted; expected[bid] = e }
                    j += 1
                }
            }
            let seen = synced.isEmpty ? [] : Set(src.ids)
            let inBase = synced.isEmpty ? [] : Set(base.ids)
            for (id, h) in synced where h != nil && !seen.contains(id) && drift[id] == nil && !inBase.contains(id) {
                drift[id] = .deleted
                expected[id] = h!
            }
            var deletedKeys: [String: Int64] = [:]
            for (id, d) in drift where d == .deleted { deletedKeys[plan.sourceKey(spec.source.name, id)] = id }

            var table = ChangeReport.TableChanges(load: spec.name, sourceTable: spec.source.description, targetTable: spec.target.description)
            func show(_ v: String?, _ j: Int) -> String? {
                guard let v else { return nil }
                return layout.sensitive[j] ? "‹hidden›" : v
            }
            func list(_ c: ChangeReport.RowChange) {
                if table.changes.count < maxListed { table.changes.append(c) } else { table.changesTruncated = true }
            }
            func conflict(_ key: String, _ id: Int64?, _ reason: String, _ detail: String) {
                table.conflicts.append(.init(load: spec.name, key: key, v1Id: id, reason: reason, detail: detail))
            }
            let differing = src.digest.differing(from: tgt.digest)
            if !differing.isEmpty {
                try await locate(spec, layout: layout, index: index, differing: differing, source: src, filter: filter, v1: v1, v2: v2) { d in
                    let columns = d.changed.map { spec.targetColumns[$0] }
                    let diffs = d.changed.map { ChangeReport.ColumnChange(column: spec.targetColumns[$0], before: show(d.source?.display[$0], $0), after: show(d.target?.display[$0], $0)) }
                    switch (d.source, d.target) {
                    case (let s?, let t?):
                        let id = s.sourceID!
                        if drift[id] == nil {
                            table.updated += 1
                            list(.init(kind: "updated", key: d.key, v1Id: id, columns: diffs))
                            captured.append(.init(load: spec.name, kind: "updated", key: d.key, sourceID: id, before: s.display, after: t.display, changedColumns: columns))
                        } else if LocatedDifference.hash(t) == expected[id] {
                            table.v1ChangedAfterCutover.append(.init(kind: "changed_in_v1", key: d.key, v1Id: id, columns: diffs))
                        } else {
                            conflict(d.key, id, "changed_on_both_sides", "the V1 row changed after cutover and the V2 row too (\(columns.joined(separator: ", ")) differ)")
                        }
                    case (let s?, nil):
                        let id = s.sourceID!
                        switch drift[id] {
                        case nil:
                            table.deleted += 1
                            list(.init(kind: "deleted", key: d.key, v1Id: id, columns: [],
                                       values: spec.targetColumns.indices.map { .init(column: spec.targetColumns[$0], before: $0 < s.display.count ? show(s.display[$0], $0) : nil, after: nil) }))
                            captured.append(.init(load: spec.name, kind: "deleted", key: d.key, sourceID: id, before: s.display, after: nil, changedColumns: []))
                        case .inserted?:
                            table.v1ChangedAfterCutover.append(.init(kind: "inserted_in_v1", key: d.key, v1Id: id, columns: []))
                        default:
                            conflict(d.key, id, "deleted_in_v2_changed_in_v1", "deleted in V2, but the V1 row changed after cutover")
                        }
                    case (nil, let t?):
                        if let id = deletedKeys[d.key] {
                            if LocatedDifference.hash(t) == expected[id] {
                                table.v1ChangedAfterCutover.append(.init(kind: "deleted_in_v1", key: d.key, v1Id: id, columns: []))
                            } else {
                                conflict(d.key, id, "deleted_in_v1_changed_in_v2", "deleted in V1 after cutover, changed in V2")
                            }
                        } else {
                            table.inserted += 1
                            list(.init(kind: "inserted", key: d.key, v1Id: nil, columns: [],
                                       values: spec.targetColumns.indices.map { .init(column: spec.targetColumns[$0], before: nil, after: $0 < t.display.count ? show(t.display[$0], $0) : nil) }))
                            captured.append(.init(load: spec.name, kind: "inserted", key: d.key, sourceID: nil, before: nil, after: t.display, changedColumns: []))
                        }
                    default: break
                    }
                }
            }
            index.addRejected(src.rejectedIDs, of: spec.source.name)
            report.inserted += table.inserted
            report.updated += table.updated
            report.deleted += table.deleted
            report.conflicts += Int64(table.conflicts.count)
            report.v1ChangedAfterCutover += Int64(table.v1ChangedAfterCutover.count)
            report.tables.append(table)
        }
        try await v1.execute("COMMIT")
        try await v2.execute("COMMIT")
        return (report, captured, index)
    }
}

/// Whether the capture is armed: the cutover baseline recorded by `capture arm`.
public enum CaptureStatus {
    /// "ARMED_AT (N rows)" of the latest arm; nil when capture was never armed (or V2 holds no migration state).
    public static func armed(_ c: PGConnection, state: MigrationState) async throws -> String? {
        guard let arm = try await Baseline.latestArm(c, state), let rows = arm.rows else { return nil }
        return "\(TimeFlag.shown(arm.at)) (\(Int64(rows).map(ReportHTML.number) ?? rows) rows)"
    }
}
