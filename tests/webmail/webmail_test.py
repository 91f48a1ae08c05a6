#!/usr/bin/python3
"""End-to-end tests of the Roundcube fetchmail plugin in headless Chromium.

Run by tests/webmail/test-webmail.sh inside scripts/ns-run, after a sandbox
(scripts/sandbox) and a private Roundcube (scripts/webmail-sandbox) are up;
their variables (DIR/env) are in the environment. Prints one "ok - ..." or
"FAIL - ..." line per check (the shell counts them) and saves screenshots
into $SCREENSHOT_DIR.
"""

import base64
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

E = os.environ
URL = E["WEBMAIL_URL"]
SHOTS = E.get("SCREENSHOT_DIR", "/tmp")
LOCAL_CONF = E["LOCAL_CONF"]
SECRETS = [E["ALICE_PASSWORD"], E["BOB_PASSWORD"], E["DOVEADM_API_KEY"],
           E.get("OAUTH2_CLIENT_SECRET", "")]

U1, U2, U3 = "user1@example.org", "user2@example.org", "user3@other.org"
DADMIN = E["DADMIN_LOGIN"]

FAILED = 0


def ok(cond, msg, detail=""):
    global FAILED
    if cond:
        print("ok - " + msg, flush=True)
    else:
        FAILED += 1
        print("FAIL - " + msg + (": " + str(detail)[:600] if detail else ""), flush=True)
    return cond


def say(msg):
    print("# " + msg, flush=True)


# ------------------------------------------------------------------ the server side

def doveadm(*args):
    return subprocess.run(["doveadm", "-c", LOCAL_CONF] + list(args),
                          capture_output=True, text=True)


def accounts(user):
    """The user's accounts as the server has them (doveadm, not the page)."""
    r = doveadm("-f", "json", "fetchmail", "list", "-u", user)
    if r.returncode != 0:
        raise RuntimeError("fetchmail list failed: " + r.stderr)
    return json.loads(r.stdout or "[]")


def account(user, ident):
    r = doveadm("-f", "json", "fetchmail", "show", "-u", user, ident)
    return json.loads(r.stdout)[0] if r.returncode == 0 else None


def count_local(user, mailbox):
    r = doveadm("-f", "tab", "mailbox", "status", "-u", user, "messages", mailbox)
    return int(r.stdout.split()[-1]) if r.returncode == 0 else 0


def set_plugin_config(php):
    with open(os.path.join(E["WEBMAIL_DIR"], "config", "fetchmail-override.php"), "w") as f:
        f.write("<?php\n" + php + "\n")


def sandbox_spki():
    """base64 SHA-256 of the sandbox server certificate's public key: the
    one certificate Chromium is told to accept (the OAuth2 test provider's
    pages are served with it)."""
    cert = os.path.join(E.get("SANDBOX_DIR", ""), "server.pem")
    if not E.get("OAUTH2_PROVIDER_URL") or not os.path.exists(cert):
        return ""
    pub = subprocess.run(["openssl", "x509", "-in", cert, "-pubkey", "-noout"],
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub,
                         capture_output=True, check=True).stdout
    digest = subprocess.run(["openssl", "dgst", "-sha256", "-binary"], input=der,
                            capture_output=True, check=True).stdout
    return base64.b64encode(digest).decode()


# ------------------------------------------------------------------ the browser

