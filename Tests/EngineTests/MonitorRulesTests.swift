import CocoaTrack
import Foundation
@testable import PGClient
@testable import MigrationEngine
import Testing

/// The monitor's alerting rule and latency quantiles, without a server.
@Suite("monitor rules")
struct MonitorRulesTests {
    static let verification = DecisionTests.report()

    /// One sample's decision: `failures` of 100 logins failed, p95 `p95` against a 100 ms baseline.
    static func sample(failures: Int64 = 0, p95: Double = 100) -> Decision {
        DecisionMatrix.plan().evaluate(DecisionInputs(phase: .afterSwitch, verification: verification,
                                                      monitoring: MonitoringSignals(sampledAt: "t", loginAttempts: 100, loginFailures: failures,
                                                                                    latencyP95Ms: p95, baselineP95Ms: 100),
                                                      flags: []))
    }

    @Test("a slow API alerts only after --confirm consecutive samples, once, and does not stop monitoring (the matrix says investigate)")
    func slowAPIStreak() {
        var rules = MonitorRules(confirm: 3)
        #expect(rules.handle(sample: Self.sample(p95: 400)).isEmpty)
        #expect(rules.handle(sample: Self.sample(p95: 400)).isEmpty)
        let third = rules.handle(sample: Self.sample(p95: 400))
        #expect(third.count == 1)
        guard case .alert(let rule, _, _, let action)? = third.first else { Issue.record("no alert: \(third)"); return }
        #expect(rule == "performance_degradation")
        #expect(action == "investigate")
        #expect(rules.handle(sample: Self.sample(p95: 400)).isEmpty, "alerted once per run")
    }

    @Test("a calm sample resets the streak")
    func streakResets() {
        var rules = MonitorRules(confirm: 2)
        #expect(rules.handle(sample: Self.sample(failures: 30)).isEmpty)
        #expect(rules.handle(sample: Self.sample(failures: 1)).isEmpty)
        #expect(rules.streak["login_failures"] == 0)
        #expect(rules.handle(sample: Self.sample(failures: 30)).isEmpty)
        #expect(rules.handle(sample: Self.sample(failures: 30)).count == 2)
    }

    @Test("confirmed login failures alert and then stop: the matrix says roll back")
    func loginFailuresStop() {
        var rules = MonitorRules(confirm: 2)
        _ = rules.handle(sample: Self.sample(failures: 30, p95: 400))
        let actions = rules.handle(sample: Self.sample(failures: 30, p95: 400))
        #expect(actions.count == 2)
        guard case .alert(let rule, _, _, let action)? = actions.first, case .stop(let stopped, _)? = actions.last else {
            Issue.record("expected alert then stop: \(actions)"); return
        }
        #expect(rule == "login_failures" && action == "rollback" && stopped == "login_failures")
    }

    @Test("a --confirm below 1 counts as 1")
    func confirmAtLeastOne() {
        var rules = MonitorRules(confirm: 0)
        #expect(rules.confirm == 1)
        #expect(rules.handle(sample: Self.sample(p95: 400)).count == 1)
    }

    @Test("quantiles round the rank up; a failed request counts at the deadline")
    func quantiles() {
        #expect(Latency.quantile([], 0.5) == nil)
        #expect(Latency.quantile([30, 10, 20], 0.5) == 20)
        #expect(Latency.quantile([10, 20, 30, 40], 0.5) == 30)
        #expect(Latency.quantile(Array(stride(from: 1.0, through: 100, by: 1)), 0.95) == 96)
        #expect(Latency.counted(milliseconds: 12, ok: true, timeoutMilliseconds: 10_000) == 12)
        #expect(Latency.counted(milliseconds: 12, ok: false, timeoutMilliseconds: 10_000) == 10_000)
        #expect(Latency.counted(milliseconds: 11_000, ok: false, timeoutMilliseconds: 10_000) == 11_000)
    }

    @Test("the runbook step's label carries its place on the plan's clock")
    func stepLabels() {
        #expect(RunbookStep(id: "a", title: "Final V1 backup", destructive: false, offsetHours: -24).label == "Final V1 backup (T-24h)")
        #expect(RunbookStep(id: "a", title: "Migration", destructive: false, offsetHours: 0).label == "Migration (T-0)")
        #expect(RunbookStep(id: "a", title: "DNS", destructive: false, offsetHours: 3).label == "DNS (T+3h)")
        #expect(RunbookStep(id: "a", title: "x", destructive: false).label == "x")
    }
}

@Suite("one runbook step list")
struct RunbookStepListTests {
    @Test("cutover plan's timeline, the runbook and the post-mortem read the same steps, in the same order")
    func oneList() {
        let plan = CutoverPlan.make(timeline: CocoaTrackRunbook.steps, windowStart: Date(timeIntervalSince1970: 0), productionRows: nil, productionBytes: nil, rehearsal: nil)
        #expect(plan.steps.map(\.id) == CocoaTrackRunbook.ids)
        #expect(plan.steps.last?.id == "confirm")
        #expect(plan.steps.first { $0.id == "migrate" }?.offset == 0)
        #expect(plan.steps.first { $0.id == "final_backup" }?.offset == -24 * 3600)
    }

    @Test("each prediction scales with what the step reads")
    func predictions() {
        let m = RehearsalMeasurements(measuredAt: "", sourceRows: 1000, sourceBytes: 1_000_000, migrateSeconds: 10, verifySeconds: 4, snapshotSeconds: 2, v2SnapshotSeconds: 3)
        let plan = CutoverPlan.make(timeline: CocoaTrackRunbook.steps, windowStart: Date(timeIntervalSince1970: 0), productionRows: 10_000,
                                    productionBytes: 5_000_000, rehearsal: m)
        func p(_ id: String) -> Double? { plan.steps.first { $0.id == id }?.predictedSeconds }
        #expect(p("migrate") == 100)
        #expect(p("verify") == 40)
        #expect(p("arm_capture") == 40)
        #expect(p("final_backup") == 10)
        #expect(p("v2_snapshot") == 3)
        #expect(p("decide") == nil)
    }
}
