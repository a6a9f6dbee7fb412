import argparse
import os

import uvicorn

from inventory.api import create_app


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args = parser.parse_args()
    uvicorn.run(create_app(), host="127.0.0.1", port=args.port)


main()
