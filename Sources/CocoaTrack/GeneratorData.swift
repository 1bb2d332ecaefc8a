/// Word lists for realistic CocoaTrack data: Côte d'Ivoire's 31 regions, Ivorian and French
/// names with their accents, cocoa-belt villages, and the awkward text real notes contain.
enum GeneratorData {
    /// The 31 regions of Côte d'Ivoire (name, code).
    static let regions: [(String, String)] = [
        ("Agnéby-Tiassa", "AGT"), ("Bafing", "BAF"), ("Bagoué", "BAG"), ("Bélier", "BEL"), ("Béré", "BER"),
        ("Bounkani", "BOU"), ("Cavally", "CAV"), ("Folon", "FOL"), ("Gbêkê", "GBE"), ("Gbôklé", "GBO"),
        ("Gôh", "GOH"), ("Gontougo", "GON"), ("Grands-Ponts", "GPO"), ("Guémon", "GUE"), ("Hambol", "HAM"),
        ("Haut-Sassandra", "HSA"), ("Iffou", "IFF"), ("Indénié-Djuablin", "IDJ"), ("Kabadougou", "KAB"),
        ("Lôh-Djiboua", "LDJ"), ("Marahoué", "MAR"), ("Mé", "ME"), ("Moronou", "MOR"), ("Nawa", "NAW"),
        ("N'Zi", "NZI"), ("Poro", "POR"), ("San-Pédro", "SPE"), ("Sud-Comoé", "SCO"), ("Tchologo", "TCH"),
        ("Tonkpi", "TON"), ("Worodougou", "WOR"),
    ]

    static let familyNames = [
        "Kouassi", "Koné", "Kouadio", "Yao", "Konan", "N'Guessan", "Traoré", "Coulibaly", "Ouattara",
        "Bamba", "Diabaté", "Touré", "Koffi", "Aka", "Brou", "Gnagne", "Tanoh", "Assi", "Yapi", "Zadi",
        "Séri", "Dago", "Bléhoué", "Amani", "Ehui", "Djédjé", "Tapé", "Kra", "Aké", "Adou", "N'Dri",
        "Loukou", "Sangaré", "Fofana", "Cissé", "Doumbia", "Dosso", "Soro", "Silué", "Yéo", "Tuo",
        "Gbané", "Zoh", "Goré", "Lefèvre", "Ménard", "Gérard", "Rousseau", "Lemaître", "Fournier",
        "Bérété", "Kanaté", "Ahoua", "Dje Bi", "Gouréné", "Kipré", "Niamké", "Éhouman",
    ]

    static let givenNames = [
        "Adjoua", "Amenan", "Akissi", "Affoué", "Aya", "Ahou", "Amoin", "Kouamé", "Kouakou", "Yao", "Kofi",
        "Konan", "Aboubacar", "Mamadou", "Fatoumata", "Awa", "Mariam", "Drissa", "Issiaka", "Siaka",
        "Moussa", "Bintou", "Aimé", "Hélène", "Jérôme", "Céline", "Rémi", "Désiré", "Frédéric", "Noël",
        "Joël", "Zoé", "Éloïse", "Anaïs", "Théo", "Gaël", "Clément", "Bénédicte", "N'Goran", "Marie-Thérèse",
        "Jean-Baptiste", "Félicité", "Honoré", "Innocent", "Edwige", "Ange-Désirée",
    ]

    static let villages = [
        "Méagui", "Soubré", "Gagnoa", "Daloa", "Divo", "Issia", "Duékoué", "Guiglo", "Bouaflé", "Sinfra",
        "Oumé", "Lakota", "Tiassalé", "Agboville", "Abengourou", "Niablé", "Aboisso", "San-Pédro",
        "Sassandra", "Tabou", "Vavoua", "Zuénoula", "Bonon", "Man", "Danané", "Toumodi", "Bongouanou",
        "Dimbokro", "Adzopé", "Yamoussoukro", "M'Batto", "Grand-Béréby", "Buyo", "Gueyo", "Okrouyo",
        "Bianouan", "Agnibilékrou", "Zouan-Hounien", "Kokumbo", "Hiré",
    ]

    static let coopPrefixes = ["SCOOPS", "COOP-CA", "Coopérative", "Société Coopérative", "ECOOPAD", "CAYAT"]

    static let emailDomains = ["cocoatrack.ci", "gmail.com", "yahoo.fr", "orange.ci", "outlook.fr", "mtn.ci"]

    /// Notes as field agents really type them: tabs, newlines, backslashes, quotes, emoji,
    /// combining characters, a literal `\N` and the word NULL (which must never become SQL NULL).
    static let notes: [String] = [
        "RAS",
        "Sacs humides\tà resécher",
        "Livraison partielle\nreste 3 sacs à venir",
        "Reçu n° 45 — chemin C:\\coop\\reçus\\2023",
        "Le chef a dit \"OK\" pour le paiement",
        "Qualité top 👍🍫",
        "l'agent n'était pas là, remis au magasinier",
        "mélange fèves ☕ + 🌧️ pluie",
        "\\N n'est pas NULL",
        "NULL",
        "Cafe\u{301} et cacao (e + accent combinant)",
        "Pesée refaite : 2 × 65 kg\r\nvalidée",
        "  espaces en tête et en fin  ",
        "<b>HTML</b> & 'apostrophes' ; DROP TABLE deliveries; --",
        "Fèves moisies 🦠 — à trier\\\\",
        "Ligne 1\nLigne 2\nLigne 3\ttabulée",
    ]

    static let captions: [String] = [
        "Sacs au magasin", "Pesée", "Fèves séchées", "Reçu signé", "Camion de collecte 🚚",
        "Contrôle qualité\t(humidité)", "Photo floue — à refaire", "Déchargement \"lot 4\"",
    ]

    static let certifications: [String?] = [
        nil, "", "Fairtrade", "Fairtrade, rainforest", "UTZ,Rainforest Alliance, fairtrade",
        " , Bio,", "Fairtrade, FAIRTRADE, fairtrade", "Rainforest Alliance", "bio, UTZ", "  ",
    ]

    static let auditActions = ["create", "update", "delete", "login", "logout", "export", "approve"]
    static let auditOtherEntities = ["sessions", "reports", "settings"]

    static let validIPs = ["41.202.77.12", "102.67.1.4", "154.0.26.201", "196.47.128.9", "2c0f:f0f8:1::42", "10.0.0.15", "192.168.1.20/32"]
    static let invalidIPs = ["999.12.0.1", "unknown", "192.168.1", "10.0.0.1, 10.0.0.2", "::ffff:zz", ""]
    static let invalidJSON = ["{status: 'sent'}", "{\"weight_kg\": 12.5,", "<xml/>", "", "{\"a\":1}}", "NaN", "{'quote': \"single\"}"]
    static let invalidPhones = ["123", "07 08 09", "+33 6 12 34 56 78", "N/A", "tel: 0708", "0708091011121314", "+2250708"]
    static let invalidPhotoURLs = [
        "http://example.com/photo.jpg",
        "s3://old-bucket/photos/lot4.jpg",
        "https://otheraccount.blob.core.windows.net/images/x.jpg",
        "ftp://cocoatrackv1.blob.core.windows.net/photos/a.jpg",
        "photos/2023/01/sans-domaine.jpg",
    ]
    static let unknownGrades = ["AA", "D", "rej", "X", "0"]
}
