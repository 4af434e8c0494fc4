from text import shout, title


def test_title():
    assert title("hello world") == "Hello World"


def test_shout():
    assert shout("hi") == "HI!"
