/// The one JSON reader: RFC 8259 JSON as PostgreSQL's `jsonb` reads it, used both to decide
/// whether a source text is JSON that V2 will store (`isValid`, the mapping's rule) and to reduce
/// JSON to its canonical form for comparison (verify, change capture). One grammar, one depth
/// limit and one set of jsonb restrictions, so that a value the mapping keeps as JSON is always
/// one that verification can parse: before, two parsers with depth limits of 6000 and 500 made
/// verify report a false difference for a document between those depths.
///
/// jsonb's restrictions beyond RFC 8259: no `\u0000` and no lone surrogate in a string, and
/// numbers within `numeric`'s range.
///
/// Canonical form: objects with keys sorted by their bytes and duplicate keys resolved as jsonb
/// does (the last wins), numbers by value, strings with their escapes decoded.
public struct JSONReader {
    /// Nesting limit. PostgreSQL 15 bounds JSON nesting only by `max_stack_depth`: with the
    /// default 2 MB it reads documents nested about 10,000 deep and refuses 10,100 (measured
    /// with `SELECT (repeat('[', n) || '1' || repeat(']', n))::jsonb`); 6000 stays clear of a
    /// server set lower. A deeper source document is not JSON to the mapping, which keeps it
    /// as `{"_unparsed": …}` with a warning instead of sending V2 a value it might refuse.
    public static let maxDepth = 6000

    let u: UnsafeBufferPointer<UInt8>
    var i = 0
    /// Whether to write the canonical form (false: only check).
    let emit: Bool

    init(_ u: UnsafeBufferPointer<UInt8>, emit: Bool) {
        self.u = u
        self.emit = emit
    }

    /// Whether `text` is JSON that PostgreSQL's jsonb accepts.
    public static func isValid(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { isValid(utf8: $0) }
    }

    public static func isValid(utf8 u: UnsafeBufferPointer<UInt8>) -> Bool {
        var r = JSONReader(u, emit: false)
        var none: [UInt8] = []
        return r.document(&none)
    }

    /// Appends the canonical form of the JSON in `u` to `out`; false (with `out` possibly
    /// extended) when `u` is not JSON that jsonb accepts.
    static func canonicalize(_ u: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) -> Bool {
        var r = JSONReader(u, emit: true)
        return r.document(&out)
    }

    /// An open object or array. An object collects its members (key, then canonical value) in
    /// `scratch` and is emitted sorted by key when it closes; an array writes its elements
    /// straight into where the array goes and patches its count at `countAt`.
    struct Frame {
        var isObject: Bool
        var scratch: [UInt8] = []
        var spans: [(keyStart: Int, keyEnd: Int, end: Int)] = []
        var keyStart = 0, keyEnd = 0
        var countAt = 0
        var count: UInt64 = 0
        var closer: UInt8 { isObject ? 0x7D : 0x5D }
    }

    /// Iterative, the open containers on a stack of its own: a document nested to the limit
    /// cannot overflow the thread's stack (a connection's dispatch thread, where verification
    /// reads rows, has far less room than a main thread).
    mutating func document(_ out: inout [UInt8]) -> Bool {
        var stack: [Frame] = []
        var objects: [Int] = []  // the open objects' places in `stack`
        /// The next value goes into the innermost open object's scratch, else into `out`.
        func into<R>(_ body: (inout [UInt8]) -> R) -> R {
            if let k = objects.last { return body(&stack[k].scratch) }
            return body(&out)
        }
        /// Reads the key and colon of the open object's next member.
        func key() -> Bool {
            ws()
            guard i < u.count, u[i] == 0x22 else { return false }
            let k = stack.count - 1
            stack[k].keyStart = stack[k].scratch.count
            guard string(into: &stack[k].scratch) else { return false }
            stack[k].keyEnd = stack[k].scratch.count
            ws()
            guard i < u.count, u[i] == 0x3A else { return false }
            i += 1
            return true
        }
        /// After a member or element: counts it; true when the container goes on (a comma, and
        /// for an object the next key), false with `closed` when it ends here.
        func next(closed: inout Bool) -> Bool {
            let k = stack.count - 1
            if stack[k].isObject {
                if emit { stack[k].spans.append((stack[k].keyStart, stack[k].keyEnd, stack[k].scratch.count)) }
            } else {
                stack[k].count += 1
            }
            ws()
            guard i < u.count else { return false }
            if u[i] == 0x2C {
                i += 1
                return !stack[k].isObject || key()
            }
            guard u[i] == stack[k].closer else { return false }
            i += 1
            closed = true
            return false
        }
        parse: while true {
            // A value.
            ws()
            guard i < u.count, stack.count < Self.maxDepth else { return false }
            let c = u[i]
            if c == 0x7B || c == 0x5B {
                i += 1
                var f = Frame(isObject: c == 0x7B)
                if !f.isObject && emit {
                    into { o in
                        o.append(Canonical.Tag.jsonArray.rawValue)
                        f.countAt = o.count
                        Canonical.appendBE(0, &o)
                    }
                }
                stack.append(f)
                if f.isObject { objects.append(stack.count - 1) }
                ws()
                if i < u.count && u[i] == f.closer {
                    i += 1
                } else {
                    if f.isObject { guard key() else { return false } }
                    continue parse
                }
            } else {
                guard into({ o in scalar(&o) }) else { return false }
                if stack.isEmpty { break parse }
                var closed = false
                if next(closed: &closed) { continue parse }
                guard closed else { return false }
            }
            // The innermost container ends here, and perhaps those around it.
            while true {
                let top = stack.removeLast()
                if top.isObject { objects.removeLast() }
                if emit { into { o in Self.close(top, into: &o) } }
                if stack.isEmpty { break parse }
                var closed = false
                if next(closed: &closed) { continue parse }
                guard closed else { return false }
            }
        }
        ws()
        return i == u.count
    }

