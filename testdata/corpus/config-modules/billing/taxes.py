RATE = 0.2


def describe():
    return "taxes at %d%%" % (RATE * 100)
