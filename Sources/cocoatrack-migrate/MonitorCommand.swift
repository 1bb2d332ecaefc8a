import ArgumentParser
import CocoaTrack
import Foundation
import MigrationEngine

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

    /// p50 and p95 of `n` timed GETs of each URL, in milliseconds. A request that fails (no
    /// answer, a status outside 200–399) or passes its deadline is an error *and* counts at the
    /// deadline's latency: a hanging or failing API never looks fast. nil only without URLs.
    static func latency(_ urls: [String], n: Int, timeout: Duration) async throws -> (p50: Double, p95: Double, errors: Int, requests: Int)? {
        var times: [Double] = []
        var errors = 0
        for url in urls {
            for _ in 0..<n {
                let clock = ContinuousClock()
                let start = clock.now
                var ok = false
                do {
                    let r = try await WebClient.send("GET", url, timeout: timeout)
                    ok = (200..<400).contains(r.status)
                } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    ok = false
                }
                let took = (clock.now - start).seconds * 1000
                if ok { times.append(took) } else { errors += 1; times.append(max(took, timeout.seconds * 1000)) }
            }
        }
        guard !times.isEmpty else { return nil }
        times.sort()
        func q(_ p: Double) -> Double { times[min(times.count - 1, Int((Double(times.count - 1) * p).rounded(.up)))] }
        return (q(0.5), q(0.95), errors, times.count)
    }

    /// Login counts from Supabase's Management API logs endpoint
    /// (`GET /v1/projects/{ref}/analytics/endpoints/logs.all?sql=…&iso_timestamp_start=…`, bearer
    /// SUPABASE_ACCESS_TOKEN; the answer is `{"result": [ … ], "error": null}`): a query over
    /// `auth_logs` counting password-grant attempts and failures since the previous sample.
    static func authLogCounts(_ url: String, since: String) async -> (Int64, Int64)? {
        let sql = "select count(*) as attempts, countif(metadata.status >= 400) as failures from auth_logs cross join unnest(metadata) as metadata where metadata.path = '/token'"
        guard var c = URLComponents(string: url) else { return nil }
        let existing = c.queryItems ?? []
        c.queryItems = existing + [URLQueryItem(name: "sql", value: sql), URLQueryItem(name: "iso_timestamp_start", value: since.replacingOccurrences(of: " ", with: "T"))]
        guard let full = c.url?.absoluteString else { return nil }
        let token = ProcessInfo.processInfo.environment["SUPABASE_ACCESS_TOKEN"] ?? ""
        if !token.isEmpty { Redactor.register(token) }
        guard let r = try? await WebClient.send("GET", full, headers: [("Authorization", "Bearer \(token)")]),
              r.ok, let obj = try? JSONSerialization.jsonObject(with: r.body) as? [String: Any],
              let row = (obj["result"] as? [[String: Any]])?.first else { return nil }
        func n(_ k: String) -> Int64? { (row[k] as? NSNumber)?.int64Value ?? (row[k] as? String).flatMap { Int64($0) } }
        guard let a = n("attempts"), let f = n("failures") else { return nil }
        return (a, f)
    }

    static func meanQueryMs(_ c: PGConnection) async -> Double? {
        for table in ["extensions.pg_stat_statements", "public.pg_stat_statements"] {
            if let v = try? await c.scalar("SELECT sum(total_exec_time) / nullif(sum(calls), 0) FROM \(table) WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"),
               let d = Double(v) { return d }
        }
        return nil
    }

    func run() async throws {
        let settings = try global.settings()
        let logger = global.makeLogger()
        let v2 = try await PGConnection.connect(try global.config("V2"), logger: logger)
        defer { Task { await v2.close() } }
        let state = MigrationState(schema: CocoaTrackMapping.stateSchema)
        guard try await state.exists(v2) else { throw MigrationError(.configuration, "V2 holds no migration state: monitor a migrated V2.") }
        try await state.create(v2)
        try await v2.execute("""
            CREATE TABLE IF NOT EXISTS \(state.t("monitor_baseline")) (recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(), p50_ms double precision, p95_ms double precision, query_mean_ms double precision);
            CREATE TABLE IF NOT EXISTS \(state.t("monitor_sessions")) (session_id bigserial PRIMARY KEY, started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                ends_at timestamptz NOT NULL, every_seconds double precision NOT NULL, finished_at timestamptz, outcome text);
            """)
        let n = Int(settings.file?["monitor.requests_per_sample"]?.number ?? 5)
        let timeoutSeconds = settings.file?["monitor.request_timeout_seconds"]?.number ?? 10
        guard timeoutSeconds > 0, timeoutSeconds <= 600 else {
            throw MigrationError(.configuration, "monitor.request_timeout_seconds must be above 0 and at most 600; found \(timeoutSeconds). Fix it in the settings file.")
        }
        let timeout = Duration.milliseconds(Int64(timeoutSeconds * 1000))
        if recordBaseline {
            guard let url = settings.file?["monitor.v1_health_url"]?.string else {
                throw MigrationError(.configuration, "set monitor.v1_health_url (V1's API health URL) in the settings file to record the baseline.")
            }
            guard let l = try await Self.latency([url], n: max(n, 20), timeout: timeout), l.errors == 0 else {
                throw MigrationError(.checkFailed, "V1's API at \(WebClient.origin(url)) did not answer every request within \(timeout.seconds) s: no baseline recorded (a baseline with failures would hide a degradation). Check monitor.v1_health_url and try again.")
            }
            let q: Double? = try? await {
                let v1 = try await PGConnection.connect(try global.config("V1"), logger: logger)
                defer { Task { await v1.close() } }
                return await Self.meanQueryMs(v1)
            }()
            try await v2.query("INSERT INTO \(state.t("monitor_baseline")) (p50_ms, p95_ms, query_mean_ms) VALUES ($1, $2, $3)", [String(l.p50), String(l.p95), q.map { String($0) }])
            Out.result(String(format: "baseline recorded: V1 API p50 %.0f ms, p95 %.0f ms", l.p50, l.p95) + (q.map { String(format: ", V1 mean query %.2f ms", $0) } ?? ""))
            return
        }
        let urls = (settings.file?.children(of: "monitor.health_urls") ?? [:]).compactMap { $0.value.string }.sorted()
        let baseline = try await v2.query("SELECT p95_ms, query_mean_ms FROM \(state.t("monitor_baseline")) ORDER BY recorded_at DESC LIMIT 1").rows.first
        let baselineP95 = baseline?[0].flatMap(Double.init)
        let interval = Self.seconds(every)!
        // Resume the open period, or start one.
        var session = try await v2.query("SELECT session_id, extract(epoch FROM ends_at - clock_timestamp()) FROM \(state.t("monitor_sessions")) WHERE finished_at IS NULL ORDER BY session_id DESC LIMIT 1").rows.first
        if new || session == nil || (Double(session?[1] ?? "0") ?? 0) <= 0 {
            if let open = session?[0] { try await v2.query("UPDATE \(state.t("monitor_sessions")) SET finished_at = clock_timestamp(), outcome = 'superseded' WHERE session_id = $1", [open]) }
            session = try await v2.query("INSERT INTO \(state.t("monitor_sessions")) (ends_at, every_seconds) VALUES (clock_timestamp() + make_interval(secs => $1), $2) RETURNING session_id, $1::text",
                                         [String(Self.seconds(duration)!), String(interval)]).rows.first
            Out.info("monitoring for \(duration), a sample every \(every)")
        } else {
            Out.info("resuming the monitoring period \(session![0]!): \(Int(Double(session![1]!)!)) s left")
        }
        let sessionID = session![0]!
        let endsAt = Date().addingTimeInterval(Double(session![1]!)!)
        let webhook = settings.file?["webhook_url"]?.string
        let matrix = DecisionMatrix.plan(settings.thresholds)
        var streak: [String: Int] = [:]
        var alerted: Set<String> = []
        var previous = try await v2.scalar("SELECT coalesce(max(sampled_at), clock_timestamp() - make_interval(secs => $1))::text FROM \(state.t("monitor_samples"))", [String(interval)]) ?? ""
        let verification = try await Verifier.latest(v2, stateSchema: CocoaTrackMapping.stateSchema)
        var taken = 0
        while Date() < endsAt, samples.map({ taken < $0 }) ?? true {
            taken += 1
            // One sample.
            let now = try await v2.scalar("SELECT clock_timestamp()::text") ?? ""
            let lat = urls.isEmpty ? nil : try await Self.latency(urls, n: n, timeout: timeout)
            var attempts: Int64?
            var failures: Int64?
            if let sql = settings.file?["monitor.login_sql"]?.string, let r = try await v2.query(sql, [previous]).rows.first {
                attempts = r[0].flatMap { Int64($0) }
                failures = r.count > 1 ? r[1].flatMap { Int64($0) } : nil
            } else if let url = settings.file?["monitor.auth_logs_url"]?.string, let counts = await Self.authLogCounts(url, since: previous) {
                (attempts, failures) = counts
            }
            let created = try await v2.scalar("SELECT count(*) FROM public.deliveries WHERE created_at > $1::timestamptz", [previous])
            let sentry = settings.file?["sentry.base_url"] == nil ? nil : try await sentryCriticalIssues(settings, v2, since: nil)
            let query = await Self.meanQueryMs(v2)
            var detail: [String: Any] = ["deliveries_created": Int(created ?? "0") ?? 0, "health_urls": urls.count]
            if let lat { detail["latency_p50_ms"] = lat.p50; detail["request_errors"] = lat.errors; detail["requests"] = lat.requests }
            if let sentry { detail["sentry_critical_issues"] = sentry.count ?? -1 }
            if let query { detail["query_mean_ms"] = query }
            if let q = baseline?[1].flatMap(Double.init) { detail["baseline_query_mean_ms"] = q }
            let detailJSON = String(decoding: (try? JSONSerialization.data(withJSONObject: detail, options: [.sortedKeys])) ?? Data("{}".utf8), as: UTF8.self)
            try await v2.query("INSERT INTO \(state.t("monitor_samples")) (sampled_at, login_attempts, login_failures, latency_p95_ms, baseline_p95_ms, detail) VALUES ($1::timestamptz, $2, $3, $4, $5, $6::jsonb)",
                               [now, attempts.map(String.init), failures.map(String.init), lat.map { String($0.p95) }, baselineP95.map { String($0) }, detailJSON])
            previous = now
            let signals = MonitoringSignals(sampledAt: now, loginAttempts: attempts, loginFailures: failures, latencyP95Ms: lat?.p95, baselineP95Ms: baselineP95)
            let decision = matrix.evaluate(DecisionInputs(phase: .afterSwitch, verification: verification, monitoring: signals, flags: []))
            Out.info("sample \(now): p95 \(lat.map { String(format: "%.0f ms", $0.p95) } ?? "-") (V1 \(baselineP95.map { String(format: "%.0f ms", $0) } ?? "-")), logins \(failures.map(String.init) ?? "-")/\(attempts.map(String.init) ?? "-") failed, \(created ?? "0") deliveries created\(sentry.map { ", Sentry: \($0.evidence)" } ?? "")")
            for rule in ["login_failures", "performance_degradation"] {
                let v = decision.rules.first { $0.rule == rule }
                streak[rule] = v?.verdict == "triggered" ? (streak[rule] ?? 0) + 1 : 0
                guard let v, (streak[rule] ?? 0) >= confirm, !alerted.contains(rule) else { continue }
                alerted.insert(rule)
                let text = "monitor ALERT: \(v.issue) for \(confirm) consecutive samples — \(v.evidence); the matrix says \(v.action.replacingOccurrences(of: "_", with: " "))"
                Out.result(text)
                try await v2.query("INSERT INTO \(state.t("decisions")) (action, phase, flags, os_user, report) VALUES ($1, 'after_switch', '{}', $2, $3::jsonb)",
                                   [v.action, ProcessInfo.processInfo.environment["USER"], decision.json(pretty: false)])
                if let webhook, let e = await Webhook.post(webhook, text: "[monitor] " + text) { Out.info("webhook: \(e)") }
                if v.action == "rollback" || v.action == "immediate_rollback" {
                    try await v2.query("UPDATE \(state.t("monitor_sessions")) SET finished_at = clock_timestamp(), outcome = 'rollback' WHERE session_id = $1", [sessionID])
                    throw MigrationError(.checkFailed, "monitoring stopped: \(v.issue) confirmed by \(confirm) samples. Decide (`\(ToolCommand.line("decide"))`) and, for a rollback after the DNS switch, follow Scenario 2.")
                }
            }
            let wait = min(interval, endsAt.timeIntervalSinceNow)
            if wait <= 0 || samples.map({ taken >= $0 }) == true { break }
            do { try await Task.sleep(for: .seconds(wait)) } catch {
                throw MigrationError(.interrupted, "monitoring stopped between samples; run monitor again to resume the same period.")
            }
        }
        try await v2.query("UPDATE \(state.t("monitor_sessions")) SET finished_at = clock_timestamp(), outcome = 'completed' WHERE session_id = $1", [sessionID])
        Out.result("monitoring period complete: no rule of the matrix confirmed.")
    }
}
