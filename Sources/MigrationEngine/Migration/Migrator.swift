import PGClient
import Foundation
import Logging
import Synchronization

/// Everything the engine needs to know about one migration, supplied by the application module.
public struct MigrationPlan: Sendable {
    public var loads: [LoadSpec]
    /// The schema in the target that holds the migration's state (never emptied by rollback).
    public var stateSchema: String
    /// The source role the application writes with (must not be able to write during the load).
    public var appRole: String
    public var sourceSchemas: [String]
    public var targetSchemas: [String]
    public var extraTargetTables: [TableName]

    /// The target key of a source row (the forward key rule, pairings first): for change
    /// assessment, which must name the target rows of source rows deleted after cutover.
    public var sourceKey: @Sendable (_ table: String, _ id: Int64) -> String
    /// How target rows go back to the source (sync after cutover); empty when not supported.
    public var reverse: [ReverseSpec]
    /// Source ids paired with target keys by earlier syncs (read from the source at start).
    public var pairs: KeyPairs

    public init(loads: [LoadSpec], stateSchema: String, appRole: String, sourceSchemas: [String],
                targetSchemas: [String], extraTargetTables: [TableName],
                sourceKey: @escaping @Sendable (_ table: String, _ id: Int64) -> String = { t, id in "\(t):\(id)" },
                reverse: [ReverseSpec] = [], pairs: KeyPairs = KeyPairs()) {
        self.sourceKey = sourceKey
        self.reverse = reverse
        self.pairs = pairs
        self.loads = loads
        self.stateSchema = stateSchema
        self.appRole = appRole
        self.sourceSchemas = sourceSchemas
        self.targetSchemas = targetSchemas
        self.extraTargetTables = extraTargetTables
    }
}

extension MigrationPlan {
    /// The reference index the mapping needs: for each table a load references, the ids V1
    /// holds (one COPY of the key column each). `loads` narrows it to the references of those loads.
    /// Migrate, its dry run, verify and the change capture all start from it.
    public func referenceIndex(_ v1: PGConnection, loads: [LoadSpec]? = nil) async throws -> ReferenceIndex {
        var index = ReferenceIndex()
        for parent in Set((loads ?? self.loads).flatMap { $0.references.map(\.parentTable) }).sorted() {
            index.present[parent] = try await presentIDs(v1, table: parent)
        }
        return index
    }

    /// Per load, the loads it waits on: those into a table its table references (from the
    /// catalog's foreign keys) and those of a source table its reference rules read.
    public func dependencies(catalog: Catalog) -> [String: Set<String>] {
        var deps: [String: Set<String>] = [:]
        for load in loads {
            var d: Set<String> = []
            for fk in catalog.foreignKeys where fk.table == load.target && fk.referencedTable != load.target {
                for m in loads where m.target == fk.referencedTable { d.insert(m.name) }
            }
            for ref in load.references {
                for m in loads where m.source.name == ref.parentTable && m.name != load.name { d.insert(m.name) }
            }
            deps[load.name] = d
        }
        return deps
    }

    /// The loads (of `among`, all by default) in an order where each comes after the loads it
    /// waits on, plan order otherwise: how verify, the dry run and the change capture walk them.
    public func loadOrder(_ deps: [String: Set<String>], among: Set<String>? = nil) throws -> [LoadSpec] {
        let wanted = loads.filter { among?.contains($0.name) ?? true }
        var order: [LoadSpec] = []
        var done: Set<String> = []
        while order.count < wanted.count {
            guard let next = wanted.first(where: { !done.contains($0.name) && (deps[$0.name] ?? []).isSubset(of: done) }) else {
                throw MigrationError(.internal, "the loads wait on each other: \(wanted.filter { !done.contains($0.name) }.map(\.name).joined(separator: ", "))")
            }
            order.append(next)
            done.insert(next.name)
        }
        return order
    }

    func presentIDs(_ v1: PGConnection, table: String) async throws -> IDBitset {
        let schema = sourceSchemas.first ?? "public"
        let key = loads.first { $0.source.name == table }?.sourceColumns.first ?? "id"
        return try await v1.withSession { s in
            var set = IDBitset()
            var fields: [String?] = []
            try s.copyOut("COPY (SELECT \(SQL.ident(key)) FROM \(SQL.qualified(schema, table))) TO STDOUT") { raw in
                CopyTextParser.fields(raw, into: &fields)
                if let t = fields[0], let id = Int64(t) { set.insert(id) }
            }
            return set
        }
    }
}

public struct MigrateOptions: Sendable {
    public var dryRun = false
    public var allowWritableSource = false
    /// Loads that may run at once (tables that do not depend on each other).
    public var jobs = 2
    public var load = LoadOptions()
    /// `maintenance_work_mem` while a set-aside key or index is rebuilt or a foreign key
    /// validated (raised to this, never lowered; nil: V2's own setting). See `DDLJournal`.
    public var maintenanceWorkMem: String? = MigrateOptions.defaultMaintenanceWorkMem
    public static let defaultMaintenanceWorkMem = "256MB"
    public var toolVersion = "dev"
    public init() {}
}

public struct LoadStatus: Sendable {
    public var name: String
    public var source: String
    public var target: String
    public var sourceRows: Int64
    public var read: Int64
    public var written: Int64
    public var rejected: Int64
    public var warnings: Int64
    public var seconds: Double
    public var state: String
    /// Source rows whose batch has committed in V2 (written + rejected), earlier runs included.
    public var committed: Int64 = 0
    /// Of `committed`, the rows committed before this run started (a resumed load).
    public var committedBefore: Int64 = 0
}

