import Foundation
import MigrationEngine
import Testing

@Suite("Redaction")
struct RedactionTests {
    @Test func urlPasswordsAreMasked() {
        let text = "could not connect to postgresql://admin:S3cr3t!x@db.example.com:5432/app?sslmode=require"
        let out = Redactor.redact(text)
        #expect(!out.contains("S3cr3t!x"))
        #expect(out.contains("postgresql://admin:****@db.example.com:5432/app"))
    }

    @Test("a URL in JSON that escapes its slashes is masked too; a backslash in a plain URL's password does not end it")
    func escapedURLPasswordsAreMasked() {
        let json = #"{"url":"postgresql:\/\/admin:S3cr3t!x@db.example.com:5432\/app"}"#
        let out = Redactor.redact(json)
        #expect(!out.contains("S3cr3t!x") && out.contains(#"postgresql:\/\/admin:****@db.example.com:5432\/app"#), "\(out)")
        let plain = Redactor.redact(#"postgresql://admin:ab\cd-pw@db.example.com/app"#)
        #expect(!plain.contains(#"ab\cd-pw"#), "\(plain)")
    }

    @Test func keywordPasswordsAreMasked() {
        let out = Redactor.redact("host=x password=hunter2x dbname=y")
        #expect(!out.contains("hunter2x"))
        #expect(out.contains("password=****"))
    }

    @Test func registeredSecretsAreMaskedAnywhere() {
        Redactor.register("plain-secret-value-123")
        let out = Redactor.redact("the server said: plain-secret-value-123 is wrong")
        #expect(!out.contains("plain-secret-value-123"))
    }

    @Test func configNeverPrintsPassword() throws {
        let c = try ConnectionConfig(label: "V1", url: "postgresql://u:pa%40ss@127.0.0.1:5432/db", environment: [:])
        #expect(c.value("password") == "pa@ss")
        #expect(!c.redactedURL.contains("pa@ss"))
        #expect(!c.description.contains("pa@ss"))
        #expect(c.redactedURL == "postgresql://u:****@127.0.0.1:5432/db?sslmode=disable")
    }

    @Test func errorsAreRedacted() {
        Redactor.register("leaky-password-42")
        let e = MigrationError(.connectionFailed, "failed for postgresql://u:leaky-password-42@h/db", cause: TextCause("password=leaky-password-42"))
        #expect(!e.description.contains("leaky-password-42"))
        #expect(!e.detailedDescription.contains("leaky-password-42"))
    }
}

@Suite("Connection settings")
struct ConnectionConfigTests {
    @Test(arguments: [
        ("postgresql://u:p@127.0.0.1:5432/db", "disable"),
        ("postgresql://u:p@localhost/db", "disable"),
        ("postgresql://u:p@[::1]:5432/db", "disable"),
        ("postgresql://u:p@db.example.com/db", "require"),
        ("postgresql://u:p@10.1.2.3/db", "require"),
        ("postgresql://u:p@db.example.com/db?sslmode=verify-full", "verify-full"),
        ("postgresql://u:p@127.0.0.1/db?sslmode=require", "require"),
        ("host=/var/run/postgresql dbname=x", "disable"),
        ("postgresql://u:p@127.0.0.9:5432/db", "disable"),
        // a host name that only starts like a loopback address resolves anywhere: TLS required
        ("postgresql://u:p@127.example.com/db", "require"),
        ("postgresql://u:p@127.0.0.1.nip.io/db", "require"),
        ("host=127.0.0.1,db.example.com dbname=x", "require"),
    ])
    func sslModeDefaults(url: String, expected: String) throws {
        let c = try ConnectionConfig(label: "V2", url: url, environment: [:])
        #expect(c.sslMode == expected)
    }

    @Test func pgsslmodeEnvironmentIsLeftToLibpq() throws {
        let c = try ConnectionConfig(label: "V2", url: "postgresql://u@db.example.com/db", environment: ["PGSSLMODE": "verify-ca"])
        #expect(c.value("sslmode") == nil)
    }

    @Test func connectTimeoutDefaultsToFiveSeconds() throws {
        let c = try ConnectionConfig(label: "V1", url: "postgresql://u@h/db", environment: [:])
        #expect(c.value("connect_timeout") == "5")
        let d = try ConnectionConfig(label: "V1", url: "postgresql://u@h/db?connect_timeout=30", environment: [:])
        #expect(d.value("connect_timeout") == "30")
    }

