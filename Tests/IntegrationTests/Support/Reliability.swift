import Foundation
import MigrationEngine
import Testing

/// Shared knobs and bookkeeping of the fault and hostile-input suite (the `Reliability …` suites).
///
/// - `CTM_RELIABILITY_SCALE` (default 0.01): generator scale of the data the faults hit; the
///   suite runs at 0.01 in CI and `scripts/reliability.sh --scale 1` runs it at full size.
/// - `CTM_RELIABILITY_RESULTS`: when set, every fault injected and every hostile input tried is
///   appended to that file as one JSON object per line; `scripts/reliability.sh` turns the lines
///   into RELIABILITY.md's table.
enum Reliability {
    static var scale: Double {
        ProcessInfo.processInfo.environment["CTM_RELIABILITY_SCALE"].flatMap(Double.init) ?? 0.01
    }

    /// Rows per committed migrate batch, so that even the CI scale has many kill points.
    static var batchRows: Int { max(200, Int(scale * 40_000)) }

    struct Entry: Codable, Sendable {
        var suite: String
        /// "crash", "connection", "concurrency", "hostile data", "hostile configuration", "security".
        var category: String
        /// What was done to the tool, e.g. "kill -9 of migrate at a random moment".
        var fault: String
        /// How many times it was injected or tried.
        var injected: Int
        /// How many of those the tool came through as the suite demands.
        var survived: Int
        /// Rows lost or duplicated, as measured by the check after the fault (nil when not applicable).
        var rowsLost: Int?
        /// What "survived" was checked against.
        var check: String
        var scale: Double
    }

    private static let lock = NSLock()

    /// Records one line of the table. `survived` must be measured, never assumed.
    static func record(_ category: String, _ fault: String, injected: Int, survived: Int, rowsLost: Int? = nil,
                       check: String, suite: String = #fileID) {
        guard let path = ProcessInfo.processInfo.environment["CTM_RELIABILITY_RESULTS"], !path.isEmpty else { return }
        let entry = Entry(suite: (suite as NSString).lastPathComponent, category: category, fault: fault, injected: injected,
                          survived: survived, rowsLost: rowsLost, check: check, scale: scale)
        guard var line = try? JSONEncoder().encode(entry) else { return }
        line.append(0x0A)
        lock.withLock {
            if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
            guard let h = FileHandle(forWritingAtPath: path) else { return }
            h.seekToEndOfFile()
            h.write(line)
            try? h.close()
        }
    }

    /// Every password of the pairs' clusters, and `extra` ones (a wrong password tried).
    static func secrets(_ pairs: DatabasePair..., extra: [String] = []) -> [String] {
        Array(Set(pairs.flatMap { Array($0.v1.passwords.values) + Array($0.v2.passwords.values) } + extra))
    }

    /// Fails the test when any of `secrets` occurs in `text` (any output, log, report or export).
    static func expectNoSecrets(_ text: String, _ secrets: [String], where place: String,
                                sourceLocation: SourceLocation = #_sourceLocation) {
        for s in secrets where !s.isEmpty && text.contains(s) {
            Issue.record("a password appears in \(place)", sourceLocation: sourceLocation)
        }
    }

    /// Every regular file under `dir`, read as text (invalid UTF-8 decoded leniently).
    static func filesText(under dir: String) -> [(path: String, text: String)] {
        guard let e = FileManager.default.enumerator(atPath: dir) else { return [] }
        var out: [(String, String)] = []
        while let rel = e.nextObject() as? String {
            let p = (dir as NSString).appendingPathComponent(rel)
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir), !isDir.boolValue,
                  let d = FileManager.default.contents(atPath: p) else { continue }
            out.append((p, String(decoding: d, as: UTF8.self)))
        }
        return out
    }
}
