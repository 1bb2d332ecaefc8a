import PGClient
import Foundation

/// What every HTML report shares: the one escaping function, the one number format, the page
/// frame with its verdict at the top, and the links between the reports of one run. Pages are
/// self-contained: no script, no external resource.
public enum ReportHTML {
    /// The one HTML escaping function of every report (text and attribute values).
    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// Free text the tool wrote (a check's summary, a hint): escaped, its `code spans` as
    /// `<code>` elements; no other Markdown is read.
    public static func text(_ text: String) -> String {
        let parts = text.split(separator: "`", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 3 else { return escape(text) }
        var out = ""
        for (i, p) in parts.enumerated() {
            if i % 2 == 0 { out += escape(p) } else if i < parts.count - 1 { out += "<code>\(escape(p))</code>" } else { out += "`" + escape(p) }
        }
        return out
    }

    /// The one integer format of every report: thousands separated by commas (`1,234,567`).
    public static func number(_ v: Int64) -> String {
        let s = String(v.magnitude)
        var out = ""
        for (i, c) in s.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (v < 0 ? "-" : "") + String(out.reversed())
    }

    public static func number(_ v: Int) -> String { number(Int64(v)) }

    /// Digits after the decimal point of a plain decimal string (`12.50` → 2, `7` → 0); nil when
    /// the string is not a plain decimal number.
    public static func decimalScale(_ s: String) -> Int? {
        guard s.wholeMatch(of: /-?[0-9]+(\.[0-9]+)?/) != nil else { return nil }
        guard let dot = s.firstIndex(of: ".") else { return 0 }
        return s.distance(from: dot, to: s.endIndex) - 1
    }

    /// A decimal string in the report's number format with exactly `scale` decimals, so that
    /// `122959206` and `122959206.00` read the same (`122,959,206.00`). Padding with zeros and
    /// grouping only: the value is never rounded (a longer fraction is kept). Anything that is not
    /// a plain decimal is returned unchanged.
    public static func decimal(_ s: String, scale: Int) -> String {
        guard let have = decimalScale(s) else { return s }
        let negative = s.hasPrefix("-")
        let body = negative ? String(s.dropFirst()) : s
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        var intPart = String(parts[0])
        var grouped = ""
        for (i, c) in intPart.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { grouped.append(",") }
            grouped.append(c)
        }
        intPart = String(grouped.reversed())
        var frac = parts.count > 1 ? String(parts[1]) : ""
        if have < scale { frac += String(repeating: "0", count: scale - have) }
        return (negative ? "-" : "") + intPart + (frac.isEmpty ? "" : "." + frac)
    }

    /// Formats every value of one column alike: the largest number of decimals any of them has.
    public static func decimalColumn(_ values: [String?]) -> [String?] {
        let scale = values.compactMap { $0.flatMap(decimalScale) }.max() ?? 0
        return values.map { $0.map { decimal($0, scale: scale) } }
    }

    public static func seconds(_ s: Double) -> String { String(format: "%.1f s", s) }

    /// A verdict as every report shows it at the top: `pass`, `fail`, `error` or `warn`.
    public struct Verdict: Sendable {
        public var status: String
        public var text: String
        public init(_ status: String, _ text: String) {
            self.status = status
            self.text = text
        }
    }

    /// The marker where `linkRun` writes the links to the other reports of the run.
    static let navStart = "<nav id=\"run-reports\">"
    static let navEnd = "</nav><!--/run-reports-->"

