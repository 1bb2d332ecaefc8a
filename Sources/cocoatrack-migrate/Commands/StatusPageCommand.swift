import ArgumentParser
import CocoaTrack
import Foundation
import Logging
import MigrationEngine
import Rendering
import StatusPage

/// A live status page over V2's migration schema (`StatusPageServer`, fed with CocoaTrack's state
/// schema and runbook steps). Loopback only unless a token is configured.
struct StatusPageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status-page",
        abstract: "A live status page (/, /api/status, /metrics) over the migration's state in V2.",
        discussion: """
            Binds 127.0.0.1 by default (IPv4 or IPv6 addresses, e.g. --bind ::1). Any non-loopback --bind needs a \
            token (COCOATRACK_STATUS_TOKEN or settings status_page_token, at least 16 characters), which every request \
            must then carry (?token=… or Authorization: Bearer …); without one it refuses (exit 4). GET and HEAD only \
            (405 otherwise); headers over 16 KiB get 431. Ctrl+C or SIGTERM stops it within a second.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: "TCP port.") var port: Int = 8080
    @Option(help: "Address to bind (IPv4 or IPv6).") var bind: String = "127.0.0.1"

    func validate() throws {
        guard (1...65_535).contains(port) else { throw ValidationError("--port takes 1 to 65535; got \(port)") }
        guard StatusPageServer.isBindable(bind) else { throw ValidationError("--bind takes an IPv4 or IPv6 address (e.g. 127.0.0.1, ::1, 0.0.0.0, ::); got \(bind)") }
    }

    func run() async throws {
        let settings = try global.settings()
        let token = ProcessInfo.processInfo.environment["COCOATRACK_STATUS_TOKEN"] ?? settings.file?["status_page_token"]?.string
        try StatusPageServer.checkExposure(bind: bind, token: token)
        if let token { Redactor.register(token) }
        let logger = global.makeLogger()
        let v2 = try await PGConnection.connect(try global.config("V2"), logger: logger)
        defer { Task { await v2.close() } }
        let host = bind == "localhost" ? "127.0.0.1" : bind
        let shown = host.contains(":") ? "[\(host)]" : host
        let state = MigrationState(schema: CocoaTrackMapping.stateSchema)
        let server = StatusPageServer(title: "CocoaTrack cutover", host: host, port: port, token: token,
                                      status: { try await MigrationStatus.json(v2, state: state, steps: CocoaTrackRunbook.steps) },
                                      metrics: { try await MigrationStatus.metrics(v2, state: state, steps: CocoaTrackRunbook.steps, prefix: "cocoatrack_migrate") })
        let port = port
        try await server.run(logger: logger) { global.console.info("status page on http://\(shown):\(port)/ (Ctrl+C stops it)") }
        global.console.info("status page stopped")
    }
}
