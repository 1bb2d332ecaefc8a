import Foundation
import Hummingbird
import Logging
import MigrationEngine
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// A live status page: `/` (HTML that polls `/api/status` every two seconds and draws the
/// runbook, per-table progress, verification, decision and monitoring as inline SVG),
/// `/api/status` (JSON) and `/metrics` (Prometheus text), each produced on request by the
/// closures it is given. Knows nothing of cocoa: the executable passes the title and the data.
///
/// The server is Hummingbird 2 (SwiftNIO) run as a service in a ServiceGroup, as Hummingbird's
/// own `Application.runService()` does: every connection is served concurrently (a slow or idle
/// client holds only its own), malformed requests get 400; GET and HEAD only (405), headers over
/// ``maxHeaderBytes`` get 431, and with a token every request must carry it (401). Cancellation
/// (Ctrl+C, SIGTERM) is a graceful shutdown within half a second, then whatever is still open is
/// cancelled.
public struct StatusPageServer: Sendable {
    /// Request headers larger than this (names and values together) get 431.
    public static let maxHeaderBytes = 16 * 1024

    public var title: String
    public var host: String
    public var port: Int
    public var token: String?
    public var status: @Sendable () async throws -> String
    public var metrics: @Sendable () async throws -> String

    public init(title: String, host: String, port: Int, token: String?,
                status: @escaping @Sendable () async throws -> String, metrics: @escaping @Sendable () async throws -> String) {
        self.title = title
        self.host = host
        self.port = port
        self.token = token
        self.status = status
        self.metrics = metrics
    }

    /// Tokens shorter than this do not open the page to the network.
    public static let minimumTokenLength = 16