    public static let css = """
        body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1150px;color:#1d2433;padding:0 1rem;line-height:1.4}
        h1{margin-bottom:.2rem} h2{margin-top:1.8rem} .meta{color:#5b6475;font-size:.9rem}
        .verdict{font-size:1.25rem;font-weight:600;padding:.8rem 1rem;border-radius:8px;margin:1rem 0;border-left:8px solid}
        .verdict.pass{background:#e3f6e8;color:#135c2c;border-color:#2f8f4e} .verdict.fail{background:#fde5e5;color:#8a1c1c;border-color:#c0392b}
        .verdict.error,.verdict.warn{background:#fff1d6;color:#7a4b00;border-color:#d08c00}
        .badge{display:inline-block;padding:.1rem .5rem;border-radius:4px;font-weight:600;font-size:.8rem}
        .badge.pass{background:#e3f6e8;color:#135c2c} .badge.fail{background:#fde5e5;color:#8a1c1c} .badge.error,.badge.warn{background:#fff1d6;color:#7a4b00}
        .badge.not_run{background:#eceff4;color:#4c566a}
        table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem;font-size:.88rem}
        th,td{border-bottom:1px solid #e1e5ec;padding:.35rem .5rem;text-align:left;vertical-align:top}
        th{background:#f5f7fa} td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
        code{font-size:.85em;word-break:break-all} em.null{color:#8a93a6} .reasons{color:#5b6475;font-size:.85rem}
        nav#run-reports{background:#f5f7fa;border-radius:6px;padding:.5rem .8rem;font-size:.9rem;margin:.6rem 0}
        nav#run-reports a{margin-right:.9rem;white-space:nowrap} nav#run-reports .here{font-weight:600;margin-right:.9rem}
        .note{color:#5b6475;font-size:.85rem}
        """

    /// A whole page: title, meta line, the verdict, the run's links (filled by `linkRun`), body.
    public static func page(title: String, meta: String, verdict: Verdict, verdictAttributes: String = "", extraCSS: String = "", body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title)): \(escape(verdict.status.uppercased()))</title>
        <style>
        \(css)
        \(extraCSS)
        </style></head><body>
        <h1>\(escape(title))</h1>
        <div class="meta">\(meta)</div>
        <div id="verdict" class="verdict \(escape(verdict.status))" data-verdict="\(escape(verdict.status))"\(verdictAttributes)>\(text(verdict.text))</div>
        \(navStart)\(navEnd)
        \(body)
        </body></html>

        """
    }

    /// A reject or warning map as visible text, largest first: `invalid_email 3 · duplicate 1`.
    public static func reasons(_ byReason: [String: Int64]) -> String {
        byReason.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { "\(escape($0.key)) \(number($0.value))" }.joined(separator: " · ")
    }

    /// The reports of one run under `root` (every `*.html` below it, by relative path).
    public static func runReports(root: String) -> [String] {
        guard let e = FileManager.default.enumerator(atPath: root) else { return [] }
        var out: [String] = []
        while let p = e.nextObject() as? String {
            if p.hasSuffix(".html") && !p.hasPrefix("snapshots/") { out.append(p) }
        }
        return out.sorted { a, b in
            let da = a.split(separator: "/").count, db = b.split(separator: "/").count
            return da != db ? da < db : a < b
        }
    }

    /// A human name for a report from its path: `runbook/verify/report.html` → `runbook/verify`.
    static func label(_ path: String) -> String {
        let dir = (path as NSString).deletingLastPathComponent
        return path.hasSuffix("/report.html") || path == "report.html" ? (dir.isEmpty ? "report" : dir) : (path as NSString).deletingPathExtension
    }

    /// Writes into every report of the run under `root` the links to all the others (relative,
    /// so the directory can be copied or archived whole). Returns the reports linked.
    @discardableResult
    public static func linkRun(root: String) throws -> [String] {
        let reports = runReports(root: root)
        for r in reports {
            let path = (root as NSString).appendingPathComponent(r)
            guard var text = try? String(contentsOfFile: path, encoding: .utf8),
                  let start = text.range(of: navStart), let end = text.range(of: navEnd, range: start.upperBound..<text.endIndex) else { continue }
            let depth = r.split(separator: "/").count - 1
            let up = String(repeating: "../", count: depth)
            var nav = "Reports of this run: "
            for other in reports {
                if other == r { nav += "<span class=\"here\">\(escape(label(other)))</span>"; continue }
                nav += "<a href=\"\(escape(up + other))\">\(escape(label(other)))</a>"
            }
            text.replaceSubrange(start.upperBound..<end.lowerBound, with: nav)
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        }
        return reports
    }
}
