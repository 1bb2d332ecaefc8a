import Foundation
import Logging
import MigrationEngine

/// Each dirty case of docs/mapping.md the generator plants in V1 (and what V2 should make of it).
public enum DirtyCase: String, CaseIterable, Sendable, Codable {
    case deliveryWeightNull = "delivery_weight_null"            // reject invalid_weight
    case deliveryWeightZero = "delivery_weight_zero"            // reject invalid_weight
    case deliveryWeightNegative = "delivery_weight_negative"    // reject invalid_weight
    case deliveryOrphanPlanteur = "delivery_orphan_planteur"    // reject orphan_reference
    case deliveryUnknownGrade = "delivery_unknown_grade"        // reject invalid_quality_grade
    case deliveryDanglingAgent = "delivery_dangling_agent"      // NULL + warning
    case deliveryAgentDuplicateUser = "delivery_agent_is_duplicate_user" // NULL + warning
    case planteurDanglingChef = "planteur_dangling_chef"        // NULL + warning
    case photoDanglingUploader = "photo_dangling_uploader"      // NULL + warning
    case photoUnrecognizedURL = "photo_unrecognized_url"        // reject unrecognized_photo_url
    case photoOfRejectedDelivery = "photo_of_rejected_delivery" // reject parent_rejected
    case auditDanglingUser = "audit_dangling_user"              // NULL + warning
    case auditInvalidJSON = "audit_invalid_json"                // {"_unparsed": …} + warning
    case auditInvalidIP = "audit_invalid_ip"                    // NULL + warning
    case userDuplicateEmail = "user_duplicate_email"            // reject duplicate_email
    case userDanglingCooperative = "user_dangling_cooperative"  // NULL + warning
    case invalidPhone = "invalid_phone"                         // NULL + warning
}

public struct GeneratorOptions: Sendable {
    public var scale: Double
    public var seed: UInt64
    public var dirtyFraction: Double

    public init(scale: Double = 1, seed: UInt64 = 42, dirtyFraction: Double = 0.005) {
        self.scale = scale
        self.seed = seed
        self.dirtyFraction = dirtyFraction
    }
}

/// The documented test accounts (V1 users 1–5) with known passwords, hashed at bcrypt cost 10.
/// Every other generated user's password is `cocoa-user-<id>` (cost 4, to keep generation fast).
public struct TestAccount: Sendable {
    public let id: Int
    public let email: String
    public let password: String
    public let role: String
    public let isActive: Bool
}

public struct GenerationReport: Sendable {
    public var rows: [(table: String, count: Int)]
    public var dirty: [DirtyCase: Int]
    public var seconds: Double
    public var totalRows: Int { rows.reduce(0) { $0 + $1.count } }
}

/// Fills an empty V1 with realistic CocoaTrack data: deterministic for a seed (byte-identical
/// rows), streamed with COPY in one transaction (an interrupted run leaves V1 empty).
public struct V1Generator: Sendable {
    public let options: GeneratorOptions

    public static let testAccounts: [TestAccount] = [
        TestAccount(id: 1, email: "admin@cocoatrack.ci", password: "Admin#2026", role: "admin", isActive: true),
        TestAccount(id: 2, email: "manager.daloa@cocoatrack.ci", password: "Manager#2026", role: "manager", isActive: true),
        TestAccount(id: 3, email: "agent.soubre@cocoatrack.ci", password: "Agent#2026", role: "agent", isActive: true),
        TestAccount(id: 4, email: "viewer@cocoatrack.ci", password: "Viewer#2026", role: "viewer", isActive: true),
        TestAccount(id: 5, email: "ancien.agent@cocoatrack.ci", password: "Inactive#2026", role: "agent", isActive: false),
    ]

    public init(options: GeneratorOptions) { self.options = options }

    /// Rows per table at this scale (regions are always Côte d'Ivoire's 31).
    public var plannedCounts: [(table: String, count: Int)] {
        func n(_ base: Double, min: Int) -> Int { Swift.max(min, Int((base * options.scale).rounded())) }
        let coops = n(400, min: 3)
        return [
            ("regions", GeneratorData.regions.count),
            ("cooperatives", coops),
            ("users", n(2000, min: 12)),
            ("warehouses", Swift.max(coops, n(800, min: 3))),
            ("invoices", n(20000, min: 6)),
            ("chef_planteurs", n(4000, min: 6)),
            ("planteurs", n(80000, min: 20)),
            ("deliveries", n(1_000_000, min: 60)),
            ("delivery_photos", n(600_000, min: 30)),
            ("audit_log", n(2_000_000, min: 40)),
        ]
    }