class Browser:
    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="fm-chromium.")
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1400,1100",
                  "--user-data-dir=" + self.profile, "--lang=en-US"):
            opts.add_argument(a)
        spki = sandbox_spki()
        if spki:
            # the OAuth2 test provider's consent page (sandbox certificate)
            opts.add_argument("--ignore-certificate-errors-spki-list=" + spki)
        self.d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        self.d.set_page_load_timeout(120)
        self.wait = WebDriverWait(self.d, 60)

    def quit(self):
        try:
            self.d.quit()
        finally:
            subprocess.run(["rm", "-rf", self.profile])

    def shot(self, name):
        path = os.path.join(SHOTS, name + ".png")
        self.d.save_screenshot(path)
        say("screenshot " + path)

    def get(self, params):
        self.d.get(URL + "?" + urllib.parse.urlencode(params))
        self.ready()

    def ready(self):
        self.wait.until(lambda d: d.execute_script(
            "return document.readyState == 'complete' && !!window.rcmail && !rcmail.busy"))

    def idle(self):
        """Until Roundcube's AJAX request is answered."""
        time.sleep(0.2)
        self.wait.until(lambda d: d.execute_script("return !rcmail.busy"))

    def el(self, css):
        return self.wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))

    def els(self, css):
        return self.d.find_elements(By.CSS_SELECTOR, css)

    def click(self, css):
        el = self.wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, css)))
        self.d.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
        el.click()

    def click_and_load(self, css):
        old = self.d.find_element(By.TAG_NAME, "html")
        self.click(css)
        self.wait.until(EC.staleness_of(old))
        self.ready()

    def text(self, css):
        found = self.els(css)
        return found[0].text if found else ""

    def messages(self):
        return " | ".join(e.text for e in self.els("#messagestack div"))

    def login(self, user, password):
        self.d.delete_all_cookies()
        self.d.get(URL)
        self.el("#rcmloginuser").send_keys(user)
        self.el("#rcmloginpwd").send_keys(password)
        self.click_and_load("#rcmloginsubmit")
        return "_task=mail" in self.d.current_url or bool(self.els("#messagelist"))

    def fill(self, values):
        """Fill the account form: name (without _) -> value."""
        for name, value in values.items():
            el = self.el("#fetchmail-" + name)
            tag, kind = el.tag_name, el.get_attribute("type")
            if tag == "select":
                Select(el).select_by_value(value)
            elif kind == "checkbox":
                if el.is_selected() != bool(value):
                    self.d.execute_script("arguments[0].click()", el)
            else:
                el.clear()
                el.send_keys(value)

    def field_error(self, name):
        return self.text("#fetchmail-%s-error" % name)

    def page_has_no_secret(self, what):
        src = self.d.page_source
        store = self.d.execute_script(
            "return JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie])")
        leaked = [s for s in SECRETS if s and (s in src or s in store)]
        ok(not leaked, "no password or API key in the page or the browser's storage: " + what)

    def no_php_error(self, what):
        src = self.d.page_source
        ok(not re.search(r"(Fatal error|Warning:|Notice:|Stack trace|Uncaught)", src),
           "no PHP error on the page: " + what)


# ------------------------------------------------------------------ the cases

def fetchmail_page(b, user=None):
    params = {"_task": "settings", "_action": "plugin.fetchmail"}
    if user:
        params["_fmuser"] = user
    b.get(params)


def open_add_form(b):
    b.click_and_load("#fetchmail-add-button")


def save(b):
    b.click_and_load("#fetchmail-save")


