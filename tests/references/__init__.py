"""Stored ``model.fit`` references for the equivalence tests (see ``store`` and
``regenerate``)."""
