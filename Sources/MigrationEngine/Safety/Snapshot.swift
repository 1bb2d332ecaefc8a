import PGClient
import Foundation

/// `pg_dump -Fc` backups with the plan's timestamped names, a sha256 sidecar, a readability
/// check (`pg_restore --list`) and an optional upload with the `aws` CLI. The password reaches
/// pg_dump through its environment, never its command line (which `ps` shows).
public enum Snapshot {
    public struct Part: Sendable {
        /// File name stem, e.g. "v2_pre_migration_backup".
        public var stem: String
        /// pg_dump selection arguments, e.g. ["-n", "public"] or ["-t", "auth.users", "--data-only"].
        public var arguments: [String]
        public init(stem: String, arguments: [String]) {
            self.stem = stem
            self.arguments = arguments
        }
    }

    public struct File: Sendable {
        public var path: String
        public var sha256: String
        public var bytes: Int64
        public var tocEntries: Int
        public var uploadedTo: String?
    }

    /// libpq keyword/value conninfo without the password (passed as PGPASSWORD instead).
    static func conninfo(_ config: ConnectionConfig) -> (String, [String: String]) {
        var env = ProcessInfo.processInfo.environment
        var parts: [String] = []
        for (k, v) in config.parameters where k != "password" {
            parts.append("\(k)='\(v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'"))'")
        }
        if let pw = config.value("password") { env["PGPASSWORD"] = pw }
        return (parts.joined(separator: " "), env)
    }

    public static func timestamp(_ date: Date = Date()) -> String {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        let c = cal.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02d_%02d%02d%02d", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    public static func take(_ config: ConnectionConfig, parts: [Part], directory: String, upload: String? = nil,
                            date: Date = Date()) async throws -> [File] {
        guard let pgDump = Subprocess.which("pg_dump"), let pgRestore = Subprocess.which("pg_restore") else {
            throw MigrationError(.environment, "pg_dump and pg_restore are needed for snapshots. Install the PostgreSQL client tools (Debian: apt-get install -y postgresql-client).")
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw MigrationError(.configuration, "cannot create the snapshot directory \(directory): \(error.localizedDescription). Choose a writable --dir.")
        }
        let (info, env) = conninfo(config)
        let stamp = timestamp(date)
        var files: [File] = []
        for part in parts {
            let path = (directory as NSString).appendingPathComponent("\(part.stem)_\(stamp).dump")
            // zlib level 1, not pg_dump's default 6: a snapshot stands between the operator and a
            // destructive step, so its time counts twice. Measured at scale 1 (V1, 3.7 M rows):
            // 2.5 times faster for a file 23 % larger (BENCHMARKS.md, "The way back").
            let dump = try await Subprocess.run(pgDump, ["-Fc", "-Z", "1", "--no-password", "-f", path, "-d", info] + part.arguments, environment: env, check: false)
            guard dump.status == 0 else {
                try? FileManager.default.removeItem(atPath: path)
                throw MigrationError(.subprocessFailed, "\(config.label) snapshot failed (pg_dump exit \(dump.status)): \(Redactor.redact(dump.stderr.trimmingCharacters(in: .whitespacesAndNewlines))). Nothing destructive was done.")
            }
            let list = try await Subprocess.run(pgRestore, ["--list", path], check: false)
            guard list.status == 0 else {
                throw MigrationError(.subprocessFailed, "the snapshot \(path) is not readable by pg_restore (\(list.stderr.trimmingCharacters(in: .whitespacesAndNewlines))). Nothing destructive was done.")
            }
            let toc = list.stdout.split(separator: "\n").filter { !$0.hasPrefix(";") && !$0.isEmpty }.count
            let sum = try await Subprocess.run(Subprocess.which("sha256sum") ?? "/usr/bin/sha256sum", [path])
            let digest = String(sum.stdout.prefix(64))
            try Data("\(digest)  \((path as NSString).lastPathComponent)\n".utf8).write(to: URL(fileURLWithPath: path + ".sha256"))
            // Backups hold password hashes: readable by their owner only.
            chmod(path, 0o600)
            chmod(path + ".sha256", 0o600)
            let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int64) ?? 0
            var file = File(path: path, sha256: digest, bytes: size, tocEntries: toc)
            if let upload {
                guard let aws = Subprocess.which("aws") else {
                    throw MigrationError(.environment, "--upload needs the aws CLI (pip install awscli). The snapshot is at \(path).")
                }
                let dest = upload.hasSuffix("/") ? upload : upload + "/"
                for f in [path, path + ".sha256"] {
                    let r = try await Subprocess.run(aws, ["s3", "cp", "--only-show-errors", f, dest + (f as NSString).lastPathComponent], check: false)
                    guard r.status == 0 else {
                        throw MigrationError(.subprocessFailed, "upload of \(f) to \(dest) failed: \(Redactor.redact(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))). The local snapshot is intact at \(path).")
                    }
                }
                file.uploadedTo = dest + (path as NSString).lastPathComponent
            }
            files.append(file)
        }
        return files
    }
}
