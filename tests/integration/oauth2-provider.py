#!/usr/bin/python3
"""oauth2-provider.py: a small OAuth2 provider for the integration tests.

HTTPS on 127.0.0.1 with the sandbox's certificate, python3 standard library
only. It plays Google/Microsoft for dovecot-fetchmail and for the
sandbox's "oauth2" Dovecot, whose oauth2 passdb checks every access token
here by introspection, so that a real Dovecot decides every login.

  GET  /authorize      authorization request (RFC 6749 4.1.1, PKCE S256
                       required): a consent page with Approve / Deny
  POST /authorize      the consent form: redirects (302) to redirect_uri
                       with code and state, or error=access_denied
  POST /token          authorization_code (checks redirect_uri and the
                       PKCE verifier), refresh_token (rotates on every
                       use; a used one is refused with invalid_grant and
                       revokes its whole family, as rotating providers
                       do), device_code (RFC 8628: authorization_pending,
                       slow_down, expired_token, access_denied)
  POST /devicecode     device authorization request (RFC 8628 3.1)
  GET  /device         the page where a person enters the user code
  POST /device         approve or deny a user code
  POST /introspect     RFC 7662 for Dovecot's oauth2 passdb (client
                       credentials required): {"active":true,
                       "username":...} or {"active":false}
  GET  /control/stats  request counts, concurrency, tokens (no values)
  POST /control        JSON commands for the tests:
                         {"action":"revoke","user":U}   all of U's tokens
                         {"action":"revoke-access","user":U}  only U's
                             access tokens (the refresh tokens stay good)
                         {"action":"introspect","mode":"deny"|"ok"}
                             introspection answers inactive for every
                             token (a mail server that rejects them all)
                         {"action":"mode","mode":M}     token and device
                             endpoints answer: ok, 503, close (no answer),
                             hang (never), garbage, huge (100 KiB)
                         {"action":"delay","seconds":S} before each
                             /token answer
                         {"action":"ttl","seconds":S}   access lifetime
                         {"action":"slow-down","count":N} the next N
                             device polls answer slow_down
                         {"action":"issue","user":U}    tokens for U
                             without consent (token import tests)
                         {"action":"tokens","user":U}   every token
                             issued to U (to search for leaks)
                         {"action":"reset-stats"}

Access tokens live --access-ttl seconds (default 5). Clients: the mail
client (--client-id, --client-secret-file) and the introspecting
resource server (--introspect-id, --introspect-secret-file). The log
(--log) never holds a token, code or secret.
"""

import argparse
import base64
import hashlib
import html
import json
import os
import secrets
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()


class State:
    def __init__(self, args):
        self.clients = {
            args.client_id: read_secret(args.client_secret_file),
            args.introspect_id: read_secret(args.introspect_secret_file),
        }
        self.mail_client = args.client_id
        self.introspect_client = args.introspect_id
        self.access_ttl = args.access_ttl
        self.code_ttl = 60
        self.device_ttl = args.device_ttl
        self.device_interval = args.device_interval
        self.txns = {}        # consent page transaction -> request
        self.codes = {}       # code -> grant
        self.refresh = {}     # refresh token -> {user, family, used, revoked}
        self.access = {}      # access token -> {user, expires, revoked}
        self.devices = {}     # device code -> device grant
        self.user_codes = {}  # user code -> device code
        self.revoked_families = set()
        self.mode = "ok"
        self.introspect_deny = False
        self.delay = 0.0
        self.slow_down = 0
        self.stats = {}
        self.inflight = 0
        self.max_inflight = 0

    def count(self, key):
        self.stats[key] = self.stats.get(key, 0) + 1

    def issue(self, user, scope, client, family=None):
        family = family or secrets.token_hex(8)
        access = "at-" + secrets.token_urlsafe(24)
        refresh = "rt-" + secrets.token_urlsafe(32)
        self.access[access] = {"user": user, "expires": time.time() + self.access_ttl,
                               "family": family, "client": client, "revoked": False}
        self.refresh[refresh] = {"user": user, "family": family, "used": False,
                                 "scope": scope, "client": client}
        return {"access_token": access, "token_type": "Bearer",
                "expires_in": self.access_ttl, "refresh_token": refresh,
                "scope": scope}

    def revoke_family(self, family):
        self.revoked_families.add(family)

    def revoke_user(self, user):
        n = 0
        for t in list(self.refresh.values()) + list(self.access.values()):
            if t["user"] == user:
                self.revoked_families.add(t["family"])
                n += 1
        return n