public enum MigrationEvent: Sendable {
    /// A load finished by an earlier run had indexes or keys dropped by a run that crashed
    /// before rebuilding them: `count` of them were rebuilt now.
    case leftoversRebuilt(load: String, table: String, count: Int)
    /// The connection was lost; every committed batch is kept and the run continues after
    /// `delaySeconds` (retry `attempt` of `retries`).
    case reconnecting(reason: String, delaySeconds: Int, attempt: Int, retries: Int)
    case planned([LoadStatus])
    case progress([LoadStatus])
    case loadFinished(LoadStatus)
    /// A load begins (or resumes) streaming rows in this run.
    case loadStarted(LoadStatus)
    /// Work after the rows: `load` nil for the whole run. Phases: "keys and indexes" (a load's
    /// primary key, unique constraints and indexes rebuilt, then ANALYZE), "foreign keys"
    /// (restored, validating every row), "orphan check".
    case phaseStarted(load: String?, phase: String)
    case phaseFinished(load: String?, phase: String, seconds: Double, detail: String)
}

public struct IssueCount: Sendable {
    public var load: String
    public var kind: String
    public var rule: String
    public var count: Int64
}

public struct MigrationSummary: Sendable {
    public var runID: String
    public var dryRun: Bool
    public var alreadyComplete: Bool
    public var loads: [LoadStatus]
    public var issues: [IssueCount]
    public var orphans: [(String, Int64)]
    public var seconds: Double
    /// Source rows this run committed (a resumed run: not those of earlier runs; 0 when already complete).
    public var rowsThisRun: Int64 = 0
}

/// Runs a migration: guards, order from the target's foreign keys, parallel streaming loads with
/// per-batch checkpoints, index rebuilds, a final orphan check and the run record.
public struct Migrator: Sendable {
    public let plan: MigrationPlan
    public let source: ConnectionConfig
    public let target: ConnectionConfig
    public let options: MigrateOptions
    public let logger: Logger
    public let events: @Sendable (MigrationEvent) -> Void

    /// Advisory lock key held on the target for the whole run: one migrate at a time.
    public static let lockKey: Int64 = 0x636F_636F_6174_7261

    public init(plan: MigrationPlan, source: ConnectionConfig, target: ConnectionConfig, options: MigrateOptions,
                logger: Logger, events: @escaping @Sendable (MigrationEvent) -> Void = { _ in }) {
        self.plan = plan
        self.source = source
        self.target = target
        self.options = options
        self.logger = logger
        self.events = events
    }

    var state: MigrationState { MigrationState(schema: plan.stateSchema) }
    /// The DDL journal, rebuilding with the run's `maintenance_work_mem`.
    var ddlJournal: DDLJournal { DDLJournal(state: state, maintenanceWorkMem: options.maintenanceWorkMem) }

    /// `run`, again after a lost connection (every committed batch is kept, so a retry
    /// continues after the last checkpoint), up to `policy.retries` times, with a
    /// `.reconnecting` event before each.
    public func run(retrying policy: RetryPolicy) async throws -> MigrationSummary {
        let events = self.events
        return try await withRetries(policy, what: "migrate", logger: logger, onRetry: { n, delay, error in
            events(.reconnecting(reason: error.message, delaySeconds: RetryPolicy.wholeSeconds(delay), attempt: n, retries: policy.retries))
        }) {
            try await run()
        }
    }

