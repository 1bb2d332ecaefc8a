import ArgumentParser
import CocoaTrack
import Foundation
import MigrationEngine
import Rendering

struct PreflightCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preflight",
        abstract: "Connect to V1 and V2, report their versions and every privilege later steps need.",
        discussion: "Exit 0 when everything is in place, 3 when a privilege is missing (each named, with the GRANT that fixes it), 1 when a side cannot be reached."
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("app-role"), help: "The V1 role the application connects as (default: settings file, else app_user).")
    var appRoleFlag: String?

    func run() async throws {
        let appRole = try global.appRole(appRoleFlag)
        let logger = global.makeLogger()
        let c1 = try global.config("V1")
        let c2 = try global.config("V2")
        // Both connections at once, so two unreachable sides cost one timeout, not two.
        async let a = PGConnection.connect(c1, logger: logger)
        async let b = PGConnection.connect(c2, logger: logger)
        let (v1, v2) = try await (a, b)
        defer { Task { await v1.close(); await v2.close() } }
        let report = try await Preflight.run(v1: v1, v2: v2, profile: CocoaTrackSchema.preflightProfile(appRole: appRole))
        if global.json {
            Out.json([
                "event": "preflight", "passed": report.passed,
                "servers": report.servers.map { ["side": $0.side, "url": $0.url, "version": $0.version, "user": $0.user, "database": $0.database, "superuser": $0.isSuperuser] },
                "checks": report.checks.map { ["side": $0.side, "name": $0.name, "passed": $0.passed, "detail": $0.detail] },
            ])
        } else {
            for s in report.servers {
                Out.result("\(s.side): PostgreSQL \(s.version) at \(s.url) as \(s.user)\(s.isSuperuser ? " (superuser)" : "")")
            }
            for c in report.checks {
                Out.result("  [\(c.passed ? "ok" : "MISSING")] \(c.side) \(c.name): \(c.detail)")
            }
            Out.result(report.passed ? "preflight passed" : "preflight FAILED: fix the missing privileges above, then run preflight again")
        }
        if !report.passed { throw MigrationError(.checkFailed, "preflight found missing privileges") }
    }
}