    /// Generates into `connection` (which must hold the V1 schema with every table empty).
    public func run(on connection: PGConnection, logger: Logger) async throws -> GenerationReport {
        let tables = plannedCounts.map(\.table)
        var nonEmpty: [String] = []
        for t in tables {
            if try await connection.scalar("SELECT 1 FROM \(SQL.qualified("public", t)) LIMIT 1") != nil { nonEmpty.append(t) }
        }
        if !nonEmpty.isEmpty {
            throw MigrationError(.refused, "V1 already holds rows in \(nonEmpty.joined(separator: ", ")); generate-v1 fills an empty V1 only. Use a fresh database (sandbox down && sandbox up).")
        }
        let start = Date()
        let options = self.options
        let planned = plannedCounts
        let report = try await connection.withSession { session -> GenerationReport in
            var state = GeneratorState(options: options, counts: Dictionary(uniqueKeysWithValues: planned.map { ($0.table, $0.count) }), logger: logger)
            try session.execute("BEGIN")
            do {
                try state.generateAll(session)
                try session.execute("COMMIT")
            } catch {
                try? session.execute("ROLLBACK")
                throw error
            }
            return GenerationReport(rows: planned, dirty: state.dirty, seconds: 0)
        }
        try await connection.execute("ANALYZE")
        var r = report
        r.seconds = Date().timeIntervalSince(start)
        return r
    }
}

/// The generation itself, on the connection's thread.
struct GeneratorState {
    let options: GeneratorOptions
    let counts: [String: Int]
    let logger: Logger
    var dirty: [DirtyCase: Int] = [:]

    // Relationships kept in memory (bounded: a few ints per parent row).
    var coopOfPlanteur: [Int32] = []
    var warehousesOfCoop: [[Int32]] = []
    var chefsOfCoop: [[Int32]] = []
    var duplicateUsers: [Int] = []
    var validUsers: [Int] = []
    var agentUsers: [Int] = []
    var rejectedDeliveries: [Int] = []
    var deliveryDay: [Int32] = []
    var deliveryAgent: [Int32] = []

    init(options: GeneratorOptions, counts: [String: Int], logger: Logger) {
        self.options = options
        self.counts = counts
        self.logger = logger
    }

    // Epoch days of the data's time span.
    static let referenceStart = CivilDate.days(year: 2019, month: 1, day: 1)
    static let seasonStart = CivilDate.days(year: 2022, month: 10, day: 1)   // three cocoa seasons
    static let seasonEnd = CivilDate.days(year: 2025, month: 9, day: 30)
    static let halfMonths = 72

    func count(_ t: String) -> Int { counts[t]! }

    func rng(_ table: String) -> SeededRandom { SeededRandom(seed: options.seed, stream: table) }

    /// The dirty case (if any) of row `i` of a table with `n` rows: each case is planted at a
    /// fixed spread of rows so that it is present at any scale, and at random with probability F.
    func dirtyCase(_ i: Int, n: Int, cases: [DirtyCase], rng: inout SeededRandom, minRow: Int = 0) -> DirtyCase? {
        let usable = n - minRow
        let stride = Swift.max(1, usable / (cases.count + 1))
        for (k, c) in cases.enumerated() where i == minRow + (k + 1) * stride - 1 { return c }
        if i >= minRow && rng.chance(options.dirtyFraction) { return cases[rng.int(cases.count)] }
        return nil
    }

    mutating func note(_ c: DirtyCase?) { if let c { dirty[c, default: 0] += 1 } }

    static func micros(day: Int, seconds: Int, micro: Int = 0) -> Int64 {
        (Int64(day) * 86_400 + Int64(seconds)) * 1_000_000 + Int64(micro)
    }

    func timestamp(_ rng: inout SeededRandom, fromDay: Int, toDay: Int) -> Int64 {
        let day = rng.int(in: fromDay...Swift.max(fromDay, toDay))
        let micro = rng.chance(0.3) ? rng.int(1_000_000) : 0
        return Self.micros(day: day, seconds: rng.int(in: 6 * 3600...19 * 3600), micro: micro)
    }