    public func run() async throws -> MigrationSummary {
        let started = Date()
        let v1 = try await PGConnection.connect(source, logger: logger)
        let v2: PGConnection
        do { v2 = try await PGConnection.connect(target, logger: logger) } catch { await v1.close(); throw error }
        var runID = UUID().uuidString.lowercased()
        var registered = false
        var lock: MigrationLock?
        do {
            // 1. One migrate at a time against this target.
            lock = try await MigrationLock.acquire(target, logger: logger)
            guard lock != nil else {
                throw MigrationError(.refused, "another migrate is already running against V2 (it holds the migration lock). Wait for it to finish, or stop it; its progress is kept.")
            }
            // 2. The right databases, with every column the mapping needs.
            try await checkSchemas(v1: v1, v2: v2)
            // 3. V1 must be read-only for the application.
            if !options.allowWritableSource {
                try await checkSourceReadOnly(v1)
            }
            if options.dryRun {
                let summary = try await dryRun(v1: v1, v2: v2, started: started)
                await lock?.release()
                await v1.close(); await v2.close()
                return summary
            }
            // 4. V2 holds nothing this migration did not write (checked before anything is written).
            var progress = try await state.progress(v2)
            try await checkNoForeignRows(v2, progress: progress, v1: v1)
            // 5. State schema, identity of both sides.
            try await state.create(v2)
            // Holding the lock, any run still marked running died without a word (kill -9, lost
            // connection, server restart): say so in its record.
            try await v2.execute("UPDATE \(state.t("runs")) SET outcome = 'crashed', finished_at = clock_timestamp(), message = coalesce(message, 'ended without recording an outcome (killed, or its connection was lost); the next run resumed from its checkpoints') WHERE outcome = 'running' AND command = 'migrate'")
            try await state.checkIdentity(v2, side: "V1", of: v1)
            try await state.checkIdentity(v2, side: "V2", of: v2)
            // 6. A crash may have left DDL dropped for a finished load: rebuild it now.
            let journal = ddlJournal
            for load in plan.loads where progress[load.name]?.status == "done" {
                let (restored, _) = try await journal.restore(v2, table: load.target.description, kinds: ["index", "constraint"])
                if restored > 0 { events(.leftoversRebuilt(load: load.name, table: load.target.description, count: restored)) }
            }
            if !plan.loads.isEmpty && plan.loads.allSatisfy({ progress[$0.name]?.status == "done" }) {
                let (_, broken) = try await journal.restore(v2)
                var summary = try await summarize(v2, runID: runID, started: started, alreadyComplete: true)
                let targetCatalog = try await Catalog.read(v2, schemas: plan.targetSchemas, extraTables: plan.extraTargetTables)
                summary.orphans = try await orphanCounts(v2, catalog: targetCatalog)
                let unvalidated = try await DDLJournal.unvalidatedForeignKeys(v2, tables: plan.loads.map(\.target), state: state)
                await lock?.release()
                await v1.close(); await v2.close()
                try failOnOrphans(summary.orphans, broken: broken, unvalidated: unvalidated)
                return summary
            }
            // 7. The run record, and a checkpoint row per load with its source size.
            try await v2.query("INSERT INTO \(state.t("runs")) (run_id, command, tool_version, v1_url, v2_url, os_user) VALUES ($1, 'migrate', $2, $3, $4, $5)",
                               [runID, options.toolVersion, source.redactedURL, target.redactedURL, ProcessInfo.processInfo.environment["USER"] ?? ""])
            registered = true
            for load in plan.loads {
                let n = try await v1.scalar("SELECT count(*) FROM \(load.source.sql)\(load.sourceCondition.map { " WHERE \($0)" } ?? "")") ?? "0"
                try await v2.query("""
                    INSERT INTO \(state.t("load_progress")) (load_name, source_table, target_table, source_rows, run_id, last_source_id)
                    VALUES ($1, $2, $3, $4, $5, \(Int64.min))
                    ON CONFLICT (load_name) DO UPDATE SET source_rows = EXCLUDED.source_rows
                    """, [load.name, load.source.description, load.target.description, n, runID])
            }
            progress = try await state.progress(v2)
            let rowsBefore = plan.loads.reduce(Int64(0)) { $0 + (progress[$1.name]?.rowsRead ?? 0) }
            // 8. Reference index: source ids per parent table, minus rejects already recorded.
            var index = try await plan.referenceIndex(v1)
            index.rejected = try await state.rejectedIDs(v2)
            // 9. Keys and indexes out of the way (journaled), then load in foreign-key order,
            //    independent tables in parallel; each table's keys come back when it is loaded.
            let targetCatalog = try await Catalog.read(v2, schemas: plan.targetSchemas, extraTables: plan.extraTargetTables)
            // Every precondition of the loads before anything is dropped: V1's snapshot (exported
            // now and held open for the loads), V2's session_replication_role.
            let snapshot = try await exportSnapshot(v1)
            try await checkReplicationRole(v2)
            if options.load.rebuildIndexes {
                let rebuildable = plan.loads.filter(\.mayRebuildIndexes)
                let pendingTables = rebuildable.filter { progress[$0.name]?.status != "done" }.map(\.target)
                let dropped = try await journal.drop(v2, tables: pendingTables, loadSet: Set(rebuildable.map(\.target)), runID: runID)
                if dropped > 0 { logger.info("keys and indexes set aside for the load", metadata: ["objects": "\(dropped)"]) }
            }
            let validated = try await runLoads(progress: progress, index: index, catalog: targetCatalog, runID: runID, snapshot: snapshot)
            try? await v1.execute("COMMIT")
            // 10. Foreign keys back, validating every row; fail closed on any orphan (the load
            //     ran with triggers off).
            events(.phaseStarted(load: nil, phase: "foreign keys"))
            var t0 = Date()
            let knownBroken = Set(validated.broken.map { "\($0.table).\($0.name)" })
            let rest = try await journal.restore(v2) { !knownBroken.contains("\($0.table).\($0.name)") }
            let broken = validated.broken + rest.broken
            let restoredFKs = validated.names.union(rest.restored.filter { $0.kind == "foreign_key" }.map { "\($0.table).\($0.name)" })
                .subtracting(broken.map { "\($0.table).\($0.name)" })
            logger.debug("foreign keys restored", metadata: ["seconds": "\(Date().timeIntervalSince(t0))", "validated": "\(restoredFKs.count)"])
            events(.phaseFinished(load: nil, phase: "foreign keys", seconds: Date().timeIntervalSince(t0),
                                  detail: "\(restoredFKs.count) validated in this run" + (broken.isEmpty ? "" : ", \(broken.count) do not validate")))
            t0 = Date()
            events(.phaseStarted(load: nil, phase: "orphan check"))
            // Foreign keys restored (validated) in this run need no second look; all others do.
            // The catalog read again: a resumed run read it while keys were still set aside.
            let finalCatalog = try await Catalog.read(v2, schemas: plan.targetSchemas, extraTables: plan.extraTargetTables)
            let orphans = try await orphanCounts(v2, catalog: finalCatalog, skipping: restoredFKs)
            logger.debug("orphans counted", metadata: ["seconds": "\(Date().timeIntervalSince(t0))"])
            events(.phaseFinished(load: nil, phase: "orphan check", seconds: Date().timeIntervalSince(t0),
                                  detail: "\(orphans.count) foreign keys, \(orphans.reduce(Int64(0)) { $0 + $1.1 }) orphans"))
            var summary = try await summarize(v2, runID: runID, started: started, alreadyComplete: false)
            summary.orphans = orphans
            summary.rowsThisRun = summary.loads.reduce(Int64(0)) { $0 + $1.read } - rowsBefore
            let bad = orphans.filter { $0.1 > 0 }
            // Fail closed: every foreign key of the migrated tables must be present and validated.
            let unvalidated = try await DDLJournal.unvalidatedForeignKeys(v2, tables: plan.loads.map(\.target), state: state)
                .filter { k in !broken.contains { $0.table == k.table && $0.name == k.name } }
            let outcome = bad.isEmpty && broken.isEmpty && unvalidated.isEmpty ? "completed" : "failed"
            try await v2.query("UPDATE \(state.t("runs")) SET finished_at = clock_timestamp(), outcome = $2, counts = $3::jsonb, message = $4 WHERE run_id = $1",
                               [runID, outcome, countsJSON(summary.loads), outcome == "failed" ? "orphans: \(bad); broken foreign keys: \(broken.map(\.name)); not validated: \(unvalidated.map(\.description))" : nil])
            await lock?.release()
            await v1.close(); await v2.close()
            try failOnOrphans(orphans, broken: broken, unvalidated: unvalidated)
            return summary
        } catch {
            let interrupted = (error as? MigrationError)?.code == .interrupted || error is CancellationError || Task.isCancelled
            if registered {
                let message = Redactor.redact(String(describing: error))
                let stateRef = state
                let id = runID
                await Task.detached {
                    v2.clearCancellation()
                    _ = try? await v2.query("UPDATE \(stateRef.t("runs")) SET finished_at = clock_timestamp(), outcome = $2, message = $3 WHERE run_id = $1",
                                            [id, interrupted ? "interrupted" : "failed", message])
                }.value
            }
            runID = ""
            await lock?.release()
            await v1.close(); await v2.close()
            if interrupted, !((error as? MigrationError)?.code == .interrupted) {
                throw MigrationError(.interrupted, "interrupted at a safe point", cause: TextCause("\(error)"))
            }
            throw error
        }
    }

