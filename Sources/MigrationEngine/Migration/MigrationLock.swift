import PGClient
import Foundation
import Logging

/// The migration lock on a target: one migrate (or rollback --clear-v2) at a time.
///
/// A transaction-level advisory lock in a transaction held open, on a connection of its own, for
/// the whole run, instead of a session-level lock: it can end only with that transaction, and the
/// transaction ends with the process's connection. Connected directly, the server sees the socket
/// close when the process dies (even `kill -9`); through a pooler, a server session in the middle
/// of a transaction is never handed to another client (PgBouncer closes it when its client goes),
/// while a session-level lock stays on the pooled server session when the pooler does not reset it.
/// The transaction takes no snapshot and writes nothing, so it holds back no vacuum; the session
/// runs with `idle_in_transaction_session_timeout` 0 (`SessionSetup`), so a DBA's timeout does not
/// end it mid-run. Compatible with the session-level lock of earlier versions (same key).
public final class MigrationLock: Sendable {
    let connection: PGConnection
    public let key: Int64

    private init(connection: PGConnection, key: Int64) {
        self.connection = connection
        self.key = key
    }

    /// Takes the lock, or returns nil when another session holds it.
    public static func acquire(_ config: ConnectionConfig, key: Int64 = Migrator.lockKey, logger: Logger) async throws -> MigrationLock? {
        let c = try await PGConnection.connect(config, logger: logger)
        do {
            let got = try await c.withSession { s -> Bool in
                // Simple protocol: no portal left open in the transaction to keep a snapshot.
                try s.execute("BEGIN")
                return try s.query("SELECT pg_try_advisory_xact_lock(\(key))").rows[0][0] == "t"
            }
            if got { return MigrationLock(connection: c, key: key) }
        } catch {
            await c.close()
            throw error
        }
        await c.close()
        return nil
    }

    /// Ends the transaction (and with it the lock) and closes the session. Idempotent.
    public func release() async {
        _ = try? await connection.execute("ROLLBACK")
        await connection.close()
    }
}