    func phone(_ rng: inout SeededRandom, invalid: Bool) -> String? {
        if invalid { return rng.pick(GeneratorData.invalidPhones) }
        if rng.chance(0.15) { return nil }
        let prefix = rng.pick(["01", "05", "07"])
        let digits = prefix + String(format: "%08d", rng.int(100_000_000))
        let d = Array(digits)
        func pairs(_ sep: String) -> String {
            stride(from: 0, to: 10, by: 2).map { String(d[$0..<$0 + 2]) }.joined(separator: sep)
        }
        switch rng.int(6) {
        case 0: return "+225 " + pairs(" ")
        case 1: return digits
        case 2: return "00225" + digits
        case 3: return pairs(".")
        case 4: return "(\(d[0])\(d[1])) " + String(d[2...]).enumerated().map { $0.offset % 2 == 1 && $0.offset < 7 ? "\($0.element)-" : "\($0.element)" }.joined()
        default: return "+225" + digits
        }
    }

    func personName(_ rng: inout SeededRandom) -> (String, String) {
        (rng.pick(GeneratorData.givenNames), rng.pick(GeneratorData.familyNames))
    }

    static func asciiSlug(_ s: String) -> String {
        let folded = s.folding(options: [.diacriticInsensitive, .caseInsensitive], locale: Locale(identifier: "en_US_POSIX"))
        return String(folded.lowercased().unicodeScalars.filter { ("a"..."z").contains($0) || ("0"..."9").contains($0) }.map(Character.init))
    }

    mutating func copy(_ session: PGSession, _ table: String, _ columns: [String], rows n: Int,
                       _ body: (inout GeneratorState, Int, inout CopyRow) throws -> Void) throws {
        let started = Date()
        let cols = columns.map(SQL.ident).joined(separator: ", ")
        var writer = try session.copyIn("COPY \(SQL.qualified("public", table)) (\(cols)) FROM STDIN")
        var row = CopyRow()
        do {
            for i in 0..<n {
                if i & 0x3FFF == 0 { try session.checkCancelled() }
                row.reset()
                try body(&self, i, &row)
                row.endRow()
                try row.bytes.withUnsafeBytes { try writer.writeRow(bytes: $0) }
            }
        } catch {
            writer.abort("generation stopped: \(error)")
            throw error
        }
        _ = try writer.finish()
        let secs = Date().timeIntervalSince(started)
        logger.info("generated", metadata: ["table": "\(table)", "rows": "\(n)", "rows_per_s": "\(secs > 0 ? Int(Double(n) / secs) : n)"])
    }

    mutating func generateAll(_ session: PGSession) throws {
        try regions(session)
        try cooperatives(session)
        try users(session)
        try warehouses(session)
        try invoices(session)
        try chefPlanteurs(session)
        try planteurs(session)
        try deliveries(session)
        try photos(session)
        try auditLog(session)
        // Invoice totals are what their deliveries add up to, as the application computes them.
        try session.execute("""
            UPDATE public.invoices i SET total_amount_fcfa = s.total
            FROM (SELECT invoice_id, sum(total_amount_fcfa) AS total FROM public.deliveries
                  WHERE invoice_id IS NOT NULL GROUP BY invoice_id) s
            WHERE s.invoice_id = i.id
            """)
        // The serial sequences continue after the generated ids, as in production.
        for t in counts.keys.sorted() {
            try session.execute("SELECT setval(pg_get_serial_sequence('public.\(t)', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM public.\(t)), false)")
        }
    }

    mutating func regions(_ s: PGSession) throws {
        var r = rng("regions")
        try copy(s, "regions", ["id", "name", "code", "created_at"], rows: count("regions")) { st, i, row in
            let (name, code) = GeneratorData.regions[i]
            row.int(i + 1)
            row.text(name)
            row.text(code)
            row.timestamp(micros: st.timestamp(&r, fromDay: Self.referenceStart, toDay: Self.referenceStart + 30))
        }
    }