def case_user(b):
    say("a user: log in, the Fetchmail page from the settings menu")
    ok(b.login(U1, E["USER1_PASSWORD"]), "user1 logs in over IMAP to the sandbox's Dovecot")
    b.get({"_task": "settings"})
    b.click_and_load("#settings-menu li.fetchmail a")
    ok("plugin.fetchmail" in b.d.current_url, "Settings → Fetchmail opens the page")
    ok("No fetchmail accounts yet" in b.text("#fetchmail-empty"), "no accounts yet")
    ok(not b.els("#fetchmail-user"), "a plain user gets no user picker")

    say("the field errors of the server, next to the fields")
    open_add_form(b)
    b.fill({"host": "bad host", "protocol": "pop3", "tls": "implicit", "port": "70000",
            "remoteuser": "alice", "password": E["ALICE_PASSWORD"]})
    save(b)
    ok("port: must be a number from 1 to 65535" in b.field_error("port"),
       "the port's error says why", b.field_error("port"))
    ok("host: must not contain spaces" in b.field_error("host"),
       "the host's error says why", b.field_error("host"))
    ok("is-invalid" in b.el("#fetchmail-port").get_attribute("class"), "the port field is marked")
    ok(b.el("#fetchmail-password").get_attribute("value") == "", "the password is not sent back to the form")
    ok(b.el("#fetchmail-host").get_attribute("value") == "bad host", "the other values are kept")
    ok(accounts(U1) == [], "a refused form added nothing")
    b.page_has_no_secret("after a refused save")
    b.shot("form-errors")

    say("add a POP3 account")
    b.fill({"host": "127.0.0.1", "port": E["EXT_POP3S_PORT"], "password": E["ALICE_PASSWORD"]})
    Select(b.el("#fetchmail-mailbox")).select_by_value("FromPOP3")
    save(b)
    ok("saved" in b.messages(), "the POP3 account is saved", b.messages())
    rows = accounts(U1)
    ok(len(rows) == 1 and rows[0]["protocol"] == "pop3" and rows[0]["mailbox"] == "FromPOP3",
       "the server has the POP3 account", rows)
    pop_id = rows[0]["id"] if rows else ""
    b.page_has_no_secret("after saving")

    say("Test connection from the form's values, before saving")
    fetchmail_page(b)
    open_add_form(b)
    b.fill({"host": "127.0.0.1", "protocol": "imap", "tls": "starttls", "port": E["EXT_IMAP_PORT"],
            "remoteuser": "alice", "password": "wrong-password", "folders": "INBOX\nArchive"})
    Select(b.el("#fetchmail-mailbox")).select_by_value("FromIMAP")
    b.click("#fetchmail-test")
    b.idle()
    b.el("#fetchmail-test-result p")
    failed = b.els("#fetchmail-test-result tr.step-failed")
    ok(failed and failed[0].get_attribute("data-step") == "login",
       "a wrong password: the login step is marked failed", b.text("#fetchmail-test-result"))
    ok("failed:" in (failed[0].text if failed else ""), "with the server's words",
       failed[0].text if failed else "")
    ok(b.els("#fetchmail-test-result tr.step-ok[data-step=tls]"), "the steps before it passed")
    b.shot("test-connection-failed")
    ok(accounts(U1) == rows, "testing saved nothing")
    b.fill({"password": E["ALICE_PASSWORD"]})
    b.click("#fetchmail-test")
    b.idle()
    b.el("#fetchmail-test-result p.boxconfirmation")
    ok("connection works" in b.text("#fetchmail-test-result"), "the right password: the connection works",
       b.text("#fetchmail-test-result"))
    ok(re.search(r"\d+ in INBOX", b.text("#fetchmail-test-result tr[data-step=messages]")),
       "the messages are counted", b.text("#fetchmail-test-result"))

    say("add the IMAP account and Check now")
    save(b)
    imap = [r for r in accounts(U1) if r["protocol"] == "imap"]
    ok(len(imap) == 1 and account(U1, imap[0]["id"])["folders"] == "INBOX,Archive",
       "the server has the IMAP account with its folders", imap)
    imap_id = imap[0]["id"] if imap else ""
    ok(b.d.execute_script("return rcmail.env.fetchmail_id") == imap_id, "the form now edits it")
    b.click("#fetchmail-run")
    b.idle()
    want = 5  # alice: 3 in INBOX, 2 in Archive
    ok("Fetched %d message(s)" % want in b.messages(), "Check now shows the fetched count", b.messages())
    ok(count_local(U1, "FromIMAP") == want, "the mail is in FromIMAP")
    log = b.text("#fetchmail-log")
    ok("LOGIN" in log and "***" in log, "the last run log shows the exchange, redacted", log[:300])
    ok(E["ALICE_PASSWORD"] not in log, "no password in the log")
    ok(b.text("#fetchmail-status td.lastfetched") == str(want), "the status shows the fetched count",
       b.text("#fetchmail-status"))
    b.shot("run-log")

    say("the list: status, Check now")
    fetchmail_page(b)
    row = "#fetchmail-row-" + pop_id
    b.click(row + " button.fetchmail-run")
    b.idle()
    ok(b.text(row + " td.lastfetched") == "3", "Check now from the list: 3 fetched",
       b.text(row))
    ok(count_local(U1, "FromPOP3") == 3, "the POP3 mail is in FromPOP3")
    ok("OK" in b.text(row + " td.status"), "status OK", b.text(row))
    ok(len(b.els("#fetchmail-accounts tr[id^=fetchmail-row-]")) == 2, "both accounts are listed")
    b.shot("list")

    say("edit with the password left empty: the stored one still fetches")
    b.click_and_load(row + " a.fetchmail-edit")
    ok(b.el("#fetchmail-password").get_attribute("value") == "", "the password field is empty")
    b.click("#fetchmail-test")
    b.idle()
    b.el("#fetchmail-test-result p")
    ok("connection works" in b.text("#fetchmail-test-result"),
       "Test connection with the password left empty tests the stored account",
       b.text("#fetchmail-test-result"))
    b.fill({"host": "localhost"})
    b.click("#fetchmail-test")
    b.idle()
    ok("enter the password" in b.text("#fetchmail-test-result"),
       "... and asks for the password when the connection fields changed",
       b.text("#fetchmail-test-result"))
    b.fill({"host": "127.0.0.1", "maxsize": "10M"})
    save(b)
    ok("saved" in b.messages(), "saved with the password left empty", b.messages())
    ok(account(U1, pop_id)["max-size"] == str(10 << 20), "the change is on the server")
    subprocess.run([E["FETCHMAIL_SOURCE_DIR"] + "/scripts/sandbox", "fill", E["SANDBOX_DIR"],
                    "alice", "1", "2k"], check=True, capture_output=True)
    b.click("#fetchmail-run")
    b.idle()
    ok("Fetched 1 message(s)" in b.messages(), "the new message is fetched with the stored password",
       b.messages())

    say("deactivate")
    fetchmail_page(b)
    b.d.execute_script("arguments[0].click()", b.el(row + " input.fetchmail-active"))
    b.idle()
    ok(account(U1, pop_id)["active"] == "no", "the switch made the account inactive on the server")
    ok("inactive" in b.text(row + " td.status") or "inactive" in b.messages(), "the page says so")
    fetchmail_page(b)
    ok(not b.el(row + " input.fetchmail-active").is_selected(), "the switch stays off after a reload")

    say("delete, with a confirmation that says delivered mail stays")
    b.click(row + " button.fetchmail-delete")
    dialog = b.el(".ui-dialog")
    ok("delivered stays" in dialog.text, "the confirmation says delivered mail stays", dialog.text)
    b.click(".ui-dialog .ui-dialog-buttonset button.mainaction")
    b.idle()
    ok([r["id"] for r in accounts(U1)] == [imap_id], "the server removed the account")
    ok(not b.els(row), "the row is gone")
    ok(count_local(U1, "FromPOP3") == 4, "the delivered mail stays")

    say("an empty port on edit means the usual one of protocol and SSL")
    b.get({"_task": "settings", "_action": "plugin.fetchmail-edit", "_id": imap_id})
    b.fill({"port": "", "tls": "implicit"})
    ok(b.el("#fetchmail-port").get_attribute("placeholder") == "993", "the placeholder follows SSL")
    save(b)
    ok(account(U1, imap_id)["port"] == "993" and account(U1, imap_id)["tls"] == "implicit",
       "the server has port 993", account(U1, imap_id))
    b.fill({"port": E["EXT_IMAP_PORT"], "tls": "starttls"})
    save(b)
    ok(account(U1, imap_id)["port"] == E["EXT_IMAP_PORT"], "and the port can be set again")

    say("what the server stores is shown as text, never as markup")
    evil = '<img src=x id=injected onerror="window.pwned=1">'
    r = doveadm("fetchmail", "add", "-u", U1, "--host", "127.0.0.1", "--protocol", "pop3",
                "--remote-user", evil, "--password", "x", "--active", "no")
    ok(r.returncode == 0, "an account with markup in its username exists", r.stderr)
    fetchmail_page(b)
    ok(not b.els("#injected") and not b.d.execute_script("return window.pwned || 0"),
       "the username's markup is not rendered")
    ok(evil in b.text("#fetchmail-accounts"), "it is shown as text")
    doveadm("fetchmail", "remove", "-u", U1, r.stdout.strip())

    say("a forged request for another user's account changes and reads nothing")
    other = accounts(U2)
    fetchmail_page(b, U2)
    ok("may not manage" in b.text("#fetchmail-page-error"), "user2's list is refused",
       b.text("#fetchmail-content"))
    ok(other[0]["id"] not in b.d.page_source, "nothing of user2 is shown")
    r = forge_post(b, "plugin.fetchmail-delete", {"_id": other[0]["id"], "_fmuser": U2})
    ok(accounts(U2) == other, "a forged delete of user2's account changed nothing", r)

    b.page_has_no_secret("at the end of the user's session")
    return imap_id


