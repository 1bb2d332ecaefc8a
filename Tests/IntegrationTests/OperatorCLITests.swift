import CocoaTrack
import Foundation
import MigrationEngine
import Testing

/// What the operator reads (issue 17): hints that name the command as it was run, usage errors
/// that name the unknown option, an aligned generate-v1 table, the V1 read-only reminder after
/// clearing V2, and rehearse refusing a directory it did not make.
@Suite("Operator output")
struct OperatorCLITests {
    static func tempDir(_ label: String) throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("ctm-\(label)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    /// The environment of a child with PATH replaced (no V1/V2 URLs).
    static func env(path: String) -> [String: String] {
        var e = ProcessInfo.processInfo.environment
        e.removeValue(forKey: "V1_DATABASE_URL")
        e.removeValue(forKey: "V2_DATABASE_URL")
        e["PATH"] = path
        return e
    }

    @Test("hints name the command as run: the bare name when PATH finds this program by it, else the absolute path")
    func hintsNameTheCommand() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let dir = try Self.tempDir("hint")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let systemPath = "/usr/local/bin:/usr/bin:/bin"

        // Run by its path, not on PATH: the hint is that path, which runs as printed.
        let byPath = try await Subprocess.run(CLI.binary, ["preflight"], environment: Self.env(path: systemPath), check: false)
        #expect(byPath.status == 1)
        #expect(byPath.stderr.contains("eval \"$(\(CLI.binary) sandbox env)\""), "\(byPath.stderr)")

        // On PATH under its name (a symlink, as `install` or a package would place it), run by that name.
        let bin = dir + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: bin + "/cocoatrack-migrate", withDestinationPath: CLI.binary)
        let byName = try await Subprocess.run("/bin/sh", ["-c", "cocoatrack-migrate preflight"], environment: Self.env(path: bin + ":" + systemPath), check: false)
        #expect(byName.status == 1)
        #expect(byName.stderr.contains("eval \"$(cocoatrack-migrate sandbox env)\""), "\(byName.stderr)")
        // The pasted hint runs: `sandbox env` of a directory without a sandbox says so, by the same name.
        let sandboxDir = dir + "/no-sandbox"
        let pasted = try await Subprocess.run("/bin/sh", ["-c", "cocoatrack-migrate sandbox env --dir \(sandboxDir)"], environment: Self.env(path: bin + ":" + systemPath), check: false)
        #expect(pasted.status == 1 && pasted.stderr.contains("Run `cocoatrack-migrate sandbox up --dir \(sandboxDir)` first"), "\(pasted.stderr)")

        // Another program of that name first on PATH: the bare name would run it, so the hint is the path.
        let other = dir + "/other"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        try "#!/bin/sh\necho impostor\n".write(toFile: other + "/cocoatrack-migrate", atomically: true, encoding: .utf8)
        chmod(other + "/cocoatrack-migrate", 0o755)
        let shadowed = try await Subprocess.run(CLI.binary, ["preflight"], environment: Self.env(path: other + ":" + systemPath), check: false)
        #expect(shadowed.stderr.contains("eval \"$(\(CLI.binary) sandbox env)\""), "\(shadowed.stderr)")