    mutating func cooperatives(_ s: PGSession) throws {
        var r = rng("cooperatives")
        let n = count("cooperatives")
        try copy(s, "cooperatives", ["id", "region_id", "name", "code", "phone", "address", "is_active", "created_at", "updated_at"], rows: n) { st, i, row in
            let d = st.dirtyCase(i, n: n, cases: [.invalidPhone], rng: &r)
            st.note(d)
            let village = r.pick(GeneratorData.villages)
            row.int(i + 1)
            row.int(i % GeneratorData.regions.count + 1)
            row.text("\(r.pick(GeneratorData.coopPrefixes)) \(village) \(i / GeneratorData.villages.count + 1)")
            row.text(String(format: "COOP-%05d", i + 1))
            row.text(st.phone(&r, invalid: d == .invalidPhone))
            row.text(r.chance(0.1) ? nil : "BP \(r.int(in: 1...999)) \(village)\(r.chance(0.2) ? "\nQuartier Commerce" : ""), Côte d'Ivoire")
            row.bool(!r.chance(0.05))
            let created = st.timestamp(&r, fromDay: Self.referenceStart, toDay: Self.seasonStart)
            row.timestamp(micros: created)
            row.timestamp(micros: r.chance(0.4) ? nil : created + Int64(r.int(in: 1...400)) * 86_400_000_000)
        }
    }

    mutating func users(_ s: PGSession) throws {
        var r = rng("users")
        let n = count("users")
        let coops = count("cooperatives")
        var emails: [String] = []
        emails.reserveCapacity(n)
        let accounts = V1Generator.testAccounts
        try copy(s, "users", ["id", "email", "password_hash", "full_name", "role", "cooperative_id", "phone", "is_active", "last_login_at", "created_at", "updated_at"], rows: n) { st, i, row in
            let id = i + 1
            var d = st.dirtyCase(i, n: n, cases: [.userDuplicateEmail, .invalidPhone, .userDanglingCooperative], rng: &r, minRow: accounts.count + 1)
            let (given, family) = st.personName(&r)
            let role: String
            let email: String
            let hash: String
            var active = !r.chance(0.08)
            if i < accounts.count {
                let a = accounts[i]
                role = a.role
                email = a.email
                active = a.isActive
                hash = Bcrypt.hash(a.password, cost: 10, prefix: i == 2 ? "2b" : "2a", rng: &r)
                d = nil
            } else {
                let roll = r.int(100)
                role = roll < 60 ? "agent" : roll < 80 ? "manager" : roll < 95 ? "viewer" : "admin"
                if d == .userDuplicateEmail {
                    // Same address as an earlier (non-test) user, differing only in case and spaces.
                    let original = emails[r.int(in: accounts.count...(emails.count - 1))]
                    email = " " + original.uppercased()
                } else {
                    let base = "\(Self.asciiSlug(given)).\(Self.asciiSlug(family))\(id)@\(r.pick(GeneratorData.emailDomains))"
                    email = r.chance(0.05) ? " \(base.capitalized) " : base
                }
                hash = Bcrypt.hash("cocoa-user-\(id)", cost: 4, prefix: r.chance(0.8) ? "2a" : "2b", rng: &r)
            }
            st.note(d)
            emails.append(email.trimmingCharacters(in: .whitespaces).lowercased())
            if d == .userDuplicateEmail { st.duplicateUsers.append(id) } else { st.validUsers.append(id) }
            if role == "agent" && d != .userDuplicateEmail { st.agentUsers.append(id) }
            row.int(id)
            row.text(email)
            row.text(hash)
            row.text("\(given) \(family.uppercased())")
            row.text(role)
            if d == .userDanglingCooperative { row.int(coops + 100 + i) } else if role == "admin" { row.null() } else { row.int(r.int(coops) + 1) }
            row.text(st.phone(&r, invalid: d == .invalidPhone))
            row.bool(active)
            let created = st.timestamp(&r, fromDay: Self.referenceStart, toDay: Self.seasonStart + 300)
            row.timestamp(micros: r.chance(0.2) ? nil : st.timestamp(&r, fromDay: Self.seasonEnd - 200, toDay: Self.seasonEnd))
            row.timestamp(micros: created)
            row.timestamp(micros: r.chance(0.5) ? nil : created + Int64(r.int(in: 1...300)) * 86_400_000_000)
        }
        if agentUsers.isEmpty { agentUsers = validUsers }
    }

