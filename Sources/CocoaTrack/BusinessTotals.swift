import MigrationEngine

/// The plan's "dashboard shows correct data" as totals computed independently on both sides:
/// V1 less its rejected rows (ids bound as `$n`) against V2. Cooperatives are matched by their
/// `code`, which both schemas keep unique, never through the mapping.
public enum CocoaTrackBusinessTotals {
    /// `YYYY-MM` of a date, for every date PostgreSQL can store: `to_char` goes through
    /// `timestamp`, whose range ends in 294276 AD, and fails on later dates (up to 5874897 AD).
    static func month(_ column: String) -> String {
        "extract(year FROM \(column))::text || '-' || lpad(extract(month FROM \(column))::text, 2, '0')"
    }

    public static let checks: [BusinessCheck] = [
        BusinessCheck(
            name: "deliveries_by_cooperative_month",
            description: "Deliveries per cooperative (of the warehouse) and month: count, kilograms, amount (XOF)",
            columns: ["cooperative", "month", "deliveries", "weight_kg", "amount"], keyColumns: 2,
            sourceSQL: """
                SELECT c.code, \(month("d.delivery_date")), count(*), sum(d.weight_kg), sum(d.total_amount_fcfa)
                FROM public.deliveries d
                JOIN public.warehouses w ON w.id = d.warehouse_id
                JOIN public.cooperatives c ON c.id = w.cooperative_id
                WHERE NOT EXISTS (SELECT 1 FROM unnest($1::bigint[]) r(id) WHERE r.id = d.id)
                GROUP BY 1, 2
                """,
            rejectedParameters: ["deliveries"],
            targetSQL: """
                SELECT c.code, \(month("d.delivered_on")), count(*), sum(d.weight_kg), sum(d.total_amount)
                FROM public.deliveries d
                JOIN public.warehouses w ON w.id = d.warehouse_id
                JOIN public.cooperatives c ON c.id = w.cooperative_id
                GROUP BY 1, 2
                """),
        BusinessCheck(
            name: "invoices_by_status",
            description: "Invoices per status: count and total amount (XOF)",
            columns: ["status", "invoices", "amount"], keyColumns: 1,
            sourceSQL: "SELECT status, count(*), sum(total_amount_fcfa) FROM public.invoices i WHERE NOT EXISTS (SELECT 1 FROM unnest($1::bigint[]) r(id) WHERE r.id = i.id) GROUP BY 1",
            rejectedParameters: ["invoices"],
            targetSQL: "SELECT status::text, count(*), sum(total_amount) FROM public.invoices GROUP BY 1"),
        BusinessCheck(
            name: "planteurs_by_cooperative",
            description: "Planteurs per cooperative: all, and not soft-deleted",
            columns: ["cooperative", "planteurs", "active"], keyColumns: 1,
            sourceSQL: """
                SELECT c.code, count(*), count(*) FILTER (WHERE p.deleted_at IS NULL)
                FROM public.planteurs p JOIN public.cooperatives c ON c.id = p.cooperative_id
                WHERE NOT EXISTS (SELECT 1 FROM unnest($1::bigint[]) r(id) WHERE r.id = p.id) GROUP BY 1
                """,
            rejectedParameters: ["planteurs"],
            targetSQL: """
                SELECT c.code, count(*), count(*) FILTER (WHERE p.deleted_at IS NULL)
                FROM public.planteurs p JOIN public.cooperatives c ON c.id = p.cooperative_id GROUP BY 1
                """),
    ]
}
