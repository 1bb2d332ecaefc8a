import PGClient
import Foundation

/// The monitor's state in the target's migration schema: the baseline recorded before the
/// cutover, the monitoring periods (so a stopped monitor resumes its period) and every sample.
public struct MonitorStore: Sendable {
    public let state: MigrationState
    public init(state: MigrationState) { self.state = state }

    public struct Period: Sendable, Equatable {
        public var id: String
        public var secondsLeft: Double
        public var resumed: Bool
    }

    public func prepare(_ c: PGConnection) async throws {
        try await state.create(c)
        try await c.execute("""
            CREATE TABLE IF NOT EXISTS \(state.t("monitor_baseline")) (recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(), p50_ms double precision, p95_ms double precision, query_mean_ms double precision);
            CREATE TABLE IF NOT EXISTS \(state.t("monitor_sessions")) (session_id bigserial PRIMARY KEY, started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                ends_at timestamptz NOT NULL, every_seconds double precision NOT NULL, finished_at timestamptz, outcome text);
            """)
    }

    public func recordBaseline(_ c: PGConnection, p50: Double, p95: Double, queryMeanMs: Double?) async throws {
        try await c.query("INSERT INTO \(state.t("monitor_baseline")) (p50_ms, p95_ms, query_mean_ms) VALUES ($1, $2, $3)", [String(p50), String(p95), queryMeanMs.map { String($0) }])
    }

    /// The latest baseline: V1's API p95 and mean query time.
    public func baseline(_ c: PGConnection) async throws -> (p95Ms: Double?, queryMeanMs: Double?) {
        let r = try await c.query("SELECT p95_ms, query_mean_ms FROM \(state.t("monitor_baseline")) ORDER BY recorded_at DESC LIMIT 1").rows.first
        return (r?[0].flatMap(Double.init), r?[1].flatMap(Double.init))
    }

    /// The open period with time left, resumed; else (or with `new`) a new one of `seconds`, sampled every `every`.
    public func period(_ c: PGConnection, new: Bool, seconds: Double, every: Double) async throws -> Period {
        let open = try await c.query("SELECT session_id, extract(epoch FROM ends_at - clock_timestamp()) FROM \(state.t("monitor_sessions")) WHERE finished_at IS NULL ORDER BY session_id DESC LIMIT 1").rows.first
        if !new, let open, let left = open[1].flatMap(Double.init), left > 0 {
            return Period(id: open[0]!, secondsLeft: left, resumed: true)
        }
        if let id = open?[0] { try await finish(c, period: id, outcome: "superseded") }
        let r = try await c.query("INSERT INTO \(state.t("monitor_sessions")) (ends_at, every_seconds) VALUES (clock_timestamp() + make_interval(secs => $1), $2) RETURNING session_id, $1::text",
                                  [String(seconds), String(every)]).rows.first!
        return Period(id: r[0]!, secondsLeft: Double(r[1]!) ?? seconds, resumed: false)
    }

    public func finish(_ c: PGConnection, period id: String, outcome: String) async throws {
        try await c.query("UPDATE \(state.t("monitor_sessions")) SET finished_at = clock_timestamp(), outcome = $2 WHERE session_id = $1", [id, outcome])
    }

    /// The time the next sample counts from: the last sample's, else one interval ago.
    public func lastSampleTime(_ c: PGConnection, interval: Double) async throws -> String {
        try await c.scalar("SELECT coalesce(max(sampled_at), clock_timestamp() - make_interval(secs => $1))::text FROM \(state.t("monitor_samples"))", [String(interval)]) ?? ""
    }

    public func record(_ c: PGConnection, _ s: MonitorSample) async throws {
        let object = s.detail.mapValues { v -> Any in v.rounded() == v && abs(v) < 1e15 ? Int64(v) : v }
        let detail = String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8), as: UTF8.self)
        try await c.query("INSERT INTO \(state.t("monitor_samples")) (sampled_at, login_attempts, login_failures, latency_p95_ms, baseline_p95_ms, detail) VALUES ($1::timestamptz, $2, $3, $4, $5, $6::jsonb)",
                          [s.sampledAt, s.loginAttempts.map(String.init), s.loginFailures.map(String.init), s.latencyP95Ms.map { String($0) },
                           s.baselineP95Ms.map { String($0) }, detail])
    }
}

/// One monitoring sample as recorded.
public struct MonitorSample: Sendable {
    public var sampledAt: String
    public var loginAttempts: Int64?
    public var loginFailures: Int64?
    public var latencyP95Ms: Double?
    public var baselineP95Ms: Double?
    /// The application's counts (e.g. deliveries created) by name.
    public var counts: [(String, Int64)] = []
    public var sentryEvidence: String?
    /// Everything else measured, as recorded in `detail` (a JSON object of numbers; integral ones are written as integers).
    public var detail: [String: Double] = [:]