    mutating func warehouses(_ s: PGSession) throws {
        var r = rng("warehouses")
        let n = count("warehouses")
        let coops = count("cooperatives")
        warehousesOfCoop = Array(repeating: [], count: coops)
        try copy(s, "warehouses", ["id", "cooperative_id", "name", "location", "capacity_kg", "latitude", "longitude", "created_at"], rows: n) { st, i, row in
            let coop = i < coops ? i : r.int(coops)
            st.warehousesOfCoop[coop].append(Int32(i + 1))
            let village = r.pick(GeneratorData.villages)
            row.int(i + 1)
            row.int(coop + 1)
            row.text("Magasin de \(village) \(i + 1)")
            row.text(r.chance(0.1) ? nil : "Route de \(r.pick(GeneratorData.villages)), km \(r.int(in: 1...40))")
            row.int(r.chance(0.1) ? nil : r.int(in: 20...500) * 1000)
            if r.chance(0.08) {
                row.null()
                row.null()
            } else {
                row.double(Double(r.int(in: 4_350_000...10_700_000)) / 1_000_000)
                row.double(-Double(r.int(in: 2_500_000...8_600_000)) / 1_000_000)
            }
            row.timestamp(micros: st.timestamp(&r, fromDay: Self.referenceStart, toDay: Self.seasonStart))
        }
    }

    /// Half-month period k (0 ..< 72) of the three seasons: (first day, last day).
    static func period(_ k: Int) -> (Int, Int) {
        let monthIndex = k / 2
        let year = 2022 + (9 + monthIndex) / 12
        let month = (9 + monthIndex) % 12 + 1
        let first = CivilDate.days(year: year, month: month, day: k % 2 == 0 ? 1 : 16)
        let nextMonth = CivilDate.days(year: month == 12 ? year + 1 : year, month: month % 12 + 1, day: 1)
        let last = k % 2 == 0 ? first + 14 : nextMonth - 1
        return (first, last)
    }

    static func periodIndex(day: Int) -> Int {
        let (y, m, d) = CivilDate.fromDays(day)
        let monthIndex = (y - 2022) * 12 + (m - 10)
        return monthIndex * 2 + (d >= 16 ? 1 : 0)
    }

    /// Invoice id of (cooperative, period), when one was issued.
    func invoiceID(coop: Int, period: Int) -> Int? {
        let coops = count("cooperatives")
        let id = period * coops + coop + 1
        return id <= count("invoices") ? id : nil
    }

    mutating func invoices(_ s: PGSession) throws {
        var r = rng("invoices")
        let n = count("invoices")
        let coops = count("cooperatives")
        try copy(s, "invoices", ["id", "cooperative_id", "invoice_number", "period_start", "period_end", "total_amount_fcfa", "status", "paid_at", "created_at"], rows: n) { st, i, row in
            // Invoice i covers cooperative i % coops in half-month period i / coops (then a
            // second series of adjustment invoices when the scale asks for more than 72 per coop).
            let coop = i % coops
            let period = (i / coops) % Self.halfMonths
            let series = i / (coops * Self.halfMonths)
            let (first, last) = Self.period(period)
            let (y, m, _) = CivilDate.fromDays(first)
            row.int(i + 1)
            row.int(coop + 1)
            row.text(String(format: "INV-%05d-%04d%02d-%d%@", coop + 1, y, m, period % 2 + 1, series > 0 ? "-R\(series)" : ""))
            row.date(days: first)
            row.date(days: last)
            row.int(0)
            let recent = period >= Self.halfMonths - 3
            let roll = r.int(100)
            let status = recent ? (roll < 50 ? "draft" : "sent") : (roll < 85 ? "paid" : roll < 95 ? "sent" : "cancelled")
            row.text(status)
            let created = Self.micros(day: last + 1, seconds: r.int(in: 8 * 3600...17 * 3600))
            row.timestamp(micros: status == "paid" ? created + Int64(r.int(in: 2...40)) * 86_400_000_000 : nil)
            row.timestamp(micros: created)
        }
    }

