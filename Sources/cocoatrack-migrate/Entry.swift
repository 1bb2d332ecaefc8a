import ArgumentParser
import Foundation
import Logging
import MigrationEngine

@main
struct CocoaTrackMigrate: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "cocoatrack-migrate",
        abstract: "Carries CocoaTrack's data from V1 (legacy PostgreSQL) to V2 (Supabase), proves nothing was lost, and takes it back if it must.",
        version: version,
        subcommands: [
            SandboxCommand.self,
            GenerateV1Command.self,
            PreflightCommand.self,
            MigrateCommand.self,
            SnapshotCommand.self,
            RollbackCommand.self,
            ReadOnlyCommand.self,
            InventoryCommand.self,
            VerifyCommand.self,
            CaptureCommand.self,
            AssessCommand.self,
            SyncCommand.self,
            DataLossCommand.self,
        ]
    )

    /// Runs the command with exit codes as CLI.md fixes them: 0 done, 1 could not run, 2 usage,
    /// 3 check failed, 4 refused by a guard, 130 interrupted at a safe point.
    static func main() async {
        let command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                print(message)
                Foundation.exit(0)
            }
            FileHandle.standardError.write(Data((Redactor.redact(message) + "\n").utf8))
            Foundation.exit(2)
        }
        do {
            if let asyncCommand = command as? any AsyncParsableCommand {
                // Parsed commands are plain values handed to exactly one task.
                let box = UncheckedBox(asyncCommand)
                try await Interrupts.run {
                    var c = box.value
                    try await c.run()
                }
            } else {
                var c = command
                try c.run()
            }
            Foundation.exit(0)
        } catch let error as MigrationError where error.code == .interrupted {
            FileHandle.standardError.write(Data("\(error.message)\n".utf8))
            Foundation.exit(error.exitCode)
        } catch let error as MigrationError {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            Foundation.exit(error.exitCode)
        } catch is CancellationError {
            FileHandle.standardError.write(Data("interrupted at a safe point; run the same command again to resume.\n".utf8))
            Foundation.exit(130)
        } catch let error as ExitCode {
            Foundation.exit(error.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success {  // `help` and `--help` arrive here as a parsed HelpCommand
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            if code == .validationFailure {
                FileHandle.standardError.write(Data((Redactor.redact(fullMessage(for: error)) + "\n").utf8))
                Foundation.exit(2)
            }
            FileHandle.standardError.write(Data("error: \(Redactor.redact(String(describing: error)))\n".utf8))
            Foundation.exit(1)
        }
    }
}

/// Options every command that talks to a database shares (CLI.md: connections and globals).
struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("v1"), help: "V1 URL (default: $V1_DATABASE_URL).")
    var v1URL: String?

    @Option(name: .customLong("v2"), help: "V2 URL (default: $V2_DATABASE_URL).")
    var v2URL: String?

    @Option(name: .customLong("config"), help: "Settings file (default: ./cocoatrack-migrate.yml when present).")
    var configFile: String?

    @Flag(name: .customLong("json"), help: "Machine-readable output on stdout; human output and progress on stderr.")
    var json = false

    @Flag(name: .customLong("yes"), help: "Confirm destructive steps without asking.")
    var yes = false

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"

    func makeLogger(_ label: String = "cocoatrack-migrate") -> Logger {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        var logger = Logger(label: label) { _ in StderrLogHandler(level: level) }
        logger.logLevel = level
        return logger
    }

    /// Settings files are not read yet: rather than ignore one silently, say so.
    func checkConfigFile() throws {
        let path = configFile ?? (FileManager.default.fileExists(atPath: "cocoatrack-migrate.yml") ? "cocoatrack-migrate.yml" : nil)
        if let path {
            throw MigrationError(.configuration, "settings files (\(path)) are not supported yet; nothing in it would be applied. Pass the settings as flags or environment variables (--v1/--v2, V1_DATABASE_URL, V2_DATABASE_URL, --app-role), and move the file away.")
        }
    }

    func config(_ side: String) throws -> ConnectionConfig {
        try checkConfigFile()
        let env = ProcessInfo.processInfo.environment
        let (flag, variable) = side == "V1" ? (v1URL, "V1_DATABASE_URL") : (v2URL, "V2_DATABASE_URL")
        guard let url = flag ?? env[variable], !url.isEmpty else {
            throw MigrationError(.configuration, "no \(side) database given. Pass --\(side.lowercased()) URL or set \(variable) (for the local sandbox: eval \"$(cocoatrack-migrate sandbox env)\").")
        }
        return try ConnectionConfig(label: side, url: url)
    }
}

struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
