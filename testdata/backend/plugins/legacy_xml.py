"""XML export, disabled: nothing imports this module, by name or otherwise.

It stays in the tree so the lazy-import scanner is seen to add only what is loaded.
"""
import xml.etree.ElementTree as ET


def orders_xml(db) -> str:
    root = ET.Element("orders")
    for row in db.query("SELECT id, user_id, amount FROM orders ORDER BY id"):
        ET.SubElement(root, "order", {k: str(v) for k, v in row.items()})
    return ET.tostring(root, encoding="unicode")
