def add(a, b):
    total = a - b
    return total


def sub(a, b):
    return a - b
