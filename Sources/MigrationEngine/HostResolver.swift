import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// libpq resolves host names with a blocking `getaddrinfo` that its `connect_timeout` does not
/// cover, so a silent DNS server can stall a connection for much longer than the timeout. We
/// resolve first, on our own thread and with a deadline, and hand libpq the address as
/// `hostaddr` (keeping `host` for TLS verification and `.pgpass`), which is libpq's own way of
/// skipping the lookup.
enum HostResolver {
    static func pinned(_ config: ConnectionConfig, timeout: Duration) async throws -> ConnectionConfig {
        guard config.value("hostaddr") == nil, let host = config.value("host"),
              !host.contains(","), !host.hasPrefix("/"), !host.hasPrefix("@"), !isNumeric(host) else { return config }
        let result: Result<String, MigrationError> = await withCheckedContinuation { cont in
            let once = ResumeOnce(cont)
            BlockingThread.run {
                var hints = addrinfo()
                hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
                var res: UnsafeMutablePointer<addrinfo>?
                let rc = getaddrinfo(host, nil, &hints, &res)
                defer { if let res { freeaddrinfo(res) } }
                guard rc == 0, let first = res else {
                    let why = String(cString: gai_strerror(rc))
                    once.resume(.failure(MigrationError(
                        .unknownHost, "\(config.label) (\(config.redactedURL)): host \"\(host)\" cannot be resolved (\(why)). Check the host name in the URL.")))
                    return
                }
                var buf = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                getnameinfo(first.pointee.ai_addr, first.pointee.ai_addrlen, &buf, socklen_t(buf.count), nil, 0, NI_NUMERICHOST)
                once.resume(.success(String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)))
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int(timeout.components.seconds * 1000))) {
                once.resume(.failure(MigrationError(
                    .connectionTimeout, "\(config.label) (\(config.redactedURL)): resolving host \"\(host)\" took longer than \(timeout.components.seconds) s. Check the host name and this machine's DNS.")))
            }
        }
        switch result {
        case .success(let address): return config.adding("hostaddr", address)
        case .failure(let error): throw error
        }
    }

    static func isNumeric(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}

private final class ResumeOnce: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Result<String, MigrationError>, Never>?
    init(_ c: CheckedContinuation<Result<String, MigrationError>, Never>) { continuation = c }
    func resume(_ value: Result<String, MigrationError>) {
        lock.withLock {
            continuation?.resume(returning: value)
            continuation = nil
        }
    }
}
