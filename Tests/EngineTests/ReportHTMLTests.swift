import Foundation
import MigrationEngine
import Testing

@Suite("report HTML kit")
struct ReportHTMLTests {
    @Test("one number format: integers grouped, amounts of one column with the same decimals, never rounded")
    func numbers() {
        #expect(ReportHTML.number(Int64(122_959_206)) == "122,959,206")
        #expect(ReportHTML.number(Int64(-1_000)) == "-1,000" && ReportHTML.number(Int64(999)) == "999")
        // V1 wrote 122959206, V2 122959206.00: the same value reads the same.
        #expect(ReportHTML.decimalColumn(["122959206", "122959206.00"]) == ["122,959,206.00", "122,959,206.00"])
        #expect(ReportHTML.decimalColumn(["1.5", "2.125", nil, "—"]) == ["1.500", "2.125", nil, "—"])
        #expect(ReportHTML.decimal("-1234.5", scale: 1) == "-1,234.5" && ReportHTML.decimal("12.345", scale: 1) == "12.345")
        #expect(ReportHTML.decimal("2026-05", scale: 2) == "2026-05", "not a number: unchanged")
    }

    @Test("free text: escaped, code spans as <code>, nothing else read as Markdown")
    func text() {
        #expect(ReportHTML.text("run `migrate --resume` <now>") == "run <code>migrate --resume</code> &lt;now&gt;")
        #expect(ReportHTML.text("a **b** `c") == "a **b** `c")
        #expect(ReportHTML.escape("\"'&") == "&quot;&#39;&amp;")
    }

    @Test("every page: the verdict at the top; linkRun writes relative links between the reports of a run")
    func linkRun() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ctm-link-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        for sub in ["", "runbook/verify", "assess"] {
            try FileManager.default.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true)
        }
        let page = ReportHTML.page(title: "T", meta: "m", verdict: .init("pass", "PASS: fine"), body: "<h2>x</h2>")
        #expect(page.range(of: "id=\"verdict\"")!.lowerBound < page.range(of: "<h2>")!.lowerBound)
        try page.write(toFile: root + "/rehearsal.html", atomically: true, encoding: .utf8)
        try page.write(toFile: root + "/runbook/verify/report.html", atomically: true, encoding: .utf8)
        try page.write(toFile: root + "/assess/report.html", atomically: true, encoding: .utf8)
        let linked = try ReportHTML.linkRun(root: root)
        #expect(Set(linked) == ["rehearsal.html", "runbook/verify/report.html", "assess/report.html"])
        let verify = try String(contentsOfFile: root + "/runbook/verify/report.html", encoding: .utf8)
        #expect(verify.contains("href=\"../../rehearsal.html\"") && verify.contains("href=\"../../assess/report.html\""))
        #expect(!verify.contains("href=\"../../runbook/verify/report.html\""), "no link to itself")
        // Linking twice replaces the links, it does not add a second set.
        try ReportHTML.linkRun(root: root)
        let again = try String(contentsOfFile: root + "/assess/report.html", encoding: .utf8)
        #expect(again.components(separatedBy: "href=\"../rehearsal.html\"").count == 2)
    }
}