    public var signals: MonitoringSignals {
        MonitoringSignals(sampledAt: sampledAt, loginAttempts: loginAttempts, loginFailures: loginFailures, latencyP95Ms: latencyP95Ms, baselineP95Ms: baselineP95Ms)
    }
}

/// What a monitor measures and where it says so.
public struct MonitorProbes: Sendable {
    /// The API's health URLs (V2), each requested `requestsPerSample` times per sample.
    public var healthURLs: [String] = []
    public var requestsPerSample = 5
    public var timeout: Duration = .seconds(10)
    /// On the target, given the previous sample's time as $1: login attempts and failures.
    public var loginSQL: String?
    /// Supabase's Management API logs endpoint, read when `loginSQL` is not set.
    public var authLogsURL: String?
    /// The application's own counts since the previous sample (given as $1): name → SQL on the target.
    public var counts: [(String, String)] = []
    /// Sentry's critical issues, when configured: (evidence, count; nil when it could not be asked).
    public var sentry: (@Sendable () async throws -> (evidence: String, count: Int?))?

    public init() {}

    /// A signal the samples leave out, and what would make it measured.
    public struct Unmeasured: Sendable, Equatable, CustomStringConvertible {
        public var what: String
        public var fix: String
        public var description: String { "\(what) (\(fix))" }
    }

    /// What a sample will not measure: said before the first sample and at the end, so that a
    /// quiet period is not read as a healthy one.
    public func unmeasured(baselineP95Ms: Double?) -> [Unmeasured] {
        var out: [Unmeasured] = []
        if healthURLs.isEmpty { out.append(.init(what: "API latency", fix: "set monitor.health_urls")) }
        else if baselineP95Ms == nil { out.append(.init(what: "latency against V1", fix: "run monitor --record-baseline before cutover")) }
        if loginSQL == nil && authLogsURL == nil { out.append(.init(what: "logins", fix: "set monitor.login_sql or monitor.auth_logs_url")) }
        if sentry == nil { out.append(.init(what: "Sentry errors", fix: "set sentry.base_url, sentry.org, sentry.project and SENTRY_AUTH_TOKEN")) }
        return out
    }
}

/// Post-migration monitoring: a sample every interval until the period ends (or `samples` were
/// taken), each recorded, evaluated by the decision matrix and fed to ``MonitorRules``.
public struct Monitor: Sendable {
    public enum Event: Sendable {
        case started(Period)
        /// What this period's samples leave out (``MonitorProbes/unmeasured(baselineP95Ms:)``).
        case unmeasured([MonitorProbes.Unmeasured])
        case sample(MonitorSample)
        /// A rule confirmed by `confirm` samples (the text said on stdout and to the webhook).
        case alert(String)
        case webhookFailed(String)
        public typealias Period = MonitorStore.Period
    }

    public let store: MonitorStore
    public let probes: MonitorProbes
    public let matrix: DecisionMatrix
    public var confirm = 3
    public var webhook: String?
    public var events: @Sendable (Event) -> Void = { _ in }

    public init(store: MonitorStore, probes: MonitorProbes, matrix: DecisionMatrix) {
        self.store = store
        self.probes = probes
        self.matrix = matrix
    }

    /// Runs the period; returns when it completed without a rollback alert, with what its samples
    /// did not measure. Throws `checkFailed` when a rollback rule was confirmed, `interrupted` when
    /// cancelled between samples.
    @discardableResult
    public func run(_ c: PGConnection, seconds: Double, every interval: Double, new: Bool, samples: Int?, decideHint: String) async throws -> [MonitorProbes.Unmeasured] {
        let baseline = try await store.baseline(c)
        let period = try await store.period(c, new: new, seconds: seconds, every: interval)
        events(.started(period))
        let unmeasured = probes.unmeasured(baselineP95Ms: baseline.p95Ms)
        if !unmeasured.isEmpty { events(.unmeasured(unmeasured)) }
        let endsAt = Date().addingTimeInterval(period.secondsLeft)
        var rules = MonitorRules(confirm: confirm)
        var previous = try await store.lastSampleTime(c, interval: interval)
        let verification = try await Verifier.latest(c, stateSchema: store.state.schema)
        var taken = 0
        while Date() < endsAt, samples.map({ taken < $0 }) ?? true {
            taken += 1
            let sample = try await self.sample(c, since: previous, baseline: baseline)
            try await store.record(c, sample)
            previous = sample.sampledAt
            events(.sample(sample))
            let decision = matrix.evaluate(DecisionInputs(phase: .afterSwitch, verification: verification, monitoring: sample.signals, flags: []))
            for action in rules.handle(sample: decision) {
                switch action {
                case .alert(_, let issue, let evidence, let matrixAction):
                    let text = "monitor ALERT: \(issue) for \(confirm) consecutive samples — \(evidence); the matrix says \(matrixAction.replacingOccurrences(of: "_", with: " "))"
                    events(.alert(text))
                    try await DecisionLog(state: store.state).record(c, decision)
                    if let webhook, let e = await Webhook.post(webhook, text: "[monitor] " + text) { events(.webhookFailed("\(e)")) }
                case .stop(_, let issue):
                    try await store.finish(c, period: period.id, outcome: "rollback")
                    throw MigrationError(.checkFailed, "monitoring stopped: \(issue) confirmed by \(confirm) samples. Decide (`\(decideHint)`) and, for a rollback after the DNS switch, follow Scenario 2.")
                }
            }
            let wait = min(interval, endsAt.timeIntervalSinceNow)
            if wait <= 0 || samples.map({ taken >= $0 }) == true { break }
            do { try await Task.sleep(for: .seconds(wait)) } catch {
                throw MigrationError(.interrupted, "monitoring stopped between samples; run monitor again to resume the same period.")
            }
        }
        try await store.finish(c, period: period.id, outcome: "completed")
        return unmeasured
    }

