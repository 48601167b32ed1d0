import dataclasses
import datetime as dt
import inspect
import pickle

import pytest

from feedpub.models import BodyFormat, Post, new_post


def test_new_post_takes_the_fields_of_post_in_their_order():
    names = [f.name for f in dataclasses.fields(Post)]
    assert list(inspect.signature(new_post).parameters) == names


def test_new_post_is_post():
    values = (
        "a/b.md", "Title", dt.datetime(2024, 5, 1, tzinfo=dt.UTC), None, (("x", "y"),),
        ("t",), "me", None, "sum", False, "https://e.org/b/", BodyFormat.MARKDOWN, "00ff",
    )  # fmt: skip
    made = new_post(*values)
    assert type(made) is Post
    assert made == Post(*values)
    assert hash(made) == hash(Post(*values))
    assert pickle.loads(pickle.dumps(made)) == made
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.title = "other"  # type: ignore[misc]
