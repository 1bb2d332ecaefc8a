import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// libpq resolves host names with a blocking `getaddrinfo` that its `connect_timeout` does not
/// cover, so a silent DNS server can stall a connection for much longer than the timeout. We
/// resolve first, on our own thread and with a deadline, and hand libpq every address of every
/// host as a `host`/`hostaddr` list (keeping each name for TLS verification and `.pgpass`):
/// libpq tries them in order, as it does after its own lookup, so a name whose first address
/// refuses (`::1` with nothing listening, then `127.0.0.1`) still connects, as with psql.
enum HostResolver {
    /// One entry of libpq's host list: the name as given and, for a name we resolved, one address.
    struct Entry: Equatable {
        var host: String
        var address: String
        var port: String?
    }

    static func pinned(_ config: ConnectionConfig, timeout: Duration) async throws -> ConnectionConfig {
        guard config.value("hostaddr") == nil, let hostList = config.value("host") else { return config }
        let hosts = hostList.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let ports = config.value("port").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let names = hosts.filter(needsLookup)
        guard !names.isEmpty else { return config }
        let result: Result<[String: [String]], MigrationError> = await withCheckedContinuation { cont in
            let once = ResumeOnce(cont)
            BlockingThread.run {
                var resolved: [String: [String]] = [:]
                for name in names where resolved[name] == nil {
                    switch addresses(of: name) {
                    case .success(let list): resolved[name] = list
                    case .failure(let why):
                        once.resume(.failure(MigrationError(
                            .unknownHost, "\(config.label) (\(config.redactedURL)): host \"\(name)\" cannot be resolved (\(why)). Check the host name in the URL.")))
                        return
                    }
                }
                once.resume(.success(resolved))
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int(timeout.components.seconds * 1000))) {
                once.resume(.failure(MigrationError(
                    .connectionTimeout, "\(config.label) (\(config.redactedURL)): resolving host \"\(names.joined(separator: ", "))\" took longer than \(timeout.components.seconds) s. Check the host name and this machine's DNS.")))
            }
        }
        let resolved: [String: [String]]
        switch result {
        case .success(let r): resolved = r
        case .failure(let error): throw error
        }
        let entries = expand(hosts: hosts, ports: ports, resolved: resolved)
        var pinned = config.adding("host", entries.map(\.host).joined(separator: ","))
            .adding("hostaddr", entries.map(\.address).joined(separator: ","))
        if let ports, ports.count > 1, ports.count == hosts.count {
            pinned = pinned.adding("port", entries.map { $0.port ?? "" }.joined(separator: ","))
        }
        return pinned
    }

    /// libpq's host list with each resolved name repeated once per address (an empty address:
    /// libpq uses the entry's host as it is: a socket directory, a numeric address). A port list
    /// of one port per host follows its host.
    static func expand(hosts: [String], ports: [String]?, resolved: [String: [String]]) -> [Entry] {
        var out: [Entry] = []
        for (i, host) in hosts.enumerated() {
            let port = ports.flatMap { $0.count == hosts.count ? $0[i] : nil }
            if needsLookup(host), let addresses = resolved[host], !addresses.isEmpty {
                out += addresses.map { Entry(host: host, address: $0, port: port) }
            } else {
                out.append(Entry(host: host, address: "", port: port))
            }
        }
        return out
    }

    /// A host entry libpq would look up itself: not empty, not a socket path, not numeric.
    static func needsLookup(_ host: String) -> Bool {
        !host.isEmpty && !host.hasPrefix("/") && !host.hasPrefix("@") && !isNumeric(host)
    }

    /// Every address of `name` (IPv6 and IPv4, in getaddrinfo's order, each once).
    static func addresses(of name: String) -> Result<[String], GAIError> {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(name, nil, &hints, &res)
        defer { if let res { freeaddrinfo(res) } }
        guard rc == 0, res != nil else { return .failure(GAIError(text: String(cString: gai_strerror(rc)))) }
        var list: [String] = []
        var p = res
        while let ai = p {
            var buf = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(ai.pointee.ai_addr, ai.pointee.ai_addrlen, &buf, socklen_t(buf.count), nil, 0, NI_NUMERICHOST) == 0 {
                let text = String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if !list.contains(text) { list.append(text) }
            }
            p = ai.pointee.ai_next
        }
        return list.isEmpty ? .failure(GAIError(text: "no address")) : .success(list)
    }

    struct GAIError: Error, CustomStringConvertible {
        let text: String
        var description: String { text }
    }

    static func isNumeric(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}

private final class ResumeOnce: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Result<[String: [String]], MigrationError>, Never>?
    init(_ c: CheckedContinuation<Result<[String: [String]], MigrationError>, Never>) { continuation = c }
    func resume(_ value: Result<[String: [String]], MigrationError>) {
        lock.withLock {
            continuation?.resume(returning: value)
            continuation = nil
        }
    }
}