    func sample(_ c: PGConnection, since previous: String, baseline: (p95Ms: Double?, queryMeanMs: Double?)) async throws -> MonitorSample {
        let now = try await c.scalar("SELECT clock_timestamp()::text") ?? ""
        var s = MonitorSample(sampledAt: now, baselineP95Ms: baseline.p95Ms)
        let lat = probes.healthURLs.isEmpty ? nil : try await Self.latency(probes.healthURLs, n: probes.requestsPerSample, timeout: probes.timeout)
        s.latencyP95Ms = lat?.p95
        if let sql = probes.loginSQL, let r = try await c.query(sql, [previous]).rows.first {
            s.loginAttempts = r[0].flatMap { Int64($0) }
            s.loginFailures = r.count > 1 ? r[1].flatMap { Int64($0) } : nil
        } else if let url = probes.authLogsURL, let counts = await Self.authLogCounts(url, since: previous) {
            (s.loginAttempts, s.loginFailures) = counts
        }
        for (name, sql) in probes.counts {
            let n = Int64(try await c.scalar(sql, [previous]) ?? "0") ?? 0
            s.counts.append((name, n))
            s.detail[name] = Double(n)
        }
        s.detail["health_urls"] = Double(probes.healthURLs.count)
        if let sentry = probes.sentry {
            let r = try await sentry()
            s.sentryEvidence = r.evidence
            s.detail["sentry_critical_issues"] = Double(r.count ?? -1)
        }
        if let lat { s.detail["latency_p50_ms"] = lat.p50; s.detail["request_errors"] = Double(lat.errors); s.detail["requests"] = Double(lat.requests) }
        if let q = await Self.meanQueryMs(c) { s.detail["query_mean_ms"] = q }
        if let q = baseline.queryMeanMs { s.detail["baseline_query_mean_ms"] = q }
        return s
    }

    /// p50 and p95 of `n` timed GETs of each URL, in milliseconds. A request that fails (no
    /// answer, a status outside 200–399) or passes its deadline is an error *and* counts at the
    /// deadline's latency (``Latency/counted(milliseconds:ok:timeoutMilliseconds:)``). nil only without URLs.
    public static func latency(_ urls: [String], n: Int, timeout: Duration) async throws -> (p50: Double, p95: Double, errors: Int, requests: Int)? {
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
                if !ok { errors += 1 }
                times.append(Latency.counted(milliseconds: (clock.now - start).seconds * 1000, ok: ok, timeoutMilliseconds: timeout.seconds * 1000))
            }
        }
        guard let p50 = Latency.quantile(times, 0.5), let p95 = Latency.quantile(times, 0.95) else { return nil }
        return (p50, p95, errors, times.count)
    }

    /// Login counts from Supabase's Management API logs endpoint
    /// (`GET /v1/projects/{ref}/analytics/endpoints/logs.all?sql=…&iso_timestamp_start=…`, bearer
    /// SUPABASE_ACCESS_TOKEN; the answer is `{"result": [ … ], "error": null}`): a query over
    /// `auth_logs` counting password-grant attempts and failures since the previous sample.
    public static func authLogCounts(_ url: String, since: String) async -> (Int64, Int64)? {
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

    /// The mean execution time of the database's statements (pg_stat_statements), nil without the extension.
    public static func meanQueryMs(_ c: PGConnection) async -> Double? {
        for table in ["extensions.pg_stat_statements", "public.pg_stat_statements"] {
            if let v = try? await c.scalar("SELECT sum(total_exec_time) / nullif(sum(calls), 0) FROM \(table) WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"),
               let d = Double(v) { return d }
        }
        return nil
    }
}
