"""The root conftest: the project's pytest plugin (``tests/ramp_test_plugin.py``) holds the
fixtures and helpers shared by every test folder."""

pytest_plugins = ["ramp_test_plugin"]
