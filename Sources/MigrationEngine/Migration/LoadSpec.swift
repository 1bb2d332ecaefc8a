import PGClient
import Foundation

/// A problem with one source row: a reject (the row goes nowhere) or a warning (the row goes,
/// with a value changed as the rules say). Both are kept in the migration schema, never dropped.
public struct RowIssue: Sendable, Equatable {
    public enum Kind: String, Sendable { case reject, warning }
    public var kind: Kind
    public var rule: String
    public var column: String
    public var detail: String
}

/// Collects the issues of one row while the mapping runs.
public struct RowIssues {
    public private(set) var items: [RowIssue] = []
    public init() {}
    public mutating func warn(_ rule: String, column: String, _ detail: String) {
        items.append(RowIssue(kind: .warning, rule: rule, column: column, detail: detail))
    }
    public mutating func reject(_ rule: String, column: String, _ detail: String) {
        items.append(RowIssue(kind: .reject, rule: rule, column: column, detail: detail))
    }
    public var rejected: Bool { items.contains { $0.kind == .reject } }
    mutating func clear() { items.removeAll(keepingCapacity: true) }
}

/// A reference from a source column to a parent source table. The engine checks it against the
/// parent's ids (present in the source and not rejected) before the row's transform runs.
public struct ReferenceRule: Sendable {
    public var column: String
    public var parentTable: String
    /// A required reference (NOT NULL in the target) rejects the row when its parent is missing
    /// (`missingRule`) or was rejected (`parentRejectedRule`); an optional one becomes NULL with a
    /// warning.
    public var required: Bool
    public var missingRule: String
    public var parentRejectedRule: String

    public init(_ column: String, parent: String, required: Bool,
                missingRule: String = "orphan_reference", parentRejectedRule: String = "parent_rejected") {
        self.column = column
        self.parentTable = parent
        self.required = required
        self.missingRule = missingRule
        self.parentRejectedRule = parentRejectedRule
    }
}

/// How one target table is filled from one source table: the unit that is ordered, loaded,
/// checkpointed and verified. The application module supplies these; the engine knows nothing
/// else about the schemas.
public struct LoadSpec: Sendable {
    /// Unique name, also the checkpoint key (e.g. "profiles").
    public var name: String
    public var source: TableName
    /// Columns read from the source, in this order; the first is the integer primary key.
    public var sourceColumns: [String]
    public var target: TableName
    /// Columns written to the target, in the order `transform` returns them.
    public var targetColumns: [String]
    public var references: [ReferenceRule]
    /// Maps one source row (text values, references already checked) to target values in the
    /// target's text input format, or returns nil after recording a reject in `issues`.
    public var transform: @Sendable (_ row: [String?], _ issues: inout RowIssues) -> [String?]?
    /// Whether the engine may drop this target's secondary indexes during the load and rebuild
    /// them after (never for tables owned by someone else, such as `auth.users`).
    public var mayRebuildIndexes: Bool
    /// For a target shared with another owner (e.g. Supabase Auth's `auth.users`): the key
    /// column and the keys this migration writes for source ids 1…n. Guards count, and
    /// `rollback --clear-v2` deletes, only those rows. Nil: the migration owns the whole table.
    public var ownedKeys: OwnedKeys?
    /// A condition on the source rows this load reads (SQL on the source table), or nil for all
    /// of them: e.g. source rows whose target row is derived by someone else.
    public var sourceCondition: String?
    /// Target columns that after cutover belong to the target's own system (Supabase Auth's
    /// bookkeeping: tokens of pending confirmations and recoveries, its own `updated_at`):
    /// verify compares them before cutover; change capture, assessment and sync ignore them
    /// after it, because the source has no place for them.
    public var targetOwnedColumns: Set<String>
    /// How a target column reads after cutover when the target's own system moves another copy
    /// of it (SQL over the target row, e.g. the latest of three sign-in times); absent: as stored.
    public var targetReadsAfterCutover: [String: String]

