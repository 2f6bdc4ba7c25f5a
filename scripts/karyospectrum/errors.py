"""The one error type of bad user input; every library module raises it, the step scripts report it."""

from __future__ import annotations


class InputError(Exception):
    """Bad user input: the message is one line naming the file and the problem."""

    def __init__(self, path, problem: str):
        self.path = str(path) if path is not None else None
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)
