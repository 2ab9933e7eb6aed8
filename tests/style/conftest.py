"""The style gates: azdev's linter and style checks as azure-cli-extensions CI runs them, and plain flake8/pylint.

Select them with `-m style` (or leave them out with `-m "not style"`).
"""


def pytest_configure(config):
    config.addinivalue_line('markers', 'style: the azdev linter/style gates and the flake8/pylint checks')