def case_push(b):
    say("push (IMAP IDLE): on for an IMAP account, off again on edit")
    ok(b.login(U1, E["USER1_PASSWORD"]), "user1 logs in")
    before = {a["id"] for a in accounts(U1)}
    row, switch = "tr.fetchmail-field-push", "#fetchmail-push"
    fetchmail_page(b)
    open_add_form(b)
    ok(not b.el(row).is_displayed() and not b.el(switch).is_enabled(),
       "the add form starts with POP3: no push switch")
    b.fill({"host": "127.0.0.1", "protocol": "imap", "tls": "starttls", "port": E["EXT_IMAP_PORT"],
            "remoteuser": "alice", "password": E["ALICE_PASSWORD"]})
    ok(b.el(row).is_displayed() and b.el(switch).is_enabled(), "IMAP shows the push switch")
    ok("Push (IMAP IDLE)" in b.text(row) and "within seconds" in b.text(row),
       "with what it does", b.text(row))
    ok(not b.el(switch).is_selected(), "push is off by default")
    b.fill({"push": True})
    b.shot("push-form")
    save(b)
    new = [a for a in accounts(U1) if a["id"] not in before]
    ok(len(new) == 1 and new[0]["protocol"] == "imap", "the IMAP account is added", new)
    push_id = new[0]["id"] if new else "none"
    acct = account(U1, push_id) or {}
    ok(acct.get("push") == "yes", "doveadm fetchmail show: push yes", acct)
    ok(new and new[0].get("push") == "yes", "doveadm fetchmail list: push yes", new)
    ok(b.d.execute_script("return rcmail.env.fetchmail_id") == push_id and b.el(switch).is_selected(),
       "the saved form edits it, push on")

    fetchmail_page(b)
    ok(b.els("#fetchmail-row-%s .fetchmail-push" % push_id), "the list marks it Push",
       b.text("#fetchmail-row-" + push_id))
    ok(len(b.els("#fetchmail-accounts .fetchmail-push")) == 1, "and no other account")
    b.shot("push-list")
    b.click_and_load("#fetchmail-row-%s a.fetchmail-edit" % push_id)
    ok(b.el(switch).is_selected(), "edit: the switch is on, as stored")
    b.fill({"push": False})
    save(b)
    ok("saved" in b.messages(), "push switched off is saved", b.messages())
    ok((account(U1, push_id) or {}).get("push") == "no", "doveadm fetchmail show: push no")
    b.get({"_task": "settings", "_action": "plugin.fetchmail-edit", "_id": push_id})
    ok(not b.el(switch).is_selected(), "the edit form shows it off")

    say("the server's reason for push, next to the switch")
    b.fill({"push": True})
    # POP3 with push on, as from a page whose script did not follow the
    # protocol (no change event): the server refuses it
    b.d.execute_script("document.getElementById('fetchmail-protocol').value = 'pop3'")
    save(b)
    ok("push: only for protocol imap" in b.field_error("push"), "the push error says why",
       b.field_error("push") or b.messages())
    ok(b.el(row).is_displayed() and b.el("#fetchmail-push-error").is_displayed(),
       "shown next to the switch, even with POP3 chosen")
    ok("is-invalid" in b.el(switch).get_attribute("class"), "the switch is marked")
    acct = account(U1, push_id) or {}
    ok(acct.get("protocol") == "imap" and acct.get("push") == "no", "nothing was changed", acct)
    b.shot("push-error")
    ok(b.d.execute_script("return rcmail.env.fetchmail_id") == push_id and b.els("#fetchmail-status"),
       "the refused form still edits the account")
    count = len(accounts(U1))
    b.fill({"protocol": "imap"})
    save(b)
    acct = account(U1, push_id) or {}
    ok("saved" in b.messages() and acct.get("protocol") == "imap" and acct.get("push") == "yes",
       "IMAP chosen again: saved with push on", acct)
    ok(len(accounts(U1)) == count, "to the same account, none added")

    say("a POP3 account: its form hides push and sends no")
    fetchmail_page(b)
    open_add_form(b)
    b.fill({"host": "127.0.0.1", "protocol": "imap", "remoteuser": "alice",
            "password": E["ALICE_PASSWORD"]})
    b.fill({"push": True})  # chosen for IMAP, then the protocol changes
    b.fill({"protocol": "pop3", "tls": "implicit", "port": E["EXT_POP3S_PORT"]})
    ok(not b.el(row).is_displayed() and not b.el(switch).is_enabled(),
       "choosing POP3 hides and disables the push switch")
    save(b)
    ok("saved" in b.messages() and not b.field_error("push"), "the POP3 account is saved",
       b.messages() + " " + b.field_error("push"))
    pop = [a for a in accounts(U1) if a["id"] not in before and a["id"] != push_id]
    ok(len(pop) == 1 and pop[0]["protocol"] == "pop3" and pop[0].get("push") == "no",
       "the server has it with push no", pop)
    pop_id = pop[0]["id"] if pop else "none"
    b.get({"_task": "settings", "_action": "plugin.fetchmail-edit", "_id": pop_id})
    ok(b.el("#fetchmail-protocol").get_attribute("value") == "pop3" and not b.el(row).is_displayed(),
       "the POP3 account's form hides push")
    b.fill({"protocol": "imap"})
    ok(b.el(row).is_displayed() and not b.el(switch).is_selected(), "IMAP shows it again, off")

    for ident in (push_id, pop_id):
        doveadm("fetchmail", "remove", "-u", U1, ident)
    b.no_php_error("push")


