#!/usr/bin/env python3
"""moto server, handling one request at a time.

`moto_server` serves requests on many threads, and moto's DynamoDB does not lock items:
two concurrent conditional writes can both succeed, and concurrent ADDs can lose an
update, where real DynamoDB serialises writes to an item. The state store's contract
(exactly one put-if-absent winner, no lost increments) is about that guarantee, so the
tests run moto with its requests serialised. Connections are still accepted on many
threads; only the handling of a request holds the lock.

Usage (as moto_server): moto_serialized.py -H 127.0.0.1 -p PORT
"""

import argparse
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialized(environ, start_response):
        with lock:
            # Consume the response inside the lock: moto does its work while iterating.
            return list(app(environ, start_response))

    run_simple(args.host, args.port, serialized, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
