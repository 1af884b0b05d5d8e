"""FERS web app: ``python app.py`` serves it on GRADIO_SERVER_NAME:GRADIO_SERVER_PORT (127.0.0.1:7860).

``python app.py --local-paths`` also lets the checkpoint box read paths on this machine (local use
only; refused in a Hugging Face Space). Everything lives in :mod:`fers.ui`; this file only launches it
(Hugging Face Spaces runs it as app_file).
"""

import argparse

from fers.ui import launch

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Serve the FERS web app (docs/app.md).")
    parser.add_argument("--local-paths", action="store_true",
                        help="let the checkpoint box read server paths (local use; never on a public server)")
    launch(local_paths=parser.parse_args().local_paths)
