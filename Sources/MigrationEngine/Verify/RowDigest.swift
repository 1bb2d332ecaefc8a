import PGClient
import Foundation

/// A 128-bit hash of canonical row bytes (two independent 64-bit lanes, each finished with
/// MurmurHash3's fmix64). Not cryptographic: it guards against bugs and damage, not against
/// someone crafting rows to collide.
public struct RowHash: Hashable, Sendable {
    public var a: UInt64
    public var b: UInt64

    @inline(__always) static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }
    @inline(__always) static func fmix(_ k: UInt64) -> UInt64 {
        var k = k
        k ^= k >> 33
        k &*= 0xFF51_AFD7_ED55_8CCD
        k ^= k >> 33
        k &*= 0xC4CE_B9FE_1A85_EC53
        k ^= k >> 33
        return k
    }

    public init(a: UInt64, b: UInt64) {
        self.a = a
        self.b = b
    }

    public init(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        var h1: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(n)
        var h2: UInt64 = 0x6A09_E667_F3BC_C909 &+ UInt64(n)
        var i = 0
        while i + 8 <= n {
            let w = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h1 = RowHash.rotl((h1 ^ w) &* 0x87C3_7B91_1142_53D5, 31) &+ h2
            h2 = RowHash.rotl((h2 ^ RowHash.rotl(w, 23)) &* 0x4CF5_AD43_2745_937F, 29) &+ h1
            i += 8
        }
        if i < n {
            var w: UInt64 = 0
            var shift: UInt64 = 0
            while i < n {
                w |= UInt64(bytes[i]) << shift
                shift += 8
                i += 1
            }
            h1 = RowHash.rotl((h1 ^ w) &* 0x87C3_7B91_1142_53D5, 31) &+ h2
            h2 = RowHash.rotl((h2 ^ RowHash.rotl(w, 23)) &* 0x4CF5_AD43_2745_937F, 29) &+ h1
        }
        a = RowHash.fmix(h1 &+ h2)
        b = RowHash.fmix(h2 ^ RowHash.rotl(h1, 17))
    }

    public init(_ bytes: [UInt8]) {
        self = bytes.withUnsafeBytes { RowHash($0) }
    }

    public var hex: String { String(format: "%016llx%016llx", a, b) }
}

/// Row hashes summed per key range: 65,536 buckets by the first two bytes of the key's canonical
/// payload (uniform for uuids) or of the key's hash (other key types). Order-independent, so
/// each side streams in whatever order is cheapest; equal digests mean equal multisets of rows
/// (up to hash collisions), and unequal buckets say where to look.
public struct BucketDigest: Sendable {
    public static let bucketCount = 65_536
    public private(set) var counts: [UInt32]
    public private(set) var sumA: [UInt64]
    public private(set) var sumB: [UInt64]
    public private(set) var rows: Int64 = 0

    public init() {
        counts = [UInt32](repeating: 0, count: BucketDigest.bucketCount)
        sumA = [UInt64](repeating: 0, count: BucketDigest.bucketCount)
        sumB = [UInt64](repeating: 0, count: BucketDigest.bucketCount)
    }

    @inline(__always) public mutating func add(bucket: Int, _ h: RowHash) {
        counts[bucket] &+= 1
        sumA[bucket] &+= h.a
        sumB[bucket] &+= h.b
        rows += 1
    }

    /// Adds another digest's rows (of rows this one has not counted, e.g. another key range of
    /// the same table): the sums are order-independent, so the merge equals one pass over both.
    public mutating func merge(_ other: BucketDigest) {
        for i in 0..<BucketDigest.bucketCount {
            counts[i] &+= other.counts[i]
            sumA[i] &+= other.sumA[i]
            sumB[i] &+= other.sumB[i]
        }
        rows += other.rows
    }

    /// Buckets whose count or sums differ.
    public func differing(from other: BucketDigest) -> [Int] {
        var out: [Int] = []
        for i in 0..<BucketDigest.bucketCount where counts[i] != other.counts[i] || sumA[i] != other.sumA[i] || sumB[i] != other.sumB[i] {
            out.append(i)
        }
        return out
    }

    /// One checksum over every bucket (what the report prints per side).
    public var checksum: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(BucketDigest.bucketCount * 20)
        for i in 0..<BucketDigest.bucketCount {
            withUnsafeBytes(of: counts[i].bigEndian) { bytes.append(contentsOf: $0) }
            withUnsafeBytes(of: sumA[i].bigEndian) { bytes.append(contentsOf: $0) }
            withUnsafeBytes(of: sumB[i].bigEndian) { bytes.append(contentsOf: $0) }
        }
        return RowHash(bytes).hex
    }
}

/// The key of a row in canonical form and its bucket.
enum RowKey {
    /// Bucket of a key's canonical bytes (tag, length, payload): the payload's first two bytes
    /// for uuids (so a bucket is a contiguous uuid range the target can scan by index), else
    /// the top bits of the key's hash.
    static func bucket(_ canonical: UnsafeRawBufferPointer, kind: ValueKind) -> Int {
        if kind == .uuid && canonical.count >= 7 && canonical[0] == Canonical.Tag.uuid.rawValue {
            return Int(canonical[5]) << 8 | Int(canonical[6])
        }
        return Int(RowHash(canonical).a >> 48)
    }

    /// The uuid range `[lo, hi]` of a bucket.
    static func uuidRange(_ bucket: Int) -> (String, String) {
        let p = String(format: "%04x", bucket)
        return ("\(p)0000-0000-0000-0000-000000000000", "\(p)ffff-ffff-ffff-ffff-ffffffffffff")
    }
}