    mutating func chefPlanteurs(_ s: PGSession) throws {
        var r = rng("chef_planteurs")
        let n = count("chef_planteurs")
        let coops = count("cooperatives")
        chefsOfCoop = Array(repeating: [], count: coops)
        try copy(s, "chef_planteurs", ["id", "cooperative_id", "first_name", "last_name", "phone", "village", "created_at"], rows: n) { st, i, row in
            let d = st.dirtyCase(i, n: n, cases: [.invalidPhone], rng: &r)
            st.note(d)
            let coop = i < coops ? i : r.int(coops)
            st.chefsOfCoop[coop].append(Int32(i + 1))
            let (given, family) = st.personName(&r)
            row.int(i + 1)
            row.int(coop + 1)
            row.text(given)
            row.text(family)
            row.text(st.phone(&r, invalid: d == .invalidPhone))
            row.text(r.chance(0.05) ? nil : r.pick(GeneratorData.villages))
            row.timestamp(micros: st.timestamp(&r, fromDay: Self.referenceStart, toDay: Self.seasonStart))
        }
    }

    mutating func planteurs(_ s: PGSession) throws {
        var r = rng("planteurs")
        let n = count("planteurs")
        let coops = count("cooperatives")
        let chefs = count("chef_planteurs")
        coopOfPlanteur = []
        coopOfPlanteur.reserveCapacity(n)
        try copy(s, "planteurs", ["id", "chef_planteur_id", "cooperative_id", "first_name", "last_name", "phone", "village", "gender", "birth_year", "farm_size_ha", "certifications", "created_at", "updated_at", "deleted_at"], rows: n) { st, i, row in
            let d = st.dirtyCase(i, n: n, cases: [.planteurDanglingChef, .invalidPhone], rng: &r)
            st.note(d)
            let coop = r.int(coops)
            st.coopOfPlanteur.append(Int32(coop))
            let (given, family) = st.personName(&r)
            row.int(i + 1)
            if d == .planteurDanglingChef {
                row.int(chefs + 1000 + i)
            } else if r.chance(0.1) || st.chefsOfCoop[coop].isEmpty {
                row.null()
            } else {
                row.int(Int(r.pick(st.chefsOfCoop[coop])))
            }
            row.int(coop + 1)
            row.text(given)
            row.text(family)
            row.text(st.phone(&r, invalid: d == .invalidPhone))
            row.text(r.chance(0.05) ? nil : r.pick(GeneratorData.villages))
            let g = r.int(10)
            row.text(g < 6 ? "M" : g < 9 ? "F" : nil)
            row.int(r.chance(0.15) ? nil : r.int(in: 1940...2002))
            row.decimal(r.chance(0.1) ? nil : Int64(r.int(in: 30...2500)), scale: 2)
            row.text(r.pick(GeneratorData.certifications))
            let created = st.timestamp(&r, fromDay: Self.referenceStart, toDay: Self.seasonEnd - 30)
            row.timestamp(micros: created)
            row.timestamp(micros: r.chance(0.5) ? nil : created + Int64(r.int(in: 1...500)) * 86_400_000_000)
            row.timestamp(micros: r.chance(0.02) ? created + Int64(r.int(in: 30...700)) * 86_400_000_000 : nil)
        }
    }

    /// Official farm-gate price (FCFA/kg) for a delivery day: main crop Oct–Mar, mid crop Apr–Sep.
    static func price(day: Int) -> Int {
        let (y, m, _) = CivilDate.fromDays(day)
        let seasonYear = m >= 10 ? y : y - 1
        let main = m >= 10 || m <= 3
        switch seasonYear {
        case 2022: return main ? 900 : 900
        case 2023: return main ? 1000 : 1500
        default: return main ? 1800 : 2200
        }
    }

    /// A delivery day, weighted towards the main crop (three times as many per day).
    static func deliveryDay(_ r: inout SeededRandom) -> Int {
        while true {
            let day = r.int(in: seasonStart...seasonEnd)
            let (_, m, _) = CivilDate.fromDays(day)
            if m >= 10 || m <= 3 || r.int(3) == 0 { return day }
        }
    }

