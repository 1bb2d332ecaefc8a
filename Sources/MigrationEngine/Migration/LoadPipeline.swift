import PGClient
import Foundation
import Logging
import Synchronization

/// Live counters of one load, read by the progress reporter.
public final class LoadCounters: Sendable {
    public let read = Atomic<Int64>(0)
    public let written = Atomic<Int64>(0)
    public let rejected = Atomic<Int64>(0)
    public init() {}
}

/// One batch: the target rows and the issues of up to `batchRows` consecutive source rows. A
/// batch is written, with its checkpoint, in one target transaction.
struct Batch: Sendable {
    /// Target rows: COPY text rows, or with `binary` a whole binary COPY stream (header, rows, trailer).
    var rows = CopyRowBuffer()
    var binary = false
    var issues = CopyRowBuffer()
    var read: Int64 = 0
    var written: Int64 = 0
    var rejected: Int64 = 0
    var warnings: Int64 = 0
    var lastSourceID: Int64 = .min
}

/// A CopyRow that can cross threads.
struct CopyRowBuffer: @unchecked Sendable {
    var row = CopyRow()
}

/// The byte buffers of written batches, handed back from a load's writer to its reader: each
/// batch is encoded into memory already mapped and sized, instead of a fresh array grown by
/// doubling and faulted in page by page (about a sixth of the reader's time in `perf`).
final class BatchBufferPool: Sendable {
    private let free = Mutex<[[UInt8]]>([])
    /// At most this many idle buffers (the channel holds two batches, one is being filled).
    static let limit = 3

    /// An empty buffer: a returned one, or a new one with room for `capacity` bytes.
    func take(capacity: Int) -> [UInt8] {
        if var b = free.withLock({ $0.popLast() }) {
            b.removeAll(keepingCapacity: true)
            return b
        }
        var b: [UInt8] = []
        b.reserveCapacity(capacity)
        return b
    }

    /// Takes back a written batch's buffer (moved out of it, so that the pool's is the only
    /// reference and the next batch reuses the memory instead of copying it).
    func give(_ buffer: inout [UInt8]) {
        var moved: [UInt8] = []
        swap(&moved, &buffer)
        free.withLock { pool in
            if pool.count < Self.limit { pool.append(moved) }
        }
    }
}

public struct LoadResult: Sendable {
    public var read: Int64 = 0
    public var written: Int64 = 0
    public var rejected: Int64 = 0
    public var warnings: Int64 = 0
    public var rejectedIDs = IDBitset()
    public var seconds: Double = 0
    /// Rows that would be written / rejected, per issue rule (dry run and summaries).
    public var issuesByRule: [String: Int64] = [:]
}

public struct LoadOptions: Sendable {
    public var batchRows: Int = 50_000
    public var batchBytes: Int = 4 << 20
    public var rebuildIndexes = true
    public var replicationRoleReplica = true
    /// Write target rows in binary COPY format where the encoder can carry every value exactly.
    public var binaryCopy = true
    public init() {}
}

/// Cuts one load's source rows into batches: parses each COPY text row, maps it (references,
/// then the transform), encodes the target row (binary COPY while every value has an exact
/// binary form, then text for the rest of the load) and records its issues. A batch is full at
/// `batchRows` source rows or `batchBytes` of target rows. No I/O: `add` takes a row, `take`
/// hands out the batches that are complete, `finish` closes the last one; `result` sums the
/// batches closed so far.
struct Batcher {
    let spec: LoadSpec
    let options: LoadOptions
    let logger: Logger
    private var mapper: RowMapper
    /// nil once the load is in text format.
    private(set) var encoder: BinaryCopyEncoder?
    private var batch: Batch
    private var fields: [String?] = []
    /// Closed batches not yet taken (at most two after one row: the binary rows before a
    /// fallback, and a full text batch).
    private var ready: [Batch] = []
    private(set) var result = LoadResult()
    /// Where each new batch's row buffer comes from (nil: a new array each time).
    private let buffers: BatchBufferPool?

    init(spec: LoadSpec, index: ReferenceIndex, options: LoadOptions, binary: BinaryCopyEncoder?, logger: Logger,
         buffers: BatchBufferPool? = nil) {
        self.spec = spec
        self.options = options
        self.logger = logger
        self.mapper = RowMapper(spec: spec, index: index)
        self.encoder = binary
        self.buffers = buffers
        self.batch = Batch()
        self.batch = newBatch()
    }