    /// V2 refused to write a file: which table, and the two ways on.
    static func diskFull(_ error: MigrationError, table: TableName, load: String) -> MigrationError {
        MigrationError(.diskFull, "V2 ran out of disk space while loading \(table) (load \(load)): \(error.message.hasSuffix(".") ? String(error.message.dropLast()) : error.message). Every batch committed before is kept. Free space on V2's server (or grow the volume or tablespace that holds \(table)), then resume with `\(ToolCommand.line("migrate --resume"))`: it continues after the last committed batch. To give up instead, `rollback --clear-v2` empties V2, freeing space table by table.", cause: error, sqlState: error.sqlState)
    }

    func failOnOrphans(_ orphans: [(String, Int64)], broken: [DDLJournal.BrokenForeignKey], unvalidated: [DDLJournal.UnvalidatedKey] = []) throws {
        let bad = orphans.filter { $0.1 > 0 }
        if !bad.isEmpty || !broken.isEmpty {
            let what = bad.map { "\($0.0): \($0.1)" } + broken.map { "\($0.table).\($0.name) does not validate (kept NOT VALID and journaled)" }
                + unvalidated.map(\.description)
            throw MigrationError(.checkFailed, "the load finished but V2's references do not hold: \(what.joined(separator: "; ")). Do not cut over; run verify-integrity and clear V2 with rollback --clear-v2.")
        }
        if !unvalidated.isEmpty {
            let fix = unvalidated.filter(\.present).map { "ALTER TABLE \($0.table) VALIDATE CONSTRAINT \(SQL.ident($0.name));" }
            throw MigrationError(.checkFailed, "V2 does not enforce every foreign key of the migrated tables: \(unvalidated.map(\.description).joined(separator: "; ")). Do not cut over: run `migrate --resume` (it validates the keys it journaled)\(fix.isEmpty ? "" : ", or validate them yourself: \(fix.joined(separator: " "))"), then verify-integrity.")
        }
    }

    // MARK: guards

    func checkSchemas(v1: PGConnection, v2: PGConnection) async throws {
        if try await MigrationState.sameDatabase(v1, v2) {
            throw MigrationError(.refused, "V1 and V2 are the same database (\(source.redactedURL)). Check V1_DATABASE_URL and V2_DATABASE_URL.")
        }
        let c1 = try await Catalog.read(v1, schemas: plan.sourceSchemas)
        let c2 = try await Catalog.read(v2, schemas: plan.targetSchemas, extraTables: plan.extraTargetTables)
        var problems: [String] = []
        for load in plan.loads {
            if let t = c1.tables[load.source] {
                let have = Set(t.columns.map(\.name))
                let missing = load.sourceColumns.filter { !have.contains($0) }
                if !missing.isEmpty { problems.append("V1 \(load.source) lacks \(missing.joined(separator: ", "))") }
            } else {
                problems.append("V1 has no table \(load.source)")
            }
            if let t = c2.tables[load.target] {
                let have = Set(t.columns.map(\.name))
                let missing = load.targetColumns.filter { !have.contains($0) }
                if !missing.isEmpty { problems.append("V2 \(load.target) lacks \(missing.joined(separator: ", "))") }
            } else {
                problems.append("V2 has no table \(load.target)")
            }
        }
        if !problems.isEmpty {
            throw MigrationError(.refused, "the databases do not have the schemas the mapping needs: \(problems.joined(separator: "; ")). Check that V1_DATABASE_URL points at V1 and V2_DATABASE_URL at V2 with the V2 schema applied. Nothing was written.")
        }
    }

