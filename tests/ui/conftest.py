"""Handlers called directly (not through a server) read only files inside Gradio's upload folder
(:mod:`fers.ui.gate`): pytest's temporary folder of this run plays that folder."""

import pytest


@pytest.fixture(autouse=True)
def tmp_folder_is_the_upload_folder(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path_factory.getbasetemp()))