    mutating func deliveries(_ s: PGSession) throws {
        var r = rng("deliveries")
        let n = count("deliveries")
        let planteurs = count("planteurs")
        let users = count("users")
        deliveryDay = []
        deliveryDay.reserveCapacity(n)
        deliveryAgent = []
        deliveryAgent.reserveCapacity(n)
        let cases: [DirtyCase] = [.deliveryWeightNull, .deliveryWeightZero, .deliveryWeightNegative, .deliveryOrphanPlanteur,
                                  .deliveryUnknownGrade, .deliveryDanglingAgent, .deliveryAgentDuplicateUser]
        try copy(s, "deliveries", ["id", "planteur_id", "warehouse_id", "invoice_id", "agent_id", "delivery_date", "weight_kg", "bags", "quality_grade", "humidity_pct", "price_per_kg_fcfa", "total_amount_fcfa", "notes", "created_at", "updated_at"], rows: n) { st, i, row in
            var d = st.dirtyCase(i, n: n, cases: cases, rng: &r)
            if d == .deliveryAgentDuplicateUser && st.duplicateUsers.isEmpty { d = .deliveryDanglingAgent }
            st.note(d)
            let id = i + 1
            let planteur = r.int(planteurs)
            let coop = Int(st.coopOfPlanteur[planteur])
            let day = Self.deliveryDay(&r)
            st.deliveryDay.append(Int32(day))
            row.int(id)
            row.int(d == .deliveryOrphanPlanteur ? planteurs + 5000 + i : planteur + 1)
            let wh = st.warehousesOfCoop[coop]
            row.int(Int(wh.isEmpty ? 1 : wh[r.int(wh.count)]))
            row.int(r.chance(0.85) ? st.invoiceID(coop: coop, period: Self.periodIndex(day: day)) : nil)
            let agent: Int?
            switch d {
            case .deliveryDanglingAgent: agent = users + 700 + i
            case .deliveryAgentDuplicateUser: agent = r.pick(st.duplicateUsers)
            default: agent = r.chance(0.05) ? nil : r.pick(st.agentUsers)
            }
            st.deliveryAgent.append(Int32(agent ?? 0))
            row.int(agent)
            row.date(days: day)
            var weightCents: Int64? = Int64(r.int(in: 3_000...250_000))
            switch d {
            case .deliveryWeightNull: weightCents = nil
            case .deliveryWeightZero: weightCents = 0
            case .deliveryWeightNegative: weightCents = -Int64(r.int(in: 100...5_000))
            default: break
            }
            row.decimal(weightCents, scale: 2)
            row.int(r.chance(0.05) ? nil : Int((weightCents ?? 6500) / 6500) + 1)
            if d == .deliveryUnknownGrade {
                row.text(r.pick(GeneratorData.unknownGrades))
            } else {
                let g = r.int(100)
                row.text(g < 55 ? "A" : g < 85 ? "B" : g < 93 ? "C" : g < 96 ? "REJ" : nil)
            }
            row.decimal(r.chance(0.1) ? nil : Int64(r.int(in: 50...95)), scale: 1)
            let price = Self.price(day: day)
            row.int(price)
            row.int((Int64(price) * (weightCents ?? 0) + 50) / 100)
            row.text(r.chance(0.7) ? nil : r.pick(GeneratorData.notes))
            let created = Self.micros(day: day, seconds: r.int(in: 7 * 3600...18 * 3600), micro: r.chance(0.5) ? r.int(1_000_000) : 0)
            row.timestamp(micros: created)
            row.timestamp(micros: r.chance(0.6) ? nil : created + Int64(r.int(in: 60...(20 * 86_400))) * 1_000_000)
            if d == .deliveryWeightNull || d == .deliveryWeightZero || d == .deliveryWeightNegative
                || d == .deliveryOrphanPlanteur || d == .deliveryUnknownGrade {
                st.rejectedDeliveries.append(id)
            }
        }
    }

    mutating func photos(_ s: PGSession) throws {
        var r = rng("delivery_photos")
        let n = count("delivery_photos")
        let deliveries = count("deliveries")
        let users = count("users")
        try copy(s, "delivery_photos", ["id", "delivery_id", "url", "caption", "taken_at", "uploaded_by", "created_at"], rows: n) { st, i, row in
            let d = st.dirtyCase(i, n: n, cases: [.photoUnrecognizedURL, .photoDanglingUploader, .photoOfRejectedDelivery], rng: &r)
            st.note(d)
            let delivery = d == .photoOfRejectedDelivery && !st.rejectedDeliveries.isEmpty
                ? r.pick(st.rejectedDeliveries) : r.int(deliveries) + 1
            let day = Int(st.deliveryDay[delivery - 1])
            let (y, m, _) = CivilDate.fromDays(day)
            row.int(i + 1)
            row.int(delivery)
            if d == .photoUnrecognizedURL {
                row.text(r.pick(GeneratorData.invalidPhotoURLs))
            } else {
                let file = String(format: "%08x%08x", UInt32(truncatingIfNeeded: r.next()), UInt32(truncatingIfNeeded: r.next()))
                let ext = r.chance(0.9) ? "jpg" : "jpeg"
                let sub = r.chance(0.03) ? "lot%20spécial/" : ""
                row.text(String(format: "https://cocoatrackv1.blob.core.windows.net/photos/%04d/%02d/%d/", y, m, delivery) + sub + "\(file).\(ext)")
            }
            row.text(r.chance(0.4) ? nil : r.pick(GeneratorData.captions))
            let taken = Self.micros(day: day, seconds: r.int(in: 7 * 3600...18 * 3600))
            row.timestamp(micros: r.chance(0.1) ? nil : taken)
            if d == .photoDanglingUploader {
                row.int(users + 900 + i)
            } else {
                let agent = Int(st.deliveryAgent[delivery - 1])
                row.int(agent == 0 || agent > users ? nil : agent)
            }
            row.timestamp(micros: taken + Int64(r.int(in: 60...86_400)) * 1_000_000)
        }
    }

