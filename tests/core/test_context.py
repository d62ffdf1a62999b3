"""What a task sees of its run: the name of a pipeline model that is the user's own."""

from __future__ import annotations

import functools

from sciconv.context import own_model_name
from sciconv.registry import get_registry


class MyNet:
    """Stands for a user's network class (own_model_name only reads names and identity)."""


def test_the_registered_model_is_not_the_users_own() -> None:
    registered = get_registry().load("models", "demo.cnn1d")
    assert own_model_name("demo.cnn1d", registered) is None


def test_a_python_object_in_the_pipelines_place_is_named_by_its_class() -> None:
    # pipe.model = MyNet leaves model.name as the pipeline file had it
    assert own_model_name("demo.cnn1d", MyNet) == "MyNet"
    # as config.yaml records it (and predict sees it)
    assert own_model_name("python:__main__:MyNet", MyNet) == "MyNet"
    # a name no plugin registers here, and a factory object without a __name__
    assert own_model_name("nowhere.net", MyNet) == "MyNet"
    assert own_model_name("demo.cnn1d", functools.partial(MyNet)) == "partial"
