"""The complete example's app: a web server that logs the way web apps do.

Each request gets an access line on stdout in the combined log format,
user agent included: the ALB's health checks (GET /health, user agent
ELB-HealthChecker/2.0) are how the log router recognises them, and drops
them. GET /error logs an ERROR line and a Python traceback on stderr and
answers 500: an error in Slack. Run as the app container's command
(main.tf); tests/tests/e2e/deployment.rs runs it and classifies what it
logs with the filter's rules.
"""

import http.server
import os
import sys
import time
import traceback


def charge(order):
    return order["total"] / order["items"]


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "shop-web"
    sys_version = ""

    def do_GET(self):
        if self.path == "/error":
            try:
                charge({"total": 42, "items": 0})
            except ZeroDivisionError:
                stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
                print(f"{stamp} ERROR [checkout] order 7 failed: cannot charge an empty basket", file=sys.stderr)
                traceback.print_exc()
            self.reply(500, b"error\n")
        elif self.path == "/health":
            self.reply(200, b"ok\n")
        else:
            self.reply(200, b"hello from shop-web\n")

    def reply(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        # Apache's combined format, as nginx and most web servers write it.
        stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
        referer = self.headers.get("Referer", "-")
        agent = self.headers.get("User-Agent", "-")
        print(f'{self.client_address[0]} - - [{stamp}] "{self.requestline}" {status} {len(body)} "{referer}" "{agent}"')

    def log_request(self, code="-", size="-"):
        pass  # reply() writes the access line, with the body's size

    def log_message(self, format, *args):
        print(format % args, file=sys.stderr)


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8080"))
    print(f"listening on {port}", file=sys.stderr)
    http.server.ThreadingHTTPServer(("", port), Handler).serve_forever()