    /// `localhost`, or an IPv4 or IPv6 address.
    public static func isBindable(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return host == "localhost" || inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// 127.0.0.0/8, ::1 and localhost.
    public static func isLoopback(_ host: String) -> Bool { ConnectionConfig.isLoopbackAddress(host) }

    /// A page bound beyond loopback shows the migration to the network: only with a token of at
    /// least `minimumTokenLength` characters. Refuses (exit 4) otherwise, before anything starts.
    public static func checkExposure(bind: String, token: String?) throws {
        if !isLoopback(bind) && (token ?? "").count < minimumTokenLength {
            throw MigrationError(.refused, "status-page on \(bind) would show the migration to the network: set a token of at least \(minimumTokenLength) characters (COCOATRACK_STATUS_TOKEN or status_page_token), or bind 127.0.0.1. Nothing was started.")
        }
    }

    /// Serves until cancelled (then shuts down gracefully). `onRunning` is called once listening.
    /// Throws `environment` when the address cannot be bound.
    public func run(logger: Logger, onRunning: @escaping @Sendable () -> Void) async throws {
        let shown = host.contains(":") ? "[\(host)]" : host
        var config = ServiceGroupConfiguration(services: [application(logger: logger, onRunning: onRunning)], logger: logger)
        config.maximumGracefulShutdownDuration = Duration.milliseconds(500)
        // Cancellation becomes the group's graceful shutdown instead of cancelling the server
        // mid-connection (which Hummingbird reports as errors): the group runs in a task of its
        // own so that it is not cancelled with us.
        let group = ServiceGroup(configuration: config)
        let running = Task { try await group.run() }
        do {
            try await withTaskCancellationHandler {
                try await running.value
            } onCancel: {
                Task { await group.triggerGracefulShutdown() }
            }
        } catch is CancellationError {
        } catch {
            let text = "\(error)"
            if text.contains("Address already in use") || text.contains("EADDRINUSE") || text.contains("bind") || text.contains("Cannot assign") {
                throw MigrationError(.environment, "cannot listen on \(shown):\(port): \(text.prefix(200)). Choose another --port or --bind.")
            }
            throw error
        }
    }

    /// The application: routes, the guard as middleware.
    func application(logger: Logger, onRunning: @escaping @Sendable () -> Void) -> some Service {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: GuardMiddleware(token: token))
        func route(_ path: RouterPath, _ contentType: String, _ body: @escaping @Sendable () async throws -> String) {
            let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
                let text: String
                do { text = try await body() } catch {
                    return Self.plain(.internalServerError, Redactor.redact("\(error)\n"), head: request.method == .head)
                }
                var headers: HTTPFields = [.contentType: contentType, .cacheControl: "no-store"]
                let bytes = ByteBuffer(string: text)
                headers[.contentLength] = String(bytes.readableBytes)
                return Response(status: .ok, headers: headers, body: request.method == .head ? ResponseBody() : ResponseBody(byteBuffer: bytes))
            }
            router.get(path, use: handler)
            router.head(path, use: handler)
        }
        let html = Self.page(title: title)
        route("/", "text/html; charset=utf-8") { html }
        route("/api/status", "application/json", status)
        route("/metrics", "text/plain; version=0.0.4; charset=utf-8", metrics)
        return Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: .seconds(60))),
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { _ in onRunning() },
            logger: logger
        )
    }

    static func plain(_ status: HTTPResponse.Status, _ text: String, head: Bool = false, extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"]
        headers.append(contentsOf: extra)
        let bytes = ByteBuffer(string: text)
        headers[.contentLength] = String(bytes.readableBytes)
        return Response(status: status, headers: headers, body: head ? ResponseBody() : ResponseBody(byteBuffer: bytes))
    }

    /// Before any route: headers too large (431), a method other than GET or HEAD (405), then the
    /// token (401) when one is set (`?token=` or `Authorization: Bearer`, compared in constant time).
    struct GuardMiddleware<Context: RequestContext>: RouterMiddleware {
        let token: String?

        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            let head = request.method == .head
            let size = request.headers.reduce(0) { $0 + $1.name.rawName.utf8.count + $1.value.utf8.count + 4 }
            if size > StatusPageServer.maxHeaderBytes {
                return StatusPageServer.plain(.init(code: 431, reasonPhrase: "Request Header Fields Too Large"),
                                              "request headers over \(StatusPageServer.maxHeaderBytes / 1024) KiB\n", head: head, extra: [.connection: "close"])
            }
            guard request.method == .get || head else {
                return StatusPageServer.plain(.methodNotAllowed, "GET or HEAD only\n", extra: [.allow: "GET, HEAD"])
            }
            if let token {
                let given = request.uri.queryParameters["token"].map(String.init)
                    ?? request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
                guard let given, Self.same(given, token) else {
                    return StatusPageServer.plain(.unauthorized, "a token is required\n", head: head, extra: [.wwwAuthenticate: "Bearer"])
                }
            }
            return try await next(request, context)
        }

        static func same(_ a: String, _ b: String) -> Bool {
            let x = Array(a.utf8), y = Array(b.utf8)
            var diff = x.count ^ y.count
            for i in 0..<max(x.count, y.count) { diff |= Int(i < x.count ? x[i] : 0) ^ Int(i < y.count ? y[i] : 0) }
            return diff == 0
        }
    }

    /// The page: polls `api/status` every two seconds (keeping `?token=`) and draws it.
    static func page(title: String) -> String {
        """
        <!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>\(ReportHTML.escape(title)) status</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>
        body{font-family:system-ui,sans-serif;max-width:1100px;margin:1.5rem auto;padding:0 1rem;color:#1d2433}
        .steps{display:flex;flex-wrap:wrap;gap:.4rem;margin:.5rem 0 1rem}.step{padding:.35rem .6rem;border-radius:6px;background:#eceff4;font-size:.85rem}
        .done{background:#e3f6e8;color:#135c2c}.running,.paused{background:#fff1d6;color:#7a4b00;font-weight:600}.failed{background:#fde5e5;color:#8a1c1c}
        table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border-bottom:1px solid #e1e5ec;padding:.3rem .5rem;text-align:left}td.num{text-align:right}
        .big{font-size:1.3rem;font-weight:600}.muted{color:#5b6475;font-size:.85rem}
        </style></head><body>
        <h1>\(ReportHTML.escape(title))</h1>
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
}
