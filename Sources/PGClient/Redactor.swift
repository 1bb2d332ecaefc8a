import Foundation
import Synchronization

/// Keeps passwords out of every log line, error and report.
///
/// Two layers: every password the process learns (from a URL, a sandbox state file, the
/// environment) is registered and replaced wherever it appears; and anything shaped like a
/// credential (`scheme://user:secret@`, `password=secret`) is masked even if it was never
/// registered.
public enum Redactor {
    public static let mask = "****"
    private static let secrets = Mutex<Set<String>>([])

    /// Registers a secret so that later output never shows it. Very short strings are
    /// registered too, but only replaced inside credential-shaped text to avoid mangling output.
    public static func register(_ secret: String?) {
        guard let secret, !secret.isEmpty else { return }
        secrets.withLock { _ = $0.insert(secret) }
    }

    public static func redact(_ text: String) -> String {
        var out = text
        // Longest first, so a secret containing another is removed whole.
        let known = secrets.withLock { Array($0) }.filter { $0.count >= 4 }.sorted { $0.count > $1.count }
        for secret in known where out.contains(secret) {
            out = out.replacingOccurrences(of: secret, with: mask)
        }
        out = maskURLPasswords(out)
        out = maskKeywordPasswords(out)
        return out
    }

    /// `postgresql://user:secret@host` → `postgresql://user:****@host`; also in JSON that
    /// escapes its slashes (`postgresql:\/\/user:secret@host`).
    static func maskURLPasswords(_ text: String) -> String {
        maskURLPasswords(maskURLPasswords(text, separator: "://"), separator: #":\/\/"#)
    }

    static func maskURLPasswords(_ text: String, separator: String) -> String {
        guard text.contains(separator) else { return text }
        var result = ""
        var rest = Substring(text)
        let escaped = separator.contains("\\")
        while let schemeRange = rest.range(of: separator) {
            result += rest[..<schemeRange.upperBound]
            rest = rest[schemeRange.upperBound...]
            // authority ends at the first '/', '?', '#' or whitespace (in escaped JSON: at `\/`)
            let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" || (escaped && $0 == "\\") || $0.isWhitespace }) ?? rest.endIndex
            let authority = rest[..<end]
            if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
                result += authority[...colon]
                result += mask
                result += authority[at...]
            } else {
                result += authority
            }
            rest = rest[end...]
        }
        result += rest
        return result
    }

    /// `password=secret` (conninfo and query strings) → `password=****`.
    static func maskKeywordPasswords(_ text: String) -> String {
        guard text.range(of: "password=", options: .caseInsensitive) != nil else { return text }
        var result = ""
        var rest = Substring(text)
        while let r = rest.range(of: "password=", options: .caseInsensitive) {
            result += rest[..<r.upperBound]
            rest = rest[r.upperBound...]
            let end = rest.firstIndex(where: { $0 == "&" || $0.isWhitespace || $0 == "'" || $0 == "\"" }) ?? rest.endIndex
            if end != rest.startIndex { result += mask }
            rest = rest[end...]
        }
        result += rest
        return result
    }
}