    mutating func ws() { while i < u.count && (u[i] == 0x20 || u[i] == 0x0A || u[i] == 0x0D || u[i] == 0x09) { i += 1 } }

    @inline(__always) static func patchLength(_ out: inout [UInt8], at: Int, _ v: UInt64) {
        withUnsafeBytes(of: v.bigEndian) { b in for k in 0..<8 { out[at + k] = b[k] } }
    }

    /// A string, number, true, false or null.
    mutating func scalar(_ out: inout [UInt8]) -> Bool {
        switch u[i] {
        case 0x22:
            guard emit else { return string(into: &out) }
            out.append(Canonical.Tag.jsonString.rawValue)
            let at = out.count
            Canonical.appendBE(0, &out)
            guard string(into: &out) else { return false }
            Self.patchLength(&out, at: at, UInt64(out.count - at - 8))
            return true
        case 0x74: return literal("true", .jsonTrue, &out)
        case 0x66: return literal("false", .jsonFalse, &out)
        case 0x6E: return literal("null", .jsonNull, &out)
        default:
            let start = i
            guard number() else { return false }
            guard emit else { return true }
            out.append(Canonical.Tag.jsonNumber.rawValue)
            let at = out.count
            Canonical.appendBE(0, &out)
            guard Canonical.appendDecimal(UnsafeBufferPointer(rebasing: u[start..<i]), &out) else { return false }
            Self.patchLength(&out, at: at, UInt64(out.count - at - 8))
            return true
        }
    }

    /// Writes a closed container: an array's count, or an object's members sorted by key with
    /// only the last of a repeated key, as in jsonb.
    static func close(_ f: Frame, into out: inout [UInt8]) {
        guard f.isObject else {
            patchLength(&out, at: f.countAt, f.count)
            return
        }
        let scratch = f.scratch, spans = f.spans
        let order = scratch.withUnsafeBufferPointer { b in
            spans.indices.sorted { x, y in
                let kx = UnsafeBufferPointer(rebasing: b[spans[x].keyStart..<spans[x].keyEnd])
                let ky = UnsafeBufferPointer(rebasing: b[spans[y].keyStart..<spans[y].keyEnd])
                if kx.elementsEqual(ky) { return x < y }
                return kx.lexicographicallyPrecedes(ky)
            }
        }
        var kept: [Int] = []
        kept.reserveCapacity(order.count)
        for (n, k) in order.enumerated() {
            if n + 1 < order.count {
                let next = spans[order[n + 1]]
                if scratch[spans[k].keyStart..<spans[k].keyEnd].elementsEqual(scratch[next.keyStart..<next.keyEnd]) { continue }
            }
            kept.append(k)
        }
        out.append(Canonical.Tag.jsonObject.rawValue)
        Canonical.appendBE(UInt64(kept.count), &out)
        for k in kept {
            let sp = spans[k]
            Canonical.appendBE(UInt64(sp.keyEnd - sp.keyStart), &out)
            out.append(contentsOf: scratch[sp.keyStart..<sp.end])
        }
    }