    private func newBatch() -> Batch {
        var b = Batch()
        // Room for a full batch and its last row.
        if let buffers { b.rows.row.bytes = buffers.take(capacity: options.batchBytes + (256 << 10)) }
        if encoder != nil {
            b.binary = true
            b.rows.row.bytes.append(contentsOf: BinaryCopyEncoder.header)
        }
        return b
    }

    /// Closes the batch being filled (its trailer, the result's sums) and starts the next.
    private mutating func close() {
        // In place: appending the trailer to a copy of `batch` would copy its whole buffer.
        if batch.binary { batch.rows.row.bytes.append(contentsOf: BinaryCopyEncoder.trailer) }
        result.read += batch.read; result.written += batch.written
        result.rejected += batch.rejected; result.warnings += batch.warnings
        ready.append(batch)
        batch = newBatch()
    }

    /// The oldest closed batch not yet taken.
    mutating func take() -> Batch? {
        ready.isEmpty ? nil : ready.removeFirst()
    }

    /// Adds one source row (a COPY text row), closing the batch when it is full. When a value
    /// has no exact binary form, the rows before it are closed as a binary batch of their own,
    /// and this row is the first of a text batch.
    mutating func add(_ raw: UnsafeRawBufferPointer) throws {
        CopyTextParser.fields(raw, into: &fields)
        guard let idText = fields[0], let id = Int64(idText) else {
            throw MigrationError(.queryFailed, "\(spec.source): a row without an integer key")
        }
        if let out = mapper.map(fields) {
            if let enc = encoder, let column = enc.appendRow(out, to: &batch.rows.row.bytes) {
                // A value binary COPY cannot carry exactly: the rows so far go as they are,
                // this row and the rest of the load as text.
                logger.notice("a value has no exact binary form; the load continues in COPY text format", metadata: [
                    "load": "\(spec.name)", "column": "\(spec.targetColumns[column])", "source_id": "\(id)",
                ])
                encoder = nil
                if batch.read > 0 { close() } else { batch = newBatch() }
            }
            if encoder == nil {
                batch.rows.row.newRow()
                for v in out { batch.rows.row.text(v) }
                batch.rows.row.endRow()
            }
            batch.written += 1
        } else {
            batch.rejected += 1
            result.rejectedIDs.insert(id)
        }
        for issue in mapper.issues.items {
            if issue.kind == .warning { batch.warnings += 1 }
            result.issuesByRule[issue.rule, default: 0] += 1
            batch.issues.row.newRow()
            batch.issues.row.text(spec.name)
            batch.issues.row.text(spec.source.name)
            batch.issues.row.int(id)
            batch.issues.row.text(issue.kind.rawValue)
            batch.issues.row.text(issue.rule)
            batch.issues.row.text(issue.column)
            batch.issues.row.text(issue.detail)
            batch.issues.row.endRow()
        }
        batch.read += 1
        batch.lastSourceID = id
        if batch.read >= options.batchRows || batch.rows.row.bytes.count >= options.batchBytes { close() }
    }

    /// Closes the last, partial batch (when it holds a source row) for `take`.
    mutating func finish() {
        if batch.read > 0 { close() }
    }
}

/// Streams one load: a reader on a V1 connection (COPY TO, parse, map, encode) hands batches
/// through a bounded channel to a writer on a V2 connection (COPY FROM, issues, checkpoint,
/// COMMIT). Resumes after the last committed source id.
struct LoadPipeline {
    let spec: LoadSpec
    let state: MigrationState
    let options: LoadOptions
    let runID: String
    let index: ReferenceIndex
    let counters: LoadCounters
    let logger: Logger
    let snapshot: String?
    /// Binary COPY for this load's target columns; nil: text COPY.
    var binary: BinaryCopyEncoder? = nil
    /// Row buffers the writer hands back to the reader.
    let buffers = BatchBufferPool()

    func sourceQuery(after lastID: Int64) -> String {
        // From the start: no bound (`> -9223372036854775808` would be read as a numeric and keep
        // the planner off the primary key's index).
        spec.sourceCopyQuery(where: lastID == .min ? nil : "\(SQL.ident(spec.sourceColumns[0])) > \(lastID)")
    }

