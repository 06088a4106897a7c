#!/usr/bin/env python3
"""The demo's upstream application: a page that greets the user a secondary node signed in,
from the X-Hub-* headers the node sets. Usage: demo-app.py PORT TITLE"""
import html
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class App(BaseHTTPRequestHandler):
    title = "app"

    def do_GET(self):
        name = self.headers.get("X-Hub-Name") or self.headers.get("X-Hub-Sub") or "stranger"
        rows = "".join(f"<tr><th>{html.escape(h)}</th><td>{html.escape(self.headers.get(h) or '')}</td></tr>"
                       for h in ("X-Hub-Sub", "X-Hub-Email", "X-Hub-Name", "X-Hub-Roles"))
        body = (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{html.escape(self.title)}</title></head>"
                f"<body style='font-family:sans-serif;max-width:40em;margin:3em auto'>"
                f"<h1 id=greeting>Hello, {html.escape(name)}</h1><p>This is <b>{html.escape(self.title)}</b>, "
                f"behind a secondary node. It sees these headers:</p><table>{rows}</table>"
                f"<p>Path: <code>{html.escape(self.path)}</code></p>"
                f"<form method=post action='/auth/logout'><button>Sign out</button></form></body></html>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


if __name__ == "__main__":
    App.title = sys.argv[2] if len(sys.argv) > 2 else "app"
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), App).serve_forever()
