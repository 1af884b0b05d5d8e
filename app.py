"""FERS web app: ``python app.py`` serves it on GRADIO_SERVER_NAME:GRADIO_SERVER_PORT (127.0.0.1:7860).

Everything lives in :mod:`fers.ui`; this file only launches it (Hugging Face Spaces runs it as app_file).
"""

from fers.ui import launch

if __name__ == "__main__":
    launch()