    /// Reads and maps rows after `lastID`, sending batches; returns the rejected source ids.
    func read(_ v1: PGConnection, after lastID: Int64, channel: BlockingChannel<Batch>?, collect: @escaping @Sendable (Batch) -> Void = { _ in }) async throws -> LoadResult {
        let spec = self.spec
        let options = self.options
        let index = self.index
        let counters = self.counters
        let query = sourceQuery(after: lastID)
        let snapshot = self.snapshot
        let logger = self.logger
        let binary = channel == nil ? nil : self.binary
        let buffers = self.buffers
        return try await v1.withSession { s in
            try s.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            if let snapshot { try s.execute("SET TRANSACTION SNAPSHOT \(SQL.literal(snapshot))") }
            var batcher = Batcher(spec: spec, index: index, options: options, binary: binary, logger: logger,
                                  buffers: channel == nil ? nil : buffers)
            /// Hands a full batch on.
            func ship(_ b: Batch) throws {
                if let channel {
                    guard channel.send(b) else { throw MigrationError(.interrupted, "the writer stopped") }
                } else {
                    collect(b)
                }
            }
            do {
                try s.copyOut(query) { raw in
                    try batcher.add(raw)
                    counters.read.add(1, ordering: .relaxed)
                    while let full = batcher.take() {
                        try s.checkCancelled()
                        try ship(full)
                    }
                }
                batcher.finish()
                while let last = batcher.take() { try ship(last) }
                try s.execute("COMMIT")
                channel?.close()
            } catch {
                try? s.execute("ROLLBACK")
                channel?.close(failure: error)
                throw error
            }
            return batcher.result
        }
    }

    /// Writes batches until the channel closes; each batch with its checkpoint in one transaction.
    func write(_ v2: PGConnection, channel: BlockingChannel<Batch>, startedAt: Date, priorSeconds: Double) async throws {
        let spec = self.spec
        let state = self.state
        let options = self.options
        let runID = self.runID
        let counters = self.counters
        let buffers = self.buffers
        try await v2.withSession { s in
            do {
                let cols = spec.targetColumns.map(SQL.ident).joined(separator: ", ")
                while var batch = try channel.receive() {
                    try s.checkCancelled()
                    // Per transaction (SET LOCAL), never for the session: nothing of it can
                    // outlive the batch on a pooled server session, whatever ends this run.
                    try s.execute("BEGIN; SET LOCAL synchronous_commit = off" + (options.replicationRoleReplica ? "; SET LOCAL session_replication_role = replica" : ""))
                    do {
                        if batch.written > 0 {
                            var w = try s.copyIn("COPY \(spec.target.sql) (\(cols)) FROM STDIN\(batch.binary ? " (FORMAT binary)" : "")")
                            try batch.rows.row.bytes.withUnsafeBytes { try w.writeRows(bytes: $0, count: Int(batch.written)) }
                            _ = try w.finish()
                        }
                        if !batch.issues.row.bytes.isEmpty {
                            var w = try s.copyIn("COPY \(state.t("row_issues")) (load_name, source_table, source_id, kind, rule, column_name, detail) FROM STDIN")
                            try batch.issues.row.bytes.withUnsafeBytes { try w.writeRows(bytes: $0, count: 0) }
                            _ = try w.finish()
                        }
                        let seconds = priorSeconds + Date().timeIntervalSince(startedAt)
                        _ = try s.query("""
                            UPDATE \(state.t("load_progress")) SET status = 'loading', last_source_id = $2,
                                rows_read = rows_read + $3, rows_written = rows_written + $4, rows_rejected = rows_rejected + $5,
                                warnings = warnings + $6, batches = batches + 1, load_seconds = $7, run_id = $8
                            WHERE load_name = $1
                            """, [spec.name, String(batch.lastSourceID), String(batch.read), String(batch.written),
                                  String(batch.rejected), String(batch.warnings), String(seconds), runID])
                        try s.execute("COMMIT")
                    } catch {
                        try? s.execute("ROLLBACK")
                        throw error
                    }
                    counters.written.add(batch.written, ordering: .relaxed)
                    counters.rejected.add(batch.rejected, ordering: .relaxed)
                    buffers.give(&batch.rows.row.bytes)
                }
            } catch {
                channel.close(failure: error)
                throw error
            }
        }
    }
}
