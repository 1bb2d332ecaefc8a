/// Name-based UUIDs, version 5 (RFC 9562: SHA-1 of namespace ‖ name), computed without
/// allocation on the hot path: migration derives every V2 id and every reference this way.
public struct UUIDv5Namespace: Sendable {
    public let bytes: [UInt8]

    /// `namespace` in the canonical 8-4-4-4-12 form.
    public init?(_ namespace: String) {
        let hex = namespace.filter { $0 != "-" }
        guard hex.count == 32 else { return nil }
        var out: [UInt8] = []
        var it = hex.makeIterator()
        while let a = it.next(), let b = it.next() {
            guard let v = UInt8(String([a, b]), radix: 16) else { return nil }
            out.append(v)
        }
        bytes = out
    }

    /// The UUID of `name` (UTF-8) in this namespace, as lowercase 8-4-4-4-12 text.
    public func uuid(_ name: String) -> String {
        SHA1.withDigest(prefix: bytes, name: name) { digest in
            digest[6] = (digest[6] & 0x0F) | 0x50
            digest[8] = (digest[8] & 0x3F) | 0x80
            return UUIDText.format(UnsafeBufferPointer(digest))
        }
    }

    /// The UUID of `"<table>:<id>"`.
    public func uuid(table: String, id: Int64) -> String { uuid("\(table):\(id)") }
}

public enum UUIDText {
    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    static func format(_ b: UnsafeBufferPointer<UInt8>) -> String {
        String(unsafeUninitializedCapacity: 36) { out in
            var o = 0
            for i in 0..<16 {
                if i == 4 || i == 6 || i == 8 || i == 10 { out[o] = 0x2D; o += 1 }
                out[o] = hexDigits[Int(b[i] >> 4)]
                out[o + 1] = hexDigits[Int(b[i] & 0x0F)]
                o += 2
            }
            return 36
        }
    }
}

/// SHA-1 (FIPS 180-4). Used only for UUIDv5 names, never for security. Allocation-free:
/// the message is padded in a stack buffer and the schedule kept in 16 words.
enum SHA1 {
    /// Digest of `prefix ‖ name`, handed to `body` as 20 bytes.
    static func withDigest<R>(prefix: [UInt8], name: String, _ body: (UnsafeMutableBufferPointer<UInt8>) -> R) -> R {
        var name = name
        return name.withUTF8 { nameBytes in
            let length = prefix.count + nameBytes.count
            let blocks = (length + 8) / 64 + 1
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: blocks * 64 + 20) { buf in
                buf.initialize(repeating: 0)
                for i in 0..<prefix.count { buf[i] = prefix[i] }
                for i in 0..<nameBytes.count { buf[prefix.count + i] = nameBytes[i] }
                buf[length] = 0x80
                let bits = UInt64(length) * 8
                let end = blocks * 64
                for i in 0..<8 { buf[end - 1 - i] = UInt8((bits >> (UInt64(i) * 8)) & 0xFF) }
                var h0: UInt32 = 0x6745_2301, h1: UInt32 = 0xEFCD_AB89, h2: UInt32 = 0x98BA_DCFE
                var h3: UInt32 = 0x1032_5476, h4: UInt32 = 0xC3D2_E1F0
                withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 16) { w in
                    for block in 0..<blocks {
                        let base = block * 64
                        for i in 0..<16 {
                            let j = base + i * 4
                            w[i] = UInt32(buf[j]) << 24 | UInt32(buf[j + 1]) << 16 | UInt32(buf[j + 2]) << 8 | UInt32(buf[j + 3])
                        }
                        var a = h0, b = h1, c = h2, d = h3, e = h4
                        @inline(__always) func schedule(_ i: Int) -> UInt32 {
                            if i < 16 { return w[i] }
                            let x = w[(i &- 3) & 15] ^ w[(i &- 8) & 15] ^ w[(i &- 14) & 15] ^ w[i & 15]
                            let v = (x << 1) | (x >> 31)
                            w[i & 15] = v
                            return v
                        }
                        @inline(__always) func round(_ f: UInt32, _ k: UInt32, _ wi: UInt32) {
                            let t = ((a << 5) | (a >> 27)) &+ f &+ e &+ k &+ wi
                            e = d; d = c; c = (b << 30) | (b >> 2); b = a; a = t
                        }
                        for i in 0..<20 { round((b & c) | (~b & d), 0x5A82_7999, schedule(i)) }
                        for i in 20..<40 { round(b ^ c ^ d, 0x6ED9_EBA1, schedule(i)) }
                        for i in 40..<60 { round((b & c) | (b & d) | (c & d), 0x8F1B_BCDC, schedule(i)) }
                        for i in 60..<80 { round(b ^ c ^ d, 0xCA62_C1D6, schedule(i)) }
                        h0 = h0 &+ a; h1 = h1 &+ b; h2 = h2 &+ c; h3 = h3 &+ d; h4 = h4 &+ e
                    }
                }
                let out = UnsafeMutableBufferPointer(rebasing: buf[end..<end + 20])
                @inline(__always) func put(_ h: UInt32, _ o: Int) {
                    out[o] = UInt8(h >> 24); out[o + 1] = UInt8((h >> 16) & 0xFF)
                    out[o + 2] = UInt8((h >> 8) & 0xFF); out[o + 3] = UInt8(h & 0xFF)
                }
                put(h0, 0); put(h1, 4); put(h2, 8); put(h3, 12); put(h4, 16)
                return body(out)
            }
        }
    }

}