def read_secret(path):
    with open(path) as f:
        return f.read().strip()


def log(msg):
    sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def s256(verifier):
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def redirect_ok(uri):
    p = urllib.parse.urlsplit(uri)
    if p.fragment:
        return False
    if p.scheme == "https" and p.hostname:
        return True
    return p.scheme == "http" and p.hostname in ("localhost", "127.0.0.1", "::1")


class OAuthError(Exception):
    def __init__(self, status, error, description=""):
        super().__init__(error)
        self.status, self.error, self.description = status, error, description


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "oauth2-provider/1"

    def log_message(self, fmt, *args):
        pass

    # -------------------------------------------------------------- plumbing

    @property
    def st(self):
        return self.server.state

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 1024 * 1024:
            raise OAuthError(413, "invalid_request", "body too large")
        return self.rfile.read(n) if n else b""

    def form(self):
        return {k: v[0] for k, v in urllib.parse.parse_qs(
            self.body().decode("utf-8", "replace"), keep_blank_values=True).items()}

    def send(self, status, data, ctype="application/json", headers=()):
        if not isinstance(data, bytes):
            data = data.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def send_json(self, status, obj):
        self.send(status, json.dumps(obj))

    def send_error_json(self, e):
        obj = {"error": e.error}
        if e.description:
            obj["error_description"] = e.description
        self.send_json(e.status, obj)

    def page(self, status, title, inner):
        self.send(status, "<!doctype html><html><head><title>%s</title></head>"
                  "<body><h1>%s</h1>%s</body></html>" % (title, title, inner),
                  "text/html; charset=utf-8")

    def client_auth(self, f, allowed):
        """client_id/client_secret from the body or HTTP Basic."""
        cid, secret = f.get("client_id"), f.get("client_secret")
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                cid, secret = base64.b64decode(auth[6:]).decode().split(":", 1)
                cid, secret = urllib.parse.unquote(cid), urllib.parse.unquote(secret)
            except ValueError:
                raise OAuthError(401, "invalid_client", "bad Basic credentials")
        if cid not in allowed or cid not in self.st.clients:
            raise OAuthError(401, "invalid_client", "unknown client")
        if self.st.clients[cid] and secret != self.st.clients[cid]:
            raise OAuthError(401, "invalid_client", "wrong client secret")
        return cid

    def faulty(self):
        """The failure modes of the token and device endpoints. True when
        the request was answered (or dropped) by the mode."""
        mode = self.st.mode
        if mode == "ok":
            return False
        if mode == "503":
            self.send_json(503, {"error": "temporarily_unavailable",
                                 "error_description": "provider down for the test"})
        elif mode == "close":
            self.close_connection = True
        elif mode == "hang":
            end = time.time() + 120
            while self.st.mode == "hang" and time.time() < end:
                time.sleep(0.1)
            self.close_connection = True
        elif mode == "garbage":
            self.send(200, b"<html>this is not JSON</html>", "text/html")
        elif mode == "huge":
            self.send_json(200, {"access_token": "x", "padding": "p" * 100000})
        return True

    # -------------------------------------------------------------- routing

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        try:
            if url.path == "/authorize":
                self.authorize_page(q)
            elif url.path == "/device":
                self.device_page(q)
            elif url.path == "/control/stats":
                with LOCK:
                    self.send_json(200, {
                        "counts": self.st.stats, "inflight": self.st.inflight,
                        "max_inflight": self.st.max_inflight, "mode": self.st.mode,
                        "refresh_tokens": len(self.st.refresh),
                        "refresh_used": sum(1 for r in self.st.refresh.values() if r["used"])})
            else:
                self.page(404, "Not found", "")
        except OAuthError as e:
            self.page(e.status, "Error", "<p>%s: %s</p>" % (
                html.escape(e.error), html.escape(e.description)))

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        try:
            if path == "/token":
                self.token()
            elif path == "/devicecode":
                self.devicecode()
            elif path == "/introspect":
                self.introspect()
            elif path == "/authorize":
                self.authorize_decision()
            elif path == "/device":
                self.device_decision()
            elif path == "/control":
                self.control()
            else:
                self.send_json(404, {"error": "not_found"})
        except OAuthError as e:
            log("POST %s -> %d %s" % (path, e.status, e.error))
            self.send_error_json(e)

    # -------------------------------------------------------------- consent

    def authorize_page(self, q):
        with LOCK:
            self.st.count("authorize")
            if q.get("client_id") != self.st.mail_client:
                raise OAuthError(400, "invalid_client", "unknown client_id")
            if not redirect_ok(q.get("redirect_uri", "")):
                raise OAuthError(400, "invalid_request", "bad redirect_uri")
            if q.get("response_type") != "code":
                raise OAuthError(400, "unsupported_response_type", "")
            if q.get("code_challenge_method") != "S256" or \
                    len(q.get("code_challenge", "")) != 43:
                raise OAuthError(400, "invalid_request", "PKCE S256 required")
            if not q.get("state"):
                raise OAuthError(400, "invalid_request", "state required")
            txn = secrets.token_urlsafe(16)
            self.st.txns[txn] = dict(q, created=time.time())
        hint = html.escape(q.get("login_hint", ""))
        self.page(200, "Consent", (
            "<p>The application <b>%s</b> asks for access to your mail "
            "(scope <code>%s</code>).</p>"
            "<form method=post action=/authorize>"
            "<input type=hidden name=txn value=%s>"
            "<label>User <input name=username value=\"%s\"></label>"
            "<button name=action value=approve>Approve</button>"
            "<button name=action value=deny>Deny</button></form>") % (
            html.escape(q["client_id"]), html.escape(q.get("scope", "")), txn, hint))

    def authorize_decision(self):
        f = self.form()
        with LOCK:
            req = self.st.txns.pop(f.get("txn", ""), None)
            if req is None:
                raise OAuthError(400, "invalid_request", "unknown transaction")
            redirect = req["redirect_uri"]
            params = {"state": req["state"]}
            if f.get("action") == "approve" and f.get("username"):
                code = "ac-" + secrets.token_urlsafe(24)
                self.st.codes[code] = {
                    "user": f["username"], "client": req["client_id"],
                    "redirect_uri": redirect, "challenge": req["code_challenge"],
                    "scope": req.get("scope", ""), "expires": time.time() + self.st.code_ttl,
                    "used": False, "family": None}
                params["code"] = code
                log("consent approved for %s" % f["username"])
            else:
                params["error"] = "access_denied"
                log("consent denied")
        sep = "&" if "?" in redirect else "?"
        self.send(302, "", "text/plain", [("Location", redirect + sep + urllib.parse.urlencode(params))])

    def device_page(self, q):
        self.page(200, "Device login", (
            "<form method=post action=/device>"
            "<label>Code <input name=user_code value=\"%s\"></label>"
            "<label>User <input name=username></label>"
            "<button name=action value=approve>Approve</button>"
            "<button name=action value=deny>Deny</button></form>") % html.escape(q.get("user_code", "")))

    def device_decision(self):
        f = self.form()
        with LOCK:
            dc = self.st.user_codes.get(f.get("user_code", "").upper())
            dev = self.st.devices.get(dc)
            if dev is None or dev["expires"] < time.time():
                raise OAuthError(400, "invalid_request", "unknown or expired code")
            if f.get("action") == "approve" and f.get("username"):
                dev["status"], dev["user"] = "approved", f["username"]
            else:
                dev["status"] = "denied"
            log("device code %s" % dev["status"])
        self.page(200, "Done", "<p>%s</p>" % dev["status"])

    # -------------------------------------------------------------- endpoints

    def devicecode(self):
        f = self.form()
        with LOCK:
            self.st.count("devicecode")
        if self.faulty():
            return
        with LOCK:
            cid = self.client_auth(f, [self.st.mail_client])
            dc = "dc-" + secrets.token_urlsafe(24)
            letters = "BCDFGHJKLMNPQRSTVWXZ"
            uc = "".join(secrets.choice(letters) for _ in range(8))
            uc = uc[:4] + "-" + uc[4:]
            self.st.devices[dc] = {
                "client": cid, "scope": f.get("scope", ""), "user_code": uc,
                "expires": time.time() + self.st.device_ttl, "status": "pending",
                "user": None, "last_poll": 0.0}
            self.st.user_codes[uc] = dc
        base = "https://127.0.0.1:%d" % self.server.server_address[1]
        self.send_json(200, {
            "device_code": dc, "user_code": uc,
            "verification_uri": base + "/device",
            "verification_uri_complete": base + "/device?user_code=" + uc,
            "expires_in": self.st.device_ttl, "interval": self.st.device_interval,
            "message": "Go to %s/device and enter %s" % (base, uc)})

    def token(self):
        with LOCK:
            self.st.count("token")
            self.st.inflight += 1
            self.st.max_inflight = max(self.st.max_inflight, self.st.inflight)
            delay = self.st.delay
        try:
            f = self.form()
            if delay:
                time.sleep(delay)
            if self.faulty():
                return
            with LOCK:
                grant = f.get("grant_type", "")
                self.st.count("token:" + grant)
                cid = self.client_auth(f, [self.st.mail_client])
                if grant == "authorization_code":
                    result = self.grant_code(f, cid)
                elif grant == "refresh_token":
                    result = self.grant_refresh(f, cid)
                elif grant == "urn:ietf:params:oauth:grant-type:device_code":
                    result = self.grant_device(f, cid)
                else:
                    raise OAuthError(400, "unsupported_grant_type", grant[:40])
                self.st.count("token:ok")
            log("POST /token grant=%s -> 200" % grant)
            self.send_json(200, result)
        finally:
            with LOCK:
                self.st.inflight -= 1

    def grant_code(self, f, cid):
        g = self.st.codes.get(f.get("code", ""))
        if g is None or g["client"] != cid:
            raise OAuthError(400, "invalid_grant", "unknown authorization code")
        if g["used"]:
            # a replayed code: revoke what it gave (RFC 6749 4.1.2)
            if g["family"]:
                self.st.revoke_family(g["family"])
            raise OAuthError(400, "invalid_grant", "authorization code already used")
        g["used"] = True
        if g["expires"] < time.time():
            raise OAuthError(400, "invalid_grant", "authorization code expired")
        if f.get("redirect_uri") != g["redirect_uri"]:
            raise OAuthError(400, "invalid_grant", "redirect_uri does not match")
        if s256(f.get("code_verifier", "")) != g["challenge"]:
            raise OAuthError(400, "invalid_grant", "PKCE verification failed")
        result = self.st.issue(g["user"], g["scope"], cid)
        g["family"] = self.st.refresh[result["refresh_token"]]["family"]
        return result

    def grant_refresh(self, f, cid):
        t = self.st.refresh.get(f.get("refresh_token", ""))
        if t is None or t["client"] != cid:
            raise OAuthError(400, "invalid_grant", "unknown refresh token")
        if t["family"] in self.st.revoked_families:
            raise OAuthError(400, "invalid_grant", "Token has been expired or revoked.")
        if t["used"]:
            # reuse of a rotated token: treat the family as stolen
            self.st.revoke_family(t["family"])
            raise OAuthError(400, "invalid_grant", "refresh token already used")
        t["used"] = True
        return self.st.issue(t["user"], t["scope"], cid, t["family"])

    def grant_device(self, f, cid):
        dev = self.st.devices.get(f.get("device_code", ""))
        if dev is None or dev["client"] != cid:
            raise OAuthError(400, "invalid_grant", "unknown device code")
        now = time.time()
        if dev["expires"] < now:
            raise OAuthError(400, "expired_token", "the device code expired")
        if dev["status"] == "denied":
            raise OAuthError(400, "access_denied", "the user denied access")
        if dev["status"] == "used":
            raise OAuthError(400, "invalid_grant", "device code already used")
        if self.st.slow_down > 0:
            self.st.slow_down -= 1
            dev["last_poll"] = now
            raise OAuthError(400, "slow_down", "")
        if now - dev["last_poll"] < self.st.device_interval - 0.5:
            dev["last_poll"] = now
            raise OAuthError(400, "slow_down", "polling too fast")
        dev["last_poll"] = now
        if dev["status"] == "pending":
            raise OAuthError(400, "authorization_pending", "")
        dev["status"] = "used"
        return self.st.issue(dev["user"], dev["scope"], cid)

    def introspect(self):
        f = self.form()
        with LOCK:
            self.st.count("introspect")
            self.client_auth(f, [self.st.introspect_client])
            a = self.st.access.get(f.get("token", ""))
            active = (a is not None and a["expires"] > time.time() and
                      not a["revoked"] and not self.st.introspect_deny and
                      a["family"] not in self.st.revoked_families)
            self.st.count("introspect:" + ("active" if active else "inactive"))
        if not active:
            self.send_json(200, {"active": False})
            return
        self.send_json(200, {"active": True, "username": a["user"],
                             "exp": int(a["expires"]), "token_type": "Bearer"})

    def control(self):
        try:
            cmd = json.loads(self.body() or b"{}")
        except ValueError:
            raise OAuthError(400, "invalid_request", "not JSON")
        action = cmd.get("action")
        with LOCK:
            if action == "revoke":
                out = {"revoked": self.st.revoke_user(cmd["user"])}
            elif action == "revoke-access":
                n = 0
                for a in self.st.access.values():
                    if a["user"] == cmd["user"] and not a["revoked"]:
                        a["revoked"], n = True, n + 1
                out = {"revoked": n}
            elif action == "introspect":
                self.st.introspect_deny = cmd.get("mode") == "deny"
                out = {"introspect": "deny" if self.st.introspect_deny else "ok"}
            elif action == "mode":
                if cmd.get("mode") not in ("ok", "503", "close", "hang", "garbage", "huge"):
                    raise OAuthError(400, "invalid_request", "unknown mode")
                self.st.mode = cmd["mode"]
                out = {"mode": self.st.mode}
            elif action == "delay":
                self.st.delay = float(cmd["seconds"])
                out = {"delay": self.st.delay}
            elif action == "ttl":
                self.st.access_ttl = int(cmd["seconds"])
                out = {"ttl": self.st.access_ttl}
            elif action == "slow-down":
                self.st.slow_down = int(cmd.get("count", 1))
                out = {"slow_down": self.st.slow_down}
            elif action == "issue":
                out = self.st.issue(cmd["user"], cmd.get("scope", "mail"), self.st.mail_client)
            elif action == "tokens":
                # every token ever issued to U, used and revoked ones too:
                # the tests look for them where they must not be
                out = {"access": [t for t, v in self.st.access.items() if v["user"] == cmd["user"]],
                       "refresh": [t for t, v in self.st.refresh.items() if v["user"] == cmd["user"]]}
            elif action == "reset-stats":
                self.st.stats, self.st.max_inflight = {}, 0
                out = {}
            else:
                raise OAuthError(400, "invalid_request", "unknown action")
        log("control %s" % action)
        self.send_json(200, out)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, addr, ctx, state):
        super().__init__(addr, Handler)
        self.ctx, self.state = ctx, state

    def finish_request(self, request, client_address):
        # TLS is shaken hands in the request's thread, not in accept()
        request.settimeout(30)
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (ssl.SSLError, OSError):
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--client-id", required=True)
    ap.add_argument("--client-secret-file", required=True)
    ap.add_argument("--introspect-id", required=True)
    ap.add_argument("--introspect-secret-file", required=True)
    ap.add_argument("--access-ttl", type=int, default=5)
    ap.add_argument("--device-ttl", type=int, default=600)
    ap.add_argument("--device-interval", type=int, default=1)
    ap.add_argument("--pid-file")
    args = ap.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server = Server(("127.0.0.1", args.port), ctx, State(args))
    if args.pid_file:
        with open(args.pid_file, "w") as f:
            f.write("%d\n" % os.getpid())
    log("listening on https://127.0.0.1:%d" % args.port)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
