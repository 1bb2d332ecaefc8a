import Foundation
import MigrationEngine
import Testing

/// A report page as headless Chromium renders it, and the checks every report must pass: a
/// verdict at the top, no raw Markdown in its text, every link resolving to a file that exists.
struct ReportDOM {
    let file: String
    let dom: String

    /// Opens `file` in headless Chromium and returns its DOM.
    static func open(_ file: String) async throws -> ReportDOM {
        let browser = try #require(VerifyTests.chromium(), "headless Chromium is needed for this test (Debian: apt-get install chromium)")
        let profile = VerifyTests.tempDir("chromium-profile")
        defer { try? FileManager.default.removeItem(atPath: profile) }
        let out = try await Subprocess.run(browser, ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile)",
                                                     "--dump-dom", URL(fileURLWithPath: file).absoluteString], check: false)
        #expect(out.status == 0, "\(file): \(out.stderr.suffix(500))")
        #expect(out.stdout.contains("</body>"), "\(file): Chromium returned no page")
        return ReportDOM(file: file, dom: out.stdout)
    }

    static func decodeEntities(_ s: String) -> String {
        s.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&quot;", with: "\"")
            .replacingOccurrences(of: "&#39;", with: "'").replacingOccurrences(of: "&nbsp;", with: " ").replacingOccurrences(of: "&amp;", with: "&")
    }

    /// The page's visible text: no style, no tags, entities decoded, whitespace collapsed.
    var text: String {
        var s = dom.replacing(/<style[\s\S]*?<\/style>/, with: " ").replacing(/<title>[\s\S]*?<\/title>/, with: " ")
        s = s.replacing(/<[^>]*>/, with: " ")
        return Self.decodeEntities(s).replacing(/\s+/, with: " ")
    }

    /// The text of the first element whose opening tag matches `opening` (no nested element of the same tag).
    func elementText(_ opening: String, tag: String = "div") -> String? {
        guard let start = dom.range(of: opening), let end = dom.range(of: "</\(tag)>", range: start.upperBound..<dom.endIndex) else { return nil }
        let inner = String(dom[start.upperBound..<end.lowerBound]).drop { $0 != ">" }.dropFirst()
        return Self.decodeEntities(String(inner).replacing(/<[^>]*>/, with: " ")).replacing(/\s+/, with: " ").trimmingCharacters(in: .whitespaces)
    }

    /// The verdict's status (`pass`, `fail`, `warn`, `error`) and text.
    var verdict: (status: String, text: String)? {
        guard let m = dom.firstMatch(of: /<div id="verdict" class="verdict (\w+)"[^>]*>([\s\S]*?)<\/div>/) else { return nil }
        return (String(m.1), Self.decodeEntities(String(m.2).replacing(/<[^>]*>/, with: "")))
    }

    /// Every href on the page.
    var links: [String] { dom.matches(of: /href="([^"]*)"/).map { Self.decodeEntities(String($0.1)) } }

    /// Where a link leads on disk (nil for a web address).
    func target(_ href: String) -> String? {
        let bare = String(href.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        if bare.hasPrefix("http://") || bare.hasPrefix("https://") || bare.isEmpty { return nil }
        if bare.hasPrefix("file://") { return URL(string: bare)?.path }
        return URL(fileURLWithPath: bare, relativeTo: URL(fileURLWithPath: (file as NSString).deletingLastPathComponent + "/")).standardized.path
    }

    /// The checks every report passes: a verdict of `status` at the top (before any section or
    /// table), no raw Markdown (`**`, backticks, `[text](link)`) in its text, every link resolving
    /// to an existing file. Returns the files linked.
    @discardableResult
    func expectReport(verdict status: String, contains: [String] = []) -> [String] {
        let v = verdict
        #expect(v?.status == status, "\(file): verdict \(String(describing: v))")
        let said = v?.text ?? ""
        #expect(said.isEmpty == false, "\(file): the verdict says something")
        if let at = dom.range(of: "id=\"verdict\"") {
            let before = dom[..<at.lowerBound]
            #expect(!before.contains("<h2") && !before.contains("<table"), "\(file): the verdict comes before every section")
        } else {
            Issue.record("\(file): no verdict")
        }
        for c in contains { #expect(v?.text.contains(c) == true, "\(file): the verdict says \(c): \(v?.text ?? "")") }
        // A password the tool masks is printed as ****: not Markdown.
        let t = text.replacingOccurrences(of: "****", with: "")
        #expect(!t.contains("**"), "\(file): raw Markdown bold in the text")
        #expect(!t.contains("`"), "\(file): raw Markdown code in the text")
        #expect(t.firstMatch(of: /\]\([^)\s]+\)/) == nil, "\(file): a raw Markdown link in the text")
        var linked: [String] = []
        for href in links {
            guard let path = target(href) else { continue }
            #expect(FileManager.default.fileExists(atPath: path), "\(file): the link \(href) leads to \(path), which does not exist")
            linked.append(path)
        }
        return linked
    }
}
