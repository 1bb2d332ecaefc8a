/// Parses one row of PostgreSQL's COPY text format (as `PQgetCopyData` returns it, with its
/// trailing newline) into fields: `nil` for `\N`, escapes decoded.
public enum CopyTextParser {
    public static func fields(_ row: UnsafeRawBufferPointer, into out: inout [String?]) {
        out.removeAll(keepingCapacity: true)
        var scratch: [UInt8] = []
        forEachField(row, scratch: &scratch) { _, value in
            out.append(value.map { String(decoding: $0, as: UTF8.self) })
        }
    }

    /// Calls `body` with each field of a COPY text row as bytes (nil for `\N`), without making
    /// strings: escapes are decoded into `scratch` only for the fields that have them.
    public static func forEachField(_ row: UnsafeRawBufferPointer, scratch: inout [UInt8],
                                    _ body: (_ index: Int, _ value: UnsafeBufferPointer<UInt8>?) -> Void) {
        guard let baseAddress = row.baseAddress else { body(0, UnsafeBufferPointer(start: nil, count: 0)); return }
        let base = UnsafeBufferPointer(start: baseAddress.assumingMemoryBound(to: UInt8.self), count: row.count)
        var end = base.count
        if end > 0 && base[end - 1] == 0x0A { end -= 1 }
        var start = 0
        var index = 0
        while true {
            var i = start
            var escaped = false
            while i < end && base[i] != 0x09 {
                if base[i] == 0x5C { escaped = true; i += 2 } else { i += 1 }
            }
            if i > end { i = end }
            if i - start == 2 && base[start] == 0x5C && base[start + 1] == 0x4E {
                body(index, nil)
            } else if !escaped {
                body(index, UnsafeBufferPointer(rebasing: base[start..<i]))
            } else {
                scratch.removeAll(keepingCapacity: true)
                var k = start
                while k < i {
                    let b = base[k]
                    guard b == 0x5C, k + 1 < i else { scratch.append(b); k += 1; continue }
                    let c = base[k + 1]
                    k += 2
                    switch c {
                    case 0x74: scratch.append(0x09)
                    case 0x6E: scratch.append(0x0A)
                    case 0x72: scratch.append(0x0D)
                    case 0x62: scratch.append(0x08)
                    case 0x66: scratch.append(0x0C)
                    case 0x76: scratch.append(0x0B)
                    case 0x30...0x37:
                        var v = Int(c - 0x30)
                        var n = 1
                        while n < 3 && k < i && (0x30...0x37).contains(base[k]) { v = v * 8 + Int(base[k] - 0x30); k += 1; n += 1 }
                        scratch.append(UInt8(truncatingIfNeeded: v))
                    case 0x78:
                        var v = 0
                        var n = 0
                        while n < 2 && k < i, let d = hexValue(base[k]) { v = v * 16 + d; k += 1; n += 1 }
                        scratch.append(UInt8(truncatingIfNeeded: v))
                    default: scratch.append(c)
                    }
                }
                scratch.withUnsafeBufferPointer { body(index, $0) }
            }
            index += 1
            if i >= end { break }
            start = i + 1
        }
    }

    @inline(__always) static func hexValue(_ b: UInt8) -> Int? {
        switch b {
        case 0x30...0x39: return Int(b - 0x30)
        case 0x41...0x46: return Int(b - 0x41 + 10)
        case 0x61...0x66: return Int(b - 0x61 + 10)
        default: return nil
        }
    }
}

/// A set of integer ids, as a bit array for the usual dense ones: a million ids in 125 KB.
public struct IDBitset: Sendable {
    /// Ids in `0 ..< denseLimit` are bits (V1 serial ids are dense); any other id (negative,
    /// or one near 2^31 or 2^63 after a sequence jump) goes to `sparse`, so that one such id
    /// costs a set entry, not gigabytes of words.
    static let denseLimit: Int64 = 1 << 28
    private var words: [UInt64] = []
    private var sparse: Set<Int64> = []
    public private(set) var count = 0

    public init() {}

    public mutating func insert(_ id: Int64) {
        guard id >= 0 && id < Self.denseLimit else {
            if sparse.insert(id).inserted { count += 1 }
            return
        }
        let w = Int(id >> 6)
        if w >= words.count { words.append(contentsOf: repeatElement(0, count: w - words.count + 1 + words.count / 2)) }
        let bit = UInt64(1) << UInt64(id & 63)
        if words[w] & bit == 0 {
            words[w] |= bit
            count += 1
        }
    }

    public mutating func remove(_ id: Int64) {
        guard id >= 0 && id < Self.denseLimit else {
            if sparse.remove(id) != nil { count -= 1 }
            return
        }
        let w = Int(id >> 6)
        guard w < words.count else { return }
        let bit = UInt64(1) << UInt64(id & 63)
        if words[w] & bit != 0 {
            words[w] &= ~bit
            count -= 1
        }
    }

    /// Every id, in increasing order.
    public func forEachID(_ body: (Int64) -> Void) {
        let outside = sparse.sorted()
        for id in outside where id < 0 { body(id) }
        for (w, word) in words.enumerated() where word != 0 {
            var bits = word
            while bits != 0 {
                let b = bits.trailingZeroBitCount
                body(Int64(w) * 64 + Int64(b))
                bits &= bits - 1
            }
        }
        for id in outside where id >= 0 { body(id) }
    }

    public func contains(_ id: Int64) -> Bool {
        guard id >= 0 && id < Self.denseLimit else { return !sparse.isEmpty && sparse.contains(id) }
        let w = Int(id >> 6)
        return w < words.count && words[w] & (UInt64(1) << UInt64(id & 63)) != 0
    }
}
