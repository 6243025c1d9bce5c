"""moto's server with one request processed at a time.

DynamoDB applies a conditional write or a transaction atomically; moto's threaded server does
not (two threads can both pass `attribute_not_exists` before either writes). Processing one
request at a time gives every call the atomicity DynamoDB gives it, while connections stay
concurrent, so tests of racing writers test our conditions, not moto's thread switches.

usage: python moto_server.py HOST PORT
"""
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


class OneAtATime:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            # Bodies are small JSON answers: collect them inside the lock.
            return list(self.app(environ, start_response))


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, OneAtATime(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