    /// The one way this load's source rows are read, by migrate, verify, capture, assess and
    /// sync alike: its source columns, of the rows `sourceCondition` selects and `condition`
    /// further narrows (a key range, a list of ids), in key order, as a COPY out.
    public func sourceCopyQuery(where condition: String? = nil) -> String {
        let cols = sourceColumns.map(SQL.ident).joined(separator: ", ")
        let key = SQL.ident(sourceColumns[0])
        let conditions = [condition, sourceCondition].compactMap { $0 }.map { "(\($0))" }
        return "COPY (SELECT \(cols) FROM \(source.sql)\(conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")) ORDER BY \(key)) TO STDOUT"
    }

    public struct OwnedKeys: Sendable {
        public var column: String
        public var keys: @Sendable (_ upToSourceID: Int64) -> [String]
        /// A further condition on the target rows (SQL), for a key column that is not unique by
        /// itself in the shared table (e.g. `provider = 'email'` for a user's identities).
        public var condition: String?
        public init(column: String, condition: String? = nil, keys: @escaping @Sendable (_ upToSourceID: Int64) -> [String]) {
            self.column = column
            self.condition = condition
            self.keys = keys
        }

        /// The SQL condition selecting the owned rows whose key is in the text array `keys`
        /// (a parameter such as `$1`, or a literal).
        public func predicate(keys: String) -> String {
            "\(SQL.ident(column))::text = ANY(\(keys)::text[])" + (condition.map { " AND (\($0))" } ?? "")
        }
    }

    public init(name: String, source: TableName, sourceColumns: [String], target: TableName, targetColumns: [String],
                references: [ReferenceRule] = [], mayRebuildIndexes: Bool = true, ownedKeys: OwnedKeys? = nil,
                sourceCondition: String? = nil, targetOwnedColumns: Set<String> = [], targetReadsAfterCutover: [String: String] = [:],
                transform: @escaping @Sendable (_ row: [String?], _ issues: inout RowIssues) -> [String?]?) {
        self.name = name
        self.source = source
        self.sourceColumns = sourceColumns
        self.target = target
        self.targetColumns = targetColumns
        self.references = references
        self.mayRebuildIndexes = mayRebuildIndexes
        self.ownedKeys = ownedKeys
        self.sourceCondition = sourceCondition
        self.targetOwnedColumns = targetOwnedColumns
        self.targetReadsAfterCutover = targetReadsAfterCutover
        self.transform = transform
    }

    /// Position of a source column (a programming error if absent).
    public static func index(_ columns: [String], _ name: String) -> Int {
        guard let i = columns.firstIndex(of: name) else { preconditionFailure("no source column \(name)") }
        return i
    }
}

/// Source ids per table: present in the source, and rejected so far.
public struct ReferenceIndex: Sendable {
    public var present: [String: IDBitset] = [:]
    public var rejected: [String: IDBitset] = [:]
    public init() {}

    /// Records that a load of source table `table` rejected `ids`: a later load's reference to one
    /// of them is a reference to a rejected parent. Migrate, verify and the change capture all
    /// merge a load's rejects through here.
    public mutating func addRejected(_ ids: IDBitset, of table: String) {
        ids.forEachID { rejected[table, default: IDBitset()].insert($0) }
    }

    /// As ``addRejected(_:of:)``, for a list of ids (those recorded at arming).
    public mutating func addRejected(_ ids: some Sequence<Int64>, of table: String) {
        for id in ids { rejected[table, default: IDBitset()].insert(id) }
    }
}

/// Applies a load's reference rules, then its transform: the one place a source row becomes a
/// target row. Migrate, dry-run and verification all go through it.
public struct RowMapper {
    public let spec: LoadSpec
    /// Per reference rule: its column's position and the parent's id sets, looked up once here
    /// rather than by table name for every row.
    let refs: [(index: Int, rule: ReferenceRule, present: IDBitset, rejected: IDBitset)]
    public var issues = RowIssues()

    public init(spec: LoadSpec, index: ReferenceIndex) {
        self.spec = spec
        self.refs = spec.references.map {
            (LoadSpec.index(spec.sourceColumns, $0.column), $0, index.present[$0.parentTable] ?? IDBitset(), index.rejected[$0.parentTable] ?? IDBitset())
        }
    }

    /// Maps `row` (source values in `spec.sourceColumns` order). Returns nil when rejected;
    /// `issues` then holds why. `issues` is reset on every call.
    public mutating func map(_ row: [String?]) -> [String?]? {
        issues.clear()
        var row = row
        for (i, rule, presentIDs, rejectedIDs) in refs {
            guard let text = row[i] else { continue }
            guard let id = Int64(text) else {
                issues.reject("invalid_reference", column: rule.column, "\(rule.column)=\(text) is not an id")
                return nil
            }
            let present = presentIDs.contains(id)
            let rejected = rejectedIDs.contains(id)
            if present && !rejected { continue }
            let what = present ? "\(rule.parentTable) \(id) was rejected" : "\(rule.parentTable) \(id) does not exist"
            if rule.required {
                issues.reject(present ? rule.parentRejectedRule : rule.missingRule, column: rule.column, "\(rule.column)=\(id): \(what)")
                return nil
            }
            issues.warn(present ? "reference_to_rejected_row" : "dangling_reference", column: rule.column, "\(rule.column)=\(id): \(what); set to NULL")
            row[i] = nil
        }
        let out = spec.transform(row, &issues)
        if issues.rejected { return nil }
        return out
    }
}
