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
