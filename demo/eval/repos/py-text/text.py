def _case(s):
    return s.upper()


def shout(s):
    return _case(s) + "!"


def title(s):
    return _case(s)