def forge_post(b, action, data, token=True, ajax=True):
    """POST to a plugin action by hand, as a script in the page could (an
    AJAX action the way rcmail.http_post sends it)."""
    if ajax:
        data = dict(data, _remote="1")
    return b.d.execute_async_script("""
        var done = arguments[arguments.length - 1], data = arguments[1];
        if (arguments[2]) data._token = rcmail.env.request_token;
        fetch('./?_task=settings&_action=' + arguments[0], {method: 'POST', credentials: 'same-origin',
            headers: {'Content-Type': 'application/x-www-form-urlencoded'},
            body: new URLSearchParams(data)}).then(r => r.text().then(t => done(r.status + ' ' + t)))
            .catch(e => done('error ' + e));
    """, action, data, token)


def case_domain_admin(b):
    say("a Domain Admin manages a user of the domain")
    ok(b.login(DADMIN, E["DADMIN_PASSWORD"]), "the domain admin logs in")
    fetchmail_page(b)
    users = [o.get_attribute("value") for o in Select(b.el("#fetchmail-user")).options]
    ok(U2 in users and U1 in users, "the picker offers the users of example.org", users)
    ok(U3 not in users, "the picker does not offer other.org", users)
    Select(b.el("#fetchmail-user")).select_by_value(U2)
    b.wait.until(lambda d: "_fmuser=" in d.current_url)
    b.ready()
    before = accounts(U2)
    ok(len(b.els("#fetchmail-accounts tr[id^=fetchmail-row-]")) == len(before), "user2's accounts are listed")
    open_add_form(b)
    ok(U2 in b.text(".fetchmail-localuser"), "the form says for whom")
    b.fill({"host": "127.0.0.1", "protocol": "pop3", "tls": "implicit", "port": E["EXT_POP3S_PORT"],
            "remoteuser": "bob", "password": E["BOB_PASSWORD"], "mailbox": "FromBob"})
    save(b)
    ok(len(accounts(U2)) == len(before) + 1, "the account was added for user2", b.messages())
    b.click("#fetchmail-run")
    b.idle()
    ok(count_local(U2, "FromBob") == 1, "and it fetches into user2's mailbox")
    fetchmail_page(b, U2)
    ok(Select(b.el("#fetchmail-user")).first_selected_option.get_attribute("value") == U2,
       "the picker shows whose accounts these are")
    b.shot("domain-admin")

    say("... and cannot reach a user of another domain, even by posting the form by hand")
    theirs = accounts(U3)
    fetchmail_page(b, U3)
    ok("may not manage" in b.text("#fetchmail-page-error"), "user3's list is refused")
    ok(theirs[0]["id"] not in b.d.page_source and "secret-host" not in b.d.page_source,
       "nothing of user3 is shown")
    form = {"_fmuser": U3, "_host": "127.0.0.1", "_protocol": "pop3", "_tls": "implicit",
            "_port": E["EXT_POP3S_PORT"], "_remoteuser": "bob", "_password": E["BOB_PASSWORD"],
            "_mailbox": "INBOX", "_active": "1", "_keep": "1", "_tlsverify": "1"}
    r = forge_post(b, "plugin.fetchmail-save", form, ajax=False)
    ok(accounts(U3) == theirs, "a forged add for user3 changed nothing", r[:200])
    ok("may not manage" in r, "and says why", r[:300])
    r = forge_post(b, "plugin.fetchmail-save", dict(form, _id=theirs[0]["id"], _host="evil.example.net"),
                   ajax=False)
    ok(accounts(U3) == theirs, "a forged edit of user3's account changed nothing")
    r = forge_post(b, "plugin.fetchmail-delete", {"_fmuser": U3, "_id": theirs[0]["id"]})
    ok(accounts(U3) == theirs, "a forged delete of user3's account changed nothing")
    ok("may not manage" in r, "and says why", r[:300])
    r = forge_post(b, "plugin.fetchmail-run", {"_fmuser": U3, "_id": theirs[0]["id"]})
    ok("secret-host" not in r and account(U3, theirs[0]["id"])["last-status"] == "never",
       "a forged Check now ran nothing and read nothing")
    r = forge_post(b, "plugin.fetchmail-delete", {"_fmuser": U2, "_id": accounts(U2)[0]["id"]}, token=False)
    ok(r.startswith("403") or "check failed" in r.lower() or "forbidden" in r.lower(),
       "a POST without the request token is refused", r[:600])
    ok(len(accounts(U2)) == len(before) + 1, "... and changed nothing")


