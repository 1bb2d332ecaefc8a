import CCrypt
import MigrationEngine

/// Real bcrypt hashes through libxcrypt's `crypt_r`, with a salt drawn from the generator's
/// seeded stream so that the same seed gives the same hashes.
enum Bcrypt {
    static let alphabet = Array("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)

    static func hash(_ password: String, cost: Int, prefix: String = "2a", rng: inout SeededRandom) -> String {
        var salt = ""
        for i in 0..<22 {
            // The 22nd character carries only 2 significant bits: keep it canonical.
            let c = i == 21 ? alphabet[rng.int(4) * 16] : alphabet[rng.int(64)]
            salt.append(Character(Unicode.Scalar(c)))
        }
        let setting = "$\(prefix)$\(cost < 10 ? "0" : "")\(cost)$\(salt)"
        var data = crypt_data()
        guard let out = crypt_r(password, setting, &data) else {
            preconditionFailure("libxcrypt does not support bcrypt ($\(prefix)$)")
        }
        let result = String(cString: out)
        precondition(result.hasPrefix("$\(prefix)$"), "bcrypt failed for setting \(setting)")
        return result
    }
}
