import Foundation
import MigrationEngine
import Testing

@Suite("time flags on the command line")
struct TimeFlagCLITests {
    /// Every time-like flag of the CLI, with values that are not times. Parsing happens before a
    /// database is needed, so none is given: a refusal is exit 2 and names the flag.
    static let cases: [(args: [String], flag: String)] = [
        (["check-success", "--since", "2026-01-01&project=other"], "--since"),
        (["check-success", "--since", "yesterday"], "--since"),
        (["check-success", "--since", "2026-12-05T02:00"], "--since"),
        (["monitor", "--for", "soon"], "--for"),
        (["monitor", "--for", "0h"], "--for"),
        (["monitor", "--every", "-5m"], "--every"),
        (["monitor", "--every", "nan"], "--every"),
        (["cutover", "plan", "--window-start", "saturday"], "--window-start"),
        (["cutover", "plan", "--window-start", "2026-12-05T02:00Z", "--window-hours", "nan"], "--window-hours"),
        (["cutover", "plan", "--window-start", "2026-12-05T02:00Z", "--window-hours", "-4"], "--window-hours"),
        (["cutover", "run", "--status-every", "inf"], "--status-every"),
        (["cutover", "run", "--status-every", "0"], "--status-every"),
        (["cutover", "messages", "--window-start", "2026-13-05T02:00Z"], "--window-start"),
        (["cutover", "postmortem", "--window-start", "next week"], "--window-start"),
        (["rehearse", "--window-start", "2026-12-05"], "--window-start"),
        (["read-only", "status", "--session-timeout", "-1"], "--session-timeout"),
        (["read-only", "status", "--session-timeout", "soon"], "--session-timeout"),
    ]

    @Test("a value that is not a time is refused with exit 2, naming the flag")
    func refused() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        for c in Self.cases {
            let out = try await CLI.run(c.args)
            #expect(out.status == 2, "\(c.args.joined(separator: " ")): exit \(out.status) \(out.stderr)")
            #expect(out.stderr.contains(c.flag) || out.stderr.contains(String(c.flag.dropFirst(2))), "\(c.args): \(out.stderr)")
        }
        // And a time is accepted (the plan needs no database).
        let plan = try await CLI.run(["cutover", "plan", "--window-start", "2026-12-05T03:00:00+01:00", "--window-hours", "4", "--json"])
        #expect(plan.status != 2, "\(plan.stderr)")
    }
}
