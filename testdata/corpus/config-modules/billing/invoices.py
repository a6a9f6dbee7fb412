def describe():
    return "invoices"
