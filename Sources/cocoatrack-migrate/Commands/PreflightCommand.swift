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
        if global.json { global.console.json(SafetyView.preflightJSON(report)) } else { global.console.result(SafetyView.preflight(report)) }
        if !report.passed { throw MigrationError(.checkFailed, "preflight found missing privileges") }
    }
}
