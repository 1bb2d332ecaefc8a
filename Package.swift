// swift-tools-version: 6.2
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "cocoatrack-migrate",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "cocoatrack-migrate", targets: ["cocoatrack-migrate"]),
        .library(name: "PGClient", targets: ["PGClient"]),
        .library(name: "MigrationEngine", targets: ["MigrationEngine"]),
        .library(name: "CocoaTrack", targets: ["CocoaTrack"]),
        .library(name: "Sandbox", targets: ["Sandbox"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        // HTTP client in process (webhooks, Sentry, Supabase, health checks): no curl child, no
        // secret on a command line, TLS verified by BoringSSL against the system's roots.
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        // The settings file: a real YAML parser (nodes with line numbers), strict checks on top.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        // The status page: Hummingbird 2 as a service in a ServiceGroup (graceful shutdown).
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // libpq: COPY in both directions, libpq's own URL, sslmode and .pgpass semantics.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"]), .brew(["libpq"])]
        ),
        // libxcrypt: real bcrypt hashes for the generator's users.
        .systemLibrary(
            name: "CCrypt",
            pkgConfig: "libcrypt",
            providers: [.apt(["libcrypt-dev"])]
        ),
        // The PostgreSQL client: libpq sessions, COPY in and out, URLs and redaction, the
        // catalog, the error type. Knows nothing of migrations.
        .target(
            name: "PGClient",
            dependencies: [
                "CLibPQ",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The engine: knows nothing of cocoa.
        .target(
            name: "MigrationEngine",
            dependencies: [
                "PGClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        // Throwaway PostgreSQL clusters on loopback (used by `sandbox` and by the tests).
        .target(
            name: "Sandbox",
            dependencies: [
                "MigrationEngine",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Everything specific to CocoaTrack: both schemas, the mapping, the data generator.
        .target(
            name: "CocoaTrack",
            dependencies: [
                "MigrationEngine",
                "Sandbox",
                "CCrypt",
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [
                .embedInCode("SQL/v1_schema.sql"),
                .embedInCode("SQL/v2_schema.sql"),
                .embedInCode("SQL/v2_supabase_stub.sql"),
            ],
            swiftSettings: strict
        ),
        // What a person reads on the terminal: progress (live block or one line per phase), log
        // lines, results on stdout, number and column formats.
        .target(
            name: "Rendering",
            dependencies: [
                "MigrationEngine",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The live status page's HTTP server (Hummingbird in a ServiceGroup), fed with closures.
        .target(
            name: "StatusPage",
            dependencies: [
                "MigrationEngine",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // Thin executable: argument parsing and wiring only.
        .executableTarget(
            name: "cocoatrack-migrate",
            dependencies: [
                "MigrationEngine",
                "Rendering",
                "StatusPage",
                "Sandbox",
                "CocoaTrack",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "EngineTests",
            dependencies: ["PGClient", "MigrationEngine", "CocoaTrack", "Rendering", "Sandbox", "StatusPage", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["PGClient", "MigrationEngine", "Sandbox", "CocoaTrack", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
    ]
)
