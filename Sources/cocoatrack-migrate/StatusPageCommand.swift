import ArgumentParser
import CocoaTrack
import Foundation
import MigrationEngine
#if canImport(Glibc)
import Glibc
#endif

/// A live status page over V2's migration schema: the runbook, per-table progress, verification,
/// decision and monitoring (inline SVG), updating itself by polling `/api/status`; `/metrics` in
/// Prometheus text format. Loopback only unless a token is configured.
struct StatusPageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status-page",
        abstract: "A live status page (/, /api/status, /metrics) over the migration's state in V2.",
        discussion: """
            Binds 127.0.0.1 by default. Any other --bind needs a token (COCOATRACK_STATUS_TOKEN or settings \
            status_page_token), which every request must then carry (?token=… or Authorization: Bearer …); without \
            one it refuses (exit 4). Ctrl+C stops it.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: "TCP port.") var port: Int = 8080
    @Option(help: "Address to bind.") var bind: String = "127.0.0.1"

    func run() async throws {
        let settings = try global.settings()
        let token = ProcessInfo.processInfo.environment["COCOATRACK_STATUS_TOKEN"] ?? settings.file?["status_page_token"]?.string
        let loopback = bind == "127.0.0.1" || bind == "localhost" || bind == "::1"
        if !loopback && (token ?? "").count < 16 {
            throw MigrationError(.refused, "status-page on \(bind) would show the migration to the network: set a token of at least 16 characters (COCOATRACK_STATUS_TOKEN or status_page_token), or bind 127.0.0.1. Nothing was started.")
        }
        if let token { Redactor.register(token) }
        let v2 = try await PGConnection.connect(try global.config("V2"), logger: global.makeLogger())
        defer { Task { await v2.close() } }
        let fd = try Self.listen(bind == "localhost" ? "127.0.0.1" : bind, port)
        defer { close(fd) }
        Out.info("status page on http://\(bind):\(port)/ (Ctrl+C stops it)")
        while !Task.isCancelled {
            guard let client = await Self.accept(fd) else { continue }
            let request = Self.readRequest(client)
            let (path, query, auth) = Self.parse(request)
            var response: (Int, String, String)
            if let token, !(query["token"] == token || auth == "Bearer \(token)") {
                response = (401, "text/plain", "a token is required\n")
            } else {
                do {
                    switch path {
                    case "/": response = (200, "text/html; charset=utf-8", Self.page)
                    case "/api/status": response = (200, "application/json", try await Self.status(v2))
                    case "/metrics": response = (200, "text/plain; version=0.0.4", try await Self.metrics(v2))
                    default: response = (404, "text/plain", "not found\n")
                    }
                } catch {
                    response = (500, "text/plain", Redactor.redact("\(error)\n"))
                }
            }
            Self.write(client, response)
            close(client)
        }
    }

    // MARK: sockets

    static func listen(_ host: String, _ port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw MigrationError(.environment, "socket() failed") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else { close(fd); throw MigrationError(.usage, "--bind \(host) is not an IPv4 address") }
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, Glibc.listen(fd, 16) == 0 else {
            close(fd)
            throw MigrationError(.environment, "cannot listen on \(host):\(port): \(String(cString: strerror(errno))). Choose another --port.")
        }
        return fd
    }

    /// Waits up to half a second for a connection (so that Ctrl+C is noticed).
    static func accept(_ fd: Int32) async -> Int32? {
        await withCheckedContinuation { (cont: CheckedContinuation<Int32?, Never>) in
            BlockingThread.run {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&p, 1, 500) > 0 else { cont.resume(returning: nil); return }
                let c = Glibc.accept(fd, nil, nil)
                cont.resume(returning: c >= 0 ? c : nil)
            }
        }
    }

    static func readRequest(_ fd: Int32) -> String {
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var data = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 4096)
        while data.count < 65_536 {
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            data += buf[0..<n]
            if data.count >= 4, data.suffix(4) == [13, 10, 13, 10] { break }
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func parse(_ request: String) -> (String, [String: String], String?) {
        let lines = request.split(separator: "\r\n", omittingEmptySubsequences: false)
        let target = lines.first?.split(separator: " ").dropFirst().first.map(String.init) ?? "/"
        let parts = target.split(separator: "?", maxSplits: 1)
        var query: [String: String] = [:]
        if parts.count == 2 {
            for kv in parts[1].split(separator: "&") {
                let p = kv.split(separator: "=", maxSplits: 1)
                if p.count == 2 { query[String(p[0])] = String(p[1]).removingPercentEncoding }
            }
        }
        let auth = lines.first { $0.lowercased().hasPrefix("authorization:") }.map { String($0.dropFirst("authorization:".count)).trimmingCharacters(in: .whitespaces) }
        return (String(parts.first ?? "/"), query, auth)
    }

    static func write(_ fd: Int32, _ r: (Int, String, String)) {
        let body = Array(r.2.utf8)
        let reason = [200: "OK", 401: "Unauthorized", 404: "Not Found", 500: "Internal Server Error"][r.0] ?? "OK"
        let head = "HTTP/1.1 \(r.0) \(reason)\r\nContent-Type: \(r.1)\r\nContent-Length: \(body.count)\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
        let all = Array(head.utf8) + body
        var sent = 0
        while sent < all.count {
            let n = all[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            sent += n
        }
    }

    // MARK: data

    static func json(_ o: Any) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])) ?? Data("{}".utf8), as: UTF8.self)
    }

    static func exists(_ c: PGConnection, _ table: String) async throws -> Bool {
        try await c.scalar("SELECT to_regclass($1) IS NOT NULL", [table]) == "t"
    }

    static func status(_ c: PGConnection) async throws -> String {
        let state = MigrationState(schema: CocoaTrackMapping.stateSchema)
        var out: [String: Any] = ["generated_at": Date().formatted(.iso8601)]
        let history = try await RunbookJournal(state: state).history(c)
        var steps: [[String: Any]] = []
        var current: String?
        for s in CutoverSteps.all {
            let last = history.last { $0.step == s.id }
            let st = last.map { $0.event == "succeeded" ? "done" : ($0.event == "started" ? "running" : $0.event) } ?? "pending"
            if st == "running" || st == "paused" { current = current ?? s.id }
            steps.append(["id": s.id, "title": s.title, "state": st, "at": last?.at ?? ""])
        }
        out["runbook"] = ["steps": steps, "current": current ?? (history.contains { $0.step == "runbook" && $0.event == "finished" } ? "finished" : "not started")]
        if try await exists(c, state.t("load_progress")) {
            out["loads"] = try await c.query("SELECT load_name, status, rows_written, rows_rejected, coalesce(source_rows, 0) FROM \(state.t("load_progress")) ORDER BY load_name").rows.map {
                ["load": $0[0]!, "status": $0[1]!, "written": Int($0[2]!) ?? 0, "rejected": Int($0[3]!) ?? 0, "source_rows": Int($0[4]!) ?? 0]
            }
        }
        if let v = try await Verifier.latest(c, stateSchema: state.schema) {
            out["verification"] = ["id": v.verificationId, "outcome": v.outcome, "at": v.finishedAt ?? v.startedAt,
                                   "checks": v.checks.map { ["name": $0.name, "status": $0.status, "summary": $0.summary] }]
        }
        if try await exists(c, state.t("decisions")), let d = try await c.query("SELECT action, phase, decided_at::text FROM \(state.t("decisions")) ORDER BY decided_at DESC LIMIT 1").rows.first {
            out["decision"] = ["action": d[0]!, "phase": d[1]!, "at": d[2]!]
        }
        if try await exists(c, state.t("monitor_samples")) {
            out["monitoring"] = try await c.query("""
                SELECT sampled_at::text, latency_p95_ms, baseline_p95_ms, login_attempts, login_failures
                FROM (SELECT * FROM \(state.t("monitor_samples")) ORDER BY sampled_at DESC LIMIT 288) s ORDER BY sampled_at
                """).rows.map { ["at": $0[0]!, "p95_ms": $0[1].flatMap(Double.init) as Any, "baseline_p95_ms": $0[2].flatMap(Double.init) as Any,
                                 "login_attempts": $0[3].flatMap { Int($0) } as Any, "login_failures": $0[4].flatMap { Int($0) } as Any] }
        }
        return json(out)
    }

    static func metrics(_ c: PGConnection) async throws -> String {
        let state = MigrationState(schema: CocoaTrackMapping.stateSchema)
        var m = "# HELP cocoatrack_migrate_rows_written Rows written to V2 per load.\n# TYPE cocoatrack_migrate_rows_written gauge\n"
        if try await exists(c, state.t("load_progress")) {
            for r in try await c.query("SELECT load_name, rows_written, rows_rejected FROM \(state.t("load_progress")) ORDER BY 1").rows {
                m += "cocoatrack_migrate_rows_written{load=\"\(r[0]!)\"} \(r[1]!)\n"
            }
            m += "# HELP cocoatrack_migrate_rows_rejected Rows rejected per load.\n# TYPE cocoatrack_migrate_rows_rejected gauge\n"
            for r in try await c.query("SELECT load_name, rows_rejected FROM \(state.t("load_progress")) ORDER BY 1").rows {
                m += "cocoatrack_migrate_rows_rejected{load=\"\(r[0]!)\"} \(r[1]!)\n"
            }
        }
        let v = try await Verifier.latest(c, stateSchema: state.schema)
        m += "# HELP cocoatrack_migrate_verification_pass 1 when the latest verification passed.\n# TYPE cocoatrack_migrate_verification_pass gauge\n"
        m += "cocoatrack_migrate_verification_pass \(v?.outcome == "pass" ? 1 : 0)\n"
        let history = try await RunbookJournal(state: state).history(c)
        m += "# HELP cocoatrack_migrate_runbook_step_done 1 when the runbook step succeeded.\n# TYPE cocoatrack_migrate_runbook_step_done gauge\n"
        for s in CutoverSteps.ids { m += "cocoatrack_migrate_runbook_step_done{step=\"\(s)\"} \(history.contains { $0.step == s && $0.event == "succeeded" } ? 1 : 0)\n" }
        if try await exists(c, state.t("monitor_samples")), let r = try await c.query("SELECT latency_p95_ms, login_attempts, login_failures FROM \(state.t("monitor_samples")) ORDER BY sampled_at DESC LIMIT 1").rows.first {
            m += "# HELP cocoatrack_migrate_api_latency_p95_ms Latest sampled API p95 latency.\n# TYPE cocoatrack_migrate_api_latency_p95_ms gauge\n"
            m += "cocoatrack_migrate_api_latency_p95_ms \(r[0] ?? "NaN")\n"
            m += "# HELP cocoatrack_migrate_login_failures Failed logins in the latest sample.\n# TYPE cocoatrack_migrate_login_failures gauge\n"
            m += "cocoatrack_migrate_login_failures \(r[2] ?? "NaN")\n"
        }
        return m
    }

    static let page = """
        <!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>CocoaTrack cutover status</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>
        body{font-family:system-ui,sans-serif;max-width:1100px;margin:1.5rem auto;padding:0 1rem;color:#1d2433}
        .steps{display:flex;flex-wrap:wrap;gap:.4rem;margin:.5rem 0 1rem}.step{padding:.35rem .6rem;border-radius:6px;background:#eceff4;font-size:.85rem}
        .done{background:#e3f6e8;color:#135c2c}.running,.paused{background:#fff1d6;color:#7a4b00;font-weight:600}.failed{background:#fde5e5;color:#8a1c1c}
        table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border-bottom:1px solid #e1e5ec;padding:.3rem .5rem;text-align:left}td.num{text-align:right}
        .big{font-size:1.3rem;font-weight:600}.muted{color:#5b6475;font-size:.85rem}
        </style></head><body>
        <h1>CocoaTrack cutover</h1>
        <div class="muted">updated <span id="updated">…</span> · refreshes every 2 s</div>
        <h2>Runbook</h2><div class="big">current step: <span id="current">…</span></div><div id="steps" class="steps"></div>
        <h2>Migration progress</h2><table id="loads"><tr><th>load</th><th>state</th><th>written</th><th>of</th><th>rejected</th></tr></table>
        <h2>Verification and decision</h2><div id="verification">no verification yet</div><div id="decision"></div>
        <h2>Monitoring</h2><div id="monitoring">no samples yet</div>
        <script>
        function esc(s){return String(s).replace(/[&<>"']/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]))}
        function chart(samples){
          if(!samples.length)return 'no samples yet';
          const w=700,h=160,vals=samples.map(s=>s.p95_ms||0),base=samples.map(s=>s.baseline_p95_ms||0);
          const max=Math.max(1,...vals,...base);const x=i=>samples.length<2?0:i*w/(samples.length-1);const y=v=>h-v/max*h;
          const line=a=>a.map((v,i)=>(i?'L':'M')+x(i).toFixed(1)+','+y(v).toFixed(1)).join(' ');
          const last=samples[samples.length-1];
          return '<svg id="latency-chart" width="'+w+'" height="'+(h+20)+'" role="img" aria-label="API p95 latency">'+
            '<path d="'+line(base)+'" stroke="#9fb4d8" fill="none" stroke-dasharray="4 3"/><path d="'+line(vals)+'" stroke="#2f6f3e" fill="none" stroke-width="2"/></svg>'+
            '<div>latest p95 <b id="p95">'+(last.p95_ms==null?'-':Math.round(last.p95_ms))+' ms</b> (V1 baseline '+(last.baseline_p95_ms==null?'-':Math.round(last.baseline_p95_ms))+' ms) · logins '+
            (last.login_failures==null?'-':last.login_failures)+' failed of '+(last.login_attempts==null?'-':last.login_attempts)+' · '+samples.length+' samples</div>';
        }
        async function refresh(){
          try{
            const s=await (await fetch('api/status'+location.search)).json();
            document.getElementById('updated').textContent=s.generated_at;
            document.getElementById('current').textContent=s.runbook.current;
            document.getElementById('steps').innerHTML=s.runbook.steps.map(st=>'<span class="step '+esc(st.state)+'" data-step="'+esc(st.id)+'" data-state="'+esc(st.state)+'">'+esc(st.title)+': '+esc(st.state)+'</span>').join('');
            document.getElementById('loads').innerHTML='<tr><th>load</th><th>state</th><th>written</th><th>of</th><th>rejected</th></tr>'+(s.loads||[]).map(l=>'<tr data-load="'+esc(l.load)+'"><td>'+esc(l.load)+'</td><td>'+esc(l.status)+'</td><td class="num">'+l.written.toLocaleString('en')+'</td><td class="num">'+l.source_rows.toLocaleString('en')+'</td><td class="num">'+l.rejected+'</td></tr>').join('');
            if(s.verification)document.getElementById('verification').innerHTML='<div class="big" id="verification-outcome">verification: '+esc(s.verification.outcome)+'</div>'+s.verification.checks.map(c=>'<div>'+esc(c.status)+' · '+esc(c.name)+': '+esc(c.summary)+'</div>').join('');
            if(s.decision)document.getElementById('decision').innerHTML='<div class="big" id="decision-action">decision: '+esc(s.decision.action)+' ('+esc(s.decision.phase)+', '+esc(s.decision.at)+')</div>';
            if(s.monitoring)document.getElementById('monitoring').innerHTML=chart(s.monitoring);
          }catch(e){document.getElementById('updated').textContent='cannot reach the tool: '+e}
        }
        refresh();setInterval(refresh,2000);
        </script></body></html>
        """
}
