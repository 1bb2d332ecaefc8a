/// The decisions `sync-v2-to-v1` makes for one group of changed V2 rows (the V2 rows that make
/// up one V1 row), without I/O: when a change is a conflict for a person, which V1 columns an
/// update rewrites, whether V1's column types hold the values, and whether the forward mapping
/// of the resulting V1 row gives back exactly the V2 rows. `ReverseSync` reads and writes the
/// databases around them.
enum SyncRules {
    struct Conflict: Equatable {
        var load: String
        var reason: String
        var detail: String
    }

    /// A conflict found before V1 is read: the V2 row moved after the assessment this sync
    /// previewed, or a load the V1 row needs has no V2 row for the key.
    static func precheck(_ g: ReverseSync.Group, _ spec: ReverseSpec) -> Conflict? {
        if let moved = g.movedSince {
            return Conflict(load: moved, reason: "changed_since_assessment",
                            detail: "the V2 row changed after the assessment this sync previewed; run sync-v2-to-v1 again to carry the newer change")
        }
        let missing = spec.loads.filter { g.rows[$0] == nil }
        if !missing.isEmpty {
            return Conflict(load: spec.loads[0], reason: "incomplete_row",
                            detail: "no V2 row in \(missing.joined(separator: ", ")) for this key; V1 needs all of \(spec.loads.joined(separator: ", "))")
        }
        return nil
    }

    /// The V1 row an update writes: `current` (the V1 row as it is), with the V1 columns of every
    /// V2 column that changed taken from `values` (the reverse mapping of the V2 rows). A V1
    /// column no changed V2 column maps to keeps its value, even where the reverse mapping
    /// could not restore it (a lossy rule's original).
    static func updated(current: [String?], values: [String?], changes: [String: CapturedChange], spec: ReverseSpec, columns: [String]) -> [String?] {
        var row = current
        for (load, change) in changes {
            for c in change.changedColumns {
                for v1col in spec.columnSources[load]?[c] ?? [] {
                    if let k = columns.firstIndex(of: v1col) { row[k] = values[k] }
                }
            }
        }
        return row
    }

    /// A value V1's column type would refuse or change (a longer text than `varchar(n)`, a
    /// number that is not a whole one of the integer's size); the id (first) is not checked.
    static func typeProblem(_ row: [String?], columns: [String], in table: TableInfo) -> String? {
        for (k, col) in columns.enumerated() where k > 0 {
            guard let v = row[k], let ci = table.columns.first(where: { $0.name == col }) else { continue }
            if let limit = ReverseSync.lengthLimit(ci.type), v.count > limit {
                return "\(col): \(v.count) characters, V1 allows \(limit)"
            }
            if ["smallint", "integer", "bigint"].contains(ci.type), !ReverseSync.fits(v, ci.type) {
                return "\(col): \(v) is not a \(ci.type)"
            }
        }
        return nil
    }

    enum RoundTrip: Equatable {
        /// Each load's canonical row hash, for the journal of synced rows.
        case faithful([String: UInt64])
        case mismatch(String)
    }

    /// Whether the forward mapping of `row` (V1 values) gives back exactly `v2Rows` for each of
    /// `loads`, compared as verify compares (canonically). A password hash is never shown.
    static func roundTrip(_ row: [String?], loads: [LoadSpec], layouts: [String: Verifier.Layout], v2Rows: [String: [String?]],
                          index: ReferenceIndex) -> RoundTrip {
        var hashes: [String: UInt64] = [:]
        for l in loads {
            guard let layout = layouts[l.name], let v2Row = v2Rows[l.name] else { return .mismatch("no V2 row in \(l.name)") }
            var mapper = RowMapper(spec: l, index: index)
            guard let mapped = mapper.map(row) else {
                return .mismatch("the V1 row would be rejected by the mapping (\(mapper.issues.items.first { $0.kind == .reject }?.rule ?? "?"))")
            }
            var bytes: [UInt8] = []
            for k in 0..<l.targetColumns.count {
                let a = Canonical.bytes(mapped[k], layout.kinds[k])
                let b = Canonical.bytes(v2Row[k], layout.kinds[k])
                if a != b {
                    let shown = layout.sensitive[k] ? "‹hidden›" : "\(mapped[k] ?? "NULL") instead of \(v2Row[k] ?? "NULL")"
                    return .mismatch("\(l.targetColumns[k]) would come back as \(shown)")
                }
                bytes += a
            }
            hashes[l.name] = RowHash(bytes).a
        }
        return .faithful(hashes)
    }

    /// A delete V1 cannot follow: the V1 row is made of several V2 rows and not all were deleted.
    static func incompleteDelete(_ g: ReverseSync.Group, _ spec: ReverseSpec) -> Conflict? {
        let notDeleted = spec.loads.filter { g.changes[$0]?.kind != "deleted" }
        guard !notDeleted.isEmpty else { return nil }
        return Conflict(load: spec.loads[0], reason: "incomplete_delete",
                        detail: "deleted in \(g.changes.keys.sorted().joined(separator: ", ")) but not in \(notDeleted.joined(separator: ", "))")
    }
}
