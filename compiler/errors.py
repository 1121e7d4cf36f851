"""The base of every error caused by what the user gave kiln (a file, a flag, a model).

Tools print such an error as one message and exit with code 2; any other exception is a bug
in kiln. Each subclass's message names the file, line, op or layer concerned.
"""


class UserError(Exception):
    """Bad input: the message says where and what is wrong."""
