"""ordercli: provision and operate the asynchronous order pipeline on AWS or locally."""

__version__ = "0.1.0"
