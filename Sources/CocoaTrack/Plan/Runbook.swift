import MigrationEngine

/// CocoaTrack's cutover runbook: the plan's steps (docs/rollback-plan.md), in its order, with
/// when the plan schedules each and the command that performs it. This one list serves
/// `cutover run` (the runbook machine), `cutover plan` (the timeline), `cutover status`, the
/// post-mortem, the status page and the rehearsal.
public enum CocoaTrackRunbook {
    public static let steps: [RunbookStep] = [
        .init(id: "final_backup", title: "Final V1 backup", destructive: false, offsetHours: -24, command: "snapshot v1 --label final",
              prediction: .sourceBackup),
        .init(id: "read_only", title: "Enable V1 read-only mode", destructive: true, offsetHours: -1, command: "read-only enable"),
        .init(id: "v2_snapshot", title: "V2 snapshot before migration", destructive: false, offsetHours: -1, command: "snapshot v2 --label pre_migration",
              prediction: .targetSnapshot),
        .init(id: "migrate", title: "Migration", destructive: false, offsetHours: 0, command: "migrate", prediction: .migrate),
        .init(id: "verify", title: "Integrity verification", destructive: false, offsetHours: 1, command: "verify-integrity --export", prediction: .verify),
        .init(id: "decide", title: "Decision point: proceed or rollback", destructive: false, offsetHours: 2, command: "decide"),
        .init(id: "arm_capture", title: "Arm change capture (cutover baseline)", destructive: false, offsetHours: 2,
              command: "capture arm", prediction: .verify),
        .init(id: "dns_switch", title: "DNS switch to V2", destructive: true, offsetHours: 3, command: "hook dns_switch"),
        .init(id: "confirm", title: "Monitor and confirm success", destructive: false, offsetHours: 4, command: "check-success; monitor --for 72h"),
    ]

    public static var ids: [String] { steps.map(\.id) }
}
