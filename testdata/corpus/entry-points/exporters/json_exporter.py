import json


class Exporter:
    mime = "application/json"

    def export(self, rows):
        return json.dumps(rows)