    func jsonText(_ r: inout SeededRandom) -> String {
        switch r.int(8) {
        case 0: return "{\"status\": \"\(r.pick(["draft", "sent", "paid"]))\"}"
        case 1: return "{\"weight_kg\": \(r.int(in: 30...2500)).\(r.int(in: 10...99)), \"bags\": \(r.int(in: 1...40))}"
        case 2: return "{\"notes\": \"Sacs \\\"humides\\\"\\nà resécher 🌧️\", \"tags\": [\"qualité\", \"B\"]}"
        case 3: return "{\"b\": 2, \"a\": 1, \"nested\": {\"z\": null, \"y\": [3, 2, 1]}}"
        case 4: return "{\"full_name\": \"\(r.pick(GeneratorData.givenNames)) \(r.pick(GeneratorData.familyNames))\", \"is_active\": \(r.chance(0.5))}"
        case 5: return "[1, 2, 3]"
        case 6: return "{\"path\": \"C:\\\\coop\\\\reçus\", \"amount\": 1.50}"
        default: return "{\"price_per_kg_fcfa\": \(r.pick([900, 1000, 1500, 1800, 2200]))}"
        }
    }

    mutating func auditLog(_ s: PGSession) throws {
        var r = rng("audit_log")
        let n = count("audit_log")
        let users = count("users")
        let tables = counts.keys.sorted()
        try copy(s, "audit_log", ["id", "user_id", "action", "table_name", "record_id", "old_data", "new_data", "ip_address", "created_at"], rows: n) { st, i, row in
            let d = st.dirtyCase(i, n: n, cases: [.auditDanglingUser, .auditInvalidJSON, .auditInvalidIP], rng: &r)
            st.note(d)
            let action = r.pick(GeneratorData.auditActions)
            row.int(i + 1)
            row.int(d == .auditDanglingUser ? users + 300 + i : (r.chance(0.03) ? nil : r.int(users) + 1))
            row.text(action)
            let table: String?
            if action == "login" || action == "logout" {
                table = r.chance(0.5) ? nil : "sessions"
            } else {
                table = r.chance(0.9) ? r.pick(tables) : r.pick(GeneratorData.auditOtherEntities)
            }
            row.text(table)
            if let table, let c = st.counts[table] {
                row.int(r.int(c) + 1)
            } else {
                row.int(table == nil ? nil : r.int(in: 1...100_000))
            }
            let hasOld = action == "update" || action == "delete"
            let hasNew = action == "update" || action == "create" || action == "approve"
            let invalidOld = d == .auditInvalidJSON && hasOld && r.chance(0.5)
            row.text(hasOld ? (invalidOld ? r.pick(GeneratorData.invalidJSON) : st.jsonText(&r)) : nil)
            row.text(d == .auditInvalidJSON && !invalidOld ? r.pick(GeneratorData.invalidJSON) : (hasNew ? st.jsonText(&r) : (r.chance(0.02) ? "null" : nil)))
            row.text(d == .auditInvalidIP ? r.pick(GeneratorData.invalidIPs) : (r.chance(0.1) ? nil : r.pick(GeneratorData.validIPs)))
            row.timestamp(micros: st.timestamp(&r, fromDay: Self.seasonStart, toDay: Self.seasonEnd))
        }
    }
}