def case_api_down(b):
    say("the API being down: one clear message")
    set_plugin_config("$config['fetchmail_api_url'] = 'http://127.0.0.1:9/doveadm/v1';")
    try:
        ok(b.login(U1, E["USER1_PASSWORD"]), "logs in while the API is down")
        fetchmail_page(b)
        ok("cannot be reached" in b.text("#fetchmail-page-error"),
           "the page says the service cannot be reached", b.text("#layout-content"))
        b.no_php_error("API down")
        b.shot("api-down")
    finally:
        set_plugin_config("")


def case_bad_key(b):
    say("a wrong API key: the same clear message, the key nowhere")
    key = os.path.join(E["WEBMAIL_DIR"], "wrong.key")
    with open(key, "w") as f:
        f.write("not-the-key\n")
    set_plugin_config("$config['fetchmail_api_key_file'] = '%s';" % key)
    try:
        ok(b.login(U1, E["USER1_PASSWORD"]), "logs in")
        fetchmail_page(b)
        ok("cannot be reached" in b.text("#fetchmail-page-error"), "the page says so",
           b.text("#layout-content"))
        b.no_php_error("wrong key")
    finally:
        set_plugin_config("")


def case_oauth2_callback(b):
    say("the OAuth2 callback only finishes sign-ins this session started")
    ok(b.login(U1, E["USER1_PASSWORD"]), "logs in")
    b.get({"_task": "settings", "_action": "plugin.fetchmail-oauth2", "state": "forged-state",
           "code": "stolen-code"})
    ok("not known here" in b.messages(), "a state this session did not start is refused", b.messages())
    ok(b.els("#fetchmail-accounts") or b.els("#fetchmail-empty"), "and the list is shown")
    b.no_php_error("OAuth2 callback with a forged state")


