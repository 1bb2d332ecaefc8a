import PGClient
import Foundation
import Logging

/// What `sync-v2-to-v1` did (or, with `--dry-run`, would do).
public struct SyncReport: Codable, Sendable {
    public static let formatName = "cocoatrack-migrate/sync-v2-to-v1/1"
    public var format = SyncReport.formatName
    public var syncId: String
    public var dryRun: Bool
    public var generatedAt: String
    public var toolVersion: String
    public var v1: String
    public var v2: String
    /// Per source table: inserted, updated, deleted rows written to V1.
    public var applied: [String: [String: Int64]] = [:]
    public var appliedRows: [Applied] = []
    public var conflicts: [ChangeReport.Conflict] = []

    public struct Applied: Codable, Sendable {
        public var table: String
        public var kind: String
        public var v1Id: Int64
        public var key: String
    }

    public var total: Int64 { applied.values.flatMap(\.values).reduce(0, +) }

    public func json(pretty: Bool = true) -> String {
        ReportJSON.encode(self, pretty: pretty)
    }
}

/// Carries the target's changes since cutover back to the source through the reverse mapping:
/// parents first for inserts and updates, children first for deletes, in one source
/// transaction that also holds the journal (pairings, synced row hashes, conflicts). A change is
/// written only when the forward mapping of the resulting source row gives back exactly the
/// target rows; otherwise it is a conflict for a person, as is a row changed on both sides.
public struct ReverseSync: Sendable {
    public let verifier: Verifier
    public let dryRun: Bool

    public init(verifier: Verifier, dryRun: Bool) {
        self.verifier = verifier
        self.dryRun = dryRun
    }

    var plan: MigrationPlan { verifier.plan }

    /// The V1 a sync may write: the one this migration came from (its identity recorded in V2's
    /// state), and no other. Returns V1's database name, the one a person confirms.
    public static func checkTarget(v1: ConnectionConfig, v2: ConnectionConfig, state: MigrationState, logger: Logger) async throws -> String {
        let target = try await PGConnection.connect(v2, logger: logger)
        let source: PGConnection
        do { source = try await PGConnection.connect(v1, logger: logger) } catch { await target.close(); throw error }
        do {
            guard try await state.exists(target) else {
                throw MigrationError(.refused, "V2 holds no migration state: this is not a migrated V2. Nothing was touched.")
            }
            try await state.checkIdentity(target, side: "V1", of: source)
            let database = try await source.scalar("SELECT current_database()") ?? "?"
            await source.close()
            await target.close()
            return database
        } catch {
            await source.close()
            await target.close()
            throw error
        }
    }

    struct Group: Sendable {
        var key: String
        var kind: String                   // inserted, updated, deleted
        var sourceID: Int64?
        var changes: [String: CapturedChange]
        var rows: [String: [String?]] = [:]
        /// A load whose V2 row moved after the assessment this sync uses.
        var movedSince: String?
    }

    /// One assessment of V2's changes, shared by the preview (a dry run) and the write, so a
    /// sync reads both databases in full once.
    public struct Assessment: Sendable {
        public let report: ChangeReport
        let changes: [CapturedChange]
        let index: ReferenceIndex
    }

    public func assess() async throws -> Assessment {
        let (report, changes, index) = try await verifier.assessWithIndex()
        return Assessment(report: report, changes: changes, index: index)
    }

