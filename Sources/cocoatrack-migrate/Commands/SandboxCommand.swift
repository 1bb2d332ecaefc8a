import ArgumentParser
import CocoaTrack
import Foundation
import MigrationEngine
import Rendering
import Sandbox

struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Local throwaway V1 and V2 PostgreSQL clusters on loopback, with both schemas applied.",
        subcommands: [Up.self, Down.self, Status.self, Env.self]
    )

    struct Location: ParsableArguments {
        @Option(name: .customLong("dir"), help: "Sandbox directory (default: $COCOATRACK_SANDBOX_DIR or /tmp/cocoatrack-sandbox-<uid>).")
        var dir: String?

        @Option(name: .customLong("log-level")) var logLevel: String = "info"

        /// ` --dir D` when a directory was given, for hints that must reach the same sandbox.
        var dirArgument: String { dir.map { " --dir " + Invocation.quote($0) } ?? "" }

        var manager: SandboxManager {
            let root = dir.map { URL(fileURLWithPath: $0) } ?? SandboxManager.defaultRoot()
            var g = GlobalOptions()
            g.logLevel = logLevel
            return SandboxManager(root: root, logger: g.makeLogger())
        }
    }

    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create and start V1 and V2 (idempotent).")
        @OptionGroup var location: Location
        @Flag(help: "Trade durability for speed (fsync off): for tests and benchmarks on throwaway data.")
        var fast = false

        func run() async throws {
            let manager = location.manager
            let extra = fast ? ["fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"] : [:]
            let state = try await manager.up(CocoaTrackSandbox.specs, extraSettings: extra)
            Console(json: false).info("sandbox up at \(state.root)\(state.osUser.map { " (servers run as OS user \($0))" } ?? "")")
            for c in state.clusters {
                Console(json: false).info("  \(c.name): 127.0.0.1:\(c.port) database \(c.database)")
            }
            Console(json: false).info("use it with: eval \"$(\(ToolCommand.line("sandbox env" + location.dirArgument)))\"")
        }
    }

    struct Down: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop both clusters and remove every file of the sandbox.")
        @OptionGroup var location: Location

        func run() async throws {
            let removed = try await location.manager.down()
            Console(json: false).info(removed ? "sandbox removed" : "no sandbox at \(location.manager.root.path)")
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Whether the sandbox runs, and where.")
        @OptionGroup var location: Location
        @Flag(name: .customLong("json")) var json = false

        func run() async throws {
            let console = Console(json: json)
            let manager = location.manager
            guard let state = try manager.readState() else {
                if json { console.json(["running": false]) } else { console.result("no sandbox at \(manager.root.path)") }
                throw ExitCode(3)
            }
            let running = await manager.isRunning(state)
            if json {
                console.json(["running": running, "root": state.root, "clusters": state.clusters.map {
                    ["name": $0.name, "port": $0.port, "url": (try? ConnectionConfig(label: $0.name, url: $0.url()).redactedURL) ?? ""]
                }])
            } else {
                console.result("sandbox at \(state.root): \(running ? "running" : "NOT running")")
                for c in state.clusters {
                    let redacted = (try? ConnectionConfig(label: c.name, url: c.url()).redactedURL) ?? ""
                    console.result("  \(c.name): \(redacted)")
                }
            }
            if !running { throw ExitCode(3) }
        }
    }

    struct Env: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print `export V1_DATABASE_URL=… V2_DATABASE_URL=…` for eval (contains the sandbox passwords).")
        @OptionGroup var location: Location
        @Flag(help: "Also export V1_SUPERUSER_URL and V2_SUPERUSER_URL (the clusters' superusers; for benchmarks and tests).")
        var superuser = false

        func run() async throws {
            guard let state = try location.manager.readState() else {
                throw MigrationError(.sandbox, "no sandbox at \(location.manager.root.path). Run `\(ToolCommand.line("sandbox up" + location.dirArgument))` first.")
            }
            // The one place secrets are printed on purpose: the operator asked for them.
            var exports = state.clusters.map { "\($0.environmentVariable)='\($0.url())'" }
            if superuser {
                exports += state.clusters.map { "\($0.name.uppercased())_SUPERUSER_URL='\($0.superuserURL)'" }
            }
            print("export " + exports.joined(separator: " "))
        }
    }
}