    func checkSourceReadOnly(_ v1: PGConnection) async throws {
        guard try await v1.scalar("SELECT 1 FROM pg_roles WHERE rolname = $1", [plan.appRole]) != nil else {
            throw MigrationError(.configuration, "V1 has no role \(plan.appRole). Name the application's role with --app-role (or app_role in the config file).")
        }
        let r = try await v1.query("""
            SELECT n.nspname || '.' || c.relname,
                   array_to_string(array_remove(ARRAY[
                     CASE WHEN has_table_privilege($1, c.oid, 'INSERT') THEN 'INSERT' END,
                     CASE WHEN has_table_privilege($1, c.oid, 'UPDATE') THEN 'UPDATE' END,
                     CASE WHEN has_table_privilege($1, c.oid, 'DELETE') THEN 'DELETE' END,
                     CASE WHEN has_table_privilege($1, c.oid, 'TRUNCATE') THEN 'TRUNCATE' END], NULL), ',')
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY($2::text[])
            ORDER BY 1
            """, [plan.appRole, "{" + plan.sourceSchemas.joined(separator: ",") + "}"])
        let writable = r.rows.filter { !($0[1] ?? "").isEmpty }
        if !writable.isEmpty {
            let sample = writable.prefix(4).map { "\($0[0]!) (\($0[1]!))" }.joined(separator: ", ")
            throw MigrationError(.refused, "V1 is still writable by \(plan.appRole): \(sample)\(writable.count > 4 ? " and \(writable.count - 4) more tables" : ""). The plan requires V1 read-only first: run `read-only enable --app-role \(plan.appRole)`, or pass --allow-writable-v1 for a rehearsal. Nothing was written.")
        }
    }

    func checkNoForeignRows(_ v2: PGConnection, progress: [String: MigrationState.Progress], v1: PGConnection) async throws {
        var foreign: [String] = []
        for load in plan.loads {
            let count: Int64
            if let owned = load.ownedKeys {
                let maxID = Int64(try await v1.scalar("SELECT coalesce(max(\(SQL.ident(load.sourceColumns[0]))), 0) FROM \(load.source.sql)") ?? "0") ?? 0
                count = try await Self.countOwned(v2, load: load, keys: owned.keys(maxID))
            } else {
                count = Int64(try await v2.scalar("SELECT count(*) FROM \(load.target.sql)") ?? "0") ?? 0
            }
            let ours = progress[load.name]?.rowsWritten ?? 0
            if count != ours {
                foreign.append("\(load.target): \(count) rows, \(ours) written by this migration")
            }
        }
        if !foreign.isEmpty {
            let shared = plan.loads.filter { $0.ownedKeys != nil }.map(\.target.description)
            let keeps = shared.isEmpty ? "" : " In \(shared.joined(separator: ", ")) it removes only the rows a migration wrote: rows created in V2 itself (a user who signed up there, its identity, sessions and profile) stay."
            throw MigrationError(.refused, "V2 already holds rows this migration did not write (\(foreign.joined(separator: "; "))). `rollback --clear-v2` (it snapshots first, and lists what it deletes and keeps before asking) empties the other tables whole.\(keeps) Then migrate again. Nothing was written.")
        }
    }

    /// Rows of a shared target whose key is one of `keys` (those this migration writes).
    static func countOwned(_ c: PGConnection, load: LoadSpec, keys: [String]) async throws -> Int64 {
        guard let owned = load.ownedKeys, !keys.isEmpty else { return 0 }
        return Int64(try await c.scalar("SELECT count(*) FROM \(load.target.sql) WHERE \(owned.predicate(keys: "$1"))",
                                        [pgTextArray(keys)]) ?? "0") ?? 0
    }

    // MARK: loads

    func exportSnapshot(_ v1: PGConnection) async throws -> String? {
        try await v1.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        do {
            return try await v1.scalar("SELECT pg_export_snapshot()")
        } catch let error as MigrationError where error.code == .missingPrivilege {
            try? await v1.execute("ROLLBACK")
            throw MigrationError(.missingPrivilege, "V1: \(source.user ?? "the tool's user") may not call pg_export_snapshot(): every load reads the one snapshot of V1 it exports. Fix: GRANT EXECUTE ON FUNCTION pg_export_snapshot() TO \(source.user.map(SQL.ident) ?? "<user>"); (as V1's superuser). Nothing was dropped or written in V2.", cause: error)
        }
    }

