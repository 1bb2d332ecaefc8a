import CocoaTrack
import Foundation
import MigrationEngine
import Testing

/// Runs the real `cocoatrack-migrate` executable (built by `swift build`, which the README's
/// test command runs first) and checks exit codes and that no password ever reaches its output.
enum CLI {
    static var binary: String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for config in ["debug", "release"] {
            let p = root.appendingPathComponent(".build/\(config)/cocoatrack-migrate").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return root.appendingPathComponent(".build/debug/cocoatrack-migrate").path
    }

    static func run(_ args: [String], env: [String: String] = [:]) async throws -> Subprocess.Output {
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "V1_DATABASE_URL")
        environment.removeValue(forKey: "V2_DATABASE_URL")
        for (k, v) in env { environment[k] = v }
        return try await Subprocess.run(binary, args, environment: environment, check: false)
    }

    /// stdout of a `--json` run as CLI.md fixes it: JSON alone, one object per line (an event)
    /// or one final object. Records an issue for every line that is not a JSON object.
    static func jsonObjects(_ out: Subprocess.Output, sourceLocation: SourceLocation = #_sourceLocation) -> [[String: Any]] {
        var objects: [[String: Any]] = []
        for line in out.stdout.split(separator: "\n") where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
                Issue.record("stdout of a --json run holds a line that is not a JSON object: \(line.prefix(200))", sourceLocation: sourceLocation)
                continue
            }
            objects.append(object)
        }
        return objects
    }
}

@Suite("Command line")
struct CLITests {
    @Test("--help and `help COMMAND` exit 0 with the usage on stdout, for every command")
    func help() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let commands = ["sandbox", "generate-v1", "preflight", "migrate", "snapshot", "rollback", "read-only", "inventory", "verify-integrity"]
        for c in commands {
            let out = try await CLI.run([c, "--help"])
            #expect(out.status == 0 && out.stdout.contains("USAGE"), "\(c): exit \(out.status) \(out.stderr)")
        }
        let helped = try await CLI.run(["help", "verify-integrity"])
        #expect(helped.status == 0 && helped.stdout.contains("--export"))
        let bad = try await CLI.run(["verify-integrity", "--no-such-flag"])
        #expect(bad.status == 2)
    }

    @Test("exit codes, and no password in any output")
    func exitCodesAndSecrets() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("cli")
        let secrets = [pair.v1.passwords[CocoaTrackSandbox.v1Admin]!, pair.v2.passwords[CocoaTrackSandbox.v2Owner]!, "Wr0ng-Secret-77"]
        func noSecrets(_ o: Subprocess.Output, _ what: String) {
            for s in secrets {
                #expect(!o.stdout.contains(s), "\(what): password on stdout")
                #expect(!o.stderr.contains(s), "\(what): password on stderr")
            }
        }
        let env = ["V1_DATABASE_URL": pair.v1URL, "V2_DATABASE_URL": pair.v2URL]

        let ok = try await CLI.run(["preflight", "--log-level", "trace"], env: env)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("preflight passed"))
        noSecrets(ok, "preflight")

        let json = try await CLI.run(["preflight", "--json"], env: env)
        #expect(json.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(object?["passed"] as? Bool == true)
        noSecrets(json, "preflight --json")

        let badURL = pair.v1URL.replacingOccurrences(of: pair.v1.passwords[CocoaTrackSandbox.v1Admin]!, with: "Wr0ng-Secret-77")
        let bad = try await CLI.run(["preflight", "--v1", badURL], env: env)
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("rejected the password"))
        noSecrets(bad, "wrong password")

        let gen = try await CLI.run(["generate-v1", "--scale", "0.001", "--log-level", "debug"], env: env)
        #expect(gen.status == 0, "\(gen.stderr)")
        noSecrets(gen, "generate-v1")
        let again = try await CLI.run(["generate-v1", "--scale", "0.001"], env: env)
        #expect(again.status == 4, "a V1 with rows is refused")
        noSecrets(again, "generate-v1 refused")

        let missing = try await CLI.run(["preflight"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("V1_DATABASE_URL"))

        let usage = try await CLI.run(["generate-v1", "--scale", "-3"], env: env)
        #expect(usage.status == 2)
        let unknown = try await CLI.run(["no-such-command"])
        #expect(unknown.status == 2)
    }

    @Test("PGPASSWORD and a password file supply the password when the URL has none; none at all is a clear error")
    func passwordSources() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let pair = try await TestSandbox.shared.freshPair("pgpass")
        let pw = pair.v1.passwords[CocoaTrackSandbox.v1Admin]!
        let bare = "postgresql://\(CocoaTrackSandbox.v1Admin)@127.0.0.1:\(pair.v1.port)/\(pair.database)"
        let none = "/nonexistent/pgpass"

        let viaEnv = try await CLI.run(["preflight", "--v1", bare, "--v2", pair.v2URL], env: ["PGPASSWORD": pw, "PGPASSFILE": none])
        #expect(viaEnv.status == 0, "\(viaEnv.stderr)")
        #expect(!viaEnv.stdout.contains(pw) && !viaEnv.stderr.contains(pw))

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pgpass-\(UUID().uuidString)").path
        #expect(FileManager.default.createFile(atPath: file, contents: Data("127.0.0.1:\(pair.v1.port):\(pair.database):\(CocoaTrackSandbox.v1Admin):\(pw)\n".utf8),
                                               attributes: [.posixPermissions: 0o600]))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let viaFile = try await CLI.run(["preflight", "--v1", bare, "--v2", pair.v2URL], env: ["PGPASSFILE": file])
        #expect(viaFile.status == 0, "\(viaFile.stderr)")
        #expect(!viaFile.stdout.contains(pw) && !viaFile.stderr.contains(pw))

        let missing = try await CLI.run(["preflight", "--v1", bare, "--v2", pair.v2URL], env: ["PGPASSFILE": none])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("asks for a password"), "\(missing.stderr)")
    }
}
