"""The default rules, shipped inside the wheel as the package ``advisor.default_rules``.

This file only makes the folder importable so that ``importlib.resources`` finds the YAML files
both in a plain install and in an editable one; the rules themselves are the ``*.yaml`` files.
"""