    @Test func malformedURLIsAClearErrorWithoutThePassword() {
        do {
            _ = try ConnectionConfig(label: "V1", url: "postgresql://u:topsecret9@h:notaport/db?sslmode=bogus&x", environment: [:])
            Issue.record("expected an error")
        } catch let e as MigrationError {
            #expect(e.code == .invalidURL)
            #expect(e.exitCode == 1)
            #expect(!e.description.contains("topsecret9"))
            #expect(e.description.contains("V1 URL"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}

@Suite("COPY text encoding")
struct CopyRowTests {
    func encode(_ build: (inout CopyRow) -> Void) -> String {
        var r = CopyRow()
        build(&r)
        r.endRow()
        return String(decoding: r.bytes, as: UTF8.self)
    }

    @Test func escapesEverythingCopyCares() {
        let s = encode { $0.text("a\tb\nc\\d\re"); $0.null(); $0.text("\\N"); $0.text("NULL"); $0.text("😀é") }
        #expect(s == "a\\tb\\nc\\\\d\\re\t\\N\t\\\\N\tNULL\t😀é\n")
    }

    @Test func numbersAndTimes() {
        let day = CivilDate.days(year: 2024, month: 2, day: 29)
        let s = encode {
            $0.int(-42); $0.decimal(-1234, scale: 2); $0.decimal(5, scale: 1); $0.bool(true)
            $0.date(days: day)
            $0.timestamp(micros: (Int64(day) * 86_400 + 3_661) * 1_000_000 + 7)
            $0.int(Int64.min)
        }
        #expect(s == "-42\t-12.34\t0.5\tt\t2024-02-29\t2024-02-29 01:01:01.000007\t-9223372036854775808\n")
    }

    @Test func civilDateRoundTrips() {
        for d in stride(from: -800_000, through: 800_000, by: 997) {
            let (y, m, dd) = CivilDate.fromDays(d)
            #expect(CivilDate.days(year: y, month: m, day: dd) == d)
        }
        #expect(CivilDate.days(year: 1970, month: 1, day: 1) == 0)
    }
}

@Suite("Seeded randomness")
struct RandomTests {
    @Test func sameSeedSameStream() {
        var a = SeededRandom(seed: 7, stream: "deliveries")
        var b = SeededRandom(seed: 7, stream: "deliveries")
        var c = SeededRandom(seed: 7, stream: "planteurs")
        let xa = (0..<100).map { _ in a.next() }
        let xb = (0..<100).map { _ in b.next() }
        let xc = (0..<100).map { _ in c.next() }
        #expect(xa == xb)
        #expect(xa != xc)
    }
}

@Suite("Errors")
struct ErrorTests {
    @Test func exitCodesFollowCLIContract() {
        #expect(MigrationError.Code.configuration.exitCode == 1)
        #expect(MigrationError.Code.usage.exitCode == 2)
        #expect(MigrationError.Code.checkFailed.exitCode == 3)
        #expect(MigrationError.Code.refused.exitCode == 4)
        #expect(MigrationError.Code.interrupted.exitCode == 130)
    }
}

import CocoaTrack

@Suite("CocoaTrack value rules")
struct RuleTests {
    typealias R = CocoaTrackRules

    @Test(arguments: [
        ("+225 07 08 09 10 11", "+2250708091011"), ("0708091011", "+2250708091011"), ("00225 0708091011", "+2250708091011"),
        ("07.08.09.10.11", "+2250708091011"), ("(07) 08-09-10-11", "+2250708091011"), ("+2250708091011", "+2250708091011"),
    ])
    func validPhones(raw: String, expected: String) {
        #expect(R.phone(raw) == (expected, false))
    }

    @Test(arguments: ["123", "07 08 09", "+33 6 12 34 56 78", "N/A", "tel: 0708", "0708091011121314", "+2250708", "1708091011", "+225070809101a", "0225 0708091011"])
    func invalidPhones(raw: String) {
        #expect(R.phone(raw) == (nil, true))
    }

    @Test func nullPhoneIsNotAWarning() { #expect(R.phone(nil) == (nil, false)) }

    @Test func emailsRolesGradesCertifications() {
        #expect(R.email("  Jean.KOUASSI@Gmail.com ") == "jean.kouassi@gmail.com")
        #expect(R.role("agent") == "field_agent")
        #expect(R.role("admin") == "admin")
        #expect(R.role("superuser") == nil)
        #expect(R.gradeMap["REJ"] == "rejected")
        #expect(R.certifications(" , Bio,") == ["bio"])
        #expect(R.certifications("Fairtrade, FAIRTRADE, fairtrade") == ["fairtrade"])
        #expect(R.certifications("UTZ,Rainforest Alliance, fairtrade") == ["utz", "rainforest alliance", "fairtrade"])
        #expect(R.certifications(nil) == [] && R.certifications("") == [] && R.certifications("  ") == [])
        #expect(R.textArrayLiteral(["a\"b", "c\\d"]) == "{\"a\\\"b\",\"c\\\\d\"}")
    }

    @Test func photoURLs() {
        #expect(R.storagePath("https://cocoatrackv1.blob.core.windows.net/photos/2023/01/9/x.jpg") == "delivery-photos/2023/01/9/x.jpg")
        #expect(R.storagePath("https://acct2.blob.core.windows.net/photos/lot%20sp%C3%A9cial/a.jpg") == "delivery-photos/lot%20sp%C3%A9cial/a.jpg")
        for bad in ["http://example.com/photo.jpg", "s3://old-bucket/photos/lot4.jpg", "https://otheraccount.blob.core.windows.net/images/x.jpg",
                    "ftp://cocoatrackv1.blob.core.windows.net/photos/a.jpg", "photos/2023/01/sans-domaine.jpg",
                    "https://cocoatrackv1.blob.core.windows.net/photos/", "https://.blob.core.windows.net/photos/a.jpg", "https://UPPER.blob.core.windows.net/photos/a"] {
            #expect(R.storagePath(bad) == nil, "\(bad)")
        }
    }

    @Test func inetLikePostgres() {
        for ok in ["41.202.77.12", "010.0.0.1", "192.168.1.20/32", "1.2.3.4/24", "2c0f:f0f8:1::42", "::ffff:1.2.3.4", "::1/128"] {
            #expect(R.isValidInet(ok), "\(ok)")
        }
        for bad in ["999.12.0.1", "unknown", "192.168.1", "10.0.0.1, 10.0.0.2", "::ffff:zz", "", "1.2.3.4/33", "1.2.3.4/", "::1/129", "1.2.3.4.5"] {
            #expect(!R.isValidInet(bad), "\(bad)")
        }
    }

    @Test func jsonAsJsonbReadsIt() {
        for ok in ["{}", "[1, 2, 3]", "null", "\"x\"", "1.50", "-0.5e10", "{\"a\": {\"b\": [true, false, null]}}", "{\"é\": \"🍫\\n\\u00e9\"}", " {\"a\":1} "] {
            #expect(JSONReader.isValid(ok), "\(ok)")
        }
        for bad in ["{status: 'sent'}", "{\"weight_kg\": 12.5,", "<xml/>", "", "{\"a\":1}}", "NaN", "{'quote': \"single\"}", "01", "1.", "\"\\u0000\"", "\"\\ud800\"", "\"tab\there\"", "[1,]"] {
            #expect(!JSONReader.isValid(bad), "\(bad)")
        }
        #expect(R.auditJSON("{bad") == ("{\"_unparsed\": \"{bad\"}", true))
    }

    @Test func weights() {
        #expect(R.isPositiveNumeric("0.01") && R.isPositiveNumeric("1398.54"))
        #expect(!R.isPositiveNumeric("0.00") && !R.isPositiveNumeric("0") && !R.isPositiveNumeric("-12.00") && !R.isPositiveNumeric(""))
    }
}

@Suite("Reconnect policy")
struct RetryTests {
    @Test("backoff doubles from 1 s up to the cap, with jitter within ±20 %")
    func backoff() {
        let p = RetryPolicy(retries: 8, initialDelay: .seconds(1), maxDelay: .seconds(30))
        #expect((1...7).map { p.delay(beforeRetry: $0, jitter: 1) } == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(30), .seconds(30)])
        for n in 1...8 {
            let d = p.delay(beforeRetry: n)
            let base = p.delay(beforeRetry: n, jitter: 1)
            #expect(d >= base * 0.8 && d <= base * 1.2)
        }
    }

    @Test("a lost connection is transient; a refused first connection or a bad password is not")
    func transient() {
        #expect(RetryPolicy.isTransient(MigrationError(.connectionLost, "x"), retrying: false))
        #expect(RetryPolicy.isTransient(MigrationError(.serverUnavailable, "x"), retrying: false))
        #expect(!RetryPolicy.isTransient(MigrationError(.connectionRefused, "x"), retrying: false))
        #expect(RetryPolicy.isTransient(MigrationError(.connectionRefused, "x"), retrying: true))
        #expect(!RetryPolicy.isTransient(MigrationError(.authenticationFailed, "x"), retrying: true))
        #expect(!RetryPolicy.isTransient(MigrationError(.checkFailed, "x"), retrying: true))
        #expect(!RetryPolicy.isTransient(CancellationError(), retrying: true))
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var n = 0
        func next() -> Int { lock.withLock { n += 1; return n } }
        var value: Int { lock.withLock { n } }
    }

    @Test("retries until the work succeeds; gives up after the limit with a message to run it again")
    func loop() async throws {
        let fast = RetryPolicy(retries: 3, initialDelay: .milliseconds(1), maxDelay: .milliseconds(2))
        let calls = Counter(), notices = Counter()
        let value = try await withRetries(fast, what: "test", logger: .init(label: "t"), onRetry: { _, _, _ in _ = notices.next() }) {
            if calls.next() < 3 { throw MigrationError(.connectionLost, "lost") }
            return 42
        }
        #expect(value == 42 && calls.value == 3 && notices.value == 2)

        let always = Counter()
        do {
            _ = try await withRetries(fast, what: "migrate", logger: .init(label: "t")) { () async throws -> Int in
                _ = always.next()
                throw MigrationError(.connectionLost, "lost")
            }
            Issue.record("expected the retries to run out")
        } catch let e as MigrationError {
            #expect(e.code == .connectionLost && e.message.contains("run the same command again"))
            #expect(always.value == 4, "the first attempt and 3 retries")
        }

        let refused = Counter()
        await #expect(throws: MigrationError.self) {
            _ = try await withRetries(fast, what: "migrate", logger: .init(label: "t")) { () async throws -> Int in
                _ = refused.next()
                throw MigrationError(.connectionRefused, "wrong port")
            }
        }
        #expect(refused.value == 1, "a first connection refused is a configuration problem, not retried")
    }
}
