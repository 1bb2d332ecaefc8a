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
        .library(name: "MigrationEngine", targets: ["MigrationEngine"]),
        .library(name: "CocoaTrack", targets: ["CocoaTrack"]),
        .library(name: "Sandbox", targets: ["Sandbox"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
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
        // The engine: knows nothing of cocoa.
        .target(
            name: "MigrationEngine",
            dependencies: [
                "CLibPQ",
                .product(name: "Logging", package: "swift-log"),
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
        // Thin executable: argument parsing and rendering only.
        .executableTarget(
            name: "cocoatrack-migrate",
            dependencies: [
                "MigrationEngine",
                "Sandbox",
                "CocoaTrack",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "EngineTests",
            dependencies: ["MigrationEngine", "CocoaTrack"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["MigrationEngine", "Sandbox", "CocoaTrack", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
    ]
)
