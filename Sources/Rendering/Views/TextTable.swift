/// A table for people: a header, rows and an optional total; the first column left-aligned, the
/// others right-aligned, each as wide as its widest cell (at least `minimum`), so every row ends
/// in the same column.
public enum TextTable {
    public static func lines(_ header: [String], _ rows: [[String]], total: [String]? = nil, minimum: [Int] = []) -> [String] {
        let all = [header] + rows + (total.map { [$0] } ?? [])
        let widths = header.indices.map { i in max(minimum.indices.contains(i) ? minimum[i] : 0, all.map { $0.indices.contains(i) ? $0[i].count : 0 }.max() ?? 0) }
        return all.map { row in
            row.indices.map { i in i == 0 ? pad(row[i], widths[i] + 2) : pad(row[i], widths[i], right: true) }.joined()
        }
    }
}
