import ArgumentParser
import CocoaTrack
import Foundation
import MigrationEngine
import Rendering

/// Post-migration monitoring: samples, records, evaluates the matrix's monitoring rules with
/// consecutive-sample confirmation, alerts through the webhook; stops and resumes.
struct MonitorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Post-migration monitoring: API latency against V1's baseline, logins, delivery creation, V2 query time, Sentry errors.",
        discussion: """
            Settings: monitor.health_urls (name: URL, V2's API), monitor.v1_health_url (for --record-baseline, before \
            cutover), monitor.login_sql (on V2, given the previous sample's time as $1, returns attempts and failures), \
            monitor.requests_per_sample; sentry.* as for check-success. Every sample is recorded in V2's \
            cocoatrack_migration.monitor_samples. A rule of the decision matrix (login failures, performance \
            degradation) alerts only after --confirm consecutive samples trigger it; a rollback rule then stops \
            monitoring with exit 3. Ctrl+C stops between samples (exit 130); running monitor again resumes the same \
            period (--new starts another).
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("for"), help: "How long, e.g. 72h, 30m, 10s.") var duration: String = "72h"
    @Option(help: "Between samples, e.g. 5m.") var every: String = "5m"
    @Option(help: "Consecutive triggering samples before a rule alerts.") var confirm: Int = 3
    @Option(help: "Stop after this many samples even if --for has not elapsed (a drill, a test).") var samples: Int?
    @Flag(name: .customLong("record-baseline"), help: "Sample V1's API (monitor.v1_health_url) and V2's query times now, as the baseline, and exit.") var recordBaseline = false
    @Flag(name: .customLong("new"), help: "Start a new monitoring period instead of resuming the last one.") var new = false

    static func seconds(_ s: String) -> Double? { TimeFlag.duration(s) }

    func validate() throws {
        guard Self.seconds(duration) != nil else { throw ValidationError("--for takes a duration such as 72h, 30m, 10s; got \(duration)") }
        guard Self.seconds(every) != nil else { throw ValidationError("--every takes a duration such as 5m, 10s; got \(every)") }
        guard confirm >= 1 else { throw ValidationError("--confirm must be at least 1") }
    }

    func run() async throws {
        let console = global.console
        let settings = try global.settings()
        let logger = global.makeLogger()
        let v2 = try await PGConnection.connect(try global.config("V2"), logger: logger)
        defer { Task { await v2.close() } }
        let state = MigrationState(schema: CocoaTrackMapping.stateSchema)
        guard try await state.exists(v2) else { throw MigrationError(.configuration, "V2 holds no migration state: monitor a migrated V2.") }
        let store = MonitorStore(state: state)
        try await store.prepare(v2)
        let probes = try CocoaTrackMonitoring.probes(settings, v2: v2)
        if recordBaseline {
            guard let url = settings.file?["monitor.v1_health_url"]?.string else {
                throw MigrationError(.configuration, "set monitor.v1_health_url (V1's API health URL) in the settings file to record the baseline.")
            }
            guard let l = try await Monitor.latency([url], n: max(probes.requestsPerSample, 20), timeout: probes.timeout), l.errors == 0 else {
                throw MigrationError(.checkFailed, "V1's API at \(WebClient.origin(url)) did not answer every request within \(probes.timeout.seconds) s: no baseline recorded (a baseline with failures would hide a degradation). Check monitor.v1_health_url and try again.")
            }
            let q: Double? = try? await {
                let v1 = try await PGConnection.connect(try global.config("V1"), logger: logger)
                defer { Task { await v1.close() } }
                return await Monitor.meanQueryMs(v1)
            }()
            try await store.recordBaseline(v2, p50: l.p50, p95: l.p95, queryMeanMs: q)
            console.json(["event": "baseline", "p50_ms": l.p50, "p95_ms": l.p95, "v1_mean_query_ms": q ?? NSNull()])
            console.result(String(format: "baseline recorded: V1 API p50 %.0f ms, p95 %.0f ms", l.p50, l.p95) + (q.map { String(format: ", V1 mean query %.2f ms", $0) } ?? ""))
            return
        }
        var monitor = Monitor(store: store, probes: probes, matrix: DecisionMatrix.plan(settings.thresholds))
        monitor.confirm = confirm
        monitor.webhook = settings.file?["webhook_url"]?.string
        let duration = duration, every = every
        monitor.events = { event in
            switch event {
            case .started(let p) where p.resumed: console.info("resuming the monitoring period \(p.id): \(Int(p.secondsLeft)) s left")
            case .started: console.info("monitoring for \(duration), a sample every \(every)")
            case .unmeasured(let what):
                console.info("warning: not measured: \(what.map(\.description).joined(separator: "; "))")
            case .sample(let s):
                console.info(CutoverView.sample(s))
                console.json(["event": "sample", "sampled_at": s.sampledAt, "p95_ms": s.latencyP95Ms ?? NSNull(), "baseline_p95_ms": s.baselineP95Ms ?? NSNull(),
                              "login_attempts": s.loginAttempts ?? NSNull(), "login_failures": s.loginFailures ?? NSNull(),
                              "counts": Dictionary(s.counts, uniquingKeysWith: { $1 })])
            case .alert(let text):
                console.result(text)
                console.json(["event": "alert", "text": text])
            case .webhookFailed(let e): console.info("webhook: \(e)")
            }
        }
        let left = try await monitor.run(v2, seconds: Self.seconds(duration)!, every: Self.seconds(every)!, new: new, samples: samples, decideHint: ToolCommand.line("decide"))
        console.json(["event": "monitoring_complete", "not_measured": left.map(\.what)])
        console.result("monitoring period complete: no rule of the matrix confirmed" + (left.isEmpty ? "." : "; not measured: \(left.map(\.what).joined(separator: ", "))."))
    }
}
