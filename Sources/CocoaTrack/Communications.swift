import Foundation

/// The plan's user-facing texts, filled with the window's real times. Côte d'Ivoire keeps
/// GMT all year, so UTC is also the users' local time.
public enum CocoaTrackMessages {
    public struct Message: Sendable {
        public var id: String
        public var when: String
        public var channel: String
        public var subject: String
        public var body: String
    }

    static func day(_ d: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "EEEE d MMMM yyyy"
        return f.string(from: d)
    }

    static func time(_ d: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "HH:mm"
        return f.string(from: d) + " UTC"
    }

    static func iso(_ d: Date) -> String { d.formatted(.iso8601) }

    public static func all(windowStart: Date, windowHours: Double = 4, statusURL: String = "https://status.cocoatrack.com") -> [Message] {
        let end = windowStart.addingTimeInterval(windowHours * 3600)
        let window = "\(day(windowStart)), \(time(windowStart)) to \(time(end))"
        return [
            Message(id: "one_week_before", when: iso(windowStart.addingTimeInterval(-7 * 86_400)), channel: "email to all users",
                    subject: "CocoaTrack maintenance on \(day(windowStart))",
                    body: """
                    Hello,

                    CocoaTrack moves to its new platform on \(window). During these \(Int(windowHours)) hours CocoaTrack \
                    is read-only: you can look at deliveries, planteurs and invoices, but not record new ones. Please \
                    record deliveries before \(time(windowStart)) or after \(time(end)).

                    Your login and password stay the same. Follow the work live at \(statusURL).

                    The CocoaTrack team
                    """),
            Message(id: "in_app_banner", when: iso(windowStart.addingTimeInterval(-3 * 86_400)), channel: "in-app banner",
                    subject: "Maintenance \(window)",
                    body: "CocoaTrack will be read-only on \(window) while it moves to its new platform. Details: \(statusURL)"),
            Message(id: "day_before", when: iso(windowStart.addingTimeInterval(-86_400)), channel: "email to all users",
                    subject: "Reminder: CocoaTrack maintenance tomorrow, \(time(windowStart))",
                    body: """
                    Hello,

                    Reminder: CocoaTrack is read-only tomorrow, \(window). Record today's deliveries before \
                    \(time(windowStart)). Your login and password stay the same.

                    The CocoaTrack team
                    """),
            Message(id: "maintenance_extended", when: "when the decision is rollback or the window is overrun", channel: "status page",
                    subject: "Maintenance Extended",
                    body: """
                    Maintenance Extended: the move of CocoaTrack to its new platform is taking longer than planned. \
                    CocoaTrack stays read-only for now; we will post the next update here within 30 minutes. \
                    No recorded data is lost.
                    """),
            Message(id: "rollback_email", when: "within 1 hour of a rollback", channel: "email to all users",
                    subject: "CocoaTrack is back on its current platform",
                    body: """
                    Hello,

                    During the maintenance of \(window) we found a problem and moved CocoaTrack back to its current \
                    platform. CocoaTrack works as before, with your usual login; everything recorded before the \
                    maintenance is there. If you recorded anything during the maintenance and cannot find it, reply \
                    to this email and we will check it for you. We will announce a new date.

                    The CocoaTrack team
                    """),
        ]
    }
}
