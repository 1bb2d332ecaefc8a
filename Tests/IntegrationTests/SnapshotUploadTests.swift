import CocoaTrack
import Foundation
import MigrationEngine
import Sandbox
import Testing

/// `snapshot --upload` against a local S3 stand-in (moto_server, from PyPI's moto), with the
/// real aws CLI.
@Suite("snapshot upload to S3")
struct SnapshotUploadTests {
    @Test("the archives and their sha256 sidecars land in the bucket, byte for byte")
    func upload() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binary), "build the executable first: swift build")
        let moto = try #require(Subprocess.which("moto_server"), "moto_server missing: pip install 'moto[server]' (.ci/run installs it)")
        let aws = try #require(Subprocess.which("aws"), "aws CLI missing: pip install awscli (.ci/run installs it)")
        let port = try FreePort.find()
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("ctm-moto-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let pid = try Subprocess.launch(moto, ["-H", "127.0.0.1", "-p", String(port)], logFile: log)
        defer { kill(pid, SIGKILL); _ = waitpid(pid, nil, 0) }
        var env = ProcessInfo.processInfo.environment
        env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:\(port)"
        env["AWS_ACCESS_KEY_ID"] = "testing"
        env["AWS_SECRET_ACCESS_KEY"] = "testing"
        env["AWS_DEFAULT_REGION"] = "us-east-1"
        var ready = false
        for _ in 0..<100 {
            if (try? await Subprocess.run(aws, ["s3", "mb", "s3://cocoatrack-backups"], environment: env, check: false))?.status == 0 { ready = true; break }
            try await Task.sleep(for: .milliseconds(200))
        }
        try #require(ready, "moto_server did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")

        let pair = try await TestSandbox.shared.freshPair("s3")
        try await MigrationFixture.generate(pair, scale: 0.001, seed: 2)
        try await MigrationFixture.migrate(pair)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ctm-s3-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var cliEnv = ["V2_DATABASE_URL": pair.v2URL]
        for k in ["AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"] { cliEnv[k] = env[k] }
        let out = try await CLI.run(["snapshot", "v2", "--dir", dir, "--upload", "s3://cocoatrack-backups/migration/", "--json"], env: cliEnv)
        #expect(out.status == 0, "\(out.stderr)")
        #expect(!out.stdout.contains(pair.v2.passwords[CocoaTrackSandbox.v2Owner]!))
        let listing = try await Subprocess.run(aws, ["s3", "ls", "s3://cocoatrack-backups/migration/"], environment: env)
        let local = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(local.count == 4, "\(local)")
        for f in local {
            #expect(listing.stdout.contains(f), "\(f) not in the bucket: \(listing.stdout)")
            let back = dir + "/downloaded-" + f
            _ = try await Subprocess.run(aws, ["s3", "cp", "--only-show-errors", "s3://cocoatrack-backups/migration/\(f)", back], environment: env)
            #expect(FileManager.default.contentsEqual(atPath: back, andPath: dir + "/" + f), "\(f)")
        }
    }
}