    mutating func literal(_ word: StaticString, _ tag: Canonical.Tag, _ out: inout [UInt8]) -> Bool {
        let n = word.utf8CodeUnitCount
        guard i + n <= u.count else { return false }
        let p = word.utf8Start
        for k in 0..<n where u[i + k] != p[k] { return false }
        i += n
        if emit { out.append(tag.rawValue) }
        return true
    }

    /// A JSON string at `i` (on its opening quote); with `emit`, decoded to UTF-8 and appended to
    /// `s`. jsonb refuses `\u0000` and a surrogate that is not part of a pair.
    mutating func string(into s: inout [UInt8]) -> Bool {
        i += 1
        while i < u.count {
            let b = u[i]
            if b == 0x22 { i += 1; return true }
            if b < 0x20 { return false }
            if b != 0x5C {
                // the run of plain bytes at once
                var j = i + 1
                while j < u.count && u[j] != 0x22 && u[j] != 0x5C && u[j] >= 0x20 { j += 1 }
                if emit { s.append(contentsOf: UnsafeBufferPointer(rebasing: u[i..<j])) }
                i = j
                continue
            }
            guard i + 1 < u.count else { return false }
            let e = u[i + 1]
            i += 2
            let decoded: UInt8
            switch e {
            case 0x22: decoded = 0x22
            case 0x5C: decoded = 0x5C
            case 0x2F: decoded = 0x2F
            case 0x62: decoded = 0x08
            case 0x66: decoded = 0x0C
            case 0x6E: decoded = 0x0A
            case 0x72: decoded = 0x0D
            case 0x74: decoded = 0x09
            case 0x75:
                guard var cp = hex4(), cp != 0 else { return false }
                if (0xD800...0xDBFF).contains(cp) {
                    guard i + 1 < u.count, u[i] == 0x5C, u[i + 1] == 0x75 else { return false }
                    i += 2
                    guard let lo = hex4(), (0xDC00...0xDFFF).contains(lo) else { return false }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(cp) {
                    return false
                }
                guard let scalar = Unicode.Scalar(cp) else { return false }
                if emit { s.append(contentsOf: Array(String(Character(scalar)).utf8)) }
                continue
            default: return false
            }
            if emit { s.append(decoded) }
        }
        return false
    }

    mutating func hex4() -> UInt32? {
        guard i + 4 <= u.count else { return nil }
        var v: UInt32 = 0
        for k in 0..<4 {
            guard let h = Canonical.hex(u[i + k]) else { return nil }
            v = v << 4 | UInt32(h)
        }
        i += 4
        return v
    }

    /// A JSON number that jsonb can also store: jsonb keeps numbers as `numeric`, which refuses
    /// ("value overflows numeric format") more than 131072 digits before the point or 16383
    /// after it, e.g. `1e1000000` or `1e-20000`, although RFC 8259 allows them.
    mutating func number() -> Bool {
        let start = i
        if i < u.count, u[i] == 0x2D { i += 1 }
        guard i < u.count else { return false }
        let intStart = i
        if u[i] == 0x30 {
            i += 1
        } else if (0x31...0x39).contains(u[i]) {
            while i < u.count, (0x30...0x39).contains(u[i]) { i += 1 }
        } else {
            return false
        }
        let intDigits = i - intStart
        let intNonZero = u[intStart] != 0x30
        var fracDigits = 0, fracLeadingZeros = 0, fracNonZero = false
        if i < u.count, u[i] == 0x2E {
            i += 1
            let s = i
            while i < u.count, (0x30...0x39).contains(u[i]) {
                if u[i] != 0x30 { fracNonZero = true } else if !fracNonZero { fracLeadingZeros += 1 }
                i += 1
            }
            if i == s { return false }
            fracDigits = i - s
        }
        var exponent = 0
        if i < u.count, u[i] == 0x65 || u[i] == 0x45 {
            i += 1
            var negative = false
            if i < u.count, u[i] == 0x2B || u[i] == 0x2D { negative = u[i] == 0x2D; i += 1 }
            let s = i
            while i < u.count, (0x30...0x39).contains(u[i]) {
                exponent = min(exponent * 10 + Int(u[i] - 0x30), 1 << 40)
                i += 1
            }
            if i == s { return false }
            if negative { exponent = -exponent }
        }
        guard i > start else { return false }
        // numeric's display scale and, for a non-zero value, the power of ten of its first digit.
        guard fracDigits - exponent <= 16383 else { return false }
        if intNonZero || fracNonZero {
            let leading = intNonZero ? intDigits - 1 : -(fracLeadingZeros + 1)
            guard leading + exponent <= 131071 else { return false }
        }
        return true
    }
}
