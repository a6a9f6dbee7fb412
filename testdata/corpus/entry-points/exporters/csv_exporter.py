class Exporter:
    mime = "text/csv"

    def export(self, rows):
        return "\n".join(",".join(map(str, r)) for r in rows)