    /// Syncs (or, dry, checks) the changes of `assessment` (a new one when nil). With a given
    /// assessment every changed V2 row is read again first: one that moved since is a conflict
    /// (`changed_since_assessment`), never written from the older picture.
    public func run(_ assessment: Assessment? = nil) async throws -> SyncReport {
        guard !plan.reverse.isEmpty else { throw MigrationError(.configuration, "this mapping defines no reverse rules; sync is not possible.") }
        let recheck = assessment != nil && !dryRun
        let given: Assessment
        if let assessment { given = assessment } else { given = try await assess() }
        let (assessed, changes, mapped) = (given.report, given.changes, given.index)
        var report = SyncReport(syncId: UUID().uuidString.lowercased(), dryRun: dryRun, generatedAt: Verifier.iso(Date()),
                                toolVersion: verifier.options.toolVersion, v1: verifier.source.redactedURL, v2: verifier.target.redactedURL)
        report.conflicts = assessed.tables.flatMap(\.conflicts)
        let logger = verifier.logger
        let v1 = try await PGConnection.connect(verifier.source, logger: logger)
        let v2 = try await PGConnection.connect(verifier.target, logger: logger)
        defer { Task { await v1.close(); await v2.close() } }
        let v2Catalog = try await Catalog.read(v2, schemas: plan.targetSchemas, extraTables: plan.extraTargetTables)
        let v1Catalog = try await Catalog.read(v1, schemas: plan.sourceSchemas)
        let loadsByName = Dictionary(uniqueKeysWithValues: plan.loads.map { ($0.name, $0) })
        var layouts: [String: Verifier.Layout] = [:]
        for l in plan.loads { layouts[l.name] = try verifier.layout(l, catalog: v2Catalog, afterCutover: true) }

        // Group the changes per source row (one V1 user = a profile and an auth user).
        var groups: [String: [Group]] = [:]   // source table → groups
        for spec in plan.reverse {
            var byKey: [String: Group] = [:]
            for c in changes where spec.allLoads.contains(c.load) {
                var g = byKey[c.key] ?? Group(key: c.key, kind: c.kind, sourceID: c.sourceID, changes: [:])
                g.changes[c.load] = c
                if c.kind == "inserted" || g.kind == "inserted" { g.kind = "inserted" } else if c.kind == "updated" { g.kind = "updated" }
                if g.sourceID == nil { g.sourceID = c.sourceID }
                byKey[c.key] = g
            }
            // The current target rows of every load of the group (also those that did not change),
            // read per load in chunks by key (a typed comparison, so the key's index serves it).
            for load in spec.allLoads {
                let wanted = byKey.values.filter { $0.kind != "deleted" && (recheck || $0.changes[load]?.after == nil) }.map(\.key).sorted()
                if wanted.isEmpty { continue }
                let l = loadsByName[load]!
                let layout = layouts[load]!
                let keyColumn = SQL.ident(l.targetColumns[layout.keyIndex])
                let condition = l.ownedKeys?.condition.map { " AND (\($0))" } ?? ""
                let match = layout.keyKind == .uuid ? "\(keyColumn) = ANY($1::uuid[])" : "\(keyColumn)::text = ANY($1::text[])"
                var current: [String: [String?]] = [:]
                for chunk in stride(from: 0, to: wanted.count, by: 5_000) {
                    let keys = Array(wanted[chunk..<min(chunk + 5_000, wanted.count)])
                    let r = try await v2.query("SELECT \(layout.select.joined(separator: ", ")) FROM \(l.target.sql) WHERE \(match)\(condition)", [pgTextArray(keys)])
                    for row in r.rows { if let k = row[layout.keyIndex] { current[k] = row } }
                }
                for key in wanted {
                    guard var g = byKey[key] else { continue }
                    let now = current[key]
                    if let after = g.changes[load]?.after {
                        // Re-checked: the row must still be what the assessment saw.
                        let canonical = { (row: [String?]) in zip(row, layout.kinds).map { Canonical.bytes($0, $1) } }
                        if now.map(canonical) != canonical(after) { g.movedSince = load }
                        g.rows[load] = after
                    } else if let now {
                        g.rows[load] = now
                    }
                    byKey[key] = g
                }
            }
            for (key, var g) in byKey where g.kind != "deleted" {
                for load in spec.allLoads where g.rows[load] == nil { if let after = g.changes[load]?.after { g.rows[load] = after } }
                byKey[key] = g
            }
            groups[spec.source.name] = byKey.values.sorted { ($0.sourceID ?? Int64.max, $0.key) < ($1.sourceID ?? Int64.max, $1.key) }
        }
        // The forward check maps as the migration did: rejected rows (a duplicate-email user)
        // stay rejected, so a reference to one comes back NULL, as V2 holds it.
        let index = mapped
        // Parents first by V2's foreign keys (V1 lacks some of them).
        var specs: [ReverseSpec] = []
        for l in try verifier.orderedLoads(v2Catalog) {
            if let spec = plan.reverse.first(where: { $0.loads.contains(l.name) }), !specs.contains(where: { $0.source == spec.source }) { specs.append(spec) }
        }
        let pairs = plan.pairs
        let key = plan.sourceKey
        let dryRun = self.dryRun
        let snapshot = report
        let orderedSpecs = specs, groupsByTable = groups, layoutsByLoad = layouts
        report = try await v1.withSession { s in
            var report = snapshot
            var index = index
            var reverseKeys: [String: [String: Int64]] = [:]
            /// A target key → its source id: a pairing, else found by deriving the key of every source id once.
            func resolve(_ table: String, _ k: String) -> Int64? {
                if let id = pairs.id(table, k) { return id }
                if reverseKeys[table] == nil {
                    var m: [String: Int64] = [:]
                    var fields: [String?] = []
                    _ = try? s.copyOut("COPY (SELECT id FROM \(SQL.qualified(plan.sourceSchemas.first ?? "public", table))) TO STDOUT") { raw in
                        CopyTextParser.fields(raw, into: &fields)
                        if let t = fields[0], let id = Int64(t) { m[key(table, id)] = id }
                    }
                    reverseKeys[table] = m
                }
                return reverseKeys[table]?[k]
            }
            func conflict(_ load: String, _ g: Group, _ reason: String, _ detail: String) {
                report.conflicts.append(.init(load: load, key: g.key, v1Id: g.sourceID, reason: reason, detail: detail))
            }
            func count(_ table: String, _ kind: String) { report.applied[table, default: [:]][kind, default: 0] += 1 }
            let syncId = report.syncId

            // Writes go in batches under one savepoint each, not one a row: thousands of
            // subtransactions in one transaction overflow PostgreSQL's per-backend subxid cache,
            // and every later snapshot then slows down (a sync of 11,000 changes took minutes).
            // A row V1 refuses rolls its batch back; the rows before it are written again, and it
            // becomes a conflict (`refused_by_v1`) instead of a failed sync.
            struct PendingWrite {
                var table: String
                var kind: String
                var id: Int64
                var key: String
                /// Writes the row and its journal; returns whether a V1 row changed.
                var write: () throws -> Bool
                var undo: () -> Void
            }
            var batch: [(write: PendingWrite, wrote: Bool)] = []
            var batchOpen = false
            let batchRows = 500
            func flush() throws {
                guard batchOpen else { return }
                try s.execute("RELEASE SAVEPOINT sync_batch")
                batchOpen = false
                for (w, wrote) in batch where wrote {
                    count(w.table, w.kind)
                    report.appliedRows.append(.init(table: w.table, kind: w.kind, v1Id: w.id, key: w.key))
                }
                batch = []
            }
            /// Writes `w` in the current batch; false when V1 refused it (then a conflict).
            @discardableResult
            func apply(_ w: PendingWrite, load: String, group g: Group) throws -> Bool {
                if !batchOpen { try s.execute("SAVEPOINT sync_batch"); batchOpen = true }
                do {
                    let wrote = try w.write()
                    batch.append((w, wrote))
                    if batch.count >= batchRows { try flush() }
                    return true
                } catch let e as MigrationError {
                    try s.execute("ROLLBACK TO SAVEPOINT sync_batch")
                    batch = try batch.map { ($0.write, try $0.write.write()) }
                    w.undo()
                    conflict(load, g, "refused_by_v1", e.message)
                    return false
                }
            }

            try s.execute("BEGIN")
            do {
                try s.execute(SyncJournal.ddl)
                try s.execute("SELECT pg_advisory_xact_lock(\(Migrator.lockKey &+ 1))")
                var fakeID: [String: Int64] = [:]
                for spec in orderedSpecs {
                    let table = spec.source
                    let info = v1Catalog.tables[table]!
                    let primary = loadsByName[spec.loads[0]]!
                    let columns = primary.sourceColumns
                    for g in groupsByTable[table.name] ?? [] where g.kind != "deleted" {
                        if let c = SyncRules.precheck(g, spec) {
                            conflict(c.load, g, c.reason, c.detail)
                            continue
                        }
                        var issues = RowIssues()
                        guard let values = spec.transform(g.rows, resolve, &issues) else {
                            let i = issues.items.first { $0.kind == .reject }
                            conflict(spec.loads[0], g, i?.rule ?? "no_v1_form", i?.detail ?? "no V1 form")
                            continue
                        }
                        // The row as V1 would hold it.
                        var candidate: [String?]
                        let id: Int64
                        if g.kind == "inserted" {
                            if dryRun {
                                let current = try s.query("SELECT coalesce(max(id), 0) FROM \(table.sql)").rows[0][0] ?? "0"
                                let base = fakeID[table.name] ?? Int64(current)!
                                id = base + 1
                                fakeID[table.name] = id
                            } else {
                                id = Int64(try s.query("SELECT nextval(pg_get_serial_sequence($1, $2))", [table.sql, columns[0]]).rows[0][0]!)!
                            }
                            candidate = values
                            candidate[0] = String(id)
                        } else {
                            guard let sid = g.sourceID,
                                  let current = try s.query("SELECT \(columns.map(SQL.ident).joined(separator: ", ")) FROM \(table.sql) WHERE \(SQL.ident(columns[0])) = $1", [String(sid)]).rows.first else {
                                conflict(spec.loads[0], g, "v1_row_missing", "the V1 row is gone")
                                continue
                            }
                            id = sid
                            candidate = SyncRules.updated(current: current, values: values, changes: g.changes, spec: spec, columns: columns)
                        }
                        // V1's own column types: lengths and whole numbers.
                        if let typeProblem = SyncRules.typeProblem(candidate, columns: columns, in: info) {
                            conflict(spec.loads[0], g, "no_faithful_v1_form", typeProblem)
                            continue
                        }
                        // The forward mapping of that row must give back the V2 rows exactly.
                        if g.kind == "inserted" { pairs.add(table: table.name, id: id, key: g.key) }
                        index.present[table.name, default: IDBitset()].insert(id)
                        // A derived row (an identity) is the mapping's only for a row that came from V1.
                        let checked = spec.loads + (g.kind == "inserted" ? [] : spec.derivedLoads.filter { g.rows[$0] != nil })
                        let hashes: [String: UInt64]
                        switch SyncRules.roundTrip(candidate, loads: checked.map { loadsByName[$0]! }, layouts: layoutsByLoad, v2Rows: g.rows, index: index) {
                        case .faithful(let h):
                            hashes = h
                        case .mismatch(let mismatch):
                            if g.kind == "inserted" { pairs.remove(table: table.name, id: id); index.present[table.name]?.remove(id) }
                            conflict(spec.loads[0], g, "no_faithful_v1_form", mismatch)
                            continue
                        }
                        // Write it, with its journal: a V1 constraint that refuses it makes a
                        // conflict, not a failed sync.
                        let kind = g.kind, key = g.key, written = candidate, rowHashes = hashes, tableName = table.name
                        let write = PendingWrite(table: tableName, kind: kind, id: id, key: key, write: {
                            var wrote = true
                            if kind == "inserted" {
                                let placeholders = (1...columns.count).map { "$\($0)" }.joined(separator: ", ")
                                _ = try s.query("INSERT INTO \(table.sql) (\(columns.map(SQL.ident).joined(separator: ", "))) VALUES (\(placeholders))", written)
                                _ = try s.query("INSERT INTO \(SyncJournal.t("pairings")) (source_table, source_id, target_key, sync_id) VALUES ($1, $2, $3, $4)",
                                                [tableName, String(id), key, syncId])
                            } else {
                                let current = try s.query("SELECT \(columns.map(SQL.ident).joined(separator: ", ")) FROM \(table.sql) WHERE \(SQL.ident(columns[0])) = $1", [String(id)]).rows[0]
                                let changed = (1..<columns.count).filter { written[$0] != current[$0] }
                                // An update whose every column V1 already holds (a V2-only value
                                // such as a pending token) writes nothing and counts as nothing.
                                wrote = !changed.isEmpty
                                if !changed.isEmpty {
                                    let sets = changed.enumerated().map { "\(SQL.ident(columns[$0.element])) = $\($0.offset + 2)" }.joined(separator: ", ")
                                    _ = try s.query("UPDATE \(table.sql) SET \(sets) WHERE \(SQL.ident(columns[0])) = $1", [String(id)] + changed.map { written[$0] })
                                }
                            }
                            for (load, h) in rowHashes {
                                _ = try s.query("""
                                    INSERT INTO \(SyncJournal.t("synced_rows")) (load_name, source_id, row_hash, sync_id) VALUES ($1, $2, $3, $4)
                                    ON CONFLICT (load_name, source_id) DO UPDATE SET row_hash = EXCLUDED.row_hash, sync_id = EXCLUDED.sync_id
                                    """, [load, String(id), String(Int64(bitPattern: h)), syncId])
                            }
                            return wrote
                        }, undo: {
                            if kind == "inserted" { pairs.remove(table: tableName, id: id) }
                        })
                        if try !apply(write, load: spec.loads[0], group: g), kind == "inserted" {
                            index.present[table.name]?.remove(id)
                        }
                    }
                }
                // Deletes, children first.
                for spec in orderedSpecs.reversed() {
                    let table = spec.source
                    for g in groupsByTable[table.name] ?? [] where g.kind == "deleted" {
                        if let c = SyncRules.incompleteDelete(g, spec) {
                            conflict(c.load, g, c.reason, c.detail)
                            continue
                        }
                        guard let id = g.sourceID else { continue }
                        let loads = spec.loads
                        try apply(PendingWrite(table: table.name, kind: "deleted", id: id, key: g.key, write: {
                            let r = try s.query("DELETE FROM \(table.sql) WHERE id = $1", [String(id)])
                            for load in loads {
                                _ = try s.query("""
                                    INSERT INTO \(SyncJournal.t("synced_rows")) (load_name, source_id, row_hash, sync_id) VALUES ($1, $2, NULL, $3)
                                    ON CONFLICT (load_name, source_id) DO UPDATE SET row_hash = NULL, sync_id = EXCLUDED.sync_id
                                    """, [load, String(id), syncId])
                            }
                            return r.affected > 0
                        }, undo: {}), load: spec.loads[0], group: g)
                    }
                }
                try flush()
                for c in report.conflicts {
                    _ = try s.query("INSERT INTO \(SyncJournal.t("conflicts")) (sync_id, load_name, key, source_id, reason, detail) VALUES ($1, $2, $3, $4, $5, $6)",
                                    [report.syncId, c.load, c.key, c.v1Id.map(String.init), c.reason, c.detail])
                }
                let appliedJSON = String(decoding: (try? JSONSerialization.data(withJSONObject: report.applied, options: [.sortedKeys])) ?? Data("{}".utf8), as: UTF8.self)
                _ = try s.query("INSERT INTO \(SyncJournal.t("syncs")) (sync_id, tool_version, applied, conflicts) VALUES ($1, $2, $3::jsonb, $4)",
                                [report.syncId, report.toolVersion, appliedJSON, String(report.conflicts.count)])
                // A sync that found nothing to write and no conflict records nothing: running it
                // again changes nothing in V1, its journal included.
                try s.execute(dryRun || (report.total == 0 && report.conflicts.isEmpty) ? "ROLLBACK" : "COMMIT")
            } catch {
                try? s.execute("ROLLBACK")
                throw error
            }
            return report
        }
        if dryRun {
            // Nothing was kept: forget the pairings made for the forward checks.
            for a in report.appliedRows where a.kind == "inserted" { pairs.remove(table: a.table, id: a.v1Id) }
        }
        return report
    }

    static func lengthLimit(_ type: String) -> Int? {
        for prefix in ["character varying(", "character("] where type.hasPrefix(prefix) {
            return Int(type.dropFirst(prefix.count).dropLast())
        }
        return nil
    }

    static func fits(_ v: String, _ type: String) -> Bool {
        switch type {
        case "smallint": Int16(v) != nil
        case "integer": Int32(v) != nil
        default: Int64(v) != nil
        }
    }
}
