import Foundation
import MigrationEngine

/// Confirmation before a destructive step: `--yes`, or an answer typed on a terminal; never
/// assumed when nobody can answer.
public enum Confirm {
    /// Asks for the database's name (`side` is V1 or V2).
    public static func databaseName(_ database: String, side: String, yes: Bool) throws {
        if yes { return }
        guard isatty(0) == 1 else {
            throw MigrationError(.refused, "confirmation required: run it on a terminal and type the \(side) database name, or pass --yes. Nothing was touched.")
        }
        FileHandle.standardError.write(Data("type the \(side) database name (\(database)) to confirm: ".utf8))
        guard readLine()?.trimmingCharacters(in: .whitespaces) == database else {
            throw MigrationError(.refused, "confirmation did not match \(database). Nothing was touched.")
        }
    }

    /// Asks `question? type yes`; without a terminal, `refusal` says what --yes would allow.
    public static func yes(_ question: String, yes: Bool, refusal: String) throws {
        if yes { return }
        guard isatty(0) == 1 else { throw MigrationError(.refused, refusal) }
        FileHandle.standardError.write(Data("\(question)? type yes: ".utf8))
        guard readLine()?.trimmingCharacters(in: .whitespaces) == "yes" else {
            throw MigrationError(.refused, "not confirmed. Nothing was changed.")
        }
    }
}
