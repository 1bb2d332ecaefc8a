import ArgumentParser
import CocoaTrack
import Foundation
import Logging
import MigrationEngine
import Rendering

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
            DecideCommand.self,
            CutoverCommand.self,
            RehearseCommand.self,
            CheckSuccessCommand.self,
            MonitorCommand.self,
            StatusPageCommand.self,
        ]
    )

    /// Runs the command with exit codes as docs/cli.md fixes them: 0 done, 1 could not run, 2 usage,
    /// 3 check failed, 4 refused by a guard, 130 interrupted at a safe point.
    static func main() async {
        Invocation.install()
        let command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            let code = exitCode(for: error)
            var message = fullMessage(for: error)
            if code == .success {
                print(message)
                Foundation.exit(0)
            }
            // The parser runs a command's own checks before it looks for unknown options, so
            // `rollback --foo` would get the command's complaint instead of the real one.
            if let unknown = UnknownOption.first(in: Array(CommandLine.arguments.dropFirst())) {
                let parent = unknown.path.split(separator: " ").dropLast().joined(separator: " ")
                message = "Error: Unknown option '\(unknown.option)'.\nUsage: \(parent) " + unknown.command.usageString()
                    + "\n  See '\(unknown.path) --help' for more information."
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

/// Options every command that talks to a database shares (docs/cli.md: connections and globals).
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

    /// Where this command's output goes (CLI.md: under --json, stdout is JSON alone).
    var console: Console { Console(json: json) }

    func makeLogger(_ label: String = "cocoatrack-migrate") -> Logger {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        var logger = Logger(label: label) { _ in StderrLogHandler(level: level) }
        logger.logLevel = level
        return logger
    }

    /// The settings file: `--config FILE`, else `./cocoatrack-migrate.yml` when present.
    func settings() throws -> Settings {
        let path = configFile ?? (FileManager.default.fileExists(atPath: "cocoatrack-migrate.yml") ? "cocoatrack-migrate.yml" : nil)
        return try Settings.load(path: path)
    }

    func config(_ side: String) throws -> ConnectionConfig {
        try settings().connection(side, flag: side == "V1" ? v1URL : v2URL, environment: ProcessInfo.processInfo.environment)
    }

    func appRole(_ flag: String?) throws -> String {
        let environment = ProcessInfo.processInfo.environment
        if let flag = flag ?? environment["COCOATRACK_APP_ROLE"] { return flag }  // no settings file needed
        return try settings().appRole(flag: nil, environment: environment)
    }
}

typealias Settings = CocoaTrackSettings

struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// The first `--option` the command line gives its (sub)command that the command does not have.
enum UnknownOption {
    static func first(in arguments: [String]) -> (option: String, command: any ParsableCommand.Type, path: String)? {
        var command: any ParsableCommand.Type = CocoaTrackMigrate.self
        var path = CocoaTrackMigrate.configuration.commandName ?? "cocoatrack-migrate"
        var options: [String] = []
        for a in arguments {
            if a == "--" { break }
            if a.hasPrefix("--") {
                options.append(String(a.split(separator: "=", maxSplits: 1)[0]))
            } else if options.isEmpty, let sub = command.configuration.subcommands.first(where: { $0._commandName == a }) {
                command = sub
                path += " " + a
            }
        }
        let help = CocoaTrackMigrate.helpMessage(for: command, columns: 1000)
        for o in options where o != "--help" && o != "--version" {
            let pattern = NSRegularExpression.escapedPattern(for: o) + "(?![A-Za-z0-9-])"
            if help.range(of: pattern, options: .regularExpression) == nil { return (o, command, path) }
        }
        return nil
    }
}