def case_oauth2(b):
    say("OAuth2: sign in with the sandbox's test provider instead of a password")
    r = doveadm("fetchmail", "oauth2", "providers", "-u", U1)
    ok(r.returncode == 0 and "sandbox" in r.stdout, "the server lists the sandbox provider", r.stdout + r.stderr)
    ok(b.login(U1, E["USER1_PASSWORD"]), "logs in")
    fetchmail_page(b)
    open_add_form(b)
    buttons = b.els("button.fetchmail-oauth2[data-provider=sandbox]")
    ok(buttons and "Sign in with Sandbox provider (XOAUTH2)" in buttons[0].text,
       "the add form offers the provider's sign-in", [e.text for e in buttons])
    b.shot("oauth2-add-form")
    b.fill({"protocol": "imap", "remoteuser": "alice"})
    before = {a["id"] for a in accounts(U1)}
    b.click("button.fetchmail-oauth2[data-provider=sandbox]")
    # the browser goes to the provider's consent page
    b.wait.until(lambda d: d.current_url.startswith(E["OAUTH2_PROVIDER_URL"] + "/authorize"))
    ok("code_challenge_method=S256" in b.d.current_url, "to the authorization URL with PKCE")
    ok(b.el("input[name=username]").get_attribute("value") == "alice",
       "the consent page knows the remote user (login_hint)")
    b.shot("oauth2-consent")
    b.el("button[value=approve]").click()
    # and back to Roundcube's callback, which finishes the consent
    b.wait.until(lambda d: d.current_url.startswith(URL) and "_task=settings" in d.current_url)
    b.ready()
    ok("Signed in: the account is connected" in b.messages(), "the page says connected", b.messages())
    new = [a for a in accounts(U1) if a["id"] not in before]
    ok(len(new) == 1 and new[0]["oauth2"] == "connected" and new[0]["host"] == "127.0.0.1",
       "the server has the new account, connected, on the provider's server", new)
    if new:
        acct = account(U1, new[0]["id"])
        ok(acct and acct["auth"] == "oauth2" and acct["oauth2-provider"] == "sandbox"
           and acct["port"] == E["OAUTH2_IMAPS_PORT"], "auth oauth2 with the sandbox provider", acct)
    b.no_php_error("OAuth2 sign-in")
    b.page_has_no_secret("after the OAuth2 sign-in")
    b.shot("oauth2-connected")


def main():
    b = Browser()
    try:
        for case in (case_user, case_push, case_domain_admin, case_api_down, case_bad_key,
                     case_oauth2_callback, case_oauth2):
            try:
                case(b)
            except Exception as e:  # a broken case counts as a failure, the next one runs
                ok(False, "%s ended with %s" % (case.__name__, type(e).__name__),
                   "".join(traceback.format_exception_only(type(e), e)).strip())
                traceback.print_exc(file=sys.stdout)
                try:
                    b.shot("failure-" + case.__name__)
                except Exception:
                    pass
    finally:
        b.quit()
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
