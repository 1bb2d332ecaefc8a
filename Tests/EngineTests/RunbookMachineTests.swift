import Foundation
@testable import PGClient
@testable import MigrationEngine
import Testing

@Suite("runbook state machine")
struct RunbookMachineTests {
    static let steps = ["backup", "migrate", "verify", "decide", "dns_switch", "confirm"].map { RunbookStep(id: $0, title: $0, destructive: false) }

    @Test("runs every step in order and finishes")
    func happyPath() {
        var m = RunbookMachine(steps: Self.steps, pauseBefore: [])
        var actions = [m.handle(.start(done: [], approvals: []))]
        actions.append(m.handle(.succeeded("backup")))
        actions.append(m.handle(.succeeded("migrate")))
        actions.append(m.handle(.succeeded("verify")))
        actions.append(m.handle(.decided("decide", action: "continue")))
        actions.append(m.handle(.succeeded("dns_switch")))
        actions.append(m.handle(.decided("confirm", action: "continue")))
        #expect(actions == [.run("backup"), .run("migrate"), .run("verify"), .run("decide"), .run("dns_switch"), .run("confirm"), .finished])
    }

    @Test("resumes after the last completed step")
    func resume() {
        var m = RunbookMachine(steps: Self.steps, pauseBefore: [])
        #expect(m.handle(.start(done: ["backup", "migrate"], approvals: [])) == .run("verify"))
    }

    @Test("hold points stop until approved")
    func holdPoints() {
        var m = RunbookMachine(steps: Self.steps, pauseBefore: ["dns_switch"])
        #expect(m.handle(.start(done: ["backup", "migrate", "verify", "decide"], approvals: [])) == .pause(before: "dns_switch", reason: "hold point before dns_switch"))
        var approved = RunbookMachine(steps: Self.steps, pauseBefore: ["dns_switch"])
        #expect(approved.handle(.start(done: ["backup", "migrate", "verify", "decide"], approvals: ["dns_switch"])) == .run("dns_switch"))
    }

    @Test("a rollback decision is Scenario 1 before the DNS switch and Scenario 2 after it")
    func scenarios() {
        var before = RunbookMachine(steps: Self.steps, pauseBefore: [])
        _ = before.handle(.start(done: ["backup", "migrate", "verify"], approvals: []))
        if case .rollback(let s, _) = before.handle(.decided("decide", action: "rollback")) { #expect(s == 1) } else { Issue.record("no rollback") }
        var after = RunbookMachine(steps: Self.steps, pauseBefore: [])
        _ = after.handle(.start(done: ["backup", "migrate", "verify", "decide", "dns_switch"], approvals: []))
        if case .rollback(let s, _) = after.handle(.decided("confirm", action: "immediate_rollback")) { #expect(s == 2) } else { Issue.record("no rollback") }
    }

    @Test("an inconclusive decision asks a person; a failed step stops and is retried on the next run")
    func inconclusiveAndFailure() {
        var m = RunbookMachine(steps: Self.steps, pauseBefore: [])
        _ = m.handle(.start(done: ["backup", "migrate", "verify"], approvals: []))
        guard case .pause(let step, _) = m.handle(.decided("decide", action: "inconclusive")) else { Issue.record("no pause"); return }
        #expect(step == "decide")
        var approved = RunbookMachine(steps: Self.steps, pauseBefore: [])
        _ = approved.handle(.start(done: ["backup", "migrate", "verify"], approvals: ["decide"]))
        #expect(approved.handle(.decided("decide", action: "inconclusive")) == .run("dns_switch"))
        var f = RunbookMachine(steps: Self.steps, pauseBefore: [])
        _ = f.handle(.start(done: [], approvals: []))
        #expect(f.handle(.failed("backup", message: "disk full")) == .stop(step: "backup", message: "disk full"))
        var retry = RunbookMachine(steps: Self.steps, pauseBefore: [])
        #expect(retry.handle(.start(done: [], approvals: [])) == .run("backup"))
    }
}