        // A relative invocation is printed absolute (it then works from any directory).
        let relative = try await Subprocess.run("/bin/sh", ["-c", "cd \(dir) && ./bin/cocoatrack-migrate preflight"], environment: Self.env(path: systemPath), check: false)
        #expect(relative.stderr.contains("eval \"$(\(dir)/bin/cocoatrack-migrate sandbox env)\""), "\(relative.stderr)")
    }

    @Test("rollback: an unknown option is a usage error naming it (exit 2); no action says what to roll back")
    func rollbackUsage() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let unknown = try await CLI.run(["rollback", "--foo"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("--foo"), "\(unknown.stderr)")
        #expect(!unknown.stderr.contains("say what to roll back"), "\(unknown.stderr)")
        let both = try await CLI.run(["rollback", "--clear-v2", "--foo"])
        #expect(both.status == 2 && both.stderr.contains("--foo"), "\(both.stderr)")
        let none = try await CLI.run(["rollback"])
        #expect(none.status == 2)
        #expect(none.stderr.contains("--clear-v2"), "\(none.stderr)")
    }

    @Test("rehearse refuses a sandbox directory it did not make (exit 4) and touches nothing in it")
    func rehearseRefusesForeignSandbox() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let dir = try Self.tempDir("rehearse-foreign")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, file) in [("sandbox", "state.json"), ("files", "notes.txt")] {
            let target = dir + "/" + name
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            try "kept".write(toFile: target + "/" + file, atomically: true, encoding: .utf8)
            let out = try await CLI.run(["rehearse", "--scale", "0.01", "--sandbox-dir", target, "--dir", dir + "/report-" + name])
            #expect(out.status == 4, "\(name): exit \(out.status) \(out.stderr.suffix(600))")
            #expect(out.stderr.contains("did not create") && out.stderr.contains("Nothing was touched"), "\(out.stderr)")
            #expect(out.stderr.contains("sandbox down --dir \(target)"), "\(out.stderr)")
            #expect(try String(contentsOfFile: target + "/" + file, encoding: .utf8) == "kept")
            #expect(try FileManager.default.contentsOfDirectory(atPath: target) == [file])
            #expect(!FileManager.default.fileExists(atPath: dir + "/report-" + name), "nothing written for a refused rehearsal")
        }
    }

    @Test("generate-v1 prints an aligned table: every count ends in the same column")
    func generateTableAligned() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("gentable")
        let out = try await CLI.run(["generate-v1", "--scale", "0.001"], env: ["V1_DATABASE_URL": pair.v1URL])
        #expect(out.status == 0, "\(out.stderr)")
        let lines = out.stdout.split(separator: "\n").map(String.init)
        let table = lines.prefix { !$0.hasPrefix("dirty cases") }
        #expect(table.count == 12, "header, ten tables, total: \(table)")
        let widths = Set(table.map { $0.trimmingCharacters(in: .whitespaces).count == 0 ? -1 : $0.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression).count })
        #expect(widths.count == 1, "every row ends in the same column: \(table)")
        let counts = table.dropFirst().map { Int($0.split(separator: " ").last!.replacingOccurrences(of: ",", with: "")) }
        #expect(!counts.contains(nil), "\(table)")
        let total = counts.last!!
        #expect(counts.dropLast().reduce(0) { $0 + $1! } == total)
        #expect(try await pair.v1Admin().using { c in
            var n = 0
            for t in CocoaTrackSchema.v1Tables { n += Int(try await c.scalar("SELECT count(*) FROM public.\(t)") ?? "0") ?? 0 }
            return n
        } == total)
    }

    @Test("rollback --clear-v2 says when V1 is still read-only, with the command that makes it writable")
    func clearHintsReadOnly() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("clearhint")
        let env = ["V1_DATABASE_URL": pair.v1URL, "V2_DATABASE_URL": pair.v2URL]
        #expect(try await CLI.run(["generate-v1", "--scale", "0.001"], env: env).status == 0)
        let ro = try await CLI.run(["read-only", "enable", "--yes", "--session-timeout", "0"], env: env)
        #expect(ro.status == 0, "\(ro.stderr)")
        let migrated = try await CLI.run(["migrate"], env: env)
        #expect(migrated.status == 0, "\(migrated.stderr.suffix(800))")
        let cleared = try await CLI.run(["rollback", "--clear-v2", "--yes", "--no-snapshot"], env: env)
        #expect(cleared.status == 0, "\(cleared.stderr.suffix(800))")
        #expect(cleared.stderr.contains("V1 is still read-only for app_user"), "\(cleared.stderr)")
        #expect(cleared.stderr.contains("Make it writable again with: \(CLI.binary) read-only disable"), "\(cleared.stderr)")
        let disabled = try await CLI.run(["read-only", "disable", "--json"], env: env)
        #expect(disabled.status == 0, "\(disabled.stderr)")
        #expect(CLI.jsonObjects(disabled).map { $0["event"] as? String } == ["read_only_disabled"], "\(disabled.stdout)")
        #expect(disabled.stderr.contains("V1 writable again for app_user"), "with --json the sentence for people is on stderr: \(disabled.stderr)")
        let again = try await CLI.run(["rollback", "--clear-v2", "--yes", "--no-snapshot", "--json"], env: env)
        #expect(again.status == 0)
        #expect(again.stderr.contains("V1 is writable for app_user") && !again.stderr.contains("still read-only"), "\(again.stderr)")
        // --json: stdout is the one final object; the table of what was cleared went to stderr.
        let objects = CLI.jsonObjects(again)
        #expect(objects.count == 1 && objects.first?["event"] as? String == "cleared" && objects.first?["remaining"] as? Int == 0, "\(again.stdout)")
        #expect(again.stderr.contains("V2 cleared: 0 migrated rows remain"), "\(again.stderr)")
    }
}
