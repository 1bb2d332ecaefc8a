import ArgumentParser
struct GenerateV1Command: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generate-v1")
    func run() async throws {}
}
struct PreflightCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "preflight")
    func run() async throws {}
}