    /// The loads write with `session_replication_role = replica` (user triggers off): tried in a
    /// transaction rolled back, before any key or index is set aside.
    func checkReplicationRole(_ v2: PGConnection) async throws {
        guard options.load.replicationRoleReplica else { return }
        do {
            try await v2.execute("BEGIN; SET LOCAL session_replication_role = replica; ROLLBACK;")
        } catch let error as MigrationError where error.code == .missingPrivilege {
            try? await v2.execute("ROLLBACK")
            throw MigrationError(.missingPrivilege, "V2: \(target.user ?? "the tool's user") may not SET session_replication_role (the load runs with triggers off). Fix (PostgreSQL 15+): GRANT SET ON PARAMETER session_replication_role TO \(target.user.map(SQL.ident) ?? "<user>"); Nothing was dropped or written in V2.", cause: error)
        }
    }

    /// Load → the loads it waits for: those filling a table its target references (target
    /// foreign keys), and those reading a source table its reference rules look up.
    /// Foreign keys restored (and so validated) while loading, and those that did not validate.
    struct Validated: Sendable {
        var names: Set<String> = []
        var broken: [DDLJournal.BrokenForeignKey] = []
    }

    enum TaskOutcome: Sendable {
        case copied(String, LoadResult)
        case rebuilt(String)
        case foreignKeys(Validated)
    }

    /// Runs the loads in the order ``LoadScheduler`` gives: each load's copy in a slot of
    /// `--jobs`, its table's rebuild as soon as its rows are committed (beside the next copies),
    /// and the foreign keys between rebuilt tables restored on a connection of their own.
    func runLoads(progress: [String: MigrationState.Progress], index startIndex: ReferenceIndex, catalog: Catalog,
                  runID: String, snapshot: String?) async throws -> Validated {
        let byName = Dictionary(uniqueKeysWithValues: plan.loads.map { ($0.name, $0) })
        var scheduler = try LoadScheduler(loads: plan.loads.map { ($0.name, $0.target.description) }, dependencies: plan.dependencies(catalog: catalog),
                                          rows: progress.compactMapValues(\.sourceRows), done: Set(plan.loads.filter { progress[$0.name]?.status == "done" }.map(\.name)),
                                          jobs: options.jobs)
        let counters = Dictionary(uniqueKeysWithValues: plan.loads.map { ($0.name, LoadCounters()) })
        events(.planned(plan.loads.map { status($0, progress[$0.name], counters[$0.name]!, state: progress[$0.name]?.status ?? "pending", before: progress[$0.name]) }))
        var index = startIndex
        let running = LockedSet()
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                let names = running.snapshot
                if names.isEmpty { continue }
                events(.progress(plan.loads.filter { names.contains($0.name) }.map { status($0, progress[$0.name], counters[$0.name]!, state: "loading", before: progress[$0.name]) }))
            }
        }
        defer { ticker.cancel() }
        var validated = Validated()
        var started: [String: Date] = [:]
        try await withThrowingTaskGroup(of: TaskOutcome.self) { group in
            func perform(_ actions: [LoadScheduler.Action]) {
                for action in actions {
                    switch action {
                    case .copy(let name):
                        let spec = byName[name]!
                        let snapshotIndex = index
                        let prior = progress[name]
                        let counter = counters[name]!
                        running.insert(name)
                        started[name] = Date()
                        group.addTask {
                            do {
                                return .copied(name, try await self.copyLoad(spec, prior: prior, index: snapshotIndex, runID: runID, counters: counter, snapshot: snapshot, catalog: catalog))
                            } catch let error as MigrationError where ClearTarget.isDiskFull(error) {
                                throw Self.diskFull(error, table: spec.target, load: name)
                            }
                        }
                    case .rebuild(let name):
                        let spec = byName[name]!
                        let prior = progress[name]
                        let counter = counters[name]!
                        let since = started[name] ?? Date()
                        group.addTask {
                            do {
                                try await self.rebuildLoad(spec, prior: prior, counters: counter, startedAt: since)
                                return .rebuilt(name)
                            } catch let error as MigrationError where ClearTarget.isDiskFull(error) {
                                throw Self.diskFull(error, table: spec.target, load: name)
                            }
                        }
                    case .restoreForeignKeys(let tables):
                        // A key found broken stays journaled (NOT VALID); it is not scanned again in this run.
                        let knownBroken = Set(validated.broken.map { "\($0.table).\($0.name)" })
                        group.addTask {
                            let t0 = Date()
                            let c = try await PGConnection.reconnect(self.target, logger: self.logger)
                            defer { Task { await c.close() } }
                            let r = try await self.ddlJournal.restore(c) { e in
                                e.kind == "foreign_key" && tables.contains(e.table) && e.referencesTable.map(tables.contains) == true
                                    && !knownBroken.contains("\(e.table).\(e.name)")
                            }
                            if !r.restored.isEmpty || !r.broken.isEmpty {
                                self.events(.phaseFinished(load: nil, phase: "foreign keys", seconds: Date().timeIntervalSince(t0),
                                                           detail: "\(r.restored.map(\.name).sorted().joined(separator: ", ")) validated" + (r.broken.isEmpty ? "" : "; \(r.broken.map(\.name).sorted().joined(separator: ", ")) do not validate")))
                            }
                            return .foreignKeys(Validated(names: Set(r.restored.map { "\($0.table).\($0.name)" }), broken: r.broken))
                        }
                    }
                }
            }
            perform(try scheduler.start())
            while let outcome = try await group.next() {
                switch outcome {
                case .foreignKeys(let v):
                    validated.names.formUnion(v.names)
                    validated.broken += v.broken
                    perform(scheduler.restoreFinished())
                case .copied(let name, let result):
                    running.remove(name)
                    let spec = byName[name]!
                    index.addRejected(result.rejectedIDs, of: spec.source.name)
                    perform(try scheduler.copyFinished(name))
                case .rebuilt(let name):
                    perform(try scheduler.rebuildFinished(name))
                }
            }
        }
        return validated
    }

    /// Copies a load's rows (resuming after the last committed id); returns what it read, wrote and rejected.
    func copyLoad(_ spec: LoadSpec, prior: MigrationState.Progress?, index: ReferenceIndex, runID: String,
                  counters: LoadCounters, snapshot: String?, catalog: Catalog) async throws -> LoadResult {
        let v1 = try await PGConnection.reconnect(source, logger: logger)
        let v2: PGConnection
        do { v2 = try await PGConnection.reconnect(target, logger: logger) } catch { await v1.close(); throw error }
        defer { Task { await v1.close(); await v2.close() } }
        var pipeline = LoadPipeline(spec: spec, state: state, options: options.load, runID: runID, index: index,
                                    counters: counters, logger: logger, snapshot: snapshot)
        if options.load.binaryCopy {
            // The target's column types, from V2's catalog, decide the binary encoding.
            let table = catalog.tables[spec.target]
            let columns = spec.targetColumns.compactMap { c in table?.columns.first { $0.name == c } }
            if columns.count == spec.targetColumns.count { pipeline.binary = BinaryCopyEncoder(columns: columns) }
            if pipeline.binary == nil { logger.info("load uses COPY text format", metadata: ["load": "\(spec.name)"]) }
        }
        counters.read.store(prior?.rowsRead ?? 0, ordering: .relaxed)
        counters.written.store(prior?.rowsWritten ?? 0, ordering: .relaxed)
        counters.rejected.store(prior?.rowsRejected ?? 0, ordering: .relaxed)
        let started = Date()
        if prior?.status ?? "pending" == "pending" {
            try await v2.query("UPDATE \(state.t("load_progress")) SET status = 'loading', started_at = coalesce(started_at, clock_timestamp()), run_id = $2 WHERE load_name = $1", [spec.name, runID])
            logger.debug("load started", metadata: ["load": "\(spec.name)"])
        } else {
            logger.debug("load resumed", metadata: ["load": "\(spec.name)", "after_id": "\(prior?.lastSourceID ?? Int64.min)"])
        }
        events(.loadStarted(status(spec, prior, counters, state: "loading", before: prior)))
        let channel = BlockingChannel<Batch>(capacity: 2)
        async let readResult = pipeline.read(v1, after: prior?.lastSourceID ?? Int64.min, channel: channel)  // ids may be negative
        async let writeDone: Void = pipeline.write(v2, channel: channel, startedAt: started, priorSeconds: prior?.seconds ?? 0)
        var result: LoadResult
        do {
            result = try await readResult
            try await writeDone
        } catch {
            channel.close(failure: error)
            // When the writer failed, the reader only saw "the writer stopped": report the
            // writer's error, which is the cause (it is the reader's own when the reader failed).
            try await writeDone
            throw error
        }
        result.seconds = Date().timeIntervalSince(started)
        return result
    }

    /// Rebuilds a loaded table's keys and indexes exactly as recorded, refreshes the planner's
    /// statistics, then marks the load done (its time counted from the start of its copy).
    func rebuildLoad(_ spec: LoadSpec, prior: MigrationState.Progress?, counters: LoadCounters, startedAt started: Date) async throws {
        let v2 = try await PGConnection.reconnect(target, logger: logger)
        defer { Task { await v2.close() } }
        let rebuildStarted = Date()
        events(.progress([status(spec, prior, counters, state: "loading", before: prior)]))
        events(.phaseStarted(load: spec.name, phase: "keys and indexes"))
        let (restored, _) = try await ddlJournal.restore(v2, table: spec.target.description, kinds: ["index", "constraint"])
        try await v2.execute("ANALYZE \(spec.target.sql)")
        try await v2.query("UPDATE \(state.t("load_progress")) SET status = 'done', finished_at = clock_timestamp(), load_seconds = $2 WHERE load_name = $1",
                           [spec.name, String((prior?.seconds ?? 0) + Date().timeIntervalSince(started))])
        events(.phaseFinished(load: spec.name, phase: "keys and indexes", seconds: Date().timeIntervalSince(rebuildStarted), detail: "\(restored) rebuilt"))
        let p = try await state.progress(v2)[spec.name]
        events(.loadFinished(status(spec, p, counters, state: "done", before: prior)))
        logger.debug("load done", metadata: ["load": "\(spec.name)", "ddl_rebuilt": "\(restored)", "seconds": "\(Int(Date().timeIntervalSince(started)))"])
    }

    /// `before`: the load's progress when this run started (what earlier runs committed).
    func status(_ spec: LoadSpec, _ p: MigrationState.Progress?, _ c: LoadCounters, state: String, before: MigrationState.Progress? = nil) -> LoadStatus {
        let written = c.written.load(ordering: .relaxed), rejected = c.rejected.load(ordering: .relaxed)
        return LoadStatus(name: spec.name, source: spec.source.description, target: spec.target.description,
                          sourceRows: p?.sourceRows ?? 0, read: c.read.load(ordering: .relaxed),
                          written: written, rejected: rejected,
                          warnings: p?.warnings ?? 0, seconds: p?.seconds ?? 0, state: state,
                          committed: written + rejected, committedBefore: (before?.rowsWritten ?? 0) + (before?.rowsRejected ?? 0))
    }

    // MARK: checks and summaries

    func orphanCounts(_ v2: PGConnection, catalog: Catalog, skipping validated: Set<String> = []) async throws -> [(String, Int64)] {
        let targets = Set(plan.loads.map(\.target))
        var out: [(String, Int64)] = []
        for fk in catalog.foreignKeys where targets.contains(fk.table) {
            let label = "\(fk.table).\(fk.columns.joined(separator: ",")) → \(fk.referencedTable)"
            if validated.contains("\(fk.table).\(fk.name)") {
                out.append((label, 0))
                continue
            }
            let notNull = fk.columns.map { "c.\(SQL.ident($0)) IS NOT NULL" }.joined(separator: " AND ")
            let match = zip(fk.columns, fk.referencedColumns).map { "p.\(SQL.ident($1)) = c.\(SQL.ident($0))" }.joined(separator: " AND ")
            let n = try await v2.scalar("SELECT count(*) FROM \(fk.table.sql) c WHERE \(notNull) AND NOT EXISTS (SELECT 1 FROM \(fk.referencedTable.sql) p WHERE \(match))") ?? "0"
            out.append((label, Int64(n) ?? 0))
        }
        return out
    }

    func summarize(_ v2: PGConnection, runID: String, started: Date, alreadyComplete: Bool) async throws -> MigrationSummary {
        let progress = try await state.progress(v2)
        let loads = plan.loads.map { l -> LoadStatus in
            let p = progress[l.name]
            return LoadStatus(name: l.name, source: l.source.description, target: l.target.description, sourceRows: p?.sourceRows ?? 0,
                              read: p?.rowsRead ?? 0, written: p?.rowsWritten ?? 0, rejected: p?.rowsRejected ?? 0,
                              warnings: p?.warnings ?? 0, seconds: p?.seconds ?? 0, state: p?.status ?? "pending")
        }
        let issues = try await v2.query("SELECT load_name, kind, rule, count(*) FROM \(state.t("row_issues")) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
            .rows.map { IssueCount(load: $0[0]!, kind: $0[1]!, rule: $0[2]!, count: Int64($0[3]!)!) }
        return MigrationSummary(runID: runID, dryRun: false, alreadyComplete: alreadyComplete, loads: loads, issues: issues,
                                orphans: [], seconds: Date().timeIntervalSince(started))
    }

    func countsJSON(_ loads: [LoadStatus]) -> String {
        let obj = Dictionary(uniqueKeysWithValues: loads.map { ($0.name, ["source_rows": $0.sourceRows, "written": $0.written, "rejected": $0.rejected, "warnings": $0.warnings]) })
        let data = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    // MARK: dry run

    func dryRun(v1: PGConnection, v2: PGConnection, started: Date) async throws -> MigrationSummary {
        let catalog = try await Catalog.read(v2, schemas: plan.targetSchemas, extraTables: plan.extraTargetTables)
        let order = try plan.loadOrder(plan.dependencies(catalog: catalog))
        var index = try await plan.referenceIndex(v1)
        var loads: [LoadStatus] = []
        var issues: [IssueCount] = []
        for spec in order {
            let counters = LoadCounters()
            let pipeline = LoadPipeline(spec: spec, state: state, options: options.load, runID: "", index: index,
                                        counters: counters, logger: logger, snapshot: nil)
            let t0 = Date()
            let r = try await pipeline.read(v1, after: Int64.min, channel: nil)
            index.addRejected(r.rejectedIDs, of: spec.source.name)
            let st = LoadStatus(name: spec.name, source: spec.source.description, target: spec.target.description, sourceRows: r.read,
                                read: r.read, written: r.written, rejected: r.rejected, warnings: r.warnings,
                                seconds: Date().timeIntervalSince(t0), state: "dry-run")
            loads.append(st)
            events(.loadFinished(st))
            for (rule, n) in r.issuesByRule.sorted(by: { $0.key < $1.key }) {
                issues.append(IssueCount(load: spec.name, kind: "issue", rule: rule, count: n))
            }
        }
        var summary = MigrationSummary(runID: "", dryRun: true, alreadyComplete: false, loads: loads, issues: issues, orphans: [],
                                       seconds: Date().timeIntervalSince(started))
        summary.rowsThisRun = loads.reduce(Int64(0)) { $0 + $1.read }
        return summary
    }

    /// Writes every recorded reject and warning as CSV (table, V1 id, kind, rule, column, detail).
    public static func exportIssuesCSV(_ v2: PGConnection, stateSchema: String, to path: String) async throws -> Int {
        let state = MigrationState(schema: stateSchema)
        guard try await state.exists(v2) else {
            try Data("load,source_table,source_id,kind,rule,column,detail\n".utf8).write(to: URL(fileURLWithPath: path))
            return 0
        }
        let r = try await v2.query("SELECT load_name, source_table, source_id, kind, rule, column_name, detail FROM \(state.t("row_issues")) ORDER BY source_table, source_id, load_name, rule")
        var out = "load,source_table,source_id,kind,rule,column,detail\n"
        func q(_ s: String?) -> String {
            let v = s ?? ""
            return v.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + v.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : v
        }
        for row in r.rows { out += row.map(q).joined(separator: ",") + "\n" }
        do {
            try Data(out.utf8).write(to: URL(fileURLWithPath: path))
        } catch {
            throw MigrationError(.configuration, "cannot write \(path): \(error.localizedDescription). Choose a writable path for --rejects-csv.")
        }
        return r.rows.count
    }
}


final class LockedSet: Sendable {
    private let set = Mutex<Set<String>>([])
    func insert(_ s: String) { set.withLock { _ = $0.insert(s) } }
    func remove(_ s: String) { set.withLock { _ = $0.remove(s) } }
    var snapshot: Set<String> { self.set.withLock { $0 } }
}

/// A PostgreSQL array literal of text values (for `= ANY($1::text[])`).
public func pgTextArray(_ items: [String]) -> String {
    "{" + items.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }.joined(separator: ",") + "}"
}
